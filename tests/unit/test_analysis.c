/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the analysis engine: hashes, fuzzy hashes, verdicts, rulesets, limits, timeout. */
#include "../test.h"

#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vitrine/analysis.h"
#include "vitrine/encoding.h"
#include "vitrine/hash.h"

static char tmp[256];

/* Scan data with rules src (NULL: none) and the given limits (NULL: defaults). */
static int scan_with(vt_analysis_result *res, const char *src, const vt_analysis_limits *lim,
		     unsigned flags, const void *data, size_t len)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_engine *e = NULL;
	vt_analysis_worker *w = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	if (src != NULL && (err = vt_analysis_rules_compile_string(&rules, "t.yar", src, true)) < 0)
		goto done;
	if ((err = vt_analysis_engine_new(&e, rules, lim, flags)) < 0)
		goto done;
	if ((err = vt_analysis_worker_new(&w, e)) < 0)
		goto done;
	err = vt_analysis_scan_mem(res, w, data, len);
done:
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(e);
	vt_analysis_rules_unref(rules);
	return err;
}

static int read_all(vt_buf *b, const char *path)
{
	FILE *f = fopen(path, "rb");
	char chunk[65536];
	size_t n;

	vt_buf_init(b, 1u << 30);
	if (f == NULL)
		return -1;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		vt_buf_add(b, chunk, n);
	fclose(f);
	return 0;
}

/* Run a shell command in the temporary directory. */
static int sh(const char *cmd)
{
	char line[2048];
	snprintf(line, sizeof(line), "cd '%s' && %s", tmp, cmd);
	return system(line);
}

