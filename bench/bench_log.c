/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_log: throughput of the log's sequencer against the hashing bound.
 *
 * Appends N distinct entries to a fresh POSIX log in durable groups (one
 * vt_log_submit_batch call per group, completed only once a signed
 * checkpoint covers it; --inflight groups outstanding, default 2, so the
 * log can integrate one group while the last one syncs, as it does under
 * many clients), then hashes the same entries into a bare Merkle
 * right edge: the work no log can avoid, one core, no I/O. The ratio of
 * the two says how much the sequencer spends beyond hashing. Entries are
 * made by writing a hex counter into a fixed template, so generation is
 * cheap; its time is reported, never subtracted. The log runs first so
 * that the peak RSS read after it is the log's own. A last section times
 * the ways of calling SHA-256 that OpenSSL offers, for the leaf and node
 * inputs of the tree, to show what the EVP layer costs per hash.
 *
 * Nothing here asserts: the goals are printed next to the figures.
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* the low-level SHA256_* API is measured on purpose */

#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/log.h"
#include "vitrine/merkle.h"
#include "vitrine/note.h"
#include "vitrine/storage.h"

#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MILLION 1000000ull
#define ORIGIN  "bench.vitrine.localhost/log"

typedef struct {
	uint64_t entries;
	size_t size;
	size_t group;
	const char *parent;
	bool keep;
	uint64_t micro; /* hashes per SHA-256 variant, 0 to skip */
	size_t inflight; /* groups submitted and not yet completed */
} options;

/* Entries of one group, generated in place. */
typedef struct {
	uint8_t *data;
	const void **ptr;
	size_t *len;
	size_t size, cap;
	double gen_seconds;
} batch;

#define WINDOWS_MAX 64

/* Cumulative entries, time and CPU time after each group, for windowed rates. */
typedef struct {
	uint64_t *count;
	double *at, *cpu;
	size_t n;
} timeline;

