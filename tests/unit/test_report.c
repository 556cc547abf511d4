/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the lookup request reader and answer, JSON escaping, and file reports by tenant. */
#include "test.h"

#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/index.h"
#include "vitrine/lookup.h"
#include "vitrine/report.h"

#include <ftw.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define H64 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
#define H40 "3395856ce81f2b7382dee72602f798b642f14140"
#define H32 "44d88612fea8a8f36de82e1278abb02f"

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int parse(vt_lookup_request *r, const char *s, vt_lookup_format fmt)
{
	return vt_lookup_parse(r, s, strlen(s), fmt);
}

static bool key_is(const vt_index_key *k, const char *hex)
{
	char h[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(h, k->b, k->len);
	return strcmp(h, hex) == 0;
}

static void test_parse_json(void)
{
	vt_lookup_request r;

	CHECK_OK(
	    parse(&r, "{\"hashes\": [\"" H64 "\", \"" H40 "\", \"" H32 "\"]}", VT_LOOKUP_JSON));
	CHECK(r.n == 3);
	CHECK(r.n == 3 && r.keys[0].len == 32 && r.keys[1].len == 20 && r.keys[2].len == 16);
	CHECK(r.n == 3 && key_is(&r.keys[0], H64) && key_is(&r.keys[1], H40) &&
	      key_is(&r.keys[2], H32));
	vt_lookup_dispose(&r);
	/* Every place RFC 8259 allows whitespace, of every kind. */
	CHECK_OK(parse(&r, " \t\r\n{ \n\"hashes\"\t:\r[ \"" H32 "\" ,\n\"" H32 "\" ]\n}\n ",
		       VT_LOOKUP_JSON));
	CHECK(r.n == 2);
	vt_lookup_dispose(&r);
	/* Upper case reads as lower case. */
	CHECK_OK(parse(&r, "{\"hashes\":[\"44D88612FEA8A8F36DE82E1278ABB02F\"]}", VT_LOOKUP_JSON));
	CHECK(r.n == 1 && key_is(&r.keys[0], H32));
	vt_lookup_dispose(&r);
	CHECK_OK(parse(&r, "{\"hashes\": []}", VT_LOOKUP_JSON));
	CHECK(r.n == 0 && r.keys == NULL);
	vt_lookup_dispose(&r);
	vt_lookup_dispose(&r); /* twice is harmless */
}

/* Every way a JSON request can be malformed: 400 naming the place. */
static void test_parse_json_bad(void)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
	    {"", "ends where '{'"},
	    {"   ", "ends where '{'"},
	    {"[\"" H32 "\"]", "byte 0: expected '{'"},
	    {"null", "byte 0"},
	    {"{", "ends where a string"},
	    {"{}", "byte 1: expected a string"},
	    {"{\"hash\": []}", "one key \"hashes\""},
	    {"{\"hashesX\": []}", "one key \"hashes\""},
	    {"{\"Hashes\": []}", "one key \"hashes\""},
	    {"{hashes: []}", "byte 1: expected a string"},
	    {"{'hashes': []}", "byte 1: expected a string"},
	    {"{\"hashes\" []}", "byte 10: expected ':'"},
	    {"{\"hashes\": {}}", "expected '['"},
	    {"{\"hashes\": \"" H32 "\"}", "expected '['"},
	    {"{\"hashes\": null}", "expected '['"},
	    {"{\"hashes\": [", "hashes[0]: not a string (the body ends)"},
	    {"{\"hashes\": [\"" H32, "hashes[0]: malformed JSON: a string is not closed"},
	    {"{\"hashes\": [\"" H32 "\"", "ends where ',' or ']'"},
	    {"{\"hashes\": [\"" H32 "\"]", "ends where '}'"},
	    {"{\"hashes\": [\"" H32 "\" \"" H32 "\"]}", "expected ',' or ']'"},
	    {"{\"hashes\": [\"" H32 "\",]}", "hashes[1]: not a string"},
	    {"{\"hashes\": [,\"" H32 "\"]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [1]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [null]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [true]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [[\"" H32 "\"]]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [{}]}", "hashes[0]: not a string"},
	    {"{\"hashes\": [\"" H32 "\", 7]}", "hashes[1]: not a string"},
	    {"{\"hashes\": [\"\"]}", "hashes[0]: not a SHA-256, SHA-1 or MD5 hash"},
	    {"{\"hashes\": [\"abc\"]}", "hashes[0]: not a SHA-256, SHA-1 or MD5 hash"},
	    {"{\"hashes\": [\"" H32 "0\"]}", "got 33 characters"},
	    {"{\"hashes\": [\"" H64 "00\"]}", "got 66 characters"},
	    {"{\"hashes\": [\"" H32 "\", \"" H40 "\", \"44d88612fea8a8f36de82e1278abb02g\"]}",
	     "hashes[2]: not a hash: a character is not a hex digit"},
	    {"{\"hashes\": [\" 44d88612fea8a8f36de82e1278abb02\"]}", "hashes[0]: not a hash"},
	    {"{\"hashes\": [\"\\u0034" H32 "\"]}", "hashes[0]: malformed request"},
	    {"{\"hashes\": [\"44d88612fea8a8f36de82e1278abb0\\n\"]}", "escapes are not accepted"},
	    {"{\"hashes\": [\"44d88612fea8a8f36de82e1278abb0\n2\"]}", "control character"},
	    {"{\"has\\u0068es\": []}", "escapes are not accepted"},
	    {"{\"hashes\": [], \"more\": 1}", "one key \"hashes\""},
	    {"{\"hashes\": [], \"hashes\": []}", "one key \"hashes\""},
	    {"{\"hashes\": []}}", "data after the object"},
	    {"{\"hashes\": []} {}", "data after the object"},
	    {"{\"hashes\": []}\x00", "data after the object"},
	};
	vt_lookup_request r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = strlen(bad[i].body);
		int err;
		/* The last case carries a NUL: measure it by hand. */
		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			len++;
		err = vt_lookup_parse(&r, bad[i].body, len, VT_LOOKUP_JSON);
		CHECK(err == VT_EINVAL);
		CHECK(r.keys == NULL && r.n == 0);
		if (strstr(vt_error_last(), bad[i].want) == NULL)
			fprintf(stderr, "case %zu \"%s\": message \"%s\", want \"%s\"\n", i,
				bad[i].body, vt_error_last(), bad[i].want);
		CHECK(strstr(vt_error_last(), bad[i].want) != NULL);
	}
}

