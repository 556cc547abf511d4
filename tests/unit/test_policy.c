/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the residency policy: format, lookups, signatures, adoption, entry. */
#include "test.h"
#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/note.h"
#include "vitrine/policy.h"

#include <fcntl.h>

/* Read tests/data/policy/<name> into b (initialised here). */
static int load(vt_buf *b, const char *name)
{
	char rel[256];
	vt_buf_init(b, 1 << 20);
	snprintf(rel, sizeof(rel), "policy/%s", name);
	return vt_fs_read(b, AT_FDCWD, test_data_path(rel));
}

static void strip_newline(vt_buf *b)
{
	while (b->len > 0 && b->ptr[b->len - 1] == '\n')
		b->ptr[--b->len] = 0;
}

static int load_signer(vt_note_signer **out, const char *name)
{
	vt_buf b;
	int err;
	if ((err = load(&b, name)) == 0) {
		strip_newline(&b);
		err = vt_note_signer_parse(out, (const char *)b.ptr, b.len);
	}
	vt_buf_dispose(&b);
	return err;
}

static int load_verifier(vt_note_verifier **out, const char *name)
{
	vt_buf b;
	int err;
	if ((err = load(&b, name)) == 0) {
		strip_newline(&b);
		err = vt_note_verifier_parse(out, (const char *)b.ptr, b.len);
	}
	vt_buf_dispose(&b);
	return err;
}

static void round_trip(const char *name, uint64_t version)
{
	vt_policy p;
	vt_buf text, out;

	vt_buf_init(&out, VT_POLICY_MAX_SIZE);
	CHECK_OK(load(&text, name));
	CHECK_OK(vt_policy_parse(&p, (const char *)text.ptr, text.len));
	CHECK(p.version == version);
	CHECK(p.nsites == 4);
	CHECK(p.nregions == 7);
	CHECK_OK(vt_policy_format(&out, &p));
	CHECK(out.len == text.len && memcmp(out.ptr, text.ptr, text.len) == 0);
	vt_policy_dispose(&p);
	CHECK(p.nsites == 0 && p.sites == NULL);
	vt_buf_dispose(&text);
	vt_buf_dispose(&out);
}

static void test_round_trip(void)
{
	vt_policy p;
	vt_buf text;

	round_trip("federation.policy", 3);
	round_trip("federation-v4.policy", 4);

	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(vt_policy_parse(&p, (const char *)text.ptr, text.len));
	CHECK(strcmp(p.sites[0].jurisdiction, "CH-ZRH") == 0);
	CHECK(strcmp(p.sites[2].url, "https://sin.vitrine.example:8443") == 0);
	CHECK(strcmp(p.sites[3].url, "https://iad.vitrine.example/tc") == 0);
	CHECK(strcmp(p.sites[1].vkey, "mow.vitrine.example+73fbdeb6+ASuQAYKCLl/SWrQnaZgNZsecA1z9z"
				      "sAsCawA3AcmBiXj") == 0);
	CHECK(strcmp(vt_note_verifier_name(p.sites[1].verifier), "mow.vitrine.example") == 0);
	CHECK(vt_note_verifier_id(p.sites[1].verifier) == 0x73fbdeb6);
	CHECK(strcmp(p.regions[0].region, "AU") == 0 && p.regions[0].site == 2);
	CHECK(strcmp(p.regions[5].region, "RU") == 0 && p.regions[5].site == 1);
	vt_policy_dispose(&p);
	vt_policy_dispose(&p); /* twice is fine */
	vt_buf_dispose(&text);
}

