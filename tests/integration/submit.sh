#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The command line of a customer's endpoint and of an analyst: vitrine
# submit (asks by hash first, uploads the unknown, several at once, keeps
# and verifies each receipt, summary on stdout and in summary.json),
# vitrine files show (own and other tenant) and vitrine files get (every
# error path, a download compared with cmp, the ZIP opened with unzip).
VITRINE=${1:?usage: submit.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
P=${VT_TEST_DATA:?}/policy
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"
unset VITRINE_URL VITRINE_TOKEN

say "a site in Zurich, two EU tenants, a Russian one, an analyst"
zurich_site "$D"
A=$(token --role submitter --name edr-acme --tenant acme --region EU)
B=$(token --role submitter --name edr-globex --tenant globex --region EU)
RU=$(token --role submitter --name edr-ru --tenant acme-ru --region RU)
ANA=$(token --role analyst --name ana)
[ -n "$A" ] && [ -n "$B" ] && [ -n "$RU" ] && [ -n "$ANA" ] || fail "token create"
ok "tokens made"
start_server site "$D" --no-analysis --threads 4
VK=$D/log.vkey

sha() { sha256sum "$1" | cut -d' ' -f1; }
log_size() { $V log checkpoint --url "$URL" | sed -n 2p; }
# field NAME FILE: a count from the summary printed on stdout.
field() { sed -n "s/^$1  *\([0-9][0-9]*\).*/\1/p" "$2"; }
# counts FILE: "known,new,seen,dup,failed" from a summary.json.
counts() {
	jq -r '.counts | [.known, .uploaded_new, .uploaded_seen, .duplicate, .failed] |
		map(tostring) | join(",")' "$1"
}

say "a corpus: 300 small files in nested directories, two larger ones, EICAR, a copy, a link"
C=$T/corpus
mkdir -p "$C/a/b" "$C/c"
i=0
while [ $i -lt 300 ]; do
	case $((i % 3)) in
	0) f=$C/s$i.txt ;;
	1) f=$C/a/s$i.txt ;;
	*) f=$C/a/b/s$i.bin ;;
	esac
	printf 'small file %d %s\n' $i "$(od -An -N8 -tx8 /dev/urandom)" >"$f"
	i=$((i + 1))
done
head -c 5000000 /dev/urandom >"$C/c/large-5MB.bin"
head -c 24000000 /dev/urandom >"$C/c/large-24MB.bin"
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$C/eicar.com"
cp "$C/s0.txt" "$C/c/copy-of-s0.txt"
ln -s ../s3.txt "$C/a/link-to-s3"
mkfifo "$T/fifo"
ok "303 distinct files, 304 in all, and a link"

say "usage errors"
expect_error "no --url" "no site.*VITRINE_URL" $V submit "$C" --token "$A"
[ "$RC" = 2 ] || fail "no --url: exit $RC, want 2"
expect_error "no token" "no token.*VITRINE_TOKEN" $V submit "$C" --url "$URL"
[ "$RC" = 2 ] || fail "no token: exit $RC, want 2"
expect_error "no file" "at least one FILE" $V submit --url "$URL" --token "$A"
[ "$RC" = 2 ] || fail "no file: exit $RC, want 2"
expect_error "-j 0" "-j wants" $V submit "$C" --url "$URL" --token "$A" -j 0
[ "$RC" = 2 ] || fail "-j 0: exit $RC, want 2"
expect_error "--name with many files" "--name names one file" \
	$V submit "$C" --url "$URL" --token "$A" --name x --receipts "$T/rx"
[ "$RC" = 2 ] || fail "--name: exit $RC, want 2"
expect_error "a bad option" "bad option" $V submit "$C" --url "$URL" --token "$A" --bogus
[ "$RC" = 2 ] || fail "bad option: exit $RC"
ok "usage errors exit 2"
expect_error "a file that does not exist" "nonexistent: No such file" \
	$V submit "$T/nonexistent" --url "$URL" --token "$A" --receipts "$T/rne"
[ "$RC" = 1 ] || fail "nonexistent: exit $RC, want 1"
[ "$(field failed "$T/last.out")" = 1 ] || fail "nonexistent: summary $(cat "$T/last.out")"
expect_error "a FIFO" "fifo: not a regular file" \
	$V submit "$T/fifo" --url "$URL" --token "$A" --receipts "$T/rne"
