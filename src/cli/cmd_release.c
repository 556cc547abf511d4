/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine release: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_release(int argc, char **argv)
{
	fprintf(stderr, "vitrine: release: not available in this build\n");
	return EXIT_FAIL;
}
