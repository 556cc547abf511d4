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

#define VT_INDEX_SCHEMA_VERSION	  5 /* the newest schema this code knows */
#define VT_SHA1_SIZE		  20
#define VT_MD5_SIZE		  16
#define VT_INDEX_JURISDICTION_MAX 11  /* as VT_JURISDICTION_MAX in policy.h */
#define VT_INDEX_NAME_MAX	  255 /* bytes of a submitted file name */
#define VT_INDEX_SOURCE_MAX	  128 /* bytes of a source detection name */
#define VT_INDEX_TAG_MAX	  64
#define VT_INDEX_TAGS_MAX	  4096	/* bytes of a submission's tags, space separated */
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
	char verdict[16];	/* of its latest analysis; "" when none yet */
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
	/* SHA-256 of that entry: adding the sighting ends the sample's
	 * pending `sample` entry only if it is that entry (all zero: any). */
	vt_hash entry;
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
 * A `sample` entry recorded before it is handed to the log, so that after
 * a crash the next upload of the file can tell whether it got there
 * (docs/index.md, "Exactly one sample entry"). Plain value.
 */
typedef struct {
	vt_hash sample;
	vt_hash entry;			/* SHA-256 of the entry's bytes */
	uint64_t log_from;		/* the log's size before it was submitted */
	char tenant[VT_TENANT_MAX + 1]; /* the submission it stands for */
	char region[VT_TOKEN_REGION_MAX + 1];
	char name[VT_INDEX_NAME_MAX + 1];     /* may be "" (schema 5; "" in rows of 4) */
	char source[VT_INDEX_SOURCE_MAX + 1]; /* may be "" (schema 5) */
	char tags[VT_INDEX_TAGS_MAX + 1];     /* separated by spaces; may be "" (schema 5) */
	int64_t time;			      /* 0: now */
} vt_index_sample_pending;

/*
 * Record the pending `sample` entry of a recorded sample, replacing any
 * earlier one. name and source may not hold control characters, each tag
 * of tags follows vt_index_tag_check(). VT_ENOTFOUND when the sample is
 * not recorded, VT_EINVAL, VT_EIO.
 */
int vt_index_sample_pending_put(vt_index *idx, const vt_index_sample_pending *p);

/* The pending `sample` entry of sample. VT_ENOTFOUND when it has none. */
int vt_index_sample_pending_get(vt_index_sample_pending *out, vt_index *idx, const vt_hash *sample);

/*
 * The samples that have a pending `sample` entry, in SHA-256 order, as a
 * malloc'd array (free it; NULL when none). VT_ENOMEM, VT_EIO.
 */
int vt_index_sample_pending_samples(vt_hash **out, size_t *n, vt_index *idx);

/*
 * Settle the pending `sample` entry of sample in one transaction:
 * log_index >= 0 says it is in the log there, and records the sighting it
 * stands for (tenant, region, name, source and time of the row) with that
 * index and tags the sample with the row's tags; -1 says it never got
 * there. Either way the row goes. VT_ENOTFOUND when the sample has none,
 * VT_EIO.
 */
int vt_index_sample_pending_resolve(vt_index *idx, const vt_hash *sample, int64_t log_index);

/*
 * Record a sighting of a known sample; *out_id (may be NULL) gets its id.
 * With log_index >= 0 its entry is published, and the sample's pending
 * `sample` entry (if any) is dropped in the same transaction: a published
 * submission settles whether the sample is new.
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
 * Check one tag: 1 to 64 of letters, digits and "-_.:/". 0, or VT_EINVAL
 * naming the rule. Pure.
 */
int vt_index_tag_check(const char *tag);

/*
 * Tag a recorded sample (idempotent). A tag follows vt_index_tag_check().
 * VT_EINVAL, VT_ENOTFOUND for an unknown sample.
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

/* ---- analyses (schema version 2; docs/index.md, docs/analysis.md) ---- */

#define VT_INDEX_RULE_MAX    256  /* bytes of "namespace:identifier" */
#define VT_INDEX_PATH_MAX    1024 /* bytes of a member path ("a.zip!b/c") */
#define VT_INDEX_REPORT_MAX  ((size_t)8 << 20)
#define VT_INDEX_QUERY_TERMS 16
#define VT_INDEX_QUERY_TEXT  160

/* A member found inside a container sample. Plain value. */
typedef struct {
	vt_hash child;
	char path[VT_INDEX_PATH_MAX + 1];
} vt_index_child;

