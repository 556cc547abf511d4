/* SPDX-License-Identifier: Apache-2.0 */
/* Bearer tokens stored as SHA-256 hashes in DIR/tokens. */
#include "vitrine/token.h"
#include "vitrine/buf.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/fsutil.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vt_tokens {
	vt_token *t;
	size_t n;
};

static const char *const roles[] = {"admin", "submitter", "analyst", "auditor", NULL};

static int check_role(const char *role)
{
	for (int i = 0; roles[i]; i++)
		if (strcmp(role, roles[i]) == 0)
			return 0;
	return vt_error_set(VT_EINVAL, "unknown role \"%s\" (admin, submitter, analyst, auditor)",
			    role);
}

static int check_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > VT_TOKEN_NAME_MAX)
		return vt_error_set(VT_EINVAL, "token name must have 1 to %d characters",
				    VT_TOKEN_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return vt_error_set(VT_EINVAL,
					    "token name may hold letters, digits, '-', '_', '.'");
	}
	return 0;
}

static int parse_line(vt_token *out, char *line)
{
	char *hex = strtok(line, " "), *role = strtok(NULL, " "), *name = strtok(NULL, " ");
	if (!hex || !role || !name || strtok(NULL, " "))
		return vt_error_set(VT_ECORRUPT, "expected \"<sha256> <role> <name>\"");
	if (vt_hex_decode(out->hash.b, VT_HASH_SIZE, hex, strlen(hex)) < 0 || check_role(role) < 0 ||
	    check_name(name) < 0)
		return VT_ECORRUPT;
	snprintf(out->role, sizeof(out->role), "%s", role);
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

int vt_tokens_load(vt_tokens **out, const char *dir)
{
	char path[4096];
	vt_tokens *t;
	vt_buf b;
	int err, lineno = 0;
	char *p, *nl;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	vt_buf_init(&b, 16 << 20);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	err = vt_fs_read(&b, AT_FDCWD, path);
	if (err == VT_ENOTFOUND) {
		err = 0;
		goto done;
	}
	if (err < 0)
		goto done;
	for (p = (char *)b.ptr; p && *p; p = nl ? nl + 1 : NULL) {
		vt_token *nt;
		lineno++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl = '\0';
		if (*p == '\0' || *p == '#')
			continue;
		if ((nt = realloc(t->t, (t->n + 1) * sizeof(*nt))) == NULL) {
			err = vt_error_set(VT_ENOMEM, "out of memory");
			goto done;
		}
		t->t = nt;
		if ((err = parse_line(&t->t[t->n], p)) < 0) {
			err = vt_error_wrap(VT_ECORRUPT, "%s line %d", path, lineno);
			goto done;
		}
		t->n++;
	}
done:
	vt_buf_dispose(&b);
	if (err < 0) {
		vt_tokens_free(t);
		return err;
	}
	*out = t;
	return 0;
}

void vt_tokens_free(vt_tokens *t)
{
	if (!t)
		return;
	free(t->t);
	free(t);
}

const vt_token *vt_tokens_check(const vt_tokens *t, const char *secret, size_t len)
{
	vt_hash h;
	if (!t || len != VT_TOKEN_LEN || memcmp(secret, "vt_", 3) != 0)
		return NULL;
	if (vt_sha256(&h, secret, len) < 0)
		return NULL;
	for (size_t i = 0; i < t->n; i++)
		if (vt_hash_equal(&h, &t->t[i].hash))
			return &t->t[i];
	return NULL;
}

int vt_tokens_create(char *secret_out, const char *dir, const char *role, const char *name)
{
	uint8_t rnd[32];
	char hex[2 * VT_HASH_SIZE + 1], path[4096];
	vt_buf b;
	vt_hash h;
	int err;

	if ((err = check_role(role)) < 0 || (err = check_name(name)) < 0)
		return err;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return vt_error_set(VT_EIO, "no random bytes for a token");
	memcpy(secret_out, "vt_", 3);
	vt_hex_encode(secret_out + 3, rnd, sizeof(rnd));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if ((err = vt_sha256(&h, secret_out, VT_TOKEN_LEN)) < 0)
		return err;
	vt_hex_encode(hex, h.b, VT_HASH_SIZE);
	snprintf(path, sizeof(path), "%s/tokens", dir);
	vt_buf_init(&b, 16 << 20);
	err = vt_fs_read(&b, AT_FDCWD, path);
	if (err == VT_ENOTFOUND)
		err = 0;
	if (err == 0 && b.len > 0 && b.ptr[b.len - 1] != '\n')
		err = vt_buf_addc(&b, '\n');
	if (err == 0)
		err = vt_buf_printf(&b, "%s %s %s\n", hex, role, name);
	if (err == 0)
		err = vt_fs_write_atomic(AT_FDCWD, path, b.ptr, b.len, 0600);
	vt_buf_dispose(&b);
	return err;
}
