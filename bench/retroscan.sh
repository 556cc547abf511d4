#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The retro-scan at a site holding N samples, and lookups with verdicts.
#
# usage: sh bench/retroscan.sh BUILD_DIR [N] [DATA_PARENT]
# N (default 100,000) files of 512 bytes are uploaded with vt_hammer
# --intake to `vitrine serve --no-analysis`; the site restarts with the
# analysis service and a first ruleset (the queue of new samples: first
# analysis of every sample, each logged), then a second ruleset is
# installed through the server and the retro-scan of all N samples is
# timed from GET /api/v1/analysis (its own rate, and N over the wall time).
# Then POST /api/v1/lookup is timed with batches of 1,000 SHA-256s (every
# answer carries a verdict). Prints figures; asserts nothing on time.
set -u
B=${1:?usage: sh bench/retroscan.sh BUILD_DIR [N] [DATA_PARENT]}
N=${2:-100000}
PARENT=${3:-${VT_BENCH_DIR:-/var/tmp}}
SRC=$(cd "$(dirname "$0")/.." && pwd)
V=$B/vitrine
HAMMER=$B/bench/vt_hammer
[ -x "$HAMMER" ] || HAMMER=$B/vt_hammer
POL=$SRC/tests/data/policy
WORKERS=${VT_BENCH_ANALYSIS_WORKERS:-$(nproc)}
for tool in curl jq sqlite3; do
	command -v $tool >/dev/null || { echo "retroscan.sh: $tool is needed" >&2; exit 1; }
done
[ -x "$V" ] && [ -x "$HAMMER" ] || { echo "retroscan.sh: build $B first" >&2; exit 1; }
T=$(mktemp -d "$PARENT/vt-bench-retro.XXXXXX") || exit 1
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
D=$T/site
say() { printf '\n$ %s\n' "$*"; }
now() { date +%s.%N; }

# serve ARGS...: start the server on the site, set URL and PID.
serve() {
	"$V" serve --dir "$D" --listen 127.0.0.1:0 "$@" >"$T/serve.out" 2>"$T/serve.err" &
	PID=$!
	URL=
	i=0
	while [ -z "$URL" ] && [ $i -lt 600 ]; do
		sleep 0.05
		URL=$(sed -n 's|^vitrine serving .* on \(http://[^/]*\)/.*|\1|p' "$T/serve.out")
		i=$((i + 1))
		kill -0 "$PID" 2>/dev/null || break
	done
	[ -n "$URL" ] || { cat "$T/serve.err" >&2; echo "retroscan.sh: no server" >&2; exit 1; }
}
stop() {
	kill "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
	PID=
}
status() { curl -s -H "Authorization: Bearer $ANA" "$URL/api/v1/analysis"; }
# wait_current: until every sample is analysed with the ruleset in force.
wait_current() {
	while :; do
		status >"$T/st.json"
		[ "$(jq -r '.analysed' "$T/st.json")" = "$N" ] && break
		sleep 0.5
	done
}

mkdir "$D" || exit 1
"$V" init --dir "$D" --origin zrh.vitrine.example/log --jurisdiction CH-ZRH >/dev/null &&
	"$V" policy adopt "$POL/federation.policy.signed" --dir "$D" --vkey "$POL/policy.vkey" \
		>/dev/null || exit 1
tok() { "$V" token create --dir "$D" "$@" 2>/dev/null | grep -o 'vt_[0-9a-f]\{64\}' | head -n 1; }
tok --role submitter --name bench --tenant acme --region EU >"$T/sub.token"
ANA=$(tok --role analyst --name ana)
ADM=$(cat "$D/admin.token")

mkdir "$T/r1" "$T/r2"
cat >"$T/r1/r.yar" <<'R'
rule eicar { meta: verdict = "malicious" strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }
rule is_elf { meta: severity = 3 condition: uint32(0) == 0x464c457f }
R
cp "$T/r1/r.yar" "$T/r2/r.yar"
cat >"$T/r2/more.yar" <<'R'
rule mz { meta: severity = 5 condition: uint16(0) == 0x5a4d }
rule large { meta: severity = 2 condition: filesize > 1000000 }
R
"$V" rules install "$T/r1" --dir "$D" >/dev/null || exit 1

serve --no-analysis
say "$HAMMER --url $URL --token-file sub.token --intake $N --file-size 512 --clients 32"
t0=$(now)
"$HAMMER" --url "$URL" --token-file "$T/sub.token" --intake "$N" --file-size 512 --clients 32 |
	tee "$T/intake.out" || exit 1
t1=$(now)
stop
got=$(sqlite3 "$D/index.sqlite" 'select count(*) from samples')
[ "$got" = "$N" ] || { echo "retroscan.sh: $got samples stored, not $N" >&2; exit 1; }
echo "site holds $N samples ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", b - a}') s to upload)"

say "vitrine serve --analysis-workers $WORKERS (first analysis of the queue, rules r1)"
t0=$(now)
serve --analysis-workers "$WORKERS"
wait_current
t1=$(now)
Q=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}')
echo "queue: $N samples analysed and logged in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s: $Q samples/s"

say "vitrine rules install r2 --url URL (retro-scan of $N samples)"
SZ0=$("$V" log checkpoint --url "$URL" | sed -n 2p)
t0=$(now)
"$V" rules install "$T/r2" --dir "$D" --url "$URL" --token "$ADM" >/dev/null || exit 1
wait_current
t1=$(now)
SZ1=$("$V" log checkpoint --url "$URL" | sed -n 2p)
RATE=$(jq -r '.retro_scan.rate' "$T/st.json")
WALL=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}')
echo "retro-scan: $(jq -c '.retro_scan' "$T/st.json")"
echo "retro-scan: $N samples in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}') s: $WALL samples/s wall, $RATE samples/s by the API; $((SZ1 - SZ0 - 1)) changed verdicts logged"

say "POST /api/v1/lookup, batches of 1,000 SHA-256s"
sqlite3 "$D/index.sqlite" 'select lower(hex(sha256)) from samples' >"$T/all.txt"
split -l 1000 "$T/all.txt" "$T/batch."
nb=$(ls "$T"/batch.* | wc -l)
curl -s -H "Authorization: Bearer $ANA" -H 'Content-Type: text/plain' \
	--data-binary "@$(ls "$T"/batch.* | head -n 1)" "$URL/api/v1/lookup" >"$T/lk.json"
withv=$(jq '[.results[] | select(.verdict != null)] | length' "$T/lk.json")
t0=$(now)
for f in "$T"/batch.*; do
	curl -s -o /dev/null -H "Authorization: Bearer $ANA" -H 'Content-Type: text/plain' \
		--data-binary "@$f" "$URL/api/v1/lookup" || exit 1
done
t1=$(now)
echo "lookup: $nb batches, $N hashes in $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b - a}') s: $(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN{printf "%.0f", n / (b - a)}') hashes/s (one curl at a time; $withv of the first 1,000 answers carry a verdict)"
stop
printf '\nsummary samples=%s queue_per_s=%s retro_per_s_api=%s retro_per_s_wall=%s\n' \
	"$N" "$Q" "$RATE" "$WALL"
