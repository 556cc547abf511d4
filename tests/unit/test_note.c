/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed notes: Go's golang.org/x/mod/sumdb/note vectors and open/verify
 * cases, an independently computed cosignature/v1 vector, and a negative
 * case for every strictness rule.
 */
#include "vitrine/buf.h"
#include "vitrine/ed25519.h"
#include "vitrine/encoding.h"
#include "vitrine/note.h"

#include "test.h"

#include <stdint.h>
#include <time.h>

#define PETER_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define TEXT                                                                                       \
	"If you think cryptography is the answer to your problem,\n"                               \
	"then you don't know what your problem is.\n"
#define PETER_B64                                                                                  \
	"x08go/ZJkuBS9UG/"                                                                         \
	"SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
#define PETER_SIG "\xe2\x80\x94 PeterNeumann " PETER_B64 "\n"
#define ENOCH_SIG                                                                                  \
	"\xe2\x80\x94 EnochRoot "                                                                  \
	"rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                             \
	"5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+"                                            \
	"QQ=\n"
#define SUMDB_VKEY "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"

static vt_note_verifier *verifier(const char *vkey)
{
	vt_note_verifier *v = NULL;
	CHECK_OK(vt_note_verifier_parse(&v, vkey, strlen(vkey)));
	return v;
}

static int open_str(vt_note *n, const char *msg, vt_note_verifier *const *vs, size_t nv)
{
	return vt_note_open(n, msg, strlen(msg), vs, nv);
}

static char *read_all(const char *rel, size_t *len)
{
	FILE *f = fopen(test_data_path(rel), "rb");
	char *p = NULL;
	long n;

	if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0 ||
	    (p = calloc(1, (size_t)n + 1)) == NULL || fread(p, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "cannot read %s\n", test_data_path(rel));
		exit(1);
	}
	fclose(f);
	*len = (size_t)n;
	return p;
}

/* The value after "key " on its line in text, copied into out. */
static void field(char *out, size_t cap, const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *p = text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (n > klen && strncmp(p, key, klen) == 0 && p[klen] == ' ' &&
		    n - klen - 1 < cap) {
			memcpy(out, p + klen + 1, n - klen - 1);
			out[n - klen - 1] = '\0';
			return;
		}
		p = nl ? nl + 1 : NULL;
	}
	fprintf(stderr, "no field %s\n", key);
	exit(1);
}

/* Go's TestSign: our signer reproduces Go's signed note byte for byte. */
static void test_go_sign(void)
{
	static const char want[] = TEXT "\n" PETER_SIG;
	vt_note_signer *s = NULL;
	vt_buf out, k;

	vt_buf_init(&out, 1 << 16);
	vt_buf_init(&k, 1024);
	CHECK_OK(vt_note_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)));
	if (!s)
		return;
	CHECK(strcmp(vt_note_signer_name(s), "PeterNeumann") == 0);
	CHECK(vt_note_signer_id(s) == 0xc74f20a3);
	CHECK(vt_note_signer_type(s) == VT_NOTE_ED25519);
	CHECK_OK(vt_note_signer_vkey(&k, s));
	CHECK(strcmp(vt_buf_cstr(&k), PETER_VKEY) == 0);
	vt_buf_reset(&k);
	CHECK_OK(vt_note_signer_skey(&k, s));
	CHECK(strcmp(vt_buf_cstr(&k), PETER_SKEY) == 0);

	CHECK_OK(vt_note_sign(&out, TEXT, strlen(TEXT), &s, 1));
	CHECK(out.len == strlen(want) && memcmp(out.ptr, want, out.len) == 0);

	/* Go's bad inputs: text without a final newline. */
	vt_buf_reset(&out);
	CHECK_CODE(vt_note_sign(&out, "abc", 3, &s, 1), VT_EINVAL);
	CHECK(out.len == 0);

	vt_note_signer_free(s);
	vt_buf_dispose(&out);
	vt_buf_dispose(&k);
}

