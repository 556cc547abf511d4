/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File reports from the index, as the asking token may see them, and the
 * JSON pieces the /api/v1 answers share.
 *
 * A report is built in a buffer of its own and appended to the caller's
 * only when complete, so a failure leaves nothing half-written. Hidden
 * and unknown files fail with the same code and message: the caller maps
 * both to one 404 and a submitter cannot tell them apart.
 */
#include "vitrine/report.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NO_SUCH_FILE "no such file"
#define REPORT_MAX   ((size_t)16 << 20)

int vt_report_scope(const char **tenant, const vt_token *t)
{
	*tenant = NULL;
	if (strcmp(t->role, "submitter") == 0) {
		/* A submitter without a tenant would see everything: never. */
		if (t->tenant[0] == '\0')
			return vt_error_set(VT_EDENIED, "a submitter token without a tenant");
		*tenant = t->tenant;
		return 0;
	}
	if (strcmp(t->role, "analyst") == 0 || strcmp(t->role, "auditor") == 0 ||
	    strcmp(t->role, "admin") == 0)
		return 0;
	return vt_error_set(VT_EDENIED, "the role \"%s\" may not read file reports", t->role);
}

int vt_report_may_lookup(const vt_token *t)
{
	static const char *const roles[] = {"submitter", "analyst", "auditor", "admin"};
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
		if (strcmp(t->role, roles[i]) == 0)
			return 0;
	return vt_error_set(VT_EDENIED, "the role \"%s\" may not look hashes up", t->role);
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

int vt_report_json_string(vt_buf *out, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;
	int err;

	if ((err = vt_buf_addc(out, '"')) < 0)
		return err;
	while (i < len && err == 0) {
		unsigned char c = p[i];
		size_t n = 1;
		char esc[8];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			i++;
			continue;
		}
		if (c >= 0x80 && (n = utf8_len(p + i, len - i)) > 0) {
			i += n;
			continue;
		}
		/* Flush the plain run before the byte that needs escaping. */
		if ((err = vt_buf_add(out, p + run, i - run)) < 0)
			break;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			esc[2] = 0;
		} else if (c == '\n') {
			memcpy(esc, "\\n", 3);
		} else if (c == '\t') {
			memcpy(esc, "\\t", 3);
		} else if (c == '\r') {
			memcpy(esc, "\\r", 3);
		} else if (c < 0x80) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
		} else {
			memcpy(esc, "\\ufffd", 7);
		}
		err = vt_buf_adds(out, esc);
		i++;
		run = i;
	}
	if (err == 0 && (err = vt_buf_add(out, p + run, i - run)) == 0)
		err = vt_buf_addc(out, '"');
	return err;
}

static int json_cstr(vt_buf *out, const char *s)
{
	return vt_report_json_string(out, s, strlen(s));
}

int vt_report_error(vt_buf *out, const char *code, const char *message)
{
	int err;
	if ((err = vt_buf_adds(out, "{\"error\": {\"code\": ")) < 0 ||
	    (err = json_cstr(out, code)) < 0 || (err = vt_buf_adds(out, ", \"message\": ")) < 0 ||
	    (err = json_cstr(out, message ? message : "")) < 0)
		return err;
	return vt_buf_adds(out, "}}\n");
}

static void rfc3339(char out[32], int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%" PRId64, t);
}

static int json_hex_field(vt_buf *b, const char *key, const uint8_t *p, size_t n)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, p, n);
	return vt_buf_printf(b, "\"%s\": \"%s\", ", key, hex);
}

typedef struct {
	vt_buf *b;
	uint64_t total;
	int err;
} sightings_ctx;

