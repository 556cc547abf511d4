#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The conveyer end to end: build the hello program and a YARA rule
# database, upload them to a site, publish (refused before the build is
# logged), rebuild by an independent rebuilder who submits its signed
# statement, then verify on an endpoint: accepted, and each failure
# (tampered artifact or envelope, wrong builder key, missing or forged
# inclusion proof, too few cosignatures, rolled-back checkpoint, too few
# rebuilds, unreachable log) refused with its own check name and exit code.
VITRINE=${1:?usage: release.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
DATA=${VT_TEST_DATA:?}/conveyer
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"

say "keys: a builder, two rebuilders, three witnesses, an impostor"
for k in builder rb1 rb2 impostor; do
	expect_ok "key $k" $V key generate $k.example --out "$T/$k.key"
done
for w in w1 w2 w3; do
	expect_ok "witness key $w" $V key generate $w.example --cosigner --out "$T/$w.key"
done

say "a site that trusts the builder and both rebuilders"
expect_ok "init" $V init --dir "$D" --origin conveyer.example/log
expect_ok "trust the builder" $V release trust --builder "$T/builder.key.vkey" --dir "$D"
expect_ok "trust rebuilder 1" $V release trust --rebuilder "$T/rb1.key.vkey" --dir "$D"
expect_ok "trust rebuilder 2" $V release trust --rebuilder "$T/rb2.key.vkey" --dir "$D"
expect_ok "trusting twice keeps one line" $V release trust --rebuilder "$T/rb2.key.vkey" --dir "$D"
[ "$(wc -l <"$D/conveyer/rebuilders")" -eq 2 ] || fail "rebuilders file: $(cat "$D/conveyer/rebuilders")"
expect_error "a witness key cannot be a builder" "type 0x01" \
	$V release trust --builder "$T/w1.key.vkey" --dir "$D"
token() {
	$V token create --dir "$D" "$@" | grep -o 'vt_[0-9a-f]\{64\}' | head -1
}
BT=$(token --role builder --name ci)
RT1=$(token --role rebuilder --name rb1)
RT2=$(token --role rebuilder --name rb2)
[ -n "$BT" ] && [ -n "$RT1" ] && [ -n "$RT2" ] || fail "tokens"
ok "builder and rebuilder tokens"
start_server site "$D"
LOGKEY=$D/log.vkey
BID=https://builders.example/ci

say "build hello and the rules, each twice under varied runs"
expect_ok "build hello" $V build "$DATA/hello/hello.recipe" --out "$T/hb" --key "$T/builder.key" --builder-id $BID
expect_ok "build rules" $V build "$DATA/rules/rules.recipe" --out "$T/rb" --key "$T/builder.key" --builder-id $BID

say "publish before upload is refused; upload, then publish"
expect_error "publish before the build is logged" "404|no build" \
	$V release publish hello 1.0 --url "$URL" --token "$BT"
expect_error "upload with a rebuilder token" "403|builder token" \
	$V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$RT1"
expect_ok "upload hello" $V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$BT"
cp "$T/last.out" "$T/up.json"
jq -e '.name == "hello" and .version == "1.0" and (.receipt | startswith("c2sp.org/tlog-proof@v1"))' \
	"$T/up.json" >/dev/null || fail "upload answer: $(cat "$T/up.json")"
ok "the upload is answered with the build entry's receipt"
jq -j .entry "$T/up.json" >"$T/build.entry"
jq -j .receipt "$T/up.json" >"$T/build.proof"
grep_ok "build entry names the envelope" "^envelope sha256:$(sha256sum "$T/hb/hello-1.0.intoto.jsonl" | cut -c1-0)" "$T/build.entry"
head -c -1 "$T/hb/hello-1.0.intoto.jsonl" | sha256sum | cut -d' ' -f1 >"$T/envsha"
grep_ok "entry envelope digest is sha256 of the envelope" "^envelope sha256:$(cat "$T/envsha")$" "$T/build.entry"
grep_ok "entry subject hello" "^subject sha256:$(sha256sum "$T/hb/hello" | cut -d' ' -f1) hello$" "$T/build.entry"
expect_ok "the receipt verifies with the log key" $V log verify-proof "$T/build.proof" --vkey "$LOGKEY" --entry "$T/build.entry"
expect_error "the same build twice" "409|already built" \
	$V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$BT"

say "the site refuses a build signed by an untrusted key and a tampered artifact"
expect_ok "impostor build" $V build "$DATA/rules/rules.recipe" --out "$T/ib" --key "$T/impostor.key" --builder-id $BID --once
expect_error "untrusted builder key" "400|no trusted builder" \
	$V release upload "$DATA/rules/rules.recipe" --out "$T/ib" --url "$URL" --token "$BT"
cp -r "$T/rb" "$T/rbt"
printf 'x' >>"$T/rbt/rules.list"
expect_error "an artifact that is not its subject" "400|not the subject" \
	$V release upload "$DATA/rules/rules.recipe" --out "$T/rbt" --url "$URL" --token "$BT"
expect_ok "upload rules" $V release upload "$DATA/rules/rules.recipe" --out "$T/rb" --url "$URL" --token "$BT"

say "uploads stream: a 96 MiB artifact, the client's memory stays small"
expect_ok "build big" $V build "$DATA/big/big.recipe" --out "$T/bb" --key "$T/builder.key" --builder-id $BID
/usr/bin/time -f '%M' -o "$T/big.rss" $V release upload "$DATA/big/big.recipe" --out "$T/bb" \
	--url "$URL" --token "$BT" >"$T/big.out" 2>"$T/big.err" || fail "upload big: $(cat "$T/big.err")"
RSS=$(tail -n 1 "$T/big.rss")
[ "$RSS" -lt 65536 ] || fail "uploading 96 MiB took $RSS KiB of memory: not streamed"
ok "upload big streamed (max RSS $RSS KiB)"
BH=$(sha256sum "$T/bb/big.bin" | cut -d' ' -f1)
curl -sf "$URL/api/v1/artifacts/$BH" | cmp -s - "$T/bb/big.bin" || fail "big artifact bytes differ"
ok "the site stored the big artifact intact"
say "the site bounds what an upload holds in memory: envelope 1 MiB, recipe 64 KiB"
head -c 1048577 /dev/zero | tr '\0' ' ' >"$T/bigenv"
head -c 65537 /dev/zero | tr '\0' '#' >"$T/bigrecipe"
printf 'x' >"$T/x"
code=$(curl -s -o "$T/413.json" -w '%{http_code}' -H "Authorization: Bearer $BT" -F "envelope=@$T/bigenv" \
	-F "recipe=@$T/x" "$URL/api/v1/builds")
[ "$code" = 413 ] && jq -e '.error.code == "too_large"' "$T/413.json" >/dev/null ||
	fail "an envelope of 1 MiB + 1: $code $(cat "$T/413.json")"
ok "an envelope above 1 MiB: 413 too_large"
code=$(curl -s -o "$T/413.json" -w '%{http_code}' -H "Authorization: Bearer $BT" -F "envelope=@$T/x" \
	-F "recipe=@$T/bigrecipe" "$URL/api/v1/builds")
[ "$code" = 413 ] && jq -e '.error.code == "too_large"' "$T/413.json" >/dev/null ||
	fail "a recipe of 64 KiB + 1: $code $(cat "$T/413.json")"
ok "a recipe above 64 KiB: 413 too_large"
code=$(curl -s -o "$T/413.json" -w '%{http_code}' -H "Authorization: Bearer $RT1" -H 'Content-Type: application/json' \
	--data-binary "@$T/bigenv" "$URL/api/v1/rebuilds")
[ "$code" = 413 ] || fail "a rebuild envelope of 1 MiB + 1: $code $(cat "$T/413.json")"
ok "a rebuild envelope above 1 MiB: 413"

say "blobs are public, by digest, immutable"
H=$(sha256sum "$T/hb/hello" | cut -d' ' -f1)
curl -sf "$URL/api/v1/artifacts/$H" -o "$T/dl" || fail "artifact download"
cmp -s "$T/dl" "$T/hb/hello" || fail "artifact bytes differ"
curl -sI "$URL/api/v1/artifacts/$H" | grep -qi 'cache-control: public, max-age=31536000, immutable' ||
	fail "no immutable caching header"
ok "artifact served, same bytes, immutable"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/artifacts/$(printf %064d 0)")" = 404 ] || fail "unknown: not 404"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/sources/XYZ")" = 400 ] || fail "bad hash: not 400"
curl -s "$URL/api/v1/attestations/ABC" | jq -e '.error.code == "bad_hash"' >/dev/null || fail "bad hash body"
ok "404 for unknown, 400 with a JSON error for a malformed hash"

