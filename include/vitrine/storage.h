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
 * - publish_checkpoint() is durable when it returns 0, and only replaces
 *   the checkpoint it was told is current (VT_EBUSY otherwise).
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
	 * Make every staged object durable and visible. On error some objects
	 * may already be in place, each complete and durable; none is
	 * referenced by a checkpoint until one is published.
	 */
	int (*commit)(vt_storage *s);
	/* Forget every staged object. */
	void (*abort)(vt_storage *s);
	/* Read the published checkpoint. VT_ENOTFOUND before the first. */
	int (*get_checkpoint)(vt_storage *s, vt_buf *out);
	/* Durably replace the checkpoint if it still equals old (oldlen 0: none). */
	int (*publish_checkpoint)(vt_storage *s, const void *old, size_t oldlen, const void *data,
				  size_t len);
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

static inline int vt_storage_commit(vt_storage *s)
{
	return s->ops->commit(s);
}

static inline void vt_storage_abort(vt_storage *s)
{
	s->ops->abort(s);
}

static inline int vt_storage_get_checkpoint(vt_storage *s, vt_buf *out)
{
	return s->ops->get_checkpoint(s, out);
}

static inline int vt_storage_publish_checkpoint(vt_storage *s, const void *old, size_t oldlen,
						const void *data, size_t len)
{
	return s->ops->publish_checkpoint(s, old, oldlen, data, len);
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
 * otherwise open read-only (put, commit and publish fail with VT_EDENIED).
 * A commit writes each object to dir/staging/, makes them durable with one
 * syncfs(), renames them into place without replacing (RENAME_NOREPLACE),
 * and syncs again, so one commit costs two filesystem syncs whatever the
 * number of objects.
 */
int vt_storage_posix_open(vt_storage **out, const char *dir, bool writer);

#endif