/* Go's TestNewVerifier and TestNewSigner: every mangling is rejected. */
static void test_go_key_mangling(void)
{
	const char *keys[] = {PETER_VKEY, PETER_SKEY};
	int accepted = 0;

	for (int which = 0; which < 2; which++) {
		char b[128];
		size_t len = strlen(keys[which]);
		memcpy(b, keys[which], len + 1);
		for (size_t i = 0; i <= len; i++) {
			for (size_t j = i + 1; j <= len; j++) {
				vt_note_verifier *v = NULL;
				vt_note_signer *s = NULL;
				if (i == 0 && j == len)
					continue;
				if (which == 0 && vt_note_verifier_parse(&v, b + i, j - i) == 0)
					accepted++;
				if (which == 1 && vt_note_signer_parse(&s, b + i, j - i) == 0)
					accepted++;
				vt_note_verifier_free(v);
				vt_note_signer_free(s);
			}
		}
		for (size_t i = 0; i < len; i++) {
			vt_note_verifier *v = NULL;
			vt_note_signer *s = NULL;
			b[i]++;
			if (which == 0 && vt_note_verifier_parse(&v, b, len) == 0)
				accepted++;
			if (which == 1 && vt_note_signer_parse(&s, b, len) == 0)
				accepted++;
			vt_note_verifier_free(v);
			vt_note_signer_free(s);
			b[i]--;
		}
	}
	CHECK(accepted == 0);

	vt_note_verifier *v = NULL;
	/* Wrong key length with adjusted id; unknown algorithm with adjusted id. */
	const char *bad[] = {
	    "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
	    "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	    "PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
	    "PeterNeumann+c74f20a3",
	    "",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_CODE(vt_note_verifier_parse(&v, bad[i], strlen(bad[i])), VT_EINVAL);
		CHECK(v == NULL);
	}
	vt_note_signer *s = NULL;
	CHECK_CODE(vt_note_signer_parse(&s, PETER_VKEY, strlen(PETER_VKEY)), VT_EINVAL);
	CHECK(s == NULL);
}

