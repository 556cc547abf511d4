/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bulk hash lookups: a strict reader for the one request shape the API
 * takes and the writer of its answer.
 *
 * No JSON library is used: the request is one object with one key whose
 * value is an array of hex strings, so a reader for exactly that (about a
 * hundred lines) is smaller to audit than a general parser and refuses
 * everything else by construction. Keys go into one array allocated once,
 * sized by what the body could hold at most (each hash takes at least 33
 * bytes), so a request costs one allocation whatever its shape.
 */
#include "vitrine/lookup.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	const char *s, *p, *end;
	vt_index_key *keys;
	size_t n, cap;
} reader;

int vt_lookup_key_parse(vt_index_key *out, const char *hex, size_t len)
{
	if (len != 64 && len != 40 && len != 32)
		return vt_error_set(
		    VT_EINVAL,
		    "not a SHA-256, SHA-1 or MD5 hash: want 64, 40 or 32 hex digits, "
		    "got %zu characters",
		    len);
	memset(out, 0, sizeof(*out));
	if (vt_hex_decode(out->b, len / 2, hex, len) < 0)
		return vt_error_set(VT_EINVAL, "not a hash: a character is not a hex digit");
	out->len = (uint8_t)(len / 2);
	return 0;
}

/* Store one more key, refusing the one past the limit. */
static int add_key(reader *r, const char *hex, size_t len, bool json, size_t pos)
{
	int err;

	if (r->n >= VT_LOOKUP_MAX)
		return vt_error_set(VT_ETOOBIG, "more than %d hashes in one request",
				    VT_LOOKUP_MAX);
	/* cap is what the body can hold; a valid key never exceeds it. */
	if (r->n >= r->cap)
		return vt_error_set(VT_EINVAL,
				    json ? "hashes[%zu]: not a hash" : "line %zu: not a hash", pos);
	if ((err = vt_lookup_key_parse(&r->keys[r->n], hex, len)) < 0)
		return vt_error_wrap(err, json ? "hashes[%zu]" : "line %zu", pos);
	r->n++;
	return 0;
}

static int parse_text(reader *r)
{
	size_t line = 0;
	int err = 0;

	while (r->p < r->end && err == 0) {
		const char *nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
		const char *eol = nl ? nl : r->end;
		size_t len = (size_t)(eol - r->p);

		line++;
		if (len > 0 && r->p[len - 1] == '\r')
			len--;
		if (len > 0)
			err = add_key(r, r->p, len, false, line);
		r->p = nl ? nl + 1 : r->end;
	}
	return err;
}

