/* SPDX-License-Identifier: Apache-2.0 */
/* The vault: a content-addressed, encrypted store of customer files. */
#ifndef VITRINE_VAULT_H
#define VITRINE_VAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/hash.h"

/*
 * An object is named by the SHA-256 of its plaintext and lives in
 * DIR/vault/<first 2 hex digits>/<64 hex digits>. Its content is sealed
 * with AES-256-GCM under a fresh random data key, in chunks of
 * VT_VAULT_CHUNK plaintext bytes, and the data key is wrapped by the
 * site's key-encryption key (DIR/vault.kek) with the object id and the
 * jurisdiction bound as associated data. docs/vault.md has the format
 * byte by byte.
 *
 * A vt_vault handle is read-only once open: any number of threads may
 * use it at once, each with its own writers and readers. A writer or a
 * reader belongs to one thread at a time.
 */

/* Plaintext bytes per chunk written by this version. */
#define VT_VAULT_CHUNK 65536
/* Largest chunk size a reader accepts (bounds its memory). */
#define VT_VAULT_MAX_CHUNK (1u << 20)
/* Longest jurisdiction name, in bytes. */
#define VT_VAULT_JURISDICTION_MAX 63
/* Size of the key-encryption key in DIR/vault.kek. */
#define VT_VAULT_KEK_SIZE 32

typedef struct vt_vault vt_vault;
typedef struct vt_vault_writer vt_vault_writer;
typedef struct vt_vault_reader vt_vault_reader;

/*
 * Check a jurisdiction name: 1 to VT_VAULT_JURISDICTION_MAX bytes of
 * [A-Za-z0-9._-]. Returns 0 or VT_EINVAL with a message.
 */
int vt_vault_jurisdiction_check(const char *jurisdiction);

/*
 * Prepare dir for a vault: create dir/vault.kek (32 random bytes, mode
 * 0600, fsynced) and the directories dir/vault and dir/vault/tmp. dir
 * must exist. Returns 0, VT_EEXISTS when dir/vault.kek already exists
 * (it is never replaced: that would make every object unreadable),
 * VT_EIO.
 */
int vt_vault_init(const char *dir);

/*
 * Open the vault in dir: read the KEK and open dir/vault. out receives
 * a handle to free with vt_vault_close(). Returns 0, VT_ENOTFOUND when
 * there is no dir/vault.kek or dir/vault, VT_EDENIED when vault.kek can
 * be read by group or others, VT_ECORRUPT when it is not 32 bytes,
 * VT_EIO, VT_ENOMEM.
 */
int vt_vault_open(vt_vault **out, const char *dir);

/* Close a vault (NULL is fine). Its writers and readers must be gone. */
void vt_vault_close(vt_vault *v);

/*
 * Start storing an object held for jurisdiction (copied). The plaintext
 * is fed with vt_vault_writer_write() and committed with
 * vt_vault_writer_finish(), or dropped with vt_vault_writer_abort().
 * Memory stays bounded (about two chunks) whatever the size. Returns 0,
 * VT_EINVAL for a bad jurisdiction, VT_EIO, VT_ENOMEM.
 */
int vt_vault_writer_new(vt_vault_writer **out, vt_vault *v, const char *jurisdiction);

/*
 * Feed len plaintext bytes. Returns 0, VT_EIO, VT_ENOMEM; after a
 * failure the writer only accepts abort (finish fails too).
 */
int vt_vault_writer_write(vt_vault_writer *w, const void *data, size_t len);

/*
 * Commit: seal the last chunk, wrap the data key, fsync the temporary
 * file, move it to its content address and fsync the directory. When an
 * object with this content is already stored for the same jurisdiction,
 * it is kept and the new copy dropped (dedup); a shredded one is
 * replaced. id receives the SHA-256 of the plaintext; created (may be
 * NULL) is set to true when this call stored the object, false on
 * dedup. w is freed whatever the result. Returns 0, VT_EEXISTS when the
 * content is stored for another jurisdiction, VT_EIO, VT_ENOMEM, or
 * the error of an earlier write.
 */
int vt_vault_writer_finish(vt_hash *id, bool *created, vt_vault_writer *w);

/* Drop everything written and free w (NULL is fine). Nothing is stored. */
void vt_vault_writer_abort(vt_vault_writer *w);

/*
 * Open object id for reading, expecting it to be held for jurisdiction.
 * Checks the header and unwraps the data key; the content is decrypted
 * chunk by chunk as it is read. Returns 0, VT_ENOTFOUND when absent or
 * shredded, VT_EVERIFY when it was sealed for another jurisdiction or
 * under another KEK, VT_ECORRUPT when the header is damaged or the key
 * does not open under this name (tampering, or a renamed file), VT_EIO,
 * VT_ENOMEM.
 */
int vt_vault_reader_open(vt_vault_reader **out, vt_vault *v, const vt_hash *id,
			 const char *jurisdiction);

