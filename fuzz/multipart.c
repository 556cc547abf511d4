/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the multipart/form-data parser. Input: one byte of
 * options (boundary choice, small body limit, abort at the second part),
 * two bytes of a split position, then the body. The body is parsed whole,
 * in two pieces cut at the split position and (when short) one byte at a
 * time: all must report the same events, code and message. The data
 * reported never exceeds the body; errors are VT_EINVAL or VT_ETOOBIG with
 * a message. An accepted body is re-encoded from what was reported
 * (canonical quoting, CRLF, no preamble) and must parse to the same events.
 */
#include "vitrine/buf.h"
#include "vitrine/error.h"
#include "vitrine/multipart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const boundaries[] = {
    "b",
    "XyZ",
    "------------------------fc26026cece402be",
    "a b'()+_,-./:=?",
};

struct rec {
	vt_buf log;	/* events as text; data concatenated */
	vt_buf rebuilt; /* the body re-encoded from the events */
	const char *boundary;
	size_t data_len;
	size_t part_len;
	size_t parts;
	int abort_second;
};

static void add_quoted(vt_buf *b, const char *s)
{
	vt_buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			vt_buf_addc(b, '\\');
		vt_buf_addc(b, (uint8_t)*s);
	}
	vt_buf_addc(b, '"');
}

static int on_begin(const char *name, const char *filename, const char *ctype, void *payload)
{
	struct rec *r = payload;

	if (name == NULL || name[0] == '\0')
		abort();
	r->part_len = 0;
	vt_buf_printf(&r->log, "<B %s|%s|%s>", name, filename ? filename : "(null)",
		      ctype ? ctype : "(null)");
	vt_buf_printf(&r->rebuilt, "--%s\r\nContent-Disposition: form-data; name=", r->boundary);
	add_quoted(&r->rebuilt, name);
	if (filename) {
		vt_buf_adds(&r->rebuilt, "; filename=");
		add_quoted(&r->rebuilt, filename);
	}
	vt_buf_adds(&r->rebuilt, "\r\n");
	if (ctype)
		vt_buf_printf(&r->rebuilt, "Content-Type: %s\r\n", ctype);
	vt_buf_adds(&r->rebuilt, "\r\n");
	return r->abort_second && r->parts++ == 1 ? 99 : 0;
}

static int on_data(const uint8_t *d, size_t len, void *payload)
{
	struct rec *r = payload;

	if (len == 0)
		abort();
	vt_buf_add(&r->log, d, len);
	vt_buf_add(&r->rebuilt, d, len);
	r->data_len += len;
	r->part_len += len;
	return 0;
}

static int on_end(void *payload)
{
	struct rec *r = payload;

	vt_buf_printf(&r->log, "<E %zu>", r->part_len);
	vt_buf_adds(&r->rebuilt, "\r\n");
	return 0;
}

static const vt_multipart_callbacks cbs = {on_begin, on_data, on_end};

/* Parse in pieces of `step` bytes, except a first piece of `first`. */
static int parse(struct rec *r, char *msg, size_t msgsz, const char *ct, const uint8_t *body,
		 size_t len, const vt_multipart_limits *lim, size_t first, size_t step)
{
	vt_multipart *mp = NULL;
	size_t off = 0;
	int err;

	if ((err = vt_multipart_new(&mp, ct, &cbs, r, lim)) != 0)
		abort(); /* the content types here are all valid */
	while (off < len) {
		size_t n = off == 0 && first ? first : step;
		if (n > len - off)
			n = len - off;
		if ((err = vt_multipart_feed(mp, body + off, n)) != 0)
			goto done;
		off += n;
	}
	err = vt_multipart_finish(mp);
done:
	snprintf(msg, msgsz, "%s", err ? vt_error_last() : "");
	vt_multipart_free(mp);
	return err;
}

static void rec_init(struct rec *r, const char *boundary, int abort_second)
{
	memset(r, 0, sizeof(*r));
	vt_buf_init(&r->log, 1 << 24);
	vt_buf_init(&r->rebuilt, 1 << 24);
	r->boundary = boundary;
	r->abort_second = abort_second;
}

static void rec_dispose(struct rec *r)
{
	vt_buf_dispose(&r->log);
	vt_buf_dispose(&r->rebuilt);
}

static int same(const struct rec *a, const struct rec *b)
{
	return a->log.len == b->log.len &&
	       (a->log.len == 0 || memcmp(a->log.ptr, b->log.ptr, a->log.len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vt_multipart_limits lim = {.max_parts = 8, .max_headers = 4, .max_header_line = 256};
	struct rec whole, cut, bytes, again;
	char ct[128], msg0[512], msg1[512];
	const char *boundary;
	const uint8_t *body;
	size_t len, at;
	int abort_second, code, c;

	if (size < 3)
		return 0;
	boundary = boundaries[data[0] & 3];
	abort_second = (data[0] >> 3) & 1;
	body = data + 3;
	len = size - 3;
	lim.max_body = (data[0] >> 2) & 1 ? len / 2 + 1 : 1 << 20;
	at = ((size_t)data[1] | (size_t)data[2] << 8) % (len + 1);
	snprintf(ct, sizeof(ct), "multipart/form-data; boundary=\"%s\"", boundary);

	rec_init(&whole, boundary, abort_second);
	code = parse(&whole, msg0, sizeof(msg0), ct, body, len, &lim, 0, len ? len : 1);
	if (whole.data_len > len)
		abort();
	if (code != 0 && code != VT_EINVAL && code != VT_ETOOBIG && code != 99)
		abort();
	/* The parser's own errors say what and where. */
	if (code < 0 && strncmp(msg0, "multipart body: ", 16) != 0)
		abort();

	rec_init(&cut, boundary, abort_second);
	c = parse(&cut, msg1, sizeof(msg1), ct, body, len, &lim, at, len ? len : 1);
	if (c != code || !same(&whole, &cut) || strcmp(msg0, msg1) != 0)
		abort();
	rec_dispose(&cut);

	if (len <= 4096) {
		rec_init(&bytes, boundary, abort_second);
		c = parse(&bytes, msg1, sizeof(msg1), ct, body, len, &lim, 0, 1);
		if (c != code || !same(&whole, &bytes) || strcmp(msg0, msg1) != 0)
			abort();
		rec_dispose(&bytes);
	}

	if (code == 0) {
		/* Re-encoded lines may be longer than the originals (quoting). */
		vt_multipart_limits big = {.max_parts = 8,
					   .max_headers = 4,
					   .max_header_line = 4 * 256 + 64,
					   .max_body = 1 << 24};

		vt_buf_printf(&whole.rebuilt, "--%s--\r\n", boundary);
		rec_init(&again, boundary, abort_second);
		c = parse(&again, msg1, sizeof(msg1), ct, whole.rebuilt.ptr, whole.rebuilt.len,
			  &big, 0, whole.rebuilt.len);
		if (c != 0 || !same(&whole, &again))
			abort();
		rec_dispose(&again);
	}
	rec_dispose(&whole);
	return 0;
}
