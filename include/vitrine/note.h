/* SPDX-License-Identifier: Apache-2.0 */
/*
 * c2sp.org/signed-note: keys, signing and strict verification, including
 * c2sp.org/tlog-cosignature (cosignature/v1) signatures.
 */
#ifndef VITRINE_NOTE_H
#define VITRINE_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"

#define VT_NOTE_MAX_SIGS 100 /* more signature lines than this: rejected */
#define VT_NOTE_MAX_SIZE (1 << 20)

/* Key types: the first byte of the encoded key. */
enum {
	VT_NOTE_ED25519 = 0x01, /* plain Ed25519 signed-note signature */
	VT_NOTE_COSIG = 0x04,	/* cosignature/v1: timestamp + Ed25519 */
};

/* A private key that signs notes. Immutable once made; thread-safe. */
typedef struct vt_note_signer vt_note_signer;

/* A public key that checks notes. Immutable once made; thread-safe. */
typedef struct vt_note_verifier vt_note_verifier;

/*
 * Parse "PRIVATE+KEY+<name>+<hexid>+<base64(type||seed)>" (the Go
 * golang.org/x/mod/sumdb/note form; type 0x01, or 0x04 for a cosigner).
 * The key id must match the one computed from name and public key.
 * VT_EINVAL with a reason otherwise. Free with vt_note_signer_free().
 *
 * Cosigner private keys (type 0x04) are a vitrine convention, not part of
 * any spec: the same form as Go's with type byte 0x04 before the 32-byte
 * Ed25519 seed, and the key id computed with type 0x04, so that the
 * matching verifier key is the c2sp.org/tlog-cosignature vkey.
 */
int vt_note_signer_parse(vt_note_signer **out, const char *skey, size_t len);

/*
 * Make a new key of the given type (VT_NOTE_ED25519 or VT_NOTE_COSIG)
 * from the OS random source. VT_EINVAL for a bad name or type, VT_EIO.
 */
int vt_note_signer_generate(vt_note_signer **out, const char *name, int type);

/* Append the private key string (PRIVATE+KEY+...) to out. */
int vt_note_signer_skey(vt_buf *out, const vt_note_signer *s);

/* Append the verifier key string "<name>+<hexid>+<base64(type||pub)>". */
int vt_note_signer_vkey(vt_buf *out, const vt_note_signer *s);

/* The key name (borrowed), key id and type. */
const char *vt_note_signer_name(const vt_note_signer *s);
uint32_t vt_note_signer_id(const vt_note_signer *s);
int vt_note_signer_type(const vt_note_signer *s);

/* Wipe the private key and free s (NULL is fine). */
void vt_note_signer_free(vt_note_signer *s);

/* The verifier of a signer's signatures (free with vt_note_verifier_free). */
int vt_note_signer_verifier(vt_note_verifier **out, const vt_note_signer *s);

/*
 * Parse "<name>+<hexid>+<base64(type||pub)>": the name is non-empty with
 * no '+', whitespace or control character; hexid is 8 lower-case hex
 * digits and must equal the key id computed from name, type and key.
 * Types 0x01 and 0x04 are known; others are VT_EINVAL.
 */
int vt_note_verifier_parse(vt_note_verifier **out, const char *vkey, size_t len);

/*
 * Make a verifier from a raw Ed25519 public key (as configured for a
 * witness, say). VT_EINVAL for a bad name or an unknown type.
 */
int vt_note_verifier_new(vt_note_verifier **out, const char *name, int type, const uint8_t pub[32]);

/* Append the verifier key string "<name>+<hexid>+<base64(type||pub)>". */
int vt_note_verifier_vkey(vt_buf *out, const vt_note_verifier *v);

/* The key name (borrowed), key id, type and 32-byte public key (borrowed). */
const char *vt_note_verifier_name(const vt_note_verifier *v);
uint32_t vt_note_verifier_id(const vt_note_verifier *v);
int vt_note_verifier_type(const vt_note_verifier *v);
const uint8_t *vt_note_verifier_pub(const vt_note_verifier *v);

/* Free v (NULL is fine). */
void vt_note_verifier_free(vt_note_verifier *v);

