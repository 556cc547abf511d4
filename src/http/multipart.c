/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Streaming multipart/form-data parser (RFC 7578 over RFC 2046).
 *
 * Why not libmicrohttpd's MHD_create_post_processor(): its manual says
 * MHD_post_process() returns MHD_NO alike for "out-of-memory, iterator
 * aborted, parse error", so a client could not be told what was wrong
 * (truncated? header too long?); "there is no special call to the iterator
 * to indicate the end" of a part, which we need to close a file's hash;
 * it needs a live MHD_Connection, so it cannot be unit-tested or fuzzed
 * on its own; and it has no limits on parts or headers of its own. So
 * this is a small state machine instead.
 *
 * Design. The delimiter D = CRLF "--" boundary is matched byte by byte
 * with a count m of its bytes seen so far; the body's start behaves as if
 * preceded by CRLF (m starts at 2, marked virtual), and so does a part's
 * body (the CRLF ending its headers is no data), so a boundary on those
 * first lines counts, as RFC 2046's line-start rule says and Go's
 * mime/multipart does. When a byte breaks a partial match, the held bytes are exactly
 * D[0..m), so they are emitted from D itself: no data buffer. As CR occurs
 * in D only at its start, no suffix of a broken match can begin another
 * (the KMP failure function is all zeros), so the breaking byte is simply
 * looked at again with m = 0. Outside a match, memchr() for CR hands the
 * runs between to on_part_data straight from the caller's buffer. Header
 * lines are collected in a buffer of max_header_line bytes; name, filename
 * and content type are kept in three more until on_part_begin().
 */
#include "vitrine/multipart.h"

#include "vitrine/error.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum state {
	S_PREAMBLE,    /* discarding until the first delimiter */
	S_AFTER_DELIM, /* delimiter matched: "--", padding or CRLF next */
	S_CLOSE_DASH,  /* seen one '-' after the delimiter */
	S_PADDING,     /* transport padding after the delimiter */
	S_DELIM_LF,    /* CR seen at the end of a delimiter line */
	S_HEADER,      /* in a part header line */
	S_HEADER_LF,   /* CR seen at the end of a header line */
	S_BODY,	       /* in a part body */
	S_EPILOGUE,    /* after the close delimiter: done */
	S_FAILED,
};

struct vt_multipart {
	vt_multipart_callbacks cb;
	void *payload;
	vt_multipart_limits lim;
	enum state state;
	int failed;	 /* the code returned again once failed */
	uint64_t offset; /* bytes fed so far */
	size_t parts;
	bool in_part; /* on_part_begin was called, on_part_end not yet */

	char delim[4 + VT_MULTIPART_BOUNDARY_MAX];
	size_t delim_len;
	size_t m;  /* bytes of delim matched */
	bool virt; /* the CRLF of those is virtual: a line start, no bytes */

	/* Headers of the part being read. */
	char *line; /* max_header_line + 1 bytes each */
	size_t line_len;
	size_t headers;
	char *name;
	char *filename;
	char *ctype;
	bool have_disposition, have_filename, have_ctype, have_cte;
};

static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

/* RFC 2046 bcharsnospace. */
static bool is_bchar_nospace(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c != '\0' && strchr("'()+_,-./:=?", c) != NULL);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/*
 * Read a parameter value at *pp (token, or quoted-string with backslash
 * escapes undone) into out, which has room for strlen(*pp) + 1 bytes.
 * Control characters in the value are refused: what it names is shown to
 * people and stored. Returns 0 or VT_EINVAL (message without context).
 */
