/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP routes of vitrine: method and path to a route, or a refusal. */
#ifndef VITRINE_ROUTER_H
#define VITRINE_ROUTER_H

#include <stddef.h>

#include "vitrine/tile.h"

typedef enum {
	VT_ROUTE_CHECKPOINT, /* GET /log/checkpoint */
	VT_ROUTE_TILE,       /* GET /log/tile/... (hash tile or entry bundle) */
	VT_ROUTE_ADD,        /* POST /log/add */
	VT_ROUTE_HEALTHZ,    /* GET /healthz */
	VT_ROUTE_METRICS,    /* GET /metrics */
	VT_ROUTE_FILES,      /* POST /api/v1/files (sample intake) */
	VT_ROUTE_LOOKUP,     /* POST /api/v1/lookup (bulk hash lookups) */
	VT_ROUTE_FILE_REPORT, /* GET /api/v1/files/{hash} (arg: the hash as sent) */
	VT_ROUTE_FILE_CONTENT, /* GET /api/v1/files/{sha256}/content (arg: the hash as sent) */
} vt_route_id;

typedef struct {
	vt_route_id id;
	vt_tile tile;         /* VT_ROUTE_TILE */
	const char *arg;      /* VT_ROUTE_FILE_*: the {hash} path segment, in url */
	size_t arg_len;       /* its length, never 0; it holds no '/' */
	const char *allow;    /* on 405: the Allow header value */
	const char *reason;   /* on refusal: why, for the JSON body */
} vt_route;

/*
 * Route a request. Returns 0 with *out filled, or the HTTP status to
 * answer with (400 malformed path, 404 unknown path, 405 wrong method,
 * with out->reason and, for 405, out->allow set). HEAD is accepted
 * wherever GET is. url is the path without the query string; out->arg
 * points into it. A path segment is routed, not checked: the server
 * answers a malformed hash in /api/v1/files/{hash} with its own 400.
 */
int vt_route_match(vt_route *out, const char *method, const char *url);

#endif
