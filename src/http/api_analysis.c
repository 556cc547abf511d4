/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The analysis routes of /api/v1 (see include/vitrine/router.h); the logic
 * is in src/analysis (service.c, ruleset.c, query.c).
 *
 * POST /api/v1/rulesets stages and compiles the set (or loads a verified
 * release's compiled rules) on a pool thread,
 * logs the `ruleset` entry and, once it is published, installs the set
 * and swaps it into the running service: a ruleset is never in force
 * without its entry. A search is checked on the event loop and run on a
 * pool thread (vt_http_defer), its cost bounded per page
 * (VT_SEARCH_SCAN_MAX rows, VT_SEARCH_MS_MAX ms). The other routes answer
 * from the index at once.
 */
#include "server_int.h"
#include "vitrine/analysis_query.h"
#include "vitrine/analysis_service.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	vt_buf body;
	vt_ruleset_stage *stage;
	bool too_big;
	/* GET /api/v1/search, run on a pool thread */
	vt_query query;
	const char *tenant; /* borrowed from rq->tok */
	char cursor[72];
	bool have_cursor;
	size_t limit;
	vt_buf out;
} an_req;

static void an_free(void *p)
{
	an_req *a = p;
	if (!a)
		return;
	vt_buf_dispose(&a->body);
	vt_buf_dispose(&a->out);
	vt_ruleset_stage_free(a->stage);
	free(a);
}

static bool role_in(const vt_token *t, const char *const *roles)
{
	for (; *roles; roles++)
		if (strcmp(t->role, *roles) == 0)
			return true;
	return false;
}

static enum MHD_Result fail(request *rq, int err)
{
	unsigned st = err == VT_EEXISTS ? 409 : vt_http_status_of(err);
	return vt_http_api_error(rq->conn, st,
				 err == VT_EEXISTS ? "conflict" : vt_http_api_code(st),
				 vt_error_last(), NULL, NULL);
}

/* On a pool thread: the search itself. */
static void run_search(request *rq)
{
	an_req *a = rq->mod;
	int err = vt_analysis_service_search(&a->out, rq->srv->analysis, &a->query, a->tenant,
					     a->have_cursor ? a->cursor : NULL, a->limit);
	vt_http_defer_finish(rq, err);
}

/* GET /api/v1/search?q=...&cursor=...&limit=...: checked here, run deferred. */
static enum MHD_Result search(request *rq)
{
	const char *q = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "q");
	const char *cursor = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "cursor");
	const char *lim = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "limit");
	an_req *a = rq->mod;
	unsigned long limit = 50;
	int err;

	if (vt_report_scope(&a->tenant, &rq->tok) < 0)
		return vt_http_api_error(rq->conn, 403, "forbidden", vt_error_last(), NULL, NULL);
	if (!q)
		return vt_http_api_error(rq->conn, 400, "bad_query", "give the query as ?q=...",
					 NULL, NULL);
	if (lim) {
		char *end;
		limit = strtoul(lim, &end, 10);
		if (*lim < '0' || *lim > '9' || *end || limit < 1 || limit > 1000)
			return vt_http_api_error(rq->conn, 400, "bad_request",
						 "limit is a number from 1 to 1000", NULL, NULL);
	}
	if (cursor && strlen(cursor) >= sizeof(a->cursor))
		return vt_http_api_error(rq->conn, 400, "bad_cursor", "not a cursor of this search",
					 NULL, NULL);
	if ((err = vt_query_parse(&a->query, NULL, q, strlen(q))) < 0)
		return vt_http_api_error(rq->conn, err == VT_ETOOBIG ? 413 : 400, "bad_query",
					 vt_error_last(), NULL, NULL);
	if (cursor) {
		snprintf(a->cursor, sizeof(a->cursor), "%s", cursor);
		a->have_cursor = true;
	}
	a->limit = limit;
	vt_buf_init(&a->out, (size_t)16 << 20);
	if (vt_http_defer(rq, run_search) < 0)
		return vt_http_api_error(rq->conn, 503, "unavailable", vt_error_last(),
					 "Retry-After", "1");
	return MHD_YES;
}

