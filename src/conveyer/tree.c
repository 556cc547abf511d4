/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Canonical digests of source trees, from a directory or from a tarball.
 *
 * Both readers collect the same entry list (path, type, exec bit, size,
 * content digest), sort it bytewise by path and hash one manifest line per
 * entry, so a tarball and its extraction have the same digest. What a
 * checkout or an archiver changes without changing the source (owners,
 * times, group and other mode bits, the order of directory listings) does
 * not enter the manifest; see docs/conveyer.md for the exact text.
 */
#include "vitrine/recipe.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "conveyer_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ENTRIES 1000000
#define TREE_MAGIC  "vitrine-tree/1\n"

typedef struct {
	char *path;
	char type; /* 'f', 'l' or 'd' */
	bool exec;
	bool implied; /* a parent directory a tarball did not list */
	bool skip;    /* a second copy of an implied directory */
	uint64_t size;
	vt_hash hash;
} tree_entry;

typedef struct {
	tree_entry *v;
	size_t n, cap;
} tree_list;

static void list_free(tree_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].path);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static int list_add(tree_list *l, const char *path, size_t len, tree_entry e)
{
	if (l->n == MAX_ENTRIES)
		return vt_error_set(VT_ETOOBIG, "more than %d entries in the tree", MAX_ENTRIES);
	if (memchr(path, '\n', len))
		return vt_error_set(VT_EINVAL, "a path with a newline in the tree");
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;
		tree_entry *v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return vt_error_set(VT_ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	if (!(e.path = malloc(len + 1)))
		return vt_error_set(VT_ENOMEM, "out of memory");
	memcpy(e.path, path, len);
	e.path[len] = 0;
	l->v[l->n++] = e;
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const tree_entry *)a)->path, ((const tree_entry *)b)->path);
}

/*
 * Sort, merge implied directories into real ones (the merged copy is
 * marked skip, so that every path stays owned by the list), refuse
 * duplicates.
 */
static int list_finish(tree_list *l)
{
	size_t keep = 0;
	if (l->n == 0)
		return 0;
	qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	for (size_t r = 1; r < l->n; r++) {
		tree_entry *a = &l->v[keep], *b = &l->v[r];
		if (strcmp(a->path, b->path) != 0) {
			keep = r;
			continue;
		}
		if (!a->implied && !b->implied)
			return vt_error_set(VT_EINVAL, "%s appears twice", a->path);
		if (a->type != 'd' || b->type != 'd')
			return vt_error_set(VT_EINVAL, "%s is both a directory and a file",
					    a->path);
		a->implied = a->implied && b->implied;
		b->skip = true;
	}
	return 0;
}

static int list_digest(vt_hash *out, vt_buf *manifest, const tree_list *l)
{
	vt_sha256_ctx *c = NULL;
	vt_buf line;
	int err;

	vt_buf_init(&line, 8192);
	if ((err = vt_sha256_new(&c)) < 0 || (err = vt_sha256_update(c, TREE_MAGIC, 15)) < 0)
		goto done;
	if (manifest && (err = vt_buf_adds(manifest, TREE_MAGIC)) < 0)
		goto done;
	for (size_t i = 0; i < l->n; i++) {
		const tree_entry *e = &l->v[i];
		char hex[2 * VT_HASH_SIZE + 1];
		if (e->skip)
			continue;
		vt_buf_reset(&line);
		if (e->type == 'd') {
			err = vt_buf_printf(&line, "d - - - %s\n", e->path);
		} else {
			vt_hex_encode(hex, e->hash.b, VT_HASH_SIZE);
			err = vt_buf_printf(&line, "%c %c %llu %s %s\n", e->type,
					    e->type == 'f' && e->exec ? 'x' : '-',
					    (unsigned long long)e->size, hex, e->path);
		}
		if (err < 0 || (err = vt_sha256_update(c, line.ptr, line.len)) < 0)
			goto done;
		if (manifest && (err = vt_buf_add(manifest, line.ptr, line.len)) < 0)
			goto done;
	}
	err = vt_sha256_final(out, c);
done:
	vt_sha256_free(c);
	vt_buf_dispose(&line);
	return err;
}

int vt_tree__hash_fd(vt_hash *out, uint64_t *size, int fd, const char *path)
{
	static __thread uint8_t chunk[65536];
	vt_sha256_ctx *c = NULL;
	uint64_t total = 0;
	int err;

	if ((err = vt_sha256_new(&c)) < 0)
		return err;
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = vt_error_sys(VT_EIO, errno, "%s", path);
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if ((err = vt_sha256_update(c, chunk, (size_t)n)) < 0)
			goto done;
	}
	if (size)
		*size = total;
	err = vt_sha256_final(out, c);
