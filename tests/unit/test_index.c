/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the metadata index (schema, samples, sightings, tags, lookups, analyses, search) and of
 * tokens. */
#include "test.h"

#include "vitrine/encoding.h"
#include "vitrine/hash.h"
#include "vitrine/index.h"
#include "vitrine/token.h"

#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *tmpdir(char *buf)
{
	strcpy(buf, "/tmp/vt-index-XXXXXX");
	return mkdtemp(buf);
}

static double seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A made-up sample numbered i, with hashes derived from i. */
static vt_index_sample sample_n(unsigned i)
{
	vt_index_sample s;
	char buf[32];
	vt_hash h;
	memset(&s, 0, sizeof(s));
	snprintf(buf, sizeof(buf), "sample %u", i);
	vt_sha256(&s.sha256, buf, strlen(buf));
	snprintf(buf, sizeof(buf), "sha1 %u", i);
	vt_sha256(&h, buf, strlen(buf));
	memcpy(s.sha1, h.b, VT_SHA1_SIZE);
	snprintf(buf, sizeof(buf), "md5 %u", i);
	vt_sha256(&h, buf, strlen(buf));
	memcpy(s.md5, h.b, VT_MD5_SIZE);
	s.size = 1000 + i;
	strcpy(s.jurisdiction, "CH-ZRH");
	return s;
}

static vt_index_key key_of(const void *b, size_t len)
{
	vt_index_key k;
	memset(&k, 0, sizeof(k));
	memcpy(k.b, b, len);
	k.len = (uint8_t)len;
	return k;
}

static int raw_sql(const char *dir, const char *q)
{
	char path[4096];
	sqlite3 *db = NULL;
	int rc;
	snprintf(path, sizeof(path), "%s/index.sqlite", dir);
	rc = sqlite3_open(path, &db);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, q, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

static void test_migrations(void)
{
	char d[64];
	vt_index *idx = NULL;
	char path[4096];
	struct stat st;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(idx && vt_index_schema_version(idx) == VT_INDEX_SCHEMA_VERSION);
	CHECK_OK(vt_index_check(idx));
	vt_index_close(idx);
	idx = NULL;
	snprintf(path, sizeof(path), "%s/index.sqlite", d);
	CHECK(stat(path, &st) == 0 && st.st_size > 0);
	/* Reopening migrates nothing and keeps what is there. */
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(idx && vt_index_schema_version(idx) == VT_INDEX_SCHEMA_VERSION);
	vt_index_close(idx);
	idx = NULL;
	/* What a migration wrote is there: tables, version, WAL mode. */
	CHECK(raw_sql(d, "SELECT count(*) FROM tokens, samples, sightings, tags, "
			 "access_requests") == SQLITE_OK);
	{
		sqlite3 *db = NULL;
		sqlite3_stmt *s = NULL;
		CHECK(sqlite3_open(path, &db) == SQLITE_OK);
		CHECK(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK);
		CHECK(sqlite3_step(s) == SQLITE_ROW &&
		      sqlite3_column_int(s, 0) == VT_INDEX_SCHEMA_VERSION);
		sqlite3_finalize(s);
		CHECK(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
		CHECK(sqlite3_step(s) == SQLITE_ROW &&
		      strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0);
		sqlite3_finalize(s);
		sqlite3_close(db);
	}
	rm_rf(d);
}

static void test_refusals(void)
{
	char d[64], path[4096];
	vt_index *idx = NULL;
	int fd;

	/* A schema newer than the code. */
	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	vt_index_close(idx);
	idx = NULL;
	CHECK(raw_sql(d, "PRAGMA user_version = 99") == SQLITE_OK);
	CHECK_CODE(vt_index_open(&idx, d), VT_EINVAL);
	CHECK(strstr(vt_error_last(), "schema version 99") != NULL);
	CHECK(strstr(vt_error_last(), "newer vitrine") != NULL);
	CHECK(idx == NULL);
	rm_rf(d);

	/* Some other SQLite database. */
	CHECK(tmpdir(d) != NULL);
	CHECK(raw_sql(d, "CREATE TABLE foo (x)") == SQLITE_OK);
	CHECK_CODE(vt_index_open(&idx, d), VT_ECORRUPT);
	CHECK(strstr(vt_error_last(), "not a vitrine index") != NULL);
	rm_rf(d);

	/* Not a database at all. */
	CHECK(tmpdir(d) != NULL);
	snprintf(path, sizeof(path), "%s/index.sqlite", d);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(fd >= 0);
	for (int i = 0; i < 64; i++)
		CHECK(write(fd, "this is no database, no no.\n", 28) == 28);
	close(fd);
	CHECK_CODE(vt_index_open(&idx, d), VT_ECORRUPT);
	CHECK(strstr(vt_error_last(), "index.sqlite") != NULL);
	rm_rf(d);

	/* A directory that does not exist. */
	CHECK_CODE(vt_index_open(&idx, "/nonexistent/vt-index"), VT_EIO);
}

static void test_corrupt_pages(void)
{
	char d[64], path[4096], junk[4096];
	vt_index *idx = NULL;
	vt_index_sample got;
	bool is_new;
	int fd, bad = 0;
	struct stat st;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	for (unsigned i = 0; i < 2000; i++) {
		vt_index_sample s = sample_n(i);
		CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &s));
	}
	vt_index_close(idx); /* the last close checkpoints the WAL into the file */
	idx = NULL;
	snprintf(path, sizeof(path), "%s/index.sqlite", d);
	CHECK(stat(path, &st) == 0 && st.st_size > 16 * 4096);
	memset(junk, 0xa5, sizeof(junk));
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0);
	/* Smash every page after the first few: the header survives. */
	for (off_t off = 4 * 4096; off < st.st_size; off += 4096)
		CHECK(pwrite(fd, junk, sizeof(junk), off) == (ssize_t)sizeof(junk));
	close(fd);
	if (vt_index_open(&idx, d) < 0) {
		CHECK(strstr(vt_error_last(), "index") != NULL);
		bad = 1;
	} else {
		CHECK_CODE(vt_index_check(idx), VT_ECORRUPT);
		/* Reads of smashed pages say so too. */
		for (unsigned i = 0; i < 2000 && !bad; i++) {
			vt_index_sample s = sample_n(i);
			vt_index_key k = key_of(s.sha256.b, VT_HASH_SIZE);
			int err = vt_index_sample_get_by_hash(&got, idx, &k);
			if (err == VT_ECORRUPT)
				bad = 1;
		}
	}
	CHECK(bad);
	vt_index_close(idx);
	rm_rf(d);
}

