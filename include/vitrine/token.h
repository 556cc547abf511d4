/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bearer tokens. A token is "vt_" followed by 64 hex digits of randomness;
 * only its SHA-256 is stored, one token a line in DIR/tokens:
 *   <sha256 hex> <role> <name>
 * The secret is shown once, when the token is made.
 */
#ifndef VITRINE_TOKEN_H
#define VITRINE_TOKEN_H

#include <stddef.h>

#include "vitrine/hash.h"

#define VT_TOKEN_LEN 67 /* "vt_" + 64 hex digits */
#define VT_TOKEN_NAME_MAX 64

typedef struct {
	vt_hash hash;
	char role[16];
	char name[VT_TOKEN_NAME_MAX + 1];
} vt_token;

/* The tokens of a data directory, loaded in memory. Immutable once loaded. */
typedef struct vt_tokens vt_tokens;

/*
 * Load DIR/tokens (a missing file is an empty set). VT_ECORRUPT for a
 * malformed line, naming it.
 */
int vt_tokens_load(vt_tokens **out, const char *dir);

void vt_tokens_free(vt_tokens *t);

/*
 * Find the token whose secret is given (as sent in an Authorization
 * header). Returns a borrowed record or NULL. Thread-safe.
 */
const vt_token *vt_tokens_check(const vt_tokens *t, const char *secret, size_t len);

/*
 * Make a new token with role and name (letters, digits, '-', '_', '.'),
 * append its hash durably to DIR/tokens, and write the secret (NUL
 * terminated) into secret_out[VT_TOKEN_LEN + 1]. VT_EINVAL for a bad role
 * or name, VT_EIO.
 */
int vt_tokens_create(char *secret_out, const char *dir, const char *role, const char *name);

#endif
