/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine token: create, list and revoke the bearer tokens of a data directory. */
#include "cli.h"
#include "vitrine/error.h"
#include "vitrine/index.h"
#include "vitrine/token.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine token <command> --dir DIR [options]\n"
    "\n"
    "Bearer tokens of the site in DIR, kept in DIR/index.sqlite as SHA-256\n"
    "hashes (see docs/index.md). Changes count at once, also for a running\n"
    "server.\n"
    "\n"
    "  create --dir DIR --role ROLE --name NAME [--tenant ID --region REGION]\n"
    "        make a token and print its secret once, on standard output;\n"
    "        ROLE is submitter, analyst, auditor, admin, builder or\n"
    "        rebuilder; a submitter token needs --tenant (the customer\n"
    "        id) and --region (such as\n"
    "        EU), the others take neither; NAME has letters, digits, '-',\n"
    "        '_', '.' and is unique among valid tokens\n"
    "  list --dir DIR\n"
    "        id, role, name, tenant, region, created and revoked (UTC) of\n"
    "        every token; never a secret\n"
    "  revoke --dir DIR ID|NAME\n"
    "        refuse the token from now on\n";

int cli_token_file(const char **out, const char *path)
{
	/* Room for a longer line than a token, so a wrong file is refused by
	 * the server rather than cut to something that looks like one. */
	static char token[256];
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f || !fgets(token, sizeof(token), f)) {
		fprintf(stderr, "vitrine: cannot read token file %s\n", path);
		rc = EXIT_USAGE;
		goto done;
	}
	token[strcspn(token, "\r\n")] = '\0';
	*out = token;
done:
	if (f)
		fclose(f);
	return rc;
}

static void format_time(char *out, size_t cap, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (t == 0 || !gmtime_r(&tt, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, cap, "-");
}

static int print_token(const vt_token *t, void *payload)
{
	char created[32], revoked[32];
	format_time(created, sizeof(created), t->created);
	format_time(revoked, sizeof(revoked), t->revoked);
	printf("%-5" PRId64 " %-9s %-24s %-16s %-6s %-20s %s\n", t->id, t->role, t->name,
	       t->tenant[0] ? t->tenant : "-", t->region[0] ? t->region : "-", created, revoked);
	return 0;
}

static int open_index(vt_index **idx, const char *dir)
{
	char path[4096];
	/* Refuse to leave an index in a directory that holds no site. */
	snprintf(path, sizeof(path), "%s/log.key", dir);
	if (access(path, F_OK) != 0) {
		fprintf(stderr,
			"vitrine: %s is not a vitrine data directory (run 'vitrine "
			"init')\n",
			dir);
		return EXIT_FAIL;
	}
	if (vt_index_open(idx, dir) < 0)
		return cli_fail("cannot open the index");
	return EXIT_OK;
}

int cmd_token(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"dir", required_argument, 0, 'd'},
	    {"role", required_argument, 0, 'r'},
	    {"name", required_argument, 0, 'n'},
	    {"tenant", required_argument, 0, 't'},
	    {"region", required_argument, 0, 'g'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *dir = NULL, *role = NULL, *name = NULL, *tenant = NULL, *region = NULL, *sub;
	char secret[VT_TOKEN_LEN + 1];
	vt_index *idx = NULL;
	vt_token t;
	int c, rc;

	if ((rc = cli_sub_help(argc, argv, help)) >= 0)
		return rc;
	sub = argv[1];
	argc--;
	argv++;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': dir = optarg; break;
		case 'r': role = optarg; break;
		case 'n': name = optarg; break;
		case 't': tenant = optarg; break;
		case 'g': region = optarg; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("token", "bad option");
		}
	}
	if (!dir)
		return cli_usage("token", "--dir DIR is required");
	if (strcmp(sub, "create") == 0) {
		if (optind != argc)
			return cli_usage("token", "token create takes no argument");
		if (!role || !name)
			return cli_usage("token", "token create needs --role ROLE and --name NAME");
		if (vt_token_check_name(name) < 0 ||
		    vt_token_check_binding(role, tenant, region) < 0)
			return cli_usage("token", "%s", vt_error_last());
		if ((rc = open_index(&idx, dir)) != EXIT_OK)
			return rc;
		if (vt_index_token_create(&t, secret, idx, role, name, tenant, region) < 0) {
			rc = cli_fail("cannot create the token");
		} else {
			printf("%s\n", secret);
			fprintf(stderr,
				"token %" PRId64 " (%s, %s) created; the secret above is "
				"shown only once\n",
				t.id, t.role, t.name);
			rc = EXIT_OK;
		}
	} else if (strcmp(sub, "list") == 0) {
		if (optind != argc || role || name || tenant || region)
			return cli_usage("token", "token list takes only --dir");
		if ((rc = open_index(&idx, dir)) != EXIT_OK)
			return rc;
		printf("%-5s %-9s %-24s %-16s %-6s %-20s %s\n", "ID", "ROLE", "NAME", "TENANT",
		       "REGION", "CREATED", "REVOKED");
		rc = vt_index_token_list(idx, print_token, NULL) < 0
			 ? cli_fail("cannot list tokens")
			 : EXIT_OK;
	} else if (strcmp(sub, "revoke") == 0) {
		if (argc - optind != 1 || role || name || tenant || region)
			return cli_usage("token", "token revoke takes one ID or NAME and --dir");
		if ((rc = open_index(&idx, dir)) != EXIT_OK)
			return rc;
		if (vt_index_token_revoke(&t, idx, argv[optind]) < 0) {
			rc = cli_fail("cannot revoke");
		} else {
			fprintf(stderr, "token %" PRId64 " (%s, %s) revoked\n", t.id, t.role,
				t.name);
			rc = EXIT_OK;
		}
	} else {
		return cli_usage("token", "unknown token command \"%s\"", sub);
	}
	vt_index_close(idx);
	return rc;
}
