/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Rulesets at a site: staged and compiled in a directory of their own,
 * logged by the caller, then installed with one rename.
 *
 * The installed set lives in DIR/rules/<digest>/ and DIR/rules/current is
 * a symbolic link to "<digest>", replaced by rename(2) so that a reader
 * sees the old set or the new one, never a mix. The staging directory is
 * DIR/rules/.stage-XXXXXX, so what was compiled and digested is byte for
 * byte what gets installed. The `ruleset` entry is appended between
 * staging and commit: a set is never in force without its entry.
 */
#include "vitrine/analysis_service.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct vt_ruleset_stage {
	char dir[4000];	  /* DIR/rules */
	char stage[4096]; /* DIR/rules/.stage-XXXXXX, "" once committed */
	vt_analysis_rules *rules;
	vt_buf entry;
	size_t nfiles;
	char release[130]; /* NAME@VERSION of a rules release, else "" */
};

static int check_path(const char *p)
{
	size_t n = strlen(p), ext;
	const char *seg = p;

	if (n == 0 || n > 255)
		return vt_error_set(VT_EINVAL, "a rule file path has 1 to 255 bytes");
	for (size_t i = 0; i < n; i++) {
		char ch = p[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' || ch == '/'))
			return vt_error_set(
			    VT_EINVAL,
			    "rule file \"%s\": a path holds only [A-Za-z0-9._/-] (it "
			    "becomes the rules' namespace in log entries)",
			    p);
	}
	for (const char *q = p;; q++) {
		if (*q == '/' || *q == 0) {
			size_t l = (size_t)(q - seg);
			if (l == 0 || seg[0] == '.')
				return vt_error_set(VT_EINVAL,
						    "rule file \"%s\": no empty, hidden, \".\" or "
						    "\"..\" component",
						    p);
			if (*q == 0)
				break;
			seg = q + 1;
		}
	}
	ext = n >= 5 && strcmp(p + n - 5, ".yara") == 0	 ? 5
	      : n >= 4 && strcmp(p + n - 4, ".yar") == 0 ? 4
							 : 0;
	if (ext == 0)
		return vt_error_set(VT_EINVAL, "rule file \"%s\": the name ends in .yar or .yara",
				    p);
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The set in force again would log a second `ruleset` entry and
 * retro-scan for nothing: refuse it.
 */
static int check_not_current(const vt_ruleset_stage *s)
{
	char path[4200], cur[128];
	ssize_t len;

	snprintf(path, sizeof(path), "%s/current", s->dir);
	len = readlink(path, cur, sizeof(cur) - 1);
	if (len != 64)
		return 0;
	cur[len] = 0;
	if (strcmp(cur, vt_analysis_rules_digest(s->rules)) == 0)
		return vt_error_set(VT_EEXISTS, "ruleset sha256:%s is already in force", cur);
	return 0;
}

/* DIR/rules and a fresh DIR/rules/.stage-XXXXXX in it. */
static int stage_alloc(vt_ruleset_stage **out, const char *site_dir)
{
	vt_ruleset_stage *s;
	int err = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	vt_buf_init(&s->entry, 4096);
	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s/rules", site_dir) >= sizeof(s->dir)) {
		err = vt_error_set(VT_EINVAL, "site path too long");
		goto done;
	}
	if (mkdir(s->dir, 0755) < 0 && errno != EEXIST) {
		err = vt_error_sys(VT_EIO, errno, "cannot make %s", s->dir);
		goto done;
	}
	snprintf(s->stage, sizeof(s->stage), "%s/.stage-XXXXXX", s->dir);
	if (!mkdtemp(s->stage)) {
		err = vt_error_sys(VT_EIO, errno, "cannot make a staging directory in %s", s->dir);
		s->stage[0] = 0;
		goto done;
	}
done:
	if (err < 0)
		vt_ruleset_stage_free(s);
	else
		*out = s;
	return err;
}

int vt_ruleset_stage_new(vt_ruleset_stage **out, const char *site_dir, const vt_ruleset_file *files,
			 size_t n)
{
	vt_ruleset_stage *s;
	size_t total = 0;
	char path[8192];
	int err = 0;

	*out = NULL;
	if (n == 0)
		return vt_error_set(VT_EINVAL, "a ruleset needs at least one .yar or .yara file");
	if (n > VT_RULESET_FILES_MAX)
		return vt_error_set(VT_ETOOBIG, "a ruleset has at most %d files",
				    VT_RULESET_FILES_MAX);
	for (size_t i = 0; i < n; i++) {
		if ((err = check_path(files[i].path)) < 0)
			return err;
		total += files[i].len;
		for (size_t j = 0; j < i; j++)
			if (strcmp(files[i].path, files[j].path) == 0)
				return vt_error_set(VT_EINVAL, "rule file \"%s\" twice",
						    files[i].path);
	}
	if (total > VT_RULESET_BYTES_MAX)
		return vt_error_set(VT_ETOOBIG, "a ruleset has at most %zu bytes of source",
				    VT_RULESET_BYTES_MAX);
	if ((err = stage_alloc(&s, site_dir)) < 0)
		return err;
	s->nfiles = n;
	for (size_t i = 0; i < n && err == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->stage, files[i].path);
		if ((err = vt_fs_mkparents(AT_FDCWD, path, 0755)) == 0)
			err = vt_fs_write_atomic(AT_FDCWD, path, files[i].data, files[i].len, 0644);
	}
	if (err < 0 || (err = vt_analysis_rules_compile(&s->rules, s->stage, true)) < 0)
		goto done;
	if ((err = check_not_current(s)) < 0)
		goto done;
	err = vt_ruleset_entry(&s->entry, vt_analysis_rules_digest(s->rules),
			       vt_analysis_rules_count(s->rules), n, NULL);
done:
	if (err < 0) {
		vt_ruleset_stage_free(s);
		return err;
	}
	*out = s;
	return 0;
}