static void test_parse_text(void)
{
	static const struct {
		const char *body, *want;
	} bad[] = {
	    {"abc\n", "line 1: not a SHA-256"},
	    {H32 "\n" H32 "x\n", "line 2: not a SHA-256"},
	    {H32 "\n\n" H32 " \n", "line 3: not a SHA-256"},
	    {" " H32, "line 1"},
	    {H32 "\t", "line 1"},
	    {H32 "\r\r\n", "line 1"},
	    {"\"" H32 "\"", "line 1"},
	    {"44d88612fea8a8f36de82e1278abb02g\n", "line 1: not a hash: a character is not a hex"},
	    {H32 "," H32, "line 1"},
	};
	vt_lookup_request r;

	CHECK_OK(parse(&r, H64 "\n" H40 "\r\n" H32, VT_LOOKUP_TEXT));
	CHECK(r.n == 3 && key_is(&r.keys[0], H64) && key_is(&r.keys[1], H40) &&
	      key_is(&r.keys[2], H32));
	vt_lookup_dispose(&r);
	/* Empty lines, a trailing newline, CRLF throughout. */
	CHECK_OK(parse(&r, "\n\r\n" H32 "\r\n\r\n" H32 "\r\n", VT_LOOKUP_TEXT));
	CHECK(r.n == 2);
	vt_lookup_dispose(&r);
	CHECK_OK(parse(&r, "", VT_LOOKUP_TEXT));
	CHECK(r.n == 0 && r.keys == NULL);
	CHECK_OK(parse(&r, "\n\n", VT_LOOKUP_TEXT));
	CHECK(r.n == 0);
	/* JSON is not text and text is not JSON. */
	CHECK_CODE(parse(&r, "{\"hashes\": [\"" H32 "\"]}", VT_LOOKUP_TEXT), VT_EINVAL);
	CHECK_CODE(parse(&r, H32 "\n", VT_LOOKUP_JSON), VT_EINVAL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_CODE(parse(&r, bad[i].body, VT_LOOKUP_TEXT), VT_EINVAL);
		CHECK(r.keys == NULL && r.n == 0);
		if (strstr(vt_error_last(), bad[i].want) == NULL)
			fprintf(stderr, "text case %zu: message \"%s\", want \"%s\"\n", i,
				vt_error_last(), bad[i].want);
		CHECK(strstr(vt_error_last(), bad[i].want) != NULL);
	}
}