/*
 * Plaintext size of the object, derived from the file size. Exact for an
 * intact object (use it for a Content-Length); for a damaged one the
 * reads fail anyway.
 */
uint64_t vt_vault_reader_size(const vt_vault_reader *r);

/*
 * Read up to cap (> 0) plaintext bytes into buf; *n receives the count,
 * 0 at the end. Bytes are returned only from chunks that authenticated; the
 * end is reported only after the whole plaintext hashed to the object
 * id. Returns 0, VT_ECORRUPT (naming the object and chunk) on any
 * tampering, truncation, reordering or extension, VT_EINVAL when cap is
 * 0, VT_EIO. After a
 * failure every further read fails.
 */
int vt_vault_reader_read(size_t *n, vt_vault_reader *r, void *buf, size_t cap);

/* Close a reader (NULL is fine). */
void vt_vault_reader_close(vt_vault_reader *r);

/*
 * Is object id stored (and not shredded)? Returns 0 when present,
 * VT_ENOTFOUND when absent or shredded, VT_ECORRUPT when the header is
 * unreadable, VT_EIO. Only the header is checked.
 */
int vt_vault_contains(vt_vault *v, const vt_hash *id);

/*
 * Crypto-shred object id: overwrite the wrapped data key in its header
 * with zeros, fsync, then cut the ciphertext off and fsync again. The
 * header stays as a tombstone so readers and fsck can tell "shredded"
 * from "lost"; the content can no longer be decrypted by anyone holding
 * the KEK. Shredding a shredded object succeeds. Returns 0,
 * VT_ENOTFOUND, VT_ECORRUPT when the file is not a vault object, VT_EIO.
 */
int vt_vault_shred(vt_vault *v, const vt_hash *id);

/*
 * Remove temporary files left in dir/vault/tmp by writers that crashed,
 * when older than max_age seconds (a live writer's file is recent).
 * removed (may be NULL) receives the count. Returns 0, VT_EIO.
 */
int vt_vault_sweep_tmp(vt_vault *v, unsigned max_age, size_t *removed);

/* The kinds of problem fsck reports. Later checks add kinds at the end. */
typedef enum {
	VT_VAULT_PROBLEM_CORRUPT = 1, /* an object does not decrypt or hash to its name */
	VT_VAULT_PROBLEM_STRAY,	      /* a file or directory that is not a vault object */
	VT_VAULT_PROBLEM_IO,	      /* an object or directory that cannot be read */
	VT_VAULT_PROBLEM_UNLOGGED,    /* an object without a `sample` entry (fsck.h) */
	VT_VAULT_PROBLEM_MISSING,     /* a `sample` entry without its object (fsck.h) */
} vt_vault_problem_kind;

/* One discrepancy. All pointers are borrowed for the callback's duration. */
typedef struct {
	vt_vault_problem_kind kind;
	int code;	  /* the VT_E* code behind it */
	const char *path; /* relative to the data directory, e.g. "vault/ab/ab12..." */
	bool has_id;	  /* id is set: the name is a well-formed object id */
	vt_hash id;
	const char *detail; /* one line, for people */
} vt_vault_problem;

/*
 * Called once per problem. Return 0 to go on, anything else to stop
 * fsck, which then returns that value.
 */
typedef int (*vt_vault_problem_fn)(const vt_vault_problem *p, void *payload);

/*
 * Called once per object that verified, with its jurisdiction (borrowed),
 * so that a caller can cross-check objects against other records (the
 * log's sample entries) and report its own problems. Same return rule.
 */
typedef int (*vt_vault_object_fn)(const vt_hash *id, const char *jurisdiction, void *payload);

/* What fsck saw. */
typedef struct {
	uint64_t objects;  /* object files examined, shredded ones included */
	uint64_t verified; /* objects that decrypted and hashed to their name */
	uint64_t shredded; /* tombstones of shredded objects (not problems) */
	uint64_t problems; /* problems reported */
	uint64_t tmp;	   /* temporary files in vault/tmp (ignored) */
	uint64_t bytes;	   /* plaintext bytes verified */
} vt_vault_fsck_stats;

/*
 * Check the whole vault: every object file is well named, decrypts and
 * hashes to its name. Temporary files of unfinished writes are counted,
 * never reported. stats (may be NULL) is filled; on_problem and
 * on_object may be NULL. Returns 0 when the walk completed (problems or
 * not: see stats->problems), a callback's non-zero value when it
 * stopped the walk, VT_EIO when the vault directory cannot be listed,
 * VT_ENOMEM.
 */
int vt_vault_fsck(vt_vault_fsck_stats *stats, vt_vault *v, vt_vault_problem_fn on_problem,
		  vt_vault_object_fn on_object, void *payload);

/* Relative path of object id under the data directory, "vault/xx/<hex>". */
void vt_vault_object_path(char out[80], const vt_hash *id);

#endif
