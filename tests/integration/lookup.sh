#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Hash lookups and file reports over HTTP: POST /api/v1/lookup (JSON and
# text, every hash kind, the 10,000 limit, refusals) and GET
# /api/v1/files/{hash} seen by two tenants and an analyst (a submitter
# sees only its own tenant's sightings, and another tenant's file is a
# 404 exactly like an unknown one). Ends with a throughput figure.
VITRINE=${1:?usage: lookup.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"

say "a site in Zurich, two EU tenants, an analyst and an auditor"
zurich_site "$D"
A=$(token --role submitter --name edr-acme --tenant acme --region EU)
B=$(token --role submitter --name edr-globex --tenant globex --region EU)
ANA=$(token --role analyst --name ana)
AUD=$(token --role auditor --name aud)
[ -n "$A" ] && [ -n "$B" ] && [ -n "$ANA" ] && [ -n "$AUD" ] || fail "token create"
ok "tokens for tenants acme and globex, an analyst and an auditor"
start_server site "$D" --no-analysis --threads 2

printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$T/eicar.com"
head -c 3000 /dev/urandom >"$T/a-only.bin"
head -c 4000 /dev/urandom >"$T/b-only.bin"
sha() { sha256sum "$1" | cut -d' ' -f1; }
EICAR=$(sha "$T/eicar.com")
AONLY=$(sha "$T/a-only.bin")
BONLY=$(sha "$T/b-only.bin")

# upload NAME TOKEN FILE [curl args]
upload() {
	_n=$1
	_t=$2
	_f=$3
	shift 3
	CODE=$(curl -s -o "$T/$_n.json" -w '%{http_code}' -H "Authorization: Bearer $_t" \
		-F "file=@$_f" "$@" "$URL/api/v1/files")
	case $CODE in
	200 | 201) ;;
	*) cat "$T/$_n.json" >&2; fail "upload $_n: $CODE" ;;
	esac
}
upload up1 "$A" "$T/eicar.com" -F name=acme-eicar.com -F source=EDR.Acme -F tags=eicar,test
upload up2 "$A" "$T/a-only.bin" -F name=acme-private.dll
upload up3 "$B" "$T/b-only.bin" -F name=globex-private.exe
upload up4 "$B" "$T/eicar.com" -F name=globex-eicar.com -F source=EDR.Globex
ok "acme uploaded two files, globex one of its own and acme's EICAR"

# post NAME TOKEN TYPE BODYFILE: status in $CODE, answer in $T/NAME.json.
post() {
	CODE=$(curl -s -o "$T/$1.json" -w '%{http_code}' ${2:+-H "Authorization: Bearer $2"} \
		-H "Content-Type: $3" --data-binary "@$4" "$URL/api/v1/lookup")
}
# expect_code WHAT WANT: $CODE is WANT.
expect_code() {
	[ "$CODE" = "$2" ] || { cat "$T/last.json" >&2 2>/dev/null; fail "$1: $CODE, want $2"; }
}

say "lookups"
UNK256=$(printf 'unknown' | sha256sum | cut -d' ' -f1)
UNKMD5=$(printf 'unknown' | md5sum | cut -d' ' -f1)
SHA1A=$(sha1sum "$T/a-only.bin" | cut -d' ' -f1)
MD5B=$(md5sum "$T/b-only.bin" | cut -d' ' -f1)
UPPER=$(echo "$EICAR" | tr a-f A-F)
cat >"$T/mixed.req" <<EOF
{"hashes": ["$EICAR", "$UNK256", "$SHA1A",
  "$MD5B", "$UNKMD5", "$UPPER"]}
EOF
for who in A B ANA AUD; do
	eval "tok=\$$who"
	post mixed "$tok" application/json "$T/mixed.req"
	[ "$CODE" = 200 ] || { cat "$T/mixed.json" >&2; fail "lookup as $who: $CODE"; }
done
ok "every role may look hashes up"
R=$T/mixed.json
[ "$(jq -r '.results | length' "$R")" = 6 ] || fail "6 results"
[ "$(jq -r '[.results[].known] | map(tostring) | join(",")' "$R")" = "true,false,true,true,false,true" ] ||
	fail "known flags: $(cat "$R")"