static void test_hashes(void)
{
	vt_analysis_result r;

	CHECK_OK(scan_with(&r, NULL, NULL, 0, "abc", 3));
	CHECK(strcmp(r.root.md5, "900150983cd24fb0d6963f7d28e17f72") == 0);
	CHECK(strcmp(r.root.sha1, "a9993e364706816aba3e25717850c26c9cd0d89d") == 0);
	CHECK(strcmp(r.root.sha256,
		     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
	CHECK(r.root.size == 3);
	CHECK(r.root.tlsh[0] == '\0'); /* too small */
	CHECK(r.root.verdict == VT_VERDICT_CLEAN);
	CHECK(r.root.type != NULL && r.root.mime != NULL && strcmp(r.root.mime, "text/plain") == 0);
	vt_analysis_result_dispose(&r);

	CHECK_OK(scan_with(&r, NULL, NULL, 0, "", 0));
	CHECK(strcmp(r.root.md5, "d41d8cd98f00b204e9800998ecf8427e") == 0);
	CHECK(strcmp(r.root.sha1, "da39a3ee5e6b4b0d3255bfef95601890afd80709") == 0);
	CHECK(strcmp(r.root.sha256,
		     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
	CHECK(r.root.entropy == 0);
	CHECK(r.root.nchildren == 0);
	vt_analysis_result_dispose(&r);
}

static void test_entropy(void)
{
	uint8_t all[512], zeros[1000] = {0};

	for (int i = 0; i < 512; i++)
		all[i] = (uint8_t)i;
	CHECK(vt_analysis_entropy(zeros, sizeof(zeros)) == 0);
	CHECK(fabs(vt_analysis_entropy(all, sizeof(all)) - 8.0) < 1e-9);
	CHECK(fabs(vt_analysis_entropy("abab", 4) - 1.0) < 1e-9);
	CHECK(fabs(vt_analysis_entropy("aaab", 4) - 0.8112781244591328) < 1e-9);
	CHECK(vt_analysis_entropy(NULL, 0) == 0);
}

/* ssdeep against the ssdeep tool, TLSH null rules and streaming stability. */
static void test_fuzzy(void)
{
	vt_analysis_result r, r2;
	vt_buf data, out;
	uint8_t *p;
	uint32_t x = 12345;
	char path[512], cmd[1024], line[512];
	FILE *f;
	size_t len = 300000;

	vt_buf_init(&data, len);
	vt_buf_reserve(&data, len);
	p = data.ptr;
	/* Text-like pseudo-random data, so ssdeep has some structure to cut. */
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (uint8_t)("abcdefgh ijklmnop\n"[(x >> 16) % 18]);
	}
	data.len = len;
	snprintf(path, sizeof(path), "%s/fuzzy.bin", tmp);
	f = fopen(path, "wb");
	fwrite(data.ptr, 1, data.len, f);
	fclose(f);
	CHECK_OK(scan_with(&r, NULL, NULL, 0, data.ptr, data.len));
	snprintf(cmd, sizeof(cmd), "ssdeep -s -b '%s' | tail -1", path);
	if ((f = popen(cmd, "r")) != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *comma = strchr(line, ',');
		CHECK(comma != NULL);
		if (comma != NULL) {
			*comma = '\0';
			CHECK(strcmp(line, r.root.ssdeep) == 0);
		}
	} else {
		printf("# ssdeep tool missing: ssdeep not cross-checked\n");
	}
	if (f != NULL)
		pclose(f);
	CHECK(strncmp(r.root.tlsh, "T1", 2) == 0 && strlen(r.root.tlsh) == 72);
	/* The same bytes in another worker give the same digests. */
	CHECK_OK(scan_with(&r2, NULL, NULL, 0, data.ptr, data.len));
	CHECK(strcmp(r.root.tlsh, r2.root.tlsh) == 0 && strcmp(r.root.ssdeep, r2.root.ssdeep) == 0);
	vt_analysis_result_dispose(&r2);
	/* Uniform input has no TLSH. */
	memset(data.ptr, 'A', len);
	CHECK_OK(scan_with(&r2, NULL, NULL, 0, data.ptr, data.len));
	CHECK(r2.root.tlsh[0] == '\0');
	vt_buf_init(&out, 1 << 20);
	CHECK_OK(vt_analysis_result_json(&out, &r2, "x"));
	CHECK(strstr(vt_buf_cstr(&out), "\"tlsh\":null") != NULL);
	vt_buf_dispose(&out);
	vt_analysis_result_dispose(&r2);
	vt_analysis_result_dispose(&r);
	vt_buf_dispose(&data);
}

static const char verdict_rules[] =
    "rule m { meta: verdict = \"malicious\" strings: $a = \"MALWARE\" condition: $a }\n"
    "rule s_default { strings: $a = \"SUSPECT\" condition: $a }\n"
    "rule sev_hi : tag1 tag2 { meta: severity = 9 author = \"x\" strings: $a = \"SEVHI\" "
    "condition: $a }\n"
    "rule sev_lo { meta: severity = 3 strings: $a = \"SEVLO\" condition: $a }\n"
    "rule sev_info { meta: severity = \"info\" strings: $a = \"INFO\" condition: $a }\n"
    "rule sev_crit { meta: severity = \"critical\" strings: $a = \"CRIT\" condition: $a }\n"
    "rule v_clean { meta: verdict = \"clean\" severity = 10 strings: $a = \"GOOD\" "
    "condition: $a }\n"
    "rule v_bad { meta: verdict = \"nonsense\" strings: $a = \"ODD\" condition: $a }\n";

static vt_verdict verdict_of(const char *text)
{
	vt_analysis_result r;
	vt_verdict v = (vt_verdict)-1;

	if (scan_with(&r, verdict_rules, NULL, 0, text, strlen(text)) == 0)
		v = r.root.verdict;
	vt_analysis_result_dispose(&r);
	return v;
}

static void test_verdicts(void)
{
	vt_analysis_result r;
	vt_verdict v;

	CHECK(verdict_of("nothing here") == VT_VERDICT_CLEAN);
	CHECK(verdict_of("MALWARE") == VT_VERDICT_MALICIOUS);
	CHECK(verdict_of("SUSPECT") == VT_VERDICT_SUSPICIOUS);
	CHECK(verdict_of("SEVHI") == VT_VERDICT_MALICIOUS);
	CHECK(verdict_of("SEVLO") == VT_VERDICT_SUSPICIOUS);
	CHECK(verdict_of("INFO") == VT_VERDICT_CLEAN);
	CHECK(verdict_of("CRIT") == VT_VERDICT_MALICIOUS);
	CHECK(verdict_of("GOOD") == VT_VERDICT_CLEAN);
	CHECK(verdict_of("ODD") == VT_VERDICT_SUSPICIOUS);
	CHECK(verdict_of("GOOD SUSPECT") == VT_VERDICT_SUSPICIOUS);
	CHECK(verdict_of("SUSPECT MALWARE INFO") == VT_VERDICT_MALICIOUS);
	/* Rule, namespace, tags and metadata are reported. */
	CHECK_OK(scan_with(&r, verdict_rules, NULL, 0, "SEVHI", 5));
	CHECK(r.root.nmatches == 1);
	if (r.root.nmatches == 1) {
		CHECK(strcmp(r.root.matches[0].rule, "sev_hi") == 0);
		CHECK(strcmp(r.root.matches[0].ns, "t.yar") == 0);
		CHECK(r.root.matches[0].ntags == 2 &&
		      strcmp(r.root.matches[0].tags[1], "tag2") == 0);
		CHECK(strcmp(r.root.matches[0].meta_json, "{\"severity\":9,\"author\":\"x\"}") ==
		      0);
	}
	vt_analysis_result_dispose(&r);
	CHECK_OK(vt_verdict_parse(&v, "unknown"));
	CHECK(v == VT_VERDICT_UNKNOWN);
	CHECK_CODE(vt_verdict_parse(&v, "bad"), VT_EINVAL);
}

static void test_rules(void)
{
	vt_analysis_rules *r = NULL, *r2 = NULL;
	char path[512], expect[65];
	vt_hash h;
	const char *a = "rule a { condition: true }\n", *b = "rule b { condition: false }\n";
	vt_buf canon;

	CHECK_CODE(vt_analysis_rules_compile_string(&r, "x.yar", "rule { condition", false),
		   VT_EINVAL);
	CHECK(strstr(vt_error_last(), "x.yar:1:") != NULL);
	CHECK(r == NULL);
	CHECK_CODE(vt_analysis_rules_compile_string(
		       &r, "i.yar", "include \"/etc/passwd\"\nrule a { condition: true }", false),
		   VT_EINVAL);
	CHECK(strstr(vt_error_last(), "i.yar:1:") != NULL);
	CHECK_CODE(vt_analysis_rules_compile_string(
		       &r, "s.yar", "\nrule s { strings: $a = { 01 ?? } condition: $a }", false),
		   VT_EINVAL);
	CHECK(strstr(vt_error_last(), "s.yar:2:") != NULL && strstr(vt_error_last(), "slow"));
	CHECK_CODE(vt_analysis_rules_compile(&r, "/nonexistent/rules.yar", false), VT_ENOTFOUND);

	/* Directory: files in byte order of relative path, digest as documented. */
	sh("mkdir -p rules/sub empty && touch rules/README");
	snprintf(path, sizeof(path), "%s/rules/z.yar", tmp);
	FILE *f = fopen(path, "w");
	fputs(a, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/rules/sub/b.yara", tmp);
	f = fopen(path, "w");
	fputs(b, f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/rules", tmp);
	CHECK_OK(vt_analysis_rules_compile(&r, path, true));
	vt_buf_init(&canon, 4096);
	vt_buf_printf(&canon, "vitrine-ruleset/1\nsub/b.yara\n%zu\n%s\nz.yar\n%zu\n%s\n", strlen(b),
		      b, strlen(a), a);
	vt_sha256(&h, canon.ptr, canon.len);
	vt_hex_encode(expect, h.b, sizeof(h.b));
	CHECK(r != NULL && strcmp(vt_analysis_rules_digest(r), expect) == 0);
	CHECK(r != NULL && vt_analysis_rules_count(r) == 2);
	/* One file: its name and bytes. */
	CHECK_OK(vt_analysis_rules_compile_string(&r2, "z.yar", a, false));
	vt_buf_reset(&canon);
	vt_buf_printf(&canon, "vitrine-ruleset/1\nz.yar\n%zu\n%s\n", strlen(a), a);
	vt_sha256(&h, canon.ptr, canon.len);
	vt_hex_encode(expect, h.b, sizeof(h.b));
	CHECK(r2 != NULL && strcmp(vt_analysis_rules_digest(r2), expect) == 0);
	vt_buf_dispose(&canon);
	vt_analysis_rules_unref(r);
	vt_analysis_rules_unref(r2);
	snprintf(path, sizeof(path), "%s/empty", tmp);
	CHECK_CODE(vt_analysis_rules_compile(&r, path, false), VT_EINVAL);
	/* A compiled file (yarac) loads with the digest of its bytes; junk does not. */
	CHECK(sh("yarac rules/z.yar z.yarc") == 0);
	snprintf(path, sizeof(path), "%s/z.yarc", tmp);
	CHECK_OK(vt_analysis_rules_load(&r, path));
	CHECK(r != NULL && vt_analysis_rules_count(r) == 1);
	vt_analysis_rules_unref(r);
	snprintf(path, sizeof(path), "%s/rules/z.yar", tmp);
	CHECK_CODE(vt_analysis_rules_load(&r, path), VT_EINVAL);
}

/* A swapped ruleset applies to the next analysis of a worker. */
static void test_swap(void)
{
	vt_analysis_rules *r1 = NULL, *r2 = NULL;
	vt_analysis_engine *e = NULL;
	vt_analysis_worker *w = NULL;
	vt_analysis_result res;

	CHECK_OK(
	    vt_analysis_rules_compile_string(&r1, "1.yar", "rule one { condition: true }", false));
	CHECK_OK(
	    vt_analysis_rules_compile_string(&r2, "2.yar", "rule two { condition: true }", false));
	CHECK_OK(vt_analysis_engine_new(&e, r1, NULL, 0));
	CHECK_OK(vt_analysis_worker_new(&w, e));
	CHECK_OK(vt_analysis_scan_mem(&res, w, "x", 1));
	CHECK(res.root.nmatches == 1 && strcmp(res.root.matches[0].rule, "one") == 0);
	CHECK(strcmp(res.rules_digest, vt_analysis_rules_digest(r1)) == 0);
	vt_analysis_result_dispose(&res);
	vt_analysis_engine_set_rules(e, r2);
	vt_analysis_rules_unref(r1); /* the worker still holds it until its next scan */
	CHECK_OK(vt_analysis_scan_mem(&res, w, "x", 1));
	CHECK(res.root.nmatches == 1 && strcmp(res.root.matches[0].rule, "two") == 0);
	CHECK(strcmp(res.rules_digest, vt_analysis_rules_digest(r2)) == 0);
	vt_analysis_result_dispose(&res);
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(e);
	vt_analysis_rules_unref(r2);
}

/* The result of scanning a file under tmp. */
static int scan_file(vt_analysis_result *r, const char *name, const vt_analysis_limits *lim,
		     const char *rules)
{
	char path[512];
	vt_buf b;
	int err;

	snprintf(path, sizeof(path), "%s/%s", tmp, name);
	if (read_all(&b, path) < 0) {
		vt_buf_dispose(&b);
		return -100;
	}
	err = scan_with(r, rules, lim, 0, b.ptr, b.len);
	vt_buf_dispose(&b);
	return err;
}

static const char marker_rule[] =
    "rule marker { meta: verdict = \"malicious\" strings: $a = \"VT-TEST-MARKER\" "
    "condition: $a }\n";

static void test_containers(void)
{
	vt_analysis_result r;
	vt_analysis_limits lim;

	vt_analysis_limits_default(&lim);
	CHECK(sh("printf 'xx VT-TEST-MARKER xx' > m.txt && zip -q m.zip m.txt && "
		 "tar cf m.tar m.zip && gzip -c m.tar > m.tgz") == 0);
	CHECK_OK(scan_file(&r, "m.tgz", &lim, marker_rule));
	CHECK(r.root.verdict == VT_VERDICT_MALICIOUS);
	CHECK(r.root.nmatches == 0 && r.root.nchildren == 1);
	if (r.root.nchildren == 1) {
		vt_analysis_node *zip = &r.root.children[0];
		CHECK(strcmp(zip->name, "m.zip") == 0 && zip->depth == 1);
		CHECK(zip->nchildren == 1);
		if (zip->nchildren == 1) {
			CHECK(strcmp(zip->children[0].name, "m.txt") == 0);
			CHECK(zip->children[0].depth == 2);
			CHECK(zip->children[0].nmatches == 1);
			CHECK(zip->children[0].verdict == VT_VERDICT_MALICIOUS);
		}
	}
	CHECK(r.members == 2);
	vt_analysis_result_dispose(&r);
	/* NO_CHILDREN leaves the container closed. */
	{
		vt_buf b;
		char path[512];
		snprintf(path, sizeof(path), "%s/m.tgz", tmp);
		read_all(&b, path);
		CHECK_OK(scan_with(&r, marker_rule, NULL, VT_ANALYSIS_NO_CHILDREN, b.ptr, b.len));
		CHECK(r.root.verdict == VT_VERDICT_CLEAN && r.root.nchildren == 0);
		vt_analysis_result_dispose(&r);
		vt_buf_dispose(&b);
	}
}

/* Zip bombs and deep nesting: refused with a reason, memory bounded by the limits. */
static void test_limits(void)
{
	vt_analysis_result r;
	vt_analysis_limits lim;

	/* 100 MB of zeros, about 100 KB zipped. */
	CHECK(sh("head -c 100000000 /dev/zero > zeros && zip -q -9 bomb.zip zeros && "
		 "rm zeros") == 0);
	vt_analysis_limits_default(&lim);
	lim.max_member_size = 8u << 20;
	CHECK_OK(scan_file(&r, "bomb.zip", &lim, marker_rule));
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN);
	CHECK(r.root.reason && strstr(r.root.reason, "member limit") != NULL);
	CHECK(r.unpacked <= lim.max_member_size);
	vt_analysis_result_dispose(&r);

	/* Members within the member limit but over the total. */
	CHECK(sh("for i in 1 2 3 4 5; do head -c 3000000 /dev/zero > z$i; done && "
		 "zip -q many.zip z1 z2 z3 z4 z5 && rm z1 z2 z3 z4 z5") == 0);
	vt_analysis_limits_default(&lim);
	lim.max_total_size = 10u << 20;
	CHECK_OK(scan_file(&r, "many.zip", &lim, NULL));
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN);
	CHECK(r.root.reason && strstr(r.root.reason, "total limit") != NULL);
	CHECK(r.unpacked <= lim.max_total_size);
	vt_analysis_result_dispose(&r);
	/* The member count limit. */
	lim.max_total_size = 256u << 20;
	lim.max_members = 3;
	CHECK_OK(scan_file(&r, "many.zip", &lim, NULL));
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN && r.root.nchildren == 3);
	CHECK(r.root.reason && strstr(r.root.reason, "more than 3 members") != NULL);
	vt_analysis_result_dispose(&r);

	/* Nesting: a marker inside 8 zips. */
	/* Repeated so that it deflates: the marker is not visible from outside. */
	CHECK(sh("for i in $(seq 1000); do printf 'VT-TEST-MARKER'; done > n0 && for i in 1 2 3 4 "
		 "5 6 7 8; do "
		 "zip -q n$i.zip n$((i-1))* && rm n$((i-1))*; done") == 0);
	vt_analysis_limits_default(&lim);
	CHECK_OK(scan_file(&r, "n8.zip", &lim, marker_rule));
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN);
	{
		vt_analysis_node *n = &r.root;
		while (n->nchildren == 1)
			n = &n->children[0];
		CHECK(n->depth == 5 && n->reason && strstr(n->reason, "nesting deeper than 5"));
	}
	vt_analysis_result_dispose(&r);
	lim.max_depth = 8;
	CHECK_OK(scan_file(&r, "n8.zip", &lim, marker_rule));
	CHECK(r.root.verdict == VT_VERDICT_MALICIOUS);
	vt_analysis_result_dispose(&r);
	/* Truncated archive: analysed, never a crash; a damaged container is unknown. */
	CHECK(sh("head -c 60 m.tgz > t.tgz") == 0);
	CHECK_OK(scan_file(&r, "t.tgz", &lim, marker_rule));
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN);
	vt_analysis_result_dispose(&r);
}

