/* SPDX-License-Identifier: Apache-2.0 */
/* Maps method and path to a route; pure, so the fuzzer can drive it. */
#include "vitrine/router.h"

#include <string.h>

static int method_is(const char *method, const char *want)
{
	return strcmp(method, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

static int refuse(vt_route *out, int status, const char *reason, const char *allow)
{
	out->reason = reason;
	out->allow = allow;
	return status;
}

int vt_route_match(vt_route *out, const char *method, const char *url)
{
	static const struct {
		const char *path;
		const char *method;
		vt_route_id id;
	} fixed[] = {
		{"/log/checkpoint", "GET", VT_ROUTE_CHECKPOINT},
		{"/log/add", "POST", VT_ROUTE_ADD},
		{"/healthz", "GET", VT_ROUTE_HEALTHZ},
		{"/metrics", "GET", VT_ROUTE_METRICS},
		{"/api/v1/files", "POST", VT_ROUTE_FILES},
		{"/api/v1/lookup", "POST", VT_ROUTE_LOOKUP},
	};
	static const char files[] = "/api/v1/files/";

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (strcmp(url, fixed[i].path) != 0)
			continue;
		if (!method_is(method, fixed[i].method))
			return refuse(out, 405, "method not allowed on this path",
				      strcmp(fixed[i].method, "GET") == 0 ? "GET, HEAD" : "POST");
		out->id = fixed[i].id;
		return 0;
	}
	if (strncmp(url, "/log/tile/", 10) == 0) {
		if (!method_is(method, "GET"))
			return refuse(out, 405, "method not allowed on this path", "GET, HEAD");
		/* vt_tile_parse_path expects the path below the log prefix. */
		if (vt_tile_parse_path(&out->tile, url + 5, strlen(url + 5)) < 0)
			return refuse(out, 400, "malformed tile path", NULL);
		out->id = VT_ROUTE_TILE;
		return 0;
	}
	if (strncmp(url, files, sizeof(files) - 1) == 0) {
		const char *arg = url + sizeof(files) - 1;
		const char *slash = strchr(arg, '/');
		size_t len = slash ? (size_t)(slash - arg) : strlen(arg);

		if (len == 0 || (slash && strcmp(slash, "/content") != 0))
			return refuse(out, 404, "no such route", NULL);
		if (!method_is(method, "GET"))
			return refuse(out, 405, "method not allowed on this path", "GET, HEAD");
		out->id = slash ? VT_ROUTE_FILE_CONTENT : VT_ROUTE_FILE_REPORT;
		out->arg = arg;
		out->arg_len = len;
		return 0;
	}
	return refuse(out, 404, "no such route", NULL);
}