/*
 * The key id of a key: the first 4 bytes, big-endian, of
 * SHA-256(name || "\n" || type || pub).
 */
uint32_t vt_note_key_id(const char *name, int type, const uint8_t pub[32]);

/*
 * 0 when s is valid UTF-8 (no overlong forms, surrogates or code points
 * above U+10FFFF) without ASCII control characters (below U+0020) other
 * than newline, as signed-note requires of a whole note; else VT_EINVAL.
 */
int vt_note_check_chars(const char *s, size_t len);

/*
 * 0 when text can be signed: non-empty, ending in a newline, at most
 * VT_NOTE_MAX_SIZE bytes (VT_ETOOBIG), and vt_note_check_chars(). Else
 * VT_EINVAL.
 */
int vt_note_check_text(const char *text, size_t len);

/*
 * Check the syntax of a signed note by every rule of vt_note_open() but
 * without verifying any signature, and write the length of its text to
 * *text_len (may be NULL). 0, VT_EINVAL or VT_ETOOBIG. Thread-safe.
 */
int vt_note_check(size_t *text_len, const char *msg, size_t len);

/*
 * Sign text (which must be valid note text: non-empty, UTF-8, no control
 * characters but newline, ending in a newline) with each signer (1 to
 * VT_NOTE_MAX_SIGS of them) and append the whole note to out. Cosigners
 * sign with the current time, time(NULL). VT_EINVAL for bad text,
 * VT_ETOOBIG when the note would exceed VT_NOTE_MAX_SIZE or out's limit;
 * out is unchanged on failure.
 */
int vt_note_sign(vt_buf *out, const char *text, size_t len, vt_note_signer *const *signers,
		 size_t nsigners);

/* One signature that verified. */
typedef struct {
	const vt_note_verifier *by;
	uint64_t timestamp; /* cosignatures only, else 0 */
} vt_note_sig;

/* The result of opening a note; text points into the caller's message. */
typedef struct {
	const char *text; /* the signed text, ending in '\n' */
	size_t text_len;
	size_t nsigs; /* signatures that verified, in note order */
	vt_note_sig sigs[VT_NOTE_MAX_SIGS];
	size_t nunknown; /* well-formed signatures by keys not given */
} vt_note;

/*
 * Parse and verify a signed note strictly: the last blank line separates
 * text from signatures; every signature line is "— <name> <base64>" with
 * at most VT_NOTE_MAX_SIGS of them; text and signatures are UTF-8 with no
 * control character but newline. Signatures by keys not among verifiers
 * are ignored; one by a known key (same name and id) that does not verify
 * rejects the note. Returns 0 with *out filled when at least one known key
 * signed; VT_EINVAL for malformed notes; VT_EVERIFY when a known
 * signature fails or no known key signed. The note must outlive *out.
 *
 * Details: a signature must decode (canonical base64) to a key id and at
 * least one byte; a key that signed twice appears once in sigs (every
 * copy must verify); nunknown counts every line by an unknown key, copies
 * included; two verifiers with the same name and id that match a line
 * are VT_EINVAL (ambiguous); a cosignature with a timestamp above 2^63-1
 * does not verify. Notes longer than VT_NOTE_MAX_SIZE are VT_ETOOBIG. On
 * failure *out is zeroed. Thread-safe.
 */
int vt_note_open(vt_note *out, const char *msg, size_t len, vt_note_verifier *const *verifiers,
		 size_t nverifiers);

/*
 * c2sp.org/tlog-cosignature: the signed message for a checkpoint body is
 * "cosignature/v1\ntime <timestamp>\n" followed by the body, and the
 * signature bytes are the 8-byte big-endian timestamp then the Ed25519
 * signature. Appends the signature line "— <name> <base64>\n" to out.
 * The signer must be of type VT_NOTE_COSIG, the body valid note text and
 * the timestamp at most 2^63-1. VT_EINVAL otherwise; out is unchanged on
 * failure.
 */
int vt_cosig_sign(vt_buf *out, const vt_note_signer *s, const char *body, size_t len,
		  uint64_t timestamp);

#endif
