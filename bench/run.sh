#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The benchmarks behind `make bench`: the sequencer against its hashing
# bound (bench_log), the whole CLI process appending a million lines, a
# running server under 256 concurrent writers (vt_hammer), hash lookups
# over HTTP, and file intake over HTTP against the bound set by hashing and
# sealing the same bytes.
# Each command is printed before its figures so they can be pasted into
# bench/README.md. Usage: sh bench/run.sh BUILD_DIR [DATA_PARENT]
# DATA_PARENT (default /var/tmp, or $VT_BENCH_DIR) gets one scratch
# directory for the whole run, removed only at the end: deleting a big log
# between phases would slow the next phase's file creation on some
# filesystems (see bench/README.md).
set -u

B=${1:?usage: sh bench/run.sh BUILD_DIR [DATA_PARENT]}
PARENT=${2:-${VT_BENCH_DIR:-/var/tmp}}
VITRINE=$B/vitrine
BENCH=$B/bench/bench_log
HAMMER=$B/bench/vt_hammer
[ -x "$BENCH" ] || BENCH=$B/bench_log
[ -x "$HAMMER" ] || HAMMER=$B/vt_hammer
ORIGIN=bench.vitrine.localhost/log
SERVER_PID=
SCRATCH=
rc=0

cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	[ -n "$SCRATCH" ] && rm -rf "$SCRATCH"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
	printf '\n$ %s\n' "$*"
}

now() {
	date +%s.%N
}

# keep FILE CMD...: run CMD with its output in FILE, then show it; a
# failure sets rc (a pipe into tee would take tee's status instead).
keep() {
	_keep=$1
	shift
	"$@" >"$_keep" || rc=1
	cat "$_keep"
}

for f in "$VITRINE" "$BENCH"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f is not built (ninja -C $B)" >&2
		exit 1
	fi
done

BUILDTYPE=$(grep -o '"name": "buildtype", "value": "[a-z]*"' \
	"$B/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "//; s/"$//')
echo "vitrine benchmarks: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -sr), nproc $(nproc)," \
	"build $B (${BUILDTYPE:-unknown type})"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

SCRATCH=$(mktemp -d "$PARENT/vitrine-bench-run-XXXXXX") || exit 1

# 1. The sequencer alone, against the hashing bound.
say "$BENCH --dir $SCRATCH --keep"
"$BENCH" --dir "$SCRATCH" --keep || rc=1

# 2. The whole process: read stdin, open, append in groups of 65536, close.
D=$SCRATCH/cli
mkdir "$D" || exit 1
"$VITRINE" init --dir "$D" --origin "$ORIGIN" >/dev/null || rc=1
say "seq 1000000 | $VITRINE log append --dir $D"
t0=$(now)
if seq 1000000 | "$VITRINE" log append --dir "$D"; then
	t1=$(now)
	awk -v a="$t0" -v b="$t1" 'BEGIN {
		s = b - a; printf "%.3f s, %.0f entries/s (1000000 entries)\n", s, 1000000 / s }'
else
	echo "append failed"
	rc=1
fi

# 3. A server under 256 concurrent writers, if the hammer is built and runs.
if [ -x "$HAMMER" ] && "$HAMMER" --help >/dev/null 2>&1; then
	D=$SCRATCH/serve
	mkdir "$D" || exit 1
	"$VITRINE" init --dir "$D" --origin "$ORIGIN" >/dev/null || rc=1
	"$VITRINE" serve --dir "$D" --listen 127.0.0.1:0 >"$D.out" 2>&1 &
	SERVER_PID=$!
	URL=
	i=0
	while [ $i -lt 100 ] && [ -z "$URL" ]; do
		URL=$(sed -n 's|^vitrine serving .* on \(http://[^/]*\)/.*|\1|p' "$D.out")
		[ -z "$URL" ] && sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$URL" ] || ! kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "run.sh: the server did not start:" >&2
		cat "$D.out" >&2
		rc=1
	else
		say "$HAMMER --url $URL --token-file $D/admin.token --vkey $D/log.vkey" \
			"--writers 256 --duration 15"
		"$HAMMER" --url "$URL" --token-file "$D/admin.token" --vkey "$D/log.vkey" \
			--writers 256 --duration 15 || rc=1
		# The same with the readers held to 100 requests/s, as Tessera's
		# hammer holds its own: unbounded readers take CPU the writers
		# and the server would have (see "cpu" in both runs).
		say "$HAMMER --url $URL --token-file $D/admin.token --vkey $D/log.vkey" \
			"--writers 256 --duration 15 --read-rate 100"
		"$HAMMER" --url "$URL" --token-file "$D/admin.token" --vkey "$D/log.vkey" \
			--writers 256 --duration 15 --read-rate 100 || rc=1
	fi
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
else
	printf '\n(vt_hammer not built or not working yet: server figures skipped)\n'
