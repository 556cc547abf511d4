/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP routes over libmicrohttpd. Reads are answered at once from the
 * storage; POST /log/add hands the entry to the sequencer and suspends the
 * connection until the checkpoint that includes it is published, then
 * answers with a c2sp.org/tlog-proof. A full queue is answered with 503
 * and Retry-After, so memory stays bounded under any load.
 */
#include "server_int.h"
#include "vitrine/access.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/export.h"
#include "vitrine/intake.h"
#include "vitrine/lookup.h"
#include "vitrine/multipart.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/report.h"
#include "vitrine/router.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define IMMUTABLE "public, max-age=31536000, immutable"

enum { FIELD_NONE, FIELD_FILE, FIELD_NAME, FIELD_TAGS, FIELD_SOURCE, FIELD_OTHER };

/* ---- responses -------------------------------------------------------- */

/* A JSON string literal, with the escaping the /api/v1 reports use. */
void vt_http_json_string(vt_buf *b, const char *s)
{
	vt_report_json_string(b, s, strlen(s));
}

enum MHD_Result vt_http_send_buf(struct MHD_Connection *c, unsigned status, const void *data,
				 size_t len, const char *type, const char *cache)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	r = MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (cache)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* A JSON error {"error": "...", "detail": "..."} with optional headers. */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *error,
				  const char *detail, const char *hname, const char *hvalue)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	vt_buf b;

	vt_buf_init(&b, 4096);
	vt_buf_adds(&b, "{\"error\": ");
	vt_http_json_string(&b, error);
	vt_buf_adds(&b, ", \"detail\": ");
	vt_http_json_string(&b, detail ? detail : "");
	vt_buf_adds(&b, "}\n");
	r = MHD_create_response_from_buffer(b.len, b.ptr, MHD_RESPMEM_MUST_COPY);
	vt_buf_dispose(&b);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

unsigned vt_http_status_of(int err)
{
	switch (err) {
	case VT_ENOTFOUND: return 404;
	case VT_EINVAL: return 400;
	case VT_ETOOBIG: return 413;
	case VT_EDENIED: return 401;
	case VT_EBUSY: return 503;
	default: return 500;
	}
}

/* ---- reads ------------------------------------------------------------ */

/*
 * Each event-loop thread keeps one tile reader: tiles are immutable, so
 * its cache stays valid across requests, and the answers to one group's
 * writers share the tiles (and the hashes inside them) they all need.
 */
static pthread_key_t reader_key;
static pthread_once_t reader_once = PTHREAD_ONCE_INIT;

static void free_reader(void *r)
{
	vt_tlog_reader_free(r);
}

static void make_reader_key(void)
{
	pthread_key_create(&reader_key, free_reader);
}

static int thread_reader(vt_tlog_reader **out, vt_storage *st, uint64_t size)
{
	vt_tlog_reader *r;
	int err;
	pthread_once(&reader_once, make_reader_key);
	r = pthread_getspecific(reader_key);
	if (r && vt_tlog_reader_payload(r) != st) {
		vt_tlog_reader_free(r);
		r = NULL;
	}
	if (!r) {
		if ((err = vt_tlog_reader_new(&r, size, vt_storage_fetch, st)) < 0)
			return err;
		pthread_setspecific(reader_key, r);
	}
	vt_tlog_reader_set_size(r, size);
	*out = r;
	return 0;
}

static enum MHD_Result serve_tile(request *rq)
{
	char path[VT_TILE_PATH_MAX];
	vt_buf b;
	enum MHD_Result ret;
	int err;

	vt_tile_path(path, sizeof(path), &rq->route.tile);
	vt_buf_init(&b, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	err = vt_storage_get(rq->srv->st, &b, path);
	if (err == VT_ENOTFOUND)
		ret = send_error(rq->conn, 404, "not found", path, NULL, NULL);
	else if (err < 0)
		ret = send_error(rq->conn, 500, "storage error", vt_error_last(), NULL, NULL);
	else
		ret = vt_http_send_buf(rq->conn, 200, b.ptr, b.len, "application/octet-stream",
				       IMMUTABLE);
	vt_buf_dispose(&b);
	return ret;
}

static enum MHD_Result serve_checkpoint(request *rq)
{
	vt_buf b;
	enum MHD_Result ret;

	vt_buf_init(&b, 1 << 20);
	if (vt_log_checkpoint(rq->srv->log, &b, NULL) < 0)
		ret = send_error(rq->conn, 500, "no checkpoint", vt_error_last(), NULL, NULL);
	else
		ret = vt_http_send_buf(rq->conn, 200, b.ptr, b.len, "text/plain; charset=utf-8",
				       "no-cache");
	vt_buf_dispose(&b);
	return ret;
}

static enum MHD_Result serve_metrics(request *rq)
{
	static const char *const le[8] = {"0.001", "0.002", "0.005", "0.01",
					  "0.02",  "0.05",  "0.1",   "0.25"};
	static const char *const phase[VT_HTTP_INTAKE_PHASES] = {
	    [VT_HTTP_INTAKE_QUEUE] = "queue",	    [VT_HTTP_INTAKE_VAULT] = "vault",
	    [VT_HTTP_INTAKE_INDEX] = "index",	    [VT_HTTP_INTAKE_LOG] = "log",
	    [VT_HTTP_INTAKE_SIGHTING] = "sighting",
	};
	double spent[VT_HTTP_INTAKE_PHASES];
	uint64_t uploads;
	vt_log_stats_t s;
	enum MHD_Result ret;
	struct rusage ru;
	vt_buf b;

