/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The metadata index of a site: samples, sightings, tags, tokens and
 * access requests in SQLite (DIR/index.sqlite), the embedded default.
 *
 * The file is in WAL mode with foreign keys on and a busy timeout, so
 * several processes (the server, `vitrine token ...`) share it. Its schema
 * is versioned by PRAGMA user_version and brought up to date on open, one
 * migration step after another in a single transaction; a database newer
 * than this code is refused. docs/index.md has the tables.
 *
 * Thread safety: a vt_index may be used by any number of threads at once.
 * Writes go through one connection under a mutex (SQLite has one writer
 * anyway); reads take a connection from a pool, one per thread reading at
 * that moment, so lookups and token checks run in parallel.
 *
 * Times are Unix seconds. Hashes are raw bytes; vt_index_key_parse() reads
 * the hex forms that clients send.
 */
#ifndef VITRINE_INDEX_H
#define VITRINE_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/hash.h"
#include "vitrine/token.h"

#define VT_INDEX_SCHEMA_VERSION	  1 /* the newest schema this code knows */
#define VT_SHA1_SIZE		  20
#define VT_MD5_SIZE		  16
#define VT_INDEX_JURISDICTION_MAX 11  /* as VT_JURISDICTION_MAX in policy.h */
#define VT_INDEX_NAME_MAX	  255 /* bytes of a submitted file name */
#define VT_INDEX_SOURCE_MAX	  128 /* bytes of a source detection name */
#define VT_INDEX_TAG_MAX	  64
#define VT_INDEX_LOOKUP_MAX	  10000 /* keys in one vt_index_lookup_many() */
#define VT_INDEX_RESOURCE_MAX	  255
#define VT_INDEX_WORD_MAX	  32 /* reason and result codes */
#define VT_INDEX_TICKET_MAX	  64

typedef struct vt_index vt_index;

/* A sample as the index knows it. Plain value. */
typedef struct {
	vt_hash sha256; /* the key: SHA-256 of the plaintext */
	uint8_t sha1[VT_SHA1_SIZE];
	uint8_t md5[VT_MD5_SIZE];
	uint64_t size;
	int64_t first_seen;				  /* when this site first stored it */
	char jurisdiction[VT_INDEX_JURISDICTION_MAX + 1]; /* where it is held */
} vt_index_sample;

/* A hash to look a sample up by: SHA-256, SHA-1 or MD5 by its length. */
typedef struct {
	uint8_t b[VT_HASH_SIZE];
	uint8_t len; /* 32, 20 or 16 */
} vt_index_key;

/* One answer of vt_index_lookup_many(). */
typedef struct {
	bool found;
	vt_index_sample sample; /* zero when not found */
} vt_index_hit;

/* One submission of a sample by a customer. Plain value. */
typedef struct {
	int64_t id; /* set by the index */
	vt_hash sample;
	char tenant[VT_TENANT_MAX + 1];	      /* the customer id, from the token */
	char region[VT_TOKEN_REGION_MAX + 1]; /* the customer's region */
	char name[VT_INDEX_NAME_MAX + 1];     /* file name as submitted; may be "" */
	char source[VT_INDEX_SOURCE_MAX + 1]; /* detection that flagged it; may be "" */
	int64_t time;			      /* 0: now */
	int64_t log_index;		      /* its `sample` or `sighting` entry; -1: none */
} vt_index_sighting;

/* One request for customer data, granted or refused. Plain value. */
typedef struct {
	int64_t id;				  /* set by the index */
	int64_t token_id;			  /* 0 when no valid token was presented */
	char role[VT_TOKEN_ROLE_MAX + 1];	  /* "" when no valid token */
	char resource[VT_INDEX_RESOURCE_MAX + 1]; /* such as "files/<sha256>/content" */
	char reason[VT_INDEX_WORD_MAX + 1];	  /* may be "" (refused for that) */
	char ticket[VT_INDEX_TICKET_MAX + 1];	  /* may be "" */
	char result[VT_INDEX_WORD_MAX + 1];	  /* such as "granted", "no-reason" */
	int64_t time;				  /* 0: now */
	int64_t log_index;			  /* its `access` entry; -1: none */
} vt_index_access;

/*
 * Open DIR/index.sqlite, creating it when missing, and migrate its schema
 * to VT_INDEX_SCHEMA_VERSION. A DIR/tokens file of an older vitrine is
 * imported once and renamed DIR/tokens.imported (docs/index.md).
 * VT_EINVAL for a schema newer than this code, VT_ECORRUPT for a file that
 * is not a vitrine index or is damaged, VT_EBUSY when another process
 * holds the write lock past the busy timeout, VT_EIO, VT_ENOMEM.
 */
int vt_index_open(vt_index **out, const char *dir);

/* Close the index (NULL is fine). No other call on it may be running. */
void vt_index_close(vt_index *idx);

/* The schema version of the open file (VT_INDEX_SCHEMA_VERSION). */
int vt_index_schema_version(const vt_index *idx);

