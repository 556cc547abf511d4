/* SPDX-License-Identifier: Apache-2.0 */
/* Thread-local error messages (after libgit2's errors.c). */
#include "vitrine/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 512

static _Thread_local char msg[MSG_MAX];

static void vset(const char *fmt, va_list ap)
{
	vsnprintf(msg, sizeof(msg), fmt, ap);
}

int vt_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	return code;
}

int vt_error_sys(int code, int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	va_start(ap, fmt);
	vset(fmt, ap);
	va_end(ap);
	n = strlen(msg);
	snprintf(msg + n, sizeof(msg) - n, ": %s", strerror(errnum));
	return code;
}

int vt_error_wrap(int code, const char *fmt, ...)
{
	char prefix[MSG_MAX], old[MSG_MAX];
	va_list ap;
	memcpy(old, msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	/* Truncation is fine: messages are for people. */
	int n = snprintf(msg, sizeof(msg), "%s", prefix);
	if (old[0] && n >= 0 && (size_t)n < sizeof(msg))
		snprintf(msg + n, sizeof(msg) - (size_t)n, ": %.*s", MSG_MAX - 3, old);
	return code;
}

const char *vt_error_last(void)
{
	return msg;
}

void vt_error_clear(void)
{
	msg[0] = '\0';
}

const char *vt_error_name(int code)
{
	switch (code) {
	case VT_OK: return "ok";
	case VT_ENOTFOUND: return "not_found";
	case VT_EEXISTS: return "exists";
	case VT_EINVAL: return "invalid";
	case VT_ECORRUPT: return "corrupt";
	case VT_ETOOBIG: return "too_big";
	case VT_EIO: return "io";
	case VT_ENOMEM: return "no_memory";
	case VT_EDENIED: return "denied";
	case VT_EVERIFY: return "verify_failed";
	case VT_EBUSY: return "busy";
	default: return "unknown";
	}
}
