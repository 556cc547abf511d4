/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP routes over libmicrohttpd. Reads are answered at once from the
 * storage; POST /log/add hands the entry to the sequencer and suspends the
 * connection until the checkpoint that includes it is published, then
 * answers with a c2sp.org/tlog-proof. A full queue is answered with 503
 * and Retry-After, so memory stays bounded under any load.
 */
#include "vitrine/server.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/proof.h"
#include "vitrine/reader.h"
#include "vitrine/router.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IMMUTABLE "public, max-age=31536000, immutable"

struct vt_server {
	struct MHD_Daemon *d;
	vt_log *log;
	vt_storage *st;
	const vt_tokens *tokens;
	unsigned port;
	pthread_mutex_t mu;
	unsigned outstanding; /* appends submitted and not yet completed */
};

typedef struct {
	vt_server *srv;
	struct MHD_Connection *conn;
	vt_route route;
	vt_buf body;
	bool too_big;
	pthread_mutex_t mu;
	bool submitted, done, suspended;
	int err;
	uint64_t index;
	char why[256];
} request;

/* ---- responses -------------------------------------------------------- */

static void json_string(vt_buf *b, const char *s)
{
	vt_buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			vt_buf_printf(b, "\\%c", c);
		else if (c < 0x20)
			vt_buf_printf(b, "\\u%04x", c);
		else
			vt_buf_addc(b, c);
	}
	vt_buf_addc(b, '"');
}

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const void *data,
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
	json_string(&b, error);
	vt_buf_adds(&b, ", \"detail\": ");
	json_string(&b, detail ? detail : "");
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

static unsigned status_of(int err)
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

static int fetch_storage(vt_buf *out, const char *path, void *payload)
{
	return vt_storage_get(payload, out, path);
}

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
		if ((err = vt_tlog_reader_new(&r, size, fetch_storage, st)) < 0)
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
		ret = send_buf(rq->conn, 200, b.ptr, b.len, "application/octet-stream", IMMUTABLE);
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
		ret = send_buf(rq->conn, 200, b.ptr, b.len, "text/plain; charset=utf-8",
			       "no-cache");
	vt_buf_dispose(&b);
	return ret;
}

static enum MHD_Result serve_metrics(request *rq)
{
	static const char *const le[8] = {"0.001", "0.002", "0.005", "0.01",
					  "0.02",  "0.05",  "0.1",   "0.25"};
	vt_log_stats_t s;
	enum MHD_Result ret;
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
		      "# HELP vitrine_log_integrate_seconds Time hashing and staging tiles.\n"
		      "# TYPE vitrine_log_integrate_seconds counter\n"
		      "vitrine_log_integrate_seconds_total %.6f\n"
		      "# HELP vitrine_log_publish_seconds Time signing checkpoints.\n"
		      "# TYPE vitrine_log_publish_seconds counter\n"
		      "vitrine_log_publish_seconds_total %.6f\n"
		      "# HELP vitrine_log_fsync_seconds Time committing groups: objects and checkpoint durable.\n"
		      "# TYPE vitrine_log_fsync_seconds histogram\n",
		      (unsigned long long)s.size, (unsigned long long)s.appends,
		      (unsigned long long)s.pending, (unsigned long long)s.rejected_busy,
		      (unsigned long long)s.group_errors, s.batch_sum,
		      (unsigned long long)s.groups, s.integrate_seconds, s.publish_seconds);
	for (int i = 0; i < 8; i++)
		vt_buf_printf(&b, "vitrine_log_fsync_seconds_bucket{le=\"%s\"} %llu\n", le[i],
			      (unsigned long long)s.commit_le[i]);
	vt_buf_printf(&b,
		      "vitrine_log_fsync_seconds_bucket{le=\"+Inf\"} %llu\n"
		      "vitrine_log_fsync_seconds_sum %.6f\nvitrine_log_fsync_seconds_count %llu\n",
		      (unsigned long long)s.groups, s.commit_seconds, (unsigned long long)s.groups);
	ret = send_buf(rq->conn, 200, b.ptr, b.len, "text/plain; version=0.0.4; charset=utf-8",
		       "no-store");
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

static enum MHD_Result answer_add(request *rq)
{
	vt_hash proof[VT_MERKLE_MAX_PROOF];
	vt_tlog_reader *r = NULL;
	vt_buf cp, out;
	uint64_t size;
	size_t n;
	enum MHD_Result ret;
	int err;

