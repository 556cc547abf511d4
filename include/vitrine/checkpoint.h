/* SPDX-License-Identifier: Apache-2.0 */
/* c2sp.org/tlog-checkpoint bodies: origin, size, root, extension lines. */
#ifndef VITRINE_CHECKPOINT_H
#define VITRINE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"

#define VT_ORIGIN_MAX 255

typedef struct {
	char origin[VT_ORIGIN_MAX + 1];
	uint64_t size;
	vt_hash root;
	const char *ext; /* extension lines, each ending in '\n'; borrowed */
	size_t ext_len;
} vt_checkpoint;

/*
 * Parse a checkpoint body (the text of a signed note): the origin line
 * (non-empty), the decimal tree size (canonical, no leading zeros), the
 * base64 root hash (32 bytes), then optional non-empty extension lines.
 * Every line ends in '\n'. VT_EINVAL with a reason otherwise. ext points
 * into text, which must outlive *out.
 */
int vt_checkpoint_parse(vt_checkpoint *out, const char *text, size_t len);

/* Append the body of c to out. VT_EINVAL for an empty or bad origin. */
int vt_checkpoint_format(vt_buf *out, const vt_checkpoint *c);

/*
 * An origin line must be non-empty, at most VT_ORIGIN_MAX bytes, UTF-8
 * without control characters. 0 or VT_EINVAL.
 */
int vt_checkpoint_check_origin(const char *origin, size_t len);

#endif
