/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of the confined analyser: the strict report reader (round
 * trips of real results, a known answer, one rejection per rule) and the
 * child itself (same answers as in-process, errors, crash, timeout,
 * garbage, and the seccomp filter killing open/socket/execve with SIGSYS).
 * This program is its own analysis child: run as "test_analysis_child
 * analysis-child ..." it does what `vitrine analysis-child` does.
 */
#include "../test.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../src/analysis/analysis_int.h"
#include "vitrine/analysis.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"

static const char eicar[] = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

static const char rules_src[] =
    "rule eicar : test av { meta: verdict = \"malicious\" author = \"t\" n = 3 b = true\n"
    "  strings: $a = \"EICAR-STANDARD-ANTIVIRUS-TEST-FILE\" condition: $a }\n"
    "rule elf { meta: severity = 3 condition: uint32(0) == 0x464c457f }\n";

/* Analyse in this process, for comparison. */
static int scan_local(vt_analysis_result *res, vt_analysis_rules *rules, unsigned flags,
		      const void *data, size_t len)
{
	vt_analysis_engine *e = NULL;
	vt_analysis_worker *w = NULL;
	int err;

	memset(res, 0, sizeof(*res));
	if ((err = vt_analysis_engine_new(&e, rules, NULL, flags)) == 0 &&
	    (err = vt_analysis_worker_new(&w, e)) == 0)
		err = vt_analysis_scan_mem(res, w, data, len);
	vt_analysis_worker_free(w);
	vt_analysis_engine_free(e);
	return err;
}

static int read_file(vt_buf *b, const char *path)
{
	vt_buf_init(b, 256u << 20);
	return vt_fs_read(b, AT_FDCWD, path);
}

/* A tar.gz holding EICAR and a zip of it, made with the system's tools. */
static int make_tgz(vt_buf *b)
{
	char dir[] = "/tmp/vt-child-XXXXXX", cmd[512], path[300];
	FILE *f;
	int rc;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/eicar.com", dir);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fputs(eicar, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "cd %s && zip -q e.zip eicar.com && tar czf t.tgz eicar.com e.zip && "
		 "printf 'ab' > tiny",
		 dir);
	rc = system(cmd);
	snprintf(path, sizeof(path), "%s/t.tgz", dir);
	if (rc == 0)
		rc = read_file(b, path);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		rc = -1;
	return rc;
}

/* JSON of r; check it reads back to the same JSON. */
static void check_round_trip(const vt_analysis_result *r, const char *what)
{
	vt_analysis_result back;
	vt_buf j1, j2;

	vt_buf_init(&j1, VT_ANALYSIS_RESULT_JSON_MAX);
	vt_buf_init(&j2, VT_ANALYSIS_RESULT_JSON_MAX);
	CHECK_OK(vt_analysis_result_json(&j1, r, NULL));
	CHECK_OK(vt_analysis_result_parse(&back, (const char *)j1.ptr, j1.len));
	CHECK_OK(vt_analysis_result_json(&j2, &back, NULL));
	if (j1.len != j2.len || memcmp(j1.ptr, j2.ptr, j1.len) != 0) {
		fprintf(stderr, "%s: round trip differs:\n%s\n%s\n", what, vt_buf_cstr(&j1),
			vt_buf_cstr(&j2));
		CHECK(0);
	}
	CHECK(back.root.verdict == r->root.verdict);
	CHECK(back.root.nchildren == r->root.nchildren);
	CHECK(strcmp(back.root.sha256, r->root.sha256) == 0);
	CHECK(strcmp(back.rules_digest, r->rules_digest) == 0);
	vt_analysis_result_dispose(&back);
	vt_buf_dispose(&j1);
	vt_buf_dispose(&j2);
}

