/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of rulesets at a site: the `ruleset` entry (writer and parser) and compiled releases staged
 * and installed. */
#include "test.h"
#include "vitrine/analysis_service.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define D64 "ed6d49137c17985f35cf50f6ee0b80c94303a7ac46231cc9653251580cef45a6"

static void test_entry_known_answer(void)
{
	vt_buf b;
	vt_buf_init(&b, 4096);
	CHECK_OK(vt_ruleset_entry(&b, D64, 2, 2, NULL));
	CHECK(strcmp(vt_buf_cstr(&b),
		     "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2\n") == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_ruleset_entry(&b, D64, 3, 1, "test-rules@2024.1"));
	CHECK(strcmp(vt_buf_cstr(&b), "vitrine/1 ruleset\ndigest sha256:" D64
				      "\nrules 3\nfiles 1\nrelease test-rules@2024.1\n") == 0);
	/* A release the recipe format could not name is refused. */
	vt_buf_reset(&b);
	CHECK_CODE(vt_ruleset_entry(&b, D64, 3, 1, "Test@1"), VT_EINVAL);
	CHECK_CODE(vt_ruleset_entry(&b, D64, 3, 1, "rules"), VT_EINVAL);
	CHECK_CODE(vt_ruleset_entry(&b, D64, 3, 1, "rules@"), VT_EINVAL);
	CHECK_CODE(vt_ruleset_entry(&b, D64, 3, 1, "rules@1 2"), VT_EINVAL);
	vt_buf_dispose(&b);
}

static void test_entry_parse(void)
{
	static const char *const bad[] = {
	    "",
	    "vitrine/1 analysis\ndigest sha256:" D64 "\nrules 2\nfiles 2\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2",   /* no final newline */
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nfiles 2\nrules 2\n", /* order */
	    "vitrine/1 ruleset\ndigest " D64 "\nrules 2\nfiles 2\n",	    /* no sha256: */
	    "vitrine/1 ruleset\ndigest "
	    "sha256:ED6D49137C17985F35CF50F6EE0B80C94303A7AC46231CC9653251580CEF45A6\nrules "
	    "2\nfiles 2\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 02\nfiles 2\n", /* not canonical */
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules -2\nfiles 2\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 4294967296\nfiles 2\n", /* too big */
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2 \n", /* trailing space */
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2\nrelease \n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2\nrelease x\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64
	    "\nrules 2\nfiles 2\nrelease a@1\nrelease a@1\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2\nsource x\n",
	    "vitrine/1 ruleset\ndigest sha256:" D64 "\nrules 2\nfiles 2\n\n",
	};
	vt_ruleset_info in;
	vt_buf b;

	vt_buf_init(&b, 4096);
	CHECK_OK(vt_ruleset_entry(&b, D64, 7, 3, NULL));
	CHECK_OK(vt_ruleset_entry_parse(&in, (const char *)b.ptr, b.len));
	CHECK(strcmp(in.digest, D64) == 0 && in.rules == 7 && in.files == 3 && in.release[0] == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_ruleset_entry(&b, D64, 4294967295u, 1, "site-rules@2026.1~rc_1"));
	CHECK_OK(vt_ruleset_entry_parse(&in, (const char *)b.ptr, b.len));
	CHECK(in.rules == 4294967295u && strcmp(in.release, "site-rules@2026.1~rc_1") == 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int err = vt_ruleset_entry_parse(&in, bad[i], strlen(bad[i]));
		CHECK(err == VT_EINVAL);
		if (err != VT_EINVAL)
			fprintf(stderr, "  accepted bad entry %zu\n", i);
		CHECK(in.digest[0] == 0 && in.release[0] == 0);
	}
	vt_buf_dispose(&b);
}

static int sh(const char *dir, const char *cmd)
{
	char line[8192];
	snprintf(line, sizeof(line), "cd '%s' && %s >/dev/null 2>&1", dir, cmd);
	return system(line);
}

