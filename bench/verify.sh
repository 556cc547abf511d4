#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Endpoint verification of an offline bundle: a site, a build of hello,
# upload, publish, a rebuild, a cosigned checkpoint, a bundle, then
# `vitrine verify --bundle` run N times (the mean per process, process
# start included), then N artifacts verified in one process (one bundle for
# all, and a bundle given for each), the per-artifact figure and the
# marginal cost of one more artifact in-process (vt_endpoint_verify with
# the artifact's read and hash). Goal: under 5 ms per artifact.
# usage: bench/verify.sh BUILD_DIR [RUNS]
B=${1:?usage: bench/verify.sh BUILD_DIR [RUNS]}
N=${2:-200}
V=$(cd "$B" && pwd)/vitrine
VITRINE=$V
DATA=$(cd "$(dirname "$0")/../tests/data" && pwd)/conveyer
. "$(dirname "$0")/../tests/integration/lib.sh"
D=$T/site
for k in builder rb; do $V key generate $k.example --out "$T/$k.key" >/dev/null 2>&1; done
$V key generate w.example --cosigner --out "$T/w.key" >/dev/null 2>&1
$V init --dir "$D" --origin bench.example/log >/dev/null
$V release trust --builder "$T/builder.key.vkey" --dir "$D" >/dev/null
$V release trust --rebuilder "$T/rb.key.vkey" --dir "$D" >/dev/null
BT=$($V token create --dir "$D" --role builder --name ci | grep -o 'vt_[0-9a-f]\{64\}' | head -1)
RT=$($V token create --dir "$D" --role rebuilder --name rb | grep -o 'vt_[0-9a-f]\{64\}' | head -1)
start_server site "$D"
$V build "$DATA/hello/hello.recipe" --out "$T/hb" --key "$T/builder.key" --builder-id ci >/dev/null 2>&1 || fail build
$V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$BT" >/dev/null || fail upload
$V release publish hello 1.0 --url "$URL" --token "$BT" >/dev/null || fail publish
$V rebuild hello@1.0 --url "$URL" --key "$T/rb.key" --log-key "$D/log.vkey" --out "$T/r" --submit --token "$RT" >/dev/null 2>&1 || fail rebuild
curl -sf "$URL/log/checkpoint" >"$T/cp" && $V log cosign "$T/cp" --key "$T/w.key" >/dev/null || fail cosign
$V bundle hello@1.0 --url "$URL" --checkpoint "$T/cp" -o "$T/b" >/dev/null || fail bundle
stop_server
cat >"$T/policy" <<P
builder-key $(cat "$T/builder.key.vkey")
builder-id ci
log-key $(cat "$D/log.vkey")
witness-key $(cat "$T/w.key.vkey")
witness-threshold 1
rebuilder-key $(cat "$T/rb.key.vkey")
rebuild-threshold 1
source hello
P
$V verify "$T/hb/hello" --policy "$T/policy" --bundle "$T/b" >/dev/null || fail "verify refused"
start=$(date +%s%N)
i=0
while [ $i -lt "$N" ]; do
	$V verify "$T/hb/hello" --policy "$T/policy" --bundle "$T/b" >/dev/null || fail "verify refused"
	i=$((i + 1))
done
end=$(date +%s%N)
ms=$(echo "scale=3; ($end - $start) / 1000000 / $N" | bc)
# The same process doing nothing: its start (dynamic linking) is not verification.
start=$(date +%s%N)
i=0
while [ $i -lt "$N" ]; do
	$V key --help >/dev/null 2>&1
	i=$((i + 1))
done
end=$(date +%s%N)
base=$(echo "scale=3; ($end - $start) / 1000000 / $N" | bc)
# Many artifacts in one process: hello N times (each fully verified).
set --
i=0
while [ $i -lt "$N" ]; do
	set -- "$@" "$T/hb/hello"
	i=$((i + 1))
done
t0=$(date +%s%N)
$V verify "$T/hb/hello" --policy "$T/policy" --bundle "$T/b" >/dev/null || fail "verify refused"
t1=$(date +%s%N)
$V verify "$@" --policy "$T/policy" --bundle "$T/b" >"$T/many.out" || fail "verify of $N refused"
t2=$(date +%s%N)
[ "$(grep -c '^accepted ' "$T/many.out")" -eq "$N" ] || fail "not $N accepted lines"
one=$(echo "scale=3; ($t1 - $t0) / 1000000" | bc)
many=$(echo "scale=3; ($t2 - $t1) / 1000000 / $N" | bc)
marg=$(echo "scale=3; (($t2 - $t1) - ($t1 - $t0)) / 1000000 / ($N - 1)" | bc)
# and with a bundle given for each artifact (read and parsed N times)
bargs=""
i=0
while [ $i -lt "$N" ]; do
	bargs="$bargs --bundle $T/b"
	i=$((i + 1))
done
t3=$(date +%s%N)
# shellcheck disable=SC2086
$V verify "$@" --policy "$T/policy" $bargs >/dev/null || fail "verify of $N with $N bundles refused"
t4=$(date +%s%N)
each=$(echo "scale=3; ($t4 - $t3) / 1000000 / $N" | bc)
echo "verify (offline bundle, $(wc -c <"$T/b") bytes, 1 witness, 1 rebuild):"
echo "  one artifact per process: $ms ms per artifact, mean of $N runs"
echo "  process start alone (vitrine key --help): $base ms; so verification itself: $(echo "$ms - $base" | bc) ms"
echo "  $N artifacts in one process, one bundle: $many ms per artifact (one artifact alone: $one ms)"
echo "  $N artifacts in one process, a bundle each: $each ms per artifact"
echo "  in-process, one more artifact (read, hash, vt_endpoint_verify): $marg ms (goal < 5 ms per artifact)"
finish