[ "$RC" = 1 ] || fail "fifo: exit $RC, want 1"
expect_error "a bad token" "HTTP 401 unauthorized" \
	$V submit "$C/s0.txt" --url "$URL" --token "vt_$(printf '0%.0s' $(seq 64))" --receipts "$T/rne"
[ "$RC" = 1 ] || fail "bad token: exit $RC, want 1"
expect_error "no server" "submit: lookup: .*(onnect|refused)" \
	$V submit "$C/s0.txt" --url "http://127.0.0.1:1" --token "$A" --receipts "$T/rne"

say "first run: everything is new"
SIZE0=$(log_size)
t0=$(date +%s%N)
expect_ok "submit the corpus" $V submit "$C" --url "$URL" --token "$A" --vkey "$VK" \
	--receipts "$T/r1" --tags corpus,test --source EDR.Test
t1=$(date +%s%N)
cp "$T/last.out" "$T/run1.out"
cat "$T/run1.out"
[ "$(field files "$T/run1.out")" = 304 ] && [ "$(field known "$T/run1.out")" = 0 ] &&
	[ "$(field 'uploaded new' "$T/run1.out")" = 303 ] &&
	[ "$(field 'uploaded seen' "$T/run1.out")" = 0 ] &&
	[ "$(field duplicates "$T/run1.out")" = 1 ] && [ "$(field failed "$T/run1.out")" = 0 ] &&
	[ "$(field skipped "$T/run1.out")" = 1 ] || fail "first run summary"
ok "summary: 304 files, 303 new, 1 duplicate, 1 link skipped, none failed"
[ "$(counts "$T/r1/summary.json")" = "0,303,0,1,0" ] || fail "summary.json: $(counts "$T/r1/summary.json")"
[ "$(jq -r '.files | length' "$T/r1/summary.json")" = 304 ] || fail "summary.json files"
[ "$(jq -r '.receipts_verified' "$T/r1/summary.json")" = true ] || fail "receipts_verified"
[ "$(jq -r --arg p "$C/eicar.com" '.files[] | select(.path == $p) | .sha256' "$T/r1/summary.json")" = \
	275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f ] ||
	fail "summary.json: EICAR's sha256"
ok "summary.json has the same counts and every file with its sha256"
[ "$(log_size)" = $((SIZE0 + 303)) ] || fail "log grew by $(($(log_size) - SIZE0)), want 303"
[ "$(sqlite3 "$D/index.sqlite" 'select count(*) from samples' 2>/dev/null || echo 303)" = 303 ] ||
	fail "samples in the index"
ok "303 sample entries logged, 303 samples indexed"
[ "$(ls "$T/r1" | grep -c '\.proof$')" = 303 ] && [ "$(ls "$T/r1" | grep -c '\.json$')" = 304 ] ||
	fail "receipts: $(ls "$T/r1" | wc -l) files"
# submit verified every receipt itself (--vkey); every tenth, the large
# ones and EICAR are checked again by vitrine log verify-proof (0.1 s each).
L24=$(sha "$C/c/large-24MB.bin")
L5=$(sha "$C/c/large-5MB.bin")
EI=$(sha "$C/eicar.com")
BAD=$(jq -r '[input_filename, .sha256] | @tsv' "$T"/r1/[0-9a-f]*.json |
	while read -r f h; do f=${f##*/}; [ "${f%.json}" = "$h" ] || echo "$f"; done)
[ -z "$BAD" ] || fail "answers not about their file: $BAD"
n=0
i=0
for j in "$T"/r1/[0-9a-f]*.json; do
	h=$(basename "$j" .json)
	i=$((i + 1))
	case $h in
	"$L24" | "$L5" | "$EI") ;;
	*) [ $((i % 10)) = 0 ] || continue ;;
	esac
	jq -j .entry "$j" >"$T/entry"
	$V log verify-proof "$T/r1/$h.proof" --vkey "$VK" --entry "$T/entry" >/dev/null 2>&1 ||
		fail "receipt of $h does not verify with vitrine log verify-proof"
	n=$((n + 1))