static void skip_ws(reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int syntax(const reader *r, const char *want)
{
	if (r->p >= r->end)
		return vt_error_set(VT_EINVAL, "malformed JSON: the body ends where %s is expected",
				    want);
	return vt_error_set(VT_EINVAL, "malformed JSON at byte %zu: expected %s",
			    (size_t)(r->p - r->s), want);
}

/* Expect the character c after optional whitespace. */
static int expect(reader *r, char c, const char *want)
{
	skip_ws(r);
	if (r->p >= r->end || *r->p != c)
		return syntax(r, want);
	r->p++;
	return 0;
}

/*
 * A string without escapes: *out and *len get its content. The quotes are
 * checked here; a backslash or a control character is refused.
 */
static int string(reader *r, const char **out, size_t *len)
{
	const char *q;

	if (r->p >= r->end || *r->p != '"')
		return syntax(r, "a string");
	for (q = r->p + 1; q < r->end && *q != '"'; q++) {
		if (*q == '\\')
			return vt_error_set(
			    VT_EINVAL,
			    "malformed request at byte %zu: escapes are not accepted "
			    "(a hash needs none)",
			    (size_t)(q - r->s));
		if ((unsigned char)*q < 0x20)
			return vt_error_set(VT_EINVAL,
					    "malformed JSON at byte %zu: a control character in a "
					    "string",
					    (size_t)(q - r->s));
	}
	if (q >= r->end)
		return vt_error_set(VT_EINVAL, "malformed JSON: a string is not closed");
	*out = r->p + 1;
	*len = (size_t)(q - r->p - 1);
	r->p = q + 1;
	return 0;
}

static int parse_json(reader *r)
{
	const char *s;
	size_t len;
	int err;

	if ((err = expect(r, '{', "'{' (the body is {\"hashes\": [...]})")) < 0)
		goto done;
	skip_ws(r);
	if ((err = string(r, &s, &len)) < 0)
		goto done;
	if (len != 6 || memcmp(s, "hashes", 6) != 0) {
		err = vt_error_set(VT_EINVAL, "the request object has the one key \"hashes\"");
		goto done;
	}
	if ((err = expect(r, ':', "':'")) < 0 ||
	    (err = expect(r, '[', "'[' (an array of hashes)")) < 0)
		goto done;
	skip_ws(r);
	if (r->p < r->end && *r->p == ']') {
		r->p++;
	} else {
		for (;;) {
			size_t i = r->n;
			skip_ws(r);
			if (r->p >= r->end || *r->p != '"') {
				err = vt_error_set(VT_EINVAL, "hashes[%zu]: not a string%s", i,
						   r->p >= r->end ? " (the body ends)" : "");
				goto done;
			}
			if ((err = string(r, &s, &len)) < 0) {
				err = vt_error_wrap(err, "hashes[%zu]", i);
				goto done;
			}
			if ((err = add_key(r, s, len, true, i)) < 0)
				goto done;
			skip_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if ((err = expect(r, ']', "',' or ']' after a hash")) < 0)
				goto done;
			break;
		}
	}
	skip_ws(r);
	if (r->p < r->end && *r->p == ',') {
		err = vt_error_set(VT_EINVAL, "the request object has the one key \"hashes\"");
		goto done;
	}
	if ((err = expect(r, '}', "'}'")) < 0)
		goto done;
	skip_ws(r);
	if (r->p < r->end)
		err = vt_error_set(VT_EINVAL, "malformed JSON at byte %zu: data after the object",
				   (size_t)(r->p - r->s));
done:
	return err;
}

int vt_lookup_parse(vt_lookup_request *out, const void *body, size_t len, vt_lookup_format fmt)
{
	reader r = {.s = body, .p = body, .end = (const char *)body + len};
	int err;

	memset(out, 0, sizeof(*out));
	if (len > VT_LOOKUP_BODY_MAX)
		return vt_error_set(VT_ETOOBIG, "a lookup request is at most %zu bytes",
				    VT_LOOKUP_BODY_MAX);
	r.cap = len / 33 + 1;
	if (r.cap > VT_LOOKUP_MAX)
		r.cap = VT_LOOKUP_MAX;
	if ((r.keys = malloc(r.cap * sizeof(*r.keys))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	err = fmt == VT_LOOKUP_TEXT ? parse_text(&r) : parse_json(&r);
	if (err < 0) {
		free(r.keys);
		return err;
	}
	if (r.n == 0) {
		free(r.keys);
		r.keys = NULL;
	}
	out->keys = r.keys;
	out->n = r.n;
	return 0;
}

void vt_lookup_dispose(vt_lookup_request *req)
{
	if (!req)
		return;
	free(req->keys);
	req->keys = NULL;
	req->n = 0;
}

/* Copy a literal and advance. */
#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) += sizeof(lit) - 1)

int vt_lookup_answer(vt_buf *out, const vt_index_key *keys, const vt_index_hit *hits, size_t n)
{
	/* {"hash": "<64>", "known": true, "sha256": "<64>", "verdict": null}, */
	char item[256], *p;
	int err;

	/* One reservation: the answer is built with plain copies, no regrowth. */
	if ((err = vt_buf_reserve(out, 32 + n * 190)) < 0)
		return err;
	if ((err = vt_buf_adds(out, "{\"results\": [")) < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		p = item;
		if (i > 0)
			PUT(p, ", ");
		PUT(p, "{\"hash\": \"");
		vt_hex_encode(p, keys[i].b, keys[i].len);
		p += 2 * (size_t)keys[i].len;
		if (hits[i].found) {
			PUT(p, "\", \"known\": true, \"sha256\": \"");
			vt_hex_encode(p, hits[i].sample.sha256.b, VT_HASH_SIZE);
			p += 2 * VT_HASH_SIZE;
			if (hits[i].verdict[0]) {
				size_t vl = strnlen(hits[i].verdict, sizeof(hits[i].verdict) - 1);
				PUT(p, "\", \"verdict\": \"");
				memcpy(p, hits[i].verdict, vl);
				p += vl;
				PUT(p, "\"}");
			} else {
				PUT(p, "\", \"verdict\": null}"); /* not analysed yet */
			}
		} else {
			PUT(p, "\", \"known\": false}");
		}
		if ((err = vt_buf_add(out, item, (size_t)(p - item))) < 0)
			return err;
	}
	return vt_buf_adds(out, "]}\n");
}
