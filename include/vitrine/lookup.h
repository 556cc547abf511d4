/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bulk hash lookups (POST /api/v1/lookup): the request reader and the
 * answer writer, kept apart from HTTP and from the index so that a fuzzer
 * can drive the reader alone.
 *
 * A request is JSON, exactly {"hashes": ["<hex>", ...]} (a purpose-made
 * strict reader: one object, one key, an array of strings, no escapes),
 * or text with one hash a line. Each hash is SHA-256, SHA-1 or MD5 hex in
 * either case. docs/api.md has the wire format.
 */
#ifndef VITRINE_LOOKUP_H
#define VITRINE_LOOKUP_H

#include <stddef.h>

#include "vitrine/buf.h"
#include "vitrine/index.h"

/* Hashes in one request (as vt_index_lookup_many() takes at once). */
#define VT_LOOKUP_MAX VT_INDEX_LOOKUP_MAX
/* Bytes of one request body: room for VT_LOOKUP_MAX hashes with spacing. */
#define VT_LOOKUP_BODY_MAX ((size_t)4 << 20)

typedef enum {
	VT_LOOKUP_JSON, /* application/json */
	VT_LOOKUP_TEXT, /* text/plain: one hash a line */
} vt_lookup_format;

/* A parsed request: keys[0..n) in request order. Free with vt_lookup_dispose(). */
typedef struct {
	vt_index_key *keys;
	size_t n;
} vt_lookup_request;

/*
 * Read a request body of len bytes (need not be NUL-terminated). On
 * success out->keys holds every hash in order (NULL when n is 0).
 * VT_EINVAL for malformed input, the message naming the place: "hashes[i]"
 * (0-based) for a bad JSON item, "line N" (1-based) for a bad text line,
 * or the byte offset of a JSON syntax error. VT_ETOOBIG for more than
 * VT_LOOKUP_MAX hashes or a body over VT_LOOKUP_BODY_MAX. VT_ENOMEM.
 * out is zeroed on failure. Thread-safe.
 *
 * Text: lines end in "\n" or "\r\n"; empty lines are skipped; any other
 * character than the hex digits of one hash is an error. JSON: whitespace
 * as RFC 8259 allows; the object has the one key "hashes" and nothing
 * else; items are strings of hex digits (an escape is refused: no hash
 * needs one).
 */
int vt_lookup_parse(vt_lookup_request *out, const void *body, size_t len, vt_lookup_format fmt);

/* Free what a request holds (a zeroed request is fine). */
void vt_lookup_dispose(vt_lookup_request *req);

/*
 * Read one hash: 64 (SHA-256), 40 (SHA-1) or 32 (MD5) hex digits in
 * either case. As vt_index_key_parse(), without the index. VT_EINVAL.
 */
int vt_lookup_key_parse(vt_index_key *out, const char *hex, size_t len);

/*
 * Append the answer {"results": [...]} for keys[i] answered by hits[i],
 * in order: {"hash": "<hex as asked, lower case>", "known": true,
 * "sha256": "<hex>", "verdict": "<verdict>"|null} (null until analysed)
 * or {"hash": "...", "known": false}.
 * VT_ETOOBIG when out is too small, VT_ENOMEM; out may then hold a part.
 */
int vt_lookup_answer(vt_buf *out, const vt_index_key *keys, const vt_index_hit *hits, size_t n);

#endif