static int add_sighting(const vt_index_sighting *s, void *payload)
{
	sightings_ctx *x = payload;
	vt_buf *b = x->b;
	char when[32];
	int err;

	x->total++;
	if (x->total > VT_REPORT_SIGHTINGS_MAX)
		return 0; /* counted, not listed */
	rfc3339(when, s->time);
	if ((err = vt_buf_adds(b, x->total > 1 ? ", {\"tenant\": " : "{\"tenant\": ")) < 0 ||
	    (err = json_cstr(b, s->tenant)) < 0 || (err = vt_buf_adds(b, ", \"region\": ")) < 0 ||
	    (err = json_cstr(b, s->region)) < 0 || (err = vt_buf_adds(b, ", \"name\": ")) < 0 ||
	    (err = json_cstr(b, s->name)) < 0 || (err = vt_buf_adds(b, ", \"source\": ")) < 0 ||
	    (err = json_cstr(b, s->source)) < 0)
		goto done;
	if (s->log_index >= 0)
		err = vt_buf_printf(b, ", \"time\": \"%s\", \"log_index\": %" PRId64 "}", when,
				    s->log_index);
	else
		err = vt_buf_printf(b, ", \"time\": \"%s\", \"log_index\": null}", when);
done:
	if (err < 0)
		x->err = err;
	return err;
}

typedef struct {
	vt_buf *b;
	size_t n;
} tags_ctx;

static int add_tag(const char *tag, void *payload)
{
	tags_ctx *x = payload;
	int err;
	if (x->n++ > 0 && (err = vt_buf_adds(x->b, ", ")) < 0)
		return err;
	return json_cstr(x->b, tag);
}

static int add_rule(const char *rule, void *payload)
{
	tags_ctx *x = payload;
	int err;
	if (x->n++ > 0 && (err = vt_buf_adds(x->b, ", ")) < 0)
		return err;
	return json_cstr(x->b, rule);
}

static int add_child(const vt_index_child *c, void *payload)
{
	tags_ctx *x = payload;
	char hex[2 * VT_HASH_SIZE + 1];
	int err;
	if (x->n++ > 0 && (err = vt_buf_adds(x->b, ", ")) < 0)
		return err;
	vt_hex_encode(hex, c->child.b, VT_HASH_SIZE);
	if ((err = vt_buf_adds(x->b, "{\"path\": ")) < 0 || (err = json_cstr(x->b, c->path)) < 0)
		return err;
	return vt_buf_printf(x->b, ", \"sha256\": \"%.64s\"}", hex);
}

static int opt_str(vt_buf *b, const char *key, const char *v)
{
	int err;
	if ((err = vt_buf_printf(b, ", \"%s\": ", key)) < 0)
		return err;
	return v[0] ? json_cstr(b, v) : vt_buf_adds(b, "null");
}

/* "analysis": {...} from the index, or null; *verdict the verdict or "". */
static int add_analysis(vt_buf *b, char *verdict, vt_index *idx, const vt_hash *h)
{
	vt_index_analysis_row r;
	vt_buf rules, children;
	tags_ctx rx = {&rules, 0};
	char when[32];
	int err;

	verdict[0] = 0;
	err = vt_index_analysis_get(&r, idx, h);
	if (err == VT_ENOTFOUND) {
		vt_error_clear();
		return vt_buf_adds(b, "null");
	}
	if (err < 0)
		return err;
	vt_buf_init(&rules, REPORT_MAX);
	vt_buf_init(&children, REPORT_MAX);
	snprintf(verdict, 16, "%s", r.verdict);
	if ((err = vt_index_analysis_list(idx, h, add_rule, NULL, &rx)) < 0)
		goto done;
	rx.b = &children;
	rx.n = 0;
	if ((err = vt_index_analysis_list(idx, h, NULL, add_child, &rx)) < 0)
		goto done;
	rfc3339(when, r.analysed);
	if ((err = vt_buf_printf(b, "{\"verdict\": \"%s\"", r.verdict)) < 0 ||
	    (err = (r.ruleset[0] ? vt_buf_printf(b, ", \"ruleset\": \"%s\"", r.ruleset)
				 : vt_buf_adds(b, ", \"ruleset\": null"))) < 0 ||
	    (err = vt_buf_printf(b, ", \"analysed\": \"%s\"", when)) < 0 ||
	    (err = (r.log_index >= 0 ? vt_buf_printf(b, ", \"log_index\": %" PRId64, r.log_index)
				     : vt_buf_adds(b, ", \"log_index\": null"))) < 0 ||
	    (err = opt_str(b, "type", r.type)) < 0 || (err = opt_str(b, "mime", r.mime)) < 0 ||
	    (err = opt_str(b, "ssdeep", r.ssdeep)) < 0 || (err = opt_str(b, "tlsh", r.tlsh)) < 0 ||
	    (err = vt_buf_printf(b, ", \"entropy\": %.4f, \"matches\": [", r.entropy)) < 0 ||
	    (err = vt_buf_add(b, rules.ptr, rules.len)) < 0 ||
	    (err = vt_buf_adds(b, "], \"children\": [")) < 0 ||
	    (err = vt_buf_add(b, children.ptr, children.len)) < 0 ||
	    (err = vt_buf_adds(b, "], \"report\": ")) < 0 ||
	    (err = vt_buf_adds(b, r.report[0] ? r.report : "null")) < 0)
		goto done;
	err = vt_buf_adds(b, "}");
done:
	vt_index_analysis_row_dispose(&r);
	vt_buf_dispose(&rules);
	vt_buf_dispose(&children);
	return err;
}

