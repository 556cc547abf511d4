/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The conveyer site: blobs stored by their SHA-256 (immutable: a blob
 * already present is never rewritten), the trusted builder and rebuilder
 * keys, and one small record file per build, release and rebuild, written
 * only after its log entry is published. What a record claims is always
 * re-checkable against the log: it holds the entry itself and its index.
 */
#include "vitrine/checkpoint.h"
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/note.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/recipe.h"
#include "vitrine/site.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_KEYS 64

struct vt_conveyer_site {
	char *root; /* DIR/conveyer */
	vt_note_verifier *builders[MAX_KEYS], *rebuilders[MAX_KEYS];
	size_t nbuilders, nrebuilders;
	vt_note_verifier *log_key;
	char origin[VT_ORIGIN_MAX + 1];
	pthread_mutex_t mu; /* record writes */
};

static const char *const kind_dir[] = {"attestations", "artifacts", "sources"};
static const char *const record_dir[] = {"builds", "releases", "rebuilds"};

static int load_keys(vt_note_verifier **keys, size_t *n, const char *path)
{
	vt_buf b;
	int err;
	size_t line = 0;

	vt_buf_init(&b, 1 << 20);
	err = vt_fs_read(&b, AT_FDCWD, path);
	if (err == VT_ENOTFOUND) {
		err = 0;
		goto done;
	}
	if (err < 0)
		goto done;
	for (const char *p = vt_buf_cstr(&b); *p;) {
		size_t len = strcspn(p, "\n");
		line++;
		if (len > 0 && p[0] != '#') {
			if (*n == MAX_KEYS) {
				err = vt_error_set(VT_ETOOBIG, "%s: more than %d keys", path,
						   MAX_KEYS);
				goto done;
			}
			if ((err = vt_note_verifier_parse(&keys[*n], p, len)) < 0 ||
			    (vt_note_verifier_type(keys[*n]) != 1 &&
			     (err = vt_error_set(VT_EINVAL, "not an Ed25519 (type 0x01) key")) <
				 0)) {
				vt_note_verifier_free(keys[*n]);
				keys[*n] = NULL;
				err = vt_error_wrap(err, "%s line %zu", path, line);
				goto done;
			}
			(*n)++;
		}
		p += len + (p[len] == '\n');
	}
done:
	vt_buf_dispose(&b);
	return err;
}

void vt_site_close(vt_conveyer_site *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nbuilders; i++)
		vt_note_verifier_free(s->builders[i]);
	for (size_t i = 0; i < s->nrebuilders; i++)
		vt_note_verifier_free(s->rebuilders[i]);
	vt_note_verifier_free(s->log_key);
	pthread_mutex_destroy(&s->mu);
	free(s->root);
	free(s);
}

static int mkdir_p(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return vt_error_sys(VT_EIO, errno, "mkdir %s", path);
	return 0;
}

