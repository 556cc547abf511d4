/* SPDX-License-Identifier: Apache-2.0 */
/*
 * c2sp.org/tlog-tiles: tile paths both ways, tile math and entry bundles.
 *
 * Paths are parsed strictly so that every accepted path is the one
 * vt_tile_path() writes for the parsed tile: a path is a storage key and a
 * URL, and two spellings of one tile would let a request dodge a cache or
 * a check keyed on the canonical name. A bundle is validated whole before
 * any entry is handed to the caller, so a corrupt bundle yields no entry.
 */
#include "vitrine/tile.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <stdio.h>
#include <string.h>

/* The index groups of the largest uint64, 18 446 744 073 709 551 615. */
#define MAX_GROUPS 7

static int index_path(char *out, size_t cap, uint64_t index)
{
	unsigned groups[MAX_GROUPS];
	int n = 0, len = 0;

	do {
		groups[n++] = (unsigned)(index % 1000);
		index /= 1000;
	} while (index > 0);
	while (n-- > 0) {
		int w =
		    snprintf(out + len, cap - (size_t)len, n > 0 ? "x%03u/" : "%03u", groups[n]);
		if (w < 0 || (size_t)w >= cap - (size_t)len)
			return -1;
		len += w;
	}
	return len;
}

int vt_tile_path(char *out, size_t cap, const vt_tile *t)
{
	char level[16];
	int len, n;

	if (t->width < 1 || t->width > VT_TILE_WIDTH)
		return vt_error_set(VT_EINVAL, "tile width %u is not in 1..%d", t->width,
				    VT_TILE_WIDTH);
	if (t->level > VT_TILE_MAX_LEVEL)
		return vt_error_set(VT_EINVAL, "tile level %u is over %d", t->level,
				    VT_TILE_MAX_LEVEL);
	if (t->entries && t->level != 0)
		return vt_error_set(VT_EINVAL, "an entry bundle has no level (got %u)", t->level);
	if (t->entries)
		snprintf(level, sizeof(level), "entries");
	else
		snprintf(level, sizeof(level), "%u", t->level);
	len = snprintf(out, cap, "tile/%s/", level);
	if (len < 0 || (size_t)len >= cap)
		goto too_small;
	if ((n = index_path(out + len, cap - (size_t)len, t->index)) < 0)
		goto too_small;
	len += n;
	if (t->width < VT_TILE_WIDTH) {
		n = snprintf(out + len, cap - (size_t)len, ".p/%u", t->width);
		if (n < 0 || (size_t)n >= cap - (size_t)len)
			goto too_small;
		len += n;
	}
	return len;
too_small:
	if (cap > 0)
		out[0] = '\0';
	return vt_error_set(VT_ETOOBIG, "tile path does not fit in %zu bytes", cap);
}

