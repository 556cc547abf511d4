/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the HTTP router: any method and path must get a route
 * or one of the documented refusals, and a tile route must name exactly
 * the path it came from.
 */
#include "vitrine/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
	char method[16], *url;
	char path[VT_TILE_PATH_MAX];
	vt_route r;
	int status;

	if (size < 1)
		return 0;
	snprintf(method, sizeof(method), "%s", methods[data[0] % 6]);
	/* The server hands the router a NUL-terminated path. */
	if ((url = malloc(size)) == NULL)
		return 0;
	memcpy(url, data + 1, size - 1);
	url[size - 1] = '\0';
	status = vt_route_match(&r, method, url);
	if (status != 0 && status != 400 && status != 404 && status != 405)
		abort();
	if (status != 0 && r.reason == NULL)
		abort();
	if (status == 405 && r.allow == NULL)
		abort();
	/* Each {...} is a non-empty segment of the path itself. */
	for (unsigned i = 0; status == 0 && i < r.nargs; i++)
		if (r.args[i] < url || r.args_len[i] == 0 ||
		    r.args[i] + r.args_len[i] > url + strlen(url) ||
		    memchr(r.args[i], '/', r.args_len[i]) != NULL)
			abort();
	if (status == 0 && r.nargs > 0 && (r.arg != r.args[0] || r.arg_len != r.args_len[0]))
		abort();
	if (status == 0 && r.id == VT_ROUTE_TILE) {
		int n = vt_tile_path(path, sizeof(path), &r.tile);
		if (n < 0 || strncmp(url, "/log/", 5) != 0 || strcmp(url + 5, path) != 0)
			abort();
	}
	free(url);
	return 0;
}