done:
	vt_sha256_free(c);
	return err;
}

/* nftw has no payload argument; the walk is per thread. */
static __thread tree_list *walk_list;
static __thread size_t walk_root_len;
static __thread int walk_err;

static int walk_one(const char *fpath, const struct stat *st, int flag, struct FTW *ftw)
{
	const char *rel = fpath + walk_root_len;
	tree_entry e = {0};
	int err = 0;

	if (ftw->level == 0)
		return 0;
	while (*rel == '/')
		rel++;
	if (flag == FTW_DNR || flag == FTW_NS) {
		walk_err = vt_error_set(VT_EIO, "%s: cannot read", fpath);
		return 1;
	}
	if (S_ISDIR(st->st_mode)) {
		e.type = 'd';
	} else if (S_ISLNK(st->st_mode)) {
		char target[4096];
		ssize_t n = readlink(fpath, target, sizeof(target));
		if (n < 0 || (size_t)n == sizeof(target)) {
			walk_err = vt_error_sys(VT_EIO, errno, "%s: cannot read the link", fpath);
			return 1;
		}
		e.type = 'l';
		e.size = (uint64_t)n;
		err = vt_sha256(&e.hash, target, (size_t)n);
	} else if (S_ISREG(st->st_mode)) {
		int fd = open(fpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			walk_err = vt_error_sys(VT_EIO, errno, "%s", fpath);
			return 1;
		}
		e.type = 'f';
		e.exec = (st->st_mode & S_IXUSR) != 0;
		err = vt_tree__hash_fd(&e.hash, &e.size, fd, fpath);
		close(fd);
	} else {
		walk_err = vt_error_set(VT_EINVAL, "%s: not a file, directory or symlink", fpath);
		return 1;
	}
	if (err == 0)
		err = list_add(walk_list, rel, strlen(rel), e);
	if (err < 0) {
		walk_err = err;
		return 1;
	}
	return 0;
}

/* List the tree below dir into l, finished by list_finish(). */
static int walk_dir(tree_list *l, const char *dir)
{
	int err = 0;

	walk_list = l;
	walk_root_len = strlen(dir);
	walk_err = 0;
	if (nftw(dir, walk_one, 32, FTW_PHYS) != 0) {
		err = walk_err ? walk_err : vt_error_sys(VT_EIO, errno, "%s: cannot walk", dir);
		goto done;
	}
	err = list_finish(l);
done:
	walk_list = NULL;
	return err;
}

int vt_tree_digest_dir(vt_hash *out, vt_buf *manifest, const char *dir)
{
	tree_list l = {0};
	struct stat st;
	int err;

	if (stat(dir, &st) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "%s", dir);
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		err = vt_error_set(VT_EINVAL, "%s is not a directory", dir);
		goto done;
	}
	if ((err = walk_dir(&l, dir)) < 0)
		goto done;
	err = list_digest(out, manifest, &l);
done:
	list_free(&l);
	return err;
}

/* Normalise an archive path in place; 0, or VT_EINVAL with a reason. */
static int tar_path(char **out, size_t *len, char *p)
{
	size_t n;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		p[--n] = 0;
	if (p[0] == '/')
		return vt_error_set(VT_EINVAL, "absolute path %s in the archive", p);
	for (const char *c = p; *c;) {
		size_t k = strcspn(c, "/");
		if (k == 0 || (k == 2 && c[0] == '.' && c[1] == '.') || (k == 1 && c[0] == '.'))
			return vt_error_set(VT_EINVAL, "path %s in the archive is not plain", p);
		c += k;
		if (*c == '/')
			c++;
	}
	*out = p;
	*len = n;
	return 0;
}