ok "known, unknown and mixed kinds answered in request order"
[ "$(jq -r '.results[0].hash' "$R")" = "$EICAR" ] || fail "hash echoed"
[ "$(jq -r '.results[0].sha256' "$R")" = "$EICAR" ] || fail "sha256 of a known sha256"
[ "$(jq -r '.results[2].hash' "$R")" = "$SHA1A" ] || fail "sha1 echoed"
[ "$(jq -r '.results[2].sha256' "$R")" = "$AONLY" ] || fail "sha256 of a known sha1"
[ "$(jq -r '.results[3].sha256' "$R")" = "$BONLY" ] || fail "sha256 of a known md5"
[ "$(jq -r '.results[5].hash' "$R")" = "$EICAR" ] || fail "upper case echoed in lower case"
[ "$(jq -r '.results[0] | has("verdict") and .verdict == null' "$R")" = true ] || fail "verdict"
[ "$(jq -r '.results[1] | keys | join(",")' "$R")" = "hash,known" ] || fail "unknown result: $(jq -c '.results[1]' "$R")"
ok "each known hash names its SHA-256 and a null verdict; unknown ones only hash and known"
printf '%s\r\n%s\n\n%s\n' "$EICAR" "$UNKMD5" "$SHA1A" >"$T/lines.txt"
post text "$A" "text/plain; charset=utf-8" "$T/lines.txt"
[ "$CODE" = 200 ] || fail "text lookup: $CODE"
[ "$(jq -r '[.results[].known] | map(tostring) | join(",")' "$T/text.json")" = "true,false,true" ] ||
	fail "text lookup: $(cat "$T/text.json")"
ok "text/plain, one hash a line: answered in order"
echo '{"hashes": []}' >"$T/empty.req"
post empty "$A" application/json "$T/empty.req"
[ "$CODE" = 200 ] && [ "$(jq -c . "$T/empty.json")" = '{"results":[]}' ] || fail "empty: $CODE"
ok "an empty list: 200 with no results"

say "limits and refusals"
seq 1 10000 | awk 'BEGIN { printf "{\"hashes\": [" }
	{ printf "%s\"%032x\"", (NR > 1 ? "," : ""), $1 } END { print "]}" }' >"$T/10000.json"
seq 1 10001 | awk 'BEGIN { printf "{\"hashes\": [" }
	{ printf "%s\"%032x\"", (NR > 1 ? "," : ""), $1 } END { print "]}" }' >"$T/10001.json"
post n10000 "$A" application/json "$T/10000.json"
[ "$CODE" = 200 ] && [ "$(jq '.results | length' "$T/n10000.json")" = 10000 ] ||
	fail "10,000 hashes: $CODE"
ok "10,000 hashes: 200 with 10,000 results"
post n10001 "$A" application/json "$T/10001.json"
[ "$CODE" = 413 ] || fail "10,001 hashes: $CODE, want 413"
[ "$(jq -r .error.code "$T/n10001.json")" = too_many_hashes ] || fail "413 body: $(cat "$T/n10001.json")"
ok "10,001 hashes: 413 ($(jq -r .error.message "$T/n10001.json"))"
seq 1 10001 | awk '{ printf "%032x\n", $1 }' >"$T/10001.txt"
post t10001 "$A" text/plain "$T/10001.txt"
[ "$CODE" = 413 ] || fail "10,001 text lines: $CODE, want 413"
ok "10,001 text lines: 413"
head -c 5000000 /dev/zero | tr '\0' ' ' >"$T/huge.json"
post huge "$A" application/json "$T/huge.json"
[ "$CODE" = 413 ] || fail "a 5 MB body: $CODE, want 413"
ok "a body over 4 MiB: 413"
printf '{"hashes": ["%s", "xyz"]}' "$EICAR" >"$T/badhash.json"
post badhash "$A" application/json "$T/badhash.json"
[ "$CODE" = 400 ] || fail "a bad hash: $CODE, want 400"
[ "$(jq -r .error.code "$T/badhash.json")" = bad_request ] || fail "400 code"
jq -r .error.message "$T/badhash.json" | grep -q 'hashes\[1\]' || fail "400 does not name hashes[1]: $(cat "$T/badhash.json")"
ok "a bad hash: 400 naming its place ($(jq -r .error.message "$T/badhash.json"))"
for body in '{"hashes": ["'"$EICAR"'",]}' '{"hashes": "x"}' '{"hashes": [1]}' '[]' '{' \
	'{"hashes": [], "extra": true}' 'not json'; do
	printf '%s' "$body" >"$T/bad.json"
	post badjson "$A" application/json "$T/bad.json"
	[ "$CODE" = 400 ] || fail "malformed JSON $body: $CODE, want 400"
	jq -e '.error.code and .error.message' "$T/badjson.json" >/dev/null || fail "400 body is not an error"