static void test_samples(void)
{
	char d[64];
	vt_index *idx = NULL;
	vt_index_sample s = sample_n(1), got, again;
	vt_index_key k;
	bool is_new = false;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	s.first_seen = 1700000000;
	CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &s));
	CHECK(is_new);
	CHECK(memcmp(&got, &s, sizeof(s)) == 0);
	/* Known: the first record wins, with its time and place. */
	s.first_seen = 1800000000;
	strcpy(s.jurisdiction, "DE-FRA");
	CHECK_OK(vt_index_sample_put(&again, &is_new, idx, &s));
	CHECK(!is_new);
	CHECK(again.first_seen == 1700000000 && strcmp(again.jurisdiction, "CH-ZRH") == 0);
	/* The same SHA-256 with other hashes or size is refused. */
	s = sample_n(1);
	s.size++;
	CHECK_CODE(vt_index_sample_put(&got, &is_new, idx, &s), VT_EEXISTS);
	s = sample_n(1);
	s.md5[0] ^= 1;
	CHECK_CODE(vt_index_sample_put(&got, &is_new, idx, &s), VT_EEXISTS);
	s = sample_n(2);
	strcpy(s.jurisdiction, "zurich");
	CHECK_CODE(vt_index_sample_put(&got, &is_new, idx, &s), VT_EINVAL);
	/* first_seen 0 means now. */
	s = sample_n(3);
	CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &s));
	CHECK(is_new && got.first_seen >= time(NULL) - 5 && got.first_seen <= time(NULL));

	/* By each kind of hash. */
	s = sample_n(1);
	k = key_of(s.sha256.b, VT_HASH_SIZE);
	CHECK_OK(vt_index_sample_get_by_hash(&got, idx, &k));
	CHECK(got.size == s.size && memcmp(got.md5, s.md5, VT_MD5_SIZE) == 0);
	k = key_of(s.sha1, VT_SHA1_SIZE);
	CHECK_OK(vt_index_sample_get_by_hash(&got, idx, &k));
	CHECK(vt_hash_equal(&got.sha256, &s.sha256));
	k = key_of(s.md5, VT_MD5_SIZE);
	CHECK_OK(vt_index_sample_get_by_hash(&got, idx, &k));
	CHECK(vt_hash_equal(&got.sha256, &s.sha256));
	s = sample_n(99);
	k = key_of(s.sha256.b, VT_HASH_SIZE);
	CHECK_CODE(vt_index_sample_get_by_hash(&got, idx, &k), VT_ENOTFOUND);
	k = key_of(s.md5, VT_MD5_SIZE);
	CHECK_CODE(vt_index_sample_get_by_hash(&got, idx, &k), VT_ENOTFOUND);
	k.len = 17;
	CHECK_CODE(vt_index_sample_get_by_hash(&got, idx, &k), VT_EINVAL);
	vt_index_close(idx);
	rm_rf(d);
}

static void test_key_parse(void)
{
	vt_index_key k;
	const char *h64 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";
	CHECK_OK(vt_index_key_parse(&k, h64, 64));
	CHECK(k.len == 32 && k.b[0] == 0xe3 && k.b[31] == 0x55);
	CHECK_OK(vt_index_key_parse(&k, "da39a3ee5e6b4b0d3255bfef95601890afd80709", 40));
	CHECK(k.len == 20 && k.b[0] == 0xda && k.b[19] == 0x09);
	CHECK_OK(vt_index_key_parse(&k, "d41d8cd98f00b204e9800998ecf8427e", 32));
	CHECK(k.len == 16 && k.b[15] == 0x7e);
	CHECK_CODE(vt_index_key_parse(&k, "d41d8cd98f00b204e9800998ecf8427", 31), VT_EINVAL);
	CHECK_CODE(vt_index_key_parse(&k, "g41d8cd98f00b204e9800998ecf8427e", 32), VT_EINVAL);
	CHECK_CODE(vt_index_key_parse(&k, "", 0), VT_EINVAL);
	CHECK_CODE(vt_index_key_parse(&k, "../../etc/passwd/aaaaaaaaaaaaaaa", 32), VT_EINVAL);
}

struct put_job {
	vt_index *idx; /* shared, or NULL to open one's own */
	const char *dir;
	int news;
	int errors;
};

#define PUT_SAMPLES 100

static void *put_thread(void *arg)
{
	struct put_job *j = arg;
	vt_index *idx = j->idx;
	vt_index_sample got;
	bool is_new;

	if (!idx && vt_index_open(&idx, j->dir) < 0) {
		j->errors++;
		return NULL;
	}
	for (unsigned i = 0; i < PUT_SAMPLES; i++) {
		vt_index_sample s = sample_n(i);
		if (vt_index_sample_put(&got, &is_new, idx, &s) < 0)
			j->errors++;
		else if (is_new)
			j->news++;
	}
	if (!j->idx)
		vt_index_close(idx);
	return NULL;
}

static int count_rows(const char *dir, const char *q)
{
	char path[4096];
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	int n = -1;
	snprintf(path, sizeof(path), "%s/index.sqlite", dir);
	if (sqlite3_open(path, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, q, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(db);
	return n;
}

static void test_concurrent_puts(void)
{
	enum { THREADS = 8 };
	char d[64];
	vt_index *idx = NULL;
	pthread_t th[THREADS];
	struct put_job jobs[THREADS];
	int news = 0, errors = 0;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	/* Threads sharing one handle. */
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct put_job){.idx = idx, .dir = d};
		CHECK(pthread_create(&th[i], NULL, put_thread, &jobs[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		news += jobs[i].news;
		errors += jobs[i].errors;
	}
	CHECK(errors == 0);
	CHECK(news == PUT_SAMPLES);
	vt_index_close(idx);
	CHECK(count_rows(d, "SELECT count(*) FROM samples") == PUT_SAMPLES);
	rm_rf(d);

	/* Threads each with its own handle: connections race like processes. */
	news = errors = 0;
	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	vt_index_close(idx);
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct put_job){.idx = NULL, .dir = d};
		CHECK(pthread_create(&th[i], NULL, put_thread, &jobs[i]) == 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		news += jobs[i].news;
		errors += jobs[i].errors;
	}
	CHECK(errors == 0);
	CHECK(news == PUT_SAMPLES);
	CHECK(count_rows(d, "SELECT count(*) FROM samples") == PUT_SAMPLES);
	rm_rf(d);
}

struct collect {
	int n;
	char text[8][400];
	vt_index_sighting last;
};

static int collect_sighting(const vt_index_sighting *s, void *payload)
{
	struct collect *c = payload;
	if (c->n < 8)
		snprintf(c->text[c->n], sizeof(c->text[0]), "%s/%s/%s", s->tenant, s->region,
			 s->name);
	c->n++;
	c->last = *s;
	return 0;
}

static int collect_tag(const char *tag, void *payload)
{
	struct collect *c = payload;
	if (c->n < 8)
		snprintf(c->text[c->n], sizeof(c->text[0]), "%s", tag);
	c->n++;
	return 0;
}

static int stop_at_first(const vt_index_sighting *s, void *payload)
{
	return 42;
}

static void test_sightings_and_tags(void)
{
	char d[64];
	vt_index *idx = NULL;
	vt_index_sample s = sample_n(7), got, other = sample_n(8);
	vt_index_sighting v = {0};
	struct collect c;
	bool is_new;
	int64_t id1 = 0, id2 = 0;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &s));

	v.sample = s.sha256;
	strcpy(v.tenant, "acme");
	strcpy(v.region, "EU");
	strcpy(v.name, "invoice.pdf.exe");
	strcpy(v.source, "Trojan.Generic");
	v.time = 1700000000;
	v.log_index = 5;
	CHECK_OK(vt_index_sighting_add(&id1, idx, &v));
	strcpy(v.tenant, "globex");
	strcpy(v.region, "NA");
	strcpy(v.name, "");
	v.log_index = -1;
	CHECK_OK(vt_index_sighting_add(&id2, idx, &v));
	CHECK(id1 > 0 && id2 > id1);

	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_sightings_list(idx, &s.sha256, NULL, collect_sighting, &c));
	CHECK(c.n == 2);
	CHECK(strcmp(c.text[0], "acme/EU/invoice.pdf.exe") == 0);
	CHECK(strcmp(c.text[1], "globex/NA/") == 0);
	CHECK(c.last.log_index == -1 && c.last.time == 1700000000);
	/* A tenant sees its own sightings only. */
	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_sightings_list(idx, &s.sha256, "acme", collect_sighting, &c));
	CHECK(c.n == 1 && c.last.log_index == 5 && strcmp(c.last.source, "Trojan.Generic") == 0);
	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_sightings_list(idx, &s.sha256, "initech", collect_sighting, &c));
	CHECK(c.n == 0);
	CHECK_CODE(vt_index_sightings_list(idx, &s.sha256, NULL, stop_at_first, NULL), 42);

	/* Refusals. */
	v.sample = other.sha256;
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_ENOTFOUND);
	v.sample = s.sha256;
	strcpy(v.name, "evil\nname");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);
	strcpy(v.name, "ok");
	strcpy(v.source, "tab\there");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);
	strcpy(v.source, "");
	strcpy(v.tenant, "");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);
	strcpy(v.tenant, "a/b");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);
	strcpy(v.tenant, "acme");
	strcpy(v.region, "eu");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);
	strcpy(v.region, "");
	CHECK_CODE(vt_index_sighting_add(NULL, idx, &v), VT_EINVAL);

	/* Tags: idempotent, sorted, checked. */
	CHECK_OK(vt_index_tag_add(idx, &s.sha256, "ransomware"));
	CHECK_OK(vt_index_tag_add(idx, &s.sha256, "family:lockbit"));
	CHECK_OK(vt_index_tag_add(idx, &s.sha256, "ransomware"));
	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_tags_list(idx, &s.sha256, collect_tag, &c));
	CHECK(c.n == 2 && strcmp(c.text[0], "family:lockbit") == 0 &&
	      strcmp(c.text[1], "ransomware") == 0);
	CHECK_CODE(vt_index_tag_add(idx, &other.sha256, "x"), VT_ENOTFOUND);
	CHECK_CODE(vt_index_tag_add(idx, &s.sha256, ""), VT_EINVAL);
	CHECK_CODE(vt_index_tag_add(idx, &s.sha256, "two words"), VT_EINVAL);
	CHECK_CODE(vt_index_tag_add(idx, &s.sha256, "<script>"), VT_EINVAL);
	CHECK_CODE(
	    vt_index_tag_add(idx, &s.sha256,
			     "a234567890123456789012345678901234567890123456789012345678901234"
			     "5"),
	    VT_EINVAL);
	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_tags_list(idx, &other.sha256, collect_tag, &c));
	CHECK(c.n == 0);

	/* Access requests. */
	{
		vt_index_access a = {0};
		int64_t aid = 0;
		strcpy(a.resource, "files/abc/content");
		strcpy(a.result, "no-reason");
		a.log_index = -1;
		CHECK_OK(vt_index_access_add(&aid, idx, &a));
		CHECK(aid == 1);
		a.token_id = 12345;
		CHECK_CODE(vt_index_access_add(NULL, idx, &a), VT_ENOTFOUND);
		a.token_id = 0;
		strcpy(a.result, "");
		CHECK_CODE(vt_index_access_add(NULL, idx, &a), VT_EINVAL);
		strcpy(a.result, "granted");
		strcpy(a.ticket, "INC\x01");
		CHECK_CODE(vt_index_access_add(NULL, idx, &a), VT_EINVAL);
	}
	CHECK_OK(vt_index_check(idx));
	vt_index_close(idx);
	rm_rf(d);
}

