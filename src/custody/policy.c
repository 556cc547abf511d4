/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The residency policy: a strict parser and canonical formatter for the
 * policy text, lookups, signing and opening as a signed note, the adoption
 * rule (no rollback) and the `policy` log entry.
 *
 * Invariant: a vt_policy that came from vt_policy_parse() formats back to
 * the exact bytes parsed. The parser accepts nothing that has a second
 * spelling (no blank lines, comments, extra spaces, unsorted or duplicate
 * lines, non-canonical numbers, URLs or keys), which is what makes that
 * true and what lets a reviewer trust a diff of two policies.
 */
#include "vitrine/policy.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER	     "vitrine/1 policy"
#define ENTRY_HEADER "vitrine/1 policy\n"

void vt_policy_init(vt_policy *p)
{
	memset(p, 0, sizeof(*p));
}

void vt_policy_dispose(vt_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nsites; i++)
		vt_note_verifier_free(p->sites[i].verifier);
	free(p->sites);
	free(p->regions);
	vt_policy_init(p);
}

static bool is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int vt_policy_check_jurisdiction(const char *s, size_t len)
{
	if (len < 4 || len > VT_JURISDICTION_MAX || !is_upper(s[0]) || !is_upper(s[1]) ||
	    s[2] != '-')
		goto bad;
	for (size_t i = 3; i < len; i++)
		if (!is_upper(s[i]) && !is_digit(s[i]))
			goto bad;
	return 0;
bad:
	return vt_error_set(VT_EINVAL,
			    "bad jurisdiction id \"%.*s\" (want two upper-case letters, '-', "
			    "then 1 to 8 upper-case letters or digits, as in CH-ZRH)",
			    (int)(len > 40 ? 40 : len), s);
}

int vt_policy_check_region(const char *s, size_t len)
{
	if (len < 2 || len > VT_REGION_MAX || !is_upper(s[0]))
		goto bad;
	for (size_t i = 1; i < len; i++)
		if (!is_upper(s[i]) && !is_digit(s[i]))
			goto bad;
	return 0;
bad:
	return vt_error_set(VT_EINVAL,
			    "bad region \"%.*s\" (want an upper-case letter, then 1 to 15 "
			    "upper-case letters or digits, as in EU)",
			    (int)(len > 40 ? 40 : len), s);
}

/* Host: lower-case DNS labels or dotted IPv4, or a bracketed IPv6 literal. */
static bool check_host(const char *s, size_t len)
{
	if (len == 0)
		return false;
	if (s[0] == '[') {
		if (len < 3 || s[len - 1] != ']')
			return false;
		for (size_t i = 1; i + 1 < len; i++)
			if (!is_digit(s[i]) && !(s[i] >= 'a' && s[i] <= 'f') && s[i] != ':' &&
			    s[i] != '.')
				return false;
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool edge = i == 0 || i == len - 1 || s[i - 1] == '.' || s[i + 1] == '.';
		if (c == '.') {
			if (i == 0 || i == len - 1 || s[i - 1] == '.')
				return false;
		} else if (c == '-') {
			if (edge)
				return false;
		} else if (!(c >= 'a' && c <= 'z') && !is_digit(c)) {
			return false;
		}
	}
	return true;
}

/* Path: "/seg/seg" of unreserved characters; no empty, "." or ".." segment. */
static bool check_path(const char *s, size_t len)
{
	size_t seg = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (i > 0 && (seg == 0 || (seg == 1 && s[i - 1] == '.') ||
				      (seg == 2 && s[i - 1] == '.' && s[i - 2] == '.')))
				return false;
			seg = 0;
			continue;
		}
		if (!is_upper(s[i]) && !(s[i] >= 'a' && s[i] <= 'z') && !is_digit(s[i]) &&
		    !strchr("-._~", s[i]))
			return false;
		seg++;
	}
	return true;
}

/*
 * A base URL in one canonical spelling: "http" or "https", a lower-case
 * host, an optional port (1 to 65535, no leading zero), an optional path
 * without a trailing '/', and no user, query or fragment.
 */
