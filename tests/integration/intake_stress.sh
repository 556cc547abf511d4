#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Intake under stress and bad input: one file uploaded by 64 clients at once
# (stored once, one sample and 63 sightings logged and indexed), a matrix of
# malformed requests that must each get their status and JSON error and leave
# vault, index and log unchanged, real files (EICAR, clamav-testfiles, ELF
# binaries) whose reports and vault copies must match independent tools, and
# a server that still answers at the end.
VITRINE=${1:?usage: intake_stress.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
CLAM=/usr/share/clamav-testfiles
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"
command -v sqlite3 >/dev/null || fail "sqlite3 is needed to read the index"

say "a site in Zurich, four EU tenants and an analyst"
zurich_site "$D"
TOK1=$(token --role submitter --name edr-1 --tenant acme-1 --region EU)
TOK2=$(token --role submitter --name edr-2 --tenant acme-2 --region EU)
TOK3=$(token --role submitter --name edr-3 --tenant acme-3 --region EU)
TOK4=$(token --role submitter --name edr-4 --tenant acme-4 --region EU)
ANA=$(token --role analyst --name ana)
[ -n "$TOK1" ] && [ -n "$TOK2" ] && [ -n "$TOK3" ] && [ -n "$TOK4" ] && [ -n "$ANA" ] ||
	fail "token create"
EU=$TOK1
ok "tokens for acme-1..4 (EU) and an analyst"
start_server site "$D" --no-analysis --max-upload 8388608
grep_ok "the server takes files" "taking files for jurisdiction CH-ZRH" "$T/site.out"

sha256() { sha256sum "$1" | cut -d' ' -f1; }

log_size() {
	$V log checkpoint --url "$URL" | sed -n 2p
}
vault_objects() {
	find "$D/vault" -type f -not -path "$D/vault/tmp/*" | wc -l
}
sql() {
	sqlite3 "$D/index.sqlite" "$1"
}
# state: what a refusal must leave unchanged.
state() {
	echo "log $(log_size)"
	echo "vault $(vault_objects)"
	echo "tmp $(find "$D/vault/tmp" -type f | wc -l)"
	echo "samples $(sql 'select count(*) from samples')"
	echo "sightings $(sql 'select count(*) from sightings')"
	echo "tags $(sql 'select count(*) from tags')"
}
# The text of every entry in the log (entries are text; the bundles' 2-byte
# length prefixes are dropped by grep -a -o on the first line of each).
log_entries() {
	_size=$(log_size)
	_n=0
	while [ $((_n * 256)) -lt "$_size" ]; do
		_w=$((_size - _n * 256))
		_p=$(printf '%03d' "$_n")
		if [ "$_w" -ge 256 ]; then
			curl -sf "$URL/log/tile/entries/$_p"
		else
			curl -sf "$URL/log/tile/entries/$_p.p/$_w"
		fi
		_n=$((_n + 1))
	done
}
health() {
	[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$URL/healthz")" = 200 ]
}

# upload NAME TOKEN FILE [curl args]: status in $CODE, body in $T/NAME.json.
upload() {
	_n=$1
	_t=$2
	_f=$3
	shift 3
	LAST=$T/$_n.json
	CODE=$(curl -s -o "$LAST" -w '%{http_code}' -H "Authorization: Bearer $_t" \
		-F "file=@$_f" "$@" "$URL/api/v1/files")
}
# post NAME CONTENT_TYPE BODYFILE [curl args]: a hand-made body, by acme-1.
post() {
	_n=$1
	_ct=$2
	_b=$3
	shift 3
	LAST=$T/$_n.json
	CODE=$(curl -s -o "$LAST" -w '%{http_code}' -H "Authorization: Bearer $EU" \
		-H "Content-Type: $_ct" "$@" --data-binary "@$_b" "$URL/api/v1/files")
}
MP="multipart/form-data; boundary=XyZ"
# The message of a JSON error body, either shape (docs/api.md).
err_message() {
	jq -r 'if (.error | type) == "object" then .error.message else .detail end' "$1" 2>/dev/null
}
# refused WHAT STATUS PATTERN: the last answer ($LAST) was STATUS with a JSON
# error whose message matches PATTERN, and nothing changed since state.before.
refused() {
	_n=$1
	_want=$2
	_pat=$3
	if [ "$CODE" != "$_want" ]; then
		head -c 600 "$LAST" >&2
		fail "$_n: HTTP $CODE, want $_want"
	fi
	_msg=$(err_message "$LAST") ||
		fail "$_n: the $CODE body is not JSON: $(head -c 300 "$LAST")"
	[ -n "$_msg" ] && [ "$_msg" != null ] || fail "$_n: the $CODE body has no message"
	echo "$_msg" | grep -Eqi -- "$_pat" ||
		fail "$_n: message \"$_msg\" does not match /$_pat/"
	state >"$T/state.after"
	if ! cmp -s "$T/state.before" "$T/state.after"; then
		diff "$T/state.before" "$T/state.after" >&2
		fail "$_n left something behind"
	fi
	ok "$_n: $CODE ($_msg); vault, index and log unchanged"
}

# ---------------------------------------------------------------------------
say "dedup: one file uploaded by 64 clients of 4 tenants at once"
head -c 300000 /dev/urandom >"$T/same.bin"
SAME=$(sha256 "$T/same.bin")
V0=$(vault_objects)
L0=$(log_size)
S0=$(sql 'select count(*) from sightings')
N=64
CPIDS=""
i=1
while [ $i -le $N ]; do
	case $((i % 4)) in
	0) t=$TOK1 ;; 1) t=$TOK2 ;; 2) t=$TOK3 ;; *) t=$TOK4 ;;
	esac
	curl -s -o "$T/dup$i.json" -w '%{http_code}\n' -H "Authorization: Bearer $t" \
		-F "file=@$T/same.bin;filename=same-$i.bin" "$URL/api/v1/files" >"$T/dup$i.code" &
	CPIDS="$CPIDS $!"
	i=$((i + 1))