static void test_lookup_many(void)
{
	enum { N = 1000, KNOWN = 2000 };
	char d[64];
	vt_index *idx = NULL;
	vt_index_key *keys = calloc(VT_INDEX_LOOKUP_MAX + 1, sizeof(*keys));
	vt_index_hit *hits = calloc(VT_INDEX_LOOKUP_MAX + 1, sizeof(*hits));
	vt_index_sample got;
	bool is_new, all = true;
	double t0, dt;
	int rounds = 0;

	CHECK(keys && hits);
	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	for (unsigned i = 0; i < KNOWN; i++) {
		vt_index_sample s = sample_n(i);
		CHECK_OK(vt_index_sample_put(&got, &is_new, idx, &s));
	}
	/* Even i: known (by SHA-256, SHA-1 or MD5 in turn); odd: unknown. */
	for (unsigned i = 0; i < N; i++) {
		vt_index_sample s = sample_n(i % 2 ? KNOWN + i : i);
		keys[i] = (i / 2) % 3 == 0   ? key_of(s.sha256.b, VT_HASH_SIZE)
			  : (i / 2) % 3 == 1 ? key_of(s.sha1, VT_SHA1_SIZE)
					     : key_of(s.md5, VT_MD5_SIZE);
	}
	CHECK_OK(vt_index_lookup_many(hits, idx, keys, N));
	for (unsigned i = 0; i < N; i++) {
		vt_index_sample s = sample_n(i);
		if (i % 2 == 0)
			all = all && hits[i].found &&
			      vt_hash_equal(&hits[i].sample.sha256, &s.sha256) &&
			      hits[i].sample.size == s.size;
		else
			all = all && !hits[i].found && hits[i].sample.size == 0;
	}
	CHECK(all);
	CHECK_OK(vt_index_lookup_many(hits, idx, keys, 0));
	/* The largest batch works; one more is too big. */
	for (unsigned i = N; i < VT_INDEX_LOOKUP_MAX + 1; i++)
		keys[i] = keys[i % N];
	CHECK_OK(vt_index_lookup_many(hits, idx, keys, VT_INDEX_LOOKUP_MAX));
	CHECK(hits[VT_INDEX_LOOKUP_MAX - 1].found == ((VT_INDEX_LOOKUP_MAX - 1) % N % 2 == 0));
	CHECK_CODE(vt_index_lookup_many(hits, idx, keys, VT_INDEX_LOOKUP_MAX + 1), VT_ETOOBIG);
	keys[500].len = 31;
	CHECK_CODE(vt_index_lookup_many(hits, idx, keys, N), VT_EINVAL);
	keys[500] = keys[0];

	t0 = seconds();
	do {
		CHECK_OK(vt_index_lookup_many(hits, idx, keys, N));
		rounds++;
		dt = seconds() - t0;
	} while (dt < 0.5);
	printf("# bulk lookups (batches of %d, half known, one thread): %.0f hashes/s\n", N,
	       (double)rounds * N / dt);
	vt_index_close(idx);
	free(keys);
	free(hits);
	rm_rf(d);
}

struct count_tokens {
	int n, revoked;
	vt_token last;
};

static int count_token(const vt_token *t, void *payload)
{
	struct count_tokens *c = payload;
	c->n++;
	c->revoked += t->revoked != 0;
	c->last = *t;
	return 0;
}

