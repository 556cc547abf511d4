/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the endpoint verification policy and the conveyer's
 * entries: a policy that parses has its thresholds within its keys; an
 * entry that parses formats back to the same bytes.
 */
#include "vitrine/buf.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/release.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	vt_endpoint_policy p;
	vt_build_entry be;
	vt_release_entry re;
	vt_rebuild_entry rb;
	vt_buf b;
	int err;

	err = vt_endpoint_policy_parse(&p, in, size);
	if (err == 0) {
		if (!p.builder || !p.log || p.witness_threshold > p.nwitnesses ||
		    p.rebuild_threshold > p.nrebuilders)
			abort();
		vt_endpoint_policy_dispose(&p);
	} else if ((err != VT_EINVAL && err != VT_ETOOBIG) || p.builder || p.log) {
		abort();
	}
	vt_buf_init(&b, 1 << 17);
	if (vt_build_entry_parse(&be, in, size) == 0) {
		if (vt_build_entry_format(&b, &be) != 0 || b.len != size || memcmp(b.ptr, in, size))
			abort();
		vt_build_entry_dispose(&be);
	}
	vt_buf_reset(&b);
	if (vt_release_entry_parse(&re, in, size) == 0 &&
	    (vt_release_entry_format(&b, &re) != 0 || b.len != size || memcmp(b.ptr, in, size)))
		abort();
	vt_buf_reset(&b);
	if (vt_rebuild_entry_parse(&rb, in, size) == 0 &&
	    (vt_rebuild_entry_format(&b, &rb) != 0 || b.len != size || memcmp(b.ptr, in, size)))
		abort();
	vt_buf_dispose(&b);
	return 0;
}
