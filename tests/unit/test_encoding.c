/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for base64, hex, strict decimal, big-endian helpers and vt_buf. */
#include "test.h"
#include "vitrine/buf.h"
#include "vitrine/encoding.h"

#include <stdint.h>

/* RFC 4648 section 10. */
static const struct {
	const char *raw, *b64, *hex;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "66"},
    {"fo", "Zm8=", "666f"},
    {"foo", "Zm9v", "666f6f"},
    {"foob", "Zm9vYg==", "666f6f62"},
    {"fooba", "Zm9vYmE=", "666f6f6261"},
    {"foobar", "Zm9vYmFy", "666f6f626172"},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void test_base64_vectors(void)
{
	for (size_t i = 0; i < N(rfc4648); i++) {
		char out[64];
		vt_buf b;
		size_t rawlen = strlen(rfc4648[i].raw), b64len = strlen(rfc4648[i].b64);

		memset(out, 'Z', sizeof(out));
		CHECK(vt_base64_encode(out, rfc4648[i].raw, rawlen) == b64len);
		CHECK(strcmp(out, rfc4648[i].b64) == 0);
		CHECK(VT_BASE64_LEN(rawlen) == b64len);

		vt_buf_init(&b, 1024);
		CHECK_OK(vt_base64_append(&b, rfc4648[i].raw, rawlen));
		CHECK(b.len == b64len && strcmp(vt_buf_cstr(&b), rfc4648[i].b64) == 0);
		vt_buf_reset(&b);
		CHECK_OK(vt_base64_decode(&b, rfc4648[i].b64, b64len));
		CHECK(b.len == rawlen && memcmp(vt_buf_cstr(&b), rfc4648[i].raw, rawlen) == 0);
		vt_buf_dispose(&b);

		CHECK_OK(vt_base64_decode_exact(out, rawlen, rfc4648[i].b64, b64len));
		CHECK(memcmp(out, rfc4648[i].raw, rawlen) == 0);
	}
}

static void test_base64_binary(void)
{
	uint8_t all[256], back[256];
	char enc[VT_BASE64_LEN(256) + 1];
	vt_buf b;

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	/* Every length 0..256 of every byte value survives a round trip. */
	for (size_t len = 0; len <= 256; len++) {
		size_t n = vt_base64_encode(enc, all + 256 - len, len);
		CHECK(n == VT_BASE64_LEN(len));
		CHECK_OK(vt_base64_decode_exact(back, len, enc, n));
		CHECK(len == 0 || memcmp(back, all + 256 - len, len) == 0);
	}
	/* "+/" alphabet, not the URL one. */
	{
		static const uint8_t fb[] = {0xfb, 0xff, 0xbf};
		CHECK(vt_base64_encode(enc, fb, 3) == 4 && strcmp(enc, "+/+/") == 0);
	}
	/* Decoding appends after what is already there. */
	vt_buf_init(&b, 100);
	CHECK_OK(vt_buf_adds(&b, "x:"));
	CHECK_OK(vt_base64_decode(&b, "Zm9v", 4));
	CHECK(strcmp(vt_buf_cstr(&b), "x:foo") == 0);
	vt_buf_dispose(&b);
}

