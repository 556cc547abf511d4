/* SPDX-License-Identifier: Apache-2.0 */
/* Growable buffer with a hard maximum. */
#include "vitrine/buf.h"
#include "vitrine/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vt_buf_init(vt_buf *b, size_t max)
{
	b->ptr = NULL;
	b->len = b->cap = 0;
	b->max = max < SIZE_MAX ? max : SIZE_MAX - 1; /* so max + 1 and len + extra + 1 cannot wrap */
}

void vt_buf_dispose(vt_buf *b)
{
	free(b->ptr);
	b->ptr = NULL;
	b->len = b->cap = 0;
}

void vt_buf_reset(vt_buf *b)
{
	b->len = 0;
	if (b->ptr)
		b->ptr[0] = 0;
}

int vt_buf_reserve(vt_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;

	if (extra > b->max || b->len > b->max - extra)
		return vt_error_set(VT_ETOOBIG, "data exceeds the limit of %zu bytes", b->max);
	need = b->len + extra + 1; /* room for the trailing NUL */
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	if ((p = realloc(b->ptr, cap)) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory (%zu bytes)", cap);
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int vt_buf_add(vt_buf *b, const void *data, size_t len)
{
	int err;
	if ((err = vt_buf_reserve(b, len)) < 0)
		return err;
	if (len)
		memcpy(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = 0;
	return 0;
}

int vt_buf_adds(vt_buf *b, const char *s)
{
	return vt_buf_add(b, s, strlen(s));
}

int vt_buf_addc(vt_buf *b, uint8_t c)
{
	return vt_buf_add(b, &c, 1);
}

int vt_buf_vprintf(vt_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, err;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return vt_error_set(VT_EINVAL, "bad format string");
	if ((err = vt_buf_reserve(b, (size_t)n)) < 0)
		return err;
	vsnprintf((char *)b->ptr + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int vt_buf_printf(vt_buf *b, const char *fmt, ...)
{
	va_list ap;
	int err;
	va_start(ap, fmt);
	err = vt_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return err;
}

const char *vt_buf_cstr(const vt_buf *b)
{
	return b->ptr ? (const char *)b->ptr : "";
}

uint8_t *vt_buf_detach(vt_buf *b, size_t *len)
{
	uint8_t *p = b->ptr;
	if (len)
		*len = b->len;
	b->ptr = NULL;
	b->len = b->cap = 0;
	return p;
}
