#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Count test results in the given Meson build directories and print the
# closing line "N passed, N failed, N skipped". A build directory without a
# test log (its build failed, so no test ran) counts as one failure.
pass=0; fail=0; skip=0
for b in "$@"; do
	log="$b/meson-logs/testlog.json"
	if [ ! -f "$log" ]; then
		echo "no test results in $b (did its build fail?)" >&2
		fail=$((fail + 1))
		continue
	fi
	p=$(grep -c '"result": "OK"' "$log"); pass=$((pass + p))
	f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log"); fail=$((fail + f))
	s=$(grep -c -E '"result": "(SKIP|EXPECTEDFAIL)"' "$log"); skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
