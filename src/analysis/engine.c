/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis engine: one shared engine (rules, limits), one worker per
 * thread (YARA scanner, libmagic cookie, hashers), and the analysis of a
 * buffer as a tree of nodes.
 *
 * A file is read once: hashes, fuzzy hashes and the byte histogram are fed
 * chunk by chunk in one pass so each chunk is hashed while in cache; then
 * libmagic and YARA look at the whole buffer. Containers are opened with
 * libarchive from memory and each regular member is read into a buffer
 * that may not grow past the member limit nor past what is left of the
 * total limit, so a bomb costs at most the limits in memory and is
 * refused as soon as it crosses one. Reaching a limit, a YARA timeout or
 * a damaged container is not an error of the call: it is recorded as an
 * `unknown` verdict with the reason.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fuzzy.h>
#include <magic.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "analysis_int.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/hash.h"

#define CHUNK		(64 * 1024)
#define MAGIC_BYTES_MAX (1u << 20) /* libmagic looks at the first MiB */

struct vt_analysis_worker {
	vt_analysis_engine *e;
	magic_t magic;
	vt_analysis_rules *rules; /* the rules scanner was made for */
	YR_SCANNER *scanner;
	EVP_MD_CTX *md5, *sha1;
	vt_sha256_ctx *sha256;
	vt_tlsh *tlsh;
	/* per analysis */
	vt_analysis_limits limits;
	vt_analysis_result *res;
	vt_analysis_node *cur;
	int err;
};

void vt_analysis_limits_default(vt_analysis_limits *out)
{
	out->max_depth = 5;
	out->max_members = 10000;
	out->max_member_size = 64u << 20;
	out->max_total_size = 256u << 20;
	out->timeout_s = 60;
}

