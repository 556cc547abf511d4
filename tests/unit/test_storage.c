/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the POSIX log storage: staging, batches, immutability, locking, CAS. */
#include "../test.h"
#include "vitrine/fsutil.h"
#include "vitrine/storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

static void fresh_dir(void)
{
	char cmd[128];
	if (dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		CHECK(system(cmd) == 0);
	}
	snprintf(dir, sizeof(dir), "/tmp/vt-storage-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
}

static int get_str(vt_storage *st, const char *path, const char *want)
{
	vt_buf b;
	int ok;
	vt_buf_init(&b, 1 << 20);
	ok = vt_storage_get(st, &b, path) == 0 && b.len == strlen(want) &&
	     memcmp(b.ptr, want, b.len) == 0;
	vt_buf_dispose(&b);
	return ok;
}

static void test_put_commit_get(void)
{
	vt_storage *st = NULL;
	vt_buf b;
	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/1", "abc", 3));
	vt_buf_init(&b, 100);
	/* Not visible before the commit. */
	CHECK_CODE(vt_storage_get(st, &b, "tile/0/000.p/1"), VT_ENOTFOUND);
	CHECK_OK(vt_storage_commit(st));
	CHECK(get_str(st, "tile/0/000.p/1", "abc"));
	/* Same bytes again: fine. Other bytes: refused, the object stays. */
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/1", "abc", 3));
	CHECK_OK(vt_storage_commit(st));
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/1", "abd", 3));
	CHECK_CODE(vt_storage_commit(st), VT_ECORRUPT);
	CHECK(strstr(vt_error_last(), "immutable") != NULL);
	CHECK(get_str(st, "tile/0/000.p/1", "abc"));
	/* Aborted objects never appear. */
	CHECK_OK(vt_storage_put(st, "tile/0/001", "zzz", 3));
	vt_storage_abort(st);
	CHECK_OK(vt_storage_commit(st));
	CHECK_CODE(vt_storage_get(st, &b, "tile/0/001"), VT_ENOTFOUND);
	CHECK_CODE(vt_storage_get(st, &b, "../lock"), VT_EINVAL);
	CHECK_CODE(vt_storage_get(st, &b, "/etc/passwd"), VT_EINVAL);
	vt_buf_dispose(&b);
	vt_storage_close(st);
}

static void test_lock(void)
{
	vt_storage *a = NULL, *b = NULL, *ro = NULL;
	char want[64];
	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&a, dir, true));
	CHECK_CODE(vt_storage_posix_open(&b, dir, true), VT_EBUSY);
	snprintf(want, sizeof(want), "process %ld", (long)getpid());
	CHECK(strstr(vt_error_last(), want) != NULL);
	CHECK(strstr(vt_error_last(), "in use") != NULL);
	/* Readers do not need the lock, and cannot write. */
	CHECK_OK(vt_storage_posix_open(&ro, dir, false));
	CHECK_CODE(vt_storage_put(ro, "x", "1", 1), VT_EDENIED);
	CHECK_CODE(vt_storage_commit_checkpoint(ro, NULL, 0, "c", 1), VT_EDENIED);
	vt_storage_close(ro);
	vt_storage_close(a);
	/* Released on close. */
	CHECK_OK(vt_storage_posix_open(&b, dir, true));
	vt_storage_close(b);
}

static void test_checkpoint_cas(void)
{
	vt_storage *st = NULL;
	vt_buf b;
	fresh_dir();
	vt_buf_init(&b, 100);
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	CHECK_CODE(vt_storage_get_checkpoint(st, &b), VT_ENOTFOUND);
	CHECK_CODE(vt_storage_commit_checkpoint(st, "x", 1, "one", 3), VT_EBUSY);
	CHECK_OK(vt_storage_commit_checkpoint(st, NULL, 0, "one", 3));
	CHECK_CODE(vt_storage_commit_checkpoint(st, NULL, 0, "two", 3), VT_EBUSY);
	CHECK_CODE(vt_storage_commit_checkpoint(st, "two", 3, "three", 5), VT_EBUSY);
	CHECK_OK(vt_storage_commit_checkpoint(st, "one", 3, "two", 3));
	CHECK_OK(vt_storage_get_checkpoint(st, &b));
	CHECK(b.len == 3 && memcmp(b.ptr, "two", 3) == 0);

	/* Objects and checkpoint in one commit: both visible after it. */
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/2", "xy", 2));
	CHECK_OK(vt_storage_commit_checkpoint(st, "two", 3, "three", 5));
	CHECK(get_str(st, "tile/0/000.p/2", "xy"));
	/* An object that would change a stored one: the checkpoint stays. */
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/2", "xz", 2));
	CHECK_CODE(vt_storage_commit_checkpoint(st, "three", 5, "four", 4), VT_ECORRUPT);
	vt_buf_reset(&b);
	CHECK_OK(vt_storage_get_checkpoint(st, &b));
	CHECK(b.len == 5 && memcmp(b.ptr, "three", 5) == 0);
	/* A stale compare: the checkpoint stays, nothing is left staged. */
	CHECK_OK(vt_storage_put(st, "tile/0/001.p/1", "q", 1));
	CHECK_CODE(vt_storage_commit_checkpoint(st, "two", 3, "five", 4), VT_EBUSY);
	vt_buf_reset(&b);
	CHECK_OK(vt_storage_get_checkpoint(st, &b));
	CHECK(b.len == 5 && memcmp(b.ptr, "three", 5) == 0);
	{
		char path[128];
		snprintf(path, sizeof(path), "%s/staging/checkpoint", dir);
		CHECK(access(path, F_OK) != 0);
	}
	vt_buf_dispose(&b);
	vt_storage_close(st);
}