done
for p in $CPIDS; do
	wait "$p"
done
cat "$T"/dup*.code | sort | uniq -c >"$T/dup.codes"
C201=$(grep -c '^201$' "$T"/dup*.code | awk -F: '{s += $2} END {print s}')
C200=$(grep -c '^200$' "$T"/dup*.code | awk -F: '{s += $2} END {print s}')
if [ "$C201" != 1 ] || [ "$C200" != $((N - 1)) ]; then
	cat "$T/dup.codes" >&2
	for f in "$T"/dup*.json; do head -c 300 "$f" >&2; done
	fail "$N concurrent uploads: $C201 x 201 and $C200 x 200, want 1 and $((N - 1))"
fi
ok "$N concurrent uploads of one file: exactly one 201, $((N - 1)) x 200"
[ "$(vault_objects)" = $((V0 + 1)) ] || fail "the vault holds $(vault_objects) objects, want $((V0 + 1))"
[ -f "$D/vault/$(echo "$SAME" | cut -c1-2)/$SAME" ] || fail "no vault object named $SAME"
[ "$(find "$D/vault/tmp" -type f | wc -l)" = 0 ] || fail "temporary files left in vault/tmp"
ok "the vault holds one new object, named by its SHA-256, and no temporary file"
[ "$(log_size)" = $((L0 + N)) ] || fail "the log grew by $(($(log_size) - L0)), want $N"
jq -r .log_index "$T"/dup*.json | sort -n | uniq >"$T/dup.idx"
[ "$(wc -l <"$T/dup.idx")" = $N ] || fail "log indices are not distinct"
[ "$(head -1 "$T/dup.idx")" = "$L0" ] && [ "$(tail -1 "$T/dup.idx")" = $((L0 + N - 1)) ] ||
	fail "log indices are not $L0..$((L0 + N - 1))"
ok "the log grew by exactly $N entries, one per upload, indices $L0..$((L0 + N - 1))"
log_entries >"$T/log.bin"
NS=$(grep -a -c "^sha256 $SAME\$" "$T/log.bin")
NSAMPLE=$(grep -a -o 'vitrine/1 sample' "$T/log.bin" | wc -l)
NSIGHT=$(grep -a -o 'vitrine/1 sighting' "$T/log.bin" | wc -l)
[ "$NS" = $N ] || fail "$NS entries in the log name $SAME, want $N"
[ "$NSAMPLE" = 1 ] && [ "$NSIGHT" = $((N - 1)) ] ||
	fail "the log holds $NSAMPLE sample and $NSIGHT sighting entries, want 1 and $((N - 1))"
