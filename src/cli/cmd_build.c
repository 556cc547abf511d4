/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine build: build a recipe twice in the sandbox, compare, sign its provenance. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/conveyer.h"
#include "vitrine/dsse.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/sandbox.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: vitrine build RECIPE [--out DIR] [--key KEYFILE] [--builder-id ID] [--once]\n"
    "\n"
    "Build RECIPE (docs/conveyer.md) in a bubblewrap sandbox: check the source's\n"
    "tree digest and the sandbox, run the steps twice under varied environments\n"
    "(umask, locale, time zone, hostname, work directory, VT_JOBS, VT_ORDER, time)\n"
    "and compare the outputs byte for byte. When they agree, the outputs, the\n"
    "build log (NAME-VERSION.log) and the provenance go to DIR: an in-toto\n"
    "statement with a SLSA provenance v1 predicate in a DSSE envelope signed by\n"
    "KEYFILE (NAME-VERSION.intoto.jsonl), or the unsigned statement\n"
    "(NAME-VERSION.intoto.json) without --key. A build that does not reproduce\n"
    "prints which outputs differ and how, keeps both runs and exits 1.\n"
    "\n"
    "  --out DIR         output directory (default: out)\n"
    "  --key KEYFILE     builder's signed-note private key (vitrine key generate)\n"
    "  --builder-id ID   runDetails.builder.id (default: "
    "vitrine-local-builder)\n"
    "  --once            one run only, no reproducibility check\n"
    "  --verbose, -v     progress lines on stderr (default when it is a terminal)\n"
    "  --check-sandbox   only check that the sandbox works here\n"
    "  --tree-digest PATH  only print the tree digest of a source directory or\n"
    "                    tarball (with -v also its manifest) for a recipe's Source\n";

static void progress(const char *line, void *payload)
{
	fprintf(stderr, "build: %s\n", line);
}

static void print_summary(const vt_build *b, bool once)
{
	char hex[2 * VT_HASH_SIZE + 1];
	printf("name %s\nversion %s\n", b->recipe.name, b->recipe.version);
	vt_hex_encode(hex, b->recipe.digest.b, VT_HASH_SIZE);
	printf("recipe sha256:%s\n", hex);
	vt_hex_encode(hex, b->source_digest.b, VT_HASH_SIZE);
	printf("source tree:%s\n", hex);
	for (size_t i = 0; i < b->ntools; i++) {
		vt_hex_encode(hex, b->tools[i].digest.b, VT_HASH_SIZE);
		printf("tool %s sha256:%s %s\n", b->tools[i].path, hex, b->tools[i].resolved);
	}
	for (size_t i = 0; i < b->noutputs; i++) {
		vt_hex_encode(hex, b->outputs[i].digest.b, VT_HASH_SIZE);
		printf("output %s sha256:%s %llu\n", b->outputs[i].name, hex,
		       (unsigned long long)b->outputs[i].size);
	}
	printf("reproduced %s\n", once ? "unchecked (--once)" : b->reproduced ? "yes" : "no");
}

/* Write DIR/NAME-VERSION.<ext> and print its name and digest. */
static int write_doc(const char *dir, const vt_build *b, const char *ext, const vt_buf *doc)
{
	char path[4096], hex[2 * VT_HASH_SIZE + 1];
	vt_hash h;
	int err, n;
	n = snprintf(path, sizeof(path), "%s/%s-%s.%s", dir, b->recipe.name, b->recipe.version,
		     ext);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vt_error_set(VT_ETOOBIG, "output path too long");
	if ((err = vt_fs_write_atomic(AT_FDCWD, path, doc->ptr, doc->len, 0644)) < 0 ||
	    (err = vt_sha256(&h, doc->ptr, doc->len)) < 0)
		return err;
	vt_hex_encode(hex, h.b, VT_HASH_SIZE);
	printf("%s %s sha256:%s\n", strcmp(ext, "intoto.json") == 0 ? "statement" : "envelope",
	       path, hex);
	return 0;
}