static void test_base64_rejects(void)
{
	/* clang-format off */
	static const char *const bad[] = {
		"Zg",        /* missing padding */
		"Zg=",       /* short padding */
		"Zm8",       /* missing padding */
		"Zh==",      /* unused bits set */
		"Zm9=",      /* unused bits set */
		"Zm+=",      /* unused bits set */
		"Zg==\n",    /* trailing newline */
		"Zm9v\n",    /* trailing newline */
		"Zm9v\r\n",  /* CRLF */
		"Zm9v    ",  /* trailing spaces, length a multiple of 4 */
		"    Zm9v",  /* leading spaces */
		" Zm9",      /* leading space */
		"Zm9 ",      /* trailing space */
		"Zm 9v   ",  /* inner space */
		"Zm\t9v   ", /* inner tab */
		"Zm9\nvYmFy",
		"Zm9v\nYmFy", /* a line break where MIME would put one */
		"Zm9-",      /* URL-safe alphabet */
		"Zm9_",      /* URL-safe alphabet */
		"Zm9.",
		"Zm9*",
		"====",
		"=Zg=",
		"Z===",
		"Zg=A",
		"Zg==Zg==",  /* padding in the middle */
		"Zm8=Zm8=",
		"Zm9vYg=",   /* length 7 */
		"Zm9vY",     /* length 5 */
		"Zm9vYmFy=", /* extra padding */
		"Zm9vYmFy====",
		"\xc3\xa9Zg=",
	};
	/* clang-format on */
	for (size_t i = 0; i < N(bad); i++) {
		vt_buf b;
		int got;
		vt_buf_init(&b, 1024);
		got = vt_base64_decode(&b, bad[i], strlen(bad[i]));
		CHECK_CODE(got, VT_EINVAL);
		if (got != VT_EINVAL)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(b.len == 0);
		vt_buf_dispose(&b);
	}
	/* An embedded NUL is not a terminator. */
	{
		vt_buf b;
		vt_buf_init(&b, 1024);
		CHECK_CODE(vt_base64_decode(&b, "Zm9v\0\0\0\0", 8), VT_EINVAL);
		CHECK_CODE(vt_base64_decode(&b, "Zm\0v", 4), VT_EINVAL);
		CHECK(b.len == 0);
		vt_buf_dispose(&b);
	}
}

static void test_base64_exact_and_limits(void)
{
	uint8_t out[4] = {9, 9, 9, 9};
	vt_buf b;

	CHECK_CODE(vt_base64_decode_exact(out, 2, "Zm9v", 4), VT_EINVAL);
	CHECK_CODE(vt_base64_decode_exact(out, 4, "Zm9v", 4), VT_EINVAL);
	CHECK_CODE(vt_base64_decode_exact(out, 3, "Zm8=", 4), VT_EINVAL);
	CHECK_CODE(vt_base64_decode_exact(out, 1, "Zm8=", 4), VT_EINVAL);
	CHECK_CODE(vt_base64_decode_exact(out, 3, "Zm9v\n", 5), VT_EINVAL);
	CHECK_CODE(vt_base64_decode_exact(out, 1, "Zh==", 4), VT_EINVAL);
	CHECK(out[0] == 9); /* untouched on failure */
	CHECK_OK(vt_base64_decode_exact(out, 2, "Zm8=", 4));
	CHECK(out[0] == 'f' && out[1] == 'o' && out[2] == 9);

	/* The output buffer's maximum applies. */
	vt_buf_init(&b, 5);
	CHECK_CODE(vt_base64_decode(&b, "Zm9vYmFy", 8), VT_ETOOBIG);
	CHECK(b.len == 0);
	CHECK_OK(vt_base64_decode(&b, "Zm9vYmE=", 8));
	CHECK(b.len == 5);
	vt_buf_reset(&b);
	CHECK_CODE(vt_base64_append(&b, "foobar", 6), VT_ETOOBIG);
	CHECK(b.len == 0);
	CHECK_OK(vt_base64_append(&b, "foo", 3));
	CHECK(b.len == 4 && strcmp(vt_buf_cstr(&b), "Zm9v") == 0);
	vt_buf_dispose(&b);
}