fi

# 4. Hash lookups over HTTP in batches of 1,000 (half known), measured by the
# lookup integration test's own setup: a site, a policy, uploads, 4 clients.
say "VT_LOOKUP_BENCH_REQUESTS=4000 sh tests/integration/lookup.sh $VITRINE"
SRC=$(cd "$(dirname "$0")/.." && pwd)
VT_TEST_DATA=$SRC/tests/data VT_LOOKUP_BENCH_REQUESTS=4000 \
	sh "$SRC/tests/integration/lookup.sh" "$VITRINE" >"$SCRATCH/lookup.out" 2>&1 || rc=1
grep 'lookup throughput' "$SCRATCH/lookup.out" | sed 's/^# //' ||
	{ tail -5 "$SCRATCH/lookup.out"; rc=1; }

# 5. File intake over HTTP (POST /api/v1/files): distinct 1 MiB and 4 KiB
# files from 32 clients, each stored in the vault, indexed and logged before
# its answer, and 4 KiB files from one client (the latency of an upload
# alone); then, in this same run, the bound set by the intake's per-byte
# work (SHA-256, SHA-1, MD5 and the vault's AES-256-GCM sealing of the same
# sizes) in one thread, and the vault's durable store alone from 32
# threads on the server's filesystem. Goals (issue 3): 400 MB/s of 1 MiB
# files, 5,000 files/s of 4 KiB files.
if [ -x "$HAMMER" ] && "$HAMMER" --help 2>/dev/null | grep -q -- --intake; then
	D=$SCRATCH/intake
	POL=$SRC/tests/data/policy
	mkdir "$D" || exit 1
	"$VITRINE" init --dir "$D" --origin zrh.vitrine.example/log --jurisdiction CH-ZRH \
		>/dev/null &&
		"$VITRINE" policy adopt "$POL/federation.policy.signed" --dir "$D" \
			--vkey "$POL/policy.vkey" >/dev/null &&
		"$VITRINE" token create --dir "$D" --role submitter --name bench --tenant acme \
			--region EU 2>/dev/null | grep -o 'vt_[0-9a-f]\{64\}' | head -1 >"$D.token" ||
		rc=1
	# The intake's own figures: analysing every stored file (issue 4,
	# bench/scan.sh) would take the same two cores.
	"$VITRINE" serve --no-analysis --dir "$D" --listen 127.0.0.1:0 >"$D.out" 2>&1 &
	SERVER_PID=$!
	URL=
	i=0
	while [ $i -lt 100 ] && [ -z "$URL" ]; do
		URL=$(sed -n 's|^vitrine serving .* on \(http://[^/]*\)/.*|\1|p' "$D.out")
		[ -z "$URL" ] && sleep 0.1
		i=$((i + 1))
	done
	if [ -z "$URL" ] || ! kill -0 "$SERVER_PID" 2>/dev/null || [ ! -s "$D.token" ]; then
		echo "run.sh: the intake server did not start:" >&2
		cat "$D.out" >&2
		rc=1
	else
		for spec in "1048576 500" "4096 10000"; do
			set -- $spec
			say "$HAMMER --url $URL --token-file $D.token --intake $2 --file-size $1 --clients 32"
			keep "$SCRATCH/intake-$1.out" "$HAMMER" --url "$URL" --token-file "$D.token" \
				--intake "$2" --file-size "$1" --clients 32
		done
		# One client: the latency of an upload nobody waits behind (its
		# vault fsyncs and the log's group commit). 32 clients, each
		# waiting for its receipt, make at most 32 / that many files/s.
		say "$HAMMER --url $URL --token-file $D.token --intake 300 --file-size 4096 --clients 1"
		keep "$SCRATCH/intake-alone.out" "$HAMMER" --url "$URL" --token-file "$D.token" \
			--intake 300 --file-size 4096 --clients 1
	fi
	kill "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
	BOUNDDIR=/dev/shm
	[ -d "$BOUNDDIR" ] && [ -w "$BOUNDDIR" ] || BOUNDDIR=$SCRATCH
	for spec in "1048576 256" "4096 20000"; do
		set -- $spec
		say "$HAMMER --seal-bound --intake $2 --file-size $1 --dir $BOUNDDIR"
		keep "$SCRATCH/bound-$1.out" "$HAMMER" --seal-bound --intake "$2" --file-size "$1" \
			--dir "$BOUNDDIR"
	done
	# The vault's durable store alone (per file: seal, fsync, link, fsync
	# of the directory), 32 threads, on the filesystem the server used.
	say "$HAMMER --store-bound --intake 10000 --file-size 4096 --clients 32 --dir $SCRATCH"
	keep "$SCRATCH/store-4096.out" "$HAMMER" --store-bound --intake 10000 --file-size 4096 \
		--clients 32 --dir "$SCRATCH"
	field() { grep '^summary ' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
	MB=$(field "$SCRATCH/intake-1048576.out" mb_per_s)
	FPS=$(field "$SCRATCH/intake-4096.out" files_per_s)
	BMB=$(field "$SCRATCH/bound-1048576.out" bound_mb_per_s)
	BFPS=$(field "$SCRATCH/bound-4096.out" bound_files_per_s)
	SFPS=$(field "$SCRATCH/store-4096.out" store_files_per_s)
	ALONE=$(field "$SCRATCH/intake-alone.out" p50_ms)
	awk -v mb="${MB:-0}" -v fps="${FPS:-0}" -v bmb="${BMB:-0}" -v bfps="${BFPS:-0}" \
		-v sfps="${SFPS:-0}" -v alone="${ALONE:-0}" 'BEGIN {
		printf "\nintake, 1 MiB files: %.1f MB/s (goal 400: %s), %.1f%% of the one-thread bound %.1f MB/s\n",
			mb, (mb >= 400 ? "met" : "NOT met"), (bmb > 0 ? 100 * mb / bmb : 0), bmb
		printf "intake, 4 KiB files: %.0f files/s (goal 5,000: %s), %.1f%% of the one-thread bound %.0f files/s,\n",
			fps, (fps >= 5000 ? "met" : "NOT met"), (bfps > 0 ? 100 * fps / bfps : 0), bfps
		printf "  %.1f%% of the vault'"'"'s durable store alone, %.0f files/s from 32 threads\n",
			(sfps > 0 ? 100 * fps / sfps : 0), sfps
		printf "  one upload alone takes %.1f ms (p50): 32 clients waiting for receipts make at most %.0f files/s\n",
			alone, (alone > 0 ? 32 * 1000 / alone : 0) }'
else
	printf '\n(vt_hammer has no --intake: intake figures skipped)\n'
fi
# The analysis engine and the build sandbox have their own scripts.
say "sh bench/scan.sh $B 300"
sh "$(dirname "$0")/scan.sh" "$B" 300 || rc=1
say "sh bench/sandbox.sh $B 5"
sh "$(dirname "$0")/sandbox.sh" "$B" 5 || rc=1
# The retro-scan at a site holding many samples, and lookups with verdicts
# (VT_BENCH_RETRO_N samples, default 100,000: about 15 minutes on 2 CPUs).
say "sh bench/retroscan.sh $B ${VT_BENCH_RETRO_N:-100000} $PARENT"
sh "$(dirname "$0")/retroscan.sh" "$B" "${VT_BENCH_RETRO_N:-100000}" "$PARENT" || rc=1
exit $rc
