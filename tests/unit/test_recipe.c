/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the recipe parser: a full recipe, every refusal with its line number. */
#include "test.h"
#include "vitrine/encoding.h"
#include "vitrine/hash.h"
#include "vitrine/recipe.h"

static const char good[] =
    "# a comment\n"
    "Name: hello\n"
    "Version: 1.0~rc1+b2\n"
    "Source: src/dir sha256:0e9d051be1780c4f62d2684402e9e7040b69542b2a6b1c57f527d9b5658e0d0d\n"
    "Source-Date-Epoch: 1700000000\n"
    "Toolchain: /usr/bin/cc\n"
    " /usr/bin/ld\n"
    "Environment: CFLAGS=-O2 FOO=a=b\n"
    "Build:\n"
    " cc -o \"$VT_OUT/hello\" hello.c\n"
    " .\n"
    "\tif true; then\n"
    "   echo indented\n"
    " fi\n"
    "Outputs: hello\n"
    " share/doc/README\n"
    "Build-Order: any\n"
    "Timeout: 60\n"
    "Tmp-Size: 64M\n";

static void test_good(void)
{
	vt_recipe r;
	vt_hash h;
	char hex[65];
	CHECK_OK(vt_recipe_parse(&r, good, sizeof(good) - 1));
	CHECK(r.name && strcmp(r.name, "hello") == 0);
	CHECK(r.version && strcmp(r.version, "1.0~rc1+b2") == 0);
	CHECK(r.source && strcmp(r.source, "src/dir") == 0);
	vt_hex_encode(hex, r.source_digest.b, 32);
	CHECK(strcmp(hex, "0e9d051be1780c4f62d2684402e9e7040b69542b2a6b1c57f527d9b5658e0d0d") == 0);
	CHECK(r.source_date_epoch == 1700000000);
	CHECK(r.ntoolchain == 2 && strcmp(r.toolchain[1], "/usr/bin/ld") == 0);
	CHECK(r.nenv == 2 && strcmp(r.env[1], "FOO=a=b") == 0);
	CHECK(r.build && strcmp(r.build, "cc -o \"$VT_OUT/hello\" hello.c\n\nif true; then\n  "
					 "echo indented\nfi") == 0);
	CHECK(r.noutputs == 2 && strcmp(r.outputs[1], "share/doc/README") == 0);
	CHECK(r.build_order == VT_ORDER_ANY);
	CHECK(r.timeout == 60);
	CHECK(r.tmp_size == 64ULL << 20);
	vt_sha256(&h, good, sizeof(good) - 1);
	CHECK(vt_hash_equal(&h, &r.digest));
	vt_recipe_dispose(&r);
	vt_recipe_dispose(&r); /* a zeroed recipe is fine */
}

static void test_defaults(void)
{
	static const char min[] =
	    "Name: a\nVersion: 1\nSource: /abs sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000000\n"
	    "Source-Date-Epoch: 0\nBuild: make\nOutputs: a";
	vt_recipe r;
	CHECK_OK(vt_recipe_parse(&r, min, sizeof(min) - 1)); /* no final newline */
	CHECK(r.build && strcmp(r.build, "make") == 0);
	CHECK(r.timeout == 600 && r.tmp_size == 256ULL << 20 && r.build_order == VT_ORDER_FIXED);
	CHECK(r.nenv == 0 && r.ntoolchain == 0);
	vt_recipe_dispose(&r);
}

/* Replace the line starting with field (or add text when field is NULL). */
static void refuse(const char *field, const char *line, const char *want)
{
	char text[4096];
	const char *p = good;
	size_t n = 0;
	vt_recipe r;
	int err;

	while (*p) {
		size_t len = strcspn(p, "\n") + 1;
		if (field && strncmp(p, field, strlen(field)) == 0) {
			n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line);
			p += len;
			/* Drop the old field's continuation lines too. */
			while (*p == ' ' || *p == '\t')
				p += strcspn(p, "\n") + 1;
			continue;
		}
		memcpy(text + n, p, len);
		n += len;
		p += len;
	}
	if (!field)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", line);
	err = vt_recipe_parse(&r, text, n);
	CHECK_CODE(err, VT_EINVAL);
	if (!strstr(vt_error_last(), want))
		fprintf(stderr, "message \"%s\" lacks \"%s\"\n", vt_error_last(), want);
	CHECK(strstr(vt_error_last(), want) != NULL);
	CHECK(r.name == NULL && r.outputs == NULL);
}

