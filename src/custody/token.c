/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bearer tokens: the rules for roles, names and bindings, and the server's
 * handle that checks secrets against the index (index.c holds the table).
 * Nothing is cached, so a revocation by another process counts from the
 * next request on; the lookup is one prepared statement on a unique index.
 */
#include "vitrine/token.h"
#include "vitrine/error.h"
#include "vitrine/index.h"
#include "vitrine/policy.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const char *const vt_token_roles[] = {
	"submitter", "analyst", "auditor", "admin", "builder", "rebuilder", NULL,
};

struct vt_tokens {
	vt_index *idx;
};

int vt_token_check_role(const char *role)
{
	for (int i = 0; role && vt_token_roles[i]; i++)
		if (strcmp(role, vt_token_roles[i]) == 0)
			return 0;
	return vt_error_set(VT_EINVAL,
			    "unknown role \"%s\" (submitter, analyst, auditor, admin, builder, "
			    "rebuilder)",
			    role ? role : "");
}

static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

int vt_token_check_name(const char *name)
{
	size_t n = name ? strnlen(name, VT_TOKEN_NAME_MAX + 1) : 0;
	bool digits = true;
	if (n == 0 || n > VT_TOKEN_NAME_MAX)
		return vt_error_set(VT_EINVAL, "a token name has 1 to %d characters",
				    VT_TOKEN_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!word_char(name[i]))
			return vt_error_set(VT_EINVAL,
					    "a token name may hold letters, digits, '-', '_', '.'");
		digits = digits && name[i] >= '0' && name[i] <= '9';
	}
	if (digits)
		return vt_error_set(VT_EINVAL, "a token name cannot be all digits (it would read "
					       "as a token id)");
	return 0;
}

int vt_token_check_tenant(const char *tenant)
{
	size_t n = tenant ? strnlen(tenant, VT_TENANT_MAX + 1) : 0;
	if (n == 0 || n > VT_TENANT_MAX)
		return vt_error_set(VT_EINVAL, "a tenant id has 1 to %d characters", VT_TENANT_MAX);
	for (size_t i = 0; i < n; i++)
		if (!word_char(tenant[i]))
			return vt_error_set(VT_EINVAL,
					    "a tenant id may hold letters, digits, '-', '_', '.'");
	return 0;
}

int vt_token_check_binding(const char *role, const char *tenant, const char *region)
{
	bool has_tenant = tenant && *tenant, has_region = region && *region;
	int err;

	if ((err = vt_token_check_role(role)) < 0)
		return err;
	if (strcmp(role, "submitter") != 0) {
		if (has_tenant || has_region)
			return vt_error_set(VT_EINVAL,
					    "only a submitter token has a tenant and a "
					    "region; an %s token sees every tenant",
					    role);
		return 0;
	}
	if (!has_tenant || !has_region)
		return vt_error_set(VT_EINVAL, "a submitter token needs a tenant and a region");
	if ((err = vt_token_check_tenant(tenant)) < 0)
		return err;
	if (vt_policy_check_region(region, strlen(region)) < 0)
		return vt_error_set(VT_EINVAL,
				    "invalid region \"%s\": an upper-case letter, then 1 "
				    "to 15 upper-case letters or digits",
				    region);
	return 0;
}

int vt_token_hash_secret(vt_hash *out, const char *secret, size_t len)
{
	if (!secret || len != VT_TOKEN_LEN || memcmp(secret, "vt_", 3) != 0)
		return vt_error_set(VT_EDENIED, "malformed token");
	for (size_t i = 3; i < len; i++) {
		char c = secret[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return vt_error_set(VT_EDENIED, "malformed token");
	}
	return vt_sha256(out, secret, len);
}

int vt_tokens_load(vt_tokens **out, const char *dir)
{
	vt_tokens *t;
	int err;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	if ((err = vt_index_open(&t->idx, dir)) < 0) {
		free(t);
		return err;
	}
	*out = t;
	return 0;
}

void vt_tokens_free(vt_tokens *t)
{
	if (!t)
		return;
	vt_index_close(t->idx);
	free(t);
}

vt_index *vt_tokens_index(const vt_tokens *t)
{
	return t->idx;
}

int vt_tokens_lookup(vt_token *out, const vt_tokens *t, const char *secret, size_t len)
{
	if (!t)
		return vt_error_set(VT_EDENIED, "no tokens");
	return vt_index_token_check(out, t->idx, secret, len);
}

const vt_token *vt_tokens_check(const vt_tokens *t, const char *secret, size_t len)
{
	static _Thread_local vt_token last;
	return vt_tokens_lookup(&last, t, secret, len) == 0 ? &last : NULL;
}

int vt_tokens_create(char *secret_out, const char *dir, const char *role, const char *name)
{
	vt_index *idx = NULL;
	int err;

	if ((err = vt_token_check_name(name)) < 0 ||
	    (err = vt_token_check_binding(role, NULL, NULL)) < 0)
		return err;
	if ((err = vt_index_open(&idx, dir)) < 0)
		return err;
	err = vt_index_token_create(NULL, secret_out, idx, role, name, NULL, NULL);
	vt_index_close(idx);
	return err;
}