/*
 * Check the whole file (SQLite's quick_check and foreign keys): 0, or
 * VT_ECORRUPT naming the first problem. Reads every page: for fsck, not
 * for every open.
 */
int vt_index_check(vt_index *idx);

/*
 * Read a hash in hex: 64 (SHA-256), 40 (SHA-1) or 32 (MD5) hex digits, in
 * either case. VT_EINVAL otherwise.
 */
int vt_index_key_parse(vt_index_key *out, const char *hex, size_t len);

/*
 * Record a sample, or find it recorded. *is_new tells whether this call
 * stored it; *out gets the stored record (for a known sample, its original
 * first_seen and jurisdiction). s->first_seen 0 means now. Of concurrent
 * calls with the same SHA-256 (threads or processes) exactly one sees
 * *is_new true. VT_EINVAL for a bad jurisdiction, VT_EEXISTS when the
 * known sample has other SHA-1, MD5 or size (a caller bug, or a SHA-256
 * collision), VT_EBUSY, VT_EIO.
 */
int vt_index_sample_put(vt_index_sample *out, bool *is_new, vt_index *idx,
			const vt_index_sample *s);

/*
 * Find a sample by any of its hashes. For SHA-1 and MD5, which may be
 * shared by several samples, the one with the lowest SHA-256 is returned.
 * VT_ENOTFOUND, VT_EINVAL for a bad key length, VT_EIO.
 */
int vt_index_sample_get_by_hash(vt_index_sample *out, vt_index *idx, const vt_index_key *key);

/*
 * Look n keys up at once, in one read transaction (a consistent snapshot):
 * out[i] answers keys[i]. n at most VT_INDEX_LOOKUP_MAX (VT_ETOOBIG);
 * VT_EINVAL for a bad key length (nothing is answered then).
 */
int vt_index_lookup_many(vt_index_hit *out, vt_index *idx, const vt_index_key *keys, size_t n);

/*
 * Record a sighting of a known sample; *out_id (may be NULL) gets its id.
 * tenant and region are required; name and source may not hold control
 * characters. VT_EINVAL, VT_ENOTFOUND when the sample is not recorded.
 */
int vt_index_sighting_add(int64_t *out_id, vt_index *idx, const vt_index_sighting *s);

/*
 * Call fn for each sighting of sample, oldest first; with tenant non-NULL
 * only that tenant's (how a submitter's view is limited). fn's record is
 * valid during the call. A non-zero return of fn stops and is returned.
 * Do not call other vt_index functions from fn (it runs inside a read).
 */
int vt_index_sightings_list(vt_index *idx, const vt_hash *sample, const char *tenant,
			    int (*fn)(const vt_index_sighting *s, void *payload), void *payload);

/*
 * Tag a recorded sample (idempotent). A tag has 1 to 64 of letters,
 * digits and "-_.:/". VT_EINVAL, VT_ENOTFOUND for an unknown sample.
 */
int vt_index_tag_add(vt_index *idx, const vt_hash *sample, const char *tag);

/* Call fn for each tag of sample, in byte order. Rules of sightings_list. */
int vt_index_tags_list(vt_index *idx, const vt_hash *sample,
		       int (*fn)(const char *tag, void *payload), void *payload);

/*
 * Record a request for customer data, granted or refused. resource and
 * result are required. VT_EINVAL, VT_EIO.
 */
int vt_index_access_add(int64_t *out_id, vt_index *idx, const vt_index_access *a);

/*
 * Make a token: check the binding rule (vt_token_check_binding), draw the
 * secret, store its SHA-256 durably, and write the secret (NUL terminated)
 * into secret_out[VT_TOKEN_LEN + 1] and the record into *out (may be
 * NULL). tenant and region may be NULL. VT_EINVAL, VT_EEXISTS when a valid
 * token already has the name, VT_EIO.
 */
int vt_index_token_create(vt_token *out, char *secret_out, vt_index *idx, const char *role,
			  const char *name, const char *tenant, const char *region);

/*
 * Authenticate a secret (see vt_tokens_lookup): 0 with *out, VT_EDENIED
 * for a malformed, unknown or revoked secret, VT_EIO and the like when the
 * database cannot answer. One prepared, indexed lookup per call.
 */
int vt_index_token_check(vt_token *out, vt_index *idx, const char *secret, size_t len);

/*
 * Find a token by its id (all digits) or by name (the valid token of that
 * name, else the latest revoked one). VT_ENOTFOUND.
 */
int vt_index_token_get(vt_token *out, vt_index *idx, const char *id_or_name);

/* Call fn for each token, by id, revoked ones included. Rules of
 * sightings_list. */
int vt_index_token_list(vt_index *idx, int (*fn)(const vt_token *t, void *payload), void *payload);

/*
 * Revoke a token by id or name, durably; from then on checks refuse it.
 * *out (may be NULL) gets the revoked record. VT_ENOTFOUND, VT_EEXISTS
 * when it was already revoked.
 */
int vt_index_token_revoke(vt_token *out, vt_index *idx, const char *id_or_name);

#endif
