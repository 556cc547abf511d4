/* SPDX-License-Identifier: Apache-2.0 */
/* Checkpoint bodies: the spec's example, round trips and every rejection rule. */
#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"

#include "test.h"

#include <stdint.h>

#define ORIGIN	 "example.com/behind-the-sofa"
#define ROOT_B64 "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
#define ROOT_HEX "0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62"
#define BODY	 ORIGIN "\n20852163\n" ROOT_B64 "\n"

static int parse(vt_checkpoint *c, const char *text)
{
	return vt_checkpoint_parse(c, text, strlen(text));
}

/* The c2sp.org/tlog-checkpoint example, parsed and formatted back. */
static void test_spec_example(void)
{
	vt_checkpoint c;
	vt_hash root;
	vt_buf b;

	vt_buf_init(&b, 4096);
	CHECK_OK(vt_hex_decode(root.b, 32, ROOT_HEX, 64));
	CHECK_OK(parse(&c, BODY));
	CHECK(strcmp(c.origin, ORIGIN) == 0);
	CHECK(c.size == 20852163);
	CHECK(memcmp(c.root.b, root.b, 32) == 0);
	CHECK(c.ext == NULL && c.ext_len == 0);
	CHECK_OK(vt_checkpoint_format(&b, &c));
	CHECK(strcmp(vt_buf_cstr(&b), BODY) == 0);
	vt_buf_dispose(&b);
}

static void test_extensions_and_edges(void)
{
	static const char with_ext[] = BODY "foo\nbar baz \xe2\x80\x94\n";
	vt_checkpoint c;
	vt_buf b;

	vt_buf_init(&b, 4096);
	CHECK_OK(parse(&c, with_ext));
	CHECK(c.ext == with_ext + strlen(BODY));
	CHECK(c.ext_len == strlen("foo\nbar baz \xe2\x80\x94\n"));
	CHECK_OK(vt_checkpoint_format(&b, &c));
	CHECK(strcmp(vt_buf_cstr(&b), with_ext) == 0);

	/* Sizes 0 and 2^64-1; an origin of exactly VT_ORIGIN_MAX bytes with spaces. */
	CHECK_OK(parse(&c, "o\n0\n" ROOT_B64 "\n"));
	CHECK(c.size == 0);
	CHECK_OK(parse(&c, "o\n18446744073709551615\n" ROOT_B64 "\n"));
	CHECK(c.size == UINT64_MAX);
	char text[400];
	memset(text, 'a', VT_ORIGIN_MAX);
	text[3] = ' ';
	strcpy(text + VT_ORIGIN_MAX, "\n1\n" ROOT_B64 "\n");
	CHECK_OK(parse(&c, text));
	CHECK(strlen(c.origin) == VT_ORIGIN_MAX);
	vt_buf_reset(&b);
	CHECK_OK(vt_checkpoint_format(&b, &c));
	CHECK(strcmp(vt_buf_cstr(&b), text) == 0);
	/* One byte more is too long. */
	memset(text, 'a', VT_ORIGIN_MAX + 1);
	strcpy(text + VT_ORIGIN_MAX + 1, "\n1\n" ROOT_B64 "\n");
	CHECK_CODE(parse(&c, text), VT_EINVAL);
	vt_buf_dispose(&b);
}

