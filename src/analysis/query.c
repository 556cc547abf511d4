/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The search language: a strict reader of `key:value` terms and hash
 * prefixes separated by spaces.
 *
 * Each value is checked against the alphabet of what it names (a YARA
 * identifier, a tag, a verdict, a size, a date, a region, a hash), so that
 * nothing a client sends reaches SQL but as a bound parameter of a known
 * shape, and every refusal names the byte where the query went wrong.
 */
#include "vitrine/analysis_query.h"
#include "vitrine/error.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

typedef struct {
	const char *s; /* the query */
	size_t pos;    /* of the value being read, 0-based */
	size_t *errpos;
} ctx;

static int refuse(ctx *c, size_t at, const char *fmt, const char *arg)
{
	char msg[256];
	snprintf(msg, sizeof(msg), fmt, arg);
	if (c->errpos)
		*c->errpos = at + 1;
	return vt_error_set(VT_EINVAL, "position %zu: %s", at + 1, msg);
}

static bool is_hex(char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
}

static int nibble(char ch)
{
	return ch <= '9' ? ch - '0' : (ch | 0x20) - 'a' + 10;
}

static bool all_of(const char *v, size_t n, const char *extra, bool alnum)
{
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];
		bool ok = alnum && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
				    (ch >= '0' && ch <= '9'));
		if (!ok && !(ch && strchr(extra, ch)))
			return false;
	}
	return true;
}

static void set_text(vt_query_term *t, const char *v, size_t n)
{
	memcpy(t->text, v, n);
	t->text[n] = 0;
}

/* hex digits into t->hash, t->nibbles. */
static void set_hex(vt_query_term *t, const char *v, size_t n)
{
	memset(t->hash, 0, sizeof(t->hash));
	for (size_t i = 0; i < n; i++)
		t->hash[i / 2] |= (uint8_t)(nibble(v[i]) << (i % 2 ? 0 : 4));
	t->nibbles = (unsigned)n;
}

/* An operator at the start of v: =, <, <=, >, >= (none is =). */
static size_t read_op(vt_query_op *op, const char *v, size_t n)
{
	if (n >= 2 && v[0] == '<' && v[1] == '=')
		return *op = VT_QUERY_LE, 2;
	if (n >= 2 && v[0] == '>' && v[1] == '=')
		return *op = VT_QUERY_GE, 2;
	if (n >= 1 && v[0] == '<')
		return *op = VT_QUERY_LT, 1;
	if (n >= 1 && v[0] == '>')
		return *op = VT_QUERY_GT, 1;
	*op = VT_QUERY_EQ;
	return n >= 1 && v[0] == '=' ? 1 : 0;
}

/* Decimal digits only, at most 18 of them. -1 when not. */
static int64_t read_num(const char *v, size_t n)
{
	int64_t x = 0;
	if (n == 0 || n > 18)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		x = x * 10 + (v[i] - '0');
	}
	return x;
}