/* n hashes (MD5s, i as hex) as JSON or text. */
static void many(vt_buf *b, size_t n, vt_lookup_format fmt)
{
	vt_buf_reset(b);
	if (fmt == VT_LOOKUP_JSON)
		vt_buf_adds(b, "{\"hashes\":[");
	for (size_t i = 0; i < n; i++) {
		if (fmt == VT_LOOKUP_JSON)
			vt_buf_printf(b, "%s\"%032zx\"", i ? "," : "", i);
		else
			vt_buf_printf(b, "%032zx\n", i);
	}
	if (fmt == VT_LOOKUP_JSON)
		vt_buf_adds(b, "]}");
}

static void test_limits(void)
{
	vt_lookup_request r;
	vt_buf b;
	char *big;

	vt_buf_init(&b, 8 << 20);
	for (int f = 0; f < 2; f++) {
		vt_lookup_format fmt = f ? VT_LOOKUP_TEXT : VT_LOOKUP_JSON;
		many(&b, VT_LOOKUP_MAX, fmt);
		CHECK_OK(vt_lookup_parse(&r, b.ptr, b.len, fmt));
		CHECK(r.n == VT_LOOKUP_MAX);
		CHECK(r.n == VT_LOOKUP_MAX && r.keys[9999].len == 16 &&
		      r.keys[9999].b[15] == 0x0f && r.keys[9999].b[14] == 0x27);
		vt_lookup_dispose(&r);
		many(&b, VT_LOOKUP_MAX + 1, fmt);
		CHECK_CODE(vt_lookup_parse(&r, b.ptr, b.len, fmt), VT_ETOOBIG);
		CHECK(strstr(vt_error_last(), "more than 10000 hashes") != NULL);
		CHECK(r.keys == NULL && r.n == 0);
	}
	/* Over the byte limit, whatever it holds. */
	big = malloc(VT_LOOKUP_BODY_MAX + 1);
	CHECK(big != NULL);
	if (big) {
		memset(big, ' ', VT_LOOKUP_BODY_MAX + 1);
		CHECK_CODE(vt_lookup_parse(&r, big, VT_LOOKUP_BODY_MAX + 1, VT_LOOKUP_JSON),
			   VT_ETOOBIG);
		/* At the limit, spaces are only a syntax error. */
		CHECK_CODE(vt_lookup_parse(&r, big, VT_LOOKUP_BODY_MAX, VT_LOOKUP_JSON), VT_EINVAL);
		free(big);
	}
	vt_buf_dispose(&b);
}

static void test_answer(void)
{
	vt_lookup_request r;
	vt_index_hit hits[3];
	vt_buf b;

	CHECK_OK(parse(&r, H32 "\n" H64 "\n" H40 "\n", VT_LOOKUP_TEXT));
	memset(hits, 0, sizeof(hits));
	hits[0].found = true;
	CHECK_OK(vt_hex_decode(hits[0].sample.sha256.b, 32, H64, 64));
	hits[2].found = true;
	CHECK_OK(vt_hex_decode(hits[2].sample.sha256.b, 32, H64, 64));
	vt_buf_init(&b, 1 << 20);
	CHECK_OK(vt_lookup_answer(&b, r.keys, hits, 3));
	CHECK(strcmp(vt_buf_cstr(&b), "{\"results\": ["
				      "{\"hash\": \"" H32 "\", \"known\": true, \"sha256\": \"" H64
				      "\", \"verdict\": null}, "
				      "{\"hash\": \"" H64 "\", \"known\": false}, "
				      "{\"hash\": \"" H40 "\", \"known\": true, \"sha256\": \"" H64
				      "\", \"verdict\": null}]}\n") == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_lookup_answer(&b, NULL, NULL, 0));
	CHECK(strcmp(vt_buf_cstr(&b), "{\"results\": []}\n") == 0);
	vt_buf_dispose(&b);
	/* Too small a buffer fails instead of cutting the answer silently. */
	vt_buf_init(&b, 100);
	CHECK_CODE(vt_lookup_answer(&b, r.keys, hits, 3), VT_ETOOBIG);
	vt_buf_dispose(&b);
	vt_lookup_dispose(&r);
}