int vt_analysis_engine_new(vt_analysis_engine **out, vt_analysis_rules *rules,
			   const vt_analysis_limits *limits, unsigned flags)
{
	vt_analysis_engine *e = NULL;
	int err;

	*out = NULL;
	if ((err = vt_analysis__yara_init()) < 0)
		goto done;
	if ((e = calloc(1, sizeof(*e))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	pthread_mutex_init(&e->lock, NULL);
	e->rules = vt_analysis_rules_ref(rules);
	if (limits != NULL)
		e->limits = *limits;
	else
		vt_analysis_limits_default(&e->limits);
	e->flags = flags;
	/* Without rules the pe and elf modules still give their facts. */
	if (!(flags & VT_ANALYSIS_YARA_ONLY) &&
	    (err = vt_analysis_rules_compile_string(&e->facts, "", "", true)) < 0)
		goto done;
	*out = e;
	e = NULL;
done:
	vt_analysis_engine_free(e);
	return err;
}

void vt_analysis_engine_free(vt_analysis_engine *e)
{
	if (e == NULL)
		return;
	vt_analysis_rules_unref(e->rules);
	vt_analysis_rules_unref(e->facts);
	pthread_mutex_destroy(&e->lock);
	free(e);
}

void vt_analysis_engine_set_rules(vt_analysis_engine *e, vt_analysis_rules *rules)
{
	vt_analysis_rules *old;

	vt_analysis_rules_ref(rules);
	pthread_mutex_lock(&e->lock);
	old = e->rules;
	e->rules = rules;
	pthread_mutex_unlock(&e->lock);
	vt_analysis_rules_unref(old);
}

vt_analysis_rules *vt_analysis_engine_rules(vt_analysis_engine *e)
{
	vt_analysis_rules *r;

	pthread_mutex_lock(&e->lock);
	r = vt_analysis_rules_ref(e->rules);
	pthread_mutex_unlock(&e->lock);
	return r;
}

const char *vt_analysis_magic_version(void)
{
	static char v[16];
	int n = magic_version();

	snprintf(v, sizeof(v), "%d.%02d", n / 100, n % 100);
	return v;
}

int vt_analysis_worker_new(vt_analysis_worker **out, vt_analysis_engine *e)
{
	vt_analysis_worker *w = NULL;
	size_t bytes_max = MAGIC_BYTES_MAX;
	int err = 0;

	*out = NULL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	w->e = e;
	if (e->flags & VT_ANALYSIS_YARA_ONLY)
		goto ready;
	/* No decompression inside libmagic: containers are opened here. */
	if ((w->magic = magic_open(MAGIC_NO_CHECK_COMPRESS | MAGIC_ERROR)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "libmagic: cannot open a cookie");
		goto done;
	}
	if (magic_load(w->magic, NULL) != 0) {
		err = vt_error_set(VT_EIO, "libmagic: cannot load its database: %s",
				   magic_error(w->magic));
		goto done;
	}
	magic_setparam(w->magic, MAGIC_PARAM_BYTES_MAX, &bytes_max);
	w->md5 = EVP_MD_CTX_new();
	w->sha1 = EVP_MD_CTX_new();
	w->tlsh = vt_analysis__tlsh_new();
	if (w->md5 == NULL || w->sha1 == NULL || w->tlsh == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = vt_sha256_new(&w->sha256)) < 0)
		goto done;
ready:
	*out = w;
	w = NULL;
done:
	vt_analysis_worker_free(w);
	return err;
}

void vt_analysis_worker_free(vt_analysis_worker *w)
{
	if (w == NULL)
		return;
	if (w->scanner != NULL)
		yr_scanner_destroy(w->scanner);
	vt_analysis_rules_unref(w->rules);
	if (w->magic != NULL)
		magic_close(w->magic);
	EVP_MD_CTX_free(w->md5);
	EVP_MD_CTX_free(w->sha1);
	vt_sha256_free(w->sha256);
	vt_analysis__tlsh_free(w->tlsh);
	free(w);
}

/* ---- results ---- */

static void node_dispose(vt_analysis_node *n)
{
	for (size_t i = 0; i < n->nmatches; i++) {
		vt_analysis_match *m = &n->matches[i];
		free(m->rule);
		free(m->ns);
		for (size_t k = 0; k < m->ntags; k++)
			free(m->tags[k]);
		free(m->tags);
		free(m->meta_json);
	}
	free(n->matches);
	for (size_t i = 0; i < n->nchildren; i++)
		node_dispose(&n->children[i]);
	free(n->children);
	free(n->name);
	free(n->type);
	free(n->mime);
	free(n->facts_json);
	free(n->container);
	free(n->reason);
	memset(n, 0, sizeof(*n));
}

void vt_analysis_result_dispose(vt_analysis_result *r)
{
	node_dispose(&r->root);
	memset(r, 0, sizeof(*r));
}

/* Record why a node's verdict is at least unknown (the first reason stays). */
static void node_unknown(vt_analysis_node *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void node_unknown(vt_analysis_node *n, const char *fmt, ...)
{
	va_list ap;

	if (n->verdict < VT_VERDICT_UNKNOWN)
		n->verdict = VT_VERDICT_UNKNOWN;
	if (n->reason != NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&n->reason, fmt, ap) < 0)
		n->reason = NULL;
	va_end(ap);
}

/* ---- hashes, type, entropy ---- */

double vt_analysis_entropy(const void *data, size_t len)
{
	uint64_t hist[256] = {0};
	const uint8_t *p = data;
	double h = 0;

	for (size_t i = 0; i < len; i++)
		hist[p[i]]++;
	for (int i = 0; i < 256 && len > 0; i++) {
		if (hist[i] > 0) {
			double f = (double)hist[i] / (double)len;
			h -= f * log2(f);
		}
	}
	return h;
}

static int hash_node(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data, size_t len)
{
	struct fuzzy_state *fz = NULL;
	uint64_t hist[256] = {0};
	unsigned char md[EVP_MAX_MD_SIZE];
	vt_hash h;
	int err = 0;

	if ((fz = fuzzy_new()) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if (EVP_DigestInit_ex(w->md5, EVP_md5(), NULL) != 1 ||
	    EVP_DigestInit_ex(w->sha1, EVP_sha1(), NULL) != 1) {
		err = vt_error_set(VT_EIO, "OpenSSL: cannot start MD5/SHA-1");
		goto done;
	}
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n_ = len - off < CHUNK ? len - off : CHUNK;
		const uint8_t *p = data + off;
		EVP_DigestUpdate(w->md5, p, n_);
		EVP_DigestUpdate(w->sha1, p, n_);
		vt_sha256_update(w->sha256, p, n_);
		fuzzy_update(fz, p, n_);
		vt_analysis__tlsh_update(w->tlsh, p, (unsigned)n_);
		for (size_t i = 0; i < n_; i++)
			hist[p[i]]++;
	}
	EVP_DigestFinal_ex(w->md5, md, NULL);
	vt_hex_encode(n->md5, md, 16);
	EVP_DigestFinal_ex(w->sha1, md, NULL);
	vt_hex_encode(n->sha1, md, 20);
	if ((err = vt_sha256_final(&h, w->sha256)) < 0)
		goto done;
	vt_hex_encode(n->sha256, h.b, sizeof(h.b));
	if (fuzzy_digest(fz, n->ssdeep, 0) != 0)
		n->ssdeep[0] = '\0';
	vt_analysis__tlsh_final(w->tlsh, n->tlsh, sizeof(n->tlsh));
	n->entropy = 0;
	for (int i = 0; i < 256 && len > 0; i++) {
		if (hist[i] > 0) {
			double f = (double)hist[i] / (double)len;
			n->entropy -= f * log2(f);
		}
	}
	n->hashed = true;
done:
	if (fz != NULL)
		fuzzy_free(fz);
	return err;
}

static int type_node(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data, size_t len)
{
	const char *s;
	int err = 0;

	magic_setflags(w->magic, MAGIC_NO_CHECK_COMPRESS);
	s = magic_buffer(w->magic, data, len);
	n->type = strdup(s ? s : "data");
	magic_setflags(w->magic, MAGIC_NO_CHECK_COMPRESS | MAGIC_MIME_TYPE);
	s = magic_buffer(w->magic, data, len);
	n->mime = strdup(s ? s : "application/octet-stream");
	if (n->type == NULL || n->mime == NULL)
		err = vt_error_set(VT_ENOMEM, "out of memory");
	return err;
}

/* ---- YARA ---- */

static int add_match(vt_analysis_node *n, const YR_RULE *rule)
{
	vt_analysis_match *v, *m;
	const YR_META *meta;
	const char *tag;
	size_t ntags = 0;
	json_t *meta_j = NULL;
	int err = 0;

	if ((v = realloc(n->matches, (n->nmatches + 1) * sizeof(*v))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	n->matches = v;
	m = &v[n->nmatches++];
	memset(m, 0, sizeof(*m));
	m->verdict = vt_analysis__rule_verdict(rule);
	m->rule = strdup(rule->identifier);
	m->ns = strdup(rule->ns->name);
	yr_rule_tags_foreach(rule, tag) ntags++;
	m->tags = calloc(ntags ? ntags : 1, sizeof(char *));
	if (m->rule == NULL || m->ns == NULL || m->tags == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	yr_rule_tags_foreach(rule, tag)
	{
		if ((m->tags[m->ntags] = strdup(tag)) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		m->ntags++;
	}
	meta_j = json_object();
	yr_rule_metas_foreach(rule, meta)
	{
		json_t *val = meta->type == META_TYPE_INTEGER ? json_integer(meta->integer)
			      : meta->type == META_TYPE_BOOLEAN
				  ? json_boolean(meta->integer)
				  : vt_analysis__json_str(meta->string, strlen(meta->string));
		/* A repeated key keeps its first value, as yara -m shows it first. */
		if (json_object_get(meta_j, meta->identifier) == NULL)
			json_object_set_new(meta_j, meta->identifier, val);
		else
			json_decref(val);
	}
	if ((m->meta_json = json_dumps(meta_j, JSON_COMPACT)) == NULL)
		err = vt_error_set(VT_ENOMEM, "out of memory");
done:
	json_decref(meta_j);
	return err;
}

static int yara_cb(YR_SCAN_CONTEXT *ctx, int message, void *data, void *payload)
{
	vt_analysis_worker *w = payload;
	vt_analysis_node *n = w->cur;

	if (message == CALLBACK_MSG_RULE_MATCHING) {
		const YR_RULE *rule = data;
		/* The hidden facts namespace has no rules; nothing to skip. */
		if (add_match(n, rule) < 0) {
			w->err = VT_ENOMEM;
			return CALLBACK_ABORT;
		}
	} else if (message == CALLBACK_MSG_MODULE_IMPORTED && n->facts_json == NULL &&
		   !(w->e->flags & VT_ANALYSIS_YARA_ONLY)) {
		/* Module data lives only during the scan: read the facts now. */
		n->facts_json = vt_analysis__module_facts(data);
	}
	return CALLBACK_CONTINUE;
}

static int yara_node(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data, size_t len)
{
	static const uint8_t empty[1];
	int rc, err = 0;

	if (w->scanner == NULL)
		goto done;
	w->cur = n;
	w->err = 0;
	rc = yr_scanner_scan_mem(w->scanner, len ? data : empty, len);
	if (w->err < 0) {
		err = vt_error_set(w->err, "out of memory while collecting matches");
		goto done;
	}
	switch (rc) {
	case ERROR_SUCCESS: break;
	case ERROR_SCAN_TIMEOUT:
		n->timed_out = true;
		node_unknown(n, "YARA scan timed out after %d s", w->limits.timeout_s);
		break;
	case ERROR_TOO_MANY_MATCHES: node_unknown(n, "YARA: too many matches of one string"); break;
	case ERROR_INSUFFICIENT_MEMORY:
		err = vt_error_set(VT_ENOMEM, "libyara: out of memory");
		break;
	default: node_unknown(n, "YARA scan failed (error %d)", rc); break;
	}
	for (size_t i = 0; i < n->nmatches; i++) {
		if (n->matches[i].verdict > n->verdict)
			n->verdict = n->matches[i].verdict;
	}
done:
	return err;
}

/* ---- containers ---- */

static struct archive *archive_open(void)
{
	struct archive *a = archive_read_new();

	if (a == NULL)
		return NULL;
	/*
	 * Formats and filters by name, not *_all(): mtree reads files named
	 * in its input from the disk, and some filters run external programs.
	 */
	archive_read_support_format_7zip(a);
	archive_read_support_format_ar(a);
	archive_read_support_format_cab(a);
	archive_read_support_format_cpio(a);
	archive_read_support_format_iso9660(a);
	archive_read_support_format_lha(a);
	archive_read_support_format_rar(a);
	archive_read_support_format_rar5(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_xar(a);
	archive_read_support_format_zip(a);
	archive_read_support_format_raw(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_lzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_compress(a);
	archive_read_support_filter_uu(a);
	return a;
}

static int scan_node(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data, size_t len);

/* Whether data starts with the signature of an archive or compressed stream. */
static bool archive_magic(const uint8_t *d, size_t len)
{
	static const struct {
		size_t off, len;
		const char *sig;
	} sigs[] = {
	    {0, 2, "\x1f\x8b"},
	    {0, 3, "BZh"},
	    {0, 6,
	     "\xfd"
	     "7zXZ\0"},
	    {0, 4, "PK\x03\x04"},
	    {0, 6, "7z\xbc\xaf\x27\x1c"},
	    {0, 4, "\x28\xb5\x2f\xfd"},
	    {0, 4, "MSCF"},
	    {0, 4, "Rar!"},
	    {257, 5, "ustar"},
	    {0, 6, "070701"},
	    {0, 6, "070707"},
	    {0, 2, "\xc7\x71"},
	    {0, 2, "\x71\xc7"},
	    {0, 8, "!<arch>\n"},
	    {0, 4, "xar!"},
	    {0, 2, "\x1f\x9d"},
	    {0, 4, "LZIP"},
	};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (len >= sigs[i].off + sigs[i].len &&
		    memcmp(d + sigs[i].off, sigs[i].sig, sigs[i].len) == 0)
			return true;
	}
	return false;
}

static char *container_name(struct archive *a)
{
	char *s = NULL;
	const char *fmt = archive_format_name(a);
	vt_buf b;

	vt_buf_init(&b, 1024);
	vt_buf_adds(&b, fmt ? fmt : "?");
	for (int i = archive_filter_count(a) - 1; i >= 0; i--) {
		if (archive_filter_code(a, i) != ARCHIVE_FILTER_NONE)
			vt_buf_printf(&b, "+%s", archive_filter_name(a, i));
	}
	s = strdup(vt_buf_cstr(&b));
	vt_buf_dispose(&b);
	return s;
}

/* Read one member into buf, within the member and total limits. */
static int read_member(vt_analysis_worker *w, vt_analysis_node *n, struct archive *a, vt_buf *buf,
		       const char *name, bool *stop)
{
	vt_analysis_limits *lim = &w->limits;
	uint64_t left = lim->max_total_size - w->res->unpacked;
	uint64_t max = lim->max_member_size < left ? lim->max_member_size : left;
	uint8_t chunk[CHUNK];
	la_ssize_t got;
	int err = 0;

	vt_buf_init(buf, (size_t)max);
	for (;;) {
		got = archive_read_data(a, chunk, sizeof(chunk));
		if (got == 0)
			break;
		if (got < 0) {
			node_unknown(n, "member %s: %s", name, archive_error_string(a));
			err = 1;
			/*
			 * Going on to the next header makes libarchive skip the
			 * rest of this member, and its CAB reader (3.6.2) then
			 * dereferences NULL on some damaged input (found by
			 * fuzzing, seed fuzz/corpus/analysis/cab-crash-skip).
			 */
			*stop = true;
			goto done;
		}
		if ((uint64_t)got > max - buf->len) {
			if (max == lim->max_member_size)
				node_unknown(
				    n, "member %s is larger than the member limit (%llu bytes)",
				    name, (unsigned long long)lim->max_member_size);
			else
				node_unknown(n,
					     "unpacked size exceeds the total limit (%llu bytes)",
					     (unsigned long long)lim->max_total_size);
			*stop = true;
			err = 1;
			goto done;
		}
		if (vt_buf_add(buf, chunk, (size_t)got) < 0) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
	}
done:
	w->res->unpacked += buf->len;
	return err;
}

static int add_child(vt_analysis_node *n, vt_analysis_node *child)
{
	vt_analysis_node *v = realloc(n->children, (n->nchildren + 1) * sizeof(*v));

	if (v == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	n->children = v;
	v[n->nchildren++] = *child;
	memset(child, 0, sizeof(*child));
	return 0;
}

/*
 * Open data as a container and analyse its members as children. Returns
 * 0 (also when it is not a container or a limit stopped it) or VT_ENOMEM.
 */
static int open_container(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data,
			  size_t len)
{
	struct archive *a = NULL;
	struct archive_entry *entry;
	vt_analysis_node child;
	vt_buf buf;
	bool stop = false;
	int rc, err = 0;

	memset(&child, 0, sizeof(child));
	vt_buf_init(&buf, 0);
	if (len == 0)
		goto done;
	if ((a = archive_open()) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK) {
		const char *msg = archive_error_string(a);
		if (archive_magic(data, len))
			node_unknown(n, "container damaged: %s", msg ? msg : "unreadable");
		goto done;
	}
	rc = archive_read_next_header(a, &entry);
	/*
	 * Some readers (lha, cab, zip) look for archives inside executables,
	 * so a failure before the first member means a damaged container only
	 * when the data starts like one.
	 */
	if (rc < ARCHIVE_WARN && !archive_magic(data, len))
		goto done;
	/* "raw" without a compression filter is any file at all. */
	if (archive_format(a) == ARCHIVE_FORMAT_RAW && archive_filter_count(a) <= 1)
		goto done;
	if (rc == ARCHIVE_EOF)
		goto done;
	if ((n->container = container_name(a)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if (n->depth >= w->limits.max_depth) {
		node_unknown(n, "container not opened: nesting deeper than %u",
			     w->limits.max_depth);
		goto done;
	}
	for (;; rc = archive_read_next_header(a, &entry)) {
		const char *name;
		int r;
		if (rc == ARCHIVE_EOF)
			break;
		if (rc < ARCHIVE_WARN) {
			node_unknown(n, "container damaged: %s", archive_error_string(a));
			break;
		}
		if (archive_entry_filetype(entry) != AE_IFREG)
			continue;
		name = archive_entry_pathname(entry);
		if (name == NULL)
			name = "?";
		if (w->res->members >= w->limits.max_members) {
			node_unknown(n, "more than %llu members",
				     (unsigned long long)w->limits.max_members);
			break;
		}
		w->res->members++;
		if (archive_entry_size_is_set(entry) &&
		    (uint64_t)archive_entry_size(entry) > w->limits.max_member_size) {
			node_unknown(n, "member %s is larger than the member limit (%llu bytes)",
				     name, (unsigned long long)w->limits.max_member_size);
			break;
		}
		if ((child.name = strdup(name)) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		child.depth = n->depth + 1;
		r = read_member(w, n, a, &buf, name, &stop);
		if (r < 0) {
			err = r;
			goto done;
		}
		if (r == 0 && (err = scan_node(w, &child, buf.ptr, buf.len)) < 0)
			goto done;
		if (r > 0)
			node_unknown(&child, "not read: %s", n->reason ? n->reason : "error");
		vt_buf_dispose(&buf);
		if (child.verdict > n->verdict)
			n->verdict = child.verdict;
		if ((err = add_child(n, &child)) < 0)
			goto done;
		if (stop)
			break; /* before the next header: see read_member */
	}
done:
	node_dispose(&child);
	vt_buf_dispose(&buf);
	if (a != NULL)
		archive_read_free(a);
	return err;
}

static int scan_node(vt_analysis_worker *w, vt_analysis_node *n, const uint8_t *data, size_t len)
{
	unsigned flags = w->e->flags;
	int err;

	n->size = len;
	if (!(flags & VT_ANALYSIS_YARA_ONLY)) {
		if ((err = hash_node(w, n, data, len)) < 0)
			goto done;
		if ((err = type_node(w, n, data, len)) < 0)
			goto done;
	}
	if ((err = yara_node(w, n, data, len)) < 0)
		goto done;
	if (!(flags & (VT_ANALYSIS_YARA_ONLY | VT_ANALYSIS_NO_CHILDREN)))
		err = open_container(w, n, data, len);
done:
	return err;
}

/* Make sure the worker's scanner belongs to the engine's current rules. */
static int worker_prepare(vt_analysis_worker *w)
{
	vt_analysis_rules *r = vt_analysis_engine_rules(w->e);
	int err = 0;

	if (r == NULL)
		r = vt_analysis_rules_ref(w->e->facts);

	if (r == w->rules) {
		vt_analysis_rules_unref(r);
		goto done;
	}
	if (w->scanner != NULL)
		yr_scanner_destroy(w->scanner);
	w->scanner = NULL;
	vt_analysis_rules_unref(w->rules);
	w->rules = r;
	if (r == NULL)
		goto done;
	if (yr_scanner_create(r->yr, &w->scanner) != ERROR_SUCCESS) {
		err = vt_error_set(VT_ENOMEM, "libyara: cannot create a scanner");
		goto done;
	}
	yr_scanner_set_callback(w->scanner, yara_cb, w);
	if (w->e->flags & VT_ANALYSIS_NO_TRYCATCH)
		yr_scanner_set_flags(w->scanner, SCAN_FLAGS_NO_TRYCATCH);
done:
	if (w->scanner != NULL)
		yr_scanner_set_timeout(w->scanner, w->e->limits.timeout_s);
	w->limits = w->e->limits;
	return err;
}

int vt_analysis_scan_mem(vt_analysis_result *out, vt_analysis_worker *w, const void *data,
			 size_t len)
{
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = worker_prepare(w)) < 0)
		goto done;
	if (w->rules != NULL && w->rules != w->e->facts)
		memcpy(out->rules_digest, w->rules->digest, sizeof(out->rules_digest));
	w->res = out;
	err = scan_node(w, &out->root, data, len);
	w->res = NULL;
	if (err < 0)
		vt_analysis_result_dispose(out);
done:
	return err;
}

int vt_analysis_scan_fd(vt_analysis_result *out, vt_analysis_worker *w, int fd)
{
	struct stat st;
	void *map = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if (fstat(fd, &st) != 0) {
		err = vt_error_sys(VT_EIO, errno, "fstat");
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err = vt_error_set(VT_EINVAL, "not a regular file");
		goto done;
	}
	if (st.st_size == 0) {
		err = vt_analysis_scan_mem(out, w, "", 0);
		goto done;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		err = vt_error_sys(VT_EIO, errno, "mmap");
		goto done;
	}
	err = vt_analysis_scan_mem(out, w, map, (size_t)st.st_size);
done:
	if (map != NULL)
		munmap(map, (size_t)st.st_size);
	return err;
}