static void test_key_ids(void)
{
	vt_note_verifier *v = verifier(SUMDB_VKEY), *w = NULL;
	uint8_t key[33];
	const char *bad = "sum.golang.org+033de0af+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8";

	if (v) {
		CHECK(vt_note_verifier_id(v) == 0x033de0ae);
		CHECK(strcmp(vt_note_verifier_name(v), "sum.golang.org") == 0);
		CHECK(vt_note_verifier_type(v) == VT_NOTE_ED25519);
	}
	CHECK_CODE(vt_note_verifier_parse(&w, bad, strlen(bad)), VT_EINVAL);

	/* vt_note_key_id on the raw key gives the published id. */
	CHECK_OK(
	    vt_base64_decode_exact(key, 33, "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 44));
	CHECK(vt_note_key_id("PeterNeumann", VT_NOTE_ED25519, key + 1) == 0xc74f20a3);
	CHECK(vt_note_key_id("PeterNeumann", VT_NOTE_COSIG, key + 1) != 0xc74f20a3);

	/* A verifier made from the raw key prints the same vkey. */
	vt_buf b;
	vt_buf_init(&b, 256);
	CHECK_OK(vt_note_verifier_new(&w, "PeterNeumann", VT_NOTE_ED25519, key + 1));
	if (w) {
		CHECK_OK(vt_note_verifier_vkey(&b, w));
		CHECK(strcmp(vt_buf_cstr(&b), PETER_VKEY) == 0);
		CHECK(memcmp(vt_note_verifier_pub(w), key + 1, 32) == 0);
	}
	vt_note_verifier_free(w);
	w = NULL;
	CHECK_CODE(vt_note_verifier_new(&w, "a b", VT_NOTE_ED25519, key + 1), VT_EINVAL);
	CHECK_CODE(vt_note_verifier_new(&w, "ab", 2, key + 1), VT_EINVAL);
	vt_buf_dispose(&b);
	vt_note_verifier_free(v);
}

/* Go's TestOpen, case by case. */
static void test_go_open(void)
{
	vt_note_verifier *peter = verifier(PETER_VKEY), *enoch = verifier(ENOCH_VKEY);
	vt_note n;
	vt_buf m;

	vt_buf_init(&m, VT_NOTE_MAX_SIZE);

	/* One signature verified, one unknown. */
	CHECK_OK(open_str(&n, TEXT "\n" PETER_SIG ENOCH_SIG, &peter, 1));
	CHECK(n.text_len == strlen(TEXT) && memcmp(n.text, TEXT, n.text_len) == 0);
	CHECK(n.nsigs == 1 && n.sigs[0].by == peter && n.sigs[0].timestamp == 0);
	CHECK(n.nunknown == 1);

	/* Both verified, in note order. */
	vt_note_verifier *both[] = {enoch, peter};
	CHECK_OK(open_str(&n, TEXT "\n" PETER_SIG ENOCH_SIG, both, 2));
	CHECK(n.nsigs == 2 && n.sigs[0].by == peter && n.sigs[1].by == enoch);
	CHECK(n.nunknown == 0);

	/* No known key. */
	CHECK_CODE(open_str(&n, TEXT "\n" PETER_SIG ENOCH_SIG, NULL, 0), VT_EVERIFY);
	CHECK(n.nsigs == 0 && n.text == NULL);

	/* A duplicated verifier that matches a signature is ambiguous. */
	vt_note_verifier *dup[] = {enoch, peter, enoch};
	CHECK_CODE(open_str(&n, TEXT "\n" ENOCH_SIG, dup, 3), VT_EINVAL);
	/* ... and harmless when unused. */
	CHECK_OK(open_str(&n, TEXT "\n" PETER_SIG, dup, 3));

	/* Too many signatures, with or without known keys; 100 is fine. */
	vt_buf_adds(&m, TEXT "\n");
	for (int i = 0; i < 100; i++)
		vt_buf_adds(&m, PETER_SIG);
	CHECK_OK(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1));
	CHECK(n.nsigs == 1);
	vt_buf_adds(&m, PETER_SIG);
	CHECK_CODE(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1), VT_EINVAL);
	CHECK_CODE(vt_note_open(&n, (char *)m.ptr, m.len, NULL, 0), VT_EINVAL);
	/* The limit holds for unknown keys too. */
	vt_buf_reset(&m);
	vt_buf_adds(&m, TEXT "\n" PETER_SIG);
	for (int i = 0; i < 100; i++)
		vt_buf_adds(&m, ENOCH_SIG);
	CHECK_CODE(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1), VT_EINVAL);

	/* A known key's signature that does not verify (4 bytes inserted). */
	vt_buf_reset(&m);
	vt_buf_adds(&m, TEXT "\n");
	vt_buf_add(&m, PETER_SIG, 60);
	vt_buf_adds(&m, "ABCD");
	vt_buf_adds(&m, &PETER_SIG[60]);
	CHECK_CODE(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1), VT_EVERIFY);

	/* Repeated signatures: a key is reported once, unknown lines counted. */
	vt_buf_reset(&m);
	vt_buf_adds(&m, TEXT "\n" PETER_SIG PETER_SIG ENOCH_SIG ENOCH_SIG);
	vt_buf_add(&m, ENOCH_SIG, 60);
	vt_buf_adds(&m, "ABCD");
	vt_buf_adds(&m, &ENOCH_SIG[60]);
	CHECK_OK(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1));
	CHECK(n.nsigs == 1 && n.sigs[0].by == peter && n.nunknown == 3);

	/* Go's malformed messages. */
	const char *bad[] = {
	    TEXT,
	    TEXT "\n",
	    TEXT "\n\xe2\x80\x94 PeterNeumann " PETER_B64,
	    "\x01" TEXT "\n" PETER_SIG,
	    "\xff" TEXT "\n" PETER_SIG,
	    TEXT "\n\xe2\x80\x94 Bad Name " PETER_B64,
	    TEXT "\n\xe2\x80\x94 Bad Name " PETER_B64 "\n",
	    TEXT "\n" PETER_SIG "Unexpected line.\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_CODE(open_str(&n, bad[i], &peter, 1), VT_EINVAL);
		CHECK_CODE(vt_note_check(NULL, bad[i], strlen(bad[i])), VT_EINVAL);
	}

	/* Another name or key id: an unknown key, so nothing verified. */
	CHECK_CODE(open_str(&n, TEXT "\n\xe2\x80\x94 CarmenSandiego " PETER_B64 "\n", &peter, 1),
		   VT_EVERIFY);
	vt_buf_reset(&m);
	vt_buf_adds(&m, TEXT "\n" PETER_SIG);
	memcpy(strstr((char *)m.ptr, "x08g"), "xxxx", 4);
	CHECK_CODE(vt_note_open(&n, (char *)m.ptr, m.len, &peter, 1), VT_EVERIFY);

	vt_buf_dispose(&m);
	vt_note_verifier_free(peter);
	vt_note_verifier_free(enoch);
}

