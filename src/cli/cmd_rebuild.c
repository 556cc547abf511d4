/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine rebuild: an independent rebuilder reproduces a release and signs its verdict. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/checkpoint.h"
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/merkle.h"
#include "vitrine/reader.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const char help[] =
    "usage: vitrine rebuild NAME@VERSION --url SITE --key KEYFILE --log-key VKEYFILE\n"
    "                       [--out DIR] [--rebuilder-id ID] [--submit --token TOKEN]\n"
    "\n"
    "Fetch the release's provenance, recipe and source by digest from SITE, check\n"
    "that its build entry is included under the site's checkpoint signed by the log\n"
    "key and names exactly those digests, rebuild it in this machine's sandbox\n"
    "twice with the environment varied (as vitrine build does), compare the outputs\n"
    "with each other and with the provenance's subjects and sign a rebuild statement\n"
    "(docs/conveyer.md) with KEYFILE: DIR/NAME-VERSION.rebuild.intoto.jsonl.\n"
    "With --submit it goes to SITE/api/v1/rebuilds (token role rebuilder), which\n"
    "logs a rebuild entry. Exit 0 when reproduced, 1 when it differs or fails.\n"
    "  --out DIR          work and output directory (default: rebuild)\n"
    "  --rebuilder-id ID  predicate.rebuilder.id (default: vitrine-rebuilder)\n";

/* Check the build entry against the log: entry at index, under a checkpoint signed by v. */
static int check_logged(vt_client *cl, vt_note_verifier *v, uint64_t index, const vt_buf *entry)
{
	static vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_tlog_reader *r = NULL;
	vt_checkpoint c;
	vt_note note;
	vt_hash leaf;
	vt_buf cp;
	size_t n;
	int err;

	vt_buf_init(&cp, 1 << 20);
	if ((err = vt_client_get(cl, &cp, "/log/checkpoint")) < 0 ||
	    (err = vt_note_open(&note, (const char *)cp.ptr, cp.len, &v, 1)) < 0 ||
	    (err = vt_checkpoint_parse(&c, note.text, note.text_len)) < 0)
		goto done;
	if (strcmp(c.origin, vt_note_verifier_name(v)) != 0 || index >= c.size) {
		err = vt_error_set(VT_EVERIFY,
				   "the checkpoint is not the log's or does not cover "
				   "entry %llu",
				   (unsigned long long)index);
		goto done;
	}
	if ((err = vt_tlog_reader_new(&r, c.size, vt_client_fetch_tile, cl)) < 0 ||
	    (err = vt_tlog_reader_prove_inclusion(proof, &n, r, index)) < 0 ||
	    (err = vt_merkle_leaf_hash(&leaf, entry->ptr, entry->len)) < 0)
		goto done;
	if (vt_merkle_verify_inclusion(&leaf, index, c.size, proof, n, &c.root) < 0)
		err = vt_error_set(VT_EVERIFY,
				   "the build entry is not included at %llu under the "
				   "log's checkpoint",
				   (unsigned long long)index);
done:
	vt_tlog_reader_free(r);
	vt_buf_dispose(&cp);
	return err;
}

static int write_file(const char *dir, const char *rel, const vt_buf *b)
{
	char path[8192];
	int err;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	if ((err = vt_fs_mkparents(AT_FDCWD, path, 0755)) < 0)
		return err;
	return vt_fs_write_atomic(AT_FDCWD, path, b->ptr, b->len, 0644);
}

