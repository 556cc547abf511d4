/* SPDX-License-Identifier: Apache-2.0 */
/*
 * in-toto Statement v1 with a SLSA provenance v1 predicate, made with
 * jansson and dumped with sorted keys, so the bytes depend only on the
 * build's values and never on the order this code sets them.
 */
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/sandbox.h"
#include "conveyer_int.h"

#include <jansson.h>
#include <string.h>
#include <time.h>

static json_t *digest_obj(const char *alg, const vt_hash *h)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, h->b, VT_HASH_SIZE);
	return json_pack("{s:s}", alg, hex);
}

static json_t *rfc3339(const struct timespec *t)
{
	char s[32];
	struct tm tm;
	gmtime_r(&t->tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(s);
}

/* The source as a resource: its tree digest, and the file's own when a tarball. */
static json_t *source_desc(const vt_build *b)
{
	json_t *d = digest_obj("vitrineTree1", &b->source_digest);
	if (d && b->source_is_tar) {
		char hex[2 * VT_HASH_SIZE + 1];
		vt_hex_encode(hex, b->source_file.b, VT_HASH_SIZE);
		json_object_set_new(d, "sha256", json_string(hex));
	}
	return json_pack("{s:s, s:o*}", "name", b->recipe.source, "digest", d);
}

int vt_provenance_statement(vt_buf *out, const vt_build *b, const char *builder_id)
{
	json_t *st = NULL, *subjects, *deps, *variants, *env;
	char *text = NULL;
	int err = VT_ENOMEM;

	if (!builder_id || !*builder_id)
		return vt_error_set(VT_EINVAL, "a builder id is needed");
	subjects = json_array();
	deps = json_array();
	variants = json_array();
	env = json_array();
	if (!subjects || !deps || !variants || !env)
		goto fail;
	for (size_t i = 0; i < b->noutputs; i++)
		if (json_array_append_new(
			subjects, json_pack("{s:s, s:o*}", "name", b->outputs[i].name, "digest",
					    digest_obj("sha256", &b->outputs[i].digest))) < 0)
			goto fail;
	if (json_array_append_new(deps, source_desc(b)) < 0 ||
	    json_array_append_new(deps, json_pack("{s:s, s:o*}", "name", b->recipe_name, "digest",
						  digest_obj("sha256", &b->recipe.digest))) < 0)
		goto fail;
	for (size_t i = 0; i < b->ntools; i++)
		if (json_array_append_new(
			deps, json_pack("{s:s, s:o*, s:{s:s}}", "name", b->tools[i].path, "digest",
					digest_obj("sha256", &b->tools[i].digest), "annotations",
					"resolved", b->tools[i].resolved)) < 0)
			goto fail;
	for (int v = 0; v < b->runs; v++)
		if (json_array_append_new(variants, json_string(vt_sandbox_variant(v))) < 0)
			goto fail;
	for (size_t i = 0; i < b->recipe.nenv; i++)
		if (json_array_append_new(env, json_string(b->recipe.env[i])) < 0)
			goto fail;
	st = json_pack("{s:s, s:o, s:s, s:{s:{s:s, s:{s:{s:s, s:o*}, s:o*}, s:{s:s, s:I, s:o, s:o, "
		       "s:b, s:I, s:I}, s:o},"
		       " s:{s:{s:s}, s:{s:s, s:o*, s:o*}, s:[{s:s, s:o*}]}}}",
		       "_type", VT_STATEMENT_TYPE, "subject", subjects, "predicateType",
		       VT_PREDICATE_TYPE, "predicate", "buildDefinition", "buildType",
		       VT_BUILD_TYPE, "externalParameters", "recipe", "name", b->recipe_name,
		       "digest", digest_obj("sha256", &b->recipe.digest), "source", source_desc(b),
		       "internalParameters", "sandbox", b->sandbox, "sourceDateEpoch",
		       (json_int_t)b->recipe.source_date_epoch, "variants", variants, "environment",
		       env, "reproduced", b->runs == 2 && b->reproduced, "timeout",
		       (json_int_t)b->recipe.timeout, "tmpSize", (json_int_t)b->recipe.tmp_size,
		       "resolvedDependencies", deps, "runDetails", "builder", "id", builder_id,
		       "metadata", "invocationId", b->invocation_id, "startedOn",
		       rfc3339(&b->started), "finishedOn", rfc3339(&b->finished), "byproducts",
		       "name", "build.log", "digest", digest_obj("sha256", &b->log_digest));
	subjects = deps = variants = env = NULL; /* stolen by json_pack, even when it fails */
	if (!st)
		goto fail;
	if (!(text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS)))
		goto fail;
	err = vt_buf_adds(out, text);
	free(text);
	json_decref(st);
	return err;
fail:
	json_decref(subjects);
	json_decref(deps);
	json_decref(variants);
	json_decref(env);
	json_decref(st);
	return vt_error_set(err, "cannot make the provenance statement");
}

static bool hex64(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

int vt_provenance_open(vt_buf *out, const char *env, size_t len,
		       const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	json_t *st = NULL, *subj;
	vt_buf payload;
	int err;

	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	if ((err = vt_statement__open(&st, &payload, env, len, pub, "statement")) < 0)
		goto done;
	err = VT_EINVAL;
	if (!json_is_object(st) || !json_is_string(json_object_get(st, "_type")) ||
	    strcmp(json_string_value(json_object_get(st, "_type")), VT_STATEMENT_TYPE) != 0) {
		vt_error_set(err, "statement: _type is not %s", VT_STATEMENT_TYPE);
		goto done;
	}
	if (!json_is_string(json_object_get(st, "predicateType")) ||
	    strcmp(json_string_value(json_object_get(st, "predicateType")), VT_PREDICATE_TYPE) !=
		0) {
		vt_error_set(err, "statement: predicateType is not %s", VT_PREDICATE_TYPE);
		goto done;
	}
	subj = json_object_get(st, "subject");
	if (!json_is_array(subj) || json_array_size(subj) == 0) {
		vt_error_set(err, "statement: no subject");
		goto done;
	}
	for (size_t i = 0; i < json_array_size(subj); i++) {
		json_t *s = json_array_get(subj, i);
		json_t *d = json_object_get(s, "digest");
		if (!json_is_string(json_object_get(s, "name")) ||
		    !hex64(json_string_value(json_object_get(d, "sha256")))) {
			vt_error_set(err, "statement: subject %zu is not {name, digest: {sha256}}",
				     i);
			goto done;
		}
	}
	err = vt_buf_add(out, payload.ptr, payload.len);
done:
	json_decref(st);
	vt_buf_dispose(&payload);
	return err;
}
