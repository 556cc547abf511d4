/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 from OpenSSL. The one-shot functions hash log entries and tree
 * nodes, millions a second: there OpenSSL's low-level SHA256_* interface
 * is used while OpenSSL still ships it, since EVP_DigestInit_ex2() frees
 * and reallocates its state on every call and so halves the rate
 * (measured: 4.3M against 8.7M 100-byte leaves/s on one core). Streams
 * use EVP. Without the low-level API the one-shot path falls back to EVP
 * with one context per thread.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "vitrine/hash.h"
#include "vitrine/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdlib.h>

struct vt_sha256_ctx {
	EVP_MD_CTX *ctx;
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void init_once(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

#ifdef OPENSSL_NO_DEPRECATED_3_0
static pthread_key_t tls_key;
static pthread_once_t tls_once = PTHREAD_ONCE_INIT;
static _Thread_local EVP_MD_CTX *tls_ctx;

static void free_tls(void *p)
{
	EVP_MD_CTX_free(p);
}

static void init_tls(void)
{
	pthread_key_create(&tls_key, free_tls);
}

static EVP_MD_CTX *thread_ctx(void)
{
	pthread_once(&sha256_once, init_once);
	pthread_once(&tls_once, init_tls);
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
#endif

int vt_sha256_v(vt_hash *out, const void *const *parts, const size_t *lens, size_t n)
{
#ifndef OPENSSL_NO_DEPRECATED_3_0
	SHA256_CTX sc;
	SHA256_Init(&sc);
	for (size_t i = 0; i < n; i++)
		SHA256_Update(&sc, parts[i], lens[i]);
	SHA256_Final(out->b, &sc);
	return 0;
#else
	EVP_MD_CTX *c = thread_ctx();
	unsigned int len;

	if (!c || !EVP_DigestInit_ex2(c, sha256_md, NULL))
		return vt_error_set(VT_ENOMEM, "cannot set up SHA-256");
	for (size_t i = 0; i < n; i++)
		EVP_DigestUpdate(c, parts[i], lens[i]);
	EVP_DigestFinal_ex(c, out->b, &len);
	return 0;
#endif
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