	vt_log_stats(rq->srv->log, &s);
	vt_buf_init(&b, 1 << 16);
	vt_buf_printf(&b,
		      "# HELP vitrine_log_size Entries in the latest published checkpoint.\n"
		      "# TYPE vitrine_log_size gauge\nvitrine_log_size %llu\n"
		      "# HELP vitrine_log_appends_total Entries integrated since start.\n"
		      "# TYPE vitrine_log_appends_total counter\nvitrine_log_appends_total %llu\n"
		      "# HELP vitrine_log_pending Entries waiting for the next group.\n"
		      "# TYPE vitrine_log_pending gauge\nvitrine_log_pending %llu\n"
		      "# HELP vitrine_log_rejected_busy_total Appends refused with 503.\n"
		      "# TYPE vitrine_log_rejected_busy_total counter\n"
		      "vitrine_log_rejected_busy_total %llu\n"
		      "# HELP vitrine_log_group_errors_total Groups that failed to commit.\n"
		      "# TYPE vitrine_log_group_errors_total counter\n"
		      "vitrine_log_group_errors_total %llu\n"
		      "# HELP vitrine_log_batch_entries Entries per committed group.\n"
		      "# TYPE vitrine_log_batch_entries summary\n"
		      "vitrine_log_batch_entries_sum %.0f\nvitrine_log_batch_entries_count %llu\n"
		      "# HELP vitrine_log_integrate_seconds_total Time hashing and staging tiles.\n"
		      "# TYPE vitrine_log_integrate_seconds_total counter\n"
		      "vitrine_log_integrate_seconds_total %.6f\n"
		      "# HELP vitrine_log_publish_seconds_total Time signing checkpoints.\n"
		      "# TYPE vitrine_log_publish_seconds_total counter\n"
		      "vitrine_log_publish_seconds_total %.6f\n"
		      "# HELP vitrine_log_fsync_seconds Time committing groups: objects and "
		      "checkpoint durable.\n"
		      "# TYPE vitrine_log_fsync_seconds histogram\n",
		      (unsigned long long)s.size, (unsigned long long)s.appends,
		      (unsigned long long)s.pending, (unsigned long long)s.rejected_busy,
		      (unsigned long long)s.group_errors, s.batch_sum, (unsigned long long)s.groups,
		      s.integrate_seconds, s.publish_seconds);
	for (int i = 0; i < 8; i++)
		vt_buf_printf(&b, "vitrine_log_fsync_seconds_bucket{le=\"%s\"} %llu\n", le[i],
			      (unsigned long long)s.commit_le[i]);
	vt_buf_printf(&b,
		      "vitrine_log_fsync_seconds_bucket{le=\"+Inf\"} %llu\n"
		      "vitrine_log_fsync_seconds_sum %.6f\nvitrine_log_fsync_seconds_count %llu\n",
		      (unsigned long long)s.groups, s.commit_seconds, (unsigned long long)s.groups);
	pthread_mutex_lock(&rq->srv->mu);
	uploads = rq->srv->intake_uploads;
	memcpy(spent, rq->srv->intake_seconds, sizeof(spent));
	pthread_mutex_unlock(&rq->srv->mu);
	vt_buf_printf(&b,
		      "# HELP vitrine_intake_uploads_total Uploads whose entry was published.\n"
		      "# TYPE vitrine_intake_uploads_total counter\n"
		      "vitrine_intake_uploads_total %llu\n"
		      "# HELP vitrine_intake_phase_seconds_total Seconds published uploads spent "
		      "in each phase of their commit, by phase.\n"
		      "# TYPE vitrine_intake_phase_seconds_total counter\n",
		      (unsigned long long)uploads);
	for (int i = 0; i < VT_HTTP_INTAKE_PHASES; i++)
		vt_buf_printf(&b, "vitrine_intake_phase_seconds_total{phase=\"%s\"} %.6f\n",
			      phase[i], spent[i]);
	/* The standard process metric: what a request costs the server shows
	 * even when the load generator shares the machine (vt_hammer uses it). */
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		vt_buf_printf(&b,
			      "# HELP process_cpu_seconds_total Total user and system CPU time "
			      "spent in seconds.\n"
			      "# TYPE process_cpu_seconds_total counter\n"
			      "process_cpu_seconds_total %.6f\n",
			      (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				  (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	ret = vt_http_send_buf(rq->conn, 200, b.ptr, b.len,
			       "text/plain; version=0.0.4; charset=utf-8", "no-store");
	vt_buf_dispose(&b);
	return ret;
}

/* ---- writes ----------------------------------------------------------- */

/*
 * Sequencer thread: the entry is published (or failed); wake the
 * connection. Once resumed, the connection may be answered and the request
 * freed at once on an event-loop thread, so nothing here touches the
 * request after the resume, not even its mutex.
 */
static void add_done(int err, uint64_t index, uint64_t size, void *payload)
{
	request *rq = payload;
	struct MHD_Connection *conn = rq->conn;
	bool resume;

	pthread_mutex_lock(&rq->mu);
	rq->err = err;
	rq->index = index;
	if (err < 0)
		snprintf(rq->why, sizeof(rq->why), "%s", vt_error_last());
	rq->done = true;
	resume = rq->suspended;
	rq->suspended = false;
	pthread_mutex_unlock(&rq->mu);
	if (resume)
		MHD_resume_connection(conn);
	(void)size;
}

/* ---- deferred work ---------------------------------------------------- */

struct deferred {
	struct deferred *next;
	request *rq;
	void (*fn)(request *rq);
};

static void *pool_main(void *arg)
{
	vt_server *s = arg;

	for (;;) {
		struct deferred *d;
		pthread_mutex_lock(&s->pool_mu);
		while (!s->pool_head && !s->pool_stop)
			pthread_cond_wait(&s->pool_cv, &s->pool_mu);
		d = s->pool_head;
		if (d) {
			s->pool_head = d->next;
			if (!s->pool_head)
				s->pool_tail = NULL;
		}
		pthread_mutex_unlock(&s->pool_mu);
		if (!d)
			return NULL; /* stopping, and nothing left */
		d->fn(d->rq);
		free(d);
	}
}

int vt_http_defer(request *rq, void (*fn)(request *rq))
{
	vt_server *s = rq->srv;
	struct deferred *d = malloc(sizeof(*d));

	if (!d)
		return vt_error_set(VT_EBUSY, "out of memory");
	d->next = NULL;
	d->rq = rq;
	d->fn = fn;
	pthread_mutex_lock(&s->pool_mu);
	if (s->pool_stop) {
		pthread_mutex_unlock(&s->pool_mu);
		free(d);
		return vt_error_set(VT_EBUSY, "the server is stopping");
	}
	/* Suspended before the work can run, so its resume never comes first. */
	pthread_mutex_lock(&rq->mu);
	rq->submitted = true;
	rq->suspended = true;
	MHD_suspend_connection(rq->conn);
	pthread_mutex_unlock(&rq->mu);
	pthread_mutex_lock(&s->mu);
	s->outstanding++;
	pthread_mutex_unlock(&s->mu);
	if (s->pool_tail)
		s->pool_tail->next = d;
	else
		s->pool_head = d;
	s->pool_tail = d;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
	return 0;
}

void vt_http_defer_submit(request *rq, const void *entry, size_t len)
{
	int err = vt_log_submit(rq->srv->log, entry, len, add_done, rq);
	if (err < 0)
		add_done(err, 0, 0, rq);
}

void vt_http_defer_finish(request *rq, int err)
{
	add_done(err, 0, 0, rq);
}

static int pool_start(vt_server *s, unsigned n)
{
	pthread_mutex_init(&s->pool_mu, NULL);
	pthread_cond_init(&s->pool_cv, NULL);
	if ((s->pool_threads = calloc(n, sizeof(*s->pool_threads))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	for (; s->pool_n < n; s->pool_n++)
		if (pthread_create(&s->pool_threads[s->pool_n], NULL, pool_main, s) != 0)
			return vt_error_set(VT_EIO, "cannot start a worker thread");
	return 0;
}

/* Finish the queued work, then join the threads. */
static void pool_stop(vt_server *s)
{
	pthread_mutex_lock(&s->pool_mu);
	s->pool_stop = true;
	pthread_cond_broadcast(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mu);
	for (unsigned i = 0; i < s->pool_n; i++)
		pthread_join(s->pool_threads[i], NULL);
	free(s->pool_threads);
	pthread_cond_destroy(&s->pool_cv);
	pthread_mutex_destroy(&s->pool_mu);
}

/* The c2sp.org/tlog-proof of entry index under the latest checkpoint. */
int vt_http_build_proof(vt_buf *out, vt_server *srv, uint64_t index)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_tlog_reader *r = NULL;
	vt_buf cp;
	uint64_t size;
	size_t n;
	int err;

	vt_buf_init(&cp, 1 << 20);
	/* The latest checkpoint includes the entry: it is at least as new. */
	if ((err = vt_log_checkpoint(srv->log, &cp, &size)) < 0 ||
	    (err = thread_reader(&r, srv->st, size)) < 0 ||
	    (err = vt_tlog_reader_prove_inclusion(proof, &n, r, index)) < 0)
		goto done;
	err = vt_tlog_proof_format(out, index, proof, n, (const char *)cp.ptr, cp.len);
done:
	vt_buf_dispose(&cp);
	return err;
}

static enum MHD_Result answer_add(request *rq)
{
	vt_buf out;
	enum MHD_Result ret;

	if (rq->err < 0)
		return send_error(rq->conn, vt_http_status_of(rq->err) == 503 ? 503 : 500,
				  "append failed", rq->why, "Retry-After", "1");
	vt_buf_init(&out, 2 << 20);
	if (vt_http_build_proof(&out, rq->srv, rq->index) < 0)
		ret = send_error(rq->conn, 500, "cannot build the proof", vt_error_last(), NULL,
				 NULL);
	else
		ret = vt_http_send_buf(rq->conn, 200, out.ptr, out.len, "text/plain; charset=utf-8",
				       "no-store");
	vt_buf_dispose(&out);
	return ret;
}

/*
 * Hand an entry to the sequencer and, unless it was faster, suspend the
 * connection until add_done() resumes it. *suspended tells which. From
 * then on only add_done() touches the request until MHD calls the handler
 * again, after the resume.
 */
int vt_http_submit_entry(request *rq, const void *entry, size_t len, bool *suspended)
{
	int err;

	*suspended = false;
	pthread_mutex_lock(&rq->mu);
	err = vt_log_submit(rq->srv->log, entry, len, add_done, rq);
	if (err == 0) {
		rq->submitted = true;
		pthread_mutex_lock(&rq->srv->mu);
		rq->srv->outstanding++;
		pthread_mutex_unlock(&rq->srv->mu);
		if (!rq->done) {
			rq->suspended = true;
			*suspended = true;
			MHD_suspend_connection(rq->conn);
		}
	}
	pthread_mutex_unlock(&rq->mu);
	return err;
}

static bool authorized(request *rq)
{
	const char *h =
	    MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const vt_token *t;
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return false;
	t = vt_tokens_check(rq->srv->tokens, h + 7, strlen(h + 7));
	/* Writing raw entries is for operators. */
	return t && strcmp(t->role, "admin") == 0;
}

static enum MHD_Result handle_add(request *rq, const char *data, size_t *size)
{
	bool suspended = false;
	int err;

	if (*size > 0) {
		if (!rq->too_big && vt_buf_add(&rq->body, data, *size) < 0)
			rq->too_big = true;
		*size = 0;
		return MHD_YES;
	}
	if (rq->done)
		return answer_add(rq);
	if (rq->too_big)
		return send_error(rq->conn, 413, "entry too large",
				  "an entry is at most 65535 bytes", NULL, NULL);
	if (rq->body.len == 0)
		return send_error(rq->conn, 400, "empty entry", "the request body is the entry",
				  NULL, NULL);
	err = vt_http_submit_entry(rq, rq->body.ptr, rq->body.len, &suspended);
	if (err == VT_EBUSY)
		return send_error(rq->conn, 503, "busy", vt_error_last(), "Retry-After", "1");
	if (err < 0)
		return send_error(rq->conn, vt_http_status_of(err), "append refused",
				  vt_error_last(), NULL, NULL);
	return suspended ? MHD_YES : answer_add(rq);
}

/* ---- POST /api/v1/files: sample intake (logic in src/custody/intake.c) -- */

/* The stable code of an error status of the /api/v1 routes (docs/api.md). */
const char *vt_http_api_code(unsigned status)
{
	switch (status) {
	case 400: return "bad_request";
	case 408: return "request_timeout";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 409: return "conflict";
	case 413: return "too_large";
	case 415: return "unsupported_media_type";
	case 503: return "unavailable";
	default: return "internal";
	}
}

/* 421 and 451 bodies name the site that must hold the data, if any. */
static enum MHD_Result send_residency(request *rq, const vt_intake_decision *d)
{
	unsigned status = d->place == VT_POLICY_ELSEWHERE ? 421 : 451;
	enum MHD_Result ret;
	vt_buf b;

	vt_buf_init(&b, 4096);
	vt_buf_adds(&b, "{\"error\": {\"code\": ");
	vt_http_json_string(&b, status == 421 ? "misdirected" : "unavailable_for_legal_reasons");
	vt_buf_adds(&b, ", \"message\": ");
	vt_http_json_string(&b, d->reason);
	vt_buf_adds(&b, "}, \"region\": ");
	vt_http_json_string(&b, rq->tok.region);
	if (status == 421) {
		vt_buf_adds(&b, ", \"jurisdiction\": ");
		vt_http_json_string(&b, d->jurisdiction);
		vt_buf_adds(&b, ", \"url\": ");
		vt_http_json_string(&b, d->url);
	}
	vt_buf_adds(&b, "}\n");
	ret = vt_http_send_buf(rq->conn, status, b.ptr, b.len, "application/json", "no-store");
	vt_buf_dispose(&b);
	return ret;
}

/* Remember the first failure while the body streams; the rest is discarded. */
static int files_fail(request *rq, unsigned status, int err)
{
	if (!rq->fail) {
		rq->fail = err < 0 ? err : VT_EINVAL;
		rq->fail_status = status;
		snprintf(rq->fail_msg, sizeof(rq->fail_msg), "%s", vt_error_last());
	}
	vt_intake_upload_abort(rq->up);
	rq->up = NULL;
	return rq->fail;
}

static int on_part_begin(const char *name, const char *filename, const char *content_type,
			 void *payload)
{
	request *rq = payload;
	int err;

	(void)content_type;
	rq->part = FIELD_OTHER;
	if (strcmp(name, "file") == 0) {
		if (rq->file_seen)
			return vt_error_set(VT_EINVAL, "more than one file part");
		rq->file_seen = true;
		rq->part = FIELD_FILE;
		if (filename && filename[0] &&
		    snprintf(rq->fname, sizeof(rq->fname), "%s", filename) >=
			(int)sizeof(rq->fname))
			rq->fname_bad = true;
		if ((err = vt_intake_upload_new(&rq->up, rq->srv->intake, rq->srv->max_upload)) < 0)
			return err;
	} else if (strcmp(name, "name") == 0) {
		rq->part = FIELD_NAME;
	} else if (strcmp(name, "tags") == 0) {
		rq->part = FIELD_TAGS;
	} else if (strcmp(name, "source") == 0) {
		rq->part = FIELD_SOURCE;
	}
	return 0;
}

static int on_part_data(const uint8_t *data, size_t len, void *payload)
{
	request *rq = payload;
	vt_buf *b = NULL;

	switch (rq->part) {
	case FIELD_FILE: return vt_intake_upload_write(rq->up, data, len);
	case FIELD_NAME: b = &rq->name; break;
	case FIELD_TAGS: b = &rq->tags; break;
	case FIELD_SOURCE: b = &rq->source; break;
	default: return 0;
	}
	if (vt_buf_add(b, data, len) < 0)
		return vt_error_set(VT_EINVAL, "a form field is too long");
	return 0;
}

static int on_part_end(void *payload)
{
	request *rq = payload;
	rq->part = FIELD_NONE;
	return 0;
}

/* Headers are in: who, where, and whether this body can be read at all. */
static enum MHD_Result files_begin(request *rq)
{
	static const vt_multipart_callbacks cb = {on_part_begin, on_part_data, on_part_end};
	struct MHD_Connection *c = rq->conn;
	const char *h, *type, *len;
	vt_multipart_limits lim = {0};
	vt_intake_decision d;
	int err;

	if (!rq->srv->intake)
		return vt_http_api_error(c, 503, "unavailable",
					 rq->srv->intake_off ? rq->srv->intake_off
							     : "this site does not take files",
					 NULL, NULL);
	h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!h || strncmp(h, "Bearer ", 7) != 0)
		return vt_http_api_error(c, 401, "unauthorized",
					 "send Authorization: Bearer <submitter token>",
					 "WWW-Authenticate", "Bearer");
	err = vt_tokens_lookup(&rq->tok, rq->srv->tokens, h + 7, strlen(h + 7));
	if (err == VT_EDENIED)
		return vt_http_api_error(c, 401, "unauthorized",
					 "unknown, malformed or revoked token", "WWW-Authenticate",
					 "Bearer");
	if (err < 0)
		return vt_http_api_error(c, 503, "unavailable", vt_error_last(), "Retry-After",
					 "1");
	if (strcmp(rq->tok.role, "submitter") != 0)
		return vt_http_api_error(c, 403, "forbidden",
					 "uploading files needs a submitter token", NULL, NULL);
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!type || strncasecmp(type, "multipart/form-data", 19) != 0 ||
	    (type[19] != 0 && type[19] != ';' && type[19] != ' ' && type[19] != '\t'))
		return vt_http_api_error(c, 415, "unsupported_media_type",
					 "send multipart/form-data with a \"file\" part", NULL,
					 NULL);
	/* Residency before a byte of the body is read. */
	err = vt_intake_residency(&d, rq->srv->intake, rq->tok.region);
	if (d.place != VT_POLICY_HERE)
		return send_residency(rq, &d);
	(void)err;
	lim.max_body = rq->srv->max_upload + 64 * 1024;
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && strtoull(len, NULL, 10) > lim.max_body) {
		char msg[128];
		snprintf(msg, sizeof(msg), "a file is at most %llu bytes",
			 (unsigned long long)rq->srv->max_upload);
		return vt_http_api_error(c, 413, "too_large", msg, NULL, NULL);
	}
	if (vt_multipart_new(&rq->mp, type, &cb, rq, &lim) < 0)
		return vt_http_api_error(c, 400, "bad_request", vt_error_last(), NULL, NULL);
	vt_buf_init(&rq->name, VT_INDEX_NAME_MAX);
	vt_buf_init(&rq->tags, 4096);
	vt_buf_init(&rq->source, VT_INDEX_SOURCE_MAX);
	return MHD_YES;
}

static bool has_control(const vt_buf *b)
{
	for (size_t i = 0; i < b->len; i++)
		if (b->ptr[i] < 0x20 || b->ptr[i] == 0x7f)
			return true;
	return false;
}

/* The submitted file's name: the name field, else the file part's. */
static const char *submitted_name(request *rq)
{
	return rq->name.len ? vt_buf_cstr(&rq->name) : rq->fname;
}

/* A published upload's phases into the server's totals (GET /metrics). */
static void count_upload(request *rq)
{
	vt_server *srv = rq->srv;

	pthread_mutex_lock(&srv->mu);
	srv->intake_uploads++;
	for (int i = 0; i < VT_HTTP_INTAKE_PHASES; i++)
		srv->intake_seconds[i] += rq->spent[i];
	pthread_mutex_unlock(&srv->mu);
}

/*
 * The entry's fate is known (also when the client left): record the
 * sighting once the entry is published, then settle the upload, so that
 * uploads of the same file waiting for its `sample` entry go on. In that
 * order: a waiter reads the index to learn whether it was published.
 */
static void record_sighting(request *rq)
{
	vt_index_sighting s;
	double t0;

	if (!rq->have_result || !rq->done)
		return;
	if (rq->sighted || rq->err < 0)
		goto settle;
	rq->sighted = true;
	t0 = vt_monotonic_seconds();
	rq->spent[VT_HTTP_INTAKE_LOG] = t0 - rq->t_logged;
	memset(&s, 0, sizeof(s));
	s.sample = rq->res.d.sha256;
	snprintf(s.tenant, sizeof(s.tenant), "%s", rq->tok.tenant);
	snprintf(s.region, sizeof(s.region), "%s", rq->tok.region);
	snprintf(s.name, sizeof(s.name), "%s", submitted_name(rq));
	snprintf(s.source, sizeof(s.source), "%s", vt_buf_cstr(&rq->source));
	s.log_index = (int64_t)rq->index;
	/* It ends a pending `sample` entry only if it is that entry. */
	if (vt_sha256(&s.entry, rq->res.entry.ptr, rq->res.entry.len) < 0 ||
	    vt_index_sighting_add(NULL, vt_tokens_index(rq->srv->tokens), &s) < 0)
		fprintf(stderr, "vitrine: sighting of entry %llu not indexed: %s\n",
			(unsigned long long)rq->index, vt_error_last());
	rq->spent[VT_HTTP_INTAKE_SIGHTING] = vt_monotonic_seconds() - t0;
	count_upload(rq);
settle:
	vt_intake_settle(rq->srv->intake, &rq->res);
}

static void json_hex(vt_buf *b, const char *key, const uint8_t *p, size_t n)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, p, n);
	hex[2 * n] = 0;
	vt_buf_printf(b, "\"%s\": \"%s\", ", key, hex);
}

