/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the module lands: reports "skipped". */
int main(void)
{
	return 77;
}