/* {"release": "NAME@VERSION", "compiled": "<base64>"}: a verified release's rules. */
static int stage_json_compiled(vt_ruleset_stage **out, const char *site_dir, json_t *root)
{
	json_t *rel = json_object_get(root, "release"), *comp = json_object_get(root, "compiled");
	vt_buf bin;
	int err;

	vt_buf_init(&bin, VT_RULESET_COMPILED_MAX);
	if (json_object_size(root) != 2 || !json_is_string(rel) || !json_is_string(comp)) {
		err = vt_error_set(VT_EINVAL, "a release's rules are {\"release\": "
					      "\"NAME@VERSION\", \"compiled\": \"<base64>\"}");
		goto done;
	}
	if ((err = vt_base64_decode(&bin, json_string_value(comp), json_string_length(comp))) < 0) {
		err = vt_error_set(err, "\"compiled\": not standard base64");
		goto done;
	}
	err = vt_ruleset_stage_compiled(out, site_dir, bin.ptr, bin.len, json_string_value(rel));
done:
	vt_buf_dispose(&bin);
	return err;
}

int vt_ruleset_stage_json(vt_ruleset_stage **out, const char *site_dir, const char *json,
			  size_t len)
{
	vt_ruleset_file files[VT_RULESET_FILES_MAX];
	json_error_t jerr;
	json_t *root, *obj, *v;
	const char *key;
	size_t n = 0;
	int err;

	*out = NULL;
	if (!(root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr)))
		return vt_error_set(VT_EINVAL, "malformed JSON at byte %d: %s", jerr.position,
				    jerr.text);
	if (json_is_object(root) && json_object_get(root, "release")) {
		err = stage_json_compiled(out, site_dir, root);
		goto done;
	}
	obj = json_object_get(root, "files");
	if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_object(obj)) {
		err = vt_error_set(VT_EINVAL, "the body is {\"files\": {\"<path>\": \"<source>\", "
					      "...}} or {\"release\": \"NAME@VERSION\", "
					      "\"compiled\": \"<base64>\"}");
		goto done;
	}
	json_object_foreach(obj, key, v)
	{
		if (!json_is_string(v)) {
			err = vt_error_set(VT_EINVAL, "files[\"%s\"]: the source is a string", key);
			goto done;
		}
		if (n == VT_RULESET_FILES_MAX) {
			err = vt_error_set(VT_ETOOBIG, "a ruleset has at most %d files",
					   VT_RULESET_FILES_MAX);
			goto done;
		}
		files[n].path = key;
		files[n].data = json_string_value(v);
		files[n].len = json_string_length(v);
		n++;
	}
	err = vt_ruleset_stage_new(out, site_dir, files, n);
