/* SPDX-License-Identifier: Apache-2.0 */
/* DSSE (Dead Simple Signing Envelope) v1 with Ed25519: PAE, signing, strict verification. */
#ifndef VITRINE_DSSE_H
#define VITRINE_DSSE_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/ed25519.h"

#define VT_DSSE_INTOTO_TYPE "application/vnd.in-toto+json"
#define VT_DSSE_MAX_SIZE    (16 << 20) /* envelopes above this are refused */
#define VT_DSSE_KEYID_LEN   64	       /* hex SHA-256 of the raw public key */

/* A signing key and its DSSE key id. Plain value; wipe it when done. */
typedef struct {
	vt_ed25519_key key;
	char keyid[VT_DSSE_KEYID_LEN + 1];
} vt_dsse_signer;

/*
 * Append the DSSE v1 pre-authentication encoding of (type, body) to out:
 * "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in ASCII
 * decimal without leading zeros. VT_ETOOBIG, VT_ENOMEM.
 */
int vt_dsse_pae(vt_buf *out, const char *type, const void *body, size_t len);

/* The key id vitrine gives a key: lower-case hex SHA-256 of the 32-byte public key. */
int vt_dsse_keyid(char out[VT_DSSE_KEYID_LEN + 1], const uint8_t pub[VT_ED25519_PUB_SIZE]);

/*
 * Make a signer from a signed-note private key string
 * ("PRIVATE+KEY+name+hexid+base64", as `vitrine key generate` writes;
 * type 0x01 only). The string is checked by vt_note_signer_parse() first.
 * VT_EINVAL. Wipe the result with vt_dsse_signer_wipe().
 */
int vt_dsse_signer_from_note(vt_dsse_signer *out, const char *skey, size_t len);

/* Overwrite the private half of a signer. */
void vt_dsse_signer_wipe(vt_dsse_signer *s);

/*
 * Sign payload as type and append the envelope, compact JSON in the key
 * order payload, payloadType, signatures ([{keyid, sig}]), no newline.
 * VT_EINVAL (type not UTF-8), VT_ETOOBIG, VT_ENOMEM. Thread-safe.
 */
int vt_dsse_sign(vt_buf *out, const vt_dsse_signer *s, const char *type, const void *payload,
		 size_t len);

/*
 * Verify an envelope strictly and append its payload to out: the JSON
 * must be one object with exactly the members payload, payloadType and
 * signatures (no duplicates, nothing after it but white space);
 * payloadType must equal type; payload and every sig must be canonical
 * padded standard base64; signatures a non-empty array of objects with
 * sig and an optional string keyid, nothing else. It verifies when at
 * least one signature is a valid Ed25519 signature of the PAE under pub
 * (key ids are hints and do not decide). VT_EINVAL for a malformed
 * envelope, VT_EVERIFY when no signature by pub verifies, VT_ETOOBIG.
 * out is unchanged on failure. Thread-safe.
 */
int vt_dsse_verify(vt_buf *out, const char *env, size_t len, const char *type,
		   const uint8_t pub[VT_ED25519_PUB_SIZE]);

#endif
