#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The real server on a loopback port: concurrent verified appends and
# reads (vt_hammer), fsck over HTTP, the bad-input matrix, headers, HEAD,
# /healthz and /metrics, back-pressure with bounded memory, and SIGTERM.
#
# Scale with VT_SECONDS (hammer run length, default 3) and VT_WRITERS
# (default 256).
VITRINE=${1:?usage: server.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/log
SECONDS_RUN=${VT_SECONDS:-3}
WRITERS=${VT_WRITERS:-256}
command -v curl >/dev/null || fail "curl is needed (make deps)"
need_hammer
ASAN=""
grep -q __asan_init "$V" 2>/dev/null && ASAN=1

expect_ok "init" $V init --dir "$D" --origin example.test/log
TOKEN=$(cat "$D/admin.token")

# http NAME CURL-ARGS...: one request; status in $S, headers $T/NAME.h,
# body $T/NAME.b.
http() {
	_n=$1
	shift
	S=$(curl -s --path-as-is -o "$T/$_n.b" -D "$T/$_n.h" -w '%{http_code}' "$@")
}

# header NAME FIELD: a response header's value (first match, no CR).
header() {
	sed -n "s/^$2: *//Ip" "$T/$1.h" | tr -d '\r' | head -n 1
}

# expect_status WHAT STATUS CURL-ARGS...: errors also need a JSON body
# {"error": ..., "detail": ...} served as application/json.
expect_status() {
	_what=$1
	_want=$2
	shift 2
	http req "$@"
	[ "$S" = "$_want" ] || fail "$_what: HTTP $S, want $_want ($(head -c 300 "$T/req.b"))"
	if [ "$_want" -ge 400 ]; then
		grep -Eq '^\{"error": ".+", "detail": ".*"\}$' "$T/req.b" ||
			fail "$_what: error body is not {\"error\", \"detail\"} JSON: $(head -c 300 "$T/req.b")"
		case $(header req Content-Type) in
		application/json*) ;;
		*) fail "$_what: error Content-Type $(header req Content-Type)" ;;
		esac
	fi
	ok "$_what: $S"
}

# tile_path N: the tlog-tiles path element for index N ("x001/234").
tile_path() {
	_n=$1
	_p=$(printf '%03d' $((_n % 1000)))
	_n=$((_n / 1000))
	while [ "$_n" -gt 0 ]; do
		_p=$(printf 'x%03d/%s' $((_n % 1000)) "$_p")
		_n=$((_n / 1000))
	done
	echo "$_p"
}

checkpoint_size() {
	curl -s "$URL/log/checkpoint" | sed -n 2p
}

say "concurrent appends and reads, every proof verified"
start_server srv "$D"
say "server at $URL (pid $SERVER_PID)"
run hammer "$HAMMER" --url "$URL" --token-file "$D/admin.token" --vkey "$D/log.vkey" \
	--writers "$WRITERS" --readers 4 --duration "$SECONDS_RUN" \
	--record "$T/record" --checkpoints "$T/checkpoints"
cat "$T/hammer.out"
[ "$RC" -eq 0 ] || { cat "$T/hammer.err" >&2; fail "vt_hammer exit $RC"; }
ADDS=$(summary_field "$T/hammer.out" adds)
[ "$(summary_field "$T/hammer.out" failures)" = 0 ] || fail "proof failures"
[ "$ADDS" -gt 0 ] || fail "no append was acknowledged"
[ "$(summary_field "$T/hammer.out" proofs)" = "$ADDS" ] || fail "not every add proof verified"
[ "$(summary_field "$T/hammer.out" errors)" = 0 ] || fail "append errors under load: $(cat "$T/hammer.err")"
[ "$(summary_field "$T/hammer.out" read_proofs)" -gt 0 ] || fail "no read inclusion proof verified"
[ "$(summary_field "$T/hammer.out" consistency)" -gt 0 ] || fail "no consistency check ran"
CPU=$(summary_field "$T/hammer.out" server_cpu_us)
[ -n "$CPU" ] || fail "vt_hammer did not get the server's CPU from /metrics"
ok "$WRITERS writers: $ADDS appends, every proof verified, consistent checkpoints, no errors, $CPU us of server CPU per add"
[ "$(wc -l <"$T/record")" -eq "$ADDS" ] || fail "record has $(wc -l <"$T/record") lines, want $ADDS"
expect_ok "every acknowledged entry is at its index (vt_hammer --check)" \
	"$HAMMER" --url "$URL" --vkey "$D/log.vkey" --check "$T/record" --checkpoints "$T/checkpoints"
