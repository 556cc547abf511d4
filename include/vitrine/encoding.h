/* SPDX-License-Identifier: Apache-2.0 */
/* Base64, hex, strict decimal parsing and explicit big-endian helpers. */
#ifndef VITRINE_ENCODING_H
#define VITRINE_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

/* Length of the padded standard base64 encoding of n bytes (no NUL). */
#define VT_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/*
 * Encode len bytes as padded standard base64 into out, which must hold
 * VT_BASE64_LEN(len) + 1 bytes; a NUL is written. Returns the length.
 */
size_t vt_base64_encode(char *out, const void *data, size_t len);

/* Append the base64 encoding of data to b. VT_ETOOBIG, VT_ENOMEM. */
int vt_base64_append(vt_buf *b, const void *data, size_t len);

/*
 * Decode canonical padded standard base64 (RFC 4648 section 4): no
 * whitespace, correct padding, zero unused bits. Appends to out.
 * VT_EINVAL on anything else.
 */
int vt_base64_decode(vt_buf *out, const char *s, size_t len);

/* Decode base64 that must yield exactly outlen bytes. VT_EINVAL otherwise. */
int vt_base64_decode_exact(void *out, size_t outlen, const char *s, size_t len);

/* Lower-case hex of len bytes into out (2*len + 1 bytes, NUL-terminated). */
void vt_hex_encode(char *out, const void *data, size_t len);

/* Decode exactly 2*outlen hex digits (either case). VT_EINVAL otherwise. */
int vt_hex_decode(void *out, size_t outlen, const char *s, size_t len);

/*
 * Parse a decimal uint64 in canonical form: digits only, no sign, no
 * leading zero unless the value is 0, no overflow. VT_EINVAL otherwise.
 */
int vt_parse_u64(uint64_t *out, const char *s, size_t len);

static inline void vt_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t vt_get_be16(const uint8_t *p)
{
	return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline void vt_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t vt_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void vt_put_be64(uint8_t *p, uint64_t v)
{
	vt_put_be32(p, (uint32_t)(v >> 32));
	vt_put_be32(p + 4, (uint32_t)v);
}

static inline uint64_t vt_get_be64(const uint8_t *p)
{
	return (uint64_t)vt_get_be32(p) << 32 | vt_get_be32(p + 4);
}

#endif
