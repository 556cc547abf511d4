/* SPDX-License-Identifier: Apache-2.0 */
/* The conveyer's entries (build, release, rebuild), the endpoint policy and the bundle parser. */
#include "../test.h"
#include "vitrine/encoding.h"
#include "vitrine/dsse.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/note.h"
#include "vitrine/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define H1 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define H2 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char build_entry[] =
    "vitrine/1 build\nname hello\nversion 1.0\n"
    "envelope sha256:" H1 "\nrecipe sha256:" H2 "\nsource sha256:" H1 "\nsubject sha256:" H2
    " hello\nsubject sha256:" H1 " share/greeting.txt\n";

static int parse_build(const char *s)
{
	vt_build_entry e;
	int err = vt_build_entry_parse(&e, s, strlen(s));
	vt_build_entry_dispose(&e);
	return err;
}

/* s with the first "from" replaced by "to". */
static char *subst(const char *s, const char *from, const char *to)
{
	static char out[4096];
	const char *p = strstr(s, from);
	snprintf(out, sizeof(out), "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
	return out;
}

static void test_build_entry(void)
{
	vt_build_entry e;
	vt_buf b;

	vt_buf_init(&b, 1 << 17);
	CHECK_OK(vt_build_entry_parse(&e, build_entry, strlen(build_entry)));
	CHECK(strcmp(e.name, "hello") == 0 && strcmp(e.version, "1.0") == 0);
	CHECK(e.nsubjects == 2 && strcmp(e.subjects[1].name, "share/greeting.txt") == 0);
	CHECK_OK(vt_build_entry_format(&b, &e));
	CHECK(b.len == strlen(build_entry) && memcmp(b.ptr, build_entry, b.len) == 0);
	vt_build_entry_dispose(&e);
	/* one spelling: every variation is refused */
	CHECK_CODE(parse_build(subst(build_entry, "ba78", "BA78")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "name hello", "name Hello")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "name hello", "name  hello")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "version 1.0\n", "")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, " hello\n", " ../hello\n")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, " hello\n", " a//b\n")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, " share/greeting.txt", " hello")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "recipe sha256:", "recipe sha512:")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "vitrine/1 build", "vitrine/1 release")),
		   VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "greeting.txt\n", "greeting.txt")), VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "greeting.txt\n", "greeting.txt\n\n")),
		   VT_EINVAL);
	CHECK_CODE(parse_build(subst(build_entry, "greeting.txt\n", "greeting.txt\nextra 1\n")),
		   VT_EINVAL);
	/* no subject at all */
	CHECK_CODE(parse_build("vitrine/1 build\nname hello\nversion 1.0\nenvelope sha256:" H1
			       "\nrecipe sha256:" H2 "\nsource sha256:" H1 "\n"),
		   VT_EINVAL);
	vt_buf_dispose(&b);
}

static void test_release_rebuild_entries(void)
{
	static const char rel[] = "vitrine/1 release\nname hello\nversion 1.0\nbuild 17\n"
				  "envelope sha256:" H1 "\n";
	static const char reb[] =
	    "vitrine/1 rebuild\nname hello\nversion 1.0\nbuild sha256:" H1 "\nenvelope sha256:" H2
	    "\nkey sha256:" H1 "\nresult reproduced\n";
	vt_release_entry re;
	vt_rebuild_entry rb;
	vt_buf b;

	vt_buf_init(&b, 4096);
	CHECK_OK(vt_release_entry_parse(&re, rel, strlen(rel)));
	CHECK(re.build_index == 17);
	CHECK_OK(vt_release_entry_format(&b, &re));
	CHECK(b.len == strlen(rel) && memcmp(b.ptr, rel, b.len) == 0);
	CHECK_CODE(
	    vt_release_entry_parse(&re, subst(rel, "build 17", "build 017"), strlen(rel) + 1),
	    VT_EINVAL);
	CHECK_CODE(vt_release_entry_parse(&re, subst(rel, "build 17", "build -1"), strlen(rel) + 1),
		   VT_EINVAL);
	CHECK_OK(vt_rebuild_entry_parse(&rb, reb, strlen(reb)));
	CHECK(rb.reproduced && strcmp(rb.key, H1) == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_rebuild_entry_format(&b, &rb));
	CHECK(b.len == strlen(reb) && memcmp(b.ptr, reb, b.len) == 0);
	const char *d = subst(reb, "reproduced", "differs");
	CHECK_OK(vt_rebuild_entry_parse(&rb, d, strlen(d)));
	CHECK(!rb.reproduced);
	d = subst(reb, "reproduced", "maybe");
	CHECK_CODE(vt_rebuild_entry_parse(&rb, d, strlen(d)), VT_EINVAL);
	d = subst(reb, "key sha256:", "key ");
	CHECK_CODE(vt_rebuild_entry_parse(&rb, d, strlen(d)), VT_EINVAL);
	vt_buf_dispose(&b);
}

