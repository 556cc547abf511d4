/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The recipe parser. A recipe is one deb822-like paragraph, read line by
 * line: a field line opens a field, continuation lines (leading space or
 * tab) extend a multi-line one. Fields are collected first and their
 * values checked afterwards, so that every message can name the line the
 * field started on. Nothing lenient: a recipe is reviewed text, and what
 * a reviewer reads must be exactly what runs.
 */
#include "vitrine/recipe.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <stdlib.h>
#include <string.h>

enum {
	F_NAME,
	F_VERSION,
	F_SOURCE,
	F_BUILD,
	F_OUTPUTS,
	F_SDE,
	F_ENV,
	F_TOOLCHAIN,
	F_ORDER,
	F_TIMEOUT,
	F_TMPSIZE,
	F_COUNT
};

static const struct {
	const char *name;
	bool multi;
	bool required;
} fields[F_COUNT] = {
    [F_NAME] = {"Name", false, true},	       [F_VERSION] = {"Version", false, true},
    [F_SOURCE] = {"Source", false, true},      [F_BUILD] = {"Build", true, true},
    [F_OUTPUTS] = {"Outputs", true, true},     [F_SDE] = {"Source-Date-Epoch", false, true},
    [F_ENV] = {"Environment", true, false},    [F_TOOLCHAIN] = {"Toolchain", true, false},
    [F_ORDER] = {"Build-Order", false, false}, [F_TIMEOUT] = {"Timeout", false, false},
    [F_TMPSIZE] = {"Tmp-Size", false, false},
};

/* One field's raw value: its lines joined by '\n'. */
typedef struct {
	size_t line; /* 0 when absent */
	size_t nlines;
	vt_buf text;
} raw_field;

#define MAX_EPOCH 253402300799ULL /* 9999-12-31T23:59:59Z */

static int bad(size_t line, const char *field, const char *what)
{
	return vt_error_set(VT_EINVAL, "line %zu: %s: %s", line, field, what);
}

static char *dup_str(const char *s, size_t len)
{
	char *p = len <= VT_RECIPE_MAX_SIZE ? malloc(len + 1) : NULL;
	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t';
}

static bool in_set(const char *s, size_t len, const char *first, const char *rest)
{
	if (len == 0 || !strchr(first, s[0]))
		return false;
	for (size_t i = 1; i < len; i++)
		if (!strchr(rest, s[i]))
			return false;
	return true;
}

#define LOWER "abcdefghijklmnopqrstuvwxyz"
#define UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define DIGIT "0123456789"

/* Split text on spaces, tabs and newlines into a new string list. */
static int split_words(char ***out, size_t *n, const char *text, size_t line, const char *field)
{
	char **list = NULL;
	size_t count = 0;
	const char *p = text;
	int err = 0;

	*out = NULL;
	*n = 0;
	while (*p) {
		const char *start;
		char **grown;
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		start = p;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n')
			p++;
		if (count == VT_RECIPE_MAX_LIST) {
			err = vt_error_set(VT_EINVAL, "line %zu: %s: more than %d items", line,
					   field, VT_RECIPE_MAX_LIST);
			goto done;
		}
		if (!(grown = realloc(list, (count + 1) * sizeof(*list))) ||
		    !(grown[count] = dup_str(start, (size_t)(p - start)))) {
			if (grown)
				list = grown;
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		list = grown;
		count++;
	}
	*out = list;
	*n = count;
	list = NULL;
	count = 0;
done:
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
	return err;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static int check_unique(char **list, size_t n, size_t keylen_eq, size_t line, const char *field)
{
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			size_t li = keylen_eq ? strcspn(list[i], "=") : strlen(list[i]);
			size_t lj = keylen_eq ? strcspn(list[j], "=") : strlen(list[j]);
			if (li == lj && memcmp(list[i], list[j], li) == 0)
				return vt_error_set(VT_EINVAL, "line %zu: %s: %.*s given twice",
						    line, field, (int)li, list[i]);
		}
	return 0;
}

/* A relative path of plain components: no "", ".", ".." and a safe alphabet. */
static bool rel_path_ok(const char *s)
{
	const char *p = s;
	if (!in_set(s, strlen(s), LOWER UPPER DIGIT "._+-", LOWER UPPER DIGIT "._+-/"))
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		p += n;
		if (*p == '/' && !*++p)
			return false;
	}
	return true;
}

