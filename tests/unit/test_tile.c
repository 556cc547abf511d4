/* SPDX-License-Identifier: Apache-2.0 */
/* Tests for c2sp.org/tlog-tiles paths, tile math and entry bundles. */
#include "test.h"
#include "vitrine/buf.h"
#include "vitrine/tile.h"

#include <inttypes.h>

static int parse(vt_tile *t, const char *path)
{
	return vt_tile_parse_path(t, path, strlen(path));
}

/* Format t and compare with want. */
static bool path_is(const vt_tile *t, const char *want)
{
	char out[VT_TILE_PATH_MAX];
	int n = vt_tile_path(out, sizeof(out), t);
	if (n < 0 || (size_t)n != strlen(want) || strcmp(out, want) != 0) {
		fprintf(stderr, "path: got \"%s\" (%d), want \"%s\"\n", n < 0 ? "" : out, n, want);
		return false;
	}
	return true;
}

static void test_path_known(void)
{
	vt_tile t = {.level = 0, .index = 1234067, .width = 256};
	CHECK(path_is(&t, "tile/0/x001/x234/067"));
	t = (vt_tile){.level = 15, .index = 123456789, .width = 41};
	CHECK(path_is(&t, "tile/15/x123/x456/789.p/41"));
	t = (vt_tile){.entries = true, .index = 1234067, .width = 256};
	CHECK(path_is(&t, "tile/entries/x001/x234/067"));
	t = (vt_tile){.index = 0, .width = 256};
	CHECK(path_is(&t, "tile/0/000"));
	t = (vt_tile){.entries = true, .index = 0, .width = 1};
	CHECK(path_is(&t, "tile/entries/000.p/1"));
	t = (vt_tile){.level = 63, .index = 999, .width = 255};
	CHECK(path_is(&t, "tile/63/999.p/255"));
	t = (vt_tile){.level = 1, .index = 1000, .width = 256};
	CHECK(path_is(&t, "tile/1/x001/000"));
	t = (vt_tile){.level = 2, .index = 1000000, .width = 7};
	CHECK(path_is(&t, "tile/2/x001/x000/000.p/7"));
	t = (vt_tile){.level = 0, .index = UINT64_MAX, .width = 256};
	CHECK(path_is(&t, "tile/0/x018/x446/x744/x073/x709/x551/615"));
	t = (vt_tile){.entries = true, .index = UINT64_MAX, .width = 255};
	CHECK(path_is(&t, "tile/entries/x018/x446/x744/x073/x709/x551/615.p/255"));
}

static void test_path_invalid_tile(void)
{
	char out[VT_TILE_PATH_MAX];
	vt_tile t = {.level = 0, .index = 1, .width = 0};
	CHECK_CODE(vt_tile_path(out, sizeof(out), &t), VT_EINVAL);
	t.width = 257;
	CHECK_CODE(vt_tile_path(out, sizeof(out), &t), VT_EINVAL);
	t = (vt_tile){.level = 64, .width = 256};
	CHECK_CODE(vt_tile_path(out, sizeof(out), &t), VT_EINVAL);
	t = (vt_tile){.entries = true, .level = 1, .width = 256};
	CHECK_CODE(vt_tile_path(out, sizeof(out), &t), VT_EINVAL);
	/* Too small an output buffer is refused, never overrun. */
	t = (vt_tile){.level = 0, .index = 1234067, .width = 256};
	CHECK_CODE(vt_tile_path(out, 20, &t), VT_ETOOBIG);
	CHECK_CODE(vt_tile_path(out, 21, &t), 20);
	t.width = 5;
	CHECK_CODE(vt_tile_path(out, 21, &t), VT_ETOOBIG);
	CHECK_CODE(vt_tile_path(out, 5, &t), VT_ETOOBIG);
}

static void test_parse_known(void)
{
	vt_tile t;
	CHECK_OK(parse(&t, "tile/15/x123/x456/789.p/41"));
	CHECK(!t.entries && t.level == 15 && t.index == 123456789 && t.width == 41);
	CHECK_OK(parse(&t, "tile/entries/x001/x234/067"));
	CHECK(t.entries && t.level == 0 && t.index == 1234067 && t.width == 256);
	CHECK_OK(parse(&t, "tile/0/000"));
	CHECK(!t.entries && t.level == 0 && t.index == 0 && t.width == 256);
	CHECK_OK(parse(&t, "tile/63/001.p/255"));
	CHECK(t.level == 63 && t.index == 1 && t.width == 255);
	CHECK_OK(parse(&t, "tile/entries/000.p/1"));
	CHECK(t.entries && t.index == 0 && t.width == 1);
	CHECK_OK(parse(&t, "tile/0/x018/x446/x744/x073/x709/x551/615"));
	CHECK(t.index == UINT64_MAX);
	CHECK_OK(parse(&t, "tile/3/x001/x000/000"));
	CHECK(t.level == 3 && t.index == 1000000);
	/* The length bounds the path: what follows it is not read. */
	CHECK_OK(vt_tile_parse_path(&t, "tile/0/001/garbage", 10));
	CHECK(t.index == 1 && t.width == 256);
}

