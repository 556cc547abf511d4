/* SPDX-License-Identifier: Apache-2.0 */
/* Ed25519 through OpenSSL's raw-key EVP_PKEY interface. */
#include "vitrine/ed25519.h"
#include "vitrine/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

int vt_ed25519_from_seed(vt_ed25519_key *out, const uint8_t seed[VT_ED25519_SEED_SIZE])
{
	EVP_PKEY *pk;
	size_t publen = VT_ED25519_PUB_SIZE;
	int err = 0;

	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, VT_ED25519_SEED_SIZE);
	if (!pk)
		return vt_error_set(VT_EINVAL, "invalid Ed25519 seed");
	if (!EVP_PKEY_get_raw_public_key(pk, out->pub, &publen) || publen != VT_ED25519_PUB_SIZE)
		err = vt_error_set(VT_EINVAL, "cannot derive Ed25519 public key");
	else
		memcpy(out->seed, seed, VT_ED25519_SEED_SIZE);
	EVP_PKEY_free(pk);
	return err;
}

int vt_ed25519_generate(vt_ed25519_key *out)
{
	uint8_t seed[VT_ED25519_SEED_SIZE];
	int err;
	if (RAND_bytes(seed, sizeof(seed)) != 1)
		return vt_error_set(VT_EIO, "no random bytes for a new key");
	err = vt_ed25519_from_seed(out, seed);
	OPENSSL_cleanse(seed, sizeof(seed));
	return err;
}

int vt_ed25519_sign(uint8_t sig[VT_ED25519_SIG_SIZE], const vt_ed25519_key *key,
		    const void *msg, size_t len)
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;
	size_t siglen = VT_ED25519_SIG_SIZE;
	int err = 0;

	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, key->seed, VT_ED25519_SEED_SIZE);
	md = EVP_MD_CTX_new();
	if (!pk || !md) {
		err = vt_error_set(VT_ENOMEM, "cannot set up Ed25519 signing");
		goto done;
	}
	if (EVP_DigestSignInit(md, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestSign(md, sig, &siglen, msg, len) != 1 || siglen != VT_ED25519_SIG_SIZE)
		err = vt_error_set(VT_EINVAL, "Ed25519 signing failed");
done:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return err;
}

int vt_ed25519_verify(const uint8_t pub[VT_ED25519_PUB_SIZE],
		      const uint8_t sig[VT_ED25519_SIG_SIZE], const void *msg, size_t len)
{
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *md = NULL;
	int err = 0;

	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, VT_ED25519_PUB_SIZE);
	if (!pk) {
		err = vt_error_set(VT_EVERIFY, "invalid Ed25519 public key");
		goto done;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		err = vt_error_set(VT_ENOMEM, "cannot set up Ed25519 verification");
		goto done;
	}
	if (EVP_DigestVerifyInit(md, NULL, NULL, NULL, pk) != 1 ||
	    EVP_DigestVerify(md, sig, VT_ED25519_SIG_SIZE, msg, len) != 1)
		err = vt_error_set(VT_EVERIFY, "Ed25519 signature does not verify");
done:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	return err;
}

void vt_ed25519_wipe(vt_ed25519_key *key)
{
	OPENSSL_cleanse(key->seed, sizeof(key->seed));
}
