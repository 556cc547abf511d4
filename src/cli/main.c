/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the CLI lands. */
#include <stdio.h>
int main(void)
{
	fputs("vitrine: not built yet\n", stderr);
	return 2;
}