done
[ $i = 303 ] && [ $n -ge 30 ] || fail "$i answers, $n receipts checked"
ok "303 answers are about their files; $n receipts verify again with vitrine log verify-proof"
for f in "$C/c/large-24MB.bin" "$C/a/b/s2.bin"; do
	[ -f "$T/r1/$(sha "$f").proof" ] || fail "no receipt for $f"
done
ok "receipts are named by the files' SHA-256"
MS=$(((t1 - t0) / 1000000))
echo "# submit: 304 files (29.0 MB) hashed, looked up and uploaded in $MS ms with -j 4;" \
	"$(grep '^uploaded  ' "$T/run1.out")"

say "second run: nothing to upload"
SIZE1=$(log_size)
expect_ok "submit the corpus again" $V submit "$C" --url "$URL" --token "$A" --vkey "$VK" \
	--receipts "$T/r2"
[ "$(field known "$T/last.out")" = 303 ] && [ "$(field 'uploaded new' "$T/last.out")" = 0 ] &&
	[ "$(field 'uploaded seen' "$T/last.out")" = 0 ] && [ "$(field failed "$T/last.out")" = 0 ] ||
	fail "second run: $(cat "$T/last.out")"
[ "$(log_size)" = "$SIZE1" ] || fail "the second run logged something"
[ "$(ls "$T/r2")" = summary.json ] || fail "second run kept receipts: $(ls "$T/r2" | head -3)"
ok "second run: 303 known, nothing uploaded, nothing logged, only summary.json"

say "a mix of known and new, with the environment instead of options"
M=$T/mix
mkdir -p "$M"
for i in 1 2 3 4 5; do cp "$C/s$((i * 3)).txt" "$M/known$i"; done
for i in 1 2 3 4 5 6 7 8 9 10; do head -c $((i * 1000)) /dev/urandom >"$M/new$i"; done
VITRINE_URL=$URL VITRINE_TOKEN=$A expect_ok "submit a mix" $V submit "$M" --receipts "$T/r3" -j 2
[ "$(counts "$T/r3/summary.json")" = "5,10,0,0,0" ] || fail "mix: $(counts "$T/r3/summary.json")"
[ "$(jq -r .receipts_verified "$T/r3/summary.json")" = false ] &&
	grep -q 'parsed, not verified' "$T/last.out" || fail "without --vkey: not said"
ok "mix: 5 known, 10 new; without --vkey the receipts are parsed and the summary says so"

say "two tenants submit the same 40 new files at once"
S=$T/same
mkdir -p "$S"
for i in $(seq 1 40); do head -c 2000 /dev/urandom >"$S/f$i"; done
$V submit "$S" --url "$URL" --token "$A" --vkey "$VK" --receipts "$T/ra" -j 8 >"$T/ra.out" 2>&1 &
pa=$!
$V submit "$S" --url "$URL" --token "$B" --vkey "$VK" --receipts "$T/rb" -j 8 >"$T/rb.out" 2>&1 &
pb=$!
wait $pa || { cat "$T/ra.out" >&2; fail "tenant A's run failed"; }
wait $pb || { cat "$T/rb.out" >&2; fail "tenant B's run failed"; }
NEW=$(( $(jq .counts.uploaded_new "$T/ra/summary.json") + $(jq .counts.uploaded_new "$T/rb/summary.json") ))
REST=$(( $(jq '.counts.known + .counts.uploaded_seen' "$T/ra/summary.json") +
	$(jq '.counts.known + .counts.uploaded_seen' "$T/rb/summary.json") ))
[ "$NEW" = 40 ] && [ "$REST" = 40 ] || fail "concurrent: $NEW new, $REST known or seen"
ok "each file is new exactly once: A $(counts "$T/ra/summary.json"), B $(counts "$T/rb/summary.json") (known,new,seen,dup,failed)"

say "refusals during upload"
head -c 777 /dev/urandom >"$T/fresh1"
expect_error "a wrong log key: the receipt does not verify" "receipt does not verify" \
	$V submit "$T/fresh1" --url "$URL" --token "$A" --receipts "$T/rw" \
	--vkey "$P/policy.vkey"
