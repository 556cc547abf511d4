/* SPDX-License-Identifier: Apache-2.0 */
/* Small POSIX file helpers: whole-file reads, durable atomic writes. */
#ifndef VITRINE_FSUTIL_H
#define VITRINE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "vitrine/buf.h"

/*
 * Read the whole file at path (relative to dirfd, or AT_FDCWD) into out,
 * which enforces its own maximum. VT_ENOTFOUND when absent, VT_ETOOBIG,
 * VT_EIO.
 */
int vt_fs_read(vt_buf *out, int dirfd, const char *path);

/*
 * Write data to path atomically and durably: a temporary file beside it,
 * write, fsync, rename over path, fsync the directory. mode applies to a
 * new file. VT_EIO on any failure, and path is then unchanged.
 */
int vt_fs_write_atomic(int dirfd, const char *path, const void *data, size_t len, mode_t mode);

/* Write all len bytes to fd, retrying short writes. VT_EIO. */
int vt_fs_write_all(int fd, const void *data, size_t len);

/*
 * Create every missing directory in the parent chain of path (relative to
 * dirfd), like mkdir -p of dirname(path). VT_EIO.
 */
int vt_fs_mkparents(int dirfd, const char *path, mode_t mode);

/* fsync the directory at path (relative to dirfd). VT_EIO. */
int vt_fs_sync_dir(int dirfd, const char *path);

#endif