expect_ok "fsck --url" $V log fsck --url "$URL" --vkey "$D/log.vkey"
grep_ok "fsck checked every entry" "^ok: [0-9]+ entries" "$T/last.out"

say "vt_hammer --store-bound: the vault's durable store alone"
mkdir "$T/store"
expect_ok "--store-bound stores 64 files from 4 threads" \
	"$HAMMER" --store-bound --intake 64 --file-size 4096 --clients 4 --dir "$T/store"
STORED=$(summary_field "$T/last.out" store_files_per_s)
[ -n "$STORED" ] && [ "${STORED%.*}" -gt 0 ] || fail "--store-bound printed no files/s"
[ -z "$(ls -A "$T/store")" ] || fail "--store-bound left $(ls -A "$T/store") behind"
ok "--store-bound: $STORED files/s, its scratch vault removed"
expect_error "--seal-bound with --store-bound" "not both" \
	"$HAMMER" --seal-bound --store-bound --intake 1
expect_error "--store-bound into a directory that is not there" "cannot make a directory" \
	"$HAMMER" --store-bound --intake 1 --dir "$T/nowhere"

say "writes: the bad-input matrix"
expect_status "POST /log/add without a token" 401 -X POST --data-binary x "$URL/log/add"
[ "$(header req WWW-Authenticate)" = Bearer ] || fail "401 without WWW-Authenticate: Bearer"
ok "401 says WWW-Authenticate: Bearer"
expect_status "POST /log/add with a wrong token" 401 -H "Authorization: Bearer vt_nope" \
	--data-binary x "$URL/log/add"
expect_status "POST /log/add with the token minus a character" 401 \
	-H "Authorization: Bearer ${TOKEN%?}" --data-binary x "$URL/log/add"
expect_status "POST /log/add with an empty bearer" 401 -H "Authorization: Bearer " \
	--data-binary x "$URL/log/add"
expect_status "POST /log/add with Basic auth" 401 -u "admin:$TOKEN" --data-binary x "$URL/log/add"
AUTH="Authorization: Bearer $TOKEN"
head -c 65536 /dev/zero | tr '\0' b >"$T/64k"
expect_status "POST /log/add of 65536 bytes" 413 -H "$AUTH" --data-binary "@$T/64k" "$URL/log/add"
expect_status "POST /log/add of 65536 bytes, chunked" 413 -H "$AUTH" \
	-H "Transfer-Encoding: chunked" --data-binary "@$T/64k" "$URL/log/add"
head -c 1000000 /dev/zero >"$T/1m"
expect_status "POST /log/add of 1 MB, chunked" 413 -H "$AUTH" \
	-H "Transfer-Encoding: chunked" --data-binary "@$T/1m" "$URL/log/add"
expect_status "POST /log/add with an empty body" 400 -H "$AUTH" --data-binary "" "$URL/log/add"
head -c 65535 /dev/zero | tr '\0' c >"$T/max"
expect_status "POST /log/add of 65535 bytes" 200 -H "$AUTH" --data-binary "@$T/max" "$URL/log/add"
cp "$T/req.b" "$T/max.proof"
expect_ok "the proof for the largest entry verifies" \
	$V log verify-proof "$T/max.proof" --vkey "$D/log.vkey" --entry "$T/max"