say "publish"
expect_ok "publish hello" $V release publish hello 1.0 --url "$URL" --token "$BT"
jq -e '.build_index >= 0 and (.receipt | length) > 0' "$T/last.out" >/dev/null || fail "publish answer"
expect_ok "publish rules" $V release publish test-rules 2024.1 --url "$URL" --token "$BT"
expect_error "publish twice" "409|already released" $V release publish hello 1.0 --url "$URL" --token "$BT"
curl -sf "$URL/api/v1/releases" >"$T/rels.json" || fail "list"
jq -e '.releases | length == 2' "$T/rels.json" >/dev/null || fail "releases: $(cat "$T/rels.json")"
ok "two releases listed"

say "independent rebuilders, each with its own key and directory"
expect_ok "rebuilder 1 reproduces hello" $V rebuild hello@1.0 --url "$URL" --key "$T/rb1.key" \
	--log-key "$LOGKEY" --out "$T/r1" --submit --token "$RT1"
grep_ok "reproduced" "reproduced" "$T/last.out"
[ -f "$T/r1/hello-1.0.rebuild.intoto.jsonl" ] || fail "rebuild statement not kept"
expect_error "the same rebuilder twice" "409|already" $V rebuild hello@1.0 --url "$URL" --key "$T/rb1.key" \
	--log-key "$LOGKEY" --out "$T/r1b" --submit --token "$RT1"
