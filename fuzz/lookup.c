/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the lookup request reader (POST /api/v1/lookup). The
 * first byte picks text ("T") or JSON (any other); the rest is the body. A refusal must be
 * one of the documented codes with nothing kept; an accepted request must
 * read back the same from its canonical JSON and text spellings, and its
 * answer must be written in full.
 */
#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/lookup.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Spell keys back as JSON or text and read them again: the same keys. */
static void round_trip(const vt_lookup_request *req, vt_lookup_format fmt)
{
	vt_lookup_request again;
	char hex[2 * VT_HASH_SIZE + 1];
	vt_buf b;

	vt_buf_init(&b, VT_LOOKUP_BODY_MAX);
	if (fmt == VT_LOOKUP_JSON)
		vt_buf_adds(&b, "{\"hashes\": [");
	for (size_t i = 0; i < req->n; i++) {
		vt_hex_encode(hex, req->keys[i].b, req->keys[i].len);
		if (fmt == VT_LOOKUP_JSON)
			vt_buf_printf(&b, "%s\"%s\"", i ? ", " : "", hex);
		else
			vt_buf_printf(&b, "%s\n", hex);
	}
	if (fmt == VT_LOOKUP_JSON)
		vt_buf_adds(&b, "]}");
	if (vt_lookup_parse(&again, b.ptr, b.len, fmt) != 0 || again.n != req->n ||
	    (req->n && memcmp(again.keys, req->keys, req->n * sizeof(*req->keys)) != 0))
		abort();
	vt_lookup_dispose(&again);
	vt_buf_dispose(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_lookup_format fmt;
	vt_lookup_request req;
	vt_index_hit *hits;
	vt_buf out;
	int err;

	if (size < 1)
		return 0;
	fmt = data[0] == 'T' ? VT_LOOKUP_TEXT : VT_LOOKUP_JSON;
	err = vt_lookup_parse(&req, data + 1, size - 1, fmt);
	if (err != 0) {
		if ((err != VT_EINVAL && err != VT_ETOOBIG && err != VT_ENOMEM) || req.keys ||
		    req.n || vt_error_last()[0] == '\0')
			abort();
		return 0;
	}
	if (req.n > VT_LOOKUP_MAX || (req.n == 0) != (req.keys == NULL))
		abort();
	for (size_t i = 0; i < req.n; i++)
		if (req.keys[i].len != 32 && req.keys[i].len != 20 && req.keys[i].len != 16)
			abort();
	round_trip(&req, VT_LOOKUP_JSON);
	round_trip(&req, VT_LOOKUP_TEXT);
	/* Every other key known, as itself (the sha256 field is any 32 bytes). */
	if ((hits = calloc(req.n + 1, sizeof(*hits))) == NULL)
		abort();
	for (size_t i = 0; i < req.n; i += 2)
		hits[i].found = true;
	vt_buf_init(&out, (size_t)32 << 20);
	if (vt_lookup_answer(&out, req.keys, hits, req.n) != 0 || out.len < 14 ||
	    memcmp(out.ptr, "{\"results\": [", 13) != 0 ||
	    memcmp(out.ptr + out.len - 3, "]}\n", 3) != 0)
		abort();
	vt_buf_dispose(&out);
	free(hits);
	vt_lookup_dispose(&req);
	return 0;
}
