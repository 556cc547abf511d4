/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for tlog-tiles paths: whatever vt_tile_parse_path() accepts
 * must format back to the very same bytes (one spelling per tile), and
 * any tile vt_tile_path() writes must parse back to itself.
 */
#include "vitrine/encoding.h"
#include "vitrine/tile.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[VT_TILE_PATH_MAX];
	vt_tile t, u;
	int n;

	if (vt_tile_parse_path(&t, (const char *)data, size) == 0) {
		n = vt_tile_path(path, sizeof(path), &t);
		if (n < 0 || (size_t)n != size || memcmp(path, data, size) != 0)
			abort();
	}

	/* The other direction, from raw fields that may be out of range. */
	if (size >= 11) {
		t.entries = data[0] & 1;
		t.level = data[1];
		t.width = vt_get_be16(data + 2) & 0x1ff;
		t.index = vt_get_be64(data + 3);
		if ((n = vt_tile_path(path, sizeof(path), &t)) >= 0) {
			if (vt_tile_parse_path(&u, path, (size_t)n) != 0 ||
			    u.entries != t.entries || u.level != t.level || u.index != t.index ||
			    u.width != t.width)
				abort();
		} else if (t.width >= 1 && t.width <= VT_TILE_WIDTH &&
			   t.level <= VT_TILE_MAX_LEVEL && !(t.entries && t.level != 0)) {
			abort(); /* a valid tile must have a path */
		}
	}
	return 0;
}
