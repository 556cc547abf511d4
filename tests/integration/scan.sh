#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# vitrine scan: matches equal those of the yara tool (EICAR built here,
# Debian's clamav-testfiles, ELF binaries of the system), archive wrappings
# found through their container, exit codes, JSON lines, bad input.
VITRINE=${1:?usage: scan.sh path/to/vitrine}
. "$(dirname "$0")/lib.sh"

V=$VITRINE
A=${VT_TEST_DATA:?}/analysis
CT=/usr/share/clamav-testfiles
command -v jq >/dev/null || fail "jq is needed to read the JSON reports"
command -v yara >/dev/null || fail "the yara tool is needed to compare matches"

# rules_of FILE: "path rule" lines from the root nodes of JSON reports.
rules_of() {
	jq -r '.path as $p | .matches[] | "\($p) \(.rule)"' "$1" | sort
}

say "EICAR, built here from parts so that no scanner trips over the repository"
mkdir -p "$T/e"
printf 'X5O!P%%@AP[4\\PZX54(P^)7CC)7}$' >"$T/e/eicar.com"
printf 'EICAR-STANDARD-ANTI' >>"$T/e/eicar.com"
printf 'VIRUS-TEST-FILE!$H+H*' >>"$T/e/eicar.com"
[ "$(md5sum <"$T/e/eicar.com" | cut -d' ' -f1)" = 44d88612fea8a8f36de82e1278abb02f ] ||
	fail "EICAR built wrong"
cat >"$T/eicar.yar" <<'YAR'
rule eicar_test_file : test
{
	meta:
		verdict = "malicious"
	strings:
		$s = "-STANDARD-ANTIVIRUS-TEST-FILE!"
	condition:
		$s at 33
}
YAR
printf 'harmless\n' >"$T/e/clean.txt"
(cd "$T/e" && zip -q eicar.zip eicar.com && tar czf eicar.tgz eicar.zip clean.txt)
run eicar $V scan --rules "$T/eicar.yar" "$T/e/eicar.com"
[ "$RC" -eq 1 ] || fail "EICAR: exit $RC, want 1"
grep_ok "EICAR found" "^$T/e/eicar.com: malicious eicar_test_file$" "$T/eicar.out"
grep_ok "summary counts it" "^Found: 1$" "$T/eicar.out"
run eicartgz $V scan --rules "$T/eicar.yar" "$T/e/eicar.tgz"
[ "$RC" -eq 1 ] || fail "EICAR in tgz: exit $RC, want 1"
grep_ok "EICAR found through tar.gz and zip" \
	"^$T/e/eicar.tgz!eicar.zip!eicar.com: malicious eicar_test_file$" "$T/eicartgz.out"
run clean $V scan --rules "$T/eicar.yar" "$T/e/clean.txt"
[ "$RC" -eq 0 ] || fail "clean file: exit $RC, want 0"
ok "a clean file exits 0"
run ej $V scan --json --rules "$T/eicar.yar" "$T/e"
[ "$RC" -eq 1 ] || fail "--json: exit $RC"
jq -e . "$T/ej.out" >/dev/null || fail "--json output does not parse"
[ "$(wc -l <"$T/ej.out")" -eq 4 ] || fail "--json: want 4 lines (one per file)"
jq -se 'map(select(.path | endswith("eicar.com")))[0] | .verdict == "malicious" and
	.md5 == "44d88612fea8a8f36de82e1278abb02f" and .tlsh == null and
	(.matches[0].tags == ["test"]) and (.ruleset | length == 64)' "$T/ej.out" >/dev/null ||
	fail "--json report of EICAR"
jq -se 'map(select(.path | endswith("eicar.tgz")))[0] | .children[0].children[0].name == "eicar.com"' \
	"$T/ej.out" >/dev/null || fail "--json children"
ok "--json: one line per file, parses, hashes, children"
yara -r "$T/eicar.yar" "$T/e" | awk '{print $2, $1}' | sort >"$T/ey"
rules_of "$T/ej.out" >"$T/ev"
cmp -s "$T/ey" "$T/ev" || fail "EICAR matches differ from yara's: $(diff "$T/ey" "$T/ev")"
ok "EICAR matches equal yara's"

say "clamav-testfiles: the same direct matches as yara, and wrappings through their containers"
if [ -d "$CT" ]; then
	run ct $V scan -j 2 --json --rules "$A/clam.yar" "$CT"
	[ "$RC" -eq 1 ] || fail "clamav-testfiles: exit $RC, want 1"
	yara "$A/clam.yar" "$CT" | awk '{print $2, $1}' | sort >"$T/cy"
	rules_of "$T/ct.out" >"$T/cv"
	cmp -s "$T/cy" "$T/cv" || fail "direct matches differ from yara's: $(diff "$T/cy" "$T/cv")"
	ok "direct matches equal yara's ($(wc -l <"$T/cy") files)"
	run ctt $V scan -j 2 --rules "$A/clam.yar" "$CT"
	for f in clam.7z clam.bin-be.cpio clam.bin-le.cpio clam.bz2.zip clam.cab clam.exe.bz2 \
		clam.newc.cpio clam.odc.cpio clam.tar.gz clam.zip; do
		grep -Eq "^$CT/$f![^:]+: malicious clam_test_program$" "$T/ctt.out" ||
			fail "$f: the program is not found through its container"
	done
	ok "10 wrappings found through their container (7z, cpio x4, zip, bzip2 zip, bz2, tar.gz, cab)"
	for f in clam.d64.zip clam.impl.zip; do
		grep -Eq "^$CT/$f: unknown \(member .*Unsupported ZIP compression method" \
			"$T/ctt.out" || fail "$f: want unknown with the unsupported method"
	done
	ok "deflate64 and implode zips are unknown, with the reason"
