/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sequencer.
 *
 * Producers copy entries into the pending queue, already in entry-bundle
 * form (uint16 length, bytes), with one waiter record per call. Two
 * threads form a pipeline of depth two: while the committer thread makes
 * group N durable, the sequencer thread integrates group N+1.
 *
 * The sequencer takes the whole queue as one group when it holds
 * batch_max entries or the committer is idle (no group committing or
 * waiting to), so entries never wait while the disk is idle, and groups
 * grow with the load: under load, a group is what arrived during one
 * commit, and the next group is integrated while that one commits only
 * when it fills up. (Closing as soon as the slot is free instead makes
 * tiny groups that wait a whole commit in the slot.) With opt.hold, it
 * instead holds the queue until it has batch_max entries or its oldest
 * entry is batch_age_ms old. Then it:
 *
 *   1. hashes each entry, appends it to the bundle at the edge and its
 *      leaf hash to the right edge; every perfect subtree of height 8L
 *      that completes goes into the level-L tile at the edge; full bundles
 *      and tiles are staged as they fill, then the partial ones at the end.
 *      Bundles are staged before the tiles made from them, so that after a
 *      crash a tile in place always has its entries in place.
 *   2. signs a checkpoint for the new size and seals the group's storage
 *      batch;
 *   3. hands the group to the committer; it takes the next group only
 *      once the committer has taken this one, so at most one group
 *      commits while the next is integrated. queue_max and
 *      queue_max_bytes bound every entry not yet acknowledged (queued or
 *      in the pipeline), so memory stays bounded as before.
 *
 * The committer, one group at a time and in order, commits the group's
 * batch (every object durable and visible; objects of the next group,
 * staged meanwhile, are not covered), then its checkpoint by
 * compare-and-swap against the one published last, and only then
 * completes the waiters.
 *
 * If a step fails, the group behind gets the error (it was built on the
 * failed one); once the committer is idle, the sequencer rebuilds the
 * in-memory state from storage by the same recovery that runs at open,
 * at once, whether new entries wait or not. The failed group's own
 * waiters hear only then: a commit may fail after some or all of its
 * objects became durable, and recovery rolls those forward and publishes
 * them, so those entries succeed and only the others get the error. An
 * error from the log therefore means the entry is not in it (unless
 * recovery failed too), which callers such as the intake rely on. So no
 * checkpoint ever covers data that did not become durable and the
 * sequencer never signs a tree that is not an extension of the last one.
 */
#include "vitrine/log.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/tile.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEVELS 8 /* 8 tile levels cover 2^64 leaves */
#define CHECKPOINT_MAX 65536

typedef struct {
	size_t count; /* entries this waiter covers */
	vt_log_done_fn fn;
	void *payload;
} waiter;

typedef struct {
	vt_buf data; /* entries in bundle form */
	size_t count;
	waiter *w;
	size_t nw, capw;
	double first_ns; /* arrival of the oldest entry */
} queue;

/* A group between the sequencer and the committer. */
typedef struct {
	waiter *w;
	size_t nw, capw;
	uint64_t first, count;
	uint64_t batch; /* its storage batch */
	size_t bytes;   /* its entries in bundle form, for the in-flight bound */
	vt_buf note;    /* the checkpoint signed for first + count */
} group;

typedef struct {
	vt_hash h[VT_TILE_WIDTH];
	unsigned n;     /* hashes in the partial tile */
	uint64_t index; /* its tile index */
} level_tile;

struct vt_log {
	vt_storage *st;
	const vt_note_signer *signer;
	vt_note_verifier *self;
	vt_log_options opt;

	pthread_t thread, committer;
	pthread_mutex_t mu;
	pthread_cond_t cv_work;   /* queue gained entries, slot freed, commit done, or closing */
	pthread_cond_t cv_commit; /* slot filled, or the sequencer is done */
	pthread_cond_t cv_done;   /* a synchronous waiter completed */
	queue q;                  /* filled by producers, under mu */
	bool closing;
	bool stopped;             /* both threads have been joined */
	/* The pipeline, under mu. */
	group slot;               /* integrated and signed, waiting to commit */
	bool slot_full;
	bool committing;          /* the committer holds a group */
	bool failed;              /* a group failed: recover before the next one */
	bool seq_done;            /* the sequencer has exited */
	size_t flight, flight_bytes; /* entries taken from the queue, not yet completed */
	char fail_why[256];
	/* The waiters of the group whose own commit failed: storage may have
	 * made some or all of its objects durable anyway (storage.h), so they
	 * hear only once recovery has said which entries the log holds. */
	group held;
	int held_err;
	char held_why[256];
	vt_buf cp;              /* latest signed checkpoint, under mu */
	uint64_t cp_size;
	vt_log_stats_t stats;   /* under mu */

