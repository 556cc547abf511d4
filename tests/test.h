/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal test harness: each test file is one program with a list of
 * cases; a failed check prints file:line and the expression, the case
 * goes on, and main returns non-zero when any check failed.
 */
#ifndef VT_TEST_H
#define VT_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitrine/error.h"

static int vt_test_failures;
static int vt_test_checks;

#define CHECK(expr)                                                                  \
	do {                                                                         \
		vt_test_checks++;                                                    \
		if (!(expr)) {                                                       \
			vt_test_failures++;                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n", \
				__FILE__, __LINE__, #expr, vt_error_last());         \
		}                                                                    \
	} while (0)

/* Check that a call returns the expected code. */
#define CHECK_CODE(call, want)                                                       \
	do {                                                                         \
		int vt_test_got = (call);                                            \
		vt_test_checks++;                                                    \
		if (vt_test_got != (want)) {                                         \
			vt_test_failures++;                                          \
			fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n",     \
				__FILE__, __LINE__, #call, vt_test_got, (int)(want),  \
				vt_error_last());                                    \
		}                                                                    \
	} while (0)

#define CHECK_OK(call) CHECK_CODE(call, 0)

#define RUN(fn)                                                                      \
	do {                                                                         \
		int before = vt_test_failures;                                       \
		fn();                                                                \
		printf("%s %s\n", vt_test_failures == before ? "ok  " : "FAIL", #fn); \
	} while (0)

#define TEST_DONE()                                                                  \
	(printf("%d checks, %d failed\n", vt_test_checks, vt_test_failures),        \
	 vt_test_failures ? 1 : 0)

/* Path of a file under tests/data (from VT_TEST_DATA). Static buffer. */
static inline const char *test_data_path(const char *rel)
{
	static char path[4096];
	const char *dir = getenv("VT_TEST_DATA");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/data", rel);
	return path;
}

#endif
