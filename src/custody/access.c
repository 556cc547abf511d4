/* SPDX-License-Identifier: Apache-2.0 */
/* Access to customer data: reasons, request checks and the canonical `access` entry. */
#include "vitrine/access.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char *const vt_access_reasons[] = {
    "incident-response", "detection-engineering", "customer-request", "legal-order", NULL,
};

int vt_access_reason_check(const char *reason)
{
	for (size_t i = 0; vt_access_reasons[i]; i++)
		if (strcmp(reason, vt_access_reasons[i]) == 0)
			return 0;
	return vt_error_set(VT_EINVAL,
			    "reason must be one of incident-response, detection-engineering, "
			    "customer-request, legal-order");
}

int vt_access_ticket_check(const char *ticket)
{
	static const char ok[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:/#-";
	size_t n = strlen(ticket);

	if (n == 0 || n > VT_INDEX_TICKET_MAX || strspn(ticket, ok) != n)
		return vt_error_set(VT_EINVAL,
				    "a ticket id is 1 to %d of letters, digits and ._:/#-",
				    VT_INDEX_TICKET_MAX);
	return 0;
}

int vt_access_format_parse(vt_access_format *out, const char *s)
{
	if (!s || strcmp(s, "raw") == 0)
		*out = VT_ACCESS_RAW;
	else if (strcmp(s, "zip") == 0)
		*out = VT_ACCESS_ZIP;
	else
		return vt_error_set(VT_EINVAL, "format must be raw or zip");
	return 0;
}

static void set(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(s);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = 0;
}

int vt_access_check(vt_index_access *a, vt_hash *id, vt_access_format *fmt, const char *role,
		    const char *hash, const char *reason, const char *ticket, const char *format)
{
	char hex[2 * VT_HASH_SIZE + 1];
	bool hash_ok = hash && strlen(hash) == 2 * VT_HASH_SIZE &&
		       vt_hex_decode(id->b, VT_HASH_SIZE, hash, 2 * VT_HASH_SIZE) == 0;
	bool reason_ok = reason && vt_access_reason_check(reason) == 0;
	bool ticket_ok = ticket && vt_access_ticket_check(ticket) == 0;
	bool format_ok = vt_access_format_parse(fmt, format) == 0;
	int status = 0;

	set(a->role, sizeof(a->role), role);
	if (hash_ok) {
		vt_hex_encode(hex, id->b, VT_HASH_SIZE);
		snprintf(a->resource, sizeof(a->resource), "files/%s/content", hex);
	} else {
		set(a->resource, sizeof(a->resource), "files/-/content");
	}
	set(a->reason, sizeof(a->reason), reason_ok ? reason : "-");
	set(a->ticket, sizeof(a->ticket), ticket_ok ? ticket : "-");
	a->result[0] = 0;
	/* The first refusal in this order names the result. */
	if (strcmp(role, "analyst") != 0) {
		set(a->result, sizeof(a->result), "forbidden");
		vt_error_set(VT_EDENIED, "reading customer files needs an analyst token");
		status = 403;
	} else if (!hash_ok) {
		set(a->result, sizeof(a->result), "bad-hash");
		vt_error_set(VT_EINVAL, "the file is named by its SHA-256 (64 hex digits)");
		status = 400;
	} else if (!format_ok) {
		set(a->result, sizeof(a->result), "bad-format");
		vt_access_format_parse(fmt, format);
		status = 400;
	} else if (!reason || !reason[0]) {
		set(a->result, sizeof(a->result), "no-reason");
		vt_error_set(VT_EINVAL, "give ?reason= (incident-response, detection-engineering, "
					"customer-request or legal-order)");
		status = 400;
	} else if (!reason_ok) {
		set(a->result, sizeof(a->result), "bad-reason");
		vt_access_reason_check(reason);
		status = 400;
	} else if (!ticket || !ticket[0]) {
		set(a->result, sizeof(a->result), "no-ticket");
		vt_error_set(VT_EINVAL,
			     "give ?ticket= with the id of the ticket behind this access");
		status = 400;
	} else if (!ticket_ok) {
		set(a->result, sizeof(a->result), "bad-ticket");
		vt_access_ticket_check(ticket);
		status = 400;
	}
	if (!format_ok)
		*fmt = VT_ACCESS_RAW;
	return status;
}

/* A value of the entry: printable ASCII without spaces. */
static bool word(const char *s)
{
	if (!s[0])
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s >= 0x7f)
			return false;
	return true;
}

int vt_access_entry(vt_buf *out, const vt_index_access *a, vt_access_format fmt)
{
	time_t t = a->time ? (time_t)a->time : time(NULL);
	char when[32];
	struct tm tm;
	size_t mark = out->len;
	int err;

	if (a->token_id < 0 || !word(a->role) || !word(a->resource) || !word(a->reason) ||
	    !word(a->ticket) || !word(a->result))
		return vt_error_set(VT_EINVAL, "an access entry's fields are single words");
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return vt_error_set(VT_EINVAL, "time out of range");
	err = vt_buf_printf(out,
			    "vitrine/1 access\ntoken %lld\nrole %s\nresource %s\nformat %s\n"
			    "reason %s\nticket %s\nresult %s\ntime %s\n",
			    (long long)a->token_id, a->role, a->resource,
			    fmt == VT_ACCESS_ZIP ? "zip" : "raw", a->reason, a->ticket, a->result,
			    when);
	if (err < 0)
		out->len = mark;
	return err;
}
