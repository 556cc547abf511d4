/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conveyer's log entries: build, release and rebuild (docs/entries.md).
 * Each has one spelling: the parser rebuilds the entry with the formatter
 * and compares, so whatever parses is exactly what the formatter writes.
 */
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENTRY_MAX 65535

static int check_chars(const char *s, size_t len, size_t max, const char *first, const char *rest,
		       const char *what)
{
	if (len == 0 || len > max)
		return vt_error_set(VT_EINVAL, "%s: 1 to %zu characters", what, max);
	if (!strchr(first, s[0]))
		return vt_error_set(VT_EINVAL, "%s: bad first character", what);
	for (size_t i = 1; i < len; i++)
		if (s[i] == 0 || !strchr(rest, s[i]))
			return vt_error_set(VT_EINVAL, "%s: bad character at %zu", what, i);
	return 0;
}

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM	     LOWER_DIGITS "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int vt_release_check_name(const char *s, size_t len)
{
	return check_chars(s, len, VT_RELEASE_NAME_MAX, LOWER_DIGITS, LOWER_DIGITS ".+-", "name");
}

int vt_release_check_version(const char *s, size_t len)
{
	return check_chars(s, len, VT_RELEASE_NAME_MAX, ALNUM, ALNUM ".+~_-", "version");
}

int vt_release_check_path(const char *s, size_t len)
{
	int err;
	size_t start = 0;

	if ((err = check_chars(s, len, VT_RELEASE_PATH_MAX, ALNUM "._+-", ALNUM "._+-/",
			       "subject name")) < 0)
		return err;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '/')
			continue;
		if (i == start || (i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			return vt_error_set(VT_EINVAL, "subject name: empty, . or .. component");
		start = i + 1;
	}
	return 0;
}

static void add_digest(vt_buf *b, const char *key, const vt_hash *h)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, h->b, VT_HASH_SIZE);
	vt_buf_printf(b, "%s sha256:%s\n", key, hex);
}

static int check_nv(const char *name, const char *version)
{
	int err;
	if ((err = vt_release_check_name(name, strlen(name))) < 0 ||
	    (err = vt_release_check_version(version, strlen(version))) < 0)
		return err;
	return 0;
}

/* Append to out only once the whole entry is built, so out is unchanged on failure. */
static int finish(vt_buf *out, vt_buf *b)
{
	int err = 0;
	if (b->len > ENTRY_MAX)
		err = vt_error_set(VT_ETOOBIG, "entry above %d bytes", ENTRY_MAX);
	else if (!b->ptr)
		err = vt_error_set(VT_ENOMEM, "out of memory");
	else
		err = vt_buf_add(out, b->ptr, b->len);
	vt_buf_dispose(b);
	return err;
}

int vt_build_entry_format(vt_buf *out, const vt_build_entry *e)
{
	vt_buf b;
	int err;

	if ((err = check_nv(e->name, e->version)) < 0)
		return err;
	if (e->nsubjects == 0 || e->nsubjects > VT_RELEASE_SUBJECT_MAX)
		return vt_error_set(VT_EINVAL, "a build has 1 to %d subjects",
				    VT_RELEASE_SUBJECT_MAX);
	for (size_t i = 0; i < e->nsubjects; i++)
		if ((err = vt_release_check_path(e->subjects[i].name,
						 strlen(e->subjects[i].name))) < 0)
			return err;
	vt_buf_init(&b, ENTRY_MAX + 512);
	vt_buf_printf(&b, "vitrine/1 build\nname %s\nversion %s\n", e->name, e->version);
	add_digest(&b, "envelope", &e->envelope);
	add_digest(&b, "recipe", &e->recipe);
	add_digest(&b, "source", &e->source);
	for (size_t i = 0; i < e->nsubjects; i++) {
		char hex[2 * VT_HASH_SIZE + 1];
		vt_hex_encode(hex, e->subjects[i].digest.b, VT_HASH_SIZE);
		vt_buf_printf(&b, "subject sha256:%s %s\n", hex, e->subjects[i].name);
	}
	return finish(out, &b);
}

int vt_release_entry_format(vt_buf *out, const vt_release_entry *e)
{
	vt_buf b;
	int err;

	if ((err = check_nv(e->name, e->version)) < 0)
		return err;
	vt_buf_init(&b, 1024);
	vt_buf_printf(&b, "vitrine/1 release\nname %s\nversion %s\nbuild %llu\n", e->name,
		      e->version, (unsigned long long)e->build_index);
	add_digest(&b, "envelope", &e->envelope);
	return finish(out, &b);
}

