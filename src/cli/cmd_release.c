/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine release: trust keys at a site, upload a local build, publish it. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/recipe.h"
#include "vitrine/site.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char help[] =
    "usage: vitrine release trust (--builder VKEYFILE | --rebuilder VKEYFILE) --dir DIR\n"
    "       vitrine release upload RECIPE [--out DIR] --url URL --token TOKEN\n"
    "       vitrine release publish NAME VERSION --url URL --token TOKEN\n"
    "\n"
    "trust    add a builder's or rebuilder's verifier key to the site at DIR\n"
    "         (DIR/conveyer/builders, rebuilders); restart vitrine serve to apply\n"
    "upload   send a build made by 'vitrine build RECIPE --out DIR --key KEY' to the\n"
    "         site: its envelope, the recipe, the source as a tarball and every\n"
    "         output; the site verifies and logs a build entry (token role builder)\n"
    "publish  release NAME VERSION once its build entry is proven included in a\n"
    "         published checkpoint; the site logs a release entry\n"
    "Each write prints the entry's log index and its receipt (a tlog-proof).\n";

typedef struct {
	const char *dir, *url, *token, *out, *builder, *rebuilder;
} opts;

static int parse(opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"dir", required_argument, 0, 'd'},	    {"url", required_argument, 0, 'u'},
	    {"token", required_argument, 0, 't'},   {"out", required_argument, 0, 'o'},
	    {"builder", required_argument, 0, 'b'}, {"rebuilder", required_argument, 0, 'r'},
	    {"help", no_argument, 0, 'h'},	    {0, 0, 0, 0},
	};
	int c;
	memset(o, 0, sizeof(*o));
	o->out = "out";
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'd': o->dir = optarg; break;
		case 'u': o->url = optarg; break;
		case 't': o->token = optarg; break;
		case 'o': o->out = optarg; break;
		case 'b': o->builder = optarg; break;
		case 'r': o->rebuilder = optarg; break;
		case 'h': fputs(help, stdout); return EXIT_OK;
		default: return cli_usage("release", "bad option");
		}
	}
	return -1;
}

static int do_trust(const opts *o, int argc, char **argv)
{
	const char *path = o->builder ? o->builder : o->rebuilder;
	vt_buf b;
	int rc = EXIT_FAIL;

	if (optind != argc || !o->dir || !!o->builder == !!o->rebuilder)
		return cli_usage("release", "trust needs --dir DIR and one of --builder or "
					    "--rebuilder VKEYFILE");
	vt_buf_init(&b, 4096);
	if (cli_read_file(&b, path) < 0 ||
	    vt_site_trust(o->dir, o->rebuilder != NULL, (const char *)b.ptr, b.len) < 0) {
		rc = cli_fail("trust");
		goto done;
	}
	printf("trusted %s key %s\n", o->rebuilder ? "rebuilder" : "builder", path);
	rc = EXIT_OK;
done:
	vt_buf_dispose(&b);
	return rc;
}

/*
 * Upload streams: the source tarball and the artifacts are read from disk
 * as curl sends them (a directory source is packed into a temporary file
 * first), so memory stays small whatever their size; only the envelope and
 * the recipe, which the site bounds (docs/conveyer.md), are sent from memory.
 */
