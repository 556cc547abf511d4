/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the vault: round trips, dedup, tampering, shredding, atomicity, fsck. */
#include "test.h"
#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/fsutil.h"
#include "vitrine/hash.h"
#include "vitrine/vault.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#define C    VT_VAULT_CHUNK
#define UNIT (C + 16)
/* Header length for a two-letter jurisdiction: 25 fixed + 2 + 60 wrap. */
#define HLEN_EU 87

static char root[256];

/* Deterministic pseudo-random bytes (xorshift64*), different per seed. */
static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		p[i] = (uint8_t)((x * 0x2545F4914F6CDD1Dull) >> 56);
	}
}

static void rmtree(const char *path)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", path);
}

/* A fresh data directory with an initialised vault. */
static vt_vault *fresh(char *dir, size_t cap)
{
	vt_vault *v = NULL;
	snprintf(dir, cap, "%s/XXXXXX", root);
	if (!mkdtemp(dir))
		return NULL;
	if (vt_vault_init(dir) < 0 || vt_vault_open(&v, dir) < 0)
		return NULL;
	return v;
}

/* Store data, fed in uneven pieces to exercise the chunk buffering. */
static int put(vt_hash *id, bool *created, vt_vault *v, const char *jur, const uint8_t *data,
	       size_t len)
{
	vt_vault_writer *w;
	size_t off = 0, step = 1;
	int err;
	if ((err = vt_vault_writer_new(&w, v, jur)) < 0)
		return err;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;
		if ((err = vt_vault_writer_write(w, data + off, n)) < 0) {
			vt_vault_writer_abort(w);
			return err;
		}
		off += n;
		step = step * 3 + 7;
		if (step > 300000)
			step = 1;
	}
	return vt_vault_writer_finish(id, created, w);
}

/* Read a whole object into out (reads of 777 bytes). */
static int get(vt_buf *out, vt_vault *v, const vt_hash *id, const char *jur)
{
	vt_vault_reader *r;
	uint8_t tmp[777];
	size_t n;
	int err;
	vt_buf_reset(out);
	if ((err = vt_vault_reader_open(&r, v, id, jur)) < 0)
		return err;
	for (;;) {
		if ((err = vt_vault_reader_read(&n, r, tmp, sizeof(tmp))) < 0 || n == 0)
			break;
		if ((err = vt_buf_add(out, tmp, n)) < 0)
			break;
	}
	vt_vault_reader_close(r);
	return err;
}

static void obj_path(char *out, size_t cap, const char *dir, const vt_hash *id)
{
	char rel[80];
	vt_vault_object_path(rel, id);
	snprintf(out, cap, "%s/%s", dir, rel);
}

static int slurp(vt_buf *out, const char *path)
{
	vt_buf_reset(out);
	return vt_fs_read(out, AT_FDCWD, path);
}

static int spit(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int err;
	if (fd < 0)
		return -1;
	err = vt_fs_write_all(fd, data, len);
	close(fd);
	return err;
}