static int read_value(const char **pp, char *out, bool unquoted_any)
{
	const char *p = *pp;
	size_t n = 0;
	int err = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0') {
				err = vt_error_set(VT_EINVAL, "unterminated quoted string");
				goto done;
			}
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (is_ctl((unsigned char)*p)) {
				err = vt_error_set(VT_EINVAL, "control character in a value");
				goto done;
			}
			out[n++] = *p;
		}
		p++;
	} else {
		/* Boundaries are often sent unquoted with characters that are
		 * bchars but not tchars ('/', ':', '=', '?'): take what runs to
		 * the next separator and let the caller check it. */
		while (*p != '\0' && (unquoted_any ? (*p != ';' && *p != ' ' && *p != '\t' &&
						      *p != '"' && !is_ctl((unsigned char)*p))
						   : is_tchar((unsigned char)*p)))
			out[n++] = *p++;
		if (n == 0) {
			err = vt_error_set(VT_EINVAL, "empty or malformed value");
			goto done;
		}
	}
	out[n] = '\0';
	*pp = p;
done:
	return err;
}

/* Read a parameter name (token) into out (room for strlen(*pp) + 1). */
static int read_param_name(const char **pp, char *out)
{
	const char *p = *pp;
	size_t n = 0;

	while (is_tchar((unsigned char)*p))
		out[n++] = *p++;
	out[n] = '\0';
	if (n == 0 || *p != '=')
		return vt_error_set(VT_EINVAL, "malformed parameter");
	*pp = p + 1;
	return 0;
}

/*
 * Iterate over "; name=value" parameters after a media type or
 * disposition type: on return 1, *name and *value hold the next one; 0 at
 * the end; a negative code when malformed. name and value have room for
 * the whole string.
 */
static int next_param(const char **pp, char *name, char *value, bool unquoted_any)
{
	const char *p = skip_ows(*pp);
	int err;

	if (*p == '\0')
		return 0;
	if (*p != ';')
		return vt_error_set(VT_EINVAL, "expected ';' between parameters");
	p = skip_ows(p + 1);
	if ((err = read_param_name(&p, name)) < 0)
		return err;
	if ((err = read_value(&p, value, unquoted_any)) < 0)
		return err;
	*pp = p;
	return 1;
}

