/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Log storage in a POSIX directory.
 *
 * Layout: DIR/log/ mirrors the tlog-tiles URL space; DIR/staging/ holds
 * the next checkpoint while it is committed, and staged objects when they
 * cannot be anonymous files (below); DIR/lock is the writer lock (flock,
 * holding the writer's pid and command for the error message).
 *
 * Staged objects are written by a thread of their own, so that the caller
 * goes on hashing while the kernel creates files; commit() first waits for
 * the objects of its batches (memory is bounded: put() waits when 16 MiB
 * are queued). Staged objects carry their batch number; a commit takes the
 * prefix of the staged list up to its batch, so put() and seal() of the
 * next group go on (under mu) while it syncs and links.
 *
 * Each object is staged as an anonymous file (O_TMPFILE) in its final
 * directory, made at stage time, and its descriptor kept until the commit
 * links it into place with linkat(): no directory entry exists until then,
 * linkat() refuses to replace (tiles never change: an existing object is
 * compared instead), a same-directory link is cheaper than the old
 * cross-directory rename (no rename lock, no second directory), and after
 * a crash the kernel frees unlinked inodes, so nothing is left that a web
 * server could serve. Where O_TMPFILE or linking a descriptor is not
 * available, or descriptors run short (at most fd_max are held; the soft
 * RLIMIT_NOFILE is raised to the hard one), an object is written to a
 * numbered file in DIR/staging/ and renamed into place instead, as before.
 *
 * Durability: staged data is written without fsync; commit() calls
 * syncfs(), which writes back every dirty inode of the filesystem, linked
 * or not, so all staged data is durable; it then links (or renames) each
 * object into place, and calls syncfs() again so the names are durable. A
 * published object therefore always has complete, durable contents. A new
 * checkpoint is staged in DIR/staging/ before the first sync and renamed
 * over DIR/log/checkpoint only after the second, then DIR/log is synced.
 */
#include "vitrine/storage.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHECKPOINT_TMP	"checkpoint" /* in DIR/staging; staged objects are numbered */
#define STAGE_QUEUE_MAX (16u << 20)  /* bytes waiting for the stager */
#define FD_MAX_CAP	8192	     /* staged descriptors held at most */

/* How a staged anonymous file gets its name. */
enum link_mode {
	LINK_NONE,  /* no O_TMPFILE here: named files in DIR/staging */
	LINK_EMPTY, /* linkat(fd, "", ..., AT_EMPTY_PATH) */
	LINK_PROC,  /* linkat of /proc/self/fd/N, AT_SYMLINK_FOLLOW */
};

/* One staged object, from put() until its commit or abort. */
typedef struct obj {
	struct obj *next;     /* the staged list, in put order */
	struct obj *next_job; /* the stager's queue */
	char *path;
	uint64_t batch;
	unsigned long seq; /* its job's number: written once p->written > seq */
	int fd;		   /* the anonymous file, or -1 */
	bool named;	   /* written to DIR/staging/<seq> instead */
	uint8_t *data;	   /* until the stager wrote it */
	size_t len;
} obj;

typedef struct {
	vt_storage base;
	int dirfd;   /* DIR */
	int logfd;   /* DIR/log */
	int stagefd; /* DIR/staging, writers only */
	int lockfd;
	bool writer;
	enum link_mode link;
	obj *head, *tail;    /* staged list, under mu: put() appends, commit() takes a prefix */
	unsigned long seq;   /* next job number (put's thread only) */
	uint64_t batch;	     /* the open batch (put's thread only) */
	size_t nfds, fd_max; /* staged descriptors held, under mu */

	/* The stager thread writes staged files while the caller goes on
	 * (creating a file costs far more than hashing a tile's entries). */
	pthread_t stager;
	bool stager_running, stager_stop;
	pthread_mutex_t mu;
	pthread_cond_t cv_job, cv_idle;
	obj *jhead, *jtail;
	size_t queued_bytes, pending;
	unsigned long written; /* jobs the stager finished, in order */
	int stage_err;	       /* first failure since the last abort */
	char stage_why[256];
} posix_storage;

static int p_get(vt_storage *s, vt_buf *out, const char *path)
{
	posix_storage *p = (posix_storage *)s;
	if (strstr(path, "..") || path[0] == '/')
		return vt_error_set(VT_EINVAL, "invalid object path %s", path);
	return vt_fs_read(out, p->logfd, path);
}

static void tmp_name(char *out, size_t cap, const obj *o)
{
	snprintf(out, cap, "%lu", o->seq);
}

/*
 * Free a staged object: close its file, remove its staging name. Returns
 * whether it held a descriptor, for the caller to count off p->nfds.
 */
static bool obj_free(posix_storage *p, obj *o)
{
	char tmp[32];
	bool had_fd = o->fd >= 0;

	if (had_fd)
		close(o->fd);
	if (o->named && p->stagefd >= 0) {
		tmp_name(tmp, sizeof(tmp), o);
		unlinkat(p->stagefd, tmp, 0);
	}
	free(o->data);
	free(o->path);
	free(o);
	return had_fd;
}

/* Free a list of staged objects; one lock for the descriptors it held. */
static void free_list(posix_storage *p, obj *o)
{
	size_t closed = 0;

	while (o) {
		obj *next = o->next;
		closed += obj_free(p, o);
		o = next;
	}
	if (closed) {
		pthread_mutex_lock(&p->mu);
		p->nfds -= closed;
		pthread_mutex_unlock(&p->mu);
	}
}

/*
 * Open an anonymous file in the directory that will hold path, making the
 * directories when missing (only the first object of a directory pays).
 */
static int open_anonymous(posix_storage *p, const char *path)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	int fd;

	if (n >= sizeof(parent)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(parent, path, n);
	parent[n] = '\0';
	fd = openat(p->logfd, n ? parent : ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (fd < 0 && errno == ENOENT) {
		if (vt_fs_mkparents(p->logfd, path, 0755) < 0)
			return -1;
		fd = openat(p->logfd, parent, O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	}
	return fd;
}

/*
 * Write o's data to an anonymous file in its final directory (use_fd) or
 * to DIR/staging/<seq>. Returns 1 when the anonymous file could not be
 * made for lack of descriptors or of support, so the caller retries with
 * a name.
 */
static int write_object(posix_storage *p, obj *o, bool use_fd)
{
	char tmp[32];
	int fd, err;

	if (use_fd) {
		fd = open_anonymous(p, o->path);
		/* Out of descriptors, or a directory on a filesystem without
		 * O_TMPFILE (the probe ran in DIR/staging): a named file. */
		if (fd < 0 &&
		    (errno == EMFILE || errno == ENFILE || errno == EOPNOTSUPP || errno == EISDIR))
			return 1;
		if (fd < 0)
			return vt_error_sys(VT_EIO, errno, "cannot create a staged file for %s",
					    o->path);
	} else {
		tmp_name(tmp, sizeof(tmp), o);
		fd = openat(p->stagefd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			return vt_error_sys(VT_EIO, errno, "cannot create a staged file");
		o->named = true;
	}
	/* No sync_file_range() hint to start writeback early: one small write
	 * per file cost more (bench_log: about a third more system time, and
	 * slower) than the commit's syncfs() writing them all back at once. */
	err = vt_fs_write_all(fd, o->data, o->len);
	if (use_fd && err == 0) {
		o->fd = fd;
		return 0;
	}
	if (close(fd) < 0 && err == 0)
		err = vt_error_sys(VT_EIO, errno, "cannot close a staged file");
	return err;
}

static void *stager(void *arg)
{
	posix_storage *p = arg;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		obj *o;
		bool use_fd;
		int err;
		while (!p->jhead && !p->stager_stop)
			pthread_cond_wait(&p->cv_job, &p->mu);
		if (!p->jhead)
			break;
		o = p->jhead;
		p->jhead = o->next_job;
		if (!p->jhead)
			p->jtail = NULL;
		/* Reserve a descriptor now; given back below if not kept. */
		use_fd = p->link != LINK_NONE && p->nfds < p->fd_max;
		if (use_fd)
			p->nfds++;
		pthread_mutex_unlock(&p->mu);
		err = write_object(p, o, use_fd);
		if (err == 1)
			err = write_object(p, o, false);
		pthread_mutex_lock(&p->mu);
		if (use_fd && o->fd < 0)
			p->nfds--;
		if (err < 0 && p->stage_err == 0) {
			p->stage_err = err;
			snprintf(p->stage_why, sizeof(p->stage_why), "%s", vt_error_last());
		}
		p->queued_bytes -= o->len;
		free(o->data);
		o->data = NULL;
		p->pending--;
		p->written++;
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
	obj *o;

	if (!p->writer)
		return vt_error_set(VT_EDENIED, "storage is open read-only");
	if (strstr(path, "..") || path[0] == '/' || path[0] == '\0')
		return vt_error_set(VT_EINVAL, "invalid object path %s", path);
	if ((o = calloc(1, sizeof(*o))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	o->fd = -1;
	if ((o->path = strdup(path)) == NULL || (len && (o->data = malloc(len)) == NULL)) {
		obj_free(p, o);
		return vt_error_set(VT_ENOMEM, "out of memory");
	}
	o->len = len;
	if (len)
		memcpy(o->data, data, len);
	pthread_mutex_lock(&p->mu);
	o->batch = p->batch;
	o->seq = p->seq++;
	/* Bounded memory: wait while the stager is far behind. */
	while (p->queued_bytes > 0 && p->queued_bytes + len > STAGE_QUEUE_MAX)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	if (p->tail)
		p->tail->next = o;
	else
		p->head = o;
	p->tail = o;
	if (p->jtail)
		p->jtail->next_job = o;
	else
		p->jhead = o;
	p->jtail = o;
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
 * Wait until the stager wrote every object of the batches up to batch,
 * then move them out of the staged list into *out, in put order.
 */
static int take_batches(posix_storage *p, uint64_t batch, obj **out)
{
	obj *last = NULL;
	int err = 0;

	*out = NULL;
	pthread_mutex_lock(&p->mu);
	for (obj *o = p->head; o && o->batch <= batch; o = o->next)
		last = o;
	while (last && p->written <= last->seq && p->stage_err == 0)
		pthread_cond_wait(&p->cv_idle, &p->mu);
	/* A failed object of any batch fails this commit too: the caller aborts. */
	if (p->stage_err < 0) {
		err = vt_error_set(p->stage_err, "%s", p->stage_why);
		goto done;
	}
	if (!last)
		goto done;
	*out = p->head;
	p->head = last->next;
	if (!p->head)
		p->tail = NULL;
	last->next = NULL;
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

/* Whether the files open as a and b hold the same bytes. VT_EIO. */
static int same_bytes(bool *same, int a, int b)
{
	uint8_t x[16384], y[sizeof(x)];
	struct stat sa, sb;
	off_t off = 0;

	*same = false;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot stat an object");
	if (sa.st_size != sb.st_size)
		return 0;
	while (off < sa.st_size) {
		size_t n =
		    (size_t)(sa.st_size - off) < sizeof(x) ? (size_t)(sa.st_size - off) : sizeof(x);
		if (pread(a, x, n, off) != (ssize_t)n || pread(b, y, n, off) != (ssize_t)n)
			return vt_error_sys(VT_EIO, errno, "cannot read an object back");
		if (memcmp(x, y, n) != 0)
			return 0;
		off += (off_t)n;
	}
	*same = true;
	return 0;
}

/* An object exists at o->path already: it must hold the staged bytes. */
static int same_as_existing(posix_storage *p, const obj *o)
{
	char tmp[32];
	int a = -1, b = o->fd, err = 0;
	bool same;

	if ((a = openat(p->logfd, o->path, O_RDONLY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot open %s", o->path);
		goto done;
	}
	if (o->named) {
		tmp_name(tmp, sizeof(tmp), o);
		if ((b = openat(p->stagefd, tmp, O_RDONLY | O_CLOEXEC)) < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot open a staged file");
			goto done;
		}
	}
	if ((err = same_bytes(&same, a, b)) < 0)
		goto done;
	if (!same)
		err = vt_error_set(VT_ECORRUPT,
				   "refusing to change immutable object %s (stored copy differs)",
				   o->path);
done:
	if (a >= 0)
		close(a);
	if (o->named && b >= 0)
		close(b);
	return err;
}

/* Give o its name in DIR/log, never replacing; -1 with errno on failure. */
static int place(posix_storage *p, const obj *o)
{
	char tmp[32];

	if (o->named) {
		tmp_name(tmp, sizeof(tmp), o);
		return renameat2(p->stagefd, tmp, p->logfd, o->path, RENAME_NOREPLACE);
	}
	if (p->link == LINK_EMPTY)
		return linkat(o->fd, "", p->logfd, o->path, AT_EMPTY_PATH);
	snprintf(tmp, sizeof(tmp), "/proc/self/fd/%d", o->fd);
	return linkat(AT_FDCWD, tmp, p->logfd, o->path, AT_SYMLINK_FOLLOW);
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
	/* The renameat2 system call, as for named objects, so that fault
	 * injection (crash.sh) targets one call; glibc would turn it into
	 * renameat for flags 0. */
	if (syscall(SYS_renameat2, p->stagefd, CHECKPOINT_TMP, p->logfd, "checkpoint", 0) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot publish the checkpoint");
	if (fsync(p->logfd) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot sync the log directory");
	return 0;
}

static int p_commit(vt_storage *s, uint64_t batch, const void *old, size_t oldlen, const void *cp,
		    size_t cplen)
{
	posix_storage *p = (posix_storage *)s;
	obj *list = NULL;
	int fd, err = 0;

	if (!p->writer)
		return vt_error_set(VT_EDENIED, "storage is open read-only");
	if ((err = take_batches(p, batch, &list)) < 0) {
		err = vt_error_wrap(err, "staging");
		goto done;
	}
	if (!list && !cp)
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
		if (err == 0 && !list && fsync(fd) < 0)
			err = vt_error_sys(VT_EIO, errno, "cannot sync the checkpoint");
		if (close(fd) < 0 && err == 0)
			err = vt_error_sys(VT_EIO, errno, "cannot close the staged checkpoint");
		if (err < 0)
			goto done;
	}
	if (list && (err = sync_all(p)) < 0)
		goto done;
	for (obj *o = list; o; o = o->next) {
		int r = place(p, o);
		if (r < 0 && errno == ENOENT && o->named) {
			/* Parents are made only for anonymous files. */
			if ((err = vt_fs_mkparents(p->logfd, o->path, 0755)) < 0)
				goto done;
			r = place(p, o);
		}
		if (r < 0 && errno == EEXIST) {
			if ((err = same_as_existing(p, o)) < 0)
				goto done;
			continue;
		}
		if (r < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot publish %s", o->path);
			goto done;
		}
		o->named = false; /* its staging name is gone */
	}
	/* The objects' names are durable before a checkpoint can name them. */
	if (list && (err = sync_all(p)) < 0)
		goto done;
	if (cp)
		err = swap_checkpoint(p, old, oldlen);
done:
	if (cp && err < 0)
		unlinkat(p->stagefd, CHECKPOINT_TMP, 0);
	free_list(p, list);
	return err;
}

static void p_abort(vt_storage *s)
{
	posix_storage *p = (posix_storage *)s;
	obj *list;
	if (p->writer)
		stager_drain(p);
	pthread_mutex_lock(&p->mu);
	list = p->head;
	p->head = p->tail = NULL;
	pthread_mutex_unlock(&p->mu);
	free_list(p, list);
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
	free_list(p, p->head);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv_job);
	pthread_cond_destroy(&p->cv_idle);
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

/*
 * Find how this filesystem and kernel let an anonymous file be linked:
 * try both ways on a probe in DIR/staging. Anything failing means named
 * staging files, which work everywhere.
 */
static void probe_link(posix_storage *p)
{
	char proc[32];
	int fd = openat(p->stagefd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);

	p->link = LINK_NONE;
	if (fd < 0)
		return;
	if (linkat(fd, "", p->stagefd, "probe", AT_EMPTY_PATH) == 0) {
		p->link = LINK_EMPTY;
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, p->stagefd, "probe", AT_SYMLINK_FOLLOW) == 0)
			p->link = LINK_PROC;
	}
	unlinkat(p->stagefd, "probe", 0);
	close(fd);
}

/*
 * Raise the soft descriptor limit to the hard one and take a quarter of it
 * for staged files (two groups in flight hold about 520 each; past the
 * share, objects are staged as named files): the server's connections,
 * the index and the analysers need the rest.
 */
static void set_fd_max(posix_storage *p)
{
	struct rlimit rl;
	rlim_t cur;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		p->fd_max = 0;
		return;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t want = rl.rlim_max;
		struct rlimit nl = {.rlim_cur = want, .rlim_max = rl.rlim_max};
		if (setrlimit(RLIMIT_NOFILE, &nl) == 0)
			rl.rlim_cur = want;
	}
	cur = rl.rlim_cur == RLIM_INFINITY ? FD_MAX_CAP * 4 : rl.rlim_cur;
	p->fd_max = cur / 4 > FD_MAX_CAP ? FD_MAX_CAP : (size_t)(cur / 4);
}

/*
 * syncfs() makes durable the filesystem of DIR only: DIR/log and
 * DIR/staging (either may be a symbolic link) must be on it.
 */
static int same_filesystem(posix_storage *p, const char *dir)
{
	struct stat d, l, s;

	if (fstat(p->dirfd, &d) < 0 || fstat(p->logfd, &l) < 0 ||
	    (p->stagefd >= 0 && fstat(p->stagefd, &s) < 0))
		return vt_error_sys(VT_EIO, errno, "cannot stat %s", dir);
	if (l.st_dev != d.st_dev || (p->stagefd >= 0 && s.st_dev != d.st_dev))
		return vt_error_set(VT_EINVAL,
				    "%s/log and %s/staging must be on the filesystem of %s "
				    "(one syncfs makes a group durable)",
				    dir, dir, dir);
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
		if ((err = same_filesystem(p, dir)) < 0 || (err = clear_staging_dir(p)) < 0)
			goto done;
		probe_link(p);
		set_fd_max(p);
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
