#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The confined analyser: the server analyses samples in a child process
# (`vitrine analysis-child`) that is confined (seccomp filter, no new
# privileges, rlimits, only its socket open, its own process group, an
# empty file system view where user namespaces allow, a minimal
# environment). Killing
# the child with SIGSEGV while it scans a slow sample makes that sample
# `unknown` with "analyser crashed: signal 11", the next samples are
# analysed normally by a new child, and /healthz answers throughout. A
# stopped child is killed at the deadline ("analyser timed out after N s"),
# a child killed while idle costs no sample, and the restarts are counted.
VITRINE=${1:?usage: analysis_sandbox.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
command -v jq >/dev/null || fail "jq is needed"
command -v pgrep >/dev/null || fail "pgrep is needed"

# The subcommand is hidden, with a --help of its own.
$V --help | grep -q analysis-child && fail "analysis-child is listed in vitrine --help"
$V analysis-child --help | grep -q "Internal" || fail "analysis-child --help"
expect_error "analysis-child by hand is refused" "vitrine:" $V analysis-child --ppid 1
ok "analysis-child: hidden, says it is internal, refuses to run by hand"

zurich_site "$D"
EU=$(token --role submitter --name edr-eu --tenant acme-eu --region EU)
ANA=$(token --role analyst --name ana)
mkdir -p "$T/rules"
cat >"$T/rules/r.yar" <<'R'
rule eicar { meta: verdict = "malicious" strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }
rule slow_loop { meta: verdict = "malicious" condition: filesize == 77777 and for all i in (0..filesize) : (for all j in (0..filesize) : (uint8(i) != 0xff or uint8(j) != 0xfe)) }
R
expect_ok "install the rules" $V rules install "$T/rules" --dir "$D"

printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-' >"$T/eicar.com"
printf 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >>"$T/eicar.com"
sha() { sha256sum "$1" | cut -d' ' -f1; }
upload() {
	curl -s -o "$T/up.json" -w '%{http_code}' -H "Authorization: Bearer $EU" -F "file=@$1" \
		"$URL/api/v1/files"
}
api() { curl -s -H "Authorization: Bearer $ANA" "$URL/api/v1/$1"; }
healthz() { [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ]; }
wait_analysed() {
	i=0
	while [ "$(api analysis | jq -r '.analysed')" != "$1" ]; do
		i=$((i + 1))
		[ $i -lt 1200 ] || { api analysis >&2; fail "not analysed in 120 s"; }
		sleep 0.1
	done
}
# child: the pid of the server's analysis child, found by its command line.
child() {
	pgrep -P "$SERVER_PID" -f "analysis-child --ppid $SERVER_PID" | head -n 1
}
wait_child() {
	i=0
	while [ -z "$(child)" ]; do
		i=$((i + 1))
		[ $i -lt 600 ] || fail "no analysis child in 60 s"
		sleep 0.1
	done
	child
}
field() { sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status"; }
limit() { sed -n "s/^$2 *\([0-9a-z]*\) .*/\1/p" "/proc/$1/limits"; }
verdict_reason() { api "files/$1" | jq -r '[.verdict, .analysis.report.reason] | join(" / ")'; }

# The server's environment is not the child's (it may hold secrets).
export VT_CANARY_SECRET=do-not-pass-on
start_server site "$D" --analysis-workers 1 --analysis-timeout 30
unset VT_CANARY_SECRET
E=$(sha "$T/eicar.com")
[ "$(upload "$T/eicar.com")" = 201 ] || fail "upload eicar"
wait_analysed 1
[ "$(api "files/$E" | jq -r .verdict)" = malicious ] || fail "eicar verdict"
ok "EICAR analysed in the child: malicious"

C1=$(wait_child)
[ "$(field "$C1" Seccomp)" = 2 ] || fail "child $C1 has no seccomp filter"
[ "$(field "$C1" NoNewPrivs)" = 1 ] || fail "child $C1 may gain privileges"
[ "$(limit "$C1" 'Max core file size')" = 0 ] && [ "$(limit "$C1" 'Max file size')" = 0 ] &&
	[ "$(limit "$C1" 'Max open files')" = 8 ] || { cat "/proc/$C1/limits" >&2; fail "rlimits"; }
[ "$(ls "/proc/$C1/fd" | wc -l)" = 1 ] || { ls -l "/proc/$C1/fd" >&2; fail "open fds"; }
[ "$(ps -o pgid= -p "$C1" | tr -d ' ')" = "$C1" ] || fail "own process group"
ok "child $C1: seccomp filter, no new privileges, core 0, fsize 0, 8 fds, only its socket, own group"
tr '\0' '\n' <"/proc/$C1/environ" >"$T/environ" || fail "read the child's environment"
grep -q VT_CANARY_SECRET "$T/environ" && fail "the child has the server's environment"
grep -qx LANG=C "$T/environ" || { cat "$T/environ" >&2; fail "the child's LANG"; }
grep -v -E '^(LANG|TZ|ASAN_OPTIONS|UBSAN_OPTIONS|LSAN_OPTIONS)=' "$T/environ" &&
	fail "more than LANG, TZ and the sanitizers' options in the child's environment"
ok "child $C1: environment LANG=C, TZ and sanitizer options only"
ROOT=$(readlink "/proc/$C1/root")
case $ROOT in
*/fdinfo) ok "child $C1: an empty file system view (root $ROOT)" ;;
/) echo "note: no user namespace and not root: the child can stat paths" >&2 ;;
*) fail "child $C1: root $ROOT" ;;
esac

