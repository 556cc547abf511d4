/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The JSON report of an analysis (shape in docs/analysis.md): one object
 * per node, children nested under "children", built with jansson so that
 * every string is escaped and valid UTF-8.
 */
#include <jansson.h>
#include <string.h>

#include "analysis_int.h"
#include "vitrine/error.h"

static json_t *str_or_null(const char *s)
{
	return s != NULL && s[0] != '\0' ? vt_analysis__json_str(s, strlen(s)) : json_null();
}

static json_t *node_json(const vt_analysis_node *n)
{
	json_t *j = json_object(), *matches = json_array(), *children = json_array();

	if (n->name != NULL)
		json_object_set_new(j, "name", str_or_null(n->name));
	json_object_set_new(j, "depth", json_integer(n->depth));
	json_object_set_new(j, "size", json_integer((json_int_t)n->size));
	json_object_set_new(j, "verdict", json_string(vt_verdict_name(n->verdict)));
	if (n->reason != NULL)
		json_object_set_new(j, "reason", str_or_null(n->reason));
	if (n->timed_out)
		json_object_set_new(j, "timed_out", json_true());
	if (n->hashed) {
		json_object_set_new(j, "md5", json_string(n->md5));
		json_object_set_new(j, "sha1", json_string(n->sha1));
		json_object_set_new(j, "sha256", json_string(n->sha256));
		json_object_set_new(j, "ssdeep", str_or_null(n->ssdeep));
		json_object_set_new(j, "tlsh", str_or_null(n->tlsh));
		json_object_set_new(j, "entropy", json_real(n->entropy));
	}
	if (n->type != NULL) {
		json_object_set_new(j, "type", str_or_null(n->type));
		json_object_set_new(j, "mime", str_or_null(n->mime));
	}
	for (size_t i = 0; i < n->nmatches; i++) {
		const vt_analysis_match *m = &n->matches[i];
		json_t *jm = json_object(), *tags = json_array();
		json_t *meta = m->meta_json ? json_loads(m->meta_json, 0, NULL) : NULL;
		for (size_t k = 0; k < m->ntags; k++)
			json_array_append_new(tags, str_or_null(m->tags[k]));
		json_object_set_new(jm, "rule", str_or_null(m->rule));
		json_object_set_new(jm, "namespace", str_or_null(m->ns));
		json_object_set_new(jm, "tags", tags);
		json_object_set_new(jm, "meta", meta ? meta : json_object());
		json_object_set_new(jm, "verdict", json_string(vt_verdict_name(m->verdict)));
		json_array_append_new(matches, jm);
	}
	json_object_set_new(j, "matches", matches);
	if (n->facts_json != NULL) {
		json_t *facts = json_loads(n->facts_json, 0, NULL);
		const char *key;
		json_t *val;
		json_object_foreach(facts, key, val) json_object_set(j, key, val);
		json_decref(facts);
	}
	if (n->container != NULL)
		json_object_set_new(j, "container", str_or_null(n->container));
	for (size_t i = 0; i < n->nchildren; i++)
		json_array_append_new(children, node_json(&n->children[i]));
	if (n->nchildren > 0 || n->container != NULL)
		json_object_set_new(j, "children", children);
	else
		json_decref(children);
	return j;
}

int vt_analysis_result_json(vt_buf *b, const vt_analysis_result *r, const char *path)
{
	json_t *j = node_json(&r->root);
	char *s = NULL;
	int err = 0;

	if (path != NULL)
		json_object_set_new(j, "path", vt_analysis__json_str(path, strlen(path)));
	json_object_set_new(j, "ruleset", str_or_null(r->rules_digest));
	json_object_set_new(j, "magic_version", json_string(vt_analysis_magic_version()));
	if (r->members > 0) {
		json_object_set_new(j, "members", json_integer((json_int_t)r->members));
		json_object_set_new(j, "unpacked", json_integer((json_int_t)r->unpacked));
	}
	if ((s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	err = vt_buf_adds(b, s);
done:
	free(s);
	json_decref(j);
	return err;
}
