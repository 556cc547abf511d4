/* SPDX-License-Identifier: Apache-2.0 */
/* vitrine bundle: everything an offline endpoint needs to verify a release, in one file. */
#include "cli.h"
#include "conveyer_cli.h"
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: vitrine bundle NAME@VERSION --url URL -o FILE [--checkpoint FILE] [--since FILE]\n"
    "\n"
    "Write a bundle (docs/conveyer.md, \"Bundle format\") for the release NAME VERSION\n"
    "of the site at URL: its provenance envelope, recipe, build entry, an inclusion\n"
    "proof of the entry, the rebuilders' statements with their logged entries and\n"
    "inclusion proofs under the same checkpoint and, with --since, a consistency\n"
    "proof from an older checkpoint (such as an endpoint's STATE/checkpoint).\n"
    "  --checkpoint FILE  prove inclusion under this checkpoint of the site's log,\n"
    "                     with the witnesses' cosignatures it carries (vitrine log\n"
    "                     cosign); default: the site's latest, without cosignatures\n"
    "  --since FILE       an older checkpoint note the bundle's must extend\n";

int cv_split_nv(char *name, char *version, const char *arg)
{
	const char *at = strchr(arg, '@');
	if (!at || vt_release_check_name(arg, (size_t)(at - arg)) < 0 ||
	    vt_release_check_version(at + 1, strlen(at + 1)) < 0)
		return vt_error_set(VT_EINVAL, "\"%s\": want NAME@VERSION", arg);
	memcpy(name, arg, (size_t)(at - arg));
	name[at - arg] = 0;
	strcpy(version, at + 1);
	return 0;
}

int cv_load_signer(vt_dsse_signer *s, const char *path)
{
	vt_buf b;
	int err;
	vt_buf_init(&b, 4096);
	if ((err = vt_fs_read(&b, AT_FDCWD, path)) == 0) {
		while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
			b.ptr[--b.len] = 0;
		err = vt_dsse_signer_from_note(s, (const char *)b.ptr, b.len);
	}
	if (err < 0)
		err = vt_error_wrap(err, "%s", path);
	if (b.ptr)
		memset(b.ptr, 0, b.len);
	vt_buf_dispose(&b);
	return err;
}

int cv_get_json(json_t **out, vt_client *cl, const char *path)
{
	json_error_t jerr;
	vt_buf b;
	int err;
	vt_buf_init(&b, (size_t)64 << 20);
	*out = NULL;
	if ((err = vt_client_get(cl, &b, path)) == 0 &&
	    !(*out = json_loadb((const char *)b.ptr, b.len, 0, &jerr)))
		err = vt_error_set(VT_EINVAL, "%s: %s", path, jerr.text);
	vt_buf_dispose(&b);
	return err;
}

int cv_get_blob(vt_buf *out, vt_client *cl, const char *kind, const char *hex)
{
	char path[256];
	vt_hash want, got;
	int err;
	if (!hex || strlen(hex) != 64 || vt_hex_decode(want.b, VT_HASH_SIZE, hex, 64) < 0)
		return vt_error_set(VT_EINVAL, "the site listed a malformed %s digest", kind);
	snprintf(path, sizeof(path), "/api/v1/%s/%s", kind, hex);
	if ((err = vt_client_get(cl, out, path)) < 0 ||
	    (err = vt_sha256(&got, out->ptr, out->len)) < 0)
		return err;
	if (!vt_hash_equal(&want, &got))
		return vt_error_set(VT_EVERIFY, "%s %s: the bytes served have another SHA-256",
				    kind, hex);
	return 0;
}

int cv_envelope_statement(vt_release_statement *st, const vt_buf *env)
{
	json_t *j = json_loadb((const char *)env->ptr, env->len, 0, NULL);
	const char *p = json_string_value(json_object_get(j, "payload"));
	vt_buf payload;
	int err;

	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	if (!p)
		err = vt_error_set(VT_EINVAL, "not a DSSE envelope");
	else if ((err = vt_base64_decode(&payload, p, strlen(p))) == 0)
		err = vt_release_statement_read(st, (const char *)payload.ptr, payload.len);
	json_decref(j);
	vt_buf_dispose(&payload);
	return err;
}

/* The checkpoint in a note, and the length of the note's text. */
static int note_checkpoint(vt_checkpoint *cp, const char *note, size_t len)
{
	size_t tl;
	int err;
	if ((err = vt_note_check(&tl, note, len)) < 0 ||
	    (err = vt_checkpoint_parse(cp, note, tl)) < 0)
		return vt_error_wrap(err, "checkpoint");
	return 0;
}