/* A window of the run: its entries, entries/s and process CPU per entry. */
typedef struct {
	uint64_t entries;
	double rate, cpu_us;
} window_figure;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user, system) of the whole process so far. */
static void cpu_seconds(double *user, double *sys)
{
	struct rusage ru;
	*user = *sys = 0;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return;
	*user = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long peak_rss_kib(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

static int parse_u64(uint64_t *out, const char *s)
{
	char *end;
	unsigned long long v;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int batch_init(batch *b, size_t size, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->size = size;
	b->cap = cap;
	b->data = malloc(size * cap);
	b->ptr = malloc(cap * sizeof(*b->ptr));
	b->len = malloc(cap * sizeof(*b->len));
	if (!b->data || !b->ptr || !b->len)
		return -1;
	/* A readable template; only the counter at the end changes. */
	for (size_t i = 0; i < cap; i++) {
		uint8_t *e = b->data + i * size;
		static const char pad[] = "vitrine/1 bench\nseq ";
		for (size_t j = 0; j < size; j++)
			e[j] = (uint8_t)(j < sizeof(pad) - 1 ? pad[j] : 'x');
		b->ptr[i] = e;
		b->len[i] = size;
	}
	return 0;
}

static void batch_dispose(batch *b)
{
	free(b->data);
	free(b->ptr);
	free(b->len);
}

/*
 * Write entries first..first+n-1: the counter in hex at the end of each
 * (16 digits and a newline when there is room), so all N differ.
 */
static void batch_fill(batch *b, uint64_t first, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t digits = b->size >= 17 ? 16 : b->size;
	size_t at = b->size >= 17 ? b->size - 17 : 0;
	double t0 = now();

	for (size_t i = 0; i < n; i++) {
		uint8_t *e = b->data + i * b->size + at;
		uint64_t v = first + i;
		for (size_t d = digits; d-- > 0;) {
			e[d] = (uint8_t)hex[v & 15];
			v >>= 4;
		}
		if (digits == 16)
			e[16] = '\n';
	}
	b->gen_seconds += now() - t0;
}

static int timeline_init(timeline *t, size_t groups)
{
	t->n = 0;
	t->count = malloc((groups + 1) * sizeof(*t->count));
	t->at = malloc((groups + 1) * sizeof(*t->at));
	t->cpu = malloc((groups + 1) * sizeof(*t->cpu));
	return t->count && t->at && t->cpu ? 0 : -1;
}

static void timeline_dispose(timeline *t)
{
	free(t->count);
	free(t->at);
	free(t->cpu);
}

static void timeline_mark(timeline *t, uint64_t count)
{
	double user, sys;
	cpu_seconds(&user, &sys);
	t->count[t->n] = count;
	t->at[t->n] = now();
	t->cpu[t->n] = user + sys;
	t->n++;
}

/*
 * The window of whole groups between marks *from and *to that covers at
 * least window entries from the start (from_end false) or from the end.
 */
static void timeline_span(size_t *from, size_t *to, const timeline *t, uint64_t window,
			  bool from_end)
{
	size_t last = t->n - 1, k;
	if (!from_end) {
		for (k = 1; k < last && t->count[k] < window; k++)
			;
		*from = 0;
		*to = k;
		return;
	}
	for (k = last; k > 0 && t->count[last] - t->count[k] < window; k--)
		;
	*from = k;
	*to = last;
}

/* Entries/s and CPU microseconds per entry between two marks. */
static void timeline_rate(window_figure *w, const timeline *t, size_t from, size_t to)
{
	w->entries = t->count[to] - t->count[from];
	w->rate = (double)w->entries / (t->at[to] - t->at[from]);
	w->cpu_us = 1e6 * (t->cpu[to] - t->cpu[from]) / (double)w->entries;
}

/* The rate of each successive window of whole groups of at least window entries. */
static size_t timeline_windows(double *out, size_t max, const timeline *t, uint64_t window)
{
	size_t n = 0, k = 0;

	for (size_t j = 1; j < t->n && n < max; j++) {
		if (t->count[j] - t->count[k] < window)
			continue;
		out[n++] = (double)(t->count[j] - t->count[k]) / (t->at[j] - t->at[k]);
		k = j;
	}
	return n;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* The filesystem type and device holding path, from /proc/self/mounts. */
static void describe_fs(char *out, size_t cap, const char *path)
{
	char real[PATH_MAX], line[4096], best[512] = "unknown";
	size_t best_len = 0;
	FILE *f;

	if (!realpath(path, real) || (f = fopen("/proc/self/mounts", "r")) == NULL) {
		snprintf(out, cap, "unknown");
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char dev[1024], mnt[1024], type[64], opts[1024];
		size_t n;
		if (sscanf(line, "%1023s %1023s %63s %1023s", dev, mnt, type, opts) != 4)
			continue;
		n = strlen(mnt);
		if (strncmp(real, mnt, n) != 0 || (real[n] != '/' && real[n] != '\0' && n > 1))
			continue;
		if (n >= best_len) {
			best_len = n;
			snprintf(best, sizeof(best), "%.60s on %.150s (%.100s, %.150s)", type, mnt, dev, opts);
		}
	}
	fclose(f);
	snprintf(out, cap, "%s", best);
}

static void cpu_model(char *out, size_t cap)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(out, cap, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) == 0 && colon) {
			colon += 1 + strspn(colon + 1, " \t");
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(out, cap, "%s", colon);
			break;
		}
	}
	fclose(f);
}

static const char *verdict(bool ok)
{
	return ok ? "met" : "NOT met";
}

/* ---- the log run ------------------------------------------------------ */

typedef struct {
	double seconds;
	window_figure first, last; /* the first and the last ~1M entries */
	double window_rate[WINDOWS_MAX]; /* each successive ~1M entries */
	size_t nwindows;
	double gen_seconds;
	double user, sys; /* CPU seconds of the append loop, all threads */
	long rss_kib;
	vt_log_stats_t stats;
	uint64_t final_size;
} log_result;

/* Groups in flight: completions arrive in order on the log's thread. */
typedef struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	timeline *tl;
	size_t outstanding;
	int err;
	char why[256];
} flight;

typedef struct {
	flight *f;
	batch b;
	uint64_t at; /* index its first entry must get */
	size_t n;
	bool busy;
} slot;