static void test_round_trips(void)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_result r;
	vt_buf tgz, file;

	CHECK_OK(vt_analysis_rules_compile_string(&rules, "t.yar", rules_src, true));
	CHECK_OK(scan_local(&r, rules, 0, eicar, strlen(eicar)));
	CHECK(r.root.nmatches == 1 && r.root.matches[0].ntags == 2);
	check_round_trip(&r, "eicar");
	vt_analysis_result_dispose(&r);

	CHECK_OK(scan_local(&r, NULL, 0, "", 0));
	check_round_trip(&r, "empty, no rules");
	vt_analysis_result_dispose(&r);

	CHECK_OK(scan_local(&r, rules, VT_ANALYSIS_YARA_ONLY, eicar, strlen(eicar)));
	CHECK(!r.root.hashed);
	check_round_trip(&r, "yara only");
	vt_analysis_result_dispose(&r);

	CHECK(make_tgz(&tgz) == 0);
	CHECK_OK(scan_local(&r, rules, 0, tgz.ptr, tgz.len));
	CHECK(r.root.nchildren == 2 && r.members >= 3);
	CHECK(r.root.verdict == VT_VERDICT_MALICIOUS);
	check_round_trip(&r, "tgz");
	vt_analysis_result_dispose(&r);
	vt_buf_dispose(&tgz);

	/* ELF facts from the system; PE facts from clamav-testfiles when installed. */
	CHECK(read_file(&file, "/bin/true") == 0);
	CHECK_OK(scan_local(&r, rules, 0, file.ptr, file.len));
	CHECK(r.root.facts_json != NULL && strstr(r.root.facts_json, "\"elf\"") != NULL);
	check_round_trip(&r, "elf");
	vt_analysis_result_dispose(&r);
	vt_buf_dispose(&file);
	if (read_file(&file, "/usr/share/clamav-testfiles/clam.exe") == 0) {
		CHECK_OK(scan_local(&r, rules, 0, file.ptr, file.len));
		CHECK(r.root.facts_json != NULL && strstr(r.root.facts_json, "\"pe\"") != NULL);
		check_round_trip(&r, "pe");
		vt_analysis_result_dispose(&r);
	}
	vt_buf_dispose(&file);
	vt_analysis_rules_unref(rules);
}

/* A report written by hand the way report.c writes it. */
static const char known[] =
    "{\"depth\":0,\"size\":10,\"verdict\":\"malicious\",\"reason\":\"more than 1 members\","
    "\"timed_out\":true,\"md5\":\"0123456789abcdef0123456789abcdef\","
    "\"sha1\":\"0123456789abcdef0123456789abcdef01234567\","
    "\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\","
    "\"ssdeep\":\"3:a:b\",\"tlsh\":null,\"entropy\":2.5,\"type\":\"data\","
    "\"mime\":\"application/octet-stream\",\"matches\":[{\"rule\":\"r\",\"namespace\":\"n.yar\","
    "\"tags\":[\"t1\",null],\"meta\":{\"verdict\":\"malicious\",\"n\":7,\"b\":true},"
    "\"verdict\":\"malicious\"}],\"elf\":{\"type\":2,\"sections\":[{\"name\":\".text\","
    "\"size\":5}]},\"container\":\"ZIP 2.0 (deflation)\",\"children\":[{\"name\":\"a/b\","
    "\"depth\":1,\"size\":1,\"verdict\":\"clean\",\"matches\":[]}],\"ruleset\":"
    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
    "\"magic_version\":\"5.44\",\"members\":1,\"unpacked\":1}";

static void test_known_answer(void)
{
	vt_analysis_result r;
	vt_buf j;
	const char *mv;
	char want[sizeof(known) + 16];

	vt_buf_init(&j, 1 << 20);
	CHECK_OK(vt_analysis_result_parse(&r, known, strlen(known)));
	CHECK(r.root.size == 10 && r.root.verdict == VT_VERDICT_MALICIOUS && r.root.timed_out);
	CHECK(r.root.hashed && r.root.entropy == 2.5 && r.root.tlsh[0] == '\0');
	CHECK(strcmp(r.root.ssdeep, "3:a:b") == 0);
	CHECK(r.root.nmatches == 1 && r.root.matches[0].ntags == 2);
	CHECK(strcmp(r.root.matches[0].tags[1], "") == 0);
	CHECK(strcmp(r.root.matches[0].meta_json,
		     "{\"verdict\":\"malicious\",\"n\":7,\"b\":true}") == 0);
	CHECK(strcmp(r.root.facts_json, "{\"elf\":{\"type\":2,\"sections\":[{\"name\":\".text\","
					"\"size\":5}]}}") == 0);
	CHECK(r.root.nchildren == 1 && strcmp(r.root.children[0].name, "a/b") == 0);
	CHECK(r.root.children[0].depth == 1 && !r.root.children[0].hashed);
	CHECK(r.members == 1 && r.unpacked == 1 && r.rules_digest[0] == 'a');
	CHECK_OK(vt_analysis_result_json(&j, &r, NULL));
	/* The same text back, with this libmagic's version. */
	mv = vt_analysis_magic_version();
	snprintf(want, sizeof(want), "%s", known);
	CHECK(strlen(mv) == 4);
	memcpy(strstr(want, "5.44"), mv, 4);
	CHECK(strcmp(vt_buf_cstr(&j), want) == 0);
	vt_analysis_result_dispose(&r);
	vt_buf_dispose(&j);
}