static void test_staging_cleared(void)
{
	vt_storage *st = NULL;
	char path[128];
	int fd;
	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	vt_storage_close(st);
	/* A crash mid-commit leaves staged files behind. */
	snprintf(path, sizeof(path), "%s/staging/17", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0644);
	CHECK(fd >= 0);
	close(fd);
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	CHECK(access(path, F_OK) != 0);
	vt_storage_close(st);
}

/* Descriptors open in this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the listing's own */
}

static int nregular;
static int count_regular(const char *path, const struct stat *sb, int type, struct FTW *f)
{
	(void)path;
	(void)f;
	if (type == FTW_F && S_ISREG(sb->st_mode))
		nregular++;
	return 0;
}

/* Regular files under dir/sub. */
static int files_under(const char *sub)
{
	char path[160];
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	nregular = 0;
	if (nftw(path, count_regular, 16, FTW_PHYS) != 0)
		return -1;
	return nregular;
}

/* Put n objects tile/<level>/x<k>/<i> for k in batches, data "k.i". */
static void put_objects(vt_storage *st, int level, int batches, int per, const char *salt)
{
	for (int k = 0; k < batches; k++) {
		uint64_t b;
		for (int i = 0; i < per; i++) {
			char path[64], data[64];
			snprintf(path, sizeof(path), "tile/%d/x%03d/%03d", level, k, i);
			snprintf(data, sizeof(data), "%s%d.%d", salt, k, i);
			CHECK_OK(vt_storage_put(st, path, data, strlen(data)));
		}
		CHECK_OK(vt_storage_seal(st, &b));
	}
}

/*
 * kill -9 while objects are staged (written, not committed): nothing
 * appears under log/ (a web server would find no tile), staging/ is empty
 * after reopening, and the same objects commit then.
 */
static void test_crash_with_staged(void)
{
	vt_storage *st = NULL;
	pid_t pid;
	int status = 0;

	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	put_objects(st, 0, 1, 5, "");
	CHECK_OK(vt_storage_commit_checkpoint(st, NULL, 0, "one", 3));
	vt_storage_close(st);
	CHECK(files_under("log") == 6);

	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		vt_storage *c = NULL;
		int base;
		if (vt_storage_posix_open(&c, dir, true) < 0)
			_exit(2);
		base = count_fds();
		put_objects(c, 1, 3, 50, "");
		/* Wait (2 s at most) for the stager to hold every file. */
		for (int i = 0; i < 200 && count_fds() < base + 150; i++)
			nanosleep(&(struct timespec){0, 10000000}, NULL);
		raise(SIGKILL);
		_exit(3);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The first commit's five objects and checkpoint only. */
	CHECK(files_under("log") == 6);
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	CHECK(files_under("staging") == 0);
	CHECK(files_under("log") == 6);
	put_objects(st, 1, 3, 50, "");
	CHECK_OK(vt_storage_commit_checkpoint(st, "one", 3, "two", 3));
	CHECK(files_under("log") == 156);
	CHECK(files_under("staging") == 0);
	CHECK(get_str(st, "tile/1/x002/049", "2.49"));
	vt_storage_close(st);
}

