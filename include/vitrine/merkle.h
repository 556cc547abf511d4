/* SPDX-License-Identifier: Apache-2.0 */
/* RFC 6962 / RFC 9162 Merkle tree hashing, proofs and the right edge. */
#ifndef VITRINE_MERKLE_H
#define VITRINE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/hash.h"

/* Longest proof any function here produces or accepts. */
#define VT_MERKLE_MAX_PROOF 128

/* Leaf hash: SHA-256(0x00 || entry). Thread-safe. */
int vt_merkle_leaf_hash(vt_hash *out, const void *entry, size_t len);

/* Node hash: SHA-256(0x01 || left || right). Thread-safe. */
int vt_merkle_node_hash(vt_hash *out, const vt_hash *left, const vt_hash *right);

/* Root of the empty tree: SHA-256(""). */
void vt_merkle_empty_root(vt_hash *out);

/*
 * Verify an inclusion proof (RFC 9162 section 2.1.3.2): leaf at index in a
 * tree of size has root. 0 when it verifies; VT_EINVAL when index >= size
 * or the proof has the wrong length (n); VT_EVERIFY when the root differs.
 */
int vt_merkle_verify_inclusion(const vt_hash *leaf, uint64_t index, uint64_t size,
			       const vt_hash *proof, size_t n, const vt_hash *root);

/*
 * Verify a consistency proof (RFC 9162 section 2.1.4.2) between a tree of
 * size1 with root1 and a tree of size2 with root2. Policy for the edges
 * RFC 9162 leaves open, as in transparency-dev/merkle and its vectors
 * (tests/data/merkle): size1 > size2 is VT_EINVAL; size1 == 0 < size2 is
 * VT_EINVAL, since every tree extends the empty one and such a "proof"
 * proves nothing (callers treat an old size of 0 as trivially consistent
 * without asking); size1 == size2 needs an empty proof and root1 == root2,
 * and for size 0 both must be SHA-256("") or the result
 * is VT_EVERIFY. Wrong proof lengths: VT_EINVAL. Hashes that do not
 * match: VT_EVERIFY. Thread-safe.
 */
int vt_merkle_verify_consistency(uint64_t size1, uint64_t size2, const vt_hash *root1,
				 const vt_hash *root2, const vt_hash *proof, size_t n);

/*
 * Source of stored hashes for proof generation: write the hash of the
 * perfect subtree at height level (0 = leaf hashes) and position index,
 * covering leaves [index << level, (index + 1) << level). Returns 0 or a
 * VT_E* code, which the caller passes on.
 */
typedef int (*vt_merkle_node_fn)(vt_hash *out, unsigned level, uint64_t index, void *payload);

/*
 * Root of the first size leaves, from stored perfect-subtree hashes:
 * the perfect subtrees of size's binary decomposition, folded right to
 * left. size 0 gives the empty root. The generators here call get only
 * for perfect subtrees inside [0, size), O(log size) times, and stop
 * at its first error, which they return; they never allocate.
 */
int vt_merkle_root(vt_hash *out, uint64_t size, vt_merkle_node_fn get, void *payload);

/*
 * Write the inclusion proof of leaf index in a tree of size into proof
 * (room for cap hashes), its length into *n (0 on failure). VT_EINVAL if
 * index >= size; VT_ETOOBIG if the proof needs more than cap hashes
 * (VT_MERKLE_MAX_PROOF is always enough).
 */
int vt_merkle_prove_inclusion(vt_hash *proof, size_t *n, size_t cap, uint64_t index,
			      uint64_t size, vt_merkle_node_fn get, void *payload);

/*
 * Write the consistency proof from size1 to size2 (RFC 9162 2.1.4.1).
 * Empty for size1 == 0 or size1 == size2; VT_EINVAL if size1 > size2;
 * VT_ETOOBIG if it needs more than cap hashes. *n as above.
 */
int vt_merkle_prove_consistency(vt_hash *proof, size_t *n, size_t cap, uint64_t size1,
				uint64_t size2, vt_merkle_node_fn get, void *payload);

/*
 * The right edge of a growing tree (a compact range from 0): for each set
 * bit i of size, h[i] is the root of the perfect subtree of 2^i leaves
 * that the bit stands for. Memory is constant whatever the size.
 */
typedef struct {
	uint64_t size;
	vt_hash h[64];
} vt_merkle_edge;

/* Start an empty edge. */
void vt_merkle_edge_init(vt_merkle_edge *e);

/*
 * Called for every perfect subtree completed by an append, bottom up: the
 * leaf itself (level 0) and each node it completes (level >= 1).
 */
typedef void (*vt_merkle_visit_fn)(unsigned level, uint64_t index, const vt_hash *h,
				   void *payload);

/*
 * Append one leaf hash; visit may be NULL. Amortised one node hash, no
 * allocation. VT_ETOOBIG when size is already UINT64_MAX. On error the
 * edge is unchanged (visits already made stay made).
 */
int vt_merkle_edge_append(vt_merkle_edge *e, const vt_hash *leaf, vt_merkle_visit_fn visit,
			  void *payload);

/* Root of the tree the edge describes (empty root for size 0). */
int vt_merkle_edge_root(vt_hash *out, const vt_merkle_edge *e);

#endif