expect_error "an untrusted rebuilder key" "400|no trusted rebuilder" $V rebuild hello@1.0 --url "$URL" \
	--key "$T/impostor.key" --log-key "$LOGKEY" --out "$T/ri" --submit --token "$RT2"
expect_ok "rebuilder 1 reproduces the rules" $V rebuild test-rules@2024.1 --url "$URL" --key "$T/rb1.key" \
	--log-key "$LOGKEY" --out "$T/r1r" --submit --token "$RT1"
say "a build that does not reproduce on its own machine: its rebuilder says differs"
expect_ok "build flaky once" $V build "$DATA/flaky/flaky.recipe" --out "$T/fb" --key "$T/builder.key" --builder-id $BID --once
expect_ok "upload flaky" $V release upload "$DATA/flaky/flaky.recipe" --out "$T/fb" --url "$URL" --token "$BT"
expect_ok "publish flaky" $V release publish flaky 1.0 --url "$URL" --token "$BT"
expect_error "the rebuilder's own two runs differ" "own runs differ" $V rebuild flaky@1.0 --url "$URL" \
	--key "$T/rb2.key" --log-key "$LOGKEY" --out "$T/rf" --submit --token "$RT2"
grep_ok "the report names the output" "jobs.txt differs: run 1 sha256:[0-9a-f]{64}, run 2" "$T/last.out"
grep_ok "rebuilt: differs" "^rebuilt flaky 1.0: differs" "$T/last.out"
python3 - "$T/rf/flaky-1.0.rebuild.intoto.jsonl" <<'PY' || fail "the flaky rebuild statement"
import sys, json, base64
st = json.loads(base64.b64decode(json.loads(open(sys.argv[1]).read())["payload"]))
p = st["predicate"]
assert p["result"] == "differs" and p["ownRuns"] == "differ" and p["differences"] == [], p
PY
ok "the statement says differs, ownRuns differ"
curl -sf "$URL/api/v1/releases/flaky/1.0" | jq -e '.rebuilds[0].result == "differs"' >/dev/null ||
	fail "flaky: the logged rebuild is not differs"
ok "the site logged the rebuild as differs"
curl -sf "$URL/api/v1/releases/hello/1.0" >"$T/rel.json" || fail "release"
jq -e '(.rebuilds | length) == 1 and .rebuilds[0].result == "reproduced" and
	(.build.receipt | length) > 0 and (.release.receipt | length) > 0' "$T/rel.json" >/dev/null ||
	fail "release: $(cat "$T/rel.json")"