int vt_report_file(vt_buf *out, vt_index *idx, const vt_index_key *key, const vt_token *t)
{
	const char *tenant;
	vt_index_sample s;
	vt_buf sb, tb, ab, b;
	sightings_ctx sx = {&sb, 0, 0};
	tags_ctx tx = {&tb, 0};
	char when[32], verdict[16];
	int err;

	vt_buf_init(&sb, REPORT_MAX);
	vt_buf_init(&tb, 64 * 1024);
	vt_buf_init(&ab, REPORT_MAX);
	vt_buf_init(&b, 2 * REPORT_MAX);
	if ((err = vt_report_scope(&tenant, t)) < 0)
		goto done;
	if ((err = vt_index_sample_get_by_hash(&s, idx, key)) < 0) {
		if (err == VT_ENOTFOUND)
			vt_error_set(err, NO_SUCH_FILE);
		goto done;
	}
	if ((err = vt_index_sightings_list(idx, &s.sha256, tenant, add_sighting, &sx)) < 0) {
		if (sx.err < 0)
			err = sx.err;
		goto done;
	}
	/* Hidden from this submitter: answer exactly as for an unknown file. */
	if (tenant && sx.total == 0) {
		err = vt_error_set(VT_ENOTFOUND, NO_SUCH_FILE);
		goto done;
	}
	if ((err = vt_index_tags_list(idx, &s.sha256, add_tag, &tx)) < 0 ||
	    (err = add_analysis(&ab, verdict, idx, &s.sha256)) < 0)
		goto done;
	rfc3339(when, s.first_seen);
	if ((err = vt_buf_adds(&b, "{")) < 0 ||
	    (err = json_hex_field(&b, "sha256", s.sha256.b, VT_HASH_SIZE)) < 0 ||
	    (err = json_hex_field(&b, "sha1", s.sha1, VT_SHA1_SIZE)) < 0 ||
	    (err = json_hex_field(&b, "md5", s.md5, VT_MD5_SIZE)) < 0 ||
	    (err = vt_buf_printf(
		 &b, "\"size\": %" PRIu64 ", \"first_seen\": \"%s\", \"jurisdiction\": ", s.size,
		 when)) < 0 ||
	    (err = json_cstr(&b, s.jurisdiction)) < 0 ||
	    (err = vt_buf_adds(&b, ", \"tags\": [")) < 0 ||
	    (err = vt_buf_add(&b, tb.ptr, tb.len)) < 0 ||
	    (err =
		 (verdict[0] ? vt_buf_printf(&b, "], \"verdict\": \"%s\", \"analysis\": ", verdict)
			     : vt_buf_adds(&b, "], \"verdict\": null, \"analysis\": "))) < 0 ||
	    (err = vt_buf_add(&b, ab.ptr, ab.len)) < 0 ||
	    (err = vt_buf_printf(&b,
				 ", \"sightings_total\": %" PRIu64
				 ", \"sightings_truncated\": %s, \"sightings\": [",
				 sx.total, sx.total > VT_REPORT_SIGHTINGS_MAX ? "true" : "false")) <
		0 ||
	    (err = vt_buf_add(&b, sb.ptr, sb.len)) < 0 || (err = vt_buf_adds(&b, "]}\n")) < 0)
		goto done;
	err = vt_buf_add(out, b.ptr, b.len);
done:
	vt_buf_dispose(&sb);
	vt_buf_dispose(&tb);
	vt_buf_dispose(&ab);
	vt_buf_dispose(&b);
	return err;
}
