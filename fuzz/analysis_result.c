/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target: the strict reader of an analysis report (what a confined
 * analysis child answers). Whatever it accepts must write back to the
 * same text, and that text must be read again to the same result.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vitrine/analysis.h"
#include "vitrine/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_analysis_result r1, r2;
	vt_buf j1, j2;

	vt_buf_init(&j1, VT_ANALYSIS_RESULT_JSON_MAX);
	vt_buf_init(&j2, VT_ANALYSIS_RESULT_JSON_MAX);
	if (vt_analysis_result_parse(&r1, (const char *)data, size) == 0) {
		if (vt_analysis_result_json(&j1, &r1, NULL) < 0 ||
		    vt_analysis_result_parse(&r2, (const char *)j1.ptr, j1.len) < 0) {
			fprintf(stderr, "accepted but not written back: %s\n", vt_error_last());
			abort();
		}
		if (vt_analysis_result_json(&j2, &r2, NULL) < 0 || j1.len != j2.len ||
		    memcmp(j1.ptr, j2.ptr, j1.len) != 0) {
			fprintf(stderr, "round trip differs:\n%s\n%s\n", vt_buf_cstr(&j1),
				vt_buf_cstr(&j2));
			abort();
		}
		vt_analysis_result_dispose(&r2);
	}
	vt_analysis_result_dispose(&r1);
	vt_buf_dispose(&j1);
	vt_buf_dispose(&j2);
	return 0;
}
