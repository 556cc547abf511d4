/* SPDX-License-Identifier: Apache-2.0 */
/* Sample intake: residency decision, streaming hashes into the vault, and the sample/sighting
 * entries. */
#ifndef VITRINE_INTAKE_H
#define VITRINE_INTAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"
#include "vitrine/index.h"
#include "vitrine/policy.h"

/*
 * What a site needs to take customer files: its jurisdiction
 * (DIR/jurisdiction), its vault, its index, the residency policy in force
 * (DIR/policy, verified under DIR/policy.vkey, re-read when the file
 * changes so an adoption counts at the next request) and the site secret
 * under which customers are named in the log (DIR/site.secret).
 *
 * Thread-safe: any number of uploads may run at once, one thread each.
 */
typedef struct vt_intake vt_intake;

/* Size of the site secret in DIR/site.secret. */
#define VT_INTAKE_SECRET_SIZE 32
/* Default upload limit: 256 MiB of file content. */
#define VT_INTAKE_DEFAULT_MAX_UPLOAD ((uint64_t)256 * 1024 * 1024)
/*
 * Default longest wait of an upload for the `sample` entry of the same
 * file that another upload has on its way to the log (vt_intake_set_wait).
 */
#define VT_INTAKE_DEFAULT_WAIT_MS 10000

/*
 * Open the intake of the site in dir, reading through idx (borrowed, must
 * outlive the intake). Creates DIR/site.secret (32 random bytes, mode
 * 0600) on first use. VT_ENOTFOUND when the site has no jurisdiction or no
 * vault (it then serves the log only), VT_EINVAL for a malformed
 * jurisdiction, VT_EDENIED when site.secret is readable by group or
 * others, VT_ECORRUPT when it is not 32 bytes, VT_EIO, VT_ENOMEM.
 */
int vt_intake_open(vt_intake **out, const char *dir, vt_index *idx);

/* Close the intake (NULL is fine). No upload may be running. */
void vt_intake_close(vt_intake *in);

/*
 * How long vt_intake_upload_finish() waits, at most, for the `sample`
 * entry of the same file that another upload has on its way (0: the
 * default, VT_INTAKE_DEFAULT_WAIT_MS). Call before uploads start.
 */
void vt_intake_set_wait(vt_intake *in, unsigned ms);

/* The site's jurisdiction (borrowed). */
const char *vt_intake_jurisdiction(const vt_intake *in);

/* The site's vault the intake writes to (borrowed; valid until vt_intake_close). */
struct vt_vault *vt_intake_vault(vt_intake *in);

/*
 * Read DIR/site.secret, creating it first when absent (atomically: two
 * processes agree on one secret). Errors as vt_intake_open().
 */
int vt_intake_secret_load(uint8_t out[VT_INTAKE_SECRET_SIZE], const char *dir);

/* A residency decision for one upload. */
typedef struct {
	vt_policy_place place;
	char
	    jurisdiction[VT_JURISDICTION_MAX + 1]; /* the site that must hold it ("" for nowhere) */
	char url[VT_POLICY_URL_MAX + 1];	   /* its base URL ("" unless ELSEWHERE) */
	char reason[512];			   /* one line for people */
} vt_intake_decision;

/*
 * Decide where data of region must go, seen from the site of jurisdiction
 * here, under policy p (NULL when no policy is adopted: nowhere). Pure.
 * Returns 0.
 */
int vt_intake_decide(vt_intake_decision *out, const vt_policy *p, const char *region,
		     const char *here);

/*
 * vt_intake_decide() under the policy in force at the site, re-read when
 * DIR/policy changed. A policy file that does not verify or parse counts
 * as no policy (nothing is accepted) and returns VT_EVERIFY/VT_EINVAL
 * with the decision still filled (NOWHERE).
 */
int vt_intake_residency(vt_intake_decision *out, vt_intake *in, const char *region);

/* The digests and size of a file. */
typedef struct {
	vt_hash sha256;
	uint8_t sha1[VT_SHA1_SIZE];
	uint8_t md5[VT_MD5_SIZE];
	uint64_t size;
} vt_intake_digests;

/* Streaming SHA-256, SHA-1 and MD5 (OpenSSL EVP) of one file. */
typedef struct vt_intake_hasher vt_intake_hasher;

/* New hasher. VT_ENOMEM, VT_EIO (OpenSSL refused a digest). */
int vt_intake_hasher_new(vt_intake_hasher **out);
/* Feed len bytes. VT_EIO. */
int vt_intake_hasher_update(vt_intake_hasher *h, const void *data, size_t len);
/* Finish into *out; the hasher is then spent (free it). VT_EIO. */
int vt_intake_hasher_final(vt_intake_digests *out, vt_intake_hasher *h);
/* Free (NULL is fine). */
void vt_intake_hasher_free(vt_intake_hasher *h);

/*
 * The log name of a customer: HMAC-SHA256 of the tenant id under the site
 * secret. VT_EINVAL for a bad tenant id, VT_EIO.
 */
int vt_intake_customer(vt_hash *out, const uint8_t secret[VT_INTAKE_SECRET_SIZE],
		       const char *tenant);

