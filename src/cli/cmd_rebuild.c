/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine rebuild: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_rebuild(int argc, char **argv)
{
	fprintf(stderr, "vitrine: rebuild: not available in this build\n");
	return EXIT_FAIL;
}
