/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis service: workers that take samples from the index's queue,
 * decrypt each into a memfd, analyse it, log what changed and store the
 * result.
 *
 * Claiming: one mutex guards a small in-memory batch filled from the
 * index (the queue of new samples first, then the retro-scan from a
 * cursor in SHA-256 order) and the set of samples in flight, so two
 * workers never take the same sample; a sample leaves the index's queue
 * only in the transaction that stores its analysis, so a crash loses
 * nothing. Logging: a worker scans its batch, submits the `analysis`
 * entries of the verdicts that are new or changed, waits until they are
 * published, then stores the whole batch in one transaction with the
 * entries' indices. Exactly one entry per change: before submitting, the
 * batch's entries (their SHA-256 and the log's size) are recorded as
 * pending in one transaction; at start, pending rows are looked for in
 * the log's tail, and an analysis that would log an entry already found
 * there takes that entry's index instead (docs/analysis.md). Memory: one
 * memfd and one batch per worker.
 *
 * Samples are never parsed in this process: each worker owns one
 * confined analysis child (vt_analysis_sandbox, child.c) and hands it the
 * memfd read-only. A child started with other rules than the batch's is
 * replaced before the batch's first sample. A child that crashes, times
 * out or answers garbage costs the sample an `unknown` verdict that says
 * so, and the worker starts another; one that dies at start leaves the
 * sample queued and the worker backs off (100 ms doubling to 10 s).
 */
#include "vitrine/analysis_service.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/reader.h"
#include "vitrine/report.h"
#include "vitrine/storage.h"
#include "analysis_int.h"

#include <errno.h>
#include <fcntl.h>
#include <fuzzy.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS    256
#define MAX_BATCH      64
#define CHUNK	       (256 * 1024)
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000
#define MAX_SAMPLES    1000 /* samples one child analyses before it is replaced */

typedef struct worker worker;

struct vt_analysis_service {
	vt_index *idx;
	vt_vault *vault;
	vt_log *log;
	char jurisdiction[16];
	char dir[4096];
	vt_analysis_engine *eng;
	unsigned batch, poll_ms, nworkers;
	pthread_t *threads;
	worker *workers;

	pthread_mutex_t mu; /* guards everything below */
	pthread_cond_t cv;
	bool stop, kicked;
	vt_hash pend[MAX_BATCH * 4];
	size_t npend, ipend;
	vt_hash *inflight; /* nworkers * batch, zero when free */
	bool *busy;
	vt_hash cursor;
	bool have_cursor;
	char ruleset[65];
	unsigned nrules;
	/* the retro-scan in progress: from when, how many stale at the start */
	double retro_t0; /* vt_monotonic_seconds() */
	uint64_t retro_total;
	uint64_t analysed, logged, errors;
	vt_analysis_sandbox_options sb_opt;
	unsigned sb_max_samples; /* a child is replaced after this many samples */
	/* analysis children: started, started to replace a failed one, failed
	 * on a sample (crash, timeout, garbage), failed to start */
	uint64_t started, restarts, failures, start_failures;
	uint64_t reconciled;  /* pending entries found in the log at start */
	bool fault_after_log; /* VT_FAULT_ANALYSIS_AFTER_LOG: tests only */
};

/* One sample of a worker's batch. */
typedef struct {
	vt_hash id;
	vt_analysis_result res;
	bool have_res;
	char verdict[16];
	char **rules;
	size_t nrules;
	vt_index_child *children;
	size_t nchildren;
	vt_buf report;
	vt_buf entry;
	vt_hash entry_hash;
	bool log_it, logged;
	bool retry; /* not analysed (no analyser): leave it queued */
	int log_err;
	uint64_t log_index;
	char err_msg[256];
	worker *w; /* whose batch this is, for the log's callback */
} item;

struct worker {
	vt_analysis_service *s;
	unsigned no;
	int memfd;
	int memfd_ro; /* the same memfd opened read-only: what the child gets */
	vt_analysis_sandbox *sb;
	unsigned sb_samples;	  /* samples sb was handed */
	bool sb_failed;		  /* the last child died: the next one is a restart */
	unsigned start_fails;	  /* children that died at start in a row */
	double retry_at;	  /* vt_monotonic_seconds(): no new child before this (back-off) */
	uint8_t *chunk;
	item items[MAX_BATCH];
	size_t n;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t waiting; /* entries submitted and not yet published */
};

/* ---- entries ---- */

static bool rule_ok(const char *r)
{
	const char *colon = strrchr(r, ':');
	size_t n = strlen(r);
	if (!colon || colon == r || n > VT_INDEX_RULE_MAX || !colon[1] ||
	    (colon[1] >= '0' && colon[1] <= '9'))
		return false;
	for (const char *p = r; *p; p++) {
		char ch = *p;
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9') || ch == '_';
		if (p < colon ? !(alnum || ch == '.' || ch == '/' || ch == '-')
			      : (p > colon && !alnum))
			return false;
	}
	return true;
}

