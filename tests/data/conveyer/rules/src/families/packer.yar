// SPDX-License-Identifier: Apache-2.0
// A made-up packer marker for the conveyer's tests.
rule test_packer
{
	strings:
		$a = /VTPACK[0-9]{2}/
	condition:
		$a
}
