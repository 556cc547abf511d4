/* SPDX-License-Identifier: Apache-2.0 */
/*
 * tlog-proof: exact layout, round trips against a deliberately naive
 * RFC 6962 tree built here, and a negative case for every parse and
 * verification rule.
 */
#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"
#include "vitrine/hash.h"
#include "vitrine/note.h"
#include "vitrine/proof.h"

#include "test.h"

#include <stdint.h>

#define PETER_SKEY "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
#define NLEAVES	   7

static vt_hash leaves[NLEAVES];
static char entries[NLEAVES][16];

/* RFC 6962 hashing written out here, independent of src/tlog/merkle.c. */
static void leaf_hash(vt_hash *out, const char *entry)
{
	const void *parts[] = {"\0", entry};
	const size_t lens[] = {1, strlen(entry)};
	vt_sha256_v(out, parts, lens, 2);
}

static void node_hash(vt_hash *out, const vt_hash *l, const vt_hash *r)
{
	const void *parts[] = {"\1", l->b, r->b};
	const size_t lens[] = {1, 32, 32};
	vt_sha256_v(out, parts, lens, 3);
}

static size_t split(size_t n)
{
	size_t k = 1;
	while (k * 2 < n)
		k *= 2;
	return k;
}

static void mth(vt_hash *out, const vt_hash *d, size_t n)
{
	vt_hash l, r;
	size_t k;
	if (n == 1) {
		*out = d[0];
		return;
	}
	k = split(n);
	mth(&l, d, k);
	mth(&r, d + k, n - k);
	node_hash(out, &l, &r);
}

static void path(vt_hash *proof, size_t *np, size_t m, const vt_hash *d, size_t n)
{
	size_t k;
	if (n == 1)
		return;
	k = split(n);
	if (m < k) {
		path(proof, np, m, d, k);
		mth(&proof[(*np)++], d + k, n - k);
	} else {
		path(proof, np, m - k, d + k, n - k);
		mth(&proof[(*np)++], d, k);
	}
}

static void setup_tree(void)
{
	for (int i = 0; i < NLEAVES; i++) {
		snprintf(entries[i], sizeof(entries[i]), "entry %d\n", i);
		leaf_hash(&leaves[i], entries[i]);
	}
}

/* Sign the checkpoint of the first n leaves with signers into note. */
static void sign_checkpoint(vt_buf *note, const char *origin, size_t n, vt_note_signer *const *s,
			    size_t ns)
{
	vt_checkpoint c;
	vt_buf body;

	memset(&c, 0, sizeof(c));
	strcpy(c.origin, origin);
	c.size = n;
	mth(&c.root, leaves, n);
	vt_buf_init(&body, 4096);
	CHECK_OK(vt_checkpoint_format(&body, &c));
	vt_buf_reset(note);
	CHECK_OK(vt_note_sign(note, (char *)body.ptr, body.len, s, ns));
	vt_buf_dispose(&body);
}

