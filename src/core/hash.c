/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 through OpenSSL's EVP interface. The algorithm is fetched once
 * and each thread keeps one context: creating a context per digest costs
 * more than hashing a 100-byte log entry.
 */
#include "vitrine/hash.h"
#include "vitrine/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>

struct vt_sha256_ctx {
	EVP_MD_CTX *ctx;
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;
static pthread_key_t tls_key;
static _Thread_local EVP_MD_CTX *tls_ctx;

static void free_tls(void *p)
{
	EVP_MD_CTX_free(p);
}

static void init_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
	pthread_key_create(&tls_key, free_tls);
}

static EVP_MD_CTX *thread_ctx(void)
{
	pthread_once(&sha256_once, init_once);
	if (!sha256_md)
		return NULL;
	if (!tls_ctx) {
		tls_ctx = EVP_MD_CTX_new();
		/* The key's destructor frees the context when the thread ends. */
		if (tls_ctx)
			pthread_setspecific(tls_key, tls_ctx);
	}
	return tls_ctx;
}

int vt_sha256_v(vt_hash *out, const void *const *parts, const size_t *lens, size_t n)
{
	EVP_MD_CTX *c = thread_ctx();
	unsigned int len;

	if (!c || !EVP_DigestInit_ex2(c, sha256_md, NULL))
		return vt_error_set(VT_ENOMEM, "cannot set up SHA-256");
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(c, parts[i], lens[i]);
	EVP_DigestFinal_ex(c, out->b, &len);
	return 0;
}

int vt_sha256(vt_hash *out, const void *data, size_t len)
{
	return vt_sha256_v(out, &data, &len, 1);
}

int vt_sha256_new(vt_sha256_ctx **out)
{
	vt_sha256_ctx *c;
	pthread_once(&sha256_once, init_once);
	if (!sha256_md || (c = calloc(1, sizeof(*c))) == NULL)
		return vt_error_set(VT_ENOMEM, "cannot set up SHA-256");
	if ((c->ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex2(c->ctx, sha256_md, NULL)) {
		vt_sha256_free(c);
		return vt_error_set(VT_ENOMEM, "cannot set up SHA-256");
	}
	*out = c;
	return 0;
}

int vt_sha256_update(vt_sha256_ctx *c, const void *data, size_t len)
{
	if (!EVP_DigestUpdate(c->ctx, data, len))
		return vt_error_set(VT_ENOMEM, "SHA-256 update failed");
	return 0;
}

int vt_sha256_final(vt_hash *out, vt_sha256_ctx *c)
{
	unsigned int len;
	if (!EVP_DigestFinal_ex(c->ctx, out->b, &len) ||
	    !EVP_DigestInit_ex2(c->ctx, sha256_md, NULL))
		return vt_error_set(VT_ENOMEM, "SHA-256 final failed");
	return 0;
}

void vt_sha256_free(vt_sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->ctx);
	free(c);
}

int vt_hash_equal(const vt_hash *a, const vt_hash *b)
{
	return CRYPTO_memcmp(a->b, b->b, VT_HASH_SIZE) == 0;
}
