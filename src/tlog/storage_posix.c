/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log storage in a POSIX directory.
 *
 * Layout: DIR/log/ mirrors the tlog-tiles URL space; DIR/staging/ holds
 * objects of the commit in progress; DIR/lock is the writer lock (flock,
 * holding the writer's pid and command for the error message).
 *
 * Staged files are written by a thread of their own, so that the caller
 * goes on hashing while the kernel creates files; commit() first waits for
 * the files of its batches (memory is bounded: put() waits when 16 MiB
 * are queued). Staged objects carry their batch number; a commit takes the
 * prefix of the staged list up to its batch, so put() and seal() of the
 * next group go on (under mu) while it syncs and renames.
 *
 * Durability: staged files are written without fsync; commit() calls
 * syncfs() once (all staged data durable), renames each into place with
 * RENAME_NOREPLACE (an existing object is compared instead: tiles never
 * change), then syncfs() again so the names are durable. A published
 * object therefore always has complete, durable contents. A new checkpoint
 * is staged with the objects (so the first sync covers it) and renamed
 * over DIR/log/checkpoint only after the second, then DIR/log is synced.
 */
#include "vitrine/storage.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define OBJECT_MAX (256 * (2 + 65535))
#define CHECKPOINT_TMP "checkpoint" /* in DIR/staging; staged objects are numbered */

typedef struct {
	char *path;
	char tmp[32];
	uint64_t batch;
	unsigned long seq; /* its job's number: written once p->written > seq */
	bool placed;       /* renamed into the log or removed: nothing to clean */
} staged;

typedef struct {
	vt_storage base;
	int dirfd;     /* DIR */
	int logfd;     /* DIR/log */
	int stagefd;   /* DIR/staging, writers only */
	int lockfd;
	bool writer;
	staged *st;        /* under mu: put() appends, commit() takes a prefix */
	size_t nst, capst;
	unsigned long seq; /* next job number (put's thread only) */
	uint64_t batch;    /* the open batch (put's thread only) */

	/* The stager thread writes staged files while the caller goes on
	 * (creating a file costs far more than hashing a tile's entries). */
	pthread_t stager;
	bool stager_running, stager_stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_idle;
	struct job *head, *tail;
	size_t queued_bytes, pending;
	unsigned long written; /* jobs the stager finished, in order */
	int stage_err; /* first failure since the last abort */
	char stage_why[256];
} posix_storage;

/* One file for the stager to write: DIR/staging/<tmp> with data. */
struct job {
	struct job *next;
	char tmp[32];
	size_t len;
	uint8_t data[];
};

#define STAGE_QUEUE_MAX (16u << 20) /* bytes waiting for the stager */

static int p_get(vt_storage *s, vt_buf *out, const char *path)
{
	posix_storage *p = (posix_storage *)s;
	if (strstr(path, "..") || path[0] == '/')
		return vt_error_set(VT_EINVAL, "invalid object path %s", path);
	return vt_fs_read(out, p->logfd, path);
}

/* Remove the staged files not placed and free the records. */
static void drop_staged(posix_storage *p, staged *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!st[i].placed && p->stagefd >= 0)
			unlinkat(p->stagefd, st[i].tmp, 0);
		free(st[i].path);
	}
}