static void test_tokens(void)
{
	char d[64], sa[VT_TOKEN_LEN + 1], ss[VT_TOKEN_LEN + 1], sx[VT_TOKEN_LEN + 1];
	vt_index *idx = NULL, *other = NULL;
	vt_token t, t2;
	struct count_tokens c = {0};
	char longname[VT_TOKEN_NAME_MAX + 2];

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK_OK(vt_index_token_create(&t, sa, idx, "analyst", "alice", NULL, NULL));
	CHECK(strlen(sa) == VT_TOKEN_LEN && memcmp(sa, "vt_", 3) == 0);
	CHECK(t.id == 1 && strcmp(t.role, "analyst") == 0 && t.tenant[0] == '\0' && !t.revoked);
	CHECK_OK(vt_index_token_create(&t, ss, idx, "submitter", "acme-eu-1", "acme", "EU"));
	CHECK(t.id == 2 && strcmp(t.tenant, "acme") == 0 && strcmp(t.region, "EU") == 0);
	/* Only the hash is stored. */
	{
		vt_hash h;
		vt_sha256(&h, ss, VT_TOKEN_LEN);
		CHECK(vt_hash_equal(&h, &t.hash));
		CHECK(count_rows(d, "SELECT count(*) FROM tokens WHERE hash LIKE 'vt_%'") == 0);
	}

	/* Check. */
	CHECK_OK(vt_index_token_check(&t, idx, ss, strlen(ss)));
	CHECK(t.id == 2 && strcmp(t.role, "submitter") == 0 && strcmp(t.tenant, "acme") == 0 &&
	      strcmp(t.region, "EU") == 0 && t.created > 0);
	CHECK_OK(vt_index_token_check(&t, idx, sa, strlen(sa)));
	CHECK(t.id == 1 && strcmp(t.name, "alice") == 0);
	memcpy(sx, sa, sizeof(sx));
	sx[10] = sx[10] == 'a' ? 'b' : 'a';
	CHECK_CODE(vt_index_token_check(&t, idx, sx, strlen(sx)), VT_EDENIED);
	CHECK_CODE(vt_index_token_check(&t, idx, sa, strlen(sa) - 1), VT_EDENIED);
	CHECK_CODE(vt_index_token_check(&t, idx, "vt_nope", 7), VT_EDENIED);
	CHECK_CODE(vt_index_token_check(&t, idx, "", 0), VT_EDENIED);
	memcpy(sx, sa, sizeof(sx));
	sx[5] = 'G';
	CHECK_CODE(vt_index_token_check(&t, idx, sx, strlen(sx)), VT_EDENIED);

	/* Binding and syntax rules. */
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "submitter", "s1", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "submitter", "s1", "acme", NULL),
		   VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "submitter", "s1", NULL, "EU"), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "submitter", "s1", "acme", "eu"),
		   VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "submitter", "s1", "ac me", "EU"),
		   VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "analyst", "a1", "acme", NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "a1", NULL, "EU"), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "auditor", "a1", "acme", "EU"), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "root", "a1", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "", "a1", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "Admin", "a1", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "a b", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "../x", NULL, NULL), VT_EINVAL);
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "42", NULL, NULL), VT_EINVAL);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", longname, NULL, NULL), VT_EINVAL);
	longname[VT_TOKEN_NAME_MAX] = '\0';
	CHECK_OK(vt_index_token_create(NULL, sx, idx, "auditor", longname, NULL, NULL));
	/* A valid name is taken until its token is revoked. */
	CHECK_CODE(vt_index_token_create(NULL, sx, idx, "admin", "alice", NULL, NULL), VT_EEXISTS);

	/* List. */
	CHECK_OK(vt_index_token_list(idx, count_token, &c));
	CHECK(c.n == 3 && c.revoked == 0 && strcmp(c.last.role, "auditor") == 0);

	/* Revocation is seen at once, also by a handle opened before it. */
	CHECK_OK(vt_index_open(&other, d));
	CHECK_OK(vt_index_token_check(&t, other, sa, strlen(sa)));
	CHECK_OK(vt_index_token_revoke(&t2, idx, "alice"));
	CHECK(t2.id == 1 && t2.revoked > 0);
	CHECK_CODE(vt_index_token_check(&t, other, sa, strlen(sa)), VT_EDENIED);
	CHECK(strstr(vt_error_last(), "revoked") != NULL);
	CHECK_CODE(vt_index_token_check(&t, idx, sa, strlen(sa)), VT_EDENIED);
	CHECK_CODE(vt_index_token_revoke(NULL, idx, "alice"), VT_EEXISTS);
	CHECK_CODE(vt_index_token_revoke(NULL, idx, "1"), VT_EEXISTS);
	CHECK_CODE(vt_index_token_revoke(NULL, idx, "bob"), VT_ENOTFOUND);
	CHECK_CODE(vt_index_token_revoke(NULL, idx, "999"), VT_ENOTFOUND);
	/* By id; others stay valid. */
	CHECK_OK(vt_index_token_revoke(NULL, other, "2"));
	CHECK_CODE(vt_index_token_check(&t, idx, ss, strlen(ss)), VT_EDENIED);
	/* The name is free again; the new alice is a new token. */
	CHECK_OK(vt_index_token_create(&t, sx, idx, "analyst", "alice", NULL, NULL));
	CHECK(t.id == 4);
	CHECK_OK(vt_index_token_get(&t2, idx, "alice"));
	CHECK(t2.id == 4 && !t2.revoked);
	CHECK_OK(vt_index_token_get(&t2, idx, "1"));
	CHECK(t2.id == 1 && t2.revoked);
	CHECK_CODE(vt_index_token_get(&t2, idx, "carol"), VT_ENOTFOUND);
	CHECK_CODE(vt_index_token_check(&t, idx, sa, strlen(sa)), VT_EDENIED);
	CHECK_OK(vt_index_token_check(&t, idx, sx, strlen(sx)));
	memset(&c, 0, sizeof(c));
	CHECK_OK(vt_index_token_list(idx, count_token, &c));
	CHECK(c.n == 4 && c.revoked == 2);
	vt_index_close(other);
	vt_index_close(idx);
	rm_rf(d);
}

struct check_job {
	vt_tokens *tokens;
	const char *secret;
	long n, ok;
};

static void *check_thread(void *arg)
{
	struct check_job *j = arg;
	for (long i = 0; i < j->n; i++) {
		const vt_token *t = vt_tokens_check(j->tokens, j->secret, VT_TOKEN_LEN);
		j->ok += t && strcmp(t->role, "admin") == 0;
	}
	return NULL;
}

static void test_tokens_facade(void)
{
	enum { THREADS = 4 };
	char d[64], secret[VT_TOKEN_LEN + 1], path[4096];
	vt_tokens *tokens = NULL;
	vt_index *idx = NULL;
	vt_token t;
	const vt_token *p;
	double t0, dt;
	long n;
	pthread_t th[THREADS];
	struct check_job jobs[THREADS];

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_tokens_create(secret, d, "admin", "admin"));
	CHECK_CODE(vt_tokens_create(secret + 0, d, "submitter", "s"), VT_EINVAL);
	CHECK_OK(vt_tokens_load(&tokens, d));
	p = vt_tokens_check(tokens, secret, strlen(secret));
	CHECK(p && strcmp(p->role, "admin") == 0 && strcmp(p->name, "admin") == 0);
	CHECK(vt_tokens_check(tokens, "vt_x", 4) == NULL);
	CHECK_OK(vt_tokens_lookup(&t, tokens, secret, strlen(secret)));
	CHECK(vt_tokens_index(tokens) != NULL);

	/* One thread, then several: every check reads the database. */
	t0 = seconds();
	n = 0;
	do {
		for (int i = 0; i < 1000; i++)
			n += vt_tokens_check(tokens, secret, VT_TOKEN_LEN) != NULL;
		dt = seconds() - t0;
	} while (dt < 0.3);
	printf("# token checks, one thread: %.0f/s\n", (double)n / dt);
	t0 = seconds();
	for (int i = 0; i < THREADS; i++) {
		jobs[i] = (struct check_job){.tokens = tokens, .secret = secret, .n = 50000};
		CHECK(pthread_create(&th[i], NULL, check_thread, &jobs[i]) == 0);
	}
	n = 0;
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK(jobs[i].ok == jobs[i].n);
		n += jobs[i].ok;
	}
	dt = seconds() - t0;
	printf("# token checks, %d threads: %.0f/s\n", THREADS, (double)n / dt);

	/* A revocation by another process (here: handle) counts at once. */
	CHECK_OK(vt_index_open(&idx, d));
	CHECK_OK(vt_index_token_revoke(NULL, idx, "admin"));
	vt_index_close(idx);
	CHECK(vt_tokens_check(tokens, secret, strlen(secret)) == NULL);
	CHECK_CODE(vt_tokens_lookup(&t, tokens, secret, strlen(secret)), VT_EDENIED);
	vt_tokens_free(tokens);
	snprintf(path, sizeof(path), "%s/tokens", d);
	CHECK(access(path, F_OK) != 0); /* nothing of the old format is written */
	rm_rf(d);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_legacy_import(void)
{
	const char *admin = "vt_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
	const char *sub = "vt_ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";
	char d[64], path[4096], text[512], ha[65], hs[65];
	vt_index *idx = NULL;
	vt_token t;
	vt_hash h;

	CHECK(tmpdir(d) != NULL);
	vt_sha256(&h, admin, VT_TOKEN_LEN);
	vt_hex_encode(ha, h.b, VT_HASH_SIZE);
	vt_sha256(&h, sub, VT_TOKEN_LEN);
	vt_hex_encode(hs, h.b, VT_HASH_SIZE);
	snprintf(text, sizeof(text), "%s admin admin\n# a comment\n\n%s submitter edge\n", ha, hs);
	snprintf(path, sizeof(path), "%s/tokens", d);
	write_file(path, text);
	CHECK_OK(vt_index_open(&idx, d));
	if (!idx)
		return;
	CHECK_OK(vt_index_token_check(&t, idx, admin, VT_TOKEN_LEN));
	CHECK(strcmp(t.role, "admin") == 0 && strcmp(t.name, "admin") == 0);
	/* A submitter of old has no tenant: imported, but revoked. */
	CHECK_CODE(vt_index_token_check(&t, idx, sub, VT_TOKEN_LEN), VT_EDENIED);
	CHECK_OK(vt_index_token_get(&t, idx, "edge"));
	CHECK(t.revoked > 0);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/tokens.imported", d);
	CHECK(access(path, F_OK) == 0);
	vt_index_close(idx);
	idx = NULL;

	/* Imported again (a crash before the rename): no duplicate. */
	snprintf(path, sizeof(path), "%s/tokens", d);
	write_file(path, text);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(count_rows(d, "SELECT count(*) FROM tokens") == 2);
	vt_index_close(idx);
	idx = NULL;

	/* A malformed file is refused, naming the line. */
	write_file(path, "zz admin admin\n");
	CHECK_CODE(vt_index_open(&idx, d), VT_ECORRUPT);
	CHECK(strstr(vt_error_last(), "line 1") != NULL);
	rm_rf(d);
}