static void test_parse_rejects(void)
{
	/* clang-format off */
	static const char *const bad[] = {
		"",
		"tile",
		"tile/",
		"tile/0",
		"tile/0/",
		"/tile/0/000",
		"tile//0/000",
		"tile/0//000",
		"tile/0/000/",
		"tile/0/x001/",
		"tile/0/x001//000",
		"tile/0/000.p/5/",
		"tiles/0/000",
		"Tile/0/000",
		"tile/64/000",
		"tile/99/000",
		"tile/00/000",
		"tile/01/000",
		"tile/-1/000",
		"tile/+1/000",
		"tile/ 1/000",
		"tile/1 /000",
		"tile/18446744073709551616/000",
		"tile/entry/000",
		"tile/Entries/000",
		"tile/entries",
		"tile/entries/",
		"tile/0/1",
		"tile/0/01",
		"tile/0/0000",
		"tile/0/1234",
		"tile/0/x1/000",
		"tile/0/x01/000",
		"tile/0/x0001/000",
		"tile/0/X001/000",
		"tile/0/x001",
		"tile/0/x001/x234",
		"tile/0/001/234",
		"tile/0/x000/001",
		"tile/0/x000/x001/000",
		"tile/0/x00a/000",
		"tile/0/00a",
		"tile/0/-01",
		"tile/0/+01",
		"tile/0/ 01",
		"tile/0/x018/x446/x744/x073/x709/x551/616",
		"tile/0/x018/x446/x744/x073/x709/x552/000",
		"tile/0/x100/x000/x000/x000/x000/x000/000",
		"tile/0/x001/x000/x000/x000/x000/x000/x000/000",
		"tile/0/000.p",
		"tile/0/000.p/",
		"tile/0/000.p/0",
		"tile/0/000.p/00",
		"tile/0/000.p/007",
		"tile/0/000.p/07",
		"tile/0/000.p/256",
		"tile/0/000.p/1000",
		"tile/0/000.p/-1",
		"tile/0/000.p/+5",
		"tile/0/000.p/5a",
		"tile/0/000.p/18446744073709551617",
		"tile/0/000.p/5/6",
		"tile/0/000.q/5",
		"tile/0/000.P/5",
		"tile/0/000p/5",
		"tile/0/000.p5",
		"tile/0/000.pp/5",
		"tile/0/x000.p/5",
		"tile/0/x001.p/5",
		"tile/0/..",
		"tile/0/../000",
		"tile/../000",
		"../tile/0/000",
		"tile/./0/000",
		"tile/0/./000",
		"tile/0/000/..",
		"tile/0/000?x=1",
		"tile/0/000#f",
		"tile/0/000 ",
		" tile/0/000",
		"tile\\0\\000",
		"tile/0/000\n",
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vt_tile t = {.level = 77};
		int got = parse(&t, bad[i]);
		CHECK_CODE(got, VT_EINVAL);
		if (got != VT_EINVAL)
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
		CHECK(t.level == 77); /* untouched on failure */
		CHECK(vt_error_last()[0] != '\0');
	}
	/* A NUL inside the given length is not a terminator. */
	{
		vt_tile t;
		CHECK_CODE(vt_tile_parse_path(&t, "tile/0/000\0", 11), VT_EINVAL);
		CHECK_CODE(vt_tile_parse_path(&t, "tile/0\0/000", 11), VT_EINVAL);
		CHECK_CODE(vt_tile_parse_path(&t, "tile/0/000.p/5\0", 15), VT_EINVAL);
	}
}

/* A deliberately naive index path: the decimal digits, left-padded with
 * zeros to a multiple of three, cut in threes, all but the last with "x". */
