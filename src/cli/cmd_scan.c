/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine scan: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_scan(int argc, char **argv)
{
	fprintf(stderr, "vitrine: scan: not available in this build\n");
	return EXIT_FAIL;
}