static enum MHD_Result search_done(request *rq)
{
	an_req *a = rq->mod;
	if (rq->err == VT_EINVAL)
		return vt_http_api_error(rq->conn, 400, "bad_cursor", rq->why, NULL, NULL);
	if (rq->err == VT_EBUSY)
		return vt_http_api_error(rq->conn, 503, "search_timeout", rq->why, "Retry-After",
					 "1");
	if (rq->err < 0)
		return vt_http_api_error(rq->conn, vt_http_status_of(rq->err),
					 vt_http_api_code(vt_http_status_of(rq->err)), rq->why,
					 NULL, NULL);
	return vt_http_send_json(rq->conn, 200, &a->out);
}

/* POST /api/v1/files/{sha256}/analyse: to the front of the queue. */
static enum MHD_Result analyse(request *rq)
{
	char hex[65];
	vt_hash h;
	vt_buf b;
	enum MHD_Result ret;
	int err;

	if (rq->route.arg_len != 64 || vt_hex_decode(h.b, VT_HASH_SIZE, rq->route.arg, 64) < 0)
		return vt_http_api_error(rq->conn, 400, "bad_hash",
					 "want the SHA-256 as 64 lower-case hex digits", NULL,
					 NULL);
	err = vt_index_analysis_requeue(vt_analysis_service_index(rq->srv->analysis), &h);
	if (err == VT_ENOTFOUND)
		return vt_http_api_error(rq->conn, 404, "not_found", "no such file", NULL, NULL);
	if (err < 0)
		return fail(rq, err);
	vt_analysis_service_kick(rq->srv->analysis);
	memcpy(hex, rq->route.arg, 64);
	hex[64] = 0;
	vt_buf_init(&b, 1024);
	vt_buf_printf(&b, "{\"sha256\": \"%s\", \"queued\": true}\n", hex);
	ret = vt_http_send_json(rq->conn, 202, &b);
	vt_buf_dispose(&b);
	return ret;
}

static enum MHD_Result status(request *rq)
{
	enum MHD_Result ret;
	vt_buf b;
	vt_buf_init(&b, 1 << 16);
	if (vt_analysis_service_status(&b, rq->srv->analysis) < 0)
		ret = fail(rq, VT_EIO);
	else
		ret = vt_http_send_json(rq->conn, 200, &b);
	vt_buf_dispose(&b);
	return ret;
}

/* On a pool thread: stage and compile, then log the entry. */
static void stage_ruleset(request *rq)
{
	an_req *a = rq->mod;
	vt_analysis_service *svc = rq->srv->analysis;
	vt_analysis_rules *cur;
	int err;

	err = vt_ruleset_stage_json(&a->stage, vt_analysis_service_dir(svc),
				    (const char *)a->body.ptr, a->body.len);
	if (err < 0) {
		vt_http_defer_finish(rq, err);
		return;
	}
	(void)cur;
	vt_http_defer_submit(rq, vt_ruleset_stage_entry(a->stage)->ptr,
			     vt_ruleset_stage_entry(a->stage)->len);
}

static enum MHD_Result ruleset_done(request *rq)
{
	an_req *a = rq->mod;
	vt_analysis_rules *r;
	enum MHD_Result ret;
	vt_buf b;
	int err;

