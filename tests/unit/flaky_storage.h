/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log storage for tests that wraps another and fails its commits that
 * carry a checkpoint on demand, in the two ways the storage contract
 * (vitrine/storage.h) allows: after every object of the commit is durable
 * and in place (the checkpoint not moved), or before any is.
 */
#ifndef VT_TESTS_FLAKY_STORAGE_H
#define VT_TESTS_FLAKY_STORAGE_H

#include "vitrine/error.h"
#include "vitrine/storage.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

enum { FLAKY_PASS, FLAKY_AFTER_OBJECTS, FLAKY_BEFORE_OBJECTS };

typedef struct {
	vt_storage base; /* set up by flaky_wrap() */
	vt_storage *inner;
	int mode;  /* FLAKY_*: how the next commits with a checkpoint fail */
	bool once; /* back to FLAKY_PASS after one failure */
	/* While gate is set, a commit with a checkpoint sets in_commit and
	 * waits for gate to clear (to act while a group is committing). */
	atomic_bool gate, in_commit;
} flaky_storage;

static int flaky_get(vt_storage *s, vt_buf *out, const char *path)
{
	return vt_storage_get(((flaky_storage *)s)->inner, out, path);
}

static int flaky_put(vt_storage *s, const char *path, const void *data, size_t len)
{
	return vt_storage_put(((flaky_storage *)s)->inner, path, data, len);
}

static int flaky_seal(vt_storage *s, uint64_t *batch)
{
	return vt_storage_seal(((flaky_storage *)s)->inner, batch);
}

static int flaky_commit(vt_storage *s, uint64_t batch, const void *old, size_t oldlen,
			const void *cp, size_t cplen)
{
	flaky_storage *f = (flaky_storage *)s;
	int mode = cp ? f->mode : FLAKY_PASS, err;

	if (cp && atomic_load(&f->gate)) {
		atomic_store(&f->in_commit, true);
		while (atomic_load(&f->gate))
			usleep(1000);
	}
	if (mode != FLAKY_PASS && f->once)
		f->mode = FLAKY_PASS;
	if (mode == FLAKY_BEFORE_OBJECTS)
		return vt_error_set(VT_EIO, "injected: nothing committed");
	if (mode == FLAKY_AFTER_OBJECTS) {
		if ((err = vt_storage_commit_batch(f->inner, batch, NULL, 0, NULL, 0)) < 0)
			return err;
		return vt_error_set(VT_EIO,
				    "injected: the objects are in place, the checkpoint is not");
	}
	return vt_storage_commit_batch(f->inner, batch, old, oldlen, cp, cplen);
}

static void flaky_abort(vt_storage *s)
{
	vt_storage_abort(((flaky_storage *)s)->inner);
}

static int flaky_get_checkpoint(vt_storage *s, vt_buf *out)
{
	return vt_storage_get_checkpoint(((flaky_storage *)s)->inner, out);
}

static void flaky_close(vt_storage *s)
{
	(void)s; /* the test closes the inner one */
}

static const struct vt_storage_ops flaky_ops = {
    flaky_get, flaky_put, flaky_seal, flaky_commit, flaky_abort, flaky_get_checkpoint, flaky_close,
};

/* Make f a pass-through wrapper of inner. */
static inline void flaky_wrap(flaky_storage *f, vt_storage *inner)
{
	*f = (flaky_storage){.base.ops = &flaky_ops, .inner = inner};
}

#endif
