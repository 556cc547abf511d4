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
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
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
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	vt_buf_init(&s->entry, 4096);
	s->nfiles = n;
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
	for (size_t i = 0; i < n && err == 0; i++) {
		snprintf(path, sizeof(path), "%s/%s", s->stage, files[i].path);
		if ((err = vt_fs_mkparents(AT_FDCWD, path, 0755)) == 0)
			err = vt_fs_write_atomic(AT_FDCWD, path, files[i].data, files[i].len, 0644);
	}
	if (err < 0 || (err = vt_analysis_rules_compile(&s->rules, s->stage, true)) < 0)
		goto done;
	/* The set in force again would log a second `ruleset` entry and
	 * retro-scan for nothing: refuse it. */
	snprintf(path, sizeof(path), "%s/current", s->dir);
	{
		char cur[128];
		ssize_t len = readlink(path, cur, sizeof(cur) - 1);
		if (len == 64) {
			cur[len] = 0;
			if (strcmp(cur, vt_analysis_rules_digest(s->rules)) == 0) {
				err = vt_error_set(VT_EEXISTS,
						   "ruleset sha256:%s is already in force", cur);
				goto done;
			}
		}
	}
	err = vt_ruleset_entry(&s->entry, vt_analysis_rules_digest(s->rules),
			       vt_analysis_rules_count(s->rules), n);
done:
	if (err < 0) {
		vt_ruleset_stage_free(s);
		return err;
	}
	*out = s;
	return 0;
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
	obj = json_object_get(root, "files");
	if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_object(obj)) {
		err = vt_error_set(VT_EINVAL, "the body is {\"files\": {\"<path>\": \"<source>\", "
					      "...}}");
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
	return vt_analysis_rules_compile(out, path, true);
}

int vt_ruleset_entry(vt_buf *out, const char *digest, unsigned rules, size_t files)
{
	return vt_buf_printf(out, "vitrine/1 ruleset\ndigest sha256:%s\nrules %u\nfiles %zu\n",
			     digest, rules, files);
}