	if (rq->err < 0)
		return send_error(rq->conn, status_of(rq->err) == 503 ? 503 : 500,
				  "append failed", rq->why, "Retry-After", "1");
	vt_buf_init(&cp, 1 << 20);
	vt_buf_init(&out, 2 << 20);
	/* The latest checkpoint includes the entry: it is at least as new. */
	if ((err = vt_log_checkpoint(rq->srv->log, &cp, &size)) < 0 ||
	    (err = thread_reader(&r, rq->srv->st, size)) < 0 ||
	    (err = vt_tlog_reader_prove_inclusion(proof, &n, r, rq->index)) < 0 ||
	    (err = vt_tlog_proof_format(&out, rq->index, proof, n, (const char *)cp.ptr, cp.len)) < 0)
		ret = send_error(rq->conn, 500, "cannot build the proof", vt_error_last(), NULL, NULL);
	else
		ret = send_buf(rq->conn, 200, out.ptr, out.len, "text/plain; charset=utf-8",
			       "no-store");
	vt_buf_dispose(&cp);
	vt_buf_dispose(&out);
	return ret;
}

static bool authorized(request *rq)
{
	const char *h = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
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
	pthread_mutex_lock(&rq->mu);
	err = vt_log_submit(rq->srv->log, rq->body.ptr, rq->body.len, add_done, rq);
	if (err == 0) {
		rq->submitted = true;
		pthread_mutex_lock(&rq->srv->mu);
		rq->srv->outstanding++;
		pthread_mutex_unlock(&rq->srv->mu);
		/* Unless the sequencer was faster, wait for it suspended. From
		 * then on only add_done() touches the request until MHD calls
		 * this handler again, after the resume. */
		if (!rq->done) {
			rq->suspended = true;
			suspended = true;
			MHD_suspend_connection(rq->conn);
		}
	}
	pthread_mutex_unlock(&rq->mu);
	if (err == VT_EBUSY)
		return send_error(rq->conn, 503, "busy", vt_error_last(), "Retry-After", "1");
	if (err < 0)
		return send_error(rq->conn, status_of(err), "append refused", vt_error_last(),
				  NULL, NULL);
	return suspended ? MHD_YES : answer_add(rq);
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
		vt_buf_init(&rq->body, VT_ENTRY_MAX);
		pthread_mutex_init(&rq->mu, NULL);
		*con_cls = rq;
		status = vt_route_match(&rq->route, method, url);
		if (status == 405)
			return send_error(c, 405, "method not allowed", rq->route.reason, "Allow",
					  rq->route.allow);
		if (status != 0)
			return send_error(c, (unsigned)status,
					  status == 404 ? "not found" : "bad request",
					  rq->route.reason, NULL, NULL);
		if (rq->route.id != VT_ROUTE_ADD)
			goto dispatch;
		if (!authorized(rq))
			return send_error(c, 401, "unauthorized",
					  "send Authorization: Bearer <admin token>",
					  "WWW-Authenticate", "Bearer");
		len = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						  MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (len && strtoull(len, NULL, 10) > VT_ENTRY_MAX)
			return send_error(c, 413, "entry too large",
					  "an entry is at most 65535 bytes", NULL, NULL);
		return MHD_YES; /* wait for the body */
	}
dispatch:
	switch (rq->route.id) {
	case VT_ROUTE_ADD: return handle_add(rq, data, size);
	case VT_ROUTE_CHECKPOINT: return serve_checkpoint(rq);
	case VT_ROUTE_TILE: return serve_tile(rq);
	case VT_ROUTE_METRICS: return serve_metrics(rq);
	case VT_ROUTE_HEALTHZ:
		return send_buf(c, 200, "{\"status\": \"ok\"}\n", 17, "application/json",
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
	pthread_mutex_init(&s->mu, NULL);
	s->d = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			MHD_USE_TURBO,
		(uint16_t)opt->port, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR,
		(struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
		(unsigned)(opt->threads ? opt->threads : 2), MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(opt->max_conns ? opt->max_conns : 8192), MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)120, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
		/* MHD clears a connection's pool for every request: keep it
		 * small (requests are headers and at most a 64 KiB entry, which
		 * arrives in pieces; answers are separate buffers). */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
		MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
	if (!s->d) {
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
	if (s->d)
		MHD_stop_daemon(s->d);
	pthread_mutex_destroy(&s->mu);
	free(s);
}