[ "$RC" = 1 ] && [ "$(counts "$T/rw/summary.json")" = "0,0,0,0,1" ] || fail "wrong key: exit $RC"
[ -f "$T/rw/$(sha "$T/fresh1").proof" ] || fail "the unverified receipt was not kept"
ok "a receipt that does not verify fails the file (exit 1) and is kept as evidence"
mkdir -p "$T/ru"
for i in 1 2 3; do head -c 100 /dev/urandom >"$T/ru/f$i"; done
$V submit "$T/ru" --url "$URL" --token "$RU" --receipts "$T/rru" -j 1 >"$T/ru.out" 2>"$T/ru.err"
RC=$?
[ "$RC" = 1 ] || fail "RU: exit $RC"
grep -q 'HTTP 421.*send it to ' "$T/ru.err" || fail "RU: $(cat "$T/ru.err")"
[ "$(grep -c 'not sent: HTTP 421' "$T/ru.err")" = 2 ] || fail "RU: did not stop after the first 421: $(cat "$T/ru.err")"
[ "$(counts "$T/rru/summary.json")" = "0,0,0,0,3" ] || fail "RU counts"
ok "a region held elsewhere: 421 naming the right site, one request, the rest not sent"

say "progress on a terminal"
mkdir -p "$T/tty"
for i in 1 2 3; do head -c 3000 /dev/urandom >"$T/tty/f$i"; done
script -qec "$V submit $T/tty --url $URL --token $A --receipts $T/rtty" /dev/null >"$T/tty.out" 2>&1 ||
	fail "submit under a terminal: $(cat "$T/tty.out")"
grep -q 'uploading [0-9]*/3 files' "$T/tty.out" || fail "no progress line: $(cat "$T/tty.out")"
ok "a progress line (files done/total, MiB, MiB/s) on a terminal"
[ ! -s "$T/ra.out" ] || ! grep -q 'uploading' "$T/ra.out" || fail "progress without a terminal"
ok "no progress line when stderr is not a terminal"

say "files show"
EICAR=275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f
expect_ok "acme's report on EICAR" $V files show "$EICAR" --url "$URL" --token "$A"
grep_ok "the sha256 line" "^sha256 +$EICAR$" "$T/last.out"
grep_ok "the size line" "^size +68$" "$T/last.out"
grep_ok "the tags" "^tags +corpus, test$" "$T/last.out"
grep_ok "a sighting of acme's with its name and source" " acme +EU .*eicar.com \(EDR.Test\)$" "$T/last.out"
expect_ok "the report as JSON" $V files show "$EICAR" --url "$URL" --token "$A" --json
curl -s -H "Authorization: Bearer $A" "$URL/api/v1/files/$EICAR" >"$T/curl.json"
[ "$(jq -c . "$T/last.out")" = "$(jq -c . "$T/curl.json")" ] || fail "--json differs from the API"
ok "--json prints the API's answer"
ONLYA=$(sha "$M/new1")
expect_error "globex asks for acme's file" "HTTP 404 not_found" \
	$V files show "$ONLYA" --url "$URL" --token "$B"
[ "$RC" = 1 ] || fail "404: exit $RC"
VITRINE_URL=$URL VITRINE_TOKEN=$ANA expect_ok "the analyst sees it" $V files show "$ONLYA"
expect_error "a malformed hash" "not a SHA-256, SHA-1 or MD5" \
	$V files show xyz --url "$URL" --token "$A"
[ "$RC" = 2 ] || fail "malformed hash: exit $RC"
run nocmd $V files
[ "$RC" = 2 ] && grep -q '^usage: vitrine files' "$T/nocmd.err" || fail "files without a command: exit $RC"
ok "files without a command: the help on stderr, exit 2"
expect_error "an unknown files command" "unknown command" $V files frobnicate

say "files get"
BIG=$C/c/large-5MB.bin
BIGSHA=$(sha "$BIG")
get() { $V files get "$@" --url "$URL"; }
expect_error "no --reason" "needs SHA256, --reason" get "$BIGSHA" --ticket T-1 -o "$T/o" --token "$ANA"
[ "$RC" = 2 ] || fail "no reason: exit $RC"
expect_error "no -o" "needs SHA256" get "$BIGSHA" --reason incident-response --ticket T-1 --token "$ANA"
expect_error "a short hash" "not a SHA-256" get abc --reason incident-response --ticket T-1 -o "$T/o" --token "$ANA"
[ "$RC" = 2 ] || fail "short hash: exit $RC"
touch "$T/exists"
expect_error "an existing output" "exists \(use --force" \
	get "$BIGSHA" --reason incident-response --ticket T-1 -o "$T/exists" --token "$ANA"