static char vk_ed[3][256], vk_cos[2][256];

static void make_keys(void)
{
	for (int i = 0; i < 3; i++) {
		vt_note_signer *s;
		vt_buf b;
		char name[32];
		vt_buf_init(&b, 256);
		snprintf(name, sizeof(name), "k%d.example", i);
		CHECK_OK(vt_note_signer_generate(&s, name, VT_NOTE_ED25519));
		CHECK_OK(vt_note_signer_vkey(&b, s));
		snprintf(vk_ed[i], sizeof(vk_ed[i]), "%s", vt_buf_cstr(&b));
		vt_note_signer_free(s);
		if (i < 2) {
			vt_buf_reset(&b);
			snprintf(name, sizeof(name), "w%d.example", i);
			CHECK_OK(vt_note_signer_generate(&s, name, VT_NOTE_COSIG));
			CHECK_OK(vt_note_signer_vkey(&b, s));
			snprintf(vk_cos[i], sizeof(vk_cos[i]), "%s", vt_buf_cstr(&b));
			vt_note_signer_free(s);
		}
		vt_buf_dispose(&b);
	}
}

static int parse_policy(const char *text)
{
	vt_endpoint_policy p;
	int err = vt_endpoint_policy_parse(&p, text, strlen(text));
	vt_endpoint_policy_dispose(&p);
	return err;
}

static void test_policy(void)
{
	char text[4096], bad[4096];
	vt_endpoint_policy p;

	make_keys();
	snprintf(text, sizeof(text),
		 "# an endpoint\n\nbuilder-key %s\nbuilder-id https://b.example/ci\nlog-key %s\n"
		 "witness-key %s\nwitness-key %s\nwitness-threshold 2\nrebuilder-key %s\n"
		 "rebuild-threshold 1\nsource hello\n",
		 vk_ed[0], vk_ed[1], vk_cos[0], vk_cos[1], vk_ed[2]);
	CHECK_OK(vt_endpoint_policy_parse(&p, text, strlen(text)));
	CHECK(p.nwitnesses == 2 && p.witness_threshold == 2 && p.nrebuilders == 1 &&
	      p.rebuild_threshold == 1 && strcmp(p.source, "hello") == 0 &&
	      strcmp(p.builder_id, "https://b.example/ci") == 0);
	vt_endpoint_policy_dispose(&p);
	/* refusals, one rule each */
	CHECK_CODE(parse_policy(subst(text, "witness-threshold 2", "witness-threshold 3")),
		   VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "rebuild-threshold 1", "rebuild-threshold 2")),
		   VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "source hello\n", "")), VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "source hello", "source Hello")), VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "source hello\n", "source hello")), VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "builder-id https", "builder-id  https")), VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "builder-id", "builder-name")), VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "witness-threshold 2", "witness-threshold 02")),
		   VT_EINVAL);
	CHECK_CODE(parse_policy(subst(text, "source hello\n", "source hello\nsource hello\n")),
		   VT_EINVAL);
	/* a witness key must be a cosignature key, a builder key not */
	snprintf(bad, sizeof(bad), "%s", subst(text, vk_cos[0], vk_ed[2]));
	CHECK_CODE(parse_policy(bad), VT_EINVAL);
	snprintf(bad, sizeof(bad), "%s", subst(text, vk_ed[0], vk_cos[0]));
	CHECK_CODE(parse_policy(bad), VT_EINVAL);
	/* the same witness twice */
	snprintf(bad, sizeof(bad), "%s", subst(text, vk_cos[1], vk_cos[0]));
	CHECK_CODE(parse_policy(bad), VT_EINVAL);
	CHECK_CODE(parse_policy("builder-key x\n"), VT_EINVAL);
	CHECK_CODE(parse_policy("ctl\x01\n"), VT_EINVAL);
}

