#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Sample intake over HTTP: residency decided before a byte is stored (201,
# 200, 421, 451), receipts that verify for the exact entry, and refusals
# (413, 400, 401, 403, 415) that leave nothing in the vault, index or log.
VITRINE=${1:?usage: intake.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"
command -v sqlite3 >/dev/null || fail "sqlite3 is needed to read the index (make deps installs it)"

say "a site in Zurich under the federation policy"
zurich_site "$D"
EU=$(token --role submitter --name edr-eu --tenant acme-eu --region EU)
RU=$(token --role submitter --name edr-ru --tenant acme-ru --region RU)
BR=$(token --role submitter --name edr-br --tenant acme-br --region BR)
ANA=$(token --role analyst --name ana)
[ -n "$EU" ] && [ -n "$RU" ] && [ -n "$BR" ] && [ -n "$ANA" ] || fail "token create"
ok "tokens for EU, RU, BR and an analyst"
start_server site "$D" --no-analysis --max-upload 1048576
grep_ok "the server takes files" "taking files for jurisdiction CH-ZRH" "$T/site.out"

# EICAR, built here so that no scanner trips over the repository.
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$T/eicar.com"
[ "$(sha256sum "$T/eicar.com" | cut -d' ' -f1)" = \
	275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f ] ||
	fail "EICAR built wrong"
head -c 700000 /dev/urandom >"$T/random.bin"

# upload NAME TOKEN FILE [curl args]: status in $CODE, body in $T/NAME.json.
upload() {
	_n=$1
	_t=$2
	_f=$3
	shift 3
	CODE=$(curl -s -o "$T/$_n.json" -w '%{http_code}' -H "Authorization: Bearer $_t" \
		-F "file=@$_f" "$@" "$URL/api/v1/files")
}
log_size() {
	$V log checkpoint --url "$URL" | sed -n 2p
}
# state: what a refusal must leave unchanged.
state() {
	echo "log $(log_size)"
	echo "vault $(find "$D/vault" -type f -not -path "$D/vault/tmp/*" | wc -l)"
	echo "tmp $(find "$D/vault/tmp" -type f | wc -l)"
	echo "samples $(sqlite3 "$D/index.sqlite" 'select count(*) from samples' 2>/dev/null || echo -)"
	echo "sightings $(sqlite3 "$D/index.sqlite" 'select count(*) from sightings' 2>/dev/null || echo -)"
}
unchanged() {
	state >"$T/state.after"
	cmp -s "$T/state.before" "$T/state.after" || {
		diff "$T/state.before" "$T/state.after" >&2
		fail "$1 left something behind"
	}
	ok "$1 stored nothing (vault, index, log unchanged)"
}

say "accepted: EU"
SIZE0=$(log_size)
upload eicar1 "$EU" "$T/eicar.com" -F name=eicar.com -F tags=test,eicar -F source=EDR.Test
[ "$CODE" = 201 ] || { cat "$T/eicar1.json" >&2; fail "EU upload: $CODE, want 201"; }
ok "EU upload of a new file: 201"
J=$T/eicar1.json
[ "$(jq -r .sha256 "$J")" = "$(sha256sum "$T/eicar.com" | cut -d' ' -f1)" ] || fail "sha256"
[ "$(jq -r .sha1 "$J")" = "$(sha1sum "$T/eicar.com" | cut -d' ' -f1)" ] || fail "sha1"
[ "$(jq -r .md5 "$J")" = "$(md5sum "$T/eicar.com" | cut -d' ' -f1)" ] || fail "md5"
[ "$(jq -r .size "$J")" = 68 ] || fail "size"
jq -r .first_seen "$J" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T' || fail "first_seen"
ok "sha256, sha1, md5, size and first_seen are right"
IDX=$(jq -r .log_index "$J")
[ "$IDX" = "$SIZE0" ] || fail "log_index $IDX, want $SIZE0"
ok "log_index is the next entry"
jq -j .receipt "$J" >"$T/eicar1.proof"
SHA=$(sha256sum "$T/eicar.com" | cut -d' ' -f1)
{
	echo "vitrine/1 sample"
	echo "sha256 $SHA"
	echo "size 68"
	echo "jurisdiction CH-ZRH"
	echo "customer $(jq -r .entry "$J" | sed -n 's/^customer //p')"
	echo "region EU"
} >"$T/eicar1.entry"
jq -r .entry "$J" | grep -Eq '^customer [0-9a-f]{64}$' || fail "customer is not an HMAC"
expect_ok "the receipt verifies for the exact sample entry" \
	$V log verify-proof "$T/eicar1.proof" --vkey "$D/log.vkey" --entry "$T/eicar1.entry"
sed 's/region EU/region RU/' "$T/eicar1.entry" >"$T/wrong.entry"
expect_error "the receipt does not verify another entry" "." \
	$V log verify-proof "$T/eicar1.proof" --vkey "$D/log.vkey" --entry "$T/wrong.entry"
$V log prove --dir "$D" --index "$IDX" >/dev/null 2>&1 || true
curl -s "$URL/log/tile/entries/000.p/$((IDX + 1))" >"$T/bundle" 2>/dev/null
! grep -q "acme-eu" "$T/bundle" || fail "the tenant id is in the log"
! grep -q "eicar.com" "$T/bundle" || fail "the file name is in the log"
ok "neither the tenant id nor the file name is in the log"
[ "$(stat -c %a "$D/site.secret")" = 600 ] || fail "site.secret is not 0600"
[ "$(stat -c %s "$D/site.secret")" = 32 ] || fail "site.secret is not 32 bytes"
ok "site.secret: 32 bytes, mode 0600"
expect_ok "the vault object decrypts" $V vault get "$SHA" --dir "$D" --jurisdiction CH-ZRH \
	-o "$T/eicar.back"
cmp -s "$T/eicar.com" "$T/eicar.back" || fail "the vault holds other bytes"
ok "the vault object is the uploaded EICAR, byte for byte"

say "known: the same file again"
upload eicar2 "$EU" "$T/eicar.com"
[ "$CODE" = 200 ] || { cat "$T/eicar2.json" >&2; fail "second upload: $CODE, want 200"; }
ok "the same file again: 200"
jq -r .entry "$T/eicar2.json" | head -1 | grep -qx "vitrine/1 sighting" || fail "not a sighting"
[ "$(jq -r .log_index "$T/eicar2.json")" = $((IDX + 1)) ] || fail "sighting log_index"
[ "$(jq -r .first_seen "$T/eicar2.json")" = "$(jq -r .first_seen "$J")" ] || fail "first_seen"
jq -j .receipt "$T/eicar2.json" >"$T/eicar2.proof"
sed 's/^vitrine\/1 sample$/vitrine\/1 sighting/' "$T/eicar1.entry" >"$T/eicar2.entry"
expect_ok "the sighting receipt verifies for its exact entry" \
	$V log verify-proof "$T/eicar2.proof" --vkey "$D/log.vkey" --entry "$T/eicar2.entry"
N=$(sqlite3 "$D/index.sqlite" "select count(*) from sightings where log_index in ($IDX, $((IDX + 1)))")
[ "$N" = 2 ] || fail "the index has $N sightings with their log indices, want 2"
ok "both sightings are in the index with their log index"

upload rnd "$EU" "$T/random.bin"
[ "$CODE" = 201 ] || { cat "$T/rnd.json" >&2; fail "random upload: $CODE"; }
expect_ok "a 700 kB file decrypts from the vault" $V vault get \
	"$(sha256sum "$T/random.bin" | cut -d' ' -f1)" --dir "$D" --jurisdiction CH-ZRH -o "$T/rnd.back"
cmp -s "$T/random.bin" "$T/rnd.back" || fail "random.bin differs in the vault"
ok "a 700 kB file round-trips through the vault"

say "refused"
head -c 5000 /dev/urandom >"$T/fresh.bin"
state >"$T/state.before"
upload ru "$RU" "$T/fresh.bin"
[ "$CODE" = 421 ] || fail "RU upload: $CODE, want 421"
[ "$(jq -r .url "$T/ru.json")" = https://mow.vitrine.example ] || fail "421 names $(cat "$T/ru.json")"
ok "RU: 421 naming https://mow.vitrine.example"
unchanged "the RU upload"
upload br "$BR" "$T/fresh.bin"
[ "$CODE" = 451 ] || fail "BR upload: $CODE, want 451"
grep -q "BR" "$T/br.json" || fail "451 does not name the region"
ok "BR: 451 ($(jq -r .error.message "$T/br.json"))"
unchanged "the BR upload"
# Just over the limit: the declared length passes, the stream is cut.
head -c 1100000 /dev/urandom >"$T/big.bin"
upload big "$EU" "$T/big.bin"
[ "$CODE" = 413 ] || fail "an upload over --max-upload: $CODE, want 413"
ok "over --max-upload while streaming: 413"
unchanged "the oversized upload"
# Far over it: refused on the declared length, before the body.
head -c 3000000 /dev/urandom >"$T/huge.bin"
upload huge "$EU" "$T/huge.bin"
[ "$CODE" = 413 ] || fail "an upload far over --max-upload: $CODE, want 413"
ok "over --max-upload by Content-Length: 413"
unchanged "the huge upload"
# A chunked body has no Content-Length: the limit bites while it streams.
upload bigchunked "$EU" "$T/big.bin" -H "Transfer-Encoding: chunked"
[ "$CODE" = 413 ] || fail "a chunked upload over --max-upload: $CODE, want 413"
ok "over --max-upload, chunked: 413"
unchanged "the oversized chunked upload"
printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\nhalf a file' \
	>"$T/truncated.body"
CODE=$(curl -s -o "$T/trunc.json" -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-H "Content-Type: multipart/form-data; boundary=XyZ" --data-binary "@$T/truncated.body" \
	"$URL/api/v1/files")
[ "$CODE" = 400 ] || fail "a truncated body: $CODE, want 400"
grep -q truncated "$T/trunc.json" || fail "400 does not say truncated: $(cat "$T/trunc.json")"
ok "a truncated body: 400 ($(jq -r .error.message "$T/trunc.json"))"
unchanged "the truncated upload"
upload none "" "$T/fresh.bin"
[ "$CODE" = 401 ] || fail "no token: $CODE, want 401"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -F "file=@$T/fresh.bin" "$URL/api/v1/files")
[ "$CODE" = 401 ] || fail "no Authorization header: $CODE, want 401"
upload bad "vt_$(printf '0%.0s' $(seq 64))" "$T/fresh.bin"
[ "$CODE" = 401 ] || fail "an unknown token: $CODE, want 401"
ok "no or unknown token: 401"
upload ana "$ANA" "$T/fresh.bin"
[ "$CODE" = 403 ] || fail "an analyst token: $CODE, want 403"
jq -e .error.code "$T/ana.json" >/dev/null || fail "403 is not JSON"
ok "an analyst token: 403 with JSON"
CODE=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-H "Content-Type: application/octet-stream" --data-binary "@$T/fresh.bin" "$URL/api/v1/files")
[ "$CODE" = 415 ] || fail "a raw body: $CODE, want 415"
ok "not multipart/form-data: 415"
upload evil "$EU" "$T/fresh.bin" -F "name=../../etc/passwd"
[ "$CODE" = 400 ] || fail "a name with ../: $CODE, want 400"
ok "a name with ../: 400"
unchanged "the refused uploads"
N=$(sqlite3 "$D/index.sqlite" "select count(*) from sightings where name = 'eicar.com' and source = 'EDR.Test'")
[ "$N" = 1 ] || fail "the index does not hold the submitted name and source"
ok "the file name and source are in the index (not in the log)"

N=$(sqlite3 "$D/index.sqlite" "select group_concat(tag, ',') from (select tag from tags where sample = X'$SHA' order by tag)")
[ "$N" = eicar,test ] || fail "the sample's tags are '$N', want eicar,test"
ok "the tags are on the sample"

say "8 uploads of one new file at once: one sample entry, every sighting after it"
head -c 5000 /dev/urandom >"$T/race.bin"
RACE=""
for i in 1 2 3 4 5 6 7 8; do
	(
		upload "race$i" "$EU" "$T/race.bin" -F "name=race$i.bin"
		echo "$CODE" >"$T/race$i.code"
	) &
	RACE="$RACE $!"
done
wait $RACE
FIRST=""
for i in 1 2 3 4 5 6 7 8; do
	C=$(cat "$T/race$i.code")
	K=$(jq -r .entry "$T/race$i.json" | head -1)
	if [ "$C" = 201 ]; then
		[ -z "$FIRST" ] || fail "two uploads of one file got 201"
		[ "$K" = "vitrine/1 sample" ] || fail "201 with $K"
		FIRST=$(jq -r .log_index "$T/race$i.json")
	else
		[ "$C" = 200 ] || fail "a racing upload: $C, want 200: $(cat "$T/race$i.json")"
		[ "$K" = "vitrine/1 sighting" ] || fail "200 with $K"
	fi
done
[ -n "$FIRST" ] || fail "no upload of the new file got 201"
for i in 1 2 3 4 5 6 7 8; do
	[ "$(cat "$T/race$i.code")" = 201 ] ||
		[ "$(jq -r .log_index "$T/race$i.json")" -gt "$FIRST" ] ||
		fail "a sighting at $(jq -r .log_index "$T/race$i.json"), before its sample at $FIRST"
done
N=$(sqlite3 "$D/index.sqlite" "select count(*) from sightings where name like 'race%.bin' and log_index is not null")
[ "$N" = 8 ] || fail "$N sightings of the racing uploads indexed, want 8"
ok "one 201 (the sample entry), seven 200 logged after it, eight sightings indexed"

say "GET /metrics: where the published uploads spent their time"
curl -s "$URL/metrics" >"$T/metrics"
N=$(sqlite3 "$D/index.sqlite" "select count(*) from sightings where log_index is not null")
M=$(sed -n 's/^vitrine_intake_uploads_total //p' "$T/metrics")
[ -n "$M" ] && [ "$M" = "$N" ] || fail "vitrine_intake_uploads_total is '$M', want the $N published sightings"
for p in queue vault index log sighting; do
	v=$(sed -n "s/^vitrine_intake_phase_seconds_total{phase=\"$p\"} //p" "$T/metrics")
	[ -n "$v" ] || fail "no $p phase in /metrics"
	# Not a bound on time: a phase that does work (all but the queue,
	# which may be empty) is never 0 s unless it is not counted at all.
	awk -v v="$v" -v p="$p" 'BEGIN { exit !(v > 0 || (p == "queue" && v == 0)) }' ||
		fail "the $p phase took $v s in all: not counted"
done
ok "$M published uploads counted, with the time of each phase of their commit"
# uploads_published: vitrine_intake_uploads_total now.
uploads_published() {
	curl -s "$URL/metrics" | sed -n 's/^vitrine_intake_uploads_total //p'
}

say "the log refuses a new file's entry: the next upload of it logs the sample"
if command -v strace >/dev/null; then
	head -c 3000 /dev/urandom >"$T/unlucky.bin"
	USHA=$(sha256sum "$T/unlucky.bin" | cut -d' ' -f1)
	S0=$(log_size)
	strace -f -qq -p "$SERVER_PID" -e trace=syncfs -e inject=syncfs:error=EIO -o /dev/null &
	ST=$!
	PIDS="$PIDS $ST"
	sleep 1
	upload unlucky "$EU" "$T/unlucky.bin"
	kill "$ST" 2>/dev/null
	wait "$ST" 2>/dev/null
	[ "$CODE" = 503 ] || [ "$CODE" = 500 ] || fail "with a failing log: $CODE, want 503 or 500"
	[ "$(log_size)" = "$S0" ] || fail "an entry was published while the log failed"
	[ "$(uploads_published)" = "$M" ] || fail "the refused upload counts in /metrics"
	upload lucky "$EU" "$T/unlucky.bin"
	[ "$CODE" = 201 ] || fail "the upload after the log recovered: $CODE, want 201: $(cat "$T/lucky.json")"
	jq -r .entry "$T/lucky.json" | head -1 | grep -qx "vitrine/1 sample" ||
		fail "the retry logged $(jq -r .entry "$T/lucky.json" | head -1), want the sample entry"
	upload again "$EU" "$T/unlucky.bin"
	[ "$CODE" = 200 ] || fail "the next upload: $CODE, want 200"
	jq -r .entry "$T/again.json" | head -1 | grep -qx "vitrine/1 sighting" || fail "not a sighting"
	[ "$(uploads_published)" = $((M + 2)) ] ||
		fail "/metrics counts $(uploads_published) published uploads, want $((M + 2))"
	ok "stored while the log failed (503), then logged as a sample by the next upload, then sighted"
else
	skip_part "strace is not installed: log failure not injected"
fi
stop_server TERM
[ "$RC" -eq 0 ] || fail "the server exited $RC"
ok "the server stops cleanly"

say "a site without a jurisdiction serves the log only"
expect_ok "init without a jurisdiction" $V init --dir "$T/plain" --origin plain.example/log
start_server plain "$T/plain"
CODE=$(curl -s -o "$T/plain.json" -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-F "file=@$T/eicar.com" "$URL/api/v1/files")
[ "$CODE" = 503 ] || fail "intake on a log-only site: $CODE, want 503"
grep -q jurisdiction "$T/plain.json" || fail "503 gives no reason: $(cat "$T/plain.json")"
ok "log-only site: 503 ($(jq -r .error.message "$T/plain.json"))"
stop_server TERM

finish
