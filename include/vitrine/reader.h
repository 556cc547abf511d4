/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a tiled log: hashes, proofs and entries computed from tiles and
 * entry bundles fetched by path, from local storage or over HTTP alike.
 */
#ifndef VITRINE_READER_H
#define VITRINE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"

/*
 * Fetch the object at a tlog-tiles path ("tile/0/x001/002.p/7") into out.
 * VT_ENOTFOUND when it does not exist.
 */
typedef int (*vt_fetch_fn)(vt_buf *out, const char *path, void *payload);

/*
 * A reader over one tree size, with a small cache of recently used tiles.
 * Not thread-safe: use one per thread or request.
 */
typedef struct vt_tlog_reader vt_tlog_reader;

/* Make a reader for the tree of tree_size leaves. fetch is borrowed. */
int vt_tlog_reader_new(vt_tlog_reader **out, uint64_t tree_size, vt_fetch_fn fetch,
		       void *payload);

/* Switch to another tree size (the cache stays valid: tiles are immutable). */
void vt_tlog_reader_set_size(vt_tlog_reader *r, uint64_t tree_size);

void vt_tlog_reader_free(vt_tlog_reader *r);

/* The payload given to vt_tlog_reader_new() (borrowed). */
void *vt_tlog_reader_payload(const vt_tlog_reader *r);

/*
 * A vt_merkle_node_fn over the reader (payload = the reader): the hash of
 * the perfect subtree at level and index, from the tiles. VT_ECORRUPT when
 * a tile has the wrong length.
 */
int vt_tlog_reader_node(vt_hash *out, unsigned level, uint64_t index, void *reader);

/* The root of the reader's tree. */
int vt_tlog_reader_root(vt_hash *out, vt_tlog_reader *r);

/* Inclusion proof of index in the reader's tree; proof holds VT_MERKLE_MAX_PROOF. */
int vt_tlog_reader_prove_inclusion(vt_hash *proof, size_t *n, vt_tlog_reader *r, uint64_t index);

/* Consistency proof from size1 to the reader's tree. */
int vt_tlog_reader_prove_consistency(vt_hash *proof, size_t *n, vt_tlog_reader *r, uint64_t size1);

/* Append the entry at index (from its bundle) to out. */
int vt_tlog_reader_entry(vt_buf *out, vt_tlog_reader *r, uint64_t index);

/* Called for each entry of a walk; a non-zero return stops it and is passed back. */
typedef int (*vt_entry_fn)(uint64_t index, const uint8_t *entry, size_t len, void *payload);

/*
 * Call fn for every entry from start to the reader's tree size, in order,
 * reading each entry bundle once. Entries are taken from the bundles as
 * they are: `vitrine log fsck` checks bundles against the tree. Memory is
 * one bundle. VT_ECORRUPT for a damaged bundle, the fetch's errors.
 */
int vt_tlog_reader_walk(vt_tlog_reader *r, uint64_t start, vt_entry_fn fn, void *payload);

#endif
