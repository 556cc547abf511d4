/* SPDX-License-Identifier: Apache-2.0 */
/*
 * RFC 6962 / RFC 9162 Merkle tree: hashing, proof verification, proof
 * generation from stored perfect-subtree hashes, and the right edge.
 *
 * The tree over n leaves is the perfect tree over the next power of two
 * with every node whose right child would be empty replaced by its left
 * child. So a node at level l and position i is "perfect" when it covers
 * 2^l leaves inside [0, n), the last node of a level may be a partial
 * ("ephemeral") node, and a node starting at or beyond n does not exist.
 * Generation walks that picture bottom up and asks the node source only
 * for perfect nodes; a partial node is folded from the perfect subtrees
 * of its binary decomposition, right to left.
 *
 * Verification follows RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by
 * step. The expected proof length is computed first so that a proof of
 * the wrong length is reported as VT_EINVAL rather than as a mismatch.
 * Nothing here allocates: the edge append is on the log's hot path.
 */
#include "vitrine/merkle.h"
#include "vitrine/error.h"

#include <string.h>

static const uint8_t leaf_prefix = 0x00;

/* SHA-256 of the empty string, the root of the empty tree. */
static const vt_hash empty_root = {{
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
}};

int vt_merkle_leaf_hash(vt_hash *out, const void *entry, size_t len)
{
	const void *parts[2] = {&leaf_prefix, entry};
	size_t lens[2] = {1, len};

	/* An empty entry may come with a NULL pointer; do not pass it on. */
	return vt_sha256_v(out, parts, lens, len ? 2 : 1);
}

int vt_merkle_node_hash(vt_hash *out, const vt_hash *left, const vt_hash *right)
{
	/* One contiguous 65-byte input: a single update is measurably cheaper. */
	uint8_t in[1 + 2 * VT_HASH_SIZE];
	const void *part = in;
	size_t len = sizeof(in);

	in[0] = 0x01;
	memcpy(in + 1, left->b, VT_HASH_SIZE);
	memcpy(in + 1 + VT_HASH_SIZE, right->b, VT_HASH_SIZE);
	return vt_sha256_v(out, &part, &len, 1);
}

void vt_merkle_empty_root(vt_hash *out)
{
	*out = empty_root;
}

/* Number of significant bits of x (0 for 0). */
static unsigned bit_len(uint64_t x)
{
	return x ? 64u - (unsigned)__builtin_clzll(x) : 0;
}

static unsigned trailing_zeros(uint64_t x)
{
	return x ? (unsigned)__builtin_ctzll(x) : 64;
}

/*
 * Length of the path from the node (level, index) up to the root of a
 * tree of size leaves: one hash for every level at which the node has a
 * sibling. Below the level where the paths to the node and to the last
 * leaf meet, every level has one ("inner"); above it, only the levels at
 * which the node is a right child ("border"). Needs index << level < size.
 */
static size_t path_len(unsigned level, uint64_t index, uint64_t size)
{
	unsigned inner = bit_len(index ^ ((size - 1) >> level));

	/* inner is 64 when the node and the last leaf part at the root. */
	return inner + (inner < 64 ? (size_t)__builtin_popcountll(index >> inner) : 0);
}

static size_t inclusion_len(uint64_t index, uint64_t size)
{
	return path_len(0, index, size);
}

/* Consistency proof length for 0 < size1 < size2 (RFC 9162 2.1.4.1). */
static size_t consistency_len(uint64_t size1, uint64_t size2)
{
	unsigned shift = trailing_zeros(size1);
	size_t n = path_len(shift, (size1 - 1) >> shift, size2);

	/* The proof starts with the subtree the path climbs from, unless
	 * that subtree is the whole first tree, whose root the verifier has. */
	return n + (size1 == (uint64_t)1 << shift ? 0 : 1);
}

