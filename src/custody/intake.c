/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Sample intake: where a file may be kept, its hashes and vault object as
 * it streams, and its log entry.
 *
 * Exactly one `sample` entry per stored file, before all its `sighting`
 * entries, also across kill -9: the steps of a first upload are the vault
 * object, the index record, the entry published by the caller, then its
 * sighting indexed, then the upload settled. A `sample` entry is recorded
 * as pending in the index (its SHA-256, the log's size, and the whole
 * submission: tenant, region, name, source, tags) before the caller
 * submits it, and the sighting that records it as published drops that
 * row in the same transaction.
 *
 * An upload of a file whose `sample` entry an upload of this process has
 * on its way waits (pending_cv, at most wait_ms, else VT_EBUSY) until that
 * one is settled, then decides like any later upload: a published
 * sighting makes it a `sighting`; with none, a pending row is looked for
 * in the log from its size on: found, the lost sighting is indexed with
 * the row's submission and this upload is a `sighting`; found beyond the
 * published checkpoint, in the bundles the log's next recovery rolls
 * forward before it takes anything new (a commit may fail after its
 * objects are in place: storage.h; the log answers such an entry with an
 * error only when its recovery right after failed too, see log.c), this
 * upload is a `sighting` too and
 * the row stays pending until a checkpoint covers the entry; not found
 * (the log refused it, or a dead process never got it there), the row
 * goes and this upload logs `sample`. Not waiting would log a `sighting`
 * that precedes its `sample` entry, or outlives it when the log refuses
 * it. (As src/analysis/service.c does with its `analysis` entries; the
 * log is read from DIR's tiles, where recovery at open has put
 * everything acknowledged.)
 */
#include "vitrine/intake.h"
#include "vitrine/checkpoint.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"
#include "vitrine/reader.h"
#include "vitrine/storage.h"
#include "vitrine/tile.h"
#include "vitrine/token.h"
#include "vitrine/vault.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct vt_intake {
	char *dir;
	char jurisdiction[VT_JURISDICTION_MAX + 1];
	vt_vault *vault;
	vt_index *idx;
	uint8_t secret[VT_INTAKE_SECRET_SIZE];
	pthread_mutex_t mu; /* guards the cached policy below */
	bool have_policy;
	int policy_err; /* why the file in place is not in force (0: none or fine) */
	struct stat policy_st, vkey_st; /* of the files the cache was read from */
	bool policy_seen;		/* policy_st/vkey_st are meaningful */
	vt_policy policy;
	/* Samples whose `sample` entry is on its way to the log (between the
	 * index record and vt_intake_settle) or whose stale entry is being
	 * looked for in the log (settle_stale, unlocked), the lock that
	 * orders index records with this list, and where uploads of those
	 * samples wait (signalled by every settle; wait_ms at most). */
	pthread_mutex_t pending_mu;
	pthread_cond_t pending_cv;
	unsigned wait_ms;
	vt_hash *pending;
	size_t npending, cappending;
	vt_storage *log; /* DIR's log, read-only, opened on first use (pending_mu) */
};

struct vt_intake_hasher {
	EVP_MD_CTX *sha256, *sha1, *md5;
};

struct vt_intake_upload {
	vt_intake *in;
	vt_vault_writer *w;
	vt_intake_hasher *h;
	uint64_t size, max;
	bool failed;
};

/* ---- site files ------------------------------------------------------- */

static int read_secret(uint8_t out[VT_INTAKE_SECRET_SIZE], const char *path)
{
	struct stat st;
	vt_buf b;
	int err;

	vt_buf_init(&b, 4096);
	if (stat(path, &st) < 0) {
		err = errno == ENOENT ? vt_error_set(VT_ENOTFOUND, "%s: no such file", path)
				      : vt_error_sys(VT_EIO, errno, "%s", path);
		goto done;
	}
	/* The secret is what keeps customer ids out of the public log. */
	if (st.st_mode & 077) {
		err =
		    vt_error_set(VT_EDENIED, "%s can be read by group or others (chmod 600)", path);
		goto done;
	}
	if ((err = vt_fs_read(&b, AT_FDCWD, path)) < 0)
		goto done;
	if (b.len != VT_INTAKE_SECRET_SIZE) {
		err = vt_error_set(VT_ECORRUPT, "%s holds %zu bytes, not %d", path, b.len,
				   VT_INTAKE_SECRET_SIZE);
		goto done;
	}
	memcpy(out, b.ptr, VT_INTAKE_SECRET_SIZE);
done:
	vt_buf_dispose(&b);
	return err;
}

