/* SPDX-License-Identifier: Apache-2.0 */
/* The HTTP routes of vitrine: method and path to a route, or a refusal. */
#ifndef VITRINE_ROUTER_H
#define VITRINE_ROUTER_H

#include <stddef.h>

#include "vitrine/tile.h"

/* Where a route's handler lives is in the comment (src/http/...). */
typedef enum {
	VT_ROUTE_CHECKPOINT,   /* GET /log/checkpoint (server.c) */
	VT_ROUTE_TILE,	       /* GET /log/tile/... (hash tile or entry bundle) */
	VT_ROUTE_ADD,	       /* POST /log/add */
	VT_ROUTE_HEALTHZ,      /* GET /healthz */
	VT_ROUTE_METRICS,      /* GET /metrics */
	VT_ROUTE_FILES,	       /* POST /api/v1/files (sample intake) */
	VT_ROUTE_LOOKUP,       /* POST /api/v1/lookup (bulk hash lookups) */
	VT_ROUTE_FILE_REPORT,  /* GET /api/v1/files/{hash} */
	VT_ROUTE_FILE_CONTENT, /* GET /api/v1/files/{sha256}/content */
	/* analysis (api_analysis.c) */
	VT_ROUTE_FILE_ANALYSE, /* POST /api/v1/files/{sha256}/analyse */
	VT_ROUTE_SEARCH,       /* GET /api/v1/search */
	VT_ROUTE_ANALYSIS,     /* GET /api/v1/analysis (rules, queue, retro-scan progress) */
	VT_ROUTE_RULESETS,     /* POST /api/v1/rulesets (install a ruleset) */
	/* the build conveyer (api_conveyer.c) */
	VT_ROUTE_BUILDS,	  /* POST /api/v1/builds (store a build, log its entry) */
	VT_ROUTE_ATTESTATION,	  /* GET /api/v1/attestations/{sha256} */
	VT_ROUTE_ARTIFACT,	  /* GET /api/v1/artifacts/{sha256} */
	VT_ROUTE_SOURCE,	  /* GET /api/v1/sources/{sha256} */
	VT_ROUTE_RELEASES,	  /* GET /api/v1/releases */
	VT_ROUTE_RELEASE,	  /* GET /api/v1/releases/{name}/{version} */
	VT_ROUTE_RELEASE_PUBLISH, /* POST /api/v1/releases/{name}/{version} */
	VT_ROUTE_REBUILDS,	  /* POST /api/v1/rebuilds (a rebuilder's statement) */
} vt_route_id;

/* Most "{...}" segments a route has. */
#define VT_ROUTE_MAX_ARGS 2

typedef struct {
	vt_route_id id;
	vt_tile tile; /* VT_ROUTE_TILE */
	/* The route's "{...}" segments in order, pointing into url: never
	 * empty, never holding '/'. Checked by the handler, not here. */
	const char *arg; /* the first (also args[0]) */
	size_t arg_len;
	const char *args[VT_ROUTE_MAX_ARGS];
	size_t args_len[VT_ROUTE_MAX_ARGS];
	unsigned nargs;
	const char *allow;  /* on 405: the Allow header value */
	const char *reason; /* on refusal: why, for the JSON body */
} vt_route;

/*
 * Route a request. Returns 0 with *out filled, or the HTTP status to
 * answer with (400 malformed path, 404 unknown path, 405 wrong method,
 * with out->reason and, for 405, out->allow set). HEAD is accepted
 * wherever GET is. url is the path without the query string.
 */
int vt_route_match(vt_route *out, const char *method, const char *url);

#endif