/* One negative case per strictness rule beyond Go's. */
static void test_strict(void)
{
	vt_note_verifier *peter = verifier(PETER_VKEY);
	vt_note n;
	size_t tl = 0;

	/* The good note, as a baseline, and its text length. */
	CHECK_OK(vt_note_check(&tl, TEXT "\n" PETER_SIG, strlen(TEXT "\n" PETER_SIG)));
	CHECK(tl == strlen(TEXT));

	struct {
		const char *msg;
		int code;
	} cases[] = {
	    /* control characters anywhere */
	    {"If you\tthink\n\n" PETER_SIG, VT_EINVAL},
	    {TEXT "\r\n" PETER_SIG, VT_EINVAL},
	    {TEXT "\n" PETER_SIG "\r", VT_EINVAL},
	    {"a\x7f\n\n\xe2\x80\x94 k\x01 AAAAAAA=\n", VT_EINVAL},
	    /* invalid UTF-8: overlong, surrogate, above U+10FFFF, truncated, bare continuation */
	    {"\xc0\x80\n\n" PETER_SIG, VT_EINVAL},
	    {"\xe0\x80\xaf\n\n" PETER_SIG, VT_EINVAL},
	    {"\xed\xa0\x80\n\n" PETER_SIG, VT_EINVAL},
	    {"\xf4\x90\x80\x80\n\n" PETER_SIG, VT_EINVAL},
	    {"\xe2\x80\n\n" PETER_SIG, VT_EINVAL},
	    {"\x80\n\n" PETER_SIG, VT_EINVAL},
	    /* layout */
	    {"", VT_EINVAL},
	    {"\n", VT_EINVAL},
	    {"\n\n", VT_EINVAL},
	    {PETER_SIG, VT_EINVAL},
	    {TEXT "\n" PETER_SIG "\n", VT_EINVAL},
	    {TEXT "\n" PETER_SIG "\n" PETER_SIG "x", VT_EINVAL},
	    /* signature lines */
	    {TEXT "\n- PeterNeumann " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94PeterNeumann " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94  " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 Peter+Neumann " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 Peter\xc2\xa0Neumann " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 Peter\xe3\x80\x80Neumann " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann \n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann  " PETER_B64 "\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann " PETER_B64 " \n", VT_EINVAL},
	    /* base64: bad alphabet, missing padding, non-zero unused bits, only a key id */
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJ-uBS\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJkuB\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08go/Z=\n", VT_EINVAL},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08goA==\n", VT_EINVAL},
	    /* known key, key id plus a short signature: well-formed but does not verify */
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08go/Y=\n", VT_EVERIFY},
	    {TEXT "\n\xe2\x80\x94 PeterNeumann x08go/ZJ\n", VT_EVERIFY},
	    /* unknown key with a short but well-formed signature: no known signer */
	    {TEXT "\n\xe2\x80\x94 Other x08go/ZJ\n", VT_EVERIFY},
	    /* text changed under a good signature */
	    {"If you think cryptography is the answer to your problem,\n"
	     "then you don't know what your problem is!\n\n" PETER_SIG,
	     VT_EVERIFY},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = open_str(&n, cases[i].msg, &peter, 1);
		if (got != cases[i].code)
			fprintf(stderr, "strict case %zu: got %d want %d\n", i, got, cases[i].code);
		CHECK(got == cases[i].code);
	}

	/* A flipped bit in the signature. */
	char msg[] = TEXT "\n" PETER_SIG;
	char *b64 = strstr(msg, "x08go") + 20;
	*b64 = *b64 == 'A' ? 'B' : 'A';
	CHECK_CODE(open_str(&n, msg, &peter, 1), VT_EVERIFY);

	/* Texts may hold blank lines; the last blank line splits. */
	vt_note_signer *s = NULL;
	vt_buf b;
	vt_buf_init(&b, 4096);
	CHECK_OK(vt_note_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)));
	const char *texts[] = {"a\n\nb\n", "\n", "a\n\n", "\xe2\x80\x94 x\n", "\xf0\x9f\x90\xa2\n"};
	for (size_t i = 0; s && i < sizeof(texts) / sizeof(texts[0]); i++) {
		vt_buf_reset(&b);
		CHECK_OK(vt_note_sign(&b, texts[i], strlen(texts[i]), &s, 1));
		CHECK_OK(vt_note_open(&n, (char *)b.ptr, b.len, &peter, 1));
		CHECK(n.text_len == strlen(texts[i]) && memcmp(n.text, texts[i], n.text_len) == 0);
	}

	/* Too big. */
	size_t big = VT_NOTE_MAX_SIZE + 1;
	char *p = malloc(big);
	memset(p, 'a', big);
	p[big - 1] = '\n';
	CHECK_CODE(vt_note_open(&n, p, big, &peter, 1), VT_ETOOBIG);
	vt_buf_reset(&b);
	CHECK_CODE(vt_note_sign(&b, p, big, &s, 1), VT_ETOOBIG);
	free(p);

	vt_buf_dispose(&b);
	vt_note_signer_free(s);
	vt_note_verifier_free(peter);
}