int vt_rebuild_entry_format(vt_buf *out, const vt_rebuild_entry *e)
{
	vt_buf b;
	vt_hash k;
	int err;

	if ((err = check_nv(e->name, e->version)) < 0)
		return err;
	if (strlen(e->key) != VT_DSSE_KEYID_LEN ||
	    vt_hex_decode(k.b, VT_HASH_SIZE, e->key, VT_DSSE_KEYID_LEN) < 0 ||
	    e->key[strspn(e->key, "0123456789abcdef")] != 0)
		return vt_error_set(VT_EINVAL, "rebuilder key id: 64 lower-case hex digits");
	vt_buf_init(&b, 1024);
	vt_buf_printf(&b, "vitrine/1 rebuild\nname %s\nversion %s\n", e->name, e->version);
	add_digest(&b, "build", &e->build_envelope);
	add_digest(&b, "envelope", &e->envelope);
	vt_buf_printf(&b, "key sha256:%s\nresult %s\n", e->key,
		      e->reproduced ? "reproduced" : "differs");
	return finish(out, &b);
}

/* ---- parsing: read field by field, then compare with the formatter ---- */

typedef struct {
	const char *p, *end;
} cursor;

/* The value of the next line, which must be "key value". */
static int next(const char **v, size_t *vlen, cursor *c, const char *key)
{
	size_t kl = strlen(key);
	const char *nl;

	/* Set on failure too: gcc -O3 cannot tell that the error return is
	 * negative and warns that callers read them. */
	*v = NULL;
	*vlen = 0;
	if ((size_t)(c->end - c->p) < kl + 2 || memcmp(c->p, key, kl) != 0 || c->p[kl] != ' ')
		return vt_error_set(VT_EINVAL, "expected the line \"%s ...\"", key);
	nl = memchr(c->p + kl + 1, '\n', (size_t)(c->end - c->p - (ptrdiff_t)kl - 1));
	if (!nl)
		return vt_error_set(VT_EINVAL, "line \"%s\" does not end in a newline", key);
	*v = c->p + kl + 1;
	*vlen = (size_t)(nl - *v);
	c->p = nl + 1;
	return 0;
}

static int next_str(char *out, size_t cap, cursor *c, const char *key)
{
	const char *v;
	size_t n;
	int err;
	if ((err = next(&v, &n, c, key)) < 0)
		return err;
	if (n >= cap)
		return vt_error_set(VT_EINVAL, "%s too long", key);
	memcpy(out, v, n);
	out[n] = 0;
	return 0;
}

static int parse_digest(vt_hash *out, const char *v, size_t n, const char *key)
{
	if (n != 7 + 2 * VT_HASH_SIZE || memcmp(v, "sha256:", 7) != 0 ||
	    vt_hex_decode(out->b, VT_HASH_SIZE, v + 7, 2 * VT_HASH_SIZE) < 0)
		return vt_error_set(VT_EINVAL, "%s: want sha256: and 64 hex digits", key);
	return 0;
}

static int next_digest(vt_hash *out, cursor *c, const char *key)
{
	const char *v;
	size_t n;
	int err;
	if ((err = next(&v, &n, c, key)) < 0)
		return err;
	return parse_digest(out, v, n, key);
}

/* The lines every entry starts with: its type, then name and version. */
static int header(cursor *c, char name[VT_RELEASE_NAME_MAX + 1],
		  char version[VT_RELEASE_NAME_MAX + 1], const char *text, size_t len,
		  const char *type)
{
	char want[32];
	size_t n = (size_t)snprintf(want, sizeof(want), "vitrine/1 %s\n", type);
	int err = 0;

	c->p = text;
	c->end = text + len;
	if (len > ENTRY_MAX) {
		err = vt_error_set(VT_EINVAL, "entry above %d bytes", ENTRY_MAX);
		goto done;
	}
	if (len < n || memcmp(text, want, n) != 0) {
		err = vt_error_set(VT_EINVAL, "not a %s entry", type);
		goto done;
	}
	c->p += n;
	if ((err = next_str(name, VT_RELEASE_NAME_MAX + 1, c, "name")) < 0)
		goto done;
	err = next_str(version, VT_RELEASE_NAME_MAX + 1, c, "version");
done:
	return err;
}

/* Re-format and compare: the one-spelling rule (case of hex digits, etc.). */
static int same(const vt_buf *b, const char *text, size_t len, const char *type)
{
	if (b->len != len || memcmp(b->ptr, text, len) != 0)
		return vt_error_set(VT_EINVAL, "%s entry: not in its one spelling", type);
	return 0;
}