/* known with the first from replaced by to. */
static char *mutate(const char *from, const char *to)
{
	const char *at = strstr(known, from);
	char *s;

	if (at == NULL) {
		fprintf(stderr, "mutation not found: %s\n", from);
		return strdup("");
	}
	s = malloc(strlen(known) + strlen(to) + 1);
	memcpy(s, known, (size_t)(at - known));
	strcpy(s + (at - known), to);
	strcat(s, at + strlen(from));
	return s;
}

static void test_rejections(void)
{
	static const struct {
		const char *from, *to;
	} m[] = {
	    {"{\"depth\":0,", "[{\"depth\":0,"},	      /* not an object / not JSON */
	    {"\"size\":10", "\"size\":-1"},		      /* negative size */
	    {"\"size\":10", "\"size\":\"10\""},		      /* size a string */
	    {"\"depth\":0", "\"depth\":1"},		      /* root not at depth 0 */
	    {"\"depth\":1", "\"depth\":2"},		      /* child skips a level */
	    {"\"verdict\":\"clean\"", "\"verdict\":\"bad\""}, /* unknown verdict */
	    {"\"timed_out\":true", "\"timed_out\":false"},    /* written only when true */
	    {"\"md5\":\"0123", "\"md5\":\"A123"},	      /* upper-case hex */
	    {"\"sha1\":\"0123456789abcdef0123456789abcdef01234567\"", "\"sha1\":\"01\""},
	    {"\"ssdeep\":\"3:a:b\",", ""},			       /* hashes incomplete */
	    {"\"entropy\":2.5", "\"entropy\":2"},		       /* an integer, not a real */
	    {"\"entropy\":2.5", "\"entropy\":8.5"},		       /* out of range */
	    {"\"mime\":\"application/octet-stream\",", ""},	       /* type without mime */
	    {"\"reason\":\"more than 1 members\"", "\"reason\":\"\""}, /* "" is written null */
	    {"\"tags\":[\"t1\",null]", "\"tags\":\"t1\""},	       /* tags not an array */
	    {"\"n\":7", "\"n\":{\"x\":1}"},			       /* nested meta */
	    {"\"n\":7", "\"n\":7.5"},				       /* real meta */
	    {",\"verdict\":\"malicious\"}]", "}]"},		       /* match without verdict */
	    {"\"namespace\":\"n.yar\",",
	     "\"namespace\":\"n.yar\",\"x\":1,"},	     /* unknown match key */
	    {"\"type\":2,", "\"type\":[2],"},		     /* a fact of the wrong type */
	    {"\"elf\":{", "\"pe\":{},\"elf\":{"},	     /* two modules' facts */
	    {"{\"name\":\"a/b\",", "{"},		     /* member without a name */
	    {"\"depth\":0,", "\"name\":\"x\",\"depth\":0,"}, /* root with a name */
	    {",\"matches\":[]}", "}"},			     /* matches required */
	    {"\"container\":\"ZIP 2.0 (deflation)\",\"children\":[{\"name\":\"a/b\",\"depth\":1,"
	     "\"size\":1,\"verdict\":\"clean\",\"matches\":[]}]",
	     "\"children\":[]"},			    /* empty children without a container */
	    {"\"ruleset\":\"aaaa", "\"ruleset\":\"zzzz"},   /* ruleset not hex */
	    {",\"magic_version\":\"5.44\"", ""},	    /* magic_version required */
	    {"\"members\":1", "\"members\":0"},		    /* members written only when > 0 */
	    {",\"unpacked\":1", ""},			    /* members without unpacked */
	    {"\"size\":10", "\"size\":10,\"size\":11"},	    /* duplicate key */
	    {"\"size\":10", "\"size\":10,\"colour\":1"},    /* unknown key */
	    {"\"name\":\"a/b\"", "\"name\":\"a\\u0000b\""}, /* NUL in a string */
	    {"\"unpacked\":1}", "\"unpacked\":1} x"},	    /* trailing text */
	};
	vt_analysis_result r;
	vt_buf deep;
	char *big;

	for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		char *s = mutate(m[i].from, m[i].to);
		int err = vt_analysis_result_parse(&r, s, strlen(s));
		if (err != VT_EINVAL)
			fprintf(stderr, "rejection %zu: got %d for %s\n", i, err, s);
		CHECK(err == VT_EINVAL);
		CHECK(r.root.matches == NULL && r.root.children == NULL); /* out is empty */
		free(s);
	}
	/* Deeper than VT_ANALYSIS_RESULT_DEPTH_MAX members. */
	vt_buf_init(&deep, 1 << 20);
	for (int d = 0; d <= VT_ANALYSIS_RESULT_DEPTH_MAX + 1; d++)
		vt_buf_printf(&deep,
			      "{%s\"depth\":%d,\"size\":0,\"verdict\":\"clean\",\"matches\":[],"
			      "\"container\":\"tar\",\"children\":[",
			      d ? "\"name\":\"m\"," : "", d);
	vt_buf_adds(&deep, "]");
	for (int d = VT_ANALYSIS_RESULT_DEPTH_MAX + 1; d >= 0; d--)
		vt_buf_adds(&deep, d ? "}]" : ",\"ruleset\":null,\"magic_version\":\"5.44\"}");
	CHECK_CODE(vt_analysis_result_parse(&r, (const char *)deep.ptr, deep.len), VT_EINVAL);
	CHECK(strstr(vt_error_last(), "too deep") != NULL);
	vt_buf_dispose(&deep);
	/* Larger than the frame limit. */
	big = malloc(VT_ANALYSIS_RESULT_JSON_MAX + 2);
	memset(big, ' ', VT_ANALYSIS_RESULT_JSON_MAX + 1);
	big[VT_ANALYSIS_RESULT_JSON_MAX + 1] = 0;
	CHECK_CODE(vt_analysis_result_parse(&r, big, VT_ANALYSIS_RESULT_JSON_MAX + 1), VT_ETOOBIG);
	free(big);
}