int vt_site_open(vt_conveyer_site **out, const char *dir)
{
	static const char *const sub[] = {"attestations", "artifacts", "sources", "builds",
					  "releases",	  "rebuilds",  "tmp"};
	char path[PATH_MAX];
	vt_conveyer_site *s;
	vt_buf b;
	int err;

	*out = NULL;
	vt_buf_init(&b, 4096);
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		vt_buf_dispose(&b);
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&s->mu, NULL);
	if (asprintf(&s->root, "%s/conveyer", dir) < 0) {
		s->root = NULL;
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = mkdir_p(s->root)) < 0)
		goto done;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", s->root, sub[i]);
		if ((err = mkdir_p(path)) < 0)
			goto done;
	}
	snprintf(path, sizeof(path), "%s/builders", s->root);
	if ((err = load_keys(s->builders, &s->nbuilders, path)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/rebuilders", s->root);
	if ((err = load_keys(s->rebuilders, &s->nrebuilders, path)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/log.vkey", dir);
	if ((err = vt_fs_read(&b, AT_FDCWD, path)) < 0)
		goto done;
	while (b.len > 0 && b.ptr[b.len - 1] == '\n')
		b.len--;
	if ((err = vt_note_verifier_parse(&s->log_key, (const char *)b.ptr, b.len)) < 0) {
		err = vt_error_wrap(err, "%s", path);
		goto done;
	}
	snprintf(s->origin, sizeof(s->origin), "%s", vt_note_verifier_name(s->log_key));
	err = vt_site_recover(s, dir, NULL);
done:
	vt_buf_dispose(&b);
	if (err < 0)
		vt_site_close(s);
	else
		*out = s;
	return err;
}

size_t vt_site_nkeys(const vt_conveyer_site *s, bool rebuilder)
{
	return rebuilder ? s->nrebuilders : s->nbuilders;
}

int vt_site_trust(const char *dir, bool rebuilder, const char *vkey, size_t len)
{
	char path[PATH_MAX];
	vt_note_verifier *v = NULL;
	vt_buf b;
	int err;

	while (len > 0 && (vkey[len - 1] == '\n' || vkey[len - 1] == '\r'))
		len--;
	vt_buf_init(&b, 1 << 20);
	if ((err = vt_note_verifier_parse(&v, vkey, len)) < 0)
		goto done;
	if (vt_note_verifier_type(v) != 1) {
		err = vt_error_set(VT_EINVAL, "a %s key signs DSSE envelopes: Ed25519 (type 0x01)",
				   rebuilder ? "rebuilder" : "builder");
		goto done;
	}
	snprintf(path, sizeof(path), "%s/conveyer", dir);
	if ((err = mkdir_p(path)) < 0)
		goto done;
	snprintf(path, sizeof(path), "%s/conveyer/%s", dir, rebuilder ? "rebuilders" : "builders");
	err = vt_fs_read(&b, AT_FDCWD, path);
	if (err < 0 && err != VT_ENOTFOUND)
		goto done;
	for (const char *p = vt_buf_cstr(&b); *p;) {
		size_t n = strcspn(p, "\n");
		if (n == len && memcmp(p, vkey, len) == 0) {
			err = 0; /* already trusted */
			goto done;
		}
		p += n + (p[n] == '\n');
	}
	if ((err = vt_buf_add(&b, vkey, len)) < 0 || (err = vt_buf_addc(&b, '\n')) < 0 ||
	    (err = vt_fs_write_atomic(AT_FDCWD, path, b.ptr, b.len, 0644)) < 0)
		goto done;
done:
	vt_note_verifier_free(v);
	vt_buf_dispose(&b);
	return err;
}

int vt_site_blob_path(char *out, size_t cap, const vt_conveyer_site *s, vt_site_kind kind,
		      const vt_hash *h)
{
	char hex[2 * VT_HASH_SIZE + 1];
	int n;
	vt_hex_encode(hex, h->b, VT_HASH_SIZE);
	n = snprintf(out, cap, "%s/%s/%s", s->root, kind_dir[kind], hex);
	if (n < 0 || (size_t)n >= cap)
		return vt_error_set(VT_ETOOBIG, "path too long");
	return 0;
}

int vt_site_blob_put(vt_conveyer_site *s, vt_site_kind kind, const void *data, size_t len,
		     vt_hash *digest)
{
	char path[PATH_MAX];
	int err;
	if ((err = vt_sha256(digest, data, len)) < 0 ||
	    (err = vt_site_blob_path(path, sizeof(path), s, kind, digest)) < 0)
		return err;
	if (access(path, F_OK) == 0)
		return 0; /* content-addressed: the same bytes */
	return vt_fs_write_atomic(AT_FDCWD, path, data, len, 0644);
}

int vt_site_blob_get(vt_buf *out, const vt_conveyer_site *s, vt_site_kind kind, const vt_hash *h)
{
	char path[PATH_MAX];
	int err;
	if ((err = vt_site_blob_path(path, sizeof(path), s, kind, h)) < 0)
		return err;
	return vt_fs_read(out, AT_FDCWD, path);
}

int vt_site_tmp_open(int *fd, vt_conveyer_site *s, vt_site_part *p)
{
	int n = snprintf(p->tmp, sizeof(p->tmp), "%s/tmp/upload.XXXXXX", s->root);
	if (n < 0 || (size_t)n >= sizeof(p->tmp))
		return vt_error_set(VT_ETOOBIG, "path too long");
	if ((*fd = mkstemp(p->tmp)) < 0) {
		p->tmp[0] = 0;
		return vt_error_sys(VT_EIO, errno, "cannot create an upload file");
	}
	return 0;
}

void vt_site_tmp_drop(vt_site_part *p)
{
	if (p->tmp[0])
		unlink(p->tmp);
	p->tmp[0] = 0;
}

/* Move a synced temporary file to its blob path (fsync, rename, fsync the directory). */
static int store_part(vt_conveyer_site *s, vt_site_kind kind, vt_site_part *p)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int fd, err;

	if ((err = vt_site_blob_path(path, sizeof(path), s, kind, &p->digest)) < 0)
		return err;
	if ((fd = open(p->tmp, O_RDONLY | O_CLOEXEC)) < 0)
		return vt_error_sys(VT_EIO, errno, "open %s", p->tmp);
	if (fsync(fd) < 0) {
		close(fd);
		return vt_error_sys(VT_EIO, errno, "fsync %s", p->tmp);
	}
	close(fd);
	chmod(p->tmp, 0644);
	if (access(path, F_OK) == 0) {
		vt_site_tmp_drop(p); /* already stored: the same bytes by their digest */
		return 0;
	}
	if (rename(p->tmp, path) < 0)
		return vt_error_sys(VT_EIO, errno, "rename to %s", path);
	p->tmp[0] = 0;
	snprintf(dir, sizeof(dir), "%s/%s", s->root, kind_dir[kind]);
	return vt_fs_sync_dir(AT_FDCWD, dir);
}

static int record_path(char *out, size_t cap, const vt_conveyer_site *s, vt_site_record kind,
		       const char *name, const char *version, const char *key)
{
	int n;
	if (vt_release_check_name(name, strlen(name)) < 0 ||
	    vt_release_check_version(version, strlen(version)) < 0)
		return VT_EINVAL;
	if (key)
		n = snprintf(out, cap, "%s/%s/%s@%s/%s", s->root, record_dir[kind], name, version,
			     key);
	else
		n = snprintf(out, cap, "%s/%s/%s@%s", s->root, record_dir[kind], name, version);
	if (n < 0 || (size_t)n >= cap)
		return vt_error_set(VT_ETOOBIG, "path too long");
	return 0;
}

int vt_site_record_put(vt_conveyer_site *s, vt_site_record kind, const char *name,
		       const char *version, const char *key, uint64_t index, const void *entry,
		       size_t len)
{
	char path[PATH_MAX];
	vt_buf b;
	int err;

	vt_buf_init(&b, len + 64);
	pthread_mutex_lock(&s->mu);
	if ((err = record_path(path, sizeof(path), s, kind, name, version, key)) < 0)
		goto done;
	if (access(path, F_OK) == 0) {
		err = vt_error_set(VT_EEXISTS, "%s %s %s is already recorded", record_dir[kind],
				   name, version);
		goto done;
	}
	if ((err = vt_fs_mkparents(AT_FDCWD, path, 0755)) < 0 ||
	    (err = vt_buf_printf(&b, "index %llu\n", (unsigned long long)index)) < 0 ||
	    (err = vt_buf_add(&b, entry, len)) < 0 ||
	    (err = vt_fs_write_atomic(AT_FDCWD, path, b.ptr, b.len, 0644)) < 0)
		goto done;
done:
	pthread_mutex_unlock(&s->mu);
	vt_buf_dispose(&b);
	return err;
}

int vt_site_record_get(vt_buf *entry, uint64_t *index, const vt_conveyer_site *s,
		       vt_site_record kind, const char *name, const char *version, const char *key)
{
	char path[PATH_MAX];
	const char *nl;
	vt_buf b;
	int err;

	vt_buf_init(&b, 70000);
	if ((err = record_path(path, sizeof(path), s, kind, name, version, key)) < 0) {
		err = vt_error_set(VT_ENOTFOUND, "no such record");
		goto done;
	}
	if ((err = vt_fs_read(&b, AT_FDCWD, path)) < 0)
		goto done;
	nl = b.len > 6 ? memchr(b.ptr, '\n', b.len) : NULL;
	if (!nl || memcmp(b.ptr, "index ", 6) != 0 ||
	    vt_parse_u64(index, (const char *)b.ptr + 6, (size_t)(nl - (char *)b.ptr) - 6) < 0) {
		err = vt_error_set(VT_ECORRUPT, "%s: no index line", path);
		goto done;
	}
	err = vt_buf_add(entry, nl + 1, b.len - (size_t)(nl + 1 - (char *)b.ptr));
done:
	vt_buf_dispose(&b);
	return err;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int vt_site_list(const vt_conveyer_site *s, vt_site_record kind, const char *name,
		 const char *version, int (*fn)(const char *a, const char *b, void *payload),
		 void *payload)
{
	char path[PATH_MAX], **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int err = 0;

	if (kind == VT_SITE_REBUILDS) {
		if (record_path(path, sizeof(path), s, kind, name, version, NULL) < 0)
			return 0;
	} else {
		snprintf(path, sizeof(path), "%s/%s", s->root, record_dir[kind]);
	}
	if ((d = opendir(path)) == NULL)
		return errno == ENOENT ? 0 : vt_error_sys(VT_EIO, errno, "opendir %s", path);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strchr(de->d_name, '~'))
			continue; /* "." "..", and temporary files of atomic writes */
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));
			if (!nn) {
				err = vt_error_set(VT_ENOMEM, "out of memory");
				goto done;
			}
			names = nn;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		n++;
	}
	qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n && err == 0; i++) {
		if (kind == VT_SITE_REBUILDS) {
			if (strlen(names[i]) == VT_DSSE_KEYID_LEN)
				err = fn(names[i], NULL, payload);
			continue;
		}
		char *at = strchr(names[i], '@');
		if (!at)
			continue;
		*at = 0;
		if (vt_release_check_name(names[i], strlen(names[i])) == 0 &&
		    vt_release_check_version(at + 1, strlen(at + 1)) == 0)
			err = fn(names[i], at + 1, payload);
	}
done:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return err;
}

/* ---- checks ----------------------------------------------------------- */

int vt_site_build_check(vt_build_entry *out, vt_conveyer_site *s, const char *env, size_t env_len,
			const char *recipe, size_t recipe_len, const vt_site_part *source,
			const vt_site_part *artifacts, size_t nartifacts)
{
	vt_release_statement st = {0};
	vt_recipe r = {0};
	vt_hash h, tree;
	vt_buf payload;
	char path[PATH_MAX];
	int err = VT_EVERIFY;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	if (s->nbuilders == 0) {
		err = vt_error_set(VT_EVERIFY, "this site trusts no builder key (vitrine release "
					       "trust --builder)");
		goto done;
	}
	for (size_t i = 0; i < s->nbuilders && err == VT_EVERIFY; i++) {
		vt_buf_reset(&payload);
		err = vt_provenance_open(&payload, env, env_len,
					 vt_note_verifier_pub(s->builders[i]));
	}
	if (err == VT_EVERIFY)
		err =
		    vt_error_set(VT_EVERIFY, "the envelope verifies under no trusted builder key");
	if (err < 0 ||
	    (err = vt_release_statement_read(&st, (const char *)payload.ptr, payload.len)) < 0)
		goto done;
	if (strcmp(st.build_type, VT_BUILD_TYPE) != 0) {
		err = vt_error_set(VT_EINVAL, "buildType is not %s", VT_BUILD_TYPE);
		goto done;
	}
	if ((err = vt_sha256(&h, recipe, recipe_len)) < 0)
		goto done;
	if (!vt_hash_equal(&h, &st.recipe)) {
		err = vt_error_set(VT_EVERIFY, "the recipe is not the one the provenance names");
		goto done;
	}
	if ((err = vt_recipe_parse(&r, recipe, recipe_len)) < 0)
		goto done;
	if (!vt_hash_equal(&r.source_digest, &st.source_tree)) {
		err =
		    vt_error_set(VT_EVERIFY, "the recipe's source digest is not the provenance's");
		goto done;
	}
	if (!source || !source->tmp[0]) {
		err = vt_error_set(VT_EINVAL, "no source part");
		goto done;
	}
	if (st.has_source_file && !vt_hash_equal(&st.source_file, &source->digest)) {
		err = vt_error_set(VT_EVERIFY,
				   "the source tarball is not the one the provenance names");
		goto done;
	}
	if ((err = vt_tree_digest_tar(&tree, NULL, source->tmp)) < 0) {
		err = vt_error_wrap(err, "source tarball");
		goto done;
	}
	if (!vt_hash_equal(&tree, &st.source_tree)) {
		err = vt_error_set(VT_EVERIFY, "the source tarball's tree digest is not the "
					       "provenance's");
		goto done;
	}
	if (nartifacts != st.nsubjects) {
		err = vt_error_set(VT_EINVAL, "%zu artifacts for %zu subjects", nartifacts,
				   st.nsubjects);
		goto done;
	}
	for (size_t i = 0; i < st.nsubjects; i++) {
		const vt_site_part *a = NULL;
		for (size_t j = 0; j < nartifacts; j++)
			if (strcmp(artifacts[j].name, st.subjects[i].name) == 0)
				a = &artifacts[j];
		if (!a) {
			err = vt_error_set(VT_EINVAL, "no artifact for subject %s",
					   st.subjects[i].name);
			goto done;
		}
		if (!vt_hash_equal(&a->digest, &st.subjects[i].digest)) {
			err = vt_error_set(VT_EVERIFY,
					   "artifact %s: its sha256 is not the subject's", a->name);
			goto done;
		}
	}
	if (record_path(path, sizeof(path), s, VT_SITE_BUILDS, r.name, r.version, NULL) == 0 &&
	    access(path, F_OK) == 0) {
		err = vt_error_set(VT_EEXISTS, "%s %s is already built here", r.name, r.version);
		goto done;
	}
	snprintf(out->name, sizeof(out->name), "%s", r.name);
	snprintf(out->version, sizeof(out->version), "%s", r.version);
	if ((err = vt_sha256(&out->envelope, env, env_len)) < 0)
		goto done;
	out->recipe = h;
	out->source = source->digest;
	out->subjects = st.subjects;
	out->nsubjects = st.nsubjects;
	st.subjects = NULL;
	err = 0;
done:
	if (err < 0)
		vt_build_entry_dispose(out);
	vt_release_statement_dispose(&st);
	vt_recipe_dispose(&r);
	vt_buf_dispose(&payload);
	return err;
}