static void on_group_done(int err, uint64_t index, uint64_t size, void *payload)
{
	slot *sl = payload;
	flight *f = sl->f;
	(void)size;
	pthread_mutex_lock(&f->mu);
	if (err < 0 && f->err == 0) {
		f->err = err;
		snprintf(f->why, sizeof(f->why), "%s", vt_error_last());
	} else if (err == 0 && index != sl->at && f->err == 0) {
		f->err = VT_ECORRUPT;
		snprintf(f->why, sizeof(f->why), "group starting at %llu got index %llu",
			 (unsigned long long)sl->at, (unsigned long long)index);
	}
	timeline_mark(f->tl, sl->at + sl->n);
	sl->busy = false;
	f->outstanding--;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static int run_log(log_result *r, const options *o, const char *dir)
{
	vt_note_signer *signer = NULL;
	vt_storage *st = NULL;
	vt_log *log = NULL;
	vt_log_options lo;
	slot *slots = NULL;
	flight f = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
	timeline tl = {0};
	size_t from, to;
	double t0, u0, s0;
	int err = 0;

	memset(r, 0, sizeof(*r));
	f.tl = &tl;
	if ((slots = calloc(o->inflight, sizeof(*slots))) == NULL ||
	    timeline_init(&tl, (size_t)(o->entries / o->group + 2)) < 0) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < o->inflight; i++) {
		slots[i].f = &f;
		if (batch_init(&slots[i].b, o->size, o->group) < 0) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
	}
	vt_log_options_default(&lo);
	lo.batch_max = o->group;
	/* The queue bound covers every entry not yet acknowledged. */
	lo.queue_max = o->group * o->inflight;
	if (lo.queue_max_bytes < lo.queue_max * (2 + o->size))
		lo.queue_max_bytes = lo.queue_max * (2 + o->size);
	if ((err = vt_note_signer_generate(&signer, ORIGIN, VT_NOTE_ED25519)) < 0 ||
	    (err = vt_storage_posix_open(&st, dir, true)) < 0 ||
	    (err = vt_log_open(&log, st, signer, &lo)) < 0)
		goto done;
	cpu_seconds(&u0, &s0);
	t0 = now();
	timeline_mark(&tl, 0);
	for (uint64_t at = 0, g = 0; at < o->entries && err == 0; g++) {
		size_t n = o->entries - at < o->group ? (size_t)(o->entries - at) : o->group;
		slot *sl = &slots[g % o->inflight];
		pthread_mutex_lock(&f.mu);
		while (sl->busy)
			pthread_cond_wait(&f.cv, &f.mu);
		err = f.err;
		pthread_mutex_unlock(&f.mu);
		if (err < 0)
			break;
		batch_fill(&sl->b, at, n);
		sl->at = at;
		sl->n = n;
		sl->busy = true;
		pthread_mutex_lock(&f.mu);
		f.outstanding++;
		/* Full (a completion frees room a moment after it is reported): wait for one. */
		while ((err = vt_log_submit_batch(log, sl->b.ptr, sl->b.len, n, on_group_done,
						  sl)) == VT_EBUSY) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&f.cv, &f.mu, &ts);
		}
		if (err < 0) {
			f.outstanding--;
			sl->busy = false;
		}
		pthread_mutex_unlock(&f.mu);
		at += n;
	}
	pthread_mutex_lock(&f.mu);
	while (f.outstanding > 0)
		pthread_cond_wait(&f.cv, &f.mu);
	if (err == 0 && f.err < 0)
		err = vt_error_set(f.err, "%s", f.why);
	pthread_mutex_unlock(&f.mu);
	if (err < 0)
		goto done;
	r->seconds = now() - t0;
	cpu_seconds(&r->user, &r->sys);
	r->user -= u0;
	r->sys -= s0;
	for (size_t i = 0; i < o->inflight; i++)
		r->gen_seconds += slots[i].b.gen_seconds;
	timeline_span(&from, &to, &tl, MILLION, false);
	timeline_rate(&r->first, &tl, from, to);
	timeline_span(&from, &to, &tl, MILLION, true);
	timeline_rate(&r->last, &tl, from, to);
	r->nwindows = timeline_windows(r->window_rate, WINDOWS_MAX, &tl, MILLION);
	vt_log_stats(log, &r->stats);
	r->final_size = r->stats.size;
done:
	vt_log_close(log);
	vt_storage_close(st);
	vt_note_signer_free(signer);
	r->rss_kib = peak_rss_kib();
	for (size_t i = 0; slots && i < o->inflight; i++)
		batch_dispose(&slots[i].b);
	free(slots);
	timeline_dispose(&tl);
	return err;
}

/* ---- the hashing bound ------------------------------------------------ */

typedef struct {
	double seconds;   /* leaf and node hashing only */
	double gen_seconds;
	vt_hash root;
} bound_result;

