#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Scanning throughput on one corpus and one rule set, in one run:
# `yara -p 2 -r`, `vitrine scan -j 2 --yara-only` and the full analysis
# (`vitrine scan -j 2`: hashes, ssdeep, TLSH, type, YARA, archive members),
# then bench_analysis: each part of the analysis alone on one core.
#
# usage: bench/scan.sh BUILD_DIR [CORPUS_MB]
# The corpus is a copy of the regular ELF files of /usr/bin and
# /usr/lib/x86_64-linux-gnu (no symbolic links, so every tool reads each
# file once), up to CORPUS_MB (default 400). The page cache is warmed
# first; each tool runs twice and the faster run counts.
set -u
build=${1:?usage: bench/scan.sh BUILD_DIR [CORPUS_MB]}
limit=$(( ${2:-400} * 1000000 ))
here=$(cd "$(dirname "$0")/.." && pwd)
V=$build/vitrine
R=$here/tests/data/analysis/bench.yar
J=2
command -v yara >/dev/null || { echo "bench/scan.sh: the yara tool is needed" >&2; exit 1; }
[ -x "$V" ] || { echo "bench/scan.sh: no $V" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vt-bench-scan.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
mkdir "$T/c"
total=0
n=0
for f in /usr/bin/* /usr/lib/x86_64-linux-gnu/*.so*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	s=$(stat -c %s "$f")
	[ $((total + s)) -le "$limit" ] || continue
	n=$((n + 1))
	cp "$f" "$T/c/$n-${f##*/}" 2>/dev/null || continue
	total=$((total + s))
done
cat "$T/c"/* >/dev/null
echo "corpus: $n files, $((total / 1000000)) MB; rules: $(grep -c '^rule' "$R") ($R); $J threads"

now() { date +%s.%N; }
# measure NAME CMD...: run twice, print the faster.
measure() {
	name=$1
	shift
	best=
	for i in 1 2; do
		t0=$(now)
		"$@" >"$T/out" 2>"$T/err"
		rc=$?
		t1=$(now)
		if [ "$rc" -gt 1 ]; then
			echo "$name: exit $rc" >&2
			head -5 "$T/err" >&2
		fi
		t=$(echo "$t1 - $t0" | bc -l)
		if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then
			best=$t
		fi
	done
	printf '%-28s %7.2f s %8.1f MB/s %8.0f files/s\n' "$name" "$best" \
		"$(echo "$total / 1000000 / $best" | bc -l)" "$(echo "$n / $best" | bc -l)"
	eval "T_$(echo "$name" | tr -c 'a-z\n' '_')=$best"
}
measure "yara -p $J -r" yara -p $J -r "$R" "$T/c"
y=$best
measure "vitrine --yara-only -j $J" "$V" scan -j $J --yara-only --rules "$R" "$T/c"
vy=$best
measure "vitrine full -j $J" "$V" scan -j $J --rules "$R" "$T/c"
vf=$best
echo "yara-only vs yara: $(echo "$y / $vy * 100" | bc -l | cut -d. -f1)% of yara's throughput" \
	"(goal >= 100%)"
echo "full analysis vs yara: $(echo "$y / $vf * 100" | bc -l | cut -d. -f1)% (goal >= 70%)"

# Where the full analysis's time goes: each part alone on one core over
# (up to 150 MB of) the same corpus, and the bound the slowest library
# puts on the goal.
if [ -x "$build/bench/bench_analysis" ]; then
	echo
	echo "\$ $build/bench/bench_analysis --rules $R --mb 150 CORPUS"
	"$build/bench/bench_analysis" --rules "$R" --mb 150 "$T/c"
fi
