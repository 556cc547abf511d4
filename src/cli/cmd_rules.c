/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine rules: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_rules(int argc, char **argv)
{
	fprintf(stderr, "vitrine: rules: not available in this build\n");
	return EXIT_FAIL;
}