static int tar_entry(tree_list *l, struct archive *a, struct archive_entry *ae)
{
	const char *name = archive_entry_pathname(ae);
	tree_entry e = {0};
	char *copy = NULL, *p = NULL;
	size_t len = 0;
	int err;

	if (!name) {
		err = vt_error_set(VT_EINVAL, "an archive entry without a name");
		goto done;
	}
	if (!(copy = strdup(name))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = tar_path(&p, &len, copy)) < 0)
		goto done;
	if (len == 0) /* the root "./" itself */
		goto done;
	if (archive_entry_hardlink(ae)) {
		err = vt_error_set(VT_EINVAL, "%s: hard links are not supported", p);
		goto done;
	}
	switch (archive_entry_filetype(ae)) {
	case AE_IFDIR: e.type = 'd'; break;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(ae);
		e.type = 'l';
		e.size = t ? strlen(t) : 0;
		err = vt_sha256(&e.hash, t ? t : "", e.size);
		break;
	}
	case AE_IFREG: {
		vt_sha256_ctx *c = NULL;
		const void *buf;
		size_t sz;
		la_int64_t off;
		int r;
		e.type = 'f';
		e.exec = (archive_entry_perm(ae) & 0100) != 0;
		if ((err = vt_sha256_new(&c)) < 0)
			goto done;
		while ((r = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK) {
			/* Sparse holes read as zeros when extracted. */
			static const uint8_t zeros[4096];
			while ((uint64_t)off > e.size && err == 0) {
				uint64_t gap = (uint64_t)off - e.size;
				size_t k = gap < sizeof(zeros) ? (size_t)gap : sizeof(zeros);
				err = vt_sha256_update(c, zeros, k);
				e.size += k;
			}
			if (err == 0)
				err = vt_sha256_update(c, buf, sz);
			e.size += sz;
			if (err < 0)
				break;
		}
		if (err == 0 && r != ARCHIVE_EOF)
			err = vt_error_set(VT_ECORRUPT, "%s: %s", p, archive_error_string(a));
		if (err == 0)
			err = vt_sha256_final(&e.hash, c);
		vt_sha256_free(c);
		break;
	}
	default: err = vt_error_set(VT_EINVAL, "%s: not a file, directory or symlink", p);
	}
	if (err == 0)
		err = list_add(l, p, len, e);
	/* Parents the archive may not list: a/b/c implies a and a/b. */
	for (size_t i = len; err == 0 && i-- > 0;)
		if (p[i] == '/') {
			tree_entry d = {.type = 'd', .implied = true};
			err = list_add(l, p, i, d);
		}
done:
	free(copy);
	return err;
}

int vt_tree_digest_tar(vt_hash *out, vt_buf *manifest, const char *path)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	tree_list l = {0};
	int err = 0, r;

	if (!a) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
		err = vt_error_set(errno == ENOENT ? VT_ENOTFOUND : VT_ECORRUPT, "%s: %s", path,
				   archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK)
		if ((err = tar_entry(&l, a, ae)) < 0) {
			err = vt_error_wrap(err, "%s", path);
			goto done;
		}
	if (r != ARCHIVE_EOF) {
		err = vt_error_set(VT_ECORRUPT, "%s: %s", path, archive_error_string(a));
		goto done;
	}
	if ((err = list_finish(&l)) < 0) {
		err = vt_error_wrap(err, "%s", path);
		goto done;
	}
	err = list_digest(out, manifest, &l);
done:
	if (a)
		archive_read_free(a);
	list_free(&l);
	return err;
}

int vt_tree_digest(vt_hash *out, vt_buf *manifest, const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "%s", path);
	if (S_ISDIR(st.st_mode))
		return vt_tree_digest_dir(out, manifest, path);
	if (S_ISREG(st.st_mode))
		return vt_tree_digest_tar(out, manifest, path);
	return vt_error_set(VT_EINVAL, "%s is neither a directory nor a tarball", path);
}

int vt_tree__extract(const char *tar, const char *dest)
{
	/* Absolute paths are refused by tar_path(); dest itself is absolute. */
	const int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
			  ARCHIVE_EXTRACT_SECURE_NODOTDOT;
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	struct archive_entry *ae;
	vt_buf path;
	int err = 0, r;

	vt_buf_init(&path, 8192);
	if (!a || !w) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_write_disk_set_options(w, flags);
	if (archive_read_open_filename(a, tar, 65536) != ARCHIVE_OK) {
		err = vt_error_set(VT_ECORRUPT, "%s: %s", tar, archive_error_string(a));
		goto done;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		const void *buf;
		size_t sz;
		la_int64_t off;
		unsigned t = archive_entry_filetype(ae);
		if (archive_entry_hardlink(ae) ||
		    (t != AE_IFREG && t != AE_IFDIR && t != AE_IFLNK)) {
			err = vt_error_set(VT_EINVAL, "%s: %s: not a file, directory or symlink",
					   tar, archive_entry_pathname(ae));
			goto done;
		}
		vt_buf_reset(&path);
		{
			char *copy = strdup(archive_entry_pathname(ae)), *p;
			size_t n;
			if (!copy) {
				err = vt_error_set(VT_ENOMEM, "out of memory");
				goto done;
			}
			if ((err = tar_path(&p, &n, copy)) == 0)
				err = vt_buf_printf(&path, "%s/%s", dest, p);
			free(copy);
			if (err < 0)
				goto done;
		}
		archive_entry_set_pathname(ae, vt_buf_cstr(&path));
		archive_entry_set_uid(ae, getuid());
		archive_entry_set_gid(ae, getgid());
		if (archive_write_header(w, ae) != ARCHIVE_OK) {
			err = vt_error_set(VT_EIO, "%s: %s", tar, archive_error_string(w));
			goto done;
		}
		while ((r = archive_read_data_block(a, &buf, &sz, &off)) == ARCHIVE_OK)
			if (archive_write_data_block(w, buf, sz, off) != ARCHIVE_OK) {
				err = vt_error_set(VT_EIO, "%s: %s", tar, archive_error_string(w));
				goto done;
			}
		if (r != ARCHIVE_EOF || archive_write_finish_entry(w) != ARCHIVE_OK) {
			err = vt_error_set(VT_ECORRUPT, "%s: %s", tar, archive_error_string(a));
			goto done;
		}
	}
	if (r != ARCHIVE_EOF)
		err = vt_error_set(VT_ECORRUPT, "%s: %s", tar, archive_error_string(a));
done:
	if (a)
		archive_read_free(a);
	if (w)
		archive_write_free(w);
	vt_buf_dispose(&path);
	return err;
}