static int write_staged(posix_storage *p, const char *tmp, const void *data, size_t len)
{
	int fd, err;
	fd = openat(p->stagefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return vt_error_sys(VT_EIO, errno, "cannot create a staged file");
	err = vt_fs_write_all(fd, data, len);
	/* Start writing back now, so the disk works while the caller hashes
	 * and the commit's sync finds little left to do. A hint only. */
	if (err == 0)
		sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	if (close(fd) < 0 && err == 0)
		err = vt_error_sys(VT_EIO, errno, "cannot close a staged file");
	return err;
}

static void *stager(void *arg)
{
	posix_storage *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct job *j;
		int err;
		while (!p->head && !p->stager_stop)
			pthread_cond_wait(&p->cv_job, &p->mu);
		if (!p->head)
			break;
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		pthread_mutex_unlock(&p->mu);
		err = write_staged(p, j->tmp, j->data, j->len);
		pthread_mutex_lock(&p->mu);
		if (err < 0 && p->stage_err == 0) {
			p->stage_err = err;
			snprintf(p->stage_why, sizeof(p->stage_why), "%s", vt_error_last());
		}
		p->queued_bytes -= j->len;
		p->pending--;
		p->written++;
		free(j);
		pthread_cond_broadcast(&p->cv_idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Wait until the stager wrote everything queued and forget its error. */
static void stager_drain(posix_storage *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->pending > 0)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	p->stage_err = 0;
	pthread_mutex_unlock(&p->mu);
}

static int p_put(vt_storage *s, const char *path, const void *data, size_t len)
{
	posix_storage *p = (posix_storage *)s;
	struct job *j;
	staged *e;
	char *copy;

	if (!p->writer)
		return vt_error_set(VT_EDENIED, "storage is open read-only");
	if ((j = malloc(sizeof(*j) + len)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	if ((copy = strdup(path)) == NULL) {
		free(j);
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	j->len = len;
	j->next = NULL;
	if (len)
		memcpy(j->data, data, len);
	pthread_mutex_lock(&p->mu);
	if (p->nst == p->capst) {
		size_t cap = p->capst ? p->capst * 2 : 64;
		staged *n = realloc(p->st, cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&p->mu);
			free(j);
			free(copy);
			return vt_error_set(VT_ENOMEM, "out of memory");
		}
		p->st = n;
		p->capst = cap;
	}
	e = &p->st[p->nst++];
	*e = (staged){.path = copy, .batch = p->batch, .seq = p->seq++};
	snprintf(e->tmp, sizeof(e->tmp), "%lu", e->seq);
	memcpy(j->tmp, e->tmp, sizeof(j->tmp));
	/* Bounded memory: wait while the stager is far behind. */
	while (p->queued_bytes > 0 && p->queued_bytes + len > STAGE_QUEUE_MAX)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued_bytes += len;
	p->pending++;
	pthread_cond_signal(&p->cv_job);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static int p_seal(vt_storage *s, uint64_t *batch)
{
	posix_storage *p = (posix_storage *)s;
	if (!p->writer)
		return vt_error_set(VT_EDENIED, "storage is open read-only");
	pthread_mutex_lock(&p->mu);
	*batch = p->batch++;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

/*
 * Wait until the stager wrote every file of the batches up to batch, then
 * move their records out of the staged list into *out (*n of them).
 */
static int take_batches(posix_storage *p, uint64_t batch, staged **out, size_t *n)
{
	size_t k = 0;
	int err = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&p->mu);
	while (k < p->nst && p->st[k].batch <= batch)
		k++;
	while (k > 0 && p->written <= p->st[k - 1].seq && p->stage_err == 0)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	/* A failed file of any batch fails this commit too: the caller aborts. */
	if (p->stage_err < 0) {
		err = vt_error_set(p->stage_err, "%s", p->stage_why);
		goto done;
	}
	if (k == 0)
		goto done;
	if ((*out = malloc(k * sizeof(**out))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(*out, p->st, k * sizeof(**out));
	memmove(p->st, p->st + k, (p->nst - k) * sizeof(*p->st));
	p->nst -= k;
	*n = k;
done:
	pthread_mutex_unlock(&p->mu);
	return err;
}

static int sync_all(posix_storage *p)
{
	if (syncfs(p->dirfd) < 0)
		return vt_error_sys(VT_EIO, errno, "syncfs failed");
	return 0;
}

/* An object exists at path already: it must hold the staged bytes. */
static int same_as_existing(posix_storage *p, const staged *e)
{
	vt_buf a, b;
	int err;
	vt_buf_init(&a, OBJECT_MAX);
	vt_buf_init(&b, OBJECT_MAX);
	if ((err = vt_fs_read(&a, p->logfd, e->path)) < 0 ||
	    (err = vt_fs_read(&b, p->stagefd, e->tmp)) < 0)
		goto done;
	if (a.len != b.len || memcmp(a.ptr, b.ptr, a.len) != 0)
		err = vt_error_set(VT_ECORRUPT,
				   "refusing to change immutable object %s (stored copy differs)",
				   e->path);
done:
	vt_buf_dispose(&a);
	vt_buf_dispose(&b);
	return err;
}

/* Replace DIR/log/checkpoint by the staged one if it still holds old. */
static int swap_checkpoint(posix_storage *p, const void *old, size_t oldlen)
{
	vt_buf cur;
	int err;

	/* The writer lock makes this process the only publisher, so
	 * comparing and then renaming cannot race. */
	vt_buf_init(&cur, 1 << 20);
	err = vt_fs_read(&cur, p->logfd, "checkpoint");
	if (err == VT_ENOTFOUND)
		err = oldlen != 0 ? vt_error_set(VT_EBUSY, "checkpoint vanished") : 0;
	else if (err == 0 && (cur.len != oldlen || memcmp(cur.ptr, old, oldlen) != 0))
		err = vt_error_set(VT_EBUSY, "checkpoint changed underneath this writer");
	vt_buf_dispose(&cur);
	if (err < 0)
		return err;
	if (renameat(p->stagefd, CHECKPOINT_TMP, p->logfd, "checkpoint") < 0)
		return vt_error_sys(VT_EIO, errno, "cannot publish the checkpoint");
	if (fsync(p->logfd) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot sync the log directory");
	return 0;
}

static int p_commit(vt_storage *s, uint64_t batch, const void *old, size_t oldlen,
		    const void *cp, size_t cplen)
{
	posix_storage *p = (posix_storage *)s;
	staged *st = NULL;
	size_t nst = 0;
	int fd, err = 0;

	if (!p->writer)
		return vt_error_set(VT_EDENIED, "storage is open read-only");
	if ((err = take_batches(p, batch, &st, &nst)) < 0) {
		err = vt_error_wrap(err, "staging");
		goto done;
	}
	if (nst == 0 && !cp)
		goto done;
	if (cp) {
		fd = openat(p->stagefd, CHECKPOINT_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			    0644);
		if (fd < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot stage the checkpoint");
			goto done;
		}
		err = vt_fs_write_all(fd, cp, cplen);
		/* Alone, the checkpoint needs only its own sync. */
		if (err == 0 && nst == 0 && fsync(fd) < 0)
			err = vt_error_sys(VT_EIO, errno, "cannot sync the checkpoint");
		if (close(fd) < 0 && err == 0)
			err = vt_error_sys(VT_EIO, errno, "cannot close the staged checkpoint");
		if (err < 0)
			goto done;
	}
	if (nst > 0 && (err = sync_all(p)) < 0)
		goto done;
	for (size_t i = 0; i < nst; i++) {
		staged *e = &st[i];
		int r = renameat2(p->stagefd, e->tmp, p->logfd, e->path, RENAME_NOREPLACE);
		if (r < 0 && errno == ENOENT) {
			if ((err = vt_fs_mkparents(p->logfd, e->path, 0755)) < 0)
				goto done;
			r = renameat2(p->stagefd, e->tmp, p->logfd, e->path, RENAME_NOREPLACE);
		}
		if (r < 0 && errno == EEXIST) {
			if ((err = same_as_existing(p, e)) < 0)
				goto done;
			unlinkat(p->stagefd, e->tmp, 0);
			e->placed = true;
			continue;
		}
		if (r < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot publish %s", e->path);
			goto done;
		}
		e->placed = true;
	}
	/* The objects' names are durable before a checkpoint can name them. */
	if (nst > 0 && (err = sync_all(p)) < 0)
		goto done;
	if (cp)
		err = swap_checkpoint(p, old, oldlen);
done:
	if (cp && err < 0)
		unlinkat(p->stagefd, CHECKPOINT_TMP, 0);
	drop_staged(p, st, nst);
	free(st);
	return err;
}

static void p_abort(vt_storage *s)
{
	posix_storage *p = (posix_storage *)s;
	if (p->writer)
		stager_drain(p);
	pthread_mutex_lock(&p->mu);
	drop_staged(p, p->st, p->nst);
	p->nst = 0;
	pthread_mutex_unlock(&p->mu);
}

static int p_get_checkpoint(vt_storage *s, vt_buf *out)
{
	posix_storage *p = (posix_storage *)s;
	return vt_fs_read(out, p->logfd, "checkpoint");
}

static void p_close(vt_storage *s)
{
	posix_storage *p = (posix_storage *)s;
	if (!p)
		return;
	if (p->stager_running) {
		stager_drain(p);
		pthread_mutex_lock(&p->mu);
		p->stager_stop = true;
		pthread_cond_signal(&p->cv_job);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->stager, NULL);
	}
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_job);
	pthread_cond_destroy(&p->cv_idle);
	drop_staged(p, p->st, p->nst);
	free(p->st);
	if (p->stagefd >= 0)
		close(p->stagefd);
	if (p->logfd >= 0)
		close(p->logfd);
	if (p->dirfd >= 0)
		close(p->dirfd);
	if (p->lockfd >= 0)
		close(p->lockfd); /* releases the flock */
	free(p);
}

static const struct vt_storage_ops posix_ops = {
	.get = p_get,
	.put = p_put,
	.seal = p_seal,
	.commit = p_commit,
	.abort = p_abort,
	.get_checkpoint = p_get_checkpoint,
	.close = p_close,
};

/* Take DIR/lock or say who holds it. */
static int take_lock(posix_storage *p, const char *dir)
{
	char info[256], held[256] = "";
	ssize_t n;
	int len;

	p->lockfd = openat(p->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (p->lockfd < 0)
		return vt_error_sys(VT_EIO, errno, "cannot open %s/lock", dir);
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return vt_error_sys(VT_EIO, errno, "cannot lock %s/lock", dir);
		n = pread(p->lockfd, held, sizeof(held) - 1, 0);
		held[n > 0 ? n : 0] = '\0';
		held[strcspn(held, "\n")] = '\0';
		return vt_error_set(VT_EBUSY, "data directory %s is in use by %s", dir,
				    held[0] ? held : "another process");
	}
	len = snprintf(info, sizeof(info), "process %ld (%s)\n", (long)getpid(),
		       program_invocation_short_name);
	if (ftruncate(p->lockfd, 0) < 0 || pwrite(p->lockfd, info, (size_t)len, 0) != len)
		return vt_error_sys(VT_EIO, errno, "cannot write %s/lock", dir);
	return 0;
}

/* Remove what an interrupted commit left in DIR/staging. */
static int clear_staging_dir(posix_storage *p)
{
	DIR *d;
	struct dirent *de;
	int fd = dup(p->stagefd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return vt_error_sys(VT_EIO, errno, "cannot list staging directory");
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			unlinkat(p->stagefd, de->d_name, 0);
	}
	closedir(d);
	return 0;
}

int vt_storage_posix_open(vt_storage **out, const char *dir, bool writer)
{
	posix_storage *p;
	int err = 0;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	p->base.ops = &posix_ops;
	p->dirfd = p->logfd = p->stagefd = p->lockfd = -1;
	p->writer = writer;
	p->batch = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv_job, NULL);
	pthread_cond_init(&p->cv_idle, NULL);
	if ((p->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno,
				   "cannot open data directory %s", dir);
		goto done;
	}
	if (writer) {
		if ((err = take_lock(p, dir)) < 0)
			goto done;
		if ((mkdirat(p->dirfd, "log", 0755) < 0 && errno != EEXIST) ||
		    (mkdirat(p->dirfd, "staging", 0700) < 0 && errno != EEXIST)) {
			err = vt_error_sys(VT_EIO, errno, "cannot create directories in %s", dir);
			goto done;
		}
	}
	if ((p->logfd = openat(p->dirfd, "log", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno,
				   "%s holds no log (run vitrine init)", dir);
		goto done;
	}
	if (writer) {
		p->stagefd = openat(p->dirfd, "staging", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (p->stagefd < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot open %s/staging", dir);
			goto done;
		}
		if ((err = clear_staging_dir(p)) < 0)
			goto done;
		if ((err = pthread_create(&p->stager, NULL, stager, p)) != 0) {
			err = vt_error_sys(VT_ENOMEM, err, "cannot start the staging thread");
			goto done;
		}
		p->stager_running = true;
	}
done:
	if (err < 0) {
		p_close(&p->base);
		return err;
	}
	*out = &p->base;
	return 0;
}