int cmd_rebuild(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, 0, 'u'},
	    {"key", required_argument, 0, 'k'},
	    {"log-key", required_argument, 0, 'l'},
	    {"out", required_argument, 0, 'o'},
	    {"token", required_argument, 0, 't'},
	    {"submit", no_argument, 0, 's'},
	    {"rebuilder-id", required_argument, 0, 'i'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *url = NULL, *keyf = NULL, *logkf = NULL, *out = "rebuild", *token = NULL;
	const char *rid = "vitrine-rebuilder";
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1], path[8192],
	    work[4096], outd[4096];
	bool submit = false, have_key = false;
	vt_note_verifier *logk = NULL;
	vt_dsse_signer signer;
	vt_client *cl = NULL;
	json_t *rel = NULL;
	vt_build_entry be = {0};
	vt_release_statement st = {0};
	vt_rebuild_statement rs = {0};
	vt_recipe rec = {0};
	vt_build b = {0};
	vt_buf env, recipe, src, entry, stmt, renv, resp_body;
	vt_client_response resp;
	vt_hash h;
	time_t now;
	struct tm tm;
	int c, rc = EXIT_FAIL;

	vt_client_response_init(&resp);
	vt_buf_init(&env, VT_DSSE_MAX_SIZE);
	vt_buf_init(&recipe, 1 << 20);
	vt_buf_init(&src, (size_t)1 << 30);
	vt_buf_init(&entry, 1 << 17);
	vt_buf_init(&stmt, VT_DSSE_MAX_SIZE / 2);
	vt_buf_init(&renv, VT_DSSE_MAX_SIZE);
	vt_buf_init(&resp_body, 4 << 20);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'k': keyf = optarg; break;
		case 'l': logkf = optarg; break;
		case 'o': out = optarg; break;
		case 't': token = optarg; break;
		case 's': submit = true; break;
		case 'i': rid = optarg; break;
		case 'h':
			fputs(help, stdout);
			rc = EXIT_OK;
			goto done;
		default: rc = cli_usage("rebuild", "bad option"); goto done;
		}
	}
	if (optind != argc - 1 || !url || !keyf || !logkf || (submit && !token)) {
		rc =
		    cli_usage("rebuild", "rebuild needs NAME@VERSION, --url, --key, --log-key (and "
					 "--token with --submit)");
		goto done;
	}
	if (cv_split_nv(name, version, argv[optind]) < 0 || cli_load_vkey(&logk, logkf) < 0) {
		rc = cli_fail("rebuild");
		goto done;
	}
	if (cv_load_signer(&signer, keyf) < 0) {
		rc = cli_fail("key");
		goto done;
	}
	have_key = true;
	snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", name, version);
	if (vt_client_new(&cl, url, token) < 0 || cv_get_json(&rel, cl, path) < 0) {
		rc = cli_fail("rebuild");
		goto done;
	}
	const char *logged =
	    json_string_value(json_object_get(json_object_get(rel, "build"), "entry"));
	vt_buf_adds(&entry, logged ? logged : "");
	if (vt_build_entry_parse(&be, (const char *)entry.ptr, entry.len) < 0 ||
	    check_logged(cl, logk,
			 (uint64_t)json_integer_value(json_object_get(rel, "build_index")),
			 &entry) < 0) {
		rc = cli_fail("build entry");
		goto done;
	}
	/* Everything is fetched by the digests the logged entry names. */
	{
		char eh[65], rh[65], sh[65];
		vt_hex_encode(eh, be.envelope.b, VT_HASH_SIZE);
		vt_hex_encode(rh, be.recipe.b, VT_HASH_SIZE);
		vt_hex_encode(sh, be.source.b, VT_HASH_SIZE);
		if (cv_get_blob(&env, cl, "attestations", eh) < 0 ||
		    cv_get_blob(&recipe, cl, "sources", rh) < 0 ||
		    cv_get_blob(&src, cl, "sources", sh) < 0) {
			rc = cli_fail("fetch");
			goto done;
		}
	}
	if (cv_envelope_statement(&st, &env) < 0 ||
	    vt_recipe_parse(&rec, (const char *)recipe.ptr, recipe.len) < 0) {
		rc = cli_fail("provenance");
		goto done;
	}
	if (strchr(st.recipe_name, '/') ||
	    vt_release_check_path(st.recipe_name, strlen(st.recipe_name)) < 0 ||
	    vt_release_check_path(rec.source, strlen(rec.source)) < 0) {
		vt_error_set(VT_EINVAL, "the recipe's name or Source path is not a plain relative "
					"path");
		rc = cli_fail("rebuild");
		goto done;
	}
	/* The recipe as its builder had it, the source tarball where its Source names it. */
	snprintf(work, sizeof(work), "%s/work", out);
	snprintf(outd, sizeof(outd), "%s/out", out);
	if (write_file(work, st.recipe_name, &recipe) < 0 ||
	    write_file(work, rec.source, &src) < 0) {
		rc = cli_fail("rebuild");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/%s", work, st.recipe_name);
	/*
	 * Two varied runs, as the builder made: a rebuild that does not even
	 * reproduce on this machine cannot attest "reproduced".
	 */
	{
		vt_build_opts o = {
		    .recipe_path = path, .out_dir = outd, .builder_id = rid, .once = false};
		if (vt_build_run(&b, &o) < 0) {
			rc = cli_fail("rebuild");
			goto done;
		}
	}
	snprintf(rs.name, sizeof(rs.name), "%s", name);
	snprintf(rs.version, sizeof(rs.version), "%s", version);
	rs.build_envelope = be.envelope;
	rs.recipe = be.recipe;
	rs.source = be.source;
	snprintf(rs.rebuilder_id, sizeof(rs.rebuilder_id), "%s", rid);
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(rs.finished, sizeof(rs.finished), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!(rs.subjects = calloc(b.noutputs, sizeof(*rs.subjects)))) {
		rc = cli_fail("rebuild");
		goto done;
	}
	rs.nsubjects = b.noutputs;
	for (size_t i = 0; i < b.noutputs; i++) {
		snprintf(rs.subjects[i].name, sizeof(rs.subjects[i].name), "%s", b.outputs[i].name);
		rs.subjects[i].digest = b.outputs[i].digest;
	}
	rs.runs_differ = !b.reproduced;
	if (rs.runs_differ) {
		printf("differs between its own runs (kept in %s):\n",
		       b.work_dir ? b.work_dir : "?");
		fwrite(b.report.ptr, 1, b.report.len, stdout);
		if (b.report.len && b.report.ptr[b.report.len - 1] != '\n')
			putchar('\n');
	}
	rs.reproduced = rs.nsubjects == st.nsubjects && !rs.runs_differ;
	for (size_t i = 0; i < st.nsubjects; i++) {
		bool same = false;
		for (size_t j = 0; j < rs.nsubjects; j++)
			if (strcmp(rs.subjects[j].name, st.subjects[i].name) == 0 &&
			    vt_hash_equal(&rs.subjects[j].digest, &st.subjects[i].digest))
				same = true;
		if (!same) {
			rs.reproduced = false;
			printf("differs %s\n", st.subjects[i].name);
		}
	}
	if (vt_rebuild_statement_format(&stmt, &rs, st.subjects, st.nsubjects) < 0 ||
	    vt_dsse_sign(&renv, &signer, VT_DSSE_INTOTO_TYPE, stmt.ptr, stmt.len) < 0 ||
	    vt_sha256(&h, renv.ptr, renv.len) < 0) {
		rc = cli_fail("statement");
		goto done;
	}
	vt_buf_addc(&renv, '\n');
	snprintf(path, sizeof(path), "%s/%s-%s.rebuild.intoto.jsonl", out, name, version);
	if (vt_fs_write_atomic(AT_FDCWD, path, renv.ptr, renv.len, 0644) < 0) {
		rc = cli_fail("statement");
		goto done;
	}
	{
		char hx[65];
		vt_hex_encode(hx, h.b, VT_HASH_SIZE);
		printf("rebuilt %s %s: %s\nstatement %s sha256:%s\n", name, version,
		       rs.reproduced ? "reproduced" : "differs", path, hx);
	}
	if (submit) {
		renv.len--;
		if (vt_client_post_as(cl, &resp, &resp_body, "/api/v1/rebuilds", "application/json",
				      renv.ptr, renv.len) < 0) {
			rc = cli_fail("submit");
			goto done;
		}
		fwrite(resp_body.ptr, 1, resp_body.len, stdout);
	}
	if (!rs.reproduced) {
		fprintf(stderr, "vitrine: rebuild: %s %s does not reproduce%s (statement signed)\n",
			name, version,
			rs.runs_differ ? " on this machine: its own runs differ" : "");
		goto done;
	}
	rc = EXIT_OK;
done:
	if (have_key)
		vt_dsse_signer_wipe(&signer);
	vt_note_verifier_free(logk);
	vt_client_free(cl);
	vt_client_response_dispose(&resp);
	json_decref(rel);
	vt_build_entry_dispose(&be);
	vt_release_statement_dispose(&st);
	vt_rebuild_statement_dispose(&rs);
	vt_recipe_dispose(&rec);
	vt_build_dispose(&b);
	vt_buf_dispose(&env);
	vt_buf_dispose(&recipe);
	vt_buf_dispose(&src);
	vt_buf_dispose(&entry);
	vt_buf_dispose(&stmt);
	vt_buf_dispose(&renv);
	vt_buf_dispose(&resp_body);
	return rc;
}