static int run_bound(bound_result *r, const options *o)
{
	vt_merkle_edge edge;
	batch b;
	double hashing = 0;
	int err = 0;

	memset(r, 0, sizeof(*r));
	vt_merkle_edge_init(&edge);
	if (batch_init(&b, o->size, o->group) < 0) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	for (uint64_t at = 0; at < o->entries;) {
		size_t n = o->entries - at < o->group ? (size_t)(o->entries - at) : o->group;
		double t0;
		batch_fill(&b, at, n);
		t0 = now();
		for (size_t i = 0; i < n; i++) {
			vt_hash leaf;
			if ((err = vt_merkle_leaf_hash(&leaf, b.ptr[i], b.len[i])) < 0 ||
			    (err = vt_merkle_edge_append(&edge, &leaf, NULL, NULL)) < 0)
				goto done;
		}
		hashing += now() - t0;
		at += n;
	}
	err = vt_merkle_edge_root(&r->root, &edge);
	r->seconds = hashing;
	r->gen_seconds = b.gen_seconds;
done:
	batch_dispose(&b);
	return err;
}

/* ---- SHA-256 call styles ---------------------------------------------- */

typedef enum {
	V_VT,         /* vt_merkle_leaf_hash / vt_merkle_node_hash (what the log uses) */
	V_EVP_REUSE,  /* EVP_DigestInit_ex2 + one Update + Final on a kept context */
	V_EVP_ONESHOT, /* EVP_Digest(): a context per call */
	V_LOWLEVEL,   /* SHA256_Init/Update/Final on the stack (deprecated API) */
	V_COUNT
} variant;

static const char *const variant_name[V_COUNT] = {
	"vitrine (vt_merkle_*)",
	"EVP ctx reused, 1 update",
	"EVP_Digest one-shot",
	"SHA256_Init/Update/Final",
};

/* Hashes per second of one call style on inputs of len bytes. */
static double time_variant(variant v, size_t len, uint64_t n, uint8_t *sink)
{
	uint8_t in[1 + 65536];
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	vt_hash out = {{0}}, a = {{1}}, b = {{2}};
	double t0, t;

	memset(in, 'e', sizeof(in));
	in[0] = len == 65 ? 0x01 : 0x00;
	t0 = now();
	for (uint64_t i = 0; i < n; i++) {
		unsigned int ol;
		SHA256_CTX sc;
		memcpy(in + 1, &i, sizeof(i)); /* every input differs */
		switch (v) {
		case V_VT:
			if (len == 65) {
				memcpy(a.b, &i, sizeof(i));
				vt_merkle_node_hash(&out, &a, &b);
			} else {
				vt_merkle_leaf_hash(&out, in + 1, len - 1);
			}
			break;
		case V_EVP_REUSE:
			EVP_DigestInit_ex2(ctx, md, NULL);
			EVP_DigestUpdate(ctx, in, len);
			EVP_DigestFinal_ex(ctx, out.b, &ol);
			break;
		case V_EVP_ONESHOT:
			EVP_Digest(in, len, out.b, &ol, md, NULL);
			break;
		case V_LOWLEVEL:
			SHA256_Init(&sc);
			SHA256_Update(&sc, in, len);
			SHA256_Final(out.b, &sc);
			break;
		default:
			break;
		}
		*sink ^= out.b[0];
	}
	t = now() - t0;
	EVP_MD_CTX_free(ctx);
	EVP_MD_free(md);
	return (double)n / t;
}

static void run_micro(const options *o)
{
	uint8_t sink = 0;
	size_t leaf_len = 1 + o->size;
	double base_leaf = 0, base_node = 0;

	printf("\nSHA-256 call styles, one core, %llu hashes each (hashes/s)\n",
	       (unsigned long long)o->micro);
	printf("  %-32s %16s %16s\n", "", "leaf (1+size B)", "node (65 B)");
	for (variant v = 0; v < V_COUNT; v++) {
		double l = time_variant(v, leaf_len, o->micro, &sink);
		double n = time_variant(v, 65, o->micro, &sink);
		if (v == V_VT) {
			base_leaf = l;
			base_node = n;
		}
		printf("  %-32s %12.0f %4.2fx %12.0f %4.2fx\n", variant_name[v], l, l / base_leaf,
		       n, n / base_node);
	}
	if (sink == 0xff)
		printf("  (sink %u)\n", sink); /* keeps the loops from being optimised out */
}

