/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading the fields of a build's provenance that the site and endpoints
 * check, and the independent rebuilder's own statement (docs/conveyer.md,
 * "Rebuild statement"). Both are in-toto Statement v1 documents; the
 * rebuild predicate names the build by its envelope's digest and its
 * inputs by theirs, so a verdict cannot be moved to another build.
 */
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/release.h"
#include "conveyer_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

static int get_hex(vt_hash *out, json_t *s)
{
	const char *v = json_string_value(s);
	if (!v || strlen(v) != 64 || v[strspn(v, "0123456789abcdef")] != 0 ||
	    vt_hex_decode(out->b, VT_HASH_SIZE, v, 64) < 0)
		return VT_EINVAL;
	return 0;
}

static int copy_str(char *out, size_t cap, json_t *s)
{
	const char *v = json_string_value(s);
	if (!v || strlen(v) >= cap)
		return VT_EINVAL;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

/* subject: [{name, digest: {sha256}}], names checked as subject paths, no duplicates. */
static int read_subjects(vt_release_subject **out, size_t *n, json_t *subj)
{
	size_t count = json_array_size(subj);
	vt_release_subject *s;

	*out = NULL;
	*n = 0;
	if (!json_is_array(subj) || count == 0 || count > VT_RELEASE_SUBJECT_MAX)
		return vt_error_set(VT_EINVAL, "statement: 1 to %d subjects",
				    VT_RELEASE_SUBJECT_MAX);
	if ((s = calloc(count, sizeof(*s))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		json_t *e = json_array_get(subj, i);
		if (copy_str(s[i].name, sizeof(s[i].name), json_object_get(e, "name")) < 0 ||
		    vt_release_check_path(s[i].name, strlen(s[i].name)) < 0 ||
		    get_hex(&s[i].digest, json_object_get(json_object_get(e, "digest"), "sha256")) <
			0) {
			free(s);
			return vt_error_set(VT_EINVAL, "statement: subject %zu is malformed", i);
		}
		for (size_t j = 0; j < i; j++)
			if (strcmp(s[i].name, s[j].name) == 0) {
				int err = vt_error_set(VT_EINVAL, "statement: subject %s twice",
						       s[i].name);
				free(s);
				return err;
			}
	}
	*out = s;
	*n = count;
	return 0;
}

void vt_release_statement_dispose(vt_release_statement *s)
{
	free(s->subjects);
	memset(s, 0, sizeof(*s));
}

int vt_release_statement_read(vt_release_statement *out, const char *json, size_t len)
{
	json_error_t jerr;
	json_t *st, *bd, *ext, *src;
	int err = VT_EINVAL;

	memset(out, 0, sizeof(*out));
	if (!(st = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)))
		return vt_error_set(VT_EINVAL, "statement: %s", jerr.text);
	if ((err = read_subjects(&out->subjects, &out->nsubjects, json_object_get(st, "subject"))) <
	    0)
		goto done;
	err = VT_EINVAL;
	bd = json_object_get(json_object_get(st, "predicate"), "buildDefinition");
	ext = json_object_get(bd, "externalParameters");
	src = json_object_get(json_object_get(ext, "source"), "digest");
	if (copy_str(
		out->builder_id, sizeof(out->builder_id),
		json_object_get(
		    json_object_get(json_object_get(json_object_get(st, "predicate"), "runDetails"),
				    "builder"),
		    "id")) < 0) {
		vt_error_set(err, "statement: no runDetails.builder.id");
		goto done;
	}
	if (copy_str(out->build_type, sizeof(out->build_type), json_object_get(bd, "buildType")) <
	    0) {
		vt_error_set(err, "statement: no buildType");
		goto done;
	}
	if (copy_str(out->recipe_name, sizeof(out->recipe_name),
		     json_object_get(json_object_get(ext, "recipe"), "name")) < 0 ||
	    get_hex(&out->recipe,
		    json_object_get(json_object_get(json_object_get(ext, "recipe"), "digest"),
				    "sha256")) < 0) {
		vt_error_set(err, "statement: no recipe name and sha256");
		goto done;
	}
	if (get_hex(&out->source_tree, json_object_get(src, "vitrineTree1")) < 0) {
		vt_error_set(err, "statement: no source vitrineTree1 digest");
		goto done;
	}
	if (json_object_get(src, "sha256")) {
		if (get_hex(&out->source_file, json_object_get(src, "sha256")) < 0) {
			vt_error_set(err, "statement: bad source sha256");
			goto done;
		}
		out->has_source_file = true;
	}
	err = 0;
done:
	json_decref(st);
	if (err < 0)
		vt_release_statement_dispose(out);
	return err;
}

static json_t *digest_obj(const vt_hash *h)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, h->b, VT_HASH_SIZE);
	return json_pack("{s:s}", "sha256", hex);
}

