#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Crash and fault tests of the log's invariants:
#  (a) kill -9 the server during sustained concurrent appends, several
#      rounds: the crashed directory passes fsck as it is (no checkpoint
#      covers data that is not in place), every acknowledged entry is at
#      its index after restart, the new checkpoint is consistent with every
#      checkpoint seen before the kill, and restarting is idempotent;
#  (b) I/O errors injected with strace into syncfs, fsync, write, linkat
#      and renameat2 while appending: appends fail with 5xx instead of 200,
#      and after a normal restart the same checks hold;
#  (c) two servers on one directory: the second refuses and names the
#      holder.
# Scale with VT_CRASH_ROUNDS (default 3) and VT_WRITERS (default 64).
VITRINE=${1:?usage: crash.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/log
ROUNDS=${VT_CRASH_ROUNDS:-3}
WRITERS=${VT_WRITERS:-64}
need_hammer
command -v curl >/dev/null || fail "curl is needed (make deps)"

# check_log DIR RECORD CHECKPOINTS WHAT: with a fresh server on DIR, every
# recorded entry is at its index and every recorded checkpoint is
# consistent with the current one; then fsck over HTTP. Leaves the server
# running.
check_log() {
	start_server "check" "$1"
	expect_ok "$4: every acknowledged entry is at its index, every checkpoint seen is consistent" \
		"$HAMMER" --url "$URL" --vkey "$1/log.vkey" --check "$2" --checkpoints "$3"
	sed 's/^/# /' "$T/last.out"
	expect_ok "$4: fsck --url after restart" $V log fsck --url "$URL" --vkey "$1/log.vkey"
}

# hammer_bg NAME ARGS...: run vt_hammer in the background against $URL.
hammer_bg() {
	_n=$1
	shift
	"$HAMMER" --url "$URL" --token-file "$D/admin.token" --vkey "$D/log.vkey" "$@" \
		>"$T/$_n.out" 2>"$T/$_n.err" &
	HAMMER_PID=$!
	PIDS="$PIDS $HAMMER_PID"
}

# hammer_wait NAME: wait for it; it must not have seen a bad proof.
hammer_wait() {
	wait "$HAMMER_PID"
	_rc=$?
	PIDS=$(echo "$PIDS" | sed "s/ $HAMMER_PID\$//; s/ $HAMMER_PID / /")
	sed -n 's/^/# /; /summary\|adds:\|refused:\|verified:/p' "$T/$1.out"
	if [ "$_rc" -ne 0 ] || [ "$(summary_field "$T/$1.out" failures)" != 0 ]; then
		cat "$T/$1.err" >&2
		fail "vt_hammer $1 exit $_rc: a proof failed or checkpoints were inconsistent"
	fi
}

say "(a) kill -9 during concurrent appends, $ROUNDS rounds"
expect_ok "init" $V init --dir "$D" --origin example.test/log
: >"$T/record"
: >"$T/checkpoints"
r=1
while [ $r -le "$ROUNDS" ]; do
	start_server "round$r" "$D"
	KILL_MS=$((1500 + $(rand 1000)))
	hammer_bg "h$r" --writers "$WRITERS" --readers 2 --timeout 10 \
		--duration "$(((KILL_MS + 1500) / 1000)).$(((KILL_MS + 1500) % 1000 / 100))" \
		--record "$T/record" --checkpoints "$T/checkpoints" --checkpoint-out "$T/largest$r"
	sleep "$((KILL_MS / 1000)).$(printf '%03d' $((KILL_MS % 1000)))"
	curl -s -m 5 "$URL/log/checkpoint" >"$T/before$r" || true
	kill -9 "$SERVER_PID"
	wait "$WRAP_PID" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $WRAP_PID\$//; s/ $WRAP_PID / /")
	say "round $r: killed the server after $KILL_MS ms, at size $(sed -n 2p "$T/before$r")"
	hammer_wait "h$r"
	[ "$(summary_field "$T/h$r.out" adds)" -gt 0 ] || fail "round $r: nothing acknowledged before the kill"
	expect_ok "round $r: the crashed directory passes fsck before any recovery" $V log fsck --dir "$D"
	check_log "$D" "$T/record" "$T/checkpoints" "round $r"
	expect_ok "round $r: the checkpoint fetched just before the kill is consistent" \
		$V log consistency --url "$URL" --vkey "$D/log.vkey" --old "$T/before$r"
	expect_ok "round $r: the largest checkpoint the hammer saw is consistent" \
		$V log consistency --url "$URL" --vkey "$D/log.vkey" --old "$T/largest$r"
	curl -s "$URL/log/checkpoint" >"$T/after$r"
	stop_server TERM
	[ "$RC" -eq 0 ] || fail "round $r: server exit $RC after SIGTERM"
	start_server "again$r" "$D"
	curl -s "$URL/log/checkpoint" >"$T/again$r"
	stop_server TERM
	cmp -s "$T/after$r" "$T/again$r" || fail "round $r: a second restart changed the checkpoint"
	ok "round $r: restarting again is idempotent (same checkpoint, size $(sed -n 2p "$T/again$r"))"
	r=$((r + 1))
done
say "(a) done: $(wc -l <"$T/record") acknowledged entries survived $ROUNDS kills"

say "(c) two servers on one directory"
start_server first "$D"
FIRST=$SERVER_PID
run second $V serve --dir "$D" --listen 127.0.0.1:0
[ "$RC" -ne 0 ] || fail "a second server on the same directory started"
grep -q "in use by process $FIRST" "$T/second.err" || fail "the refusal does not name process $FIRST: $(cat "$T/second.err")"
ok "the second server exits $RC: $(cat "$T/second.err")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] || fail "the first server stopped answering"
ok "the first server still answers"
stop_server TERM

say "(b) injected I/O errors (strace)"
if ! command -v strace >/dev/null; then
	skip_part "strace is not installed (make deps installs it)"
elif ! strace -f -o /dev/null -e inject=getpid:error=EIO true 2>"$T/strace.err"; then
	skip_part "strace cannot trace here (ptrace denied?): $(head -n 1 "$T/strace.err")"
else
	# Under ASan, LeakSanitizer cannot run under ptrace.
	SAN="ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
	# syscall:first failing call. Each group makes 2 syncfs, 2 fsync (the
	# checkpoint file and its directory), a write and a linkat per object
	# (an anonymous file named at commit) and a renameat2 (the
	# checkpoint); the first groups succeed, then every call fails.
	for spec in syncfs:5 fsync:5 linkat:12 renameat2:6 write:30; do
		sc=${spec%%:*}
		n=${spec#*:}
		F=$T/fault-$sc
		$V init --dir "$F" --origin example.test/log >/dev/null || fail "init $F"
		seq 1 300 | sed 's/^/before faults /' | $V log append --dir "$F" >/dev/null || fail "append to $F"
		: >"$T/frecord-$sc"
		: >"$T/fcps-$sc"
		WRAP="env $SAN strace -f -o /dev/null -e inject=$sc:error=EIO:when=$n+"
		start_server "strace-$sc" "$F"
		WRAP=""
		"$HAMMER" --url "$URL" --token-file "$F/admin.token" --vkey "$F/log.vkey" \
			--writers 16 --readers 1 --duration 2 --timeout 5 \
			--record "$T/frecord-$sc" --checkpoints "$T/fcps-$sc" \
			>"$T/fh-$sc.out" 2>"$T/fh-$sc.err"
		hrc=$?
		sed -n 's/^/# /; /adds:\|refused:/p' "$T/fh-$sc.out"
		[ "$hrc" -eq 0 ] && [ "$(summary_field "$T/fh-$sc.out" failures)" = 0 ] ||
			{ cat "$T/fh-$sc.err" >&2; fail "$sc faults: a proof failed or checkpoints were inconsistent"; }
		e5=$(summary_field "$T/fh-$sc.out" e5xx)
		errs=$(summary_field "$T/fh-$sc.out" errors)
		gerr=$(curl -s "$URL/metrics" | sed -n 's/^vitrine_log_group_errors_total //p')
		[ "${gerr:-0}" -gt 0 ] || fail "EIO from $sc from call $n on: no group failed"
		if [ "$sc" = fsync ]; then
			# fsync fails only once the checkpoint is renamed into place
			# (the log directory's sync), after syncfs made every object
			# and its name durable: recovery finds each group published,
			# so its waiters are answered with success, not an error.
			[ "$errs" -eq 0 ] || fail "EIO from fsync: $errs appends failed, but their entries were durable and published"
			ok "EIO from fsync: $gerr groups failed to sync the log directory; recovery found them published and all $(summary_field "$T/fh-$sc.out" adds) appends were acknowledged"
		else
			[ "$errs" -gt 0 ] || fail "EIO from $sc from call $n on: no append failed"
			ok "EIO from $sc: $(summary_field "$T/fh-$sc.out" adds) acknowledged before the faults, then $errs failed ($e5 with 5xx), none acknowledged wrongly"
		fi
		# The faulty server may be stuck; it has no more to say.
		kill -TERM "$SERVER_PID" 2>/dev/null
		i=0
		while kill -0 "$SERVER_PID" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -9 "$SERVER_PID" 2>/dev/null
		wait "$WRAP_PID" 2>/dev/null
		PIDS=$(echo "$PIDS" | sed "s/ $WRAP_PID\$//; s/ $WRAP_PID / /")
		check_log "$F" "$T/frecord-$sc" "$T/fcps-$sc" "after EIO from $sc"
		stop_server TERM
		[ "$RC" -eq 0 ] || fail "server exit $RC after the $sc faults"
	done
fi

if [ -n "$SKIPPED" ]; then
	say "skipped:$SKIPPED"
fi
finish