static enum MHD_Result answer_files(request *rq)
{
	const vt_intake_result *r = &rq->res;
	enum MHD_Result ret;
	char when[32];
	struct tm tm;
	time_t t = (time_t)r->sample.first_seen;
	vt_buf proof, b;

	record_sighting(rq);
	if (rq->err < 0) {
		/* A refusal of the commit has its status; a log failure is 503. */
		unsigned st = rq->fail_status			  ? rq->fail_status
			      : vt_http_status_of(rq->err) == 503 ? 503
								  : 500;
		return vt_http_api_error(rq->conn, st, vt_http_api_code(st), rq->why,
					 st == 503 ? "Retry-After" : NULL, "1");
	}
	vt_buf_init(&proof, 2 << 20);
	vt_buf_init(&b, 4 << 20);
	if (vt_http_build_proof(&proof, rq->srv, rq->index) < 0) {
		ret = vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
		goto done;
	}
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	vt_buf_adds(&b, "{");
	json_hex(&b, "sha256", r->d.sha256.b, VT_HASH_SIZE);
	json_hex(&b, "sha1", r->d.sha1, VT_SHA1_SIZE);
	json_hex(&b, "md5", r->d.md5, VT_MD5_SIZE);
	vt_buf_printf(&b,
		      "\"size\": %llu, \"first_seen\": \"%s\", \"new\": %s, \"log_index\": %llu, "
		      "\"entry\": ",
		      (unsigned long long)r->d.size, when, r->is_new ? "true" : "false",
		      (unsigned long long)rq->index);
	vt_http_json_string(&b, vt_buf_cstr(&rq->res.entry));
	vt_buf_adds(&b, ", \"receipt\": ");
	vt_http_json_string(&b, vt_buf_cstr(&proof));
	vt_buf_adds(&b, "}\n");
	ret = vt_http_send_buf(rq->conn, r->is_new ? 201 : 200, b.ptr, b.len, "application/json",
			       "no-store");
done:
	vt_buf_dispose(&proof);
	vt_buf_dispose(&b);
	return ret;
}