[ "$(header req Content-Type)" = "text/plain; charset=utf-8" ] || fail "add Content-Type $(header req Content-Type)"
[ "$(header req Cache-Control)" = no-store ] || fail "add Cache-Control $(header req Cache-Control)"
ok "a proof is text/plain; charset=utf-8, no-store"

say "methods and routes"
expect_status "GET /log/add" 405 "$URL/log/add"
[ "$(header req Allow)" = POST ] || fail "405 on /log/add with Allow: $(header req Allow)"
ok "405 on /log/add says Allow: POST"
expect_status "DELETE /log/checkpoint" 405 -X DELETE "$URL/log/checkpoint"
header req Allow | grep -q GET || fail "405 on /log/checkpoint with Allow: $(header req Allow)"
ok "405 on /log/checkpoint says Allow: $(header req Allow)"
expect_status "PUT /log/tile/0/000" 405 -X PUT --data-binary x "$URL/log/tile/0/000"
[ -n "$(header req Allow)" ] || fail "405 without Allow"
expect_status "POST /healthz" 405 -X POST --data-binary x "$URL/healthz"
expect_status "POST /metrics" 405 -X POST --data-binary x "$URL/metrics"
for p in / /log /log/ /nope /log/checkpoint/ /metrics/ /log/tile /log/addd; do
	expect_status "GET $p" 404 "$URL$p"
done

say "malformed and missing tiles"
SIZE=$(checkpoint_size)
[ "$SIZE" -gt 256 ] || fail "log size $SIZE: want more than one tile"
for p in /log/tile/0/../000 /log/tile/0/./000 /log/tile/../checkpoint /log/tile/0/x1 \
	/log/tile/0/1 /log/tile/0/0000 /log/tile/0/000.p/0 /log/tile/0/000.p/256 \
	/log/tile/0/000.p/0255 /log/tile/0/000.p/ /log/tile/0/000.p/1x /log/tile/0/000.x/1 \
	/log/tile/0/99999999999999999999999 /log/tile/0/x999/x999/x999/x999/x999/x999/x999/999 \
	/log/tile/0/x018/x446/x744/x073/x709/x551/616 /log/tile/64/000 /log/tile/99999/000 \
	/log/tile/-1/000 /log/tile//000 /log/tile/0/000/ /log/tile/0/x001/x002 /log/tile/0 \
	/log/tile/ /log/tile/ent/000 /log/tile/entries/000.p/ /log/tile/0/%2e%2e/000; do
	expect_status "GET $p" 400 "$URL$p"
done
expect_status "GET the largest index there is" 404 "$URL/log/tile/0/x018/x446/x744/x073/x709/x551/615"
expect_status "GET level 63" 404 "$URL/log/tile/63/000"
expect_status "GET a tile past the end" 404 "$URL/log/tile/0/$(tile_path $((SIZE / 256 + 1)))"
expect_status "GET a bundle past the end" 404 "$URL/log/tile/entries/$(tile_path $((SIZE / 256 + 1)))"