/* Every rule of the format, each broken in its own file under bad/. */
static void test_rejections(void)
{
	static const struct {
		const char *name;
		int code;
		unsigned line; /* 0: no line to name */
		const char *why;
	} cases[] = {
	    {"unknown-line", VT_EINVAL, 7, "unknown line \"comment here\""},
	    {"bad-header", VT_EINVAL, 1, "first line must be"},
	    {"bad-version-zero", VT_EINVAL, 2, "bad version \"0\""},
	    {"bad-version-leading-zero", VT_EINVAL, 2, "bad version \"03\""},
	    {"bad-version-text", VT_EINVAL, 2, "bad version \"three\""},
	    {"missing-version", VT_EINVAL, 2, "second line must be"},
	    {"second-version", VT_EINVAL, 7, "a second version line"},
	    {"duplicate-region", VT_EINVAL, 9, "duplicate region EU"},
	    {"duplicate-site", VT_EINVAL, 4, "duplicate site CH-ZRH"},
	    {"region-unlisted-site", VT_EINVAL, 9,
	     "region JP maps to JP-TYO, which is not a "
	     "listed site"},
	    {"unsorted-regions", VT_EINVAL, 8, "region AU is out of order"},
	    {"unsorted-sites", VT_EINVAL, 4, "site CH-ZRH is out of order"},
	    {"site-after-region", VT_EINVAL, 14, "site line after a region line"},
	    {"bad-jurisdiction-lower", VT_EINVAL, 3, "bad jurisdiction id \"ch-zrh\""},
	    {"bad-jurisdiction-nodash", VT_EINVAL, 3, "bad jurisdiction id \"CHZRH\""},
	    {"bad-jurisdiction-long", VT_EINVAL, 3, "bad jurisdiction id \"CH-ZURICH123\""},
	    {"bad-region", VT_EINVAL, 8, "bad region \"eu\""},
	    {"bad-url-scheme", VT_EINVAL, 3, "bad base URL \"ftp://"},
	    {"bad-url-trailing-slash", VT_EINVAL, 3, "bad base URL"},
	    {"bad-url-upper-host", VT_EINVAL, 3, "bad base URL"},
	    {"bad-url-query", VT_EINVAL, 3, "bad base URL"},
	    {"bad-url-port", VT_EINVAL, 3, "bad base URL"},
	    {"bad-url-userinfo", VT_EINVAL, 3, "bad base URL"},
	    {"bad-vkey-id", VT_EINVAL, 3, "bad log verifier key"},
	    {"bad-vkey-base64", VT_EINVAL, 3, "bad log verifier key"},
	    {"bad-vkey-cosigner", VT_EINVAL, 3, "is not an Ed25519 key"},
	    {"same-url", VT_EINVAL, 4, "site RU-MOW has the URL of site CH-ZRH"},
	    {"missing-final-newline", VT_EINVAL, 13, "no final newline"},
	    {"crlf", VT_EINVAL, 1, "control character 0x0d"},
	    {"control-tab", VT_EINVAL, 8, "control character 0x09"},
	    {"non-ascii", VT_EINVAL, 8, "non-ASCII byte 0xc3"},
	    {"double-space", VT_EINVAL, 8, "single spaces"},
	    {"trailing-space", VT_EINVAL, 8, "single spaces"},
	    {"blank-line", VT_EINVAL, 7, "empty line"},
	    {"no-regions", VT_EINVAL, 7, "without any region line"},
	    {"no-sites", VT_EINVAL, 3, "region line before any site line"},
	    {"empty", VT_EINVAL, 0, "empty policy"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char file[128], at[64];
		vt_policy p;
		vt_buf text;
		int err;

		snprintf(file, sizeof(file), "bad/%s.policy", cases[i].name);
		CHECK_OK(load(&text, file));
		err = vt_policy_parse(&p, (const char *)text.ptr, text.len);
		snprintf(at, sizeof(at), "policy line %u: ", cases[i].line);
		if (err != cases[i].code || !strstr(vt_error_last(), cases[i].why) ||
		    (cases[i].line && strncmp(vt_error_last(), at, strlen(at)) != 0))
			fprintf(stderr, "case %s: got %d \"%s\"\n", cases[i].name, err,
				vt_error_last());
		CHECK(err == cases[i].code);
		CHECK(strstr(vt_error_last(), cases[i].why) != NULL);
		CHECK(cases[i].line == 0 || strncmp(vt_error_last(), at, strlen(at)) == 0);
		/* A failed parse leaves nothing to free. */
		CHECK(p.nsites == 0 && p.sites == NULL && p.regions == NULL);
		vt_buf_dispose(&text);
	}
}

/* Checks of single fields, including the edges of each rule. */
static void test_fields(void)
{
	static const char *const good_j[] = {"CH-ZRH", "RU-MOW", "US-1", "DE-FRA12345"};
	static const char *const bad_j[] = {"",	      "CH",	"CH-",	    "C-ZRH",
					    "CH_ZRH", "CH-zrh", "CH-ZRH-1", "CH-ZRH123456",
					    "ch-ZRH", "CH ZRH"};
	static const char *const good_r[] = {
	    "EU", "NA", "SG", "JP", "KR", "AU", "RU", "APAC2", "ABCDEFGHIJKLMNOP"};
	static const char *const bad_r[] = {"", "E", "eu", "2EU", "E-U", "ABCDEFGHIJKLMNOPQ"};
	for (size_t i = 0; i < sizeof(good_j) / sizeof(good_j[0]); i++)
		CHECK_OK(vt_policy_check_jurisdiction(good_j[i], strlen(good_j[i])));
	for (size_t i = 0; i < sizeof(bad_j) / sizeof(bad_j[0]); i++)
		CHECK_CODE(vt_policy_check_jurisdiction(bad_j[i], strlen(bad_j[i])), VT_EINVAL);
	for (size_t i = 0; i < sizeof(good_r) / sizeof(good_r[0]); i++)
		CHECK_OK(vt_policy_check_region(good_r[i], strlen(good_r[i])));
	for (size_t i = 0; i < sizeof(bad_r) / sizeof(bad_r[0]); i++)
		CHECK_CODE(vt_policy_check_region(bad_r[i], strlen(bad_r[i])), VT_EINVAL);
}

/* URLs, one site line at a time, in an otherwise valid policy. */
static void test_urls(void)
{
	static const char *const good[] = {
	    "https://zrh.vitrine.example",  "http://127.0.0.1:8080", "https://[::1]:8443",
	    "https://a-b.example/x/y_z.~-", "http://localhost",	     "https://x.example:65535",
	};
	static const char *const bad[] = {
	    "https://",
	    "https://zrh.vitrine.example/",
	    "https://-a.example",
	    "https://a-.example",
	    "https://a..example",
	    "https://.a.example",
	    "https://a.example.",
	    "https://a.example:",
	    "https://a.example:65536",
	    "https://a.example:080",
	    "https://a.example//x",
	    "https://a.example/./x",
	    "https://a.example/../x",
	    "https://a.example/x#f",
	    "https://a.example/%41",
	    "HTTPS://a.example",
	    "https:/a.example",
	    "https://[::1",
	    "https://[]",
	    "https://a_b.example",
	};
	const char *vkey = "zrh.vitrine.example+6168d2b4+ARL791aArjAm1Wr14YvNH7J8U/D7DmwwCi3Gdmg"
			   "FMzlK";
	char text[1024];
	vt_policy p;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text),
			 "vitrine/1 policy\nversion 1\nsite CH-ZRH %s %s\nregion EU CH-ZRH\n",
			 good[i], vkey);
		CHECK_OK(vt_policy_parse(&p, text, strlen(text)));
		vt_policy_dispose(&p);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err;
		snprintf(text, sizeof(text),
			 "vitrine/1 policy\nversion 1\nsite CH-ZRH %s %s\nregion EU CH-ZRH\n",
			 bad[i], vkey);
		err = vt_policy_parse(&p, text, strlen(text));
		if (err != VT_EINVAL)
			fprintf(stderr, "URL %s was accepted\n", bad[i]);
		CHECK(err == VT_EINVAL);
		CHECK(strstr(vt_error_last(), "policy line 3: bad base URL") != NULL);
	}
	/* Too long, though well formed. */
	{
		char url[400] = "https://a.example/";
		memset(url + strlen(url), 'x', 260);
		url[18 + 260] = 0;
		snprintf(text, sizeof(text),
			 "vitrine/1 policy\nversion 1\nsite CH-ZRH %s %s\nregion EU CH-ZRH\n", url,
			 vkey);
		CHECK_CODE(vt_policy_parse(&p, text, strlen(text)), VT_EINVAL);
	}
	/* The biggest version there is. */
	snprintf(text, sizeof(text),
		 "vitrine/1 policy\nversion 18446744073709551615\nsite CH-ZRH %s %s\n"
		 "region EU CH-ZRH\n",
		 good[0], vkey);
	CHECK_OK(vt_policy_parse(&p, text, strlen(text)));
	CHECK(p.version == UINT64_MAX);
	vt_policy_dispose(&p);
	snprintf(text, sizeof(text),
		 "vitrine/1 policy\nversion 18446744073709551616\nsite CH-ZRH %s %s\n"
		 "region EU CH-ZRH\n",
		 good[0], vkey);
	CHECK_CODE(vt_policy_parse(&p, text, strlen(text)), VT_EINVAL);
	/* Too big as a whole. */
	{
		static char big[VT_POLICY_MAX_SIZE + 2];
		memset(big, 'x', sizeof(big));
		CHECK_CODE(vt_policy_parse(&p, big, sizeof(big)), VT_ETOOBIG);
	}
}