static void test_refusals(void)
{
	refuse(NULL, "Maintainer: x\n", "line 20: unknown field Maintainer");
	refuse(NULL, "Name: again\n", "line 20: field Name given twice (first on line 2)");
	refuse(NULL, "name: lower\n", "line 20: unknown field name");
	refuse("Name:", "", "missing field Name");
	refuse("Version:", "", "missing field Version");
	refuse("Source:", "", "missing field Source");
	refuse("Build:", "", "missing field Build");
	refuse("Outputs:", "", "missing field Outputs");
	refuse("Source-Date-Epoch:", "", "missing field Source-Date-Epoch");
	refuse("Name:", "Name: Hello\n", "line 2: Name:");
	refuse("Name:", "Name:\n", "line 2: Name: empty value");
	refuse("Version:", "Version: 1 2\n", "line 3: Version:");
	refuse("Source:", "Source: src\n", "line 4: Source: want");
	refuse("Source:", "Source: src sha256:abcd\n", "line 4: Source: the digest");
	refuse("Source:", "Source: src md5:0e9d051be1780c4f62d2684402e9e704\n", "line 4: Source:");
	refuse("Source-Date-Epoch:", "Source-Date-Epoch: 01\n", "line 5: Source-Date-Epoch");
	refuse("Source-Date-Epoch:", "Source-Date-Epoch: -1\n", "line 5: Source-Date-Epoch");
	refuse("Source-Date-Epoch:", "Source-Date-Epoch: 253402300800\n", "Source-Date-Epoch");
	refuse("Toolchain:", "Toolchain: cc\n", "line 6: Toolchain: cc is not an absolute path");
	refuse("Toolchain:", "Toolchain: /a /a\n", "line 6: Toolchain: /a given twice");
	refuse("Environment:", "Environment: PATH=/x\n", "line 8: Environment: PATH is set by");
	refuse("Environment:", "Environment: LC_CTYPE=C\n", "LC_CTYPE is set by the sandbox");
	refuse("Environment:", "Environment: LD_PRELOAD=x\n", "LD_PRELOAD is set by the sandbox");
	refuse("Environment:", "Environment: lower=1\n", "lower=1 is not NAME=VALUE");
	refuse("Environment:", "Environment: NOVALUE\n", "NOVALUE is not NAME=VALUE");
	refuse("Environment:", "Environment: A=1 A=2\n", "A given twice");
	refuse("Build:", "Build:\n .\n", "Build: no steps");
	refuse("Outputs:", "Outputs: ../x\n", "Outputs: ../x is not a plain relative path");
	refuse("Outputs:", "Outputs: /etc/passwd\n", "/etc/passwd is not a plain");
	refuse("Outputs:", "Outputs: a//b\n", "a//b is not a plain");
	refuse("Outputs:", "Outputs: a/./b\n", "a/./b is not a plain");
	refuse("Outputs:", "Outputs: dir/\n", "dir/ is not a plain");
	refuse("Outputs:", "Outputs: a$b\n", "is not a plain");
	refuse("Outputs:", "Outputs: a a\n", "a given twice");
	refuse("Outputs:", "Outputs:\n", "Outputs: no outputs");
	refuse("Build-Order:", "Build-Order: random\n", "Build-Order: want fixed or any");
	refuse("Timeout:", "Timeout: 0\n", "Timeout: want");
	refuse("Timeout:", "Timeout: 86401\n", "Timeout: want");
	refuse("Tmp-Size:", "Tmp-Size: 1K\n", "Tmp-Size");
	refuse("Tmp-Size:", "Tmp-Size: 17G\n", "Tmp-Size");
	refuse("Tmp-Size:", "Tmp-Size: M\n", "Tmp-Size");
	refuse("Name:", "Name: hello \n", "line 2: trailing white space");
	refuse("Name:", "Name: hel\rlo\n", "line 2: control character 0x0d");
	refuse("Name:", "\nName: hello\n", "line 2: blank line");
	refuse("Name:", " hello\nName: x\n", "line 2: continuation line without a field");
	refuse("Name:", "Name: a\n b\n", "line 3: Name takes a single line");
	refuse("Name:", "Name hello\n", "line 2: want \"Field: value\"");
}

static void test_sizes(void)
{
	static char big[VT_RECIPE_MAX_SIZE + 2];
	vt_recipe r;
	memset(big, '#', sizeof(big));
	CHECK_CODE(vt_recipe_parse(&r, big, sizeof(big)), VT_ETOOBIG);
	CHECK_CODE(vt_recipe_parse(&r, "", 0), VT_EINVAL);
}

int main(void)
{
	RUN(test_good);
	RUN(test_defaults);
	RUN(test_refusals);
	RUN(test_sizes);
	return TEST_DONE();
}