int vt_site_build_store(vt_conveyer_site *s, const char *env, size_t env_len, const char *recipe,
			size_t recipe_len, vt_site_part *source, vt_site_part *artifacts,
			size_t nartifacts)
{
	vt_hash h;
	int err;
	if ((err = vt_site_blob_put(s, VT_SITE_ATTESTATIONS, env, env_len, &h)) < 0 ||
	    (err = vt_site_blob_put(s, VT_SITE_SOURCES, recipe, recipe_len, &h)) < 0 ||
	    (err = store_part(s, VT_SITE_SOURCES, source)) < 0)
		return err;
	for (size_t i = 0; i < nartifacts; i++)
		if ((err = store_part(s, VT_SITE_ARTIFACTS, &artifacts[i])) < 0)
			return err;
	return 0;
}

int vt_site_release_check(vt_buf *entry, vt_conveyer_site *s, const char *name, const char *version,
			  const char *proof, size_t proof_len)
{
	vt_build_entry be = {0};
	vt_release_entry re = {0};
	vt_tlog_proof p;
	vt_checkpoint cp;
	uint64_t index;
	vt_buf b, tmp;
	char path[PATH_MAX];
	int err;

	vt_buf_init(&b, 70000);
	vt_buf_init(&tmp, 1);
	if ((err = vt_site_record_get(&b, &index, s, VT_SITE_BUILDS, name, version, NULL)) < 0) {
		if (err == VT_ENOTFOUND)
			err = vt_error_set(VT_ENOTFOUND, "no build of %s %s at this site", name,
					   version);
		goto done;
	}
	if (record_path(path, sizeof(path), s, VT_SITE_RELEASES, name, version, NULL) == 0 &&
	    access(path, F_OK) == 0) {
		err = vt_error_set(VT_EEXISTS, "%s %s is already released", name, version);
		goto done;
	}
	if ((err = vt_build_entry_parse(&be, (const char *)b.ptr, b.len)) < 0) {
		err = vt_error_wrap(VT_ECORRUPT, "build record of %s %s", name, version);
		goto done;
	}
	/* The inclusion proof decides, not the record's existence. */
	if ((err = vt_tlog_proof_parse(&p, proof, proof_len)) < 0 || p.index != index ||
	    (err = vt_tlog_proof_verify_origin(&cp, NULL, &p, s->origin, b.ptr, b.len, &s->log_key,
					       1)) < 0) {
		err = vt_error_wrap(VT_EVERIFY,
				    "the build entry of %s %s is not proven included in "
				    "a published checkpoint",
				    name, version);
		goto done;
	}
	snprintf(re.name, sizeof(re.name), "%s", name);
	snprintf(re.version, sizeof(re.version), "%s", version);
	re.build_index = index;
	re.envelope = be.envelope;
	err = vt_release_entry_format(entry, &re);
done:
	vt_build_entry_dispose(&be);
	vt_buf_dispose(&b);
	vt_buf_dispose(&tmp);
	return err;
}

