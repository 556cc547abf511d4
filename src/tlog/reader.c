/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reading a tiled log. A level-L tile holds the hashes of the perfect
 * subtrees of height 8L; a node of height h = 8L + r is the root of 2^r
 * consecutive hashes of one level-L tile. The first time a cached hash
 * tile serves a node above its bottom row, every complete node inside it
 * is computed (width - 1 hashes) and kept beside it, so proofs that share
 * tiles cost lookups, not hashing.
 */
#include "vitrine/reader.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/merkle.h"
#include "vitrine/tile.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 16

typedef struct {
	vt_tile t;
	bool used;
	vt_buf data;
	vt_hash *nodes; /* rows 1..8 of the tile's tree, see row() */
	bool nodes_ready;
} slot;

struct vt_tlog_reader {
	uint64_t size;
	vt_fetch_fn fetch;
	void *payload;
	slot cache[CACHE_SLOTS];
	unsigned next;
};

int vt_tlog_reader_new(vt_tlog_reader **out, uint64_t tree_size, vt_fetch_fn fetch,
		       void *payload)
{
	vt_tlog_reader *r = calloc(1, sizeof(*r));
	if (!r)
		return vt_error_set(VT_ENOMEM, "out of memory");
	r->size = tree_size;
	r->fetch = fetch;
	r->payload = payload;
	for (int i = 0; i < CACHE_SLOTS; i++)
		vt_buf_init(&r->cache[i].data, VT_TILE_WIDTH * (2 + VT_ENTRY_MAX));
	*out = r;
	return 0;
}

void vt_tlog_reader_set_size(vt_tlog_reader *r, uint64_t tree_size)
{
	r->size = tree_size;
}

void *vt_tlog_reader_payload(const vt_tlog_reader *r)
{
	return r->payload;
}

void vt_tlog_reader_free(vt_tlog_reader *r)
{
	if (!r)
		return;
	for (int i = 0; i < CACHE_SLOTS; i++) {
		vt_buf_dispose(&r->cache[i].data);
		free(r->cache[i].nodes);
	}
	free(r);
}

static bool same_tile(const vt_tile *a, const vt_tile *b)
{
	return a->entries == b->entries && a->level == b->level && a->index == b->index &&
	       a->width == b->width;
}

/*
 * Fetch a tile (from the cache when possible). A full tile may serve a
 * request for a partial one: tiles only grow by appending.
 */
static int get_tile(slot **out, vt_tlog_reader *r, const vt_tile *t)
{
	char path[VT_TILE_PATH_MAX];
	slot *s;
	int err;

	for (int i = 0; i < CACHE_SLOTS; i++) {
		slot *c = &r->cache[i];
		if (!c->used || c->t.entries != t->entries || c->t.level != t->level ||
		    c->t.index != t->index)
			continue;
		if (same_tile(&c->t, t) || (!t->entries && c->t.width >= t->width)) {
			*out = c;
			return 0;
		}
	}
	s = &r->cache[r->next];
	r->next = (r->next + 1) % CACHE_SLOTS;
	s->used = false;
	s->nodes_ready = false;
	vt_buf_reset(&s->data);
	if ((err = vt_tile_path(path, sizeof(path), t)) < 0)
		return err;
	if ((err = r->fetch(&s->data, path, r->payload)) < 0)
		return vt_error_wrap(err, "fetching %s", path);
	if (!t->entries && s->data.len != (size_t)t->width * VT_HASH_SIZE)
		return vt_error_set(VT_ECORRUPT, "%s has %zu bytes, want %u", path, s->data.len,
				    t->width * VT_HASH_SIZE);
	s->t = *t;
	s->used = true;
	*out = s;
	return 0;
}

/* Row r (1..8) of a tile's tree: 256 >> r nodes, stored one row after another. */
static vt_hash *row(slot *s, unsigned r)
{
	return s->nodes + (VT_TILE_WIDTH - (VT_TILE_WIDTH >> (r - 1)));
}