/*
 * Append the canonical `sample` (is_sample) or `sighting` entry
 * (docs/entries.md):
 *
 *   vitrine/1 sample
 *   sha256 <64 hex>
 *   size <N>
 *   jurisdiction <J>
 *   customer <64 hex>
 *   region <R>
 *
 * VT_EINVAL for a bad jurisdiction or region, VT_ENOMEM; out unchanged then.
 */
int vt_intake_entry(vt_buf *out, bool is_sample, const vt_hash *sha256, uint64_t size,
		    const char *jurisdiction, const vt_hash *customer, const char *region);

/*
 * One upload: the file's bytes go to a vault writer and the hasher as they
 * arrive, and nothing is stored unless vt_intake_upload_finish() succeeds.
 */
typedef struct vt_intake_upload vt_intake_upload;

/*
 * Start an upload of at most max_size bytes (0: the default). Call only
 * after the residency decision said HERE. VT_EIO, VT_ENOMEM.
 */
int vt_intake_upload_new(vt_intake_upload **out, vt_intake *in, uint64_t max_size);

/* Feed len bytes. VT_ETOOBIG past max_size (the upload is then spent), VT_EIO. */
int vt_intake_upload_write(vt_intake_upload *u, const void *data, size_t len);

/*
 * Read a tags field (tags separated by commas or spaces, each as
 * vt_index_tag_check() says) and append its tags to out, separated by
 * single spaces (nothing for an empty field). VT_EINVAL naming the bad
 * tag, VT_ETOOBIG past out's maximum; out unchanged then. Pure.
 */
int vt_intake_tags_parse(vt_buf *out, const char *field);

/* Who submitted a file, and what they said of it. Strings are borrowed for the call. */
typedef struct {
	const char *tenant; /* the customer id, from the token */
	const char *region; /* the customer's region */
	const char *name;   /* file name as submitted; NULL or "" for none */
	const char *source; /* detection that flagged it; NULL or "" for none */
	const char *tags;   /* a tags field (vt_intake_tags_parse); NULL or "" for none */
} vt_intake_submission;

/* What finishing an upload did. */
typedef struct {
	vt_intake_digests d;
	bool is_new;		/* a `sample` entry (the site's first published submission) */
	bool pending;		/* is_new, and awaiting vt_intake_settle() */
	bool stored;		/* this upload wrote the vault object */
	vt_index_sample sample; /* the index record (first_seen etc.) */
	vt_buf entry;		/* the entry text to log; dispose with vt_intake_result_dispose() */
	double vault_seconds;	/* in the vault's commit of the object (fsyncs, link) */
	double index_seconds;	/* recording it in the index, waits for other uploads included */
} vt_intake_result;

/*
 * Commit: the vault object (deduplicated), the index record, the sample's
 * tags, and the entry text for the submission sub: `sample` when the site
 * has no published submission of the file, else `sighting`. When another
 * upload of this process has the file's `sample` entry on its way, this
 * one waits until that upload is settled (vt_intake_settle) and decides
 * then: published, `sighting`; refused, this upload logs `sample`. So a
 * `sighting` is only ever returned once the file's `sample` entry is in
 * the log. A `sample` entry is recorded as pending in the index with the
 * whole submission (tenant, region, name, source, tags), so that a crash
 * before its sighting is indexed loses none of it (vt_intake_recover).
 * u is freed whatever the result. VT_EINVAL for an empty file or a bad
 * tenant, region, name, source or tag, VT_EEXISTS when the content is
 * held for another jurisdiction, VT_EBUSY when the wait took longer than
 * vt_intake_set_wait() allows (retry later; the file is stored, nothing
 * is to be logged), VT_EIO, VT_ENOMEM.
 */
int vt_intake_upload_finish(vt_intake_result *res, vt_intake_upload *u,
			    const vt_intake_submission *sub);

/*
 * After the entry of a finished upload was published and its sighting
 * indexed, or was refused: the sample is no longer "on its way", and the
 * uploads of the same file waiting in vt_intake_upload_finish() go on. A
 * sample the index knows but whose `sample` entry was never published is
 * new again for the next upload, so every stored sample gets its
 * `sample` entry even when the log refused the first one. Whether it was
 * published is read from the index and, when its sighting is missing,
 * from the log: index the sighting before settling. Call it exactly once
 * for every result with pending set (more calls do nothing).
 */
void vt_intake_settle(vt_intake *in, vt_intake_result *res);

/*
 * At start, before any upload: settle every pending `sample` entry that a
 * process which died left behind, by looking for it in the log's tail.
 * Found: the lost sighting is indexed at its entry (*found counts them);
 * not found: the row goes (*dropped), and the next upload of that file
 * logs `sample`. Without this, a file stays without a published sighting
 * until it is uploaded again. VT_EIO, VT_ENOMEM.
 */
int vt_intake_recover(vt_intake *in, size_t *found, size_t *dropped);

/* Drop an upload (NULL is fine): nothing is stored. */
void vt_intake_upload_abort(vt_intake_upload *u);

/* Free what res holds. */
void vt_intake_result_dispose(vt_intake_result *res);

#endif
