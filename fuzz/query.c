/* SPDX-License-Identifier: Apache-2.0 */
/* libFuzzer target: the search language reader (vt_query_parse). */
#include "vitrine/analysis_query.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_query q;
	size_t pos;
	if (vt_query_parse(&q, &pos, (const char *)data, size) == 0) {
		/* A query that parses holds terms of sane shape. */
		if (q.n == 0 || q.n > VT_INDEX_QUERY_TERMS)
			__builtin_trap();
		for (size_t i = 0; i < q.n; i++)
			if (strlen(q.t[i].text) > VT_INDEX_QUERY_TEXT)
				__builtin_trap();
	} else if (pos > size + 1) {
		__builtin_trap();
	}
	return 0;
}
