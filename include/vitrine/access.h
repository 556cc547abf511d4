/* SPDX-License-Identifier: Apache-2.0 */
/* Access to customer data: the closed list of reasons, request checks and the `access` entry. */
#ifndef VITRINE_ACCESS_H
#define VITRINE_ACCESS_H

#include <stdbool.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"
#include "vitrine/index.h"

/*
 * Every request to read a customer file, granted or refused, becomes an
 * `access` entry in the log (docs/entries.md) before anything is served:
 *
 *   vitrine/1 access
 *   token 7
 *   role analyst
 *   resource files/<64 hex>/content
 *   format raw
 *   reason incident-response
 *   ticket INC-4711
 *   result granted
 *   time 2026-11-29T05:01:02Z
 *
 * Values a requester sent that are missing or not acceptable are written
 * as "-" (the result says why), so an entry never carries arbitrary
 * input.
 */

/* The reasons a person may give for reading customer data (docs/api.md). */
extern const char *const vt_access_reasons[];

/* Is reason one of vt_access_reasons? 0 or VT_EINVAL naming the list. */
int vt_access_reason_check(const char *reason);

/* A ticket id: 1 to VT_INDEX_TICKET_MAX of [A-Za-z0-9._:/#-]. 0 or VT_EINVAL. */
int vt_access_ticket_check(const char *ticket);

/* How the content is delivered. */
typedef enum {
	VT_ACCESS_RAW, /* the plaintext */
	VT_ACCESS_ZIP, /* a ZIP encrypted with the password "infected" */
} vt_access_format;

/* "raw" or "zip" to a format; VT_EINVAL for anything else. NULL is raw. */
int vt_access_format_parse(vt_access_format *out, const char *s);

/*
 * Check a request for files/{sha256}/content and fill a (token id and role
 * from the caller, resource, reason, ticket, result) with what can be
 * decided without the vault: "forbidden" (not an analyst), "bad-hash",
 * "bad-format", "no-reason", "bad-reason", "no-ticket", "bad-ticket", or
 * "" when the request is well formed (the caller then looks at the object
 * and sets "not-found", "corrupt" or "granted"). id receives the hash when
 * it is well formed. Returns the HTTP status the refusal deserves (403,
 * 400), or 0 when the request is well formed; the message of the refusal
 * is in vt_error_last().
 */
int vt_access_check(vt_index_access *a, vt_hash *id, vt_access_format *fmt, const char *role,
		    const char *hash, const char *reason, const char *ticket, const char *format);

/*
 * Append the canonical `access` entry for a (time 0 means now) and format.
 * VT_EINVAL when a field breaks the entry rules, VT_ENOMEM.
 */
int vt_access_entry(vt_buf *out, const vt_index_access *a, vt_access_format fmt);

#endif