/* ---- analyses (schema versions 2 and 3) ---- */

static int add_rule(const char *rule, void *payload)
{
	vt_buf *b = payload;
	vt_buf_printf(b, "%s;", rule);
	return 0;
}

static int add_child(const vt_index_child *c, void *payload)
{
	vt_buf *b = payload;
	char hex[65];
	vt_hex_encode(hex, c->child.b, VT_HASH_SIZE);
	hex[8] = 0;
	vt_buf_printf(b, "%s=%s;", c->path, hex);
	return 0;
}

#define RS_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define RS_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static vt_index_analysis analysis_of(const vt_hash *h, const char *ruleset, const char *verdict)
{
	return (vt_index_analysis){
	    .sample = *h, .ruleset = ruleset, .verdict = verdict, .report = "{}", .log_index = -1};
}

/* Four samples, first seen a second apart, so the queue's order is known. */
static vt_index *analysis_site(char *d, vt_index_sample *smp)
{
	vt_index *idx = NULL;
	bool is_new;
	if (!tmpdir(d) || vt_index_open(&idx, d) < 0)
		return NULL;
	for (unsigned i = 0; i < 4; i++) {
		vt_index_sample s = sample_n(i);
		s.first_seen = 1700000000 + i;
		if (vt_index_sample_put(&smp[i], &is_new, idx, &s) < 0) {
			vt_index_close(idx);
			return NULL;
		}
	}
	return idx;
}

static void test_analysis_put_get(void)
{
	char d[64];
	vt_index_sample smp[4];
	vt_index *idx = analysis_site(d, smp);
	vt_index_analysis a, two[2];
	vt_index_analysis_row row;
	vt_index_child ch[2];
	vt_hash unknown;
	vt_buf b;
	const char *rules[] = {"a.yar:r1", "dir/b.yar:r2"};
	const char *bad_rule[] = {"norule"};

	CHECK(idx != NULL);
	if (!idx)
		return;
	vt_buf_init(&b, 1 << 16);
	CHECK_CODE(vt_index_analysis_get(&row, idx, &smp[0].sha256), VT_ENOTFOUND);

	memset(&ch, 0, sizeof(ch));
	ch[0].child = smp[1].sha256;
	strcpy(ch[0].path, "x.zip!a");
	ch[1].child = smp[2].sha256;
	strcpy(ch[1].path, "b");
	a = analysis_of(&smp[0].sha256, RS_A, "malicious");
	a.type = "Zip archive data";
	a.mime = "application/zip";
	a.ssdeep = "3:abc:def";
	a.entropy = 7.5;
	a.report = "{\"verdict\": \"malicious\"}";
	a.analysed = 1700000100;
	a.log_index = 7;
	a.rules = rules;
	a.nrules = 2;
	a.children = ch;
	a.nchildren = 2;
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	CHECK_OK(vt_index_analysis_get(&row, idx, &smp[0].sha256));
	CHECK(strcmp(row.ruleset, RS_A) == 0 && strcmp(row.verdict, "malicious") == 0);
	CHECK(strcmp(row.type, "Zip archive data") == 0 &&
	      strcmp(row.mime, "application/zip") == 0);
	CHECK(strcmp(row.ssdeep, "3:abc:def") == 0 && row.tlsh[0] == 0 && row.entropy == 7.5);
	CHECK(row.analysed == 1700000100 && row.log_index == 7);
	CHECK(row.report && strcmp(row.report, "{\"verdict\": \"malicious\"}") == 0);
	vt_index_analysis_row_dispose(&row);
	CHECK_OK(vt_index_analysis_list(idx, &smp[0].sha256, add_rule, add_child, &b));
	CHECK(strcmp(vt_buf_cstr(&b), "a.yar:r1;dir/b.yar:r2;b=") == 0 ||
	      strncmp(vt_buf_cstr(&b), "a.yar:r1;dir/b.yar:r2;b=", 24) == 0);
	CHECK(strstr(vt_buf_cstr(&b), ";x.zip!a=") != NULL);

	/* Again without a log index: the stored one stays; rules and children
	 * are replaced, not added to. */
	a.log_index = -1;
	a.verdict = "clean";
	a.nrules = 1;
	a.nchildren = 0;
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	CHECK_OK(vt_index_analysis_get(&row, idx, &smp[0].sha256));
	CHECK(row.log_index == 7 && strcmp(row.verdict, "clean") == 0);
	vt_index_analysis_row_dispose(&row);
	vt_buf_reset(&b);
	CHECK_OK(vt_index_analysis_list(idx, &smp[0].sha256, add_rule, add_child, &b));
	CHECK(strcmp(vt_buf_cstr(&b), "a.yar:r1;") == 0);

	/* Refusals: nothing of a refused batch is stored. */
	a = analysis_of(&smp[1].sha256, RS_A, "evil");
	CHECK_CODE(vt_index_analysis_put(idx, &a, 1), VT_EINVAL);
	a = analysis_of(&smp[1].sha256, "abc", "clean");
	CHECK_CODE(vt_index_analysis_put(idx, &a, 1), VT_EINVAL);
	a = analysis_of(&smp[1].sha256, RS_A, "clean");
	a.rules = bad_rule;
	a.nrules = 1;
	CHECK_CODE(vt_index_analysis_put(idx, &a, 1), VT_EINVAL);
	a = analysis_of(&smp[1].sha256, RS_A, "clean");
	strcpy(ch[0].path, "bad\npath");
	a.children = ch;
	a.nchildren = 1;
	CHECK_CODE(vt_index_analysis_put(idx, &a, 1), VT_EINVAL);
	memset(unknown.b, 0x42, VT_HASH_SIZE);
	two[0] = analysis_of(&smp[1].sha256, RS_A, "clean");
	two[1] = analysis_of(&unknown, RS_A, "clean");
	CHECK_CODE(vt_index_analysis_put(idx, two, 2), VT_ENOTFOUND);
	CHECK_CODE(vt_index_analysis_get(&row, idx, &smp[1].sha256), VT_ENOTFOUND);
	CHECK_CODE(vt_index_analysis_get(&row, idx, &unknown), VT_ENOTFOUND);
	/* "" is the ruleset of a site without rules. */
	a = analysis_of(&smp[1].sha256, "", "unknown");
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));

	vt_buf_dispose(&b);
	vt_index_close(idx);
	rm_rf(d);
}

static int hash_index(const vt_hash *h, const vt_index_sample *smp)
{
	for (int i = 0; i < 4; i++)
		if (memcmp(h->b, smp[i].sha256.b, VT_HASH_SIZE) == 0)
			return i;
	return -1;
}

