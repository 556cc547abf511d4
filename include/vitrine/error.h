/* SPDX-License-Identifier: Apache-2.0 */
/* Error codes and the thread-local last-error message. */
#ifndef VITRINE_ERROR_H
#define VITRINE_ERROR_H

/*
 * Every fallible function returns 0 on success or one of these negative
 * codes. The human-readable reason is kept per thread and read with
 * vt_error_last(); it stays valid until the thread's next failing call.
 */
enum {
	VT_OK = 0,
	VT_ENOTFOUND = -1, /* object, key or file does not exist */
	VT_EEXISTS = -2,   /* already exists (and differs, for immutable data) */
	VT_EINVAL = -3,    /* malformed or out-of-range input */
	VT_ECORRUPT = -4,  /* stored data fails an integrity check */
	VT_ETOOBIG = -5,   /* input exceeds a size limit */
	VT_EIO = -6,       /* operating system I/O failure */
	VT_ENOMEM = -7,    /* allocation failed */
	VT_EDENIED = -8,   /* missing or insufficient credentials */
	VT_EVERIFY = -9,   /* a signature or proof does not verify */
	VT_EBUSY = -10,    /* resource held elsewhere or queue full; retry */
};

/*
 * Record a formatted message for the calling thread and return code.
 * Usage: return vt_error_set(VT_EINVAL, "bad size %d", n);
 */
int vt_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Like vt_error_set() but appends ": strerror(errnum)". Returns code. */
int vt_error_sys(int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Prefix the current message with a formatted context ("ctx: old").
 * Returns code unchanged, so it can wrap a failing call's result.
 */
int vt_error_wrap(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The calling thread's last message; never NULL ("" when none). Borrowed. */
const char *vt_error_last(void);

/* Clear the calling thread's message. */
void vt_error_clear(void);

/* A short stable name for a code, such as "not_found". Never NULL. */
const char *vt_error_name(int code);

#endif