done:
	json_decref(root);
	return err;
}

vt_analysis_rules *vt_ruleset_stage_rules(const vt_ruleset_stage *s)
{
	return s->rules;
}

const vt_buf *vt_ruleset_stage_entry(const vt_ruleset_stage *s)
{
	return &s->entry;
}

size_t vt_ruleset_stage_files(const vt_ruleset_stage *s)
{
	return s->nfiles;
}

const char *vt_ruleset_stage_release(const vt_ruleset_stage *s)
{
	return s->release;
}

int vt_ruleset_stage_commit(vt_ruleset_stage *s)
{
	const char *digest = vt_analysis_rules_digest(s->rules);
	char final[4200], link_tmp[4200], link[4200];
	struct stat sb;
	int err = 0;

	snprintf(final, sizeof(final), "%s/%s", s->dir, digest);
	snprintf(link_tmp, sizeof(link_tmp), "%s/.current.tmp", s->dir);
	snprintf(link, sizeof(link), "%s/current", s->dir);
	/* The same digest is the same bytes: an earlier install is as good. */
	if (stat(final, &sb) == 0) {
		rm_tree(s->stage);
	} else if (rename(s->stage, final) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot install %s", final);
		goto done;
	}
	s->stage[0] = 0;
	unlink(link_tmp);
	if (symlink(digest, link_tmp) < 0 || rename(link_tmp, link) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot point %s at %s", link, digest);
		goto done;
	}
	err = vt_fs_sync_dir(AT_FDCWD, s->dir);
done:
	return err;
}

void vt_ruleset_stage_free(vt_ruleset_stage *s)
{
	if (!s)
		return;
	if (s->stage[0])
		rm_tree(s->stage);
	vt_analysis_rules_unref(s->rules);
	vt_buf_dispose(&s->entry);
	free(s);
}

int vt_ruleset_load_current(vt_analysis_rules **out, const char *site_dir)
{
	char path[4200];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/rules/current", site_dir);
	if (stat(path, &sb) < 0)
		return vt_error_set(VT_ENOTFOUND, "no ruleset installed at %s", site_dir);
	/* A release installs its compiled file; a source set has no such name. */
	snprintf(path, sizeof(path), "%s/rules/current/" VT_RULESET_COMPILED_NAME, site_dir);
	if (stat(path, &sb) == 0)
		return vt_analysis_rules_load(out, path);
	snprintf(path, sizeof(path), "%s/rules/current", site_dir);
	return vt_analysis_rules_compile(out, path, true);
}

/* name@version as a release names it (docs/conveyer.md, recipe Name and Version). */
static bool release_ok(const char *r)
{
	const char *at = r ? strchr(r, '@') : NULL;
	size_t n, v;

	if (!at)
		return false;
	n = (size_t)(at - r);
	v = strlen(at + 1);
	if (n == 0 || n > 64 || v == 0 || v > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = r[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '+' && c != '-')))
			return false;
	}
	for (size_t i = 0; i < v; i++) {
		char c = at[1 + i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || !strchr(".+~_-", c)))
			return false;
	}
	return true;
}

int vt_ruleset_stage_compiled(vt_ruleset_stage **out, const char *site_dir, const void *data,
			      size_t len, const char *release)
{
	vt_ruleset_stage *s = NULL;
	char path[8192];
	int err;

	*out = NULL;
	if (!release_ok(release))
		return vt_error_set(VT_EINVAL, "\"%s\": a release is NAME@VERSION",
				    release ? release : "");
	if (len > VT_RULESET_COMPILED_MAX)
		return vt_error_set(VT_ETOOBIG, "a compiled rules file has at most %zu bytes",
				    VT_RULESET_COMPILED_MAX);
	if ((err = stage_alloc(&s, site_dir)) < 0)
		return err;
	s->nfiles = 1;
	snprintf(s->release, sizeof(s->release), "%s", release);
	snprintf(path, sizeof(path), "%s/" VT_RULESET_COMPILED_NAME, s->stage);
	if ((err = vt_fs_write_atomic(AT_FDCWD, path, data, len, 0644)) < 0)
		goto done;
	/* Loaded from the staged copy: what is digested is what gets installed. */
	if ((err = vt_analysis_rules_load(&s->rules, path)) < 0) {
		err = vt_error_set(err, "the release's artifact is not a compiled YARA rules file "
					"this site can load");
		goto done;
	}
	if ((err = check_not_current(s)) < 0)
		goto done;
	err = vt_ruleset_entry(&s->entry, vt_analysis_rules_digest(s->rules),
			       vt_analysis_rules_count(s->rules), 1, release);
done:
	if (err < 0)
		vt_ruleset_stage_free(s);
	else
		*out = s;
	return err;
}