int vt_analysis_entry(vt_buf *out, const vt_hash *sample, const char *ruleset, vt_verdict v,
		      const char *const *rules, size_t nrules)
{
	char hex[65];
	int err;

	for (size_t i = 0; i < nrules; i++) {
		if (!rule_ok(rules[i]))
			return vt_error_set(VT_EINVAL, "not a rule name for an entry: \"%s\"",
					    rules[i]);
		if (i > 0 && strcmp(rules[i - 1], rules[i]) >= 0)
			return vt_error_set(VT_EINVAL, "rules must be sorted and distinct");
	}
	vt_hex_encode(hex, sample->b, VT_HASH_SIZE);
	hex[64] = 0;
	if ((err = vt_buf_printf(out, "vitrine/1 analysis\nsha256 %s\n", hex)) < 0)
		return err;
	if (ruleset && *ruleset)
		err = vt_buf_printf(out, "ruleset sha256:%s\n", ruleset);
	else
		err = vt_buf_adds(out, "ruleset none\n");
	if (err == 0)
		err = vt_buf_printf(out, "verdict %s\nmatches %zu\n", vt_verdict_name(v), nrules);
	for (size_t i = 0; i < nrules && i < VT_ANALYSIS_ENTRY_RULES_MAX && err == 0; i++)
		err = vt_buf_printf(out, "rule %s\n", rules[i]);
	return err;
}

/* ---- one sample ---- */

static void item_clear(item *it)
{
	if (it->have_res)
		vt_analysis_result_dispose(&it->res);
	for (size_t i = 0; i < it->nrules; i++)
		free(it->rules[i]);
	free(it->rules);
	free(it->children);
	vt_buf_dispose(&it->report);
	vt_buf_dispose(&it->entry);
	memset(it, 0, sizeof(*it));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect the rules and children of the whole tree. */
static int collect(item *it, const vt_analysis_node *n, const char *prefix, size_t *cap_r,
		   size_t *cap_c)
{
	char path[VT_INDEX_PATH_MAX + 1];
	int err = 0;

	for (size_t i = 0; i < n->nmatches; i++) {
		char name[2 * VT_INDEX_RULE_MAX + 2];
		snprintf(name, sizeof(name), "%s:%s", n->matches[i].ns ? n->matches[i].ns : "",
			 n->matches[i].rule);
		if (!rule_ok(name))
			continue; /* a namespace the entry rules cannot spell */
		if (it->nrules == *cap_r) {
			size_t nc = *cap_r ? *cap_r * 2 : 8;
			char **p = realloc(it->rules, nc * sizeof(*p));
			if (!p)
				return vt_error_set(VT_ENOMEM, "out of memory");
			it->rules = p;
			*cap_r = nc;
		}
		if (!(it->rules[it->nrules] = strdup(name)))
			return vt_error_set(VT_ENOMEM, "out of memory");
		it->nrules++;
	}
	for (size_t i = 0; i < n->nchildren && err == 0; i++) {
		const vt_analysis_node *ch = &n->children[i];
		int len = snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "!" : "",
				   ch->name ? ch->name : "data");
		if (len < 0 || (size_t)len >= sizeof(path))
			continue;
		if (ch->hashed && ch->sha256[0]) {
			if (it->nchildren == *cap_c) {
				size_t nc = *cap_c ? *cap_c * 2 : 8;
				vt_index_child *p = realloc(it->children, nc * sizeof(*p));
				if (!p)
					return vt_error_set(VT_ENOMEM, "out of memory");
				it->children = p;
				*cap_c = nc;
			}
			vt_hex_decode(it->children[it->nchildren].child.b, VT_HASH_SIZE, ch->sha256,
				      64);
			memcpy(it->children[it->nchildren].path, path, (size_t)len + 1);
			/* A path with a control character cannot be stored: skip it. */
			bool ok = true;
			for (int k = 0; k < len; k++)
				if ((unsigned char)path[k] < 0x20 || path[k] == 0x7f)
					ok = false;
			if (ok)
				it->nchildren++;
		}
		err = collect(it, ch, path, cap_r, cap_c);
	}
	return err;
}

static void dedup(item *it)
{
	size_t k = 0;
	if (it->nrules > 1) /* rules is NULL when there are none */
		qsort(it->rules, it->nrules, sizeof(*it->rules), cmp_str);
	for (size_t i = 0; i < it->nrules; i++) {
		if (k > 0 && strcmp(it->rules[k - 1], it->rules[i]) == 0) {
			free(it->rules[i]);
			continue;
		}
		it->rules[k++] = it->rules[i];
	}
	it->nrules = k;
}

/* Decrypt the vault object into the worker's memfd. */
static int load(worker *w, const vt_hash *id, uint64_t size)
{
	vt_analysis_service *s = w->s;
	vt_vault_reader *r = NULL;
	uint64_t got = 0;
	size_t n;
	int err;

	if (ftruncate(w->memfd, 0) < 0)
		return vt_error_sys(VT_EIO, errno, "memfd");
	if ((err = vt_vault_reader_open(&r, s->vault, id, s->jurisdiction)) < 0)
		goto done;
	for (;;) {
		if ((err = vt_vault_reader_read(&n, r, w->chunk, CHUNK)) < 0 || n == 0)
			break;
		if (got + n > size) {
			err =
			    vt_error_set(VT_ECORRUPT, "the vault object is larger than the sample");
			break;
		}
		if (pwrite(w->memfd, w->chunk, n, (off_t)got) != (ssize_t)n) {
			err = vt_error_sys(VT_EIO, errno, "memfd");
			break;
		}
		got += n;
	}
done:
	vt_vault_reader_close(r);
	return err;
}

