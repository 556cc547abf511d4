/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log storage: immutable objects (tiles and entry bundles, named by their
 * tlog-tiles path) and one mutable checkpoint, published by
 * compare-and-swap. The POSIX directory is the embedded default; a
 * database back end implements the same operations.
 *
 * Contract every back end keeps:
 * - put() stages an object; nothing staged is visible or durable until
 *   commit() returns 0, and then all of it is both.
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
 */
#ifndef VITRINE_STORAGE_H
#define VITRINE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "vitrine/buf.h"

typedef struct vt_storage vt_storage;

struct vt_storage_ops {
	/* Read a committed object by path ("tile/0/000"). VT_ENOTFOUND. */
	int (*get)(vt_storage *s, vt_buf *out, const char *path);
	/* Stage an object for the next commit. Data is copied or written out. */
	int (*put)(vt_storage *s, const char *path, const void *data, size_t len);
	/*
	 * Make every staged object durable and visible, then, when cp is not
	 * NULL, replace the checkpoint if it still equals old (oldlen 0: no
	 * checkpoint yet). On error some objects may already be in place, each
	 * complete and durable, and the checkpoint is unchanged.
	 */
	int (*commit)(vt_storage *s, const void *old, size_t oldlen, const void *cp,
		      size_t cplen);
	/* Forget every staged object. */
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

static inline int vt_storage_put(vt_storage *s, const char *path, const void *data, size_t len)
{
	return s->ops->put(s, path, data, len);
}

/* Commit the staged objects only. */
static inline int vt_storage_commit(vt_storage *s)
{
	return s->ops->commit(s, NULL, 0, NULL, 0);
}

/* Commit the staged objects (if any), then replace the checkpoint old by cp. */
static inline int vt_storage_commit_checkpoint(vt_storage *s, const void *old, size_t oldlen,
					       const void *cp, size_t cplen)
{
	return s->ops->commit(s, old, oldlen, cp, cplen);
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
 * A commit writes each object and the new checkpoint to dir/staging/,
 * makes them durable with one syncfs(), renames the objects into place
 * without replacing (RENAME_NOREPLACE), syncs again, then renames the
 * checkpoint over dir/log/checkpoint and syncs that directory: three syncs
 * per commit whatever the number of objects.
 */
int vt_storage_posix_open(vt_storage **out, const char *dir, bool writer);

#endif