static void test_sign_errors(void)
{
	vt_note_signer *s = NULL;
	vt_buf b;

	vt_buf_init(&b, 4096);
	CHECK_OK(vt_note_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)));
	vt_buf_adds(&b, "keep");
	const char *bad[] = {"", "no newline", "tab\there\n", "cr\r\n", "\xff\n", "nul\0x\n"};
	size_t lens[] = {0, 10, 9, 4, 2, 6};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_CODE(vt_note_sign(&b, bad[i], lens[i], &s, 1), VT_EINVAL);
		CHECK(b.len == 4 && strcmp(vt_buf_cstr(&b), "keep") == 0);
	}
	CHECK_CODE(vt_note_sign(&b, "x\n", 2, &s, 0), VT_EINVAL);
	/* A buffer too small leaves it unchanged. */
	vt_buf small;
	vt_buf_init(&small, 40);
	vt_buf_adds(&small, "keep");
	CHECK_CODE(vt_note_sign(&small, TEXT, strlen(TEXT), &s, 1), VT_ETOOBIG);
	CHECK(small.len == 4 && strcmp(vt_buf_cstr(&small), "keep") == 0);
	vt_buf_dispose(&small);

	/* Bad names and types for new keys. */
	vt_note_signer *g = NULL;
	CHECK_CODE(vt_note_signer_generate(&g, "", VT_NOTE_ED25519), VT_EINVAL);
	CHECK_CODE(vt_note_signer_generate(&g, "a+b", VT_NOTE_ED25519), VT_EINVAL);
	CHECK_CODE(vt_note_signer_generate(&g, "a b", VT_NOTE_ED25519), VT_EINVAL);
	CHECK_CODE(vt_note_signer_generate(&g, "ab", 3), VT_EINVAL);
	CHECK(g == NULL);

	vt_buf_dispose(&b);
	vt_note_signer_free(s);
}