/*
 * The result of analysing one sample, to store. Strings are borrowed for
 * the call. ruleset is the digest in hex, "" without rules. log_index is
 * the `analysis` entry that logged this verdict, or -1 to keep the one
 * already stored (an unchanged verdict is not logged again).
 */
typedef struct {
	vt_hash sample;
	const char *ruleset;
	const char *verdict;
	const char *type, *mime, *ssdeep, *tlsh; /* NULL or "" for none */
	double entropy;
	const char *report; /* the JSON report (vt_analysis_result_json) */
	int64_t analysed;   /* 0: now */
	int64_t log_index;
	const char *const *rules; /* "namespace:identifier", the whole tree's */
	size_t nrules;
	const vt_index_child *children;
	size_t nchildren;
} vt_index_analysis;

/* A stored analysis as read back. report is malloc'd (free it). */
typedef struct {
	char ruleset[65];
	char verdict[16];
	char type[512], mime[128], ssdeep[160], tlsh[80]; /* "" for none */
	double entropy;
	int64_t analysed;
	int64_t log_index; /* -1: none */
	char *report;
} vt_index_analysis_row;

/*
 * Store n analyses in one transaction: each replaces the sample's
 * analysis, its rule matches and its children, and takes it off the
 * queue. VT_EINVAL for a bad field, VT_ENOTFOUND when a sample is not
 * recorded (nothing is stored then), VT_EIO.
 */
int vt_index_analysis_put(vt_index *idx, const vt_index_analysis *a, size_t n);

/*
 * The stored analysis of sample into *out (dispose with
 * vt_index_analysis_row_dispose). VT_ENOTFOUND when it has none.
 */
int vt_index_analysis_get(vt_index_analysis_row *out, vt_index *idx, const vt_hash *sample);

/* Free what a row holds. */
void vt_index_analysis_row_dispose(vt_index_analysis_row *r);

/*
 * Call fn for each matched rule of sample ("namespace:identifier"), then
 * (with children non-NULL) children for each member. Rules of
 * sightings_list.
 */
int vt_index_analysis_list(vt_index *idx, const vt_hash *sample,
			   int (*rule)(const char *rule, void *payload),
			   int (*child)(const vt_index_child *c, void *payload), void *payload);

/*
 * The queue of new work: samples recorded and never analysed, and those
 * asked for again (vt_index_analysis_requeue), first the asked, then by
 * when they were queued. Up to max hashes into out, *n how many. The
 * queue is a table: a sample stays in it until its analysis is stored,
 * so a crash loses nothing. Thread-safe.
 */
int vt_index_analysis_queue(vt_hash *out, size_t *n, vt_index *idx, size_t max);

/*
 * The retro-scan: samples whose stored analysis was made with another
 * ruleset than ruleset, after *after in SHA-256 order (NULL: from the
 * start). Up to max into out, *n how many.
 */
int vt_index_analysis_stale(vt_hash *out, size_t *n, vt_index *idx, const char *ruleset,
			    const vt_hash *after, size_t max);

/*
 * Put a recorded sample at the front of the queue. VT_ENOTFOUND for an
 * unknown sample.
 */
int vt_index_analysis_requeue(vt_index *idx, const vt_hash *sample);

/* Progress counters, one consistent snapshot. */
typedef struct {
	uint64_t samples; /* recorded */
	uint64_t queued;  /* in the queue of new work */
	uint64_t current; /* analysed with the given ruleset */
	uint64_t stale;	  /* analysed with another ruleset */
} vt_index_analysis_counts;

/* Count for ruleset (hex digest or ""). */
int vt_index_analysis_count(vt_index_analysis_counts *out, vt_index *idx, const char *ruleset);

/* ---- entries on their way to the log (schema version 3) ---- */

/*
 * An `analysis` entry recorded before it is handed to the log, so that a
 * restart can tell whether it got there (docs/analysis.md, "Exactly one
 * entry per change"). Plain value.
 */
typedef struct {
	vt_hash sample;
	vt_hash entry;	   /* SHA-256 of the entry's bytes */
	uint64_t log_from; /* the log's size before the entry was submitted */
	int64_t log_index; /* where it was found in the log; -1: not (yet) known */
} vt_index_pending;

/*
 * Record n pending entries in one transaction, each replacing the
 * sample's previous one with log_index unknown (p[i].log_index is
 * ignored). vt_index_analysis_put() of the sample removes it.
 * VT_ENOTFOUND when a sample is not recorded (nothing is stored then),
 * VT_EINVAL, VT_EIO.
 */
