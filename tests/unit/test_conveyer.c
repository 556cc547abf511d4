/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of tree digests (against an independent shell computation, and
 * tarballs made by tar and by Python against directories) and of the
 * provenance statement and its envelope.
 */
#include "test.h"
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/note.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

static char dir[] = "/tmp/vt-conveyer.XXXXXX";

/* Run a shell command in dir; 0 when it exits 0. Tests only. */
static int sh(const char *cmd)
{
	char line[8192];
	snprintf(line, sizeof(line), "cd '%s' && { %s\n} 2>/dev/null", dir, cmd);
	return system(line) == 0 ? 0 : -1;
}

/* The manifest of docs/conveyer.md, computed by find, sort and sha256sum. */
static const char shell_manifest[] =
    "cd tree && { echo vitrine-tree/1; find . -mindepth 1 | sed 's|^\\./||' | LC_ALL=C sort |"
    " while IFS= read -r p; do"
    "  if [ -L \"$p\" ]; then t=$(readlink \"$p\");"
    "   printf 'l - %s %s %s\\n' $(printf %s \"$t\" | wc -c) $(printf %s \"$t\" | sha256sum | cut "
    "-d' ' -f1) \"$p\";"
    "  elif [ -d \"$p\" ]; then printf 'd - - - %s\\n' \"$p\";"
    "  else x=-; [ -n \"$(find \"$p\" -perm -u+x)\" ] && x=x;"
    "   printf 'f %s %s %s %s\\n' $x $(wc -c < \"$p\") $(sha256sum < \"$p\" | cut -d' ' -f1) "
    "\"$p\"; fi;"
    " done; } > ../manifest.txt && sha256sum < ../manifest.txt | cut -c1-64 > ../digest.txt";

static void read_text(vt_buf *b, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	vt_buf_reset(b);
	CHECK_OK(vt_fs_read(b, AT_FDCWD, path));
}