/* The cosignature/v1 vector made with the openssl command line. */
static void test_cosig_vector(void)
{
	size_t klen, blen, nlen, mlen;
	char *keys = read_all("note/cosig-v1.keys", &klen);
	char *body = read_all("note/cosig-v1.body", &blen);
	char *note = read_all("note/cosig-v1.note", &nlen);
	char *msg = read_all("note/cosig-v1.msg", &mlen);
	char skey[256], vkey[256], ts[32], sigline[512];
	vt_note_signer *s = NULL;
	vt_note_verifier *v = NULL;
	vt_buf b;
	vt_note n;

	field(skey, sizeof(skey), keys, "skey");
	field(vkey, sizeof(vkey), keys, "vkey");
	field(ts, sizeof(ts), keys, "time");
	field(sigline, sizeof(sigline), keys, "sigline");
	strcat(sigline, "\n");
	vt_buf_init(&b, 4096);

	CHECK_OK(vt_note_signer_parse(&s, skey, strlen(skey)));
	CHECK_OK(vt_note_verifier_parse(&v, vkey, strlen(vkey)));
	if (!s || !v)
		goto done;
	CHECK(vt_note_signer_type(s) == VT_NOTE_COSIG && vt_note_verifier_type(v) == VT_NOTE_COSIG);
	CHECK(vt_note_signer_id(s) == vt_note_verifier_id(v));
	CHECK(vt_note_signer_id(s) == 0xeb762cc2);
	CHECK_OK(vt_note_signer_vkey(&b, s));
	CHECK(strcmp(vt_buf_cstr(&b), vkey) == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_note_signer_skey(&b, s));
	CHECK(strcmp(vt_buf_cstr(&b), skey) == 0);

	/* The RFC 8032 test 1 public key. */
	uint8_t pub[32];
	CHECK_OK(vt_hex_decode(
	    pub, 32, "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", 64));
	CHECK(memcmp(vt_note_verifier_pub(v), pub, 32) == 0);

	/* Our signer reproduces the openssl signature line byte for byte. */
	vt_buf_reset(&b);
	CHECK_OK(vt_cosig_sign(&b, s, body, blen, strtoull(ts, NULL, 10)));
	CHECK(strcmp(vt_buf_cstr(&b), sigline) == 0);

	/* The signature in the line is over exactly the message file. */
	uint8_t raw[76];
	const char *b64 = strrchr(sigline, ' ') + 1;
	CHECK_OK(vt_base64_decode_exact(raw, 76, b64, strlen(b64) - 1));
	CHECK(vt_get_be64(raw + 4) == 1679315147);
	CHECK_OK(vt_ed25519_verify(pub, raw + 12, msg, mlen));

	/* Opening the cosigned note verifies and reports the timestamp. */
	CHECK_OK(vt_note_open(&n, note, nlen, &v, 1));
	CHECK(n.nsigs == 1 && n.sigs[0].by == v && n.sigs[0].timestamp == 1679315147);
	CHECK(n.text_len == blen && memcmp(n.text, body, blen) == 0);

	/* A changed timestamp does not verify. */
	raw[11] ^= 1;
	vt_buf_reset(&b);
	vt_buf_add(&b, body, blen);
	vt_buf_adds(&b, "\n\xe2\x80\x94 witness.example/w1 ");
	vt_base64_append(&b, raw, 76);
	vt_buf_addc(&b, '\n');
	CHECK_CODE(vt_note_open(&n, (char *)b.ptr, b.len, &v, 1), VT_EVERIFY);
	raw[11] ^= 1;

	/* A plain Ed25519 signature of the same length under the cosigner's id. */
	vt_ed25519_key k;
	CHECK_OK(vt_ed25519_from_seed(&k, (const uint8_t *)"\x9d\x61\xb1\x9d\xef\xfd\x5a\x60"
							   "\xba\x84\x4a\xf4\x92\xec\x2c\xc4"
							   "\x44\x49\xc5\x69\x7b\x32\x69\x19"
							   "\x70\x3b\xac\x03\x1c\xae\x7f\x60"));
	CHECK(memcmp(k.pub, pub, 32) == 0);
	uint8_t plain[68];
	vt_put_be32(plain, vt_note_verifier_id(v));
	CHECK_OK(vt_ed25519_sign(plain + 4, &k, body, blen));
	vt_buf_reset(&b);
	vt_buf_add(&b, body, blen);
	vt_buf_adds(&b, "\n\xe2\x80\x94 witness.example/w1 ");
	vt_base64_append(&b, plain, 68);
	vt_buf_addc(&b, '\n');
	CHECK_CODE(vt_note_open(&n, (char *)b.ptr, b.len, &v, 1), VT_EVERIFY);

	/* A timestamp of 2^63, validly signed, is still rejected. */
	vt_buf m;
	vt_buf_init(&m, 4096);
	vt_buf_printf(&m, "cosignature/v1\ntime 9223372036854775808\n");
	vt_buf_add(&m, body, blen);
	vt_put_be64(raw + 4, (uint64_t)1 << 63);
	CHECK_OK(vt_ed25519_sign(raw + 12, &k, m.ptr, m.len));
	vt_buf_reset(&b);
	vt_buf_add(&b, body, blen);
	vt_buf_adds(&b, "\n\xe2\x80\x94 witness.example/w1 ");
	vt_base64_append(&b, raw, 76);
	vt_buf_addc(&b, '\n');
	CHECK_CODE(vt_note_open(&n, (char *)b.ptr, b.len, &v, 1), VT_EVERIFY);
	vt_buf_dispose(&m);
	vt_ed25519_wipe(&k);

	/* vt_cosig_sign refuses plain keys, huge timestamps and bad bodies. */
	vt_note_signer *plain_signer = NULL;
	CHECK_OK(vt_note_signer_parse(&plain_signer, PETER_SKEY, strlen(PETER_SKEY)));
	vt_buf_reset(&b);
	CHECK_CODE(vt_cosig_sign(&b, plain_signer, body, blen, 1), VT_EINVAL);
	CHECK_CODE(vt_cosig_sign(&b, s, body, blen, (uint64_t)1 << 63), VT_EINVAL);
	CHECK_CODE(vt_cosig_sign(&b, s, body, blen - 1, 1), VT_EINVAL);
	CHECK(b.len == 0);
	vt_note_signer_free(plain_signer);
done:
	vt_buf_dispose(&b);
	vt_note_signer_free(s);
	vt_note_verifier_free(v);
	free(keys);
	free(body);
	free(note);
	free(msg);
}