static int remove_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	/* A build may leave read-only directories behind. */
	if (flag == FTW_DP)
		chmod(p, 0700);
	return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

int vt_tree__remove(const char *dir)
{
	if (nftw(dir, remove_one, 32, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
		return vt_error_sys(VT_EIO, errno, "cannot remove %s", dir);
	return 0;
}

static la_ssize_t pack_write(struct archive *a, void *payload, const void *data, size_t len)
{
	(void)a;
	return vt_buf_add(payload, data, len) < 0 ? -1 : (la_ssize_t)len;
}

/* One walked entry into the archive, with fixed owner, time and mode. */
static int pack_entry(struct archive *a, const char *dir, const tree_entry *e)
{
	struct archive_entry *ae = archive_entry_new();
	char path[8192], buf[65536];
	int fd = -1, err = 0;

	if (!ae)
		return vt_error_set(VT_ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/%s", dir, e->path);
	archive_entry_set_pathname(ae, e->path);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_mtime(ae, 0, 0);
	if (e->type == 'd') {
		archive_entry_set_filetype(ae, AE_IFDIR);
		archive_entry_set_perm(ae, 0755);
	} else if (e->type == 'l') {
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);
		if (n < 0) {
			err = vt_error_sys(VT_EIO, errno, "%s", path);
			goto done;
		}
		buf[n] = 0;
		archive_entry_set_filetype(ae, AE_IFLNK);
		archive_entry_set_perm(ae, 0777);
		archive_entry_set_symlink(ae, buf);
	} else {
		archive_entry_set_filetype(ae, AE_IFREG);
		archive_entry_set_perm(ae, e->exec ? 0755 : 0644);
		archive_entry_set_size(ae, (la_int64_t)e->size);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
			err = vt_error_sys(VT_EIO, errno, "%s", path);
			goto done;
		}
	}
	if (archive_write_header(a, ae) != ARCHIVE_OK) {
		err = vt_error_set(VT_EIO, "tar: %s", archive_error_string(a));
		goto done;
	}
	for (uint64_t left = e->size; fd >= 0 && left > 0;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0 || (uint64_t)n > left) {
			err = vt_error_set(VT_EIO, "%s changed while packing", path);
			goto done;
		}
		if (archive_write_data(a, buf, (size_t)n) != n) {
			err = vt_error_set(VT_EIO, "tar: %s", archive_error_string(a));
			goto done;
		}
		left -= (uint64_t)n;
	}
done:
	if (fd >= 0)
		close(fd);
	archive_entry_free(ae);
	return err;
}

/* Pack dir into the buffer out or, when out is NULL, the file descriptor fd. */
static int pack(vt_buf *out, int fd, const char *dir)
{
	struct archive *a = NULL;
	tree_list l = {0};
	int err;

	if ((err = walk_dir(&l, dir)) < 0)
		goto done;
	if (!(a = archive_write_new())) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	/* ustar-compatible pax without times or names of owners: the same tree, the same bytes. */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    (out ? archive_write_open(a, out, NULL, pack_write, NULL)
		 : archive_write_open_fd(a, fd)) != ARCHIVE_OK) {
		err = vt_error_set(VT_EIO, "tar: %s", archive_error_string(a));
		goto done;
	}
	for (size_t i = 0; i < l.n; i++)
		if ((err = pack_entry(a, dir, &l.v[i])) < 0)
			goto done;
	if (archive_write_close(a) != ARCHIVE_OK)
		err = vt_error_set(VT_EIO, "tar: %s", archive_error_string(a));
done:
	if (a)
		archive_write_free(a);
	list_free(&l);
	return err;
}

int vt_tree_pack(vt_buf *out, const char *dir)
{
	return pack(out, -1, dir);
}

int vt_tree_pack_fd(int fd, const char *dir)
{
	return pack(NULL, fd, dir);
}
