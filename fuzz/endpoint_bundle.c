/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the endpoint bundle: whatever vt_endpoint_bundle_parse()
 * accepts must format back to the same bytes, and every section must lie
 * inside the input.
 */
#include "vitrine/buf.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *p, size_t n, const uint8_t *data, size_t size)
{
	if (n && (p < (const char *)data || p + n > (const char *)data + size))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_endpoint_bundle b;
	vt_buf out;
	int err = vt_endpoint_bundle_parse(&b, (const char *)data, size);

	if (err != 0) {
		if (err != VT_EINVAL && err != VT_ETOOBIG)
			abort();
		return 0;
	}
	inside(b.envelope, b.envelope_len, data, size);
	inside(b.recipe, b.recipe_len, data, size);
	inside(b.entry, b.entry_len, data, size);
	inside(b.proof, b.proof_len, data, size);
	for (size_t i = 0; i < b.nrebuilds; i++) {
		inside(b.rebuilds[i], b.rebuild_lens[i], data, size);
		inside(b.rebuild_entries[i], b.rebuild_entry_lens[i], data, size);
		inside(b.rebuild_proofs[i], b.rebuild_proof_lens[i], data, size);
	}
	vt_buf_init(&out, size + 1);
	if (vt_endpoint_bundle_format(&out, &b) != 0 || out.len != size ||
	    memcmp(out.ptr, data, size) != 0)
		abort();
	vt_buf_dispose(&out);
	return 0;
}