int vt_site_rebuild_check(vt_rebuild_entry *out, vt_conveyer_site *s, const char *env, size_t len)
{
	vt_rebuild_statement st = {0};
	vt_build_entry be = {0};
	const uint8_t *pub = NULL;
	char path[PATH_MAX];
	uint64_t index;
	vt_buf b;
	int err = VT_EVERIFY;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&b, 70000);
	if (s->nrebuilders == 0) {
		err = vt_error_set(VT_EVERIFY, "this site trusts no rebuilder key (vitrine release "
					       "trust --rebuilder)");
		goto done;
	}
	for (size_t i = 0; i < s->nrebuilders && err == VT_EVERIFY; i++) {
		pub = vt_note_verifier_pub(s->rebuilders[i]);
		vt_rebuild_statement_dispose(&st);
		err = vt_rebuild_statement_open(&st, env, len, pub);
	}
	if (err == VT_EVERIFY)
		err = vt_error_set(VT_EVERIFY,
				   "the envelope verifies under no trusted rebuilder key");
	if (err < 0)
		goto done;
	if ((err = vt_site_record_get(&b, &index, s, VT_SITE_BUILDS, st.name, st.version, NULL)) <
	    0) {
		if (err == VT_ENOTFOUND)
			err = vt_error_set(VT_ENOTFOUND, "no build of %s %s at this site", st.name,
					   st.version);
		goto done;
	}
	if ((err = vt_build_entry_parse(&be, (const char *)b.ptr, b.len)) < 0) {
		err = vt_error_wrap(VT_ECORRUPT, "build record");
		goto done;
	}
	if (!vt_hash_equal(&be.envelope, &st.build_envelope) ||
	    !vt_hash_equal(&be.recipe, &st.recipe) || !vt_hash_equal(&be.source, &st.source)) {
		err = vt_error_set(VT_EVERIFY,
				   "the statement names other inputs than the build of "
				   "%s %s (envelope, recipe or source digest)",
				   st.name, st.version);
		goto done;
	}
	snprintf(out->name, sizeof(out->name), "%s", st.name);
	snprintf(out->version, sizeof(out->version), "%s", st.version);
	out->build_envelope = be.envelope;
	if ((err = vt_sha256(&out->envelope, env, len)) < 0 ||
	    (err = vt_dsse_keyid(out->key, pub)) < 0)
		goto done;
	out->reproduced = st.reproduced;
	/* A reproduced verdict must carry exactly the build's subjects. */
	if (st.reproduced) {
		bool same = st.nsubjects == be.nsubjects;
		for (size_t i = 0; same && i < be.nsubjects; i++) {
			same = false;
			for (size_t j = 0; j < st.nsubjects; j++)
				if (strcmp(st.subjects[j].name, be.subjects[i].name) == 0 &&
				    vt_hash_equal(&st.subjects[j].digest, &be.subjects[i].digest))
					same = true;
		}
		if (!same) {
			err =
			    vt_error_set(VT_EINVAL, "says reproduced but its subjects differ from "
						    "the build's");
			goto done;
		}
	}
	if (record_path(path, sizeof(path), s, VT_SITE_REBUILDS, st.name, st.version, out->key) ==
		0 &&
	    access(path, F_OK) == 0) {
		err = vt_error_set(VT_EEXISTS,
				   "this rebuilder's statement on %s %s is already "
				   "recorded",
				   st.name, st.version);
		goto done;
	}
	err = 0;
