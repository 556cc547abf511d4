/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for signed notes and checkpoints. The first line of the
 * input is parsed as a verifier key; the rest is opened as a signed note
 * with a fixed key (the golang.org/x/mod/sumdb/note example key, so that
 * seeds can carry real signatures) and with the parsed key, and the
 * note's text is parsed as a checkpoint. Strict parsers must round-trip:
 * an accepted key or checkpoint formats back to the same bytes.
 */
#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/error.h"
#include "vitrine/note.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"

static vt_note_verifier *fixed;

static void check_checkpoint(const char *text, size_t len)
{
	vt_checkpoint c;
	vt_buf b;

	if (vt_checkpoint_parse(&c, text, len) != 0)
		return;
	vt_buf_init(&b, len + 1);
	if (vt_checkpoint_format(&b, &c) != 0 || b.len != len || memcmp(b.ptr, text, len) != 0)
		abort();
	vt_buf_dispose(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data, *nl, *msg;
	vt_note_verifier *parsed = NULL, *verifiers[2];
	size_t line_len, len, nverifiers = 0, text_len = 0;
	vt_note note;
	vt_buf b;
	int err, check;

	if (!fixed && vt_note_verifier_parse(&fixed, FIXED_VKEY, strlen(FIXED_VKEY)) != 0)
		abort(); /* the fixed key is valid: the harness cannot work without it */
	verifiers[nverifiers++] = fixed;

	nl = memchr(in, '\n', size);
	line_len = nl ? (size_t)(nl - in) : size;
	if (vt_note_verifier_parse(&parsed, in, line_len) == 0) {
		vt_buf_init(&b, line_len + 1);
		if (vt_note_verifier_vkey(&b, parsed) != 0 || b.len != line_len ||
		    memcmp(b.ptr, in, line_len) != 0)
			abort();
		vt_buf_dispose(&b);
		verifiers[nverifiers++] = parsed;
	}
	msg = nl ? nl + 1 : in + size;
	len = nl ? size - line_len - 1 : 0;

	check = vt_note_check(&text_len, msg, len);
	err = vt_note_open(&note, msg, len, verifiers, nverifiers);
	if (err == 0) {
		/* An opened note passed every syntax rule, and its text is ours. */
		if (check != 0 || note.nsigs < 1 || note.text != msg || note.text_len != text_len)
			abort();
	} else if (err != VT_EINVAL && err != VT_EVERIFY && err != VT_ETOOBIG) {
		abort();
	}
	if (check == 0)
		check_checkpoint(msg, text_len);
	else
		check_checkpoint(msg, len);
	vt_note_verifier_free(parsed);
	return 0;
}