else
	skip_part "clamav-testfiles not installed"
fi

say "ELF binaries of the system: the same matches as yara"
mkdir -p "$T/elf"
n=0
for f in /usr/bin/*; do
	[ -f "$f" ] && [ ! -L "$f" ] || continue
	[ "$(head -c 4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
	[ "$(stat -c %s "$f")" -lt 3000000 ] || continue
	cp "$f" "$T/elf/" && n=$((n + 1))
	[ $n -lt 60 ] || break
done
run elf $V scan -j 2 --json --rules "$A/elf.yar" "$T/elf"
[ "$RC" -le 1 ] || fail "ELF scan: exit $RC"
yara "$A/elf.yar" "$T/elf" | awk '{print $2, $1}' | sort >"$T/fy"
rules_of "$T/elf.out" >"$T/fv"
[ -s "$T/fy" ] || fail "yara found nothing: the comparison would be empty"
cmp -s "$T/fy" "$T/fv" || fail "ELF matches differ from yara's: $(diff "$T/fy" "$T/fv")"
ok "ELF matches equal yara's ($n files, $(wc -l <"$T/fy") matches)"
[ "$(jq -r 'select(.elf != null) | .path' "$T/elf.out" | wc -l)" -eq "$n" ] ||
	fail "ELF facts missing from some reports"
ok "every ELF report has elf facts"
run elfy $V scan -j 2 --yara-only --json --rules "$A/elf.yar" "$T/elf"
rules_of "$T/elfy.out" >"$T/fyo"
cmp -s "$T/fy" "$T/fyo" || fail "--yara-only matches differ from yara's"
ok "--yara-only: the same matches"

say "PE imphash equals pe.imphash() of the yara tool"
if [ -f "$CT/clam.exe" ]; then
	h=$($V scan --json "$CT/clam.exe" 2>/dev/null | jq -r .pe.imphash)
	printf 'import "pe"\nrule imp { condition: pe.imphash() == "%s" }\n' "$h" >"$T/imp.yar"
	yara "$T/imp.yar" "$CT/clam.exe" | grep -q '^imp ' || fail "imphash $h differs from yara's"
	ok "imphash $h"
fi

say "a pathological rule hits the timeout, and the verdict says so"
head -c 300000 /dev/zero >"$T/zeros"
cat >"$T/slow.yar" <<'YAR'
rule slow { condition: for any i in (0..filesize) : (for any j in (0..filesize) : (uint32(i) == 0x11223344 + j)) }
YAR
run slow $V scan --timeout 1 --rules "$T/slow.yar" "$T/zeros"
[ "$RC" -eq 1 ] || fail "timeout: exit $RC, want 1"
grep_ok "unknown, timed out" "zeros: unknown \(YARA scan timed out after 1 s\)" "$T/slow.out"

say "a zip bomb is refused within the limits"
head -c 200000000 /dev/zero >"$T/big" && (cd "$T" && zip -q -9 bomb.zip big) && rm "$T/big"
run bomb $V scan --max-member-size 10000000 "$T/bomb.zip"
[ "$RC" -eq 1 ] || fail "bomb: exit $RC, want 1"
grep_ok "bomb refused" "bomb.zip: unknown \(member big is larger than the member limit" "$T/bomb.out"

say "bad input: one line and exit 2"
expect_error "missing file" "^vitrine: .*/nope: No such file" $V scan "$T/nope"
[ "$RC" -eq 2 ] || fail "missing file: exit $RC, want 2"
printf 'rule fine { condition: true }\nrule broken { condition: nosuch }\n' >"$T/bad.yar"
expect_error "bad rules" "^vitrine: .*bad.yar:.*bad.yar:2: " $V scan --rules "$T/bad.yar" "$T/e"
[ "$RC" -eq 2 ] || fail "bad rules: exit $RC, want 2"
printf 'rule s { strings: $a = { 01 ?? } condition: $a }\n' >"$T/slowstr.yar"
expect_error "a rule that slows scanning" "slow" $V scan --rules "$T/slowstr.yar" "$T/e"
expect_error "missing rules" "^vitrine: .*nope.yar" $V scan --rules "$T/nope.yar" "$T/e"
expect_error "no path" "PATH" $V scan
expect_error "bad -j" "jobs" $V scan -j 0 "$T/e"
[ "$RC" -eq 2 ] || fail "bad -j: exit $RC, want 2"
expect_ok "--help" $V scan --help
grep_ok "--help shows the exit codes" "Exit status" "$T/last.out"

finish