/* The fuzz target's seeds: reports of vitrine scan --json read back, and bad ones refused. */
static void test_corpus(void)
{
	static const char *const good[] = {"eicar.com.json", "t.tgz.json", "elf.json",
					   "pe.json",	     "empty.json", "yara-only.json"};
	static const char *const bad[] = {"bad-depth.json", "bad-members.json", "dup-key.json",
					  "truncated.json"};
	char path[8192];
	vt_analysis_result r;
	vt_buf b;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]) + sizeof(bad) / sizeof(bad[0]); i++) {
		bool ok = i < sizeof(good) / sizeof(good[0]);
		const char *name = ok ? good[i] : bad[i - sizeof(good) / sizeof(good[0])];
		snprintf(path, sizeof(path), "%s/../../fuzz/corpus/analysis_result/%s",
			 test_data_path(""), name);
		CHECK(read_file(&b, path) == 0 && b.len > 0);
		/* vitrine scan --json ends the line with a newline: JSON allows it. */
		if (ok) {
			CHECK_OK(vt_analysis_result_parse(&r, (const char *)b.ptr, b.len));
			check_round_trip(&r, name);
		} else {
			CHECK_CODE(vt_analysis_result_parse(&r, (const char *)b.ptr, b.len),
				   VT_EINVAL);
		}
		vt_analysis_result_dispose(&r);
		vt_buf_dispose(&b);
	}
}

/* A memfd holding data, as the service hands samples over. */
static int memfd_of(const void *data, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, data, len) != (ssize_t)len) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static vt_analysis_sandbox *start(vt_analysis_rules *rules, const char *test, int deadline_s)
{
	vt_analysis_sandbox_options o;
	vt_analysis_sandbox *sb = NULL;

	vt_analysis_sandbox_options_default(&o);
	o.test = test;
	o.deadline_s = deadline_s;
	CHECK_OK(vt_analysis_sandbox_new(&sb, rules, &o));
	return sb;
}