/* Whether the stored analysis says the same (verdict and rules). */
struct same_ctx {
	const item *it;
	size_t i;
	bool same;
};

static int same_rule(const char *rule, void *payload)
{
	struct same_ctx *x = payload;
	if (x->i >= x->it->nrules || strcmp(x->it->rules[x->i], rule) != 0)
		x->same = false;
	x->i++;
	return 0;
}

static bool unchanged(vt_analysis_service *s, const item *it)
{
	vt_index_analysis_row row;
	struct same_ctx x = {it, 0, true};
	if (vt_index_analysis_get(&row, s->idx, &it->id) < 0) {
		vt_error_clear();
		return false;
	}
	x.same = strcmp(row.verdict, it->verdict) == 0 && row.log_index >= 0;
	vt_index_analysis_row_dispose(&row);
	if (x.same && vt_index_analysis_list(s->idx, &it->id, same_rule, NULL, &x) < 0)
		return false;
	return x.same && x.i == it->nrules;
}

/* A child with the batch's rules, started (after the back-off) if needed. */
static int child_ready(worker *w, vt_analysis_rules *rules)
{
	vt_analysis_service *s = w->s;
	int64_t wait;
	int err = 0;

	/* A compromised child that does not crash sees and judges every
	 * later sample it is handed: it is replaced after a number of them. */
	if (w->sb != NULL &&
	    (!vt_analysis_sandbox_alive(w->sb) || vt_analysis_sandbox_rules(w->sb) != rules ||
	     w->sb_samples >= s->sb_max_samples)) {
		vt_analysis_sandbox_free(w->sb);
		w->sb = NULL;
	}
	if (w->sb != NULL)
		goto done;
	while ((wait = (int64_t)(1e3 * (w->retry_at - vt_monotonic_seconds()))) > 0 && !s->stop)
		usleep((useconds_t)(wait < 100 ? wait : 100) * 1000);
	if (s->stop) {
		err = vt_error_set(VT_EBUSY, "stopping");
		goto done;
	}
	err = vt_analysis_sandbox_new(&w->sb, rules, &s->sb_opt);
	pthread_mutex_lock(&s->mu);
	if (err < 0) {
		s->start_failures++;
	} else {
		s->started++;
		s->restarts += w->sb_failed;
	}
	pthread_mutex_unlock(&s->mu);
	if (err < 0) {
		unsigned shift = w->start_fails < 7 ? w->start_fails : 7;
		int64_t ms = (int64_t)BACKOFF_MIN_MS << shift;
		if (ms > BACKOFF_MAX_MS)
			ms = BACKOFF_MAX_MS;
		w->start_fails++;
		w->retry_at = vt_monotonic_seconds() + (double)ms / 1e3;
		w->sb_failed = true;
		goto done;
	}
	w->start_fails = 0;
	w->sb_failed = false;
	w->sb_samples = 0;
done:
	return err;
}

/*
 * The child's failure on this sample as its result: unknown, with what
 * happened as the reason (the child is dead; the next sample gets another).
 */