/* The published checkpoint must carry the bound's root: same entries, same tree. */
static int check_root(const char *dir, const vt_hash *root)
{
	char b64[64];
	vt_storage *st = NULL;
	vt_buf cp;
	size_t n;
	int err;

	vt_buf_init(&cp, 65536);
	n = vt_base64_encode(b64, root->b, sizeof(root->b));
	if ((err = vt_storage_posix_open(&st, dir, false)) < 0 ||
	    (err = vt_storage_get_checkpoint(st, &cp)) < 0)
		goto done;
	if (!memmem(cp.ptr, cp.len, b64, n))
		err = vt_error_set(VT_ECORRUPT, "the log's root is not the hashing bound's %.*s",
				   (int)n, b64);
done:
	vt_storage_close(st);
	vt_buf_dispose(&cp);
	return err;
}

/* ---- main ------------------------------------------------------------- */

static const char usage[] =
	"usage: bench_log [--entries N] [--size BYTES] [--group N] [--dir DIR] [--keep]\n"
	"                 [--inflight K] [--micro N]\n"
	"  --entries N   entries to append (default 10000000)\n"
	"  --size BYTES  bytes per entry (default 100)\n"
	"  --group N     entries per submitted batch and per group (default 65536)\n"
	"  --inflight K  batches outstanding at once (default 2; 1 waits for each)\n"
	"  --dir DIR     make the data directory under DIR (default /var/tmp)\n"
	"  --keep        keep the data directory\n"
	"  --micro N     hashes per SHA-256 call style (default 2000000, 0 skips)\n";

static int parse_args(options *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"entries", required_argument, 0, 'n'}, {"size", required_argument, 0, 's'},
		{"group", required_argument, 0, 'g'},   {"dir", required_argument, 0, 'd'},
		{"keep", no_argument, 0, 'k'},          {"micro", required_argument, 0, 'm'},
		{"inflight", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	uint64_t v;
	int c;

	*o = (options){.entries = 10 * MILLION, .size = 100, .group = 65536,
		       .parent = "/var/tmp", .micro = 2 * MILLION, .inflight = 2};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(&o->entries, optarg) < 0 || o->entries == 0)
				goto bad;
			break;
		case 's':
			if (parse_u64(&v, optarg) < 0 || v == 0 || v > 65535)
				goto bad;
			o->size = (size_t)v;
			break;
		case 'g':
			if (parse_u64(&v, optarg) < 0 || v == 0 || v > (1u << 24))
				goto bad;
			o->group = (size_t)v;
			break;
		case 'i':
			if (parse_u64(&v, optarg) < 0 || v == 0 || v > 64)
				goto bad;
			o->inflight = (size_t)v;
			break;
		case 'd': o->parent = optarg; break;
		case 'k': o->keep = true; break;
		case 'm':
			if (parse_u64(&o->micro, optarg) < 0)
				goto bad;
			break;
		case 'h': fputs(usage, stdout); exit(0);
		default: goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	return 0;
bad:
	fputs(usage, stderr);
	return -1;
}