/* Large objects differing only at the end, or only in length. */
static void test_immutable_compare(void)
{
	vt_storage *st = NULL;
	size_t n = 100000;
	char *a = malloc(n), *b = malloc(n);

	CHECK(a && b);
	if (!a || !b)
		goto done;
	memset(a, 'x', n);
	memcpy(b, a, n);
	b[n - 1] = 'y';
	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	CHECK_OK(vt_storage_put(st, "tile/entries/000", a, n));
	CHECK_OK(vt_storage_commit(st));
	CHECK_OK(vt_storage_put(st, "tile/entries/000", a, n));
	CHECK_OK(vt_storage_commit(st));
	CHECK_OK(vt_storage_put(st, "tile/entries/000", b, n));
	CHECK_CODE(vt_storage_commit(st), VT_ECORRUPT);
	vt_storage_abort(st);
	CHECK_OK(vt_storage_put(st, "tile/entries/000", a, n - 1));
	CHECK_CODE(vt_storage_commit(st), VT_ECORRUPT);
	vt_storage_abort(st);
	CHECK_OK(vt_storage_put(st, "tile/entries/000", "", 0));
	CHECK_CODE(vt_storage_commit(st), VT_ECORRUPT);
	vt_storage_abort(st);
	/* Refused objects leave nothing behind. */
	CHECK(files_under("log") == 1);
	CHECK(files_under("staging") == 0);
	CHECK_CODE(vt_storage_put(st, "tile/../x", "a", 1), VT_EINVAL);
	CHECK_CODE(vt_storage_put(st, "/x", "a", 1), VT_EINVAL);
	vt_storage_close(st);
done:
	free(a);
	free(b);
}

/*
 * Under a low descriptor limit, with many sealed batches in flight, the
 * storage never runs out of descriptors: past its share it stages named
 * files, and everything commits (a conflicting object too is refused in
 * either form). Runs in a child, as the hard limit cannot be raised again.
 */
/* A log directory on another filesystem than DIR is refused to writers. */
static void test_other_filesystem(void)
{
	char shm[64] = "/dev/shm/vt-storage-XXXXXX", link[128];
	struct stat a, b;
	vt_storage *st = NULL;

	fresh_dir();
	if (mkdtemp(shm) == NULL)
		return; /* no /dev/shm here: nothing to test */
	if (stat(shm, &a) == 0 && stat(dir, &b) == 0 && a.st_dev != b.st_dev) {
		snprintf(link, sizeof(link), "%s/log", dir);
		CHECK(symlink(shm, link) == 0);
		CHECK_CODE(vt_storage_posix_open(&st, dir, true), VT_EINVAL);
		CHECK(strstr(vt_error_last(), "must be on the filesystem of") != NULL);
		CHECK(st == NULL);
		/* Readers do not sync: they may. */
		CHECK_OK(vt_storage_posix_open(&st, dir, false));
		vt_storage_close(st);
	}
	rmdir(shm);
}