static void test_hex(void)
{
	uint8_t out[8], all[256];
	char enc[513];

	for (size_t i = 0; i < N(rfc4648); i++) {
		size_t rawlen = strlen(rfc4648[i].raw);
		vt_hex_encode(enc, rfc4648[i].raw, rawlen);
		CHECK(strcmp(enc, rfc4648[i].hex) == 0);
		CHECK_OK(vt_hex_decode(out, rawlen, rfc4648[i].hex, 2 * rawlen));
		CHECK(memcmp(out, rfc4648[i].raw, rawlen) == 0);
	}
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	vt_hex_encode(enc, all, 256);
	CHECK(strncmp(enc, "000102", 6) == 0 && strcmp(enc + 506, "fdfeff") == 0);
	CHECK(strlen(enc) == 512);

	CHECK_OK(vt_hex_decode(out, 4, "DeadBEEF", 8));
	CHECK(out[0] == 0xde && out[1] == 0xad && out[2] == 0xbe && out[3] == 0xef);
	CHECK_OK(vt_hex_decode(out, 0, "", 0));

	memset(out, 7, sizeof(out));
	CHECK_CODE(vt_hex_decode(out, 2, "abc", 3), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, "abcdef", 6), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, "abcg", 4), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, " abc", 4), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, "ab c", 4), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, "0x12", 4), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 2, "ab\0c", 4), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 1, "\xff\xff", 2), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 1, "-1", 2), VT_EINVAL);
	CHECK_CODE(vt_hex_decode(out, 1, ":0", 2), VT_EINVAL); /* '9' + 1 */
	CHECK_CODE(vt_hex_decode(out, 1, "/0", 2), VT_EINVAL); /* '0' - 1 */
	CHECK_CODE(vt_hex_decode(out, 1, "G0", 2), VT_EINVAL); /* 'F' + 1 */
	CHECK_CODE(vt_hex_decode(out, 1, "@0", 2), VT_EINVAL); /* 'A' - 1 */
	CHECK_CODE(vt_hex_decode(out, 1, "`0", 2), VT_EINVAL); /* 'a' - 1 */
	CHECK(vt_error_last()[0] != '\0');
}

static int u64(uint64_t *v, const char *s)
{
	return vt_parse_u64(v, s, strlen(s));
}

static void test_parse_u64(void)
{
	uint64_t v;
	/* clang-format off */
	static const char *const bad[] = {
		"",
		"18446744073709551616",
		"18446744073709551617",
		"18446744073709551620",
		"19000000000000000000",
		"99999999999999999999",
		"184467440737095516150",
		"100000000000000000000",
		"00",
		"01",
		"007",
		"000000000000000000001",
		"-1",
		"-0",
		"+1",
		" 1",
		"1 ",
		"1\n",
		"1a",
		"0x10",
		"1e3",
		"1.0",
		"1,000",
		"1_000",
		"\xd9\xa1", /* ARABIC-INDIC DIGIT ONE */
	};
	/* clang-format on */

	CHECK_OK(u64(&v, "0"));
	CHECK(v == 0);
	CHECK_OK(u64(&v, "1"));
	CHECK(v == 1);
	CHECK_OK(u64(&v, "10"));
	CHECK(v == 10);
	CHECK_OK(u64(&v, "4294967296"));
	CHECK(v == 4294967296u);
	CHECK_OK(u64(&v, "18446744073709551615"));
	CHECK(v == UINT64_MAX);
	CHECK_OK(u64(&v, "18446744073709551614"));
	CHECK(v == UINT64_MAX - 1);
	CHECK_OK(u64(&v, "9999999999999999999"));
	CHECK(v == 9999999999999999999u);
	CHECK_OK(u64(&v, "1844674407370955161"));
	CHECK(v == UINT64_MAX / 10);

	for (size_t i = 0; i < N(bad); i++) {
		int got;
		v = 12345;
		got = u64(&v, bad[i]);
		CHECK_CODE(got, VT_EINVAL);
		if (got != VT_EINVAL)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(v == 12345); /* untouched on failure */
	}
	/* The length bounds the number. */
	CHECK_OK(vt_parse_u64(&v, "123abc", 3));
	CHECK(v == 123);
	CHECK_CODE(vt_parse_u64(&v, "12\0", 3), VT_EINVAL);
	CHECK_CODE(vt_parse_u64(&v, "0", 0), VT_EINVAL);

	/* Every value near a power of ten and near the top parses back. */
	{
		int bad_count = 0;
		uint64_t p = 1;
		char s[32];
		for (int e = 0; e < 20; e++, p *= 10) {
			for (int d = -2; d <= 2; d++) {
				uint64_t want = p + (uint64_t)(int64_t)d;
				if (d < 0 && p < (uint64_t)-d)
					continue;
				snprintf(s, sizeof(s), "%llu", (unsigned long long)want);
				if (u64(&v, s) != 0 || v != want)
					bad_count++;
			}
		}
		CHECK(bad_count == 0);
	}
}

