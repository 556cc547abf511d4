/* SPDX-License-Identifier: Apache-2.0 */
/* c2sp.org/tlog-tiles: tile coordinates, paths, tile math, entry bundles. */
#ifndef VITRINE_TILE_H
#define VITRINE_TILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

#define VT_TILE_HEIGHT 8
#define VT_TILE_WIDTH 256   /* hashes in a full tile, entries in a full bundle */
#define VT_TILE_MAX_LEVEL 63
#define VT_ENTRY_MAX 65535  /* largest entry an entry bundle can hold */
#define VT_TILE_PATH_MAX 96 /* longest path vt_tile_path() writes, with NUL */

/*
 * A tile: a level-L hash tile, or (entries == true) an entry bundle, which
 * sits at level 0's coordinates. width is 1..256; below 256 it is partial.
 */
typedef struct {
	bool entries;
	unsigned level;
	uint64_t index;
	unsigned width;
} vt_tile;

/*
 * Write the tile's path relative to the log prefix, such as
 * "tile/0/x001/234.p/5" or "tile/entries/000", into out (cap bytes, at
 * least VT_TILE_PATH_MAX). Returns the length, or VT_EINVAL for a tile
 * that cannot exist (width 0 or over 256, level over the maximum, an
 * entry bundle with a level other than 0), VT_ETOOBIG when cap is too
 * small (out then holds ""). Thread-safe.
 */
int vt_tile_path(char *out, size_t cap, const vt_tile *t);

/*
 * Parse a path such as "tile/15/x123/x456/789.p/41" strictly: canonical
 * three-digit elements, "x" on all but the last, no empty elements, no
 * "..", a width of 1..255 after ".p/", level 0..63 or "entries", index
 * within uint64. VT_EINVAL with a reason otherwise (*out untouched).
 * Every accepted path is exactly what vt_tile_path() writes for *out: a
 * tile has one spelling. len bounds the path; a NUL inside it is refused.
 */
int vt_tile_parse_path(vt_tile *out, const char *path, size_t len);

/*
 * The tile at level, index within a tree of tree_size leaves: its width
 * there (full, or partial at the right edge). VT_ENOTFOUND when the tree
 * has no hash in it; VT_EINVAL for a level over VT_TILE_MAX_LEVEL or an
 * entry bundle at a level other than 0. For entry bundles pass
 * entries = true and level 0.
 */
int vt_tile_in_tree(vt_tile *out, bool entries, unsigned level, uint64_t index,
		    uint64_t tree_size);

/* Number of hashes at tile level `level` in a tree: tree_size >> (8*level). */
uint64_t vt_tile_level_count(unsigned level, uint64_t tree_size);

/* Append one entry to a bundle: uint16 big-endian length, then the bytes.
 * VT_ETOOBIG for an entry over VT_ENTRY_MAX bytes or past the buffer's
 * maximum; the bundle is unchanged on failure. VT_ENOMEM. */
int vt_bundle_append(vt_buf *bundle, const void *entry, size_t len);

/* Called for each entry of a bundle; a non-zero return stops the walk. */
typedef int (*vt_bundle_fn)(const uint8_t *entry, size_t len, void *payload);

/*
 * Walk a bundle's entries. The bundle must hold exactly `count` entries
 * and nothing after them (count 0: any number, at most 256).
 * VT_ECORRUPT on truncation, trailing bytes, a wrong count or an empty
 * bundle (tlog-tiles never serves one); VT_EINVAL for count over 256. The
 * whole bundle is checked before fn sees any entry, so a corrupt bundle
 * yields none. fn may be NULL to only check. Entries point into data. A
 * callback's non-zero return stops the walk and is passed back.
 */
int vt_bundle_parse(const void *data, size_t len, unsigned count, vt_bundle_fn fn,
		    void *payload);

#endif