static void test_child_scans(void)
{
	vt_analysis_rules *rules = NULL;
	vt_analysis_sandbox *sb;
	vt_analysis_result local, remote;
	vt_buf j1, j2, tgz;
	int fds[2], fd;

	vt_buf_init(&j1, 1 << 24);
	vt_buf_init(&j2, 1 << 24);
	CHECK_OK(vt_analysis_rules_compile_string(&rules, "t.yar", rules_src, true));
	sb = start(rules, NULL, 0);
	CHECK(vt_analysis_sandbox_alive(sb) && vt_analysis_sandbox_pid(sb) > 0);
	CHECK(vt_analysis_sandbox_rules(sb) == rules);
	CHECK(make_tgz(&tgz) == 0);
	/* The child's answer is what this process finds, byte for byte. */
	for (int i = 0; i < 3; i++) {
		const void *d = i == 0 ? (const void *)eicar : i == 1 ? (const void *)tgz.ptr : "";
		size_t n = i == 0 ? strlen(eicar) : i == 1 ? tgz.len : 0;
		fd = memfd_of(d, n);
		CHECK(fd >= 0);
		/* The answer is tied to the sample: its SHA-256 is checked. */
		CHECK_OK(scan_local(&local, rules, 0, d, n));
		CHECK_OK(vt_analysis_sandbox_scan_fd(&remote, sb, fd, local.root.sha256));
		vt_buf_reset(&j1);
		vt_buf_reset(&j2);
		CHECK_OK(vt_analysis_result_json(&j1, &local, NULL));
		CHECK_OK(vt_analysis_result_json(&j2, &remote, NULL));
		CHECK(strcmp(vt_buf_cstr(&j1), vt_buf_cstr(&j2)) == 0);
		CHECK(remote.root.verdict == (i == 2 ? VT_VERDICT_CLEAN : VT_VERDICT_MALICIOUS));
		CHECK(strcmp(remote.rules_digest, vt_analysis_rules_digest(rules)) == 0);
		vt_analysis_result_dispose(&local);
		vt_analysis_result_dispose(&remote);
		close(fd);
	}
	/* An error of the analysis is an error, and the child goes on. */
	CHECK(pipe(fds) == 0);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&remote, sb, fds[0], NULL), VT_EINVAL);
	CHECK(strstr(vt_error_last(), "analysis failed: not a regular file") != NULL);
	CHECK(vt_analysis_sandbox_alive(sb));
	close(fds[0]);
	close(fds[1]);
	fd = memfd_of(eicar, strlen(eicar));
	CHECK_OK(vt_analysis_sandbox_scan_fd(&remote, sb, fd, NULL));
	CHECK(remote.root.verdict == VT_VERDICT_MALICIOUS);
	vt_analysis_result_dispose(&remote);
	close(fd);
	vt_analysis_sandbox_free(sb);
	/* Without rules: no digest, facts still there. */
	sb = start(NULL, NULL, 0);
	fd = memfd_of(eicar, strlen(eicar));
	CHECK_OK(vt_analysis_sandbox_scan_fd(&remote, sb, fd, NULL));
	CHECK(remote.rules_digest[0] == '\0' && remote.root.verdict == VT_VERDICT_CLEAN);
	vt_analysis_result_dispose(&remote);
	close(fd);
	vt_analysis_sandbox_free(sb);
	vt_buf_dispose(&tgz);
	vt_buf_dispose(&j1);
	vt_buf_dispose(&j2);
	vt_analysis_rules_unref(rules);
}

/* The value of "Key:" in /proc/PID/FILE (first word), or "". */
static void proc_field(char *out, size_t cap, long pid, const char *file, const char *key)
{
	char path[64], line[512];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%ld/%s", pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(out, cap, "%s", line + strlen(key));
			break;
		}
	}
	fclose(f);
}

static void test_confinement(void)
{
	vt_analysis_sandbox *sb = start(NULL, NULL, 0);
	long pid = vt_analysis_sandbox_pid(sb);
	char v[256];
	char path[64];
	int nfd = 0;

	proc_field(v, sizeof(v), pid, "status", "Seccomp:");
	CHECK(strstr(v, "2") != NULL); /* filter mode */
	proc_field(v, sizeof(v), pid, "status", "NoNewPrivs:");
	CHECK(strstr(v, "1") != NULL);
	proc_field(v, sizeof(v), pid, "limits", "Max core file size");
	CHECK(strncmp(v + strspn(v, " "), "0 ", 2) == 0);
	proc_field(v, sizeof(v), pid, "limits", "Max file size");
	CHECK(strncmp(v + strspn(v, " "), "0 ", 2) == 0);
	proc_field(v, sizeof(v), pid, "limits", "Max open files");
	CHECK(strncmp(v + strspn(v, " "), "8 ", 2) == 0);
	/* Only the socket is open. */
	for (int fd = 0; fd < 64; fd++) {
		struct stat st;
		snprintf(path, sizeof(path), "/proc/%ld/fd/%d", pid, fd);
		if (lstat(path, &st) == 0)
			nfd++;
	}
	CHECK(nfd == 1);
	/* Its own process group. */
	CHECK(getpgid((pid_t)pid) == (pid_t)pid);
	vt_analysis_sandbox_free(sb);
}