static void naive_index_path(char *out, uint64_t index)
{
	char digits[32], padded[40];
	size_t n, pad, o = 0;
	snprintf(digits, sizeof(digits), "%" PRIu64, index);
	n = strlen(digits);
	pad = (3 - n % 3) % 3;
	memset(padded, '0', pad);
	memcpy(padded + pad, digits, n + 1);
	n += pad;
	for (size_t i = 0; i < n; i += 3) {
		if (i + 3 < n)
			out[o++] = 'x';
		memcpy(out + o, padded + i, 3);
		o += 3;
		if (i + 3 < n)
			out[o++] = '/';
	}
	out[o] = '\0';
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible across runs and platforms. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1du;
}

static void test_round_trip_random(void)
{
	int bad = 0;
	for (int i = 0; i < 20000; i++) {
		vt_tile t = {0}, u;
		char path[VT_TILE_PATH_MAX], want[VT_TILE_PATH_MAX], idx[40];
		int n;
		uint64_t r = rnd();

		t.entries = (r & 3) == 0;
		t.level = t.entries ? 0 : (unsigned)(r >> 2) % 64;
		t.width = (r >> 8) & 1 ? VT_TILE_WIDTH : 1 + (unsigned)(r >> 9) % 255;
		/* Spread the index over every magnitude, not just huge ones. */
		t.index = rnd() >> (rnd() % 64);
		naive_index_path(idx, t.index);
		if (t.entries)
			snprintf(want, sizeof(want), "tile/entries/%s", idx);
		else
			snprintf(want, sizeof(want), "tile/%u/%s", t.level, idx);
		if (t.width < VT_TILE_WIDTH)
			snprintf(want + strlen(want), sizeof(want) - strlen(want), ".p/%u",
				 t.width);
		n = vt_tile_path(path, sizeof(path), &t);
		if (n < 0 || strcmp(path, want) != 0 || (size_t)n != strlen(want) ||
		    vt_tile_parse_path(&u, path, (size_t)n) != 0 || u.entries != t.entries ||
		    u.level != t.level || u.index != t.index || u.width != t.width) {
			if (bad++ < 5)
				fprintf(stderr, "round trip failed: %s vs %s\n", path, want);
		}
	}
	CHECK(bad == 0);
}

/* A deliberately naive tile width: count the hashes one by one. */
static unsigned naive_width(unsigned level, uint64_t index, uint64_t size)
{
	uint64_t count = size;
	unsigned w = 0;
	for (unsigned l = 0; l < level; l++)
		count /= 256;
	for (uint64_t i = index * 256; i < index * 256 + 256; i++)
		if (i < count)
			w++;
	return w;
}

