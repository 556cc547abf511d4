/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for entry bundles: whatever vt_bundle_parse() accepts must
 * be rebuilt byte for byte by vt_bundle_append() from the entries it
 * reported, and must be refused under any other entry count.
 */
#include "vitrine/buf.h"
#include "vitrine/error.h"
#include "vitrine/tile.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rebuild {
	vt_buf out;
	unsigned n;
};

static int add(const uint8_t *entry, size_t len, void *payload)
{
	struct rebuild *r = payload;
	r->n++;
	if (vt_bundle_append(&r->out, entry, len) != 0)
		abort(); /* an entry read from a bundle always fits back */
	return 0;
}

static int stop_at_first(const uint8_t *entry, size_t len, void *payload)
{
	return 7;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rebuild r = {.n = 0};
	int err;

	vt_buf_init(&r.out, size + 1);
	err = vt_bundle_parse(data, size, 0, add, &r);
	if (err == 0) {
		if (r.n < 1 || r.n > VT_TILE_WIDTH || r.out.len != size ||
		    memcmp(r.out.ptr, data, size) != 0)
			abort();
		if (vt_bundle_parse(data, size, r.n, NULL, NULL) != 0 ||
		    vt_bundle_parse(data, size, r.n + 1, NULL, NULL) == 0 ||
		    (r.n > 1 && vt_bundle_parse(data, size, r.n - 1, NULL, NULL) == 0) ||
		    vt_bundle_parse(data, size, r.n, stop_at_first, NULL) != 7)
			abort();
	} else if (err != VT_ECORRUPT || r.n != 0) {
		abort(); /* no entry may escape a corrupt bundle */
	}
	vt_buf_dispose(&r.out);
	return 0;
}