int cv_make_bundle(vt_buf *out, vt_client *cl, const char *name, const char *version,
		   const char *cp, size_t cp_len, const char *since, size_t since_len)
{
	static vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_endpoint_bundle b = {0};
	vt_tlog_reader *r = NULL;
	vt_checkpoint c, old;
	json_t *rel = NULL, *rebuilds;
	vt_buf env, recipe, entry, logged, pr, latest, rb[VT_ENDPOINT_MAX_REBUILDS],
	    rbe[VT_ENDPOINT_MAX_REBUILDS], rbp[VT_ENDPOINT_MAX_REBUILDS];
	char path[256];
	uint64_t index;
	size_t n, nrb = 0;
	int err;

	vt_buf_init(&env, VT_DSSE_MAX_SIZE);
	vt_buf_init(&recipe, 1 << 20);
	vt_buf_init(&entry, 1 << 17);
	vt_buf_init(&logged, 1 << 17);
	vt_buf_init(&pr, 4 << 20);
	vt_buf_init(&latest, 1 << 20);
	snprintf(path, sizeof(path), "/api/v1/releases/%s/%s", name, version);
	if ((err = cv_get_json(&rel, cl, path)) < 0)
		goto done;
	json_int_t bi = json_integer_value(json_object_get(rel, "build_index"));
	const char *e = json_string_value(json_object_get(json_object_get(rel, "build"), "entry"));
	if (!e || bi < 0) {
		err = vt_error_set(VT_EINVAL, "%s: no build entry in the answer", path);
		goto done;
	}
	index = (uint64_t)bi;
	vt_buf_adds(&entry, e);
	if ((err = cv_get_blob(&env, cl, "attestations",
			       json_string_value(json_object_get(rel, "attestation")))) < 0 ||
	    (err = cv_get_blob(&recipe, cl, "sources",
			       json_string_value(json_object_get(rel, "recipe")))) < 0)
		goto done;
	if (!cp) {
		if ((err = vt_client_get(cl, &latest, "/log/checkpoint")) < 0)
			goto done;
		cp = (const char *)latest.ptr;
		cp_len = latest.len;
	}
	if ((err = note_checkpoint(&c, cp, cp_len)) < 0 ||
	    (err = vt_tlog_reader_new(&r, c.size, vt_client_fetch_tile, cl)) < 0)
		goto done;
	if (index >= c.size) {
		err =
		    vt_error_set(VT_EINVAL, "the checkpoint (size %llu) does not cover entry %llu",
				 (unsigned long long)c.size, (unsigned long long)index);
		goto done;
	}
	/* The log, not the listing, says what the entry is. */
	if ((err = vt_tlog_reader_entry(&logged, r, index)) < 0)
		goto done;
	if (logged.len != entry.len || memcmp(logged.ptr, entry.ptr, entry.len) != 0) {
		err = vt_error_set(VT_EVERIFY,
				   "entry %llu of the log is not the build entry the site "
				   "lists",
				   (unsigned long long)index);
		goto done;
	}
	if ((err = vt_tlog_reader_prove_inclusion(proof, &n, r, index)) < 0 ||
	    (err = vt_tlog_proof_format(&pr, index, proof, n, cp, cp_len)) < 0)
		goto done;
	b.envelope = (const char *)env.ptr;
	b.envelope_len = env.len;
	while (b.envelope_len && b.envelope[b.envelope_len - 1] == '\n')
		b.envelope_len--;
	b.recipe = (const char *)recipe.ptr;
	b.recipe_len = recipe.len;
	b.entry = (const char *)entry.ptr;
	b.entry_len = entry.len;
	b.proof = (const char *)pr.ptr;
	b.proof_len = pr.len;
	if (since) {
		if ((err = note_checkpoint(&old, since, since_len)) < 0)
			goto done;
		if (old.size < c.size) {
			b.has_consistency = true;
			b.old_size = old.size;
			if ((err = vt_tlog_reader_prove_consistency(b.consistency, &b.nconsistency,
								    r, old.size)) < 0)
				goto done;
		}
	}
	/*
	 * Each rebuild with its entry, read from the log, and its inclusion
	 * proof under the same checkpoint; one logged after it is left out
	 * (the endpoint would not count it).
	 */
	rebuilds = json_object_get(rel, "rebuilds");
	for (size_t i = 0; i < json_array_size(rebuilds) && nrb < VT_ENDPOINT_MAX_REBUILDS; i++) {
		json_t *o = json_array_get(rebuilds, i);
		json_int_t ri = json_integer_value(json_object_get(o, "log_index"));
		const char *re = json_string_value(json_object_get(o, "entry"));
		if (ri < 0 || !re || !json_is_integer(json_object_get(o, "log_index"))) {
			err = vt_error_set(VT_EINVAL,
					   "%s: a rebuild without its log index and entry", path);
			goto done;
		}
		if ((uint64_t)ri >= c.size)
			continue;
		vt_buf_init(&rb[nrb], VT_DSSE_MAX_SIZE);
		vt_buf_init(&rbe[nrb], 1 << 17);
		vt_buf_init(&rbp[nrb], 4 << 20);
		nrb++;
		if ((err = cv_get_blob(&rb[nrb - 1], cl, "attestations",
				       json_string_value(json_object_get(o, "envelope")))) < 0 ||
		    (err = vt_tlog_reader_entry(&rbe[nrb - 1], r, (uint64_t)ri)) < 0)
			goto done;
		if (rbe[nrb - 1].len != strlen(re) ||
		    memcmp(rbe[nrb - 1].ptr, re, strlen(re)) != 0) {
			err =
			    vt_error_set(VT_EVERIFY,
					 "entry %lld of the log is not the rebuild entry the site "
					 "lists",
					 (long long)ri);
			goto done;
		}
		if ((err = vt_tlog_reader_prove_inclusion(proof, &n, r, (uint64_t)ri)) < 0 ||
		    (err = vt_tlog_proof_format(&rbp[nrb - 1], (uint64_t)ri, proof, n, cp,
						cp_len)) < 0)
			goto done;
		while (rb[nrb - 1].len && rb[nrb - 1].ptr[rb[nrb - 1].len - 1] == '\n')
			rb[nrb - 1].len--;
		b.rebuilds[b.nrebuilds] = (const char *)rb[nrb - 1].ptr;
		b.rebuild_lens[b.nrebuilds] = rb[nrb - 1].len;
		b.rebuild_entries[b.nrebuilds] = (const char *)rbe[nrb - 1].ptr;
		b.rebuild_entry_lens[b.nrebuilds] = rbe[nrb - 1].len;
		b.rebuild_proofs[b.nrebuilds] = (const char *)rbp[nrb - 1].ptr;
		b.rebuild_proof_lens[b.nrebuilds] = rbp[nrb - 1].len;
		b.nrebuilds++;
	}
	err = vt_endpoint_bundle_format(out, &b);
done:
	for (size_t i = 0; i < nrb; i++) {
		vt_buf_dispose(&rb[i]);
		vt_buf_dispose(&rbe[i]);
		vt_buf_dispose(&rbp[i]);
	}
	vt_tlog_reader_free(r);
	json_decref(rel);
	vt_buf_dispose(&env);
	vt_buf_dispose(&recipe);
	vt_buf_dispose(&entry);
	vt_buf_dispose(&logged);
	vt_buf_dispose(&pr);
	vt_buf_dispose(&latest);
	return err;
}