static int failed_result(vt_analysis_result *r, uint64_t size, const char *ruleset, const char *why)
{
	memset(r, 0, sizeof(*r));
	r->root.size = size;
	r->root.verdict = VT_VERDICT_UNKNOWN;
	snprintf(r->rules_digest, sizeof(r->rules_digest), "%s", ruleset);
	if ((r->root.reason = strdup(why)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	return 0;
}

/* Analyse the sample in the worker's memfd in its child. */
static int child_scan(worker *w, item *it, vt_analysis_rules *rules, uint64_t size)
{
	vt_analysis_service *s = w->s;
	char why[256], hex[2 * VT_HASH_SIZE + 1];
	int err;

	vt_hex_encode(hex, it->id.b, VT_HASH_SIZE);
	for (int attempt = 0;; attempt++) {
		if ((err = child_ready(w, rules)) < 0) {
			it->retry = true;
			goto done;
		}
		w->sb_samples++;
		err = vt_analysis_sandbox_scan_fd(&it->res, w->sb, w->memfd_ro, hex);
		if (err == 0 || !vt_analysis_sandbox_died_idle(w->sb) || attempt > 0)
			break;
		/* It died while idle: not this sample's doing; one more child. */
		pthread_mutex_lock(&s->mu);
		s->failures++;
		pthread_mutex_unlock(&s->mu);
		w->sb_failed = true;
	}
	if (err < 0 && !vt_analysis_sandbox_alive(w->sb)) {
		snprintf(why, sizeof(why), "%s", vt_error_last());
		pthread_mutex_lock(&s->mu);
		s->failures++;
		s->errors++;
		pthread_mutex_unlock(&s->mu);
		w->sb_failed = true;
		err = failed_result(&it->res, size, rules ? vt_analysis_rules_digest(rules) : "",
				    why);
	}
done:
	return err;
}

static void analyse(worker *w, item *it, vt_analysis_rules *rules)
{
	const char *ruleset = rules ? vt_analysis_rules_digest(rules) : "";
	vt_analysis_service *s = w->s;
	vt_index_sample smp;
	vt_index_key key;
	size_t cap_r = 0, cap_c = 0;
	vt_verdict v = VT_VERDICT_UNKNOWN;
	int err;

	vt_buf_init(&it->report, VT_INDEX_REPORT_MAX);
	vt_buf_init(&it->entry, 65535);
	memcpy(key.b, it->id.b, VT_HASH_SIZE);
	key.len = VT_HASH_SIZE;
	if ((err = vt_index_sample_get_by_hash(&smp, s->idx, &key)) < 0 ||
	    (err = load(w, &it->id, smp.size)) < 0 ||
	    (err = child_scan(w, it, rules, smp.size)) < 0) {
		if (it->retry) {
			pthread_mutex_lock(&s->mu);
			s->errors++;
			pthread_mutex_unlock(&s->mu);
			return; /* no analyser: stays queued, tried again */
		}
		/* Unreadable: an `unknown` verdict that says why, not a retry
		 * forever. */
		snprintf(it->err_msg, sizeof(it->err_msg), "%s", vt_error_last());
		vt_buf_adds(&it->report, "{\"error\": ");
		vt_report_json_string(&it->report, it->err_msg, strlen(it->err_msg));
		vt_buf_adds(&it->report, "}");
		snprintf(it->verdict, sizeof(it->verdict), "unknown");
		pthread_mutex_lock(&s->mu);
		s->errors++;
		pthread_mutex_unlock(&s->mu);
	} else {
		it->have_res = true;
		v = it->res.root.verdict;
		snprintf(it->verdict, sizeof(it->verdict), "%s", vt_verdict_name(v));
		if (collect(it, &it->res.root, "", &cap_r, &cap_c) < 0)
			it->nrules = 0;
		dedup(it);
		if (vt_analysis_result_json(&it->report, &it->res, NULL) < 0) {
			vt_buf_reset(&it->report);
			vt_buf_adds(&it->report, "{\"truncated\": true}");
		}
	}
	if (!unchanged(s, it) &&
	    vt_analysis_entry(&it->entry, &it->id, ruleset, v, (const char *const *)it->rules,
			      it->nrules) == 0) {
		vt_index_pending p;
		it->log_it = true;
		vt_sha256(&it->entry_hash, it->entry.ptr, it->entry.len);
		/* The very entry is in the log already (a run died before it
		 * stored this analysis): take its index, log nothing. */
		if (vt_index_analysis_pending_get(&p, s->idx, &it->id) == 0 && p.log_index >= 0 &&
		    vt_hash_equal(&p.entry, &it->entry_hash)) {
			it->log_it = false;
			it->logged = true;
			it->log_index = (uint64_t)p.log_index;
		}
		vt_error_clear();
	}
}

static void on_logged(int err, uint64_t index, uint64_t size, void *payload)
{
	item *it = payload;
	worker *w = it->w;
	(void)size;
	pthread_mutex_lock(&w->mu);
	it->log_err = err;
	it->log_index = index;
	it->logged = err == 0;
	w->waiting--;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* ---- claiming ---- */

static bool in_flight(vt_analysis_service *s, const vt_hash *h)
{
	for (size_t i = 0; i < (size_t)s->nworkers * s->batch; i++)
		if (s->busy[i] && memcmp(s->inflight[i].b, h->b, VT_HASH_SIZE) == 0)
			return true;
	return false;
}

/* Under s->mu: fill s->pend from the index. */
static void refill(vt_analysis_service *s)
{
	vt_hash got[MAX_BATCH * 4];
	size_t n = 0, max = sizeof(got) / sizeof(got[0]);

	s->npend = s->ipend = 0;
	if (vt_index_analysis_queue(got, &n, s->idx, max) < 0)
		n = 0;
	if (n == 0 && s->ruleset[0]) {
		if (vt_index_analysis_stale(got, &n, s->idx, s->ruleset,
					    s->have_cursor ? &s->cursor : NULL, max) < 0)
			n = 0;
		/* The index keeps where this fetch started: a restart resumes
		 * there (what was fetched but not stored is fetched again). */
		if (n > 0 || s->have_cursor)
			vt_index_analysis_cursor_set(s->idx, s->ruleset,
						     s->have_cursor && n > 0 ? &s->cursor : NULL);
		if (n > 0) {
			s->cursor = got[n - 1];
			s->have_cursor = true;
		} else {
			s->have_cursor = false; /* round done; the next pass finds stragglers */
		}
		vt_error_clear();
	}
	for (size_t i = 0; i < n; i++)
		if (!in_flight(s, &got[i]))
			s->pend[s->npend++] = got[i];
}

/* Take up to batch samples for worker w; false when stopping. */
static bool claim(worker *w)
{
	vt_analysis_service *s = w->s;
	struct timespec until;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->stop)
			break;
		if (s->ipend == s->npend)
			refill(s);
		if (s->ipend < s->npend)
			break;
		until = vt_timespec_after(CLOCK_REALTIME, s->poll_ms);
		if (!s->kicked)
			pthread_cond_timedwait(&s->cv, &s->mu, &until);
		s->kicked = false;
	}
	w->n = 0;
	while (!s->stop && s->ipend < s->npend && w->n < s->batch) {
		size_t slot = (size_t)w->no * s->batch + w->n;
		memset(&w->items[w->n], 0, sizeof(item));
		w->items[w->n].id = s->pend[s->ipend++];
		s->inflight[slot] = w->items[w->n].id;
		s->busy[slot] = true;
		w->n++;
	}
	pthread_mutex_unlock(&s->mu);
	return w->n > 0;
}

static void release_all(worker *w)
{
	vt_analysis_service *s = w->s;
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->batch; i++)
		s->busy[(size_t)w->no * s->batch + i] = false;
	pthread_mutex_unlock(&s->mu);
}