int vt_ruleset_entry(vt_buf *out, const char *digest, unsigned rules, size_t files,
		     const char *release)
{
	int err;
	if (release && !release_ok(release))
		return vt_error_set(VT_EINVAL, "\"%s\": a release is NAME@VERSION", release);
	if ((err = vt_buf_printf(out, "vitrine/1 ruleset\ndigest sha256:%s\nrules %u\nfiles %zu\n",
				 digest, rules, files)) < 0 ||
	    !release)
		return err;
	return vt_buf_printf(out, "release %s\n", release);
}

/* "KEY VALUE\n" at *p: the value's bounds; advances *p past the line. */
static bool entry_line(const char **v, size_t *vlen, const char **p, const char *end,
		       const char *key)
{
	size_t k = strlen(key);
	const char *nl;
	if ((size_t)(end - *p) < k + 2 || memcmp(*p, key, k) != 0 || (*p)[k] != ' ')
		return false;
	*v = *p + k + 1;
	if (!(nl = memchr(*v, '\n', (size_t)(end - *v))) || nl == *v)
		return false;
	*vlen = (size_t)(nl - *v);
	*p = nl + 1;
	return true;
}

/* Canonical decimal (no sign, no leading zero) up to max. */
static bool entry_num(uint64_t *out, const char *v, size_t n, uint64_t max)
{
	uint64_t x = 0;
	if (n == 0 || n > 20 || (n > 1 && v[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || x > (max - (uint64_t)(v[i] - '0')) / 10)
			return false;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	*out = x;
	return true;
}

static int parse_entry(vt_ruleset_info *out, const char *text, size_t len)
{
	static const char head[] = "vitrine/1 ruleset\n";
	const char *p = text, *end = text + len, *v;
	size_t n;
	uint64_t x;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(head) - 1 || memcmp(text, head, sizeof(head) - 1) != 0)
		return vt_error_set(VT_EINVAL, "not a ruleset entry");
	p += sizeof(head) - 1;
	if (!entry_line(&v, &n, &p, end, "digest") || n != 71 || memcmp(v, "sha256:", 7) != 0)
		return vt_error_set(VT_EINVAL, "ruleset entry: want \"digest sha256:<64 hex>\"");
	for (size_t i = 7; i < n; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return vt_error_set(VT_EINVAL,
					    "ruleset entry: the digest is lower-case hex");
	memcpy(out->digest, v + 7, 64);
	if (!entry_line(&v, &n, &p, end, "rules") || !entry_num(&x, v, n, UINT32_MAX))
		return vt_error_set(VT_EINVAL, "ruleset entry: want \"rules N\"");
	out->rules = (unsigned)x;
	if (!entry_line(&v, &n, &p, end, "files") || !entry_num(&x, v, n, SIZE_MAX))
		return vt_error_set(VT_EINVAL, "ruleset entry: want \"files N\"");
	out->files = (size_t)x;
	if (p < end) {
		if (!entry_line(&v, &n, &p, end, "release") || n >= sizeof(out->release))
			return vt_error_set(VT_EINVAL, "ruleset entry: after files only "
						       "\"release NAME@VERSION\"");
		memcpy(out->release, v, n);
		if (!release_ok(out->release))
			return vt_error_set(VT_EINVAL, "ruleset entry: a release is NAME@VERSION");
	}
	if (p != end)
		return vt_error_set(VT_EINVAL, "ruleset entry: nothing after the last key");
	return 0;
}

int vt_ruleset_entry_parse(vt_ruleset_info *out, const char *text, size_t len)
{
	int err = parse_entry(out, text, len);
	if (err < 0)
		memset(out, 0, sizeof(*out));
	return err;
}