say "content types, caching and HEAD"
expect_status "GET /log/checkpoint" 200 "$URL/log/checkpoint"
[ "$(header req Content-Type)" = "text/plain; charset=utf-8" ] || fail "checkpoint Content-Type $(header req Content-Type)"
[ "$(header req Cache-Control)" = no-cache ] || fail "checkpoint Cache-Control $(header req Cache-Control)"
ok "checkpoint: text/plain; charset=utf-8, Cache-Control: no-cache"
CPLEN=$(wc -c <"$T/req.b")
expect_status "GET /log/tile/0/000" 200 "$URL/log/tile/0/000"
[ "$(wc -c <"$T/req.b")" -eq 8192 ] || fail "full tile of $(wc -c <"$T/req.b") bytes"
[ "$(header req Content-Type)" = application/octet-stream ] || fail "tile Content-Type $(header req Content-Type)"
header req Cache-Control | grep -q immutable || fail "tile Cache-Control $(header req Cache-Control)"
ok "tile: 8192 bytes, application/octet-stream, Cache-Control: $(header req Cache-Control)"
expect_status "GET /log/tile/entries/000" 200 "$URL/log/tile/entries/000"
[ "$(header req Content-Type)" = application/octet-stream ] || fail "bundle Content-Type $(header req Content-Type)"
header req Cache-Control | grep -q immutable || fail "bundle Cache-Control $(header req Cache-Control)"
ok "bundle: application/octet-stream, immutable"
W=$((SIZE % 256))
if [ "$W" -ne 0 ]; then
	P=$(tile_path $((SIZE / 256)))
	expect_status "GET the partial tile 0/$P.p/$W" 200 "$URL/log/tile/0/$P.p/$W"
	[ "$(wc -c <"$T/req.b")" -eq $((W * 32)) ] || fail "partial tile of $(wc -c <"$T/req.b") bytes"
	expect_status "GET the partial bundle entries/$P.p/$W" 200 "$URL/log/tile/entries/$P.p/$W"
fi
# head URL: status and bytes of body in $S ("200 0"), headers in $T/head.h.
head_req() {
	S=$(curl -s --path-as-is -I -o /dev/null -D "$T/head.h" -w '%{http_code} %{size_download}' "$1")
}
head_req "$URL/log/checkpoint"
[ "$S" = "200 0" ] || fail "HEAD /log/checkpoint: status and body bytes $S"
[ "$(header head Content-Length)" = "$CPLEN" ] || fail "HEAD Content-Length $(header head Content-Length), GET gave $CPLEN bytes"
ok "HEAD /log/checkpoint: 200, no body, Content-Length $CPLEN"
head_req "$URL/log/tile/0/000"
[ "$S" = "200 0" ] && [ "$(header head Content-Length)" = 8192 ] || fail "HEAD tile: $S, length $(header head Content-Length)"
ok "HEAD /log/tile/0/000: 200, Content-Length 8192"
head_req "$URL/log/tile/0/001.p/3x"
[ "$S" = "400 0" ] || fail "HEAD of a malformed tile: $S"
ok "HEAD of a malformed tile: 400"

say "request headers over the 16 KiB a connection gets: libmicrohttpd's 431 (docs/api.md)"
http req -H "X-Big: $(head -c 20000 /dev/zero | tr '\000' x)" "$URL/healthz"
[ "$S" = 431 ] || fail "20,000-byte header: HTTP $S, want 431"
http req "$URL/healthz"
[ "$S" = 200 ] || fail "after an oversized header: /healthz HTTP $S"
ok "a 20,000-byte header gets 431, the server goes on"

say "/healthz and /metrics"
expect_status "GET /healthz" 200 "$URL/healthz"
grep -q '"status": "ok"' "$T/req.b" || fail "healthz body $(cat "$T/req.b")"
SIZE=$(checkpoint_size)
expect_status "GET /metrics" 200 "$URL/metrics"
header req Content-Type | grep -q '^text/plain; version=0.0.4' || fail "metrics Content-Type $(header req Content-Type)"
# Prometheus text format: comments, or "name{labels} value".
if grep -Ev '^# (HELP|TYPE) [a-z_]+ |^[a-z_:]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+Inf-]+$' "$T/req.b" | grep -q .; then
	grep -Ev '^# (HELP|TYPE) [a-z_]+ |^[a-z_:]+(\{[^}]*\})? [0-9.e+-]+$' "$T/req.b" | head -5 >&2
	fail "metrics has lines that are not Prometheus text"