static void test_tree_dir(void)
{
	char path[256], hex[65];
	vt_buf manifest, want;
	vt_hash h, h2;

	vt_buf_init(&manifest, 1 << 20);
	vt_buf_init(&want, 1 << 20);
	/* Sorting traps ("a-b" < "a/b" < "a0" bytewise), an empty file and dir, links, modes. */
	CHECK_OK(
	    sh("mkdir -p tree/a/b tree/empty tree/z && printf 'one\\n' > tree/a/b/c.txt && "
	       "printf 'x' > tree/a-b && : > tree/a0 && printf '#!/bin/sh\\n' > tree/run.sh && "
	       "chmod 0755 tree/run.sh && chmod 0640 tree/a0 && ln -s a/b/c.txt tree/link && "
	       "ln -s /nowhere tree/z/dangling && head -c 100000 /dev/zero > tree/z/zeros"));
	snprintf(path, sizeof(path), "%s/tree", dir);
	CHECK_OK(vt_tree_digest_dir(&h, &manifest, path));
	CHECK_OK(sh(shell_manifest));
	read_text(&want, "manifest.txt");
	CHECK(manifest.len == want.len && memcmp(manifest.ptr, want.ptr, want.len) == 0);
	if (manifest.len != want.len || memcmp(manifest.ptr, want.ptr, want.len) != 0)
		fprintf(stderr, "ours:\n%s\nshell:\n%s\n", vt_buf_cstr(&manifest),
			vt_buf_cstr(&want));
	read_text(&want, "digest.txt");
	vt_hex_encode(hex, h.b, 32);
	CHECK(want.len >= 64 && memcmp(want.ptr, hex, 64) == 0);
	CHECK(strstr(vt_buf_cstr(&manifest), "d - - - a\nd - - - a/b\n") ==
	      NULL); /* a-b sorts between */
	CHECK(strstr(vt_buf_cstr(&manifest), "a-b\nd - - - a/b\n") != NULL);

	/* Times, owners and group/other bits do not count; the exec bit does. */
	CHECK_OK(sh("touch -d @1 tree/a0 tree/a && chmod 0600 tree/a0 && chown 1:1 tree/a-b"));
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, path));
	CHECK(vt_hash_equal(&h, &h2));
	CHECK_OK(sh("chmod 0744 tree/a0"));
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, path));
	CHECK(!vt_hash_equal(&h, &h2));
	CHECK_OK(sh("chmod 0640 tree/a0 && rmdir tree/empty"));
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, path));
	CHECK(!vt_hash_equal(&h, &h2)); /* an empty directory counts */
	CHECK_OK(sh("mkdir tree/empty && ln -sf a/b tree/link"));
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, path));
	CHECK(!vt_hash_equal(&h, &h2)); /* a link by its target */
	CHECK_OK(sh("ln -sfn a/b/c.txt tree/link"));
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, path));
	CHECK(vt_hash_equal(&h, &h2));

	/* The tarball of the tree has its digest, whatever tar stored besides. */
	CHECK_OK(
	    sh("tar -C tree -cf t1.tar --owner=5 --group=5 --mtime=@7 . && "
	       "tar -C tree -czf t2.tgz a a-b a0 empty link run.sh z && "
	       "(cd tree && tar -cJf ../t3.txz --no-recursion a/b/c.txt a-b a0 empty link run.sh "
	       "z/dangling z/zeros)"));
	snprintf(path, sizeof(path), "%s/t1.tar", dir);
	CHECK_OK(vt_tree_digest_tar(&h2, NULL, path));
	CHECK(vt_hash_equal(&h, &h2));
	snprintf(path, sizeof(path), "%s/t2.tgz", dir);
	CHECK_OK(vt_tree_digest(&h2, NULL, path));
	CHECK(vt_hash_equal(&h, &h2));
	snprintf(path, sizeof(path), "%s/t3.txz", dir); /* parents a, a/b, z implied */
	CHECK_OK(vt_tree_digest(&h2, NULL, path));
	CHECK(vt_hash_equal(&h, &h2));

	/* vt_tree_pack and vt_tree_pack_fd give the same bytes, whose digest is the tree's. */
	{
		vt_buf mem, file;
		int fd;
		vt_buf_init(&mem, 1 << 22);
		vt_buf_init(&file, 1 << 22);
		snprintf(path, sizeof(path), "%s/tree", dir);
		CHECK_OK(vt_tree_pack(&mem, path));
		snprintf(path, sizeof(path), "%s/packed.tar", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		CHECK(fd >= 0);
		snprintf(path, sizeof(path), "%s/tree", dir);
		CHECK_OK(vt_tree_pack_fd(fd, path));
		close(fd);
		read_text(&file, "packed.tar");
		CHECK(mem.len > 100000 && file.len == mem.len &&
		      memcmp(file.ptr, mem.ptr, mem.len) == 0);
		snprintf(path, sizeof(path), "%s/packed.tar", dir);
		CHECK_OK(vt_tree_digest_tar(&h2, NULL, path));
		CHECK(vt_hash_equal(&h, &h2));
		vt_buf_dispose(&mem);
		vt_buf_dispose(&file);
	}

	/* Known answer: the hello source of the tests' data. */
	CHECK_OK(vt_tree_digest_dir(&h2, NULL, test_data_path("conveyer/hello/src")));
	vt_hex_encode(hex, h2.b, 32);
	CHECK(strcmp(hex, "0e9d051be1780c4f62d2684402e9e7040b69542b2a6b1c57f527d9b5658e0d0d") == 0);
	vt_buf_dispose(&manifest);
	vt_buf_dispose(&want);
}

/* A tarball written by Python's tarfile with one odd member. */
static int py_tar(const char *name, const char *members)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import tarfile,io\n"
		 "t=tarfile.open(\"%s\",\"w\")\n"
		 "def f(n,d=b\"x\",k=tarfile.REGTYPE,l=\"\"):\n"
		 " i=tarfile.TarInfo(n); i.type=k; i.linkname=l; i.size=len(d) if "
		 "k==tarfile.REGTYPE else 0\n"
		 " t.addfile(i, io.BytesIO(d) if k==tarfile.REGTYPE else None)\n"
		 "%s\n"
		 "t.close()'",
		 name, members);
	return sh(cmd);
}

