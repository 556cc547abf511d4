/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Inside the HTTP server: the server and request state and the helpers
 * that route handlers in src/http/api_*.c share with server.c.
 */
#ifndef VITRINE_HTTP_SERVER_INT_H
#define VITRINE_HTTP_SERVER_INT_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vitrine/access.h"
#include "vitrine/buf.h"
#include "vitrine/index.h"
#include "vitrine/intake.h"
#include "vitrine/log.h"
#include "vitrine/lookup.h"
#include "vitrine/multipart.h"
#include "vitrine/router.h"
#include "vitrine/server.h"
#include "vitrine/storage.h"
#include "vitrine/token.h"
#include "vitrine/vault.h"

/* The phases of an upload's commit, as /metrics names them. */
enum {
	VT_HTTP_INTAKE_QUEUE,	 /* waiting for a worker */
	VT_HTTP_INTAKE_VAULT,	 /* the vault object made durable */
	VT_HTTP_INTAKE_INDEX,	 /* recorded in the index (waits included) */
	VT_HTTP_INTAKE_LOG,	 /* its entry in the log until published */
	VT_HTTP_INTAKE_SIGHTING, /* the published sighting indexed */
	VT_HTTP_INTAKE_PHASES
};

struct vt_server {
	struct MHD_Daemon *d;
	vt_log *log;
	vt_storage *st;
	const vt_tokens *tokens;
	unsigned port;
	vt_intake *intake;
	const char *intake_off;
	uint64_t max_upload;
	unsigned timeout_s;
	uint64_t min_rate;
	vt_vault *vault;
	const char *jurisdiction;
	struct vt_analysis_service *analysis;
	struct vt_conveyer_site *conveyer;
	pthread_mutex_t mu;
	unsigned outstanding; /* appends submitted and not yet completed */
	/* Under mu: uploads published and what they spent in each phase of
	 * their commit (GET /metrics: vitrine_intake_*). */
	uint64_t intake_uploads;
	double intake_seconds[VT_HTTP_INTAKE_PHASES];
	/* The pool that runs deferred work (vt_http_defer) off the event loop. */
	pthread_mutex_t pool_mu;
	pthread_cond_t pool_cv;
	struct deferred *pool_head, *pool_tail;
	bool pool_stop;
	pthread_t *pool_threads;
	unsigned pool_n;
};

typedef struct {
	vt_server *srv;
	struct MHD_Connection *conn;
	vt_route route;
	vt_buf body;
	bool too_big;
	double started;		 /* when the request's headers were in (vt_monotonic_seconds) */
	uint64_t received;	 /* body bytes so far */
	pthread_mutex_t mu;
	bool submitted, done, suspended;
	int err;
	uint64_t index;
	char why[256];
	/* POST /api/v1/files */
	vt_token tok;
	vt_multipart *mp;
	vt_intake_upload *up;
	int part; /* the field being read: one of FIELD_* */
	bool file_seen;
	int fail; /* a failure while the body streamed; the rest is discarded */
	unsigned fail_status;
	char fail_msg[512];
	char fname[VT_INDEX_NAME_MAX + 1]; /* the file part's filename */
	bool fname_bad;
	vt_buf name, tags, source;
	bool have_result, sighted;
	vt_intake_result res;
	double t_deferred, t_logged;	     /* CLOCK_MONOTONIC s: handed to a worker, to the log */
	double spent[VT_HTTP_INTAKE_PHASES]; /* seconds, for /metrics once published */
	/* POST /api/v1/lookup */
	vt_lookup_format lookup_fmt;
	/* GET /api/v1/files/{sha256}/content */
	vt_index_access acc;
	vt_hash content_id;
	vt_access_format content_fmt;
	unsigned acc_status;  /* 0: granted; else the refusal's status */
	const char *acc_code; /* the refusal's code */
	char acc_msg[256];
	/* Routes in api_*.c keep their own state here; mod_free (if set)
	 * frees it when the request completes. */
	void *mod;
	void (*mod_free)(void *mod);
} request;

/* ---- answers ---- */

/* A JSON string literal, with the escaping the /api/v1 reports use. */
void vt_http_json_string(vt_buf *b, const char *s);

/* Queue a copy of data as the answer. */
enum MHD_Result vt_http_send_buf(struct MHD_Connection *c, unsigned status, const void *data,
				 size_t len, const char *type, const char *cache);

/* Queue b as an application/json, no-store answer; b is emptied (the response owns it). */
enum MHD_Result vt_http_send_json(struct MHD_Connection *c, unsigned status, vt_buf *b);

/* An /api/v1 error response {"error": {"code", "message"}}, to add headers to and queue. */
struct MHD_Response *vt_http_api_error_response(const char *code, const char *message);

/* Queue an /api/v1 error, with one optional extra header. */
enum MHD_Result vt_http_api_error(struct MHD_Connection *c, unsigned status, const char *code,
				  const char *message, const char *hname, const char *hvalue);

/* The stable /api/v1 error code of an HTTP status ("bad_request", ...). */
const char *vt_http_api_code(unsigned status);

/* The HTTP status for a VT_E* code (404, 400, 413, 401, 503, else 500). */
unsigned vt_http_status_of(int err);

/* ---- who ---- */

/*
 * Authenticate an /api/v1 request into rq->tok. Returns true, or false
 * with the refusal (401, or 503 when the index cannot answer) queued in
 * *ret.
 */
bool vt_http_api_token(request *rq, enum MHD_Result *ret);

/* ---- log entries ---- */

/*
 * Hand an entry to the sequencer and, unless it was faster, suspend the
 * connection until it is published. *suspended tells which. MHD calls
 * the handler again after the resume: rq->done is then true, rq->err
 * is the outcome and rq->index the entry's index. VT_EBUSY when the
 * queue is full (answer 503), other errors of vt_log_submit().
 */
int vt_http_submit_entry(request *rq, const void *entry, size_t len, bool *suspended);

/*
 * Run fn(rq) on a worker thread with the connection suspended, so that
 * fsyncs, decryption and database writes do not hold up the event loop
 * (and every other connection on it). fn must end with exactly one of
 * vt_http_defer_submit() or vt_http_defer_finish(); MHD then calls the
 * handler again with rq->done true. Returns 0, or VT_EBUSY when the
 * server is stopping (nothing was suspended: answer 503).
 */
int vt_http_defer(request *rq, void (*fn)(request *rq));

/* From deferred work: log entry; the request resumes once it is published. */
void vt_http_defer_submit(request *rq, const void *entry, size_t len);

/* From deferred work: resume now with rq->err = err (message from vt_error_last()). */
void vt_http_defer_finish(request *rq, int err);

/* The c2sp.org/tlog-proof of entry index under the latest checkpoint. */
int vt_http_build_proof(vt_buf *out, vt_server *srv, uint64_t index);

/* ---- route modules ---- */

/*
 * The handlers of the analysis routes (api_analysis.c) and of the build
 * conveyer's routes (api_conveyer.c). Called like an MHD access handler
 * for their route ids: first == true on the first call of a request
 * (headers in, no body yet), then for each piece of body (*size > 0;
 * consume it and set *size = 0), then with *size == 0 at the end of the
 * body, and again after a resume.
 */
enum MHD_Result vt_api_analysis_handle(request *rq, bool first, const char *data, size_t *size);
enum MHD_Result vt_api_conveyer_handle(request *rq, bool first, const char *data, size_t *size);

#endif