static void test_big_endian(void)
{
	uint8_t b[16];
	static const uint8_t want16[] = {0xbe, 0xef};
	static const uint8_t want32[] = {0xde, 0xad, 0xbe, 0xef};
	static const uint8_t want64[] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

	/* Odd offsets: the helpers must not depend on alignment. */
	memset(b, 0, sizeof(b));
	vt_put_be16(b + 1, 0xbeef);
	CHECK(memcmp(b + 1, want16, 2) == 0 && b[0] == 0 && b[3] == 0);
	CHECK(vt_get_be16(b + 1) == 0xbeef);
	vt_put_be32(b + 3, 0xdeadbeefu);
	CHECK(memcmp(b + 3, want32, 4) == 0);
	CHECK(vt_get_be32(b + 3) == 0xdeadbeefu);
	vt_put_be64(b + 5, 0x0123456789abcdefu);
	CHECK(memcmp(b + 5, want64, 8) == 0 && b[13] == 0);
	CHECK(vt_get_be64(b + 5) == 0x0123456789abcdefu);

	vt_put_be16(b, 0xffff);
	CHECK(vt_get_be16(b) == 0xffff && b[0] == 0xff && b[1] == 0xff);
	vt_put_be32(b, 0xffffffffu);
	CHECK(vt_get_be32(b) == 0xffffffffu);
	vt_put_be64(b, UINT64_MAX);
	CHECK(vt_get_be64(b) == UINT64_MAX);
	vt_put_be64(b, 0);
	CHECK(vt_get_be64(b) == 0);
	/* A high bit in the top byte must not sign-extend. */
	b[0] = 0x80;
	CHECK(vt_get_be64(b) == 0x8000000000000000u);
	CHECK(vt_get_be32(b) == 0x80000000u);
	CHECK(vt_get_be16(b) == 0x8000);
	vt_put_be64(b, 0x00000000ffffffffu);
	CHECK(b[3] == 0 && b[4] == 0xff && vt_get_be64(b) == 0xffffffffu);
}

static void test_buf_basics(void)
{
	vt_buf b;
	size_t len = 99;
	uint8_t *p;

	vt_buf_init(&b, 100);
	CHECK(b.len == 0 && b.ptr == NULL && b.max == 100);
	CHECK(strcmp(vt_buf_cstr(&b), "") == 0);
	CHECK(vt_buf_detach(&b, &len) == NULL && len == 0);

	CHECK_OK(vt_buf_adds(&b, "abc"));
	CHECK_OK(vt_buf_addc(&b, 'd'));
	CHECK_OK(vt_buf_add(&b, "ef", 2));
	CHECK_OK(vt_buf_add(&b, NULL, 0));
	CHECK_OK(vt_buf_printf(&b, "-%d-%s", 42, "x"));
	CHECK(b.len == 11 && strcmp(vt_buf_cstr(&b), "abcdef-42-x") == 0);
	CHECK(b.ptr[b.len] == '\0');

	vt_buf_reset(&b);
	CHECK(b.len == 0 && b.ptr != NULL && strcmp(vt_buf_cstr(&b), "") == 0);
	CHECK_OK(vt_buf_addc(&b, 0));
	CHECK(b.len == 1);

	p = vt_buf_detach(&b, &len);
	CHECK(p != NULL && len == 1 && p[0] == 0);
	free(p);
	CHECK(b.ptr == NULL && b.len == 0);
	CHECK_OK(vt_buf_adds(&b, "again"));
	CHECK(strcmp(vt_buf_cstr(&b), "again") == 0);
	vt_buf_dispose(&b);
	CHECK(b.ptr == NULL && b.len == 0);
	vt_buf_dispose(&b); /* twice is harmless */

	/* Growth across many reallocations keeps the content. */
	vt_buf_init(&b, 1 << 20);
	for (int i = 0; i < 100000; i++)
		if (vt_buf_addc(&b, (uint8_t)(i * 7)) < 0)
			break;
	CHECK(b.len == 100000);
	{
		int bad = 0;
		for (int i = 0; i < 100000; i++)
			bad += b.ptr[i] != (uint8_t)(i * 7);
		CHECK(bad == 0 && b.ptr[b.len] == 0);
	}
	vt_buf_dispose(&b);
}