int main(int argc, char **argv)
{
	options o;
	log_result lr;
	bound_result br;
	char dir[PATH_MAX], fs[1024], cpu[256];
	int err, rc = 1;
	bool made = false;

	if (parse_args(&o, argc, argv) < 0)
		return 2;
	if (o.size < 17 && o.size < 16 && o.entries > (1ull << (4 * o.size)))
		fprintf(stderr, "bench_log: warning: %zu-byte entries cannot all differ\n", o.size);
	snprintf(dir, sizeof(dir), "%s/vitrine-bench-XXXXXX", o.parent);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "bench_log: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	made = true;
	describe_fs(fs, sizeof(fs), dir);
	cpu_model(cpu, sizeof(cpu));

	printf("bench_log: %llu entries of %zu bytes, groups of %zu, %zu in flight\n",
	       (unsigned long long)o.entries, o.size, o.group, o.inflight);
	printf("  machine    %ld online CPUs (nproc), %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu);
	printf("  data dir   %s\n", dir);
	printf("  filesystem %s\n", fs);
	fflush(stdout);

	if ((err = run_log(&lr, &o, dir)) < 0) {
		fprintf(stderr, "bench_log: log run failed: %s\n", vt_error_last());
		goto done;
	}
	if ((err = run_bound(&br, &o)) < 0) {
		fprintf(stderr, "bench_log: hashing bound failed: %s\n", vt_error_last());
		goto done;
	}
	if (check_root(dir, &br.root) < 0)
		fprintf(stderr, "bench_log: WARNING: %s\n", vt_error_last());

	{
		double rate = (double)o.entries / lr.seconds;
		double bound = (double)o.entries / br.seconds;
		double ratio = rate / bound;
		double drift = lr.last.rate / lr.first.rate;
		double cpu_drift = lr.last.cpu_us / lr.first.cpu_us;
		double rss_mib = (double)lr.rss_kib / 1024.0;
		const vt_log_stats_t *s = &lr.stats;
		double groups = (double)s->groups;

		printf("\n%-38s %16s   %s\n", "figure", "value", "goal");
		printf("%-38s %16.0f   >= 1000000 entries/s: %s\n", "log, entries/s (all)", rate,
		       verdict(rate >= 1e6));
		printf("%-38s %16.0f\n", "log, entries/s (first ~1M)", lr.first.rate);
		printf("%-38s %16.0f\n", "log, entries/s (last ~1M)", lr.last.rate);
		printf("%-38s %16.3f   within 10%%: %s\n", "last/first ratio", drift,
		       verdict(drift >= 0.9 && drift <= 1.1));
		printf("%-38s %16.2f\n", "CPU us per entry (first ~1M)", lr.first.cpu_us);
		printf("%-38s %16.2f\n", "CPU us per entry (last ~1M)", lr.last.cpu_us);
		printf("%-38s %16.3f   within 10%%: %s\n", "last/first CPU per entry", cpu_drift,
		       verdict(cpu_drift >= 0.9 && cpu_drift <= 1.1));
		printf("%-38s %16.0f\n", "hashing bound, entries/s", bound);
		printf("%-38s %15.1f%%   >= 60%%: %s\n", "log / hashing bound", 100 * ratio,
		       verdict(ratio >= 0.6));
		printf("%-38s %16.1f   < 64 MiB: %s\n", "peak RSS after the log (MiB)", rss_mib,
		       verdict(rss_mib < 64));
		printf("%-38s %16.1f\n", "peak RSS after the bound (MiB)",
		       (double)peak_rss_kib() / 1024.0);
		printf("%-38s %16.3f\n", "log wall time (s)", lr.seconds);
		printf("%-38s %16.3f\n", "  entry generation in it (s)", lr.gen_seconds);
		printf("%-38s %16.3f\n", "  integrate (hash, stage) (s)", s->integrate_seconds);
		printf("%-38s %16.3f\n", "  commit (syncs, renames, checkpoint) (s)", s->commit_seconds);
		printf("%-38s %16.3f\n", "  sign checkpoints (s)", s->publish_seconds);
		printf("%-38s %16.3f\n", "  rest (overlap makes it < 0) (s)",
		       lr.seconds - lr.gen_seconds - s->integrate_seconds - s->commit_seconds -
			       s->publish_seconds);
		printf("%-38s %16.3f\n", "log CPU time, user (s)", lr.user);
		printf("%-38s %16.3f\n", "log CPU time, system (s)", lr.sys);
		printf("%-38s %16.3f\n", "bound hashing time (s)", br.seconds);
		printf("%-38s %16llu\n", "groups committed", (unsigned long long)s->groups);
		printf("%-38s %16.0f\n", "mean group size (entries)",
		       groups > 0 ? s->batch_sum / groups : 0);
		printf("%-38s %16.2f\n", "mean commit per group (ms)",
		       groups > 0 ? 1e3 * s->commit_seconds / groups : 0);
		printf("%-38s %16.2f\n", "max commit (ms)", 1e3 * s->commit_max);
		printf("%-38s %16.2f\n", "mean integrate per group (ms)",
		       groups > 0 ? 1e3 * s->integrate_seconds / groups : 0);
		printf("%-38s %16.2f\n", "mean publish per group (ms)",
		       groups > 0 ? 1e3 * s->publish_seconds / groups : 0);
		printf("%-38s %16llu\n", "group errors", (unsigned long long)s->group_errors);
		printf("%-38s %16llu\n", "checkpoint size", (unsigned long long)lr.final_size);
		printf("(first window %llu entries, last window %llu entries: whole groups)\n",
		       (unsigned long long)lr.first.entries, (unsigned long long)lr.last.entries);
		printf("entries/s of each ~1M in turn, thousands:");
		for (size_t i = 0; i < lr.nwindows; i++)
			printf(" %.0f", lr.window_rate[i] / 1e3);
		printf("\n");
	}
	if (o.micro > 0)
		run_micro(&o);
	rc = 0;
done:
	if (made && !o.keep) {
		if (nftw(dir, rm_one, 64, FTW_DEPTH | FTW_PHYS) < 0)
			fprintf(stderr, "bench_log: cannot remove %s: %s\n", dir, strerror(errno));
	} else if (made) {
		printf("kept %s\n", dir);
	}
	return rc;
}
