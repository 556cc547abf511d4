/* SPDX-License-Identifier: Apache-2.0 */
/*
 * YARA rulesets: compiled once from sources (a file or a directory) or
 * loaded from a yarac file, with a digest of the canonical source set.
 *
 * The compiler is fresh for every set and has includes disabled (an
 * include callback that refuses), so a ruleset is exactly the files
 * digested. Every source is read into memory once, then both digested and
 * compiled from that copy, so the digest cannot name other bytes than
 * those compiled. Canonical form (docs/analysis.md): SHA-256 over
 * "vitrine-ruleset/1\n" then, for each file in byte order of its path
 * relative to the root, "<path>\n<length in decimal>\n<bytes>\n".
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analysis_int.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/hash.h"

#define SOURCE_MAX  (16u << 20)	    /* one source file */
#define SOURCES_MAX 100000	    /* files in a directory */
#define FACTS_NS    "vitrine_facts" /* hidden namespace importing pe and elf */

static pthread_once_t yara_once = PTHREAD_ONCE_INIT;
static int yara_init_rc;

static void yara_init(void)
{
	yara_init_rc = yr_initialize();
}

int vt_analysis__yara_init(void)
{
	pthread_once(&yara_once, yara_init);
	if (yara_init_rc != ERROR_SUCCESS)
		return vt_error_set(VT_ENOMEM, "libyara: initialisation failed (%d)", yara_init_rc);
	return 0;
}

typedef struct {
	char *rel;  /* path relative to the root, or the file's name */
	vt_buf src; /* NUL-terminated */
} source;

typedef struct {
	source *v;
	size_t n, cap;
} source_list;

static void sources_dispose(source_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].rel);
		vt_buf_dispose(&l->v[i].src);
	}
	free(l->v);
}

static int sources_add(source_list *l, const char *rel, const char *path)
{
	source *s;
	FILE *f = NULL;
	char chunk[65536];
	size_t got;
	int err = 0;

	if (l->n >= SOURCES_MAX) {
		err = vt_error_set(VT_ETOOBIG, "more than %d rule files", SOURCES_MAX);
		goto done;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		source *v = realloc(l->v, cap * sizeof(*v));
		if (v == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		l->v = v;
		l->cap = cap;
	}
	s = &l->v[l->n];
	vt_buf_init(&s->src, SOURCE_MAX);
	if ((s->rel = strdup(rel)) == NULL) {
		vt_buf_dispose(&s->src);
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	l->n++;
	if ((f = fopen(path, "rb")) == NULL) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "%s", path);
		goto done;
	}
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if ((err = vt_buf_add(&s->src, chunk, got)) < 0) {
			err = vt_error_wrap(err, "%s", path);
			goto done;
		}
	}
	if (ferror(f)) {
		err = vt_error_sys(VT_EIO, errno, "%s", path);
		goto done;
	}
	err = vt_buf_reserve(&s->src, 1);
	if (err == 0)
		s->src.ptr[s->src.len] = '\0';
done:
	if (f != NULL)
		fclose(f);
	return err;
}

static bool is_rule_file(const char *name)
{
	size_t n = strlen(name);
	return (n > 4 && strcmp(name + n - 4, ".yar") == 0) ||
	       (n > 5 && strcmp(name + n - 5, ".yara") == 0);
}