static void run_batch(worker *w)
{
	vt_analysis_service *s = w->s;
	vt_index_analysis rows[MAX_BATCH];
	vt_index_pending pend[MAX_BATCH];
	vt_analysis_rules *rules = vt_analysis_engine_rules(s->eng);
	const char *ruleset = rules ? vt_analysis_rules_digest(rules) : "";
	vt_log_stats_t ls;
	size_t nrows = 0, logged = 0, npend = 0;
	bool pending_ok;

	for (size_t i = 0; i < w->n; i++) {
		item *it = &w->items[i];
		analyse(w, it, rules);
		it->w = w;
	}
	/* Record what is about to be logged before logging it: the log's
	 * size now is a lower bound of the entries' indices. */
	vt_log_stats(s->log, &ls);
	for (size_t i = 0; i < w->n; i++)
		if (w->items[i].log_it)
			pend[npend++] = (vt_index_pending){.sample = w->items[i].id,
							   .entry = w->items[i].entry_hash,
							   .log_from = ls.size};
	pending_ok = npend == 0 || vt_index_analysis_pending_put(s->idx, pend, npend) == 0;
	for (size_t i = 0; i < w->n; i++) {
		item *it = &w->items[i];
		if (!it->log_it)
			continue;
		if (!pending_ok) {
			it->log_err = VT_EIO; /* left queued, tried again later */
			continue;
		}
		pthread_mutex_lock(&w->mu);
		w->waiting++;
		pthread_mutex_unlock(&w->mu);
		for (;;) {
			int err =
			    vt_log_submit(s->log, it->entry.ptr, it->entry.len, on_logged, it);
			if (err == 0)
				break;
			if (err != VT_EBUSY || s->stop) {
				pthread_mutex_lock(&w->mu);
				w->waiting--;
				it->log_err = err;
				pthread_mutex_unlock(&w->mu);
				break;
			}
			usleep(20000); /* the sequencer's queue is full: let it drain */
		}
	}
	pthread_mutex_lock(&w->mu);
	while (w->waiting > 0)
		pthread_cond_wait(&w->cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	if (s->fault_after_log && npend > 0)
		_exit(9); /* the crash the pending rows are for (tests only) */
	for (size_t i = 0; i < w->n; i++) {
		item *it = &w->items[i];
		vt_analysis_node *r = it->have_res ? &it->res.root : NULL;
		/* Not logged as it had to be, or not analysed: leave it queued. */
		if ((it->log_it && !it->logged) || it->retry)
			continue;
		rows[nrows] = (vt_index_analysis){
		    .sample = it->id,
		    .ruleset = ruleset,
		    .verdict = it->verdict,
		    .type = r ? r->type : NULL,
		    .mime = r ? r->mime : NULL,
		    .ssdeep = r ? r->ssdeep : NULL,
		    .tlsh = r ? r->tlsh : NULL,
		    .entropy = r ? r->entropy : 0,
		    .report = vt_buf_cstr(&it->report),
		    .log_index = it->logged ? (int64_t)it->log_index : -1,
		    .rules = (const char *const *)it->rules,
		    .nrules = it->nrules,
		    .children = it->children,
		    .nchildren = it->nchildren,
		};
		logged += it->logged;
		nrows++;
	}
	if (nrows && vt_index_analysis_put(s->idx, rows, nrows) < 0) {
		/* One bad row must not block the rest: store one by one; a
		 * logged entry whose analysis cannot be stored keeps its index
		 * in the pending row, so the retry does not log it again. */
		for (size_t i = 0; i < nrows; i++)
			if (vt_index_analysis_put(s->idx, &rows[i], 1) < 0 &&
			    rows[i].log_index >= 0)
				vt_index_analysis_pending_resolve(s->idx, &rows[i].sample,
								  rows[i].log_index);
	}
	pthread_mutex_lock(&s->mu);
	s->analysed += nrows;
	s->logged += logged;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < w->n; i++)
		item_clear(&w->items[i]);
	vt_analysis_rules_unref(rules);
}