static int check_url(const char *s, size_t len)
{
	const char *auth, *end = s + len, *slash, *colon;
	uint64_t port;

	if (len > VT_POLICY_URL_MAX)
		goto bad;
	if (len > 8 && memcmp(s, "https://", 8) == 0)
		auth = s + 8;
	else if (len > 7 && memcmp(s, "http://", 7) == 0)
		auth = s + 7;
	else
		goto bad;
	slash = memchr(auth, '/', (size_t)(end - auth));
	if (!slash)
		slash = end;
	colon = NULL;
	for (const char *c = slash; c > auth; c--)
		if (c[-1] == ':' || c[-1] == ']') {
			colon = c[-1] == ':' ? c - 1 : NULL;
			break;
		}
	if (colon) {
		if (vt_parse_u64(&port, colon + 1, (size_t)(slash - colon - 1)) < 0 || port == 0 ||
		    port > 65535)
			goto bad;
	} else {
		colon = slash;
	}
	if (!check_host(auth, (size_t)(colon - auth)))
		goto bad;
	if (slash < end && (!check_path(slash, (size_t)(end - slash)) || end[-1] == '/'))
		goto bad;
	return 0;
bad:
	return vt_error_set(VT_EINVAL,
			    "bad base URL \"%.*s\" (want http:// or https://, a lower-case host, "
			    "an optional port and path, no trailing '/', query or fragment)",
			    (int)(len > 80 ? 80 : len), s);
}

/* A log verifier key: valid, Ed25519, in its one canonical spelling. */
static int check_vkey(vt_note_verifier **out, const char *s, size_t len)
{
	vt_note_verifier *v = NULL;
	vt_buf b;
	int err;

	vt_buf_init(&b, VT_POLICY_VKEY_MAX + 1);
	if (len > VT_POLICY_VKEY_MAX) {
		err = vt_error_set(VT_EINVAL, "verifier key longer than %d bytes",
				   VT_POLICY_VKEY_MAX);
		goto done;
	}
	if ((err = vt_note_verifier_parse(&v, s, len)) < 0) {
		err = vt_error_wrap(VT_EINVAL, "bad log verifier key");
		goto done;
	}
	if (vt_note_verifier_type(v) != VT_NOTE_ED25519) {
		err = vt_error_set(VT_EINVAL, "log verifier key \"%.*s\" is not an Ed25519 key",
				   (int)(len > 80 ? 80 : len), s);
		goto done;
	}
	if ((err = vt_note_verifier_vkey(&b, v)) < 0)
		goto done;
	if (b.len != len || memcmp(b.ptr, s, len) != 0) {
		err = vt_error_set(VT_EINVAL, "log verifier key is not in canonical form");
		goto done;
	}
	*out = v;
	v = NULL;
done:
	vt_note_verifier_free(v);
	vt_buf_dispose(&b);
	return err;
}

/* Split line into exactly n fields at single spaces. */
static bool split(const char *line, size_t len, const char **f, size_t *fl, size_t n)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && line[i] != ' ')
			continue;
		if (i == start || k == n)
			return false;
		f[k] = line + start;
		fl[k++] = i - start;
		start = i + 1;
	}
	return k == n;
}