fi
ok "metrics is Prometheus text"
M=$(sed -n 's/^vitrine_log_size //p' "$T/req.b")
[ "$M" = "$SIZE" ] || fail "vitrine_log_size $M, checkpoint size $SIZE"
ok "vitrine_log_size $M matches the checkpoint"
for f in vitrine_log_appends_total vitrine_log_pending vitrine_log_rejected_busy_total \
	vitrine_log_fsync_seconds_count process_cpu_seconds_total; do
	grep -q "^$f " "$T/req.b" || fail "metrics lack $f"
done
ok "metrics have appends, pending, rejected, fsync histogram and process CPU"

say "SIGTERM"
stop_server TERM
[ "$RC" -eq 0 ] || { cat "$T/srv.err" >&2; fail "server exit status $RC after SIGTERM"; }
grep -q stopping "$T/srv.err" || fail "server did not say it was stopping"
ok "SIGTERM: exit 0"
$V log checkpoint --dir "$D" >"$T/cp-after-stop"
start_server srv2 "$D"
curl -s "$URL/log/checkpoint" >"$T/cp-restart"
cmp -s "$T/cp-after-stop" "$T/cp-restart" || fail "the restarted server serves another checkpoint"
ok "restart serves the same checkpoint"
stop_server TERM
[ "$RC" -eq 0 ] || fail "second server exit $RC"

say "back-pressure: --queue-max 8 --batch-age 2000"
start_server bp "$D" --queue-max 8 --batch-age 2000
RSS0=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status")
i=0
CURLS=""
while [ $i -lt 24 ]; do
	printf 'burst %d\n' $i >"$T/burst$i"
	curl -s -o "$T/burst$i.b" -D "$T/burst$i.h" -w '%{http_code}' -H "$AUTH" \
		--data-binary "@$T/burst$i" "$URL/log/add" >"$T/burst$i.s" &
	CURLS="$CURLS $!"
	i=$((i + 1))
done
sleep 1
curl -s "$URL/metrics" >"$T/bp-metrics"
wait $CURLS
for f in "$T"/burst*.s; do
	cat "$f"
	echo
done >"$T/burst.statuses"
n200=$(grep -c '^200$' "$T/burst.statuses")
n503=$(grep -c '^503$' "$T/burst.statuses")
say "burst of 24 against a queue of 8: $n200 answered 200, $n503 answered 503"
[ "$n503" -ge 1 ] || fail "no 503 from a full queue"
[ "$n200" -ge 1 ] && [ "$n200" -le 8 ] || fail "$n200 accepted by a queue of 8"
[ $((n200 + n503)) -eq 24 ] || fail "other statuses in the burst: $(sort "$T/burst.statuses" | uniq -c)"
for f in "$T"/burst*.s; do
	[ "$(cat "$f")" = 503 ] || continue
	h=${f%.s}.h
	grep -qi '^Retry-After: [0-9]' "$h" || fail "503 without Retry-After"
	grep -q '"error"' "${f%.s}.b" || fail "503 without a JSON error"
done
ok "every 503 carries Retry-After and a JSON error"
grep -q '^vitrine_log_pending [1-8]$' "$T/bp-metrics" || fail "pending during the burst: $(grep pending "$T/bp-metrics")"
ok "$(grep '^vitrine_log_pending' "$T/bp-metrics") during the burst (queue of 8)"
run bphammer "$HAMMER" --url "$URL" --token-file "$D/admin.token" --vkey "$D/log.vkey" \
	--writers "$WRITERS" --readers 2 --duration "$SECONDS_RUN" --entry-size 4000
