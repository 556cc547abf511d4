/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of sample intake: entries byte for byte, residency decisions, streaming hashes, uploads
 * into a vault. */
#include "test.h"
#include "vitrine/clock.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/intake.h"
#include "vitrine/log.h"
#include "vitrine/note.h"
#include "vitrine/storage.h"
#include "vitrine/vault.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BODY_LEN (5 * 1024 * 1024 + 123)
/* sha256sum, sha1sum and md5sum of the body made by make_body(). */
#define BODY_SHA256 "49f5682de3b716768a677b27c1bd0068d74c7dc20d997f3e7632b8a23737358b"
#define BODY_SHA1   "05f7ea4be8c55db1936cecc258b55602919b9b53"
#define BODY_MD5    "b9820554c8373fa93e7c6e64b6c06e60"

static uint8_t *make_body(void)
{
	uint8_t *b = malloc(BODY_LEN);
	for (size_t i = 0; b && i < BODY_LEN; i++)
		b[i] = (uint8_t)(((i * 131) ^ (i >> 9)) & 0xff);
	return b;
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	vt_hex_encode(out, p, n);
	out[2 * n] = 0;
}

static void test_customer(void)
{
	uint8_t secret[VT_INTAKE_SECRET_SIZE];
	vt_hash h, h2;
	char s[65];

	for (int i = 0; i < VT_INTAKE_SECRET_SIZE; i++)
		secret[i] = (uint8_t)i;
	/* python3: hmac.new(bytes(range(32)), b"acme-eu", hashlib.sha256) */
	CHECK_OK(vt_intake_customer(&h, secret, "acme-eu"));
	hex(s, h.b, 32);
	CHECK(strcmp(s, "8a5f402cd7207ef0bc0943e66ab7bd5abb7767677c2ef55a9625b4ba730636e2") == 0);
	secret[0] ^= 1;
	CHECK_OK(vt_intake_customer(&h2, secret, "acme-eu"));
	CHECK(!vt_hash_equal(&h, &h2));
	CHECK_CODE(vt_intake_customer(&h, secret, ""), VT_EINVAL);
	CHECK_CODE(vt_intake_customer(&h, secret, "acme eu"), VT_EINVAL);
}

static void test_entry(void)
{
	static const char want_sample[] =
	    "vitrine/1 sample\n"
	    "sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
	    "size 3\n"
	    "jurisdiction CH-ZRH\n"
	    "customer 8a5f402cd7207ef0bc0943e66ab7bd5abb7767677c2ef55a9625b4ba730636e2\n"
	    "region EU\n";
	static const char want_sighting[] =
	    "vitrine/1 sighting\n"
	    "sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
	    "size 18446744073709551615\n"
	    "jurisdiction RU-MOW\n"
	    "customer 8a5f402cd7207ef0bc0943e66ab7bd5abb7767677c2ef55a9625b4ba730636e2\n"
	    "region RU\n";
	uint8_t secret[VT_INTAKE_SECRET_SIZE];
	vt_hash sha, cust;
	vt_buf b;

	for (int i = 0; i < VT_INTAKE_SECRET_SIZE; i++)
		secret[i] = (uint8_t)i;
	CHECK_OK(vt_sha256(&sha, "abc", 3));
	CHECK_OK(vt_intake_customer(&cust, secret, "acme-eu"));
	vt_buf_init(&b, 4096);
	CHECK_OK(vt_intake_entry(&b, true, &sha, 3, "CH-ZRH", &cust, "EU"));
	CHECK(b.len == strlen(want_sample) && memcmp(b.ptr, want_sample, b.len) == 0);
	vt_buf_reset(&b);
	CHECK_OK(vt_intake_entry(&b, false, &sha, UINT64_MAX, "RU-MOW", &cust, "RU"));
	CHECK(b.len == strlen(want_sighting) && memcmp(b.ptr, want_sighting, b.len) == 0);
	/* Refusals leave the buffer as it was. */
	vt_buf_reset(&b);
	vt_buf_adds(&b, "x");
	CHECK_CODE(vt_intake_entry(&b, true, &sha, 3, "ch-zrh", &cust, "EU"), VT_EINVAL);
	CHECK_CODE(vt_intake_entry(&b, true, &sha, 3, "CH-ZRH", &cust, "eu"), VT_EINVAL);
	CHECK_CODE(vt_intake_entry(&b, true, &sha, 3, "CH-ZRH", &cust, "EU\nregion RU"), VT_EINVAL);
	CHECK_CODE(vt_intake_entry(&b, true, &sha, 3, "", &cust, "EU"), VT_EINVAL);
	CHECK(b.len == 1);
	/* An entry bounded by a small buffer fails whole. */
	vt_buf_dispose(&b);
	vt_buf_init(&b, 64);
	CHECK(vt_intake_entry(&b, true, &sha, 3, "CH-ZRH", &cust, "EU") < 0);
	CHECK(b.len == 0);
	vt_buf_dispose(&b);
}