/* Collect the .yar and .yara files under root/rel (rel "" for the root itself). */
static int sources_walk(source_list *l, const char *root, const char *rel, int depth)
{
	DIR *d = NULL;
	struct dirent *de;
	char path[4096], sub[4096];
	struct stat st;
	int err = 0;

	if (depth > 32) {
		err = vt_error_set(VT_EINVAL, "%s: directories nested too deep", root);
		goto done;
	}
	if (snprintf(path, sizeof(path), "%s%s%s", root, rel[0] ? "/" : "", rel) >=
	    (int)sizeof(path)) {
		err = vt_error_set(VT_EINVAL, "%s/%s: path too long", root, rel);
		goto done;
	}
	if ((d = opendir(path)) == NULL) {
		err = vt_error_sys(VT_EIO, errno, "%s", path);
		goto done;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "", de->d_name) >=
			(int)sizeof(sub) ||
		    snprintf(path, sizeof(path), "%s/%s", root, sub) >= (int)sizeof(path)) {
			err = vt_error_set(VT_EINVAL, "%s/%s: path too long", root, rel);
			goto done;
		}
		if (stat(path, &st) != 0) {
			err = vt_error_sys(VT_EIO, errno, "%s", path);
			goto done;
		}
		if (S_ISDIR(st.st_mode))
			err = sources_walk(l, root, sub, depth + 1);
		else if (S_ISREG(st.st_mode) && is_rule_file(de->d_name))
			err = sources_add(l, sub, path);
		if (err < 0)
			goto done;
	}
done:
	if (d != NULL)
		closedir(d);
	return err;
}

static int source_cmp(const void *a, const void *b)
{
	return strcmp(((const source *)a)->rel, ((const source *)b)->rel);
}

static int digest_sources(char out[65], const source_list *l)
{
	vt_sha256_ctx *c = NULL;
	vt_hash h;
	char num[32];
	static const char magic[] = "vitrine-ruleset/1\n";
	int err;

	if ((err = vt_sha256_new(&c)) < 0)
		goto done;
	if ((err = vt_sha256_update(c, magic, sizeof(magic) - 1)) < 0)
		goto done;
	for (size_t i = 0; i < l->n; i++) {
		snprintf(num, sizeof(num), "\n%zu\n", l->v[i].src.len);
		if ((err = vt_sha256_update(c, l->v[i].rel, strlen(l->v[i].rel))) < 0 ||
		    (err = vt_sha256_update(c, num, strlen(num))) < 0 ||
		    (err = vt_sha256_update(c, l->v[i].src.ptr, l->v[i].src.len)) < 0 ||
		    (err = vt_sha256_update(c, "\n", 1)) < 0)
			goto done;
	}
	if ((err = vt_sha256_final(&h, c)) < 0)
		goto done;
	vt_hex_encode(out, h.b, sizeof(h.b));
done:
	vt_sha256_free(c);
	return err;
}

typedef struct {
	vt_buf errors;
	vt_buf warnings;
	int nerrors;
} compile_log;

static void compile_cb(int level, const char *file, int line, const YR_RULE *rule,
		       const char *message, void *payload)
{
	compile_log *log = payload;
	bool refuse = level == YARA_ERROR_LEVEL_ERROR || strstr(message, "slow") != NULL;
	vt_buf *b = refuse ? &log->errors : &log->warnings;

	if (refuse)
		log->nerrors++;
	/* A message that does not fit is dropped: the first ones matter most. */
	if (b->len > 0)
		vt_buf_adds(b, "\n");
	vt_buf_printf(b, "%s:%d: %s%s", file ? file : "(rules)", line,
		      level == YARA_ERROR_LEVEL_ERROR ? "" : "warning: ", message);
}

static const char *no_includes(const char *name, const char *from_file, const char *from_ns,
			       void *payload)
{
	/* Returning NULL makes the compiler report the include as an error. */
	return NULL;
}

static unsigned count_rules(YR_RULES *yr)
{
	const YR_RULE *rule;
	unsigned n = 0;

	yr_rules_foreach(yr, rule)
	{
		if (strcmp(rule->ns->name, FACTS_NS) != 0)
			n++;
	}
	return n;
}

static int rules_alloc(vt_analysis_rules **out)
{
	vt_analysis_rules *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	atomic_init(&r->refs, 1);
	pthread_mutex_init(&r->save_lock, NULL);
	r->saved_fd = -1;
	*out = r;
	return 0;
}