static int parse_bundle(const char *s, size_t n)
{
	vt_endpoint_bundle b;
	return vt_endpoint_bundle_parse(&b, s, n);
}

static void test_bundle(void)
{
	static const char good[] = "vitrine-bundle/2\nenvelope 3\nenv\nrecipe 2\nre\nentry 1\ne\n"
				   "proof 2\npr\nconsistency 51\nold 5\n"
				   "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n"
				   "rebuild 2\nr1\nrebuild-entry 2\ne1\nrebuild-proof 2\np1\n"
				   "rebuild 0\n\nrebuild-entry 0\n\nrebuild-proof 0\n\n";
	vt_endpoint_bundle b;
	vt_buf out;

	vt_buf_init(&out, 4096);
	CHECK_OK(vt_endpoint_bundle_parse(&b, good, strlen(good)));
	CHECK(b.envelope_len == 3 && memcmp(b.envelope, "env", 3) == 0);
	CHECK(b.has_consistency && b.old_size == 5 && b.nconsistency == 1);
	CHECK(b.nrebuilds == 2 && b.rebuild_lens[1] == 0);
	CHECK(b.rebuild_entry_lens[0] == 2 && memcmp(b.rebuild_entries[0], "e1", 2) == 0 &&
	      b.rebuild_proof_lens[0] == 2 && memcmp(b.rebuild_proofs[0], "p1", 2) == 0);
	CHECK_OK(vt_endpoint_bundle_format(&out, &b));
	CHECK(out.len == strlen(good) && memcmp(out.ptr, good, out.len) == 0);
	/* refusals */
	CHECK_CODE(parse_bundle(good, strlen(good) - 1), VT_EINVAL);	 /* truncated */
	CHECK_CODE(parse_bundle(good + 1, strlen(good) - 1), VT_EINVAL); /* header */
	const char *s = subst(good, "envelope 3", "envelope 03");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "envelope 3", "envelope 4");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "recipe 2\nre\n", "");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL); /* missing section */
	s = subst(good, "recipe 2\nre\nentry 1\ne\n", "entry 1\ne\nrecipe 2\nre\n");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL); /* order */
	s = subst(good, "old 5", "old x");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "AAAA");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "rebuild-proof 0\n\n", "rebuild-proof 0\n\nextra");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	/* a rebuild without its entry or its proof, or them out of order */
	s = subst(good, "rebuild-entry 2\ne1\n", "");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "rebuild-proof 2\np1\n", "");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	s = subst(good, "rebuild-entry 2\ne1\nrebuild-proof 2\np1\n",
		  "rebuild-proof 2\np1\nrebuild-entry 2\ne1\n");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	/* version 1 (rebuilds without log proofs) is refused */
	s = subst(good, "vitrine-bundle/2", "vitrine-bundle/1");
	CHECK_CODE(parse_bundle(s, strlen(s)), VT_EINVAL);
	vt_buf_dispose(&out);
}

