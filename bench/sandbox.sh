#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Sandbox overhead: the same build (a generated C file of some size,
# compiled and linked with cc -O2) run N times on the host and N times
# through `vitrine build --once`, in one run; prints both medians and the
# overhead (goal: at most 10% slower). Usage: bench/sandbox.sh BUILD_DIR [N]
set -eu
B=${1:?usage: bench/sandbox.sh BUILD_DIR [N]}
N=${2:-5}
V=$B/vitrine
[ -x "$V" ] || { echo "no $V: build first" >&2; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/vt-bench-sandbox.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/src"
# A few seconds of compiler work on a quiet machine: many small functions.
python3 - "$T/src/big.c" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("#include <stdio.h>\n")
    for i in range(300):
        f.write(f"int f{i}(int x) {{ int s = 0; for (int k = 0; k < x; k++) s += k * {i} ^ (s >> 3); return s; }}\n")
    f.write("int main(void) { long t = 0;\n")
    for i in range(0, 300, 7):
        f.write(f" t += f{i}({i % 13});\n")
    f.write(' printf("%ld\\n", t); return 0; }\n')
PY
STEPS='cc -O2 -o "$VT_OUT/big" "$VT_SRC/big.c"'
D=$("$V" build --tree-digest "$T/src")
cat >"$T/big.recipe" <<R
Name: big
Version: 1
Source: src $D
Source-Date-Epoch: 1700000000
Toolchain: /usr/bin/cc
Build:
 $STEPS
Outputs: big
R
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
: >"$T/host.t"
: >"$T/sandbox.t"
i=0
while [ $i -lt "$N" ]; do
	# Interleaved, so that drifts of the machine hit both alike.
	rm -rf "$T/hout" && mkdir -p "$T/hout"
	s=$(now)
	VT_SRC=$T/src VT_OUT=$T/hout sh -e -c "cd '$T' && $STEPS"
	e=$(now)
	echo "$e - $s" | bc >>"$T/host.t"
	rm -rf "$T/sout"
	s=$(now)
	"$V" build --once "$T/big.recipe" --out "$T/sout" >/dev/null
	e=$(now)
	echo "$e - $s" | bc >>"$T/sandbox.t"
	i=$((i + 1))
done
H=$(median <"$T/host.t")
S=$(median <"$T/sandbox.t")
echo "sandbox overhead, $N builds each (cc -O2 of a 300-function C file):"
echo "  host:    median $H s  ($(tr '\n' ' ' <"$T/host.t"))"
echo "  sandbox: median $S s  ($(tr '\n' ' ' <"$T/sandbox.t"))"
echo "  overhead: $(echo "scale=1; ($S - $H) * 100 / $H" | bc) % (goal: at most 10 %; includes vitrine's"
echo "            source digest, toolchain hashing and sandbox self-check)"