/* What a compromised child might try: each is killed with SIGSYS. */
static void test_seccomp_kills(void)
{
	static const char *const tries[] = {"open", "socket", "execve"};
	vt_analysis_result r;

	for (size_t i = 0; i < sizeof(tries) / sizeof(tries[0]); i++) {
		vt_analysis_sandbox *sb = start(NULL, tries[i], 0);
		int fd = memfd_of(eicar, strlen(eicar));
		CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
		if (strstr(vt_error_last(), "analyser crashed: signal 31 (SIGSYS)") == NULL)
			fprintf(stderr, "%s: %s\n", tries[i], vt_error_last());
		CHECK(strstr(vt_error_last(), "analyser crashed: signal 31 (SIGSYS)") != NULL);
		CHECK(!vt_analysis_sandbox_alive(sb));
		/* A dead handle says so. */
		CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
		close(fd);
		vt_analysis_sandbox_free(sb);
	}
}

static void test_failures(void)
{
	vt_analysis_sandbox *sb;
	vt_analysis_sandbox_options o;
	vt_analysis_result r;
	int fd = memfd_of(eicar, strlen(eicar));

	sb = start(NULL, "hang", 1);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strcmp(vt_error_last(), "analyser timed out after 1 s") == 0);
	CHECK(!vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);

	sb = start(NULL, "garbage", 0);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strstr(vt_error_last(), "analyser sent a malformed answer") != NULL);
	CHECK(!vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);

	sb = start(NULL, "exit", 0);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strcmp(vt_error_last(), "analyser exited (exit status 3)") == 0);
	vt_analysis_sandbox_free(sb);

	/* Killed while idle: found before the sample is sent, not blamed on it. */
	sb = start(NULL, NULL, 0);
	CHECK(kill((pid_t)vt_analysis_sandbox_pid(sb), SIGKILL) == 0);
	usleep(100000);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strcmp(vt_error_last(), "analyser died while idle (signal 9 (SIGKILL))") == 0);
	CHECK(vt_analysis_sandbox_died_idle(sb));
	CHECK(!vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);

	/* A binary that is no analyser does not start. */
	vt_analysis_sandbox_options_default(&o);
	o.exe = "/bin/true";
	sb = NULL;
	CHECK_CODE(vt_analysis_sandbox_new(&sb, NULL, &o), VT_EIO);
	CHECK(strstr(vt_error_last(), "analyser could not start") != NULL);
	CHECK(sb == NULL);
	o.exe = "/nonexistent/vitrine";
	CHECK_CODE(vt_analysis_sandbox_new(&sb, NULL, &o), VT_EIO);
	close(fd);
}

/* A child that reads no requests cannot block the parent's send past the deadline. */
static void test_noread(void)
{
	vt_analysis_sandbox *sb = start(NULL, "noread", 2);
	vt_analysis_result r;
	int fd = memfd_of(eicar, strlen(eicar)), err = 0, n = 0;

	/* Its answers come without reading: the requests pile up until the
	 * socket's buffer is full (a few hundred). */
	while (n < 5000 && (err = vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL)) == 0) {
		vt_analysis_result_dispose(&r);
		n++;
	}
	fprintf(stderr, "note: the scans stopped after %d answered ones: %s\n", n, vt_error_last());
	CHECK_CODE(err, VT_EIO);
	/* Its answers come on a 10 ms clock, not per request: on a slow (or
	 * sanitized) build the parent may find one while idle first, and
	 * kills it for that. Either way the parent is not stuck. */
	if (strcmp(vt_error_last(), "analyser spoke while idle (killed)") != 0) {
		CHECK(n > 10 && n < 5000);
		CHECK(strcmp(vt_error_last(), "analyser timed out after 2 s (reads no requests)") ==
		      0);
	}
	CHECK(!vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);
	close(fd);
}

/* A child that closes its socket and runs on is killed; the scan does not wait for ever. */
static void test_close_spin(void)
{
	vt_analysis_sandbox *sb = start(NULL, "close-spin", 5);
	vt_analysis_result r;
	struct timespec t0, t1;
	long pid = vt_analysis_sandbox_pid(sb);
	int fd = memfd_of(eicar, strlen(eicar));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strcmp(vt_error_last(), "analyser closed its socket without exiting") == 0);
	/* Well before the 5 s deadline: end of file, a second's grace, the kill. */
	CHECK(t1.tv_sec - t0.tv_sec < 5);
	CHECK(!vt_analysis_sandbox_alive(sb));
	/* Killed and reaped: the pid is gone. */
	CHECK(kill((pid_t)pid, 0) < 0 && errno == ESRCH);
	vt_analysis_sandbox_free(sb);
	close(fd);
}