static bool env_name_reserved(const char *s, size_t n)
{
	static const char *const names[] = {"PATH",	"HOME",	    "LANG",
					    "LANGUAGE", "TZ",	    "SOURCE_DATE_EPOCH",
					    "PWD",	"HOSTNAME", "TMPDIR"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
			return true;
	return (n >= 3 &&
		(memcmp(s, "LC_", 3) == 0 || memcmp(s, "VT_", 3) == 0 || memcmp(s, "LD_", 3) == 0));
}

static int parse_u64_field(uint64_t *out, const char *v, size_t line, const char *field,
			   uint64_t lo, uint64_t hi)
{
	if (vt_parse_u64(out, v, strlen(v)) < 0 || *out < lo || *out > hi)
		return vt_error_set(VT_EINVAL,
				    "line %zu: %s: want a decimal number from %llu to %llu", line,
				    field, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

static int parse_size(uint64_t *out, const char *v, size_t line)
{
	size_t n = strlen(v);
	uint64_t mult = 1, x;
	char *digits;
	int err;

	if (n > 0 && strchr("KMG", v[n - 1])) {
		mult = v[n - 1] == 'K' ? 1024 : v[n - 1] == 'M' ? 1024 * 1024 : 1024 * 1024 * 1024;
		n--;
	}
	if (!(digits = dup_str(v, n)))
		return vt_error_set(VT_ENOMEM, "out of memory");
	err = vt_parse_u64(&x, digits, n);
	free(digits);
	if (err < 0 || x > (16ULL << 30) / mult || x * mult < (1ULL << 20))
		return bad(line, "Tmp-Size",
			   "want a size from 1M to 16G (bytes, or a number with K, M or G)");
	*out = x * mult;
	return 0;
}

static int parse_source(vt_recipe *r, const char *v, size_t line)
{
	const char *sp = strchr(v, ' ');
	if (!sp || sp == v || strncmp(sp + 1, "sha256:", 7) != 0)
		return bad(line, "Source",
			   "want \"PATH sha256:HEX\" (the tree digest of docs/conveyer.md)");
	if (vt_hex_decode(r->source_digest.b, VT_HASH_SIZE, sp + 8, strlen(sp + 8)) < 0)
		return bad(line, "Source", "the digest is not 64 hex digits");
	for (const char *p = v; p < sp; p++)
		if (*p == '\t')
			return bad(line, "Source", "a tab in the path");
	if (!(r->source = dup_str(v, (size_t)(sp - v))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	return 0;
}

static int check_values(vt_recipe *r, raw_field *f, size_t last)
{
	const char *v;
	size_t l;
	int err;

	for (int i = 0; i < F_COUNT; i++)
		if (fields[i].required && !f[i].line)
			return vt_error_set(VT_EINVAL, "line %zu: missing field %s", last,
					    fields[i].name);

	v = vt_buf_cstr(&f[F_NAME].text);
	if (!in_set(v, strlen(v), LOWER DIGIT, LOWER DIGIT ".+-") || strlen(v) > 64)
		return bad(f[F_NAME].line, "Name",
			   "want [a-z0-9][a-z0-9.+-]*, at most 64 characters");
	if (!(r->name = dup_str(v, strlen(v))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	v = vt_buf_cstr(&f[F_VERSION].text);
	if (!in_set(v, strlen(v), LOWER UPPER DIGIT, LOWER UPPER DIGIT ".+~_-") || strlen(v) > 64)
		return bad(f[F_VERSION].line, "Version",
			   "want [A-Za-z0-9][A-Za-z0-9.+~_-]*, at most 64 characters");
	if (!(r->version = dup_str(v, strlen(v))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	if ((err = parse_source(r, vt_buf_cstr(&f[F_SOURCE].text), f[F_SOURCE].line)) < 0)
		return err;

	v = vt_buf_cstr(&f[F_BUILD].text);
	if (strspn(v, " \t\n") == strlen(v))
		return bad(f[F_BUILD].line, "Build", "no steps");
	if (!(r->build = dup_str(v, strlen(v))))
		return vt_error_set(VT_ENOMEM, "out of memory");

	l = f[F_OUTPUTS].line;
	if ((err = split_words(&r->outputs, &r->noutputs, vt_buf_cstr(&f[F_OUTPUTS].text), l,
			       "Outputs")) < 0)
		return err;
	if (r->noutputs == 0)
		return bad(l, "Outputs", "no outputs");
	for (size_t i = 0; i < r->noutputs; i++)
		if (!rel_path_ok(r->outputs[i]) || strlen(r->outputs[i]) > 255)
			return vt_error_set(VT_EINVAL,
					    "line %zu: Outputs: %s is not a plain relative path", l,
					    r->outputs[i]);
	if ((err = check_unique(r->outputs, r->noutputs, 0, l, "Outputs")) < 0)
		return err;

	if ((err = parse_u64_field(&r->source_date_epoch, vt_buf_cstr(&f[F_SDE].text),
				   f[F_SDE].line, "Source-Date-Epoch", 0, MAX_EPOCH)) < 0)
		return err;

	if (f[F_ENV].line) {
		l = f[F_ENV].line;
		if ((err = split_words(&r->env, &r->nenv, vt_buf_cstr(&f[F_ENV].text), l,
				       "Environment")) < 0)
			return err;
		for (size_t i = 0; i < r->nenv; i++) {
			const char *e = r->env[i];
			size_t n = strcspn(e, "=");
			if (!e[n] || !in_set(e, n, UPPER "_", UPPER DIGIT "_"))
				return vt_error_set(
				    VT_EINVAL, "line %zu: Environment: %s is not NAME=VALUE", l, e);
			if (env_name_reserved(e, n))
				return vt_error_set(
				    VT_EINVAL, "line %zu: Environment: %.*s is set by the sandbox",
				    l, (int)n, e);
		}
		if ((err = check_unique(r->env, r->nenv, 1, l, "Environment")) < 0)
			return err;
	}
	if (f[F_TOOLCHAIN].line) {
		l = f[F_TOOLCHAIN].line;
		if ((err = split_words(&r->toolchain, &r->ntoolchain,
				       vt_buf_cstr(&f[F_TOOLCHAIN].text), l, "Toolchain")) < 0)
			return err;
		for (size_t i = 0; i < r->ntoolchain; i++)
			if (r->toolchain[i][0] != '/' || strlen(r->toolchain[i]) > 1024)
				return vt_error_set(
				    VT_EINVAL, "line %zu: Toolchain: %s is not an absolute path", l,
				    r->toolchain[i]);
		if ((err = check_unique(r->toolchain, r->ntoolchain, 0, l, "Toolchain")) < 0)
			return err;
	}
	r->build_order = VT_ORDER_FIXED;
	if (f[F_ORDER].line) {
		v = vt_buf_cstr(&f[F_ORDER].text);
		if (strcmp(v, "any") == 0)
			r->build_order = VT_ORDER_ANY;
		else if (strcmp(v, "fixed") != 0)
			return bad(f[F_ORDER].line, "Build-Order", "want fixed or any");
	}
	r->timeout = 600;
	if (f[F_TIMEOUT].line &&
	    (err = parse_u64_field(&r->timeout, vt_buf_cstr(&f[F_TIMEOUT].text), f[F_TIMEOUT].line,
				   "Timeout", 1, 86400)) < 0)
		return err;
	r->tmp_size = 256ULL << 20;
	if (f[F_TMPSIZE].line && (err = parse_size(&r->tmp_size, vt_buf_cstr(&f[F_TMPSIZE].text),
						   f[F_TMPSIZE].line)) < 0)
		return err;
	return 0;
}

/* Append one continuation line to a multi-line field (" ." is an empty line). */
static int add_continuation(raw_field *f, const char *s, size_t n)
{
	int err;
	s++;
	n--;
	if (n == 1 && s[0] == '.')
		n = 0;
	if (f->nlines > 0 && (err = vt_buf_addc(&f->text, '\n')) < 0)
		return err;
	if (n > 0 && (err = vt_buf_add(&f->text, s, n)) < 0)
		return err;
	f->nlines++;
	return 0;
}

int vt_recipe_parse(vt_recipe *out, const char *text, size_t len)
{
	raw_field f[F_COUNT];
	size_t line = 0, pos = 0;
	int cur = -1, err = 0;

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < F_COUNT; i++) {
		f[i].line = 0;
		f[i].nlines = 0;
		vt_buf_init(&f[i].text, VT_RECIPE_MAX_SIZE);
	}
	if (len > VT_RECIPE_MAX_SIZE) {
		err = vt_error_set(VT_ETOOBIG, "recipe larger than %d bytes", VT_RECIPE_MAX_SIZE);
		goto done;
	}
	if ((err = vt_sha256(&out->digest, text, len)) < 0)
		goto done;
	while (pos < len) {
		const char *s = text + pos, *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;
		pos += n + (nl ? 1 : 0);
		line++;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)s[i];
			if ((c < 0x20 && c != '\t') || c == 0x7f) {
				err = vt_error_set(VT_EINVAL, "line %zu: control character 0x%02x",
						   line, c);
				goto done;
			}
		}
		if (n > 0 && is_space(s[n - 1])) {
			err = vt_error_set(VT_EINVAL, "line %zu: trailing white space", line);
			goto done;
		}
		if (n == 0) {
			err = vt_error_set(VT_EINVAL,
					   "line %zu: blank line (a recipe is one paragraph; write"
					   " \" .\" for an empty line in Build)",
					   line);
			goto done;
		}
		if (s[0] == '#') {
			cur = -1;
			continue;
		}
		if (is_space(s[0])) {
			if (cur < 0) {
				err = vt_error_set(
				    VT_EINVAL, "line %zu: continuation line without a field", line);
				goto done;
			}
			if (!fields[cur].multi) {
				err = vt_error_set(VT_EINVAL, "line %zu: %s takes a single line",
						   line, fields[cur].name);
				goto done;
			}
			if ((err = add_continuation(&f[cur], s, n)) < 0)
				goto done;
			continue;
		}
		{
			const char *colon = memchr(s, ':', n);
			const char *v;
			size_t namelen;
			if (!colon) {
				err = vt_error_set(VT_EINVAL, "line %zu: want \"Field: value\"",
						   line);
				goto done;
			}
			namelen = (size_t)(colon - s);
			for (cur = 0; cur < F_COUNT; cur++)
				if (strlen(fields[cur].name) == namelen &&
				    memcmp(fields[cur].name, s, namelen) == 0)
					break;
			if (cur == F_COUNT) {
				err = vt_error_set(VT_EINVAL, "line %zu: unknown field %.*s", line,
						   (int)(namelen > 64 ? 64 : namelen), s);
				goto done;
			}
			if (f[cur].line) {
				err = vt_error_set(
				    VT_EINVAL, "line %zu: field %s given twice (first on line %zu)",
				    line, fields[cur].name, f[cur].line);
				goto done;
			}
			f[cur].line = line;
			v = colon + 1;
			while (v < s + n && is_space(*v))
				v++;
			if (v < s + n) {
				if ((err = vt_buf_add(&f[cur].text, v, (size_t)(s + n - v))) < 0)
					goto done;
				f[cur].nlines = 1;
			}
			if (v == s + n && !fields[cur].multi) {
				err = bad(line, fields[cur].name, "empty value");
				goto done;
			}
		}
	}
	err = check_values(out, f, line);
done:
	for (int i = 0; i < F_COUNT; i++)
		vt_buf_dispose(&f[i].text);
	if (err < 0)
		vt_recipe_dispose(out);
	return err;
}

void vt_recipe_dispose(vt_recipe *r)
{
	free(r->name);
	free(r->version);
	free(r->source);
	free(r->build);
	free_list(r->outputs, r->noutputs);
	free_list(r->env, r->nenv);
	free_list(r->toolchain, r->ntoolchain);
	memset(r, 0, sizeof(*r));
}
