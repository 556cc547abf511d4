/* SPDX-License-Identifier: Apache-2.0 */
/* The program the conveyer's tests build: it prints a greeting. */
#include <stdio.h>

int main(void)
{
	puts("hello from a reproducible build");
	return 0;
}