ok "release lists artifacts, receipts and the rebuild"

say "an endpoint's policy: builder, log, 2 of 3 witnesses, 1 rebuilder of 2"
policy() { # FILE BUILDERKEY REBUILD_THRESHOLD
	{
		echo "# endpoint policy"
		echo "builder-key $(cat "$2")"
		echo "builder-id $BID"
		echo "log-key $(cat "$LOGKEY")"
		for w in w1 w2 w3; do echo "witness-key $(cat "$T/$w.key.vkey")"; done
		echo "witness-threshold 2"
		echo "rebuilder-key $(cat "$T/rb1.key.vkey")"
		echo "rebuilder-key $(cat "$T/rb2.key.vkey")"
		echo "rebuild-threshold $3"
		echo "source ${4:-hello}"
	} >"$1"
}
policy "$T/policy" "$T/builder.key.vkey" 1
curl -sf "$URL/log/checkpoint" >"$T/cp1" || fail "checkpoint"
cp "$T/cp1" "$T/cp1-one"
expect_ok "witness 1 cosigns" $V log cosign "$T/cp1-one" --key "$T/w1.key"
cp "$T/cp1-one" "$T/cp1-two"
expect_ok "witness 2 cosigns" $V log cosign "$T/cp1-two" --key "$T/w2.key"
expect_ok "bundle" $V bundle hello@1.0 --url "$URL" --checkpoint "$T/cp1-two" -o "$T/hello.bundle"
expect_ok "bundle rules" $V bundle test-rules@2024.1 --url "$URL" --checkpoint "$T/cp1-two" -o "$T/rules.bundle"
expect_ok "bundle with one cosignature" $V bundle hello@1.0 --url "$URL" --checkpoint "$T/cp1-one" -o "$T/one.bundle"

# refused CODE CHECK WHAT ARGS...: verify fails with that check and exit code
refused() {
	_code=$1
	_check=$2
	_what=$3
	shift 3
	expect_error "$_what" "^vitrine: verify: $_check: " $V verify "$@"
	[ "$RC" -eq "$_code" ] || fail "$_what: exit $RC, want $_code"
}
say "verify on an endpoint, offline"
expect_ok "accepted offline" $V verify "$T/hb/hello" --policy "$T/policy" --bundle "$T/hello.bundle" --state "$T/ep"
grep_ok "accepted line" "^accepted .* hello 1.0 sha256:$H: entry [0-9]+ in checkpoint [0-9]+, 2 witness cosignatures, 1 reproducing rebuilders" "$T/last.out"
[ -f "$T/ep/checkpoint" ] || fail "state not kept"
policy "$T/rpolicy" "$T/builder.key.vkey" 1 test-rules
expect_ok "the rules database accepted" $V verify "$T/rb/rules.yarc" --policy "$T/rpolicy" --bundle "$T/rules.bundle"
printf 'tampered' >"$T/tampered"
cat "$T/hb/hello" >>"$T/tampered"
refused 13 subject "a tampered artifact" "$T/tampered" --policy "$T/policy" --bundle "$T/hello.bundle"
# tampered envelope: one byte of the payload changed
python3 - "$T/hello.bundle" "$T/tenv.bundle" <<'PY'
import sys, re
b = open(sys.argv[1], 'rb').read()
i = b.index(b'"payload":"') + 20
c = b[i:i+1]
b = b[:i] + (b'B' if c != b'B' else b'C') + b[i+1:]
open(sys.argv[2], 'wb').write(b)
PY
refused 12 envelope "a tampered envelope" "$T/hb/hello" --policy "$T/policy" --bundle "$T/tenv.bundle"
policy "$T/wpolicy" "$T/impostor.key.vkey" 1
refused 12 envelope "a wrong builder key" "$T/hb/hello" --policy "$T/wpolicy" --bundle "$T/hello.bundle"
policy "$T/spolicy" "$T/builder.key.vkey" 1 test-rules
refused 14 predicate "another source's policy, this artifact" "$T/hb/hello" --policy "$T/spolicy" --bundle "$T/hello.bundle"
# missing inclusion proof: the proof section emptied
python3 - "$T/hello.bundle" "$T/noproof.bundle" "$T/forged.bundle" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
def sections(b):
    head, rest = b.split(b'\n', 1)
    out = []
    while rest:
        line, rest = rest.split(b'\n', 1)
        name, n = line.split(b' ')
        n = int(n)
        out.append((name, rest[:n]))
        rest = rest[n + 1:]
    return head, out