/* Rules loaded already compiled: counted, and no compiler warnings. */
static int loaded(vt_analysis_rules *r)
{
	r->count = count_rules(r->yr);
	if ((r->warnings = strdup("")) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	return 0;
}

static int compile_sources(vt_analysis_rules **out, source_list *l, bool facts)
{
	YR_COMPILER *c = NULL;
	vt_analysis_rules *r = NULL;
	compile_log log = {.nerrors = 0};
	int err, yerr;

	vt_buf_init(&log.errors, 64 * 1024);
	vt_buf_init(&log.warnings, 64 * 1024);
	if ((err = vt_analysis__yara_init()) < 0)
		goto done;
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), source_cmp);
	if ((err = rules_alloc(&r)) < 0)
		goto done;
	if ((err = digest_sources(r->digest, l)) < 0)
		goto done;
	if (yr_compiler_create(&c) != ERROR_SUCCESS) {
		err = vt_error_set(VT_ENOMEM, "libyara: cannot create a compiler");
		goto done;
	}
	yr_compiler_set_callback(c, compile_cb, &log);
	yr_compiler_set_include_callback(c, no_includes, NULL, NULL);
	for (size_t i = 0; i < l->n && log.nerrors == 0; i++) {
		FILE *f;
		if (l->v[i].src.len == 0)
			continue; /* fmemopen cannot open nothing; nothing to compile */
		if ((f = fmemopen(l->v[i].src.ptr, l->v[i].src.len, "r")) == NULL) {
			err = vt_error_sys(VT_ENOMEM, errno, "fmemopen");
			goto done;
		}
		/* After an error the compiler may not take more input. */
		yr_compiler_add_file(c, f, l->v[i].rel, l->v[i].rel);
		fclose(f);
	}
	if (facts && log.nerrors == 0)
		yr_compiler_add_string(c, "import \"pe\"\nimport \"elf\"\n", FACTS_NS);
	if (log.nerrors > 0) {
		err = vt_error_set(VT_EINVAL, "%s", vt_buf_cstr(&log.errors));
		goto done;
	}
	if ((yerr = yr_compiler_get_rules(c, &r->yr)) != ERROR_SUCCESS) {
		err = vt_error_set(VT_ENOMEM, "libyara: cannot build the rules (%d)", yerr);
		goto done;
	}
	r->count = count_rules(r->yr);
	if ((r->warnings = strdup(vt_buf_cstr(&log.warnings))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	*out = r;
	r = NULL;
done:
	if (c != NULL)
		yr_compiler_destroy(c);
	vt_analysis_rules_unref(r);
	vt_buf_dispose(&log.errors);
	vt_buf_dispose(&log.warnings);
	return err;
}

int vt_analysis_rules_compile(vt_analysis_rules **out, const char *path, bool facts)
{
	source_list l = {0};
	struct stat st;
	const char *base;
	int err;

	*out = NULL;
	if (stat(path, &st) != 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "%s", path);
		goto done;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((err = sources_walk(&l, path, "", 0)) < 0)
			goto done;
		if (l.n == 0) {
			err = vt_error_set(VT_EINVAL, "%s: no .yar or .yara file", path);
			goto done;
		}
	} else {
		base = strrchr(path, '/');
		if ((err = sources_add(&l, base ? base + 1 : path, path)) < 0)
			goto done;
	}
	err = compile_sources(out, &l, facts);
done:
	sources_dispose(&l);
	return err;
}

int vt_analysis_rules_compile_string(vt_analysis_rules **out, const char *name, const char *src,
				     bool facts)
{
	source_list l = {0};
	source s;
	int err;

	*out = NULL;
	vt_buf_init(&s.src, SOURCE_MAX);
	s.rel = strdup(name);
	l.v = &s;
	l.n = l.cap = 1;
	if (s.rel == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = vt_buf_add(&s.src, src, strlen(src) + 1)) < 0)
		goto done;
	s.src.len--; /* keep the NUL outside the digested length */
	err = compile_sources(out, &l, facts);
