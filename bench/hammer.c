/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vt_hammer: a load generator and checker for a vitrine log server, after
 * Tessera's hammer.
 *
 * Writers are N keep-alive connections driven by libcurl's multi socket
 * interface on epoll in one or two threads; each loops POST /log/add with a distinct entry
 * and verifies every returned c2sp.org/tlog-proof against the log's key.
 * Readers fetch the checkpoint and verify the inclusion of a random entry
 * through the tiles. A checker thread proves, a few times a second, that
 * the largest checkpoint seen is consistent with the previous one it
 * checked, so every checkpoint the run saw lies on one chain (two
 * checkpoints of one size must have the same root). Any proof that does
 * not verify is a failure and makes the exit status non-zero; refused or
 * failed appends are counted, not failures: the server may refuse.
 *
 * --record appends "<index>\t<hex entry>\n" for each acknowledged entry,
 * flushed per line; --check FILE later proves that each recorded entry is
 * at its index, so a crash test can tell whether an acknowledged entry was
 * lost.
 */
#include "vitrine/checkpoint.h"
#include "vitrine/client.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/intake.h"
#include "vitrine/merkle.h"
#include "vitrine/note.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/tile.h"
#include "vitrine/vault.h"

/* curl 7.88 type-check macros break under -std=c11. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_WRITERS   20000
#define MAX_FILE_SIZE ((uint64_t)256 * 1024 * 1024)
#define MAX_READERS   256
#define SHOW_FAILURES 10 /* failure messages printed; the rest are counted */

static const char usage[] =
    "usage: vt_hammer --url URL --token-file FILE --vkey FILE [options]\n"
    "       vt_hammer --url URL --vkey FILE --check RECORD [--checkpoints FILE]\n"
    "       vt_hammer --url URL --token-file FILE --intake N [--file-size B] [--clients C]\n"
    "       vt_hammer --seal-bound --intake N [--file-size B] [--dir DIR]\n"
    "       vt_hammer --store-bound --intake N [--file-size B] [--clients C] --dir DIR\n"
    "\n"
    "Load a vitrine log server with concurrent appends and reads, verifying\n"
    "every proof it gets; or check that recorded entries are in the log.\n"
    "\n"
    "  --writers N          concurrent append connections (default 256)\n"
    "  --readers N          reader threads (default 4)\n"
    "  --read-rate R        readers together send at most R requests/s (default\n"
    "                       0: as fast as they can; Tessera's hammer limits its\n"
    "                       readers too); the consistency checker's few are extra\n"
    "  --duration SECONDS   run this long (default 10)\n"
    "  --count N            stop after N distinct entries were sent\n"
    "  --entry-size BYTES   size of each entry (default 100)\n"
    "  --timeout SECONDS    give up on one request after this long (default 30)\n"
    "  --record FILE        append \"<index>\\t<hex of entry>\" per acknowledged entry\n"
    "  --checkpoints FILE   append every distinct checkpoint seen (base64, one a\n"
    "                       line); with --check, prove each consistent with the log\n"
    "  --checkpoint-out FILE  write the largest checkpoint seen at the end\n"
    "  --check RECORD       check that each recorded entry is at its index\n"
    "\n"
    "Intake (POST /api/v1/files with a submitter token; no --vkey needed):\n"
    "  --intake N           upload N distinct files, then report files/s, MB/s,\n"
    "                       latency and status counts\n"
    "  --file-size BYTES    size of each file, at least 64 (default 1048576)\n"
    "  --clients C          concurrent upload connections (default 32)\n"
    "  --seal-bound         no server: time the intake's per-byte work (hashes and\n"
    "                       vault sealing) on --intake files in one thread\n"
    "  --store-bound        no server: store --intake files durably in a scratch\n"
    "                       vault (the intake's vault writer: fsync, link, fsync\n"
    "                       of the directory) from --clients threads, nothing else\n"
    "  --dir DIR            where --seal-bound makes its scratch vault (default\n"
    "                       /dev/shm), and --store-bound (required: the filesystem\n"
    "                       the server keeps its vault on)\n"
    "\n"
    "The last line of a run is \"summary key=value ...\" for scripts. Exit status:\n"
    "0, 1 when a proof failed or checkpoints were inconsistent, 2 for bad usage.\n";

typedef struct {
	const char *url, *token_file, *vkey_file, *record, *checkpoints, *cp_out, *check;
	const char *dir; /* --seal-bound's scratch parent */
	unsigned writers, readers, clients;
	uint64_t read_rate; /* requests/s of all readers together; 0: no limit */
	uint64_t intake; /* files to upload (0: the log modes) */
	size_t file_size;
	bool seal_bound, store_bound;
	double duration;
	uint64_t count;
	size_t entry_size;
	long timeout;
} options;

/* The phases of an upload's commit, as the server's /metrics names them. */
#define PHASES 5
static const char *const phase_name[PHASES] = {"queue", "vault", "index", "log", "sighting"};

/* Figures of the server's GET /metrics; -1 for those it does not show. */
typedef struct {
	double cpu;	/* process_cpu_seconds_total */
	double uploads; /* vitrine_intake_uploads_total */
	double phase[PHASES];
} server_sample;

typedef struct {
	/* Shared by every thread; counters are atomics, the rest under mu. */
	options o;
	char token_hdr[300];
	char add_url[4096];
	vt_note_verifier *v;
	const char *origin;
	char run[17]; /* random id making this run's entries distinct */
	struct timespec t0;
	atomic_bool stop;	 /* no new requests */
	atomic_bool stop_checks; /* checker thread: last round then out */
	atomic_uint writer_threads_done;
	atomic_uint_fast64_t issued, adds, busy, e4xx, e5xx, transport, proofs, reads, read_errors,
	    read_proofs, consistency, failures, s201, s200;
	uint8_t *base; /* --intake: the random content every file starts from */

	pthread_mutex_t mu;
	float *lat; /* time to receipt of each add, ms */
	size_t nlat, caplat;
	FILE *rec, *cprec;
	uint64_t *cpseen; /* open-addressed set of (size, root) keys recorded */
	size_t ncpseen, capcpseen;
	vt_buf largest; /* the largest checkpoint note seen */
	vt_checkpoint largest_cp;
	bool have_largest;
	uint64_t shown; /* failure messages printed */
	/* CPU seconds over the run: the server's from its /metrics
	 * (process_cpu_seconds_total; < 0 when it has none), this process's
	 * from getrusage. */
	server_sample srv0, srv1; /* GET /metrics at the start and at the end */
	double server_cpu, self_cpu0, self_cpu;
} hammer;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double elapsed(const hammer *h)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)(ts.tv_sec - h->t0.tv_sec) + (double)(ts.tv_nsec - h->t0.tv_nsec) / 1e9;
}