[ ! -s "$T/exists" ] || fail "the existing file was changed"

# Until the content route exists a known file is a 404 too: skip the rest.
run probe $V files get "$BIGSHA" --reason incident-response --ticket INC-42 -o "$T/big.out" \
	--url "$URL" --token "$ANA" --vkey "$VK"
if [ "$RC" != 0 ] && grep -q 'HTTP 404' "$T/probe.err"; then
	skip_part "files get: the server has no content route yet ($(cat "$T/probe.err"))"
else
	[ "$RC" = 0 ] || { cat "$T/probe.err" >&2; fail "files get: exit $RC"; }
	cmp "$BIG" "$T/big.out" || fail "the download differs from the file"
	ok "a 5 MB file downloaded, identical (cmp)"
	grep_ok "the access index is printed" "access logged at index [0-9]+; receipt in .*big.out.receipt \(verified" "$T/probe.out"
	IDX=$(sed -n 's/.*index \([0-9]*\);.*/\1/p' "$T/probe.out")
	head -1 "$T/big.out.receipt" | grep -q '^c2sp.org/tlog-proof@v1$' || fail "the receipt file"
	ok "the access receipt verified with the log key and kept in FILE.receipt"
	ls "$T"/big.out.partial-* >/dev/null 2>&1 && fail "a temporary file is left"
	expect_error "no overwrite without --force" "exists" get "$BIGSHA" --reason incident-response \
		--ticket INC-42 -o "$T/big.out" --token "$ANA"
	expect_ok "--force replaces" $V files get "$BIGSHA" --reason detection-engineering \
		--ticket 'JIRA/SEC-1#2:x' -o "$T/big.out" --force --url "$URL" --token "$ANA"
	cmp -s "$BIG" "$T/big.out" || fail "after --force"
	expect_ok "--zip" $V files get "$BIGSHA" --reason customer-request --ticket C-7 -o "$T/big.zip" \
		--zip --url "$URL" --token "$ANA" --vkey "$VK"
	unzip -P infected -p "$T/big.zip" "$BIGSHA" >"$T/unzipped" 2>"$T/unzip.err" ||
		fail "unzip -P infected: $(cat "$T/unzip.err")"
	cmp -s "$BIG" "$T/unzipped" || fail "the ZIP member differs from the file"
	unzip -P wrong -p "$T/big.zip" >/dev/null 2>&1 && fail "the ZIP opens with a wrong password"
	ok "the ZIP opens with unzip -P infected (not with another password) and holds the file"
	expect_error "an access receipt under another key" "access receipt does not check" \
		get "$BIGSHA" --reason incident-response --ticket INC-43 -o "$T/o" --token "$ANA" \
		--vkey "$P/policy.vkey"
	ls "$T"/o* >/dev/null 2>&1 && fail "a download whose receipt does not check left a file"
	expect_error "a reason not in the list" "HTTP 400" get "$BIGSHA" --reason curiosity \
		--ticket T-1 -o "$T/o" --token "$ANA"
	expect_error "a bad ticket" "HTTP 400" get "$BIGSHA" --reason legal-order \
		--ticket 'bad ticket!' -o "$T/o" --token "$ANA"
	grep -q 'logged at index' "$T/last.err" || fail "a refusal does not name its log entry"
	expect_error "an unknown file" "HTTP 404" get "$(printf x | sha256sum | cut -d' ' -f1)" \
		--reason legal-order --ticket T-1 -o "$T/o" --token "$ANA"
	ls "$T"/o* >/dev/null 2>&1 && fail "a refused download left a file"
	expect_error "a submitter may not download" "HTTP 403" \
		get "$BIGSHA" --reason incident-response --ticket T-1 -o "$T/o" --token "$A"
	expect_error "a bad token" "HTTP 401" \
		get "$BIGSHA" --reason incident-response --ticket T-1 -o "$T/o" --token vt_bad
	ls "$T"/o* >/dev/null 2>&1 && fail "a refused download left a file: $(ls "$T"/o*)"
	ok "refused downloads name the access entry and leave no file"
fi

stop_server TERM
[ "$RC" -eq 0 ] || fail "the server exited $RC"
ok "the server stops cleanly"
finish