int vt_rebuild_statement_format(vt_buf *out, const vt_rebuild_statement *s,
				const vt_release_subject *expected, size_t nexpected)
{
	json_t *st = NULL, *subj = NULL, *diff = NULL;
	char *text = NULL;
	int err = VT_ENOMEM;

	if (vt_release_check_name(s->name, strlen(s->name)) < 0 ||
	    vt_release_check_version(s->version, strlen(s->version)) < 0 || !s->rebuilder_id[0] ||
	    s->nsubjects == 0)
		return vt_error_set(VT_EINVAL, "rebuild statement: name, version, rebuilder id and "
					       "subjects are required");
	if (!(subj = json_array()) || !(diff = json_array()))
		goto done;
	for (size_t i = 0; i < s->nsubjects; i++)
		json_array_append_new(subj,
				      json_pack("{s:s,s:o}", "name", s->subjects[i].name, "digest",
						digest_obj(&s->subjects[i].digest)));
	/* Every expected output that is missing or different, with both digests. */
	for (size_t i = 0; i < nexpected; i++) {
		const vt_release_subject *got = NULL;
		for (size_t j = 0; j < s->nsubjects; j++)
			if (strcmp(s->subjects[j].name, expected[i].name) == 0)
				got = &s->subjects[j];
		if (got && vt_hash_equal(&got->digest, &expected[i].digest))
			continue;
		json_array_append_new(diff,
				      json_pack("{s:s,s:o,s:o*}", "name", expected[i].name,
						"expected", digest_obj(&expected[i].digest),
						"rebuilt", got ? digest_obj(&got->digest) : NULL));
	}
	if (s->reproduced !=
	    (json_array_size(diff) == 0 && nexpected == s->nsubjects && !s->runs_differ)) {
		err =
		    vt_error_set(VT_EINVAL, "rebuild statement: result disagrees with the digests");
		goto done;
	}
	st = json_pack("{s:s,s:O,s:s,s:{s:{s:s,s:s,s:o},s:o,s:o,s:{s:s},s:s,s:O,s:s,s:s}}", "_type",
		       VT_STATEMENT_TYPE, "subject", subj, "predicateType",
		       VT_REBUILD_PREDICATE_TYPE, "predicate", "build", "name", s->name, "version",
		       s->version, "envelope", digest_obj(&s->build_envelope), "recipe",
		       digest_obj(&s->recipe), "source", digest_obj(&s->source), "rebuilder", "id",
		       s->rebuilder_id, "result", s->reproduced ? "reproduced" : "differs",
		       "differences", diff, "finishedOn", s->finished, "ownRuns",
		       s->runs_differ ? "differ" : "reproduced");
	if (!st || !(text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS)))
		goto done;
	err = vt_buf_adds(out, text);
done:
	free(text);
	json_decref(st);
	json_decref(subj);
	json_decref(diff);
	if (err == VT_ENOMEM)
		vt_error_set(err, "cannot make the rebuild statement");
	return err;
}