done:
	free(s.rel);
	vt_buf_dispose(&s.src);
	return err;
}

int vt_analysis_rules_load(vt_analysis_rules **out, const char *path)
{
	vt_analysis_rules *r = NULL;
	source_list l = {0};
	vt_hash h;
	int err, yerr;

	*out = NULL;
	if ((err = vt_analysis__yara_init()) < 0)
		goto done;
	if ((err = sources_add(&l, path, path)) < 0)
		goto done;
	if ((err = rules_alloc(&r)) < 0)
		goto done;
	if ((err = vt_sha256(&h, l.v[0].src.ptr, l.v[0].src.len)) < 0)
		goto done;
	vt_hex_encode(r->digest, h.b, sizeof(h.b));
	if ((yerr = yr_rules_load(path, &r->yr)) != ERROR_SUCCESS) {
		err = vt_error_set(VT_EINVAL,
				   "%s: not a compiled YARA rules file for this libyara "
				   "(error %d)",
				   path, yerr);
		goto done;
	}
	if ((err = loaded(r)) < 0)
		goto done;
	*out = r;
	r = NULL;
done:
	sources_dispose(&l);
	vt_analysis_rules_unref(r);
	return err;
}

/* ---- rules through a file descriptor, for the analysis child ---- */

typedef struct {
	int fd;
	off_t off;
	bool failed;
} fd_stream;

static size_t stream_write(const void *ptr, size_t size, size_t count, void *user_data)
{
	fd_stream *s = user_data;
	const uint8_t *p = ptr;
	size_t left = size * count;

	while (left > 0 && !s->failed) {
		ssize_t n = pwrite(s->fd, p, left, s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			s->failed = true;
			break;
		}
		p += n;
		left -= (size_t)n;
		s->off += n;
	}
	return s->failed ? 0 : count;
}

