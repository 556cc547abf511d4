/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 signing and verification (OpenSSL), on raw 32-byte keys. */
#ifndef VITRINE_ED25519_H
#define VITRINE_ED25519_H

#include <stddef.h>
#include <stdint.h>

#define VT_ED25519_SEED_SIZE 32
#define VT_ED25519_PUB_SIZE 32
#define VT_ED25519_SIG_SIZE 64

/* A private key: its 32-byte seed and the matching public key. */
typedef struct {
	uint8_t seed[VT_ED25519_SEED_SIZE];
	uint8_t pub[VT_ED25519_PUB_SIZE];
} vt_ed25519_key;

/* Generate a fresh key from the OS random source. VT_EIO on failure. */
int vt_ed25519_generate(vt_ed25519_key *out);

/* Derive the public half from a seed. VT_EINVAL when OpenSSL refuses. */
int vt_ed25519_from_seed(vt_ed25519_key *out, const uint8_t seed[VT_ED25519_SEED_SIZE]);

/* Sign msg (pure Ed25519, RFC 8032). Thread-safe. */
int vt_ed25519_sign(uint8_t sig[VT_ED25519_SIG_SIZE], const vt_ed25519_key *key,
		    const void *msg, size_t len);

/* 0 when sig is a valid signature of msg under pub, VT_EVERIFY if not. */
int vt_ed25519_verify(const uint8_t pub[VT_ED25519_PUB_SIZE],
		      const uint8_t sig[VT_ED25519_SIG_SIZE], const void *msg, size_t len);

/* Overwrite a key's seed with zeros (OPENSSL_cleanse). */
void vt_ed25519_wipe(vt_ed25519_key *key);

#endif