/*
 * Is the body arriving slower than the site's minimum rate, once the
 * grace period (the idle timeout) has passed? MHD only times out idle
 * connections: a byte a second would hold one (and a vault temporary
 * file) until the size limit.
 */
static bool too_slow(const request *rq)
{
	double elapsed = vt_monotonic_seconds() - rq->started;

	return elapsed > rq->srv->timeout_s &&
	       (double)rq->received < elapsed * (double)rq->srv->min_rate;
}

/*
 * Deferred: commit the upload and its tags, log its entry. The commit may
 * wait for another upload of the same file to settle (VT_EBUSY past the
 * intake's wait: 503, retry).
 */
static void finish_upload(request *rq)
{
	vt_intake_submission sub = {
	    .tenant = rq->tok.tenant,
	    .region = rq->tok.region,
	    .name = submitted_name(rq),
	    .source = vt_buf_cstr(&rq->source),
	    .tags = vt_buf_cstr(&rq->tags),
	};
	int err;

	rq->spent[VT_HTTP_INTAKE_QUEUE] = vt_monotonic_seconds() - rq->t_deferred;
	err = vt_intake_upload_finish(&rq->res, rq->up, &sub);
	rq->spent[VT_HTTP_INTAKE_VAULT] = rq->res.vault_seconds;
	rq->spent[VT_HTTP_INTAKE_INDEX] = rq->res.index_seconds;
	rq->up = NULL;
	rq->have_result = err == 0;
	if (err < 0) {
		vt_intake_result_dispose(&rq->res);
		rq->fail_status = err == VT_EINVAL    ? 400
				  : err == VT_EEXISTS ? 409
				  : err == VT_EBUSY   ? 503
						      : 500;
		vt_http_defer_finish(rq, err);
		return;
	}
	rq->t_logged = vt_monotonic_seconds();
	vt_http_defer_submit(rq, rq->res.entry.ptr, rq->res.entry.len);
}