ok "the log holds one sample and $((N - 1)) sighting entries for the file"
[ "$(jq -r 'select(.new) | .entry' "$T"/dup*.json | head -1)" = "vitrine/1 sample" ] ||
	fail "the 201 answer does not carry the sample entry"
[ "$(jq -r 'select(.new | not) | .entry' "$T"/dup*.json | grep -c '^vitrine/1 sighting$')" = \
	$((N - 1)) ] || fail "the 200 answers do not carry sighting entries"
[ "$(jq -r .first_seen "$T"/dup*.json | sort -u | wc -l)" = 1 ] || fail "first_seen differs"
i=1
while [ $i -le $N ]; do
	jq -j .receipt "$T/dup$i.json" >"$T/dup.proof"
	jq -j .entry "$T/dup$i.json" >"$T/dup.entry"
	$V log verify-proof "$T/dup.proof" --vkey "$D/log.vkey" --entry "$T/dup.entry" \
		>/dev/null 2>"$T/dup.err" || { cat "$T/dup.err" >&2; fail "receipt $i does not verify"; }
	i=$((i + 1))
done
ok "all $N receipts verify for their entries; every answer has the same first_seen"
X=$(sql "select count(*) from sightings where sample = x'$SAME'")
[ "$X" = $N ] || fail "the index holds $X sightings of the file, want $N"
[ "$(sql 'select count(*) from sightings') " = "$((S0 + N)) " ] || fail "other sightings appeared"
[ "$(sql "select count(distinct log_index) from sightings where sample = x'$SAME'")" = $N ] ||
	fail "sightings do not each have their own log index"
[ "$(sql "select count(*) from samples where sha256 = x'$SAME'")" = 1 ] || fail "samples row"
for k in 1 2 3 4; do
	[ "$(sql "select count(*) from sightings where sample = x'$SAME' and tenant = 'acme-$k'")" = \
		$((N / 4)) ] || fail "tenant acme-$k does not have $((N / 4)) sightings"
done
ok "the index holds one sample and $N sightings ($((N / 4)) per tenant), each with its log index"
curl -s -H "Authorization: Bearer $ANA" "$URL/api/v1/files/$SAME" >"$T/dup.report"
[ "$(jq -r .sightings_total "$T/dup.report")" = $N ] || fail "the report counts $(jq -r .sightings_total "$T/dup.report") sightings"
ok "the analyst's report counts $N sightings"
health || fail "/healthz after the concurrent uploads"

# ---------------------------------------------------------------------------
say "bad input: each refused with its status and a JSON error, nothing stored"
head -c 5000 /dev/urandom >"$T/fresh.bin"
state >"$T/state.before"
# Bodies are built with printf: \r\n line ends, boundary XyZ.
hdr() { printf -- '--XyZ\r\nContent-Disposition: form-data; name="%s"%s\r\n\r\n' "$1" "${2:-}"; }
FILEHDR='; filename="a.bin"'