/* Compute every complete node of a cached hash tile. */
static int tile_nodes(slot *s)
{
	int err;
	if (s->nodes_ready)
		return 0;
	if (!s->nodes && (s->nodes = malloc((VT_TILE_WIDTH - 1) * sizeof(vt_hash))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	for (unsigned r = 1; r <= VT_TILE_HEIGHT; r++) {
		const vt_hash *below = r == 1 ? (const vt_hash *)s->data.ptr : row(s, r - 1);
		vt_hash *here = row(s, r);
		for (unsigned j = 0; j < s->t.width >> r; j++)
			if ((err = vt_merkle_node_hash(&here[j], &below[2 * j], &below[2 * j + 1])) < 0)
				return err;
	}
	s->nodes_ready = true;
	return 0;
}

int vt_tlog_reader_node(vt_hash *out, unsigned level, uint64_t index, void *reader)
{
	vt_tlog_reader *r = reader;
	unsigned L = level / VT_TILE_HEIGHT, rem = level % VT_TILE_HEIGHT;
	uint64_t first = index << rem, count = (uint64_t)1 << rem;
	slot *sl = NULL;
	vt_tile t;
	int err;

	if ((err = vt_tile_in_tree(&t, false, L, first / VT_TILE_WIDTH, r->size)) < 0)
		return vt_error_set(VT_EINVAL, "node %u/%llu is outside the tree of size %llu",
				    level, (unsigned long long)index, (unsigned long long)r->size);
	if (first % VT_TILE_WIDTH + count > t.width)
		return vt_error_set(VT_EINVAL, "node %u/%llu is not complete in the tree", level,
				    (unsigned long long)index);
	if ((err = get_tile(&sl, r, &t)) < 0)
		return err;
	if (rem == 0) {
		memcpy(out->b, sl->data.ptr + (first % VT_TILE_WIDTH) * VT_HASH_SIZE, VT_HASH_SIZE);
		return 0;
	}
	if ((err = tile_nodes(sl)) < 0)
		return err;
	*out = row(sl, rem)[(first % VT_TILE_WIDTH) >> rem];
	return 0;
}

int vt_tlog_reader_root(vt_hash *out, vt_tlog_reader *r)
{
	return vt_merkle_root(out, r->size, vt_tlog_reader_node, r);
}

int vt_tlog_reader_prove_inclusion(vt_hash *proof, size_t *n, vt_tlog_reader *r, uint64_t index)
{
	return vt_merkle_prove_inclusion(proof, n, VT_MERKLE_MAX_PROOF, index, r->size,
					 vt_tlog_reader_node, r);
}

int vt_tlog_reader_prove_consistency(vt_hash *proof, size_t *n, vt_tlog_reader *r, uint64_t size1)
{
	return vt_merkle_prove_consistency(proof, n, VT_MERKLE_MAX_PROOF, size1, r->size,
					   vt_tlog_reader_node, r);
}

typedef struct {
	unsigned want, at;
	vt_buf *out;
	int found;
} entry_walk;

static int pick_entry(const uint8_t *entry, size_t len, void *payload)
{
	entry_walk *w = payload;
	if (w->at++ != w->want)
		return 0;
	w->found = 1;
	return vt_buf_add(w->out, entry, len) < 0 ? VT_ENOMEM : 1;
}

int vt_tlog_reader_entry(vt_buf *out, vt_tlog_reader *r, uint64_t index)
{
	slot *sl = NULL;
	entry_walk w = {.want = (unsigned)(index % VT_TILE_WIDTH), .out = out};
	vt_tile t;
	int err;

	if (index >= r->size)
		return vt_error_set(VT_ENOTFOUND, "index %llu is not below the tree size %llu",
				    (unsigned long long)index, (unsigned long long)r->size);
	if ((err = vt_tile_in_tree(&t, true, 0, index / VT_TILE_WIDTH, r->size)) < 0 ||
	    (err = get_tile(&sl, r, &t)) < 0)
		return err;
	err = vt_bundle_parse(sl->data.ptr, sl->data.len, t.width, pick_entry, &w);
	if (err < 0)
		return err;
	if (!w.found)
		return vt_error_set(VT_ECORRUPT, "entry %llu missing from its bundle",
				    (unsigned long long)index);
	return 0;
}

typedef struct {
	uint64_t index, start;
	vt_entry_fn fn;
	void *payload;
} walk_state;

static int walk_one(const uint8_t *entry, size_t len, void *payload)
{
	walk_state *w = payload;
	uint64_t i = w->index++;
	return i < w->start ? 0 : w->fn(i, entry, len, w->payload);
}

int vt_tlog_reader_walk(vt_tlog_reader *r, uint64_t start, vt_entry_fn fn, void *payload)
{
	walk_state w = {.start = start, .fn = fn, .payload = payload};
	uint64_t tiles = (r->size + VT_TILE_WIDTH - 1) / VT_TILE_WIDTH;
	int err = 0;

	for (uint64_t n = start / VT_TILE_WIDTH; n < tiles && err == 0; n++) {
		slot *sl = NULL;
		vt_tile t;
		w.index = n * VT_TILE_WIDTH;
		if ((err = vt_tile_in_tree(&t, true, 0, n, r->size)) < 0 ||
		    (err = get_tile(&sl, r, &t)) < 0)
			break;
		err = vt_bundle_parse(sl->data.ptr, sl->data.len, t.width, walk_one, &w);
	}
	return err;
}
