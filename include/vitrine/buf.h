/* SPDX-License-Identifier: Apache-2.0 */
/* A growable byte buffer with a mandatory maximum size (after curl's dynbuf). */
#ifndef VITRINE_BUF_H
#define VITRINE_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The bytes are ptr[0..len); a NUL byte always follows them once anything
 * was added, so text can be read as a C string. Growing past max fails with
 * VT_ETOOBIG and leaves the buffer unchanged. Not thread-safe.
 */
typedef struct {
	uint8_t *ptr;
	size_t len;
	size_t cap;
	size_t max;
} vt_buf;

/* Initialise an empty buffer that may hold at most max bytes. */
void vt_buf_init(vt_buf *b, size_t max);

/* Free the memory; the buffer may be initialised again. */
void vt_buf_dispose(vt_buf *b);

/* Forget the content but keep the memory. */
void vt_buf_reset(vt_buf *b);

/* Make room for extra more bytes. VT_ETOOBIG, VT_ENOMEM. */
int vt_buf_reserve(vt_buf *b, size_t extra);

/* Append len bytes. VT_ETOOBIG, VT_ENOMEM. */
int vt_buf_add(vt_buf *b, const void *data, size_t len);

/* Append a C string without its NUL. */
int vt_buf_adds(vt_buf *b, const char *s);

/* Append one byte. */
int vt_buf_addc(vt_buf *b, uint8_t c);

/* Append formatted text. */
int vt_buf_printf(vt_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int vt_buf_vprintf(vt_buf *b, const char *fmt, va_list ap);

/* The content as a NUL-terminated string ("" when empty). Borrowed. */
const char *vt_buf_cstr(const vt_buf *b);

/*
 * Hand the memory to the caller (to free()); the buffer becomes empty.
 * Returns NULL when nothing was ever added.
 */
uint8_t *vt_buf_detach(vt_buf *b, size_t *len);

#endif
