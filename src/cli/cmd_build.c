/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine build: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_build(int argc, char **argv)
{
	fprintf(stderr, "vitrine: build: not available in this build\n");
	return EXIT_FAIL;
}