def join(head, secs):
    return head + b'\n' + b''.join(n + b' ' + str(len(d)).encode() + b'\n' + d + b'\n' for n, d in secs)
head, secs = sections(b)
open(sys.argv[2], 'wb').write(join(head, [(n, b'' if n == b'proof' else d) for n, d in secs]))
# forged: the first hash of the proof replaced
def forge(d):
    lines = d.split(b'\n')
    for i, l in enumerate(lines):
        if i > 1 and len(l) == 44:
            lines[i] = b'A' * 43 + b'='
            break
    return b'\n'.join(lines)
open(sys.argv[3], 'wb').write(join(head, [(n, forge(d) if n == b'proof' else d) for n, d in secs]))
PY
refused 16 inclusion "a missing inclusion proof" "$T/hb/hello" --policy "$T/policy" --bundle "$T/noproof.bundle"
refused 16 inclusion "a forged inclusion proof" "$T/hb/hello" --policy "$T/policy" --bundle "$T/forged.bundle"
refused 17 cosignatures "too few cosignatures" "$T/hb/hello" --policy "$T/policy" --bundle "$T/one.bundle"
say "several artifacts in one run: one line each, the exit status the highest"
expect_ok "both subjects of hello with one bundle" $V verify "$T/hb/hello" "$T/hb/share/greeting.txt" \
	--policy "$T/policy" --bundle "$T/hello.bundle"
[ "$(grep -c '^accepted ' "$T/last.out")" -eq 2 ] || fail "two accepted lines: $(cat "$T/last.out")"
grep_ok "the second line names its artifact" "^accepted $T/hb/share/greeting.txt hello 1.0 " "$T/last.out"
expect_error "a tampered artifact among good ones" "^vitrine: verify: 1 of 3 artifacts refused \(worst: subject, exit 13\)$" \
	$V verify "$T/hb/hello" "$T/tampered" "$T/hb/share/greeting.txt" --policy "$T/policy" --bundle "$T/hello.bundle"
[ "$RC" -eq 13 ] || fail "exit $RC, want 13"
grep_ok "the refused line" "^refused $T/tampered subject \(exit 13\): subject: " "$T/last.out"
[ "$(grep -c '^accepted ' "$T/last.out")" -eq 2 ] || fail "the good ones: $(cat "$T/last.out")"
expect_error "a bundle per artifact, the worst exit wins" "2 of 3 artifacts refused \(worst: cosignatures, exit 17\)" \
	$V verify "$T/hb/hello" "$T/tampered" "$T/hb/hello" --policy "$T/policy" \
	--bundle "$T/hello.bundle" --bundle "$T/hello.bundle" --bundle "$T/one.bundle"
[ "$RC" -eq 17 ] || fail "exit $RC, want 17"
expect_error "bundles neither one nor one per artifact" "usage|once per artifact" \
	$V verify "$T/hb/hello" "$T/tampered" "$T/hb/hello" --policy "$T/policy" \
	--bundle "$T/hello.bundle" --bundle "$T/hello.bundle"
[ "$RC" -eq 2 ] || fail "exit $RC, want 2"
policy "$T/p2" "$T/builder.key.vkey" 2
refused 19 rebuilds "too few rebuilds" "$T/hb/hello" --policy "$T/p2" --bundle "$T/hello.bundle"
grep -q '^rebuild-proof ' "$T/hello.bundle" || fail "the bundle carries no rebuild-proof"
ok "the bundle carries the rebuild's entry and inclusion proof"
# A valid statement of rebuilder 2 that was never submitted, with the
# rebuild entry it would have and rebuilder 1's proof (of another entry),
# so the bundle holds two reproducing statements, one of them not logged.
expect_ok "rebuilder 2 reproduces hello without submitting" $V rebuild hello@1.0 --url "$URL" \
	--key "$T/rb2.key" --log-key "$LOGKEY" --out "$T/r2u"