done:
	vt_build_entry_dispose(&be);
	vt_rebuild_statement_dispose(&st);
	vt_buf_dispose(&b);
	return err;
}

/* ---- recovery of records after a crash --------------------------------- */

/* A vt_fetch_fn over the log's published objects on disk (payload: DIR/log). */
static int fetch_local(vt_buf *out, const char *path, void *payload)
{
	char full[PATH_MAX];
	if (snprintf(full, sizeof(full), "%s/%s", (const char *)payload, path) >= (int)sizeof(full))
		return vt_error_set(VT_ETOOBIG, "path too long");
	return vt_fs_read(out, AT_FDCWD, full);
}

static bool blob_exists(const vt_conveyer_site *s, vt_site_kind kind, const vt_hash *h)
{
	char path[PATH_MAX];
	return vt_site_blob_path(path, sizeof(path), s, kind, h) == 0 && access(path, F_OK) == 0;
}

struct recover_ctx {
	vt_conveyer_site *s;
	size_t restored;
};

/* Put a record unless there is one (a record already written wins). */
static int restore(struct recover_ctx *x, vt_site_record kind, const char *name,
		   const char *version, const char *key, uint64_t index, const void *entry,
		   size_t len)
{
	int err = vt_site_record_put(x->s, kind, name, version, key, index, entry, len);
	if (err == VT_EEXISTS)
		return 0;
	if (err == 0)
		x->restored++;
	return err;
}