static enum MHD_Result handle_files(request *rq, const char *data, size_t *size)
{
	int err;

	if (*size > 0) {
		rq->received += *size;
		if (too_slow(rq)) {
			*size = 0;
			vt_multipart_free(rq->mp);
			rq->mp = NULL;
			files_fail(rq, 408, vt_error_set(VT_EINVAL, "the upload is too slow"));
			return vt_http_api_error(rq->conn, 408, "request_timeout", rq->fail_msg,
						 "Connection", "close");
		}
		if (!rq->fail && (err = vt_multipart_feed(rq->mp, data, *size)) < 0)
			files_fail(rq, err == VT_ETOOBIG ? 413 : err == VT_EINVAL ? 400 : 500, err);
		*size = 0;
		return MHD_YES;
	}
	if (rq->done)
		return answer_files(rq);
	if (!rq->fail && (err = vt_multipart_finish(rq->mp)) < 0)
		files_fail(rq, err == VT_ETOOBIG ? 413 : 400, err);
	if (!rq->fail && !rq->file_seen) {
		vt_error_set(VT_EINVAL, "no \"file\" part in the form");
		files_fail(rq, 400, VT_EINVAL);
	}
	if (!rq->fail && rq->fname_bad)
		files_fail(rq, 400, vt_error_set(VT_EINVAL, "the file name is too long"));
	if (!rq->fail && rq->name.len &&
	    (has_control(&rq->name) ||
	     (err = vt_multipart_safe_filename(vt_buf_cstr(&rq->name))) < 0))
		files_fail(rq, 400,
			   vt_error_set(VT_EINVAL, "the name field is not a plain file name"));
	if (!rq->fail && rq->fname[0] && !rq->name.len && vt_multipart_safe_filename(rq->fname) < 0)
		files_fail(rq, 400, vt_error_wrap(VT_EINVAL, "the file's name"));
	if (!rq->fail && has_control(&rq->source))
		files_fail(rq, 400,
			   vt_error_set(VT_EINVAL, "the source field has control characters"));
	if (!rq->fail) {
		vt_buf tags;
		vt_buf_init(&tags, VT_INDEX_TAGS_MAX + 1);
		if ((err = vt_intake_tags_parse(&tags, vt_buf_cstr(&rq->tags))) < 0)
			files_fail(rq, 400, err);
		vt_buf_dispose(&tags);
	}
	if (rq->fail) {
		return vt_http_api_error(rq->conn, rq->fail_status,
					 vt_http_api_code(rq->fail_status), rq->fail_msg, NULL,
					 NULL);
	}
	/* Everything checked: the object, the index record and the entry are
	 * committed on a worker (their fsyncs would stall the event loop). */
	rq->t_deferred = vt_monotonic_seconds();
	if (vt_http_defer(rq, finish_upload) < 0)
		return vt_http_api_error(rq->conn, 503, "unavailable", vt_error_last(),
					 "Retry-After", "1");
	return MHD_YES;
}

/* ---- /api/v1 reads: lookups and reports (logic in src/custody) -------- */

/* An /api/v1 error: {"error": {"code": "...", "message": "..."}}. */
struct MHD_Response *vt_http_api_error_response(const char *code, const char *message)
{
	struct MHD_Response *r;
	vt_buf b;

	vt_buf_init(&b, 4096);
	vt_report_error(&b, code, message);
	r = MHD_create_response_from_buffer(b.len, b.ptr, MHD_RESPMEM_MUST_COPY);
	vt_buf_dispose(&b);
	if (!r)
		return NULL;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return r;
}

