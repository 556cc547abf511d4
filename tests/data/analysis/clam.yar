rule clam_test_program
{
	meta:
		verdict = "malicious"
		description = "the harmless test program of Debian's clamav-testfiles"
	strings:
		$code = { BB 71 10 40 00 33 C0 50 50 8B F3 53 53 50 B0 29 40 30 04 66 AC 79 F9 BA }
	condition:
		$code
}
