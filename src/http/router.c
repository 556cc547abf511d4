/* SPDX-License-Identifier: Apache-2.0 */
/* Maps method and path to a route; pure, so the fuzzer can drive it. */
#include "vitrine/router.h"

#include <stdbool.h>
#include <string.h>

/* "*" stands for one non-empty path segment. */
static const struct {
	const char *pattern;
	const char *method;
	vt_route_id id;
} routes[] = {
    {"/log/checkpoint", "GET", VT_ROUTE_CHECKPOINT},
    {"/log/add", "POST", VT_ROUTE_ADD},
    {"/healthz", "GET", VT_ROUTE_HEALTHZ},
    {"/metrics", "GET", VT_ROUTE_METRICS},
    {"/api/v1/files", "POST", VT_ROUTE_FILES},
    {"/api/v1/lookup", "POST", VT_ROUTE_LOOKUP},
    {"/api/v1/files/*", "GET", VT_ROUTE_FILE_REPORT},
    {"/api/v1/files/*/content", "GET", VT_ROUTE_FILE_CONTENT},
    {"/api/v1/files/*/analyse", "POST", VT_ROUTE_FILE_ANALYSE},
    {"/api/v1/search", "GET", VT_ROUTE_SEARCH},
    {"/api/v1/analysis", "GET", VT_ROUTE_ANALYSIS},
    {"/api/v1/rulesets", "POST", VT_ROUTE_RULESETS},
    {"/api/v1/builds", "POST", VT_ROUTE_BUILDS},
    {"/api/v1/attestations/*", "GET", VT_ROUTE_ATTESTATION},
    {"/api/v1/artifacts/*", "GET", VT_ROUTE_ARTIFACT},
    {"/api/v1/sources/*", "GET", VT_ROUTE_SOURCE},
    {"/api/v1/releases", "GET", VT_ROUTE_RELEASES},
    {"/api/v1/releases/*/*", "GET", VT_ROUTE_RELEASE},
    {"/api/v1/releases/*/*", "POST", VT_ROUTE_RELEASE_PUBLISH},
    {"/api/v1/rebuilds", "POST", VT_ROUTE_REBUILDS},
};

static bool method_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0 ||
	       (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

static int refuse(vt_route *out, int status, const char *reason, const char *allow)
{
	out->reason = reason;
	out->allow = allow;
	return status;
}

/* Does url match pattern? Fills the "*" segments into out. */
static bool match(vt_route *out, const char *pattern, const char *url)
{
	const char *p = pattern, *u = url;

	out->nargs = 0;
	while (*p && *u) {
		if (*p == '*') {
			size_t n = strcspn(u, "/");
			if (n == 0 || out->nargs == VT_ROUTE_MAX_ARGS)
				return false;
			out->args[out->nargs] = u;
			out->args_len[out->nargs++] = n;
			p++;
			u += n;
		} else if (*p++ != *u++) {
			return false;
		}
	}
	return *p == 0 && *u == 0;
}

/* The Allow value for a path that some route matches with another method. */
static const char *allow_for(const char *url)
{
	bool get = false, post = false;
	vt_route r;

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!match(&r, routes[i].pattern, url))
			continue;
		if (strcmp(routes[i].method, "GET") == 0)
			get = true;
		else
			post = true;
	}
	return get && post ? "GET, HEAD, POST" : get ? "GET, HEAD" : post ? "POST" : NULL;
}

int vt_route_match(vt_route *out, const char *method, const char *url)
{
	const char *allow;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		if (!method_is(method, routes[i].method) || !match(out, routes[i].pattern, url))
			continue;
		out->id = routes[i].id;
		out->arg = out->args[0];
		out->arg_len = out->args_len[0];
		return 0;
	}
	memset(out, 0, sizeof(*out));
	if (strncmp(url, "/log/tile/", 10) == 0) {
		if (!method_is(method, "GET"))
			return refuse(out, 405, "method not allowed on this path", "GET, HEAD");
		/* vt_tile_parse_path expects the path below the log prefix. */
		if (vt_tile_parse_path(&out->tile, url + 5, strlen(url + 5)) < 0)
			return refuse(out, 400, "malformed tile path", NULL);
		out->id = VT_ROUTE_TILE;
		return 0;
	}
	if ((allow = allow_for(url)) != NULL)
		return refuse(out, 405, "method not allowed on this path", allow);
	return refuse(out, 404, "no such route", NULL);
}