static void test_tree_refusals(void)
{
	char path[256];
	vt_hash h;
	static const struct {
		const char *name, *members;
		int code;
	} cases[] = {
	    {"dotdot.tar", "f(\"a/../../etc/x\")", VT_EINVAL},
	    {"abs.tar", "f(\"/etc/x\")", VT_EINVAL},
	    {"dup.tar", "f(\"a\"); f(\"a\")", VT_EINVAL},
	    {"dirfile.tar", "f(\"a\"); f(\"a/b\")", VT_EINVAL},
	    {"hard.tar", "f(\"a\"); f(\"b\",k=tarfile.LNKTYPE,l=\"a\")", VT_EINVAL},
	    {"fifo.tar", "f(\"p\",k=tarfile.FIFOTYPE)", VT_EINVAL},
	    {"dot.tar", "f(\"a/./b\")", VT_EINVAL},
	    {"ok.tar", "f(\"./a/b\"); f(\"a/\",k=tarfile.DIRTYPE)", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].name);
		CHECK_OK(py_tar(cases[i].name, cases[i].members));
		CHECK_CODE(vt_tree_digest_tar(&h, NULL, path), cases[i].code);
	}
	CHECK_OK(sh("mkdir -p fifo && mkfifo fifo/p && head -c 2000 /dev/urandom > junk.tar && "
		    "head -c 700 t1.tar > cut.tar"));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	CHECK_CODE(vt_tree_digest_dir(&h, NULL, path), VT_EINVAL);
	snprintf(path, sizeof(path), "%s/junk.tar", dir);
	CHECK_CODE(vt_tree_digest(&h, NULL, path), VT_ECORRUPT);
	snprintf(path, sizeof(path), "%s/cut.tar", dir);
	CHECK_CODE(vt_tree_digest(&h, NULL, path), VT_ECORRUPT);
	snprintf(path, sizeof(path), "%s/nothing", dir);
	CHECK_CODE(vt_tree_digest(&h, NULL, path), VT_ENOTFOUND);
	CHECK_CODE(vt_tree_digest_dir(&h, NULL, "/dev/null"), VT_EINVAL);
}

static void fake_build(vt_build *b)
{
	static const char recipe[] =
	    "Name: demo\nVersion: 2\nSource: s sha256:"
	    "1111111111111111111111111111111111111111111111111111111111111111\n"
	    "Source-Date-Epoch: 5\nBuild: true\nOutputs: bin/demo\n";
	memset(b, 0, sizeof(*b));
	vt_buf_init(&b->report, 1024);
	CHECK_OK(vt_recipe_parse(&b->recipe, recipe, sizeof(recipe) - 1));
	b->recipe_name = strdup("demo.recipe");
	b->source_digest = b->recipe.source_digest;
	b->noutputs = 1;
	b->outputs = calloc(1, sizeof(*b->outputs));
	b->outputs[0].name = strdup("bin/demo");
	memset(b->outputs[0].digest.b, 0xab, 32);
	b->ntools = 1;
	b->tools = calloc(1, sizeof(*b->tools));
	b->tools[0].path = strdup("/usr/bin/cc");
	b->tools[0].resolved = strdup("/usr/bin/gcc-12");
	memset(b->tools[0].digest.b, 0xcd, 32);
	b->runs = 2;
	b->reproduced = true;
	strcpy(b->sandbox, "bubblewrap 0.8.0");
	strcpy(b->invocation_id, "00112233445566778899aabbccddeeff");
	b->started.tv_sec = 1700000000;
	b->finished.tv_sec = 1700000061;
}

static const char *jstr(json_t *root, const char *path)
{
	json_t *v = root;
	char key[64];
	while (v && *path) {
		size_t n = strcspn(path, ".");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		v = key[0] >= '0' && key[0] <= '9' ? json_array_get(v, (size_t)atoi(key))
						   : json_object_get(v, key);
		path += n + (path[n] == '.');
	}
	return json_string_value(v);
}