void vt_rebuild_statement_dispose(vt_rebuild_statement *s)
{
	free(s->subjects);
	memset(s, 0, sizeof(*s));
}

int vt_statement__open(json_t **st, vt_buf *payload, const char *env, size_t len,
		       const uint8_t pub[VT_ED25519_PUB_SIZE], const char *what)
{
	json_error_t jerr;
	int err;

	*st = NULL;
	if ((err = vt_dsse_verify(payload, env, len, VT_DSSE_INTOTO_TYPE, pub)) < 0)
		goto done;
	if (!(*st = json_loadb((const char *)payload->ptr, payload->len, JSON_REJECT_DUPLICATES,
			       &jerr)))
		err = vt_error_set(VT_EINVAL, "%s: %s", what, jerr.text);
done:
	return err;
}

int vt_rebuild_statement_open(vt_rebuild_statement *out, const char *env, size_t len,
			      const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	json_t *st = NULL, *pr, *b;
	const char *result, *own;
	vt_buf payload;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	if ((err = vt_statement__open(&st, &payload, env, len, pub, "rebuild statement")) < 0)
		goto done;
	err = VT_EINVAL;
	if (!json_is_string(json_object_get(st, "_type")) ||
	    strcmp(json_string_value(json_object_get(st, "_type")), VT_STATEMENT_TYPE) != 0 ||
	    !json_is_string(json_object_get(st, "predicateType")) ||
	    strcmp(json_string_value(json_object_get(st, "predicateType")),
		   VT_REBUILD_PREDICATE_TYPE) != 0) {
		vt_error_set(err, "not a rebuild statement (_type, predicateType)");
		goto done;
	}
	if ((err = read_subjects(&out->subjects, &out->nsubjects, json_object_get(st, "subject"))) <
	    0)
		goto done;
	err = VT_EINVAL;
	pr = json_object_get(st, "predicate");
	b = json_object_get(pr, "build");
	result = json_string_value(json_object_get(pr, "result"));
	own = json_string_value(json_object_get(pr, "ownRuns"));
	if (copy_str(out->name, sizeof(out->name), json_object_get(b, "name")) < 0 ||
	    vt_release_check_name(out->name, strlen(out->name)) < 0 ||
	    copy_str(out->version, sizeof(out->version), json_object_get(b, "version")) < 0 ||
	    vt_release_check_version(out->version, strlen(out->version)) < 0 ||
	    get_hex(&out->build_envelope,
		    json_object_get(json_object_get(b, "envelope"), "sha256")) < 0 ||
	    get_hex(&out->recipe, json_object_get(json_object_get(pr, "recipe"), "sha256")) < 0 ||
	    get_hex(&out->source, json_object_get(json_object_get(pr, "source"), "sha256")) < 0 ||
	    copy_str(out->rebuilder_id, sizeof(out->rebuilder_id),
		     json_object_get(json_object_get(pr, "rebuilder"), "id")) < 0 ||
	    copy_str(out->finished, sizeof(out->finished), json_object_get(pr, "finishedOn")) < 0 ||
	    !result || (strcmp(result, "reproduced") != 0 && strcmp(result, "differs") != 0) ||
	    !json_is_array(json_object_get(pr, "differences")) || !own ||
	    (strcmp(own, "reproduced") != 0 && strcmp(own, "differ") != 0)) {
		vt_error_set(err, "rebuild statement: malformed predicate");
		goto done;
	}
	out->reproduced = strcmp(result, "reproduced") == 0;
	out->runs_differ = strcmp(own, "differ") == 0;
	if (out->reproduced &&
	    (json_array_size(json_object_get(pr, "differences")) != 0 || out->runs_differ)) {
		vt_error_set(err,
			     "rebuild statement: reproduced, yet differences listed or its own "
			     "runs differ");
		goto done;
	}
	err = 0;
done:
	json_decref(st);
	vt_buf_dispose(&payload);
	if (err < 0)
		vt_rebuild_statement_dispose(out);
	return err;
}
