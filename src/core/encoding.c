/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Encodings. Base64 is OpenSSL's; since EVP_DecodeBlock accepts
 * whitespace and non-canonical input, decoding re-encodes the result and
 * requires it to equal the input, which rejects every non-canonical form.
 */
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

size_t vt_base64_encode(char *out, const void *data, size_t len)
{
	return (size_t)EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

int vt_base64_append(vt_buf *b, const void *data, size_t len)
{
	int err;
	if ((err = vt_buf_reserve(b, VT_BASE64_LEN(len))) < 0)
		return err;
	b->len += vt_base64_encode((char *)b->ptr + b->len, data, len);
	return 0;
}

int vt_base64_decode(vt_buf *out, const char *s, size_t len)
{
	size_t n, pad = 0;
	uint8_t *tmp = NULL;
	char *check = NULL;
	int err = 0, got;

	if (len % 4 != 0 || len > (size_t)1 << 30)
		return vt_error_set(VT_EINVAL, "invalid base64 (length %zu)", len);
	if (len == 0)
		return 0;
	if (s[len - 1] == '=')
		pad++;
	if (s[len - 2] == '=')
		pad++;
	n = len / 4 * 3;
	tmp = malloc(n + 1);
	check = malloc(len + 1);
	if (!tmp || !check) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	got = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (got < 0 || (size_t)got != n) {
		err = vt_error_set(VT_EINVAL, "invalid base64");
		goto done;
	}
	n -= pad;
	if (EVP_EncodeBlock((unsigned char *)check, tmp, (int)n) != (int)len ||
	    memcmp(check, s, len) != 0) {
		err = vt_error_set(VT_EINVAL, "non-canonical base64");
		goto done;
	}
	err = vt_buf_add(out, tmp, n);
done:
	free(tmp);
	free(check);
	return err;
}

int vt_base64_decode_exact(void *out, size_t outlen, const char *s, size_t len)
{
	vt_buf b;
	int err;

	if (len != VT_BASE64_LEN(outlen))
		return vt_error_set(VT_EINVAL, "base64 value must encode %zu bytes", outlen);
	vt_buf_init(&b, len / 4 * 3); /* room for any decoding, so a wrong size is EINVAL */
	if ((err = vt_base64_decode(&b, s, len)) == 0) {
		if (b.len != outlen)
			err = vt_error_set(VT_EINVAL, "base64 value must encode %zu bytes", outlen);
		else if (outlen > 0) /* b.ptr is NULL for nothing decoded */
			memcpy(out, b.ptr, outlen);
	}
	vt_buf_dispose(&b);
	return err;
}

void vt_hex_encode(char *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *p = data;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vt_hex_decode(void *out, size_t outlen, const char *s, size_t len)
{
	uint8_t *p = out;
	if (len != 2 * outlen)
		return vt_error_set(VT_EINVAL, "hex value must have %zu digits", 2 * outlen);
	for (size_t i = 0; i < outlen; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return vt_error_set(VT_EINVAL, "invalid hex digit");
		p[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int vt_parse_u64(uint64_t *out, const char *s, size_t len)
{
	uint64_t v = 0;
	if (len == 0)
		return vt_error_set(VT_EINVAL, "empty number");
	if (len > 1 && s[0] == '0')
		return vt_error_set(VT_EINVAL, "number has a leading zero");
	for (size_t i = 0; i < len; i++) {
		unsigned d;
		if (s[i] < '0' || s[i] > '9')
			return vt_error_set(VT_EINVAL, "not a decimal number");
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return vt_error_set(VT_EINVAL, "number out of range");
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}