	if (rq->err == VT_EEXISTS && !a->stage)
		return vt_http_api_error(rq->conn, 409, "conflict", rq->why, NULL, NULL);
	if (rq->err < 0) {
		unsigned st = a->stage ? 503 : vt_http_status_of(rq->err);
		return vt_http_api_error(rq->conn, st,
					 a->stage		? "unavailable"
					 : rq->err == VT_EINVAL ? "bad_ruleset"
								: vt_http_api_code(st),
					 rq->why, NULL, NULL);
	}
	/* Logged: now install, then swap. */
	if ((err = vt_ruleset_stage_commit(a->stage)) < 0)
		return vt_http_api_error(rq->conn, 500, "internal", vt_error_last(), NULL, NULL);
	r = vt_ruleset_stage_rules(a->stage);
	vt_analysis_service_set_rules(rq->srv->analysis, r);
	vt_buf_init(&b, 4096);
	/* The release name passed vt_ruleset_stage_compiled's check: no JSON escaping needed. */
	vt_buf_printf(&b,
		      "{\"ruleset\": \"%s\", \"rules\": %u, \"files\": %zu, \"log_index\": %llu, "
		      "\"release\": %s%s%s}\n",
		      vt_analysis_rules_digest(r), vt_analysis_rules_count(r),
		      vt_ruleset_stage_files(a->stage), (unsigned long long)rq->index,
		      vt_ruleset_stage_release(a->stage)[0] ? "\"" : "",
		      vt_ruleset_stage_release(a->stage)[0] ? vt_ruleset_stage_release(a->stage)
							    : "null",
		      vt_ruleset_stage_release(a->stage)[0] ? "\"" : "");
	ret = vt_http_send_json(rq->conn, 201, &b);
	vt_buf_dispose(&b);
	return ret;
}

enum MHD_Result vt_api_analysis_handle(request *rq, bool first, const char *data, size_t *size)
{
	static const char *const analysts[] = {"analyst", "admin", NULL};
	static const char *const readers[] = {"analyst", "auditor", "admin", NULL};
	an_req *a = rq->mod;
	enum MHD_Result ret;

	if (first) {
		if (!rq->srv->analysis)
			return vt_http_api_error(rq->conn, 503, "unavailable",
						 "this site does not run the analysis service",
						 NULL, NULL);
		if (!vt_http_api_token(rq, &ret))
			return ret;
		if ((rq->route.id == VT_ROUTE_FILE_ANALYSE && !role_in(&rq->tok, analysts)) ||
		    (rq->route.id == VT_ROUTE_ANALYSIS && !role_in(&rq->tok, readers)) ||
		    (rq->route.id == VT_ROUTE_RULESETS && strcmp(rq->tok.role, "admin") != 0))
			return vt_http_api_error(rq->conn, 403, "forbidden",
						 rq->route.id == VT_ROUTE_RULESETS
						     ? "installing a ruleset needs an admin token"
						     : "this needs an analyst or admin token",
						 NULL, NULL);
		if (!(a = calloc(1, sizeof(*a))))
			return MHD_NO;
		vt_buf_init(&a->body, VT_RULESET_BYTES_MAX + (1 << 20));
		rq->mod = a;
		rq->mod_free = an_free;
		return MHD_YES; /* MHD calls again once the body (if any) is in */
	}
	if (*size > 0) {
		if (rq->route.id == VT_ROUTE_RULESETS && !a->too_big &&
		    vt_buf_add(&a->body, data, *size) < 0)
			a->too_big = true;
		*size = 0;
		return MHD_YES;
	}
	if (rq->done)
		return rq->route.id == VT_ROUTE_SEARCH ? search_done(rq) : ruleset_done(rq);
	switch (rq->route.id) {
	case VT_ROUTE_SEARCH: return search(rq);
	case VT_ROUTE_ANALYSIS: return status(rq);
	case VT_ROUTE_FILE_ANALYSE: return analyse(rq);
	case VT_ROUTE_RULESETS:
		if (a->too_big)
			return vt_http_api_error(rq->conn, 413, "too_large",
						 "a ruleset body is at most 17 MiB", NULL, NULL);
		if (vt_http_defer(rq, stage_ruleset) < 0)
			return vt_http_api_error(rq->conn, 503, "unavailable", vt_error_last(),
						 "Retry-After", "1");
		return MHD_YES;
	default: return MHD_NO;
	}
}
