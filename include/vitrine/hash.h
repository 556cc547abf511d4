/* SPDX-License-Identifier: Apache-2.0 */
/* SHA-256 (OpenSSL) as a small value type. */
#ifndef VITRINE_HASH_H
#define VITRINE_HASH_H

#include <stddef.h>
#include <stdint.h>

#define VT_HASH_SIZE 32

/* A SHA-256 digest. Plain value: copy it freely. */
typedef struct {
	uint8_t b[VT_HASH_SIZE];
} vt_hash;

/*
 * One-shot SHA-256 of len bytes. Uses a per-thread context, so it is
 * thread-safe and cheap to call in a loop. Returns 0, or VT_ENOMEM when
 * OpenSSL cannot be set up.
 */
int vt_sha256(vt_hash *out, const void *data, size_t len);

/* SHA-256 over the concatenation of parts (n parts). Same rules. */
int vt_sha256_v(vt_hash *out, const void *const *parts, const size_t *lens, size_t n);

/* Incremental SHA-256 for streams. */
typedef struct vt_sha256_ctx vt_sha256_ctx;

/* Allocate and start a context. VT_ENOMEM. */
int vt_sha256_new(vt_sha256_ctx **out);
/* Feed bytes. */
int vt_sha256_update(vt_sha256_ctx *c, const void *data, size_t len);
/* Write the digest; the context restarts and can be reused. */
int vt_sha256_final(vt_hash *out, vt_sha256_ctx *c);
/* Free a context (NULL is fine). */
void vt_sha256_free(vt_sha256_ctx *c);

/* Constant-time comparison of two hashes: 1 when equal, else 0. */
int vt_hash_equal(const vt_hash *a, const vt_hash *b);

#endif