static int parse_size(ctx *c, vt_query_term *t, const char *v, size_t n)
{
	static const struct {
		const char *unit;
		int64_t mult;
	} units[] = {{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"B", 1}};
	size_t k = read_op(&t->op, v, n), digits = k;
	int64_t mult = 1, x;

	while (digits < n && v[digits] >= '0' && v[digits] <= '9')
		digits++;
	if (digits < n) {
		size_t i;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (n - digits == strlen(units[i].unit) &&
			    strncasecmp(v + digits, units[i].unit, n - digits) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return refuse(c, c->pos + digits, "%s",
				      "a size is [<|<=|>|>=|=]NUMBER[B|KB|MB|GB] (units of 1024)");
		mult = units[i].mult;
	}
	if ((x = read_num(v + k, digits - k)) < 0 || x > INT64_MAX / mult)
		return refuse(c, c->pos + k, "%s", "a size needs a number of at most 18 digits");
	t->num = x * mult;
	return 0;
}

static int parse_date(ctx *c, vt_query_term *t, const char *v, size_t n)
{
	size_t k = read_op(&t->op, v, n);
	struct tm tm = {0};
	int64_t y, m, d;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (n - k != 10 || v[k + 4] != '-' || v[k + 7] != '-' || (y = read_num(v + k, 4)) < 0 ||
	    (m = read_num(v + k + 5, 2)) < 1 || m > 12 || (d = read_num(v + k + 8, 2)) < 1 ||
	    d > mdays[m - 1] || y < 1970)
		return refuse(c, c->pos + k, "%s", "a date is YYYY-MM-DD (UTC), from 1970");
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	t->num = (int64_t)timegm(&tm);
	return 0;
}

/* "hash:number": split at the last ':'. */
static int split_num(ctx *c, int64_t *num, size_t *hlen, const char *v, size_t n, int64_t max,
		     const char *what)
{
	const char *colon = NULL;
	for (size_t i = n; i > 0; i--)
		if (v[i - 1] == ':') {
			colon = v + i - 1;
			break;
		}
	if (!colon)
		return refuse(c, c->pos, "%s", what);
	*hlen = (size_t)(colon - v);
	if ((*num = read_num(colon + 1, n - *hlen - 1)) < 0 || *num > max)
		return refuse(c, c->pos + *hlen + 1, "%s", what);
	return 0;
}

static int parse_ssdeep(ctx *c, vt_query_term *t, const char *v, size_t n)
{
	static const char *what = "want ssdeep:BLOCKSIZE:HASH:HASH:MINSCORE (score 0 to 100)";
	size_t hlen, bs, colons = 0;
	int64_t score;
	int err;

	if ((err = split_num(c, &score, &hlen, v, n, 100, what)) < 0)
		return err;
	for (bs = 0; bs < hlen && v[bs] >= '0' && v[bs] <= '9'; bs++)
		;
	if (bs == 0 || bs > 10 || bs >= hlen || v[bs] != ':' || hlen > VT_INDEX_QUERY_TEXT ||
	    !all_of(v + bs + 1, hlen - bs - 1, "+/:", true))
		return refuse(c, c->pos, "%s", what);
	for (size_t i = bs + 1; i < hlen; i++)
		colons += v[i] == ':';
	if (colons != 1)
		return refuse(c, c->pos, "%s", what);
	set_text(t, v, hlen);
	t->num = score;
	return 0;
}

static int parse_tlsh(ctx *c, vt_query_term *t, const char *v, size_t n)
{
	static const char *what = "want tlsh:T1<70 hex digits>:MAXDISTANCE (distance 0 to 10000)";
	size_t hlen, off = 0;
	int64_t dist;
	int err;

	if ((err = split_num(c, &dist, &hlen, v, n, 10000, what)) < 0)
		return err;
	if (hlen >= 2 && (v[0] == 'T' || v[0] == 't') && v[1] == '1')
		off = 2;
	if (hlen - off != 70)
		return refuse(c, c->pos, "%s", what);
	for (size_t i = off; i < hlen; i++)
		if (!is_hex(v[i]))
			return refuse(c, c->pos + i, "%s", what);
	memcpy(t->text, "T1", 2);
	for (size_t i = 0; i < 70; i++) {
		char ch = v[off + i];
		t->text[2 + i] = (ch >= 'a' && ch <= 'f') ? (char)(ch - 32) : ch;
	}
	t->text[72] = 0;
	t->num = dist;
	return 0;
}

static int parse_term(ctx *c, vt_query_term *t, const char *key, size_t klen, const char *v,
		      size_t n)
{
	memset(t, 0, sizeof(*t));
	if (n == 0)
		return refuse(c, c->pos, "%s", "a term has a value after ':'");
#define KEY(k) (klen == sizeof(k) - 1 && memcmp(key, k, klen) == 0)
	if (KEY("rule")) {
		const char *colon = memrchr(v, ':', n);
		const char *id = colon ? colon + 1 : v;
		size_t idn = n - (size_t)(id - v);
		t->kind = VT_QUERY_RULE;
		if (n > VT_INDEX_QUERY_TEXT || idn == 0 || idn > 128 ||
		    (id[0] >= '0' && id[0] <= '9') || !all_of(id, idn, "_", true) ||
		    (colon && (colon == v || !all_of(v, (size_t)(colon - v), "_./-", true))))
			return refuse(c, c->pos, "%s",
				      "a rule is a YARA identifier, or NAMESPACE:IDENTIFIER");
		set_text(t, v, n);
	} else if (KEY("tag")) {
		t->kind = VT_QUERY_TAG;
		if (n > VT_INDEX_TAG_MAX || !all_of(v, n, "-_.:/", true))
			return refuse(c, c->pos, "%s",
				      "a tag has 1 to 64 of letters, digits and \"-_.:/\"");
		set_text(t, v, n);
	} else if (KEY("type")) {
		t->kind = VT_QUERY_TYPE;
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
				return refuse(c, c->pos + i, "%s", "a control character");
		if (n > VT_INDEX_QUERY_TEXT)
			return refuse(c, c->pos, "%s", "a type word is at most 160 bytes");
		set_text(t, v, n);
	} else if (KEY("verdict")) {
		static const char *const ok[] = {"malicious", "suspicious", "clean", "unknown"};
		size_t i;
		t->kind = VT_QUERY_VERDICT;
		for (i = 0; i < 4; i++)
			if (n == strlen(ok[i]) && memcmp(v, ok[i], n) == 0)
				break;
		if (i == 4)
			return refuse(c, c->pos, "%s",
				      "a verdict is malicious, suspicious, clean or unknown");
		set_text(t, v, n);
	} else if (KEY("size")) {
		t->kind = VT_QUERY_SIZE;
		return parse_size(c, t, v, n);
	} else if (KEY("first_seen")) {
		t->kind = VT_QUERY_FIRST_SEEN;
		return parse_date(c, t, v, n);
	} else if (KEY("region")) {
		t->kind = VT_QUERY_REGION;
		if (n > 16 || !all_of(v, n, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", false))
			return refuse(c, c->pos, "%s",
				      "a region has 1 to 16 of upper-case letters, digits and '-'");
		set_text(t, v, n);
	} else if (KEY("parent")) {
		t->kind = VT_QUERY_PARENT;
		if (n != 64 || !all_of(v, n, "0123456789abcdefABCDEF", false))
			return refuse(c, c->pos, "%s", "a parent is a SHA-256 (64 hex digits)");
		set_hex(t, v, n);
	} else if (KEY("ssdeep")) {
		t->kind = VT_QUERY_SSDEEP;
		return parse_ssdeep(c, t, v, n);
	} else if (KEY("tlsh")) {
		t->kind = VT_QUERY_TLSH;
		return parse_tlsh(c, t, v, n);
	} else {
		char k[24];
		snprintf(k, sizeof(k), "%.*s", (int)(klen > 20 ? 20 : klen), key);
		c->pos -= klen + 1;
		return refuse(c, c->pos,
			      "unknown term \"%s\" (rule, tag, type, verdict, size, "
			      "first_seen, region, parent, ssdeep, tlsh, or a hash prefix)",
			      k);
	}
#undef KEY
	return 0;
}

int vt_query_parse(vt_query *out, size_t *errpos, const char *q, size_t len)
{
	ctx c = {q, 0, errpos};
	size_t i = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (errpos)
		*errpos = 0;
	if (len > VT_QUERY_MAX)
		return vt_error_set(VT_ETOOBIG, "a query is at most %d bytes", VT_QUERY_MAX);
	while (i < len && err == 0) {
		size_t start, end, vstart, vend;
		const char *colon;
		vt_query_term *t;

		if (q[i] == ' ') {
			i++;
			continue;
		}
		start = i;
		if (out->n == VT_INDEX_QUERY_TERMS) {
			if (errpos)
				*errpos = start + 1;
			err = vt_error_set(VT_ETOOBIG, "position %zu: at most %d terms", start + 1,
					   VT_INDEX_QUERY_TERMS);
			goto done;
		}
		t = &out->t[out->n];
		/* The term runs to the next space outside double quotes. */
		colon = NULL;
		for (end = i; end < len && q[end] != ' ' && q[end] != '"'; end++)
			if (!colon && q[end] == ':')
				colon = q + end;
		if (end < len && q[end] == '"') {
			if (!colon || (size_t)(colon - q) + 1 != end) {
				err = refuse(&c, end, "%s",
					     "a quote may only open a value (key:\"...\")");
				goto done;
			}
			vstart = end + 1;
			for (vend = vstart; vend < len && q[vend] != '"'; vend++)
				;
			if (vend == len) {
				err = refuse(&c, end, "%s", "a quote is not closed");
				goto done;
			}
			end = vend + 1;
			if (end < len && q[end] != ' ') {
				err = refuse(&c, end, "%s", "a space must follow a closing quote");
				goto done;
			}
		} else {
			vstart = colon ? (size_t)(colon - q) + 1 : start;
			vend = end;
		}
		c.pos = vstart;
		if (!colon) {
			size_t n = end - start;
			t->kind = VT_QUERY_HASH;
			if (n < 8 || n > 64 ||
			    !all_of(q + start, n, "0123456789abcdefABCDEF", false))
				err = refuse(&c, start, "%s",
					     "a bare term is a hash prefix of 8 to 64 hex digits "
					     "(else key:value)");
			else
				set_hex(t, q + start, n);
		} else {
			err = parse_term(&c, t, q + start, (size_t)(colon - q) - start, q + vstart,
					 vend - vstart);
		}
		if (err == 0)
			out->n++;
		i = end;
	}
	if (err == 0 && out->n == 0)
		err = refuse(&c, 0, "%s", "an empty query (give at least one term)");
done:
	if (err < 0)
		memset(out->t, 0, sizeof(out->t)), out->n = 0;
	return err;
}