int cmd_bundle(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, 0, 'u'},
	    {"out", required_argument, 0, 'o'},
	    {"checkpoint", required_argument, 0, 'c'},
	    {"since", required_argument, 0, 's'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	const char *url = NULL, *outp = NULL, *cpf = NULL, *sincef = NULL;
	char name[VT_RELEASE_NAME_MAX + 1], version[VT_RELEASE_NAME_MAX + 1];
	vt_client *cl = NULL;
	vt_buf out, cp, since;
	int c, rc = EXIT_FAIL;

	vt_buf_init(&out, VT_ENDPOINT_BUNDLE_MAX);
	vt_buf_init(&cp, 1 << 20);
	vt_buf_init(&since, 1 << 20);
	optind = 1;
	while ((c = getopt_long(argc, argv, "ho:", lo, NULL)) != -1) {
		switch (c) {
		case 'u': url = optarg; break;
		case 'o': outp = optarg; break;
		case 'c': cpf = optarg; break;
		case 's': sincef = optarg; break;
		case 'h':
			fputs(help, stdout);
			rc = EXIT_OK;
			goto done;
		default: rc = cli_usage("bundle", "bad option"); goto done;
		}
	}
	if (optind != argc - 1 || !url || !outp) {
		rc = cli_usage("bundle", "bundle needs NAME@VERSION, --url and -o FILE");
		goto done;
	}
	if (cv_split_nv(name, version, argv[optind]) < 0) {
		rc = cli_fail("bundle");
		goto done;
	}
	if ((cpf && cli_read_file(&cp, cpf) < 0) || (sincef && cli_read_file(&since, sincef) < 0)) {
		rc = cli_fail("bundle");
		goto done;
	}
	if (vt_client_new(&cl, url, NULL) < 0 ||
	    cv_make_bundle(&out, cl, name, version, cpf ? (const char *)cp.ptr : NULL, cp.len,
			   sincef ? (const char *)since.ptr : NULL, since.len) < 0 ||
	    vt_fs_write_atomic(AT_FDCWD, outp, out.ptr, out.len, 0644) < 0) {
		rc = cli_fail("bundle");
		goto done;
	}
	printf("bundle %s %s: %zu bytes in %s\n", name, version, out.len, outp);
	rc = EXIT_OK;
done:
	vt_client_free(cl);
	vt_buf_dispose(&out);
	vt_buf_dispose(&cp);
	vt_buf_dispose(&since);
	return rc;
}

vt_check cv_fetch_refusal(char *msg, size_t cap, int err)
{
	vt_check k = err == VT_EIO || err == VT_EBUSY ? VT_CHECK_UNREACHABLE : VT_CHECK_BUNDLE;
	snprintf(msg, cap, "%s: %s: %s", vt_check_name(k),
		 k == VT_CHECK_UNREACHABLE ? "the site or its log cannot be reached"
					   : "no evidence from the site",
		 vt_error_last());
	return k;
}