/* The child cannot pass its error off as the parent's idle-death code. */
static void test_child_codes(void)
{
	vt_analysis_sandbox *sb = start(NULL, "ebusy", 0);
	vt_analysis_result r;
	int fd = memfd_of(eicar, strlen(eicar));

	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strcmp(vt_error_last(), "analysis failed: pretend to be idle") == 0);
	CHECK(!vt_analysis_sandbox_died_idle(sb));
	CHECK(vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);
	close(fd);
}

/* An answer for another file than the one sent is refused. */
static void test_other_file(void)
{
	static const char same[] = "not the sample", similar[] = "not the sampla";
	vt_analysis_sandbox *sb;
	vt_analysis_result r;
	vt_hash h;
	char hex[65];
	int fd;

	/* The sample's size differs from the report's. */
	sb = start(NULL, "other", 0);
	fd = memfd_of(eicar, strlen(eicar));
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EIO);
	CHECK(strcmp(vt_error_last(),
		     "analyser sent a malformed answer: it answered for another file") == 0);
	CHECK(!vt_analysis_sandbox_alive(sb));
	vt_analysis_sandbox_free(sb);
	close(fd);
	/* The same size, another SHA-256. */
	sb = start(NULL, "other", 0);
	fd = memfd_of(similar, strlen(similar));
	vt_sha256(&h, similar, strlen(similar));
	vt_hex_encode(hex, h.b, sizeof(h.b));
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, hex), VT_EIO);
	CHECK(strstr(vt_error_last(), "it answered for another file") != NULL);
	vt_analysis_sandbox_free(sb);
	close(fd);
	/* The file it answers for: accepted (the check is not what refused). */
	sb = start(NULL, "other", 0);
	fd = memfd_of(same, strlen(same));
	vt_sha256(&h, same, strlen(same));
	vt_hex_encode(hex, h.b, sizeof(h.b));
	CHECK_OK(vt_analysis_sandbox_scan_fd(&r, sb, fd, hex));
	CHECK(strcmp(r.root.sha256, hex) == 0);
	vt_analysis_result_dispose(&r);
	vt_analysis_sandbox_free(sb);
	close(fd);
}

/* After confinement a path cannot be looked up, also through newfstatat. */
static void test_fs_view(void)
{
	vt_analysis_sandbox *sb = start(NULL, "stat", 0);
	vt_analysis_result r;
	char path[64], root[256];
	ssize_t n;
	int fd = memfd_of(eicar, strlen(eicar));

	if (!vt_analysis_sandbox_fs_confined(sb)) {
		fprintf(stderr, "note: no user namespace and not root: the child can stat paths; "
				"empty file system view not tested\n");
		goto done;
	}
	snprintf(path, sizeof(path), "/proc/%ld/root", vt_analysis_sandbox_pid(sb));
	n = readlink(path, root, sizeof(root) - 1);
	CHECK(n > 0);
	root[n > 0 ? n : 0] = 0;
	CHECK(strstr(root, "/fdinfo") != NULL);
	CHECK_CODE(vt_analysis_sandbox_scan_fd(&r, sb, fd, NULL), VT_EINVAL);
	CHECK(strcmp(vt_error_last(), "analysis failed: stat /etc/passwd: ENOENT") == 0);
	CHECK(vt_analysis_sandbox_alive(sb));
done:
	vt_analysis_sandbox_free(sb);
	close(fd);
}

static long max_rss_kib(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return u.ru_maxrss;
}

/* n bytes of "[U,U,...]" (a NUL after). */
static char *repeat(size_t n, const char *unit)
{
	size_t k = 0, ul = strlen(unit);
	char *s = malloc(n + 1);

	s[k++] = '[';
	while (k + ul + 2 <= n) {
		if (k > 1)
			s[k++] = ',';
		memcpy(s + k, unit, ul);
		k += ul;
	}
	s[k++] = ']';
	memset(s + k, ' ', n - k);
	s[n] = 0;
	return s;
}