static int load_policy(vt_policy *p)
{
	vt_buf b;
	int err;
	vt_buf_init(&b, 1 << 20);
	err = vt_fs_read(&b, AT_FDCWD, test_data_path("policy/federation.policy"));
	if (err == 0)
		err = vt_policy_parse(p, (const char *)b.ptr, b.len);
	vt_buf_dispose(&b);
	return err;
}

static void test_decide(void)
{
	vt_intake_decision d;
	vt_policy p;

	vt_policy_init(&p);
	CHECK_OK(load_policy(&p));
	CHECK_OK(vt_intake_decide(&d, &p, "EU", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_HERE && strcmp(d.jurisdiction, "CH-ZRH") == 0 && !d.url[0]);
	CHECK_OK(vt_intake_decide(&d, &p, "RU", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_ELSEWHERE);
	CHECK(strcmp(d.url, "https://mow.vitrine.example") == 0);
	CHECK(strcmp(d.jurisdiction, "RU-MOW") == 0);
	CHECK(strstr(d.reason, "https://mow.vitrine.example") != NULL);
	CHECK_OK(vt_intake_decide(&d, &p, "BR", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_NOWHERE && !d.url[0] && strstr(d.reason, "BR"));
	/* Seen from Moscow, RU is at home and EU goes to Zurich. */
	CHECK_OK(vt_intake_decide(&d, &p, "RU", "RU-MOW"));
	CHECK(d.place == VT_POLICY_HERE);
	CHECK_OK(vt_intake_decide(&d, &p, "EU", "RU-MOW"));
	CHECK(d.place == VT_POLICY_ELSEWHERE && strcmp(d.url, "https://zrh.vitrine.example") == 0);
	/* A site the policy does not list keeps nothing. */
	CHECK_OK(vt_intake_decide(&d, &p, "EU", "DE-FRA"));
	CHECK(d.place == VT_POLICY_ELSEWHERE);
	/* Malformed regions are simply not in the policy. */
	CHECK_OK(vt_intake_decide(&d, &p, "eu", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_NOWHERE);
	CHECK_OK(vt_intake_decide(&d, &p, "", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_NOWHERE);
	/* No policy adopted: nowhere. */
	CHECK_OK(vt_intake_decide(&d, NULL, "EU", "CH-ZRH"));
	CHECK(d.place == VT_POLICY_NOWHERE && strstr(d.reason, "no residency policy"));
	vt_policy_dispose(&p);
}

static void test_hasher_pieces(void)
{
	static const size_t steps[] = {1, 7, 63, 4096, 65536, 65537, 1000003};
	uint8_t *body = make_body();
	vt_intake_hasher *h = NULL;
	vt_intake_digests d;
	char s[65];

	CHECK(body != NULL);
	if (!body)
		return;
	CHECK_OK(vt_intake_hasher_new(&h));
	for (size_t off = 0, k = 0; h && off < BODY_LEN; k++) {
		size_t n = steps[k % 7];
		if (n > BODY_LEN - off)
			n = BODY_LEN - off;
		CHECK_OK(vt_intake_hasher_update(h, body + off, n));
		CHECK_OK(vt_intake_hasher_update(h, body + off, 0));
		off += n;
	}
	CHECK_OK(vt_intake_hasher_final(&d, h));
	hex(s, d.sha256.b, 32);
	CHECK(strcmp(s, BODY_SHA256) == 0);
	hex(s, d.sha1, 20);
	CHECK(strcmp(s, BODY_SHA1) == 0);
	hex(s, d.md5, 16);
	CHECK(strcmp(s, BODY_MD5) == 0);
	vt_intake_hasher_free(h);
	free(body);
}

static char tmpdir[64];

static int count_files(const char *sub)
{
	char path[256];
	struct dirent *e;
	DIR *d;
	int n = 0;
	snprintf(path, sizeof(path), "%s/%s", tmpdir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int feed_body(vt_intake_upload *u, const uint8_t *body, size_t len)
{
	int err = 0;
	for (size_t off = 0, n; off < len && err == 0; off += n) {
		n = len - off < 12345 ? len - off : 12345;
		err = vt_intake_upload_write(u, body + off, n);
	}
	return err;
}

/* Finish an upload for tenant in EU, with no name, source or tags. */
static int finish(vt_intake_result *r, vt_intake_upload *u, const char *tenant)
{
	vt_intake_submission sub = {.tenant = tenant, .region = "EU"};
	return vt_intake_upload_finish(r, u, &sub);
}

/* The entry of r was published at index: its sighting indexed, then settled. */
static void published(vt_index *idx, vt_intake *in, vt_intake_result *r, int64_t index)
{
	vt_index_sighting v;

	memset(&v, 0, sizeof(v));
	v.sample = r->d.sha256;
	snprintf(v.tenant, sizeof(v.tenant), "acme-eu");
	snprintf(v.region, sizeof(v.region), "EU");
	v.log_index = index;
	CHECK_OK(vt_index_sighting_add(NULL, idx, &v));
	vt_intake_settle(in, r);
}

static int cat_tag(const char *tag, void *payload)
{
	char *out = payload;
	snprintf(out + strlen(out), 64 - strlen(out), "%s ", tag);
	return 0;
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	CHECK_OK(vt_fs_write_atomic(AT_FDCWD, path, data, len, 0644));
}

static void test_upload(void)
{
	uint8_t *body = make_body();
	uint8_t s1[32], s2[32];
	vt_index *idx = NULL;
	vt_intake *in = NULL;
	vt_intake_upload *u = NULL;
	vt_intake_result r;
	vt_intake_decision d;
	vt_buf pol;
	char path[256], s[65];
	struct stat st;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vt-test-intake.XXXXXX");
	CHECK(mkdtemp(tmpdir) != NULL);
	CHECK(body != NULL);
	if (!body)
		return;
	CHECK_OK(vt_index_open(&idx, tmpdir));
	/* No jurisdiction, no vault: no intake. */
	CHECK_CODE(vt_intake_open(&in, tmpdir, idx), VT_ENOTFOUND);
	write_file("jurisdiction", "CH-ZRH\n", 7);
	CHECK_CODE(vt_intake_open(&in, tmpdir, idx), VT_ENOTFOUND);
	CHECK_OK(vt_vault_init(tmpdir));
	CHECK_OK(vt_intake_open(&in, tmpdir, idx));
	if (!in)
		goto done;
	CHECK(strcmp(vt_intake_jurisdiction(in), "CH-ZRH") == 0);
	snprintf(path, sizeof(path), "%s/site.secret", tmpdir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
	CHECK_OK(vt_intake_secret_load(s1, tmpdir));
	CHECK_OK(vt_intake_secret_load(s2, tmpdir));
	CHECK(memcmp(s1, s2, 32) == 0);

	/* Residency follows DIR/policy as it changes. */
	CHECK_OK(vt_intake_residency(&d, in, "EU"));
	CHECK(d.place == VT_POLICY_NOWHERE);
	vt_buf_init(&pol, 1 << 20);
	CHECK_OK(vt_fs_read(&pol, AT_FDCWD, test_data_path("policy/federation.policy.signed")));
	write_file("policy", pol.ptr, pol.len);
	vt_buf_reset(&pol);
	CHECK_OK(vt_fs_read(&pol, AT_FDCWD, test_data_path("policy/policy.vkey")));
	write_file("policy.vkey", pol.ptr, pol.len);
	CHECK_OK(vt_intake_residency(&d, in, "EU"));
	CHECK(d.place == VT_POLICY_HERE);
	CHECK_OK(vt_intake_residency(&d, in, "RU"));
	CHECK(d.place == VT_POLICY_ELSEWHERE && strcmp(d.url, "https://mow.vitrine.example") == 0);
	/* A policy that does not verify counts as none. */
	vt_buf_reset(&pol);
	CHECK_OK(vt_fs_read(&pol, AT_FDCWD, test_data_path("policy/federation.policy.signed")));
	pol.ptr[30] = pol.ptr[30] == 'x' ? 'y' : 'x';
	write_file("policy", pol.ptr, pol.len);
	CHECK(vt_intake_residency(&d, in, "EU") < 0);
	CHECK(d.place == VT_POLICY_NOWHERE);
	vt_buf_dispose(&pol);

	/* A new file, fed in pieces. */
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(feed_body(u, body, BODY_LEN));
	CHECK_OK(finish(&r, u, "acme-eu"));
	hex(s, r.d.sha256.b, 32);
	CHECK(strcmp(s, BODY_SHA256) == 0);
	CHECK(r.d.size == BODY_LEN && r.is_new && r.stored);
	CHECK(r.sample.first_seen > 0 && strcmp(r.sample.jurisdiction, "CH-ZRH") == 0);
	CHECK(r.entry.len > 17 && memcmp(r.entry.ptr, "vitrine/1 sample\n", 17) == 0);
	CHECK(strstr((const char *)r.entry.ptr, "acme") == NULL);
	published(idx, in, &r, 0);
	vt_intake_result_dispose(&r);
	CHECK(count_files("vault/tmp") == 0);

	/* The same again, once the first is published: known, deduplicated, a sighting. */
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(feed_body(u, body, BODY_LEN));
	CHECK_OK(finish(&r, u, "acme-eu"));
	CHECK(!r.is_new && !r.stored);
	CHECK(r.entry.len > 19 && memcmp(r.entry.ptr, "vitrine/1 sighting\n", 19) == 0);
	vt_intake_result_dispose(&r);

	/* Over the limit: refused while streaming, nothing kept. */
	CHECK_OK(vt_intake_upload_new(&u, in, 1 << 20));
	CHECK_CODE(feed_body(u, body + 1, BODY_LEN - 1), VT_ETOOBIG);
	CHECK_CODE(vt_intake_upload_write(u, body, 1), VT_EINVAL);
	CHECK(finish(&r, u, "acme-eu") < 0);
	vt_intake_result_dispose(&r);
	CHECK(count_files("vault/tmp") == 0);
	/* Exactly the limit is fine. */
	CHECK_OK(vt_intake_upload_new(&u, in, 4096));
	CHECK_OK(feed_body(u, body + 7, 4096));
	CHECK_OK(finish(&r, u, "acme-eu"));
	CHECK(r.is_new && r.d.size == 4096);
	vt_intake_settle(in, &r);
	vt_intake_result_dispose(&r);
	/* Aborted and empty uploads store nothing. */
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(feed_body(u, body + 3, 100000));
	vt_intake_upload_abort(u);
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_CODE(finish(&r, u, "acme-eu"), VT_EINVAL);
	vt_intake_result_dispose(&r);
	/* A bad tenant is refused before anything is stored. */
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(feed_body(u, body + 5, 1000));
	CHECK_CODE(finish(&r, u, "acme eu"), VT_EINVAL);
	vt_intake_result_dispose(&r);
	CHECK(count_files("vault/tmp") == 0);
	/* Two objects: the big body and the 4 KiB one. */
	CHECK(count_files("vault") - 1 >= 1);
	{
		vt_index_key k = {.len = 32};
		vt_index_sample smp;
		CHECK_OK(vt_hex_decode(k.b, 32, BODY_SHA256, 64));
		CHECK_OK(vt_index_sample_get_by_hash(&smp, idx, &k));
		CHECK(smp.size == BODY_LEN);
		CHECK_OK(vt_hex_decode(
		    k.b, 32, "0000000000000000000000000000000000000000000000000000000000000000",
		    64));
		CHECK_CODE(vt_index_sample_get_by_hash(&smp, idx, &k), VT_ENOTFOUND);
	}

	/* A secret readable by others is refused. */
	vt_intake_close(in);
	in = NULL;
	CHECK(chmod(path, 0644) == 0);
	CHECK_CODE(vt_intake_open(&in, tmpdir, idx), VT_EDENIED);
done:
	vt_intake_close(in);
	vt_index_close(idx);
	free(body);
	{
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		CHECK(system(cmd) == 0);
	}
}

/* Tags fields: commas or spaces between tags, each checked. */
static void test_tags_parse(void)
{
	vt_buf b;

	vt_buf_init(&b, 256);
	CHECK_OK(vt_intake_tags_parse(&b, ""));
	CHECK(b.len == 0);
	CHECK_OK(vt_intake_tags_parse(&b, " ,test,, eicar  apt:29/x "));
	CHECK(strcmp(vt_buf_cstr(&b), "test eicar apt:29/x") == 0);
	vt_buf_reset(&b);
	CHECK_CODE(vt_intake_tags_parse(&b, "good bad!"), VT_EINVAL);
	CHECK(b.len == 0 && strstr(vt_error_last(), "bad!") != NULL);
	CHECK_CODE(vt_intake_tags_parse(&b, "a\tb"), VT_EINVAL);
	{
		char big[80];
		memset(big, 'x', 65);
		big[65] = 0;
		CHECK_CODE(vt_intake_tags_parse(&b, big), VT_EINVAL);
		big[64] = 0;
		CHECK_OK(vt_intake_tags_parse(&b, big));
		CHECK(b.len == 64);
	}
	vt_buf_dispose(&b);
	vt_buf_init(&b, 8);
	CHECK_CODE(vt_intake_tags_parse(&b, "abc defgh"), VT_ETOOBIG);
	CHECK(b.len == 0);
	vt_buf_dispose(&b);
}

/* A site for the waiting tests: jurisdiction, vault, index, intake. */
static int site_open(vt_index **idx, vt_intake **in)
{
	char path[128];
	int err;

	*idx = NULL;
	*in = NULL;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/vt-test-intake.XXXXXX");
	if (!mkdtemp(tmpdir))
		return vt_error_set(VT_EIO, "mkdtemp");
	snprintf(path, sizeof(path), "%s/jurisdiction", tmpdir);
	if ((err = vt_fs_write_atomic(AT_FDCWD, path, "CH-ZRH\n", 7, 0644)) < 0 ||
	    (err = vt_vault_init(tmpdir)) < 0 || (err = vt_index_open(idx, tmpdir)) < 0)
		return err;
	return vt_intake_open(in, tmpdir, *idx);
}

static void site_close(vt_index *idx, vt_intake *in)
{
	char cmd[128];

	vt_intake_close(in);
	vt_index_close(idx);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	CHECK(system(cmd) == 0);
}

static int upload_text(vt_intake_result *r, vt_intake *in, const char *text, const char *tenant)
{
	vt_intake_upload *u = NULL;
	int err;

	if ((err = vt_intake_upload_new(&u, in, 0)) < 0 ||
	    (err = vt_intake_upload_write(u, text, strlen(text))) < 0) {
		vt_intake_upload_abort(u);
		return err;
	}
	return finish(r, u, tenant);
}

static bool is_sample_entry(const vt_intake_result *r)
{
	return r->entry.len > 17 && memcmp(r->entry.ptr, "vitrine/1 sample\n", 17) == 0;
}

/* A second upload of a file, on its own thread. */
struct second {
	vt_intake *in;
	vt_intake_result r;
	int err;
	volatile int done; /* read by the test only after a sleep, as a hint */
};

static void *second_main(void *arg)
{
	struct second *x = arg;
	x->err = upload_text(&x->r, x->in, "waited-for file\n", "other-eu");
	x->done = 1;
	return NULL;
}

/*
 * An upload that finds the file's `sample` entry on its way waits for it
 * to settle. Refused (settled without publishing): it logs `sample`
 * itself; published: `sighting`.
 */
static void wait_case(bool publish)
{
	vt_index *idx = NULL;
	vt_intake *in = NULL;
	vt_intake_result first;
	struct second x;
	pthread_t t;

	CHECK_OK(site_open(&idx, &in));
	if (!in)
		goto done;
	memset(&x, 0, sizeof(x));
	x.in = in;
	CHECK_OK(upload_text(&first, in, "waited-for file\n", "acme-eu"));
	CHECK(first.is_new && first.pending && is_sample_entry(&first));
	CHECK(pthread_create(&t, NULL, second_main, &x) == 0);
	usleep(200 * 1000);
	/* Still waiting: no entry can be decided while the first is open. */
	CHECK(!x.done);
	if (publish)
		published(idx, in, &first, 0);
	else
		vt_intake_settle(in, &first); /* what the server does when the log refuses */
	pthread_join(t, NULL);
	CHECK_OK(x.err);
	if (publish) {
		CHECK(!x.r.is_new && !x.r.pending && !is_sample_entry(&x.r));
	} else {
		CHECK(x.r.is_new && x.r.pending && is_sample_entry(&x.r));
		CHECK(strstr((const char *)x.r.entry.ptr, "region EU\n") != NULL);
	}
	vt_intake_settle(in, &x.r);
	vt_intake_result_dispose(&x.r);
	vt_intake_result_dispose(&first);
done:
	site_close(idx, in);
}

static void test_wait_refused(void)
{
	wait_case(false);
}

static void test_wait_published(void)
{
	wait_case(true);
}

/* A wait past its bound is VT_EBUSY (retry), and the next upload after the settle goes on. */
static void test_wait_timeout(void)
{
	vt_index *idx = NULL;
	vt_intake *in = NULL;
	vt_intake_result first, r;

	CHECK_OK(site_open(&idx, &in));
	if (!in)
		goto done;
	vt_intake_set_wait(in, 50);
	CHECK_OK(upload_text(&first, in, "slow file\n", "acme-eu"));
	CHECK(first.pending);
	CHECK_CODE(upload_text(&r, in, "slow file\n", "other-eu"), VT_EBUSY);
	CHECK(!r.pending);
	vt_intake_result_dispose(&r);
	/* Another file does not wait. */
	CHECK_OK(upload_text(&r, in, "another file\n", "other-eu"));
	CHECK(r.is_new && r.pending);
	vt_intake_settle(in, &r);
	vt_intake_settle(in, &r); /* a second settle does nothing */
	vt_intake_result_dispose(&r);
	published(idx, in, &first, 0);
	vt_intake_result_dispose(&first);
	CHECK_OK(upload_text(&r, in, "slow file\n", "other-eu"));
	CHECK(!r.is_new && !r.pending);
	vt_intake_result_dispose(&r);
done:
	site_close(idx, in);
}

/* The sample's tags are stored by the upload, also for a sighting; bad ones refused first. */
static void test_upload_tags(void)
{
	vt_index *idx = NULL;
	vt_intake *in = NULL;
	vt_intake_upload *u = NULL;
	vt_intake_result r;
	vt_intake_submission sub = {.tenant = "acme-eu", .region = "EU", .tags = "a,b"};
	char got[64] = "";

	CHECK_OK(site_open(&idx, &in));
	if (!in)
		goto done;
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(vt_intake_upload_write(u, "tagged\n", 7));
	sub.tags = "ok, not ok!";
	CHECK_CODE(vt_intake_upload_finish(&r, u, &sub), VT_EINVAL);
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(vt_intake_upload_write(u, "tagged\n", 7));
	sub.tags = "b a";
	CHECK_OK(vt_intake_upload_finish(&r, u, &sub));
	published(idx, in, &r, 0);
	vt_intake_result_dispose(&r);
	CHECK_OK(vt_intake_upload_new(&u, in, 0));
	CHECK_OK(vt_intake_upload_write(u, "tagged\n", 7));
	sub.tags = "c";
	CHECK_OK(vt_intake_upload_finish(&r, u, &sub));
	CHECK(!r.is_new);
	CHECK_OK(vt_index_tags_list(idx, &r.d.sha256, cat_tag, got));
	CHECK(strcmp(got, "a b c ") == 0);
	vt_intake_result_dispose(&r);
done:
	site_close(idx, in);
}

/* ---- the log walk of a stale pending entry runs unlocked -------------- */

/* intake.c's test hook: called by its log walk with pending_mu released. */
extern int (*vt_intake__settle_hook)(const vt_hash *sample);

/* Holds every walk until released; what the threads report, under mu. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int walks; /* hook calls */
	bool release;
	int fail; /* what the hook returns */
} hold = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int hold_walk(const vt_hash *sample)
{
	int fail;

	(void)sample;
	pthread_mutex_lock(&hold.mu);
	hold.walks++;
	pthread_cond_broadcast(&hold.cv);
	while (!hold.release)
		pthread_cond_wait(&hold.cv, &hold.mu);
	fail = hold.fail;
	pthread_mutex_unlock(&hold.mu);
	return fail;
}

static void hold_reset(int fail)
{
	pthread_mutex_lock(&hold.mu);
	hold.walks = 0;
	hold.release = false;
	hold.fail = fail;
	pthread_mutex_unlock(&hold.mu);
}

static void hold_release(void)
{
	pthread_mutex_lock(&hold.mu);
	hold.release = true;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.mu);
}

/* Wait until *v (under hold.mu) reaches want, at most ms; whether it did. */
static bool hold_until(const int *v, int want, unsigned ms)
{
	struct timespec until;
	bool ok;

	until = vt_timespec_after(CLOCK_REALTIME, ms);
	pthread_mutex_lock(&hold.mu);
	while (*v < want && pthread_cond_timedwait(&hold.cv, &hold.mu, &until) == 0)
		;
	ok = *v >= want;
	pthread_mutex_unlock(&hold.mu);
	return ok;
}

/* An upload on its own thread; settled at once when settle is set (a refused entry). */
struct uploader {
	pthread_t t;
	vt_intake *in;
	const char *text, *tenant;
	bool settle;
	vt_intake_result r;
	int err;
	int done; /* under hold.mu */
};

static void *uploader_main(void *arg)
{
	struct uploader *x = arg;

	x->err = upload_text(&x->r, x->in, x->text, x->tenant);
	if (x->settle)
		vt_intake_settle(x->in, &x->r);
	pthread_mutex_lock(&hold.mu);
	x->done = 1;
	pthread_cond_broadcast(&hold.cv);
	pthread_mutex_unlock(&hold.mu);
	return NULL;
}

static int uploader_start(struct uploader *x, vt_intake *in, const char *text, const char *tenant,
			  bool settle)
{
	memset(x, 0, sizeof(*x));
	x->in = in;
	x->text = text;
	x->tenant = tenant;
	x->settle = settle;
	return pthread_create(&x->t, NULL, uploader_main, x) == 0 ? 0 : VT_EIO;
}

/* Recover on its own thread. */
struct recoverer {
	pthread_t t;
	vt_intake *in;
	size_t found, dropped;
	int err;
};

static void *recoverer_main(void *arg)
{
	struct recoverer *x = arg;
	x->err = vt_intake_recover(x->in, &x->found, &x->dropped);
	return NULL;
}

/* The site of site_open with a log of its own. */
typedef struct {
	vt_index *idx;
	vt_intake *in;
	vt_storage *st;
	vt_log *log;
	vt_note_signer *signer;
} logged_site;

static int logged_open(logged_site *s)
{
	int err;

	memset(s, 0, sizeof(*s));
	if ((err = site_open(&s->idx, &s->in)) < 0 ||
	    (err = vt_note_signer_generate(&s->signer, "test.example/intake", VT_NOTE_ED25519)) <
		0 ||
	    (err = vt_storage_posix_open(&s->st, tmpdir, true)) < 0)
		return err;
	vt_intake_set_wait(s->in, 60000); /* longer than any hold below */
	return vt_log_open(&s->log, s->st, s->signer, NULL);
}

static void logged_close(logged_site *s)
{
	vt_log_close(s->log);
	if (s->st)
		vt_storage_close(s->st);
	vt_note_signer_free(s->signer);
	site_close(s->idx, s->in);
}

/*
 * A first upload of text whose `sample` entry the log published, after a
 * few other entries, before the process died: the pending row stays, its
 * sighting is not indexed and no upload has it on its way. *at: its index.
 */
static int stale_published(uint64_t *at, logged_site *s, const char *text)
{
	static const char *const filler[3] = {"filler 1\n", "filler 2\n", "filler 3\n"};
	const void *e[3];
	size_t len[3];
	vt_intake_result r;
	uint64_t first;
	int err;

	for (int i = 0; i < 3; i++) {
		e[i] = filler[i];
		len[i] = strlen(filler[i]);
	}
	if ((err = vt_log_append(s->log, &first, e, len, 3)) < 0 ||
	    (err = upload_text(&r, s->in, text, "acme-eu")) < 0)
		return err;
	e[0] = r.entry.ptr;
	len[0] = r.entry.len;
	if ((err = vt_log_append(s->log, at, e, len, 1)) == 0 && !r.is_new)
		err = vt_error_set(VT_EINVAL, "not a first upload");
	vt_intake_result_dispose(&r);
	if (err < 0)
		return err;
	/* The process dies: the mark in memory goes, the row stays. */
	vt_intake_close(s->in);
	s->in = NULL;
	if ((err = vt_intake_open(&s->in, tmpdir, s->idx)) == 0)
		vt_intake_set_wait(s->in, 60000);
	return err;
}

/* How many sightings a sample has, and the last one's index and tenant. */
struct last_seen {
	size_t n;
	int64_t log_index;
	char tenant[VT_TENANT_MAX + 1];
};

static int count_sighting(const vt_index_sighting *v, void *payload)
{
	struct last_seen *x = payload;
	x->n++;
	x->log_index = v->log_index;
	snprintf(x->tenant, sizeof(x->tenant), "%s", v->tenant);
	return 0;
}

/*
 * While an upload walks the log for its file's stale pending entry,
 * uploads and settles of other files go on (the walk once held
 * pending_mu: every record and both event-loop threads stalled for it);
 * an upload of the same file waits, then is a sighting of the entry found.
 */
static void test_walk_unlocked(void)
{
	struct last_seen seen = {0};
	vt_index_sample_pending p;
	struct uploader a1, a2, b;
	logged_site s;
	uint64_t at = 0;
	bool a1_started = false, a2_started = false, b_started = false;

	CHECK_OK(logged_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(stale_published(&at, &s, "stale file\n"));
	CHECK(at == 3);
	hold_reset(0);
	vt_intake__settle_hook = hold_walk;
	CHECK_OK(uploader_start(&a1, s.in, "stale file\n", "other-eu", false));
	a1_started = true;
	CHECK(hold_until(&hold.walks, 1, 10000));
	/* Another file, uploaded and settled while the walk is held. */
	CHECK_OK(uploader_start(&b, s.in, "another file\n", "other-eu", true));
	b_started = true;
	CHECK(hold_until(&b.done, 1, 10000));
	/* The same file waits for the walk. */
	CHECK_OK(uploader_start(&a2, s.in, "stale file\n", "third-eu", false));
	a2_started = true;
	CHECK(!hold_until(&a2.done, 1, 200));
done:
	hold_release(); /* whatever failed: no thread stays held */
	if (a1_started)
		pthread_join(a1.t, NULL);
	if (b_started)
		pthread_join(b.t, NULL);
	if (a2_started)
		pthread_join(a2.t, NULL);
	vt_intake__settle_hook = NULL;
	if (b_started) {
		CHECK_OK(b.err);
		CHECK(b.r.is_new && !b.r.pending && is_sample_entry(&b.r));
		vt_intake_result_dispose(&b.r);
	}
	if (a1_started && a2_started) {
		/* Found at 3: the first upload's sighting indexed, both sightings. */
		CHECK_OK(a1.err);
		CHECK(!a1.r.is_new && !a1.r.pending && !is_sample_entry(&a1.r));
		CHECK_OK(a2.err);
		CHECK(!a2.r.is_new && !a2.r.pending && !is_sample_entry(&a2.r));
		/* The second decided from that sighting, without a walk. */
		CHECK(hold.walks == 1);
		CHECK_OK(
		    vt_index_sightings_list(s.idx, &a1.r.d.sha256, NULL, count_sighting, &seen));
		CHECK(seen.n == 1 && seen.log_index == 3 && strcmp(seen.tenant, "acme-eu") == 0);
		CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &a1.r.d.sha256), VT_ENOTFOUND);
		vt_intake_result_dispose(&a1.r);
		vt_intake_result_dispose(&a2.r);
	}
	logged_close(&s);
}

/* A walk that fails drops its mark: the next upload of the file does not wait. */
static void test_walk_fails(void)
{
	vt_index_sample_pending p;
	vt_intake_result r;
	logged_site s;
	uint64_t at = 0;

	CHECK_OK(logged_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(stale_published(&at, &s, "stale file\n"));
	hold_reset(VT_EIO);
	hold_release();
	vt_intake__settle_hook = hold_walk;
	CHECK_CODE(upload_text(&r, s.in, "stale file\n", "other-eu"), VT_EIO);
	CHECK(!r.pending);
	vt_intake_result_dispose(&r);
	vt_intake__settle_hook = NULL;
	/* The row is as it was. */
	CHECK_OK(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256));
	CHECK(strcmp(p.tenant, "acme-eu") == 0);
	vt_intake_set_wait(s.in, 50);
	CHECK_OK(upload_text(&r, s.in, "stale file\n", "other-eu"));
	CHECK(!r.is_new && !r.pending && !is_sample_entry(&r));
	vt_intake_result_dispose(&r);
	CHECK_CODE(vt_index_sample_pending_get(&p, s.idx, &r.d.sha256), VT_ENOTFOUND);
done:
	vt_intake__settle_hook = NULL;
	logged_close(&s);
}

/* vt_intake_recover walks unlocked too: uploads of other files go on meanwhile. */
static void test_recover_unlocked(void)
{
	struct recoverer rc = {0};
	struct uploader b;
	logged_site s;
	uint64_t at = 0;
	bool rc_started = false, b_started = false;

	CHECK_OK(logged_open(&s));
	if (!s.log)
		goto done;
	CHECK_OK(stale_published(&at, &s, "stale file\n"));
	hold_reset(0);
	vt_intake__settle_hook = hold_walk;
	rc.in = s.in;
	CHECK(pthread_create(&rc.t, NULL, recoverer_main, &rc) == 0);
	rc_started = true;
	CHECK(hold_until(&hold.walks, 1, 10000));
	CHECK_OK(uploader_start(&b, s.in, "another file\n", "other-eu", true));
	b_started = true;
	CHECK(hold_until(&b.done, 1, 10000));
done:
	hold_release();
	if (rc_started)
		pthread_join(rc.t, NULL);
	if (b_started)
		pthread_join(b.t, NULL);
	vt_intake__settle_hook = NULL;
	if (rc_started) {
		CHECK_OK(rc.err);
		CHECK(rc.found == 1 && rc.dropped == 0);
	}
	if (b_started) {
		CHECK_OK(b.err);
		CHECK(b.r.is_new);
		vt_intake_result_dispose(&b.r);
	}
	logged_close(&s);
}

int main(void)
{
	RUN(test_customer);
	RUN(test_entry);
	RUN(test_decide);
	RUN(test_hasher_pieces);
	RUN(test_upload);
	RUN(test_tags_parse);
	RUN(test_wait_refused);
	RUN(test_wait_published);
	RUN(test_wait_timeout);
	RUN(test_upload_tags);
	RUN(test_walk_unlocked);
	RUN(test_walk_fails);
	RUN(test_recover_unlocked);
	return TEST_DONE();
}
