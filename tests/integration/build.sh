#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vitrine build end to end: a C program and a YARA rule database reproduce
# under varied runs with an envelope that openssl verifies; time and
# randomness are caught; the sandbox has no network, no host home and no
# writable path but its output; bad recipes and sources are refused.
VITRINE=${1:?usage: build.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
DATA=${VT_TEST_DATA:?}/conveyer
command -v jq >/dev/null || fail "jq is needed to read the provenance"
command -v openssl >/dev/null || fail "openssl is needed to check the envelope"

expect_ok "the sandbox works here" $V build --check-sandbox
grep_ok "bwrap version reported" "sandbox works: bubblewrap" "$T/last.out"
expect_ok "builder key" $V key generate builder.example --out "$T/builder.key"

# field FILE KEY: the value of "KEY VALUE..." summary lines.
field() {
	sed -n "s/^$2 //p" "$1"
}

say "hello: a C program, built twice in a row, each build two varied runs"
expect_ok "build hello" $V build "$DATA/hello/hello.recipe" --out "$T/h1" --key "$T/builder.key" \
	--builder-id https://builders.example/ci
cp "$T/last.out" "$T/h1.sum"
expect_ok "build hello again" $V build "$DATA/hello/hello.recipe" --out "$T/h2" --key "$T/builder.key"
cp "$T/last.out" "$T/h2.sum"
grep_ok "reproduced" "^reproduced yes$" "$T/h1.sum"
[ "$(grep '^output ' "$T/h1.sum")" = "$(grep '^output ' "$T/h2.sum")" ] ||
	fail "two builds gave different outputs: $(grep '^output ' "$T/h1.sum" "$T/h2.sum")"
ok "two builds, same output digests"
H=$(sha256sum "$T/h1/hello" | cut -d' ' -f1)
grep_ok "summary digest is the file's sha256" "^output hello sha256:$H 17|^output hello sha256:$H " "$T/h1.sum"
[ "$("$T/h1/hello")" = "hello from a reproducible build" ] || fail "the built program does not run"
ok "the built program runs"
[ -f "$T/h1/hello-1.0.log" ] && [ -f "$T/h1/share/greeting.txt" ] || fail "log or output missing"
ls -A "$T/h1" | grep -q '^\.vitrine-build' && fail "work directory left behind"
ok "outputs and log in place, no work directory left"

say "the envelope, checked with openssl only"
ENV=$T/h1/hello-1.0.intoto.jsonl
[ "$(wc -l <"$ENV")" -eq 1 ] || fail "envelope is not one JSON line"
jq -e '.payloadType == "application/vnd.in-toto+json" and (.signatures | length) == 1' "$ENV" \
	>/dev/null || fail "envelope shape"
jq -r .payload "$ENV" | base64 -d >"$T/stmt.json"
PT=application/vnd.in-toto+json
{
	printf 'DSSEv1 %d %s %d ' ${#PT} "$PT" "$(wc -c <"$T/stmt.json")"
	cat "$T/stmt.json"
} >"$T/pae.bin"
jq -r '.signatures[0].sig' "$ENV" | base64 -d >"$T/sig.bin"
# The verifier key is name+id+base64(0x01 || pub): make an SPKI PEM of pub.
{
	printf '302a300506032b6570032100' | xxd -r -p
	sed 's/^[^+]*+[^+]*+//' "$T/builder.key.vkey" | base64 -d | tail -c 32
} >"$T/pub.der"
openssl pkey -pubin -inform DER -in "$T/pub.der" -out "$T/pub.pem" 2>/dev/null || fail "pub key"
expect_ok "openssl verifies the DSSE signature over the PAE" \
	openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -rawin -in "$T/pae.bin" -sigfile "$T/sig.bin"
KID=$(openssl sha256 -r "$T/pub.der" >/dev/null 2>&1; tail -c 32 "$T/pub.der" | sha256sum | cut -d' ' -f1)
jq -e --arg k "$KID" '.signatures[0].keyid == $k' "$ENV" >/dev/null || fail "keyid is not sha256(pub)"
ok "keyid is the SHA-256 of the public key"
printf '\001' | cat - "$T/pae.bin" >"$T/pae-bad.bin"
run bad openssl pkeyutl -verify -pubin -inkey "$T/pub.pem" -rawin -in "$T/pae-bad.bin" -sigfile "$T/sig.bin"
[ "$RC" -ne 0 ] || fail "openssl accepted a changed PAE"
ok "openssl refuses a changed PAE"
S=$T/stmt.json
jq -e '._type == "https://in-toto.io/Statement/v1" and
	.predicateType == "https://slsa.dev/provenance/v1" and
	.predicate.buildDefinition.buildType == "https://vitrine.dev/conveyer/recipe-build/v1" and
	.predicate.runDetails.builder.id == "https://builders.example/ci" and
	(.predicate.runDetails.metadata.invocationId | length) == 32 and
	(.predicate.runDetails.metadata.startedOn | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$")) and
	.predicate.buildDefinition.internalParameters.reproduced == true and
	.predicate.buildDefinition.internalParameters.sourceDateEpoch == 1700000000' "$S" >/dev/null ||
	fail "statement fields: $(cat "$S")"
ok "statement: types, builder id, times, invocation id"
jq -e --arg h "$H" --arg g "$(sha256sum "$T/h1/share/greeting.txt" | cut -d' ' -f1)" \
	'.subject == [{"name": "hello", "digest": {"sha256": $h}},
		{"name": "share/greeting.txt", "digest": {"sha256": $g}}]' "$S" >/dev/null ||
	fail "subjects: $(jq -c .subject "$S")"
ok "subjects are the outputs with their sha256"
R=$(sha256sum "$DATA/hello/hello.recipe" | cut -d' ' -f1)
CC=$(sha256sum "$(readlink -f /usr/bin/cc)" | cut -d' ' -f1)
jq -e --arg r "$R" --arg cc "$CC" '.predicate.buildDefinition as $d |
	$d.externalParameters.recipe.digest.sha256 == $r and
	($d.resolvedDependencies | map(select(.digest.sha256 == $r)) | length) == 1 and
	($d.resolvedDependencies | map(select(.name == "/usr/bin/cc" and .digest.sha256 == $cc)) | length) == 1 and
	$d.externalParameters.source.digest.vitrineTree1 == "0e9d051be1780c4f62d2684402e9e7040b69542b2a6b1c57f527d9b5658e0d0d"' \
	"$S" >/dev/null || fail "dependencies: $(jq -c .predicate.buildDefinition "$S")"
ok "recipe, source and toolchain digests (cc resolved through its links) recorded"

# A scratch recipe around a build body: mk NAME BODY [MORE FIELDS].
mk() {
	_d=$T/r-$1
	mkdir -p "$_d/src"
	echo "source of $1" >"$_d/src/input.txt"
	_dig=$($V build --tree-digest "$_d/src")
	{
		printf 'Name: %s\nVersion: 1\nSource: src %s\nSource-Date-Epoch: 1700000000\n' "$1" "$_dig"
		printf 'Build:\n'
		printf '%s\n' "$2" | sed 's/^/ /'
		printf 'Outputs: out.txt\n'
		[ -n "${3:-}" ] && printf '%s\n' "$3"
	} >"$_d/recipe"
	RECIPE=$_d/recipe
}

say "builds that embed the time or randomness are refused"
mk clock 'date +%s%N > "$VT_OUT/out.txt"'
expect_error "a timestamp does not reproduce" "clock 1 does not reproduce: outputs differ" \
	$V build "$RECIPE" --out "$T/o-clock" --key "$T/builder.key"
grep_ok "report names the output" "^output out.txt differs: run 1 sha256:[0-9a-f]{64}, run 2 sha256:" "$T/last.out"
grep_ok "report has a byte summary" "first difference at byte [0-9]+; [0-9]+ bytes differ" "$T/last.out"
grep_ok "summary says not reproduced" "^reproduced no$" "$T/last.out"
[ ! -e "$T/o-clock/clock-1.intoto.jsonl" ] && [ ! -e "$T/o-clock/out.txt" ] ||
	fail "a build that does not reproduce left provenance or outputs"
ok "no provenance and no output for it"
ls -d "$T"/o-clock/.vitrine-build.*/out-2 >/dev/null 2>&1 || fail "runs not kept"
ok "both runs kept for inspection"
mk random 'head -c16 /dev/urandom > "$VT_OUT/out.txt"'
expect_error "random bytes do not reproduce" "random 1 does not reproduce" \
	$V build "$RECIPE" --out "$T/o-rand"
grep_ok "16 bytes compared" "sizes 16 and 16 bytes" "$T/last.out"
mk sizes 'if [ "$VT_JOBS" = 1 ]; then echo short; else echo a longer line; fi > "$VT_OUT/out.txt"'
expect_error "output depending on VT_JOBS does not reproduce" "sizes 1 does not reproduce" \
	$V build "$RECIPE" --out "$T/o-sizes"
grep_ok "sizes and offset" "sizes 6 and 14 bytes; first difference at byte 0" "$T/last.out"
mk once 'date +%s%N > "$VT_OUT/out.txt"'
expect_ok "--once skips the check" $V build "$RECIPE" --once --out "$T/o-once"
grep_ok "--once says so" "^reproduced unchecked" "$T/last.out"

say "what the two runs see"
mk facts '{ id -u; id -g; hostname; umask; echo "$TZ $LANG $LC_ALL $HOME $PATH"; pwd;
echo "$SOURCE_DATE_EPOCH $VT_JOBS $VT_ORDER $FOO"; env | sort; } > "$VT_OUT/out.txt"' \
	'Environment: FOO=bar
Build-Order: any'
VT_LEAK=host-secret expect_error "facts differ between runs" "facts 1 does not reproduce" \
	$V build "$RECIPE" --out "$T/o-facts"
F1=$(ls -d "$T"/o-facts/.vitrine-build.*)/out-1/out.txt
F2=$(ls -d "$T"/o-facts/.vitrine-build.*)/out-2/out.txt
[ "$(sed -n 1,2p "$F1" | tr '\n' ' ')" = "1000 1000 " ] || fail "uid/gid: $(cat "$F1")"
ok "fixed uid and gid 1000"
[ "$(sed -n 3,4p "$F1" | tr '\n' ' ')" = "vitrine-build 0022 " ] || fail "run 1: $(cat "$F1")"
[ "$(sed -n 3,4p "$F2" | tr '\n' ' ')" = "rebuild-b.vitrine.invalid 0027 " ] || fail "run 2: $(cat "$F2")"
ok "hostname and umask vary"
grep_ok "run 1 env" "^UTC C.UTF-8 C.UTF-8 /nonexistent /usr/bin:/bin:/usr/sbin:/sbin$" "$F1"
grep_ok "run 2 env" "^<\+14>-14 C C /nonexistent " "$F2"
grep_ok "run 1 work dir" "^/tmp/build$" "$F1"
grep_ok "run 2 work dir" "^/tmp/w/second-build-dir$" "$F2"
grep_ok "run 1 jobs, order, recipe variable" "^1700000000 1 forward bar$" "$F1"
grep_ok "run 2 jobs, order" "^1700000000 4 reverse bar$" "$F2"
if grep -q -e VT_LEAK -e host-secret -e '^USER=' -e '^TERM=' "$F1"; then
	fail "host environment leaked: $(cat "$F1")"
fi
ok "cleared environment: nothing of the host's"

say "run 2 sees fewer CPUs"
NCPU=$(nproc)
mk nproc 'nproc > "$VT_OUT/out.txt"'
if [ "$NCPU" -ge 2 ]; then
	expect_error "a recipe writing nproc is refused" "nproc 1 does not reproduce" \
		$V build "$RECIPE" --out "$T/o-nproc"
	W=$(ls -d "$T"/o-nproc/.vitrine-build.*)
	[ "$(cat "$W/out-1/out.txt")" = "$NCPU" ] && [ "$(cat "$W/out-2/out.txt")" = 1 ] ||
		fail "nproc: run 1 $(cat "$W/out-1/out.txt"), run 2 $(cat "$W/out-2/out.txt"), host $NCPU"
	ok "nproc is $NCPU in run 1 and 1 in run 2"
	jq -e --arg n "$NCPU" '.predicate.buildDefinition.internalParameters.variants as $v |
		($v[0] | test(" cpus=" + $n + " ")) and ($v[1] | test(" cpus=1 "))' "$S" >/dev/null ||
		fail "CPU counts not in the provenance: $(jq -c .predicate.buildDefinition.internalParameters.variants "$S")"
	ok "the provenance records each run's CPU count"
	mk nprocj '{ nproc --all; nproc; } > "$VT_OUT/out.txt"'
	expect_error "nproc --all still sees every CPU, nproc only the run's" "nprocj 1 does not reproduce" \
		$V build "$RECIPE" --out "$T/o-nprocj"
	W=$(ls -d "$T"/o-nprocj/.vitrine-build.*)
	[ "$(tr '\n' ' ' <"$W/out-2/out.txt")" = "$NCPU 1 " ] || fail "run 2: $(cat "$W/out-2/out.txt")"
	ok "run 2: nproc --all $NCPU, nproc 1 (affinity, not the kernel's count)"
else
	skip_part "one CPU here: the CPU count cannot vary"
fi

say "run 2 sees another time of day"
FT=$(ls /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1 2>/dev/null | head -n 1)
mk tod 'date +%s > "$VT_OUT/out.txt"'
if [ -n "$FT" ]; then
	expect_error "a recipe writing the date is refused" "tod 1 does not reproduce" \
		$V build "$RECIPE" --out "$T/o-tod"
	W=$(ls -d "$T"/o-tod/.vitrine-build.*)
	D=$(($(cat "$W/out-2/out.txt") - $(cat "$W/out-1/out.txt")))
	# 1 day 7 hours, plus the real time between the two runs.
	[ "$D" -ge 111600 ] && [ "$D" -le 111660 ] || fail "date +%s differs by $D s, want ~111600"
	ok "date +%s in run 2 is $D s after run 1 (offset 111600)"
	jq -e '.predicate.buildDefinition.internalParameters.variants as $v |
		($v[0] | test("clock=real$")) and ($v[1] | test("clock=\\+111600 \\(libfaketime\\)$"))' \
		"$S" >/dev/null ||
		fail "clock not in the provenance: $(jq -c .predicate.buildDefinition.internalParameters.variants "$S")"
	ok "the provenance records run 2's shifted clock"
else
	skip_part "libfaketime is not installed (apt-get install faketime): the clock is not shifted"
fi
# Without libfaketime the build goes on and says the variation was not applied.
mk noft 'cp "$VT_SRC/input.txt" "$VT_OUT/out.txt"'
VITRINE_LIBFAKETIME= expect_ok "no libfaketime: the build still works" \
	$V build -v "$RECIPE" --out "$T/o-noft" --key "$T/builder.key"
grep_ok "the log says the clock was not varied" "run 2: libfaketime is not installed" "$T/last.err"
grep_ok "and still reproduced" "^reproduced yes$" "$T/last.out"
VITRINE_LIBFAKETIME= expect_error "no libfaketime: the date still caught (later second)" \
	"tod 1 does not reproduce" $V build "$T/r-tod/recipe" --out "$T/o-tod2"
jq -r .payload "$T/o-noft/noft-1.intoto.jsonl" | base64 -d |
	jq -e '.predicate.buildDefinition.internalParameters.variants[1] |
		test("clock=real \\(libfaketime not installed: not applied\\)$")' >/dev/null ||
	fail "provenance does not say the clock was not varied"
ok "the provenance records the clock variation as not applied"

say "the sandbox's walls"
PORT=$((20000 + $(rand 20000)))
python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$T" >"$T/http.log" 2>&1 &
PIDS="$PIDS $!"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the test's HTTP listener did not start"
	sleep 0.1
done
ok "a listener on 127.0.0.1:$PORT answers outside"
mk net "curl -sS --max-time 5 http://127.0.0.1:$PORT/ > \"\$VT_OUT/out.txt\""
expect_error "no 127.0.0.1 of the host inside" "run 1 failed \(exit 7; .*Failed to connect to 127.0.0.1" \
	$V build "$RECIPE" --out "$T/o-net"
mk net2 "curl -sS --max-time 5 http://example.com/ > \"\$VT_OUT/out.txt\""
expect_error "no outside network inside" "run 1 failed \(exit 6" $V build "$RECIPE" --out "$T/o-net2"
mk wout "echo pwned > '$T/pwned'"
expect_error "cannot write a host path" "run 1 failed \(exit" $V build "$RECIPE" --out "$T/o-wout"
[ ! -e "$T/pwned" ] || fail "the build wrote outside"
mk wsrc 'echo x > "$VT_SRC/input.txt"'
expect_error "cannot write the source" "Read-only file system" $V build "$RECIPE" --out "$T/o-wsrc"
[ "$(cat "$T/r-wsrc/src/input.txt")" = "source of wsrc" ] || fail "source changed"
mk wusr 'touch /usr/bin/vt-pwned'
expect_error "cannot write the toolchain" "run 1 failed \(exit 1" $V build "$RECIPE" --out "$T/o-wusr"
[ ! -e /usr/bin/vt-pwned ] || fail "the build wrote to /usr"
mk wroot 'touch /vt-pwned'
expect_error "cannot write the root" "Read-only file system" $V build "$RECIPE" --out "$T/o-wroot"
MARK=$HOME/.vitrine-build-test-$$
if echo secret >"$MARK" 2>/dev/null; then
	mk home "cat '$MARK' > \"\$VT_OUT/out.txt\""
	expect_error "cannot read the host's home ($HOME)" "No such file or directory" \
		$V build "$RECIPE" --out "$T/o-home"
	rm -f "$MARK"
else
	skip_part "HOME $HOME not writable: no marker"
fi
mk roothome 'ls -A /root /home > "$VT_OUT/out.txt"'
expect_error "no /root or /home inside" "No such file or directory" $V build "$RECIPE" --out "$T/o-rh"
mk slow 'sleep 60' 'Timeout: 1'
expect_error "killed at the timeout" "run 1 timed out after 1 s" $V build "$RECIPE" --out "$T/o-slow"
mk tmpcap 'head -c 3000000 /dev/zero > /tmp/big' 'Tmp-Size: 2M'
expect_error "/tmp is capped" "No space left on device" $V build "$RECIPE" --out "$T/o-tmp"
mk fails 'echo about to fail; exit 3'
expect_error "a failing step" "run 1 failed \(exit 3; log .*\): about to fail" $V build "$RECIPE" --out "$T/o-fail"
mk noout 'echo nothing'
expect_error "a missing output" "the build made no output out.txt" $V build "$RECIPE" --out "$T/o-noout"

say "bad input"
cp "$DATA/hello/hello.recipe" "$T/bad.recipe"
echo "Maintainer: someone" >>"$T/bad.recipe"
expect_error "unknown field" "line 16: unknown field Maintainer" $V build "$T/bad.recipe" --out "$T/o-bad"
mkdir -p "$T/wrongsrc"
cp -r "$DATA/hello/src" "$T/wrongsrc/src"
echo '/* changed */' >>"$T/wrongsrc/src/hello.c"
cp "$DATA/hello/hello.recipe" "$T/wrongsrc/"
expect_error "a changed source" "source .* has tree digest sha256:[0-9a-f]{64}, the recipe says sha256:0e9d" \
	$V build "$T/wrongsrc/hello.recipe" --out "$T/o-ws"
expect_error "a missing recipe" "vitrine: build: .*nothing.recipe" $V build "$T/nothing.recipe"
expect_error "a bad key" "vitrine: key: " $V build "$DATA/hello/hello.recipe" --key "$T/builder.key.vkey"
expect_error "two recipes" "give exactly one RECIPE" $V build a b

say "a tarball source: same tree digest, same program"
mkdir -p "$T/tar"
# Other owners and times, and entries under "./": the same tree.
tar -C "$DATA/hello/src" -czf "$T/tar/hello-src.tar.gz" --owner=7 --group=7 --mtime=@1 .
sed 's/^Source: src /Source: hello-src.tar.gz /' "$DATA/hello/hello.recipe" >"$T/tar/hello.recipe"
expect_ok "tarball digest" $V build --tree-digest "$T/tar/hello-src.tar.gz"
grep_ok "tarball has the directory's digest" "^sha256:0e9d051be1780c4f62d2684402e9e7040b69542b2a6b1c57f527d9b5658e0d0d$" "$T/last.out"
expect_ok "build from a tarball" $V build "$T/tar/hello.recipe" --out "$T/o-tar" --key "$T/builder.key"
[ "$(field "$T/last.out" 'output hello')" = "$(field "$T/h1.sum" 'output hello')" ] ||
	fail "the tarball build differs from the directory build"
ok "same program from the tarball"
jq -r .payload "$T/o-tar/hello-1.0.intoto.jsonl" | base64 -d |
	jq -e --arg s "$(sha256sum "$T/tar/hello-src.tar.gz" | cut -d' ' -f1)" \
		'.predicate.buildDefinition.externalParameters.source.digest.sha256 == $s' >/dev/null ||
	fail "tarball sha256 not in the provenance"
ok "the tarball's own sha256 is in the provenance"

say "a YARA rule database"
expect_ok "build the rules" $V build "$DATA/rules/rules.recipe" --out "$T/y1" --key "$T/builder.key"
cp "$T/last.out" "$T/y1.sum"
grep_ok "rules reproduce" "^reproduced yes$" "$T/y1.sum"
expect_ok "build the rules again" $V build "$DATA/rules/rules.recipe" --out "$T/y2"
[ "$(field "$T/y1.sum" 'output rules.yarc')" = "$(field "$T/last.out" 'output rules.yarc')" ] ||
	fail "the rules differ between builds"
ok "same rules digest twice"
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$T/eicar.com"
expect_ok "the compiled rules load in yara" yara -C "$T/y1/rules.yarc" "$T/eicar.com"
grep_ok "and match" "^eicar_test_file " "$T/last.out"
[ "$(cat "$T/y1/rules.list")" = "/src/eicar.yar
/src/families/dropper.yar
/src/families/packer.yar" ] || fail "rules order: $(cat "$T/y1/rules.list")"
ok "rules compiled in bytewise path order"

finish