static void test_rejects(void)
{
	static const char *bad[] = {
	    /* missing lines */
	    "",
	    ORIGIN,
	    ORIGIN "\n",
	    ORIGIN "\n20852163",
	    ORIGIN "\n20852163\n",
	    ORIGIN "\n20852163\n" ROOT_B64,
	    /* empty or bad origin */
	    "\n20852163\n" ROOT_B64 "\n",
	    "a\x01"
	    "b\n20852163\n" ROOT_B64 "\n",
	    "a\rb\n20852163\n" ROOT_B64 "\n",
	    "a\xff"
	    "b\n20852163\n" ROOT_B64 "\n",
	    "a\xc0\xaf"
	    "b\n20852163\n" ROOT_B64 "\n",
	    /* sizes */
	    ORIGIN "\n\n" ROOT_B64 "\n",
	    ORIGIN "\n01\n" ROOT_B64 "\n",
	    ORIGIN "\n00\n" ROOT_B64 "\n",
	    ORIGIN "\n-1\n" ROOT_B64 "\n",
	    ORIGIN "\n+1\n" ROOT_B64 "\n",
	    ORIGIN "\n 1\n" ROOT_B64 "\n",
	    ORIGIN "\n1 \n" ROOT_B64 "\n",
	    ORIGIN "\n0x10\n" ROOT_B64 "\n",
	    ORIGIN "\n1e3\n" ROOT_B64 "\n",
	    ORIGIN "\n18446744073709551616\n" ROOT_B64 "\n",
	    ORIGIN "\n99999999999999999999\n" ROOT_B64 "\n",
	    /* roots: missing, unpadded, bad alphabet, non-canonical, 31 and 33 bytes, hex */
	    ORIGIN "\n5\n\n",
	    ORIGIN "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",
	    ORIGIN "\n5\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n",
	    ORIGIN "\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
	    ORIGIN "\n5\n CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
	    ORIGIN "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
	    ORIGIN "\n5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
	    ORIGIN "\n5\n" ROOT_HEX "\n",
	    /* extension lines: empty, unterminated, control characters */
	    BODY "\n",
	    BODY "foo\n\n",
	    BODY "foo\n\nbar\n",
	    BODY "foo",
	    BODY "foo\nbar",
	    BODY "f\to\n",
	    BODY "\xed\xa0\x80\n",
	};
	vt_checkpoint c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int got = parse(&c, bad[i]);
		if (got != VT_EINVAL)
			fprintf(stderr, "bad checkpoint %zu: got %d\n", i, got);
		CHECK(got == VT_EINVAL);
		CHECK(c.origin[0] == '\0' && c.size == 0 && c.ext == NULL);
	}
	/* An embedded NUL ends nothing: it is a control character. */
	CHECK_CODE(vt_checkpoint_parse(&c, "a\0b\n1\n" ROOT_B64 "\n", 6 + 45), VT_EINVAL);
}

static void test_format_rejects(void)
{
	vt_checkpoint c;
	vt_buf b;

	vt_buf_init(&b, 4096);
	vt_buf_adds(&b, "keep");
	memset(&c, 0, sizeof(c));
	CHECK_CODE(vt_checkpoint_format(&b, &c), VT_EINVAL); /* empty origin */
	strcpy(c.origin, "a\nb");
	CHECK_CODE(vt_checkpoint_format(&b, &c), VT_EINVAL);
	strcpy(c.origin, "a\tb");
	CHECK_CODE(vt_checkpoint_format(&b, &c), VT_EINVAL);
	memset(c.origin, 'a', sizeof(c.origin)); /* no NUL */
	CHECK_CODE(vt_checkpoint_format(&b, &c), VT_EINVAL);
	strcpy(c.origin, "ok");
	const char *exts[] = {"foo", "\n", "a\n\nb\n", "\x01\n"};
	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		c.ext = exts[i];
		c.ext_len = strlen(exts[i]);
		CHECK_CODE(vt_checkpoint_format(&b, &c), VT_EINVAL);
	}
	CHECK(b.len == 4 && strcmp(vt_buf_cstr(&b), "keep") == 0);

	/* Format then parse gives back the same values. */
	c.ext = "x y\n";
	c.ext_len = 4;
	c.size = 123456789;
	for (int i = 0; i < 32; i++)
		c.root.b[i] = (uint8_t)(i * 7 + 1);
	vt_buf_reset(&b);
	CHECK_OK(vt_checkpoint_format(&b, &c));
	vt_checkpoint d;
	CHECK_OK(vt_checkpoint_parse(&d, (char *)b.ptr, b.len));
	CHECK(strcmp(d.origin, "ok") == 0 && d.size == 123456789);
	CHECK(memcmp(d.root.b, c.root.b, 32) == 0);
	CHECK(d.ext_len == 4 && memcmp(d.ext, "x y\n", 4) == 0);

	CHECK_OK(vt_checkpoint_check_origin("ok", 2));
	CHECK_CODE(vt_checkpoint_check_origin("", 0), VT_EINVAL);
	vt_buf_dispose(&b);
}

int main(void)
{
	RUN(test_spec_example);
	RUN(test_extensions_and_edges);
	RUN(test_rejects);
	RUN(test_format_rejects);
	return TEST_DONE();
}
