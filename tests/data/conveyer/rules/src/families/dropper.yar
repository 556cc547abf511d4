// SPDX-License-Identifier: Apache-2.0
// A made-up dropper family for the conveyer's tests.
rule test_dropper : dropper
{
	meta:
		description = "test rule, not a real family"
	strings:
		$mz = { 4D 5A }
		$s1 = "vitrine-test-dropper" ascii wide
	condition:
		$mz at 0 and $s1
}