int vt_index_analysis_pending_put(vt_index *idx, const vt_index_pending *p, size_t n);

/* The pending entry of sample. VT_ENOTFOUND when it has none. */
int vt_index_analysis_pending_get(vt_index_pending *out, vt_index *idx, const vt_hash *sample);

/* Call fn for each pending entry, by sample. Rules of sightings_list. */
int vt_index_analysis_pending_list(vt_index *idx,
				   int (*fn)(const vt_index_pending *p, void *payload),
				   void *payload);

/*
 * Settle a pending entry: log_index >= 0 records where it is in the log
 * (the next analysis of the sample that would log the same entry uses
 * that index instead), -1 forgets it (it never reached the log).
 * VT_ENOTFOUND when the sample has no pending entry.
 */
int vt_index_analysis_pending_resolve(vt_index *idx, const vt_hash *sample, int64_t log_index);

/*
 * The retro-scan's cursor: the SHA-256 it has reached for ruleset (hex
 * digest). VT_ENOTFOUND when there is none, or it belongs to another
 * ruleset.
 */
int vt_index_analysis_cursor_get(vt_hash *after, vt_index *idx, const char *ruleset);

/*
 * Store the cursor for ruleset (64 hex digits), replacing any other;
 * after NULL clears it. VT_EINVAL, VT_EIO.
 */
int vt_index_analysis_cursor_set(vt_index *idx, const char *ruleset, const vt_hash *after);

/* ---- search ---- */

typedef enum {
	VT_QUERY_RULE,	     /* text: "identifier" or "namespace:identifier" */
	VT_QUERY_TAG,	     /* text */
	VT_QUERY_TYPE,	     /* text: substring of the libmagic type, any case */
	VT_QUERY_VERDICT,    /* text */
	VT_QUERY_SIZE,	     /* op num (bytes) */
	VT_QUERY_FIRST_SEEN, /* op num (Unix time of a UTC midnight: the day) */
	VT_QUERY_REGION,     /* text */
	VT_QUERY_PARENT,     /* hash (32 bytes) */
	VT_QUERY_HASH,	     /* hash, nibbles: a SHA-256 prefix, or a whole MD5/SHA-1 */
	VT_QUERY_SSDEEP,     /* text: the hash, num: minimum score 0..100 */
	VT_QUERY_TLSH,	     /* text: the hash, num: maximum distance */
} vt_query_kind;

typedef enum { VT_QUERY_EQ, VT_QUERY_LT, VT_QUERY_LE, VT_QUERY_GT, VT_QUERY_GE } vt_query_op;

typedef struct {
	vt_query_kind kind;
	vt_query_op op;
	char text[VT_INDEX_QUERY_TEXT + 1];
	int64_t num;
	uint8_t hash[VT_HASH_SIZE];
	unsigned nibbles; /* VT_QUERY_HASH: hex digits given (8..64) */
} vt_query_term;

/* Terms combined with AND. */
typedef struct {
	vt_query_term t[VT_INDEX_QUERY_TERMS];
	size_t n;
} vt_query;

/* One search hit, valid during the callback. */
typedef struct {
	vt_index_sample sample;
	const char *verdict; /* NULL when not analysed */
	const char *type;    /* NULL when not analysed */
} vt_index_found;

/*
 * Samples matching every term of q, in SHA-256 order after *after (NULL:
 * from the start), only those tenant has a sighting of when tenant is not
 * NULL. similar(term, ssdeep, tlsh, payload) decides the VT_QUERY_SSDEEP
 * and VT_QUERY_TLSH terms on the candidates SQL found (the index knows
 * neither algorithm; ssdeep candidates already have the same or an
 * adjacent block size); it returns 1 for a match. fn is called for up to
 * limit hits. At most max_scan rows are examined, and for at most max_ms
 * milliseconds (0: no time limit): *last gets the last SHA-256 examined
 * and *more whether the search may go on from there (use it as the next
 * page's after; last must not point at after). A page cut short by time
 * holds fewer than limit hits. VT_EINVAL for a bad term, VT_EBUSY when
 * max_ms passed before any row was found, VT_EIO.
 */
int vt_index_search(vt_hash *last, bool *more, vt_index *idx, const vt_query *q, const char *tenant,
		    const vt_hash *after, size_t limit, size_t max_scan, unsigned max_ms,
		    int (*similar)(const vt_query_term *t, const char *ssdeep, const char *tlsh,
				   void *payload),
		    int (*fn)(const vt_index_found *f, void *payload), void *payload);

#endif