cat "$T/bphammer.out"
[ "$RC" -eq 0 ] || { cat "$T/bphammer.err" >&2; fail "vt_hammer exit $RC"; }
[ "$(summary_field "$T/bphammer.out" busy)" -gt 0 ] || fail "no 503 under $WRITERS writers"
[ "$(summary_field "$T/bphammer.out" e5xx)" = 0 ] || fail "5xx other than 503 under back-pressure"
ok "$WRITERS writers against a queue of 8: $(summary_field "$T/bphammer.out" busy) refused with 503, $(summary_field "$T/bphammer.out" adds) verified"
HWM=$(sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$SERVER_PID/status")
LIMIT=$((64 * 1024))
[ -n "$ASAN" ] && LIMIT=$((768 * 1024)) # ASan keeps freed memory in quarantine
[ -n "$RSS0" ] && [ -n "$HWM" ] || fail "cannot read the server's memory use in /proc/$SERVER_PID/status"
say "server memory: $RSS0 kB before the burst, peak $HWM kB (limit: growth under $LIMIT kB)"
[ $((HWM - RSS0)) -lt $LIMIT ] || fail "server memory grew by $((HWM - RSS0)) kB under back-pressure"
ok "memory stays bounded under back-pressure"
curl -s "$URL/metrics" >"$T/bp-metrics"
R=$(sed -n 's/^vitrine_log_rejected_busy_total //p' "$T/bp-metrics")
[ "$R" -gt 0 ] || fail "vitrine_log_rejected_busy_total is $R"
ok "vitrine_log_rejected_busy_total $R"

stop_server TERM
[ "$RC" -eq 0 ] || { cat "$T/bp.err" >&2; fail "server exit status $RC after SIGTERM"; }

say "SIGTERM with appends in flight"
# A long batch age keeps the appends waiting in the queue when the
# signal comes; closing the log commits them.
SIZE0=$($V log checkpoint --dir "$D" | sed -n 2p)
start_server inflight "$D" --batch-age 2000
INFLIGHT=20
i=0
CURLS=""
: >"$T/inflight.record"
while [ $i -lt $INFLIGHT ]; do
	printf 'in flight %d\n' $i >"$T/if$i"
	curl -s -o "$T/if$i.b" -w '%{http_code}' -H "$AUTH" --data-binary "@$T/if$i" \
		"$URL/log/add" >"$T/if$i.s" &
	CURLS="$CURLS $!"
	i=$((i + 1))
done
sleep 0.5
stop_server TERM
[ "$RC" -eq 0 ] || { cat "$T/inflight.err" >&2; fail "server exit status $RC after SIGTERM with appends in flight"; }
wait $CURLS
ok "SIGTERM with $INFLIGHT appends in flight: exit 0"
nack=0
nlost=0
i=0
while [ $i -lt $INFLIGHT ]; do
	if [ "$(cat "$T/if$i.s")" = 200 ]; then
		$V log verify-proof "$T/if$i.b" --vkey "$D/log.vkey" --entry "$T/if$i" >/dev/null ||
			fail "proof for in-flight entry $i does not verify"
		idx=$(sed -n 's/^index //p' "$T/if$i.b")
		printf '%s\t%s\n' "$idx" "$(od -An -tx1 -v "$T/if$i" | tr -d ' \n')" >>"$T/inflight.record"
		nack=$((nack + 1))
	else
		nlost=$((nlost + 1))
	fi
	i=$((i + 1))
done
expect_ok "fsck after the shutdown" $V log fsck --dir "$D"
SIZE1=$($V log checkpoint --dir "$D" | sed -n 2p)
[ "$SIZE1" -eq $((SIZE0 + INFLIGHT)) ] || fail "size $SIZE0 -> $SIZE1 over the shutdown, want +$INFLIGHT"
ok "closing the log committed all $INFLIGHT queued appends (size $SIZE0 -> $SIZE1)"
start_server srv3 "$D"
expect_ok "the $nack in-flight appends answered 200 are in the log" \
	"$HAMMER" --url "$URL" --vkey "$D/log.vkey" --check "$T/inflight.record"
[ "$nlost" -eq 0 ] ||
	fail "$nlost of $INFLIGHT appends in flight at SIGTERM got no answer although they were committed"
ok "every append in flight at SIGTERM was answered with a verified proof"
stop_server TERM
[ "$RC" -eq 0 ] || fail "server exit $RC"

finish