static int do_upload(const opts *o, int argc, char **argv)
{
	char path[8192], rdir[4096], tmp[4096] = "", srcpath[8192];
	char(*arts)[8192] = NULL;
	vt_client_part *parts = NULL;
	vt_release_statement st = {0};
	vt_recipe r = {0};
	vt_client *cl = NULL;
	vt_client_response resp;
	vt_buf recipe, env, out;
	struct stat sb;
	size_t np = 0;
	int fd = -1, rc = EXIT_FAIL;

	vt_client_response_init(&resp);
	vt_buf_init(&recipe, VT_RECIPE_MAX_SIZE);
	vt_buf_init(&env, VT_SITE_ENVELOPE_MAX + 1);
	vt_buf_init(&out, 4 << 20);
	if (optind != argc - 1 || !o->url || !o->token) {
		rc = cli_usage("release", "upload needs RECIPE, --url and --token");
		goto done;
	}
	if (cli_read_file(&recipe, argv[optind]) < 0 ||
	    vt_recipe_parse(&r, (const char *)recipe.ptr, recipe.len) < 0) {
		rc = cli_fail(argv[optind]);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s-%s.intoto.jsonl", o->out, r.name, r.version);
	if (cli_read_file(&env, path) < 0 || cv_envelope_statement(&st, &env) < 0) {
		rc = cli_fail(path);
		goto done;
	}
	while (env.len && env.ptr[env.len - 1] == '\n')
		env.len--;
	snprintf(rdir, sizeof(rdir), "%s", argv[optind]);
	if (r.source[0] == '/')
		snprintf(srcpath, sizeof(srcpath), "%s", r.source);
	else
		snprintf(srcpath, sizeof(srcpath), "%s/%s", dirname(rdir), r.source);
	if (stat(srcpath, &sb) < 0) {
		vt_error_set(VT_ENOTFOUND, "%s: not found", srcpath);
		rc = cli_fail("source");
		goto done;
	}
	if (S_ISDIR(sb.st_mode)) {
		const char *td = getenv("TMPDIR");
		snprintf(tmp, sizeof(tmp), "%s/vitrine-source.XXXXXX", td && *td ? td : "/tmp");
		if ((fd = mkstemp(tmp)) < 0) {
			vt_error_sys(VT_EIO, errno, "%s", tmp);
			tmp[0] = 0;
			rc = cli_fail("source");
			goto done;
		}
		if (vt_tree_pack_fd(fd, srcpath) < 0) {
			rc = cli_fail("source");
			goto done;
		}
		snprintf(srcpath, sizeof(srcpath), "%s", tmp);
	}
	if (!(parts = calloc(st.nsubjects + 3, sizeof(*parts))) ||
	    !(arts = calloc(st.nsubjects ? st.nsubjects : 1, sizeof(*arts)))) {
		vt_error_set(VT_ENOMEM, "out of memory");
		rc = cli_fail("upload");
		goto done;
	}
	parts[np++] = (vt_client_part){.name = "envelope",
				       .file_name = "envelope.intoto.jsonl",
				       .data = env.ptr,
				       .len = env.len};
	parts[np++] = (vt_client_part){
	    .name = "recipe", .file_name = "recipe", .data = recipe.ptr, .len = recipe.len};
	parts[np++] =
	    (vt_client_part){.name = "source", .file_path = srcpath, .file_name = "source.tar"};
	for (size_t i = 0; i < st.nsubjects; i++) {
		snprintf(arts[i], sizeof(arts[i]), "%s/%s", o->out, st.subjects[i].name);
		parts[np++] = (vt_client_part){
		    .name = "artifact", .file_path = arts[i], .file_name = st.subjects[i].name};
	}
	if (vt_client_new(&cl, o->url, o->token) < 0 ||
	    vt_client_upload_parts(cl, &resp, &out, "/api/v1/builds", parts, np) < 0) {
		rc = cli_fail("upload");
		goto done;
	}
	fwrite(out.ptr, 1, out.len, stdout);
	rc = EXIT_OK;
done:
	if (fd >= 0)
		close(fd);
	if (tmp[0])
		unlink(tmp);
	free(parts);
	free(arts);
	vt_client_free(cl);
	vt_client_response_dispose(&resp);
	vt_release_statement_dispose(&st);
	vt_recipe_dispose(&r);
	vt_buf_dispose(&recipe);
	vt_buf_dispose(&env);
	vt_buf_dispose(&out);
	return rc;
}

static int do_publish(const opts *o, int argc, char **argv)
{
	char path[256];
	vt_client *cl = NULL;
	vt_client_response resp;
	vt_buf out;
	int rc = EXIT_FAIL;

	vt_client_response_init(&resp);
	vt_buf_init(&out, 8 << 20);
	if (optind != argc - 2 || !o->url || !o->token) {
		rc = cli_usage("release", "publish needs NAME VERSION, --url and --token");
		goto done;
	}
	if (vt_release_check_name(argv[optind], strlen(argv[optind])) < 0 ||
	    vt_release_check_version(argv[optind + 1], strlen(argv[optind + 1])) < 0) {
		rc = cli_fail("publish");
		goto done;
	}
	snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", argv[optind], argv[optind + 1]);
	if (vt_client_new(&cl, o->url, o->token) < 0 ||
	    vt_client_post_as(cl, &resp, &out, path, "text/plain", "", 0) < 0) {
		rc = cli_fail("publish");
		goto done;
	}
	fwrite(out.ptr, 1, out.len, stdout);
	rc = EXIT_OK;
done:
	vt_client_free(cl);
	vt_client_response_dispose(&resp);
	vt_buf_dispose(&out);
	return rc;
}

int cmd_release(int argc, char **argv)
{
	opts o;
	int rc = cli_sub_help(argc, argv, help);
	if (rc >= 0)
		return rc;
	if ((rc = parse(&o, argc, argv)) >= 0)
		return rc;
	if (strcmp(argv[1], "trust") == 0)
		return do_trust(&o, argc, argv);
	if (strcmp(argv[1], "upload") == 0)
		return do_upload(&o, argc, argv);
	if (strcmp(argv[1], "publish") == 0)
		return do_publish(&o, argc, argv);
	return cli_usage("release", "unknown subcommand \"%s\"", argv[1]);
}
