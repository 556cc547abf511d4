/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bearer tokens and roles. A token is "vt_" followed by 64 hex digits of
 * randomness; only its SHA-256 is stored, in the tokens table of the
 * metadata index (DIR/index.sqlite, see index.h and docs/index.md). The
 * secret is shown once, when the token is made.
 *
 * Each token has one role. A submitter token is bound to one tenant (the
 * customer id) and one region; tokens of every other role have neither.
 * A revoked token stays in the table (its id is named by log entries) but
 * no longer authenticates.
 *
 * vt_tokens is the server's view: a handle on the index through which
 * every request is checked, so a revocation made by another process
 * (`vitrine token revoke`) takes effect at the next request.
 */
#ifndef VITRINE_TOKEN_H
#define VITRINE_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/hash.h"

#define VT_TOKEN_LEN	    67 /* "vt_" + 64 hex digits */
#define VT_TOKEN_NAME_MAX   64
#define VT_TOKEN_ROLE_MAX   15
#define VT_TENANT_MAX	    64 /* [A-Za-z0-9._-]{1,64} */
#define VT_TOKEN_REGION_MAX 16 /* as VT_REGION_MAX in policy.h */

/* One token as stored: never the secret. Plain value. */
typedef struct {
	int64_t id;   /* stable, from 1; log entries name tokens by it */
	vt_hash hash; /* SHA-256 of the secret */
	char role[VT_TOKEN_ROLE_MAX + 1];
	char name[VT_TOKEN_NAME_MAX + 1];
	char tenant[VT_TENANT_MAX + 1];	      /* "" unless role is submitter */
	char region[VT_TOKEN_REGION_MAX + 1]; /* "" unless role is submitter */
	int64_t created;		      /* Unix seconds */
	int64_t revoked;		      /* Unix seconds, 0 while valid */
} vt_token;

/*
 * The roles a token may have, NULL-terminated: "submitter", "analyst",
 * "auditor", "admin", "builder" (publishes builds), "rebuilder" (submits
 * independent rebuild statements); later issues append narrow roles here.
 */
extern const char *const vt_token_roles[];

/* 0 when role is one of vt_token_roles, else VT_EINVAL naming them. */
int vt_token_check_role(const char *role);

/* 0 for a name of 1 to 64 letters, digits, '-', '_', '.', not all digits
 * (an all-digit name would read as an id). Else VT_EINVAL. */
int vt_token_check_name(const char *name);

/* 0 for a tenant id of 1 to 64 letters, digits, '-', '_', '.'. VT_EINVAL. */
int vt_token_check_tenant(const char *tenant);

/*
 * The binding rule: a submitter needs a tenant and a region (a valid
 * region name, see vt_policy_check_region); any other role must have
 * neither. NULL and "" both mean absent. Checks role and tenant syntax
 * too. 0 or VT_EINVAL with the reason.
 */
int vt_token_check_binding(const char *role, const char *tenant, const char *region);

/*
 * Parse a secret as sent in an Authorization header and hash it: 0 and
 * *out = SHA-256(secret), or VT_EDENIED when it is not "vt_" and 64
 * lower-case hex digits (nothing else is looked up).
 */
int vt_token_hash_secret(vt_hash *out, const char *secret, size_t len);

/* The server's handle on the tokens of a data directory. */
typedef struct vt_tokens vt_tokens;
typedef struct vt_index vt_index; /* index.h */

/*
 * Open the tokens of DIR: its index (DIR/index.sqlite, created and
 * migrated if needed; a DIR/tokens file of an older vitrine is imported
 * once, see docs/index.md). VT_ECORRUPT, VT_EINVAL (newer schema), VT_EIO.
 */
int vt_tokens_load(vt_tokens **out, const char *dir);

/* Close the handle (NULL is fine). No check may be running. */
void vt_tokens_free(vt_tokens *t);

/*
 * The index the handle reads, borrowed until vt_tokens_free(), so that a
 * server can record samples through the same connections. Thread-safe as
 * vt_index is.
 */
vt_index *vt_tokens_index(const vt_tokens *t);

/*
 * Authenticate a secret: 0 and *out filled when it names a token that is
 * not revoked; VT_EDENIED for a malformed, unknown or revoked secret;
 * VT_EIO, VT_ECORRUPT, VT_EBUSY when the index cannot answer (refuse the
 * request then). Reads the database on every call (one indexed lookup on
 * a prepared statement), so revocations are seen at once. Thread-safe.
 */
int vt_tokens_lookup(vt_token *out, const vt_tokens *t, const char *secret, size_t len);

/*
 * Like vt_tokens_lookup() for callers that only need yes or no: a record
 * or NULL on any failure. The record is kept per thread and is valid
 * until the calling thread's next vt_tokens_check(). Thread-safe.
 */
const vt_token *vt_tokens_check(const vt_tokens *t, const char *secret, size_t len);

/*
 * Make a new token of role and name without a tenant binding (so not a
 * submitter: see vt_index_token_create() for those) in DIR's index and
 * write the secret (NUL terminated) into secret_out[VT_TOKEN_LEN + 1].
 * VT_EINVAL for a bad role or name, VT_EEXISTS when a valid token has the
 * name, VT_EIO.
 */
int vt_tokens_create(char *secret_out, const char *dir, const char *role, const char *name);

#endif
