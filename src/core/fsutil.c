/* SPDX-License-Identifier: Apache-2.0 */
/* POSIX file helpers with explicit durability. */
#include "vitrine/fsutil.h"
#include "vitrine/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vt_fs_read(vt_buf *out, int dirfd, const char *path)
{
	struct stat st;
	int fd, err = 0;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return vt_error_set(VT_ENOTFOUND, "%s: not found", path);
		return vt_error_sys(VT_EIO, errno, "cannot open %s", path);
	}
	if (fstat(fd, &st) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot stat %s", path);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err = vt_error_set(VT_ENOTFOUND, "%s: not a regular file", path);
		goto done;
	}
	if ((size_t)st.st_size > out->max - out->len) {
		err = vt_error_set(VT_ETOOBIG, "%s exceeds the limit of %zu bytes", path, out->max);
		goto done;
	}
	if ((err = vt_buf_reserve(out, (size_t)st.st_size)) < 0)
		goto done;
	for (;;) {
		ssize_t n;
		size_t room = out->max - out->len;
		if (room == 0) {
			/* At the limit: the file is too big if anything is left. */
			char c;
			if (read(fd, &c, 1) > 0) {
				err = vt_error_set(VT_ETOOBIG, "%s exceeds the limit of %zu bytes",
						   path, out->max);
				goto done;
			}
			break;
		}
		if ((err = vt_buf_reserve(out, room < 4096 ? room : 4096)) < 0) {
			err = vt_error_wrap(err, "%s", path);
			goto done;
		}
		n = read(fd, out->ptr + out->len, out->cap - out->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot read %s", path);
			goto done;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
	}
	out->ptr[out->len] = 0;
done:
	close(fd);
	return err;
}

int vt_fs_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vt_error_sys(VT_EIO, errno, "write failed");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Split path into its directory part (or "." when there is none). */
static void parent_of(char *out, size_t cap, const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int vt_fs_sync_dir(int dirfd, const char *path)
{
	int fd, err = 0;
	if ((fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot open directory %s", path);
	if (fsync(fd) < 0)
		err = vt_error_sys(VT_EIO, errno, "cannot sync directory %s", path);
	close(fd);
	return err;
}

int vt_fs_write_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return vt_error_set(VT_EINVAL, "path too long: %s", path);
	parent_of(dir, sizeof(dir), path);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot create %s", tmp);
	if ((err = vt_fs_write_all(fd, data, len)) < 0) {
		err = vt_error_wrap(err, "%s", tmp);
		goto fail;
	}
	if (fsync(fd) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot sync %s", tmp);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		err = vt_error_sys(VT_EIO, errno, "cannot close %s", tmp);
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, tmp, dirfd, path) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot rename %s", tmp);
		goto fail;
	}
	return vt_fs_sync_dir(dirfd, dir);
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(dirfd, tmp, 0);
	return err;
}

int vt_fs_mkparents(int dirfd, const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return vt_error_set(VT_EINVAL, "path too long: %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdirat(dirfd, buf, mode) < 0 && errno != EEXIST)
			return vt_error_sys(VT_EIO, errno, "cannot create directory %s", buf);
		*p = '/';
	}
	return 0;
}