{ hdr file "$FILEHDR"; printf 'some bytes\r\n--XyZ\r\nContent-Disposition: form-da'; } >"$T/b1"
post trunc_headers "$MP" "$T/b1"
refused "a body cut in a part's headers" 400 "truncated"
{ hdr file "$FILEHDR"; printf 'some bytes\r\n--Xy'; } >"$T/b2"
post trunc_delim "$MP" "$T/b2"
refused "a body cut inside a delimiter" 400 "truncated"
{ hdr file "$FILEHDR"; printf 'some bytes\r\n--XyZ'; } >"$T/b3"
post trunc_close "$MP" "$T/b3"
refused "a body cut before the close delimiter's --" 400 "truncated"
{ hdr file "$FILEHDR"; printf 'some bytes\r\n--XyZ--\r\n'; } >"$T/good.body"
post boundary_long "multipart/form-data; boundary=$(printf 'b%.0s' $(seq 71))" "$T/good.body"
refused "a 71-character boundary" 400 "boundary"
post boundary_bad "multipart/form-data; boundary=Xy@Z" "$T/good.body"
refused "a boundary with a character outside RFC 2046" 400 "boundary"
post boundary_none "multipart/form-data" "$T/good.body"
refused "multipart/form-data without a boundary" 400 "boundary"
post boundary_empty 'multipart/form-data; boundary=""' "$T/good.body"
refused "an empty boundary" 400 "boundary"
post boundary_two "multipart/form-data; boundary=XyZ; boundary=Abc" "$T/good.body"
refused "two boundary parameters" 400 "boundary"
post boundary_other "multipart/form-data; boundary=Other" "$T/good.body"
refused "a body whose delimiters are not the declared boundary" 400 "boundary|truncated"
{ printf -- '--XyZ!\r\n'; } >"$T/b4"
post delim_junk "$MP" "$T/b4"
refused "a delimiter followed by other characters" 400 "boundary"
{ printf -- '--XyZ\nContent-Disposition: form-data; name="file"\n\nx\n--XyZ--\n'; } >"$T/b5"
post bare_lf "$MP" "$T/b5"
refused "bare LF line ends" 400 "LF"
{ printf -- '--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--\r\n'; } >"$T/b6"
post no_disp "$MP" "$T/b6"
refused "a part without Content-Disposition" 400 "Content-Disposition"
{ hdr file "$FILEHDR"; printf 'x\r\n'; hdr file "$FILEHDR"; printf 'y\r\n--XyZ--\r\n'; } \
	>"$T/b7"
post two_files "$MP" "$T/b7"
refused "two file parts" 400 "more than one file"
{ hdr name; printf 'a.bin\r\n'; hdr source; printf 'EDR\r\n--XyZ--\r\n'; } >"$T/b8"
post no_file "$MP" "$T/b8"
refused "no file part" 400 "no \"file\" part"
printf -- '--XyZ--\r\n' >"$T/b9"
post empty_form "$MP" "$T/b9"
refused "a form with no part at all" 400 "no \"file\" part"
{ hdr file "$FILEHDR"; printf '\r\n--XyZ--\r\n'; } >"$T/b10"
post empty_file "$MP" "$T/b10"
refused "an empty file" 400 "empty"
{ i=0; while [ $i -lt 17 ]; do hdr "x$i"; printf 'v\r\n'; i=$((i + 1)); done
  hdr file "$FILEHDR"; printf 'x\r\n--XyZ--\r\n'; } >"$T/b11"
post many_parts "$MP" "$T/b11"
refused "17 parts (over the limit of 16)" 413 "parts"
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="%s"\r\n\r\nx\r\n--XyZ--\r\n' \
	"$(head -c 3000 /dev/zero | tr '\0' a)"; } >"$T/b12"
post long_header "$MP" "$T/b12"
refused "a 3,000-byte part header line" 413 "header line"
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"\r\nContent-Transfer-Encoding: base64\r\n\r\neA==\r\n--XyZ--\r\n'; } >"$T/b13"
post cte "$MP" "$T/b13"
refused "Content-Transfer-Encoding: base64" 400 "Transfer-Encoding"

for ct in "text/plain" "multipart/mixed; boundary=XyZ" "application/x-www-form-urlencoded" \
	"multipart/form-datax; boundary=XyZ"; do
	post ctype "$ct" "$T/good.body"
	refused "Content-Type $ct" 415 "multipart/form-data"
done
LAST=$T/ctype.json
CODE=$(curl -s -o "$LAST" -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-H "Content-Type:" --data-binary "@$T/good.body" "$URL/api/v1/files")
refused "no Content-Type" 415 "multipart/form-data"

