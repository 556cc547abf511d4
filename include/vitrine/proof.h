/* SPDX-License-Identifier: Apache-2.0 */
/*
 * c2sp.org/tlog-proof: an offline-verifiable proof that an entry is in a
 * log (the receipt a client keeps), made of the entry's index, its
 * inclusion proof, optional opaque extra data and the signed checkpoint.
 *
 *	c2sp.org/tlog-proof@v1
 *	extra <base64>            (optional)
 *	index <decimal>
 *	<base64 hash>             (zero or more, leaf's sibling first)
 *
 *	<signed checkpoint note, verbatim>
 */
#ifndef VITRINE_PROOF_H
#define VITRINE_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/checkpoint.h"
#include "vitrine/hash.h"
#include "vitrine/merkle.h"
#include "vitrine/note.h"

#define VT_TLOG_PROOF_HEADER "c2sp.org/tlog-proof@v1"

/* Longest proof text accepted: the note limit plus the proof lines. */
#define VT_TLOG_PROOF_MAX_SIZE (2 * VT_NOTE_MAX_SIZE)

/*
 * A parsed, not yet verified, proof. Pointers go into the text given to
 * vt_tlog_proof_parse(), which must outlive the struct.
 */
typedef struct {
	uint64_t index;
	size_t n; /* hashes in proof */
	vt_hash proof[VT_MERKLE_MAX_PROOF];
	const char *extra; /* base64 of the extra data, NULL when absent; unauthenticated */
	size_t extra_len;
	const char *checkpoint; /* the signed checkpoint note */
	size_t checkpoint_len;
} vt_tlog_proof;

/*
 * Append a proof to out: the header, index, the n hashes of proof (at
 * most VT_MERKLE_MAX_PROOF), a blank line and the signed checkpoint note,
 * which must be a well-formed note whose text is a checkpoint. VT_EINVAL
 * otherwise, VT_ETOOBIG past out's limit; out is unchanged on failure.
 */
int vt_tlog_proof_format(vt_buf *out, uint64_t index, const vt_hash *proof, size_t n,
			 const char *signed_checkpoint, size_t cp_len);

/*
 * Like vt_tlog_proof_format() with an "extra" line carrying extra_len
 * bytes of opaque data (omitted when extra_len is 0).
 */
int vt_tlog_proof_format_extra(vt_buf *out, const void *extra, size_t extra_len, uint64_t index,
			       const vt_hash *proof, size_t n, const char *signed_checkpoint,
			       size_t cp_len);

/*
 * Parse a proof strictly: the exact header line; an optional
 * "extra <base64>" line with non-empty canonical base64; "index <n>" in
 * canonical decimal; at most VT_MERKLE_MAX_PROOF lines each the canonical
 * base64 of 32 bytes; one empty line; then a signed note (syntax only,
 * see vt_note_check()) whose text parses as a checkpoint and which runs
 * to the end of the input. Nothing is verified. 0, VT_EINVAL or
 * VT_ETOOBIG (input above VT_TLOG_PROOF_MAX_SIZE). Thread-safe.
 */
int vt_tlog_proof_parse(vt_tlog_proof *out, const char *text, size_t len);

/* Decode a parsed proof's extra data (nothing when absent) into out. */
int vt_tlog_proof_extra(vt_buf *out, const vt_tlog_proof *p);

/*
 * Verify a parsed proof for entry: open the checkpoint note with the
 * log's verifiers (at least one must have signed it; pass only the log's
 * keys here and check witness cosignatures with vt_note_open() on
 * p->checkpoint), parse the checkpoint into *out, hash the entry as a
 * leaf and check its inclusion at p->index. The caller should compare
 * out->origin with the log it expects, or use vt_tlog_proof_verify_origin().
 * 0; VT_EVERIFY for a bad signature or an entry not proven; VT_EINVAL for
 * a malformed checkpoint, an index outside the tree or a proof of the
 * wrong length. out->ext points into p's text. Thread-safe.
 */
int vt_tlog_proof_verify(vt_checkpoint *out, const vt_tlog_proof *p, const void *entry, size_t len,
			 vt_note_verifier *const *verifiers, size_t nverifiers);

/*
 * Like vt_tlog_proof_verify(), and also require the checkpoint's origin
 * to equal origin when it is not NULL (VT_EVERIFY otherwise), and fill
 * *note (when not NULL) with the opened note for further policy checks.
 */
int vt_tlog_proof_verify_origin(vt_checkpoint *out, vt_note *note, const vt_tlog_proof *p,
				const char *origin, const void *entry, size_t len,
				vt_note_verifier *const *verifiers, size_t nverifiers);

#endif
