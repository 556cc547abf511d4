// SPDX-License-Identifier: Apache-2.0
// The EICAR test file, by its fixed prefix.
rule eicar_test_file
{
	strings:
		$a = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR"
	condition:
		$a at 0
}