/* strcmp of a NUL-terminated string with a counted one. */
static int cmp_counted(const char *a, const char *b, size_t blen)
{
	size_t alen = strlen(a);
	int c = memcmp(a, b, alen < blen ? alen : blen);
	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int find_site(const vt_policy *p, const char *j, size_t len, size_t *idx)
{
	for (size_t i = 0; i < p->nsites; i++)
		if (cmp_counted(p->sites[i].jurisdiction, j, len) == 0) {
			*idx = i;
			return 0;
		}
	return VT_ENOTFOUND;
}

static int parse_site(vt_policy *p, const char *line, size_t len)
{
	const char *f[4];
	size_t fl[4];
	vt_policy_site *s;
	int err;

	if (!split(line, len, f, fl, 4))
		return vt_error_set(VT_EINVAL, "want \"site <JURISDICTION> <URL> <VKEY>\" with "
					       "single spaces");
	if ((err = vt_policy_check_jurisdiction(f[1], fl[1])) < 0 ||
	    (err = check_url(f[2], fl[2])) < 0)
		return err;
	if (p->nregions > 0)
		return vt_error_set(VT_EINVAL, "site line after a region line: all sites come "
					       "first");
	if (p->nsites > 0) {
		int c = cmp_counted(p->sites[p->nsites - 1].jurisdiction, f[1], fl[1]);
		if (c == 0)
			return vt_error_set(VT_EINVAL, "duplicate site %.*s", (int)fl[1], f[1]);
		if (c > 0)
			return vt_error_set(VT_EINVAL,
					    "site %.*s is out of order: sites are sorted "
					    "by jurisdiction (it goes before %s)",
					    (int)fl[1], f[1], p->sites[p->nsites - 1].jurisdiction);
	}
	if (p->nsites == VT_POLICY_MAX_SITES)
		return vt_error_set(VT_ETOOBIG, "more than %d sites", VT_POLICY_MAX_SITES);
	if (!p->sites && !(p->sites = calloc(VT_POLICY_MAX_SITES, sizeof(*p->sites))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	s = &p->sites[p->nsites];
	memset(s, 0, sizeof(*s));
	if ((err = check_vkey(&s->verifier, f[3], fl[3])) < 0)
		return err;
	p->nsites++; /* from here on, dispose frees the verifier */
	memcpy(s->jurisdiction, f[1], fl[1]);
	memcpy(s->url, f[2], fl[2]);
	memcpy(s->vkey, f[3], fl[3]);
	for (size_t i = 0; i + 1 < p->nsites; i++) {
		if (strcmp(p->sites[i].url, s->url) == 0)
			return vt_error_set(VT_EINVAL, "site %s has the URL of site %s",
					    s->jurisdiction, p->sites[i].jurisdiction);
		if (strcmp(vt_note_verifier_name(p->sites[i].verifier),
			   vt_note_verifier_name(s->verifier)) == 0)
			return vt_error_set(VT_EINVAL,
					    "site %s has the log (key name %s) of site %s",
					    s->jurisdiction, vt_note_verifier_name(s->verifier),
					    p->sites[i].jurisdiction);
	}
	return 0;
}

static int parse_region(vt_policy *p, const char *line, size_t len)
{
	const char *f[3];
	size_t fl[3], idx = 0;
	vt_policy_region *r;
	int err;

	if (!split(line, len, f, fl, 3))
		return vt_error_set(VT_EINVAL, "want \"region <REGION> <JURISDICTION>\" with "
					       "single spaces");
	if ((err = vt_policy_check_region(f[1], fl[1])) < 0 ||
	    (err = vt_policy_check_jurisdiction(f[2], fl[2])) < 0)
		return err;
	if (p->nsites == 0)
		return vt_error_set(VT_EINVAL, "region line before any site line");
	if (p->nregions > 0) {
		int c = cmp_counted(p->regions[p->nregions - 1].region, f[1], fl[1]);
		if (c == 0)
			return vt_error_set(VT_EINVAL, "duplicate region %.*s", (int)fl[1], f[1]);
		if (c > 0)
			return vt_error_set(VT_EINVAL,
					    "region %.*s is out of order: regions are "
					    "sorted by name (it goes before %s)",
					    (int)fl[1], f[1], p->regions[p->nregions - 1].region);
	}
	if (find_site(p, f[2], fl[2], &idx) < 0)
		return vt_error_set(VT_EINVAL,
				    "region %.*s maps to %.*s, which is not a listed "
				    "site",
				    (int)fl[1], f[1], (int)fl[2], f[2]);
	if (p->nregions == VT_POLICY_MAX_REGIONS)
		return vt_error_set(VT_ETOOBIG, "more than %d regions", VT_POLICY_MAX_REGIONS);
	if (!p->regions && !(p->regions = calloc(VT_POLICY_MAX_REGIONS, sizeof(*p->regions))))
		return vt_error_set(VT_ENOMEM, "out of memory");
	r = &p->regions[p->nregions++];
	memset(r, 0, sizeof(*r));
	memcpy(r->region, f[1], fl[1]);
	r->site = idx;
	return 0;
}

/* Printable ASCII only: the format has no use for anything else. */
static int check_line_chars(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if (c < 0x20 || c == 0x7f)
			return vt_error_set(VT_EINVAL, "control character 0x%02x at column %zu", c,
					    i + 1);
		if (c > 0x7f)
			return vt_error_set(VT_EINVAL, "non-ASCII byte 0x%02x at column %zu", c,
					    i + 1);
	}
	return 0;
}

static int parse_line(vt_policy *p, size_t lineno, const char *line, size_t len)
{
	const char *sp;
	size_t kw;
	int err;

	if ((err = check_line_chars(line, len)) < 0)
		return err;
	if (lineno == 1) {
		if (len != strlen(HEADER) || memcmp(line, HEADER, len) != 0)
			return vt_error_set(VT_EINVAL, "the first line must be \"" HEADER "\"");
		return 0;
	}
	if (len == 0)
		return vt_error_set(VT_EINVAL, "empty line");
	sp = memchr(line, ' ', len);
	kw = sp ? (size_t)(sp - line) : len;
	if (lineno == 2) {
		if (kw != 7 || memcmp(line, "version", 7) != 0)
			return vt_error_set(VT_EINVAL, "the second line must be \"version N\"");
		if (!sp || vt_parse_u64(&p->version, sp + 1, len - 8) < 0 || p->version == 0)
			return vt_error_set(VT_EINVAL,
					    "bad version \"%.*s\" (want a decimal "
					    "number from 1, no leading zero)",
					    (int)(!sp		 ? 0
						  : len - 8 > 40 ? 40
								 : len - 8),
					    sp ? sp + 1 : "");
		return 0;
	}
	if (kw == 4 && memcmp(line, "site", 4) == 0)
		return parse_site(p, line, len);
	if (kw == 6 && memcmp(line, "region", 6) == 0)
		return parse_region(p, line, len);
	if (kw == 7 && memcmp(line, "version", 7) == 0)
		return vt_error_set(VT_EINVAL, "a second version line");
	return vt_error_set(VT_EINVAL, "unknown line \"%.*s\" (want site or region)",
			    (int)(len > 40 ? 40 : len), line);
}

int vt_policy_parse(vt_policy *out, const char *text, size_t len)
{
	size_t lineno = 0, off = 0;
	int err = 0;

	vt_policy_init(out);
	if (len > VT_POLICY_MAX_SIZE) {
		err = vt_error_set(VT_ETOOBIG, "policy of %zu bytes is over the limit of %d", len,
				   VT_POLICY_MAX_SIZE);
		goto done;
	}
	if (len == 0) {
		err = vt_error_set(VT_EINVAL, "empty policy");
		goto done;
	}
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t end = nl ? (size_t)(nl - text) : len;
		lineno++;
		if (!nl) {
			err = vt_error_set(VT_EINVAL, "policy line %zu: no final newline", lineno);
			goto done;
		}
		if ((err = parse_line(out, lineno, text + off, end - off)) < 0) {
			err = vt_error_wrap(err, "policy line %zu", lineno);
			goto done;
		}
		off = end + 1;
	}
	if (lineno < 2) {
		err = vt_error_set(VT_EINVAL, "policy line %zu: no version line", lineno + 1);
		goto done;
	}
	if (out->nsites == 0 || out->nregions == 0) {
		err = vt_error_set(VT_EINVAL, "policy line %zu: end of policy without any %s line",
				   lineno + 1, out->nsites == 0 ? "site" : "region");
		goto done;
	}
done:
	if (err < 0)
		vt_policy_dispose(out);
	return err;
}

int vt_policy_format(vt_buf *out, const vt_policy *p)
{
	size_t start = out->len;
	int err = 0;

	if (p->version == 0 || p->nsites == 0 || p->nregions == 0) {
		err = vt_error_set(VT_EINVAL, "a policy needs a version, a site and a region");
		goto done;
	}
	if ((err = vt_buf_printf(out, HEADER "\nversion %llu\n", (unsigned long long)p->version)) <
	    0)
		goto done;
	for (size_t i = 0; i < p->nsites; i++)
		if ((err = vt_buf_printf(out, "site %s %s %s\n", p->sites[i].jurisdiction,
					 p->sites[i].url, p->sites[i].vkey)) < 0)
			goto done;
	for (size_t i = 0; i < p->nregions; i++) {
		if (p->regions[i].site >= p->nsites) {
			err = vt_error_set(VT_EINVAL, "region %s names no site",
					   p->regions[i].region);
			goto done;
		}
		if ((err = vt_buf_printf(out, "region %s %s\n", p->regions[i].region,
					 p->sites[p->regions[i].site].jurisdiction)) < 0)
			goto done;
	}
	/* A hand-built struct must obey the same rules as parsed text. */
	{
		vt_policy check;
		if ((err = vt_policy_parse(&check, (const char *)out->ptr + start,
					   out->len - start)) < 0)
			goto done;
		vt_policy_dispose(&check);
	}
done:
	if (err < 0 && out->len > start) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = 0;
	}
	return err;
}

