/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the search language reader: every term, every refusal with its position. */
#include "../test.h"
#include "vitrine/analysis_query.h"
#include "vitrine/error.h"

#include <string.h>

static int parse(vt_query *q, size_t *pos, const char *s)
{
	return vt_query_parse(q, pos, s, strlen(s));
}

static void test_terms(void)
{
	vt_query q;
	size_t pos = 99;

	CHECK_OK(parse(&q, &pos, "rule:eicar  tag:test-1 type:ELF verdict:malicious"));
	CHECK(q.n == 4 && pos == 0);
	CHECK(q.t[0].kind == VT_QUERY_RULE && strcmp(q.t[0].text, "eicar") == 0);
	CHECK(q.t[1].kind == VT_QUERY_TAG && strcmp(q.t[1].text, "test-1") == 0);
	CHECK(q.t[2].kind == VT_QUERY_TYPE && strcmp(q.t[2].text, "ELF") == 0);
	CHECK(q.t[3].kind == VT_QUERY_VERDICT && strcmp(q.t[3].text, "malicious") == 0);

	CHECK_OK(parse(&q, NULL, "rule:sub/elf.yar:is_elf"));
	CHECK(strcmp(q.t[0].text, "sub/elf.yar:is_elf") == 0);

	CHECK_OK(parse(&q, NULL, "size:>1MB size:<=2kb size:=7 size:10 size:>=3GB size:<5B"));
	CHECK(q.n == 6);
	CHECK(q.t[0].op == VT_QUERY_GT && q.t[0].num == 1048576);
	CHECK(q.t[1].op == VT_QUERY_LE && q.t[1].num == 2048);
	CHECK(q.t[2].op == VT_QUERY_EQ && q.t[2].num == 7);
	CHECK(q.t[3].op == VT_QUERY_EQ && q.t[3].num == 10);
	CHECK(q.t[4].op == VT_QUERY_GE && q.t[4].num == 3LL << 30);
	CHECK(q.t[5].op == VT_QUERY_LT && q.t[5].num == 5);

	CHECK_OK(parse(&q, NULL, "first_seen:>=2026-01-01 first_seen:1970-01-02"));
	CHECK(q.t[0].kind == VT_QUERY_FIRST_SEEN && q.t[0].op == VT_QUERY_GE &&
	      q.t[0].num == 1767225600);
	CHECK(q.t[1].op == VT_QUERY_EQ && q.t[1].num == 86400);

	CHECK_OK(parse(&q, NULL, "region:EU region:CH-ZRH"));
	CHECK(q.t[0].kind == VT_QUERY_REGION && strcmp(q.t[1].text, "CH-ZRH") == 0);

	CHECK_OK(parse(&q, NULL,
		       "parent:ABCDEF0000000000000000000000000000000000000000000000000000000001"));
	CHECK(q.t[0].kind == VT_QUERY_PARENT && q.t[0].hash[0] == 0xab && q.t[0].hash[31] == 0x01);

	/* Bare hex: a SHA-256 prefix (odd lengths too), or a whole MD5/SHA-1. */
	CHECK_OK(parse(&q, NULL, "0123abcdE 00112233445566778899aabbccddeeff"));
	CHECK(q.t[0].kind == VT_QUERY_HASH && q.t[0].nibbles == 9 && q.t[0].hash[0] == 0x01 &&
	      q.t[0].hash[3] == 0xcd && q.t[0].hash[4] == 0xe0);
	CHECK(q.t[1].nibbles == 32 && q.t[1].hash[15] == 0xff);

	CHECK_OK(parse(&q, NULL, "type:\"ELF 64-bit LSB\" tag:a"));
	CHECK(q.n == 2 && strcmp(q.t[0].text, "ELF 64-bit LSB") == 0);

	CHECK_OK(parse(&q, NULL, "ssdeep:3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C:55"));
	CHECK(q.t[0].kind == VT_QUERY_SSDEEP && q.t[0].num == 55 &&
	      strcmp(q.t[0].text, "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C") == 0);

	CHECK_OK(
	    parse(&q, NULL,
		  "tlsh:t1a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4:"
		  "100"));
	CHECK(q.t[0].kind == VT_QUERY_TLSH && q.t[0].num == 100 &&
	      strncmp(q.t[0].text, "T1A0B1", 6) == 0 && strlen(q.t[0].text) == 72);
}

