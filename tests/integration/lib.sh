# SPDX-License-Identifier: Apache-2.0
# Shared helpers of the integration scripts (POSIX sh): a temporary
# directory and child processes cleaned up on exit, servers on a free
# loopback port, and checks that print what they check and fail loudly.
#
# The sourcing script sets VITRINE (the binary) before sourcing; it gets
# $T (its temporary directory), ok/fail/check helpers and server helpers.

set -u

: "${VITRINE:?set VITRINE before sourcing lib.sh}"
HAMMER=${VT_HAMMER:-}
NAME=$(basename "$0" .sh)
T=$(mktemp -d "${TMPDIR:-/tmp}/vt-$NAME.XXXXXX") || exit 1
PIDS=""
CHECKS=0
SKIPPED=""

cleanup() {
	for p in $PIDS; do
		kill -9 "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	if [ -n "${KEEP_TMP:-}" ]; then
		echo "# kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
	echo "# $*"
}

ok() {
	CHECKS=$((CHECKS + 1))
	echo "ok $CHECKS - $*"
}

# fail REASON: print it with context and stop the script.
fail() {
	echo "FAIL: $*" >&2
	echo "not ok - $*"
	exit 1
}

# skip_part WHY: a part of the script cannot run here.
skip_part() {
	echo "# SKIP: $*"
	SKIPPED="$SKIPPED
$*"
}

finish() {
	echo "# $NAME: $CHECKS checks passed"
	exit 0
}

# A random number in [0, $1).
rand() {
	echo $(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') % $1 ))
}

# run NAME CMD...: run, keeping stdout in $T/NAME.out, stderr in $T/NAME.err;
# the exit status in $RC.
run() {
	_n=$1
	shift
	"$@" >"$T/$_n.out" 2>"$T/$_n.err"
	RC=$?
}

# expect_ok WHAT CMD...: the command succeeds.
expect_ok() {
	_what=$1
	shift
	run last "$@"
	if [ "$RC" -ne 0 ]; then
		cat "$T/last.err" >&2
		fail "$_what: exit $RC from: $*"
	fi
	ok "$_what"
}

# expect_error WHAT PATTERN CMD...: the command fails (non-zero, not a
# crash) with exactly one line on stderr that matches the grep -E PATTERN.
expect_error() {
	_what=$1
	_pat=$2
	shift 2
	run last "$@"
	if [ "$RC" -eq 0 ]; then
		fail "$_what: succeeded but should fail: $*"
	fi
	if [ "$RC" -gt 125 ]; then
		cat "$T/last.err" >&2
		fail "$_what: crashed (exit $RC): $*"
	fi
	_lines=$(wc -l <"$T/last.err")
	if [ "$_lines" -ne 1 ]; then
		echo "--- stderr:" >&2
		cat "$T/last.err" >&2
		fail "$_what: want one line on stderr, got $_lines: $*"
	fi
	if ! grep -Eq -- "$_pat" "$T/last.err"; then
		fail "$_what: stderr \"$(cat "$T/last.err")\" does not match /$_pat/"
	fi
	ok "$_what (exit $RC: $(cat "$T/last.err"))"
}

# grep_ok WHAT PATTERN FILE: the file matches.
grep_ok() {
	if ! grep -Eq -- "$2" "$3"; then
		echo "--- $3:" >&2
		head -c 2000 "$3" >&2
		fail "$1: no /$2/ in $3"
	fi
	ok "$1"
}

need_hammer() {
	if [ -z "$HAMMER" ] || [ ! -x "$HAMMER" ]; then
		fail "VT_HAMMER is not set to the vt_hammer binary (run through meson test)"
	fi
}

# summary_field FILE KEY: a value from vt_hammer's "summary" line.
summary_field() {
	grep '^summary ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# start_server NAME DIR [ARGS...]: start "vitrine serve" on a free
# loopback port (port 0) under the prefix in $WRAP (such as strace), and
# set SERVER_PID (the vitrine process), WRAP_PID ($! of the command) and
# URL. Output goes to $T/NAME.out and $T/NAME.err.
start_server() {
	_n=$1
	_dir=$2
	shift 2
	: >"$T/$_n.out"
	# shellcheck disable=SC2086
	${WRAP:-} "$VITRINE" serve --dir "$_dir" --listen 127.0.0.1:0 "$@" \
		>"$T/$_n.out" 2>"$T/$_n.err" &
	WRAP_PID=$!
	PIDS="$PIDS $WRAP_PID"
	_i=0
	URL=""
	while [ $_i -lt 600 ]; do
		URL=$(sed -n 's/^vitrine serving .* on \(http:[^ ]*\)$/\1/p' "$T/$_n.out")
		[ -n "$URL" ] && break
		if ! kill -0 "$WRAP_PID" 2>/dev/null; then
			cat "$T/$_n.err" >&2
			fail "server $_n exited before serving"
		fi
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -n "$URL" ] || fail "server $_n printed no URL in 30 s"
	URL=${URL%/}
	SERVER_PID=$WRAP_PID
	if [ -n "${WRAP:-}" ]; then
		# The lock file names the process that holds the directory.
		SERVER_PID=$(sed -n 's/^process \([0-9]*\) .*/\1/p' "$_dir/lock")
		[ -n "$SERVER_PID" ] || fail "no pid in $_dir/lock"
	fi
}

# stop_server [SIGNAL]: stop the last server started; RC is its exit status
# (or the wrapper's).
stop_server() {
	kill "-${1:-TERM}" "$SERVER_PID" 2>/dev/null
	wait "$WRAP_PID" 2>/dev/null
	RC=$?
	PIDS=$(echo "$PIDS" | sed "s/ $WRAP_PID\$//; s/ $WRAP_PID / /")
}

# zurich_site DIR: a site in jurisdiction CH-ZRH with the test federation's
# policy (tests/data/policy) adopted; `token ARGS...` then prints the secret
# of a new token of that site (vitrine token create ARGS).
zurich_site() {
	SITE=$1
	expect_ok "init" "$VITRINE" init --dir "$SITE" --origin zrh.vitrine.example/log \
		--jurisdiction CH-ZRH
	expect_ok "adopt the policy" "$VITRINE" policy adopt \
		"${VT_TEST_DATA:?}/policy/federation.policy.signed" --dir "$SITE" \
		--vkey "$VT_TEST_DATA/policy/policy.vkey"
}

token() {
	"$VITRINE" token create --dir "${SITE:?call zurich_site first}" "$@" |
		grep -o 'vt_[0-9a-f]\{64\}' | head -n 1
}