/* The exact bytes of a proof, laid out by hand from the spec. */
static void test_layout(void)
{
	vt_note_signer *s = NULL;
	vt_hash proof[3];
	size_t n = 0;
	vt_buf note, out, want;
	char b64[64];

	vt_buf_init(&note, 4096);
	vt_buf_init(&out, 8192);
	vt_buf_init(&want, 8192);
	CHECK_OK(vt_note_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)));
	if (!s)
		return;
	sign_checkpoint(&note, "PeterNeumann", NLEAVES, &s, 1);
	path(proof, &n, 5, leaves, NLEAVES);
	CHECK(n == 3);

	vt_buf_adds(&want, "c2sp.org/tlog-proof@v1\nindex 5\n");
	for (size_t i = 0; i < n; i++) {
		vt_base64_encode(b64, proof[i].b, 32);
		vt_buf_printf(&want, "%s\n", b64);
	}
	vt_buf_adds(&want, "\n");
	vt_buf_add(&want, note.ptr, note.len);
	CHECK_OK(vt_tlog_proof_format(&out, 5, proof, n, (char *)note.ptr, note.len));
	CHECK(out.len == want.len && memcmp(out.ptr, want.ptr, out.len) == 0);

	/* With extra data, the extra line comes second. */
	vt_buf_reset(&out);
	CHECK_OK(
	    vt_tlog_proof_format_extra(&out, "hello", 5, 5, proof, n, (char *)note.ptr, note.len));
	CHECK(out.len == want.len + strlen("extra aGVsbG8=\n"));
	CHECK(strncmp((char *)out.ptr, "c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 5\n", 46) ==
	      0);
	vt_tlog_proof p;
	vt_buf extra;
	vt_buf_init(&extra, 64);
	CHECK_OK(vt_tlog_proof_parse(&p, (char *)out.ptr, out.len));
	CHECK_OK(vt_tlog_proof_extra(&extra, &p));
	CHECK(extra.len == 5 && memcmp(extra.ptr, "hello", 5) == 0);
	CHECK(p.index == 5 && p.n == 3 && memcmp(p.proof, proof, sizeof(proof)) == 0);
	CHECK(p.checkpoint_len == note.len && memcmp(p.checkpoint, note.ptr, note.len) == 0);
	vt_buf_dispose(&extra);

	vt_note_signer_free(s);
	vt_buf_dispose(&note);
	vt_buf_dispose(&out);
	vt_buf_dispose(&want);
}