static void test_tile_math(void)
{
	vt_tile t;

	/* The tlog-tiles example: a tree of 70,000 entries. */
	CHECK_OK(vt_tile_in_tree(&t, false, 0, 272, 70000));
	CHECK(t.width == 256 && t.index == 272 && t.level == 0 && !t.entries);
	CHECK_OK(vt_tile_in_tree(&t, false, 0, 273, 70000));
	CHECK(t.width == 112);
	CHECK_CODE(vt_tile_in_tree(&t, false, 0, 274, 70000), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, false, 1, 0, 70000));
	CHECK(t.width == 256 && t.level == 1);
	CHECK_OK(vt_tile_in_tree(&t, false, 1, 1, 70000));
	CHECK(t.width == 17);
	CHECK_CODE(vt_tile_in_tree(&t, false, 1, 2, 70000), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, false, 2, 0, 70000));
	CHECK(t.width == 1);
	CHECK_CODE(vt_tile_in_tree(&t, false, 3, 0, 70000), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, true, 0, 273, 70000));
	CHECK(t.entries && t.width == 112 && t.index == 273);

	/* "A tree of size 256 ... a full level 0 tile and a partial level 1
	 * tile of width 1." */
	CHECK_OK(vt_tile_in_tree(&t, false, 0, 0, 256));
	CHECK(t.width == 256);
	CHECK_CODE(vt_tile_in_tree(&t, false, 0, 1, 256), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, false, 1, 0, 256));
	CHECK(t.width == 1);

	CHECK_CODE(vt_tile_in_tree(&t, false, 0, 0, 0), VT_ENOTFOUND);
	CHECK_CODE(vt_tile_in_tree(&t, true, 0, 0, 0), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, true, 0, 0, 1));
	CHECK(t.width == 1);
	CHECK_CODE(vt_tile_in_tree(&t, false, 64, 0, 1), VT_EINVAL);
	CHECK_CODE(vt_tile_in_tree(&t, true, 1, 0, 1000), VT_EINVAL);

	/* Near the top of uint64: no overflow in index * 256. */
	CHECK_OK(vt_tile_in_tree(&t, false, 0, UINT64_MAX / 256, UINT64_MAX));
	CHECK(t.width == 255);
	CHECK_CODE(vt_tile_in_tree(&t, false, 0, UINT64_MAX / 256 + 1, UINT64_MAX), VT_ENOTFOUND);
	CHECK_CODE(vt_tile_in_tree(&t, false, 0, UINT64_MAX, UINT64_MAX), VT_ENOTFOUND);
	CHECK_OK(vt_tile_in_tree(&t, false, 7, 0, UINT64_MAX));
	CHECK(t.width == 255);
	CHECK_OK(vt_tile_in_tree(&t, false, 6, 254, UINT64_MAX));
	CHECK(t.width == 256);
	CHECK_CODE(vt_tile_in_tree(&t, false, 8, 0, UINT64_MAX), VT_ENOTFOUND);
	CHECK_CODE(vt_tile_in_tree(&t, false, 63, 0, UINT64_MAX), VT_ENOTFOUND);

	CHECK(vt_tile_level_count(0, 70000) == 70000);
	CHECK(vt_tile_level_count(1, 70000) == 273);
	CHECK(vt_tile_level_count(2, 70000) == 1);
	CHECK(vt_tile_level_count(3, 70000) == 0);
	CHECK(vt_tile_level_count(7, UINT64_MAX) == 255);
	CHECK(vt_tile_level_count(8, UINT64_MAX) == 0);
	CHECK(vt_tile_level_count(63, UINT64_MAX) == 0);
	CHECK(vt_tile_level_count(64, UINT64_MAX) == 0);
	CHECK(vt_tile_level_count(1000, UINT64_MAX) == 0);

	/* Against the naive count, on sizes around tile boundaries. */
	{
		static const uint64_t sizes[] = {1,	2,	  255,	    256,      257,
						 511,	512,	  65535,    65536,    65537,
						 70000, 16777215, 16777216, 16777217, 123456789};
		int bad = 0;
		for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
			for (unsigned level = 0; level < 5; level++) {
				uint64_t count = vt_tile_level_count(level, sizes[s]);
				uint64_t last = count ? (count - 1) / 256 : 0;
				uint64_t idx[] = {0, 1, last > 0 ? last - 1 : 0, last, last + 1};
				for (size_t k = 0; k < 5; k++) {
					unsigned w = naive_width(level, idx[k], sizes[s]);
					int err =
					    vt_tile_in_tree(&t, false, level, idx[k], sizes[s]);
					if (w == 0
						? err != VT_ENOTFOUND
						: err != 0 || t.width != w || t.index != idx[k]) {
						if (bad++ < 5)
							fprintf(stderr,
								"size %" PRIu64
								" level %u index %" PRIu64
								": err %d width %u, naive %u\n",
								sizes[s], level, idx[k], err,
								t.width, w);
					}
				}
			}
		}
		CHECK(bad == 0);
	}
}

struct collect {
	int n;
	size_t lens[300];
	uint8_t first[300];
	int stop_at;
};

static int collect_fn(const uint8_t *entry, size_t len, void *payload)
{
	struct collect *c = payload;
	c->lens[c->n] = len;
	c->first[c->n] = len ? entry[0] : 0;
	c->n++;
	return c->n == c->stop_at ? 42 : 0;
}