static void test_lookups(void)
{
	const vt_policy_site *s = NULL;
	vt_policy_place place;
	vt_policy p;
	vt_buf text;

	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(vt_policy_parse(&p, (const char *)text.ptr, text.len));

	CHECK_OK(vt_policy_lookup(&s, &p, "EU"));
	CHECK(s && strcmp(s->jurisdiction, "CH-ZRH") == 0);
	CHECK(s && strcmp(s->url, "https://zrh.vitrine.example") == 0);
	CHECK_OK(vt_policy_lookup(&s, &p, "RU"));
	CHECK(s && strcmp(s->jurisdiction, "RU-MOW") == 0);
	CHECK_OK(vt_policy_lookup(&s, &p, "NA"));
	CHECK(s && strcmp(s->url, "https://iad.vitrine.example/tc") == 0);
	CHECK_CODE(vt_policy_lookup(&s, &p, "BR"), VT_ENOTFOUND);
	CHECK(s == NULL);
	CHECK(strstr(vt_error_last(), "no site for region BR") != NULL);
	CHECK_CODE(vt_policy_lookup(&s, &p, "E"), VT_ENOTFOUND);
	CHECK_CODE(vt_policy_lookup(&s, &p, "EUR"), VT_ENOTFOUND);
	CHECK_CODE(vt_policy_lookup(&s, &p, ""), VT_ENOTFOUND);

	CHECK_OK(vt_policy_find_site(&s, &p, "SG-SIN"));
	CHECK(s && strcmp(s->url, "https://sin.vitrine.example:8443") == 0);
	CHECK_CODE(vt_policy_find_site(&s, &p, "JP-TYO"), VT_ENOTFOUND);
	CHECK_CODE(vt_policy_find_site(&s, &p, "CH-ZR"), VT_ENOTFOUND);

	/* Seen from Zurich: its own region, another site's, and nobody's. */
	CHECK_OK(vt_policy_residency(&place, &s, &p, "EU", "CH-ZRH"));
	CHECK(place == VT_POLICY_HERE && s && strcmp(s->jurisdiction, "CH-ZRH") == 0);
	CHECK_OK(vt_policy_residency(&place, &s, &p, "RU", "CH-ZRH"));
	CHECK(place == VT_POLICY_ELSEWHERE && s &&
	      strcmp(s->url, "https://mow.vitrine.example") == 0);
	CHECK_OK(vt_policy_residency(&place, &s, &p, "BR", "CH-ZRH"));
	CHECK(place == VT_POLICY_NOWHERE && s == NULL);
	CHECK_OK(vt_policy_residency(&place, NULL, &p, "RU", "RU-MOW"));
	CHECK(place == VT_POLICY_HERE);
	/* A site not in the policy holds nothing. */
	CHECK_OK(vt_policy_residency(&place, &s, &p, "EU", "DE-FRA"));
	CHECK(place == VT_POLICY_ELSEWHERE);

	vt_policy_dispose(&p);
	vt_buf_dispose(&text);
}