int vt_policy_equal(const vt_policy *a, const vt_policy *b)
{
	if (a->version != b->version || a->nsites != b->nsites || a->nregions != b->nregions)
		return 0;
	for (size_t i = 0; i < a->nsites; i++)
		if (strcmp(a->sites[i].jurisdiction, b->sites[i].jurisdiction) != 0 ||
		    strcmp(a->sites[i].url, b->sites[i].url) != 0 ||
		    strcmp(a->sites[i].vkey, b->sites[i].vkey) != 0)
			return 0;
	for (size_t i = 0; i < a->nregions; i++)
		if (strcmp(a->regions[i].region, b->regions[i].region) != 0 ||
		    a->regions[i].site != b->regions[i].site)
			return 0;
	return 1;
}

int vt_policy_find_site(const vt_policy_site **out, const vt_policy *p, const char *jurisdiction)
{
	size_t idx;
	*out = NULL;
	if (find_site(p, jurisdiction, strlen(jurisdiction), &idx) < 0)
		return vt_error_set(VT_ENOTFOUND, "the policy lists no site %.40s", jurisdiction);
	*out = &p->sites[idx];
	return 0;
}

int vt_policy_lookup(const vt_policy_site **out, const vt_policy *p, const char *region)
{
	size_t n = strlen(region);
	*out = NULL;
	for (size_t i = 0; i < p->nregions; i++)
		if (cmp_counted(p->regions[i].region, region, n) == 0) {
			*out = &p->sites[p->regions[i].site];
			return 0;
		}
	return vt_error_set(VT_ENOTFOUND, "no site for region %.40s in policy version %llu", region,
			    (unsigned long long)p->version);
}