void vt_build_entry_dispose(vt_build_entry *e)
{
	free(e->subjects);
	memset(e, 0, sizeof(*e));
}

int vt_build_entry_parse(vt_build_entry *out, const char *text, size_t len)
{
	cursor c;
	vt_buf b;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&b, ENTRY_MAX + 512);
	if ((err = header(&c, out->name, out->version, text, len, "build")) < 0 ||
	    (err = next_digest(&out->envelope, &c, "envelope")) < 0 ||
	    (err = next_digest(&out->recipe, &c, "recipe")) < 0 ||
	    (err = next_digest(&out->source, &c, "source")) < 0)
		goto done;
	if ((out->subjects = calloc(VT_RELEASE_SUBJECT_MAX, sizeof(*out->subjects))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	while (c.p < c.end) {
		vt_release_subject *s;
		const char *v, *sp;
		size_t n;
		if (out->nsubjects == VT_RELEASE_SUBJECT_MAX) {
			err = vt_error_set(VT_EINVAL, "more than %d subjects",
					   VT_RELEASE_SUBJECT_MAX);
			goto done;
		}
		s = &out->subjects[out->nsubjects];
		if ((err = next(&v, &n, &c, "subject")) < 0)
			goto done;
		sp = memchr(v, ' ', n);
		if (!sp || (size_t)(v + n - sp - 1) > VT_RELEASE_PATH_MAX) {
			err = vt_error_set(VT_EINVAL, "subject: want sha256:HEX NAME");
			goto done;
		}
		if ((err = parse_digest(&s->digest, v, (size_t)(sp - v), "subject")) < 0)
			goto done;
		memcpy(s->name, sp + 1, (size_t)(v + n - sp - 1));
		out->nsubjects++;
	}
	for (size_t i = 0; i < out->nsubjects; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(out->subjects[i].name, out->subjects[j].name) == 0) {
				err = vt_error_set(VT_EINVAL, "subject %s twice",
						   out->subjects[i].name);
				goto done;
			}
	if ((err = vt_build_entry_format(&b, out)) < 0 || (err = same(&b, text, len, "build")) < 0)
		goto done;
done:
	vt_buf_dispose(&b);
	if (err < 0)
		vt_build_entry_dispose(out);
	return err;
}

int vt_release_entry_parse(vt_release_entry *out, const char *text, size_t len)
{
	const char *v;
	size_t n;
	cursor c;
	vt_buf b;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&b, 1024);
	if ((err = header(&c, out->name, out->version, text, len, "release")) < 0 ||
	    (err = next(&v, &n, &c, "build")) < 0)
		goto done;
	if ((err = vt_parse_u64(&out->build_index, v, n)) < 0) {
		err = vt_error_set(VT_EINVAL, "build: a decimal log index");
		goto done;
	}
	if ((err = next_digest(&out->envelope, &c, "envelope")) < 0 ||
	    (err = vt_release_entry_format(&b, out)) < 0 ||
	    (err = same(&b, text, len, "release")) < 0)
		goto done;
done:
	vt_buf_dispose(&b);
	if (err < 0)
		memset(out, 0, sizeof(*out));
	return err;
}

int vt_rebuild_entry_parse(vt_rebuild_entry *out, const char *text, size_t len)
{
	char result[16];
	vt_hash key;
	cursor c;
	vt_buf b;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&b, 1024);
	if ((err = header(&c, out->name, out->version, text, len, "rebuild")) < 0 ||
	    (err = next_digest(&out->build_envelope, &c, "build")) < 0 ||
	    (err = next_digest(&out->envelope, &c, "envelope")) < 0 ||
	    (err = next_digest(&key, &c, "key")) < 0 ||
	    (err = next_str(result, sizeof(result), &c, "result")) < 0)
		goto done;
	vt_hex_encode(out->key, key.b, VT_HASH_SIZE);
	if (strcmp(result, "reproduced") == 0) {
		out->reproduced = true;
	} else if (strcmp(result, "differs") != 0) {
		err = vt_error_set(VT_EINVAL, "result: reproduced or differs");
		goto done;
	}
	if ((err = vt_rebuild_entry_format(&b, out)) < 0 ||
	    (err = same(&b, text, len, "rebuild")) < 0)
		goto done;
done:
	vt_buf_dispose(&b);
	if (err < 0)
		memset(out, 0, sizeof(*out));
	return err;
}