static int cmp_hash(const void *a, const void *b)
{
	return memcmp(a, b, VT_HASH_SIZE);
}

static void test_analysis_queue(void)
{
	char d[64];
	vt_index_sample smp[4];
	vt_index *idx = analysis_site(d, smp);
	vt_hash got[8], sorted[4], unknown;
	vt_index_analysis a;
	vt_index_analysis_counts c;
	size_t n = 99;

	CHECK(idx != NULL);
	if (!idx)
		return;
	/* Every recorded sample is queued, by arrival. */
	CHECK_OK(vt_index_analysis_queue(got, &n, idx, 8));
	CHECK(n == 4);
	for (size_t i = 0; i < n && i < 4; i++)
		CHECK(hash_index(&got[i], smp) == (int)i);
	CHECK_OK(vt_index_analysis_queue(got, &n, idx, 2));
	CHECK(n == 2 && hash_index(&got[1], smp) == 1);
	CHECK_OK(vt_index_analysis_count(&c, idx, RS_A));
	CHECK(c.samples == 4 && c.queued == 4 && c.current == 0 && c.stale == 0);

	/* An analysis takes its sample off the queue. */
	a = analysis_of(&smp[0].sha256, RS_A, "clean");
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	a = analysis_of(&smp[1].sha256, RS_A, "clean");
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	a = analysis_of(&smp[2].sha256, RS_B, "clean");
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	CHECK_OK(vt_index_analysis_queue(got, &n, idx, 8));
	CHECK(n == 1 && hash_index(&got[0], smp) == 3);

	/* Asked for again: to the front, before older arrivals. */
	CHECK_OK(vt_index_analysis_requeue(idx, &smp[1].sha256));
	CHECK_OK(vt_index_analysis_queue(got, &n, idx, 8));
	CHECK(n == 2 && hash_index(&got[0], smp) == 1 && hash_index(&got[1], smp) == 3);
	memset(unknown.b, 0x42, VT_HASH_SIZE);
	CHECK_CODE(vt_index_analysis_requeue(idx, &unknown), VT_ENOTFOUND);

	CHECK_OK(vt_index_analysis_count(&c, idx, RS_B));
	CHECK(c.samples == 4 && c.queued == 2 && c.current == 1 && c.stale == 2);
	CHECK_OK(vt_index_analysis_count(&c, idx, RS_A));
	CHECK(c.current == 2 && c.stale == 1);

	/* The retro-scan for B: samples 0 and 1 (made with A), in SHA-256
	 * order, from a cursor, at most max. */
	sorted[0] = smp[0].sha256;
	sorted[1] = smp[1].sha256;
	qsort(sorted, 2, sizeof(vt_hash), cmp_hash);
	CHECK_OK(vt_index_analysis_stale(got, &n, idx, RS_B, NULL, 8));
	CHECK(n == 2 && memcmp(got[0].b, sorted[0].b, 32) == 0 &&
	      memcmp(got[1].b, sorted[1].b, 32) == 0);
	CHECK_OK(vt_index_analysis_stale(got, &n, idx, RS_B, NULL, 1));
	CHECK(n == 1 && memcmp(got[0].b, sorted[0].b, 32) == 0);
	CHECK_OK(vt_index_analysis_stale(got, &n, idx, RS_B, &sorted[0], 8));
	CHECK(n == 1 && memcmp(got[0].b, sorted[1].b, 32) == 0);
	CHECK_OK(vt_index_analysis_stale(got, &n, idx, RS_B, &sorted[1], 8));
	CHECK(n == 0);
	CHECK_OK(vt_index_analysis_stale(got, &n, idx, RS_A, NULL, 8));
	CHECK(n == 1 && hash_index(&got[0], smp) == 2);

	vt_index_close(idx);
	rm_rf(d);
}

static int count_pending(const vt_index_pending *p, void *payload)
{
	(void)p;
	(*(int *)payload)++;
	return 0;
}

static void test_analysis_pending(void)
{
	char d[64];
	vt_index_sample smp[4];
	vt_index *idx = analysis_site(d, smp);
	vt_index_pending p[2], got;
	vt_index_analysis a;
	vt_hash unknown, cur;
	int n = 0;

	CHECK(idx != NULL);
	if (!idx)
		return;
	memset(unknown.b, 0x42, VT_HASH_SIZE);
	memset(p, 0, sizeof(p));
	p[0].sample = smp[0].sha256;
	memset(p[0].entry.b, 1, VT_HASH_SIZE);
	p[0].log_from = 10;
	p[0].log_index = 99; /* ignored */
	p[1].sample = unknown;
	CHECK_CODE(vt_index_analysis_pending_put(idx, p, 2), VT_ENOTFOUND);
	CHECK_OK(vt_index_analysis_pending_list(idx, count_pending, &n));
	CHECK(n == 0);
	p[1].sample = smp[1].sha256;
	memset(p[1].entry.b, 2, VT_HASH_SIZE);
	p[1].log_from = 11;
	CHECK_OK(vt_index_analysis_pending_put(idx, p, 2));
	CHECK_OK(vt_index_analysis_pending_list(idx, count_pending, &n));
	CHECK(n == 2);
	CHECK_OK(vt_index_analysis_pending_get(&got, idx, &smp[0].sha256));
	CHECK(got.log_from == 10 && got.log_index == -1 && got.entry.b[0] == 1);
	CHECK_CODE(vt_index_analysis_pending_get(&got, idx, &smp[2].sha256), VT_ENOTFOUND);

	/* Found in the log, forgotten, unknown. */
	CHECK_OK(vt_index_analysis_pending_resolve(idx, &smp[0].sha256, 12));
	CHECK_OK(vt_index_analysis_pending_get(&got, idx, &smp[0].sha256));
	CHECK(got.log_index == 12);
	CHECK_OK(vt_index_analysis_pending_resolve(idx, &smp[1].sha256, -1));
	CHECK_CODE(vt_index_analysis_pending_get(&got, idx, &smp[1].sha256), VT_ENOTFOUND);
	CHECK_CODE(vt_index_analysis_pending_resolve(idx, &smp[1].sha256, 5), VT_ENOTFOUND);
	CHECK_CODE(vt_index_analysis_pending_resolve(idx, &unknown, -1), VT_ENOTFOUND);

	/* A new pending entry replaces the found one. */
	p[0].log_from = 20;
	CHECK_OK(vt_index_analysis_pending_put(idx, p, 1));
	CHECK_OK(vt_index_analysis_pending_get(&got, idx, &smp[0].sha256));
	CHECK(got.log_from == 20 && got.log_index == -1);
	/* Storing the analysis clears it, in the same transaction. */
	a = analysis_of(&smp[0].sha256, RS_A, "clean");
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	CHECK_CODE(vt_index_analysis_pending_get(&got, idx, &smp[0].sha256), VT_ENOTFOUND);

	/* The retro-scan cursor: one, for one ruleset. */
	CHECK_CODE(vt_index_analysis_cursor_get(&cur, idx, RS_A), VT_ENOTFOUND);
	CHECK_CODE(vt_index_analysis_cursor_set(idx, "short", &smp[1].sha256), VT_EINVAL);
	CHECK_OK(vt_index_analysis_cursor_set(idx, RS_A, &smp[1].sha256));
	CHECK_OK(vt_index_analysis_cursor_get(&cur, idx, RS_A));
	CHECK(memcmp(cur.b, smp[1].sha256.b, VT_HASH_SIZE) == 0);
	CHECK_CODE(vt_index_analysis_cursor_get(&cur, idx, RS_B), VT_ENOTFOUND);
	CHECK_OK(vt_index_analysis_cursor_set(idx, RS_B, &smp[2].sha256));
	CHECK_CODE(vt_index_analysis_cursor_get(&cur, idx, RS_A), VT_ENOTFOUND);
	CHECK_OK(vt_index_analysis_cursor_get(&cur, idx, RS_B));
	CHECK(memcmp(cur.b, smp[2].sha256.b, VT_HASH_SIZE) == 0);
	CHECK_OK(vt_index_analysis_cursor_set(idx, RS_B, NULL));
	CHECK_CODE(vt_index_analysis_cursor_get(&cur, idx, RS_B), VT_ENOTFOUND);

	vt_index_close(idx);
	rm_rf(d);

	/* A version 2 file is brought up to date. */
	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	vt_index_close(idx);
	idx = NULL;
	CHECK(raw_sql(d, "DROP TABLE analysis_pending; DROP TABLE analysis_cursor;"
			 " DROP TABLE sample_pending; PRAGMA user_version = 2") == SQLITE_OK);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(idx && vt_index_schema_version(idx) == VT_INDEX_SCHEMA_VERSION);
	if (idx)
		CHECK_CODE(vt_index_analysis_cursor_get(&cur, idx, RS_A), VT_ENOTFOUND);
	vt_index_close(idx);
	rm_rf(d);
}