	/* Owned by the sequencer thread (or by open before it starts). */
	queue work;
	vt_buf next_note; /* checkpoint signed for the group being integrated */
	/* Owned by the committer thread. */
	group commit;
	vt_merkle_edge edge;
	level_tile lvl[LEVELS];
	vt_buf bundle; /* the bundle at the edge */
	unsigned bundle_n;
	uint64_t bundle_index;
	int stage_err; /* first error while staging inside visit callbacks */
	vt_buf scratch;
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void vt_log_options_default(vt_log_options *opt)
{
	opt->batch_max = 4096;
	opt->batch_age_ms = 20;
	opt->hold = false;
	opt->queue_max = 65536;
	opt->queue_max_bytes = (size_t)64 << 20;
}

static void queue_init(queue *q, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	vt_buf_init(&q->data, max_bytes);
}

static void queue_dispose(queue *q)
{
	vt_buf_dispose(&q->data);
	free(q->w);
}

static void queue_clear(queue *q)
{
	vt_buf_reset(&q->data);
	q->count = 0;
	q->nw = 0;
}

/* ---- staging ---------------------------------------------------------- */

static int stage_tile(vt_log *log, const vt_tile *t, const void *data, size_t len)
{
	char path[VT_TILE_PATH_MAX];
	int err;
	if ((err = vt_tile_path(path, sizeof(path), t)) < 0)
		return err;
	return vt_storage_put(log->st, path, data, len);
}

/* Visit callback of the right edge: collect tile hashes, stage full tiles. */
static void on_node(unsigned level, uint64_t index, const vt_hash *h, void *payload)
{
	vt_log *log = payload;
	level_tile *lt;
	vt_tile t;
	int err;

	if (level % VT_TILE_HEIGHT != 0)
		return;
	lt = &log->lvl[level / VT_TILE_HEIGHT];
	lt->h[lt->n++] = *h;
	(void)index;
	if (lt->n < VT_TILE_WIDTH)
		return;
	t = (vt_tile){.level = level / VT_TILE_HEIGHT, .index = lt->index, .width = VT_TILE_WIDTH};
	if ((err = stage_tile(log, &t, lt->h, sizeof(lt->h))) < 0 && log->stage_err == 0)
		log->stage_err = err;
	lt->n = 0;
	lt->index++;
}

/*
 * Integrate count entries (bundle form) into the in-memory edge, staging
 * every bundle and tile that changes. Leaves the state advanced even on
 * error: the caller then rebuilds it from storage.
 */
static int integrate(vt_log *log, const uint8_t *data, size_t len, size_t count)
{
	uint64_t before[LEVELS]; /* hashes at each level before the group */
	size_t off = 0;
	vt_tile t;
	int err;

	log->stage_err = 0;
	for (unsigned L = 0; L < LEVELS; L++)
		before[L] = log->lvl[L].index * VT_TILE_WIDTH + log->lvl[L].n;
	for (size_t i = 0; i < count; i++) {
		vt_hash leaf;
		size_t n;
		if (off + 2 > len || off + 2 + (n = vt_get_be16(data + off)) > len)
			return vt_error_set(VT_ECORRUPT, "pending queue is malformed");
		if ((err = vt_merkle_leaf_hash(&leaf, data + off + 2, n)) < 0 ||
		    (err = vt_buf_add(&log->bundle, data + off, 2 + n)) < 0)
			return err;
		off += 2 + n;
		if (++log->bundle_n == VT_TILE_WIDTH) {
			t = (vt_tile){.entries = true, .index = log->bundle_index,
				      .width = VT_TILE_WIDTH};
			if ((err = stage_tile(log, &t, log->bundle.ptr, log->bundle.len)) < 0)
				return err;
			vt_buf_reset(&log->bundle);
			log->bundle_n = 0;
			log->bundle_index++;
		}
		if ((err = vt_merkle_edge_append(&log->edge, &leaf, on_node, log)) < 0)
			return err;
		if (log->stage_err < 0)
			return log->stage_err;
	}
	if (log->bundle_n > 0) {
		t = (vt_tile){.entries = true, .index = log->bundle_index, .width = log->bundle_n};
		if ((err = stage_tile(log, &t, log->bundle.ptr, log->bundle.len)) < 0)
			return err;
	}
	for (unsigned L = 0; L < LEVELS; L++) {
		level_tile *lt = &log->lvl[L];
		/* A level the group did not reach keeps its partial tile. */
		if (lt->n == 0 || lt->index * VT_TILE_WIDTH + lt->n == before[L])
			continue;
		t = (vt_tile){.level = L, .index = lt->index, .width = lt->n};
		if ((err = stage_tile(log, &t, lt->h, lt->n * sizeof(vt_hash))) < 0)
			return err;
	}
	return 0;
}

/* ---- checkpoints ------------------------------------------------------ */

/* Sign a checkpoint for the edge into note (reset first). */
static int sign_checkpoint(vt_log *log, vt_buf *note)
{
	vt_checkpoint c = {0};
	vt_buf body;
	int err;

	vt_buf_init(&body, CHECKPOINT_MAX);
	vt_buf_reset(note);
	snprintf(c.origin, sizeof(c.origin), "%s", vt_note_signer_name(log->signer));
	c.size = log->edge.size;
	if ((err = vt_merkle_edge_root(&c.root, &log->edge)) < 0 ||
	    (err = vt_checkpoint_format(&body, &c)) < 0)
		goto done;
	err = vt_note_sign(note, (const char *)body.ptr, body.len,
			   (vt_note_signer *const *)&log->signer, 1);
done:
	vt_buf_dispose(&body);
	return err;
}

/* Make note (for size) the published checkpoint in memory; it is emptied. */
static void set_checkpoint(vt_log *log, vt_buf *note, uint64_t size)
{
	vt_buf old;
	pthread_mutex_lock(&log->mu);
	old = log->cp;
	log->cp = *note;
	*note = old;
	vt_buf_reset(note);
	log->cp_size = size;
	log->stats.size = size;
	pthread_mutex_unlock(&log->mu);
}

/*
 * Sign a checkpoint for the edge and commit it, with every staged object,
 * in place of log->cp. Only while no group is committing (open, recovery).
 */
static int publish(vt_log *log)
{
	vt_buf note;
	int err;

	vt_buf_init(&note, CHECKPOINT_MAX);
	if ((err = sign_checkpoint(log, &note)) < 0)
		goto done;
	if ((err = vt_storage_commit_checkpoint(log->st, log->cp.ptr, log->cp.len, note.ptr,
						note.len)) < 0) {
		err = vt_error_wrap(err, "publishing checkpoint %llu",
				    (unsigned long long)log->edge.size);
		goto done;
	}
	set_checkpoint(log, &note, log->edge.size);
done:
	vt_buf_dispose(&note);
	return err;
}

/* ---- recovery --------------------------------------------------------- */

static void reset_state(vt_log *log)
{
	vt_merkle_edge_init(&log->edge);
	memset(log->lvl, 0, sizeof(log->lvl));
	vt_buf_reset(&log->bundle);
	log->bundle_n = 0;
	log->bundle_index = 0;
}

/* Root of n (a power of two) consecutive hashes. */
static int subtree_root(vt_hash *out, const vt_hash *h, size_t n)
{
	vt_hash l, r;
	int err;
	if (n == 1) {
		*out = h[0];
		return 0;
	}
	if ((err = subtree_root(&l, h, n / 2)) < 0 || (err = subtree_root(&r, h + n / 2, n / 2)) < 0)
		return err;
	return vt_merkle_node_hash(out, &l, &r);
}

static int read_object(vt_log *log, vt_buf *out, const vt_tile *t)
{
	char path[VT_TILE_PATH_MAX];
	int err;
	vt_buf_reset(out);
	if ((err = vt_tile_path(path, sizeof(path), t)) < 0)
		return err;
	if ((err = vt_storage_get(log->st, out, path)) < 0)
		return vt_error_wrap(err, "reading %s", path);
	return 0;
}

/* Load the edge of the tree of size n from its partial tiles and bundle. */
static int load_edge(vt_log *log, uint64_t n)
{
	vt_buf *b = &log->scratch;
	int err;

	reset_state(log);
	log->edge.size = n;
	for (unsigned L = 0; L < LEVELS; L++) {
		uint64_t cnt = vt_tile_level_count(L, n);
		level_tile *lt = &log->lvl[L];
		unsigned w = (unsigned)(cnt % VT_TILE_WIDTH), off = 0;
		vt_tile t = {.level = L, .index = cnt / VT_TILE_WIDTH, .width = w};

		lt->index = t.index;
		lt->n = w;
		if (w == 0)
			continue;
		if ((err = read_object(log, b, &t)) < 0)
			return err;
		if (b->len != w * sizeof(vt_hash))
			return vt_error_set(VT_ECORRUPT, "tile %u/%llu.p/%u has %zu bytes", L,
					    (unsigned long long)t.index, w, b->len);
		memcpy(lt->h, b->ptr, b->len);
		for (int j = VT_TILE_HEIGHT - 1; j >= 0; j--) {
			if (!(w >> j & 1))
				continue;
			if ((err = subtree_root(&log->edge.h[L * VT_TILE_HEIGHT + (unsigned)j],
						lt->h + off, (size_t)1 << j)) < 0)
				return err;
			off += 1u << j;
		}
	}
	log->bundle_index = n / VT_TILE_WIDTH;
	log->bundle_n = (unsigned)(n % VT_TILE_WIDTH);
	if (log->bundle_n > 0) {
		vt_tile t = {.entries = true, .index = log->bundle_index, .width = log->bundle_n};
		if ((err = read_object(log, b, &t)) < 0)
			return err;
		if ((err = vt_bundle_parse(b->ptr, b->len, log->bundle_n, NULL, NULL)) < 0)
			return vt_error_wrap(err, "bundle %llu", (unsigned long long)t.index);
		if ((err = vt_buf_add(&log->bundle, b->ptr, b->len)) < 0)
			return err;
	}
	return 0;
}

/*
 * Find entries beyond the edge that a crashed run made durable: the full
 * bundle at the edge or its widest partial. Appends the new entries (bundle
 * form) to out and returns how many, 0 when there are none.
 */
static int find_unpublished(vt_log *log, vt_buf *out, size_t *count, bool *full)
{
	vt_buf *b = &log->scratch;
	unsigned have = log->bundle_n;
	int err;

	*count = 0;
	*full = false;
	for (unsigned w = VT_TILE_WIDTH; w > have; w--) {
		vt_tile t = {.entries = true, .index = log->bundle_index, .width = w};
		err = read_object(log, b, &t);
		if (err == VT_ENOTFOUND)
			continue;
		if (err < 0)
			return err;
		if ((err = vt_bundle_parse(b->ptr, b->len, w, NULL, NULL)) < 0)
			return vt_error_wrap(err, "bundle %llu", (unsigned long long)t.index);
		/* The first `have` entries must be the ones already integrated. */
		if (b->len < log->bundle.len || memcmp(b->ptr, log->bundle.ptr, log->bundle.len) != 0)
			return vt_error_set(VT_ECORRUPT,
					    "bundle %llu.p/%u does not extend the published log",
					    (unsigned long long)t.index, w);
		if ((err = vt_buf_add(out, b->ptr + log->bundle.len, b->len - log->bundle.len)) < 0)
			return err;
		*count = w - have;
		*full = w == VT_TILE_WIDTH;
		return 0;
	}
	return 0;
}

static int verify_checkpoint(vt_log *log, vt_checkpoint *c, const vt_buf *note)
{
	vt_note n;
	int err;
	if ((err = vt_note_open(&n, (const char *)note->ptr, note->len, &log->self, 1)) < 0)
		return vt_error_wrap(VT_ECORRUPT, "stored checkpoint is not signed by this log's key");
	if ((err = vt_checkpoint_parse(c, n.text, n.text_len)) < 0)
		return vt_error_wrap(VT_ECORRUPT, "stored checkpoint");
	if (strcmp(c->origin, vt_note_signer_name(log->signer)) != 0)
		return vt_error_set(VT_ECORRUPT, "stored checkpoint has origin \"%s\", want \"%s\"",
				    c->origin, vt_note_signer_name(log->signer));
	return 0;
}

/*
 * Rebuild the sequencer state from storage: verify the published
 * checkpoint against the tiles, then integrate and publish whatever
 * durable entries lie beyond it. Idempotent.
 */
static int recover(vt_log *log)
{
	vt_buf note, extra;
	vt_checkpoint c;
	vt_hash root;
	int err;

	vt_buf_init(&note, CHECKPOINT_MAX);
	vt_buf_init(&extra, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	vt_storage_abort(log->st);
	err = vt_storage_get_checkpoint(log->st, &note);
	if (err == VT_ENOTFOUND) {
		reset_state(log);
		vt_buf_reset(&log->cp);
		err = publish(log);
		goto done;
	}
	if (err < 0 || (err = verify_checkpoint(log, &c, &note)) < 0 ||
	    (err = load_edge(log, c.size)) < 0)
		goto done;
	if ((err = vt_merkle_edge_root(&root, &log->edge)) < 0)
		goto done;
	if (!vt_hash_equal(&root, &c.root)) {
		err = vt_error_set(VT_ECORRUPT,
				   "tiles do not match the published checkpoint at size %llu",
				   (unsigned long long)c.size);
		goto done;
	}
	pthread_mutex_lock(&log->mu);
	vt_buf_reset(&log->cp);
	err = vt_buf_add(&log->cp, note.ptr, note.len);
	log->cp_size = c.size;
	log->stats.size = c.size;
	pthread_mutex_unlock(&log->mu);
	if (err < 0)
		goto done;
	/* Roll forward, one bundle at a time. */
	for (;;) {
		size_t count;
		bool full;
		vt_buf_reset(&extra);
		if ((err = find_unpublished(log, &extra, &count, &full)) < 0)
			goto done;
		if (count == 0)
			break;
		if ((err = integrate(log, extra.ptr, extra.len, count)) < 0 ||
		    (err = vt_storage_commit(log->st)) < 0)
			goto done;
		if (!full)
			break;
	}
	if (log->edge.size != log->cp_size)
		err = publish(log);
done:
	if (err < 0)
		vt_storage_abort(log->st);
	vt_buf_dispose(&note);
	vt_buf_dispose(&extra);
	return err;
}

/* ---- the sequencer thread --------------------------------------------- */

static void record_commit(vt_log *log, double secs)
{
	static const double bounds[8] = {0.001, 0.002, 0.005, 0.010, 0.020, 0.050, 0.100, 0.250};
	for (int i = 0; i < 8; i++)
		if (secs <= bounds[i])
			log->stats.commit_le[i]++;
	if (secs > log->stats.commit_max)
		log->stats.commit_max = secs;
}

/* Call each waiter of g (in order) with err; g then holds none. */
static void complete(group *g, int err)
{
	for (size_t i = 0, at = 0; i < g->nw; i++) {
		g->w[i].fn(err, g->first + at, g->first + g->count, g->w[i].payload);
		at += g->w[i].count;
	}
	g->nw = 0;
}

static void swap_waiters(waiter **a, size_t *na, size_t *capa, waiter **b, size_t *nb,
			 size_t *capb)
{
	waiter *w = *a;
	size_t n = *na, cap = *capa;
	*a = *b;
	*na = *nb;
	*capa = *capb;
	*b = w;
	*nb = n;
	*capb = cap;
}

/* Remember why the pipeline failed (for the group behind); mu held. */
static void mark_failed(vt_log *log)
{
	if (!log->failed)
		snprintf(log->fail_why, sizeof(log->fail_why), "%s", vt_error_last());
	log->failed = true;
	log->stats.group_errors++;
}

/*
 * After a failure, with the committer idle: rebuild the state from what is
 * durable, then answer the waiters of the group whose own commit failed.
 * Recovery rolls forward whatever of it storage made durable and
 * publishes it, so those entries succeed (with the size recovery
 * published); the rest get the commit's error, or recovery's. Thus an
 * error from the log means the entry is not in it, unless recovery itself
 * failed (then the next recovery, at the latest when the log is opened
 * again, may still publish it). Called with mu held; returns with it held.
 */
static int recover_after_failure(vt_log *log)
{
	group g = {0};
	char why[sizeof(log->held_why)], rwhy[256];
	int err, rerr;
	uint64_t size, recovered = 0;

	pthread_mutex_unlock(&log->mu);
	vt_storage_abort(log->st);
	rerr = recover(log);
	if (rerr < 0)
		snprintf(rwhy, sizeof(rwhy), "%s", vt_error_last());
	pthread_mutex_lock(&log->mu);
	if (rerr == 0)
		log->failed = false;
	swap_waiters(&g.w, &g.nw, &g.capw, &log->held.w, &log->held.nw, &log->held.capw);
	g.first = log->held.first;
	err = log->held_err;
	snprintf(why, sizeof(why), "%s", log->held_why);
	size = log->cp_size;
	pthread_mutex_unlock(&log->mu);
	for (size_t i = 0, at = 0; i < g.nw; i++) {
		uint64_t index = g.first + at;
		at += g.w[i].count;
		if (rerr == 0 && g.first + at <= size) {
			recovered += g.w[i].count;
			g.w[i].fn(0, index, size, g.w[i].payload);
			continue;
		}
		if (rerr < 0)
			vt_error_set(rerr, "%s; recovery failed: %s", why, rwhy);
		else
			vt_error_set(err, "%s", why);
		g.w[i].fn(rerr < 0 ? rerr : err, index, size, g.w[i].payload);
	}
	free(g.w);
	pthread_mutex_lock(&log->mu);
	/* Their group still counts among group_errors: its commit failed. */
	log->stats.appends += recovered;
	if (rerr < 0)
		vt_error_set(rerr, "%s", rwhy);
	return rerr;
}

/*
 * The sequencer's part of a group: integrate log->work, sign its
 * checkpoint, seal its batch and hand it to the committer (or fail it).
 * Runs with mu held on entry and exit; after_failure: recover first.
 */
static void integrate_group(vt_log *log, bool after_failure)
{
	queue *w = &log->work;
	uint64_t first = log->edge.size, batch = 0;
	double t0, t1, t2;
	int err = 0;

	/* The committer is idle (or fails what it holds without storage):
	 * rebuild from what is durable. */
	if (after_failure)
		err = recover_after_failure(log);
	pthread_mutex_unlock(&log->mu);
	if (after_failure)
		first = log->edge.size;
	t0 = now_ns();
	if (err == 0)
		err = integrate(log, w->data.ptr, w->data.len, w->count);
	t1 = now_ns();
	if (err == 0 && (err = sign_checkpoint(log, &log->next_note)) == 0)
		err = vt_storage_seal(log->st, &batch);
	t2 = now_ns();
	pthread_mutex_lock(&log->mu);
	if (err == 0 && log->failed)
		err = vt_error_set(VT_EIO, "an earlier group failed: %s", log->fail_why);
	if (err == 0) {
		group *g = &log->slot;
		swap_waiters(&g->w, &g->nw, &g->capw, &w->w, &w->nw, &w->capw);
		g->first = first;
		g->count = w->count;
		g->batch = batch;
		g->bytes = w->data.len;
		vt_buf note = g->note;

		g->note = log->next_note;
		log->next_note = note;
		log->slot_full = true;
		log->stats.integrate_seconds += (t1 - t0) / 1e9;
		log->stats.publish_seconds += (t2 - t1) / 1e9;
		pthread_cond_signal(&log->cv_commit);
	} else {
		group g = {.w = w->w, .nw = w->nw, .first = first, .count = w->count};
		mark_failed(log);
		log->flight -= w->count;
		log->flight_bytes -= w->data.len;
		log->stats.pending = log->q.count + log->flight;
		pthread_mutex_unlock(&log->mu);
		complete(&g, err);
		pthread_mutex_lock(&log->mu);
	}
	queue_clear(w);
}

/* Waiters of a failed commit wait, and the committer is idle: recover. */
static bool held_ready(const vt_log *log)
{
	return log->held.nw > 0 && !log->committing && !log->slot_full;
}

static void *sequencer(void *arg)
{
	vt_log *log = arg;

	pthread_mutex_lock(&log->mu);
	for (;;) {
		/* Recovery after a failure waits until the committer is idle;
		 * with waiters held by a failed commit it runs at once, new
		 * entries or not. Closing, the sequencer stays until the last
		 * commit ended: a failed one leaves waiters only it answers. */
		while (!held_ready(log) &&
		       (log->slot_full || (log->failed && log->committing) ||
			(log->q.count == 0 && (!log->closing || log->committing))))
			pthread_cond_wait(&log->cv_work, &log->mu);
		if (held_ready(log)) {
			recover_after_failure(log);
			continue;
		}
		if (log->q.count == 0)
			break; /* closing, and nothing left */
		while (log->q.count < log->opt.batch_max && !log->closing) {
			double deadline;
			if (!log->opt.hold) {
				/* The disk is idle: close now. Else gather what
				 * arrives until the commit in progress ends. */
				if (!log->committing && !log->slot_full)
					break;
				pthread_cond_wait(&log->cv_work, &log->mu);
				continue;
			}
			deadline = log->q.first_ns + log->opt.batch_age_ms * 1e6;
			struct timespec ts;
			double rt;
			if (now_ns() >= deadline)
				break;
			clock_gettime(CLOCK_REALTIME, &ts);
			rt = (double)ts.tv_sec * 1e9 + ts.tv_nsec + (deadline - now_ns());
			ts.tv_sec = (time_t)(rt / 1e9);
			ts.tv_nsec = (long)(rt - (double)ts.tv_sec * 1e9);
			pthread_cond_timedwait(&log->cv_work, &log->mu, &ts);
		}
		/* Swap the queue out; producers fill the other one meanwhile. */
		queue tmp = log->work;
		log->work = log->q;
		log->q = tmp;
		log->flight += log->work.count;
		log->flight_bytes += log->work.data.len;
		integrate_group(log, log->failed);
	}
	log->seq_done = true;
	pthread_cond_signal(&log->cv_commit);
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

static void *committer(void *arg)
{
	vt_log *log = arg;
	group *g = &log->commit;

	pthread_mutex_lock(&log->mu);
	for (;;) {
		bool failed;
		double t0, secs;
		int err;
		while (!log->slot_full && !log->seq_done)
			pthread_cond_wait(&log->cv_commit, &log->mu);
		if (!log->slot_full)
			break;
		{
			group t = *g;
			*g = log->slot;
			log->slot = t;
		}
		log->slot_full = false;
		log->committing = true;
		failed = log->failed;
		if (failed)
			vt_error_set(VT_EIO, "an earlier group failed: %s", log->fail_why);
		pthread_cond_broadcast(&log->cv_work);
		pthread_mutex_unlock(&log->mu);

		t0 = now_ns();
		/* log->cp changes only here and in recovery, which waits for us. */
		err = failed ? VT_EIO
			     : vt_storage_commit_batch(log->st, g->batch, log->cp.ptr, log->cp.len,
						       g->note.ptr, g->note.len);
		secs = (now_ns() - t0) / 1e9;
		if (err < 0 && !failed)
			err = vt_error_wrap(err, "committing the group up to %llu",
					    (unsigned long long)(g->first + g->count));
		if (err == 0)
			set_checkpoint(log, &g->note, g->first + g->count);
		pthread_mutex_lock(&log->mu);
		if (err == 0) {
			log->stats.appends += g->count;
			log->stats.groups++;
			log->stats.batch_sum += (double)g->count;
			log->stats.commit_seconds += secs;
			record_commit(log, secs);
		} else if (!failed) {
			/* Its objects may be durable: recovery decides (above). */
			mark_failed(log);
			swap_waiters(&log->held.w, &log->held.nw, &log->held.capw, &g->w, &g->nw,
				     &g->capw);
			log->held.first = g->first;
			log->held_err = err;
			snprintf(log->held_why, sizeof(log->held_why), "%s", vt_error_last());
		} else {
			log->stats.group_errors++;
		}
		/* Room for new entries before the waiters hear, so they can
		 * submit again at once. */
		log->flight -= g->count;
		log->flight_bytes -= g->bytes;
		log->stats.pending = log->q.count + log->flight;
		pthread_mutex_unlock(&log->mu);
		/* Acknowledged only now: the checkpoint that covers them is durable. */
		complete(g, err);
		pthread_mutex_lock(&log->mu);
		log->committing = false;
		pthread_cond_broadcast(&log->cv_work);
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

/* ---- producers -------------------------------------------------------- */

static int check_entry(size_t len)
{
	if (len == 0)
		return vt_error_set(VT_EINVAL, "empty entry");
	if (len > VT_ENTRY_MAX)
		return vt_error_set(VT_ETOOBIG, "entry of %zu bytes exceeds the limit of %d bytes",
				    len, VT_ENTRY_MAX);
	return 0;
}

/* Queue entries under one waiter; mu must be held. */
static int enqueue(vt_log *log, const void *const *entries, const size_t *lens, size_t n,
		   vt_log_done_fn fn, void *payload)
{
	queue *q = &log->q;
	size_t bytes = 0, mark = q->data.len;
	int err;

	for (size_t i = 0; i < n; i++)
		bytes += 2 + lens[i];
	if (log->closing)
		return vt_error_set(VT_EBUSY, "log is closing");
	/* Entries in the pipeline count too: the bound is on everything
	 * accepted and not yet acknowledged. */
	if (q->count + log->flight + n > log->opt.queue_max ||
	    q->data.len + log->flight_bytes + bytes > log->opt.queue_max_bytes) {
		log->stats.rejected_busy += n;
		return vt_error_set(VT_EBUSY, "append queue is full (%zu entries waiting)",
				    q->count + log->flight);
	}
	if (q->nw == q->capw) {
		size_t cap = q->capw ? q->capw * 2 : 256;
		waiter *nw = realloc(q->w, cap * sizeof(*nw));
		if (!nw)
			return vt_error_set(VT_ENOMEM, "out of memory");
		q->w = nw;
		q->capw = cap;
	}
	if ((err = vt_buf_reserve(&q->data, bytes)) < 0)
		return err;
	for (size_t i = 0; i < n; i++) {
		uint8_t hdr[2];
		vt_put_be16(hdr, (uint16_t)lens[i]);
		if ((err = vt_buf_add(&q->data, hdr, 2)) < 0 ||
		    (err = vt_buf_add(&q->data, entries[i], lens[i])) < 0) {
			q->data.len = mark;
			return err;
		}
	}
	if (q->count == 0)
		q->first_ns = now_ns();
	q->w[q->nw++] = (waiter){.count = n, .fn = fn, .payload = payload};
	q->count += n;
	log->stats.pending = q->count + log->flight;
	if (q->count >= log->opt.batch_max || q->count == n)
		pthread_cond_signal(&log->cv_work);
	return 0;
}

int vt_log_submit(vt_log *log, const void *entry, size_t len, vt_log_done_fn done,
		  void *payload)
{
	int err;
	if ((err = check_entry(len)) < 0)
		return err;
	pthread_mutex_lock(&log->mu);
	err = enqueue(log, &entry, &len, 1, done, payload);
	pthread_mutex_unlock(&log->mu);
	return err;
}

int vt_log_submit_batch(vt_log *log, const void *const *entries, const size_t *lens, size_t n,
			vt_log_done_fn done, void *payload)
{
	size_t max = log->opt.batch_max < log->opt.queue_max ? log->opt.batch_max
							     : log->opt.queue_max;
	int err = 0;

	if (n == 0 || n > max)
		return vt_error_set(VT_EINVAL, "a batch holds 1 to %zu entries, not %zu", max, n);
	for (size_t i = 0; i < n; i++)
		if ((err = check_entry(lens[i])) < 0)
			return vt_error_wrap(err, "entry %zu", i);
	pthread_mutex_lock(&log->mu);
	err = enqueue(log, entries, lens, n, done, payload);
	pthread_mutex_unlock(&log->mu);
	return err;
}

typedef struct {
	vt_log *log;
	bool done;
	int err;
	uint64_t first;
	char why[256];
} sync_wait;

static void sync_done(int err, uint64_t index, uint64_t size, void *payload)
{
	sync_wait *s = payload;
	pthread_mutex_lock(&s->log->mu);
	s->err = err;
	s->first = index;
	if (err < 0)
		snprintf(s->why, sizeof(s->why), "%s", vt_error_last());
	s->done = true;
	pthread_cond_broadcast(&s->log->cv_done);
	pthread_mutex_unlock(&s->log->mu);
	(void)size;
}

int vt_log_append(vt_log *log, uint64_t *first, const void *const *entries, const size_t *lens,
		  size_t n)
{
	size_t chunk = log->opt.batch_max < log->opt.queue_max ? log->opt.batch_max
							       : log->opt.queue_max;
	int err = 0;

	if (n == 0)
		return vt_error_set(VT_EINVAL, "nothing to append");
	for (size_t i = 0; i < n; i++)
		if ((err = check_entry(lens[i])) < 0)
			return vt_error_wrap(err, "entry %zu", i);
	for (size_t done = 0; done < n;) {
		size_t m = n - done < chunk ? n - done : chunk;
		sync_wait s = {.log = log};
		pthread_mutex_lock(&log->mu);
		err = enqueue(log, entries + done, lens + done, m, sync_done, &s);
		while (err == 0 && !s.done)
			pthread_cond_wait(&log->cv_done, &log->mu);
		pthread_mutex_unlock(&log->mu);
		if (err == 0 && s.err < 0)
			err = vt_error_set(s.err, "%s", s.why);
		if (err < 0)
			return err;
		if (done == 0 && first)
			*first = s.first;
		done += m;
	}
	return 0;
}

int vt_log_checkpoint(vt_log *log, vt_buf *out, uint64_t *size)
{
	int err;
	pthread_mutex_lock(&log->mu);
	err = vt_buf_add(out, log->cp.ptr, log->cp.len);
	if (size)
		*size = log->cp_size;
	pthread_mutex_unlock(&log->mu);
	return err;
}

void vt_log_stats(vt_log *log, vt_log_stats_t *out)
{
	pthread_mutex_lock(&log->mu);
	*out = log->stats;
	pthread_mutex_unlock(&log->mu);
}

/* ---- open and close --------------------------------------------------- */

static void free_log(vt_log *log)
{
	queue_dispose(&log->q);
	queue_dispose(&log->work);
	free(log->slot.w);
	free(log->commit.w);
	free(log->held.w);
	vt_buf_dispose(&log->slot.note);
	vt_buf_dispose(&log->commit.note);
	vt_buf_dispose(&log->next_note);
	vt_buf_dispose(&log->cp);
	vt_buf_dispose(&log->bundle);
	vt_buf_dispose(&log->scratch);
	vt_note_verifier_free(log->self);
	pthread_mutex_destroy(&log->mu);
	pthread_cond_destroy(&log->cv_work);
	pthread_cond_destroy(&log->cv_commit);
	pthread_cond_destroy(&log->cv_done);
	free(log);
}

int vt_log_open(vt_log **out, vt_storage *st, const vt_note_signer *signer,
		const vt_log_options *opt)
{
	vt_log *log;
	vt_buf vkey;
	int err;

	if ((log = calloc(1, sizeof(*log))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	log->st = st;
	log->signer = signer;
	if (opt)
		log->opt = *opt;
	else
		vt_log_options_default(&log->opt);
	if (log->opt.batch_max == 0)
		log->opt.batch_max = 1;
	/* queue_max below batch_max is honoured: groups then close by age
	 * (vt_log_append() splits by the smaller of the two). */
	if (log->opt.queue_max == 0)
		log->opt.queue_max = log->opt.batch_max;
	pthread_mutex_init(&log->mu, NULL);
	pthread_cond_init(&log->cv_work, NULL);
	pthread_cond_init(&log->cv_commit, NULL);
	pthread_cond_init(&log->cv_done, NULL);
	queue_init(&log->q, log->opt.queue_max_bytes + 2 * (VT_ENTRY_MAX + 2));
	queue_init(&log->work, log->opt.queue_max_bytes + 2 * (VT_ENTRY_MAX + 2));
	vt_buf_init(&log->cp, CHECKPOINT_MAX);
	vt_buf_init(&log->next_note, CHECKPOINT_MAX);
	vt_buf_init(&log->slot.note, CHECKPOINT_MAX);
	vt_buf_init(&log->commit.note, CHECKPOINT_MAX);
	vt_buf_init(&log->bundle, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	vt_buf_init(&log->scratch, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	vt_buf_init(&vkey, 1024);
	if ((err = vt_note_signer_vkey(&vkey, signer)) < 0 ||
	    (err = vt_note_verifier_parse(&log->self, (const char *)vkey.ptr, vkey.len)) < 0)
		goto done;
	if ((err = recover(log)) < 0)
		goto done;
	if ((err = pthread_create(&log->committer, NULL, committer, log)) != 0) {
		err = vt_error_sys(VT_ENOMEM, err, "cannot start the committer thread");
		goto done;
	}
	if ((err = pthread_create(&log->thread, NULL, sequencer, log)) != 0) {
		err = vt_error_sys(VT_ENOMEM, err, "cannot start the sequencer thread");
		/* The committer waits for the sequencer: tell it there is none. */
		pthread_mutex_lock(&log->mu);
		log->seq_done = true;
		pthread_cond_signal(&log->cv_commit);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->committer, NULL);
		goto done;
	}
done:
	vt_buf_dispose(&vkey);
	if (err < 0) {
		free_log(log);
		return err;
	}
	*out = log;
	return 0;
}

void vt_log_stop(vt_log *log)
{
	if (!log || log->stopped)
		return;
	pthread_mutex_lock(&log->mu);
	log->closing = true;
	pthread_cond_broadcast(&log->cv_work);
	pthread_mutex_unlock(&log->mu);
	pthread_join(log->thread, NULL); /* it drains the queue, then tells the committer */
	pthread_join(log->committer, NULL);
	log->stopped = true;
}

void vt_log_close(vt_log *log)
{
	if (!log)
		return;
	vt_log_stop(log);
	free_log(log);
}