int vt_intake_secret_load(uint8_t out[VT_INTAKE_SECRET_SIZE], const char *dir)
{
	char path[4096], tmp[4200];
	uint8_t fresh[VT_INTAKE_SECRET_SIZE];
	int fd = -1, err;

	snprintf(path, sizeof(path), "%s/site.secret", dir);
	if ((err = read_secret(out, path)) != VT_ENOTFOUND)
		goto done;
	/* Write a whole file aside, then link it into place: link() never
	 * replaces, so of two processes racing here one secret wins and both
	 * read it. */
	snprintf(tmp, sizeof(tmp), "%s/.site.secret.%ld", dir, (long)getpid());
	if (RAND_priv_bytes(fresh, sizeof(fresh)) != 1) {
		err = vt_error_set(VT_EIO, "no randomness for the site secret");
		goto done;
	}
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot create %s", tmp);
		goto done;
	}
	if ((err = vt_fs_write_all(fd, fresh, sizeof(fresh))) < 0)
		goto done;
	if (fsync(fd) < 0) {
		err = vt_error_sys(VT_EIO, errno, "fsync %s", tmp);
		goto done;
	}
	if (link(tmp, path) < 0 && errno != EEXIST) {
		err = vt_error_sys(VT_EIO, errno, "cannot create %s", path);
		goto done;
	}
	if ((err = vt_fs_sync_dir(AT_FDCWD, dir)) < 0)
		goto done;
	err = read_secret(out, path);
done:
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	OPENSSL_cleanse(fresh, sizeof(fresh));
	return err;
}