int vt_policy_residency(vt_policy_place *place, const vt_policy_site **site, const vt_policy *p,
			const char *region, const char *here)
{
	const vt_policy_site *s = NULL;
	if (vt_policy_lookup(&s, p, region) < 0)
		*place = VT_POLICY_NOWHERE;
	else if (strcmp(s->jurisdiction, here) == 0)
		*place = VT_POLICY_HERE;
	else
		*place = VT_POLICY_ELSEWHERE;
	if (site)
		*site = s;
	return 0;
}

int vt_policy_sign(vt_buf *out, const char *text, size_t len, vt_note_signer *signer)
{
	vt_policy p;
	int err;

	if ((err = vt_policy_parse(&p, text, len)) < 0)
		return err;
	vt_policy_dispose(&p);
	if (vt_note_signer_type(signer) != VT_NOTE_ED25519)
		return vt_error_set(VT_EINVAL, "a policy key is an Ed25519 signed-note key, not a "
					       "cosigner key");
	return vt_note_sign(out, text, len, &signer, 1);
}

int vt_policy_open(vt_policy *out, const char *msg, size_t len, vt_note_verifier *policy_key)
{
	vt_note n;
	int err;

	vt_policy_init(out);
	if ((err = vt_note_open(&n, msg, len, &policy_key, 1)) < 0)
		return vt_error_wrap(err, "signed policy");
	return vt_policy_parse(out, n.text, n.text_len);
}