/* Every refusal: code, and the position the message and *pos give. */
static void refused(const char *s, int code, size_t want)
{
	vt_query q;
	size_t pos = 0;
	char prefix[32];
	int err = parse(&q, &pos, s);
	snprintf(prefix, sizeof(prefix), "position %zu: ", want);
	CHECK(err == code);
	CHECK(pos == want);
	CHECK(strncmp(vt_error_last(), prefix, strlen(prefix)) == 0);
	CHECK(q.n == 0);
	if (err != code || pos != want)
		fprintf(stderr, "  query \"%s\": %d at %zu: %s\n", s, err, pos, vt_error_last());
}

static void test_refusals(void)
{
	char many[400] = "";
	vt_query q;

	refused("", VT_EINVAL, 1);
	refused("   ", VT_EINVAL, 1);
	refused("bogus:1", VT_EINVAL, 1);
	refused("rule:eicar colour:red", VT_EINVAL, 12);
	refused("rule:", VT_EINVAL, 6);
	refused("rule:9lives", VT_EINVAL, 6);
	refused("rule:a-b", VT_EINVAL, 6);
	refused("rule::x", VT_EINVAL, 6);
	refused("rule:ns/x.yar:", VT_EINVAL, 6);
	refused("tag:a*b", VT_EINVAL, 5);
	refused("type:\"abc", VT_EINVAL, 6);
	refused("type:\"abc\"x", VT_EINVAL, 11);
	refused("ty\"pe\":x", VT_EINVAL, 3);
	refused("verdict:evil", VT_EINVAL, 9);
	refused("size:>1TB", VT_EINVAL, 8);
	refused("size:>", VT_EINVAL, 7);
	refused("size:>>1", VT_EINVAL, 7);
	refused("size:1234567890123456789", VT_EINVAL, 6);
	refused("first_seen:2026-13-01", VT_EINVAL, 12);
	refused("first_seen:>=2026-1-01", VT_EINVAL, 14);
	refused("first_seen:1969-12-31", VT_EINVAL, 12);
	refused("first_seen:2026-02-30", VT_EINVAL, 12);
	refused("region:eu", VT_EINVAL, 8);
	refused("parent:abc", VT_EINVAL, 8);
	refused("parent:zz23456789012345678901234567890123456789012345678901234567890123",
		VT_EINVAL, 8);
	refused("0123abc", VT_EINVAL, 1);
	refused("rule:x 0123abcz", VT_EINVAL, 8);
	refused("ssdeep:3:abc:def", VT_EINVAL, 14); /* "def" is no score */
	refused("ssdeep:3:abc:def:101", VT_EINVAL, 18);
	refused("ssdeep:x:abc:def:50", VT_EINVAL, 8);
	refused("ssdeep:3:abcdef:50", VT_EINVAL, 8);
	refused("ssdeep:3:a!c:def:50", VT_EINVAL, 8);
	refused("tlsh:T1abc:10", VT_EINVAL, 6);
	refused("tlsh:T1a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5a0b1c2d3e4f5",
		VT_EINVAL, 6);
	for (int i = 0; i < VT_INDEX_QUERY_TERMS + 1; i++)
		strcat(many, "tag:a ");
	refused(many, VT_ETOOBIG, 6 * VT_INDEX_QUERY_TERMS + 1);
	/* Over the size limit: refused before reading. */
	CHECK_CODE(vt_query_parse(&q, NULL, many, VT_QUERY_MAX + 1), VT_ETOOBIG);
}

int main(void)
{
	RUN(test_terms);
	RUN(test_refusals);
	return TEST_DONE();
}