/* A hand-built struct that breaks a rule does not format. */
static void test_format_rejects(void)
{
	vt_policy p, q;
	vt_buf text, out;
	vt_policy_site tmp;

	vt_buf_init(&out, VT_POLICY_MAX_SIZE);
	vt_policy_init(&q);
	CHECK_CODE(vt_policy_format(&out, &q), VT_EINVAL);
	CHECK(out.len == 0);
	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(vt_policy_parse(&p, (const char *)text.ptr, text.len));
	CHECK_OK(vt_buf_adds(&out, "keep"));
	tmp = p.sites[0];
	p.sites[0] = p.sites[1];
	p.sites[1] = tmp;
	CHECK_CODE(vt_policy_format(&out, &p), VT_EINVAL);
	CHECK(out.len == 4 && memcmp(out.ptr, "keep", 4) == 0);
	tmp = p.sites[0];
	p.sites[0] = p.sites[1];
	p.sites[1] = tmp;
	p.regions[0].site = 99;
	CHECK_CODE(vt_policy_format(&out, &p), VT_EINVAL);
	p.regions[0].site = 2;
	snprintf(p.sites[0].url, sizeof(p.sites[0].url), "https://zrh.vitrine.example/");
	CHECK_CODE(vt_policy_format(&out, &p), VT_EINVAL);
	CHECK(out.len == 4);
	vt_policy_dispose(&p);
	vt_buf_dispose(&text);
	vt_buf_dispose(&out);
}

