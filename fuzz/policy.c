/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the residency policy and its log entry. Whatever parses
 * as a policy must format back to the same bytes, and every region must
 * look up to the site it names; whatever parses as a `policy` entry must
 * be the one canonical spelling of its fields.
 */
#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_policy(const char *in, size_t size)
{
	const vt_policy_site *s;
	vt_policy p;
	vt_buf b;
	int err;

	err = vt_policy_parse(&p, in, size);
	if (err != 0) {
		if ((err != VT_EINVAL && err != VT_ETOOBIG) || p.sites || p.regions)
			abort();
		return;
	}
	vt_buf_init(&b, size + 1);
	if (vt_policy_format(&b, &p) != 0 || b.len != size || memcmp(b.ptr, in, size) != 0)
		abort();
	for (size_t i = 0; i < p.nregions; i++)
		if (vt_policy_lookup(&s, &p, p.regions[i].region) != 0 ||
		    s != &p.sites[p.regions[i].site])
			abort();
	vt_buf_dispose(&b);
	vt_policy_dispose(&p);
}

static void check_entry(const char *in, size_t size)
{
	char hex[2 * VT_HASH_SIZE + 1], want[256];
	uint64_t version;
	vt_hash digest;
	int n;

	if (vt_policy_entry_parse(&version, &digest, in, size) != 0)
		return;
	vt_hex_encode(hex, digest.b, sizeof(digest.b));
	n = snprintf(want, sizeof(want), "vitrine/1 policy\nversion %llu\ndigest sha256:%s\n",
		     (unsigned long long)version, hex);
	if (n < 0 || (size_t)n != size || memcmp(want, in, size) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_policy((const char *)data, size);
	check_entry((const char *)data, size);
	return 0;
}
