/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The vault: customer files stored by the SHA-256 of their plaintext,
 * encrypted at rest (format in docs/vault.md).
 *
 * Each object has its own random data key. Its plaintext is sealed with
 * AES-256-GCM in chunks of VT_VAULT_CHUNK bytes; chunk i uses the nonce
 * BE64(i) || 00 00 00 || final and the associated data jurisdiction ||
 * BE64(i) || final, so chunks cannot be moved, dropped, duplicated or
 * appended, and the file cannot be cut at a chunk boundary, without a
 * tag failing. The object id is only known once the last byte has been
 * hashed, after the chunks were written, so it is bound through the data
 * key instead: the key is wrapped (AES-256-GCM under the KEK, random
 * nonce) with the header and the object id as associated data, and a
 * key that unwraps under one name opens nothing under another. Readers
 * also check at the end that the plaintext hashes to the id.
 *
 * Invariants: a file under vault/xx/ is only ever created complete (a
 * temporary file in vault/tmp/, fsynced, then linked to its name, and
 * the directory fsynced); objects are immutable except that shredding
 * zeroes the wrapped key and cuts the chunks off. OpenSSL's error codes
 * stop here: callers see VT_E* codes only.
 */
#include "vitrine/vault.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC	   "VTVAULT\0"
#define MAGIC_LEN  8
#define VERSION	   1
#define TAG_LEN	   16
#define NONCE_LEN  12
#define KEY_LEN	   32
#define KEK_ID_LEN 8
/* magic, version, header length, chunk size, KEK id, jurisdiction length */
#define FIXED_LEN  (MAGIC_LEN + 2 + 2 + 4 + KEK_ID_LEN + 1)
#define WRAP_LEN   (NONCE_LEN + KEY_LEN + TAG_LEN)
#define HEADER_MAX (FIXED_LEN + VT_VAULT_JURISDICTION_MAX + WRAP_LEN)
/* jurisdiction length, jurisdiction, chunk index, final flag */
#define CHUNK_AAD_MAX (1 + VT_VAULT_JURISDICTION_MAX + 8 + 1)

struct vt_vault {
	int dirfd; /* DIR/vault */
	uint8_t kek[VT_VAULT_KEK_SIZE];
	uint8_t kek_id[KEK_ID_LEN];
};

/* A parsed object header; raw keeps its bytes for the wrap's AAD. */
typedef struct {
	uint8_t raw[HEADER_MAX];
	size_t len;
	uint32_t chunk;
	uint8_t kek_id[KEK_ID_LEN];
	char jur[VT_VAULT_JURISDICTION_MAX + 1];
	size_t jlen;
	const uint8_t *wrap; /* into raw: nonce, wrapped key, tag */
} header;

struct vt_vault_writer {
	vt_vault *v;
	int fd;
	char tmp[64]; /* relative to the vault directory */
	char jur[VT_VAULT_JURISDICTION_MAX + 1];
	size_t jlen;
	size_t hlen;
	uint8_t key[KEY_LEN];
	EVP_CIPHER_CTX *cx;
	vt_sha256_ctx *sha;
	uint8_t *pt; /* VT_VAULT_CHUNK plaintext bytes waiting to be sealed */
	size_t ptlen;
	uint8_t *ct; /* one sealed chunk */
	uint64_t index;
	int err;
};

struct vt_vault_reader {
	int fd;
	header h;
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hash id;
	EVP_CIPHER_CTX *cx;
	vt_sha256_ctx *sha;
	uint8_t *ct;
	uint8_t *pt;
	size_t ptlen, ptoff;
	uint64_t nchunks, index, last_len, size;
	bool done;
	int err;
};

/* Translate the OpenSSL error queue into a message; the queue is emptied. */
static int ossl_fail(int code, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_clear_error();
	if (e == 0)
		return vt_error_set(code, "%s failed (OpenSSL)", what);
	ERR_error_string_n(e, buf, sizeof(buf));
	return vt_error_set(code, "%s failed: %s", what, buf);
}

