#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Analysis at the site: every stored sample gets its `analysis` entry with
# the right verdict; reports, lookups and search show it; a new ruleset is
# logged and re-scans what is stored, logging only changed verdicts; the
# queue survives kill -9 without duplicate entries, also when the process
# dies between logging a batch and storing it; bad queries get 400.
VITRINE=${1:?usage: analysis.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
command -v jq >/dev/null || fail "jq is needed"
command -v zip >/dev/null || fail "zip is needed"

zurich_site "$D"
EU=$(token --role submitter --name edr-eu --tenant acme-eu --region EU)
EU2=$(token --role submitter --name edr-eu2 --tenant other-eu --region EU)
ANA=$(token --role analyst --name ana)
ADM=$(cat "$D/admin.token")

mkdir -p "$T/rules1/sub" "$T/rules2"
cat >"$T/rules1/eicar.yar" <<'R'
rule eicar : test { meta: verdict = "malicious" strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }
R
cat >"$T/rules1/sub/elf.yar" <<'R'
rule is_elf { meta: severity = 3 condition: uint32(0) == 0x464c457f }
R
expect_ok "install a ruleset with no server (--dir)" $V rules install "$T/rules1" --dir "$D"
R1=$(readlink "$D/rules/current")
[ ${#R1} -eq 64 ] && [ -f "$D/rules/$R1/sub/elf.yar" ] || fail "DIR/rules/current"
ok "DIR/rules/current -> $R1"

start_server site "$D" --analysis-workers 2
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-' >"$T/eicar.com"
printf 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >>"$T/eicar.com"
[ "$(sha256sum "$T/eicar.com" | cut -d' ' -f1)" = \
	275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f ] || fail "EICAR"
(cd "$T" && zip -q eicar.zip eicar.com)
cp /bin/true "$T/elf.bin"
yes "just some clean text for the test" | head -n 200 >"$T/clean.txt"
sha() { sha256sum "$1" | cut -d' ' -f1; }
E=$(sha "$T/eicar.com"); Z=$(sha "$T/eicar.zip"); F=$(sha "$T/elf.bin"); C=$(sha "$T/clean.txt")

upload() {
	curl -s -o "$T/up.json" -w '%{http_code}' -H "Authorization: Bearer $2" -F "file=@$1" \
		"$URL/api/v1/files"
}
for f in eicar.com eicar.zip elf.bin; do
	[ "$(upload "$T/$f" "$EU")" = 201 ] || fail "upload $f"
done
[ "$(upload "$T/clean.txt" "$EU2")" = 201 ] || fail "upload clean.txt"
ok "four samples stored"

api() { curl -s -H "Authorization: Bearer $1" "$URL/api/v1/$2"; }
# wait_analysed N: until N samples are analysed with the ruleset in force.
wait_analysed() {
	i=0
	while [ "$(api "$ANA" analysis | jq -r '.analysed')" != "$1" ]; do
		i=$((i + 1))
		[ $i -lt 1200 ] || { api "$ANA" analysis >&2; fail "not analysed in 120 s"; }
		sleep 0.1
	done
}
wait_analysed 4
ok "the service analysed all four"

# verdict_of SHA: from the report; entry_of SHA: its analysis entry.
report() { api "$ANA" "files/$1"; }
entry_of() {
	i=$(report "$1" | jq -r '.analysis.log_index')
	$V log get --url "$URL" --vkey "$D/log.vkey" --index "$i"
}
check_entry() {
	entry_of "$1" >"$T/entry"
	grep -qx "vitrine/1 analysis" "$T/entry" && grep -qx "sha256 $1" "$T/entry" &&
		grep -qx "ruleset sha256:$R1" "$T/entry" && grep -qx "verdict $2" "$T/entry" ||
		{ cat "$T/entry" >&2; fail "entry of $1"; }
	[ "$(grep -c '^rule ' "$T/entry")" = "$3" ] || { cat "$T/entry" >&2; fail "rules in entry"; }
}
check_entry "$E" malicious 1
grep -qx "rule eicar.yar:eicar" "$T/entry" || fail "eicar rule name"
check_entry "$Z" malicious 1
check_entry "$F" suspicious 1
grep -qx "rule sub/elf.yar:is_elf" "$T/entry" || fail "elf rule name"
check_entry "$C" clean 0
ok "each has its analysis entry: eicar and zip malicious, ELF suspicious, text clean"

report "$Z" >"$T/z.json"
[ "$(jq -r '.verdict' "$T/z.json")" = malicious ] || fail "report verdict"
[ "$(jq -r '.analysis.children[0].sha256' "$T/z.json")" = "$E" ] || fail "report children"
[ "$(jq -r '.analysis.matches[0]' "$T/z.json")" = "eicar.yar:eicar" ] || fail "report matches"
[ "$(jq -r '.analysis.ruleset' "$T/z.json")" = "$R1" ] || fail "report ruleset"
jq -e '.analysis.type and .analysis.mime and .analysis.ssdeep and (.analysis.entropy > 0)' \
	"$T/z.json" >/dev/null || fail "report type/mime/ssdeep/entropy"
ok "the report holds verdict, matches, children, ruleset, type, ssdeep, entropy"

curl -s -H "Authorization: Bearer $EU" -H 'Content-Type: text/plain' \
	--data-binary "$(printf '%s\n%s\n%s\n' "$E" "$C" 0000000000000000000000000000000000000000000000000000000000000000)" \
	"$URL/api/v1/lookup" >"$T/lk.json"
[ "$(jq -r '[.results[] | .verdict // "none"] | join(",")' "$T/lk.json")" = "malicious,clean,none" ] ||
	{ cat "$T/lk.json" >&2; fail "lookup verdicts"; }
ok "lookup answers verdicts"

# search Q [TOKEN]: the sha256s found, sorted, comma-joined.
search() {
	curl -s -G -H "Authorization: Bearer ${2:-$ANA}" --data-urlencode "q=$1" \
		"$URL/api/v1/search" | jq -r '[.results[].sha256] | sort | join(",")'
}
both=$(printf '%s\n%s\n' "$E" "$Z" | sort | paste -sd,)
[ "$(search 'rule:eicar')" = "$both" ] || fail "rule:"
[ "$(search 'rule:eicar.yar:eicar')" = "$both" ] || fail "rule:ns:name"
[ "$(search 'verdict:malicious')" = "$both" ] || fail "verdict:"
[ "$(search 'verdict:suspicious')" = "$F" ] || fail "verdict:suspicious"
[ "$(search 'type:elf')" = "$F" ] || fail "type:"
[ "$(search 'size:>1KB verdict:clean')" = "$C" ] || fail "size:"
[ "$(search 'size:<1KB rule:eicar')" = "$both" ] || fail "size: and rule:"
[ "$(search "parent:$Z")" = "$E" ] || fail "parent:"
[ "$(search "$(echo "$F" | cut -c1-10)")" = "$F" ] || fail "hash prefix"
[ "$(search 'first_seen:>=2020-01-01 verdict:clean')" = "$C" ] || fail "first_seen"
[ "$(search 'first_seen:<2020-01-01')" = "" ] || fail "first_seen <"
[ "$(search 'region:EU verdict:clean')" = "$C" ] || fail "region"
[ "$(search 'region:RU')" = "" ] || fail "region RU"
[ "$(search 'verdict:clean' "$EU")" = "" ] || fail "a submitter sees another tenant's file"
[ "$(search 'verdict:malicious' "$EU")" = "$both" ] || fail "a submitter's own"
SS=$(jq -r '.analysis.ssdeep' "$T/z.json")
[ "$(search "ssdeep:$SS:100")" = "$Z" ] || fail "ssdeep"
report "$F" >"$T/f.json"
TL=$(jq -r '.analysis.tlsh' "$T/f.json")
[ "$(search "tlsh:$TL:0")" = "$F" ] || fail "tlsh"
ok "search by rule, verdict, type, size, parent, prefix, first_seen, region, ssdeep, tlsh; tenant-scoped"

# paging: one at a time with the cursor
curl -s -G -H "Authorization: Bearer $ANA" --data-urlencode "q=size:>0" -d limit=1 \
	"$URL/api/v1/search" >"$T/p1.json"
CUR=$(jq -r '.cursor' "$T/p1.json")
n=1
while [ "$CUR" != null ]; do
	curl -s -G -H "Authorization: Bearer $ANA" --data-urlencode "q=size:>0" -d limit=1 \
		-d "cursor=$CUR" "$URL/api/v1/search" >"$T/p.json"
	n=$((n + $(jq '.results | length' "$T/p.json")))
	CUR=$(jq -r '.cursor' "$T/p.json")
	[ $n -le 10 ] || fail "paging does not end"
done
[ $n = 4 ] || fail "paging found $n"
ok "paging with the cursor walks all four, one a page"

# bad queries: 400 with the position
for q in 'bogus:1' 'size:>1TB' 'verdict:evil' 'rule:' '0123' 'first_seen:2026-13-01'; do
	code=$(curl -s -o "$T/bad.json" -w '%{http_code}' -G -H "Authorization: Bearer $ANA" \
		--data-urlencode "q=$q" "$URL/api/v1/search")
	[ "$code" = 400 ] && jq -e '.error.message | test("^position [0-9]+: ")' "$T/bad.json" \
		>/dev/null || { cat "$T/bad.json" >&2; fail "bad query $q: $code"; }
done
code=$(curl -s -o /dev/null -w '%{http_code}' -G -H "Authorization: Bearer $ANA" \
	-d "q=size:>0" -d cursor=zz "$URL/api/v1/search")
[ "$code" = 400 ] || fail "bad cursor"
ok "bad queries and cursors get 400 naming the position"

# a second ruleset through the server: logged, retro-scan, only changes logged
cp "$T/rules1/eicar.yar" "$T/rules2/eicar.yar"
cat >"$T/rules2/text.yar" <<'R'
rule clean_text { meta: verdict = "malicious" strings: $t = "just some clean text" condition: $t }
R
cat "$T/rules1/sub/elf.yar" >>"$T/rules2/text.yar"
SIZE0=$($V log checkpoint --url "$URL" | sed -n 2p)
expect_ok "install a second ruleset through the server" $V rules install "$T/rules2" --dir "$D" \
	--url "$URL" --token "$ADM"
R2=$(readlink "$D/rules/current")
[ "$R2" != "$R1" ] || fail "ruleset did not change"
wait_analysed 4
api "$ANA" analysis >"$T/st.json"
[ "$(jq -r '.ruleset' "$T/st.json")" = "$R2" ] && [ "$(jq -r '.retro_scan.done' "$T/st.json")" = 4 ] &&
	[ "$(jq -r '.retro_scan.total' "$T/st.json")" = 4 ] || { cat "$T/st.json" >&2; fail "status"; }
$V rules status --url "$URL" --token "$ANA" >"$T/status.txt" || fail "rules status"
grep_ok "rules status names the ruleset and the progress" "retro-scan 4/4" "$T/status.txt"
grep -q "sha256:$R2" "$T/status.txt" || fail "rules status ruleset"
SIZE1=$($V log checkpoint --url "$URL" | sed -n 2p)
# entries between: one ruleset, then the changed: clean.txt (now malicious) and
# the ELF (its rule moved to text.yar, so its rule list changed); eicar and zip unchanged
$V log get --url "$URL" --vkey "$D/log.vkey" --index "$SIZE0" | grep -qx "vitrine/1 ruleset" || fail "ruleset entry"
$V log get --url "$URL" --vkey "$D/log.vkey" --index "$SIZE0" | grep -qx "digest sha256:$R2" || fail "ruleset digest"
[ $((SIZE1 - SIZE0)) = 3 ] || fail "expected 3 entries (ruleset + 2 changed), got $((SIZE1 - SIZE0))"
[ "$(report "$C" | jq -r '.verdict')" = malicious ] || fail "clean text verdict changed"
[ "$(report "$E" | jq -r '.analysis.ruleset')" = "$R2" ] || fail "eicar re-scanned"
ok "second ruleset: logged, retro-scan 4/4, only the 2 changed verdicts logged"

# kill -9 with samples pending: all analysed once, no duplicate entries
stop_server
mkdir -p "$T/many"
i=0
while [ $i -lt 40 ]; do
	printf 'sample %d %s\n' $i "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
		>"$T/many/s$i.txt"
	i=$((i + 1))
done
start_server site "$D" --analysis-workers 1
for f in "$T"/many/*.txt; do upload "$f" "$EU" >/dev/null; done
stop_server KILL
left=$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_queue')
say "killed with $left of 40 samples still queued"
start_server site "$D" --analysis-workers 2
wait_analysed 44
n=$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_queue')
[ "$n" = 0 ] || fail "queue not empty"
SZ=$($V log checkpoint --url "$URL" | sed -n 2p)
# analysis_entries FROM TO: each `analysis` entry in [FROM, TO) on one line
# ("vitrine/1 analysis sha256 HASH ruleset ..."), into $T/all.
analysis_entries() {
	i=$1; : >"$T/all"
	while [ $i -lt "$2" ]; do
		$V log get --url "$URL" --vkey "$D/log.vkey" --index $i | paste -sd' ' |
			grep '^vitrine/1 analysis ' >>"$T/all"
		i=$((i + 1))
	done
}
analysis_entries 0 "$SZ"
# The same entry twice is a duplicate; the same sample twice with another
# verdict or rules (the second ruleset's changes) is not.
dups=$(sort "$T/all" | uniq -d | wc -l)
[ "$dups" = 0 ] || fail "$dups analysis entries logged twice after kill -9"
n=$(awk '{print $4}' "$T/all" | sort -u | grep -c .)
[ "$n" = 44 ] || fail "analysis entries for $n samples"
ok "after kill -9: all 44 analysed and logged once; the queue is empty"

# The bad moment: a batch's entries published, the batch not stored yet.
# VT_FAULT_ANALYSIS_AFTER_LOG makes the server _exit(9) right there; the
# next start finds the entries in the log's tail and logs none of them again.
stop_server
mkdir -p "$T/more"
i=0
while [ $i -lt 20 ]; do
	printf 'more %d %s\n' $i "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
		>"$T/more/m$i.txt"
	i=$((i + 1))
done
start_server site "$D" --no-analysis
for f in "$T"/more/*.txt; do [ "$(upload "$f" "$EU")" = 201 ] || fail "upload $f"; done
stop_server
SZ0=$($V log checkpoint --dir "$D" | sed -n 2p)
VT_FAULT_ANALYSIS_AFTER_LOG=1 "$V" serve --dir "$D" --listen 127.0.0.1:0 --analysis-workers 1 \
	>"$T/fault.out" 2>"$T/fault.err" &
FPID=$!
PIDS="$PIDS $FPID"
wait $FPID
frc=$?
PIDS=$(echo "$PIDS" | sed "s/ $FPID\$//; s/ $FPID / /")
[ "$frc" = 9 ] || { cat "$T/fault.err" >&2; fail "the fault hook did not fire (exit $frc)"; }
left=$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_queue')
pend=$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_pending')
[ "$left" = 20 ] && [ "$pend" = 16 ] || fail "after the fault: $left queued, $pend pending"
start_server site "$D" --analysis-workers 2
wait_analysed 64
api "$ANA" analysis >"$T/st.json"
[ "$(jq -r '.reconciled' "$T/st.json")" = 16 ] || { cat "$T/st.json" >&2; fail "reconciled"; }
[ "$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_pending')" = 0 ] ||
	fail "pending rows left"
SZ=$($V log checkpoint --url "$URL" | sed -n 2p)
[ $((SZ - SZ0)) = 20 ] || fail "expected 20 analysis entries, the log grew by $((SZ - SZ0))"
analysis_entries "$SZ0" "$SZ"
[ "$(awk '{print $4}' "$T/all" | sort -u | grep -c .)" = 20 ] || fail "not one entry for each of the 20"
for f in "$T"/more/*.txt; do
	h=$(sha "$f")
	li=$(report "$h" | jq -r '.analysis.log_index')
	$V log get --url "$URL" --vkey "$D/log.vkey" --index "$li" | grep -qx "sha256 $h" ||
		fail "log_index of $h"
done
ok "died between logging and storing a batch: 16 entries found in the log, 20 logged once each"

# re-analyse: 202 and queued at the front
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $ANA" \
	"$URL/api/v1/files/$E/analyse")
[ "$code" = 202 ] || fail "analyse: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $EU" \
	"$URL/api/v1/files/$E/analyse")
[ "$code" = 403 ] || fail "a submitter may not re-analyse"
ok "POST analyse: 202 for an analyst, 403 for a submitter"

# a pathological rule: the per-file YARA timeout (--analysis-timeout 1
# here) stops it and the verdict says so. The rule is slow only on files of
# 77,777 bytes (quadratic loop), so the retro-scan of the rest stays fast.
stop_server
mkdir -p "$T/rules3"
cp "$T/rules2/"*.yar "$T/rules3/"
printf '%s\n' 'rule slow_loop { meta: verdict = "malicious" condition: filesize == 77777 and for all i in (0..filesize) : (for all j in (0..filesize) : (uint8(i) != 0xff or uint8(j) != 0xfe)) }' \
	>"$T/rules3/slow.yar"
start_server site "$D" --analysis-workers 2 --analysis-timeout 1
expect_ok "install a ruleset with a pathological rule" $V rules install "$T/rules3" --dir "$D" \
	--url "$URL" --token "$ADM"
R3=$(readlink "$D/rules/current")
wait_analysed 64
head -c 77777 /dev/zero >"$T/slow.bin"
S=$(sha "$T/slow.bin")
[ "$(upload "$T/slow.bin" "$EU")" = 201 ] || fail "upload slow.bin"
wait_analysed 65
report "$S" >"$T/s.json"
[ "$(jq -r '.verdict' "$T/s.json")" = unknown ] &&
	[ "$(jq -r '.analysis.report.timed_out' "$T/s.json")" = true ] &&
	jq -e '.analysis.report.reason | test("timed out after 1 s")' "$T/s.json" >/dev/null ||
	{ cat "$T/s.json" >&2; fail "timeout verdict"; }
entry_of "$S" | grep -qx "verdict unknown" || fail "the entry of the timed-out sample"
ok "a pathological rule times out after 1 s: verdict unknown, timed_out and the reason in the report"

# bad ruleset through the server: refused with the compiler's message
printf 'rule bad { condition: nosuch }' >"$T/bad.yar"
expect_error "a broken rule is refused" "bad.yar" $V rules install "$T/bad.yar" --dir "$D" \
	--url "$URL" --token "$ADM"
[ "$(readlink "$D/rules/current")" = "$R3" ] || fail "a refused set changed current"
ok "a broken ruleset changes nothing"

# the ruleset in force, again: refused (409 through the server, and with
# --dir), nothing logged
SZ0=$($V log checkpoint --url "$URL" | sed -n 2p)
expect_error "reinstalling the ruleset in force is refused" "HTTP 409 conflict: ruleset sha256:$R3 is already in force" \
	$V rules install "$T/rules3" --dir "$D" --url "$URL" --token "$ADM"
[ "$($V log checkpoint --url "$URL" | sed -n 2p)" = "$SZ0" ] || fail "a refused reinstall was logged"
stop_server
expect_error "reinstalling with --dir is refused" "already in force" \
	$V rules install "$T/rules3" --dir "$D"

# the retro-scan resumes from the cursor the index keeps: two samples made
# stale (and with another verdict, so that both are logged), the cursor
# between them; one worker takes the one after the cursor first, then
# wraps around to the other
P=$(printf '%s\n%s\n' "$C" "$F" | sort | head -n 1)
Q=$(printf '%s\n%s\n' "$C" "$F" | sort | tail -n 1)
ZERO=0000000000000000000000000000000000000000000000000000000000000000
sqlite3 "$D/index.sqlite" "UPDATE analyses SET ruleset = '$ZERO', verdict = 'unknown'
	WHERE sample IN (x'$P', x'$Q'); DELETE FROM analysis_cursor;
	INSERT INTO analysis_cursor (id, ruleset, after) VALUES (1, '$R3', x'$P');" ||
	fail "sqlite3"
SZ0=$($V log checkpoint --dir "$D" | sed -n 2p)
start_server site "$D" --analysis-workers 1
wait_analysed 65
$V log get --url "$URL" --vkey "$D/log.vkey" --index "$SZ0" | grep -qx "sha256 $Q" ||
	fail "the retro-scan did not resume after the cursor"
$V log get --url "$URL" --vkey "$D/log.vkey" --index $((SZ0 + 1)) | grep -qx "sha256 $P" ||
	fail "the retro-scan did not wrap around"
[ "$(sqlite3 "$D/index.sqlite" 'select count(*) from analysis_cursor')" = 0 ] ||
	fail "the cursor of a finished retro-scan is kept"
ok "the retro-scan resumes from the stored cursor, wraps around, and clears it when done"

stop_server
finish