done
ok "malformed JSON (7 kinds): 400 with an error body"
printf '%s\nnot-a-hash\n' "$EICAR" >"$T/badline.txt"
post badline "$A" text/plain "$T/badline.txt"
[ "$CODE" = 400 ] && jq -r .error.message "$T/badline.json" | grep -q 'line 2' ||
	fail "a bad text line: $CODE $(cat "$T/badline.json")"
ok "a bad text line: 400 naming line 2"
post notoken "" application/json "$T/mixed.req"
[ "$CODE" = 401 ] && [ "$(jq -r .error.code "$T/notoken.json")" = unauthorized ] ||
	fail "no token: $CODE"
post badtoken "vt_$(printf '0%.0s' $(seq 64))" application/json "$T/mixed.req"
[ "$CODE" = 401 ] || fail "an unknown token: $CODE"
post garbage "garbage" application/json "$T/mixed.req"
[ "$CODE" = 401 ] || fail "a malformed token: $CODE"
ok "no, unknown or malformed token: 401 with {\"error\": {\"code\": \"unauthorized\"}}"
post form "$A" application/x-www-form-urlencoded "$T/mixed.req"
[ "$CODE" = 415 ] || fail "a form body: $CODE, want 415"
ok "another content type: 415"
CODE=$(curl -s -o "$T/get.json" -w '%{http_code}' -H "Authorization: Bearer $A" "$URL/api/v1/lookup")
[ "$CODE" = 405 ] && [ "$(jq -r .error.code "$T/get.json")" = method_not_allowed ] ||
	fail "GET /api/v1/lookup: $CODE"
ok "GET /api/v1/lookup: 405 with a JSON error"

say "reports"
# report NAME TOKEN HASH: status in $CODE, answer in $T/NAME.json.
report() {
	CODE=$(curl -s -o "$T/$1.json" -w '%{http_code}' ${2:+-H "Authorization: Bearer $2"} \
		"$URL/api/v1/files/$3")
}
report ra "$A" "$EICAR"
[ "$CODE" = 200 ] || { cat "$T/ra.json" >&2; fail "report as acme: $CODE"; }
J=$T/ra.json
[ "$(jq -r .sha256 "$J")" = "$EICAR" ] && [ "$(jq -r .sha1 "$J")" = "$(sha1sum "$T/eicar.com" | cut -d' ' -f1)" ] &&
	[ "$(jq -r .md5 "$J")" = "$(md5sum "$T/eicar.com" | cut -d' ' -f1)" ] &&
	[ "$(jq -r .size "$J")" = 68 ] && [ "$(jq -r .jurisdiction "$J")" = CH-ZRH ] &&
	[ "$(jq -r .first_seen "$J")" = "$(jq -r .first_seen "$T/up1.json")" ] ||
	fail "report fields: $(cat "$J")"
[ "$(jq -r '.tags | join(",")' "$J")" = "eicar,test" ] || fail "tags: $(jq -c .tags "$J")"
ok "report: sha256, sha1, md5, size, first_seen, jurisdiction, tags"
[ "$(jq -r '.sightings | length' "$J")" = 1 ] && [ "$(jq -r '.sightings[0].tenant' "$J")" = acme ] ||
	fail "acme sees: $(jq -c .sightings "$J")"
[ "$(jq -r '.sightings[0].name' "$J")" = acme-eicar.com ] &&
	[ "$(jq -r '.sightings[0].source' "$J")" = EDR.Acme ] &&
	[ "$(jq -r '.sightings[0].region' "$J")" = EU ] &&
	[ "$(jq -r '.sightings[0].log_index' "$J")" = "$(jq -r .log_index "$T/up1.json")" ] ||
	fail "acme's sighting: $(jq -c '.sightings[0]' "$J")"
! grep -q globex "$J" || fail "acme sees globex's sighting"
ok "acme sees its EICAR sighting (name, source, region, log index) and none of globex's"
report rasha1 "$A" "$(sha1sum "$T/eicar.com" | cut -d' ' -f1)"
report ramd5 "$A" "$(md5sum "$T/eicar.com" | cut -d' ' -f1 | tr a-f A-F)"
[ "$CODE" = 200 ] && cmp -s "$T/ra.json" "$T/rasha1.json" && cmp -s "$T/ra.json" "$T/ramd5.json" ||
	fail "report by sha1/md5 differs"
