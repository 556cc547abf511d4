/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine submit: placeholder until the command lands. */
#include "cli.h"

#include <stdio.h>

int cmd_submit(int argc, char **argv)
{
	fprintf(stderr, "vitrine: submit: not available in this build\n");
	return EXIT_FAIL;
}