/* A rebuild statement's result agrees with the digests and with its own runs (ownRuns). */
static void test_rebuild_statement_own_runs(void)
{
	vt_note_signer *ns;
	vt_note_verifier *nv;
	vt_dsse_signer ds;
	vt_rebuild_statement s = {0}, got;
	vt_release_subject subj = {.name = "hello"};
	vt_buf sk, stmt, env;

	vt_buf_init(&sk, 4096);
	vt_buf_init(&stmt, 1 << 20);
	vt_buf_init(&env, 1 << 20);
	CHECK_OK(vt_note_signer_generate(&ns, "rb.example", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_skey(&sk, ns));
	CHECK_OK(vt_note_signer_verifier(&nv, ns));
	CHECK_OK(vt_dsse_signer_from_note(&ds, (const char *)sk.ptr, sk.len));
	vt_hex_decode(subj.digest.b, VT_HASH_SIZE, H1, 64);
	snprintf(s.name, sizeof(s.name), "hello");
	snprintf(s.version, sizeof(s.version), "1.0");
	snprintf(s.rebuilder_id, sizeof(s.rebuilder_id), "rb");
	snprintf(s.finished, sizeof(s.finished), "2026-01-01T00:00:00Z");
	s.subjects = &subj;
	s.nsubjects = 1;
	/* same digest, own runs agree: reproduced */
	s.reproduced = true;
	CHECK_OK(vt_rebuild_statement_format(&stmt, &s, &subj, 1));
	CHECK(strstr(vt_buf_cstr(&stmt), "\"ownRuns\":\"reproduced\"") != NULL);
	/* own runs differ: reproduced is refused, differs is right (with no differences) */
	s.runs_differ = true;
	vt_buf_reset(&stmt);
	CHECK_CODE(vt_rebuild_statement_format(&stmt, &s, &subj, 1), VT_EINVAL);
	s.reproduced = false;
	vt_buf_reset(&stmt);
	CHECK_OK(vt_rebuild_statement_format(&stmt, &s, &subj, 1));
	CHECK(strstr(vt_buf_cstr(&stmt), "\"ownRuns\":\"differ\"") != NULL &&
	      strstr(vt_buf_cstr(&stmt), "\"differences\":[]") != NULL);
	CHECK_OK(vt_dsse_sign(&env, &ds, VT_DSSE_INTOTO_TYPE, stmt.ptr, stmt.len));
	CHECK_OK(vt_rebuild_statement_open(&got, (const char *)env.ptr, env.len,
					   vt_note_verifier_pub(nv)));
	CHECK(!got.reproduced && got.runs_differ);
	vt_rebuild_statement_dispose(&got);
	/* a signed statement saying reproduced while its own runs differ is refused */
	{
		char *t = strdup(vt_buf_cstr(&stmt)), *p = strstr(t, "\"result\":\"differs\"");
		CHECK(p != NULL);
		if (p) {
			vt_buf fake;
			vt_buf_init(&fake, 1 << 20);
			vt_buf_add(&fake, t, (size_t)(p - t));
			vt_buf_adds(&fake, "\"result\":\"reproduced\"");
			vt_buf_adds(&fake, p + strlen("\"result\":\"differs\""));
			vt_buf_reset(&env);
			CHECK_OK(vt_dsse_sign(&env, &ds, VT_DSSE_INTOTO_TYPE, fake.ptr, fake.len));
			CHECK_CODE(vt_rebuild_statement_open(&got, (const char *)env.ptr, env.len,
							     vt_note_verifier_pub(nv)),
				   VT_EINVAL);
			/* and one without ownRuns */
			vt_buf_reset(&fake);
			vt_buf_adds(&fake, vt_buf_cstr(&stmt));
			p = strstr((char *)fake.ptr, ",\"ownRuns\":\"differ\"");
			CHECK(p != NULL);
			if (p) {
				memmove(p, p + 19, strlen(p + 19) + 1);
				fake.len -= 19;
				vt_buf_reset(&env);
				CHECK_OK(vt_dsse_sign(&env, &ds, VT_DSSE_INTOTO_TYPE, fake.ptr,
						      fake.len));
				CHECK_CODE(vt_rebuild_statement_open(&got, (const char *)env.ptr,
								     env.len,
								     vt_note_verifier_pub(nv)),
					   VT_EINVAL);
			}
			vt_buf_dispose(&fake);
		}
		free(t);
	}
	vt_dsse_signer_wipe(&ds);
	vt_note_verifier_free(nv);
	vt_note_signer_free(ns);
	vt_buf_dispose(&sk);
	vt_buf_dispose(&stmt);
	vt_buf_dispose(&env);
}

static void test_check_names(void)
{
	CHECK(strcmp(vt_check_name(VT_CHECK_ENVELOPE), "envelope") == 0);
	CHECK(vt_check_exit(VT_CHECK_BUNDLE) == 11 && vt_check_exit(VT_CHECK_UNREACHABLE) == 20);
	CHECK(vt_check_exit(VT_CHECK_OK) == 0);
}

int main(void)
{
	RUN(test_build_entry);
	RUN(test_release_rebuild_entries);
	RUN(test_policy);
	RUN(test_bundle);
	RUN(test_rebuild_statement_own_runs);
	RUN(test_check_names);
	return TEST_DONE();
}
