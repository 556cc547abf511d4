#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The conveyer after a crash between an entry's publication and its
# record: the server dies (the VT_FAULT_SITE_AFTER_PUBLISH test hook,
# _exit(9) right after publication) once for a build, a release and a
# rebuild; at the next start each record is restored from the log and the
# stored blobs, and a conveyer entry an admin appended by hand, which the
# store does not back, is not.
VITRINE=${1:?usage: conveyer_crash.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
DATA=${VT_TEST_DATA:?}/conveyer
command -v jq >/dev/null || fail "jq is needed to read the JSON answers"

expect_ok "builder key" $V key generate builder.example --out "$T/builder.key"
expect_ok "rebuilder key" $V key generate rb1.example --out "$T/rb1.key"
expect_ok "init" $V init --dir "$D" --origin crash.example/log
expect_ok "trust the builder" $V release trust --builder "$T/builder.key.vkey" --dir "$D"
expect_ok "trust the rebuilder" $V release trust --rebuilder "$T/rb1.key.vkey" --dir "$D"
token() {
	$V token create --dir "$D" "$@" | grep -o 'vt_[0-9a-f]\{64\}' | head -1
}
BT=$(token --role builder --name ci)
RT=$(token --role rebuilder --name rb1)
AT=$(cat "$D/admin.token")
[ -n "$BT" ] && [ -n "$RT" ] && [ -n "$AT" ] || fail "tokens"
LOGKEY=$D/log.vkey
expect_ok "build hello" $V build "$DATA/hello/hello.recipe" --out "$T/hb" --key "$T/builder.key" \
	--builder-id https://builders.example/ci

size() { curl -sf "$URL/log/checkpoint" | sed -n 2p; }
# Each crash below: the server runs with the test hook
# VT_FAULT_SITE_AFTER_PUBLISH=1 (docs/conveyer.md), the request publishes
# its entry and the server dies with status 9 before writing the record.

WRAP="env VT_FAULT_SITE_AFTER_PUBLISH=1"
start_server crash "$D"
WRAP=
run last $V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$BT"
[ "$RC" -ne 0 ] || fail "upload: succeeded although the server died"
stop_server KILL
[ "$RC" -eq 9 ] || fail "upload: server exit $RC, want 9"
ok "upload hello: the server died after publishing the build entry (exit 9)"
[ ! -e "$D/conveyer/builds/hello@1.0" ] || fail "the build record was written before the crash"
ok "no build record yet"

start_server after1 "$D"
[ -e "$D/conveyer/builds/hello@1.0" ] || fail "the build record was not restored"
grep -q '^index ' "$D/conveyer/builds/hello@1.0" || fail "the restored record has no index"
ok "the build record is restored at start"
cp "$D/conveyer/builds/hello@1.0" "$T/build.record"
expect_error "the same build again is a conflict" "409|already built" \
	$V release upload "$DATA/hello/hello.recipe" --out "$T/hb" --url "$URL" --token "$BT"
stop_server

WRAP="env VT_FAULT_SITE_AFTER_PUBLISH=1"
start_server crash "$D"
WRAP=
run last $V release publish hello 1.0 --url "$URL" --token "$BT"
[ "$RC" -ne 0 ] || fail "publish: succeeded although the server died"
stop_server KILL
[ "$RC" -eq 9 ] || fail "publish: server exit $RC, want 9"
ok "publish hello: the server died after publishing the release entry (exit 9)"
[ ! -e "$D/conveyer/releases/hello@1.0" ] || fail "the release record was written before the crash"

start_server after2 "$D"
curl -sf "$URL/api/v1/releases/hello/1.0" >"$T/rel.json" || fail "the release was not restored"
jq -e '.name == "hello" and (.release.receipt | length) > 0' "$T/rel.json" >/dev/null ||
	fail "restored release: $(cat "$T/rel.json")"
ok "the release is listed after the restart"
cmp -s "$T/build.record" "$D/conveyer/builds/hello@1.0" || fail "the build record changed"
ok "the build record is untouched by a second recovery"
expect_error "publish again is a conflict" "409|already released" \
	$V release publish hello 1.0 --url "$URL" --token "$BT"
stop_server

WRAP="env VT_FAULT_SITE_AFTER_PUBLISH=1"
start_server crash "$D"
WRAP=
run last $V rebuild hello@1.0 --url "$URL" --key "$T/rb1.key" --log-key "$LOGKEY" --out "$T/r1" \
	--submit --token "$RT"
[ "$RC" -ne 0 ] || fail "rebuild: succeeded although the server died"
stop_server KILL
[ "$RC" -eq 9 ] || fail "rebuild: server exit $RC, want 9"
ok "rebuild submit: the server died after publishing the rebuild entry (exit 9)"

start_server after3 "$D"
curl -sf "$URL/api/v1/releases/hello/1.0" >"$T/rel.json" || fail "release"
jq -e '(.rebuilds | length) == 1 and .rebuilds[0].result == "reproduced"' "$T/rel.json" >/dev/null ||
	fail "the rebuild was not restored: $(cat "$T/rel.json")"
ok "the rebuild is listed after the restart"

say "an entry the store does not back is not made a record"
# hello's own stored digests under another name: every blob is there, the name is not the recipe's
sed 's/^name hello$/name ghost/' "$T/build.record" | sed 1d >"$T/ghost.entry"
grep -q '^name ghost$' "$T/ghost.entry" || fail "ghost entry: $(cat "$T/ghost.entry")"
code=$(curl -s -o "$T/add.out" -w '%{http_code}' -H "Authorization: Bearer $AT" \
	--data-binary "@$T/ghost.entry" "$URL/log/add")
[ "$code" = 200 ] || fail "admin append: $code $(cat "$T/add.out")"
ok "an admin appended a build entry by hand"
stop_server
rm -f "$D/conveyer/recovered"
start_server after4 "$D"
[ ! -e "$D/conveyer/builds/ghost@1.0" ] || fail "an unbacked entry became a record"
ok "no record for an entry the store does not back (full rescan)"
grep -q "^size $(size)\$" "$D/conveyer/recovered" || fail "the recovery cursor: $(cat "$D/conveyer/recovered")"
ok "the recovery cursor names the checkpoint's size"
stop_server
finish
