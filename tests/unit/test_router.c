/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the HTTP router: every route, its {...} segments, and each refusal. */
#include "test.h"
#include "vitrine/router.h"

#include <string.h>

static void test_routes(void)
{
	static const struct {
		const char *method, *url;
		vt_route_id id;
		const char *arg0, *arg1;
	} ok[] = {
		{"GET", "/log/checkpoint", VT_ROUTE_CHECKPOINT, NULL, NULL},
		{"HEAD", "/log/checkpoint", VT_ROUTE_CHECKPOINT, NULL, NULL},
		{"POST", "/log/add", VT_ROUTE_ADD, NULL, NULL},
		{"GET", "/healthz", VT_ROUTE_HEALTHZ, NULL, NULL},
		{"GET", "/metrics", VT_ROUTE_METRICS, NULL, NULL},
		{"POST", "/api/v1/files", VT_ROUTE_FILES, NULL, NULL},
		{"POST", "/api/v1/lookup", VT_ROUTE_LOOKUP, NULL, NULL},
		{"GET", "/api/v1/files/abc", VT_ROUTE_FILE_REPORT, "abc", NULL},
		{"GET", "/api/v1/files/abc/content", VT_ROUTE_FILE_CONTENT, "abc", NULL},
		{"POST", "/api/v1/files/abc/analyse", VT_ROUTE_FILE_ANALYSE, "abc", NULL},
		{"GET", "/api/v1/search", VT_ROUTE_SEARCH, NULL, NULL},
		{"GET", "/api/v1/analysis", VT_ROUTE_ANALYSIS, NULL, NULL},
		{"POST", "/api/v1/rulesets", VT_ROUTE_RULESETS, NULL, NULL},
		{"POST", "/api/v1/builds", VT_ROUTE_BUILDS, NULL, NULL},
		{"GET", "/api/v1/attestations/x1", VT_ROUTE_ATTESTATION, "x1", NULL},
		{"GET", "/api/v1/artifacts/x2", VT_ROUTE_ARTIFACT, "x2", NULL},
		{"GET", "/api/v1/sources/x3", VT_ROUTE_SOURCE, "x3", NULL},
		{"GET", "/api/v1/releases", VT_ROUTE_RELEASES, NULL, NULL},
		{"GET", "/api/v1/releases/hello/1.0", VT_ROUTE_RELEASE, "hello", "1.0"},
		{"POST", "/api/v1/releases/hello/1.0", VT_ROUTE_RELEASE_PUBLISH, "hello", "1.0"},
		{"POST", "/api/v1/rebuilds", VT_ROUTE_REBUILDS, NULL, NULL},
		{"GET", "/log/tile/0/000", VT_ROUTE_TILE, NULL, NULL},
		{"GET", "/log/tile/entries/x001/234.p/5", VT_ROUTE_TILE, NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		vt_route r;
		int st = vt_route_match(&r, ok[i].method, ok[i].url);
		CHECK(st == 0);
		if (st != 0) {
			fprintf(stderr, "  %s %s: %d\n", ok[i].method, ok[i].url, st);
			continue;
		}
		CHECK(r.id == ok[i].id);
		CHECK(r.nargs == (ok[i].arg1 ? 2u : ok[i].arg0 ? 1u : 0u));
		if (ok[i].arg0)
			CHECK(r.arg == r.args[0] && r.arg_len == strlen(ok[i].arg0) &&
			      memcmp(r.arg, ok[i].arg0, r.arg_len) == 0);
		if (ok[i].arg1)
			CHECK(r.args_len[1] == strlen(ok[i].arg1) &&
			      memcmp(r.args[1], ok[i].arg1, r.args_len[1]) == 0);
	}
}

static void test_refusals(void)
{
	static const struct {
		const char *method, *url;
		int status;
		const char *allow;
	} bad[] = {
		{"POST", "/log/checkpoint", 405, "GET, HEAD"},
		{"GET", "/log/add", 405, "POST"},
		{"DELETE", "/api/v1/files/abc", 405, "GET, HEAD"},
		{"PUT", "/api/v1/releases/a/b", 405, "GET, HEAD, POST"},
		{"GET", "/api/v1/files/abc/analyse", 405, "POST"},
		{"GET", "/api/v1/files/", 404, NULL},
		{"GET", "/api/v1/files//content", 404, NULL},
		{"GET", "/api/v1/files/abc/content/more", 404, NULL},
		{"GET", "/api/v1/files/abc/other", 404, NULL},
		{"GET", "/api/v1/releases/a", 404, NULL},
		{"GET", "/api/v1/releases/a/b/c", 404, NULL},
		{"GET", "/api/v1/nothing", 404, NULL},
		{"GET", "/", 404, NULL},
		{"GET", "", 404, NULL},
		{"GET", "/log/tile/0/1", 400, NULL},
		{"POST", "/log/tile/0/000", 405, "GET, HEAD"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vt_route r;
		int st = vt_route_match(&r, bad[i].method, bad[i].url);
		CHECK(st == bad[i].status);
		if (st != bad[i].status)
			fprintf(stderr, "  %s %s: %d, want %d\n", bad[i].method, bad[i].url, st,
				bad[i].status);
		CHECK(r.reason != NULL);
		if (bad[i].allow)
			CHECK(r.allow && strcmp(r.allow, bad[i].allow) == 0);
	}
}

int main(void)
{
	RUN(test_routes);
	RUN(test_refusals);
	return TEST_DONE();
}
