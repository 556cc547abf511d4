/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine verify: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_verify(int argc, char **argv)
{
	fprintf(stderr, "vitrine: verify: not available in this build\n");
	return EXIT_FAIL;
}