static void test_sign_open(void)
{
	vt_note_signer *s = NULL, *other = NULL, *cosigner = NULL;
	vt_note_verifier *v = NULL, *vother = NULL;
	vt_policy p, want;
	vt_buf text, note, bad;

	vt_buf_init(&note, 1 << 20);
	vt_buf_init(&bad, 1 << 20);
	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(vt_policy_parse(&want, (const char *)text.ptr, text.len));
	CHECK_OK(vt_note_signer_generate(&s, "policy.test", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_generate(&other, "policy.test", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_generate(&cosigner, "policy.test", VT_NOTE_COSIG));
	CHECK_OK(vt_note_signer_verifier(&v, s));
	CHECK_OK(vt_note_signer_verifier(&vother, other));

	CHECK_OK(vt_policy_sign(&note, (const char *)text.ptr, text.len, s));
	CHECK(note.len > text.len && memcmp(note.ptr, text.ptr, text.len) == 0);
	CHECK_OK(vt_policy_open(&p, (const char *)note.ptr, note.len, v));
	CHECK(vt_policy_equal(&p, &want));
	vt_policy_dispose(&p);

	/* Another key of the same name: the signature does not verify. */
	CHECK_CODE(vt_policy_open(&p, (const char *)note.ptr, note.len, vother), VT_EVERIFY);
	CHECK(p.nsites == 0);

	/* Tampered: Russia's data moved to Zurich without a new signature. */
	CHECK_OK(vt_buf_add(&bad, note.ptr, note.len));
	{
		char *at = strstr((char *)bad.ptr, "region RU RU-MOW");
		CHECK(at != NULL);
		if (at)
			memcpy(at, "region RU CH-ZRH", 16);
	}
	CHECK_CODE(vt_policy_open(&p, (const char *)bad.ptr, bad.len, v), VT_EVERIFY);
	/* Tampered version number. */
	vt_buf_reset(&bad);
	CHECK_OK(vt_buf_add(&bad, note.ptr, note.len));
	bad.ptr[strlen("vitrine/1 policy\nversion ")] = '9';
	CHECK_CODE(vt_policy_open(&p, (const char *)bad.ptr, bad.len, v), VT_EVERIFY);
	/* Signature removed. */
	CHECK_CODE(vt_policy_open(&p, (const char *)text.ptr, text.len, v), VT_EINVAL);

	/* Invalid policy text is not signed; neither by a cosigner key. */
	vt_buf_reset(&bad);
	CHECK_CODE(vt_policy_sign(&bad, "vitrine/1 policy\nversion 1\n", 27, s), VT_EINVAL);
	CHECK(bad.len == 0);
	CHECK_CODE(vt_policy_sign(&bad, (const char *)text.ptr, text.len, cosigner), VT_EINVAL);
	CHECK(bad.len == 0);

	/* A validly signed note whose text is no policy does not open. */
	vt_buf_reset(&bad);
	CHECK_OK(vt_note_sign(&bad, "hello\n", 6, &s, 1));
	CHECK_CODE(vt_policy_open(&p, (const char *)bad.ptr, bad.len, v), VT_EINVAL);
	CHECK(strstr(vt_error_last(), "policy line 1") != NULL);

	vt_policy_dispose(&want);
	vt_note_signer_free(s);
	vt_note_signer_free(other);
	vt_note_signer_free(cosigner);
	vt_note_verifier_free(v);
	vt_note_verifier_free(vother);
	vt_buf_dispose(&text);
	vt_buf_dispose(&note);
	vt_buf_dispose(&bad);
}

/* Known answer: Ed25519 is deterministic, so the signed policy is a vector. */
static void test_signed_vector(void)
{
	vt_note_signer *s = NULL;
	vt_note_verifier *v = NULL;
	vt_buf text, want, got;
	vt_policy p;

	vt_buf_init(&got, 1 << 20);
	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(load(&want, "federation.policy.signed"));
	CHECK_OK(load_signer(&s, "policy.key"));
	CHECK_OK(load_verifier(&v, "policy.vkey"));
	if (s && v) {
		CHECK_OK(vt_policy_sign(&got, (const char *)text.ptr, text.len, s));
		CHECK(got.len == want.len && memcmp(got.ptr, want.ptr, want.len) == 0);
		CHECK_OK(vt_policy_open(&p, (const char *)want.ptr, want.len, v));
		CHECK(p.version == 3);
		vt_policy_dispose(&p);
	}
	vt_note_signer_free(s);
	vt_note_verifier_free(v);
	vt_buf_dispose(&text);
	vt_buf_dispose(&want);
	vt_buf_dispose(&got);
}

static void test_adoption(void)
{
	vt_policy v3, v4, v3b;
	vt_buf t3, t4;
	int already = -1;

	CHECK_OK(load(&t3, "federation.policy"));
	CHECK_OK(load(&t4, "federation-v4.policy"));
	CHECK_OK(vt_policy_parse(&v3, (const char *)t3.ptr, t3.len));
	CHECK_OK(vt_policy_parse(&v4, (const char *)t4.ptr, t4.len));
	/* Version 3 with version 4's regions: same number, other content. */
	CHECK_OK(vt_policy_parse(&v3b, (const char *)t4.ptr, t4.len));
	v3b.version = 3;

	CHECK_OK(vt_policy_adoption(&already, NULL, &v3));
	CHECK(already == 0);
	CHECK_OK(vt_policy_adoption(&already, &v3, &v4));
	CHECK(already == 0);
	already = -1;
	CHECK_OK(vt_policy_adoption(&already, &v4, &v4));
	CHECK(already == 1);
	CHECK_CODE(vt_policy_adoption(&already, &v4, &v3), VT_EEXISTS);
	CHECK(strstr(vt_error_last(), "no rollback") != NULL);
	CHECK(already == 0);
	CHECK_CODE(vt_policy_adoption(&already, &v3, &v3b), VT_EEXISTS);
	CHECK(strstr(vt_error_last(), "needs a higher version") != NULL);
	CHECK(!vt_policy_equal(&v3, &v3b));
	CHECK(vt_policy_equal(&v3, &v3));

	vt_policy_dispose(&v3);
	vt_policy_dispose(&v4);
	vt_policy_dispose(&v3b);
	vt_buf_dispose(&t3);
	vt_buf_dispose(&t4);
}

static void test_entry(void)
{
	vt_policy p;
	vt_buf text, signed_policy, entry, want;
	vt_hash digest, h;
	uint64_t version = 0;

	vt_buf_init(&entry, 4096);
	CHECK_OK(load(&text, "federation.policy"));
	CHECK_OK(load(&signed_policy, "federation.policy.signed"));
	CHECK_OK(load(&want, "federation.entry"));
	CHECK_OK(vt_policy_parse(&p, (const char *)text.ptr, text.len));
	CHECK_OK(vt_policy_entry(&entry, &p, signed_policy.ptr, signed_policy.len));
	CHECK(entry.len == want.len && memcmp(entry.ptr, want.ptr, want.len) == 0);
	CHECK_OK(vt_note_check_text((const char *)entry.ptr, entry.len));
	CHECK_OK(vt_policy_entry_parse(&version, &digest, (const char *)entry.ptr, entry.len));
	CHECK(version == 3);
	CHECK_OK(vt_sha256(&h, signed_policy.ptr, signed_policy.len));
	CHECK(vt_hash_equal(&h, &digest));

	{
		static const char *const bad[] = {
		    "",
		    "vitrine/1 policy\nversion 3\n",
		    "vitrine/1 policy\nversion 0\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n",
		    "vitrine/1 policy\nversion 03\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n",
		    "vitrine/1 policy\nversion 3\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000",
		    "vitrine/1 policy\nversion 3\ndigest sha256:"
		    "00000000000000000000000000000000000000000000000000000000000000AB\n",
		    "vitrine/1 policy\nversion 3\ndigest sha256:"
		    "000000000000000000000000000000000000000000000000000000000000000\n",
		    "vitrine/1 policy\nversion 3\ndigest sha512:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n",
		    "vitrine/1 policy\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n"
		    "version 3\n",
		    "vitrine/1 policy\nversion 3\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n\n",
		    "vitrine/1 sample\nversion 3\ndigest sha256:"
		    "0000000000000000000000000000000000000000000000000000000000000000\n",
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECK_CODE(vt_policy_entry_parse(&version, &digest, bad[i], strlen(bad[i])),
				   VT_EINVAL);
	}
	vt_policy_dispose(&p);
	vt_buf_dispose(&text);
	vt_buf_dispose(&signed_policy);
	vt_buf_dispose(&entry);
	vt_buf_dispose(&want);
}

int main(void)
{
	RUN(test_round_trip);
	RUN(test_rejections);
	RUN(test_fields);
	RUN(test_urls);
	RUN(test_lookups);
	RUN(test_format_rejects);
	RUN(test_sign_open);
	RUN(test_signed_vector);
	RUN(test_adoption);
	RUN(test_entry);
	return TEST_DONE();
}