# Content-Length shorter than the body: the body ends early, truncated.
SZ=$(stat -c %s "$T/good.body")
post short_length "$MP" "$T/good.body" -H "Content-Length: $((SZ - 10))"
refused "a Content-Length 10 bytes short of the body" 400 "truncated"
# Longer than the body: the server waits for bytes that never come; the
# client gives up (its curl times out) and nothing may be stored.
CODE=$(curl -s -o "$T/long_length.json" -w '%{http_code}' --max-time 3 \
	-H "Authorization: Bearer $EU" -H "Content-Type: $MP" -H "Content-Length: $((SZ + 1000))" \
	--data-binary "@$T/good.body" "$URL/api/v1/files")
[ "$CODE" = 000 ] || fail "a Content-Length 1,000 bytes over the body: HTTP $CODE before the body ended"
health || fail "/healthz while a lying client waits"
state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after" || fail "a lying Content-Length left something behind"
ok "a Content-Length 1,000 bytes over the body: no answer until the client gave up; nothing stored"

# A 1 MiB header line: refused by the HTTP layer (no JSON possible there).
{ printf 'X-Big: '; head -c 1048576 /dev/zero | tr '\0' a; printf '\n'; } >"$T/bighdr"
CODE=$(curl -s -o "$T/bighdr.out" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $EU" \
	-H "@$T/bighdr" -F "file=@$T/fresh.bin" "$URL/api/v1/files")
case $CODE in
000 | 4??) ;;
*) fail "a 1 MiB header line: HTTP $CODE, want a 4xx or a closed connection" ;;
esac
health || fail "/healthz after a 1 MiB header"
state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after" || fail "a 1 MiB header left something behind"
ok "a 1 MiB header line: refused ($CODE), server healthy, nothing stored"
i=0
while [ $i -lt 2000 ]; do printf 'X-H%d: %s\n' $i "0123456789012345678901234567890123456789"; i=$((i + 1)); done >"$T/manyhdr"
CODE=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $EU" \
	-H "@$T/manyhdr" -F "file=@$T/fresh.bin" "$URL/api/v1/files")
case $CODE in
000 | 4??) ;;
*) fail "2,000 header lines: HTTP $CODE, want a 4xx or a closed connection" ;;
esac
health || fail "/healthz after 2,000 headers"
state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after" || fail "2,000 headers left something behind"
ok "2,000 header lines (90 kB): refused ($CODE), server healthy, nothing stored"