static void *worker_main(void *arg)
{
	worker *w = arg;
	while (claim(w)) {
		run_batch(w);
		release_all(w);
	}
	/* The child dies with this thread anyway (PR_SET_PDEATHSIG). */
	vt_analysis_sandbox_free(w->sb);
	w->sb = NULL;
	return NULL;
}

/* ---- the service ---- */

static void retro_start(vt_analysis_service *s)
{
	vt_index_analysis_counts c;
	if (vt_index_analysis_count(&c, s->idx, s->ruleset) < 0)
		c.stale = 0;
	s->retro_t0 = vt_monotonic_seconds();
	s->retro_total = c.stale;
	/* Resume a retro-scan of this ruleset that a restart cut short. */
	s->have_cursor =
	    s->ruleset[0] && vt_index_analysis_cursor_get(&s->cursor, s->idx, s->ruleset) == 0;
	vt_error_clear();
}

/* ---- reconciling pending entries with the log ---- */

struct reconcile_ctx {
	vt_index_pending *p;
	size_t n, cap;
	uint64_t from;
	size_t found;
};

static int collect_pending(const vt_index_pending *p, void *payload)
{
	struct reconcile_ctx *x = payload;
	if (x->n == x->cap) {
		size_t nc = x->cap ? x->cap * 2 : 64;
		vt_index_pending *q = realloc(x->p, nc * sizeof(*q));
		if (!q)
			return vt_error_set(VT_ENOMEM, "out of memory");
		x->p = q;
		x->cap = nc;
	}
	x->p[x->n++] = *p;
	if (x->n == 1 || p->log_from < x->from)
		x->from = p->log_from;
	return 0;
}

static int match_entry(uint64_t index, const uint8_t *entry, size_t len, void *payload)
{
	struct reconcile_ctx *x = payload;
	vt_hash h;
	int err;

	if ((err = vt_sha256(&h, entry, len)) < 0)
		return err;
	for (size_t i = 0; i < x->n; i++)
		if (x->p[i].log_index < 0 && index >= x->p[i].log_from &&
		    vt_hash_equal(&h, &x->p[i].entry)) {
			x->p[i].log_index = (int64_t)index;
			x->found++;
		}
	return 0;
}

/*
 * A run that died between logging a batch and storing it left pending
 * rows. The log is open, so what the dead run made durable is rolled
 * forward into its tree: each pending entry is either in the log after
 * its log_from or nowhere. Found ones keep their index (the analysis
 * they are redone by takes it), the others are forgotten (logged anew).
 */
static int reconcile(vt_analysis_service *s)
{
	struct reconcile_ctx x = {0};
	vt_storage *st = NULL;
	vt_tlog_reader *r = NULL;
	vt_log_stats_t ls;
	int err;

	if ((err = vt_index_analysis_pending_list(s->idx, collect_pending, &x)) != 0 || x.n == 0)
		goto done;
	for (size_t i = 0; i < x.n; i++)
		x.p[i].log_index = -1; /* found again, or not, in this walk */
	vt_log_stats(s->log, &ls);
	if (x.from < ls.size) {
		if ((err = vt_storage_posix_open(&st, s->dir, false)) < 0 ||
		    (err = vt_tlog_reader_new(&r, ls.size, vt_storage_fetch, st)) < 0 ||
		    (err = vt_tlog_reader_walk(r, x.from, match_entry, &x)) != 0)
			goto done;
	}
	for (size_t i = 0; i < x.n && err == 0; i++)
		err = vt_index_analysis_pending_resolve(s->idx, &x.p[i].sample, x.p[i].log_index);
	s->reconciled = x.found;
done:
	vt_tlog_reader_free(r);
	if (st)
		vt_storage_close(st);
	free(x.p);
	return err;
}