int cmd_build(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"out", required_argument, 0, 'o'},
	    {"key", required_argument, 0, 'k'},
	    {"builder-id", required_argument, 0, 'b'},
	    {"once", no_argument, 0, '1'},
	    {"verbose", no_argument, 0, 'v'},
	    {"check-sandbox", no_argument, 0, 'c'},
	    {"tree-digest", required_argument, 0, 't'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *key_path = NULL, *tree = NULL;
	vt_build_opts o = {.out_dir = "out", .builder_id = "vitrine-local-builder"};
	vt_dsse_signer signer;
	bool verbose = cli_tty(), check_only = false, have_key = false;
	vt_build b = {0};
	vt_buf stmt, env;
	int c, rc = EXIT_FAIL;

	vt_buf_init(&stmt, VT_DSSE_MAX_SIZE / 2);
	vt_buf_init(&env, VT_DSSE_MAX_SIZE);
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", opts, NULL)) != -1) {
		switch (c) {
		case 'o': o.out_dir = optarg; break;
		case 'k': key_path = optarg; break;
		case 'b': o.builder_id = optarg; break;
		case '1': o.once = true; break;
		case 'v': verbose = true; break;
		case 'c': check_only = true; break;
		case 't': tree = optarg; break;
		case 'h':
			fputs(help, stdout);
			rc = EXIT_OK;
			goto done;
		default: rc = cli_usage("build", "bad option"); goto done;
		}
	}
	if (tree) {
		char hex[2 * VT_HASH_SIZE + 1];
		vt_hash h;
		if (vt_tree_digest(&h, verbose ? &stmt : NULL, tree) < 0) {
			rc = cli_fail("tree digest");
			goto done;
		}
		vt_hex_encode(hex, h.b, VT_HASH_SIZE);
		fputs(vt_buf_cstr(&stmt), stdout);
		printf("sha256:%s\n", hex);
		rc = EXIT_OK;
		goto done;
	}
	if (check_only) {
		if (vt_sandbox_check(&stmt) < 0) {
			rc = cli_fail("sandbox");
			goto done;
		}
		printf("sandbox works: %s\n", vt_buf_cstr(&stmt));
		rc = EXIT_OK;
		goto done;
	}
	if (optind != argc - 1) {
		rc = cli_usage("build", "give exactly one RECIPE");
		goto done;
	}
	if (!*o.builder_id) {
		rc = cli_usage("build", "--builder-id may not be empty");
		goto done;
	}
	/* A bad key should fail before minutes of building, not after. */
	if (key_path) {
		if (cv_load_signer(&signer, key_path) < 0) {
			rc = cli_fail("key");
			goto done;
		}
		have_key = true;
	}
	o.recipe_path = argv[optind];
	if (verbose)
		o.progress = progress;
	if (vt_build_run(&b, &o) < 0) {
		rc = cli_fail("build");
		goto done;
	}
	print_summary(&b, o.once);
	if (!o.once && !b.reproduced) {
		fputs(vt_buf_cstr(&b.report), stdout);
		fflush(stdout);
		fprintf(stderr,
			"vitrine: build: %s %s does not reproduce: outputs differ between the runs "
			"(report on stdout; runs kept in %s)\n",
			b.recipe.name, b.recipe.version, b.work_dir);
		goto done;
	}
	if (vt_provenance_statement(&stmt, &b, o.builder_id) < 0) {
		rc = cli_fail("provenance");
		goto done;
	}
	if (have_key) {
		if (vt_dsse_sign(&env, &signer, VT_DSSE_INTOTO_TYPE, stmt.ptr, stmt.len) < 0 ||
		    vt_buf_addc(&env, '\n') < 0 ||
		    write_doc(o.out_dir, &b, "intoto.jsonl", &env) < 0) {
			rc = cli_fail("provenance");
			goto done;
		}
	} else if (vt_buf_addc(&stmt, '\n') < 0 ||
		   write_doc(o.out_dir, &b, "intoto.json", &stmt) < 0) {
		rc = cli_fail("provenance");
		goto done;
	}
	rc = EXIT_OK;
done:
	if (have_key)
		vt_dsse_signer_wipe(&signer);
	vt_build_dispose(&b);
	vt_buf_dispose(&stmt);
	vt_buf_dispose(&env);
	return rc;
}
