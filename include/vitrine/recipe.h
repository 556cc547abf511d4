/* SPDX-License-Identifier: Apache-2.0 */
/* Build recipes (a strict deb822-like text form) and canonical source tree digests. */
#ifndef VITRINE_RECIPE_H
#define VITRINE_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"

#define VT_RECIPE_MAX_SIZE (64 * 1024)
#define VT_RECIPE_MAX_LIST 256 /* outputs, environment entries, tools */

/* Build-Order: whether the build may see its inputs in a varied order. */
enum { VT_ORDER_FIXED = 0, VT_ORDER_ANY = 1 };

/*
 * A parsed recipe. Every string is owned by the recipe (NUL-terminated)
 * and freed by vt_recipe_dispose(). See docs/conveyer.md for the format.
 */
typedef struct {
	char *name;	       /* Name: [a-z0-9][a-z0-9.+-]* */
	char *version;	       /* Version: [A-Za-z0-9][A-Za-z0-9.+~-]* */
	char *source;	       /* Source: path (relative to the recipe's directory) */
	vt_hash source_digest; /* Source: its vitrine tree digest */
	char *build;	       /* Build: the shell steps, lines joined by '\n' */
	char **outputs;	       /* Outputs: relative paths under the output directory */
	size_t noutputs;
	uint64_t source_date_epoch; /* Source-Date-Epoch */
	char **env;		    /* Environment: NAME=VALUE strings */
	size_t nenv;
	char **toolchain; /* Toolchain: absolute paths of the tools used */
	size_t ntoolchain;
	int build_order;   /* Build-Order: VT_ORDER_FIXED (default) or VT_ORDER_ANY */
	uint64_t timeout;  /* Timeout: seconds, default 600, at most 86400 */
	uint64_t tmp_size; /* Tmp-Size: bytes of the sandbox's /tmp, default 256 MiB */
	vt_hash digest;	   /* SHA-256 of the recipe's bytes */
} vt_recipe;

/*
 * Parse a recipe strictly: one paragraph of "Field: value" lines with
 * continuation lines (starting with a space or tab) for the multi-line
 * fields Build, Outputs, Environment and Toolchain; '#' lines are
 * comments. Unknown, duplicated or missing required fields, bad values,
 * control characters and blank lines are VT_EINVAL with "line N: ..." in
 * the message; more than VT_RECIPE_MAX_SIZE bytes is VT_ETOOBIG. On
 * success *out owns its strings; on failure *out is zeroed. Thread-safe.
 */
int vt_recipe_parse(vt_recipe *out, const char *text, size_t len);

/* Free a recipe's strings and zero it (a zeroed recipe is fine). */
void vt_recipe_dispose(vt_recipe *r);

/*
 * The canonical digest of a directory's file tree (the "vitrine tree v1"
 * digest of docs/conveyer.md): SHA-256 of a manifest that lists every
 * entry below dir sorted bytewise by path, with its type, exec bit, size
 * and content SHA-256 (a symlink by its target); owners, times and other
 * mode bits do not count. If manifest is not NULL the manifest text is
 * appended to it. VT_ENOTFOUND, VT_EINVAL (a device, fifo or socket, a
 * path with a newline), VT_ETOOBIG (more than 1,000,000 entries), VT_EIO.
 */
int vt_tree_digest_dir(vt_hash *out, vt_buf *manifest, const char *dir);

/*
 * The same digest over the contents of a tarball (any format and
 * compression libarchive reads), as if it were extracted: leading "./"
 * and trailing '/' are dropped, missing parent directories are implied.
 * Absolute paths, "..", duplicates, hard links and special files are
 * VT_EINVAL; an unreadable archive is VT_ECORRUPT.
 */
int vt_tree_digest_tar(vt_hash *out, vt_buf *manifest, const char *path);

/*
 * The digest of a source path: a directory by vt_tree_digest_dir(), a
 * regular file as a tarball by vt_tree_digest_tar().
 */
int vt_tree_digest(vt_hash *out, vt_buf *manifest, const char *path);

/*
 * Pack a directory into a tarball appended to out (pax restricted, entries
 * sorted bytewise, owner 0, time 0, mode 0644/0755 by the exec bit), so
 * the same tree always gives the same bytes, and its vt_tree_digest_tar()
 * is the directory's vt_tree_digest_dir(). VT_EINVAL (special files),
 * VT_ETOOBIG (out's limit), VT_EIO.
 */
int vt_tree_pack(vt_buf *out, const char *dir);

/*
 * Like vt_tree_pack(), written to the file descriptor fd as it is made
 * (never whole in memory): the same bytes. fd is not closed. VT_EINVAL,
 * VT_EIO.
 */
int vt_tree_pack_fd(int fd, const char *dir);

#endif