enum MHD_Result vt_http_api_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *message, const char *hname, const char *hvalue)
{
	struct MHD_Response *r = vt_http_api_error_response(code, message);
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Send a JSON buffer without copying it: the response frees it. */
enum MHD_Result vt_http_send_json(struct MHD_Connection *c, unsigned status, vt_buf *b)
{
	struct MHD_Response *r;
	enum MHD_Result ret;
	size_t len;
	uint8_t *p = vt_buf_detach(b, &len);

	r = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/*
 * Authenticate an /api/v1 read into rq->tok. Returns true, or false with
 * the refusal queued in *ret.
 */
bool vt_http_api_token(request *rq, enum MHD_Result *ret)
{
	const char *h =
	    MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	int err;

	if (!h || strncmp(h, "Bearer ", 7) != 0) {
		*ret = vt_http_api_error(rq->conn, 401, "unauthorized",
					 "send Authorization: Bearer <token>", "WWW-Authenticate",
					 "Bearer");
		return false;
	}
	err = vt_tokens_lookup(&rq->tok, rq->srv->tokens, h + 7, strlen(h + 7));
	if (err == VT_EDENIED)
		*ret = vt_http_api_error(rq->conn, 401, "unauthorized",
					 "unknown, malformed or revoked token", "WWW-Authenticate",
					 "Bearer");
	else if (err < 0)
		*ret = vt_http_api_error(rq->conn, 503, "unavailable", "cannot check the token now",
					 "Retry-After", "1");
	return err == 0;
}

/* Headers of POST /api/v1/lookup are in: who, which format, how much. */
static enum MHD_Result lookup_begin(request *rq)
{
	struct MHD_Connection *c = rq->conn;
	const char *type, *len;
	size_t tl;
	enum MHD_Result ret;

	if (!vt_http_api_token(rq, &ret))
		return ret;
	if (vt_report_may_lookup(&rq->tok) < 0)
		return vt_http_api_error(c, 403, "forbidden", vt_error_last(), NULL, NULL);
	type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	tl = type ? strcspn(type, "; \t") : 0;
	if (type && tl == 16 && strncasecmp(type, "application/json", 16) == 0)
		rq->lookup_fmt = VT_LOOKUP_JSON;
	else if (type && tl == 10 && strncasecmp(type, "text/plain", 10) == 0)
		rq->lookup_fmt = VT_LOOKUP_TEXT;
	else
		return vt_http_api_error(
		    c, 415, "unsupported_media_type",
		    "send application/json ({\"hashes\": [...]}) or text/plain "
		    "(one hash a line)",
		    NULL, NULL);
	len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (len && strtoull(len, NULL, 10) > VT_LOOKUP_BODY_MAX)
		return vt_http_api_error(c, 413, "too_large", "a lookup request is at most 4 MiB",
					 NULL, NULL);
	vt_buf_dispose(&rq->body);
	vt_buf_init(&rq->body, VT_LOOKUP_BODY_MAX);
	return MHD_YES;
}

static enum MHD_Result handle_lookup(request *rq, const char *data, size_t *size)
{
	vt_lookup_request req = {0};
	vt_index_hit *hits = NULL;
	enum MHD_Result ret;
	vt_buf out;
	int err;

	if (*size > 0) {
		if (!rq->too_big && vt_buf_add(&rq->body, data, *size) < 0)
			rq->too_big = true;
		*size = 0;
		return MHD_YES;
	}
	vt_buf_init(&out, (size_t)32 << 20);
	if (rq->too_big) {
		ret = vt_http_api_error(rq->conn, 413, "too_large",
					"a lookup request is at most 4 MiB", NULL, NULL);
		goto done;
	}
	if ((err = vt_lookup_parse(&req, rq->body.ptr, rq->body.len, rq->lookup_fmt)) < 0) {
		ret = vt_http_api_error(rq->conn,
					err == VT_ETOOBIG  ? 413
					: err == VT_EINVAL ? 400
							   : 500,
					err == VT_ETOOBIG  ? "too_many_hashes"
					: err == VT_EINVAL ? "bad_request"
							   : "internal",
					vt_error_last(), NULL, NULL);
		goto done;
	}
	if (req.n > 0 && (hits = malloc(req.n * sizeof(*hits))) == NULL) {
		ret = vt_http_api_error(rq->conn, 500, "internal", "out of memory", NULL, NULL);
		goto done;
	}
	if ((err = vt_index_lookup_many(hits, vt_tokens_index(rq->srv->tokens), req.keys, req.n)) <
		0 ||
	    (err = vt_lookup_answer(&out, req.keys, hits, req.n)) < 0) {
		ret =
		    vt_http_api_error(rq->conn, err == VT_EBUSY ? 503 : 500, "internal",
				      vt_error_last(), err == VT_EBUSY ? "Retry-After" : NULL, "1");
		goto done;
	}
	ret = vt_http_send_json(rq->conn, 200, &out);
done:
	free(hits);
	vt_lookup_dispose(&req);
	vt_buf_dispose(&out);
	return ret;
}

static enum MHD_Result serve_file_report(request *rq)
{
	vt_index_key key;
	enum MHD_Result ret;
	vt_buf out;
	int err;

	if (!vt_http_api_token(rq, &ret))
		return ret;
	if (vt_lookup_key_parse(&key, rq->route.arg, rq->route.arg_len) < 0)
		return vt_http_api_error(rq->conn, 400, "bad_hash", vt_error_last(), NULL, NULL);
	vt_buf_init(&out, (size_t)32 << 20);
	err = vt_report_file(&out, vt_tokens_index(rq->srv->tokens), &key, &rq->tok);
	if (err == 0) {
		ret = vt_http_send_json(rq->conn, 200, &out);
	} else if (err == VT_ENOTFOUND) {
		/* One message for unknown and hidden files alike. */
		ret = vt_http_api_error(rq->conn, 404, "not_found", "no such file", NULL, NULL);
	} else if (err == VT_EDENIED) {
		ret = vt_http_api_error(rq->conn, 403, "forbidden", vt_error_last(), NULL, NULL);
	} else {
		ret =
		    vt_http_api_error(rq->conn, err == VT_EBUSY ? 503 : 500, "internal",
				      vt_error_last(), err == VT_EBUSY ? "Retry-After" : NULL, "1");
	}
	vt_buf_dispose(&out);
	return ret;
}

/* ---- GET /api/v1/files/{sha256}/content: access-logged downloads ----- */

static ssize_t content_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	vt_export *e = cls;
	size_t n;

