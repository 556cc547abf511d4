/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The log: a sequencer that turns appended entries into durable entry
 * bundles, hash tiles and signed checkpoints (c2sp.org/tlog-tiles).
 *
 * Appends queue up and are integrated in groups, closed by count or by
 * age: one group costs one storage commit of its objects and checkpoint
 * (three filesystem syncs in the POSIX back end) and one checkpoint
 * signature, whatever its size. The next group is hashed and staged while
 * the last one commits. An append
 * completes only after the checkpoint that includes it is published, so an
 * acknowledged entry is durable and provable. The sequencer keeps the
 * tree's right edge and the partial tiles at the edge in memory: memory is
 * bounded and the cost of an entry does not depend on the log's size.
 *
 * Opening a log recovers it: the published checkpoint is verified against
 * the tiles, and entries that a crashed run made durable but did not get
 * to publish are integrated (roll forward), so recovery is automatic and
 * idempotent.
 */
#ifndef VITRINE_LOG_H
#define VITRINE_LOG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/merkle.h"
#include "vitrine/note.h"
#include "vitrine/storage.h"

typedef struct vt_log vt_log;

typedef struct {
	size_t batch_max;         /* entries that close a group (default 4096) */
	unsigned batch_age_ms;    /* with hold: age that closes a group (default 20 ms) */
	bool hold;                /* hold each group open until batch_max entries or
				     batch_age_ms, even while the committer is idle
				     (default false: a group closes at batch_max
				     entries or as soon as the committer is idle, so
				     entries never wait on an idle disk and groups
				     grow with the load) */
	size_t queue_max;         /* entries accepted, not yet acknowledged, before VT_EBUSY
				     (default 65536) */
	size_t queue_max_bytes;   /* their bytes before VT_EBUSY (default 64 MiB) */
} vt_log_options;

/* Counters for /metrics; read with vt_log_stats(). */
typedef struct {
	uint64_t size;            /* entries in the last published checkpoint */
	uint64_t appends;         /* entries integrated since open */
	uint64_t groups;          /* groups committed since open */
	uint64_t group_errors;    /* groups that failed (also those whose entries recovery published) */
	uint64_t rejected_busy;   /* appends refused because the queue was full */
	uint64_t pending;         /* entries accepted and not yet acknowledged */
	double batch_sum;         /* sum of group sizes (entries) */
	double commit_seconds;    /* total time in storage commits (objects, checkpoint, syncs) */
	double integrate_seconds; /* total time hashing and staging tiles */
	double publish_seconds;   /* total time signing checkpoints */
	/* Histogram of commit latency: counts of groups at or below bound. */
	uint64_t commit_le[8];    /* bounds: 1,2,5,10,20,50,100,250 ms */
	double commit_max;
} vt_log_stats_t;

/* Fill *opt with the defaults. */
void vt_log_options_default(vt_log_options *opt);

/*
 * Open the log held by st (opened as a writer), signing checkpoints with
 * signer, whose name is the log's origin. Recovers as described above and
 * starts the sequencer thread. st and signer are borrowed and must outlive
 * the log. On a storage with no checkpoint, publishes the empty tree.
 * VT_ECORRUPT when the stored checkpoint does not match the tiles or is not
 * signed by signer; VT_EIO.
 */
int vt_log_open(vt_log **out, vt_storage *st, const vt_note_signer *signer,
		const vt_log_options *opt);

/*
 * Append n entries (any n >= 1; more than batch_max are split) and wait
 * until a published checkpoint includes them. *first gets the index of
 * the first; the rest follow in order. VT_ETOOBIG for an entry over
 * VT_ENTRY_MAX bytes, VT_EINVAL for an empty entry, VT_EBUSY when the queue
 * is full (nothing was appended), VT_EIO when the group failed to become
 * durable (the entries may be integrated by recovery later). Thread-safe.
 */
int vt_log_append(vt_log *log, uint64_t *first, const void *const *entries, const size_t *lens,
		  size_t n);

/*
 * Completion of an asynchronous append: err is 0 or a VT_E* code, index
 * the entry's index, size the size of the published checkpoint that
 * includes it. Called on the sequencer thread: return quickly.
 */
typedef void (*vt_log_done_fn)(int err, uint64_t index, uint64_t size, void *payload);

/*
 * Queue one entry and return at once; done runs when it is published or
 * failed. VT_EBUSY (queue full), VT_ETOOBIG, VT_EINVAL: done is not called.
 */
int vt_log_submit(vt_log *log, const void *entry, size_t len, vt_log_done_fn done,
		  void *payload);

/*
 * Queue n entries (1 <= n <= the smaller of batch_max and queue_max) under
 * one completion and return at once; done runs once, with the index of the
 * first entry (the rest follow in order), when they are published or
 * failed. Lets one producer keep several groups in flight, in order.
 * VT_EBUSY (queue full: nothing queued, retry later), VT_ETOOBIG,
 * VT_EINVAL (also for n out of range): done is not called. Thread-safe.
 */
int vt_log_submit_batch(vt_log *log, const void *const *entries, const size_t *lens, size_t n,
			vt_log_done_fn done, void *payload);

/* Append a copy of the latest signed checkpoint to out; *size its size. */
int vt_log_checkpoint(vt_log *log, vt_buf *out, uint64_t *size);

/* A snapshot of the counters. */
void vt_log_stats(vt_log *log, vt_log_stats_t *out);

/*
 * Integrate and publish everything queued, completing every waiter, then
 * stop the sequencer. Later appends fail with VT_EBUSY; reads
 * (vt_log_checkpoint, vt_log_stats) keep working until vt_log_close().
 * Call it from one thread; a second call does nothing.
 */
void vt_log_stop(vt_log *log);

/* vt_log_stop(), then free the log. */
void vt_log_close(vt_log *log);

#endif