static void test_bundle_known(void)
{
	vt_buf b;
	struct collect c = {0};
	static const uint8_t want[] = {0x00, 0x05, 'h',	 'e',  'l',  'l',
				       'o',  0x00, 0x00, 0x00, 0x01, 'x'};

	vt_buf_init(&b, 1 << 20);
	CHECK_OK(vt_bundle_append(&b, "hello", 5));
	CHECK_OK(vt_bundle_append(&b, "", 0));
	CHECK_OK(vt_bundle_append(&b, "x", 1));
	CHECK(b.len == sizeof(want) && memcmp(b.ptr, want, sizeof(want)) == 0);

	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 3, collect_fn, &c));
	CHECK(c.n == 3 && c.lens[0] == 5 && c.first[0] == 'h' && c.lens[1] == 0 && c.lens[2] == 1 &&
	      c.first[2] == 'x');
	c.n = 0;
	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 0, collect_fn, &c));
	CHECK(c.n == 3);
	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 0, NULL, NULL));

	/* A callback's non-zero return stops the walk and comes back. */
	c = (struct collect){.stop_at = 2};
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 3, collect_fn, &c), 42);
	CHECK(c.n == 2);

	/* Wrong counts. */
	c.n = 0;
	c.stop_at = 0;
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 2, collect_fn, &c), VT_ECORRUPT);
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 4, collect_fn, &c), VT_ECORRUPT);
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 257, collect_fn, &c), VT_EINVAL);
	CHECK(c.n == 0);

	/* Every truncation and one trailing byte are corrupt, and no entry
	 * reaches the callback from a corrupt bundle. */
	for (size_t cut = 0; cut < b.len; cut++) {
		int got = vt_bundle_parse(b.ptr, cut, 0, collect_fn, &c);
		/* Cutting exactly after an entry leaves a shorter valid bundle. */
		if (cut == 7 || cut == 9) {
			CHECK_OK(got);
			c.n = 0;
		} else {
			CHECK_CODE(got, VT_ECORRUPT);
			CHECK(c.n == 0);
		}
		CHECK_CODE(vt_bundle_parse(b.ptr, cut, 3, collect_fn, &c), VT_ECORRUPT);
		CHECK(c.n == 0);
	}
	CHECK_OK(vt_buf_addc(&b, 0));
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 0, collect_fn, &c), VT_ECORRUPT);
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 3, collect_fn, &c), VT_ECORRUPT);
	CHECK(c.n == 0);
	/* A length prefix announcing more than is there. */
	{
		static const uint8_t over[] = {0x01, 0x00, 'a', 'b'};
		CHECK_CODE(vt_bundle_parse(over, sizeof(over), 0, collect_fn, &c), VT_ECORRUPT);
		CHECK(c.n == 0);
	}
	/* tlog-tiles never serves an empty bundle. */
	CHECK_CODE(vt_bundle_parse("", 0, 0, collect_fn, &c), VT_ECORRUPT);
	CHECK_CODE(vt_bundle_parse("", 0, 1, collect_fn, &c), VT_ECORRUPT);
	vt_buf_dispose(&b);
}

static void test_bundle_limits(void)
{
	vt_buf b;
	struct collect c = {0};
	static uint8_t big[VT_ENTRY_MAX + 2];

	memset(big, 0xab, sizeof(big));
	vt_buf_init(&b, 1 << 20);
	CHECK_CODE(vt_bundle_append(&b, big, VT_ENTRY_MAX + 1), VT_ETOOBIG);
	CHECK(strstr(vt_error_last(), "65535") != NULL);
	CHECK(b.len == 0);
	CHECK_CODE(vt_bundle_append(&b, big, SIZE_MAX), VT_ETOOBIG);
	CHECK_OK(vt_bundle_append(&b, big, VT_ENTRY_MAX));
	CHECK(b.len == VT_ENTRY_MAX + 2 && b.ptr[0] == 0xff && b.ptr[1] == 0xff);
	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 1, collect_fn, &c));
	CHECK(c.n == 1 && c.lens[0] == VT_ENTRY_MAX && c.first[0] == 0xab);
	vt_buf_dispose(&b);

	/* The buffer's own limit: a failed append leaves the bundle whole. */
	vt_buf_init(&b, 10);
	CHECK_OK(vt_bundle_append(&b, "abcdef", 6));
	CHECK_CODE(vt_bundle_append(&b, "abc", 3), VT_ETOOBIG);
	CHECK(b.len == 8);
	CHECK_OK(vt_bundle_append(&b, "", 0));
	CHECK(b.len == 10);
	vt_buf_dispose(&b);

	/* 256 entries is a full bundle; 257 is too many. */
	vt_buf_init(&b, 1 << 20);
	for (int i = 0; i < 256; i++) {
		uint8_t e = (uint8_t)i;
		CHECK_OK(vt_bundle_append(&b, &e, 1));
	}
	c.n = 0;
	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 256, collect_fn, &c));
	CHECK(c.n == 256 && c.first[255] == 255);
	c.n = 0;
	CHECK_OK(vt_bundle_parse(b.ptr, b.len, 0, collect_fn, &c));
	CHECK(c.n == 256);
	CHECK_OK(vt_bundle_append(&b, "z", 1));
	c.n = 0;
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 0, collect_fn, &c), VT_ECORRUPT);
	CHECK_CODE(vt_bundle_parse(b.ptr, b.len, 256, collect_fn, &c), VT_ECORRUPT);
	CHECK(c.n == 0);
	vt_buf_dispose(&b);
}

int main(void)
{
	RUN(test_path_known);
	RUN(test_path_invalid_tile);
	RUN(test_parse_known);
	RUN(test_parse_rejects);
	RUN(test_round_trip_random);
	RUN(test_tile_math);
	RUN(test_bundle_known);
	RUN(test_bundle_limits);
	return TEST_DONE();
}