/*
 * One entry of the log: a conveyer entry whose record is missing gets it
 * back, but only when what the site stores backs it (the blobs it names,
 * the build a release or rebuild refers to), since an admin can append
 * any text to the log with POST /log/add and that must not become a
 * build the site never checked.
 */
static int recover_entry(uint64_t index, const uint8_t *entry, size_t len, void *payload)
{
	struct recover_ctx *x = payload;
	const char *e = (const char *)entry;
	vt_build_entry be = {0}, rbe = {0};
	vt_release_entry re;
	vt_rebuild_entry rb;
	vt_buf rec;
	uint64_t bidx;
	bool ok;
	int err = 0;

	vt_buf_init(&rec, 70000);
	if (len > 16 && memcmp(e, "vitrine/1 build\n", 16) == 0) {
		if (vt_build_entry_parse(&be, e, len) < 0)
			goto done;
		ok = blob_exists(x->s, VT_SITE_ATTESTATIONS, &be.envelope) &&
		     blob_exists(x->s, VT_SITE_SOURCES, &be.recipe) &&
		     blob_exists(x->s, VT_SITE_SOURCES, &be.source);
		for (size_t i = 0; ok && i < be.nsubjects; i++)
			ok = blob_exists(x->s, VT_SITE_ARTIFACTS, &be.subjects[i].digest);
		/* and the stored recipe is of that name and version */
		if (ok) {
			vt_recipe r = {0};
			ok = vt_site_blob_get(&rec, x->s, VT_SITE_SOURCES, &be.recipe) == 0 &&
			     vt_recipe_parse(&r, (const char *)rec.ptr, rec.len) == 0 &&
			     strcmp(r.name, be.name) == 0 && strcmp(r.version, be.version) == 0;
			vt_recipe_dispose(&r);
		}
		if (ok)
			err = restore(x, VT_SITE_BUILDS, be.name, be.version, NULL, index, e, len);
	} else if (len > 18 && memcmp(e, "vitrine/1 release\n", 18) == 0) {
		if (vt_release_entry_parse(&re, e, len) < 0 ||
		    vt_site_record_get(&rec, &bidx, x->s, VT_SITE_BUILDS, re.name, re.version,
				       NULL) < 0 ||
		    bidx != re.build_index ||
		    vt_build_entry_parse(&rbe, (const char *)rec.ptr, rec.len) < 0 ||
		    !vt_hash_equal(&rbe.envelope, &re.envelope))
			goto done;
		err = restore(x, VT_SITE_RELEASES, re.name, re.version, NULL, index, e, len);
	} else if (len > 18 && memcmp(e, "vitrine/1 rebuild\n", 18) == 0) {
		if (vt_rebuild_entry_parse(&rb, e, len) < 0 ||
		    !blob_exists(x->s, VT_SITE_ATTESTATIONS, &rb.envelope) ||
		    vt_site_record_get(&rec, &bidx, x->s, VT_SITE_BUILDS, rb.name, rb.version,
				       NULL) < 0 ||
		    vt_build_entry_parse(&rbe, (const char *)rec.ptr, rec.len) < 0 ||
		    !vt_hash_equal(&rbe.envelope, &rb.build_envelope))
			goto done;
		err = restore(x, VT_SITE_REBUILDS, rb.name, rb.version, rb.key, index, e, len);
	}
done:
	vt_build_entry_dispose(&be);
	vt_build_entry_dispose(&rbe);
	vt_buf_dispose(&rec);
	return err;
}