# A sample the pathological rule is slow on: the child is busy with it.
head -c 77777 /dev/zero >"$T/slow.bin"
S=$(sha "$T/slow.bin")
[ "$(upload "$T/slow.bin")" = 201 ] || fail "upload slow.bin"
sleep 2
healthz || fail "healthz while the child scans"
[ "$(api analysis | jq -r .analysed)" = 1 ] || fail "the slow sample finished too soon"
[ "$(child)" = "$C1" ] || fail "another child"
kill -SEGV "$C1"
wait_analysed 2
healthz || fail "healthz after the crash"
[ "$(verdict_reason "$S")" = "unknown / analyser crashed: signal 11 (SIGSEGV)" ] ||
	{ api "files/$S" >&2; fail "the crashed sample's verdict"; }
i=$(api "files/$S" | jq -r '.analysis.log_index')
$V log get --url "$URL" --vkey "$D/log.vkey" --index "$i" | grep -qx "verdict unknown" ||
	fail "the crashed sample's entry"
ok "kill -SEGV of the busy child: the sample is unknown, \"analyser crashed: signal 11 (SIGSEGV)\", logged"

# The next samples: a new child, normal verdicts.
yes "clean text" | head -n 100 >"$T/clean.txt"
cp "$T/eicar.com" "$T/eicar2.com" && printf 'x' >>"$T/eicar2.com"
[ "$(upload "$T/clean.txt")" = 201 ] && [ "$(upload "$T/eicar2.com")" = 201 ] ||
	fail "upload more"
wait_analysed 4
[ "$(api "files/$(sha "$T/clean.txt")" | jq -r .verdict)" = clean ] &&
	[ "$(api "files/$(sha "$T/eicar2.com")" | jq -r .verdict)" = malicious ] ||
	fail "verdicts after the crash"
C2=$(wait_child)
[ "$C2" != "$C1" ] || fail "the same child"
api analysis >"$T/st.json"
[ "$(jq -r .analysers.restarts "$T/st.json")" = 1 ] &&
	[ "$(jq -r .analysers.failures "$T/st.json")" = 1 ] &&
	[ "$(jq -r .errors "$T/st.json")" = 1 ] || { cat "$T/st.json" >&2; fail "status"; }
ok "next samples analysed normally by child $C2; status: restarts 1, failures 1, errors 1"

# Killed while idle: the next sample is not blamed.
kill -KILL "$C2"
sleep 0.3
cp "$T/clean.txt" "$T/clean2.txt" && echo more >>"$T/clean2.txt"
[ "$(upload "$T/clean2.txt")" = 201 ] || fail "upload clean2"
wait_analysed 5
[ "$(api "files/$(sha "$T/clean2.txt")" | jq -r .verdict)" = clean ] || fail "clean2 blamed"
[ "$(api analysis | jq -r .analysers.restarts)" = 2 ] || fail "restart not counted"
ok "a child killed while idle costs no sample: clean, restarts 2"
healthz || fail "healthz"
stop_server

# Stopped child: the parent kills it at the deadline (timeout + 10 s).
start_server site "$D" --analysis-workers 1 --analysis-timeout 2
head -c 77777 /dev/zero | tr '\0' 'a' >"$T/slow2.bin"
S2=$(sha "$T/slow2.bin")
[ "$(upload "$T/slow2.bin")" = 201 ] || fail "upload slow2"
C3=$(wait_child)
# Stopped once it is confined (and so ready), not while it loads: the
# start has a deadline of its own (120 s), and a sanitizer build loads slowly.
i=0
while [ "$(field "$C3" Seccomp)" != 2 ]; do
	i=$((i + 1))
	[ $i -lt 600 ] || fail "child $C3 not confined in 60 s"
	sleep 0.1
done
sleep 0.2
kill -STOP "$C3"
wait_analysed 6
healthz || fail "healthz after the timeout"
[ "$(verdict_reason "$S2")" = "unknown / analyser timed out after 12 s" ] ||
	{ api "files/$S2" >&2; fail "the stopped child's sample"; }
kill -0 "$C3" 2>/dev/null && fail "the stopped child was not killed"
ok "a stopped child is killed at the deadline: \"analyser timed out after 12 s\""
stop_server
[ "$RC" = 0 ] || fail "server exit status $RC"
ok "the server stops cleanly"

# --analysis-child-samples 1: a fresh analyser for every sample.
start_server site "$D" --analysis-workers 1 --analysis-child-samples 1
for k in 1 2 3; do
	echo "recycled sample $k" >"$T/r$k.txt"
	[ "$(upload "$T/r$k.txt")" = 201 ] || fail "upload r$k"
done
wait_analysed 9
STARTED=$(api analysis | jq -r '.analysers.started')
[ "$STARTED" -ge 3 ] || { api analysis >&2; fail "3 samples, 1 each: $STARTED analysers started"; }
[ "$(api analysis | jq -r '.analysers.failures')" = 0 ] || fail "recycling counted as failures"
for k in 1 2 3; do
	[ "$(api "files/$(sha "$T/r$k.txt")" | jq -r .verdict)" = clean ] || fail "r$k verdict"
done
ok "--analysis-child-samples 1: $STARTED analysers for 3 samples, all clean, no failures"
stop_server
finish