ok "the same report by SHA-1 and by upper-case MD5"
report raown "$A" "$AONLY"
[ "$CODE" = 200 ] || fail "acme's own file: $CODE"
report rb "$B" "$AONLY"
[ "$CODE" = 404 ] || fail "globex asking for acme's file: $CODE, want 404"
report rbunk "$B" "$UNK256"
[ "$CODE" = 404 ] || fail "unknown file: $CODE, want 404"
cmp -s "$T/rb.json" "$T/rbunk.json" || fail "404 for a hidden file differs from an unknown one"
[ "$(jq -r .error.code "$T/rb.json")" = not_found ] || fail "404 code"
ok "globex: 404 for acme's file, byte for byte the 404 of an unknown hash"
report rbe "$B" "$EICAR"
[ "$(jq -r '[.sightings[].tenant] | join(",")' "$T/rbe.json")" = globex ] || fail "globex sees: $(cat "$T/rbe.json")"
ok "globex sees the shared EICAR with only its own sighting"
report rana "$ANA" "$EICAR"
[ "$CODE" = 200 ] && [ "$(jq -r '[.sightings[].tenant] | join(",")' "$T/rana.json")" = acme,globex ] &&
	[ "$(jq -r .sightings_total "$T/rana.json")" = 2 ] || fail "analyst sees: $(cat "$T/rana.json")"
report ranaa "$ANA" "$AONLY"
[ "$CODE" = 200 ] || fail "analyst on acme's file: $CODE"
report raud "$AUD" "$BONLY"
[ "$CODE" = 200 ] || fail "auditor on globex's file: $CODE"
ok "analysts and auditors see every file and every sighting"
report rbad "$ANA" "xyz"
[ "$CODE" = 400 ] && [ "$(jq -r .error.code "$T/rbad.json")" = bad_hash ] || fail "bad hash: $CODE"
report rbad2 "$ANA" "${EICAR}00"
[ "$CODE" = 400 ] || fail "66 hex digits: $CODE"
ok "a malformed hash: 400 bad_hash"
report rnone "" "$EICAR"
[ "$CODE" = 401 ] && [ "$(jq -r .error.code "$T/rnone.json")" = unauthorized ] || fail "no token: $CODE"
ok "no token: 401"
report rdeep "$ANA" "$EICAR/nothing"
[ "$CODE" = 404 ] && jq -e .error.code "$T/rdeep.json" >/dev/null || fail "a deeper path: $CODE"
ok "a deeper path: 404 with a JSON error"

say "throughput: batches of 1,000 hashes (half known) over keep-alive connections"
{
	printf '{"hashes": ['
	i=0
	while [ $i -lt 500 ]; do
		printf '"%s","%064x",' "$EICAR" "$i"
		i=$((i + 1))
	done
} | sed 's/,$/]}/' >"$T/batch.req"
post batch "$A" application/json "$T/batch.req"
[ "$CODE" = 200 ] && [ "$(jq '.results | length' "$T/batch.json")" = 1000 ] || fail "batch: $CODE"
REQS=${VT_LOOKUP_BENCH_REQUESTS:-400}
PAR=4
# One curl per parallel stream, each reusing its connection for REQS/PAR requests.
urls=$(i=0; while [ $i -lt $((REQS / PAR)) ]; do echo "$URL/api/v1/lookup -o /dev/null"; i=$((i + 1)); done)
t0=$(date +%s%N)
bench_pids=""
for s in $(seq 1 $PAR); do
	# shellcheck disable=SC2086
	curl -s -w '%{http_code}\n' -H "Authorization: Bearer $A" \
		-H "Content-Type: application/json" --data-binary "@$T/batch.req" $urls \
		>"$T/bench.$s" &
	bench_pids="$bench_pids $!"
done
# Not a bare wait: the server is a child too.
for p in $bench_pids; do
	wait "$p"
done
t1=$(date +%s%N)
N200=$(cat "$T"/bench.* | grep -c '^200$')
[ "$N200" = $((REQS / PAR * PAR)) ] || fail "bench: $N200 of $((REQS / PAR * PAR)) answered 200"
MS=$(((t1 - t0) / 1000000))
[ "$MS" -gt 0 ] || MS=1
echo "# lookup throughput: $N200 requests x 1000 hashes in $MS ms =" \
	"$((N200 * 1000 * 1000 / MS)) hashes/s ($PAR curl clients, $(nproc) CPUs, server --threads 2)"
ok "lookup throughput measured (printed above, not asserted)"

stop_server TERM
[ "$RC" -eq 0 ] || fail "the server exited $RC"
ok "the server stops cleanly"
finish