int vt_vault_jurisdiction_check(const char *j)
{
	size_t n;
	if (!j)
		return vt_error_set(VT_EINVAL, "no jurisdiction given");
	n = strlen(j);
	if (n == 0 || n > VT_VAULT_JURISDICTION_MAX)
		return vt_error_set(VT_EINVAL, "jurisdiction must be 1 to %d bytes",
				    VT_VAULT_JURISDICTION_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = j[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return vt_error_set(
			    VT_EINVAL,
			    "jurisdiction may hold only letters, digits, '.', '_' and '-'");
	}
	return 0;
}

void vt_vault_object_path(char out[80], const vt_hash *id)
{
	char hex[2 * VT_HASH_SIZE + 1];
	vt_hex_encode(hex, id->b, VT_HASH_SIZE);
	snprintf(out, 80, "vault/%.2s/%s", hex, hex);
}

/* Path of an object relative to the vault directory: "xx/<hex>". */
static void object_rel(char out[72], const char *hex)
{
	snprintf(out, 72, "%.2s/%s", hex, hex);
}

/* The KEK's short public name, so a wrong KEK is told apart from damage. */
static int kek_id_of(uint8_t out[KEK_ID_LEN], const uint8_t kek[VT_VAULT_KEK_SIZE])
{
	static const char label[] = "vitrine vault KEK id v1";
	const void *parts[2] = {label, kek};
	const size_t lens[2] = {sizeof(label), VT_VAULT_KEK_SIZE};
	vt_hash h;
	int err;
	if ((err = vt_sha256_v(&h, parts, lens, 2)) < 0)
		return err;
	memcpy(out, h.b, KEK_ID_LEN);
	return 0;
}

static int pwrite_all(int fd, const void *data, size_t len, off_t off)
{
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vt_error_sys(VT_EIO, errno, "write failed");
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Read up to len bytes at off; *got is less than len only at end of file. */
static int pread_full(size_t *got, int fd, void *data, size_t len, off_t off)
{
	uint8_t *p = data;
	*got = 0;
	while (*got < len) {
		ssize_t n = pread(fd, p + *got, len - *got, off + (off_t)*got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return vt_error_sys(VT_EIO, errno, "read failed");
		if (n == 0)
			break;
		*got += (size_t)n;
	}
	return 0;
}

/*
 * AES-256-GCM on a context already keyed: set the nonce, feed the AAD,
 * then seal or open len bytes. Returns 1 when opening fails to
 * authenticate, 0 on success, -1 on an OpenSSL failure (queue kept).
 */
static int gcm(EVP_CIPHER_CTX *cx, int enc, const uint8_t nonce[NONCE_LEN], const uint8_t *aad,
	       size_t aadlen, const uint8_t *in, size_t len, uint8_t *out, uint8_t tag[TAG_LEN])
{
	int n;
	if (len > INT32_MAX || aadlen > INT32_MAX)
		return -1;
	if (EVP_CipherInit_ex(cx, NULL, NULL, NULL, nonce, enc) != 1)
		return -1;
	if (EVP_CipherUpdate(cx, NULL, &n, aad, (int)aadlen) != 1)
		return -1;
	/* OpenSSL rejects a NULL buffer even for zero bytes on some paths. */
	if (len > 0 && EVP_CipherUpdate(cx, out, &n, in, (int)len) != 1)
		return -1;
	if (enc) {
		if (EVP_CipherFinal_ex(cx, out + len, &n) != 1 ||
		    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
			return -1;
		return 0;
	}
	if (EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) != 1)
		return -1;
	if (EVP_CipherFinal_ex(cx, out + len, &n) != 1) {
		ERR_clear_error();
		return 1;
	}
	return 0;
}

/* A context keyed for AES-256-GCM in one direction. */
static int gcm_new(EVP_CIPHER_CTX **out, const uint8_t key[KEY_LEN], int enc)
{
	EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
	int err = 0;
	if (!cx) {
		err = ossl_fail(VT_ENOMEM, "cipher context");
		goto done;
	}
	if (EVP_CipherInit_ex(cx, EVP_aes_256_gcm(), NULL, key, NULL, enc) != 1) {
		err = ossl_fail(VT_EIO, "AES-256-GCM setup");
		goto done;
	}
done:
	if (err < 0) {
		EVP_CIPHER_CTX_free(cx);
		cx = NULL;
	}
	*out = cx;
	return err;
}

static void chunk_nonce(uint8_t nonce[NONCE_LEN], uint64_t index, bool final)
{
	vt_put_be64(nonce, index);
	nonce[8] = nonce[9] = nonce[10] = 0;
	nonce[11] = final ? 1 : 0;
}

static size_t chunk_aad(uint8_t aad[CHUNK_AAD_MAX], const char *jur, size_t jlen, uint64_t index,
			bool final)
{
	aad[0] = (uint8_t)jlen;
	memcpy(aad + 1, jur, jlen);
	vt_put_be64(aad + 1 + jlen, index);
	aad[1 + jlen + 8] = final ? 1 : 0;
	return 1 + jlen + 8 + 1;
}

/* The wrap's AAD: the header up to the wrap, then the object id. */
static void wrap_aad(uint8_t aad[HEADER_MAX + VT_HASH_SIZE], size_t *len, const uint8_t *hdr,
		     size_t jlen, const vt_hash *id)
{
	size_t n = FIXED_LEN + jlen;
	memcpy(aad, hdr, n);
	memcpy(aad + n, id->b, VT_HASH_SIZE);
	*len = n + VT_HASH_SIZE;
}

/* Wrap (enc) or unwrap the data key; returns 1 when unwrapping fails auth. */
static int wrap_key(const vt_vault *v, int enc, uint8_t *hdr, size_t jlen, const vt_hash *id,
		    uint8_t key[KEY_LEN])
{
	uint8_t aad[HEADER_MAX + VT_HASH_SIZE];
	uint8_t *wrap = hdr + FIXED_LEN + jlen;
	EVP_CIPHER_CTX *cx = NULL;
	size_t aadlen;
	int err, r;

	if ((err = gcm_new(&cx, v->kek, enc)) < 0)
		goto done;
	if (enc && RAND_bytes(wrap, NONCE_LEN) != 1) {
		err = ossl_fail(VT_EIO, "random nonce");
		goto done;
	}
	wrap_aad(aad, &aadlen, hdr, jlen, id);
	if (enc)
		r = gcm(cx, 1, wrap, aad, aadlen, key, KEY_LEN, wrap + NONCE_LEN,
			wrap + NONCE_LEN + KEY_LEN);
	else
		r = gcm(cx, 0, wrap, aad, aadlen, wrap + NONCE_LEN, KEY_LEN, key,
			wrap + NONCE_LEN + KEY_LEN);
	if (r < 0)
		err = ossl_fail(VT_EIO, enc ? "wrapping the data key" : "unwrapping the data key");
	else
		err = r;
done:
	EVP_CIPHER_CTX_free(cx);
	return err;
}

/*
 * Read and check an object's header. hex names the object in messages.
 * VT_ECORRUPT when it is not a well-formed header of this version.
 */
static int read_header(header *h, int fd, const char *hex)
{
	size_t got;
	uint16_t version;
	int err;

	if ((err = pread_full(&got, fd, h->raw, sizeof(h->raw), 0)) < 0)
		return vt_error_wrap(err, "vault object %s", hex);
	if (got < FIXED_LEN || memcmp(h->raw, MAGIC, MAGIC_LEN) != 0)
		return vt_error_set(VT_ECORRUPT, "vault object %s: not a vault object (bad magic)",
				    hex);
	version = vt_get_be16(h->raw + 8);
	if (version != VERSION)
		return vt_error_set(VT_ECORRUPT, "vault object %s: unknown format version %u", hex,
				    (unsigned)version);
	h->len = vt_get_be16(h->raw + 10);
	h->chunk = vt_get_be32(h->raw + 12);
	memcpy(h->kek_id, h->raw + 16, KEK_ID_LEN);
	h->jlen = h->raw[24];
	if (h->jlen == 0 || h->jlen > VT_VAULT_JURISDICTION_MAX ||
	    h->len != FIXED_LEN + h->jlen + WRAP_LEN)
		return vt_error_set(VT_ECORRUPT, "vault object %s: bad header length", hex);
	if (got < h->len)
		return vt_error_set(VT_ECORRUPT, "vault object %s: header truncated", hex);
	if (h->chunk == 0 || h->chunk > VT_VAULT_MAX_CHUNK)
		return vt_error_set(VT_ECORRUPT, "vault object %s: bad chunk size %u", hex,
				    (unsigned)h->chunk);
	memcpy(h->jur, h->raw + FIXED_LEN, h->jlen);
	h->jur[h->jlen] = 0;
	if (vt_vault_jurisdiction_check(h->jur) < 0)
		return vt_error_set(VT_ECORRUPT, "vault object %s: bad jurisdiction in header",
				    hex);
	h->wrap = h->raw + FIXED_LEN + h->jlen;
	return 0;
}

static bool is_shredded(const header *h)
{
	uint8_t any = 0;
	for (size_t i = 0; i < WRAP_LEN; i++)
		any |= h->wrap[i];
	return any == 0;
}

/* Create directory name under dirfd; *made tells whether it is new. */
static int mkdir_at(int dirfd, const char *name, bool *made)
{
	*made = false;
	if (mkdirat(dirfd, name, 0700) == 0) {
		*made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	return vt_error_sys(VT_EIO, errno, "cannot create vault directory %s", name);
}

static int sync_at(int dirfd, const char *name)
{
	int fd, err = 0;
	if ((fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return vt_error_sys(VT_EIO, errno, "cannot open directory %s", name);
	if (fsync(fd) < 0)
		err = vt_error_sys(VT_EIO, errno, "cannot sync directory %s", name);
	close(fd);
	return err;
}

int vt_vault_init(const char *dir)
{
	uint8_t kek[VT_VAULT_KEK_SIZE];
	char tmp[64];
	int dfd = -1, vfd = -1, fd = -1, err = 0;
	bool made, linked = false;
	struct stat st;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "cannot open %s",
				   dir);
		goto done;
	}
	if (fstatat(dfd, "vault.kek", &st, AT_SYMLINK_NOFOLLOW) == 0) {
		err = vt_error_set(VT_EEXISTS, "%s/vault.kek already exists", dir);
		goto done;
	}
	if ((err = mkdir_at(dfd, "vault", &made)) < 0)
		goto done;
	if ((vfd = openat(dfd, "vault", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot open %s/vault", dir);
		goto done;
	}
	if ((err = mkdir_at(vfd, "tmp", &made)) < 0 || (err = sync_at(vfd, ".")) < 0)
		goto done;
	if (RAND_priv_bytes(kek, sizeof(kek)) != 1) {
		err = ossl_fail(VT_EIO, "making the KEK");
		goto done;
	}
	/* Written beside and linked into place, so vault.kek is never partial
	 * and an existing one is never replaced. */
	snprintf(tmp, sizeof(tmp), "vault.kek.tmp.%ld", (long)getpid());
	unlinkat(dfd, tmp, 0);
	if ((fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot create %s/%s", dir, tmp);
		goto done;
	}
	if (fchmod(fd, 0600) < 0 || (err = vt_fs_write_all(fd, kek, sizeof(kek))) < 0 ||
	    fsync(fd) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot write %s/%s", dir, tmp);
		goto done;
	}
	if (linkat(dfd, tmp, dfd, "vault.kek", 0) < 0) {
		err = errno == EEXIST
			  ? vt_error_set(VT_EEXISTS, "%s/vault.kek already exists", dir)
			  : vt_error_sys(VT_EIO, errno, "cannot create %s/vault.kek", dir);
		goto done;
	}
	linked = true;
done:
	OPENSSL_cleanse(kek, sizeof(kek));
	if (fd >= 0) {
		close(fd);
		unlinkat(dfd, tmp, 0);
	}
	if (linked && err == 0 && fsync(dfd) < 0)
		err = vt_error_sys(VT_EIO, errno, "cannot sync %s", dir);
	if (vfd >= 0)
		close(vfd);
	if (dfd >= 0)
		close(dfd);
	return err;
}

int vt_vault_open(vt_vault **out, const char *dir)
{
	vt_vault *v = NULL;
	int dfd = -1, fd = -1, err = 0;
	struct stat st;
	size_t got;

	*out = NULL;
	if (!(v = calloc(1, sizeof(*v)))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	v->dirfd = -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno, "cannot open %s",
				   dir);
		goto done;
	}
	if ((fd = openat(dfd, "vault.kek", O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		err = errno == ENOENT
			  ? vt_error_set(VT_ENOTFOUND,
					 "%s/vault.kek not found (run 'vitrine vault init')", dir)
			  : vt_error_sys(VT_EIO, errno, "cannot open %s/vault.kek", dir);
		goto done;
	}
	if (fstat(fd, &st) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot stat %s/vault.kek", dir);
		goto done;
	}
	if (st.st_mode & 077) {
		err = vt_error_set(VT_EDENIED,
				   "%s/vault.kek is readable by others (mode %03o, want 600)", dir,
				   (unsigned)(st.st_mode & 0777));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size != VT_VAULT_KEK_SIZE) {
		err = vt_error_set(VT_ECORRUPT, "%s/vault.kek is not a %d-byte key", dir,
				   VT_VAULT_KEK_SIZE);
		goto done;
	}
	if ((err = pread_full(&got, fd, v->kek, sizeof(v->kek), 0)) < 0 || got != sizeof(v->kek)) {
		err = vt_error_set(VT_EIO, "cannot read %s/vault.kek", dir);
		goto done;
	}
	if ((err = kek_id_of(v->kek_id, v->kek)) < 0)
		goto done;
	if ((v->dirfd = openat(dfd, "vault", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(errno == ENOENT ? VT_ENOTFOUND : VT_EIO, errno,
				   "cannot open %s/vault", dir);
		goto done;
	}
	*out = v;
	v = NULL;
done:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	vt_vault_close(v);
	return err;
}

void vt_vault_close(vt_vault *v)
{
	if (!v)
		return;
	if (v->dirfd >= 0)
		close(v->dirfd);
	OPENSSL_cleanse(v->kek, sizeof(v->kek));
	free(v);
}

/* ---- writing ---- */

static int seal_chunk(vt_vault_writer *w, bool final)
{
	uint8_t nonce[NONCE_LEN], aad[CHUNK_AAD_MAX];
	size_t aadlen = chunk_aad(aad, w->jur, w->jlen, w->index, final);
	int err;

	chunk_nonce(nonce, w->index, final);
	if (gcm(w->cx, 1, nonce, aad, aadlen, w->pt, w->ptlen, w->ct, w->ct + w->ptlen) < 0)
		return ossl_fail(VT_EIO, "sealing a vault chunk");
	if ((err = vt_fs_write_all(w->fd, w->ct, w->ptlen + TAG_LEN)) < 0)
		return vt_error_wrap(err, "vault temporary file %s", w->tmp);
	w->index++;
	w->ptlen = 0;
	return 0;
}

int vt_vault_writer_new(vt_vault_writer **out, vt_vault *v, const char *jurisdiction)
{
	vt_vault_writer *w = NULL;
	uint8_t name[16];
	char hex[33];
	uint8_t zero[HEADER_MAX] = {0};
	int err;

	*out = NULL;
	if ((err = vt_vault_jurisdiction_check(jurisdiction)) < 0)
		goto done;
	if (!(w = calloc(1, sizeof(*w))) || !(w->pt = malloc(VT_VAULT_CHUNK)) ||
	    !(w->ct = malloc(VT_VAULT_CHUNK + TAG_LEN))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	w->v = v;
	w->fd = -1;
	w->jlen = strlen(jurisdiction);
	memcpy(w->jur, jurisdiction, w->jlen + 1);
	w->hlen = FIXED_LEN + w->jlen + WRAP_LEN;
	if (RAND_priv_bytes(w->key, KEY_LEN) != 1 || RAND_bytes(name, sizeof(name)) != 1) {
		err = ossl_fail(VT_EIO, "making a data key");
		goto done;
	}
	if ((err = gcm_new(&w->cx, w->key, 1)) < 0 || (err = vt_sha256_new(&w->sha)) < 0)
		goto done;
	vt_hex_encode(hex, name, sizeof(name));
	snprintf(w->tmp, sizeof(w->tmp), "tmp/%s", hex);
	if ((w->fd = openat(v->dirfd, w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot create vault temporary file %s", w->tmp);
		goto done;
	}
	/* The header is written last, once the id and wrapped key are known. */
	if ((err = vt_fs_write_all(w->fd, zero, w->hlen)) < 0) {
		err = vt_error_wrap(err, "vault temporary file %s", w->tmp);
		goto done;
	}
	*out = w;
	w = NULL;
done:
	vt_vault_writer_abort(w);
	return err;
}

int vt_vault_writer_write(vt_vault_writer *w, const void *data, size_t len)
{
	const uint8_t *p = data;
	int err = w->err;

	if (err < 0)
		goto done;
	if ((err = vt_sha256_update(w->sha, data, len)) < 0)
		goto done;
	while (len > 0) {
		size_t n;
		/* A full chunk is sealed only when more bytes follow, so that the
		 * last chunk, whatever its size, is the one marked final. */
		if (w->ptlen == VT_VAULT_CHUNK && (err = seal_chunk(w, false)) < 0)
			goto done;
		n = VT_VAULT_CHUNK - w->ptlen;
		if (n > len)
			n = len;
		memcpy(w->pt + w->ptlen, p, n);
		w->ptlen += n;
		p += n;
		len -= n;
	}
done:
	w->err = err;
	return err;
}

/*
 * After linking failed because the name exists: keep the stored object
 * (dedup), unless it is a shredded tombstone or an unreadable header,
 * which the new copy replaces. *replace says which.
 */
static int existing_object(bool *replace, vt_vault_writer *w, const char *rel, const char *hex)
{
	header h;
	int fd, err = 0;

	*replace = false;
	if ((fd = openat(w->v->dirfd, rel, O_RDONLY | O_CLOEXEC)) < 0) {
		/* Shredded and removed meanwhile by someone else: take its place. */
		if (errno == ENOENT) {
			*replace = true;
			return 0;
		}
		return vt_error_sys(VT_EIO, errno, "cannot open vault object %s", hex);
	}
	if (read_header(&h, fd, hex) < 0 || is_shredded(&h)) {
		*replace = true;
		vt_error_clear();
	} else if (h.jlen != w->jlen || memcmp(h.jur, w->jur, w->jlen) != 0) {
		err = vt_error_set(
		    VT_EEXISTS, "vault object %s is already held for jurisdiction %s", hex, h.jur);
	}
	close(fd);
	return err;
}

int vt_vault_writer_finish(vt_hash *id, bool *created, vt_vault_writer *w)
{
	uint8_t hdr[HEADER_MAX];
	char hex[2 * VT_HASH_SIZE + 1], rel[72], prefix[3];
	bool made, replace = false, linked = false;
	int err = w->err;

	if (created)
		*created = false;
	if (err < 0)
		goto done;
	if ((err = seal_chunk(w, true)) < 0 || (err = vt_sha256_final(id, w->sha)) < 0)
		goto done;
	memcpy(hdr, MAGIC, MAGIC_LEN);
	vt_put_be16(hdr + 8, VERSION);
	vt_put_be16(hdr + 10, (uint16_t)w->hlen);
	vt_put_be32(hdr + 12, VT_VAULT_CHUNK);
	memcpy(hdr + 16, w->v->kek_id, KEK_ID_LEN);
	hdr[24] = (uint8_t)w->jlen;
	memcpy(hdr + FIXED_LEN, w->jur, w->jlen);
	if ((err = wrap_key(w->v, 1, hdr, w->jlen, id, w->key)) < 0)
		goto done;
	if ((err = pwrite_all(w->fd, hdr, w->hlen, 0)) < 0) {
		err = vt_error_wrap(err, "vault temporary file %s", w->tmp);
		goto done;
	}
	if (fsync(w->fd) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot sync vault temporary file %s", w->tmp);
		goto done;
	}
	vt_hex_encode(hex, id->b, VT_HASH_SIZE);
	object_rel(rel, hex);
	memcpy(prefix, hex, 2);
	prefix[2] = 0;
	if ((err = mkdir_at(w->v->dirfd, prefix, &made)) < 0)
		goto done;
	if (made && (err = sync_at(w->v->dirfd, ".")) < 0)
		goto done;
	/* link, not rename: it never replaces an object stored meanwhile. */
	if (linkat(w->v->dirfd, w->tmp, w->v->dirfd, rel, 0) == 0) {
		linked = true;
	} else if (errno != EEXIST) {
		err = vt_error_sys(VT_EIO, errno, "cannot store vault object %s", hex);
		goto done;
	} else if ((err = existing_object(&replace, w, rel, hex)) < 0) {
		goto done;
	}
	if (replace) {
		if (renameat(w->v->dirfd, w->tmp, w->v->dirfd, rel) < 0) {
			err = vt_error_sys(VT_EIO, errno, "cannot store vault object %s", hex);
			goto done;
		}
		linked = true;
	}
	if ((err = sync_at(w->v->dirfd, prefix)) < 0)
		goto done;
	if (created)
		*created = linked;
done:
	OPENSSL_cleanse(hdr, sizeof(hdr));
	vt_vault_writer_abort(w);
	return err;
}

void vt_vault_writer_abort(vt_vault_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0) {
		close(w->fd);
		/* After a rename the name is gone already; ENOENT is fine. */
		unlinkat(w->v->dirfd, w->tmp, 0);
	}
	EVP_CIPHER_CTX_free(w->cx);
	vt_sha256_free(w->sha);
	OPENSSL_cleanse(w->key, sizeof(w->key));
	if (w->pt)
		OPENSSL_cleanse(w->pt, VT_VAULT_CHUNK);
	free(w->pt);
	free(w->ct);
	free(w);
}

/* ---- reading ---- */

/* Open an object; jurisdiction NULL accepts the header's (for fsck). */
static int reader_open(vt_vault_reader **out, vt_vault *v, const vt_hash *id,
		       const char *jurisdiction)
{
	vt_vault_reader *r = NULL;
	uint8_t key[KEY_LEN];
	char rel[72], kid[2 * KEK_ID_LEN + 1], want[2 * KEK_ID_LEN + 1];
	struct stat st;
	uint64_t body, unit;
	int err;

	*out = NULL;
	if (!(r = calloc(1, sizeof(*r)))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	r->fd = -1;
	r->id = *id;
	vt_hex_encode(r->hex, id->b, VT_HASH_SIZE);
	object_rel(rel, r->hex);
	if ((r->fd = openat(v->dirfd, rel, O_RDONLY | O_CLOEXEC)) < 0) {
		err = errno == ENOENT
			  ? vt_error_set(VT_ENOTFOUND, "vault object %s not found", r->hex)
			  : vt_error_sys(VT_EIO, errno, "cannot open vault object %s", r->hex);
		goto done;
	}
	if (fstat(r->fd, &st) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot stat vault object %s", r->hex);
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		err = vt_error_set(VT_ECORRUPT, "vault object %s is not a regular file", r->hex);
		goto done;
	}
	if ((err = read_header(&r->h, r->fd, r->hex)) < 0)
		goto done;
	if (is_shredded(&r->h)) {
		err = vt_error_set(VT_ENOTFOUND, "vault object %s was shredded", r->hex);
		goto done;
	}
	if (jurisdiction && strcmp(jurisdiction, r->h.jur) != 0) {
		err =
		    vt_error_set(VT_EVERIFY, "vault object %s is held for jurisdiction %s, not %s",
				 r->hex, r->h.jur, jurisdiction);
		goto done;
	}
	if (memcmp(r->h.kek_id, v->kek_id, KEK_ID_LEN) != 0) {
		vt_hex_encode(kid, r->h.kek_id, KEK_ID_LEN);
		vt_hex_encode(want, v->kek_id, KEK_ID_LEN);
		err = vt_error_set(VT_EVERIFY,
				   "vault object %s was sealed under KEK %s, this site's KEK is %s",
				   r->hex, kid, want);
		goto done;
	}
	if ((err = wrap_key(v, 0, r->h.raw, r->h.jlen, id, key)) < 0)
		goto done;
	if (err == 1) {
		err = vt_error_set(VT_ECORRUPT,
				   "vault object %s: the data key does not open under this name, "
				   "jurisdiction and KEK (header altered or file renamed)",
				   r->hex);
		goto done;
	}
	body = (uint64_t)st.st_size - r->h.len;
	unit = (uint64_t)r->h.chunk + TAG_LEN;
	if ((uint64_t)st.st_size <= r->h.len) {
		err = vt_error_set(VT_ECORRUPT, "vault object %s: no chunks (truncated)", r->hex);
		goto done;
	}
	r->nchunks = body / unit + (body % unit ? 1 : 0);
	r->last_len = body - (r->nchunks - 1) * unit;
	if (r->last_len < TAG_LEN) {
		err = vt_error_set(VT_ECORRUPT, "vault object %s: chunk %llu of %llu truncated",
				   r->hex, (unsigned long long)r->nchunks - 1,
				   (unsigned long long)r->nchunks);
		goto done;
	}
	r->size = body - r->nchunks * TAG_LEN;
	if (!(r->ct = malloc(unit)) || !(r->pt = malloc(r->h.chunk))) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((err = gcm_new(&r->cx, key, 0)) < 0 || (err = vt_sha256_new(&r->sha)) < 0)
		goto done;
	*out = r;
	r = NULL;
done:
	OPENSSL_cleanse(key, sizeof(key));
	vt_vault_reader_close(r);
	return err;
}

int vt_vault_reader_open(vt_vault_reader **out, vt_vault *v, const vt_hash *id,
			 const char *jurisdiction)
{
	int err;
	*out = NULL;
	if ((err = vt_vault_jurisdiction_check(jurisdiction)) < 0)
		return err;
	return reader_open(out, v, id, jurisdiction);
}

uint64_t vt_vault_reader_size(const vt_vault_reader *r)
{
	return r->size;
}

static int open_chunk(vt_vault_reader *r)
{
	uint8_t nonce[NONCE_LEN], aad[CHUNK_AAD_MAX];
	bool final = r->index == r->nchunks - 1;
	size_t want = final ? (size_t)r->last_len : (size_t)r->h.chunk + TAG_LEN, got, aadlen;
	off_t off = (off_t)(r->h.len + r->index * ((uint64_t)r->h.chunk + TAG_LEN));
	int err, a;

	if ((err = pread_full(&got, r->fd, r->ct, want, off)) < 0)
		return vt_error_wrap(err, "vault object %s", r->hex);
	if (got != want)
		return vt_error_set(VT_ECORRUPT, "vault object %s: chunk %llu of %llu truncated",
				    r->hex, (unsigned long long)r->index,
				    (unsigned long long)r->nchunks);
	chunk_nonce(nonce, r->index, final);
	aadlen = chunk_aad(aad, r->h.jur, r->h.jlen, r->index, final);
	a = gcm(r->cx, 0, nonce, aad, aadlen, r->ct, want - TAG_LEN, r->pt, r->ct + want - TAG_LEN);
	if (a < 0)
		return ossl_fail(VT_EIO, "opening a vault chunk");
	if (a == 1)
		return vt_error_set(VT_ECORRUPT,
				    "vault object %s: chunk %llu of %llu fails authentication "
				    "(altered, reordered, truncated or extended)",
				    r->hex, (unsigned long long)r->index,
				    (unsigned long long)r->nchunks);
	r->ptlen = want - TAG_LEN;
	r->ptoff = 0;
	r->index++;
	return vt_sha256_update(r->sha, r->pt, r->ptlen);
}

int vt_vault_reader_read(size_t *n, vt_vault_reader *r, void *buf, size_t cap)
{
	uint8_t *p = buf;
	int err = r->err;

	*n = 0;
	if (err < 0)
		goto done;
	/* A zero-byte read would look like the end of the content. */
	if (cap == 0) {
		err = vt_error_set(VT_EINVAL, "vault object %s: read of 0 bytes", r->hex);
		goto done;
	}
	while (*n < cap) {
		size_t k;
		if (r->ptoff == r->ptlen) {
			if (r->index == r->nchunks) {
				vt_hash h;
				if (r->done)
					break;
				if ((err = vt_sha256_final(&h, r->sha)) < 0)
					goto done;
				if (!vt_hash_equal(&h, &r->id)) {
					err = vt_error_set(VT_ECORRUPT,
							   "vault object %s: content does not hash "
							   "to its name",
							   r->hex);
					goto done;
				}
				r->done = true;
				break;
			}
			if ((err = open_chunk(r)) < 0)
				goto done;
			continue;
		}
		k = r->ptlen - r->ptoff;
		if (k > cap - *n)
			k = cap - *n;
		memcpy(p + *n, r->pt + r->ptoff, k);
		r->ptoff += k;
		*n += k;
	}
done:
	if (err < 0) {
		r->err = err;
		*n = 0;
	}
	return err;
}

void vt_vault_reader_close(vt_vault_reader *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd);
	EVP_CIPHER_CTX_free(r->cx);
	vt_sha256_free(r->sha);
	if (r->pt)
		OPENSSL_cleanse(r->pt, r->h.chunk);
	free(r->pt);
	free(r->ct);
	free(r);
}

/* ---- presence, shredding, housekeeping ---- */

int vt_vault_contains(vt_vault *v, const vt_hash *id)
{
	char hex[2 * VT_HASH_SIZE + 1], rel[72];
	header h;
	int fd, err;

	vt_hex_encode(hex, id->b, VT_HASH_SIZE);
	object_rel(rel, hex);
	if ((fd = openat(v->dirfd, rel, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT
			   ? vt_error_set(VT_ENOTFOUND, "vault object %s not found", hex)
			   : vt_error_sys(VT_EIO, errno, "cannot open vault object %s", hex);
	if ((err = read_header(&h, fd, hex)) == 0 && is_shredded(&h))
		err = vt_error_set(VT_ENOTFOUND, "vault object %s was shredded", hex);
	close(fd);
	return err;
}

int vt_vault_shred(vt_vault *v, const vt_hash *id)
{
	char hex[2 * VT_HASH_SIZE + 1], rel[72];
	uint8_t zero[WRAP_LEN] = {0};
	header h;
	int fd, err;

	vt_hex_encode(hex, id->b, VT_HASH_SIZE);
	object_rel(rel, hex);
	if ((fd = openat(v->dirfd, rel, O_RDWR | O_CLOEXEC)) < 0)
		return errno == ENOENT
			   ? vt_error_set(VT_ENOTFOUND, "vault object %s not found", hex)
			   : vt_error_sys(VT_EIO, errno, "cannot open vault object %s", hex);
	if ((err = read_header(&h, fd, hex)) < 0)
		goto done;
	/* The key goes first and is durable before anything else happens:
	 * without it the chunks are noise, even if the truncation is lost. */
	if ((err = pwrite_all(fd, zero, sizeof(zero), (off_t)(FIXED_LEN + h.jlen))) < 0) {
		err = vt_error_wrap(err, "shredding vault object %s", hex);
		goto done;
	}
	if (fsync(fd) < 0 || ftruncate(fd, (off_t)h.len) < 0 || fsync(fd) < 0) {
		err = vt_error_sys(VT_EIO, errno, "shredding vault object %s", hex);
		goto done;
	}
done:
	close(fd);
	return err;
}

int vt_vault_sweep_tmp(vt_vault *v, unsigned max_age, size_t *removed)
{
	DIR *d = NULL;
	struct dirent *e;
	time_t now = time(NULL);
	int fd, err = 0;

	if (removed)
		*removed = 0;
	if ((fd = openat(v->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		err = vt_error_sys(VT_EIO, errno, "cannot open vault/tmp");
		goto done;
	}
	if (!(d = fdopendir(fd))) {
		close(fd);
		err = vt_error_sys(VT_EIO, errno, "cannot list vault/tmp");
		goto done;
	}
	while ((e = readdir(d))) {
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (now - st.st_mtime < (time_t)max_age)
			continue;
		if (unlinkat(dirfd(d), e->d_name, 0) == 0 && removed)
			(*removed)++;
	}
done:
	if (d)
		closedir(d);
	return err;
}

/* ---- fsck ---- */

typedef struct {
	vt_vault_fsck_stats st;
	vt_vault_problem_fn on_problem;
	vt_vault_object_fn on_object;
	void *payload;
	uint8_t *buf;
} fsck_state;

static int report(fsck_state *s, vt_vault_problem_kind kind, int code, const char *path,
		  const vt_hash *id, const char *detail)
{
	vt_vault_problem p = {.kind = kind, .code = code, .path = path, .detail = detail};
	s->st.problems++;
	if (id) {
		p.has_id = true;
		p.id = *id;
	}
	return s->on_problem ? s->on_problem(&p, s->payload) : 0;
}

static bool is_lower_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Decrypt object id to the end; returns the reader's error code. */
static int fsck_object(fsck_state *s, vt_vault *v, const vt_hash *id, const char *path)
{
	vt_vault_reader *r = NULL;
	char detail[512];
	uint64_t bytes = 0;
	size_t n;
	int err, rc = 0;

	s->st.objects++;
	err = reader_open(&r, v, id, NULL);
	if (err == VT_ENOTFOUND) {
		/* A shredded tombstone, or a file removed while fsck walked. */
		struct stat st;
		char rel[72], hex[2 * VT_HASH_SIZE + 1];
		vt_hex_encode(hex, id->b, VT_HASH_SIZE);
		object_rel(rel, hex);
		if (fstatat(v->dirfd, rel, &st, 0) == 0)
			s->st.shredded++;
		else
			s->st.objects--;
		vt_error_clear();
		goto done;
	}
	while (err == 0) {
		err = vt_vault_reader_read(&n, r, s->buf, VT_VAULT_CHUNK);
		if (err == 0 && n == 0)
			break;
		bytes += n;
	}
	if (err < 0) {
		snprintf(detail, sizeof(detail), "%s", vt_error_last());
		rc = report(s, err == VT_EIO ? VT_VAULT_PROBLEM_IO : VT_VAULT_PROBLEM_CORRUPT, err,
			    path, id, detail);
		goto done;
	}
	s->st.verified++;
	s->st.bytes += bytes;
	if (s->on_object)
		rc = s->on_object(id, r->h.jur, s->payload);
done:
	vt_vault_reader_close(r);
	return rc;
}

static int fsck_prefix(fsck_state *s, vt_vault *v, const char *prefix)
{
	DIR *d = NULL;
	struct dirent *e;
	char path[400], detail[512];
	int fd, rc = 0;

	if ((fd = openat(v->dirfd, prefix, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		snprintf(path, sizeof(path), "vault/%s", prefix);
		snprintf(detail, sizeof(detail), "cannot list the directory: %s", strerror(errno));
		return report(s, VT_VAULT_PROBLEM_IO, VT_EIO, path, NULL, detail);
	}
	while (rc == 0 && (e = readdir(d))) {
		struct stat st;
		vt_hash id;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "vault/%s/%s", prefix, e->d_name);
		if (!is_lower_hex(e->d_name, 2 * VT_HASH_SIZE) ||
		    memcmp(e->d_name, prefix, 2) != 0) {
			rc = report(s, VT_VAULT_PROBLEM_STRAY, VT_EINVAL, path, NULL,
				    "not an object name (64 lower-case hex digits starting with "
				    "the directory's two)");
			continue;
		}
		vt_hex_decode(id.b, VT_HASH_SIZE, e->d_name, 2 * VT_HASH_SIZE);
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode)) {
			rc = report(s, VT_VAULT_PROBLEM_STRAY, VT_EINVAL, path, &id,
				    "not a regular file");
			continue;
		}
		rc = fsck_object(s, v, &id, path);
	}
	closedir(d);
	return rc;
}

int vt_vault_fsck(vt_vault_fsck_stats *stats, vt_vault *v, vt_vault_problem_fn on_problem,
		  vt_vault_object_fn on_object, void *payload)
{
	fsck_state s = {.on_problem = on_problem, .on_object = on_object, .payload = payload};
	DIR *d = NULL;
	struct dirent *e;
	char path[400];
	int fd, rc = 0;

	if (!(s.buf = malloc(VT_VAULT_CHUNK))) {
		rc = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if ((fd = openat(v->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		rc = vt_error_sys(VT_EIO, errno, "cannot list the vault directory");
		goto done;
	}
	while (rc == 0 && (e = readdir(d))) {
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "vault/%s", e->d_name);
		if (strcmp(e->d_name, "tmp") == 0) {
			DIR *t;
			int tfd = openat(v->dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (tfd >= 0 && (t = fdopendir(tfd))) {
				struct dirent *te;
				while ((te = readdir(t)))
					if (te->d_name[0] != '.')
						s.st.tmp++;
				closedir(t);
			} else if (tfd >= 0) {
				close(tfd);
			}
			continue;
		}
		if (!is_lower_hex(e->d_name, 2) ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode)) {
			rc = report(&s, VT_VAULT_PROBLEM_STRAY, VT_EINVAL, path, NULL,
				    "not an object directory (two lower-case hex digits)");
			continue;
		}
		rc = fsck_prefix(&s, v, e->d_name);
	}
done:
	if (d)
		closedir(d);
	free(s.buf);
	if (stats)
		*stats = s.st;
	return rc;
}
