/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The strict reader of the JSON report (vt_analysis_result_json's output)
 * back into a vt_analysis_result.
 *
 * It reads what a confined analysis child answers, so it treats its input
 * as hostile: jansson parses (duplicate keys refused, NUL in strings
 * refused), then every field is checked for its type and range, unknown
 * keys are refused, child depths must count up from 0 one level at a time,
 * and the tree is bounded in nodes, depth, matches, tags and string
 * lengths. What it accepts it can write again byte for byte: a result
 * read here and passed to vt_analysis_result_json gives the same text as
 * the result it came from (docs/analysis.md, "The confined analyser").
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis_int.h"
#include "vitrine/error.h"

#define STR_MAX	     65536 /* bytes of one string field */
#define KEY_MAX	     128   /* bytes of a meta or facts key */
#define TAGS_MAX     256   /* tags of one match */
#define META_MAX     256   /* metadata entries of one match */
#define SECTIONS_MAX 4096  /* sections of one PE or ELF */

typedef struct {
	size_t nodes;
	size_t matches;
} parse_ctx;

static int bad(const char *where, const char *what)
{
	return vt_error_set(VT_EINVAL, "analysis report: %s: %s", where, what);
}

/* A string field that report.c writes as null when empty: "" for null. */
static int get_str(char **out, const json_t *v, const char *where)
{
	const char *s;
	size_t n;

	if (json_is_null(v)) {
		s = "";
		n = 0;
	} else if (json_is_string(v)) {
		s = json_string_value(v);
		n = json_string_length(v);
		/* null stands for "": an empty string would not come back. */
		if (n == 0)
			return bad(where, "empty string (written as null)");
		if (n > STR_MAX)
			return bad(where, "string too long");
	} else {
		return bad(where, "not a string");
	}
	if ((*out = strndup(s, n)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	return 0;
}

/* A string or null into a fixed array (cap includes the NUL). */
static int get_fixed(char *out, size_t cap, const json_t *v, const char *where)
{
	size_t n;

	if (json_is_null(v)) {
		out[0] = '\0';
		return 0;
	}
	if (!json_is_string(v) || (n = json_string_length(v)) == 0 || n >= cap)
		return bad(where, "not a string of the right length");
	memcpy(out, json_string_value(v), n + 1);
	return 0;
}

static bool is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[n] == '\0';
}

static int get_hex(char *out, size_t digits, const json_t *v, const char *where)
{
	if (!json_is_string(v) || json_string_length(v) != digits ||
	    !is_hex(json_string_value(v), digits))
		return bad(where, "not lower-case hex of the right length");
	memcpy(out, json_string_value(v), digits + 1);
	return 0;
}

static int get_uint(uint64_t *out, const json_t *v, uint64_t max, const char *where)
{
	json_int_t i;

	if (!json_is_integer(v) || (i = json_integer_value(v)) < 0 || (uint64_t)i > max)
		return bad(where, "not an integer in range");
	*out = (uint64_t)i;
	return 0;
}

static int get_verdict(vt_verdict *out, const json_t *v, const char *where)
{
	if (!json_is_string(v) || vt_verdict_parse(out, json_string_value(v)) < 0)
		return bad(where, "not a verdict");
	return 0;
}

static bool key_ok(const char *k)
{
	size_t n = strlen(k);
	return n > 0 && n <= KEY_MAX;
}

/* A flat object of integers, reals, booleans and strings (meta, facts). */
static int check_flat(const json_t *o, size_t max, bool booleans, const char *where)
{
	const char *k;
	json_t *v;

	if (!json_is_object(o) || json_object_size(o) > max)
		return bad(where, "not an object of at most the allowed size");
	json_object_foreach((json_t *)o, k, v)
	{
		if (!key_ok(k))
			return bad(where, "bad key");
		if (json_is_integer(v) || (booleans && json_is_boolean(v)))
			continue;
		if (json_is_string(v) && json_string_length(v) <= STR_MAX)
			continue;
		return bad(where, "a value of the wrong type");
	}
	return 0;
}

/* {"pe": {...}} or {"elf": {...}}: scalars, and "sections" an array of flat objects. */
static int get_facts(char **out, const char *module, const json_t *v)
{
	json_t *top = NULL;
	const char *k;
	json_t *f;
	int err = 0;

	if (*out != NULL) {
		err = bad(module, "a node has facts of one module only");
		goto done;
	}
	if (!json_is_object(v) || json_object_size(v) > 64) {
		err = bad(module, "not an object");
		goto done;
	}
	json_object_foreach((json_t *)v, k, f)
	{
		if (strcmp(k, "sections") == 0 && json_is_array(f)) {
			size_t i;
			json_t *s;
			if (json_array_size(f) > SECTIONS_MAX) {
				err = bad(module, "too many sections");
				goto done;
			}
			json_array_foreach(f, i, s)
			{
				if ((err = check_flat(s, 16, false, "section")) < 0)
					goto done;
			}
		} else if (!key_ok(k) ||
			   !(json_is_integer(f) ||
			     (json_is_string(f) && json_string_length(f) <= STR_MAX))) {
			err = bad(module, "a fact of the wrong type");
			goto done;
		}
	}
	top = json_object();
	if (top == NULL || json_object_set(top, module, (json_t *)v) < 0 ||
	    (*out = json_dumps(top, JSON_COMPACT)) == NULL)
		err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	json_decref(top);
	return err;
}

static int get_match(vt_analysis_match *m, const json_t *j)
{
	const char *k;
	json_t *v;
	bool have_rule = false, have_ns = false, have_tags = false, have_meta = false,
	     have_verdict = false;
	int err = 0;

	if (!json_is_object(j))
		return bad("match", "not an object");
	json_object_foreach((json_t *)j, k, v)
	{
		if (strcmp(k, "rule") == 0) {
			err = get_str(&m->rule, v, "match rule");
			have_rule = true;
		} else if (strcmp(k, "namespace") == 0) {
			err = get_str(&m->ns, v, "match namespace");
			have_ns = true;
		} else if (strcmp(k, "tags") == 0) {
			size_t i;
			json_t *t;
			have_tags = true;
			if (!json_is_array(v) || json_array_size(v) > TAGS_MAX) {
				err = bad("match tags", "not an array of at most 256");
				break;
			}
			if ((m->tags = calloc(json_array_size(v) + 1, sizeof(char *))) == NULL) {
				err = vt_error_set(VT_ENOMEM, "out of memory");
				break;
			}
			json_array_foreach(v, i, t)
			{
				if ((err = get_str(&m->tags[i], t, "match tag")) < 0)
					break;
				m->ntags++;
			}
		} else if (strcmp(k, "meta") == 0) {
			have_meta = true;
			if ((err = check_flat(v, META_MAX, true, "match meta")) == 0 &&
			    (m->meta_json = json_dumps(v, JSON_COMPACT)) == NULL)
				err = vt_error_set(VT_ENOMEM, "out of memory");
		} else if (strcmp(k, "verdict") == 0) {
			have_verdict = true;
			err = get_verdict(&m->verdict, v, "match verdict");
		} else {
			err = bad("match", "unknown key");
		}
		if (err < 0)
			break;
	}
	if (err == 0 && !(have_rule && have_ns && have_tags && have_meta && have_verdict))
		err = bad("match", "rule, namespace, tags, meta and verdict are required");
	return err;
}

static int get_node(vt_analysis_node *n, const json_t *j, unsigned depth, bool top, parse_ctx *x);

static int get_children(vt_analysis_node *n, const json_t *v, unsigned depth, parse_ctx *x)
{
	size_t i;
	json_t *c;
	int err = 0;

	if (!json_is_array(v))
		return bad("children", "not an array");
	if (json_array_size(v) > VT_ANALYSIS_RESULT_NODES_MAX - x->nodes)
		return bad("children", "too many nodes");
	if (json_array_size(v) == 0)
		return 0;
	if ((n->children = calloc(json_array_size(v), sizeof(*n->children))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	json_array_foreach(v, i, c)
	{
		/* Counted before it is read, so a failure frees it too. */
		n->nchildren++;
		if ((err = get_node(&n->children[i], c, depth + 1, false, x)) < 0)
			break;
	}
	return err;
}

/* The keys vt_analysis_result_json adds to the top node only. */
static bool top_key(const char *k)
{
	return strcmp(k, "path") == 0 || strcmp(k, "ruleset") == 0 ||
	       strcmp(k, "magic_version") == 0 || strcmp(k, "members") == 0 ||
	       strcmp(k, "unpacked") == 0;
}

static int get_node(vt_analysis_node *n, const json_t *j, unsigned depth, bool top, parse_ctx *x)
{
	const char *k;
	json_t *v;
	uint64_t u = 0;
	int hashes = 0, err = 0;
	bool have_depth = false, have_size = false, have_verdict = false, have_matches = false,
	     have_type = false, have_mime = false, have_children = false;

	if (!json_is_object(j)) {
		err = bad("node", "not an object");
		goto done;
	}
	if (depth > VT_ANALYSIS_RESULT_DEPTH_MAX || ++x->nodes > VT_ANALYSIS_RESULT_NODES_MAX) {
		err = bad("node", "the tree is too deep or too large");
		goto done;
	}
	json_object_foreach((json_t *)j, k, v)
	{
		if (strcmp(k, "name") == 0 && !top) {
			err = get_str(&n->name, v, "name");
		} else if (strcmp(k, "depth") == 0) {
			have_depth = true;
			if ((err = get_uint(&u, v, VT_ANALYSIS_RESULT_DEPTH_MAX, "depth")) == 0 &&
			    u != depth)
				err = bad("depth", "not one more than its parent's");
			n->depth = depth;
		} else if (strcmp(k, "size") == 0) {
			have_size = true;
			err = get_uint(&n->size, v, INT64_MAX, "size");
		} else if (strcmp(k, "verdict") == 0) {
			have_verdict = true;
			err = get_verdict(&n->verdict, v, "verdict");
		} else if (strcmp(k, "reason") == 0) {
			err = get_str(&n->reason, v, "reason");
		} else if (strcmp(k, "timed_out") == 0) {
			/* report.c writes it only when true */
			if (!json_is_true(v))
				err = bad("timed_out", "not true");
			n->timed_out = true;
		} else if (strcmp(k, "md5") == 0) {
			hashes++;
			err = get_hex(n->md5, 32, v, "md5");
		} else if (strcmp(k, "sha1") == 0) {
			hashes++;
			err = get_hex(n->sha1, 40, v, "sha1");
		} else if (strcmp(k, "sha256") == 0) {
			hashes++;
			err = get_hex(n->sha256, 64, v, "sha256");
		} else if (strcmp(k, "ssdeep") == 0) {
			hashes++;
			err = get_fixed(n->ssdeep, sizeof(n->ssdeep), v, "ssdeep");
		} else if (strcmp(k, "tlsh") == 0) {
			hashes++;
			err = get_fixed(n->tlsh, sizeof(n->tlsh), v, "tlsh");
		} else if (strcmp(k, "entropy") == 0) {
			hashes++;
			if (!json_is_real(v) ||
			    !(json_real_value(v) >= 0 && json_real_value(v) <= 8))
				err = bad("entropy", "not a real number from 0 to 8");
			else
				n->entropy = json_real_value(v);
		} else if (strcmp(k, "type") == 0) {
			have_type = true;
			err = get_str(&n->type, v, "type");
		} else if (strcmp(k, "mime") == 0) {
			have_mime = true;
			err = get_str(&n->mime, v, "mime");
		} else if (strcmp(k, "matches") == 0) {
			size_t i;
			json_t *m;
			have_matches = true;
			if (!json_is_array(v) ||
			    json_array_size(v) > VT_ANALYSIS_RESULT_MATCHES_MAX - x->matches) {
				err = bad("matches", "not an array, or too many matches");
				goto done;
			}
			x->matches += json_array_size(v);
			if (json_array_size(v) > 0 &&
			    (n->matches = calloc(json_array_size(v), sizeof(*n->matches))) ==
				NULL) {
				err = vt_error_set(VT_ENOMEM, "out of memory");
				goto done;
			}
			json_array_foreach(v, i, m)
			{
				n->nmatches++;
				if ((err = get_match(&n->matches[i], m)) < 0)
					goto done;
			}
		} else if (strcmp(k, "pe") == 0 || strcmp(k, "elf") == 0) {
			err = get_facts(&n->facts_json, k, v);
		} else if (strcmp(k, "container") == 0) {
			err = get_str(&n->container, v, "container");
		} else if (strcmp(k, "children") == 0) {
			have_children = true;
			err = get_children(n, v, depth, x);
		} else if (!(top && top_key(k))) {
			err = bad(k, "unknown key");
		}
		if (err < 0)
			goto done;
	}
	if (!have_depth || !have_size || !have_verdict || !have_matches) {
		err = bad("node", "depth, size, verdict and matches are required");
		goto done;
	}
	if (!top && n->name == NULL) {
		err = bad("node", "a member without a name");
		goto done;
	}
	if (hashes != 0 && hashes != 6) {
		err = bad("node", "md5, sha1, sha256, ssdeep, tlsh and entropy go together");
		goto done;
	}
	n->hashed = hashes == 6;
	if (have_type != have_mime) {
		err = bad("node", "type and mime go together");
		goto done;
	}
	/* report.c writes children exactly when there are some or a container. */
	if (have_children != (n->nchildren > 0 || n->container != NULL)) {
		err = bad("node", "children without a container, or a container without children");
		goto done;
	}
done:
	return err;
}

/*
 * What jansson's tree costs, conservatively (measured with jansson 2.14
 * on x86-64: an object 232 bytes, an array 136, an object member 106
 * plus its value, a number 40, a string 88 plus its text; null, true and
 * false are shared). Strings' text is bounded by the input's length.
 */
#define COST_CONTAINER 256 /* { or [ */
#define COST_VALUE     112 /* each , or : stands for one more value or member */

int vt_analysis__result_budget(const char *json, size_t len)
{
	const size_t max = VT_ANALYSIS__REPORT_MEMORY_MAX;
	size_t containers = 0, seps = 0;
	bool in_str = false;
	int err = 0;

	/* The same lexing as jansson's up to its first error, where it stops. */
	for (size_t i = 0; i < len; i++) {
		char c = json[i];
		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			containers++;
		} else if (c == ',' || c == ':') {
			seps++;
		}
	}
	/* Each count is at most len, so neither product overflows a size_t. */
	if (containers > max / COST_CONTAINER || seps > max / COST_VALUE ||
	    containers * COST_CONTAINER + seps * COST_VALUE > max)
		err = vt_error_set(VT_ETOOBIG,
				   "analysis report: %zu objects and arrays and %zu values would "
				   "take more than %zu MiB to read",
				   containers, seps + 1, max >> 20);
	return err;
}

int vt_analysis_result_parse(vt_analysis_result *out, const char *json, size_t len)
{
	json_t *j = NULL, *v;
	json_error_t je;
	parse_ctx x = {0, 0};
	uint64_t members = 0, unpacked = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len > VT_ANALYSIS_RESULT_JSON_MAX) {
		err = vt_error_set(VT_ETOOBIG, "analysis report: larger than %zu bytes",
				   (size_t)VT_ANALYSIS_RESULT_JSON_MAX);
		goto done;
	}
	/* Refused before jansson builds a tree of it: 32 MiB of "[{},{}..."
	 * would take 2.5 GB. */
	if ((err = vt_analysis__result_budget(json, len)) < 0)
		goto done;
	if ((j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) == NULL) {
		err = vt_error_set(VT_EINVAL, "analysis report: not JSON: %s (position %d)",
				   je.text, je.position);
		goto done;
	}
	if ((err = get_node(&out->root, j, 0, true, &x)) < 0)
		goto done;
	v = json_object_get(j, "ruleset");
	if (v == NULL || (!json_is_null(v) && get_hex(out->rules_digest, 64, v, "ruleset") < 0)) {
		err = bad("ruleset", "neither null nor 64 hex digits");
		goto done;
	}
	v = json_object_get(j, "magic_version");
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 15) {
		err = bad("magic_version", "not a version string");
		goto done;
	}
	v = json_object_get(j, "path");
	if (v != NULL && !json_is_string(v)) {
		err = bad("path", "not a string");
		goto done;
	}
	/* members and unpacked are written together, and only when members > 0. */
	if (json_object_get(j, "members") != NULL || json_object_get(j, "unpacked") != NULL) {
		if ((err = get_uint(&members, json_object_get(j, "members"), INT64_MAX,
				    "members")) < 0 ||
		    (err = get_uint(&unpacked, json_object_get(j, "unpacked"), INT64_MAX,
				    "unpacked")) < 0)
			goto done;
		if (members == 0) {
			err = bad("members", "written only when not 0");
			goto done;
		}
	}
	out->members = members;
	out->unpacked = unpacked;
done:
	json_decref(j);
	if (err < 0)
		vt_analysis_result_dispose(out);
	return err;
}
