/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log storage: immutable objects (tiles and entry bundles, named by their
 * tlog-tiles path) and one mutable checkpoint, published by
 * compare-and-swap. The POSIX directory is the embedded default; a
 * database back end implements the same operations.
 *
 * Contract every back end keeps:
 * - put() stages an object in the open batch; seal() closes that batch
 *   and numbers it (1, 2, ...). Nothing staged is visible or durable until
 *   a commit() of its batch, or of a later one, returns 0, and then all of
 *   it is both. A commit covers the sealed batches up to the one it names
 *   and nothing staged after them, so a sequencer can stage the next group
 *   while the last one commits (pipelining) without a checkpoint ever
 *   covering objects of a group that is not durable yet.
 * - An object, once committed, never changes: committing a path that
 *   exists with the same bytes succeeds, with other bytes fails with
 *   VT_ECORRUPT and commits nothing more.
 * - commit() can also replace the checkpoint, in the same step and only
 *   after every staged object is durable and visible; it is durable when
 *   commit() returns 0, and it only replaces the checkpoint the caller
 *   says is current (compare-and-swap, VT_EBUSY otherwise). A database
 *   back end does both in one transaction.
 * - open takes an exclusive writer lock on the log; a second writer gets
 *   VT_EBUSY with a message naming the holder.
 * - Threads: put() and seal() are called by one thread; commit() may run
 *   on another thread at the same time (one commit at a time, batches in
 *   increasing order). abort() and get_checkpoint() must not overlap a
 *   commit(); get() may run at any time.
 */
#ifndef VITRINE_STORAGE_H
#define VITRINE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

typedef struct vt_storage vt_storage;

struct vt_storage_ops {
	/* Read a committed object by path ("tile/0/000"). VT_ENOTFOUND. */
	int (*get)(vt_storage *s, vt_buf *out, const char *path);
	/* Stage an object in the open batch. Data is copied or written out. */
	int (*put)(vt_storage *s, const char *path, const void *data, size_t len);
	/* Close the open batch; *batch gets its number (the first is 1). */
	int (*seal)(vt_storage *s, uint64_t *batch);
	/*
	 * Make every object of the sealed batches up to batch durable and
	 * visible, then, when cp is not NULL, replace the checkpoint if it
	 * still equals old (oldlen 0: no checkpoint yet). Objects staged in
	 * later batches are neither published nor dropped. On error some
	 * objects may already be in place, each complete and durable, and the
	 * checkpoint is unchanged; the caller should then abort().
	 */
	int (*commit)(vt_storage *s, uint64_t batch, const void *old, size_t oldlen,
		      const void *cp, size_t cplen);
	/* Forget every staged object, sealed or not, and any staging error. */
	void (*abort)(vt_storage *s);
	/* Read the published checkpoint. VT_ENOTFOUND before the first. */
	int (*get_checkpoint)(vt_storage *s, vt_buf *out);
	/* Release the lock and free everything. */
	void (*close)(vt_storage *s);
};

struct vt_storage {
	const struct vt_storage_ops *ops;
};

static inline int vt_storage_get(vt_storage *s, vt_buf *out, const char *path)
{
	return s->ops->get(s, out, path);
}

/* vt_storage_get as a vt_fetch_fn (reader.h): payload is the storage. */
static inline int vt_storage_fetch(vt_buf *out, const char *path, void *storage)
{
	return vt_storage_get(storage, out, path);
}

static inline int vt_storage_put(vt_storage *s, const char *path, const void *data, size_t len)
{
	return s->ops->put(s, path, data, len);
}

/* Close the open batch of staged objects; *batch gets its number. */
static inline int vt_storage_seal(vt_storage *s, uint64_t *batch)
{
	return s->ops->seal(s, batch);
}

/*
 * Commit the sealed batches up to batch, then, when cp is not NULL,
 * replace the checkpoint old by cp. May run on another thread than put().
 */
static inline int vt_storage_commit_batch(vt_storage *s, uint64_t batch, const void *old,
					  size_t oldlen, const void *cp, size_t cplen)
{
	return s->ops->commit(s, batch, old, oldlen, cp, cplen);
}

/* Commit everything staged (sealing the open batch); no checkpoint. */
static inline int vt_storage_commit(vt_storage *s)
{
	uint64_t b;
	int err = s->ops->seal(s, &b);
	return err < 0 ? err : s->ops->commit(s, b, NULL, 0, NULL, 0);
}

/* Commit everything staged (if anything), then replace the checkpoint old by cp. */
static inline int vt_storage_commit_checkpoint(vt_storage *s, const void *old, size_t oldlen,
					       const void *cp, size_t cplen)
{
	uint64_t b;
	int err = s->ops->seal(s, &b);
	return err < 0 ? err : s->ops->commit(s, b, old, oldlen, cp, cplen);
}

static inline void vt_storage_abort(vt_storage *s)
{
	s->ops->abort(s);
}

static inline int vt_storage_get_checkpoint(vt_storage *s, vt_buf *out)
{
	return s->ops->get_checkpoint(s, out);
}

static inline void vt_storage_close(vt_storage *s)
{
	if (s)
		s->ops->close(s);
}

/*
 * Open the POSIX storage of the log in directory dir: objects live under
 * dir/log/ laid out exactly as the tlog-tiles URLs (dir/log/checkpoint,
 * dir/log/tile/...), so a static web server can serve dir/log/ as is.
 * writer: take the exclusive lock dir/lock (VT_EBUSY naming the holding
 * process when taken) and clear leftovers of an interrupted commit;
 * otherwise open read-only (put and commit fail with VT_EDENIED).
 * put() hands each object to a staging thread that writes it at once to
 * an anonymous file (O_TMPFILE) in its final directory and keeps the
 * descriptor (or, where that is not possible or descriptors run short, to
 * a numbered file in dir/staging/); opening a writer raises the soft
 * RLIMIT_NOFILE to the hard limit for them. A commit writes the new
 * checkpoint to dir/staging/, makes everything durable with one syncfs(),
 * links the objects of its batches into place without replacing (linkat,
 * or RENAME_NOREPLACE for named files), syncs again, then renames the
 * checkpoint over dir/log/checkpoint and syncs that directory: three
 * syncs per commit whatever the number of objects. (The first syncfs()
 * may also make later batches' data durable: harmless, as it has no name
 * in dir/log/ yet; after a crash the kernel frees anonymous files.)
 */
int vt_storage_posix_open(vt_storage **out, const char *dir, bool writer);

#endif
