/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine bundle: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_bundle(int argc, char **argv)
{
	fprintf(stderr, "vitrine: bundle: not available in this build\n");
	return EXIT_FAIL;
}
