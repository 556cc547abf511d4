#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Count test results in the given Meson build directories and print the
# closing line "N passed, N failed, N skipped".
pass=0; fail=0; skip=0
for b in "$@"; do
	log="$b/meson-logs/testlog.json"
	[ -f "$log" ] || continue
	p=$(grep -c '"result": "OK"' "$log"); pass=$((pass + p))
	f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log"); fail=$((fail + f))
	s=$(grep -c -E '"result": "(SKIP|EXPECTEDFAIL)"' "$log"); skip=$((skip + s))
done
echo "$pass passed, $fail failed, $skip skipped"
