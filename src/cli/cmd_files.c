/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine files: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_files(int argc, char **argv)
{
	fprintf(stderr, "vitrine: files: not available in this build\n");
	return EXIT_FAIL;
}
