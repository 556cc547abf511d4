/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the conveyer's files (not public API). */
#ifndef VITRINE_CONVEYER_INT_H
#define VITRINE_CONVEYER_INT_H

/*
 * Extract a tarball into the existing directory dest, refusing absolute
 * paths, "..", links that escape and special files. VT_ECORRUPT, VT_EIO.
 */
int vt_tree__extract(const char *tar, const char *dest);

/* Remove a directory tree (no symlinks followed). VT_EIO. */
int vt_tree__remove(const char *dir);

#endif