# Names: the name field and the file part's filename.
upload name_dotdot "$EU" "$T/fresh.bin" --form-string "name=.."
refused "name .." 400 "name"
upload name_slash "$EU" "$T/fresh.bin" --form-string "name=dir/evil.exe"
refused "name with /" 400 "name"
upload name_bslash "$EU" "$T/fresh.bin" --form-string 'name=..\evil.exe'
refused "name with a backslash" 400 "name"
upload name_tab "$EU" "$T/fresh.bin" --form-string "name=a$(printf '\t')b.exe"
refused "name with a tab" 400 "name"
upload name_esc "$EU" "$T/fresh.bin" --form-string "name=a$(printf '\033')[31mred.exe"
refused "name with an ESC" 400 "name"
upload name_bidi "$EU" "$T/fresh.bin" --form-string "name=evil$(printf '\342\200\256')txt.exe"
refused "name with U+202E (bidi override)" 400 "name"
upload name_utf8 "$EU" "$T/fresh.bin" --form-string "name=bad$(printf '\377')name"
refused "name that is not UTF-8" 400 "name"
upload name_long "$EU" "$T/fresh.bin" --form-string "name=$(head -c 256 /dev/zero | tr '\0' n)"
refused "a 256-byte name" 400 "name|long"
{ hdr name; printf 'a\000b.exe\r\n'; hdr file "$FILEHDR"; printf 'x\r\n--XyZ--\r\n'; } >"$T/b14"
post name_nul "$MP" "$T/b14"
refused "name with a NUL" 400 "name"
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a\000b"\r\n\r\nx\r\n--XyZ--\r\n'; } >"$T/b15"
post fname_nul "$MP" "$T/b15"
refused "filename with a NUL" 400 "control"
upload fname_dotdot "$EU" "$T/fresh.bin;filename=../../etc/passwd"
refused "filename ../../etc/passwd" 400 "name"
upload fname_abs "$EU" "$T/fresh.bin;filename=/etc/passwd"
refused "filename /etc/passwd" 400 "name"
upload fname_dot "$EU" "$T/fresh.bin;filename=.."
refused "filename .." 400 "name"
{ printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a\033b"\r\n\r\nx\r\n--XyZ--\r\n'; } >"$T/b16"
post fname_esc "$MP" "$T/b16"
refused "filename with an ESC" 400 "control"
upload fname_long "$EU" "$T/fresh.bin;filename=$(head -c 300 /dev/zero | tr '\0' f)"
refused "a 300-byte filename" 400 "name|long"

# Tags and source.
upload tag_bad "$EU" "$T/fresh.bin" --form-string "tags=ok,semi;colon"
refused "a tag with ';'" 400 "tag"
upload tag_quote "$EU" "$T/fresh.bin" --form-string "tags=a\"b"
refused "a tag with a quote" 400 "tag"
upload tag_long "$EU" "$T/fresh.bin" --form-string "tags=$(head -c 65 /dev/zero | tr '\0' t)"
refused "a 65-byte tag" 400 "tag"
upload tags_huge "$EU" "$T/fresh.bin" --form-string "tags=$(i=0; while [ $i -lt 1000 ]; do printf 'tag%d,' $i; i=$((i + 1)); done)" 2>/dev/null
refused "a tags field of 7 kB" 400 "long|tag"
upload src_long "$EU" "$T/fresh.bin" --form-string "source=$(head -c 129 /dev/zero | tr '\0' s)"
refused "a 129-byte source" 400 "long|source"
upload src_ctl "$EU" "$T/fresh.bin" --form-string "source=EDR$(printf '\r')Generic"
refused "a source with a CR" 400 "source|control"
{ hdr source; printf 'EDR\000x\r\n'; hdr file "$FILEHDR"; printf 'x\r\n--XyZ--\r\n'; } >"$T/b17"
post src_nul "$MP" "$T/b17"
refused "a source with a NUL" 400 "source|control"

# Malformed hashes on the report and lookup routes (analyst token).
# hashget HASH STATUS CODE: GET /api/v1/files/HASH answers STATUS {"error": {"code": CODE}}.
hashget() {
	CODE=$(curl -s -o "$T/hash.json" -w '%{http_code}' -H "Authorization: Bearer $ANA" \
		"$URL/api/v1/files/$1")
	[ "$CODE" = "$2" ] || fail "GET /api/v1/files/$1: HTTP $CODE, want $2"
	[ "$(jq -r .error.code "$T/hash.json")" = "$3" ] ||
		fail "GET /api/v1/files/$1: body $(cat "$T/hash.json"), want code $3"
}
A63=$(printf 'a%.0s' $(seq 63))
for h in "$A63" "${A63}aa" "$(printf 'g%.0s' $(seq 64))" "$(printf 'a%.0s' $(seq 39))" xyz \
	"${A63}%00" "${A63}a%20" "${A63}%0a"; do
	hashget "$h" 400 bad_hash
done
ok "GET /api/v1/files/{hash} with 8 malformed hashes (63, 65, 39 digits, non-hex, NUL, space, LF): 400 bad_hash"
hashget "%2e%2e%2fetc%2fpasswd" 404 not_found
hashget "..%2f..%2f$SAME" 404 not_found
ok "GET /api/v1/files/ with an encoded ../ path: 404 not_found (no such route)"
lookup() {
	LAST=$T/lookup.json
	CODE=$(curl -s -o "$LAST" -w '%{http_code}' -H "Authorization: Bearer $ANA" \
		-H "Content-Type: $1" --data-binary "$2" "$URL/api/v1/lookup")
}
lookup application/json "{\"hashes\": [\"$SAME\", \"$(printf 'z%.0s' $(seq 64))\"]}"
refused "lookup of a non-hex hash (JSON)" 400 "hashes\[1\]"
lookup application/json "{\"hashes\": [\"${SAME}0\"]}"
refused "lookup of a 65-digit hash (JSON)" 400 "hashes\[0\]"
lookup text/plain "$(printf '%s\n%s \n' "$SAME" "$SAME")"
refused "lookup of a hash with a trailing space (text)" 400 "line 2"
lookup application/json "{\"hashes\": [\"$SAME\""
refused "lookup with truncated JSON" 400 "."
lookup application/xml "<hashes/>"
refused "lookup as application/xml" 415 "."
health || fail "/healthz after the bad input"
ok "the server answers /healthz after all the bad input"

# A client that sends a byte a second while others upload.
say "a slow client"
(
	printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="slow"\r\n\r\n'
	i=0
	while [ $i -lt 6 ]; do printf 'x'; sleep 1; i=$((i + 1)); done
) | curl -s -o "$T/slow.json" -w '%{http_code}' --max-time 5 -H "Authorization: Bearer $EU" \
	-H "Content-Type: $MP" -H "Transfer-Encoding: chunked" -H "Expect:" -T - -X POST "$URL/api/v1/files" \
	>"$T/slow.code" 2>/dev/null &
SLOW=$!
sleep 1
health || fail "/healthz while a slow client trickles"
head -c 4000 /dev/urandom >"$T/during.bin"
upload during "$EU" "$T/during.bin"
[ "$CODE" = 201 ] || fail "an upload while a slow client trickles: $CODE"
wait "$SLOW"
[ "$(cat "$T/slow.code")" = 000 ] || fail "the slow client got an answer: $(cat "$T/slow.code")"
# The server drops an upload when it sees its connection closed, or at the
# latest when the connection has been idle for --timeout (30 s): give it
# that long (a sanitizer build on a busy machine is slow), then nothing of
# the slow client (or of the abandoned uploads above) is left.
i=0
while [ "$(find "$D/vault/tmp" -type f | wc -l)" != 0 ] && [ $i -lt 400 ]; do
	sleep 0.1
	i=$((i + 1))
done
[ "$(find "$D/vault/tmp" -type f | wc -l)" = 0 ] || fail "the slow client's temporary file stayed"
state >"$T/state.before"
sleep 1
state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after" || fail "the slow client left something behind"
ok "a client sending a byte a second does not hold others up; when it leaves, nothing of it is stored"
# The server cuts a trickling upload itself: once --timeout has passed, an
# upload averaging less than --min-rate bytes a second gets 408.
stop_server
start_server site "$D" --no-analysis --max-upload 8388608 --timeout 2 --min-rate 1000
state >"$T/state.before"
T0=$(date +%s)
(
	printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="slow"\r\n\r\n'
	i=0
	while [ $i -lt 12 ]; do printf 'x'; sleep 1; i=$((i + 1)); done
) | curl -s -o "$T/cut.json" -w '%{http_code}' --max-time 20 -H "Authorization: Bearer $EU" \
	-H "Content-Type: $MP" -H "Transfer-Encoding: chunked" -H "Expect:" -T - -X POST "$URL/api/v1/files" \
	>"$T/cut.code" 2>/dev/null
T1=$(date +%s)
# The server answers 408 and closes; a client still sending may see only the
# closed connection (curl: "Send failure", code 000), which is as good.
case $(cat "$T/cut.code") in
408) [ "$(jq -r .error.code "$T/cut.json")" = request_timeout ] || fail "408 body: $(cat "$T/cut.json")" ;;
000) ;;
*) fail "a trickling upload got $(cat "$T/cut.code"), want 408 or a cut connection" ;;
esac
[ $((T1 - T0)) -lt 10 ] || fail "the server took $((T1 - T0)) s to cut a byte-a-second upload"
state >"$T/state.after"
cmp -s "$T/state.before" "$T/state.after" || fail "the cut upload left something behind"
[ "$(find "$D/vault/tmp" -type f | wc -l)" = 0 ] || fail "the cut upload's temporary file stayed"
ok "the server cuts a byte-a-second upload ($(cat "$T/cut.code")) after $((T1 - T0)) s (--timeout 2 --min-rate 1000), storing nothing"
health || fail "/healthz after the cut"