static void test_fd_limit(void)
{
	pid_t pid;
	int status = 0;

	fresh_dir();
	pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit rl = {.rlim_cur = 200, .rlim_max = 300};
		vt_storage *st = NULL;
		int most = 0;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		CHECK_OK(vt_storage_posix_open(&st, dir, true));
		if (!st)
			_exit(3);
		/* The soft limit was raised to the hard one. */
		CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == 300);
		for (int k = 0; k < 10; k++) {
			put_objects(st, k, 1, 100, "");
			int n = count_fds();
			most = n > most ? n : most;
		}
		/* Let the stager finish the last ones before counting again. */
		for (int i = 0; i < 100; i++) {
			int n = count_fds();
			most = n > most ? n : most;
			nanosleep(&(struct timespec){0, 10000000}, NULL);
		}
		CHECK(most <= 300 - 100);
		CHECK_OK(vt_storage_commit_checkpoint(st, NULL, 0, "one", 3));
		CHECK(files_under("log") == 1001);
		CHECK(files_under("staging") == 0);
		CHECK(get_str(st, "tile/0/x000/000", "0.0"));
		CHECK(get_str(st, "tile/9/x000/099", "0.99"));
		/* Same again: accepted; level 9 differs and is
		 * staged late, in named files: refused. */
		put_objects(st, 0, 1, 100, "");
		for (int k = 1; k < 9; k++)
			put_objects(st, k, 1, 100, "");
		put_objects(st, 9, 1, 100, "9");
		CHECK_CODE(vt_storage_commit_checkpoint(st, "one", 3, "two", 3), VT_ECORRUPT);
		vt_storage_abort(st);
		CHECK(files_under("staging") == 0);
		CHECK(get_str(st, "tile/9/x000/099", "0.99"));
		CHECK(count_fds() < 20);
		vt_storage_close(st);
		_exit(vt_test_failures ? 1 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_missing_dir(void)
{
	vt_storage *st = NULL;
	CHECK_CODE(vt_storage_posix_open(&st, "/nonexistent/vt", true), VT_ENOTFOUND);
	CHECK(strstr(vt_error_last(), "/nonexistent/vt") != NULL);
}

/* One commit per sealed batch, run by another thread while the next batch
 * is staged: a commit publishes its batches and never a later one. */
typedef struct {
	vt_storage *st;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint64_t sealed, committed;
	bool stop;
	int errors, leaked;
} committer_state;

static void *commit_thread(void *arg)
{
	committer_state *c = arg;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		uint64_t b;
		char path[64];
		while (c->committed == c->sealed && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->committed == c->sealed)
			break;
		b = c->committed + 1;
		pthread_mutex_unlock(&c->mu);
		if (vt_storage_commit_batch(c->st, b, NULL, 0, NULL, 0) < 0)
			c->errors++;
		/* The next batch's first object may be staged already: not visible. */
		snprintf(path, sizeof(path), "tile/0/x%03llu/000", (unsigned long long)b + 1);
		if (get_str(c->st, path, "0"))
			c->leaked++;
		pthread_mutex_lock(&c->mu);
		c->committed = b;
		pthread_cond_broadcast(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void test_batches(void)
{
	vt_storage *st = NULL, *ro = NULL;
	uint64_t b1, b2, b3;
	vt_buf buf;
	pthread_t t;
	committer_state c = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	if (!st)
		return;
	/* A commit covers the sealed batches up to its own, not the open one. */
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/1", "a", 1));
	CHECK_OK(vt_storage_seal(st, &b1));
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/2", "ab", 2));
	CHECK_OK(vt_storage_commit_batch(st, b1, NULL, 0, "one", 3));
	CHECK(get_str(st, "tile/0/000.p/1", "a"));
	CHECK(!get_str(st, "tile/0/000.p/2", "ab"));
	/* Two sealed batches, the first committed with the second: both. */
	CHECK_OK(vt_storage_seal(st, &b2));
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/3", "abc", 3));
	CHECK_OK(vt_storage_seal(st, &b3));
	CHECK(b1 < b2 && b2 < b3);
	CHECK_OK(vt_storage_commit_batch(st, b3, "one", 3, "two", 3));
	CHECK(get_str(st, "tile/0/000.p/2", "ab"));
	CHECK(get_str(st, "tile/0/000.p/3", "abc"));
	/* abort() forgets sealed batches too. */
	CHECK_OK(vt_storage_put(st, "tile/0/000.p/4", "abcd", 4));
	CHECK_OK(vt_storage_seal(st, &b1));
	vt_storage_abort(st);
	CHECK_OK(vt_storage_commit_batch(st, b1, "two", 3, "three", 5));
	CHECK(!get_str(st, "tile/0/000.p/4", "abcd"));
	vt_buf_init(&buf, 1024);
	CHECK_OK(vt_storage_get_checkpoint(st, &buf));
	CHECK(buf.len == 5 && memcmp(buf.ptr, "three", 5) == 0);
	vt_buf_dispose(&buf);
	/* Read-only storage cannot seal. */
	CHECK_OK(vt_storage_posix_open(&ro, dir, false));
	if (ro)
		CHECK_CODE(vt_storage_seal(ro, &b1), VT_EDENIED);
	vt_storage_close(ro);
	vt_storage_close(st);

	/* 200 batches of 20 objects, each committed on another thread while
	 * the next is staged. */
	fresh_dir();
	CHECK_OK(vt_storage_posix_open(&st, dir, true));
	if (!st)
		return;
	c.st = st;
	pthread_create(&t, NULL, commit_thread, &c);
	for (uint64_t k = 1; k <= 200; k++) {
		uint64_t b;
		for (int i = 0; i < 20; i++) {
			char path[64], data[16];
			snprintf(path, sizeof(path), "tile/0/x%03llu/%03d", (unsigned long long)k,
				 i);
			snprintf(data, sizeof(data), "%d", i);
			CHECK_OK(vt_storage_put(st, path, data, strlen(data)));
		}
		CHECK_OK(vt_storage_seal(st, &b));
		pthread_mutex_lock(&c.mu);
		c.sealed = b;
		pthread_cond_broadcast(&c.cv);
		/* Stay at most one batch ahead, as the log does. */
		while (c.committed + 1 < c.sealed)
			pthread_cond_wait(&c.cv, &c.mu);
		pthread_mutex_unlock(&c.mu);
	}
	pthread_mutex_lock(&c.mu);
	c.stop = true;
	pthread_cond_broadcast(&c.cv);
	pthread_mutex_unlock(&c.mu);
	pthread_join(t, NULL);
	CHECK(c.errors == 0);
	CHECK(c.leaked == 0);
	CHECK(c.committed == 200);
	CHECK(get_str(st, "tile/0/x001/000", "0"));
	CHECK(get_str(st, "tile/0/x200/019", "19"));
	vt_storage_close(st);
}

int main(void)
{
	RUN(test_put_commit_get);
	RUN(test_lock);
	RUN(test_checkpoint_cas);
	RUN(test_staging_cleared);
	RUN(test_missing_dir);
	RUN(test_crash_with_staged);
	RUN(test_immutable_compare);
	RUN(test_fd_limit);
	RUN(test_other_filesystem);
	RUN(test_batches);
	if (dir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return TEST_DONE();
}