	(void)pos;
	if (vt_export_read(&n, e, buf, max) < 0) {
		/* The object was checked before the entry was logged; this is a
		 * change under our feet. Cutting the connection tells the client. */
		fprintf(stderr, "vitrine: download cut: %s\n", vt_error_last());
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void content_free(void *cls)
{
	vt_export_free(cls);
}

/* The access entry is in a published checkpoint: record it, then answer. */
static enum MHD_Result answer_content(request *rq)
{
	vt_server *srv = rq->srv;
	struct MHD_Response *r = NULL;
	char hex[2 * VT_HASH_SIZE + 1], name[128], index[24];
	vt_export *e = NULL;
	unsigned status;
	vt_buf proof, receipt;
	int err;

	if (rq->err < 0)
		return vt_http_api_error(
		    rq->conn, 503, "unavailable",
		    "the log could not take the access entry, so nothing is served", "Retry-After",
		    "1");
	rq->acc.log_index = (int64_t)rq->index;
	if (vt_index_access_add(NULL, vt_tokens_index(srv->tokens), &rq->acc) < 0)
		fprintf(stderr, "vitrine: access entry %llu not indexed: %s\n",
			(unsigned long long)rq->index, vt_error_last());
	vt_buf_init(&proof, 2 << 20);
	vt_buf_init(&receipt, 3 << 20);
	if (vt_http_build_proof(&proof, srv, rq->index) < 0 ||
	    vt_base64_append(&receipt, proof.ptr, proof.len) < 0) {
		r = vt_http_api_error_response("internal", vt_error_last());
		status = 500;
		goto send;
	}
	status = rq->acc_status;
	if (status != 0) {
		r = vt_http_api_error_response(rq->acc_code, rq->acc_msg);
		goto send;
	}
	vt_hex_encode(hex, rq->content_id.b, VT_HASH_SIZE);
	if ((err = vt_export_open(&e, srv->vault, &rq->content_id, srv->jurisdiction,
				  rq->content_fmt, hex)) < 0) {
		status = err == VT_ENOTFOUND ? 404 : 500;
		r = vt_http_api_error_response(err == VT_ENOTFOUND ? "not_found" : "corrupt_object",
					       vt_error_last());
		goto send;
	}
	r = MHD_create_response_from_callback(vt_export_size(e) < 0 ? MHD_SIZE_UNKNOWN
								    : (uint64_t)vt_export_size(e),
					      VT_VAULT_CHUNK, content_read, e, content_free);
	if (!r) {
		vt_export_free(e);
		goto send;
	}
	status = 200;
	snprintf(name, sizeof(name), "attachment; filename=\"%s%s\"", hex,
		 rq->content_fmt == VT_ACCESS_ZIP ? ".zip" : "");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				rq->content_fmt == VT_ACCESS_ZIP ? "application/zip"
								 : "application/octet-stream");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, name);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
send:
	vt_buf_dispose(&proof);
	if (r) {
		enum MHD_Result ret;
		snprintf(index, sizeof(index), "%llu", (unsigned long long)rq->index);
		MHD_add_response_header(r, "X-Vitrine-Access-Index", index);
		if (receipt.len)
			MHD_add_response_header(r, "X-Vitrine-Receipt", vt_buf_cstr(&receipt));
		ret = MHD_queue_response(rq->conn, status, r);
		MHD_destroy_response(r);
		vt_buf_dispose(&receipt);
		return ret;
	}
	vt_buf_dispose(&receipt);
	return MHD_NO;
}

/* Deferred: check the object (reading it through), then log the access entry. */
static void decide_access(request *rq)
{
	vt_buf entry;
	int err;

	if (rq->acc_status == 0) {
		/* A damaged object is refused before anything is logged as granted. */
		err = vt_export_check(rq->srv->vault, &rq->content_id, rq->srv->jurisdiction);
		snprintf(rq->acc_msg, sizeof(rq->acc_msg), "%s", vt_error_last());
		if (err == VT_ENOTFOUND) {
			rq->acc_status = 404;
			vt_error_set(VT_ENOTFOUND, "no such file");
			snprintf(rq->acc.result, sizeof(rq->acc.result), "not-found");
		} else if (err < 0) {
			rq->acc_status = 500;
			snprintf(rq->acc.result, sizeof(rq->acc.result),
				 err == VT_EIO ? "error" : "corrupt");
		} else {
			snprintf(rq->acc.result, sizeof(rq->acc.result), "granted");
		}
	}
	if (rq->acc_status != 0) {
		rq->acc_code = vt_http_api_code(rq->acc_status);
		if (rq->acc_status == 400 && strcmp(rq->acc.result, "bad-hash") == 0)
			rq->acc_code = "bad_hash";
		if (rq->acc_status == 500 && strcmp(rq->acc.result, "corrupt") == 0)
			rq->acc_code = "corrupt_object";
	}
	vt_buf_init(&entry, VT_ENTRY_MAX);
	if ((err = vt_access_entry(&entry, &rq->acc, rq->content_fmt)) == 0)
		vt_http_defer_submit(rq, entry.ptr, entry.len);
	else
		vt_http_defer_finish(rq, err);
	vt_buf_dispose(&entry);
}

/*
 * Decide, log, then serve. Every request with a valid token is logged,
 * granted or not; the answer waits until its entry is published.
 */
static enum MHD_Result serve_content(request *rq)
{
	struct MHD_Connection *c = rq->conn;
	char hash[2 * VT_HASH_SIZE + 1] = "";
	enum MHD_Result ret;

	if (rq->done)
		return answer_content(rq);
	/* Without a valid token there is nobody to name: not logged, so
	 * strangers cannot fill the log. */
	if (!vt_http_api_token(rq, &ret))
		return ret;
	if (!rq->srv->vault)
		return vt_http_api_error(c, 503, "unavailable", "this site holds no customer files",
					 NULL, NULL);
	if (rq->route.arg_len == 2 * VT_HASH_SIZE)
		memcpy(hash, rq->route.arg, rq->route.arg_len);
	rq->acc.token_id = rq->tok.id;
	rq->acc.time = (int64_t)time(NULL);
	rq->acc_status = (unsigned)vt_access_check(
	    &rq->acc, &rq->content_id, &rq->content_fmt, rq->tok.role, hash,
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "reason"),
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "ticket"),
	    MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"));
	/* The refusal's message is this thread's; the worker's would differ. */
	if (rq->acc_status != 0)
		snprintf(rq->acc_msg, sizeof(rq->acc_msg), "%s", vt_error_last());
	if (vt_http_defer(rq, decide_access) < 0)
		return vt_http_api_error(c, 503, "unavailable", vt_error_last(), "Retry-After",
					 "1");
	return MHD_YES;
}

