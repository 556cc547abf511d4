/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for c2sp.org/tlog-proof: whatever vt_tlog_proof_parse()
 * accepts must format back to the same bytes, and is then verified with
 * a fixed log key (the golang.org/x/mod/sumdb/note example key, so that
 * seeds can carry real signatures) for the entry carried in its "extra"
 * line, or a fixed entry when there is none.
 */
#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/error.h"
#include "vitrine/note.h"
#include "vitrine/proof.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_VKEY  "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define FIXED_ENTRY "vitrine/1 fuzz\n"

static vt_note_verifier *fixed;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_tlog_proof *p = NULL; /* large: keep it off the fuzzer's stack */
	vt_checkpoint c;
	vt_buf extra, again;
	const void *entry = FIXED_ENTRY;
	size_t entry_len = strlen(FIXED_ENTRY);
	int err;

	if (!fixed && vt_note_verifier_parse(&fixed, FIXED_VKEY, strlen(FIXED_VKEY)) != 0)
		abort();
	vt_buf_init(&extra, size + 1);
	vt_buf_init(&again, size + 1);
	if ((p = malloc(sizeof(*p))) == NULL)
		goto done;
	err = vt_tlog_proof_parse(p, (const char *)data, size);
	if (err != 0) {
		if (err != VT_EINVAL && err != VT_ETOOBIG)
			abort();
		goto done;
	}
	if (vt_tlog_proof_extra(&extra, p) != 0 || (p->extra != NULL) != (extra.len > 0))
		abort();
	if (vt_tlog_proof_format_extra(&again, extra.ptr, extra.len, p->index, p->proof, p->n,
				       p->checkpoint, p->checkpoint_len) != 0 ||
	    again.len != size || memcmp(again.ptr, data, size) != 0)
		abort();
	if (extra.len > 0) {
		entry = extra.ptr;
		entry_len = extra.len;
	}
	err = vt_tlog_proof_verify(&c, p, entry, entry_len, &fixed, 1);
	if (err != 0 && err != VT_EVERIFY && err != VT_EINVAL)
		abort();
done:
	free(p);
	vt_buf_dispose(&extra);
	vt_buf_dispose(&again);
	return 0;
}