/* A proof or consistency failure: counted, and printed the first few times. */
static void failure(hammer *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failure(hammer *h, const char *fmt, ...)
{
	va_list ap;
	atomic_fetch_add(&h->failures, 1);
	pthread_mutex_lock(&h->mu);
	if (h->shown++ < SHOW_FAILURES) {
		fputs("vt_hammer: FAILURE: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	pthread_mutex_unlock(&h->mu);
}

/* A first-of-its-kind error (not a failure), printed once per kind. */
static void note_error(atomic_uint_fast64_t *counter, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void note_error(atomic_uint_fast64_t *counter, const char *fmt, ...)
{
	va_list ap;
	if (atomic_fetch_add(counter, 1) != 0)
		return;
	fputs("vt_hammer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs(" (first of its kind; the rest are counted)\n", stderr);
}

/* ---- checkpoints seen --------------------------------------------------- */

static uint64_t cp_key(const vt_checkpoint *c)
{
	/* Size and root together: a second root for one size is recorded too. */
	return ((c->size * 0x9e3779b97f4a7c15u) ^ vt_get_be64(c->root.b)) | 1;
}

/* Insert key into the set; true when it was new. Called under mu. */
static bool cpseen_add(hammer *h, uint64_t key)
{
	size_t i;
	if (2 * (h->ncpseen + 1) > h->capcpseen) {
		size_t cap = h->capcpseen ? 2 * h->capcpseen : 1024;
		uint64_t *n = calloc(cap, sizeof(*n));
		if (!n)
			return false;
		for (size_t j = 0; j < h->capcpseen; j++) {
			uint64_t k = h->cpseen[j];
			if (!k)
				continue;
			for (i = k % cap; n[i]; i = (i + 1) % cap)
				;
			n[i] = k;
		}
		free(h->cpseen);
		h->cpseen = n;
		h->capcpseen = cap;
	}
	for (i = key % h->capcpseen; h->cpseen[i]; i = (i + 1) % h->capcpseen)
		if (h->cpseen[i] == key)
			return false;
	h->cpseen[i] = key;
	h->ncpseen++;
	return true;
}

/*
 * A checkpoint that verified with the log's key: keep the largest, catch
 * two roots for one size at once, and record it when asked to.
 */
static void observe(hammer *h, const char *note, size_t len, const vt_checkpoint *c)
{
	bool differ = false;
	pthread_mutex_lock(&h->mu);
	if (!h->have_largest || c->size > h->largest_cp.size) {
		vt_buf_reset(&h->largest);
		h->have_largest = vt_buf_add(&h->largest, note, len) == 0;
		h->largest_cp = *c;
		h->largest_cp.ext = NULL; /* it points into the caller's text */
		h->largest_cp.ext_len = 0;
	} else if (c->size == h->largest_cp.size && !vt_hash_equal(&c->root, &h->largest_cp.root)) {
		differ = true;
	}
	if (h->cprec && cpseen_add(h, cp_key(c))) {
		vt_buf b64;
		vt_buf_init(&b64, 4 * len);
		if (vt_base64_append(&b64, note, len) == 0) {
			fprintf(h->cprec, "%s\n", vt_buf_cstr(&b64));
			fflush(h->cprec);
		}
		vt_buf_dispose(&b64);
	}
	pthread_mutex_unlock(&h->mu);
	if (differ)
		failure(h, "two checkpoints of size %llu with different roots",
			(unsigned long long)c->size);
}

/* Copy the largest checkpoint seen; false when none yet. */
static bool largest_copy(hammer *h, vt_checkpoint *c, vt_buf *note)
{
	bool have;
	pthread_mutex_lock(&h->mu);
	have = h->have_largest;
	if (have) {
		*c = h->largest_cp;
		vt_buf_reset(note);
		vt_buf_add(note, h->largest.ptr, h->largest.len);
	}
	pthread_mutex_unlock(&h->mu);
	return have;
}

/* n random bytes at p (getrandom never cuts a request of up to 256 bytes short). */
static void fill_random(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 256)
		getrandom(p + i, n - i < 256 ? n - i : 256, 0);
}

/* ---- CPU of the server and of the load --------------------------------- */

/* This process's user and system CPU seconds so far. */
static double self_cpu(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The value of the sample line starting with key in text; -1 without one. */
static double metric(const char *text, const char *key)
{
	const char *at = strstr(text, key);
	return at ? strtod(at + strlen(key), NULL) : -1;
}

/* What GET /metrics says now (-1 for what it does not show, or all of it). */
static void server_read(const hammer *h, server_sample *out)
{
	vt_client *cl = NULL;
	const char *text;
	char key[128];
	vt_buf b;

	out->cpu = out->uploads = -1;
	for (int i = 0; i < PHASES; i++)
		out->phase[i] = -1;
	vt_buf_init(&b, 1 << 20);
	if (vt_client_new(&cl, h->o.url, NULL) == 0 && vt_client_get(cl, &b, "metrics") == 0 &&
	    vt_buf_addc(&b, '\0') == 0) {
		text = (const char *)b.ptr;
		out->cpu = metric(text, "\nprocess_cpu_seconds_total ");
		out->uploads = metric(text, "\nvitrine_intake_uploads_total ");
		for (int i = 0; i < PHASES; i++) {
			snprintf(key, sizeof(key),
				 "\nvitrine_intake_phase_seconds_total{phase=\"%s\"} ",
				 phase_name[i]);
			out->phase[i] = metric(text, key);
		}
	}
	vt_client_free(cl);
	vt_buf_dispose(&b);
	vt_error_clear();
}

static void cpu_start(hammer *h)
{
	server_read(h, &h->srv0);
	h->self_cpu0 = self_cpu();
}

static void cpu_stop(hammer *h)
{
	h->self_cpu = self_cpu() - h->self_cpu0;
	server_read(h, &h->srv1);
	h->server_cpu = h->srv0.cpu < 0 || h->srv1.cpu < 0 ? -1 : h->srv1.cpu - h->srv0.cpu;
}

/*
 * Where the server says the run's uploads spent their time, in ms per
 * upload, into ms[], and in *n how many uploads it published meanwhile
 * (ours and any other client's); false when its /metrics has no intake
 * phases or it restarted during the run.
 */
static bool phases_of(const hammer *h, double ms[PHASES], double *n)
{
	*n = h->srv1.uploads - h->srv0.uploads;
	if (h->srv0.uploads < 0 || h->srv1.uploads < 0 || *n <= 0)
		return false;
	for (int i = 0; i < PHASES; i++) {
		/* Less than at the start: the server restarted meanwhile. */
		if (h->srv0.phase[i] < 0 || h->srv1.phase[i] < h->srv0.phase[i])
			return false;
		ms[i] = 1e3 * (h->srv1.phase[i] - h->srv0.phase[i]) / *n;
	}
	return true;
}

/* One line: CPU microseconds per operation of the server and of vt_hammer. */
static void cpu_report(const hammer *h, double ops, const char *what)
{
	if (ops <= 0)
		return;
	if (h->server_cpu >= 0)
		printf("  cpu:         server %.0f us per %s, vt_hammer %.0f us per %s (one machine)\n",
		       1e6 * h->server_cpu / ops, what, 1e6 * h->self_cpu / ops, what);
	else
		printf("  cpu:         vt_hammer %.0f us per %s (the server shows no "
		       "process_cpu_seconds_total)\n",
		       1e6 * h->self_cpu / ops, what);
}

/* The end of a summary line: the same figures as cpu_report, for scripts. */
static void cpu_summary(const hammer *h, double ops)
{
	if (ops > 0 && h->server_cpu >= 0)
		printf(" server_cpu_us=%.1f", 1e6 * h->server_cpu / ops);
	if (ops > 0)
		printf(" hammer_cpu_us=%.1f", 1e6 * h->self_cpu / ops);
	printf("\n");
}

/* ---- connections -------------------------------------------------------- */

/*
 * One keep-alive connection that POSTs a body and reads the answer: what
 * writers and uploaders share. It is the first member of both, so the
 * pointer curl keeps for a handle (CURLINFO_PRIVATE) is either one.
 */
typedef struct {
	hammer *h;
	CURL *e;
	vt_buf resp;
	uint64_t start, not_before;
	long retry_after;
	bool active, resend, finished;
} conn;

/* How one kind of connection starts its next request and takes an answer. */
typedef struct {
	bool (*start)(conn *c, CURLM *m); /* false when it has no more to send */
	void (*finish)(conn *c, CURLcode rc);
	bool stop_idle; /* at stop, an idle connection ends, a 503 resend too */
} conn_kind;

/* The connections one thread drives: n of them, size bytes apart. */
typedef struct {
	hammer *h;
	char *first;
	size_t size, n;
} conn_group;

static conn *group_at(const conn_group *g, size_t i)
{
	return (conn *)(g->first + i * g->size);
}

static size_t on_header(char *p, size_t size, size_t n, void *payload)
{
	conn *c = payload;
	size_t len = size * n;
	if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0)
		c->retry_after = strtol(p + 12, NULL, 10);
	return len;
}

static int conn_init(conn *c, hammer *h, const char *url, struct curl_slist *hdrs, size_t resp_max,
		     curl_write_callback on_body)
{
	c->h = h;
	vt_buf_init(&c->resp, resp_max);
	if ((c->e = curl_easy_init()) == NULL)
		return vt_error_set(VT_ENOMEM, "cannot make a curl handle");
	curl_easy_setopt(c->e, CURLOPT_URL, url);
	curl_easy_setopt(c->e, CURLOPT_POST, 1L);
	curl_easy_setopt(c->e, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c->e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c->e, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c->e, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(c->e, CURLOPT_PRIVATE, (char *)c);
	curl_easy_setopt(c->e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c->e, CURLOPT_TIMEOUT, h->o.timeout);
	return 0;
}

static void conn_dispose(conn *c)
{
	if (c->e)
		curl_easy_cleanup(c->e);
	vt_buf_dispose(&c->resp);
}

/* Send body, which must stay put until the answer, as the next request. */
static void conn_send(conn *c, CURLM *m, const vt_buf *body)
{
	c->resend = false;
	c->retry_after = 0;
	vt_buf_reset(&c->resp);
	curl_easy_setopt(c->e, CURLOPT_POSTFIELDS, body->ptr);
	curl_easy_setopt(c->e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	c->start = now_ns();
	c->active = true;
	curl_multi_add_handle(m, c->e);
}

/*
 * The part of taking an answer that every kind shares: a transport error
 * backs off, a 503 is sent again after its Retry-After. True with *status
 * when the caller has an HTTP status to act on.
 */
static bool conn_settle(long *status, conn *c, CURLcode rc, uint64_t end)
{
	hammer *h = c->h;

	*status = 0;
	c->active = false;
	c->not_before = end;
	if (rc != CURLE_OK) {
		note_error(&h->transport, "transport error: %s", curl_easy_strerror(rc));
		c->not_before = end + 100000000u; /* the server may be down: do not spin */
		return false;
	}
	curl_easy_getinfo(c->e, CURLINFO_RESPONSE_CODE, status);
	if (*status == 503) {
		atomic_fetch_add(&h->busy, 1);
		c->resend = true;
		c->not_before =
		    end + (uint64_t)(c->retry_after > 0 ? c->retry_after : 1) * 1000000000u;
		return false;
	}
	return true;
}

/*
 * libcurl's socket interface on one epoll set, so that the work of a loop
 * turn is the events that arrived, not every connection: with
 * curl_multi_perform() and curl_multi_poll() each turn walked and polled
 * all of a thread's connections, and the load tool spent more CPU per
 * request than the server it measures.
 */
typedef struct {
	int ep;
	uint64_t timer_at; /* when curl wants its timeout action; UINT64_MAX: never */
} sockloop;

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	sockloop *l = userp;
	struct epoll_event ev = {.data.fd = s};

	(void)e;
	(void)socketp;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(l->ep, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
	if (epoll_ctl(l->ep, EPOLL_CTL_MOD, s, &ev) < 0 && errno == ENOENT)
		epoll_ctl(l->ep, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
	sockloop *l = userp;
	(void)m;
	l->timer_at = timeout_ms < 0 ? UINT64_MAX : now_ns() + (uint64_t)timeout_ms * 1000000u;
	return 0;
}

/* Take every finished transfer off m and hand it to its connection. */
static void conn_group_reap(CURLM *m, const conn_kind *kind)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m, &left)) != NULL) {
		conn *c = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		curl_multi_remove_handle(m, msg->easy_handle);
		kind->finish(c, msg->data.result);
	}
}

/*
 * Start what is due among the idle connections; return how many are not
 * finished and lower *wait_ms to the next one due.
 */
static size_t conn_group_start_due(conn_group *g, const conn_kind *kind, CURLM *m, int *wait_ms)
{
	uint64_t now = now_ns();
	size_t live = 0;

	for (size_t i = 0; i < g->n; i++) {
		conn *c = group_at(g, i);
		if (c->finished)
			continue;
		live++;
		if (c->active)
			continue;
		if (kind->stop_idle && atomic_load(&g->h->stop)) {
			c->finished = true;
			live--;
		} else if (c->not_before <= now) {
			if (!kind->start(c, m))
				live--;
		} else if ((c->not_before - now) / 1000000u < (uint64_t)*wait_ms) {
			*wait_ms = (int)((c->not_before - now) / 1000000u) + 1;
		}
	}
	return live;
}

/* Drive a group's connections on one multi handle until each is finished. */
static void conn_group_run(conn_group *g, const conn_kind *kind)
{
	sockloop l = {.ep = epoll_create1(EPOLL_CLOEXEC), .timer_at = UINT64_MAX};
	CURLM *m = curl_multi_init();
	size_t live = g->n;
	int running;

	if (!m || l.ep < 0) {
		failure(g->h, "cannot make a curl multi handle or an epoll set");
		goto done;
	}
	curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)g->n + 16);
	curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(m, CURLMOPT_SOCKETDATA, &l);
	curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(m, CURLMOPT_TIMERDATA, &l);
	while (live > 0) {
		struct epoll_event ev[64];
		int n, wait_ms = 100;
		uint64_t now;

		live = conn_group_start_due(g, kind, m, &wait_ms);
		if (live == 0)
			break;
		now = now_ns();
		if (l.timer_at <= now)
			wait_ms = 0;
		else if (l.timer_at - now < (uint64_t)wait_ms * 1000000u)
			wait_ms = (int)((l.timer_at - now) / 1000000u) + 1;
		n = epoll_wait(l.ep, ev, (int)(sizeof(ev) / sizeof(ev[0])), wait_ms);
		for (int i = 0; i < n; i++) {
			int what = ((ev[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
				   ((ev[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
				   ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
			curl_multi_socket_action(m, ev[i].data.fd, what, &running);
		}
		if (l.timer_at <= now_ns()) {
			l.timer_at = UINT64_MAX;
			curl_multi_socket_action(m, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		conn_group_reap(m, kind);
	}
done:
	if (m)
		curl_multi_cleanup(m);
	if (l.ep >= 0)
		close(l.ep);
}

/*
 * Split n connections of size bytes from first over nt threads running fn
 * on their group in g[]; *started counts the threads started. On failure
 * stop is set, so the started ones wind down.
 */
static int conn_groups_start(pthread_t *t, conn_group *g, unsigned *started, unsigned nt, hammer *h,
			     void *first, size_t size, size_t n, void *(*fn)(void *))
{
	int err = 0;

	for (unsigned k = 0; k < nt; k++) {
		size_t from = n * k / nt, to = n * (k + 1) / nt;
		g[k] = (conn_group){
		    .h = h, .first = (char *)first + from * size, .size = size, .n = to - from};
		if (pthread_create(&t[k], NULL, fn, &g[k]) != 0) {
			err = vt_error_set(VT_ENOMEM, "cannot start a thread");
			atomic_store(&h->stop, true);
			break;
		}
		(*started)++;
	}
	return err;
}

/* ---- writers ------------------------------------------------------------ */

typedef struct {
	conn c;
	unsigned id;
	uint64_t seq;
	vt_buf entry;
} writer;

static size_t on_body(char *p, size_t size, size_t n, void *payload)
{
	conn *c = payload;
	return vt_buf_add(&c->resp, p, size * n) < 0 ? 0 : size * n;
}

/* The next distinct entry: run id, writer id and sequence, padded. */
static int make_entry(writer *w)
{
	hammer *h = w->c.h;
	int err;
	vt_buf_reset(&w->entry);
	if ((err = vt_buf_printf(&w->entry, "vt_hammer run %s writer %u seq %llu ", h->run, w->id,
				 (unsigned long long)w->seq++)) < 0)
		return err;
	while (w->entry.len + 1 < h->o.entry_size)
		if ((err = vt_buf_addc(&w->entry, 'x')) < 0)
			return err;
	return vt_buf_addc(&w->entry, '\n');
}

/* Start the writer's next request; false when it has no more to send. */
static bool writer_start(conn *c, CURLM *m)
{
	writer *w = (writer *)c;
	hammer *h = c->h;
	if (!c->resend) {
		if (atomic_load(&h->stop) ||
		    (h->o.count && atomic_fetch_add(&h->issued, 1) >= h->o.count)) {
			c->finished = true;
			return false;
		}
		if (make_entry(w) < 0) {
			failure(h, "cannot make an entry: %s", vt_error_last());
			c->finished = true;
			return false;
		}
	}
	conn_send(c, m, &w->entry);
	return true;
}

static void record_latency(hammer *h, float ms)
{
	if (h->nlat == h->caplat) {
		size_t cap = h->caplat ? 2 * h->caplat : 65536;
		float *n = realloc(h->lat, cap * sizeof(*n));
		if (!n)
			return;
		h->lat = n;
		h->caplat = cap;
	}
	h->lat[h->nlat++] = ms;
}

/*
 * Verify a receipt. The answers to one group carry the same checkpoint:
 * each writer thread opens a given checkpoint note once (the signature
 * check is most of the cost) and checks the inclusion proof of every
 * receipt that carries exactly those bytes against it.
 */
static _Thread_local vt_buf tl_note;
static _Thread_local vt_checkpoint tl_cp;
static _Thread_local bool tl_have;

static int verify_receipt(vt_checkpoint *c, hammer *h, const vt_tlog_proof *p, const void *entry,
			  size_t len)
{
	vt_hash leaf;
	int err;

	if (tl_have && tl_note.len == p->checkpoint_len &&
	    memcmp(tl_note.ptr, p->checkpoint, p->checkpoint_len) == 0) {
		*c = tl_cp;
		if ((err = vt_merkle_leaf_hash(&leaf, entry, len)) < 0)
			return err;
		return vt_merkle_verify_inclusion(&leaf, p->index, c->size, p->proof, p->n,
						  &c->root);
	}
	if ((err = vt_tlog_proof_verify_origin(c, NULL, p, h->origin, entry, len, &h->v, 1)) < 0)
		return err;
	if (tl_note.max == 0)
		vt_buf_init(&tl_note, VT_NOTE_MAX_SIZE);
	vt_buf_reset(&tl_note);
	if (vt_buf_add(&tl_note, p->checkpoint, p->checkpoint_len) == 0) {
		/* The checkpoint's extension lines point into the receipt: drop them. */
		tl_cp = *c;
		tl_cp.ext = NULL;
		tl_cp.ext_len = 0;
		tl_have = true;
	}
	return 0;
}

/* A 200: verify the proof, then count, record and observe its checkpoint. */
static void writer_acknowledged(writer *w, uint64_t end)
{
	hammer *h = w->c.h;
	vt_tlog_proof p;
	vt_checkpoint c;
	int err;

	if ((err = vt_tlog_proof_parse(&p, (const char *)w->c.resp.ptr, w->c.resp.len)) < 0 ||
	    (err = verify_receipt(&c, h, &p, w->entry.ptr, w->entry.len)) < 0) {
		failure(h, "writer %u: the proof returned for its entry %llu does not verify: %s",
			w->id, (unsigned long long)(w->seq - 1), vt_error_last());
		return;
	}
	atomic_fetch_add(&h->adds, 1);
	atomic_fetch_add(&h->proofs, 1);
	pthread_mutex_lock(&h->mu);
	record_latency(h, (float)((double)(end - w->c.start) / 1e6));
	if (h->rec) {
		char *hex = malloc(2 * w->entry.len + 1);
		if (hex) {
			vt_hex_encode(hex, w->entry.ptr, w->entry.len);
			fprintf(h->rec, "%llu\t%s\n", (unsigned long long)p.index, hex);
			fflush(h->rec);
			free(hex);
		}
	}
	pthread_mutex_unlock(&h->mu);
	observe(h, p.checkpoint, p.checkpoint_len, &c);
}

static void writer_finish(conn *c, CURLcode rc)
{
	uint64_t end = now_ns();
	long status;

	if (!conn_settle(&status, c, rc, end))
		return;
	if (status == 200) {
		writer_acknowledged((writer *)c, end);
	} else {
		atomic_uint_fast64_t *n = status >= 500 ? &c->h->e5xx : &c->h->e4xx;
		note_error(n, "HTTP %ld from POST /log/add: %.200s", status, vt_buf_cstr(&c->resp));
		c->not_before = end + 50000000u;
	}
}

/* Writers give up a 503 resend at stop: --duration ends the run. */
static const conn_kind writer_kind = {writer_start, writer_finish, true};

static void *writer_thread(void *arg)
{
	conn_group *g = arg;

	conn_group_run(g, &writer_kind);
	vt_buf_dispose(&tl_note);
	tl_have = false;
	atomic_fetch_add(&g->h->writer_threads_done, 1);
	return NULL;
}

static int writer_init(writer *w, hammer *h, unsigned id, struct curl_slist *hdrs)
{
	w->id = id;
	vt_buf_init(&w->entry, VT_ENTRY_MAX);
	return conn_init(&w->c, h, h->add_url, hdrs, VT_TLOG_PROOF_MAX_SIZE, on_body);
}

static void writer_dispose(writer *w)
{
	conn_dispose(&w->c);
	vt_buf_dispose(&w->entry);
}
/* ---- readers ------------------------------------------------------------ */

typedef struct {
	hammer *h;
	vt_client *cl;
	unsigned id;
	uint64_t reads; /* requests this reader sent */
} reader_ctx;

/* A vt_fetch_fn over the client that counts requests. */
static int counted_fetch(vt_buf *out, const char *path, void *payload)
{
	reader_ctx *rc = payload;
	rc->reads++;
	atomic_fetch_add(&rc->h->reads, 1);
	return vt_client_fetch_tile(out, path, rc->cl);
}

/* Fetch and verify the checkpoint; *c and note describe it. */
static int fetch_checkpoint(vt_checkpoint *c, vt_buf *note, hammer *h, vt_client *cl)
{
	vt_note n;
	int err;
	vt_buf_reset(note);
	if ((err = vt_client_get(cl, note, "log/checkpoint")) < 0)
		return err;
	if ((err = vt_note_open(&n, (const char *)note->ptr, note->len, &h->v, 1)) < 0 ||
	    (err = vt_checkpoint_parse(c, n.text, n.text_len)) < 0)
		return vt_error_wrap(VT_EVERIFY, "checkpoint does not verify");
	if (strcmp(c->origin, h->origin) != 0)
		return vt_error_set(VT_EVERIFY, "checkpoint origin \"%s\" is not \"%s\"", c->origin,
				    h->origin);
	return 0;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One round: the checkpoint, then a random entry's inclusion through the tiles. */
static void reader_round(reader_ctx *rc, uint64_t *rnd, vt_buf *note, vt_buf *entry)
{
	hammer *h = rc->h;
	vt_hash proof[VT_MERKLE_MAX_PROOF], leaf;
	vt_tlog_reader *r = NULL;
	vt_checkpoint c;
	uint64_t index;
	size_t n;
	int err;

	atomic_fetch_add(&h->reads, 1);
	if ((err = fetch_checkpoint(&c, note, h, rc->cl)) < 0) {
		if (err == VT_EVERIFY)
			failure(h, "reader %u: %s", rc->id, vt_error_last());
		else
			note_error(&h->read_errors, "reader: %s", vt_error_last());
		goto done;
	}
	observe(h, (const char *)note->ptr, note->len, &c);
	if (c.size == 0)
		goto done;
	index = xorshift(rnd) % c.size;
	vt_buf_reset(entry);
	/* A fresh reader each round, so every round reads tiles. */
	if ((err = vt_tlog_reader_new(&r, c.size, counted_fetch, rc)) < 0 ||
	    (err = vt_tlog_reader_entry(entry, r, index)) < 0 ||
	    (err = vt_merkle_leaf_hash(&leaf, entry->ptr, entry->len)) < 0 ||
	    (err = vt_tlog_reader_prove_inclusion(proof, &n, r, index)) < 0) {
		if (err == VT_ECORRUPT)
			failure(h, "reader %u: entry %llu: %s", rc->id, (unsigned long long)index,
				vt_error_last());
		else
			note_error(&h->read_errors, "reader: entry %llu: %s",
				   (unsigned long long)index, vt_error_last());
		goto done;
	}
	if (vt_merkle_verify_inclusion(&leaf, index, c.size, proof, n, &c.root) < 0) {
		failure(h,
			"reader %u: entry %llu is not included in the checkpoint of size %llu "
			"according to the tiles: %s",
			rc->id, (unsigned long long)index, (unsigned long long)c.size,
			vt_error_last());
		goto done;
	}
	atomic_fetch_add(&h->read_proofs, 1);
done:
	vt_tlog_reader_free(r);
}

static void *reader_thread(void *arg)
{
	reader_ctx *rc = arg;
	hammer *h = rc->h;
	uint64_t rnd = now_ns() ^ ((uint64_t)rc->id << 32) ^ 0x2545f4914f6cdd1du;
	vt_buf note, entry;

	uint64_t start = now_ns();

	vt_buf_init(&note, 1 << 20);
	vt_buf_init(&entry, VT_ENTRY_MAX);
	while (!atomic_load(&h->stop)) {
		uint64_t before = atomic_load(&h->read_errors);
		reader_round(rc, &rnd, &note, &entry);
		if (atomic_load(&h->read_errors) != before)
			usleep(50000); /* the server may be down: do not spin */
		/* --read-rate: each reader keeps to its share, sleeping at most
		 * 100 ms at a time so that the end of the run is seen. */
		while (h->o.read_rate > 0 && !atomic_load(&h->stop)) {
			uint64_t due = start + (uint64_t)((double)rc->reads * 1e9 * h->o.readers /
							  (double)h->o.read_rate);
			uint64_t now = now_ns();
			if (due <= now)
				break;
			usleep((useconds_t)((due - now) / 1000u < 100000u ? (due - now) / 1000u : 100000u));
		}
	}
	vt_buf_dispose(&note);
	vt_buf_dispose(&entry);
	return NULL;
}

/* ---- consistency -------------------------------------------------------- */

typedef struct {
	hammer *h;
	vt_client *cl;
	vt_tlog_reader *r;
	vt_checkpoint checked; /* every checkpoint checked so far leads to this one */
	bool have;
} checker;

/*
 * Prove the tree of old (a smaller or equal size) a prefix of the reader's
 * tree with root root2. Every tree extends the empty one, so an old size
 * of 0 only needs the empty root (vt_merkle_verify_consistency() refuses
 * a "proof" from size 0). VT_EVERIFY when inconsistent; fetch errors as
 * they come.
 */
static int prove_consistent(vt_tlog_reader *r, const vt_checkpoint *old, uint64_t size2,
			    const vt_hash *root2)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF], empty;
	size_t n;
	int err;

	if (old->size == 0) {
		vt_merkle_empty_root(&empty);
		if (!vt_hash_equal(&empty, &old->root))
			return vt_error_set(VT_EVERIFY, "a checkpoint of size 0 with a root that "
							"is not the empty tree's");
		return 0;
	}
	vt_tlog_reader_set_size(r, size2);
	if ((err = vt_tlog_reader_prove_consistency(proof, &n, r, old->size)) < 0)
		return err;
	if ((err = vt_merkle_verify_consistency(old->size, size2, &old->root, root2, proof, n)) < 0)
		return vt_error_wrap(VT_EVERIFY, "consistency proof does not verify");
	return 0;
}

/* Prove the largest checkpoint seen consistent with the last one checked. */
static void check_round(checker *k)
{
	hammer *h = k->h;
	vt_checkpoint c;
	vt_buf note;
	int err;

	vt_buf_init(&note, 1 << 20);
	if (!largest_copy(h, &c, &note))
		goto done;
	if (!k->have) {
		k->checked = c;
		k->have = true;
		goto done;
	}
	if (c.size <= k->checked.size)
		goto done;
	if ((err = prove_consistent(k->r, &k->checked, c.size, &c.root)) < 0) {
		if (err == VT_EVERIFY || err == VT_ECORRUPT)
			failure(h, "INCONSISTENT checkpoints: size %llu and size %llu: %s",
				(unsigned long long)k->checked.size, (unsigned long long)c.size,
				vt_error_last());
		else
			note_error(&h->read_errors, "consistency proof: %s", vt_error_last());
		goto done;
	}
	atomic_fetch_add(&h->consistency, 1);
	k->checked = c;
done:
	vt_buf_dispose(&note);
}

static void *checker_thread(void *arg)
{
	checker *k = arg;
	for (;;) {
		bool last = atomic_load(&k->h->stop_checks);
		check_round(k);
		if (last)
			break;
		usleep(250000); /* a few checks a second are enough */
	}
	return NULL;
}

/* ---- the run ------------------------------------------------------------ */

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;
	return (x > y) - (x < y);
}

static float percentile(const float *v, size_t n, double p)
{
	size_t i;
	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static void progress(hammer *h, double t, uint64_t *last_adds, uint64_t *last_reads)
{
	uint64_t a = atomic_load(&h->adds), r = atomic_load(&h->reads);
	fprintf(stderr,
		"\r%6.1fs adds %llu (%llu/s) 503 %llu errors %llu reads %llu/s checks %llu "
		"failures %llu   ",
		t, (unsigned long long)a, (unsigned long long)(a - *last_adds),
		(unsigned long long)atomic_load(&h->busy),
		(unsigned long long)(atomic_load(&h->e4xx) + atomic_load(&h->e5xx) +
				     atomic_load(&h->transport)),
		(unsigned long long)(r - *last_reads),
		(unsigned long long)atomic_load(&h->consistency),
		(unsigned long long)atomic_load(&h->failures));
	*last_adds = a;
	*last_reads = r;
}

/* The median, 99th percentile and largest of the latencies, in ms (sorts them). */
static void latencies(float *p50, float *p99, float *max, hammer *h)
{
	qsort(h->lat, h->nlat, sizeof(*h->lat), cmp_float);
	*p50 = percentile(h->lat, h->nlat, 0.50);
	*p99 = percentile(h->lat, h->nlat, 0.99);
	*max = h->nlat ? h->lat[h->nlat - 1] : 0;
}

static void report(hammer *h, double secs)
{
	uint64_t adds = atomic_load(&h->adds), reads = atomic_load(&h->reads);
	uint64_t e4 = atomic_load(&h->e4xx), e5 = atomic_load(&h->e5xx),
		 tr = atomic_load(&h->transport);
	float p50, p99, max;

	latencies(&p50, &p99, &max, h);
	if (secs <= 0)
		secs = 1e-9;
	printf("vt_hammer: %.1f s against %s, %u writers, %u readers", secs, h->o.url,
	       h->o.writers, h->o.readers);
	if (h->o.read_rate > 0)
		printf(" (at most %llu requests/s)", (unsigned long long)h->o.read_rate);
	printf(", %zu-byte entries\n", h->o.entry_size);
	printf("  adds:        %llu acknowledged (%.1f/s); time to receipt p50 %.1f ms, "
	       "p99 %.1f ms, max %.1f ms\n",
	       (unsigned long long)adds, (double)adds / secs, (double)p50, (double)p99,
	       (double)max);
	printf("  refused:     %llu with 503; errors %llu (HTTP 4xx %llu, 5xx %llu, "
	       "transport %llu)\n",
	       (unsigned long long)atomic_load(&h->busy), (unsigned long long)(e4 + e5 + tr),
	       (unsigned long long)e4, (unsigned long long)e5, (unsigned long long)tr);
	printf("  verified:    %llu add proofs, %llu read inclusion proofs, %llu consistency "
	       "checks\n",
	       (unsigned long long)atomic_load(&h->proofs),
	       (unsigned long long)atomic_load(&h->read_proofs),
	       (unsigned long long)atomic_load(&h->consistency));
	printf("  reads:       %llu requests (%.1f/s), %llu read errors\n",
	       (unsigned long long)reads, (double)reads / secs,
	       (unsigned long long)atomic_load(&h->read_errors));
	cpu_report(h, (double)adds, "add");
	printf("  failures:    %llu%s\n", (unsigned long long)atomic_load(&h->failures),
	       atomic_load(&h->failures) ? "  <-- proofs that did not verify or inconsistency"
					 : "");
	printf("summary adds=%llu adds_per_s=%.1f p50_ms=%.1f p99_ms=%.1f max_ms=%.1f busy=%llu "
	       "errors=%llu e4xx=%llu e5xx=%llu transport=%llu proofs=%llu read_proofs=%llu "
	       "reads=%llu reads_per_s=%.1f read_errors=%llu consistency=%llu size=%llu "
	       "failures=%llu",
	       (unsigned long long)adds, (double)adds / secs, (double)p50, (double)p99, (double)max,
	       (unsigned long long)atomic_load(&h->busy), (unsigned long long)(e4 + e5 + tr),
	       (unsigned long long)e4, (unsigned long long)e5, (unsigned long long)tr,
	       (unsigned long long)atomic_load(&h->proofs),
	       (unsigned long long)atomic_load(&h->read_proofs), (unsigned long long)reads,
	       (double)reads / secs, (unsigned long long)atomic_load(&h->read_errors),
	       (unsigned long long)atomic_load(&h->consistency),
	       (unsigned long long)(h->have_largest ? h->largest_cp.size : 0),
	       (unsigned long long)atomic_load(&h->failures));
	cpu_summary(h, (double)adds);
	fflush(stdout);
}

static int write_largest(hammer *h)
{
	FILE *f;
	int err = 0;
	if (!h->have_largest)
		return vt_error_set(VT_ENOTFOUND, "no checkpoint was seen");
	if ((f = fopen(h->o.cp_out, "w")) == NULL)
		return vt_error_sys(VT_EIO, errno, "cannot write %s", h->o.cp_out);
	if (fwrite(h->largest.ptr, 1, h->largest.len, f) != h->largest.len)
		err = vt_error_sys(VT_EIO, errno, "cannot write %s", h->o.cp_out);
	if (fclose(f) != 0 && err == 0)
		err = vt_error_sys(VT_EIO, errno, "cannot write %s", h->o.cp_out);
	return err;
}

static int run(hammer *h)
{
	pthread_t wt[2], rt[MAX_READERS], ct;
	conn_group groups[2];
	writer *ws = NULL;
	reader_ctx *rs = NULL;
	checker k = {.h = h};
	struct curl_slist *hdrs = NULL;
	unsigned nwt = h->o.writers >= 64 ? 2 : 1, nr = 0, started_w = 0;
	uint64_t last_adds = 0, last_reads = 0;
	double last_progress = 0, secs = 0;
	bool tty = isatty(2), checker_started = false;
	int err = 0;

	hdrs = curl_slist_append(hdrs, h->token_hdr);
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs = curl_slist_append(hdrs, "Content-Type: application/octet-stream");
	if (!hdrs || (ws = calloc(h->o.writers, sizeof(*ws))) == NULL ||
	    (rs = calloc(h->o.readers + 1, sizeof(*rs))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	for (unsigned i = 0; i < h->o.writers; i++)
		if ((err = writer_init(&ws[i], h, i, hdrs)) < 0)
			goto done;
	for (unsigned i = 0; i < h->o.readers; i++) {
		rs[i].h = h;
		rs[i].id = i;
		if ((err = vt_client_new(&rs[i].cl, h->o.url, NULL)) < 0)
			goto done;
	}
	rs[h->o.readers].h = h;
	if ((err = vt_client_new(&k.cl, h->o.url, NULL)) < 0 ||
	    (err = vt_tlog_reader_new(&k.r, 0, counted_fetch, &rs[h->o.readers])) < 0)
		goto done;
	rs[h->o.readers].cl = k.cl;

	cpu_start(h);
	clock_gettime(CLOCK_MONOTONIC, &h->t0);
	if (pthread_create(&ct, NULL, checker_thread, &k) != 0) {
		err = vt_error_set(VT_ENOMEM, "cannot start a thread");
		goto done;
	}
	checker_started = true;
	err = conn_groups_start(wt, groups, &started_w, nwt, h, ws, sizeof(*ws), h->o.writers,
				writer_thread);
	for (; err == 0 && nr < h->o.readers; nr++)
		if (pthread_create(&rt[nr], NULL, reader_thread, &rs[nr]) != 0) {
			err = vt_error_set(VT_ENOMEM, "cannot start a thread");
			atomic_store(&h->stop, true);
			break;
		}
	for (;;) {
		double t = elapsed(h);
		if (h->o.count && atomic_load(&h->writer_threads_done) == started_w)
			break; /* every writer saw the count exhausted */
		if (!h->o.count && t >= h->o.duration)
			break;
		if (atomic_load(&h->stop))
			break;
		if (tty && t - last_progress >= 1.0) {
			progress(h, t, &last_adds, &last_reads);
			last_progress = t;
		}
		usleep(20000);
	}
	if (!h->o.count)
		atomic_store(&h->stop, true);
	for (unsigned t = 0; t < started_w; t++)
		pthread_join(wt[t], NULL);
	atomic_store(&h->stop, true);
	for (unsigned i = 0; i < nr; i++)
		pthread_join(rt[i], NULL);
	secs = elapsed(h);
	cpu_stop(h);
	if (tty)
		fputc('\n', stderr);
done:
	if (checker_started) {
		atomic_store(&h->stop_checks, true);
		pthread_join(ct, NULL);
	}
	if (err == 0) {
		report(h, secs);
		if (h->o.cp_out && write_largest(h) < 0)
			fprintf(stderr, "vt_hammer: %s\n", vt_error_last());
	}
	for (unsigned i = 0; ws && i < h->o.writers; i++)
		writer_dispose(&ws[i]);
	for (unsigned i = 0; rs && i < h->o.readers; i++)
		vt_client_free(rs[i].cl);
	vt_tlog_reader_free(k.r);
	vt_client_free(k.cl);
	free(ws);
	free(rs);
	curl_slist_free_all(hdrs);
	return err;
}

/* ---- --intake: uploads of distinct files to POST /api/v1/files ---------- */

/*
 * Each uploader is one keep-alive connection that sends whole files, one
 * at a time, until --intake files were sent. A file's content is the run's
 * random base with the run id and the file's number written over its
 * start, so every file is distinct and costs one memcpy to make; its
 * multipart body is built once per file and sent from memory.
 */
#define INTAKE_BOUNDARY "vt-hammer-7f3c9a1e5b2d4c60a8e1f9b3d7c5a2e4"

typedef struct {
	conn c;
	vt_buf body;
} uploader;

static size_t up_on_body(char *p, size_t size, size_t n, void *payload)
{
	conn *c = payload;
	/* Answers are small JSON; a longer one is cut, which only spoils the
	 * message printed for a first error. */
	vt_buf_add(&c->resp, p, size * n);
	return size * n;
}

/* The multipart body of file number i. */
static int make_upload(uploader *u, uint64_t i)
{
	hammer *h = u->c.h;
	char tag[64];
	size_t n, off;
	int err;

	vt_buf_reset(&u->body);
	if ((err = vt_buf_printf(&u->body,
				 "--" INTAKE_BOUNDARY "\r\nContent-Disposition: form-data; "
				 "name=\"file\"; filename=\"f%llu.bin\"\r\nContent-Type: "
				 "application/octet-stream\r\n\r\n",
				 (unsigned long long)i)) < 0)
		return err;
	off = u->body.len;
	if ((err = vt_buf_add(&u->body, h->base, h->o.file_size)) < 0)
		return err;
	n = (size_t)snprintf(tag, sizeof(tag), "vt_hammer %s file %llu\n", h->run,
			     (unsigned long long)i);
	memcpy(u->body.ptr + off, tag, n < h->o.file_size ? n : h->o.file_size);
	return vt_buf_adds(&u->body, "\r\n--" INTAKE_BOUNDARY "--\r\n");
}

static bool upload_start(conn *c, CURLM *m)
{
	uploader *u = (uploader *)c;
	hammer *h = c->h;
	uint64_t i;

	if (!c->resend) {
		if (atomic_load(&h->stop) || (i = atomic_fetch_add(&h->issued, 1)) >= h->o.intake) {
			c->finished = true;
			return false;
		}
		if (make_upload(u, i) < 0) {
			failure(h, "cannot make file %llu: %s", (unsigned long long)i,
				vt_error_last());
			c->finished = true;
			return false;
		}
	}
	conn_send(c, m, &u->body);
	return true;
}

static void upload_finish(conn *c, CURLcode rc)
{
	hammer *h = c->h;
	uint64_t end = now_ns();
	long status;

	if (!conn_settle(&status, c, rc, end))
		return;
	if (status == 201 || status == 200) {
		atomic_fetch_add(status == 201 ? &h->s201 : &h->s200, 1);
		pthread_mutex_lock(&h->mu);
		record_latency(h, (float)((double)(end - c->start) / 1e6));
		pthread_mutex_unlock(&h->mu);
	} else {
		atomic_uint_fast64_t *n = status >= 500 ? &h->e5xx : &h->e4xx;
		note_error(n, "HTTP %ld from POST /api/v1/files: %.200s", status,
			   vt_buf_cstr(&c->resp));
	}
}

/* Uploaders send every file they were given: a 503 is resent after stop too. */
static const conn_kind uploader_kind = {upload_start, upload_finish, false};

static void *uploader_thread(void *arg)
{
	conn_group_run(arg, &uploader_kind);
	return NULL;
}

static void intake_report(hammer *h, double secs)
{
	uint64_t s201 = atomic_load(&h->s201), s200 = atomic_load(&h->s200);
	uint64_t e4 = atomic_load(&h->e4xx), e5 = atomic_load(&h->e5xx),
		 tr = atomic_load(&h->transport), busy = atomic_load(&h->busy);
	double files = (double)(s201 + s200), mb, ms[PHASES], published;
	bool have_phases;
	float p50, p99, max;

	latencies(&p50, &p99, &max, h);
	if (secs <= 0)
		secs = 1e-9;
	mb = files * (double)h->o.file_size / 1e6;
	printf("vt_hammer: %.2f s against %s, %u clients, %llu files of %zu bytes\n", secs,
	       h->o.url, h->o.clients, (unsigned long long)h->o.intake, h->o.file_size);
	printf("  intake:      %.0f files/s, %.1f MB/s of file content (%.0f files, %.1f MB)\n",
	       files / secs, mb / secs, files, mb);
	printf("  latency:     p50 %.1f ms, p99 %.1f ms, max %.1f ms (request sent to answer)\n",
	       (double)p50, (double)p99, (double)max);
	printf("  statuses:    201 %llu, 200 %llu, 503 %llu (resent), other 4xx %llu, 5xx %llu, "
	       "transport errors %llu\n",
	       (unsigned long long)s201, (unsigned long long)s200, (unsigned long long)busy,
	       (unsigned long long)e4, (unsigned long long)e5, (unsigned long long)tr);
	cpu_report(h, files, "file");
	/* The server's figures cover every upload it published meanwhile:
	 * say so when others than ours were among them. */
	if ((have_phases = phases_of(h, ms, &published)))
		printf("  phases:      mean ms per upload (server, %.0f published%s): queue %.2f, "
		       "vault %.2f, index %.2f, log %.2f, sighting %.2f\n",
		       published, published != files ? ", not all of them ours" : "", ms[0], ms[1],
		       ms[2], ms[3], ms[4]);
	printf("summary files=%.0f files_per_s=%.1f mb_per_s=%.1f p50_ms=%.1f p99_ms=%.1f "
	       "max_ms=%.1f s201=%llu s200=%llu busy=%llu e4xx=%llu e5xx=%llu transport=%llu "
	       "failures=%llu",
	       files, files / secs, mb / secs, (double)p50, (double)p99, (double)max,
	       (unsigned long long)s201, (unsigned long long)s200, (unsigned long long)busy,
	       (unsigned long long)e4, (unsigned long long)e5, (unsigned long long)tr,
	       (unsigned long long)atomic_load(&h->failures));
	for (int i = 0; have_phases && i < PHASES; i++)
		printf(" %s_ms=%.2f", phase_name[i], ms[i]);
	cpu_summary(h, files);
	fflush(stdout);
}

static int run_intake(hammer *h)
{
	pthread_t t[2];
	conn_group g[2];
	uploader *us = NULL;
	struct curl_slist *hdrs = NULL;
	unsigned nt = h->o.clients >= 8 ? 2 : 1, started = 0;
	char url[4200];
	int err = 0;

	snprintf(url, sizeof(url), "%s%sapi/v1/files", h->o.url,
		 h->o.url[strlen(h->o.url) - 1] == '/' ? "" : "/");
	hdrs = curl_slist_append(hdrs, h->token_hdr);
	hdrs = curl_slist_append(hdrs, "Expect:");
	hdrs =
	    curl_slist_append(hdrs, "Content-Type: multipart/form-data; boundary=" INTAKE_BOUNDARY);
	if (!hdrs || (us = calloc(h->o.clients, sizeof(*us))) == NULL ||
	    (h->base = malloc(h->o.file_size)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	fill_random(h->base, h->o.file_size);
	for (unsigned i = 0; i < h->o.clients; i++) {
		vt_buf_init(&us[i].body, h->o.file_size + 1024);
		if ((err = conn_init(&us[i].c, h, url, hdrs, 64 * 1024, up_on_body)) < 0)
			goto done;
	}
	cpu_start(h);
	clock_gettime(CLOCK_MONOTONIC, &h->t0);
	err = conn_groups_start(t, g, &started, nt, h, us, sizeof(*us), h->o.clients,
				uploader_thread);
	for (unsigned k = 0; k < started; k++)
		pthread_join(t[k], NULL);
	if (err == 0) {
		double secs = elapsed(h);
		cpu_stop(h);
		intake_report(h, secs);
	}
done:
	for (unsigned i = 0; us && i < h->o.clients; i++) {
		conn_dispose(&us[i].c);
		vt_buf_dispose(&us[i].body);
	}
	free(us);
	free(h->base);
	h->base = NULL;
	curl_slist_free_all(hdrs);
	return err;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/*
 * A fresh vault in a new directory vt-hammer-KIND-XXXXXX under parent,
 * its path in dir (cap bytes); *made once the directory exists
 * (remove_scratch it).
 */
static int scratch_vault(vt_vault **v, bool *made, char *dir, size_t cap, const char *parent,
			 const char *kind)
{
	int err = 0;

	snprintf(dir, cap, "%s/vt-hammer-%s-XXXXXX", parent, kind);
	if (mkdtemp(dir) == NULL) {
		err = vt_error_sys(VT_EIO, errno, "cannot make a directory under %s", parent);
		goto done;
	}
	*made = true;
	if ((err = vt_vault_init(dir)) == 0)
		err = vt_vault_open(v, dir);
done:
	return err;
}

/* Remove a bound's scratch directory, saying so when something stays. */
static void remove_scratch(const char *dir)
{
	if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fprintf(stderr, "vt_hammer: could not remove all of %s\n", dir);
}

/* ---- --seal-bound: the intake's per-byte work in one thread ------------- */

/*
 * What the intake does to every byte of a file, without HTTP, index or
 * log: the SHA-256, SHA-1 and MD5 of vt_intake_hasher, and the vault
 * writer's SHA-256 and AES-256-GCM sealing, its ciphertext written to a
 * vault on tmpfs and dropped (vt_vault_writer_abort: no fsync, no rename).
 * Each is timed alone and then both together, over the same
 * --intake files of --file-size bytes, in this one thread.
 */
typedef enum { BOUND_HASH = 1, BOUND_SEAL = 2 } bound_work;

static int bound_pass(double *secs, vt_vault *v, const uint8_t *data, size_t size, uint64_t files,
		      int work)
{
	vt_intake_hasher *hs = NULL;
	vt_vault_writer *w = NULL;
	vt_intake_digests d;
	uint64_t t0 = now_ns();
	int err = 0;

	for (uint64_t i = 0; i < files && err == 0; i++) {
		if ((work & BOUND_HASH) && ((err = vt_intake_hasher_new(&hs)) < 0 ||
					    (err = vt_intake_hasher_update(hs, data, size)) < 0 ||
					    (err = vt_intake_hasher_final(&d, hs)) < 0))
			break;
		if ((work & BOUND_SEAL) && ((err = vt_vault_writer_new(&w, v, "BENCH")) < 0 ||
					    (err = vt_vault_writer_write(w, data, size)) < 0))
			break;
		vt_intake_hasher_free(hs);
		vt_vault_writer_abort(w);
		hs = NULL;
		w = NULL;
	}
	*secs = (double)(now_ns() - t0) / 1e9;
	vt_intake_hasher_free(hs);
	vt_vault_writer_abort(w);
	return err;
}

static int run_bound(hammer *h)
{
	static const struct {
		int work;
		const char *what;
	} passes[] = {
	    {BOUND_HASH, "hash (SHA-256 + SHA-1 + MD5, vt_intake_hasher)"},
	    {BOUND_SEAL, "seal (vault writer: SHA-256 + AES-256-GCM, to tmpfs)"},
	    {BOUND_HASH | BOUND_SEAL, "hash + seal (the intake's per-byte work)"},
	};
	char dir[4200];
	uint8_t *data = NULL;
	vt_vault *v = NULL;
	uint64_t files = h->o.intake;
	double mb, secs;
	bool made = false;
	int err = 0;

	/* Enough bytes to time, few enough to stay quick: at most 512 MB. */
	if ((double)files * (double)h->o.file_size > 512e6)
		files = (uint64_t)(512e6 / (double)h->o.file_size);
	if (files == 0)
		files = 1;
	if ((data = malloc(h->o.file_size)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	fill_random(data, h->o.file_size);
	if ((err = scratch_vault(&v, &made, dir, sizeof(dir), h->o.dir, "bound")) < 0)
		goto done;
	mb = (double)files * (double)h->o.file_size / 1e6;
	printf("vt_hammer: bound of %llu files of %zu bytes (%.1f MB) in one thread, vault in %s\n",
	       (unsigned long long)files, h->o.file_size, mb, h->o.dir);
	for (size_t k = 0; k < sizeof(passes) / sizeof(passes[0]); k++) {
		if ((err = bound_pass(&secs, v, data, h->o.file_size, files, passes[k].work)) < 0)
			goto done;
		printf("  %-56s %8.1f MB/s %9.0f files/s\n", passes[k].what, mb / secs,
		       (double)files / secs);
		if (passes[k].work == (BOUND_HASH | BOUND_SEAL))
			printf("summary bound_mb_per_s=%.1f bound_files_per_s=%.1f\n", mb / secs,
			       (double)files / secs);
	}
	fflush(stdout);
done:
	vt_vault_close(v);
	if (made)
		remove_scratch(dir);
	free(data);
	return err;
}

/* ---- --store-bound: the vault's durable store alone ----------------------- */

/*
 * What the intake's vault does to keep each file, without HTTP, hashes
 * for the API, index or log: vt_vault_writer_new, _write and _finish
 * (the object sealed into a temporary file, fsync, linked under its
 * name, fsync of its directory) from --clients threads at once, each
 * storing its share of --intake distinct files, in a scratch vault under
 * --dir. Run it on the filesystem the server keeps its vault on: its
 * files/s is what the intake could reach if everything else were free.
 */
typedef struct {
	vt_vault *v;
	const uint8_t *base;
	size_t size;
	uint64_t first, count;
	int err;
	char msg[256];
} store_job;

static void *store_thread(void *arg)
{
	store_job *j = arg;
	vt_vault_writer *w = NULL;
	uint8_t *data = malloc(j->size);
	vt_hash id;
	int err = 0;

	if (data == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(data, j->base, j->size);
	for (uint64_t i = 0; i < j->count && err == 0; i++) {
		vt_put_be64(data, j->first + i); /* distinct files: distinct objects */
		if ((err = vt_vault_writer_new(&w, j->v, "BENCH")) < 0 ||
		    (err = vt_vault_writer_write(w, data, j->size)) < 0)
			break;
		err = vt_vault_writer_finish(&id, NULL, w); /* frees w */
		w = NULL;
	}
done:
	vt_vault_writer_abort(w);
	free(data);
	if ((j->err = err) < 0)
		snprintf(j->msg, sizeof(j->msg), "%s", vt_error_last());
	return NULL;
}

static int run_store_bound(hammer *h)
{
	unsigned nthreads = h->o.clients;
	char dir[4200];
	uint8_t *base = NULL;
	store_job *jobs = NULL;
	pthread_t *tids = NULL;
	vt_vault *v = NULL;
	uint64_t files = h->o.intake, t0;
	unsigned started = 0;
	double secs, cpu0, cpu_us, mbs;
	bool made = false;
	int err = 0;

	if (nthreads > files)
		nthreads = (unsigned)files;
	if ((base = malloc(h->o.file_size)) == NULL ||
	    (jobs = calloc(nthreads, sizeof(*jobs))) == NULL ||
	    (tids = calloc(nthreads, sizeof(*tids))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	fill_random(base, h->o.file_size);
	if ((err = scratch_vault(&v, &made, dir, sizeof(dir), h->o.dir, "store")) < 0)
		goto done;
	printf("vt_hammer: durable store of %llu files of %zu bytes from %u threads, vault in "
	       "%s\n",
	       (unsigned long long)files, h->o.file_size, nthreads, h->o.dir);
	fflush(stdout);
	cpu0 = self_cpu();
	t0 = now_ns();
	for (unsigned i = 0; i < nthreads; i++) {
		jobs[i] = (store_job){.v = v,
				      .base = base,
				      .size = h->o.file_size,
				      .first = files * i / nthreads,
				      .count = files * (i + 1) / nthreads - files * i / nthreads};
		if (pthread_create(&tids[i], NULL, store_thread, &jobs[i]) != 0) {
			err = vt_error_set(VT_EIO, "cannot start a thread");
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(tids[i], NULL);
		if (jobs[i].err < 0 && err == 0)
			err = vt_error_set(jobs[i].err, "%s", jobs[i].msg);
	}
	if (err < 0)
		goto done;
	secs = (double)(now_ns() - t0) / 1e9;
	cpu_us = 1e6 * (self_cpu() - cpu0) / (double)files;
	mbs = (double)files * (double)h->o.file_size / 1e6 / secs;
	printf("  %-56s %8.1f MB/s %9.0f files/s\n",
	       "store (vault writer: seal, fsync, link, fsync of dir)", mbs, (double)files / secs);
	printf("  cpu:  %.1f us per file (user + system, all threads)\n", cpu_us);
	printf("summary store_files_per_s=%.1f store_mb_per_s=%.1f store_cpu_us=%.1f\n",
	       (double)files / secs, mbs, cpu_us);
	fflush(stdout);
done:
	vt_vault_close(v);
	if (made)
		remove_scratch(dir);
	free(tids);
	free(jobs);
	free(base);
	return err;
}

/* ---- --check ------------------------------------------------------------ */

typedef struct {
	uint64_t index;
	size_t off, len; /* the entry within the record's bytes */
	size_t line;
} record;

static int cmp_record(const void *a, const void *b)
{
	const record *x = a, *y = b;
	if (x->index != y->index)
		return (x->index > y->index) - (x->index < y->index);
	return (x->line > y->line) - (x->line < y->line);
}

static int read_file(vt_buf *out, const char *path)
{
	FILE *f = fopen(path, "rb");
	char tmp[65536];
	size_t n;
	int err = 0;
	if (!f)
		return vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno,
				    "cannot open %s", path);
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if ((err = vt_buf_add(out, tmp, n)) < 0)
			break;
	if (err == 0 && ferror(f))
		err = vt_error_sys(VT_EIO, errno, "cannot read %s", path);
	fclose(f);
	return err;
}

/* Parse "<index>\t<hex>\n" lines; entries are decoded in place over the hex. */
static int parse_records(record **out, size_t *nout, vt_buf *text)
{
	record *rs = NULL;
	size_t n = 0, cap = 0, line = 0;
	int err = 0;

	for (size_t off = 0; off < text->len;) {
		uint8_t *nl = memchr(text->ptr + off, '\n', text->len - off);
		uint8_t *tab;
		size_t end = nl ? (size_t)(nl - text->ptr) : text->len;
		record r = {.line = ++line};
		line = r.line;
		if (!nl) /* the writer stopped mid-line: that entry was not recorded */
			break;
		tab = memchr(text->ptr + off, '\t', end - off);
		if (!tab || vt_parse_u64(&r.index, (const char *)text->ptr + off,
					 (size_t)(tab - text->ptr) - off) < 0) {
			err = vt_error_set(VT_EINVAL, "line %zu: want <index>\\t<hex>", line);
			goto done;
		}
		r.off = (size_t)(tab - text->ptr) + 1;
		r.len = (end - r.off) / 2;
		if ((end - r.off) % 2 != 0 || r.len == 0 ||
		    vt_hex_decode(text->ptr + r.off, r.len, (const char *)text->ptr + r.off,
				  end - r.off) < 0) {
			err = vt_error_set(VT_EINVAL, "line %zu: bad hex entry", line);
			goto done;
		}
		if (n == cap) {
			record *nr;
			cap = cap ? 2 * cap : 1024;
			if ((nr = realloc(rs, cap * sizeof(*rs))) == NULL) {
				err = vt_error_set(VT_ENOMEM, "out of memory");
				goto done;
			}
			rs = nr;
		}
		rs[n++] = r;
		off = end + 1;
	}
	qsort(rs, n, sizeof(*rs), cmp_record);
done:
	if (err < 0) {
		free(rs);
		rs = NULL;
		n = 0;
	}
	*out = rs;
	*nout = n;
	return err;
}

/* Prove each checkpoint in the file consistent with the current one. */
static int check_checkpoints(size_t *bad, hammer *h, vt_tlog_reader *r, const vt_checkpoint *cur)
{
	vt_buf text, note;
	size_t line = 0, ok = 0;
	int err;

	vt_buf_init(&text, (size_t)1 << 32);
	vt_buf_init(&note, 1 << 20);
	if ((err = read_file(&text, h->o.checkpoints)) < 0)
		goto done;
	for (size_t off = 0; off < text.len;) {
		uint8_t *nl = memchr(text.ptr + off, '\n', text.len - off);
		size_t end = nl ? (size_t)(nl - text.ptr) : text.len;
		vt_checkpoint c;
		vt_note n;
		const char *why = NULL;

		line++;
		if (!nl)
			break;
		vt_buf_reset(&note);
		if (vt_base64_decode(&note, (const char *)text.ptr + off, end - off) < 0 ||
		    vt_note_open(&n, (const char *)note.ptr, note.len, &h->v, 1) < 0 ||
		    vt_checkpoint_parse(&c, n.text, n.text_len) < 0)
			why = "not a checkpoint signed by the log";
		else if (strcmp(c.origin, h->origin) != 0)
			why = "another log's checkpoint";
		else if (c.size > cur->size)
			why = "larger than the current checkpoint: the log lost entries";
		else if (prove_consistent(r, &c, cur->size, &cur->root) < 0)
			why = vt_error_last();
		if (why) {
			if ((*bad)++ < SHOW_FAILURES)
				fprintf(stderr, "vt_hammer: %s line %zu: %s\n", h->o.checkpoints,
					line, why);
		} else {
			ok++;
		}
		off = end + 1;
	}
	printf("vt_hammer: %zu recorded checkpoints are consistent with the current one "
	       "(size %llu)\n",
	       ok, (unsigned long long)cur->size);
done:
	vt_buf_dispose(&text);
	vt_buf_dispose(&note);
	return err;
}

static int check(hammer *h)
{
	vt_tlog_reader *r = NULL;
	reader_ctx rc = {.h = h};
	record *rs = NULL;
	vt_checkpoint cur;
	vt_buf text, note, entry;
	size_t n = 0, bad = 0, proved = 0;
	uint64_t rnd = now_ns() | 1;
	int err;

	vt_buf_init(&text, (size_t)1 << 36);
	vt_buf_init(&note, 1 << 20);
	vt_buf_init(&entry, VT_ENTRY_MAX);
	if ((err = read_file(&text, h->o.check)) < 0 || (err = parse_records(&rs, &n, &text)) < 0 ||
	    (err = vt_client_new(&rc.cl, h->o.url, NULL)) < 0 ||
	    (err = fetch_checkpoint(&cur, &note, h, rc.cl)) < 0 ||
	    (err = vt_tlog_reader_new(&r, cur.size, counted_fetch, &rc)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		const record *x = &rs[i];
		const uint8_t *want = text.ptr + x->off;
		vt_hash leaf, stored, proof[VT_MERKLE_MAX_PROOF];
		size_t np;
		char why[512] = "";

		if (i > 0 && rs[i - 1].index == x->index) {
			snprintf(why, sizeof(why), "index acknowledged twice (also line %zu)",
				 rs[i - 1].line);
		} else if (x->index >= cur.size) {
			snprintf(why, sizeof(why), "beyond the checkpoint's size %llu: LOST",
				 (unsigned long long)cur.size);
		} else {
			vt_buf_reset(&entry);
			if ((err = vt_tlog_reader_entry(&entry, r, x->index)) < 0 ||
			    (err = vt_tlog_reader_node(&stored, 0, x->index, r)) < 0) {
				snprintf(why, sizeof(why), "cannot read: %s", vt_error_last());
			} else if (entry.len != x->len || memcmp(entry.ptr, want, x->len) != 0) {
				snprintf(why, sizeof(why),
					 "the log holds another entry there (%zu bytes: %.40s...)",
					 entry.len, vt_buf_cstr(&entry));
			} else if (vt_merkle_leaf_hash(&leaf, want, x->len) < 0 ||
				   !vt_hash_equal(&leaf, &stored)) {
				snprintf(why, sizeof(why), "its hash in tile level 0 differs");
			} else if (xorshift(&rnd) % (n / 1000 + 1) == 0) {
				/* A sample gets the full proof up to the signed root
				 * (fsck checks all the tiles). */
				if (vt_tlog_reader_prove_inclusion(proof, &np, r, x->index) < 0 ||
				    vt_merkle_verify_inclusion(&leaf, x->index, cur.size, proof, np,
							       &cur.root) < 0)
					snprintf(why, sizeof(why),
						 "not included in the checkpoint: %s",
						 vt_error_last());
				else
					proved++;
			}
			err = 0;
		}
		if (why[0] && bad++ < SHOW_FAILURES)
			fprintf(stderr, "vt_hammer: %s line %zu: entry %llu %s\n", h->o.check,
				x->line, (unsigned long long)x->index, why);
	}
	if (bad > SHOW_FAILURES)
		fprintf(stderr, "vt_hammer: ... %zu mismatches in all\n", bad);
	printf("vt_hammer: %zu recorded entries checked against the checkpoint of size %llu: "
	       "%zu mismatches (%zu full inclusion proofs)\n",
	       n, (unsigned long long)cur.size, bad, proved);
	if (h->o.checkpoints)
		err = check_checkpoints(&bad, h, r, &cur);
	if (err == 0 && bad > 0)
		err = vt_error_set(VT_EVERIFY, "%zu mismatches", bad);
done:
	vt_tlog_reader_free(r);
	vt_client_free(rc.cl);
	free(rs);
	vt_buf_dispose(&text);
	vt_buf_dispose(&note);
	vt_buf_dispose(&entry);
	return err;
}

/* ---- main --------------------------------------------------------------- */

static int load_line(char *out, size_t cap, const char *path)
{
	FILE *f = fopen(path, "r");
	int err = 0;
	if (!f)
		return vt_error_sys(VT_EIO, errno, "cannot open %s", path);
	if (!fgets(out, (int)cap, f))
		err = vt_error_set(VT_EINVAL, "%s is empty", path);
	fclose(f);
	out[strcspn(out, "\r\n")] = '\0';
	return err;
}

static int parse_u64_opt(uint64_t *out, const char *s, const char *name, uint64_t min, uint64_t max)
{
	if (vt_parse_u64(out, s, strlen(s)) < 0 || *out < min || *out > max) {
		fprintf(stderr, "vt_hammer: %s wants a number from %llu to %llu, not \"%s\"\n",
			name, (unsigned long long)min, (unsigned long long)max, s);
		return -1;
	}
	return 0;
}

static int parse_args(options *o, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"url", required_argument, 0, 'u'},
	    {"token-file", required_argument, 0, 't'},
	    {"vkey", required_argument, 0, 'k'},
	    {"writers", required_argument, 0, 'w'},
	    {"readers", required_argument, 0, 'r'},
	    {"read-rate", required_argument, 0, 'P'},
	    {"duration", required_argument, 0, 'd'},
	    {"count", required_argument, 0, 'n'},
	    {"record", required_argument, 0, 'R'},
	    {"checkpoints", required_argument, 0, 'C'},
	    {"checkpoint-out", required_argument, 0, 'O'},
	    {"entry-size", required_argument, 0, 's'},
	    {"timeout", required_argument, 0, 'T'},
	    {"check", required_argument, 0, 'c'},
	    {"intake", required_argument, 0, 'I'},
	    {"file-size", required_argument, 0, 'F'},
	    {"clients", required_argument, 0, 'L'},
	    {"seal-bound", no_argument, 0, 'B'},
	    {"store-bound", no_argument, 0, 'S'},
	    {"dir", required_argument, 0, 'D'},
	    {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0},
	};
	bool dir_given = false;
	uint64_t v;
	char *end;
	int c;

	*o = (options){.writers = 256,
		       .readers = 4,
		       .duration = 10,
		       .entry_size = 100,
		       .timeout = 30,
		       .clients = 32,
		       .file_size = 1 << 20,
		       .dir = "/dev/shm"};
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 'u': o->url = optarg; break;
		case 't': o->token_file = optarg; break;
		case 'k': o->vkey_file = optarg; break;
		case 'R': o->record = optarg; break;
		case 'C': o->checkpoints = optarg; break;
		case 'O': o->cp_out = optarg; break;
		case 'c': o->check = optarg; break;
		case 'D':
			o->dir = optarg;
			dir_given = true;
			break;
		case 'B': o->seal_bound = true; break;
		case 'S': o->store_bound = true; break;
		case 'I':
			if (parse_u64_opt(&o->intake, optarg, "--intake", 1, UINT64_MAX / 2) < 0)
				return 2;
			break;
		case 'F':
			if (parse_u64_opt(&v, optarg, "--file-size", 64, MAX_FILE_SIZE) < 0)
				return 2;
			o->file_size = (size_t)v;
			break;
		case 'L':
			if (parse_u64_opt(&v, optarg, "--clients", 1, MAX_WRITERS) < 0)
				return 2;
			o->clients = (unsigned)v;
			break;
		case 'w':
			if (parse_u64_opt(&v, optarg, "--writers", 0, MAX_WRITERS) < 0)
				return 2;
			o->writers = (unsigned)v;
			break;
		case 'r':
			if (parse_u64_opt(&v, optarg, "--readers", 0, MAX_READERS) < 0)
				return 2;
			o->readers = (unsigned)v;
			break;
		case 'P':
			if (parse_u64_opt(&o->read_rate, optarg, "--read-rate", 0, 10000000) < 0)
				return 2;
			break;
		case 'n':
			if (parse_u64_opt(&o->count, optarg, "--count", 1, UINT64_MAX / 2) < 0)
				return 2;
			break;
		case 's':
			if (parse_u64_opt(&v, optarg, "--entry-size", 1, VT_ENTRY_MAX) < 0)
				return 2;
			o->entry_size = (size_t)v;
			break;
		case 'T':
			if (parse_u64_opt(&v, optarg, "--timeout", 1, 3600) < 0)
				return 2;
			o->timeout = (long)v;
			break;
		case 'd':
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(o->duration > 0) ||
			    o->duration > 1e6) {
				fprintf(stderr, "vt_hammer: --duration wants seconds, not \"%s\"\n",
					optarg);
				return 2;
			}
			break;
		case 'h': fputs(usage, stdout); return -1;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (o->seal_bound && o->store_bound) {
		fprintf(stderr, "vt_hammer: give --seal-bound or --store-bound, not both\n");
		return 2;
	}
	if ((o->seal_bound || o->store_bound) && !o->intake) {
		fprintf(stderr, "vt_hammer: %s wants --intake N, the number of files\n",
			o->seal_bound ? "--seal-bound" : "--store-bound");
		return 2;
	}
	if (o->store_bound && !dir_given) {
		fprintf(stderr, "vt_hammer: --store-bound wants --dir DIR on the filesystem the "
				"server keeps its vault on\n");
		return 2;
	}
	if (optind == argc && (o->seal_bound || o->store_bound))
		return 0;
	if (optind == argc && o->intake && o->url && o->token_file)
		return 0;
	if (o->seal_bound || o->store_bound || o->intake) {
		fprintf(stderr, "vt_hammer: --intake N wants --url and --token-file, or "
				"--seal-bound or --store-bound\n");
		return 2;
	}
	if (optind != argc || !o->url || !o->vkey_file || (!o->check && !o->token_file)) {
		fprintf(stderr, "vt_hammer: give --url, --vkey and --token-file (or --check)\n");
		return 2;
	}
	if (!o->check && o->writers == 0 && o->readers == 0) {
		fprintf(stderr, "vt_hammer: nothing to do with no writers and no readers\n");
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static hammer h;
	char line[4096], token[256];
	uint8_t rnd[8];
	int rc, err;

	if ((rc = parse_args(&h.o, argc, argv)) != 0)
		return rc < 0 ? 0 : rc;
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pthread_mutex_init(&h.mu, NULL);
	vt_buf_init(&h.largest, 1 << 20);
	rc = 1;
	if (h.o.seal_bound || h.o.store_bound || h.o.intake) {
		if (h.o.seal_bound) {
			err = run_bound(&h);
		} else if (h.o.store_bound) {
			err = run_store_bound(&h);
		} else if ((err = load_line(token, sizeof(token), h.o.token_file)) == 0) {
			snprintf(h.token_hdr, sizeof(h.token_hdr), "Authorization: Bearer %s",
				 token);
			snprintf(h.run, sizeof(h.run), "%016llx", (unsigned long long)now_ns());
			err = run_intake(&h);
		}
		if (err < 0)
			fprintf(stderr, "vt_hammer: %s\n", vt_error_last());
		rc = err < 0 || atomic_load(&h.failures) ? 1 : 0;
		goto done;
	}
	if ((err = load_line(line, sizeof(line), h.o.vkey_file)) < 0 ||
	    (err = vt_note_verifier_parse(&h.v, line, strlen(line))) < 0) {
		fprintf(stderr, "vt_hammer: verifier key: %s\n", vt_error_last());
		goto done;
	}
	h.origin = vt_note_verifier_name(h.v);
	if (h.o.check) {
		err = check(&h);
		if (err < 0)
			fprintf(stderr, "vt_hammer: check: %s\n", vt_error_last());
		rc = err < 0 ? 1 : 0;
		goto done;
	}
	if ((err = load_line(token, sizeof(token), h.o.token_file)) < 0) {
		fprintf(stderr, "vt_hammer: token: %s\n", vt_error_last());
		goto done;
	}
	snprintf(h.token_hdr, sizeof(h.token_hdr), "Authorization: Bearer %s", token);
	snprintf(h.add_url, sizeof(h.add_url), "%s%slog/add", h.o.url,
		 h.o.url[0] && h.o.url[strlen(h.o.url) - 1] == '/' ? "" : "/");
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t t = now_ns() ^ (uint64_t)getpid() << 40;
		vt_put_be64(rnd, t);
	}
	vt_hex_encode(h.run, rnd, sizeof(rnd));
	if (h.o.record && (h.rec = fopen(h.o.record, "a")) == NULL) {
		fprintf(stderr, "vt_hammer: cannot open %s: %s\n", h.o.record, strerror(errno));
		goto done;
	}
	if (h.o.checkpoints && (h.cprec = fopen(h.o.checkpoints, "a")) == NULL) {
		fprintf(stderr, "vt_hammer: cannot open %s: %s\n", h.o.checkpoints,
			strerror(errno));
		goto done;
	}
	if ((err = run(&h)) < 0) {
		fprintf(stderr, "vt_hammer: %s\n", vt_error_last());
		goto done;
	}
	rc = atomic_load(&h.failures) ? 1 : 0;
done:
	if (h.rec)
		fclose(h.rec);
	if (h.cprec)
		fclose(h.cprec);
	vt_note_verifier_free(h.v);
	vt_buf_dispose(&h.largest);
	free(h.lat);
	free(h.cpseen);
	pthread_mutex_destroy(&h.mu);
	curl_global_cleanup();
	return rc;
}
