/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the benchmark lands. */
#include <stdio.h>
int main(void)
{
	fputs("not built yet\n", stderr);
	return 2;
}