/*
 * A version 4 index (sample_pending without the submission's name, source
 * and tags) is brought to version 5 in place: its rows are kept, with
 * "" for what they never held, and settle as any other.
 */
static void test_migrate_v4(void)
{
	char d[64], q[512], hex[2 * VT_HASH_SIZE + 1];
	vt_index *idx = NULL;
	vt_index_sample smp = sample_n(1), out;
	vt_index_sample_pending p;
	bool is_new;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	if (!idx)
		return;
	CHECK_OK(vt_index_sample_put(&out, &is_new, idx, &smp));
	vt_index_close(idx);
	idx = NULL;
	/* The table as version 4 made it, with a row of version 4. */
	vt_hex_encode(hex, smp.sha256.b, VT_HASH_SIZE);
	hex[2 * VT_HASH_SIZE] = 0;
	snprintf(q, sizeof(q),
		 "DROP TABLE sample_pending;"
		 "CREATE TABLE sample_pending ("
		 " sample BLOB PRIMARY KEY REFERENCES samples(sha256),"
		 " entry BLOB NOT NULL CHECK (length(entry) = 32),"
		 " log_from INTEGER NOT NULL CHECK (log_from >= 0),"
		 " tenant TEXT NOT NULL,"
		 " region TEXT NOT NULL,"
		 " time INTEGER NOT NULL) WITHOUT ROWID;"
		 "INSERT INTO sample_pending VALUES (X'%s', zeroblob(32), 3, 'acme-eu', 'EU', 77);"
		 "PRAGMA user_version = 4;",
		 hex);
	CHECK(raw_sql(d, q) == SQLITE_OK);
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(idx && vt_index_schema_version(idx) == 5);
	if (!idx)
		goto done;
	CHECK_OK(vt_index_sample_pending_get(&p, idx, &smp.sha256));
	CHECK(p.log_from == 3 && p.time == 77 && strcmp(p.tenant, "acme-eu") == 0 &&
	      p.name[0] == 0 && p.source[0] == 0 && p.tags[0] == 0);
	/* Version 5 rows hold the rest. */
	snprintf(p.name, sizeof(p.name), "a.exe");
	snprintf(p.tags, sizeof(p.tags), "x");
	CHECK_OK(vt_index_sample_pending_put(idx, &p));
	CHECK_OK(vt_index_sample_pending_get(&p, idx, &smp.sha256));
	CHECK(strcmp(p.name, "a.exe") == 0 && strcmp(p.tags, "x") == 0);
	CHECK_OK(vt_index_sample_pending_resolve(idx, &smp.sha256, 9));
	vt_index_close(idx);
	idx = NULL;
	/* Once only: a second open finds version 5 and migrates nothing. */
	CHECK_OK(vt_index_open(&idx, d));
	CHECK(idx && vt_index_schema_version(idx) == 5);
done:
	vt_index_close(idx);
	rm_rf(d);
}

/*
 * A published sighting ends the sample's pending `sample` entry only when
 * it is that entry: another upload's sighting leaves it for its own
 * settling (it may still be published: intake.c). Zero: any, as before.
 */
static void test_sighting_ends_own_pending(void)
{
	char d[64];
	vt_index *idx = NULL;
	vt_index_sample smp = sample_n(2), out;
	vt_index_sample_pending p, p0;
	vt_index_sighting v;
	bool is_new;

	CHECK(tmpdir(d) != NULL);
	CHECK_OK(vt_index_open(&idx, d));
	if (!idx)
		return;
	CHECK_OK(vt_index_sample_put(&out, &is_new, idx, &smp));
	memset(&p, 0, sizeof(p));
	p.sample = smp.sha256;
	memset(p.entry.b, 0x11, VT_HASH_SIZE);
	snprintf(p.tenant, sizeof(p.tenant), "acme");
	snprintf(p.region, sizeof(p.region), "EU");
	p0 = p;
	CHECK_OK(vt_index_sample_pending_put(idx, &p));
	memset(&v, 0, sizeof(v));
	v.sample = smp.sha256;
	snprintf(v.tenant, sizeof(v.tenant), "other");
	snprintf(v.region, sizeof(v.region), "EU");
	v.log_index = 5;
	memset(v.entry.b, 0x22, VT_HASH_SIZE); /* another upload's entry */
	CHECK_OK(vt_index_sighting_add(NULL, idx, &v));
	CHECK_OK(vt_index_sample_pending_get(&p, idx, &smp.sha256));
	v.log_index = 4;
	memset(v.entry.b, 0x11, VT_HASH_SIZE); /* the pending entry itself */
	CHECK_OK(vt_index_sighting_add(NULL, idx, &v));
	CHECK_CODE(vt_index_sample_pending_get(&p, idx, &smp.sha256), VT_ENOTFOUND);
	CHECK_OK(vt_index_sample_pending_put(idx, &p0));
	memset(v.entry.b, 0, VT_HASH_SIZE); /* unknown: any */
	v.log_index = 6;
	CHECK_OK(vt_index_sighting_add(NULL, idx, &v));
	CHECK_CODE(vt_index_sample_pending_get(&p, idx, &smp.sha256), VT_ENOTFOUND);
	vt_index_close(idx);
	rm_rf(d);
}

struct hits {
	int n;
	int idx[8];
	const vt_index_sample *smp;
	int similar_calls;
};

static int on_hit(const vt_index_found *f, void *payload)
{
	struct hits *h = payload;
	if (h->n < 8)
		h->idx[h->n] = hash_index(&f->sample.sha256, h->smp);
	h->n++;
	return 0;
}

static int similar_if_abc(const vt_query_term *t, const char *ssdeep, const char *tlsh,
			  void *payload)
{
	struct hits *h = payload;
	(void)t;
	(void)tlsh;
	h->similar_calls++;
	return ssdeep && strstr(ssdeep, "abc") != NULL;
}

/* Run one query of one term; returns the hits, as a bit set of samples. */
static unsigned search1(vt_index *idx, const vt_index_sample *smp, vt_query_term t,
			const char *tenant)
{
	vt_query q = {.n = 1};
	struct hits h = {.smp = smp};
	vt_hash last;
	bool more;
	unsigned set = 0;
	q.t[0] = t;
	if (vt_index_search(&last, &more, idx, &q, tenant, NULL, 10, 1000, 0, similar_if_abc,
			    on_hit, &h) < 0)
		return 0x100;
	for (int i = 0; i < h.n && i < 8; i++)
		if (h.idx[i] >= 0)
			set |= 1u << h.idx[i];
	return set;
}