/* Every index of trees of every size up to NLEAVES proves and verifies. */
static void test_roundtrip(void)
{
	vt_note_signer *log = NULL, *other = NULL, *wit = NULL;
	vt_note_verifier *logv = NULL, *otherv = NULL, *witv = NULL;
	vt_buf note, out;
	int failures = 0;

	vt_buf_init(&note, 4096);
	vt_buf_init(&out, 16384);
	CHECK_OK(vt_note_signer_generate(&log, "example.com/log", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_generate(&other, "example.com/log", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_generate(&wit, "witness.example/w", VT_NOTE_COSIG));
	if (!log || !other || !wit)
		goto done;
	CHECK_OK(vt_note_signer_verifier(&logv, log));
	CHECK_OK(vt_note_signer_verifier(&otherv, other));
	CHECK_OK(vt_note_signer_verifier(&witv, wit));

	for (size_t size = 1; size <= NLEAVES; size++) {
		vt_note_signer *both[] = {log, wit};
		sign_checkpoint(&note, "example.com/log", size, both, 2);
		for (size_t i = 0; i < size; i++) {
			vt_hash proof[8];
			size_t n = 0;
			vt_tlog_proof p;
			vt_checkpoint c;
			vt_note opened;

			path(proof, &n, i, leaves, size);
			vt_buf_reset(&out);
			failures += vt_tlog_proof_format(&out, i, proof, n, (char *)note.ptr,
							 note.len) != 0;
			failures += vt_tlog_proof_parse(&p, (char *)out.ptr, out.len) != 0;
			failures += p.index != i || p.n != n || p.extra != NULL;
			failures += vt_tlog_proof_verify(&c, &p, entries[i], strlen(entries[i]),
							 &logv, 1) != 0;
			failures += c.size != size || strcmp(c.origin, "example.com/log") != 0;
			/* Another entry, and the same entry at the wrong index. */
			failures += vt_tlog_proof_verify(&c, &p, entries[(i + 1) % size],
							 strlen(entries[(i + 1) % size]), &logv,
							 1) != (size == 1 ? 0 : VT_EVERIFY);
			failures += vt_tlog_proof_verify_origin(&c, &opened, &p, "example.com/log",
								entries[i], strlen(entries[i]),
								&logv, 1) != 0;
			failures += opened.nsigs != 1 || opened.nunknown != 1;
		}
	}
	CHECK(failures == 0);

	/* One proof for the negative verification cases: index 2 of 7. */
	vt_hash proof[8];
	size_t n = 0;
	vt_tlog_proof p;
	vt_checkpoint c;
	vt_note opened;
	vt_note_signer *both[] = {log, wit};
	sign_checkpoint(&note, "example.com/log", NLEAVES, both, 2);
	path(proof, &n, 2, leaves, NLEAVES);
	vt_buf_reset(&out);
	CHECK_OK(vt_tlog_proof_format(&out, 2, proof, n, (char *)note.ptr, note.len));
	CHECK_OK(vt_tlog_proof_parse(&p, (char *)out.ptr, out.len));

	/* Wrong entry; entry with a changed byte. */
	CHECK_CODE(vt_tlog_proof_verify(&c, &p, "entry 9\n", 8, &logv, 1), VT_EVERIFY);
	CHECK_CODE(vt_tlog_proof_verify(&c, &p, "entry 2", 7, &logv, 1), VT_EVERIFY);
	CHECK(c.size == 0 && c.origin[0] == '\0');
	/* Wrong key (same name, other key: unknown), or no key. */
	CHECK_CODE(vt_tlog_proof_verify(&c, &p, entries[2], strlen(entries[2]), &otherv, 1),
		   VT_EVERIFY);
	CHECK_CODE(vt_tlog_proof_verify(&c, &p, entries[2], strlen(entries[2]), NULL, 0),
		   VT_EVERIFY);
	/* The witness alone opens the note: callers must pass the log's keys. */
	CHECK_OK(vt_tlog_proof_verify_origin(&c, &opened, &p, NULL, entries[2], strlen(entries[2]),
					     &witv, 1));
	CHECK(opened.nsigs == 1 && opened.sigs[0].by == witv && opened.sigs[0].timestamp > 0);
	/* Wrong origin. */
	CHECK_CODE(vt_tlog_proof_verify_origin(&c, NULL, &p, "example.com/log2", entries[2],
					       strlen(entries[2]), &logv, 1),
		   VT_EVERIFY);
	CHECK_CODE(vt_tlog_proof_verify_origin(&c, NULL, &p, "example.com/lo", entries[2],
					       strlen(entries[2]), &logv, 1),
		   VT_EVERIFY);
	/* A tampered hash; a dropped hash; an index outside the tree. */
	vt_tlog_proof q = p;
	q.proof[1].b[0] ^= 1;
	CHECK_CODE(vt_tlog_proof_verify(&c, &q, entries[2], strlen(entries[2]), &logv, 1),
		   VT_EVERIFY);
	q = p;
	q.n--;
	CHECK_CODE(vt_tlog_proof_verify(&c, &q, entries[2], strlen(entries[2]), &logv, 1),
		   VT_EINVAL);
	q = p;
	q.index = 3;
	CHECK_CODE(vt_tlog_proof_verify(&c, &q, entries[2], strlen(entries[2]), &logv, 1),
		   VT_EVERIFY);
	q.index = NLEAVES;
	CHECK_CODE(vt_tlog_proof_verify(&c, &q, entries[2], strlen(entries[2]), &logv, 1),
		   VT_EINVAL);
	/* A checkpoint whose log signature was tampered with. */
	vt_buf bad;
	vt_buf_init(&bad, 16384);
	vt_buf_add(&bad, out.ptr, out.len);
	char *sig = strstr((char *)bad.ptr, "\xe2\x80\x94 example.com/log ") + 50;
	*sig = *sig == 'A' ? 'B' : 'A';
	CHECK_OK(vt_tlog_proof_parse(&q, (char *)bad.ptr, bad.len));
	CHECK_CODE(vt_tlog_proof_verify(&c, &q, entries[2], strlen(entries[2]), &logv, 1),
		   VT_EVERIFY);
	vt_buf_dispose(&bad);
done:
	vt_note_signer_free(log);
	vt_note_signer_free(other);
	vt_note_signer_free(wit);
	vt_note_verifier_free(logv);
	vt_note_verifier_free(otherv);
	vt_note_verifier_free(witv);
	vt_buf_dispose(&note);
	vt_buf_dispose(&out);
}

/* Parse one variant: prefix (the lines before the blank line) + "\n" + note + suffix. */
static int parse_variant(const char *prefix, const char *note, const char *suffix)
{
	vt_tlog_proof p;
	vt_buf b;
	int err;

	vt_buf_init(&b, 1 << 20);
	vt_buf_adds(&b, prefix);
	vt_buf_adds(&b, note);
	vt_buf_adds(&b, suffix);
	err = vt_tlog_proof_parse(&p, (char *)b.ptr, b.len);
	if (err < 0)
		CHECK(p.index == 0 && p.n == 0 && p.checkpoint == NULL);
	vt_buf_dispose(&b);
	return err;
}

static void test_parse_rejects(void)
{
	vt_note_signer *s = NULL;
	vt_buf note, lines, big;
	char h[64], hashes[512] = "";

	vt_buf_init(&note, 4096);
	vt_buf_init(&lines, 1 << 16);
	CHECK_OK(vt_note_signer_parse(&s, PETER_SKEY, strlen(PETER_SKEY)));
	if (!s)
		return;
	sign_checkpoint(&note, "PeterNeumann", NLEAVES, &s, 1);
	const char *cp = vt_buf_cstr(&note);
	vt_base64_encode(h, leaves[0].b, 32);
	for (int i = 0; i < 3; i++) {
		strcat(hashes, h);
		strcat(hashes, "\n");
	}

#define HDR "c2sp.org/tlog-proof@v1\n"
	/* The baseline parses, also without hashes and with extra data. */
	char good[1024];
	snprintf(good, sizeof(good), HDR "index 5\n%s\n", hashes);
	CHECK_OK(parse_variant(good, cp, ""));
	CHECK_OK(parse_variant(HDR "index 0\n\n", cp, ""));
	CHECK_OK(parse_variant(HDR "extra AA==\nindex 18446744073709551615\n\n", cp, ""));

	const char *bad_prefix[] = {
	    /* header */
	    "",
	    "\n",
	    "index 5\n\n",
	    "c2sp.org/tlog-proof@v2\nindex 5\n\n",
	    "c2sp.org/tlog-proof@v1 \nindex 5\n\n",
	    "C2SP.org/tlog-proof@v1\nindex 5\n\n",
	    "c2sp.org/tlog-proof@v1\r\nindex 5\n\n",
	    "\nc2sp.org/tlog-proof@v1\nindex 5\n\n",
	    /* index */
	    HDR "\n",
	    HDR "\n\n",
	    HDR "index\n\n",
	    HDR "index \n\n",
	    HDR "index  5\n\n",
	    HDR "index 5 \n\n",
	    HDR "index 05\n\n",
	    HDR "index -1\n\n",
	    HDR "index +5\n\n",
	    HDR "index 0x5\n\n",
	    HDR "index 18446744073709551616\n\n",
	    HDR "Index 5\n\n",
	    HDR "index\t5\n\n",
	    HDR "index 5",
	    /* extra */
	    HDR "extra \nindex 5\n\n",
	    HDR "extra AA\nindex 5\n\n",
	    HDR "extra AB==\nindex 5\n\n",
	    HDR "extra AA==\nextra AA==\nindex 5\n\n",
	    HDR "index 5\nextra AA==\n\n",
	    HDR "extra AA==\n\n",
	    HDR "extra AA== \nindex 5\n\n",
	    /* hashes: 31 and 33 bytes, non-canonical, hex, spaces, unterminated */
	    HDR "index 5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n\n",
	    HDR "index 5\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n\n",
	    HDR "index 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n\n",
	    HDR "index 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n\n",
	    HDR "index 5\n0ac5186a91863e8e1d90c808014aa89bf5da8e3ee1d9f07630f0378f68f1ab62\n\n",
	    HDR "index 5\n CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",
	    HDR "index 5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",
	    /* no blank line, or two */
	    HDR "index 5\n",
	    HDR "index 5\n\n\n",
	};
	for (size_t i = 0; i < sizeof(bad_prefix) / sizeof(bad_prefix[0]); i++) {
		int got = parse_variant(bad_prefix[i], cp, "");
		if (got != VT_EINVAL)
			fprintf(stderr, "bad prefix %zu: got %d\n", i, got);
		CHECK(got == VT_EINVAL);
	}

	/* Missing checkpoint, truncated checkpoint, trailing garbage. */
	CHECK_CODE(parse_variant(good, "", ""), VT_EINVAL);
	CHECK_CODE(parse_variant(good, "PeterNeumann\n7\n", ""), VT_EINVAL);
	CHECK_CODE(parse_variant(good, cp, "garbage"), VT_EINVAL);
	CHECK_CODE(parse_variant(good, cp, "garbage\n"), VT_EINVAL);
	CHECK_CODE(parse_variant(good, cp, "\n"), VT_EINVAL);
	CHECK_CODE(parse_variant(good, cp, "\xe2\x80\x94 x\n"), VT_EINVAL);
	vt_buf_reset(&lines);
	vt_buf_add(&lines, note.ptr, note.len - 1); /* no final newline */
	CHECK_CODE(parse_variant(good, vt_buf_cstr(&lines), ""), VT_EINVAL);
	/* A signed note that is not a checkpoint. */
	vt_buf_reset(&lines);
	CHECK_OK(vt_note_sign(&lines, "hello\n", 6, &s, 1));
	CHECK_CODE(parse_variant(good, vt_buf_cstr(&lines), ""), VT_EINVAL);

	/* Exactly VT_MERKLE_MAX_PROOF hashes parse; one more does not. */
	vt_buf_reset(&lines);
	vt_buf_adds(&lines, HDR "index 1\n");
	for (int i = 0; i < VT_MERKLE_MAX_PROOF; i++)
		vt_buf_printf(&lines, "%s\n", h);
	vt_buf_adds(&lines, "\n");
	CHECK_OK(parse_variant(vt_buf_cstr(&lines), cp, ""));
	lines.len--;
	vt_buf_printf(&lines, "%s\n\n", h);
	CHECK_CODE(parse_variant(vt_buf_cstr(&lines), cp, ""), VT_EINVAL);

	/* Too big. */
	vt_buf_init(&big, VT_TLOG_PROOF_MAX_SIZE + 16);
	vt_buf_adds(&big, good);
	vt_buf_add(&big, note.ptr, note.len);
	while (big.len <= VT_TLOG_PROOF_MAX_SIZE)
		vt_buf_adds(&big, "garbage\n");
	vt_tlog_proof p;
	CHECK_CODE(vt_tlog_proof_parse(&p, (char *)big.ptr, big.len), VT_ETOOBIG);
	vt_buf_dispose(&big);

	/* Formatting refuses what parsing would refuse; out stays unchanged. */
	vt_buf out;
	vt_hash many[VT_MERKLE_MAX_PROOF + 1];
	memset(many, 0, sizeof(many));
	vt_buf_init(&out, 1 << 20);
	vt_buf_adds(&out, "keep");
	CHECK_CODE(vt_tlog_proof_format(&out, 0, many, VT_MERKLE_MAX_PROOF + 1, cp, strlen(cp)),
		   VT_EINVAL);
	CHECK_CODE(vt_tlog_proof_format(&out, 0, many, 1, "not a note\n", 11), VT_EINVAL);
	CHECK_CODE(vt_tlog_proof_format(&out, 0, many, 1, cp, strlen(cp) - 1), VT_EINVAL);
	CHECK_CODE(vt_tlog_proof_format(&out, 0, many, 1, vt_buf_cstr(&lines), 0), VT_EINVAL);
	CHECK(out.len == 4 && strcmp(vt_buf_cstr(&out), "keep") == 0);
	vt_buf small;
	vt_buf_init(&small, 64);
	vt_buf_adds(&small, "keep");
	CHECK_CODE(vt_tlog_proof_format(&small, 0, many, 1, cp, strlen(cp)), VT_ETOOBIG);
	CHECK(small.len == 4 && strcmp(vt_buf_cstr(&small), "keep") == 0);
	vt_buf_dispose(&small);
	vt_buf_dispose(&out);
#undef HDR

	vt_note_signer_free(s);
	vt_buf_dispose(&note);
	vt_buf_dispose(&lines);
}

int main(void)
{
	setup_tree();
	RUN(test_layout);
	RUN(test_roundtrip);
	RUN(test_parse_rejects);
	return TEST_DONE();
}