/* Fresh keys of both types sign together; both verify. */
static void test_sign_roundtrip(void)
{
	vt_note_signer *ss[2] = {NULL, NULL};
	vt_note_verifier *vs[2] = {NULL, NULL};
	const char *text = "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
	vt_buf b, k;
	vt_note n;
	time_t before = time(NULL);

	vt_buf_init(&b, 4096);
	vt_buf_init(&k, 4096);
	CHECK_OK(vt_note_signer_generate(&ss[0], "example.com/log", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_generate(&ss[1], "witness.example/w", VT_NOTE_COSIG));
	if (!ss[0] || !ss[1])
		goto done;
	for (int i = 0; i < 2; i++) {
		vt_note_signer *again = NULL;
		vt_buf_reset(&k);
		CHECK_OK(vt_note_signer_skey(&k, ss[i]));
		CHECK_OK(vt_note_signer_parse(&again, (char *)k.ptr, k.len));
		CHECK(again && vt_note_signer_id(again) == vt_note_signer_id(ss[i]));
		vt_note_signer_free(again);
		vt_buf_reset(&k);
		CHECK_OK(vt_note_signer_vkey(&k, ss[i]));
		CHECK_OK(vt_note_verifier_parse(&vs[i], (char *)k.ptr, k.len));
	}
	CHECK_OK(vt_note_sign(&b, text, strlen(text), ss, 2));
	CHECK_OK(vt_note_open(&n, (char *)b.ptr, b.len, vs, 2));
	CHECK(n.nsigs == 2 && n.sigs[0].by == vs[0] && n.sigs[1].by == vs[1]);
	CHECK(n.sigs[0].timestamp == 0);
	CHECK(n.sigs[1].timestamp >= (uint64_t)before &&
	      n.sigs[1].timestamp <= (uint64_t)time(NULL));
	/* Only the witness known: its cosignature opens the note, the log's is unknown. */
	CHECK_OK(vt_note_open(&n, (char *)b.ptr, b.len, vs + 1, 1));
	CHECK(n.nsigs == 1 && n.nunknown == 1);

	/* The signer's verifier is the same key. */
	vt_note_verifier *sv = NULL;
	CHECK_OK(vt_note_signer_verifier(&sv, ss[1]));
	CHECK(sv && vt_note_verifier_id(sv) == vt_note_verifier_id(vs[1]));
	vt_note_verifier_free(sv);
done:
	for (int i = 0; i < 2; i++) {
		vt_note_signer_free(ss[i]);
		vt_note_verifier_free(vs[i]);
	}
	vt_buf_dispose(&b);
	vt_buf_dispose(&k);
}

static void test_check_chars(void)
{
	CHECK_OK(vt_note_check_chars("", 0));
	CHECK_OK(vt_note_check_chars("a\nb\x7f\xc2\x80\xef\xbf\xbd\xf4\x8f\xbf\xbf", 13));
	CHECK_CODE(vt_note_check_chars("\0", 1), VT_EINVAL);
	CHECK_CODE(vt_note_check_chars("\x1f", 1), VT_EINVAL);
	CHECK_CODE(vt_note_check_chars("\xc1\xbf", 2), VT_EINVAL);
	CHECK_CODE(vt_note_check_chars("\xf0\x8f\xbf\xbf", 4), VT_EINVAL);
	CHECK_CODE(vt_note_check_chars("\xf8\x88\x80\x80\x80", 5), VT_EINVAL);
	CHECK_CODE(vt_note_check_text("\n", 1), 0);
	CHECK_CODE(vt_note_check_text("x", 1), VT_EINVAL);
}

int main(void)
{
	RUN(test_go_sign);
	RUN(test_go_key_mangling);
	RUN(test_key_ids);
	RUN(test_go_open);
	RUN(test_strict);
	RUN(test_sign_errors);
	RUN(test_cosig_vector);
	RUN(test_sign_roundtrip);
	RUN(test_check_chars);
	return TEST_DONE();
}
