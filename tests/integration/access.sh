#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Access-logged downloads: every request for a customer file with a valid
# token becomes an `access` entry before a byte is served (granted or
# refused, with its reason), the receipt in the answer verifies for that
# exact entry, the ZIP opens with the password "infected", a damaged vault
# object is refused, and when the log cannot take the entry nothing is
# served.
VITRINE=${1:?usage: access.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"
command -v unzip >/dev/null || fail "unzip is needed to open the ZIP answers"

say "a site with one sample"
zurich_site "$D"
EU=$(token --role submitter --name edr-eu --tenant acme-eu --region EU)
ANA=$(token --role analyst --name ana)
AUD=$(token --role auditor --name aud)
[ -n "$EU" ] && [ -n "$ANA" ] && [ -n "$AUD" ] || fail "token create"
ANA_ID=$(sqlite3 "$D/index.sqlite" "select id from tokens where name = 'ana'")
AUD_ID=$(sqlite3 "$D/index.sqlite" "select id from tokens where name = 'aud'")
start_server site "$D" --no-analysis

# A file of a few chunks and an odd tail, so chunking and ZIP streaming show.
head -c 300001 /dev/urandom >"$T/sample.bin"
SHA=$(sha256sum "$T/sample.bin" | cut -d' ' -f1)
CODE=$(curl -s -o "$T/up.json" -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-F "file=@$T/sample.bin" "$URL/api/v1/files")
[ "$CODE" = 201 ] || fail "upload: $CODE $(cat "$T/up.json")"
ok "uploaded a 300,001-byte sample"

log_size() {
	$V log checkpoint --url "$URL" | sed -n 2p
}
# get NAME TOKEN PATH: status in $CODE, body in $T/NAME.body, headers in $T/NAME.h.
get() {
	CODE=$(curl -s -o "$T/$1.body" -D "$T/$1.h" -w '%{http_code}' \
		${2:+-H "Authorization: Bearer $2"} "$URL$3")
}
header() {
	sed -n "s/^$2: *//Ip" "$T/$1.h" | tr -d '\r'
}
# logged NAME RESULT TOKEN_ID REASON TICKET FORMAT: the answer names an
# access entry with these fields, and its receipt verifies for exactly it.
logged() {
	_idx=$(header "$1" X-Vitrine-Access-Index)
	[ -n "$_idx" ] || fail "$1: no X-Vitrine-Access-Index"
	$V log get --url "$URL" --vkey "$D/log.vkey" --index "$_idx" >"$T/$1.entry" ||
		fail "$1: cannot read entry $_idx"
	_res=$(sed -n 's/^resource //p' "$T/$1.entry")
	grep -qx "vitrine/1 access" "$T/$1.entry" || fail "$1: entry $_idx is not an access entry"
	grep -qx "result $2" "$T/$1.entry" || fail "$1: want result $2 in $(cat "$T/$1.entry")"
	grep -qx "token $3" "$T/$1.entry" || fail "$1: want token $3"
	grep -qx "reason $4" "$T/$1.entry" || fail "$1: want reason $4"
	grep -qx "ticket $5" "$T/$1.entry" || fail "$1: want ticket $5"
	grep -qx "format $6" "$T/$1.entry" || fail "$1: want format $6"
	grep -Eq '^time [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' "$T/$1.entry" || fail "$1: time"
	header "$1" X-Vitrine-Receipt | base64 -d >"$T/$1.proof" || fail "$1: receipt is not base64"
	$V log verify-proof "$T/$1.proof" --vkey "$D/log.vkey" --entry "$T/$1.entry" \
		>/dev/null 2>"$T/$1.verr" || fail "$1: receipt does not verify: $(cat "$T/$1.verr")"
	sed 's/^result .*/result forged/' "$T/$1.entry" >"$T/$1.forged"
	! $V log verify-proof "$T/$1.proof" --vkey "$D/log.vkey" --entry "$T/$1.forged" \
		>/dev/null 2>&1 || fail "$1: receipt verifies a different entry"
	ok "$1: entry $_idx ($2, $_res) logged, receipt verifies for it alone"
}

say "granted"
S0=$(log_size)
get raw "$ANA" "/api/v1/files/$SHA/content?reason=incident-response&ticket=INC-4711"
[ "$CODE" = 200 ] || fail "raw download: $CODE $(cat "$T/raw.body")"
cmp -s "$T/raw.body" "$T/sample.bin" || fail "raw download differs from the upload"
header raw Content-Type | grep -qx 'application/octet-stream' || fail "raw content type"
header raw Content-Length | grep -qx 300001 || fail "raw content length"
ok "an analyst with a reason and a ticket gets the exact bytes"
logged raw granted "$ANA_ID" incident-response INC-4711 raw
[ "$(log_size)" = $((S0 + 1)) ] || fail "one download, one entry"
[ "$(header raw X-Vitrine-Access-Index)" = "$S0" ] || fail "the entry was not the next one"
ok "exactly one entry per download"

get zip "$ANA" "/api/v1/files/$SHA/content?reason=detection-engineering&ticket=DE-12&format=zip"
[ "$CODE" = 200 ] || fail "zip download: $CODE $(cat "$T/zip.body")"
header zip Content-Type | grep -qx 'application/zip' || fail "zip content type"
mkdir "$T/unz"
! unzip -q -P wrong -d "$T/unz" "$T/zip.body" 2>/dev/null || fail "the ZIP opens with a wrong password"
rm -rf "$T/unz" && mkdir "$T/unz"
unzip -q -P infected -d "$T/unz" "$T/zip.body" || fail "the ZIP does not open with 'infected'"
cmp -s "$T/unz/$SHA" "$T/sample.bin" || fail "the ZIP member differs from the upload"
ok "?format=zip: one member named by its SHA-256, password 'infected'"
logged zip granted "$ANA_ID" detection-engineering DE-12 zip

say "refused, and logged"
# refused NAME STATUS CODE RESULT TOKEN TOKEN_ID REASON TICKET PATH
refused() {
	_s=$(log_size)
	get "$1" "$5" "$9"
	[ "$CODE" = "$2" ] || fail "$1: $CODE, want $2: $(cat "$T/$1.body")"
	[ "$(jq -r .error.code "$T/$1.body")" = "$3" ] || fail "$1: error code $(cat "$T/$1.body")"
	! cmp -s "$T/$1.body" "$T/sample.bin" || fail "$1: content served"
	[ -n "$(jq -r .error.message "$T/$1.body")" ] || fail "$1: an error without a message"
	ok "$1: $2 $3 ($(jq -r .error.message "$T/$1.body"))"
	logged "$1" "$4" "$6" "$7" "$8" raw
	[ "$(log_size)" = $((_s + 1)) ] || fail "$1: want exactly one entry"
}
C="/api/v1/files/$SHA/content"
refused noreason 400 bad_request no-reason "$ANA" "$ANA_ID" - INC-1 "$C?ticket=INC-1"
refused badreason 400 bad_request bad-reason "$ANA" "$ANA_ID" - INC-1 "$C?reason=curiosity&ticket=INC-1"
refused noticket 400 bad_request no-ticket "$ANA" "$ANA_ID" legal-order - "$C?reason=legal-order"
refused badticket 400 bad_request bad-ticket "$ANA" "$ANA_ID" legal-order - \
	"$C?reason=legal-order&ticket=a%20b"
refused badformat 400 bad_request bad-format "$ANA" "$ANA_ID" legal-order T-1 \
	"$C?reason=legal-order&ticket=T-1&format=tar"
refused auditor 403 forbidden forbidden "$AUD" "$AUD_ID" legal-order T-1 \
	"$C?reason=legal-order&ticket=T-1"
EU_ID=$(sqlite3 "$D/index.sqlite" "select id from tokens where name = 'edr-eu'")
refused submitter 403 forbidden forbidden "$EU" "$EU_ID" legal-order T-1 \
	"$C?reason=legal-order&ticket=T-1"
NOPE=$(printf nothing | sha256sum | cut -d' ' -f1)
refused unknown 404 not_found not-found "$ANA" "$ANA_ID" legal-order T-1 \
	"/api/v1/files/$NOPE/content?reason=legal-order&ticket=T-1"
refused badhash 400 bad_hash bad-hash "$ANA" "$ANA_ID" legal-order T-1 \
	"/api/v1/files/xyz/content?reason=legal-order&ticket=T-1"
grep -qx "resource files/-/content" "$T/badhash.entry" || fail "a bad hash is spelled -"

S1=$(log_size)
get anon "" "$C?reason=legal-order&ticket=T-1"
[ "$CODE" = 401 ] || fail "no token: $CODE"
get badtok "vt_$(printf '0%.0s' $(seq 64))" "$C?reason=legal-order&ticket=T-1"
[ "$CODE" = 401 ] || fail "unknown token: $CODE"
[ "$(log_size)" = "$S1" ] || fail "requests without a valid token were logged"
ok "401 without a valid token, not logged (nobody to name; strangers cannot fill the log)"

N=$(sqlite3 "$D/index.sqlite" "select count(*) from access_requests")
[ "$N" = 11 ] || fail "the index holds $N access requests, want 11"
sqlite3 "$D/index.sqlite" "select count(*) from access_requests where log_index is null" |
	grep -qx 0 || fail "an access request without its log index"
ok "the index records all 11 requests with their log index"

say "vault fsck against the log"
expect_ok "fsck: the object and its sample entry agree" $V vault fsck --dir "$D"
grep_ok "fsck read the log" "files named by sample entries for CH-ZRH, 0 objects unlogged, 0 missing" \
	"$T/last.out"

say "a damaged object"
OBJ=$D/vault/$(echo "$SHA" | cut -c1-2)/$SHA
SZ=$(stat -c %s "$OBJ")
# Flip every bit of the middle byte (writing a fixed value left the object
# intact whenever the byte already had it: a 1-in-256 flaky test).
B=$(od -An -tu1 -j $((SZ / 2)) -N1 "$OBJ" | tr -d ' ')
printf "\\$(printf %o $((255 - B)))" | dd of="$OBJ" bs=1 seek=$((SZ / 2)) conv=notrunc 2>/dev/null
[ "$(od -An -tu1 -j $((SZ / 2)) -N1 "$OBJ" | tr -d ' ')" = $((255 - B)) ] || fail "could not damage the object"
refused corrupt 500 corrupt_object corrupt "$ANA" "$ANA_ID" incident-response INC-9 \
	"$C?reason=incident-response&ticket=INC-9"

say "the log cannot take the entry: nothing served"
head -c 5000 /dev/urandom >"$T/second.bin"
SHA2=$(sha256sum "$T/second.bin" | cut -d' ' -f1)
CODE=$(curl -s -o "$T/up2.json" -w '%{http_code}' -H "Authorization: Bearer $EU" \
	-F "file=@$T/second.bin" "$URL/api/v1/files")
[ "$CODE" = 201 ] || fail "second upload: $CODE"
OBJ2=$D/vault/$(echo "$SHA2" | cut -c1-2)/$SHA2
mv "$OBJ2" "$T/obj2.saved"
run fsck $V vault fsck --dir "$D"
[ "$RC" = 1 ] || fail "fsck exits $RC with a lost object, want 1"
grep -q "$SHA2: missing" "$T/fsck.out" || fail "fsck does not report the lost object"
grep -q "$SHA: corrupt" "$T/fsck.out" || fail "fsck does not report the damaged object"
ok "fsck reports the damaged object and the sample entry whose object is gone"
mv "$T/obj2.saved" "$OBJ2"
if command -v strace >/dev/null; then
	# Every later sync of the log fails: the sequencer cannot make the
	# entry durable, so it must not be acknowledged and nothing sent.
	strace -f -qq -p "$SERVER_PID" -e trace=syncfs,fsync,fdatasync \
		-e inject=syncfs,fsync,fdatasync:error=EIO -o /dev/null &
	ST=$!
	PIDS="$PIDS $ST"
	sleep 1
	get nolog "$ANA" "/api/v1/files/$SHA2/content?reason=incident-response&ticket=INC-10"
	kill "$ST" 2>/dev/null
	wait "$ST" 2>/dev/null
	[ "$CODE" = 503 ] || fail "with a failing log: $CODE, want 503"
	[ "$(jq -r .error.code "$T/nolog.body")" = unavailable ] || fail "503 body"
	! cmp -s "$T/nolog.body" "$T/second.bin" || fail "content served without an entry"
	[ -z "$(header nolog X-Vitrine-Access-Index)" ] || fail "an index without an entry"
	ok "503 and not a byte of the file when the log fails ($(jq -r .error.message "$T/nolog.body"))"
else
	skip_part "strace is not installed: log failure not injected"
fi
finish
