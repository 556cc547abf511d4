/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Offline inclusion proofs in the c2sp.org/tlog-proof text format.
 *
 * Parsing checks syntax only (the note's signatures need the caller's
 * keys) but checks all of it, including that the embedded note is a
 * well-formed signed checkpoint reaching exactly to the end of the input,
 * so a parsed proof can only fail verification for cryptographic or
 * policy reasons. The proof's hashes are copied out; everything else
 * stays in the caller's text.
 */
#include "vitrine/proof.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <inttypes.h>
#include <string.h>

#define HASH_B64_LEN VT_BASE64_LEN(VT_HASH_SIZE)

/* A signed note whose text is a checkpoint body. */
static int check_signed_checkpoint(const char *note, size_t len)
{
	vt_checkpoint cp;
	size_t text_len;
	int err;

	if ((err = vt_note_check(&text_len, note, len)) < 0)
		goto done;
	err = vt_checkpoint_parse(&cp, note, text_len);
done:
	if (err < 0)
		vt_error_wrap(err, "proof checkpoint");
	return err;
}

int vt_tlog_proof_format_extra(vt_buf *out, const void *extra, size_t extra_len, uint64_t index,
			       const vt_hash *proof, size_t n, const char *signed_checkpoint,
			       size_t cp_len)
{
	size_t start = out->len;
	int err;

	if (n > VT_MERKLE_MAX_PROOF) {
		err = vt_error_set(VT_EINVAL, "proof longer than %d hashes", VT_MERKLE_MAX_PROOF);
		goto done;
	}
	if ((err = check_signed_checkpoint(signed_checkpoint, cp_len)) < 0)
		goto done;
	if ((err = vt_buf_adds(out, VT_TLOG_PROOF_HEADER "\n")) < 0)
		goto done;
	if (extra_len > 0) {
		if ((err = vt_buf_adds(out, "extra ")) < 0 ||
		    (err = vt_base64_append(out, extra, extra_len)) < 0 ||
		    (err = vt_buf_addc(out, '\n')) < 0)
			goto done;
	}
	if ((err = vt_buf_printf(out, "index %" PRIu64 "\n", index)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++)
		if ((err = vt_base64_append(out, proof[i].b, VT_HASH_SIZE)) < 0 ||
		    (err = vt_buf_addc(out, '\n')) < 0)
			goto done;
	if ((err = vt_buf_addc(out, '\n')) < 0)
		goto done;
	err = vt_buf_add(out, signed_checkpoint, cp_len);
done:
	if (err < 0 && out->len != start) {
		out->len = start;
		out->ptr[start] = 0;
	}
	return err;
}

int vt_tlog_proof_format(vt_buf *out, uint64_t index, const vt_hash *proof, size_t n,
			 const char *signed_checkpoint, size_t cp_len)
{
	return vt_tlog_proof_format_extra(out, NULL, 0, index, proof, n, signed_checkpoint, cp_len);
}

/* Take the next line (without '\n'); VT_EINVAL if the text ends first. */
static int next_line(const char **line, size_t *len, const char **p, const char *end)
{
	const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;

	if (!nl)
		return vt_error_set(VT_EINVAL, "proof ends before its checkpoint");
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

static int has_prefix(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(line, prefix, n) == 0;
}

/* The extra data must be non-empty canonical base64. */
static int check_extra(const char *b64, size_t len)
{
	vt_buf tmp;
	int err = 0;

	vt_buf_init(&tmp, len);
	if (len == 0 || vt_base64_decode(&tmp, b64, len) < 0)
		err = vt_error_set(VT_EINVAL, "extra line must carry non-empty base64 data");
	vt_buf_dispose(&tmp);
	return err;
}

int vt_tlog_proof_parse(vt_tlog_proof *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *line = NULL;
	size_t n = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (len > VT_TLOG_PROOF_MAX_SIZE) {
		err =
		    vt_error_set(VT_ETOOBIG, "proof longer than %d bytes", VT_TLOG_PROOF_MAX_SIZE);
		goto done;
	}
	if ((err = next_line(&line, &n, &p, end)) < 0)
		goto done;
	if (n != strlen(VT_TLOG_PROOF_HEADER) || memcmp(line, VT_TLOG_PROOF_HEADER, n) != 0) {
		err = vt_error_set(VT_EINVAL, "first line is not " VT_TLOG_PROOF_HEADER);
		goto done;
	}
	if ((err = next_line(&line, &n, &p, end)) < 0)
		goto done;
	if (has_prefix(line, n, "extra ")) {
		out->extra = line + 6;
		out->extra_len = n - 6;
		if ((err = check_extra(out->extra, out->extra_len)) < 0)
			goto done;
		if ((err = next_line(&line, &n, &p, end)) < 0)
			goto done;
	}
	if (!has_prefix(line, n, "index ")) {
		err = vt_error_set(VT_EINVAL, "expected an index line");
		goto done;
	}
	if ((err = vt_parse_u64(&out->index, line + 6, n - 6)) < 0) {
		vt_error_wrap(err, "index");
		goto done;
	}
	for (;;) {
		if ((err = next_line(&line, &n, &p, end)) < 0)
			goto done;
		if (n == 0)
			break;
		if (out->n == VT_MERKLE_MAX_PROOF) {
			err = vt_error_set(VT_EINVAL, "proof longer than %d hashes",
					   VT_MERKLE_MAX_PROOF);
			goto done;
		}
		if (n != HASH_B64_LEN ||
		    vt_base64_decode_exact(out->proof[out->n].b, VT_HASH_SIZE, line, n) < 0) {
			err = vt_error_set(VT_EINVAL, "proof hash %zu is not base64 of 32 bytes",
					   out->n);
			goto done;
		}
		out->n++;
	}
	out->checkpoint = p;
	out->checkpoint_len = (size_t)(end - p);
	err = check_signed_checkpoint(out->checkpoint, out->checkpoint_len);
done:
	if (err < 0) {
		memset(out, 0, sizeof(*out));
		vt_error_wrap(err, "tlog-proof");
	}
	return err;
}

int vt_tlog_proof_extra(vt_buf *out, const vt_tlog_proof *p)
{
	if (!p->extra)
		return 0;
	return vt_base64_decode(out, p->extra, p->extra_len);
}

int vt_tlog_proof_verify_origin(vt_checkpoint *out, vt_note *note, const vt_tlog_proof *p,
				const char *origin, const void *entry, size_t len,
				vt_note_verifier *const *verifiers, size_t nverifiers)
{
	vt_note opened;
	vt_hash leaf;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = vt_note_open(&opened, p->checkpoint, p->checkpoint_len, verifiers, nverifiers)) <
	    0)
		goto done;
	if ((err = vt_checkpoint_parse(out, opened.text, opened.text_len)) < 0)
		goto done;
	if (origin && strcmp(origin, out->origin) != 0) {
		err = vt_error_set(VT_EVERIFY, "checkpoint is for log \"%s\", not \"%s\"",
				   out->origin, origin);
		goto done;
	}
	if ((err = vt_merkle_leaf_hash(&leaf, entry, len)) < 0)
		goto done;
	err = vt_merkle_verify_inclusion(&leaf, p->index, out->size, p->proof, p->n, &out->root);
	if (err < 0)
		vt_error_wrap(err, "entry %" PRIu64 " in tree of size %" PRIu64, p->index,
			      out->size);
	else if (note)
		*note = opened;
done:
	if (err < 0) {
		memset(out, 0, sizeof(*out));
		vt_error_wrap(err, "tlog-proof");
	}
	return err;
}

int vt_tlog_proof_verify(vt_checkpoint *out, const vt_tlog_proof *p, const void *entry, size_t len,
			 vt_note_verifier *const *verifiers, size_t nverifiers)
{
	return vt_tlog_proof_verify_origin(out, NULL, p, NULL, entry, len, verifiers, nverifiers);
}