static void test_analysis_search(void)
{
	char d[64];
	vt_index_sample smp[4];
	vt_index *idx = analysis_site(d, smp);
	vt_index_analysis a;
	vt_index_child ch;
	vt_index_sighting si;
	vt_query_term t;
	vt_query q = {.n = 1};
	struct hits h;
	vt_hash last = {0};
	bool more;
	const char *r0[] = {"a.yar:evil"};
	const char *r1[] = {"b.yar:evil"};

	CHECK(idx != NULL);
	if (!idx)
		return;
	memset(&ch, 0, sizeof(ch));
	ch.child = smp[1].sha256;
	strcpy(ch.path, "inner");
	a = analysis_of(&smp[0].sha256, RS_A, "malicious");
	a.type = "Zip archive data, at least v2.0";
	a.ssdeep = "3:abc:abc";
	a.rules = r0;
	a.nrules = 1;
	a.children = &ch;
	a.nchildren = 1;
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	a = analysis_of(&smp[1].sha256, RS_A, "suspicious");
	a.type = "ELF 64-bit LSB executable";
	a.ssdeep = "6:xyz:xyz";
	a.rules = r1;
	a.nrules = 1;
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	a = analysis_of(&smp[2].sha256, RS_A, "clean");
	a.ssdeep = "3:xyz:xyz";
	CHECK_OK(vt_index_analysis_put(idx, &a, 1));
	CHECK_OK(vt_index_tag_add(idx, &smp[2].sha256, "apt"));
	memset(&si, 0, sizeof(si));
	si.sample = smp[3].sha256;
	strcpy(si.tenant, "acme");
	strcpy(si.region, "EU");
	si.log_index = -1;
	CHECK_OK(vt_index_sighting_add(NULL, idx, &si));

	memset(&t, 0, sizeof(t));
	t.kind = VT_QUERY_VERDICT;
	strcpy(t.text, "malicious");
	CHECK(search1(idx, smp, t, NULL) == 0x1);
	strcpy(t.text, "evil");
	CHECK(search1(idx, smp, t, NULL) == 0);
	t.kind = VT_QUERY_RULE;
	CHECK(search1(idx, smp, t, NULL) == 0x3);
	strcpy(t.text, "b.yar:evil");
	CHECK(search1(idx, smp, t, NULL) == 0x2);
	t.kind = VT_QUERY_TYPE;
	strcpy(t.text, "zip ARCHIVE");
	CHECK(search1(idx, smp, t, NULL) == 0x1);
	t.kind = VT_QUERY_TAG;
	strcpy(t.text, "apt");
	CHECK(search1(idx, smp, t, NULL) == 0x4);
	t.kind = VT_QUERY_REGION;
	strcpy(t.text, "EU");
	CHECK(search1(idx, smp, t, NULL) == 0x8);
	t.kind = VT_QUERY_PARENT;
	memcpy(t.hash, smp[0].sha256.b, VT_HASH_SIZE);
	CHECK(search1(idx, smp, t, NULL) == 0x2);
	t.kind = VT_QUERY_SIZE;
	t.op = VT_QUERY_GE;
	t.num = 1002; /* sizes are 1000 + i */
	CHECK(search1(idx, smp, t, NULL) == 0xc);
	t.op = VT_QUERY_LT;
	CHECK(search1(idx, smp, t, NULL) == 0x3);
	t.kind = VT_QUERY_FIRST_SEEN;
	t.op = VT_QUERY_EQ;
	t.num = 1699920000; /* 2023-11-14, the day of 1700000000 */
	CHECK(search1(idx, smp, t, NULL) == 0xf);
	t.op = VT_QUERY_GT;
	CHECK(search1(idx, smp, t, NULL) == 0);
	t.kind = VT_QUERY_HASH;
	memcpy(t.hash, smp[2].sha256.b, VT_HASH_SIZE);
	t.nibbles = 10;
	CHECK(search1(idx, smp, t, NULL) == 0x4);
	t.nibbles = 32;
	memset(t.hash, 0, sizeof(t.hash));
	memcpy(t.hash, smp[3].md5, VT_MD5_SIZE);
	CHECK(search1(idx, smp, t, NULL) == 0x8);
	t.nibbles = 40;
	memset(t.hash, 0, sizeof(t.hash));
	memcpy(t.hash, smp[1].sha1, VT_SHA1_SIZE);
	CHECK(search1(idx, smp, t, NULL) == 0x2);
	/* ssdeep: SQL keeps block sizes 3, 6 and 1 for "3:...", the callback
	 * decides: only sample 0's hash holds "abc". */
	t.kind = VT_QUERY_SSDEEP;
	strcpy(t.text, "3:abc:abc");
	t.num = 50;
	CHECK(search1(idx, smp, t, NULL) == 0x1);
	/* A submitter sees only what its tenant sighted. */
	t.kind = VT_QUERY_SIZE;
	t.op = VT_QUERY_GE;
	t.num = 0;
	CHECK(search1(idx, smp, t, "acme") == 0x8);
	CHECK(search1(idx, smp, t, "other") == 0);
	/* A bad term is refused. */
	t.kind = (vt_query_kind)99;
	CHECK(search1(idx, smp, t, NULL) == 0x100);

	/* Paging: limit 1 and the cursor walk all four, each once. */
	memset(&t, 0, sizeof(t));
	t.kind = VT_QUERY_SIZE;
	t.op = VT_QUERY_GT;
	q.t[0] = t;
	{
		unsigned seen = 0;
		int pages = 0;
		bool first = true;
		vt_hash after;
		do {
			memset(&h, 0, sizeof(h));
			h.smp = smp;
			after = last;
			CHECK_OK(vt_index_search(&last, &more, idx, &q, NULL, first ? NULL : &after,
						 1, 1000, 0, similar_if_abc, on_hit, &h));
			first = false;
			if (h.n == 1 && h.idx[0] >= 0)
				seen |= 1u << h.idx[0];
			pages++;
		} while (more && pages < 10);
		CHECK(seen == 0xf && pages <= 5);
	}
	/* max_scan bounds the rows examined: the cursor goes on from there. */
	memset(&h, 0, sizeof(h));
	h.smp = smp;
	CHECK_OK(vt_index_search(&last, &more, idx, &q, NULL, NULL, 10, 2, 0, similar_if_abc,
				 on_hit, &h));
	CHECK(h.n == 2 && more);

	/* max_ms bounds the time: a rule nobody matched, over 50,000 rows,
	 * finds nothing within 1 ms (VT_EBUSY) and everything without it. */
	CHECK(raw_sql(d, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n"
			 " WHERE i < 50000) INSERT INTO samples (sha256, sha1, md5, size,"
			 " first_seen, jurisdiction) SELECT randomblob(32), randomblob(20),"
			 " randomblob(16), i, 1700000000, 'CH-ZRH' FROM n") == SQLITE_OK);
	memset(&t, 0, sizeof(t));
	t.kind = VT_QUERY_RULE;
	strcpy(t.text, "nosuch");
	q.t[0] = t;
	memset(&h, 0, sizeof(h));
	CHECK_CODE(
	    vt_index_search(&last, &more, idx, &q, NULL, NULL, 10, 1000000, 1, NULL, on_hit, &h),
	    VT_EBUSY);
	CHECK_OK(
	    vt_index_search(&last, &more, idx, &q, NULL, NULL, 10, 1000000, 0, NULL, on_hit, &h));
	CHECK(h.n == 0 && !more);

	vt_index_close(idx);
	rm_rf(d);
}

int main(void)
{
	RUN(test_migrations);
	RUN(test_refusals);
	RUN(test_corrupt_pages);
	RUN(test_samples);
	RUN(test_key_parse);
	RUN(test_concurrent_puts);
	RUN(test_sightings_and_tags);
	RUN(test_lookup_many);
	RUN(test_tokens);
	RUN(test_tokens_facade);
	RUN(test_legacy_import);
	RUN(test_analysis_put_get);
	RUN(test_analysis_queue);
	RUN(test_analysis_pending);
	RUN(test_migrate_v4);
	RUN(test_sighting_ends_own_pending);
	RUN(test_analysis_search);
	return TEST_DONE();
}