static void test_timeout(void)
{
	vt_analysis_result r;
	vt_analysis_limits lim;
	static const char slow[] =
	    "rule slow { condition: for any i in (0..filesize) : "
	    "(for any j in (0..filesize) : (uint32(i) == 0x11223344 + j)) }\n";
	size_t len = 200000;
	uint8_t *data = calloc(1, len);

	vt_analysis_limits_default(&lim);
	lim.timeout_s = 1;
	CHECK_OK(scan_with(&r, slow, &lim, 0, data, len));
	CHECK(r.root.timed_out);
	CHECK(r.root.verdict == VT_VERDICT_UNKNOWN);
	CHECK(r.root.reason && strstr(r.root.reason, "timed out") != NULL);
	vt_analysis_result_dispose(&r);
	free(data);
}

/* An fd (memfd, as the server hands over) gives the same result as memory; JSON parses. */
static void test_fd_json(void)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_engine *e = NULL;
	vt_analysis_worker *w = NULL;
	vt_analysis_result a, b;
	vt_buf data, out;
	char path[512];
	int fd = memfd_create("t", 0);
	json_t *j;

	snprintf(path, sizeof(path), "%s/m.tgz", tmp);
	read_all(&data, path);
	CHECK(fd >= 0 && write(fd, data.ptr, data.len) == (ssize_t)data.len);
	CHECK_OK(vt_analysis_rules_compile_string(&rules, "m.yar", marker_rule, true));
	CHECK_OK(vt_analysis_engine_new(&e, rules, NULL, 0));
	CHECK_OK(vt_analysis_worker_new(&w, e));
	CHECK_OK(vt_analysis_scan_fd(&a, w, fd));
	CHECK_OK(vt_analysis_scan_mem(&b, w, data.ptr, data.len));
	CHECK(strcmp(a.root.sha256, b.root.sha256) == 0 && a.root.verdict == b.root.verdict);
	vt_buf_init(&out, 1 << 20);
	CHECK_OK(vt_analysis_result_json(&out, &a, "m.tgz"));
	j = json_loads(vt_buf_cstr(&out), 0, NULL);
	CHECK(j != NULL);
	CHECK(strcmp(json_string_value(json_object_get(j, "verdict")), "malicious") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "ruleset")),
		     vt_analysis_rules_digest(rules)) == 0);
	CHECK(json_array_size(json_object_get(j, "children")) == 1);
	json_decref(j);
	vt_buf_dispose(&out);
	vt_analysis_result_dispose(&a);
	vt_analysis_result_dispose(&b);
	vt_buf_dispose(&data);
	/* /bin/true: ELF facts from the elf module. */
	close(fd);
	fd = open("/bin/true", O_RDONLY);
	CHECK_OK(vt_analysis_scan_fd(&a, w, fd));
	CHECK(a.root.facts_json != NULL &&
	      strstr(a.root.facts_json, "{\"elf\":{\"type\":3,") == a.root.facts_json);
	vt_analysis_result_dispose(&a);
	close(fd);
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(e);
	vt_analysis_rules_unref(rules);
}

int main(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/vt-test-analysis.XXXXXX");
	if (mkdtemp(tmp) == NULL)
		return 1;
	RUN(test_hashes);
	RUN(test_entropy);
	RUN(test_fuzzy);
	RUN(test_verdicts);
	RUN(test_rules);
	RUN(test_swap);
	RUN(test_containers);
	RUN(test_limits);
	RUN(test_timeout);
	RUN(test_fd_json);
	sh("rm -rf \"$PWD\"");
	return TEST_DONE();
}