static bool json_is(const char *s, size_t len, const char *want)
{
	vt_buf b;
	bool same;
	vt_buf_init(&b, 4096);
	CHECK_OK(vt_report_json_string(&b, s, len));
	same = strcmp(vt_buf_cstr(&b), want) == 0;
	if (!same)
		fprintf(stderr, "json string: got %s, want %s\n", vt_buf_cstr(&b), want);
	vt_buf_dispose(&b);
	return same;
}

static void test_json_string(void)
{
	vt_buf b;

	CHECK(json_is("", 0, "\"\""));
	CHECK(json_is("plain.exe", 9, "\"plain.exe\""));
	CHECK(json_is("a\"b\\c/d", 7, "\"a\\\"b\\\\c/d\""));
	CHECK(json_is("\n\r\t", 3, "\"\\n\\r\\t\""));
	CHECK(json_is("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\""));
	CHECK(json_is("a\0b", 3, "\"a\\u0000b\""));
	/* Valid UTF-8 passes as it is: é, €, U+10FFFF. */
	CHECK(json_is("\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf", 9,
		      "\"\xc3\xa9\xe2\x82\xac\xf4\x8f\xbf\xbf\""));
	/* Invalid UTF-8 becomes U+FFFD, one per bad byte. */
	CHECK(json_is("\xff", 1, "\"\\ufffd\""));
	CHECK(json_is("a\x80z", 3, "\"a\\ufffdz\""));
	CHECK(json_is("\xc3", 1, "\"\\ufffd\""));				   /* truncated */
	CHECK(json_is("\xc0\xaf", 2, "\"\\ufffd\\ufffd\""));			   /* overlong */
	CHECK(json_is("\xe0\x80\xaf", 3, "\"\\ufffd\\ufffd\\ufffd\""));		   /* overlong */
	CHECK(json_is("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""));		   /* surrogate */
	CHECK(json_is("\xf4\x90\x80\x80", 4, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"")); /* > U+10FFFF */
	CHECK(json_is("\xe2\x82", 2, "\"\\ufffd\\ufffd\""));
	CHECK(json_is("\xe2\x82\"", 3, "\"\\ufffd\\ufffd\\\"\""));
	/* A limit is an error, not a cut string. */
	vt_buf_init(&b, 4);
	CHECK_CODE(vt_report_json_string(&b, "abcdef", 6), VT_ETOOBIG);
	vt_buf_dispose(&b);

	vt_buf_init(&b, 4096);
	CHECK_OK(vt_report_error(&b, "bad_hash", "hash \"x\"\n"));
	CHECK(
	    strcmp(vt_buf_cstr(&b),
		   "{\"error\": {\"code\": \"bad_hash\", \"message\": \"hash \\\"x\\\"\\n\"}}\n") ==
	    0);
	vt_buf_reset(&b);
	CHECK_OK(vt_report_error(&b, "not_found", NULL));
	CHECK(strcmp(vt_buf_cstr(&b),
		     "{\"error\": {\"code\": \"not_found\", \"message\": \"\"}}\n") == 0);
	vt_buf_dispose(&b);
}

static vt_token token(const char *role, const char *tenant)
{
	vt_token t;
	memset(&t, 0, sizeof(t));
	snprintf(t.role, sizeof(t.role), "%s", role);
	snprintf(t.tenant, sizeof(t.tenant), "%s", tenant);
	return t;
}

static void test_scope(void)
{
	vt_token t;
	const char *tenant = "x";

	t = token("submitter", "acme");
	CHECK_OK(vt_report_scope(&tenant, &t));
	CHECK(tenant && strcmp(tenant, "acme") == 0);
	CHECK_OK(vt_report_may_lookup(&t));
	for (int i = 0; i < 3; i++) {
		static const char *const all[] = {"analyst", "auditor", "admin"};
		t = token(all[i], "");
		tenant = "x";
		CHECK_OK(vt_report_scope(&tenant, &t));
		CHECK(tenant == NULL);
		CHECK_OK(vt_report_may_lookup(&t));
	}
	/* Fail closed: a submitter without a tenant, an unknown role. */
	t = token("submitter", "");
	CHECK_CODE(vt_report_scope(&tenant, &t), VT_EDENIED);
	CHECK(tenant == NULL);
	t = token("reviewer", "");
	CHECK_CODE(vt_report_scope(&tenant, &t), VT_EDENIED);
	CHECK_CODE(vt_report_may_lookup(&t), VT_EDENIED);
	t = token("", "");
	CHECK_CODE(vt_report_scope(&tenant, &t), VT_EDENIED);
	CHECK_CODE(vt_report_may_lookup(&t), VT_EDENIED);
	t = token("Admin", "");
	CHECK_CODE(vt_report_scope(&tenant, &t), VT_EDENIED);
}

static vt_index_sample sample_n(uint8_t n)
{
	vt_index_sample s;
	memset(&s, 0, sizeof(s));
	memset(s.sha256.b, n, sizeof(s.sha256.b));
	memset(s.sha1, n, sizeof(s.sha1));
	memset(s.md5, n, sizeof(s.md5));
	s.size = 1000u + n;
	s.first_seen = 1700000000;
	strcpy(s.jurisdiction, "CH-ZRH");
	return s;
}

static void sight(vt_index *idx, const vt_index_sample *s, const char *tenant, const char *region,
		  const char *name, int64_t log_index)
{
	vt_index_sighting v;
	memset(&v, 0, sizeof(v));
	v.sample = s->sha256;
	snprintf(v.tenant, sizeof(v.tenant), "%s", tenant);
	snprintf(v.region, sizeof(v.region), "%s", region);
	snprintf(v.name, sizeof(v.name), "%s", name);
	strcpy(v.source, "EDR.Test");
	v.time = 1700000100;
	v.log_index = log_index;
	CHECK_OK(vt_index_sighting_add(NULL, idx, &v));
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void test_report_file(void)
{
	char d[64] = "/tmp/vt-report-XXXXXX", msg_unknown[256];
	vt_index *idx = NULL;
	vt_index_sample shared = sample_n(1), a_only = sample_n(2), got;
	vt_index_key k_shared, k_a_only, k_unknown, k_md5;
	vt_token a = token("submitter", "acme"), b = token("submitter", "globex"),
		 c = token("submitter", "initech"), ana = token("analyst", ""),
		 aud = token("auditor", ""), odd = token("reviewer", "");
	char hex[65];
	bool is_new;
	vt_buf out;

	CHECK(mkdtemp(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	if (!idx)
		return;
	CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &shared));
	CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &a_only));
	sight(idx, &shared, "acme", "EU", "invoice \"Q3\".exe", 3);
	sight(idx, &shared, "globex", "NA", "globex-secret.exe", 4);
	sight(idx, &shared, "acme", "EU", "", -1);
	sight(idx, &a_only, "acme", "EU", "only-acme.dll", 5);
	CHECK_OK(vt_index_tag_add(idx, &shared.sha256, "trojan"));
	CHECK_OK(vt_index_tag_add(idx, &shared.sha256, "eicar"));
	vt_hex_encode(hex, shared.sha256.b, 32);
	CHECK_OK(vt_lookup_key_parse(&k_shared, hex, 64));
	vt_hex_encode(hex, a_only.sha256.b, 32);
	CHECK_OK(vt_lookup_key_parse(&k_a_only, hex, 64));
	memset(hex, '9', 64);
	CHECK_OK(vt_lookup_key_parse(&k_unknown, hex, 64));
	vt_hex_encode(hex, shared.md5, 16);
	CHECK_OK(vt_lookup_key_parse(&k_md5, hex, 32));
	vt_buf_init(&out, 1 << 20);

	/* acme: the shared file with its own two sightings, none of globex's. */
	CHECK_OK(vt_report_file(&out, idx, &k_shared, &a));
	CHECK(strstr(vt_buf_cstr(&out), "\"sha256\": \"0101") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"md5\": \"01010101010101010101010101010101\"") != NULL);
	CHECK(strstr(vt_buf_cstr(&out),
		     "\"size\": 1001, \"first_seen\": \"2023-11-14T22:13:20Z\"") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"jurisdiction\": \"CH-ZRH\"") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"tags\": [\"eicar\", \"trojan\"]") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"sightings_total\": 2,") != NULL);
	CHECK(count(vt_buf_cstr(&out), "\"tenant\": \"acme\"") == 2);
	CHECK(strstr(vt_buf_cstr(&out), "globex") == NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"name\": \"invoice \\\"Q3\\\".exe\"") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"time\": \"2023-11-14T22:15:00Z\", \"log_index\": 3}") !=
	      NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"log_index\": null}") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "\"log_index\": 4") == NULL);
	vt_buf_reset(&out);
	/* By its MD5 too. */
	CHECK_OK(vt_report_file(&out, idx, &k_md5, &a));
	CHECK(count(vt_buf_cstr(&out), "\"tenant\": \"acme\"") == 2);
	vt_buf_reset(&out);

	/* globex sees the shared file with its one sighting. */
	CHECK_OK(vt_report_file(&out, idx, &k_shared, &b));
	CHECK(strstr(vt_buf_cstr(&out), "\"sightings_total\": 1,") != NULL);
	CHECK(strstr(vt_buf_cstr(&out), "acme") == NULL &&
	      strstr(vt_buf_cstr(&out), "invoice") == NULL);
	vt_buf_reset(&out);

	/* An unknown file, and acme's file asked by others: the same not-found. */
	CHECK_CODE(vt_report_file(&out, idx, &k_unknown, &b), VT_ENOTFOUND);
	snprintf(msg_unknown, sizeof(msg_unknown), "%s", vt_error_last());
	CHECK_CODE(vt_report_file(&out, idx, &k_a_only, &b), VT_ENOTFOUND);
	CHECK(strcmp(vt_error_last(), msg_unknown) == 0);
	CHECK_CODE(vt_report_file(&out, idx, &k_shared, &c), VT_ENOTFOUND);
	CHECK(strcmp(vt_error_last(), msg_unknown) == 0);
	CHECK(out.len == 0);
	CHECK_OK(vt_report_file(&out, idx, &k_a_only, &a));
	CHECK(strstr(vt_buf_cstr(&out), "only-acme.dll") != NULL);
	vt_buf_reset(&out);

	/* Analysts and auditors see every sighting. */
	CHECK_OK(vt_report_file(&out, idx, &k_shared, &ana));
	CHECK(strstr(vt_buf_cstr(&out), "\"sightings_total\": 3,") != NULL);
	CHECK(count(vt_buf_cstr(&out), "\"tenant\": \"acme\"") == 2);
	CHECK(count(vt_buf_cstr(&out), "\"tenant\": \"globex\"") == 1);
	vt_buf_reset(&out);
	CHECK_OK(vt_report_file(&out, idx, &k_a_only, &aud));
	vt_buf_reset(&out);
	CHECK_CODE(vt_report_file(&out, idx, &k_unknown, &ana), VT_ENOTFOUND);
	CHECK_CODE(vt_report_file(&out, idx, &k_shared, &odd), VT_EDENIED);
	CHECK(out.len == 0);

	vt_buf_dispose(&out);
	vt_index_close(idx);
	rm_rf(d);
}

int main(void)
{
	RUN(test_parse_json);
	RUN(test_parse_json_bad);
	RUN(test_parse_text);
	RUN(test_limits);
	RUN(test_answer);
	RUN(test_json_string);
	RUN(test_scope);
	RUN(test_report_file);
	return TEST_DONE();
}