int vt_merkle_verify_inclusion(const vt_hash *leaf, uint64_t index, uint64_t size,
			       const vt_hash *proof, size_t n, const vt_hash *root)
{
	uint64_t fn, sn;
	vt_hash r;
	size_t want;
	int err = 0;

	if (index >= size) {
		err = vt_error_set(VT_EINVAL, "inclusion proof: index %llu not below size %llu",
				   (unsigned long long)index, (unsigned long long)size);
		goto done;
	}
	want = inclusion_len(index, size);
	if (n != want || (n && !proof)) {
		err = vt_error_set(VT_EINVAL, "inclusion proof has %zu hashes, want %zu", n, want);
		goto done;
	}
	/* RFC 9162 2.1.3.2, steps 1-5. */
	fn = index;
	sn = size - 1;
	r = *leaf;
	for (size_t i = 0; i < n; i++) {
		if (sn == 0) {
			err = vt_error_set(VT_EVERIFY, "inclusion proof too long");
			goto done;
		}
		if ((fn & 1) || fn == sn) {
			if ((err = vt_merkle_node_hash(&r, &proof[i], &r)) < 0)
				goto done;
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			if ((err = vt_merkle_node_hash(&r, &r, &proof[i])) < 0)
				goto done;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !vt_hash_equal(&r, root))
		err = vt_error_set(VT_EVERIFY, "inclusion proof does not lead to the root");
done:
	return err;
}

int vt_merkle_verify_consistency(uint64_t size1, uint64_t size2, const vt_hash *root1,
				 const vt_hash *root2, const vt_hash *proof, size_t n)
{
	uint64_t fn, sn;
	vt_hash fr, sr;
	size_t want, i;
	int err = 0;

	if (size1 > size2) {
		err = vt_error_set(VT_EINVAL, "consistency proof: size1 %llu above size2 %llu",
				   (unsigned long long)size1, (unsigned long long)size2);
		goto done;
	}
	if (size1 == 0 && size2 > 0) {
		/* Every tree extends the empty one: such a proof proves nothing,
		 * and accepting it would let a caller skip a real check. */
		err = vt_error_set(VT_EINVAL, "consistency proof from the empty tree is meaningless; "
					      "treat size 0 as trivially consistent before asking");
		goto done;
	}
	if (size1 == size2) {
		if (n != 0) {
			err = vt_error_set(VT_EINVAL,
					   "consistency proof between equal sizes %llu must be "
					   "empty, has %zu hashes",
					   (unsigned long long)size1, n);
			goto done;
		}
		/* A size-0 tree has one possible root; another is a false claim. */
		if (size1 == 0 && !vt_hash_equal(root1, &empty_root))
			err =
			    vt_error_set(VT_EVERIFY, "root of the empty tree is not SHA-256(\"\")");
		else if (!vt_hash_equal(root1, root2))
			err = vt_error_set(VT_EVERIFY, "trees of equal size have different roots");
		goto done;
	}
	want = consistency_len(size1, size2);
	if (n != want || !proof) {
		err =
		    vt_error_set(VT_EINVAL, "consistency proof has %zu hashes, want %zu", n, want);
		goto done;
	}
	/* RFC 9162 2.1.4.2. Step 2 prepends root1 when size1 is a power of
	 * two; rather than copy the proof, seed with it and start at 0. */
	i = 0;
	if ((size1 & (size1 - 1)) == 0)
		fr = *root1;
	else
		fr = proof[i++];
	sr = fr;
	fn = size1 - 1;
	sn = size2 - 1;
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n; i++) {
		if (sn == 0) {
			err = vt_error_set(VT_EVERIFY, "consistency proof too long");
			goto done;
		}
		if ((fn & 1) || fn == sn) {
			if ((err = vt_merkle_node_hash(&fr, &proof[i], &fr)) < 0 ||
			    (err = vt_merkle_node_hash(&sr, &proof[i], &sr)) < 0)
				goto done;
			while (!(fn & 1) && fn != 0) {
				fn >>= 1;
				sn >>= 1;
			}
		} else {
			if ((err = vt_merkle_node_hash(&sr, &sr, &proof[i])) < 0)
				goto done;
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !vt_hash_equal(&fr, root1) || !vt_hash_equal(&sr, root2))
		err = vt_error_set(VT_EVERIFY, "consistency proof does not lead to the roots");
done:
	return err;
}

/*
 * Root of leaves [begin, end), a range whose begin is a multiple of the
 * largest power of two in end - begin, so that its binary decomposition
 * is a run of perfect subtrees. They are folded right to left, which is
 * how the RFC's MTH splits a range.
 */
static int range_root(vt_hash *out, uint64_t begin, uint64_t end, vt_merkle_node_fn get,
		      void *payload)
{
	uint64_t len = end - begin, pos = end;
	vt_hash h;
	int err = 0, first = 1;

	while (len) {
		unsigned level = trailing_zeros(len);

		pos -= (uint64_t)1 << level;
		len &= len - 1;
		if ((err = get(first ? out : &h, level, pos >> level, payload)) < 0)
			goto done;
		if (!first && (err = vt_merkle_node_hash(out, &h, out)) < 0)
			goto done;
		first = 0;
	}
done:
	return err;
}

/*
 * Append to proof the siblings on the path from node (level, index) to
 * the root of a tree of size leaves, bottom up. A sibling that starts
 * beyond the tree does not exist (the node is carried up unchanged); the
 * last node of a level may be partial and is folded from its subtrees.
 */
static int prove_path(vt_hash *proof, size_t *n, unsigned level, uint64_t index, uint64_t size,
		      vt_merkle_node_fn get, void *payload)
{
	int err = 0;

	for (unsigned l = level; l < 64 && ((size - 1) >> l) != 0; l++) {
		uint64_t sib = (index >> (l - level)) ^ 1;
		uint64_t last = (size - 1) >> l;

		if (sib > last)
			continue;
		if (sib < (size >> l))
			err = get(&proof[*n], l, sib, payload);
		else
			err = range_root(&proof[*n], sib << l, size, get, payload);
		if (err < 0)
			goto done;
		(*n)++;
	}
done:
	return err;
}

int vt_merkle_root(vt_hash *out, uint64_t size, vt_merkle_node_fn get, void *payload)
{
	int err = 0;

	if (size == 0)
		*out = empty_root;
	else
		err = range_root(out, 0, size, get, payload);
	return err;
}

int vt_merkle_prove_inclusion(vt_hash *proof, size_t *n, size_t cap, uint64_t index, uint64_t size,
			      vt_merkle_node_fn get, void *payload)
{
	size_t want;
	int err = 0;

	*n = 0;
	if (index >= size) {
		err = vt_error_set(VT_EINVAL, "inclusion proof: index %llu not below size %llu",
				   (unsigned long long)index, (unsigned long long)size);
		goto done;
	}
	want = inclusion_len(index, size);
	if (want > cap) {
		err = vt_error_set(VT_ETOOBIG, "inclusion proof needs %zu hashes, room for %zu",
				   want, cap);
		goto done;
	}
	if ((err = prove_path(proof, n, 0, index, size, get, payload)) < 0)
		*n = 0;
done:
	return err;
}

int vt_merkle_prove_consistency(vt_hash *proof, size_t *n, size_t cap, uint64_t size1,
				uint64_t size2, vt_merkle_node_fn get, void *payload)
{
	unsigned shift;
	uint64_t index;
	size_t want;
	int err = 0;

	*n = 0;
	if (size1 > size2) {
		err = vt_error_set(VT_EINVAL, "consistency proof: size1 %llu above size2 %llu",
				   (unsigned long long)size1, (unsigned long long)size2);
		goto done;
	}
	if (size1 == 0 || size1 == size2)
		goto done;
	want = consistency_len(size1, size2);
	if (want > cap) {
		err = vt_error_set(VT_ETOOBIG, "consistency proof needs %zu hashes, room for %zu",
				   want, cap);
		goto done;
	}
	/* The largest perfect subtree ending at size1 is where the paths to
	 * both roots start (RFC 9162 SUBPROOF reaching m == n with b false). */
	shift = trailing_zeros(size1);
	index = (size1 - 1) >> shift;
	if (size1 != (uint64_t)1 << shift && (err = get(&proof[(*n)++], shift, index, payload)) < 0)
		goto fail;
	if ((err = prove_path(proof, n, shift, index, size2, get, payload)) < 0)
		goto fail;
	goto done;
fail:
	*n = 0;
done:
	return err;
}

void vt_merkle_edge_init(vt_merkle_edge *e)
{
	memset(e, 0, sizeof(*e));
}

int vt_merkle_edge_append(vt_merkle_edge *e, const vt_hash *leaf, vt_merkle_visit_fn visit,
			  void *payload)
{
	uint64_t size = e->size, next;
	unsigned level = 0;
	vt_hash carry = *leaf;
	int err = 0;

	if (size == UINT64_MAX) {
		err = vt_error_set(VT_ETOOBIG, "Merkle tree is full");
		goto done;
	}
	next = size + 1;
	if (visit)
		visit(0, size, &carry, payload);
	/* Each set low bit of size is a perfect subtree the new leaf completes
	 * into one twice as large, like a carry in binary addition. */
	while (size & ((uint64_t)1 << level)) {
		if ((err = vt_merkle_node_hash(&carry, &e->h[level], &carry)) < 0)
			goto done;
		level++;
		if (visit)
			visit(level, (next >> level) - 1, &carry, payload);
	}
	e->h[level] = carry;
	e->size = next;
done:
	return err;
}

int vt_merkle_edge_root(vt_hash *out, const vt_merkle_edge *e)
{
	uint64_t rest = e->size;
	vt_hash h;
	int err = 0;

	if (rest == 0) {
		*out = empty_root;
		goto done;
	}
	/* Fold from the smallest subtree (rightmost) up to the largest. */
	h = e->h[trailing_zeros(rest)];
	rest &= rest - 1;
	while (rest) {
		if ((err = vt_merkle_node_hash(&h, &e->h[trailing_zeros(rest)], &h)) < 0)
			goto done;
		rest &= rest - 1;
	}
	*out = h;
done:
	return err;
}