static size_t stream_read(void *ptr, size_t size, size_t count, void *user_data)
{
	fd_stream *s = user_data;
	uint8_t *p = ptr;
	size_t left = size * count;

	while (left > 0) {
		ssize_t n = pread(s->fd, p, left, s->off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		p += n;
		left -= (size_t)n;
		s->off += n;
	}
	return count;
}

int vt_analysis__rules_fd(int *out, vt_analysis_rules *r)
{
	YR_STREAM ys;
	fd_stream s = {-1, 0, false};
	int err = 0, yerr;

	pthread_mutex_lock(&r->save_lock);
	if (r->saved_fd >= 0)
		goto done;
	/* Sealed once written: a child that keeps it cannot change it. */
	if ((s.fd = memfd_create("vitrine-rules", MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "memfd_create");
		goto done;
	}
	ys.user_data = &s;
	ys.read = NULL;
	ys.write = stream_write;
	/* Saving rewrites the rules' pointers in place and back: one at a time. */
	yerr = yr_rules_save_stream(r->yr, &ys);
	if (yerr != ERROR_SUCCESS || s.failed) {
		err = vt_error_set(VT_EIO, "libyara: cannot save the rules (%d)", yerr);
		goto done;
	}
	if (fcntl(s.fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) <
	    0) {
		err = vt_error_sys(VT_EIO, errno, "sealing the saved rules");
		goto done;
	}
	r->saved_fd = s.fd;
	s.fd = -1;
done:
	if (s.fd >= 0)
		close(s.fd);
	if (err == 0)
		*out = r->saved_fd;
	pthread_mutex_unlock(&r->save_lock);
	return err;
}

int vt_analysis__rules_load_fd(vt_analysis_rules **out, int fd, const char *digest)
{
	vt_analysis_rules *r = NULL;
	YR_STREAM ys;
	fd_stream s = {fd, 0, false};
	int err, yerr;

	*out = NULL;
	if ((err = vt_analysis__yara_init()) < 0)
		goto done;
	if (strlen(digest) != 64) {
		err = vt_error_set(VT_EINVAL, "not a ruleset digest: \"%s\"", digest);
		goto done;
	}
	if ((err = rules_alloc(&r)) < 0)
		goto done;
	snprintf(r->digest, sizeof(r->digest), "%s", digest);
	ys.user_data = &s;
	ys.read = stream_read;
	ys.write = NULL;
	if ((yerr = yr_rules_load_stream(&ys, &r->yr)) != ERROR_SUCCESS) {
		err = vt_error_set(VT_EINVAL, "not saved YARA rules (error %d)", yerr);
		goto done;
	}
	if ((err = loaded(r)) < 0)
		goto done;
	*out = r;
	r = NULL;
done:
	vt_analysis_rules_unref(r);
	return err;
}

vt_analysis_rules *vt_analysis_rules_ref(vt_analysis_rules *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->refs, 1);
	return r;
}

void vt_analysis_rules_unref(vt_analysis_rules *r)
{
	if (r == NULL || atomic_fetch_sub(&r->refs, 1) != 1)
		return;
	if (r->yr != NULL)
		yr_rules_destroy(r->yr);
	if (r->saved_fd >= 0)
		close(r->saved_fd);
	pthread_mutex_destroy(&r->save_lock);
	free(r->warnings);
	free(r);
}

const char *vt_analysis_rules_digest(const vt_analysis_rules *r)
{
	return r->digest;
}

unsigned vt_analysis_rules_count(const vt_analysis_rules *r)
{
	return r->count;
}

const char *vt_analysis_rules_warnings(const vt_analysis_rules *r)
{
	return r->warnings ? r->warnings : "";
}

/* See docs/analysis.md, "Verdicts". */
vt_verdict vt_analysis__rule_verdict(const YR_RULE *rule)
{
	const YR_META *meta;
	vt_verdict v = VT_VERDICT_UNKNOWN;
	bool have_severity = false;
	vt_verdict sev = VT_VERDICT_SUSPICIOUS;

	yr_rule_metas_foreach(rule, meta)
	{
		if (strcmp(meta->identifier, "verdict") == 0 && meta->type == META_TYPE_STRING &&
		    vt_verdict_parse(&v, meta->string) == 0)
			return v;
		if (strcmp(meta->identifier, "severity") != 0 || have_severity)
			continue;
		have_severity = true;
		if (meta->type == META_TYPE_INTEGER) {
			sev = meta->integer >= 7   ? VT_VERDICT_MALICIOUS
			      : meta->integer >= 1 ? VT_VERDICT_SUSPICIOUS
						   : VT_VERDICT_CLEAN;
		} else if (meta->type == META_TYPE_STRING) {
			const char *s = meta->string;
			if (strcasecmp(s, "high") == 0 || strcasecmp(s, "critical") == 0)
				sev = VT_VERDICT_MALICIOUS;
			else if (strcasecmp(s, "info") == 0 ||
				 strcasecmp(s, "informational") == 0 || strcasecmp(s, "none") == 0)
				sev = VT_VERDICT_CLEAN;
		}
	}
	return sev;
}

const char *vt_verdict_name(vt_verdict v)
{
	switch (v) {
	case VT_VERDICT_CLEAN: return "clean";
	case VT_VERDICT_UNKNOWN: return "unknown";
	case VT_VERDICT_SUSPICIOUS: return "suspicious";
	case VT_VERDICT_MALICIOUS: return "malicious";
	}
	return "unknown";
}

int vt_verdict_parse(vt_verdict *out, const char *name)
{
	static const vt_verdict all[] = {VT_VERDICT_CLEAN, VT_VERDICT_UNKNOWN,
					 VT_VERDICT_SUSPICIOUS, VT_VERDICT_MALICIOUS};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, vt_verdict_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return vt_error_set(VT_EINVAL, "unknown verdict \"%s\"", name);
}