# ---------------------------------------------------------------------------
say "real files: EICAR, clamav-testfiles, ELF binaries"
mkdir "$T/real" || fail "mkdir"
# EICAR from two halves, so that the repository never holds it whole.
{ printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-'; printf 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'; } \
	>"$T/real/eicar.com"
[ "$(sha256 "$T/real/eicar.com")" = \
	275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f ] || fail "EICAR built wrong"
NCLAM=0
if [ -d "$CLAM" ]; then
	for f in "$CLAM"/*; do
		[ -f "$f" ] && [ -s "$f" ] || continue
		cp "$f" "$T/real/" && NCLAM=$((NCLAM + 1))
	done
else
	skip_part "no $CLAM (Debian package clamav-testfiles)"
fi
NELF=0
for f in /usr/bin/ls /usr/bin/sqlite3 /usr/bin/jq /usr/bin/curl /usr/bin/bwrap /usr/bin/yara; do
	[ -f "$f" ] || continue
	head -c 4 "$f" | grep -q ELF || continue
	cp "$f" "$T/real/elf-$(basename "$f")" && NELF=$((NELF + 1))
done
[ "$NELF" -ge 2 ] || fail "fewer than two ELF binaries found in /usr/bin"
NREAL=$(ls "$T/real" | wc -l)
ls "$T/real" | xargs -P 4 -I{} curl -s -o "$T/real/{}.up.json" -w '{} %{http_code}\n' \
	-H "Authorization: Bearer $EU" -F "file=@$T/real/{}" "$URL/api/v1/files" >"$T/real.codes"
BAD=$(awk '$2 != 201 && $2 != 200' "$T/real.codes")
[ -z "$BAD" ] || fail "real uploads refused: $BAD"
ok "uploaded $NREAL real files (EICAR, $NCLAM clamav-testfiles, $NELF ELF binaries): all 201 or 200"
for f in $(ls "$T/real" | grep -v '\.json$'); do
	F=$T/real/$f
	S=$(sha256 "$F")
	curl -s -H "Authorization: Bearer $ANA" "$URL/api/v1/files/$S" >"$T/real.report" ||
		fail "report of $f"
	for J in "$T/real.report" "$F.up.json"; do
		[ "$(jq -r .sha256 "$J")" = "$S" ] || fail "$f: sha256 $(jq -r .sha256 "$J")"
		[ "$(jq -r .sha1 "$J")" = "$(sha1sum "$F" | cut -d' ' -f1)" ] || fail "$f: sha1"
		[ "$(jq -r .md5 "$J")" = "$(md5sum "$F" | cut -d' ' -f1)" ] || fail "$f: md5"
		[ "$(jq -r .size "$J")" = "$(stat -c %s "$F")" ] || fail "$f: size"
	done
	$V vault get "$S" --dir "$D" --jurisdiction CH-ZRH -o "$T/real.back" 2>"$T/real.err" ||
		{ cat "$T/real.err" >&2; fail "vault get $f"; }
	cmp -s "$F" "$T/real.back" || fail "$f: the vault returns other bytes"
done
ok "every report and upload answer has the sha256, sha1, md5 and size of sha256sum, sha1sum, md5sum and stat"
ok "vitrine vault get returns every real file byte for byte"
expect_ok "vitrine vault fsck finds nothing wrong" $V vault fsck --dir "$D"

# ---------------------------------------------------------------------------
say "the server survived"
health || fail "/healthz"
ok "/healthz answers"
head -c 12345 /dev/urandom >"$T/last.bin"
upload last "$EU" "$T/last.bin" --form-string "name=$(head -c 255 /dev/zero | tr '\0' n)" \
	-F "source=$(head -c 128 /dev/zero | tr '\0' s)" --form-string "tags=$(head -c 64 /dev/zero | tr '\0' t)"
[ "$CODE" = 201 ] || { cat "$T/last.json" >&2; fail "a final normal upload: $CODE"; }
ok "a final upload with a 255-byte name, 128-byte source and 64-byte tag: 201"
kill -0 "$SERVER_PID" 2>/dev/null || fail "the server died"
! grep -q "not indexed" "$T/site.err" || fail "the server could not index a sighting: $(grep 'not indexed' "$T/site.err")"
stop_server TERM
[ "$RC" -eq 0 ] || fail "the server exited $RC"
ok "the server stops cleanly"
finish