static bool is_digits(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static unsigned group_value(const char *s)
{
	return (unsigned)(s[0] - '0') * 100 + (unsigned)(s[1] - '0') * 10 + (unsigned)(s[2] - '0');
}

/* Next '/'-separated element of path[*pos..len); *pos moves past it. */
static bool next_element(const char **elem, size_t *elen, const char *path, size_t len, size_t *pos)
{
	const char *slash;

	if (*pos > len)
		return false;
	*elem = path + *pos;
	slash = memchr(*elem, '/', len - *pos);
	*elen = slash ? (size_t)(slash - *elem) : len - *pos;
	*pos += *elen + 1; /* past len when this was the last element */
	return true;
}

int vt_tile_parse_path(vt_tile *out, const char *path, size_t len)
{
	vt_tile t = {.width = VT_TILE_WIDTH};
	const char *e;
	size_t elen, pos = 0;
	uint64_t v;
	int ngroups = 0, err = 0;
	bool last = false;

	if (!next_element(&e, &elen, path, len, &pos) || elen != 4 || memcmp(e, "tile", 4) != 0) {
		err = vt_error_set(VT_EINVAL, "tile path must start with \"tile/\"");
		goto done;
	}
	if (!next_element(&e, &elen, path, len, &pos)) {
		err = vt_error_set(VT_EINVAL, "tile path has no level");
		goto done;
	}
	if (elen == 7 && memcmp(e, "entries", 7) == 0) {
		t.entries = true;
	} else if (vt_parse_u64(&v, e, elen) < 0 || v > VT_TILE_MAX_LEVEL) {
		err = vt_error_set(VT_EINVAL,
				   "tile level must be \"entries\" or 0..%d in canonical decimal",
				   VT_TILE_MAX_LEVEL);
		goto done;
	} else {
		t.level = (unsigned)v;
	}

	while (!last) {
		unsigned g;

		if (!next_element(&e, &elen, path, len, &pos)) {
			err = vt_error_set(VT_EINVAL, "tile path has no index");
			goto done;
		}
		if (elen == 4 && e[0] == 'x' && is_digits(e + 1, 3)) {
			g = group_value(e + 1);
		} else if ((elen == 3 || (elen == 5 && memcmp(e + 3, ".p", 2) == 0)) &&
			   is_digits(e, 3)) {
			g = group_value(e);
			last = true;
		} else {
			err = vt_error_set(VT_EINVAL,
					   "tile index element %d is not \"xNNN\" or \"NNN\"",
					   ngroups + 1);
			goto done;
		}
		if (ngroups == 0 && g == 0 && !last) {
			err = vt_error_set(VT_EINVAL, "tile index has a leading zero group");
			goto done;
		}
		if (t.index > (UINT64_MAX - g) / 1000) {
			err = vt_error_set(VT_EINVAL, "tile index overflows 64 bits");
			goto done;
		}
		t.index = t.index * 1000 + g;
		ngroups++;
	}

	if (elen == 5) {
		if (!next_element(&e, &elen, path, len, &pos) || vt_parse_u64(&v, e, elen) < 0 ||
		    v < 1 || v >= VT_TILE_WIDTH) {
			err = vt_error_set(VT_EINVAL,
					   "partial tile width must be 1..%d in canonical decimal",
					   VT_TILE_WIDTH - 1);
			goto done;
		}
		t.width = (unsigned)v;
	}
	if (pos <= len) {
		err = vt_error_set(VT_EINVAL, "tile path has trailing bytes");
		goto done;
	}
	*out = t;
done:
	return err;
}

uint64_t vt_tile_level_count(unsigned level, uint64_t tree_size)
{
	/* A shift by 64 or more is undefined in C; no hash lives that high. */
	if (level >= 64 / VT_TILE_HEIGHT)
		return 0;
	return tree_size >> (VT_TILE_HEIGHT * level);
}

int vt_tile_in_tree(vt_tile *out, bool entries, unsigned level, uint64_t index, uint64_t tree_size)
{
	uint64_t count, first;

	if (level > VT_TILE_MAX_LEVEL)
		return vt_error_set(VT_EINVAL, "tile level %u is over %d", level,
				    VT_TILE_MAX_LEVEL);
	if (entries && level != 0)
		return vt_error_set(VT_EINVAL, "an entry bundle has no level (got %u)", level);
	count = vt_tile_level_count(level, tree_size);
	/* Compare with the last hash's tile rather than multiply: index * 256
	 * may not fit in 64 bits. */
	if (count == 0 || index > (count - 1) / VT_TILE_WIDTH)
		return vt_error_set(VT_ENOTFOUND, "tree of size %llu has no %s %llu at level %u",
				    (unsigned long long)tree_size, entries ? "bundle" : "tile",
				    (unsigned long long)index, level);
	first = index * VT_TILE_WIDTH;
	out->entries = entries;
	out->level = level;
	out->index = index;
	out->width = count - first >= VT_TILE_WIDTH ? VT_TILE_WIDTH : (unsigned)(count - first);
	return 0;
}

int vt_bundle_append(vt_buf *bundle, const void *entry, size_t len)
{
	uint8_t prefix[2];
	int err;

	if (len > VT_ENTRY_MAX)
		return vt_error_set(
		    VT_ETOOBIG, "entry of %zu bytes exceeds the %d-byte limit of an entry bundle",
		    len, VT_ENTRY_MAX);
	/* Reserve both parts first so that a failure leaves the bundle whole. */
	if ((err = vt_buf_reserve(bundle, sizeof(prefix) + len)) < 0)
		return err;
	vt_put_be16(prefix, (uint16_t)len);
	if ((err = vt_buf_add(bundle, prefix, sizeof(prefix))) < 0)
		return err;
	return vt_buf_add(bundle, entry, len);
}

int vt_bundle_parse(const void *data, size_t len, unsigned count, vt_bundle_fn fn, void *payload)
{
	const uint8_t *p = data;
	size_t pos = 0, n = 0;
	int err = 0;

	if (count > VT_TILE_WIDTH) {
		err = vt_error_set(VT_EINVAL, "a bundle holds at most %d entries, not %u",
				   VT_TILE_WIDTH, count);
		goto done;
	}
	while (pos < len) {
		size_t elen;

		if (len - pos < 2) {
			err = vt_error_set(VT_ECORRUPT,
					   "bundle truncated in the length of entry %zu", n);
			goto done;
		}
		elen = vt_get_be16(p + pos);
		if (len - pos - 2 < elen) {
			err = vt_error_set(
			    VT_ECORRUPT,
			    "bundle truncated in entry %zu (%zu bytes announced, %zu left)", n,
			    elen, len - pos - 2);
			goto done;
		}
		pos += 2 + elen;
		if (++n > VT_TILE_WIDTH) {
			err = vt_error_set(VT_ECORRUPT, "bundle holds more than %d entries",
					   VT_TILE_WIDTH);
			goto done;
		}
	}
	if (n == 0) {
		err = vt_error_set(VT_ECORRUPT, "bundle is empty");
		goto done;
	}
	if (count != 0 && n != count) {
		err = vt_error_set(VT_ECORRUPT, "bundle holds %zu entries, expected %u", n, count);
		goto done;
	}
	if (!fn)
		goto done;
	for (pos = 0; pos < len;) {
		size_t elen = vt_get_be16(p + pos);
		if ((err = fn(p + pos + 2, elen, payload)) != 0)
			goto done;
		pos += 2 + elen;
	}
done:
	return err;
}
