#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Custody from the command line: a site initialised with its jurisdiction,
# residency policies signed, adopted (logged first, no rollback) and shown,
# and the encrypted vault: put, get, fsck, corruption and shredding.
VITRINE=${1:?usage: custody.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/site
P=${VT_TEST_DATA:?}/policy

say "help"
for c in "policy --help" "vault --help" "token --help"; do
	# shellcheck disable=SC2086
	run help $V $c
	[ "$RC" -eq 0 ] || fail "vitrine $c exits $RC"
	grep -q usage "$T/help.out" || fail "vitrine $c prints no usage"
	ok "vitrine $c"
done

say "a site in Zurich"
expect_ok "init with a jurisdiction" $V init --dir "$D" --origin zrh.vitrine.example/log \
	--jurisdiction CH-ZRH
[ "$(cat "$D/jurisdiction")" = CH-ZRH ] || fail "DIR/jurisdiction is not CH-ZRH"
[ "$(stat -c %a "$D/vault.kek")" = 600 ] || fail "vault.kek is not mode 0600"
ok "jurisdiction recorded, vault key made (0600)"
expect_error "a malformed jurisdiction is refused" "invalid jurisdiction" \
	$V init --dir "$T/bad" --origin x/y --jurisdiction "ch zrh"
[ ! -e "$T/bad" ] || fail "a refused init created its directory"

say "residency policy"
expect_ok "sign a policy" $V policy sign "$P/federation.policy" --key "$P/policy.key" \
	-o "$T/v3.signed"
cmp -s "$T/v3.signed" "$P/federation.policy.signed" || fail "signing is not deterministic"
ok "the signed policy equals the committed vector"
expect_ok "verify it" $V policy verify "$T/v3.signed" --vkey "$P/policy.vkey"
sed 's/region EU CH-ZRH/region EU RU-MOW/' "$T/v3.signed" >"$T/tampered.signed"
expect_error "a tampered policy does not verify" "." \
	$V policy verify "$T/tampered.signed" --vkey "$P/policy.vkey"
expect_error "the first adoption needs the policy key" "vkey" \
	$V policy adopt "$T/v3.signed" --dir "$D"
SIZE0=$($V log checkpoint --dir "$D" | sed -n 2p)
expect_ok "adopt version 3" $V policy adopt "$T/v3.signed" --dir "$D" --vkey "$P/policy.vkey"
SIZE1=$($V log checkpoint --dir "$D" | sed -n 2p)
[ "$SIZE1" -eq $((SIZE0 + 1)) ] || fail "adoption logged $((SIZE1 - SIZE0)) entries, want 1"
ok "adoption appended one entry"
expect_ok "prove the policy entry" $V log prove --dir "$D" --index "$SIZE0"
cp "$T/last.out" "$T/policy.proof"
expect_ok "the logged entry is the canonical policy entry" \
	$V log verify-proof "$T/policy.proof" --vkey "$D/log.vkey" --entry "$P/federation.entry"
expect_ok "adopting the same policy again is a no-op" \
	$V policy adopt "$T/v3.signed" --dir "$D"
[ "$($V log checkpoint --dir "$D" | sed -n 2p)" -eq "$SIZE1" ] || fail "a no-op adoption logged"
expect_ok "adopt version 4" $V policy adopt "$P/federation-v4.policy.signed" --dir "$D"
expect_error "rolling back to version 3 is refused" "rollback|older|lower" \
	$V policy adopt "$T/v3.signed" --dir "$D"
expect_error "a tampered policy is not adopted" "." \
	$V policy adopt "$T/tampered.signed" --dir "$D"
expect_ok "show the policy in force" $V policy show --dir "$D"
grep_ok "show names version 4" "version.*4" "$T/last.out"
grep_ok "show marks this site" "CH-ZRH.*this site" "$T/last.out"

say "vault"
head -c 300000 /dev/urandom >"$T/sample.bin"
SHA=$(sha256sum "$T/sample.bin" | cut -d' ' -f1)
expect_ok "put a sample" $V vault put "$T/sample.bin" --dir "$D" --jurisdiction CH-ZRH
grep_ok "put prints the sample's sha256" "$SHA" "$T/last.out"
OBJ=$(find "$D/vault" -type f -name "$SHA")
[ -n "$OBJ" ] || fail "no object named $SHA in the vault"
# 32 bytes from the middle of the sample must not appear in the object.
NEEDLE=$(od -An -tx1 -v -j 100000 -N 32 "$T/sample.bin" | tr -d ' \n')
od -An -tx1 -v "$OBJ" | tr -d ' \n' >"$T/obj.hex"
! grep -qF "$NEEDLE" "$T/obj.hex" || fail "the object holds the plaintext"
ok "the object on disk is not the plaintext"
expect_ok "get it back" $V vault get "$SHA" --dir "$D" --jurisdiction CH-ZRH -o "$T/back.bin"
cmp -s "$T/sample.bin" "$T/back.bin" || fail "the sample read back differs"
ok "the sample reads back byte for byte"
expect_error "another jurisdiction cannot read it" "." \
	$V vault get "$SHA" --dir "$D" --jurisdiction RU-MOW -o "$T/nope.bin"
[ ! -e "$T/nope.bin" ] || fail "a refused get wrote its output"
expect_ok "fsck --no-log on a sound vault" $V vault fsck --dir "$D" --no-log
run fsckl $V vault fsck --dir "$D"
[ "$RC" -eq 1 ] || fail "fsck exits $RC on an object put without a log entry, want 1"
grep -q "$SHA: unlogged" "$T/fsckl.out" || fail "fsck does not report the unlogged object"
ok "fsck reports an object that no sample entry names (vault put bypasses the log)"
cp "$OBJ" "$T/obj.saved"
printf 'X' | dd of="$OBJ" bs=1 seek=150000 conv=notrunc 2>/dev/null
run fsck $V vault fsck --dir "$D"
[ "$RC" -eq 1 ] || fail "fsck exits $RC on a corrupted object, want 1"
grep -q "$SHA" "$T/fsck.out" "$T/fsck.err" || fail "fsck does not name the corrupted object"
ok "fsck finds the corrupted object"
expect_error "a corrupted object is refused on get" "." \
	$V vault get "$SHA" --dir "$D" --jurisdiction CH-ZRH -o "$T/bad.bin"
[ ! -e "$T/bad.bin" ] || fail "a refused get wrote its output"
cp "$T/obj.saved" "$OBJ"
expect_ok "shred the sample" $V vault shred "$SHA" --dir "$D"
expect_error "a shredded sample cannot be read" "shred" \
	$V vault get "$SHA" --dir "$D" --jurisdiction CH-ZRH -o "$T/gone.bin"

say "tokens"
expect_error "a submitter token needs a tenant and a region" "tenant" \
	$V token create --dir "$D" --role submitter --name edr-1
expect_error "an analyst token takes no tenant" "tenant" \
	$V token create --dir "$D" --role analyst --name ana --tenant acme --region EU
expect_error "an unknown role is refused" "role" \
	$V token create --dir "$D" --role root --name x
expect_ok "create a submitter token" $V token create --dir "$D" --role submitter \
	--name edr-1 --tenant acme --region EU
SUB=$(grep -o 'vt_[0-9a-f]\{64\}' "$T/last.out" | head -1)
[ -n "$SUB" ] || fail "token create printed no secret"
expect_ok "create an admin token" $V token create --dir "$D" --role admin --name ops
OPS=$(grep -o 'vt_[0-9a-f]\{64\}' "$T/last.out" | head -1)
expect_ok "list tokens" $V token list --dir "$D"
grep_ok "list shows the submitter's binding" "edr-1.*acme.*EU|acme.*EU.*edr-1" "$T/last.out"
! grep -q "$SUB" "$T/last.out" || fail "token list shows a secret"
! grep -rq "$SUB" "$D" || fail "a token secret is stored in the data directory"
ok "no secret is listed or stored"
start_server tokens "$D"
code() { curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" \
	--data-binary "vitrine/1 test" "$URL/log/add"; }
[ "$(code "$OPS")" = 200 ] || fail "a fresh admin token is refused"
ok "the server accepts the new admin token"
expect_ok "revoke it while the server runs" $V token revoke --dir "$D" ops
[ "$(code "$OPS")" = 401 ] || fail "a revoked token is still accepted"
ok "the server refuses the revoked token at once"
[ "$(code "$SUB")" = 401 ] || fail "a submitter token may append raw log entries"
ok "a submitter token may not append raw log entries"
stop_server TERM

finish
