#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Run every libFuzzer binary built in BUILD_DIR/fuzz for SECONDS each.
#
# usage: fuzz/run.sh BUILD_DIR [SECONDS]   (as `make fuzz` does)
#
# Each fuzzer reads its committed corpus fuzz/corpus/<name>/ but writes the
# inputs it finds to BUILD_DIR/fuzz-work/<name>/, so a run leaves the
# committed corpus alone; crash inputs go to BUILD_DIR/fuzz-work/artifacts/.
# With FUZZ_MERGE=1, the new inputs that add coverage are then merged into
# the committed corpus (-merge=1), ready to be reviewed and committed.
# FUZZ_ARGS adds libFuzzer flags (say FUZZ_ARGS=-jobs=2). The last line
# counts the fuzzers that passed and failed; the exit status is non-zero
# when any failed.
set -u

build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS]}
secs=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=$build/fuzz-work
passed=0
failed=0

mkdir -p "$work/artifacts" || exit 1
for bin in "$build"/fuzz/fuzz_*; do
	case $bin in *_replay | *.p | *.a) continue ;; esac
	if [ ! -f "$bin" ] || [ ! -x "$bin" ]; then
		continue
	fi
	name=${bin##*/fuzz_}
	corpus=$here/corpus/$name
	mkdir -p "$work/$name" "$corpus"
	log=$work/$name.log
	echo "fuzz: $name for ${secs}s (log: $log)"
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
	if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/$name-" \
		${FUZZ_ARGS:-} "$work/$name" "$corpus" >"$log" 2>&1; then
		passed=$((passed + 1))
		grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -1
	else
		failed=$((failed + 1))
		echo "fuzz: $name FAILED; the end of its log:"
		tail -40 "$log"
		for a in "$work/artifacts/$name-"*; do
			[ -e "$a" ] && echo "fuzz: crash input: $a"
		done
	fi
	if [ "${FUZZ_MERGE:-0}" = 1 ]; then
		"$bin" -merge=1 "$corpus" "$work/$name" >"$work/$name.merge.log" 2>&1 ||
			echo "fuzz: $name: merge failed (see $work/$name.merge.log)"
		echo "fuzz: $name corpus: $(find "$corpus" -type f | wc -l) files"
	fi
done
if [ $((passed + failed)) -eq 0 ]; then
	echo "fuzz: no fuzzer in $build/fuzz (configure with CC=clang -Dfuzzing=true)"
	exit 1
fi
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