static void test_provenance(void)
{
	vt_note_signer *ns = NULL;
	vt_dsse_signer s;
	vt_buf st, st2, env, out, sk;
	json_t *root;
	vt_build b;
	uint8_t wrong[32] = {1};

	fake_build(&b);
	vt_buf_init(&st, 1 << 20);
	vt_buf_init(&st2, 1 << 20);
	vt_buf_init(&env, 1 << 20);
	vt_buf_init(&out, 1 << 20);
	vt_buf_init(&sk, 4096);
	CHECK_OK(vt_provenance_statement(&st, &b, "https://builders.example/one"));
	CHECK_OK(vt_provenance_statement(&st2, &b, "https://builders.example/one"));
	CHECK(st.len == st2.len && memcmp(st.ptr, st2.ptr, st.len) == 0);
	CHECK(strncmp(vt_buf_cstr(&st),
		      "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicate\":", 55) == 0);
	CHECK_CODE(vt_provenance_statement(&st2, &b, ""), VT_EINVAL);
	root = json_loads(vt_buf_cstr(&st), 0, NULL);
	CHECK(root != NULL);
	CHECK(strcmp(jstr(root, "predicateType"), VT_PREDICATE_TYPE) == 0);
	CHECK(strcmp(jstr(root, "subject.0.name"), "bin/demo") == 0);
	CHECK(strncmp(jstr(root, "subject.0.digest.sha256"), "abababab", 8) == 0);
	CHECK(strcmp(jstr(root, "predicate.buildDefinition.buildType"), VT_BUILD_TYPE) == 0);
	CHECK(strcmp(jstr(root, "predicate.buildDefinition.externalParameters.recipe.name"),
		     "demo.recipe") == 0);
	CHECK(
	    strncmp(jstr(root,
			 "predicate.buildDefinition.externalParameters.source.digest.vitrineTree1"),
		    "1111", 4) == 0);
	CHECK(strcmp(jstr(root, "predicate.buildDefinition.resolvedDependencies.2.name"),
		     "/usr/bin/cc") == 0);
	CHECK(strncmp(jstr(root, "predicate.buildDefinition.resolvedDependencies.2.digest.sha256"),
		      "cdcd", 4) == 0);
	CHECK(strcmp(jstr(root, "predicate.runDetails.builder.id"),
		     "https://builders.example/one") == 0);
	CHECK(strcmp(jstr(root, "predicate.runDetails.metadata.startedOn"),
		     "2023-11-14T22:13:20Z") == 0);
	CHECK(strcmp(jstr(root, "predicate.runDetails.metadata.finishedOn"),
		     "2023-11-14T22:14:21Z") == 0);
	CHECK(strcmp(jstr(root, "predicate.runDetails.metadata.invocationId"), b.invocation_id) ==
	      0);
	json_decref(root);

	CHECK_OK(vt_note_signer_generate(&ns, "builder", VT_NOTE_ED25519));
	CHECK_OK(vt_note_signer_skey(&sk, ns));
	CHECK_OK(vt_dsse_signer_from_note(&s, (const char *)sk.ptr, sk.len));
	CHECK_OK(vt_dsse_sign(&env, &s, VT_DSSE_INTOTO_TYPE, st.ptr, st.len));
	CHECK_OK(vt_provenance_open(&out, (const char *)env.ptr, env.len, s.key.pub));
	CHECK(out.len == st.len && memcmp(out.ptr, st.ptr, st.len) == 0);
	CHECK_CODE(vt_provenance_open(&out, (const char *)env.ptr, env.len, wrong), VT_EVERIFY);
	/* Signed, but not a provenance statement. */
	vt_buf_reset(&env);
	CHECK_OK(vt_dsse_sign(&env, &s, VT_DSSE_INTOTO_TYPE, "{\"_type\":\"x\"}", 13));
	CHECK_CODE(vt_provenance_open(&out, (const char *)env.ptr, env.len, s.key.pub), VT_EINVAL);
	vt_buf_reset(&env);
	static const char nosub[] =
	    "{\"_type\":\"https://in-toto.io/Statement/v1\",\"predicateType\":"
	    "\"https://slsa.dev/provenance/v1\",\"subject\":[{\"name\":\"a\","
	    "\"digest\":{\"sha256\":\"ABAB\"}}]}";
	CHECK_OK(vt_dsse_sign(&env, &s, VT_DSSE_INTOTO_TYPE, nosub, sizeof(nosub) - 1));
	CHECK_CODE(vt_provenance_open(&out, (const char *)env.ptr, env.len, s.key.pub), VT_EINVAL);
	vt_buf_reset(&env);
	CHECK_OK(vt_dsse_sign(&env, &s, "text/plain", st.ptr, st.len));
	CHECK_CODE(vt_provenance_open(&out, (const char *)env.ptr, env.len, s.key.pub), VT_EINVAL);

	vt_dsse_signer_wipe(&s);
	vt_note_signer_free(ns);
	vt_build_dispose(&b);
	vt_buf_dispose(&st);
	vt_buf_dispose(&st2);
	vt_buf_dispose(&env);
	vt_buf_dispose(&out);
	vt_buf_dispose(&sk);
}

int main(void)
{
	char rm[128];
	if (!mkdtemp(dir))
		return 1;
	RUN(test_tree_dir);
	RUN(test_tree_refusals);
	RUN(test_provenance);
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		return 1;
	return TEST_DONE();
}