int vt_intake_open(vt_intake **out, const char *dir, vt_index *idx)
{
	vt_intake *in;
	int err;

	*out = NULL;
	if ((in = calloc(1, sizeof(*in))) == NULL || (in->dir = strdup(dir)) == NULL) {
		free(in);
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	in->idx = idx;
	in->wait_ms = VT_INTAKE_DEFAULT_WAIT_MS;
	pthread_mutex_init(&in->mu, NULL);
	pthread_mutex_init(&in->pending_mu, NULL);
	{
		/* Deadlines on the monotonic clock: a clock step neither cuts a
		 * wait short nor stretches it. */
		pthread_condattr_t a;
		pthread_condattr_init(&a);
		pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
		pthread_cond_init(&in->pending_cv, &a);
		pthread_condattr_destroy(&a);
	}
	vt_policy_init(&in->policy);
	if ((err = vt_policy_site_jurisdiction(in->jurisdiction, dir)) == VT_ENOTFOUND)
		err = vt_error_set(VT_ENOTFOUND,
				   "this site has no jurisdiction (vitrine init --jurisdiction)");
	if (err < 0)
		goto done;
	if ((err = vt_vault_open(&in->vault, dir)) < 0) {
		err = vt_error_wrap(err, "this site has no vault");
		goto done;
	}
	if ((err = vt_intake_secret_load(in->secret, dir)) < 0)
		goto done;
	*out = in;
	in = NULL;
done:
	vt_intake_close(in);
	return err;
}

void vt_intake_close(vt_intake *in)
{
	if (!in)
		return;
	vt_vault_close(in->vault);
	vt_policy_dispose(&in->policy);
	pthread_mutex_destroy(&in->mu);
	pthread_mutex_destroy(&in->pending_mu);
	pthread_cond_destroy(&in->pending_cv);
	free(in->pending);
	if (in->log)
		vt_storage_close(in->log);
	OPENSSL_cleanse(in->secret, sizeof(in->secret));
	free(in->dir);
	free(in);
}

void vt_intake_set_wait(vt_intake *in, unsigned ms)
{
	in->wait_ms = ms ? ms : VT_INTAKE_DEFAULT_WAIT_MS;
}

vt_vault *vt_intake_vault(vt_intake *in)
{
	return in->vault;
}

const char *vt_intake_jurisdiction(const vt_intake *in)
{
	return in->jurisdiction;
}

/* ---- residency -------------------------------------------------------- */

int vt_intake_decide(vt_intake_decision *out, const vt_policy *p, const char *region,
		     const char *here)
{
	const vt_policy_site *site = NULL;

	memset(out, 0, sizeof(*out));
	if (!p || p->version == 0) {
		out->place = VT_POLICY_NOWHERE;
		snprintf(out->reason, sizeof(out->reason),
			 "no residency policy is in force at %s: no data is accepted", here);
		return 0;
	}
	vt_policy_residency(&out->place, &site, p, region, here);
	switch (out->place) {
	case VT_POLICY_HERE:
		snprintf(out->jurisdiction, sizeof(out->jurisdiction), "%s", here);
		snprintf(out->reason, sizeof(out->reason),
			 "policy version %llu keeps region %s in %s",
			 (unsigned long long)p->version, region, here);
		break;
	case VT_POLICY_ELSEWHERE:
		snprintf(out->jurisdiction, sizeof(out->jurisdiction), "%s", site->jurisdiction);
		snprintf(out->url, sizeof(out->url), "%s", site->url);
		snprintf(out->reason, sizeof(out->reason),
			 "policy version %llu keeps region %s in %s: submit to %s",
			 (unsigned long long)p->version, region, site->jurisdiction, site->url);
		break;
	case VT_POLICY_NOWHERE:
		snprintf(out->reason, sizeof(out->reason),
			 "policy version %llu assigns region %s to no jurisdiction",
			 (unsigned long long)p->version, region);
		break;
	}
	return 0;
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Under in->mu: bring the cached policy up to date with DIR/policy. */
static void refresh_policy(vt_intake *in)
{
	char ppath[4096], vpath[4096];
	struct stat pst, vst;
	vt_note_verifier *key = NULL;
	vt_buf text, vkey;
	vt_policy p;
	int err;

	snprintf(ppath, sizeof(ppath), "%s/policy", in->dir);
	snprintf(vpath, sizeof(vpath), "%s/policy.vkey", in->dir);
	vt_buf_init(&text, VT_POLICY_MAX_SIZE + 4096);
	vt_buf_init(&vkey, VT_POLICY_VKEY_MAX + 16);
	vt_policy_init(&p);
	if (stat(ppath, &pst) < 0 || stat(vpath, &vst) < 0) {
		/* No policy adopted: nothing is accepted. */
		vt_policy_dispose(&in->policy);
		in->policy_err = 0;
		in->policy_seen = false;
		goto done;
	}
	if (in->policy_seen && same_file(&pst, &in->policy_st) && same_file(&vst, &in->vkey_st))
		goto done;
	vt_policy_dispose(&in->policy);
	in->policy_seen = true;
	in->policy_st = pst;
	in->vkey_st = vst;
	if ((err = vt_fs_read(&text, AT_FDCWD, ppath)) < 0 ||
	    (err = vt_fs_read(&vkey, AT_FDCWD, vpath)) < 0)
		goto bad;
	while (vkey.len > 0 && (vkey.ptr[vkey.len - 1] == '\n' || vkey.ptr[vkey.len - 1] == '\r'))
		vkey.len--;
	if ((err = vt_note_verifier_parse(&key, (const char *)vkey.ptr, vkey.len)) < 0 ||
	    (err = vt_policy_open(&p, (const char *)text.ptr, text.len, key)) < 0)
		goto bad;
	in->policy = p;
	vt_policy_init(&p);
	in->policy_err = 0;
	goto done;
bad:
	in->policy_err = vt_error_wrap(err, "the policy in %s is not in force", ppath);
done:
	vt_note_verifier_free(key);
	vt_policy_dispose(&p);
	vt_buf_dispose(&text);
	vt_buf_dispose(&vkey);
}

int vt_intake_residency(vt_intake_decision *out, vt_intake *in, const char *region)
{
	int err;

	pthread_mutex_lock(&in->mu);
	refresh_policy(in);
	err = in->policy_err;
	vt_intake_decide(out, in->policy.version ? &in->policy : NULL, region, in->jurisdiction);
	pthread_mutex_unlock(&in->mu);
	if (err < 0)
		snprintf(out->reason, sizeof(out->reason),
			 "the residency policy at %s does not verify: no data is accepted",
			 in->jurisdiction);
	return err;
}

/* ---- hashes ----------------------------------------------------------- */

/*
 * With sha256 false the hasher makes SHA-1 and MD5 only: an upload gets
 * its SHA-256 from the vault writer, which computes it anyway.
 */
static int hasher_new(vt_intake_hasher **out, bool sha256)
{
	vt_intake_hasher *h;
	int err = 0;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	h->sha256 = sha256 ? EVP_MD_CTX_new() : NULL;
	h->sha1 = EVP_MD_CTX_new();
	h->md5 = EVP_MD_CTX_new();
	if ((sha256 && !h->sha256) || !h->sha1 || !h->md5) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((sha256 && EVP_DigestInit_ex(h->sha256, EVP_sha256(), NULL) != 1) ||
	    EVP_DigestInit_ex(h->sha1, EVP_sha1(), NULL) != 1 ||
	    EVP_DigestInit_ex(h->md5, EVP_md5(), NULL) != 1) {
		err = vt_error_set(VT_EIO, "OpenSSL refused a digest (SHA-256, SHA-1 or MD5)");
		goto done;
	}
	*out = h;
	h = NULL;
done:
	vt_intake_hasher_free(h);
	return err;
}

int vt_intake_hasher_new(vt_intake_hasher **out)
{
	return hasher_new(out, true);
}

int vt_intake_hasher_update(vt_intake_hasher *h, const void *data, size_t len)
{
	if (len == 0)
		return 0;
	if ((h->sha256 && EVP_DigestUpdate(h->sha256, data, len) != 1) ||
	    EVP_DigestUpdate(h->sha1, data, len) != 1 || EVP_DigestUpdate(h->md5, data, len) != 1)
		return vt_error_set(VT_EIO, "digest update failed");
	return 0;
}

int vt_intake_hasher_final(vt_intake_digests *out, vt_intake_hasher *h)
{
	unsigned n1 = 0, n2 = 0, n3 = 0;

	if (!h->sha256)
		n1 = VT_HASH_SIZE; /* the caller fills it in */
	else if (EVP_DigestFinal_ex(h->sha256, out->sha256.b, &n1) != 1)
		n1 = 0;
	if (EVP_DigestFinal_ex(h->sha1, out->sha1, &n2) != 1 ||
	    EVP_DigestFinal_ex(h->md5, out->md5, &n3) != 1 || n1 != VT_HASH_SIZE ||
	    n2 != VT_SHA1_SIZE || n3 != VT_MD5_SIZE)
		return vt_error_set(VT_EIO, "digest final failed");
	return 0;
}

void vt_intake_hasher_free(vt_intake_hasher *h)
{
	if (!h)
		return;
	EVP_MD_CTX_free(h->sha256);
	EVP_MD_CTX_free(h->sha1);
	EVP_MD_CTX_free(h->md5);
	free(h);
}

int vt_intake_customer(vt_hash *out, const uint8_t secret[VT_INTAKE_SECRET_SIZE],
		       const char *tenant)
{
	unsigned n = 0;
	int err;

	if ((err = vt_token_check_tenant(tenant)) < 0)
		return err;
	if (!HMAC(EVP_sha256(), secret, VT_INTAKE_SECRET_SIZE, (const unsigned char *)tenant,
		  strlen(tenant), out->b, &n) ||
	    n != VT_HASH_SIZE)
		return vt_error_set(VT_EIO, "HMAC-SHA256 failed");
	return 0;
}

/* ---- entries ---------------------------------------------------------- */

int vt_intake_entry(vt_buf *out, bool is_sample, const vt_hash *sha256, uint64_t size,
		    const char *jurisdiction, const vt_hash *customer, const char *region)
{
	char sha[2 * VT_HASH_SIZE + 1], cust[2 * VT_HASH_SIZE + 1];
	size_t mark = out->len;
	int err;

	if ((err = vt_policy_check_jurisdiction(jurisdiction, strlen(jurisdiction))) < 0)
		return vt_error_wrap(err, "entry jurisdiction");
	if ((err = vt_policy_check_region(region, strlen(region))) < 0)
		return vt_error_wrap(err, "entry region");
	vt_hex_encode(sha, sha256->b, VT_HASH_SIZE);
	vt_hex_encode(cust, customer->b, VT_HASH_SIZE);
	sha[2 * VT_HASH_SIZE] = 0;
	cust[2 * VT_HASH_SIZE] = 0;
	err = vt_buf_printf(out,
			    "vitrine/1 %s\nsha256 %s\nsize %llu\njurisdiction %s\ncustomer %s\n"
			    "region %s\n",
			    is_sample ? "sample" : "sighting", sha, (unsigned long long)size,
			    jurisdiction, cust, region);
	if (err < 0)
		out->len = mark;
	return err;
}

/* ---- uploads ---------------------------------------------------------- */

int vt_intake_tags_parse(vt_buf *out, const char *field)
{
	char tag[VT_INDEX_TAG_MAX + 2];
	size_t mark = out->len;
	bool first = true;
	int err = 0;

	while (*field) {
		size_t n = strcspn(field, ", ");
		if (n > 0) {
			/* One byte past the limit is enough for the check to refuse it. */
			size_t k = n < sizeof(tag) - 1 ? n : sizeof(tag) - 1;
			memcpy(tag, field, k);
			tag[k] = 0;
			if ((err = vt_index_tag_check(tag)) < 0) {
				err = vt_error_wrap(err, "tag \"%.*s\"", (int)k, tag);
				break;
			}
			if ((!first && (err = vt_buf_addc(out, ' ')) < 0) ||
			    (err = vt_buf_add(out, tag, n)) < 0)
				break;
			first = false;
		}
		field += n;
		field += strspn(field, ", ");
	}
	if (err < 0)
		out->len = mark;
	return err;
}

int vt_intake_upload_new(vt_intake_upload **out, vt_intake *in, uint64_t max_size)
{
	vt_intake_upload *u;
	int err;

	*out = NULL;
	if ((u = calloc(1, sizeof(*u))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	u->in = in;
	u->max = max_size ? max_size : VT_INTAKE_DEFAULT_MAX_UPLOAD;
	if ((err = hasher_new(&u->h, false)) < 0 ||
	    (err = vt_vault_writer_new(&u->w, in->vault, in->jurisdiction)) < 0)
		goto done;
	*out = u;
	u = NULL;
done:
	vt_intake_upload_abort(u);
	return err;
}

int vt_intake_upload_write(vt_intake_upload *u, const void *data, size_t len)
{
	int err;

	if (u->failed)
		return vt_error_set(VT_EINVAL, "write to a failed upload");
	if (len > u->max - u->size) {
		u->failed = true;
		/* Drop what was written at once rather than at the end. */
		vt_vault_writer_abort(u->w);
		u->w = NULL;
		return vt_error_set(VT_ETOOBIG, "the file is larger than %llu bytes",
				    (unsigned long long)u->max);
	}
	if ((err = vt_intake_hasher_update(u->h, data, len)) < 0 ||
	    (err = vt_vault_writer_write(u->w, data, len)) < 0) {
		u->failed = true;
		return err;
	}
	u->size += len;
	return 0;
}

/* Tag sample with each tag of a list vt_intake_tags_parse() made. */
static int add_tags(vt_index *idx, const vt_hash *sample, const char *tags)
{
	char tag[VT_INDEX_TAG_MAX + 1];
	int err = 0;

	while (*tags && err == 0) {
		size_t n = strcspn(tags, " ");
		if (n >= sizeof(tag))
			return vt_error_set(VT_EINVAL, "a tag has 1 to %d characters",
					    VT_INDEX_TAG_MAX);
		memcpy(tag, tags, n);
		tag[n] = 0;
		err = vt_index_tag_add(idx, sample, tag);
		tags += n;
		tags += strspn(tags, " ");
	}
	return err;
}

static int count_published(const vt_index_sighting *s, void *payload)
{
	(void)s;
	++*(size_t *)payload;
	return 0;
}

static bool is_pending(const vt_intake *in, const vt_hash *h)
{
	for (size_t i = 0; i < in->npending; i++)
		if (vt_hash_equal(&in->pending[i], h))
			return true;
	return false;
}

/*
 * Under pending_mu: *out is DIR's log, read-only, opened on first use
 * (NULL while DIR has none yet). Once set it stays until vt_intake_close,
 * so the caller may read it after unlocking.
 */
static int open_log(vt_storage **out, vt_intake *in)
{
	int err = 0;

	if (!in->log && (err = vt_storage_posix_open(&in->log, in->dir, false)) == VT_ENOTFOUND) {
		vt_error_clear();
		err = 0;
	}
	*out = in->log;
	return err;
}

/* The size of log now (0 when DIR has none yet); any thread (storage.h: reads). */
static int read_size(uint64_t *out, vt_storage *log, const char *dir)
{
	vt_checkpoint c;
	const char *end;
	vt_buf note;
	int err = 0;

	*out = 0;
	vt_buf_init(&note, VT_NOTE_MAX_SIZE);
	if (!log)
		goto done;
	if ((err = vt_storage_get_checkpoint(log, &note)) < 0 ||
	    (err = vt_buf_addc(&note, '\0')) < 0)
		goto done;
	/* Our own file: its text is enough, the signature is the log's care. */
	if ((end = strstr((const char *)note.ptr, "\n\n")) == NULL ||
	    (err = vt_checkpoint_parse(&c, (const char *)note.ptr,
				       (size_t)(end + 1 - (const char *)note.ptr))) < 0) {
		err = vt_error_set(VT_ECORRUPT, "%s/log/checkpoint is not a checkpoint", dir);
		goto done;
	}
	*out = c.size;
done:
	if (err == VT_ENOTFOUND) {
		vt_error_clear();
		err = 0;
	}
	vt_buf_dispose(&note);
	return err;
}

/* The size of DIR's log now (0 when it has none yet), under pending_mu. */
static int log_size(uint64_t *out, vt_intake *in)
{
	vt_storage *log;
	int err;

	*out = 0;
	if ((err = open_log(&log, in)) < 0)
		return err;
	return read_size(out, log, in->dir);
}

struct find_ctx {
	const vt_hash *entry;
	uint64_t index;
};

static int find_entry(uint64_t index, const uint8_t *entry, size_t len, void *payload)
{
	struct find_ctx *x = payload;
	vt_hash h;
	int err;

	if ((err = vt_sha256(&h, entry, len)) < 0)
		return err;
	if (!vt_hash_equal(&h, x->entry))
		return 0;
	x->index = index;
	return 1;
}

struct beyond_ctx {
	const vt_hash *entry;
	uint64_t at;   /* index of the next entry the walk sees */
	unsigned skip; /* entries of the bundle that are published already */
};

static int find_beyond_entry(const uint8_t *entry, size_t len, void *payload)
{
	struct beyond_ctx *x = payload;
	vt_hash h;
	int err;

	if (x->skip > 0) {
		x->skip--;
		return 0;
	}
	if ((err = vt_sha256(&h, entry, len)) < 0)
		return err;
	if (vt_hash_equal(&h, x->entry))
		return 1;
	x->at++;
	return 0;
}

/* Read the entry bundle t from log into out (reset first). */
static int read_bundle(vt_buf *out, vt_storage *log, const vt_tile *t)
{
	char path[VT_TILE_PATH_MAX];
	int err;

	vt_buf_reset(out);
	if ((err = vt_tile_path(path, sizeof(path), t)) < 0)
		return err;
	return vt_storage_get(log, out, path);
}

/*
 * Without pending_mu: look for entry among the durable entries beyond the
 * published size that the log's recovery rolls forward before it
 * integrates anything else (find_unpublished() and recover() in
 * src/tlog/log.c): the full bundle at size, else its widest partial,
 * either extending the published one, then every full bundle after it.
 * A commit may fail after these are in place (storage.h), so an entry
 * the log refused can still be published by its next recovery. Returns
 * 1 with *index its position, 0 when it is not there, VT_ECORRUPT for a
 * bundle recovery would refuse too.
 */
static int find_beyond(uint64_t *index, vt_storage *log, const char *dir, uint64_t size,
		       const vt_hash *entry)
{
	struct beyond_ctx x = {.entry = entry, .at = size};
	unsigned have = (unsigned)(size % VT_TILE_WIDTH), w = 0;
	vt_buf pub, b;
	vt_tile t = {.entries = true, .index = size / VT_TILE_WIDTH};
	int err = 0;

	vt_buf_init(&pub, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	vt_buf_init(&b, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	if (!log)
		goto done; /* DIR has no log (open_log): nothing beyond */
	if (have > 0) {
		t.width = have;
		if ((err = read_bundle(&pub, log, &t)) < 0) {
			err = vt_error_wrap(err, "the published bundle %llu.p/%u",
					    (unsigned long long)t.index, have);
			goto done;
		}
	}
	for (;; t.index++, have = 0, vt_buf_reset(&pub)) {
		for (w = VT_TILE_WIDTH; w > have; w--) {
			t.width = w;
			if ((err = read_bundle(&b, log, &t)) != VT_ENOTFOUND)
				break;
			vt_error_clear();
			err = 0;
		}
		if (err < 0 || w == have)
			goto done;
		if (b.len < pub.len || memcmp(b.ptr, pub.ptr, pub.len) != 0) {
			err = vt_error_set(
			    VT_ECORRUPT,
			    "%s/log: bundle %llu.p/%u does not extend the published log", dir,
			    (unsigned long long)t.index, w);
			goto done;
		}
		x.skip = have;
		if ((err = vt_bundle_parse(b.ptr, b.len, w, find_beyond_entry, &x)) != 0) {
			if (err < 0)
				err = vt_error_wrap(err, "%s/log: bundle %llu", dir,
						    (unsigned long long)t.index);
			goto done;
		}
		if (w < VT_TILE_WIDTH)
			goto done;
	}
done:
	if (err == 1)
		*index = x.at;
	vt_buf_dispose(&pub);
	vt_buf_dispose(&b);
	return err;
}

/* Under pending_mu: sample has an upload of ours on its way (wait_settled waits for it). */
static int mark_pending(vt_intake *in, const vt_hash *sample)
{
	if (in->npending == in->cappending) {
		size_t cap = in->cappending ? 2 * in->cappending : 64;
		vt_hash *p = realloc(in->pending, cap * sizeof(*p));
		if (!p)
			return vt_error_set(VT_ENOMEM, "out of memory");
		in->pending = p;
		in->cappending = cap;
	}
	in->pending[in->npending++] = *sample;
	return 0;
}

/* Under pending_mu: undo mark_pending and wake the uploads waiting for it. */
static void unmark_pending(vt_intake *in, const vt_hash *sample)
{
	for (size_t i = 0; i < in->npending; i++)
		if (vt_hash_equal(&in->pending[i], sample)) {
			in->pending[i] = in->pending[--in->npending];
			break;
		}
	/* Waiters of other samples recheck and sleep again: settles are
	 * rare next to the uploads that wait. */
	pthread_cond_broadcast(&in->pending_cv);
}

/*
 * For tests only (tests/unit/test_intake.c): when set, settle_stale calls
 * it with pending_mu released, before it reads the log, so that a test can
 * hold a walk as long as it likes; a negative return stands for a failed
 * read. NULL otherwise.
 */
int (*vt_intake__settle_hook)(const vt_hash *sample);

/*
 * Without pending_mu: look for the pending entry p in log, published from
 * p->log_from on, then beyond the checkpoint (find_beyond). Returns 1 with
 * *index its position and *beyond whether no checkpoint covers it yet, 0
 * when it is in neither, or an error.
 */
static int find_pending(uint64_t *index, bool *beyond, vt_storage *log, const char *dir,
			const vt_index_sample_pending *p)
{
	struct find_ctx x = {.entry = &p->entry, .index = 0};
	vt_tlog_reader *r = NULL;
	uint64_t size = 0;
	int err, found = 0;

	*index = 0;
	*beyond = false;
	if ((err = read_size(&size, log, dir)) < 0)
		goto done;
	if (p->log_from < size) {
		if ((err = vt_tlog_reader_new(&r, size, vt_storage_fetch, log)) < 0)
			goto done;
		if ((found = vt_tlog_reader_walk(r, p->log_from, find_entry, &x)) < 0) {
			err = found;
			goto done;
		}
	}
	if (found == 1) {
		*index = x.index;
		goto done;
	}
	if ((found = find_beyond(index, log, dir, size, &p->entry)) < 0) {
		err = found;
		goto done;
	}
	/* The log may have published it since its size was read. */
	if (found == 1 && (err = read_size(&size, log, dir)) < 0)
		goto done;
	*beyond = found == 1 && *index >= size;
done:
	vt_tlog_reader_free(r);
	return err < 0 ? err : found;
}

/*
 * Under pending_mu, which it releases while it reads the log: a sample
 * with no published sighting and no upload of ours on its way. Settle its
 * pending `sample` entry, left by a dead process or refused by the log
 * (see the top of the file). *is_new: whether this upload must log
 * `sample`; *kept: the entry is durable beyond the published checkpoint,
 * so this upload is a `sighting` and the row stays pending. The row is not
 * resolved with the position the entry will have: a sighting with a
 * log_index stands for a published entry (its receipt is served, a
 * sighting makes later uploads sightings), which it is only once a signed
 * checkpoint covers it. A later settle, or vt_intake_recover at start,
 * resolves the row then; another upload's published sighting leaves it
 * (vt_index_sighting_add ends a row only with its own entry). Returns 1
 * when the sample had a row, 0 when not, or an error.
 *
 * The walk may cover millions of entries when the row lingered (a first
 * upload refused, the file uploaded again days later), so it runs
 * unlocked: every other upload and settle goes on meanwhile. The sample
 * is marked as on its way for that time, so that uploads of the same file
 * wait in wait_settled and vt_intake_recover skips it, as for a first
 * upload; the mark goes whatever the outcome. Only uploads of other files
 * change the index or the log's size meanwhile, neither of which this
 * decision rests on (the log only grows: an entry found stays found).
 */
static int settle_stale(bool *is_new, bool *kept, vt_intake *in, const vt_hash *sample)
{
	vt_index_sample_pending p;
	vt_storage *log = NULL;
	uint64_t at = 0;
	bool beyond = false;
	int err, found = 0;

	*is_new = true;
	*kept = false;
	if ((err = vt_index_sample_pending_get(&p, in->idx, sample)) == VT_ENOTFOUND) {
		vt_error_clear();
		return 0; /* none: the first upload failed before it was to be logged */
	}
	if (err < 0 || (err = open_log(&log, in)) < 0 || (err = mark_pending(in, sample)) < 0)
		goto done;
	pthread_mutex_unlock(&in->pending_mu);
	if (!vt_intake__settle_hook || (found = vt_intake__settle_hook(sample)) == 0)
		found = find_pending(&at, &beyond, log, in->dir, &p);
	pthread_mutex_lock(&in->pending_mu);
	unmark_pending(in, sample);
	if (found < 0) {
		err = found;
		goto done;
	}
	if (found == 1 && beyond) {
		*is_new = false;
		*kept = true;
		err = 1;
		goto done;
	}
	if ((err = vt_index_sample_pending_resolve(in->idx, sample,
						   found == 1 ? (int64_t)at : -1)) < 0)
		goto done;
	*is_new = found != 1;
	err = 1;
done:
	return err;
}

/*
 * Holds pending_mu between samples only: settle_stale releases it for each
 * walk, so a recover running while uploads come in stalls none of them
 * (serve calls it before it listens; it need not stay so). A sample
 * settled by an upload between the listing and its turn has no row any
 * more: counted in neither.
 */
int vt_intake_recover(vt_intake *in, size_t *found, size_t *dropped)
{
	vt_hash *v = NULL;
	size_t n = 0;
	int err;

	*found = *dropped = 0;
	pthread_mutex_lock(&in->pending_mu);
	if ((err = vt_index_sample_pending_samples(&v, &n, in->idx)) < 0)
		goto done;
	for (size_t i = 0; i < n && err >= 0; i++) {
		bool is_new, kept;
		if (is_pending(in, &v[i]))
			continue; /* an upload of ours is on its way */
		/* One beyond the checkpoint stays pending: counted in neither. */
		if ((err = settle_stale(&is_new, &kept, in, &v[i])) == 1 && !kept)
			++*(is_new ? dropped : found);
	}
	if (err > 0)
		err = 0;
done:
	pthread_mutex_unlock(&in->pending_mu);
	free(v);
	return err;
}

/* Under pending_mu: wait until no upload has sample's `sample` entry on its way. */
static int wait_settled(vt_intake *in, const vt_hash *sample)
{
	struct timespec until;
	int rc = 0;

	if (!is_pending(in, sample))
		return 0;
	until = vt_timespec_after(CLOCK_MONOTONIC, in->wait_ms);
	while (is_pending(in, sample) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&in->pending_cv, &in->pending_mu, &until);
	if (is_pending(in, sample))
		return vt_error_set(
		    VT_EBUSY,
		    "the first upload of this file is still being logged after %u ms: "
		    "retry later",
		    in->wait_ms);
	return 0;
}

/*
 * Record the sample in the index, decide its entry and write it into
 * res->entry. A sample is new when the index did not know it, and also
 * when it knew it but no submission of it was ever published: the
 * `sample` entry of its first upload never made it (the log refused it
 * and holds no durable copy to roll forward, or the process died first),
 * so this upload logs it. While an upload of
 * this process has the `sample` entry on its way, the decision waits for
 * it to settle: a `sighting` logged before then could precede its
 * `sample` entry, or outlive it if the log refused it. A `sample` entry
 * is recorded as pending, with the whole submission, before it is
 * returned. Under pending_mu, so that of concurrent first uploads exactly
 * one logs `sample`; settle_stale releases it while it walks the log,
 * with the sample marked as on its way, so uploads of this file wait and
 * others go on.
 */
static int record(vt_intake_result *res, vt_intake *in, const vt_index_sample *s,
		  const vt_intake_submission *sub, const char *tags, const vt_hash *customer)
{
	vt_index_sample_pending *sp = NULL;
	size_t published = 0;
	bool kept;
	int err;

	pthread_mutex_lock(&in->pending_mu);
	if ((err = vt_index_sample_put(&res->sample, &res->is_new, in->idx, s)) < 0)
		goto done;
	if (!res->is_new) {
		if ((err = wait_settled(in, &s->sha256)) < 0)
			goto done;
		/* Sightings are indexed only once their entry is published. */
		if ((err = vt_index_sightings_list(in->idx, &s->sha256, NULL, count_published,
						   &published)) < 0)
			goto done;
		/* No upload of ours has it on its way now (waited above), so
		 * the mark settle_stale puts while it walks the log is its
		 * only one. */
		if (published == 0 && (err = settle_stale(&res->is_new, &kept, in, &s->sha256)) < 0)
			goto done;
	}
	if ((err = vt_intake_entry(&res->entry, res->is_new, &s->sha256, s->size, in->jurisdiction,
				   customer, sub->region)) < 0)
		goto done;
	if (res->is_new) {
		/* Durable before the caller submits it: the log's size now is
		 * a lower bound of the entry's index. (On the heap: the row
		 * holds 4 KiB of tags.) */
		if ((sp = calloc(1, sizeof(*sp))) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		sp->sample = s->sha256;
		snprintf(sp->tenant, sizeof(sp->tenant), "%s", sub->tenant);
		snprintf(sp->region, sizeof(sp->region), "%s", sub->region);
		snprintf(sp->name, sizeof(sp->name), "%s", sub->name ? sub->name : "");
		snprintf(sp->source, sizeof(sp->source), "%s", sub->source ? sub->source : "");
		snprintf(sp->tags, sizeof(sp->tags), "%s", tags);
		if ((err = log_size(&sp->log_from, in)) < 0 ||
		    (err = vt_sha256(&sp->entry, res->entry.ptr, res->entry.len)) < 0 ||
		    (err = vt_index_sample_pending_put(in->idx, sp)) < 0)
			goto done;
		if ((err = mark_pending(in, &s->sha256)) < 0)
			goto done;
		res->pending = true;
	}
done:
	pthread_mutex_unlock(&in->pending_mu);
	free(sp);
	return err;
}

void vt_intake_settle(vt_intake *in, vt_intake_result *res)
{
	if (!res->pending)
		return;
	pthread_mutex_lock(&in->pending_mu);
	unmark_pending(in, &res->d.sha256);
	pthread_mutex_unlock(&in->pending_mu);
	res->pending = false;
}

int vt_intake_upload_finish(vt_intake_result *res, vt_intake_upload *u,
			    const vt_intake_submission *sub)
{
	const char *tenant = sub->tenant, *region = sub->region;
	vt_index_sample s;
	vt_hash id, customer;
	vt_buf tags;
	double t0;
	int err;

	memset(res, 0, sizeof(*res));
	vt_buf_init(&res->entry, VT_ENTRY_MAX);
	vt_buf_init(&tags, VT_INDEX_TAGS_MAX + 1);
	if (u->failed) {
		err = vt_error_set(VT_EINVAL, "the upload failed earlier");
		goto done;
	}
	if (u->size == 0) {
		err = vt_error_set(VT_EINVAL, "the file is empty");
		goto done;
	}
	if ((err = vt_intake_customer(&customer, u->in->secret, tenant)) < 0 ||
	    (err = vt_policy_check_region(region, strlen(region))) < 0 ||
	    (err = vt_intake_tags_parse(&tags, sub->tags ? sub->tags : "")) < 0)
		goto done;
	if ((err = vt_intake_hasher_final(&res->d, u->h)) < 0)
		goto done;
	res->d.size = u->size;
	/* The writer is freed by finish, whatever it returns. */
	t0 = vt_monotonic_seconds();
	err = vt_vault_writer_finish(&id, &res->stored, u->w);
	u->w = NULL;
	res->vault_seconds = vt_monotonic_seconds() - t0;
	if (err < 0)
		goto done;
	res->d.sha256 = id;
	memset(&s, 0, sizeof(s));
	s.sha256 = res->d.sha256;
	memcpy(s.sha1, res->d.sha1, VT_SHA1_SIZE);
	memcpy(s.md5, res->d.md5, VT_MD5_SIZE);
	s.size = res->d.size;
	snprintf(s.jurisdiction, sizeof(s.jurisdiction), "%s", u->in->jurisdiction);
	t0 = vt_monotonic_seconds();
	if ((err = record(res, u->in, &s, sub, vt_buf_cstr(&tags), &customer)) == 0)
		err = add_tags(u->in->idx, &s.sha256, vt_buf_cstr(&tags));
	res->index_seconds = vt_monotonic_seconds() - t0;
done:
	if (err < 0)
		vt_intake_settle(u->in, res);
	vt_buf_dispose(&tags);
	vt_intake_upload_abort(u);
	return err;
}

void vt_intake_upload_abort(vt_intake_upload *u)
{
	if (!u)
		return;
	vt_vault_writer_abort(u->w);
	vt_intake_hasher_free(u->h);
	free(u);
}

void vt_intake_result_dispose(vt_intake_result *res)
{
	vt_buf_dispose(&res->entry);
}