static size_t count_files(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	size_t n = 0;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* Count objects: files in every two-hex directory of dir/vault. */
static size_t count_objects(const char *dir)
{
	char path[512];
	DIR *d;
	struct dirent *e;
	size_t n = 0;
	snprintf(path, sizeof(path), "%s/vault", dir);
	if (!(d = opendir(path)))
		return 0;
	while ((e = readdir(d))) {
		char sub[800];
		if (e->d_name[0] == '.' || strcmp(e->d_name, "tmp") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		n += count_files(sub);
	}
	closedir(d);
	return n;
}

static void test_init_open(void)
{
	char dir[300], path[400];
	vt_vault *v = fresh(dir, sizeof(dir));
	struct stat st;
	vt_buf b;

	CHECK(v != NULL);
	snprintf(path, sizeof(path), "%s/vault.kek", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == 32);
	CHECK_CODE(vt_vault_init(dir), VT_EEXISTS);
	vt_vault_close(v);
	v = NULL;

	chmod(path, 0644);
	CHECK_CODE(vt_vault_open(&v, dir), VT_EDENIED);
	CHECK(strstr(vt_error_last(), "vault.kek") != NULL);
	chmod(path, 0600);
	vt_buf_init(&b, 1024);
	CHECK_OK(slurp(&b, path));
	CHECK_OK(spit(path, b.ptr, 31));
	CHECK_CODE(vt_vault_open(&v, dir), VT_ECORRUPT);
	unlink(path);
	CHECK_CODE(vt_vault_open(&v, dir), VT_ENOTFOUND);
	CHECK(v == NULL);
	snprintf(path, sizeof(path), "%s/nonexistent", dir);
	CHECK_CODE(vt_vault_init(path), VT_ENOTFOUND);
	vt_buf_dispose(&b);
	rmtree(dir);
}

static void test_bad_input(void)
{
	char dir[300], long_j[80];
	vt_vault *v = fresh(dir, sizeof(dir));
	vt_vault_writer *w = NULL;
	vt_vault_reader *r = NULL;
	vt_hash id;

	memset(long_j, 'a', 64);
	long_j[64] = 0;
	CHECK_CODE(vt_vault_writer_new(&w, v, ""), VT_EINVAL);
	CHECK_CODE(vt_vault_writer_new(&w, v, "eu/../x"), VT_EINVAL);
	CHECK_CODE(vt_vault_writer_new(&w, v, "e u"), VT_EINVAL);
	CHECK_CODE(vt_vault_writer_new(&w, v, long_j), VT_EINVAL);
	CHECK_CODE(vt_vault_writer_new(&w, v, NULL), VT_EINVAL);
	long_j[63] = 0;
	CHECK_OK(vt_vault_jurisdiction_check(long_j));
	CHECK_OK(vt_vault_jurisdiction_check("eu-west_1.a"));
	CHECK(w == NULL);
	vt_sha256(&id, "absent", 6);
	CHECK_CODE(vt_vault_reader_open(&r, v, &id, "bad jur"), VT_EINVAL);
	CHECK_CODE(vt_vault_reader_open(&r, v, &id, "eu"), VT_ENOTFOUND);
	CHECK(r == NULL);
	CHECK_CODE(vt_vault_contains(v, &id), VT_ENOTFOUND);
	CHECK_CODE(vt_vault_shred(v, &id), VT_ENOTFOUND);
	vt_vault_close(v);
	rmtree(dir);
}

static void test_round_trips(void)
{
	static const size_t sizes[] = {0,     1,	 C - 1,	    C,	     C + 1,
				       2 * C, 3 * C + 5, 5 * C - 1, 3000007, 4 * 1024 * 1024};
	char dir[300], path[400], hex[65];
	vt_vault *v = fresh(dir, sizeof(dir));
	uint8_t *data = malloc(4 * 1024 * 1024);
	vt_buf got, file;

	vt_buf_init(&got, 8u << 20);
	vt_buf_init(&file, 16u << 20);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i], chunks = n == 0 ? 1 : (n + C - 1) / C;
		vt_hash id, want;
		bool created = false;
		vt_vault_reader *r = NULL;

		fill(data, n, i + 1);
		vt_sha256(&want, data, n);
		CHECK_OK(put(&id, &created, v, "eu", data, n));
		CHECK(vt_hash_equal(&id, &want));
		CHECK(created);
		CHECK_OK(get(&got, v, &id, "eu"));
		CHECK(got.len == n && (n == 0 || memcmp(got.ptr, data, n) == 0));
		CHECK_OK(vt_vault_reader_open(&r, v, &id, "eu"));
		CHECK(r && vt_vault_reader_size(r) == n);
		if (i == 0) {
			size_t k = 1;
			uint8_t one;
			CHECK_CODE(vt_vault_reader_read(&k, r, &one, 0), VT_EINVAL);
			CHECK(k == 0);
		}
		vt_vault_reader_close(r);
		/* The layout of docs/vault.md: header, then chunks of C+16. */
		obj_path(path, sizeof(path), dir, &id);
		CHECK_OK(slurp(&file, path));
		CHECK(file.len == HLEN_EU + n + 16 * chunks);
		CHECK(file.len >= 25 && memcmp(file.ptr, "VTVAULT\0\0\1\0\127\0\1\0\0", 16) == 0);
		CHECK(file.len >= 27 && file.ptr[24] == 2 && memcmp(file.ptr + 25, "eu", 2) == 0);
		/* The plaintext must not appear in the file. */
		if (n >= 64)
			CHECK(memmem(file.ptr, file.len, data + n / 2, 32) == NULL);
		CHECK_OK(vt_vault_contains(v, &id));
	}
	/* Known answer: the empty object is named by SHA-256(""). */
	{
		vt_hash id;
		CHECK_OK(put(&id, NULL, v, "eu", data, 0));
		vt_hex_encode(hex, id.b, 32);
		CHECK(strcmp(hex,
			     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") ==
		      0);
		snprintf(path, sizeof(path), "%s/vault/e3/%s", dir, hex);
		CHECK(access(path, F_OK) == 0);
	}
	snprintf(path, sizeof(path), "%s/vault/tmp", dir);
	CHECK(count_files(path) == 0);
	free(data);
	vt_buf_dispose(&got);
	vt_buf_dispose(&file);
	vt_vault_close(v);
	rmtree(dir);
}

static void test_dedup(void)
{
	char dir[300], path[400];
	vt_vault *v = fresh(dir, sizeof(dir));
	uint8_t data[5000];
	vt_hash a, b;
	bool created = true;
	vt_buf got;

	vt_buf_init(&got, 1 << 20);
	fill(data, sizeof(data), 42);
	CHECK_OK(put(&a, &created, v, "eu", data, sizeof(data)));
	CHECK(created);
	CHECK_OK(put(&b, &created, v, "eu", data, sizeof(data)));
	CHECK(!created);
	CHECK(vt_hash_equal(&a, &b));
	CHECK(count_objects(dir) == 1);
	snprintf(path, sizeof(path), "%s/vault/tmp", dir);
	CHECK(count_files(path) == 0);
	/* The same content for another jurisdiction is refused, not merged. */
	CHECK_CODE(put(&b, &created, v, "us", data, sizeof(data)), VT_EEXISTS);
	CHECK(strstr(vt_error_last(), "jurisdiction eu") != NULL);
	CHECK(count_files(path) == 0);
	CHECK_OK(get(&got, v, &a, "eu"));
	CHECK(got.len == sizeof(data) && memcmp(got.ptr, data, sizeof(data)) == 0);
	vt_buf_dispose(&got);
	vt_vault_close(v);
	rmtree(dir);
}

typedef struct {
	vt_vault *v;
	const uint8_t *data;
	size_t len;
	int err;
	bool created;
} dedup_job;

static void *dedup_thread(void *arg)
{
	dedup_job *j = arg;
	vt_hash id;
	j->err = put(&id, &j->created, j->v, "eu", j->data, j->len);
	return NULL;
}

/* Writers of the same content at once: stored once, all succeed. */
static void test_dedup_concurrent(void)
{
	char dir[300];
	vt_vault *v = fresh(dir, sizeof(dir));
	size_t len = 3 * C + 11, made = 0;
	uint8_t *data = malloc(len);
	pthread_t t[8];
	dedup_job j[8];

	fill(data, len, 7);
	for (int i = 0; i < 8; i++) {
		j[i] = (dedup_job){.v = v, .data = data, .len = len};
		pthread_create(&t[i], NULL, dedup_thread, &j[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_OK(j[i].err);
		made += j[i].created;
	}
	CHECK(made == 1);
	CHECK(count_objects(dir) == 1);
	free(data);
	vt_vault_close(v);
	rmtree(dir);
}

/* The original file is put back after each case. */
typedef struct {
	char dir[300];
	char path[400];
	vt_vault *v;
	vt_hash id;
	vt_buf orig;
	vt_buf got;
	char hex[65];
} fixture;

static void fixture_setup(fixture *f, size_t len)
{
	uint8_t *data = malloc(len);
	f->v = fresh(f->dir, sizeof(f->dir));
	fill(data, len, 99);
	vt_buf_init(&f->orig, 16u << 20);
	vt_buf_init(&f->got, 16u << 20);
	CHECK_OK(put(&f->id, NULL, f->v, "eu", data, len));
	vt_hex_encode(f->hex, f->id.b, 32);
	obj_path(f->path, sizeof(f->path), f->dir, &f->id);
	CHECK_OK(slurp(&f->orig, f->path));
	free(data);
}

static void fixture_dispose(fixture *f)
{
	vt_buf_dispose(&f->orig);
	vt_buf_dispose(&f->got);
	vt_vault_close(f->v);
	rmtree(f->dir);
}

/*
 * Write a tampered copy, read it, expect a refusal with a message naming
 * the object (and the given word, when not NULL); restore the original.
 */
static int refused(fixture *f, const void *bytes, size_t len, const char *word, int line)
{
	int err, ok;
	if (spit(f->path, bytes, len) != 0)
		return 0;
	err = get(&f->got, f->v, &f->id, "eu");
	ok = (err == VT_ECORRUPT || err == VT_EVERIFY) && strstr(vt_error_last(), f->hex) &&
	     (!word || strstr(vt_error_last(), word));
	if (!ok)
		fprintf(stderr, "line %d: tampered copy gave %d (%s)\n", line, err,
			vt_error_last());
	spit(f->path, f->orig.ptr, f->orig.len);
	return ok;
}

#define REFUSED(f, p, n, word) CHECK(refused(f, p, n, word, __LINE__))

static void test_tamper(void)
{
	fixture f;
	uint8_t *t;
	size_t len, flips = 0, flips_refused = 0;

	/* Two full chunks and a partial third. */
	fixture_setup(&f, 2 * C + 1000);
	len = f.orig.len;
	CHECK(len == HLEN_EU + 2 * C + 1000 + 3 * 16);
	t = malloc(len + 2 * UNIT);
	CHECK_OK(get(&f.got, f.v, &f.id, "eu"));

	/* Every bit of the header. */
	for (size_t i = 0; i < HLEN_EU; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(t, f.orig.ptr, len);
			t[i] ^= (uint8_t)(1u << bit);
			flips++;
			if (spit(f.path, t, len) == 0) {
				int err = get(&f.got, f.v, &f.id, "eu");
				if ((err == VT_ECORRUPT || err == VT_EVERIFY) &&
				    strstr(vt_error_last(), f.hex))
					flips_refused++;
				else
					fprintf(stderr, "header byte %zu bit %d: %d (%s)\n", i, bit,
						err, vt_error_last());
			}
		}
	spit(f.path, f.orig.ptr, len);
	CHECK(flips == HLEN_EU * 8 && flips_refused == flips);

	/* The wrapped key specifically, and the KEK id. */
	memcpy(t, f.orig.ptr, len);
	t[27 + 12 + 5] ^= 0x10;
	REFUSED(&f, t, len, "data key");
	memcpy(t, f.orig.ptr, len);
	t[16] ^= 1;
	REFUSED(&f, t, len, "KEK");

	/* The first and last ciphertext byte and the last tag byte of each chunk. */
	for (size_t k = 0; k < 3; k++) {
		size_t start = HLEN_EU + k * UNIT, end = k < 2 ? start + UNIT : len;
		size_t at[3] = {start, end - 17, end - 1};
		for (int a = 0; a < 3; a++) {
			memcpy(t, f.orig.ptr, len);
			t[at[a]] ^= 0x01;
			REFUSED(&f, t, len, "chunk");
		}
	}
	/* Truncation: no chunk, at each chunk boundary, mid-chunk, mid-tag, one byte. */
	{
		size_t cuts[] = {HLEN_EU,	HLEN_EU + UNIT,		 HLEN_EU + 2 * UNIT,
				 HLEN_EU + 100, HLEN_EU + UNIT + 5000,	 len - 5,
				 len - 1,	HLEN_EU + 2 * UNIT + 10, 20};
		for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
			REFUSED(&f, f.orig.ptr, cuts[i], NULL);
	}
	/* Swap the two full chunks. */
	memcpy(t, f.orig.ptr, len);
	memcpy(t + HLEN_EU, f.orig.ptr + HLEN_EU + UNIT, UNIT);
	memcpy(t + HLEN_EU + UNIT, f.orig.ptr + HLEN_EU, UNIT);
	REFUSED(&f, t, len, "chunk 0");
	/* Drop the middle chunk. */
	memcpy(t, f.orig.ptr, HLEN_EU + UNIT);
	memcpy(t + HLEN_EU + UNIT, f.orig.ptr + HLEN_EU + 2 * UNIT, len - HLEN_EU - 2 * UNIT);
	REFUSED(&f, t, len - UNIT, "chunk");
	/* Append a copy of a chunk, a whole unit of zeros, a single byte. */
	memcpy(t, f.orig.ptr, len);
	memcpy(t + len, f.orig.ptr + HLEN_EU + UNIT, UNIT);
	REFUSED(&f, t, len + UNIT, "chunk");
	memset(t + len, 0, UNIT);
	REFUSED(&f, t, len + UNIT, "chunk");
	REFUSED(&f, t, len + 1, "chunk");
	free(t);
	fixture_dispose(&f);

	/* An object whose last chunk is full: appending must still be caught. */
	fixture_setup(&f, 2 * C);
	len = f.orig.len;
	t = malloc(len + UNIT);
	memcpy(t, f.orig.ptr, len);
	memcpy(t + len, f.orig.ptr + HLEN_EU, UNIT);
	REFUSED(&f, t, len + UNIT, "chunk");
	REFUSED(&f, f.orig.ptr, HLEN_EU + UNIT, "chunk");
	CHECK_OK(get(&f.got, f.v, &f.id, "eu"));
	free(t);
	fixture_dispose(&f);
}

static void test_binding(void)
{
	fixture f;
	char kek_path[400], other_path[420];
	uint8_t kek[32];
	vt_hash other;

	fixture_setup(&f, C + 10);

	/* Asked for the wrong jurisdiction. */
	CHECK_CODE(get(&f.got, f.v, &f.id, "us"), VT_EVERIFY);
	CHECK(strstr(vt_error_last(), "jurisdiction eu") != NULL);
	/* The header edited to claim another jurisdiction: the wrap's AAD. */
	{
		uint8_t *t = malloc(f.orig.len);
		memcpy(t, f.orig.ptr, f.orig.len);
		memcpy(t + 25, "us", 2);
		spit(f.path, t, f.orig.len);
		CHECK_CODE(get(&f.got, f.v, &f.id, "us"), VT_ECORRUPT);
		CHECK(strstr(vt_error_last(), f.hex) != NULL);
		free(t);
	}
	spit(f.path, f.orig.ptr, f.orig.len);

	/* Renamed to another object's name. */
	vt_sha256(&other, "some other content", 18);
	obj_path(other_path, sizeof(other_path), f.dir, &other);
	{
		char d[420];
		snprintf(d, sizeof(d), "%.*s", (int)(strrchr(other_path, '/') - other_path),
			 other_path);
		mkdir(d, 0700);
	}
	CHECK(link(f.path, other_path) == 0);
	CHECK_CODE(get(&f.got, f.v, &other, "eu"), VT_ECORRUPT);
	CHECK(strstr(vt_error_last(), "renamed") != NULL);
	unlink(other_path);

	/* Another KEK: refused by its id, and by the wrap when the id is forged. */
	vt_vault_close(f.v);
	snprintf(kek_path, sizeof(kek_path), "%s/vault.kek", f.dir);
	fill(kek, sizeof(kek), 1234);
	CHECK_OK(spit(kek_path, kek, sizeof(kek)));
	CHECK_OK(vt_vault_open(&f.v, f.dir));
	CHECK_CODE(get(&f.got, f.v, &f.id, "eu"), VT_EVERIFY);
	CHECK(strstr(vt_error_last(), "KEK") != NULL);
	{
		/* Known answer for the KEK id: SHA-256("vitrine vault KEK id v1\0" || KEK)[:8]. */
		static const char label[] = "vitrine vault KEK id v1";
		const void *parts[2] = {label, kek};
		const size_t lens[2] = {sizeof(label), 32};
		vt_hash h;
		uint8_t *t = malloc(f.orig.len);
		vt_sha256_v(&h, parts, lens, 2);
		memcpy(t, f.orig.ptr, f.orig.len);
		memcpy(t + 16, h.b, 8);
		spit(f.path, t, f.orig.len);
		CHECK_CODE(get(&f.got, f.v, &f.id, "eu"), VT_ECORRUPT);
		CHECK(strstr(vt_error_last(), "data key") != NULL);
		free(t);
	}
	fixture_dispose(&f);
}

static void test_shred(void)
{
	char dir[300], path[400];
	vt_vault *v = fresh(dir, sizeof(dir));
	size_t len = 2 * C + 3;
	uint8_t *data = malloc(len);
	vt_vault_fsck_stats st;
	vt_hash id, id2;
	bool created = false;
	vt_buf got, file;
	struct stat sb;

	vt_buf_init(&got, 1 << 20);
	vt_buf_init(&file, 1 << 20);
	fill(data, len, 5);
	CHECK_OK(put(&id, NULL, v, "eu", data, len));
	obj_path(path, sizeof(path), dir, &id);
	CHECK_OK(vt_vault_shred(v, &id));
	CHECK_CODE(get(&got, v, &id, "eu"), VT_ENOTFOUND);
	CHECK(strstr(vt_error_last(), "shredded") != NULL);
	CHECK_CODE(vt_vault_contains(v, &id), VT_ENOTFOUND);
	/* The tombstone: the header with a zero wrapped key, no chunks. */
	CHECK(stat(path, &sb) == 0 && sb.st_size == HLEN_EU);
	CHECK_OK(slurp(&file, path));
	{
		uint8_t zero[60] = {0};
		CHECK(file.len == HLEN_EU && memcmp(file.ptr + 27, zero, 60) == 0);
	}
	CHECK_OK(vt_vault_shred(v, &id));
	CHECK_OK(vt_vault_fsck(&st, v, NULL, NULL, NULL));
	CHECK(st.objects == 1 && st.shredded == 1 && st.problems == 0 && st.verified == 0);
	/* Stored again after shredding: a new object replaces the tombstone. */
	CHECK_OK(put(&id2, &created, v, "eu", data, len));
	CHECK(created && vt_hash_equal(&id, &id2));
	CHECK_OK(get(&got, v, &id, "eu"));
	CHECK(got.len == len && memcmp(got.ptr, data, len) == 0);
	free(data);
	vt_buf_dispose(&got);
	vt_buf_dispose(&file);
	vt_vault_close(v);
	rmtree(dir);
}

static int count_problem(const vt_vault_problem *p, void *payload)
{
	size_t *n = payload;
	n[p->kind]++;
	return 0;
}

static void test_atomicity(void)
{
	char dir[300], path[400];
	vt_vault *v = fresh(dir, sizeof(dir));
	vt_vault_writer *w = NULL, *w2 = NULL;
	uint8_t data[3000];
	vt_vault_fsck_stats st;
	size_t kinds[8] = {0}, removed = 9;
	vt_hash id;

	fill(data, sizeof(data), 3);
	snprintf(path, sizeof(path), "%s/vault/tmp", dir);
	/* Abort leaves nothing. */
	CHECK_OK(vt_vault_writer_new(&w, v, "eu"));
	for (int i = 0; i < 50; i++)
		CHECK_OK(vt_vault_writer_write(w, data, sizeof(data)));
	CHECK(count_files(path) == 1);
	vt_vault_writer_abort(w);
	CHECK(count_files(path) == 0);
	CHECK(count_objects(dir) == 0);

	/* A writer in progress and a crashed one's file: not objects. */
	CHECK_OK(vt_vault_writer_new(&w2, v, "eu"));
	CHECK_OK(vt_vault_writer_write(w2, data, sizeof(data)));
	{
		char crashed[500];
		snprintf(crashed, sizeof(crashed), "%s/0123456789abcdef", path);
		CHECK_OK(spit(crashed, "VTVAULT\0 half-written", 21));
	}
	CHECK_OK(vt_vault_fsck(&st, v, count_problem, NULL, kinds));
	CHECK(st.problems == 0 && st.objects == 0 && st.tmp == 2);
	/* Fresh files survive a sweep with a long age; an age of 0 takes all. */
	CHECK_OK(vt_vault_sweep_tmp(v, 3600, &removed));
	CHECK(removed == 0);
	CHECK_OK(vt_vault_writer_finish(&id, NULL, w2));
	CHECK_OK(vt_vault_sweep_tmp(v, 0, &removed));
	CHECK(removed == 1 && count_files(path) == 0);
	CHECK_OK(vt_vault_contains(v, &id));
	CHECK_OK(vt_vault_fsck(&st, v, count_problem, NULL, kinds));
	CHECK(st.problems == 0 && st.objects == 1 && st.verified == 1 && st.bytes == sizeof(data));
	vt_vault_close(v);
	rmtree(dir);
}

typedef struct {
	size_t kinds[8];
	size_t ids;
	size_t objects;
	char last_detail[512];
} fsck_seen;

static int seen_problem(const vt_vault_problem *p, void *payload)
{
	fsck_seen *s = payload;
	s->kinds[p->kind]++;
	s->ids += p->has_id;
	snprintf(s->last_detail, sizeof(s->last_detail), "%s: %s", p->path, p->detail);
	return 0;
}

static int seen_object(const vt_hash *id, const char *jur, void *payload)
{
	fsck_seen *s = payload;
	s->objects += strcmp(jur, "eu") == 0;
	return 0;
}

static int stop_at_first(const vt_vault_problem *p, void *payload)
{
	return 7;
}

static void test_fsck(void)
{
	char dir[300], path[400], path2[400], stray[500];
	vt_vault *v = fresh(dir, sizeof(dir));
	uint8_t data[3][C + 50];
	vt_hash id[3], fake;
	vt_vault_fsck_stats st;
	fsck_seen seen = {0};
	vt_buf file;

	vt_buf_init(&file, 1 << 20);
	for (int i = 0; i < 3; i++) {
		fill(data[i], sizeof(data[i]), 100 + (uint64_t)i);
		CHECK_OK(put(&id[i], NULL, v, "eu", data[i], sizeof(data[i])));
	}
	CHECK_OK(vt_vault_fsck(&st, v, seen_problem, seen_object, &seen));
	CHECK(st.objects == 3 && st.verified == 3 && st.problems == 0);
	CHECK(st.bytes == 3 * sizeof(data[0]) && seen.objects == 3);

	/* Corrupt object 0 in its second chunk. */
	obj_path(path, sizeof(path), dir, &id[0]);
	CHECK_OK(slurp(&file, path));
	file.ptr[file.len - 20] ^= 0x80;
	CHECK_OK(spit(path, file.ptr, file.len));
	/* Move object 1 to a well-formed name that is not its hash. */
	obj_path(path, sizeof(path), dir, &id[1]);
	fake = id[1];
	fake.b[31] ^= 1;
	obj_path(path2, sizeof(path2), dir, &fake);
	CHECK(rename(path, path2) == 0);
	/* Strays: a badly named file in an object directory, a stray directory. */
	snprintf(stray, sizeof(stray), "%.*s/notahash", (int)(strrchr(path2, '/') - path2), path2);
	CHECK_OK(spit(stray, "x", 1));
	snprintf(stray, sizeof(stray), "%s/vault/zz", dir);
	CHECK(mkdir(stray, 0700) == 0);

	memset(&seen, 0, sizeof(seen));
	CHECK_OK(vt_vault_fsck(&st, v, seen_problem, seen_object, &seen));
	CHECK(st.objects == 3 && st.verified == 1 && st.problems == 4);
	CHECK(seen.kinds[VT_VAULT_PROBLEM_CORRUPT] == 2);
	CHECK(seen.kinds[VT_VAULT_PROBLEM_STRAY] == 2);
	CHECK(seen.ids == 2 && seen.objects == 1);
	/* A well-formed object name in the wrong prefix directory. */
	obj_path(path, sizeof(path), dir, &id[2]);
	{
		char other[600], *slash;
		snprintf(other, sizeof(other), "%s", path);
		slash = strrchr(other, '/');
		memcpy(slash - 2, memcmp(slash + 1, "00", 2) == 0 ? "ff" : "00", 2);
		*slash = 0;
		mkdir(other, 0700);
		*slash = '/';
		CHECK(link(path, other) == 0);
	}
	memset(&seen, 0, sizeof(seen));
	CHECK_OK(vt_vault_fsck(&st, v, seen_problem, seen_object, &seen));
	CHECK(st.objects == 3 && st.verified == 1 && st.problems == 5);
	CHECK(seen.kinds[VT_VAULT_PROBLEM_STRAY] == 3);
	CHECK(strstr(seen.last_detail, "vault/") != NULL);
	CHECK_CODE(vt_vault_fsck(&st, v, stop_at_first, NULL, NULL), 7);
	vt_buf_dispose(&file);
	vt_vault_close(v);
	rmtree(dir);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(root, sizeof(root), "%s", t && *t ? t : "/tmp");
	RUN(test_init_open);
	RUN(test_bad_input);
	RUN(test_round_trips);
	RUN(test_dedup);
	RUN(test_dedup_concurrent);
	RUN(test_tamper);
	RUN(test_binding);
	RUN(test_shred);
	RUN(test_atomicity);
	RUN(test_fsck);
	return TEST_DONE();
}