int vt_policy_adoption(int *already, const vt_policy *in_force, const vt_policy *next)
{
	*already = 0;
	if (!in_force)
		return 0;
	if (next->version < in_force->version)
		return vt_error_set(VT_EEXISTS,
				    "policy version %llu is older than version %llu in "
				    "force (no rollback)",
				    (unsigned long long)next->version,
				    (unsigned long long)in_force->version);
	if (next->version == in_force->version) {
		if (!vt_policy_equal(in_force, next))
			return vt_error_set(VT_EEXISTS,
					    "policy version %llu differs from the "
					    "version %llu in force: a change needs a "
					    "higher version",
					    (unsigned long long)next->version,
					    (unsigned long long)in_force->version);
		*already = 1;
	}
	return 0;
}

int vt_policy_entry(vt_buf *out, const vt_policy *p, const void *signed_policy, size_t len)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hash h;
	int err;

	if (p->version == 0)
		return vt_error_set(VT_EINVAL, "policy entry for a policy without a version");
	if ((err = vt_sha256(&h, signed_policy, len)) < 0)
		return err;
	vt_hex_encode(hex, h.b, sizeof(h.b));
	return vt_buf_printf(out, ENTRY_HEADER "version %llu\ndigest sha256:%s\n",
			     (unsigned long long)p->version, hex);
}

int vt_policy_entry_parse(uint64_t *version, vt_hash *digest, const char *entry, size_t len)
{
	const char *p = entry, *end = entry + len, *nl;
	static const char hdr[] = ENTRY_HEADER "version ";
	static const char dig[] = "digest sha256:";

	if (len < sizeof(hdr) - 1 || memcmp(p, hdr, sizeof(hdr) - 1) != 0)
		goto bad;
	p += sizeof(hdr) - 1;
	if (!(nl = memchr(p, '\n', (size_t)(end - p))) ||
	    vt_parse_u64(version, p, (size_t)(nl - p)) < 0 || *version == 0)
		goto bad;
	p = nl + 1;
	if ((size_t)(end - p) != sizeof(dig) - 1 + 2 * VT_HASH_SIZE + 1 ||
	    memcmp(p, dig, sizeof(dig) - 1) != 0 || end[-1] != '\n')
		goto bad;
	p += sizeof(dig) - 1;
	for (size_t i = 0; i < 2 * VT_HASH_SIZE; i++)
		if (!is_digit(p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
			goto bad;
	if (vt_hex_decode(digest->b, VT_HASH_SIZE, p, 2 * VT_HASH_SIZE) < 0)
		goto bad;
	return 0;
bad:
	return vt_error_set(VT_EINVAL, "not a policy entry (want \"vitrine/1 policy\", "
				       "\"version N\", \"digest sha256:<hex>\", one a line)");
}

int vt_policy_site_jurisdiction(char *out, const char *dir)
{
	char path[4096];
	vt_buf b;
	int err;

	vt_buf_init(&b, 256);
	snprintf(path, sizeof(path), "%s/jurisdiction", dir);
	if ((err = vt_fs_read(&b, AT_FDCWD, path)) < 0)
		goto done;
	while (b.len > 0 && (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
		b.len--;
	if ((err = vt_policy_check_jurisdiction((const char *)b.ptr, b.len)) < 0) {
		err = vt_error_wrap(err, "%s", path);
		goto done;
	}
	memcpy(out, b.ptr, b.len);
	out[b.len] = 0;
done:
	vt_buf_dispose(&b);
	return err;
}
