/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine analysis-child: the confined analyser the server spawns (internal, not listed). */
#include "cli.h"
#include "vitrine/analysis.h"
#include "vitrine/error.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine analysis-child --ppid PID --rules DIGEST|none --limits D,M,MS,TS,T\n"
    "                              --flags F --memory-max BYTES\n"
    "\n"
    "Internal: the confined analysis child that `vitrine serve` starts for each\n"
    "analysis worker (docs/analysis.md, \"The confined analyser\"). It talks to its\n"
    "parent over fd 3 and reads saved rules from fd 4; it is not meant to be run\n"
    "by hand.\n";

int cmd_analysis_child(int argc, char **argv);

int cmd_analysis_child(int argc, char **argv)
{
	vt_analysis_child_options o;
	bool confined = false;
	int rc;

	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(help, stdout);
		return EXIT_OK;
	}
	if (vt_analysis_child_args(&o, argc, argv) < 0)
		return cli_usage("analysis-child", "%s", vt_error_last());
	rc = vt_analysis_child_run(&confined, &o) == 0 ? EXIT_OK : EXIT_FAIL;
	/* Until confinement stderr is the server's; after it a write kills
	 * (SIGSYS), and the parent reports the exit status. */
	if (rc != EXIT_OK && !confined)
		fprintf(stderr, "vitrine: analysis child: %s\n", vt_error_last());
	/* No atexit handlers (LeakSanitizer would ptrace) under the filter. */
	_exit(rc);
}