python3 - "$T/hello.bundle" "$T/unlogged.bundle" "$T/r2u/hello-1.0.rebuild.intoto.jsonl" \
	"$T/rb2.key.vkey" "$(cat "$T/envsha")" "$T/v1.bundle" <<'PY'
import sys, hashlib, base64
b = open(sys.argv[1], 'rb').read()
env = open(sys.argv[3], 'rb').read().rstrip(b'\n')
pub = base64.b64decode(open(sys.argv[4]).read().strip().split('+', 2)[2])[1:]
entry = ("vitrine/1 rebuild\nname hello\nversion 1.0\nbuild sha256:%s\nenvelope sha256:%s\n"
         "key sha256:%s\nresult reproduced\n" % (sys.argv[5], hashlib.sha256(env).hexdigest(),
         hashlib.sha256(pub).hexdigest())).encode()
proof = b[b.index(b'\nrebuild-proof ') + 1:]
proof = proof[proof.index(b'\n') + 1:-1]
sec = lambda n, d: n + b' ' + str(len(d)).encode() + b'\n' + d + b'\n'
open(sys.argv[2], 'wb').write(b + sec(b'rebuild', env) + sec(b'rebuild-entry', entry) + sec(b'rebuild-proof', proof))
open(sys.argv[6], 'wb').write(b.replace(b'vitrine-bundle/2', b'vitrine-bundle/1', 1))
PY
[ -s "$T/unlogged.bundle" ] || fail "could not make the unlogged bundle"
refused 19 rebuilds "a valid rebuild statement that is not logged" "$T/hb/hello" --policy "$T/p2" --bundle "$T/unlogged.bundle"
refused 11 bundle "a version 1 bundle" "$T/hb/hello" --policy "$T/policy" --bundle "$T/v1.bundle"

say "a second rebuilder, a newer checkpoint; then the older one is a rollback"
expect_ok "rebuilder 2 reproduces hello" $V rebuild hello@1.0 --url "$URL" --key "$T/rb2.key" \
	--log-key "$LOGKEY" --out "$T/r2" --submit --token "$RT2"
curl -sf "$URL/log/checkpoint" >"$T/cp2" || fail "checkpoint 2"
$V log cosign "$T/cp2" --key "$T/w2.key" >/dev/null && $V log cosign "$T/cp2" --key "$T/w3.key" >/dev/null ||
	fail "cosign cp2"
expect_ok "bundle with a consistency proof" $V bundle hello@1.0 --url "$URL" --checkpoint "$T/cp2" \
	--since "$T/ep/checkpoint" -o "$T/hello2.bundle"
expect_ok "two rebuilders now" $V verify "$T/hb/hello" --policy "$T/p2" --bundle "$T/hello2.bundle" --state "$T/ep"
grep_ok "2 rebuilders" "2 reproducing rebuilders" "$T/last.out"
refused 18 consistency "a rolled-back checkpoint" "$T/hb/hello" --policy "$T/policy" --bundle "$T/hello.bundle" --state "$T/ep"
cmp -s "$T/ep/checkpoint" "$T/cp2" || fail "the state changed after a refusal"
ok "the state kept the newer checkpoint"

say "online verification, then an unreachable log"
expect_ok "accepted online" $V verify "$T/hb/hello" --policy "$T/p2" --url "$URL" --checkpoint "$T/cp2" --state "$T/ep"
refused 17 cosignatures "online without cosignatures" "$T/hb/hello" --policy "$T/p2" --url "$URL" --state "$T/ep"
stop_server
refused 20 unreachable "the site is down" "$T/hb/hello" --policy "$T/p2" --url "$URL" --checkpoint "$T/cp2" --state "$T/ep"
expect_ok "offline still works" $V verify "$T/hb/hello" --policy "$T/p2" --bundle "$T/hello2.bundle" --state "$T/ep"

say "bad policies and bundles"
printf 'builder-key x\n' >"$T/bad.policy"
expect_error "a malformed policy" "line 1" $V verify "$T/hb/hello" --policy "$T/bad.policy" --bundle "$T/hello.bundle"
printf 'not a bundle\n' >"$T/bad.bundle"
refused 11 bundle "a malformed bundle" "$T/hb/hello" --policy "$T/policy" --bundle "$T/bad.bundle"
finish