int vt_analysis_service_start(vt_analysis_service **out, vt_index *idx, vt_vault *vault,
			      const char *jurisdiction, vt_log *log, const char *site_dir,
			      vt_analysis_rules *rules, const vt_analysis_service_options *opt)
{
	vt_analysis_service *s;
	vt_analysis_limits lim;
	char path[64];
	int err = 0;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	s->idx = idx;
	s->vault = vault;
	s->log = log;
	snprintf(s->jurisdiction, sizeof(s->jurisdiction), "%s", jurisdiction);
	snprintf(s->dir, sizeof(s->dir), "%s", site_dir);
	s->nworkers = opt && opt->workers ? opt->workers : (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	if (s->nworkers == 0)
		s->nworkers = 1;
	if (s->nworkers > MAX_WORKERS)
		s->nworkers = MAX_WORKERS;
	s->batch = opt && opt->batch ? opt->batch : 16;
	if (s->batch > MAX_BATCH)
		s->batch = MAX_BATCH;
	s->poll_ms = opt && opt->poll_ms ? opt->poll_ms : 100;
	vt_analysis_limits_default(&lim);
	if (opt && opt->limits.max_depth)
		lim = opt->limits;
	if ((err = vt_analysis_engine_new(&s->eng, rules, &lim, 0)) < 0)
		goto done;
	vt_analysis_sandbox_options_default(&s->sb_opt);
	s->sb_opt.limits = lim;
	s->sb_opt.exe = opt ? opt->analyser_exe : NULL;
	s->sb_opt.memory_max = opt ? opt->analyser_memory_max : 0;
	s->sb_max_samples =
	    opt && opt->analyser_max_samples ? opt->analyser_max_samples : MAX_SAMPLES;
	if (rules) {
		snprintf(s->ruleset, sizeof(s->ruleset), "%s", vt_analysis_rules_digest(rules));
		s->nrules = vt_analysis_rules_count(rules);
	}
	if ((err = reconcile(s)) < 0)
		goto done;
	s->fault_after_log = getenv("VT_FAULT_ANALYSIS_AFTER_LOG") != NULL;
	retro_start(s);
	s->inflight = calloc((size_t)s->nworkers * s->batch, sizeof(*s->inflight));
	s->busy = calloc((size_t)s->nworkers * s->batch, sizeof(*s->busy));
	s->threads = calloc(s->nworkers, sizeof(*s->threads));
	s->workers = calloc(s->nworkers, sizeof(*s->workers));
	if (!s->inflight || !s->busy || !s->threads || !s->workers) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		worker *w = &s->workers[i];
		w->s = s;
		w->no = i;
		pthread_mutex_init(&w->mu, NULL);
		pthread_cond_init(&w->cv, NULL);
		w->memfd_ro = -1;
		if ((w->memfd = memfd_create("vitrine-sample", MFD_CLOEXEC)) < 0) {
			err = vt_error_sys(VT_EIO, errno, "memfd_create");
			goto done;
		}
		/* A second, read-only open file: the child may not write the sample. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", w->memfd);
		if ((w->memfd_ro = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			err = vt_error_sys(VT_EIO, errno, "%s", path);
			goto done;
		}
		if ((w->chunk = malloc(CHUNK)) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
	}
	for (unsigned i = 0; i < s->nworkers; i++) {
		if (pthread_create(&s->threads[i], NULL, worker_main, &s->workers[i]) != 0) {
			err = vt_error_set(VT_EIO, "cannot start an analysis worker");
			s->nworkers = i;
			goto done;
		}
	}
done:
	if (err < 0) {
		vt_analysis_service_free(s);
		return err;
	}
	*out = s;
	return 0;
}

void vt_analysis_service_stop(vt_analysis_service *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	for (unsigned i = 0; s->threads && i < s->nworkers; i++)
		if (s->threads[i]) {
			pthread_join(s->threads[i], NULL);
			s->threads[i] = 0;
		}
}

void vt_analysis_service_free(vt_analysis_service *s)
{
	if (!s)
		return;
	vt_analysis_service_stop(s);
	for (unsigned i = 0; s->workers && i < s->nworkers; i++) {
		if (s->workers[i].memfd > 0)
			close(s->workers[i].memfd);
		if (s->workers[i].memfd_ro > 0)
			close(s->workers[i].memfd_ro);
		free(s->workers[i].chunk);
		pthread_mutex_destroy(&s->workers[i].mu);
		pthread_cond_destroy(&s->workers[i].cv);
	}
	vt_analysis_engine_free(s->eng);
	free(s->inflight);
	free(s->busy);
	free(s->threads);
	free(s->workers);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}

void vt_analysis_service_set_rules(vt_analysis_service *s, vt_analysis_rules *rules)
{
	vt_analysis_engine_set_rules(s->eng, rules);
	pthread_mutex_lock(&s->mu);
	snprintf(s->ruleset, sizeof(s->ruleset), "%s",
		 rules ? vt_analysis_rules_digest(rules) : "");
	s->nrules = rules ? vt_analysis_rules_count(rules) : 0;
	retro_start(s);
	s->npend = s->ipend = 0;
	s->kicked = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

void vt_analysis_service_kick(vt_analysis_service *s)
{
	pthread_mutex_lock(&s->mu);
	s->kicked = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

vt_index *vt_analysis_service_index(vt_analysis_service *s)
{
	return s->idx;
}

const char *vt_analysis_service_dir(vt_analysis_service *s)
{
	return s->dir;
}

int vt_analysis_service_status(vt_buf *out, vt_analysis_service *s)
{
	vt_index_analysis_counts c;
	char ruleset[65];
	unsigned nrules;
	uint64_t total, done, errors, reconciled, started, restarts, failures, start_failures;
	unsigned running = 0;
	double secs, rate;
	int err;

	pthread_mutex_lock(&s->mu);
	memcpy(ruleset, s->ruleset, sizeof(ruleset));
	nrules = s->nrules;
	total = s->retro_total;
	secs = vt_monotonic_seconds() - s->retro_t0;
	errors = s->errors;
	reconciled = s->reconciled;
	started = s->started;
	restarts = s->restarts;
	failures = s->failures;
	start_failures = s->start_failures;
	pthread_mutex_unlock(&s->mu);
	/* A racy glance (workers own their handles); good enough for a status. */
	for (unsigned i = 0; s->workers && i < s->nworkers; i++)
		running += s->workers[i].sb != NULL;
	if ((err = vt_index_analysis_count(&c, s->idx, ruleset)) < 0)
		return err;
	done = total > c.stale ? total - c.stale : 0;
	rate = secs > 0 ? (double)done / secs : 0;
	if (ruleset[0])
		err = vt_buf_printf(out, "{\"ruleset\": \"%s\", ", ruleset);
	else
		err = vt_buf_adds(out, "{\"ruleset\": null, ");
	if (err == 0)
		err = vt_buf_printf(out,
				    "\"rules\": %u, \"workers\": %u, \"samples\": %" PRIu64
				    ", \"pending\": %" PRIu64 ", \"queued\": %" PRIu64
				    ", \"analysed\": %" PRIu64 ", \"errors\": %" PRIu64
				    ", \"reconciled\": %" PRIu64
				    ", \"analysers\": {\"running\": %u, \"started\": %" PRIu64
				    ", \"restarts\": %" PRIu64 ", \"failures\": %" PRIu64
				    ", \"start_failures\": %" PRIu64 "}"
				    ", \"retro_scan\": {\"done\": %" PRIu64 ", \"total\": %" PRIu64
				    ", \"rate\": %.1f, \"eta_s\": ",
				    nrules, s->nworkers, c.samples, c.queued + c.stale, c.queued,
				    c.current, errors, reconciled, running, started, restarts,
				    failures, start_failures, done, total, rate);
	if (err == 0) {
		if (c.stale == 0)
			err = vt_buf_adds(out, "0}}\n");
		else if (rate > 0)
			err = vt_buf_printf(out, "%.0f}}\n", (double)c.stale / rate);
		else
			err = vt_buf_adds(out, "null}}\n");
	}
	return err;
}

/* ---- search ---- */

static int similar(const vt_query_term *t, const char *ssdeep, const char *tlsh, void *payload)
{
	(void)payload;
	if (t->kind == VT_QUERY_SSDEEP)
		return ssdeep && fuzzy_compare(t->text, ssdeep) >= (int)t->num;
	if (t->kind == VT_QUERY_TLSH) {
		int d = tlsh ? vt_analysis__tlsh_diff(t->text, tlsh) : -1;
		return d >= 0 && d <= t->num;
	}
	return 0;
}

struct found_ctx {
	vt_buf *out;
	size_t n;
};

static int add_found(const vt_index_found *f, void *payload)
{
	struct found_ctx *x = payload;
	char hex[65];
	struct tm tm;
	time_t tt = (time_t)f->sample.first_seen;
	char when[32] = "";
	int err;

	vt_hex_encode(hex, f->sample.sha256.b, VT_HASH_SIZE);
	hex[64] = 0;
	if (gmtime_r(&tt, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if ((err = vt_buf_printf(x->out,
				 "%s{\"sha256\": \"%s\", \"size\": %" PRIu64
				 ", \"first_seen\": \"%s\", \"verdict\": ",
				 x->n ? ", " : "", hex, f->sample.size, when)) < 0)
		return err;
	if (f->verdict)
		err = vt_buf_printf(x->out, "\"%s\"", f->verdict);
	else
		err = vt_buf_adds(x->out, "null");
	if (err == 0)
		err = vt_buf_adds(x->out, ", \"type\": ");
	if (err == 0)
		err = f->type ? vt_report_json_string(x->out, f->type, strlen(f->type))
			      : vt_buf_adds(x->out, "null");
	if (err == 0)
		err = vt_buf_adds(x->out, "}");
	x->n++;
	return err;
}

int vt_analysis_service_search(vt_buf *out, vt_analysis_service *s, const vt_query *q,
			       const char *tenant, const char *cursor, size_t limit)
{
	vt_hash after, last;
	struct found_ctx x = {out, 0};
	bool more = false;
	char hex[65];
	int err;

	if (cursor) {
		/* The cursor is "c" and the last SHA-256 examined: opaque to
		 * clients, which must only hand it back. */
		if (strlen(cursor) != 65 || cursor[0] != 'c' ||
		    vt_hex_decode(after.b, VT_HASH_SIZE, cursor + 1, 64) < 0)
			return vt_error_set(VT_EINVAL, "not a cursor of this search");
	}
	if ((err = vt_buf_adds(out, "{\"results\": [")) < 0)
		return err;
	/* Fuzzy terms are decided in C on SQL's candidates, and filters can
	 * make SQLite pass over many rows for one: bound the rows and the
	 * time one page takes, and let the cursor carry on. */
	if ((err = vt_index_search(&last, &more, s->idx, q, tenant, cursor ? &after : NULL, limit,
				   VT_SEARCH_SCAN_MAX, VT_SEARCH_MS_MAX, similar, add_found, &x)) <
	    0)
		return err;
	vt_hex_encode(hex, last.b, VT_HASH_SIZE);
	hex[64] = 0;
	if (more)
		return vt_buf_printf(out, "], \"count\": %zu, \"cursor\": \"c%s\"}\n", x.n, hex);
	return vt_buf_printf(out, "], \"count\": %zu, \"cursor\": null}\n", x.n);
}
