#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# A site installs detection rules only from a verified rules release: the
# conveyer builds a YARA rule database, a build site logs, publishes,
# rebuilds and a witness cosigns it; `vitrine rules install --release`
# verifies it at an analysis site as an endpoint would and installs it,
# the `ruleset` entry naming the release; EICAR is then found malicious.
# Refusals (tampered bundle, wrong builder key, 2 rebuilds required, too
# few cosignatures, an artifact that is not a rules file) change nothing.
VITRINE=${1:?usage: rules_release.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
B=$T/build-site
A=$T/site
DATA=${VT_TEST_DATA:?}/conveyer
BID=https://builders.example/ci
command -v jq >/dev/null || fail "jq is needed"

for k in builder rb1 rb2 impostor; do
	expect_ok "key $k" $V key generate $k.example --out "$T/$k.key"
done
expect_ok "witness key" $V key generate w1.example --cosigner --out "$T/w1.key"

say "two releases: a rule database that calls EICAR malicious, and one whose .yarc is not rules"
mkdir -p "$T/rules/src/fam" "$T/fake/src"
cat >"$T/rules/src/eicar.yar" <<'R'
rule eicar_release { meta: verdict = "malicious" strings: $a = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $a }
R
cat >"$T/rules/src/fam/elf.yar" <<'R'
rule elf_release { meta: severity = 0 condition: uint32(0) == 0x464c457f }
R
echo "not compiled rules" >"$T/fake/src/note.txt"
recipe() { # DIR NAME BUILD-LINES...: a recipe in DIR/r.recipe for DIR/src
	_d=$1
	_n=$2
	shift 2
	_td=$($V build --tree-digest "$_d/src") || fail "tree digest of $_d/src"
	{
		echo "Name: $_n"
		echo "Version: 2026.1"
		echo "Source: src $_td"
		echo "Source-Date-Epoch: 1700000000"
		echo "Toolchain: /usr/bin/yarac /bin/sh"
		echo "Build:"
		for l in "$@"; do printf " %s\n" "$l"; done
		echo "Outputs: rules.yarc rules.list"
	} >"$_d/r.recipe"
}
# The build steps of tests/data/conveyer/rules/rules.recipe.
recipe "$T/rules" site-rules \
	"find \"\$VT_SRC\" -name '*.yar' -type f | LC_ALL=C sort > list" \
	"while read -r f; do printf 'include \"%s\"\\n' \"\$f\"; done < list > all.yar" \
	"yarac all.yar \"\$VT_OUT/rules.yarc\"" \
	"cp list \"\$VT_OUT/rules.list\""
grep -q 'yarac all.yar' "$DATA/rules/rules.recipe" || fail "the reference recipe changed"
recipe "$T/fake" fake-rules \
	"cp \"\$VT_SRC/note.txt\" \"\$VT_OUT/rules.yarc\"" \
	"echo note.txt > \"\$VT_OUT/rules.list\""

say "the build site: build, upload, publish, rebuild, cosign"
expect_ok "init the build site" $V init --dir "$B" --origin conveyer.example/log
expect_ok "trust the builder" $V release trust --builder "$T/builder.key.vkey" --dir "$B"
expect_ok "trust the rebuilder" $V release trust --rebuilder "$T/rb1.key.vkey" --dir "$B"
btoken() { $V token create --dir "$B" "$@" | grep -o 'vt_[0-9a-f]\{64\}' | head -1; }
BT=$(btoken --role builder --name ci)
RT=$(btoken --role rebuilder --name rb1)
[ -n "$BT" ] && [ -n "$RT" ] || fail "tokens"
start_server build "$B"
BURL=$URL
for r in rules fake; do
	expect_ok "build $r" $V build "$T/$r/r.recipe" --out "$T/$r/out" --key "$T/builder.key" --builder-id $BID
	expect_ok "upload $r" $V release upload "$T/$r/r.recipe" --out "$T/$r/out" --url "$BURL" --token "$BT"
done
expect_ok "publish site-rules" $V release publish site-rules 2026.1 --url "$BURL" --token "$BT"
expect_ok "publish fake-rules" $V release publish fake-rules 2026.1 --url "$BURL" --token "$BT"
expect_ok "a rebuilder reproduces site-rules" $V rebuild site-rules@2026.1 --url "$BURL" \
	--key "$T/rb1.key" --log-key "$B/log.vkey" --out "$T/r1" --submit --token "$RT"
curl -sf "$BURL/log/checkpoint" >"$T/cp" || fail "checkpoint"
expect_ok "the witness cosigns" $V log cosign "$T/cp" --key "$T/w1.key"
expect_ok "bundle site-rules" $V bundle site-rules@2026.1 --url "$BURL" --checkpoint "$T/cp" -o "$T/rules.bundle"
expect_ok "bundle fake-rules" $V bundle fake-rules@2026.1 --url "$BURL" --checkpoint "$T/cp" -o "$T/fake.bundle"
YARC=$T/rules/out/rules.yarc
DIGEST=$(sha256sum "$YARC" | cut -d' ' -f1)

policy() { # FILE BUILDERKEY REBUILD_THRESHOLD SOURCE
	{
		echo "builder-key $(cat "$2")"
		echo "builder-id $BID"
		echo "log-key $(cat "$B/log.vkey")"
		echo "witness-key $(cat "$T/w1.key.vkey")"
		echo "witness-threshold 1"
		echo "rebuilder-key $(cat "$T/rb1.key.vkey")"
		echo "rebuilder-key $(cat "$T/rb2.key.vkey")"
		echo "rebuild-threshold $3"
		echo "source $4"
	} >"$1"
}
policy "$T/policy" "$T/builder.key.vkey" 1 site-rules
policy "$T/wrongkey" "$T/impostor.key.vkey" 1 site-rules
policy "$T/two" "$T/builder.key.vkey" 2 site-rules
policy "$T/fakepolicy" "$T/builder.key.vkey" 0 fake-rules
expect_ok "vitrine verify accepts the rules" $V verify "$YARC" --policy "$T/policy" --bundle "$T/rules.bundle"

say "the analysis site, with a source ruleset in force"
zurich_site "$A"
ANA=$(token --role analyst --name ana)
EU=$(token --role submitter --name edr --tenant acme --region EU)
printf 'rule first { condition: false }\n' >"$T/first.yar"
expect_ok "a first (source) ruleset" $V rules install "$T/first.yar" --dir "$A"
R0=$(readlink "$A/rules/current")
echo "$(cat "$A/admin.token")" >"$T/admin.token"
start_server site "$A" --analysis-workers 2
AURL=$URL
size() { curl -sf "$AURL/log/checkpoint" | sed -n 2p; }
SIZE0=$(size)
[ -n "$SIZE0" ] || fail "log size"

# refused WHAT EXIT PATTERN ARGS...: install refused with that exit code,
# and nothing changed: log size, rules/current, the endpoint state.
refused() {
	_what=$1
	_code=$2
	_pat=$3
	shift 3
	expect_error "$_what" "$_pat" $V rules install --release "$@" --dir "$A" \
		--url "$AURL" --token-file "$T/admin.token"
	[ "$RC" -eq "$_code" ] || fail "$_what: exit $RC, want $_code"
	sleep 0.3
	[ "$(size)" = "$SIZE0" ] || fail "$_what: the log grew to $(size)"
	[ "$(readlink "$A/rules/current")" = "$R0" ] || fail "$_what: rules/current changed"
	[ ! -e "$A/rules/endpoint-state/checkpoint" ] || fail "$_what: the endpoint state was written"
	ok "$_what: nothing logged, nothing installed"
}
python3 - "$T/rules.bundle" "$T/tampered.bundle" <<'PY'
import sys
b = open(sys.argv[1], 'rb').read()
i = b.index(b'"sig":"') + 12
c = b'A' if b[i:i+1] != b'A' else b'B'
open(sys.argv[2], 'wb').write(b[:i] + c + b[i+1:])
PY
refused "a tampered bundle" 12 "refused, nothing installed: envelope: " site-rules@2026.1 \
	--bundle "$T/tampered.bundle" --artifact "$YARC" --policy "$T/policy"
printf 'garbage' >"$T/garbage.bundle"
refused "a malformed bundle" 11 "refused, nothing installed: bundle: " site-rules@2026.1 \
	--bundle "$T/garbage.bundle" --artifact "$YARC" --policy "$T/policy"
refused "a wrong builder key in the policy" 12 "envelope: " site-rules@2026.1 \
	--bundle "$T/rules.bundle" --artifact "$YARC" --policy "$T/wrongkey"
refused "a policy requiring 2 rebuilds" 19 "rebuilds: " site-rules@2026.1 \
	--bundle "$T/rules.bundle" --artifact "$YARC" --policy "$T/two"
refused "an artifact that is not the release's" 13 "subject: " site-rules@2026.1 \
	--bundle "$T/rules.bundle" --artifact "$T/first.yar" --policy "$T/policy"
refused "the bundle of another version" 11 "bundle: .*not site-rules 2026.2" site-rules@2026.2 \
	--bundle "$T/rules.bundle" --artifact "$YARC" --policy "$T/policy"
refused "online, the site's checkpoint without cosignatures" 17 "cosignatures: " site-rules@2026.1 \
	--from "$BURL" --policy "$T/policy"
refused "online, a wrong builder key" 12 "envelope: " site-rules@2026.1 \
	--from "$BURL" --checkpoint "$T/cp" --policy "$T/wrongkey"
refused "a release whose artifact is not a rules file" 1 "not a compiled YARA rules file" \
	fake-rules@2026.1 --bundle "$T/fake.bundle" --artifact "$T/fake/out/rules.yarc" \
	--policy "$T/fakepolicy"
expect_error "usage: --bundle without --artifact" "needs" $V rules install --release site-rules@2026.1 \
	--bundle "$T/rules.bundle" --policy "$T/policy" --dir "$A"
[ "$RC" -eq 2 ] || fail "usage exit $RC"
stop_server

say "install the verified release (online from the build site, through the server)"
start_server site "$A" --analysis-workers 2
AURL=$URL
SIZE0=$(size)
expect_ok "install site-rules@2026.1" $V rules install --release site-rules@2026.1 --from "$BURL" \
	--checkpoint "$T/cp" --policy "$T/policy" --dir "$A" --url "$AURL" --token-file "$T/admin.token"
grep_ok "the answer names the release" "^ruleset sha256:$DIGEST installed: [0-9]+ rules from 1 files of release site-rules@2026.1, logged at index $SIZE0" "$T/last.out"
grep_ok "verified line" "^release site-rules 2026.1 verified: .* 1 witness cosignatures, 1 reproducing rebuilders" "$T/last.out"
[ "$(readlink "$A/rules/current")" = "$DIGEST" ] || fail "rules/current: $(readlink "$A/rules/current")"
cmp -s "$A/rules/$DIGEST/rules.yarc" "$YARC" || fail "the installed file is not the artifact"
ok "rules/current -> the artifact's SHA-256, holding the compiled file"
cmp -s "$A/rules/endpoint-state/checkpoint" "$T/cp" || fail "endpoint state"
ok "the endpoint state holds the cosigned checkpoint"
$V log get --url "$AURL" --vkey "$A/log.vkey" --index "$SIZE0" >"$T/entry" || fail "log get"
printf 'vitrine/1 ruleset\ndigest sha256:%s\nrules 2\nfiles 1\nrelease site-rules@2026.1\n' "$DIGEST" >"$T/want"
cmp -s "$T/entry" "$T/want" || { cat "$T/entry" >&2; fail "the ruleset entry"; }
ok "the ruleset entry names the release"
api() { curl -s -H "Authorization: Bearer $ANA" "$AURL/api/v1/$1"; }
[ "$(api analysis | jq -r .ruleset)" = "$DIGEST" ] || fail "GET /api/v1/analysis: $(api analysis)"
ok "GET /api/v1/analysis shows the digest"

say "EICAR uploaded afterwards is malicious by the release's rules"
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-' >"$T/eicar.com"
printf 'STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >>"$T/eicar.com"
E=$(sha256sum "$T/eicar.com" | cut -d' ' -f1)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $EU" -F "file=@$T/eicar.com" "$AURL/api/v1/files")
[ "$code" = 201 ] || fail "upload EICAR: $code"
i=0
while [ "$(api "files/$E" | jq -r '.analysis.verdict // empty')" != malicious ]; do
	i=$((i + 1))
	[ $i -lt 1200 ] || { api "files/$E" >&2; fail "EICAR not found malicious in 120 s"; }
	sleep 0.1
done
[ "$(api "files/$E" | jq -r .analysis.ruleset)" = "$DIGEST" ] || fail "EICAR's ruleset"
ok "EICAR: malicious, by ruleset $DIGEST"
IDX=$(api "files/$E" | jq -r .analysis.log_index)
$V log get --url "$AURL" --vkey "$A/log.vkey" --index "$IDX" >"$T/ae"
grep -qx "ruleset sha256:$DIGEST" "$T/ae" && grep -qx "rule eicar.yar:eicar_release" "$T/ae" ||
	grep -qx "ruleset sha256:$DIGEST" "$T/ae" && grep -q "^rule .*eicar_release$" "$T/ae" ||
	{ cat "$T/ae" >&2; fail "EICAR's analysis entry"; }
ok "EICAR's analysis entry names the release's ruleset and rule"

say "the same release again is refused (409), nothing logged"
SIZE1=$(size)
expect_error "reinstall" "already in force" $V rules install --release site-rules@2026.1 \
	--bundle "$T/rules.bundle" --artifact "$YARC" --policy "$T/policy" --dir "$A" \
	--url "$AURL" --token-file "$T/admin.token"
sleep 0.3
[ "$(size)" = "$SIZE1" ] || fail "reinstall logged"
ok "no second entry"

say "a restart loads the compiled rules in force"
stop_server
start_server site "$A" --analysis-workers 1
AURL=$URL
[ "$(api analysis | jq -r .ruleset)" = "$DIGEST" ] || fail "after restart: $(api analysis)"
ok "after a restart the site runs the release's rules"
stop_server

say "offline, with no server: --bundle and --artifact into --dir"
expect_ok "a source ruleset again" $V rules install "$T/first.yar" --dir "$A"
expect_ok "install offline" $V rules install --release site-rules@2026.1 --bundle "$T/rules.bundle" \
	--artifact "$YARC" --policy "$T/policy" --dir "$A"
[ "$(readlink "$A/rules/current")" = "$DIGEST" ] || fail "offline: rules/current"
ok "offline install put the release in force"
finish
