/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the conveyer's files (not public API). */
#ifndef VITRINE_CONVEYER_INT_H
#define VITRINE_CONVEYER_INT_H

#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/ed25519.h"
#include "vitrine/hash.h"

struct json_t;

/*
 * Extract a tarball into the existing directory dest, refusing absolute
 * paths, "..", links that escape and special files. VT_ECORRUPT, VT_EIO.
 */
int vt_tree__extract(const char *tar, const char *dest);

/* Remove a directory tree (no symlinks followed). VT_EIO. */
int vt_tree__remove(const char *dir);

/*
 * SHA-256 of what is left to read from fd, and its length in *size unless
 * size is NULL; path names the file in messages. fd is not closed. VT_EIO.
 */
int vt_tree__hash_fd(vt_hash *out, uint64_t *size, int fd, const char *path);

/*
 * Verify a DSSE envelope of an in-toto statement with pub into payload
 * (initialised by the caller) and parse the statement's JSON into *st
 * (the caller's to json_decref). what starts the message of a payload that
 * is not JSON (VT_EINVAL); vt_dsse_verify's codes otherwise.
 */
int vt_statement__open(struct json_t **st, vt_buf *payload, const char *env, size_t len,
		       const uint8_t pub[VT_ED25519_PUB_SIZE], const char *what);

#endif