/* ---- dispatch --------------------------------------------------------- */

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **con_cls)
{
	vt_server *srv = cls;
	request *rq = *con_cls;
	int status;

	if (!rq) {
		const char *len;
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		rq->srv = srv;
		rq->conn = c;
		rq->started = vt_monotonic_seconds();
		vt_buf_init(&rq->body, VT_ENTRY_MAX);
		pthread_mutex_init(&rq->mu, NULL);
		*con_cls = rq;
		status = vt_route_match(&rq->route, method, url);
		if (status != 0 && strncmp(url, "/api/v1/", 8) == 0)
			return vt_http_api_error(c, (unsigned)status,
						 status == 405	 ? "method_not_allowed"
						 : status == 404 ? "not_found"
								 : "bad_request",
						 rq->route.reason, status == 405 ? "Allow" : NULL,
						 rq->route.allow);
		if (status == 405)
			return send_error(c, 405, "method not allowed", rq->route.reason, "Allow",
					  rq->route.allow);
		if (status != 0)
			return send_error(c, (unsigned)status,
					  status == 404 ? "not found" : "bad request",
					  rq->route.reason, NULL, NULL);
		if (rq->route.id >= VT_ROUTE_FILE_ANALYSE && rq->route.id <= VT_ROUTE_RULESETS)
			return vt_api_analysis_handle(rq, true, data, size);
		if (rq->route.id >= VT_ROUTE_BUILDS && rq->route.id <= VT_ROUTE_REBUILDS)
			return vt_api_conveyer_handle(rq, true, data, size);
		if (rq->route.id == VT_ROUTE_FILES)
			return files_begin(rq);
		if (rq->route.id == VT_ROUTE_LOOKUP)
			return lookup_begin(rq);
		if (rq->route.id != VT_ROUTE_ADD)
			goto dispatch;
		if (!authorized(rq))
			return send_error(c, 401, "unauthorized",
					  "send Authorization: Bearer <admin token>",
					  "WWW-Authenticate", "Bearer");
		len =
		    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoull(len, NULL, 10) > VT_ENTRY_MAX)
			return send_error(c, 413, "entry too large",
					  "an entry is at most 65535 bytes", NULL, NULL);
		return MHD_YES; /* wait for the body */
	}
dispatch:
	switch (rq->route.id) {
	case VT_ROUTE_ADD: return handle_add(rq, data, size);
	case VT_ROUTE_FILES: return handle_files(rq, data, size);
	case VT_ROUTE_LOOKUP: return handle_lookup(rq, data, size);
	case VT_ROUTE_FILE_REPORT: return serve_file_report(rq);
	case VT_ROUTE_FILE_CONTENT: return serve_content(rq);
	case VT_ROUTE_FILE_ANALYSE:
	case VT_ROUTE_SEARCH:
	case VT_ROUTE_ANALYSIS:
	case VT_ROUTE_RULESETS: return vt_api_analysis_handle(rq, false, data, size);
	case VT_ROUTE_BUILDS:
	case VT_ROUTE_ATTESTATION:
	case VT_ROUTE_ARTIFACT:
	case VT_ROUTE_SOURCE:
	case VT_ROUTE_RELEASES:
	case VT_ROUTE_RELEASE:
	case VT_ROUTE_RELEASE_PUBLISH:
	case VT_ROUTE_REBUILDS: return vt_api_conveyer_handle(rq, false, data, size);
	case VT_ROUTE_CHECKPOINT: return serve_checkpoint(rq);
	case VT_ROUTE_TILE: return serve_tile(rq);
	case VT_ROUTE_METRICS: return serve_metrics(rq);
	case VT_ROUTE_HEALTHZ:
		return vt_http_send_buf(c, 200, "{\"status\": \"ok\"}\n", 17, "application/json",
					"no-store");
	}
	return MHD_NO;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	request *rq = *con_cls;
	if (!rq)
		return;
	/* Suspended connections are never completed, so a submitted entry's
	 * callback has run by now. */
	if (rq->submitted) {
		pthread_mutex_lock(&rq->srv->mu);
		rq->srv->outstanding--;
		pthread_mutex_unlock(&rq->srv->mu);
	}
	record_sighting(rq);
	if (rq->have_result)
		vt_intake_settle(rq->srv->intake, &rq->res); /* not done: nothing was logged */
	if (rq->mod_free)
		rq->mod_free(rq->mod);
	vt_multipart_free(rq->mp);
	vt_intake_upload_abort(rq->up);
	if (rq->have_result)
		vt_intake_result_dispose(&rq->res);
	vt_buf_dispose(&rq->name);
	vt_buf_dispose(&rq->tags);
	vt_buf_dispose(&rq->source);
	vt_buf_dispose(&rq->body);
	pthread_mutex_destroy(&rq->mu);
	free(rq);
	*con_cls = NULL;
}

int vt_server_start(vt_server **out, vt_log *log, vt_storage *st, const vt_tokens *tokens,
		    const vt_server_options *opt)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const union MHD_DaemonInfo *info;
	vt_server *s;

	if (inet_pton(AF_INET, opt->host, &sa.sin_addr) != 1)
		return vt_error_set(VT_EINVAL, "cannot listen on \"%s\": use an IPv4 address",
				    opt->host);
	sa.sin_port = htons((uint16_t)opt->port);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	s->log = log;
	s->st = st;
	s->tokens = tokens;
	s->intake = opt->intake;
	s->intake_off = opt->intake_off;
	s->max_upload = opt->max_upload ? opt->max_upload : VT_INTAKE_DEFAULT_MAX_UPLOAD;
	s->timeout_s = opt->timeout_s ? opt->timeout_s : 30;
	s->min_rate = opt->min_rate ? opt->min_rate : 4096;
	s->vault = opt->vault;
	s->jurisdiction = opt->jurisdiction;
	s->analysis = opt->analysis;
	s->conveyer = opt->conveyer;
	pthread_mutex_init(&s->mu, NULL);
	if (pool_start(s, opt->workers ? opt->workers : 8) < 0) {
		pool_stop(s);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return VT_EIO;
	}
	s->d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO,
	    (uint16_t)opt->port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
	    (unsigned)(opt->threads ? opt->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)(opt->max_conns ? opt->max_conns : 8192), MHD_OPTION_CONNECTION_TIMEOUT,
	    s->timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
	    /* MHD clears a connection's pool for every request: keep it
	     * small (requests are headers and at most a 64 KiB entry, which
	     * arrives in pieces; answers are separate buffers). */
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024), MHD_OPTION_NOTIFY_COMPLETED,
	    completed, s, MHD_OPTION_END);
	if (!s->d) {
		pool_stop(s);
		pthread_mutex_destroy(&s->mu);
		free(s);
		return vt_error_set(VT_EIO, "cannot listen on %s:%u (port in use?)", opt->host,
				    opt->port);
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : opt->port;
	*out = s;
	return 0;
}

unsigned vt_server_port(const vt_server *s)
{
	return s->port;
}

void vt_server_quiesce(vt_server *s)
{
	if (s && s->d)
		MHD_quiesce_daemon(s->d);
}

unsigned vt_server_drain(vt_server *s, unsigned timeout_ms)
{
	unsigned left = 0;
	for (unsigned waited = 0; s; waited += 10) {
		pthread_mutex_lock(&s->mu);
		left = s->outstanding;
		pthread_mutex_unlock(&s->mu);
		if (left == 0 || waited >= timeout_ms)
			break;
		usleep(10000);
	}
	return left;
}

void vt_server_free(vt_server *s)
{
	if (!s)
		return;
	/* Deferred work still queued runs (and resumes its connection)
	 * before the daemon goes. */
	pool_stop(s);
	if (s->d)
		MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
