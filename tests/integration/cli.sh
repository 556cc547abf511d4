#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The vitrine command line: help, one-line errors, local appends, proofs,
# consistency, fsck against corruption, the writer lock and key generation.
VITRINE=${1:?usage: cli.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
D=$T/log
O=$T/other

say "help on every command and subcommand"
for c in "--help" "help" "init --help" "serve --help" "log --help" "key --help" \
	"key generate --help" "log append --help" "log checkpoint --help" \
	"log prove --help" "log verify-proof --help" "log consistency --help" \
	"log fsck --help"; do
	# shellcheck disable=SC2086
	run help $V $c
	[ "$RC" -eq 0 ] || fail "vitrine $c exits $RC"
	grep -q usage "$T/help.out" || fail "vitrine $c prints no usage on stdout"
	[ -s "$T/help.err" ] && fail "vitrine $c writes to stderr: $(cat "$T/help.err")"
	ok "vitrine $c"
done

say "init"
expect_ok "init a log" $V init --dir "$D" --origin example.test/log
grep_ok "init prints the verifier key" '^verifier key: example\.test/log\+[0-9a-f]{8}\+' "$T/last.out"
for f in log.key log.vkey admin.token; do
	[ -s "$D/$f" ] || fail "init wrote no $D/$f"
done
[ "$(stat -c %a "$D/log.key")" = 600 ] || fail "log.key is not mode 0600"
[ "$(stat -c %a "$D/admin.token")" = 600 ] || fail "admin.token is not mode 0600"
ok "init wrote log.key (0600), log.vkey, admin.token (0600)"
expect_ok "init another log" $V init --dir "$O" --origin other.test/log
expect_error "init twice on one dir" "already holds a log" $V init --dir "$D" --origin example.test/log
expect_error "init without --origin" "needs --dir DIR and --origin" $V init --dir "$T/x"
expect_error "init with a bad origin" "invalid origin" $V init --dir "$T/x" --origin "a b+c"

say "one-line errors"
expect_error "unknown command" 'unknown command "frob"' $V frob
expect_error "unknown log command" 'unknown log command "frob"' $V log frob
expect_error "unknown key command" 'unknown key command' $V key frob
expect_error "bad option to init" 'bad option' $V init --bogus
expect_error "bad option to serve" 'bad option' $V serve --dir "$D" --bogus
expect_error "bad option to log append" 'bad option' $V log append --bogus
expect_error "bad option to key generate" 'bad option' $V key generate k --bogus
expect_error "option without its argument" 'bad option' $V log checkpoint --dir
expect_error "serve without --dir" 'needs --dir' $V serve
expect_error "serve with a bad --listen" 'HOST:PORT' $V serve --dir "$D" --listen nowhere
expect_error "serve with --batch-max 0" 'positive number' $V serve --dir "$D" --batch-max 0
expect_error "append without --dir or --url" 'needs --dir DIR or --url' $V log append "$T/x"
expect_error "checkpoint without --dir" '--dir' $V log checkpoint
expect_error "checkpoint of a missing dir" 'cannot' $V log checkpoint --dir "$T/none"
expect_error "prove without --index" 'needs --index' $V log prove --dir "$D"
expect_error "prove with a bad --index" 'wants a number' $V log prove --dir "$D" --index 1x
expect_error "prove past the end" 'not in the log' $V log prove --dir "$D" --index 0
expect_error "unexpected argument" 'unexpected argument' $V log checkpoint --dir "$D" extra

say "append locally"
printf 'first entry\nsecond entry\n\nthird entry\n' >"$T/lines"
expect_ok "append three lines from stdin" sh -c "\"$V\" log append --dir \"$D\" <\"$T/lines\""
grep_ok "blank lines are skipped, three appended" 'appended 3 entries \(indices 0 to 2\)' "$T/last.out"
printf 'one file entry\n' >"$T/e3"
printf 'another\nmulti-line entry\n' >"$T/e4"
expect_ok "append two files" $V log append --dir "$D" "$T/e3" "$T/e4"
grep_ok "files are one entry each" 'indices 3 to 4' "$T/last.out"
head -c 65535 /dev/zero | tr '\0' 'm' >"$T/max"
expect_ok "append an entry of 65535 bytes" $V log append --dir "$D" "$T/max"
head -c 65536 /dev/zero | tr '\0' 'm' >"$T/big"
expect_error "an entry file over 65535 bytes" 'exceeds the limit of 65535' $V log append --dir "$D" "$T/big"
{ echo short; cat "$T/big"; echo; } >"$T/bigline"
expect_error "a stdin line over 65535 bytes" 'line 2: .*exceeds the limit' \
	sh -c "\"$V\" log append --dir \"$D\" <\"$T/bigline\""
: >"$T/empty"
expect_error "an empty entry file" 'cannot be empty' $V log append --dir "$D" "$T/empty"
expect_error "empty stdin" 'no entries' sh -c "\"$V\" log append --dir \"$D\" </dev/null"
expect_error "a missing entry file" 'nonexistent' $V log append --dir "$D" "$T/nonexistent"

say "checkpoint"
expect_ok "checkpoint" $V log checkpoint --dir "$D"
cp "$T/last.out" "$T/cp6"
[ "$(sed -n 1p "$T/cp6")" = example.test/log ] || fail "checkpoint origin line: $(sed -n 1p "$T/cp6")"
[ "$(sed -n 2p "$T/cp6")" = 6 ] || fail "checkpoint size $(sed -n 2p "$T/cp6"), want 6"
grep_ok "checkpoint is signed by the log key" "^— example\\.test/log " "$T/cp6"

say "prove and verify-proof"
expect_ok "prove entry 3" $V log prove --dir "$D" --index 3
cp "$T/last.out" "$T/p3"
grep_ok "the proof is a c2sp.org/tlog-proof" '^c2sp\.org/tlog-proof@v1$' "$T/p3"
expect_ok "verify-proof of entry 3" $V log verify-proof "$T/p3" --vkey "$D/log.vkey" --entry "$T/e3"
grep_ok "verify-proof names index and size" 'entry 3 is in example.test/log at tree size 6' "$T/last.out"
expect_ok "prove entry 5 (65535 bytes)" $V log prove --dir "$D" --index 5
cp "$T/last.out" "$T/p5"
expect_ok "verify-proof of the largest entry" $V log verify-proof "$T/p5" --vkey "$D/log.vkey" --entry "$T/max"
expect_error "verify-proof with the wrong entry" 'does not verify' \
	$V log verify-proof "$T/p3" --vkey "$D/log.vkey" --entry "$T/e4"
expect_error "verify-proof with another log's key" 'does not verify' \
	$V log verify-proof "$T/p3" --vkey "$O/log.vkey" --entry "$T/e3"
printf 'garbage\n' >"$T/badvkey"
expect_error "verify-proof with a malformed key" 'badvkey' \
	$V log verify-proof "$T/p3" --vkey "$T/badvkey" --entry "$T/e3"
expect_error "verify-proof without --entry" 'needs FILE' $V log verify-proof "$T/p3" --vkey "$D/log.vkey"
# Tamper with each part of the proof in turn.
sed 's/^index 3$/index 4/' "$T/p3" >"$T/p3-index"
expect_error "tampered index" 'does not verify|p3-index' \
	$V log verify-proof "$T/p3-index" --vkey "$D/log.vkey" --entry "$T/e3"
awk 'NR == 3 { $0 = (substr($0, 1, 1) == "A" ? "B" : "A") substr($0, 2) } { print }' \
	"$T/p3" >"$T/p3-hash"
cmp -s "$T/p3" "$T/p3-hash" && fail "awk did not change the proof"
expect_error "tampered proof hash" 'does not verify|p3-hash' \
	$V log verify-proof "$T/p3-hash" --vkey "$D/log.vkey" --entry "$T/e3"
awk '!done && /^6$/ { $0 = "7"; done = 1 } { print }' "$T/p3" >"$T/p3-size"
expect_error "tampered checkpoint size" 'does not verify|p3-size' \
	$V log verify-proof "$T/p3-size" --vkey "$D/log.vkey" --entry "$T/e3"
sed '$d' "$T/p3" >"$T/p3-nosig"
expect_error "proof without its signature" 'p3-nosig|does not verify' \
	$V log verify-proof "$T/p3-nosig" --vkey "$D/log.vkey" --entry "$T/e3"
head -c 100 "$T/p3" >"$T/p3-cut"
expect_error "truncated proof" 'p3-cut' \
	$V log verify-proof "$T/p3-cut" --vkey "$D/log.vkey" --entry "$T/e3"

say "consistency"
cp -a "$D" "$T/fork" # the same key: a fork can sign checkpoints that look genuine
rm -f "$T/fork/lock"
seq 1 300 | sed 's/^/entry /' >"$T/300"
expect_ok "append 300 entries" sh -c "\"$V\" log append --dir \"$D\" <\"$T/300\""
expect_ok "consistency with an old checkpoint" $V log consistency --dir "$D" --old "$T/cp6"
grep_ok "consistency reports the sizes" 'consistent: size 6 -> 306' "$T/last.out"
$V log checkpoint --dir "$D" >"$T/cp306"
expect_ok "consistency with the current checkpoint" $V log consistency --dir "$D" --old "$T/cp306"
$V log checkpoint --dir "$O" >"$T/cp-other"
expect_error "consistency with another log's checkpoint" 'cp-other|does not verify' \
	$V log consistency --dir "$D" --old "$T/cp-other"
awk '!done && /^6$/ { $0 = "600"; done = 1 } { print }' "$T/cp6" >"$T/cp-forged"
expect_error "consistency with a forged bigger checkpoint" 'cp-forged|does not verify' \
	$V log consistency --dir "$D" --old "$T/cp-forged"
seq 1 10 | sed 's/^/forked /' >"$T/f10"
sh -c "\"$V\" log append --dir \"$T/fork\" <\"$T/f10\"" >/dev/null || fail "append to the fork"
$V log checkpoint --dir "$T/fork" >"$T/cp-fork16"
expect_error "consistency with a signed checkpoint of a fork" 'INCONSISTENT' \
	$V log consistency --dir "$D" --old "$T/cp-fork16"
seq 1 400 | sed 's/^/forked /' >"$T/f400"
sh -c "\"$V\" log append --dir \"$T/fork\" <\"$T/f400\"" >/dev/null || fail "append to the fork"
$V log checkpoint --dir "$T/fork" >"$T/cp-fork416"
expect_error "consistency with a bigger signed checkpoint of a fork" 'inconsistent' \
	$V log consistency --dir "$D" --old "$T/cp-fork416"
expect_error "consistency without --old" 'needs --old' $V log consistency --dir "$D"
expect_error "consistency with the wrong key" 'verifiable|verify' \
	$V log consistency --dir "$D" --old "$T/cp6" --vkey "$O/log.vkey"

say "fsck"
expect_ok "fsck of a good log" $V log fsck --dir "$D"
grep_ok "fsck counts entries and tiles" '^ok: 306 entries and [0-9]+ tiles match' "$T/last.out"
TILE=$D/log/tile/0/000
[ -f "$TILE" ] || fail "no full tile $TILE after 306 entries"
cp "$TILE" "$T/tile.bak"
chmod u+w "$TILE"
# Flip one byte in the middle of the tile.
printf '\377' | dd of="$TILE" bs=1 seek=4000 count=1 conv=notrunc 2>/dev/null
cmp -s "$TILE" "$T/tile.bak" && printf '\000' | dd of="$TILE" bs=1 seek=4000 count=1 conv=notrunc 2>/dev/null
cmp -s "$TILE" "$T/tile.bak" && fail "could not corrupt $TILE"
expect_error "fsck finds a corrupted tile byte" 'tile/0/000' $V log fsck --dir "$D"
cp "$T/tile.bak" "$TILE"
expect_ok "fsck passes again once the tile is restored" $V log fsck --dir "$D"
B=$D/log/tile/entries/000
cp "$B" "$T/bundle.bak"
printf 'X' | dd of="$B" bs=1 seek=10 count=1 conv=notrunc 2>/dev/null
expect_error "fsck finds a corrupted entry bundle" 'tile/0/000|root|entries' $V log fsck --dir "$D"
cp "$T/bundle.bak" "$B"
head -c 8000 "$T/tile.bak" >"$TILE"
expect_error "fsck finds a truncated tile" 'tile/0/000' $V log fsck --dir "$D"
cp "$T/tile.bak" "$TILE"
expect_error "fsck with the wrong key" 'verify' $V log fsck --dir "$D" --vkey "$O/log.vkey"
expect_ok "fsck passes after the restores" $V log fsck --dir "$D"

say "one writer per data directory"
start_server srv "$D"
expect_error "local append while a server holds the dir" "in use by process $SERVER_PID" \
	$V log append --dir "$D" "$T/e3"
expect_error "a second server on the same dir" "in use by process $SERVER_PID" \
	$V serve --dir "$D" --listen 127.0.0.1:0
expect_ok "reading with --dir while the server runs" $V log fsck --dir "$D"
expect_ok "checkpoint --url" $V log checkpoint --url "$URL"
cmp -s "$T/last.out" "$T/cp306" || fail "checkpoint over HTTP differs from the one on disk"
ok "checkpoint over HTTP equals the one on disk"
# One entry per call: entries of one call are sent concurrently, in any order.
expect_ok "append --url with proofs verified" $V log append --url "$URL" \
	--token-file "$D/admin.token" --vkey "$D/log.vkey" "$T/e3"
grep_ok "append --url verified the proofs" 'indices 306 to 306\), every inclusion proof verified' "$T/last.out"
expect_ok "append --url again" $V log append --url "$URL" --token-file "$D/admin.token" "$T/e4"
expect_error "append --url with a bad token" '401' $V log append --url "$URL" --token nope "$T/e3"
expect_ok "prove --url" $V log prove --url "$URL" --vkey "$D/log.vkey" --index 306
cp "$T/last.out" "$T/p306"
expect_ok "verify a proof fetched over HTTP" $V log verify-proof "$T/p306" --vkey "$D/log.vkey" --entry "$T/e3"
stop_server TERM
[ "$RC" -eq 0 ] || fail "server exit status $RC after SIGTERM"
ok "server stops with status 0 on SIGTERM"
expect_ok "local append once the server is gone" $V log append --dir "$D" "$T/e3"
grep_ok "indices continue" 'indices 308 to 308' "$T/last.out"

say "key generate"
expect_ok "key generate to stdout" $V key generate witness.example/w1
grep_ok "private key printed" '^PRIVATE\+KEY\+witness\.example/w1\+[0-9a-f]{8}\+' "$T/last.out"
grep_ok "verifier key printed" '^witness\.example/w1\+[0-9a-f]{8}\+' "$T/last.out"
expect_ok "key generate --cosigner --out" $V key generate witness.example/w2 --cosigner --out "$T/w2.key"
[ "$(stat -c %a "$T/w2.key")" = 600 ] || fail "the private key file is not mode 0600"
grep_ok "cosigner verifier key written (type 0x04: base64 starts with BA)" '^witness\.example/w2\+[0-9a-f]{8}\+B' "$T/w2.key.vkey"
grep -q PRIVATE "$T/last.out" && fail "--out still printed the private key"
ok "--out keeps the private key off stdout"
expect_error "proof checked with a generated key" 'does not verify' \
	$V log verify-proof "$T/p3" --vkey "$T/w2.key.vkey" --entry "$T/e3"
expect_error "key generate without a name" 'NAME' $V key generate
expect_error "key generate with a bad name" 'cannot make the key|name' $V key generate "bad+name"

finish