/* Dense JSON is refused before jansson builds its tree (2.5 GB for 32 MiB of "{},"). */
static void test_budget(void)
{
	static const char *const units[] = {"{}", "[]", "1", "\"\""};
	vt_analysis_result r;
	vt_buf b;
	long before;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *s = repeat(VT_ANALYSIS_RESULT_JSON_MAX, units[i]);
		before = max_rss_kib();
		CHECK_CODE(vt_analysis_result_parse(&r, s, VT_ANALYSIS_RESULT_JSON_MAX),
			   VT_ETOOBIG);
		CHECK(strstr(vt_error_last(), "would take more than 256 MiB") != NULL);
		if (max_rss_kib() - before > 256 * 1024)
			fprintf(stderr, "%s: max RSS grew by %ld KiB\n", units[i],
				max_rss_kib() - before);
		CHECK(max_rss_kib() - before <= 256 * 1024);
		free(s);
	}
	/* Separators inside strings do not count: one string of 16 MiB of "{},". */
	{
		char *s = malloc(16u << 20);
		size_t n = (16u << 20) - 4;
		s[0] = '"';
		for (size_t k = 1; k < n; k++)
			s[k] = "{},"[k % 3];
		s[n] = '"';
		s[n + 1] = 0;
		CHECK(vt_analysis__result_budget(s, n + 1) == 0);
		/* An escaped quote does not end the string. */
		memcpy(s + 1, "\\\"", 2);
		CHECK(vt_analysis__result_budget(s, n + 1) == 0);
		free(s);
	}
	/* A report at the node limit is still read. */
	vt_buf_init(&b, VT_ANALYSIS_RESULT_JSON_MAX);
	vt_buf_adds(&b, "{\"depth\":0,\"size\":0,\"verdict\":\"clean\",\"matches\":[],"
			"\"container\":\"tar\",\"children\":[");
	for (int i = 1; i < VT_ANALYSIS_RESULT_NODES_MAX; i++)
		vt_buf_adds(&b, i > 1 ? ",{\"name\":\"m\",\"depth\":1,\"size\":0,\"verdict\":"
					"\"clean\",\"matches\":[]}"
				      : "{\"name\":\"m\",\"depth\":1,\"size\":0,\"verdict\":"
					"\"clean\",\"matches\":[]}");
	vt_buf_adds(&b, "],\"ruleset\":null,\"magic_version\":\"5.44\",\"members\":1,"
			"\"unpacked\":0}");
	CHECK_OK(vt_analysis_result_parse(&r, (const char *)b.ptr, b.len));
	CHECK(r.root.nchildren == VT_ANALYSIS_RESULT_NODES_MAX - 1);
	vt_analysis_result_dispose(&r);
	vt_buf_dispose(&b);
}

/* The child's own arguments: canonical numbers only, every option known. */
static void test_child_args(void)
{
	/* Each bad one has a --ppid, so that only its own flaw can refuse it. */
	static const struct {
		const char *arg[3];
		const char *why;
	} bad[] = {
	    {{"--flags", "+5"}, "not a number: \"+5\""},
	    {{"--ppid", "007"}, "not a number: \"007\""},
	    {{"--memory-max", "-1"}, "not a number: \"-1\""},
	    {{"--memory-max", "18446744073709551616"}, "not a number: \"18446744073709551616\""},
	    {{"--flags"}, "--flags wants a value"},
	    {{"--nope", "1"}, "unknown option --nope"},
	};
	char *good[] = {"x", "--ppid", "12", "--flags", "0", "--memory-max", "1048576", NULL};
	vt_analysis_child_options o;

	CHECK_OK(vt_analysis_child_args(&o, 7, good));
	CHECK(o.ppid == 12 && o.flags == 0 && o.memory_max == 1048576);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[6] = {"x", "--ppid", "1"};
		int argc = 3;
		if (strcmp(bad[i].arg[0], "--ppid") == 0)
			argc = 1;
		for (int k = 0; k < 2 && bad[i].arg[k]; k++)
			argv[argc++] = (char *)bad[i].arg[k];
		int failures = vt_test_failures;
		CHECK_CODE(vt_analysis_child_args(&o, argc, argv), VT_EINVAL);
		CHECK(strstr(vt_error_last(), bad[i].why) != NULL);
		if (vt_test_failures != failures)
			fprintf(stderr, "  (the case that wants \"%s\")\n", bad[i].why);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "analysis-child") == 0) {
		vt_analysis_child_options o;
		bool confined = false;
		if (vt_analysis_child_args(&o, argc - 1, argv + 1) < 0 ||
		    vt_analysis_child_run(&confined, &o) < 0) {
			if (!confined) /* after it, a write to stderr kills */
				fprintf(stderr, "child: %s\n", vt_error_last());
			_exit(1);
		}
		_exit(0);
	}
	RUN(test_child_args);
	RUN(test_round_trips);
	RUN(test_known_answer);
	RUN(test_rejections);
	RUN(test_corpus);
	RUN(test_child_scans);
	RUN(test_confinement);
	RUN(test_seccomp_kills);
	RUN(test_failures);
	RUN(test_close_spin);
	RUN(test_noread);
	RUN(test_child_codes);
	RUN(test_other_file);
	RUN(test_fs_view);
	RUN(test_budget);
	return TEST_DONE();
}