static void test_buf_max(void)
{
	vt_buf b;
	char big[200];

	memset(big, 'a', sizeof(big));
	vt_buf_init(&b, 10);
	CHECK_OK(vt_buf_add(&b, big, 10));
	CHECK(b.len == 10 && b.ptr[10] == 0);
	CHECK_CODE(vt_buf_addc(&b, 'b'), VT_ETOOBIG);
	CHECK(strstr(vt_error_last(), "10") != NULL);
	CHECK(b.len == 10 && b.ptr[9] == 'a' && b.ptr[10] == 0);
	CHECK_OK(vt_buf_add(&b, "", 0));
	CHECK_CODE(vt_buf_reserve(&b, 1), VT_ETOOBIG);
	CHECK_OK(vt_buf_reserve(&b, 0));
	vt_buf_reset(&b);

	/* Each writer refuses, and a refusal leaves the content as it was. */
	CHECK_OK(vt_buf_adds(&b, "12345"));
	CHECK_CODE(vt_buf_add(&b, big, 6), VT_ETOOBIG);
	CHECK_CODE(vt_buf_adds(&b, "678901"), VT_ETOOBIG);
	CHECK_CODE(vt_buf_printf(&b, "%s", "678901"), VT_ETOOBIG);
	CHECK_CODE(vt_buf_printf(&b, "%d", 123456), VT_ETOOBIG);
	CHECK(b.len == 5 && strcmp(vt_buf_cstr(&b), "12345") == 0);
	CHECK_OK(vt_buf_printf(&b, "%d", 67890));
	CHECK(b.len == 10 && strcmp(vt_buf_cstr(&b), "1234567890") == 0);

	/* Sizes that would overflow size_t arithmetic are refused, not wrapped. */
	CHECK_CODE(vt_buf_reserve(&b, SIZE_MAX), VT_ETOOBIG);
	CHECK_CODE(vt_buf_reserve(&b, SIZE_MAX - 5), VT_ETOOBIG);
	CHECK_CODE(vt_buf_add(&b, big, SIZE_MAX), VT_ETOOBIG);
	CHECK(b.len == 10);
	vt_buf_dispose(&b);

	/* A buffer of maximum 0 takes nothing but stays a valid string. */
	vt_buf_init(&b, 0);
	CHECK_OK(vt_buf_add(&b, "", 0));
	CHECK(b.len == 0 && strcmp(vt_buf_cstr(&b), "") == 0);
	CHECK_CODE(vt_buf_addc(&b, 'x'), VT_ETOOBIG);
	CHECK_CODE(vt_buf_printf(&b, "x"), VT_ETOOBIG);
	CHECK_OK(vt_buf_printf(&b, "%s", ""));
	CHECK(b.len == 0);
	vt_buf_dispose(&b);

	/* SIZE_MAX as "no real limit" must not wrap max + 1 to a 0-byte
	 * allocation (this overran the heap before the fix in vt_buf_init). */
	vt_buf_init(&b, SIZE_MAX);
	CHECK_OK(vt_buf_add(&b, big, 100));
	CHECK(b.len == 100 && b.cap > 100 && b.ptr[99] == 'a' && b.ptr[100] == 0);
	CHECK_CODE(vt_buf_reserve(&b, SIZE_MAX - 50), VT_ETOOBIG);
	CHECK_CODE(vt_buf_reserve(&b, SIZE_MAX), VT_ETOOBIG);
	CHECK(b.len == 100);
	vt_buf_dispose(&b);

	/* A large maximum does not mean a large allocation. */
	vt_buf_init(&b, SIZE_MAX / 2);
	CHECK_OK(vt_buf_adds(&b, "small"));
	CHECK(b.cap < 4096);
	CHECK_CODE(vt_buf_reserve(&b, SIZE_MAX / 2), VT_ETOOBIG);
	CHECK(strcmp(vt_buf_cstr(&b), "small") == 0);
	vt_buf_dispose(&b);
}

int main(void)
{
	RUN(test_base64_vectors);
	RUN(test_base64_binary);
	RUN(test_base64_rejects);
	RUN(test_base64_exact_and_limits);
	RUN(test_hex);
	RUN(test_parse_u64);
	RUN(test_big_endian);
	RUN(test_buf_basics);
	RUN(test_buf_max);
	return TEST_DONE();
}
