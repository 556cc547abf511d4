/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of DSSE: the PAE of the spec's example, sign and verify, every
 * refusal of the strict verifier, and envelopes signed by the openssl CLI.
 */
#include "test.h"
#include "vitrine/dsse.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/note.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static void test_pae(void)
{
	/* github.com/secure-systems-lab/dsse protocol.md, "Test vectors"-style example. */
	static const char want[] = "DSSEv1 29 http://example.com/HelloWorld 11 hello world";
	vt_buf b;
	vt_buf_init(&b, 1024);
	CHECK_OK(vt_dsse_pae(&b, "http://example.com/HelloWorld", "hello world", 11));
	CHECK(b.len == sizeof(want) - 1 && memcmp(b.ptr, want, b.len) == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_dsse_pae(&b, "", "", 0));
	CHECK(b.len == 12 && memcmp(b.ptr, "DSSEv1 0  0 ", 12) == 0);
	vt_buf_reset(&b);
	/* Binary bodies go in as they are. */
	CHECK_OK(vt_dsse_pae(&b, "t", "\0\n\xff", 3));
	CHECK(b.len == 16 && memcmp(b.ptr, "DSSEv1 1 t 3 \0\n\xff", 16) == 0);
	vt_buf_dispose(&b);
}

static void make_signer(vt_dsse_signer *s, uint8_t pub[32])
{
	vt_note_signer *ns = NULL;
	vt_note_verifier *nv = NULL;
	vt_buf sk;
	vt_buf_init(&sk, 4096);
	CHECK_OK(vt_note_signer_generate(&ns, "builder.example", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_skey(&sk, ns));
	CHECK_OK(vt_dsse_signer_from_note(s, (const char *)sk.ptr, sk.len));
	CHECK_OK(vt_note_signer_verifier(&nv, ns));
	memcpy(pub, vt_note_verifier_pub(nv), 32);
	CHECK(memcmp(pub, s->key.pub, 32) == 0);
	vt_note_signer_free(ns);
	vt_note_verifier_free(nv);
	vt_buf_dispose(&sk);
}

static void test_from_note(void)
{
	vt_note_signer *ns = NULL;
	vt_dsse_signer s;
	vt_buf sk;
	char want[65];
	uint8_t pub[32];

	make_signer(&s, pub);
	CHECK_OK(vt_dsse_keyid(want, pub));
	CHECK(strcmp(want, s.keyid) == 0 && strlen(s.keyid) == 64);
	vt_dsse_signer_wipe(&s);
	/* A cosigner key is not a builder key; a broken one is refused. */
	vt_buf_init(&sk, 4096);
	CHECK_OK(vt_note_signer_generate(&ns, "witness", VT_NOTE_COSIG));
	CHECK_OK(vt_note_signer_skey(&sk, ns));
	CHECK_CODE(vt_dsse_signer_from_note(&s, (const char *)sk.ptr, sk.len), VT_EINVAL);
	sk.ptr[sk.len - 3] ^= 1;
	CHECK_CODE(vt_dsse_signer_from_note(&s, (const char *)sk.ptr, sk.len - 1), VT_EINVAL);
	CHECK_CODE(vt_dsse_signer_from_note(&s, "PRIVATE+KEY+", 12), VT_EINVAL);
	vt_note_signer_free(ns);
	vt_buf_dispose(&sk);
}

static int verify(const char *env, const uint8_t pub[32])
{
	vt_buf out;
	int err;
	vt_buf_init(&out, VT_DSSE_MAX_SIZE);
	err = vt_dsse_verify(&out, env, strlen(env), VT_DSSE_INTOTO_TYPE, pub);
	if (err == 0 && (out.len != 7 || memcmp(out.ptr, "{\"a\":1}", 7) != 0))
		err = 99;
	vt_buf_dispose(&out);
	return err;
}

/* An envelope with the given members (sig is base64 of a real signature). */
static void envelope(char *out, size_t size, const char *fmt, const char *sig)
{
	snprintf(out, size, fmt, "eyJhIjoxfQ==", VT_DSSE_INTOTO_TYPE, sig);
}

static void test_sign_verify(void)
{
	vt_dsse_signer s, other;
	uint8_t pub[32], opub[32];
	vt_buf env, out;
	char e[2048], sig[100];
	const char *p, *q;

	make_signer(&s, pub);
	make_signer(&other, opub);
	vt_buf_init(&env, 1 << 16);
	vt_buf_init(&out, 1 << 16);
	CHECK_OK(vt_dsse_sign(&env, &s, VT_DSSE_INTOTO_TYPE, "{\"a\":1}", 7));
	CHECK(strncmp(vt_buf_cstr(&env),
		      "{\"payload\":\"eyJhIjoxfQ==\",\"payloadType\":\"application/"
		      "vnd.in-toto+json\",\"signatures\":[{\"keyid\":\"",
		      95) == 0);
	CHECK_OK(verify(vt_buf_cstr(&env), pub));
	CHECK_CODE(verify(vt_buf_cstr(&env), opub), VT_EVERIFY);
	CHECK_CODE(vt_dsse_verify(&out, (const char *)env.ptr, env.len, "text/plain", pub),
		   VT_EINVAL);
	CHECK(out.len == 0);

	/* The raw signature, to build variants around it. */
	p = strstr(vt_buf_cstr(&env), "\"sig\":\"") + 7;
	q = strchr(p, '"');
	snprintf(sig, sizeof(sig), "%.*s", (int)(q - p), p);
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}",
		 sig);
	CHECK_OK(verify(e, pub)); /* keyid is optional */
	envelope(e, sizeof(e),
		 " {\"signatures\":[{\"keyid\":\"nonsense\",\"sig\":\"%3$s\"}],\"payloadType\":\"%"
		 "2$s\",\"payload\":\"%1$s\"}\n",
		 sig);
	CHECK_OK(verify(e, pub)); /* any order, white space, a wrong keyid hint */
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"AAAA\"},{"
		 "\"sig\":\"%s\"}]}",
		 sig);
	CHECK_OK(verify(e, pub)); /* one good signature among others */

	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}x",
		 sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL); /* bytes after the object */
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}{}",
		 sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	envelope(
	    e, sizeof(e),
	    "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}],\"x\":1}",
	    sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL); /* an extra member */
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payload\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}", sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL); /* a duplicate member */
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\","
		 "\"cert\":\"x\"}]}",
		 sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	envelope(e, sizeof(e), "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[]}%.0s",
		 sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	envelope(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[\"%s\"]}", sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	snprintf(
	    e, sizeof(e),
	    "{\"payload\":\"eyJhIjoxfQ\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}",
	    VT_DSSE_INTOTO_TYPE, sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL); /* unpadded base64 */
	snprintf(e, sizeof(e),
		 "{\"payload\":\"eyJhIjoxfQ=-\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%"
		 "s\"}]}",
		 VT_DSSE_INTOTO_TYPE, sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	snprintf(e, sizeof(e),
		 "{\"payload\":\"eyJhIjoxfR==\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%"
		 "s\"}]}",
		 VT_DSSE_INTOTO_TYPE, sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL); /* non-zero unused bits */
	snprintf(e, sizeof(e),
		 "{\"payload\":\"eyJhIjoyfQ==\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%"
		 "s\"}]}",
		 VT_DSSE_INTOTO_TYPE, sig);
	CHECK_CODE(verify(e, pub), VT_EVERIFY); /* another payload */
	envelope(e, sizeof(e), "[\"%s\",\"%s\",\"%s\"]", sig);
	CHECK_CODE(verify(e, pub), VT_EINVAL);
	CHECK_CODE(verify("", pub), VT_EINVAL);
	vt_dsse_signer_wipe(&s);
	vt_dsse_signer_wipe(&other);
	vt_buf_dispose(&env);
	vt_buf_dispose(&out);
}

/* Run a shell command in dir; 0 when it exits 0. Tests only. */
static int sh(const char *dir, const char *cmd)
{
	char line[8192];
	snprintf(line, sizeof(line), "cd '%s' && { %s; } >/dev/null 2>&1", dir, cmd);
	return system(line) == 0 ? 0 : -1;
}

static void test_openssl(void)
{
	static const char payload[] = "{\"_type\":\"https://in-toto.io/Statement/v1\"}";
	char dir[] = "/tmp/vt-dsse.XXXXXX", path[4200], e[4096], *b64p, *b64s;
	uint8_t pub[32], seed[32];
	vt_dsse_signer ours;
	vt_buf pae, buf, out, mine;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	vt_buf_init(&pae, 1 << 16);
	vt_buf_init(&buf, 1 << 16);
	vt_buf_init(&out, 1 << 16);
	vt_buf_init(&mine, 1 << 16);
	CHECK_OK(vt_dsse_pae(&pae, VT_DSSE_INTOTO_TYPE, payload, sizeof(payload) - 1));
	snprintf(path, sizeof(path), "%s/pae.bin", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && vt_fs_write_all(fd, pae.ptr, pae.len) == 0);
	close(fd);
	if (sh(dir, "openssl genpkey -algorithm ed25519 -out k.pem && "
		    "openssl pkey -in k.pem -pubout -outform DER | tail -c 32 > pub.bin && "
		    "openssl pkey -in k.pem -outform DER | tail -c 32 > seed.bin && "
		    "openssl pkeyutl -sign -rawin -inkey k.pem -in pae.bin -out sig.bin") < 0) {
		fprintf(stderr, "openssl CLI failed\n");
		CHECK(0);
		goto done;
	}
	snprintf(path, sizeof(path), "%s/pub.bin", dir);
	CHECK_OK(vt_fs_read(&buf, AT_FDCWD, path));
	CHECK(buf.len == 32);
	memcpy(pub, buf.ptr, 32);
	vt_buf_reset(&buf);
	snprintf(path, sizeof(path), "%s/seed.bin", dir);
	CHECK_OK(vt_fs_read(&buf, AT_FDCWD, path));
	CHECK(buf.len == 32);
	memcpy(seed, buf.ptr, 32);
	vt_buf_reset(&buf);
	snprintf(path, sizeof(path), "%s/sig.bin", dir);
	CHECK_OK(vt_fs_read(&buf, AT_FDCWD, path));
	CHECK(buf.len == 64);

	b64p = malloc(VT_BASE64_LEN(sizeof(payload)) + 1);
	b64s = malloc(VT_BASE64_LEN(64) + 1);
	vt_base64_encode(b64p, payload, sizeof(payload) - 1);
	vt_base64_encode(b64s, buf.ptr, 64);
	snprintf(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"keyid\":\"\","
		 "\"sig\":\"%s\"}]}",
		 b64p, VT_DSSE_INTOTO_TYPE, b64s);
	CHECK_OK(vt_dsse_verify(&out, e, strlen(e), VT_DSSE_INTOTO_TYPE, pub));
	CHECK(out.len == sizeof(payload) - 1 && memcmp(out.ptr, payload, out.len) == 0);

	/* Ed25519 is deterministic: our signature with the same seed is openssl's. */
	CHECK_OK(vt_ed25519_from_seed(&ours.key, seed));
	CHECK_OK(vt_dsse_keyid(ours.keyid, ours.key.pub));
	CHECK_OK(vt_dsse_sign(&mine, &ours, VT_DSSE_INTOTO_TYPE, payload, sizeof(payload) - 1));
	CHECK(strstr(vt_buf_cstr(&mine), b64s) != NULL);

	/* One flipped bit of the signature, of the payload: refused. */
	buf.ptr[17] ^= 0x04;
	vt_base64_encode(b64s, buf.ptr, 64);
	snprintf(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}",
		 b64p, VT_DSSE_INTOTO_TYPE, b64s);
	CHECK_CODE(vt_dsse_verify(&out, e, strlen(e), VT_DSSE_INTOTO_TYPE, pub), VT_EVERIFY);
	buf.ptr[17] ^= 0x04;
	vt_base64_encode(b64s, buf.ptr, 64);
	b64p[5] = b64p[5] == 'A' ? 'B' : 'A';
	snprintf(e, sizeof(e),
		 "{\"payload\":\"%s\",\"payloadType\":\"%s\",\"signatures\":[{\"sig\":\"%s\"}]}",
		 b64p, VT_DSSE_INTOTO_TYPE, b64s);
	CHECK_CODE(vt_dsse_verify(&out, e, strlen(e), VT_DSSE_INTOTO_TYPE, pub), VT_EVERIFY);
	free(b64p);
	free(b64s);
	vt_dsse_signer_wipe(&ours);
done:
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	CHECK(system(path) == 0);
	vt_buf_dispose(&pae);
	vt_buf_dispose(&buf);
	vt_buf_dispose(&out);
	vt_buf_dispose(&mine);
}

int main(void)
{
	RUN(test_pae);
	RUN(test_from_note);
	RUN(test_sign_verify);
	RUN(test_openssl);
	return TEST_DONE();
}