static int parse_boundary(vt_multipart *mp, const char *content_type)
{
	static const char type[] = "multipart/form-data";
	size_t len = strlen(content_type);
	char *name = NULL, *value = NULL;
	const char *p;
	bool seen = false;
	int err = 0, r;

	p = skip_ows(content_type);
	if (strncasecmp(p, type, sizeof(type) - 1) != 0 ||
	    (p[sizeof(type) - 1] != '\0' && p[sizeof(type) - 1] != ';' &&
	     p[sizeof(type) - 1] != ' ' && p[sizeof(type) - 1] != '\t')) {
		err = vt_error_set(VT_EINVAL, "Content-Type is not multipart/form-data");
		goto done;
	}
	p += sizeof(type) - 1;
	if ((name = malloc(len + 1)) == NULL || (value = malloc(len + 1)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	while ((r = next_param(&p, name, value, true)) > 0) {
		size_t n = strlen(value);

		if (strcasecmp(name, "boundary") != 0)
			continue;
		if (seen) {
			err = vt_error_set(VT_EINVAL, "Content-Type has two boundary parameters");
			goto done;
		}
		seen = true;
		if (n < 1 || n > VT_MULTIPART_BOUNDARY_MAX) {
			err = vt_error_set(VT_EINVAL,
					   "multipart boundary must be 1 to %d characters, not %zu",
					   VT_MULTIPART_BOUNDARY_MAX, n);
			goto done;
		}
		for (size_t i = 0; i < n; i++)
			if (!is_bchar_nospace((unsigned char)value[i]) &&
			    !(value[i] == ' ' && i + 1 < n)) {
				err = vt_error_set(VT_EINVAL,
						   "multipart boundary has a character outside "
						   "RFC 2046's set at position %zu",
						   i);
				goto done;
			}
		memcpy(mp->delim, "\r\n--", 4);
		memcpy(mp->delim + 4, value, n);
		mp->delim_len = 4 + n;
	}
	if (r < 0) {
		err = vt_error_wrap(r, "Content-Type");
		goto done;
	}
	if (!seen)
		err = vt_error_set(VT_EINVAL, "Content-Type multipart/form-data has no boundary");
done:
	free(name);
	free(value);
	return err;
}

int vt_multipart_new(vt_multipart **out, const char *content_type, const vt_multipart_callbacks *cb,
		     void *payload, const vt_multipart_limits *limits)
{
	vt_multipart *mp = NULL;
	size_t l;
	int err = 0;

	*out = NULL;
	if ((mp = calloc(1, sizeof(*mp))) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	if (cb)
		mp->cb = *cb;
	mp->payload = payload;
	if (limits)
		mp->lim = *limits;
	if (mp->lim.max_body == 0)
		mp->lim.max_body = VT_MULTIPART_DEFAULT_MAX_BODY;
	if (mp->lim.max_parts == 0)
		mp->lim.max_parts = VT_MULTIPART_DEFAULT_MAX_PARTS;
	if (mp->lim.max_headers == 0)
		mp->lim.max_headers = VT_MULTIPART_DEFAULT_MAX_HEADERS;
	if (mp->lim.max_header_line == 0)
		mp->lim.max_header_line = VT_MULTIPART_DEFAULT_MAX_HEADER_LINE;
	if (mp->lim.max_header_line > VT_MULTIPART_MAX_HEADER_LINE_CAP) {
		err = vt_error_set(VT_EINVAL, "max_header_line over %d",
				   VT_MULTIPART_MAX_HEADER_LINE_CAP);
		goto done;
	}
	if (content_type == NULL) {
		err = vt_error_set(VT_EINVAL, "no Content-Type: want multipart/form-data");
		goto done;
	}
	if ((err = parse_boundary(mp, content_type)) < 0)
		goto done;
	l = mp->lim.max_header_line + 1;
	if ((mp->line = malloc(4 * l)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	mp->name = mp->line + l;
	mp->filename = mp->line + 2 * l;
	mp->ctype = mp->line + 3 * l;
	mp->state = S_PREAMBLE;
	mp->m = 2; /* the body's first line is a line start: as if after CRLF */
	mp->virt = true;
	*out = mp;
	mp = NULL;
done:
	vt_multipart_free(mp);
	return err;
}

void vt_multipart_free(vt_multipart *mp)
{
	if (mp == NULL)
		return;
	free(mp->line);
	free(mp);
}

size_t vt_multipart_parts(const vt_multipart *mp)
{
	return mp->parts;
}

/* Fail with a message about the body at the current offset. */
__attribute__((format(printf, 3, 4))) static int fail(vt_multipart *mp, int code, const char *fmt,
						      ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return vt_error_set(code, "multipart body: %s (at byte %llu)", what,
			    (unsigned long long)mp->offset);
}

static int parse_disposition(vt_multipart *mp, const char *v)
{
	static const char type[] = "form-data";
	size_t n = strlen(v) + 1;
	char *pname = NULL, *pvalue = NULL;
	bool have_name = false;
	int err = 0, r;

	if (mp->have_disposition) {
		err = fail(mp, VT_EINVAL, "part has two Content-Disposition headers");
		goto done;
	}
	mp->have_disposition = true;
	if (strncasecmp(v, type, sizeof(type) - 1) != 0 ||
	    (v[sizeof(type) - 1] != '\0' && v[sizeof(type) - 1] != ';' &&
	     v[sizeof(type) - 1] != ' ' && v[sizeof(type) - 1] != '\t')) {
		err = fail(mp, VT_EINVAL, "Content-Disposition is not form-data");
		goto done;
	}
	v += sizeof(type) - 1;
	if ((pname = malloc(n)) == NULL || (pvalue = malloc(n)) == NULL) {
		err = fail(mp, VT_ENOMEM, "out of memory");
		goto done;
	}
	while ((r = next_param(&v, pname, pvalue, false)) > 0) {
		char *dst;
		bool *seen;

		if (strcasecmp(pname, "name") == 0) {
			dst = mp->name;
			seen = &have_name;
		} else if (strcasecmp(pname, "filename") == 0) {
			dst = mp->filename;
			seen = &mp->have_filename;
		} else {
			continue;
		}
		if (*seen) {
			err = vt_error_set(VT_EINVAL, "duplicate %s", pname);
			break;
		}
		*seen = true;
		strcpy(dst, pvalue); /* both fit: they come from one header line */
	}
	if (err == 0 && r < 0)
		err = r;
	if (err == 0 && !have_name)
		err = vt_error_set(VT_EINVAL, "no name parameter");
	if (err == 0 && mp->name[0] == '\0')
		err = vt_error_set(VT_EINVAL, "empty name");
	if (err < 0) {
		char why[160];
		snprintf(why, sizeof(why), "%s", vt_error_last());
		err = fail(mp, err, "malformed Content-Disposition: %s", why);
	}
done:
	free(pname);
	free(pvalue);
	return err;
}

/* Parse the complete header line in mp->line. */
static int parse_header_line(vt_multipart *mp)
{
	char *line = mp->line, *colon, *v, *end;
	int err = 0;

	if (line[0] == ' ' || line[0] == '\t') {
		err = fail(mp, VT_EINVAL, "folded part header line");
		goto done;
	}
	if (++mp->headers > mp->lim.max_headers) {
		err = fail(mp, VT_ETOOBIG, "part has more than %zu header lines",
			   mp->lim.max_headers);
		goto done;
	}
	if ((colon = strchr(line, ':')) == NULL || colon == line) {
		err = fail(mp, VT_EINVAL, "part header line without a field name");
		goto done;
	}
	for (char *p = line; p < colon; p++)
		if (!is_tchar((unsigned char)*p)) {
			err = fail(mp, VT_EINVAL, "malformed part header field name");
			goto done;
		}
	*colon = '\0';
	v = (char *)skip_ows(colon + 1);
	end = v + strlen(v);
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (strcasecmp(line, "Content-Disposition") == 0) {
		err = parse_disposition(mp, v);
	} else if (strcasecmp(line, "Content-Type") == 0) {
		if (mp->have_ctype) {
			err = fail(mp, VT_EINVAL, "part has two Content-Type headers");
			goto done;
		}
		mp->have_ctype = true;
		strcpy(mp->ctype, v);
	} else if (strcasecmp(line, "Content-Transfer-Encoding") == 0) {
		/* The bytes are hashed as they come: an encoding would make the
		 * hash that of the encoded form. */
		if (mp->have_cte || (strcasecmp(v, "binary") != 0 && strcasecmp(v, "8bit") != 0 &&
				     strcasecmp(v, "7bit") != 0)) {
			err = fail(mp, VT_EINVAL,
				   "unsupported Content-Transfer-Encoding (only binary is)");
			goto done;
		}
		mp->have_cte = true;
	}
done:
	return err;
}

/* The headers ended: report the part. */
static int begin_part(vt_multipart *mp)
{
	int err = 0;

	if (!mp->have_disposition) {
		err = fail(mp, VT_EINVAL, "part has no Content-Disposition");
		goto done;
	}
	mp->in_part = true;
	if (mp->cb.on_part_begin)
		err = mp->cb.on_part_begin(mp->name, mp->have_filename ? mp->filename : NULL,
					   mp->have_ctype ? mp->ctype : NULL, mp->payload);
done:
	return err;
}

static int emit(vt_multipart *mp, const void *data, size_t len)
{
	if (len == 0 || mp->state != S_BODY || mp->cb.on_part_data == NULL)
		return 0;
	return mp->cb.on_part_data(data, len, mp->payload);
}

/*
 * Scan p[0..n) for the delimiter in S_PREAMBLE or S_BODY (emitting data in
 * the latter). Sets *used to the bytes consumed; on a match the state is
 * S_AFTER_DELIM. Data found in p is emitted as one run per call, however
 * many partial matches break inside it, so that a body of CRs costs no
 * more callbacks than any other.
 */
static int scan_delimiter(vt_multipart *mp, const uint8_t *p, size_t n, size_t *used)
{
	size_t i = 0;
	size_t start = 0; /* where the match under way began in p */
	/* Whether the match under way began before p: its bytes from earlier
	 * pieces are held back as delim[0..m - i). */
	bool carried = mp->m > 0;
	int err = 0;

	while (i < n) {
		if (mp->m == 0) {
			const uint8_t *cr = memchr(p + i, '\r', n - i);

			if (cr == NULL) {
				i = n;
				break;
			}
			i = (size_t)(cr - p);
			start = i++;
			mp->m = 1;
		} else if (p[i] == (uint8_t)mp->delim[mp->m]) {
			i++;
			if (++mp->m == mp->delim_len) {
				mp->m = 0;
				mp->virt = false;
				if ((err = emit(mp, p, carried ? 0 : start)) != 0)
					goto done;
				if (mp->state == S_BODY) {
					mp->in_part = false;
					if (mp->cb.on_part_end &&
					    (err = mp->cb.on_part_end(mp->payload)) != 0)
						goto done;
				}
				mp->state = S_AFTER_DELIM;
				goto done;
			}
		} else {
			/* Not a delimiter. Bytes of it held from earlier pieces
			 * are data (less the virtual CRLF of a line start);
			 * those in p join the run. p[i] is looked at again. */
			if (carried) {
				size_t skip = mp->virt ? 2 : 0;
				size_t before = mp->m - i;

				if ((err = emit(mp, mp->delim + skip, before - skip)) != 0)
					goto done;
				carried = false;
				mp->virt = false;
			}
			mp->m = 0;
		}
	}
	/* End of the piece: all but a match under way is data. */
	err = emit(mp, p, mp->m == 0 ? n : carried ? 0 : start);
done:
	*used = i;
	return err;
}

/* One byte of a delimiter line or header line. */
static int step(vt_multipart *mp, uint8_t c)
{
	int err = 0;

	switch (mp->state) {
	case S_AFTER_DELIM:
	case S_PADDING:
		if (c == '-' && mp->state == S_AFTER_DELIM) {
			mp->state = S_CLOSE_DASH;
		} else if (c == ' ' || c == '\t') {
			mp->state = S_PADDING;
		} else if (c == '\r') {
			mp->state = S_DELIM_LF;
		} else if (c == '\n') {
			err = fail(mp, VT_EINVAL, "bare LF after a boundary (CRLF required)");
		} else {
			err = fail(mp, VT_EINVAL, "boundary followed by other characters");
		}
		break;
	case S_CLOSE_DASH:
		if (c == '-')
			mp->state = S_EPILOGUE;
		else
			err = fail(mp, VT_EINVAL, "boundary followed by a single '-'");
		break;
	case S_DELIM_LF:
		if (c != '\n') {
			err = fail(mp, VT_EINVAL, "CR without LF after a boundary");
			break;
		}
		if (mp->parts == mp->lim.max_parts) {
			err = fail(mp, VT_ETOOBIG, "more than %zu parts", mp->lim.max_parts);
			break;
		}
		mp->parts++;
		mp->state = S_HEADER;
		mp->line_len = 0;
		mp->headers = 0;
		mp->have_disposition = mp->have_filename = mp->have_ctype = mp->have_cte = false;
		break;
	case S_HEADER:
		if (c == '\r') {
			mp->state = S_HEADER_LF;
		} else if (c == '\n') {
			err = fail(mp, VT_EINVAL, "bare LF in part headers (CRLF required)");
		} else if (is_ctl(c) && c != '\t') {
			err = fail(mp, VT_EINVAL, "control character in a part header");
		} else if (mp->line_len == mp->lim.max_header_line) {
			err = fail(mp, VT_ETOOBIG, "part header line longer than %zu bytes",
				   mp->lim.max_header_line);
		} else {
			mp->line[mp->line_len++] = (char)c;
		}
		break;
	case S_HEADER_LF:
		if (c != '\n') {
			err = fail(mp, VT_EINVAL, "CR without LF in part headers");
			break;
		}
		if (mp->line_len == 0) {
			/* The body's first line is a line start too. */
			mp->state = S_BODY;
			mp->m = 2;
			mp->virt = true;
			err = begin_part(mp);
			break;
		}
		mp->line[mp->line_len] = '\0';
		mp->line_len = 0;
		mp->state = S_HEADER;
		err = parse_header_line(mp);
		break;
	default: err = fail(mp, VT_EINVAL, "internal: bad state"); break;
	}
	return err;
}

int vt_multipart_feed(vt_multipart *mp, const void *data, size_t len)
{
	const uint8_t *p = data;
	bool too_big = false;
	int err = 0;

	if (mp->state == S_FAILED) {
		err = mp->failed;
		vt_error_set(err < 0 ? err : VT_EINVAL, "multipart body: an earlier call failed");
		goto done;
	}
	if (len > mp->lim.max_body - mp->offset) {
		/* Parse up to the limit first, so that the callbacks do not
		 * depend on where the pieces were cut. */
		len = (size_t)(mp->lim.max_body - mp->offset);
		too_big = true;
	}
	while (len > 0) {
		size_t used = 1;

		if (mp->state == S_PREAMBLE || mp->state == S_BODY) {
			err = scan_delimiter(mp, p, len, &used);
		} else if (mp->state == S_EPILOGUE) {
			used = len;
		} else {
			err = step(mp, *p);
		}
		if (err != 0)
			goto done;
		p += used;
		len -= used;
		mp->offset += used;
	}
	if (too_big) {
		err = fail(mp, VT_ETOOBIG, "larger than %llu bytes",
			   (unsigned long long)mp->lim.max_body);
	}
done:
	if (err != 0) {
		mp->state = S_FAILED;
		mp->failed = err;
	}
	return err;
}

int vt_multipart_finish(vt_multipart *mp)
{
	int err = 0;

	switch (mp->state) {
	case S_EPILOGUE: break;
	case S_FAILED:
		err = mp->failed;
		vt_error_set(err < 0 ? err : VT_EINVAL, "multipart body: an earlier call failed");
		break;
	case S_PREAMBLE: err = fail(mp, VT_EINVAL, "truncated: no boundary found"); break;
	case S_HEADER:
	case S_HEADER_LF: err = fail(mp, VT_EINVAL, "truncated in part headers"); break;
	case S_BODY: err = fail(mp, VT_EINVAL, "truncated: part not closed by a boundary"); break;
	default: err = fail(mp, VT_EINVAL, "truncated: no close delimiter"); break;
	}
	return err;
}

/* Decode one UTF-8 sequence at s; returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
	size_t n;
	uint32_t c, min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		n = 2, c = s[0] & 0x1f, min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3, c = s[0] & 0x0f, min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4, c = s[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int vt_multipart_safe_filename(const char *filename)
{
	const unsigned char *s = (const unsigned char *)filename;
	size_t len = strlen(filename);
	int err = 0;

	if (len == 0) {
		err = vt_error_set(VT_EINVAL, "empty filename");
		goto done;
	}
	if (len > VT_MULTIPART_FILENAME_MAX) {
		err = vt_error_set(VT_EINVAL, "filename longer than %d bytes",
				   VT_MULTIPART_FILENAME_MAX);
		goto done;
	}
	if (strcmp(filename, ".") == 0 || strcmp(filename, "..") == 0) {
		err = vt_error_set(VT_EINVAL, "filename is a directory reference");
		goto done;
	}
	while (*s) {
		uint32_t cp;
		size_t n = utf8_decode(s, &cp);

		if (n == 0) {
			err = vt_error_set(VT_EINVAL, "filename is not valid UTF-8");
			goto done;
		}
		if (cp == '/' || cp == '\\') {
			err = vt_error_set(VT_EINVAL, "filename has a path separator");
			goto done;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			err = vt_error_set(VT_EINVAL, "filename has a control character");
			goto done;
		}
		if ((cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069)) {
			err = vt_error_set(VT_EINVAL, "filename has a bidirectional override");
			goto done;
		}
		s += n;
	}
done:
	return err;
}