int vt_site_recover(vt_conveyer_site *s, const char *dir, size_t *restored)
{
	struct recover_ctx x = {s, 0};
	char logdir[PATH_MAX], cursor[PATH_MAX];
	vt_tlog_reader *r = NULL;
	vt_checkpoint cp;
	vt_note note;
	vt_buf b, cur;
	uint64_t start = 0;
	int err;

	vt_buf_init(&b, 1 << 20);
	vt_buf_init(&cur, 64);
	snprintf(logdir, sizeof(logdir), "%s/log", dir);
	snprintf(cursor, sizeof(cursor), "%s/recovered", s->root);
	err = fetch_local(&b, "checkpoint", logdir);
	if (err == VT_ENOTFOUND) {
		err = 0; /* nothing published yet */
		goto done;
	}
	if (err < 0)
		goto done;
	if ((err = vt_note_open(&note, (const char *)b.ptr, b.len, &s->log_key, 1)) < 0 ||
	    (err = vt_checkpoint_parse(&cp, note.text, note.text_len)) < 0) {
		err = vt_error_wrap(err, "%s/checkpoint", logdir);
		goto done;
	}
	/* The size already scanned, so a restart reads only what is new. */
	err = vt_fs_read(&cur, AT_FDCWD, cursor);
	if (err == 0 &&
	    (cur.len < 6 || memcmp(cur.ptr, "size ", 5) != 0 || cur.ptr[cur.len - 1] != '\n' ||
	     vt_parse_u64(&start, (const char *)cur.ptr + 5, cur.len - 6) < 0))
		start = 0; /* unreadable: scan everything again (records are idempotent) */
	else if (err < 0 && err != VT_ENOTFOUND)
		goto done;
	if (start > cp.size)
		start = 0;
	err = 0;
	if (start == cp.size)
		goto done;
	if ((err = vt_tlog_reader_new(&r, cp.size, fetch_local, logdir)) < 0 ||
	    (err = vt_tlog_reader_walk(r, start, recover_entry, &x)) < 0) {
		err = vt_error_wrap(err, "recovering the conveyer's records from the log");
		goto done;
	}
	vt_buf_reset(&cur);
	if ((err = vt_buf_printf(&cur, "size %llu\n", (unsigned long long)cp.size)) < 0 ||
	    (err = vt_fs_write_atomic(AT_FDCWD, cursor, cur.ptr, cur.len, 0644)) < 0)
		goto done;
done:
	if (restored)
		*restored = x.restored;
	vt_tlog_reader_free(r);
	vt_buf_dispose(&b);
	vt_buf_dispose(&cur);
	return err;
}