/* A compiled file staged and installed: current points at the SHA-256 of its bytes. */
static void test_stage_compiled(void)
{
	char tmp[] = "/tmp/vt-test-ruleset.XXXXXX", path[4200], link[128];
	vt_ruleset_stage *s = NULL;
	vt_analysis_rules *r = NULL;
	vt_buf yarc, js;
	vt_hash h;
	char hex[65];
	ssize_t n;

	vt_buf_init(&yarc, 1 << 20);
	vt_buf_init(&js, 1 << 21);
	CHECK(mkdtemp(tmp) != NULL);
	CHECK(sh(tmp,
		 "printf 'rule a { condition: true }\\nrule b { condition: false }\\n' > a.yar "
		 "&& yarac a.yar a.yarc") == 0);
	snprintf(path, sizeof(path), "%s/a.yarc", tmp);
	CHECK_OK(vt_fs_read(&yarc, AT_FDCWD, path));
	CHECK_OK(vt_sha256(&h, yarc.ptr, yarc.len));
	vt_hex_encode(hex, h.b, VT_HASH_SIZE);

	/* Refused before anything is staged: bad release, junk bytes. */
	CHECK_CODE(vt_ruleset_stage_compiled(&s, tmp, yarc.ptr, yarc.len, "nope"), VT_EINVAL);
	CHECK_CODE(vt_ruleset_stage_compiled(&s, tmp, "junk", 4, "r@1"), VT_EINVAL);
	CHECK(s == NULL);
	CHECK(strstr(vt_error_last(), "not a compiled YARA rules file") != NULL);

	CHECK_OK(vt_ruleset_stage_compiled(&s, tmp, yarc.ptr, yarc.len, "r@1"));
	if (s) {
		vt_ruleset_info in;
		const vt_buf *e = vt_ruleset_stage_entry(s);
		CHECK(strcmp(vt_analysis_rules_digest(vt_ruleset_stage_rules(s)), hex) == 0);
		CHECK(strcmp(vt_ruleset_stage_release(s), "r@1") == 0);
		CHECK_OK(vt_ruleset_entry_parse(&in, (const char *)e->ptr, e->len));
		CHECK(strcmp(in.digest, hex) == 0 && in.rules == 2 && in.files == 1 &&
		      strcmp(in.release, "r@1") == 0);
		CHECK_OK(vt_ruleset_stage_commit(s));
		vt_ruleset_stage_free(s);
		s = NULL;
	}
	snprintf(path, sizeof(path), "%s/rules/current", tmp);
	n = readlink(path, link, sizeof(link) - 1);
	CHECK(n == 64);
	if (n > 0) {
		link[n] = 0;
		CHECK(strcmp(link, hex) == 0);
	}
	CHECK_OK(vt_ruleset_load_current(&r, tmp));
	CHECK(r != NULL && strcmp(vt_analysis_rules_digest(r), hex) == 0 &&
	      vt_analysis_rules_count(r) == 2);
	vt_analysis_rules_unref(r);
	/* The rules in force again: refused, also through the JSON form. */
	CHECK_CODE(vt_ruleset_stage_compiled(&s, tmp, yarc.ptr, yarc.len, "r@2"), VT_EEXISTS);
	vt_buf_adds(&js, "{\"release\": \"r@2\", \"compiled\": \"");
	CHECK_OK(vt_base64_append(&js, yarc.ptr, yarc.len));
	vt_buf_adds(&js, "\"}");
	CHECK_CODE(vt_ruleset_stage_json(&s, tmp, (const char *)js.ptr, js.len), VT_EEXISTS);
	CHECK_CODE(
	    vt_ruleset_stage_json(&s, tmp, "{\"release\": \"r@2\", \"compiled\": \"!!\"}", 36),
	    VT_EINVAL);
	CHECK_CODE(vt_ruleset_stage_json(&s, tmp, "{\"release\": \"r@2\"}", 18), VT_EINVAL);
	/* A source set then replaces it; loading current compiles sources again. */
	{
		vt_ruleset_file f = {"x.yar", "rule x { condition: true }", 26};
		CHECK_OK(vt_ruleset_stage_new(&s, tmp, &f, 1));
		if (s) {
			CHECK(vt_ruleset_stage_release(s)[0] == 0);
			CHECK_OK(vt_ruleset_stage_commit(s));
		}
		vt_ruleset_stage_free(s);
		s = NULL;
		CHECK_OK(vt_ruleset_load_current(&r, tmp));
		CHECK(r != NULL && vt_analysis_rules_count(r) == 1 &&
		      strcmp(vt_analysis_rules_digest(r), hex) != 0);
		vt_analysis_rules_unref(r);
	}
	sh(tmp, "rm -rf rules a.yar a.yarc");
	rmdir(tmp);
	vt_buf_dispose(&yarc);
	vt_buf_dispose(&js);
}

int main(void)
{
	RUN(test_entry_known_answer);
	RUN(test_entry_parse);
	RUN(test_stage_compiled);
	return TEST_DONE();
}
