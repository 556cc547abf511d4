/* SPDX-License-Identifier: Apache-2.0 */
/* A streaming multipart/form-data (RFC 7578) parser for request bodies. */
#ifndef VITRINE_MULTIPART_H
#define VITRINE_MULTIPART_H

#include <stddef.h>
#include <stdint.h>

/*
 * The body is fed in pieces of any size, as they come off the socket;
 * part bodies are handed to on_part_data() as they stream by, so memory is
 * a few fixed buffers of max_header_line bytes whatever the size of the
 * parts. Bytes held back because they might start a delimiter are copies
 * of the delimiter itself and need no buffer. Callbacks see the same
 * events, and feed/finish return the same result, however the body is
 * split (the data may come in different chunks; its concatenation is the
 * same).
 *
 * What is accepted (RFC 2046 section 5.1.1, RFC 7578):
 * - a preamble before the first delimiter and an epilogue after the close
 *   delimiter are ignored (they count towards max_body);
 * - a delimiter is CRLF "--" boundary at the start of a line (the body's
 *   first line and a part body's first line count as line starts, so
 *   "--boundary" right after a part's headers ends an empty part);
 *   "--boundary" elsewhere is data. Once the
 *   boundary is seen whole at a line start, the rest of the line must be
 *   transport padding (spaces, tabs) then CRLF, or "--" for the close
 *   delimiter: anything else is an error, not data (RFC 2046: a boundary
 *   must not appear at a line start inside a part);
 * - lines end with CRLF. A bare LF in a delimiter line or in part headers
 *   is refused rather than guessed at, since a body mixing conventions
 *   could be read two ways; inside part bodies LF is just data;
 * - each part has one Content-Disposition "form-data" with a "name" and
 *   optionally a "filename" (token or quoted-string, backslash escapes
 *   undone; percent sequences such as browsers' and curl's %22 are left as
 *   they are); other parameters (such as filename*, which RFC 7578 4.2
 *   forbids) are ignored. An optional Content-Type, and a
 *   Content-Transfer-Encoding only if 7bit, 8bit or binary; other headers
 *   are ignored. Folded (obsolete continuation) header lines are refused;
 * - names and filenames may not hold control characters (below 0x20, and
 *   0x7f); the filename is otherwise reported raw: see
 *   vt_multipart_safe_filename();
 * - a body with no part at all ("--b--") is accepted: callers check for
 *   the fields they need.
 *
 * Not thread-safe: one parser per request.
 */

typedef struct vt_multipart vt_multipart;

/* Defaults for a limits field left at 0. */
#define VT_MULTIPART_DEFAULT_MAX_BODY	     ((uint64_t)256 * 1024 * 1024 + 64 * 1024)
#define VT_MULTIPART_DEFAULT_MAX_PARTS	     16
#define VT_MULTIPART_DEFAULT_MAX_HEADERS     8
#define VT_MULTIPART_DEFAULT_MAX_HEADER_LINE 2048
/* The largest max_header_line allowed (each parser allocates 4 such lines). */
#define VT_MULTIPART_MAX_HEADER_LINE_CAP (64 * 1024)
/* Longest boundary (RFC 2046). */
#define VT_MULTIPART_BOUNDARY_MAX 70
/* Longest filename vt_multipart_safe_filename() accepts, in bytes. */
#define VT_MULTIPART_FILENAME_MAX 255

typedef struct {
	/* All bytes fed, preamble and epilogue included. Going past it is
	 * VT_ETOOBIG; the bytes up to the limit are still parsed, so the
	 * callbacks do not depend on how the body was split. */
	uint64_t max_body;
	/* Parts in the body; one more is VT_ETOOBIG. */
	size_t max_parts;
	/* Header lines in one part; one more is VT_ETOOBIG. */
	size_t max_headers;
	/* Bytes in one part header line, CRLF excluded; longer is VT_ETOOBIG. */
	size_t max_header_line;
} vt_multipart_limits;

/*
 * What the parser reports, in order, for each part: on_part_begin once its
 * headers are read, on_part_data zero or more times with its body, and
 * on_part_end when its closing delimiter is seen. The strings and data are
 * borrowed for the duration of the call. name is never NULL nor "" (an
 * empty name is refused); filename is NULL when the part had no
 * filename parameter (and "" for filename=""); content_type is the
 * trimmed header value, or NULL when absent (RFC 7578: text/plain then).
 * A callback returns 0 to go on; any other value stops the parser and is
 * returned by the vt_multipart_feed() call under way (set a message with
 * vt_error_set() if it is an error code). Any callback may be NULL.
 */
typedef struct {
	int (*on_part_begin)(const char *name, const char *filename, const char *content_type,
			     void *payload);
	int (*on_part_data)(const uint8_t *data, size_t len, void *payload);
	int (*on_part_end)(void *payload);
} vt_multipart_callbacks;

/*
 * Create a parser for a body whose Content-Type header value is
 * content_type: it must be multipart/form-data (case-insensitive) with a
 * boundary parameter, quoted or not, of 1 to 70 characters from RFC 2046's
 * bchars (letters, digits, '()+_,-./:=? and inner spaces). Other
 * parameters are ignored.
 *
 * out      receives the parser, to free with vt_multipart_free().
 * content_type  the header value (NULL when the request had none).
 * cb       the callbacks, copied; NULL for none (validation only).
 * payload  passed to every callback.
 * limits   copied; NULL or 0 fields take the defaults above.
 *
 * Returns 0, VT_EINVAL (no or another content type, missing, duplicate or
 * invalid boundary, max_header_line over the cap) or VT_ENOMEM.
 */
int vt_multipart_new(vt_multipart **out, const char *content_type, const vt_multipart_callbacks *cb,
		     void *payload, const vt_multipart_limits *limits);

/*
 * Parse the next len bytes of the body, calling the callbacks for what
 * they complete. Pieces may be of any size, down to one byte or zero.
 *
 * Returns 0; VT_EINVAL for a malformed body (the message says what and
 * where, by byte offset in the body); VT_ETOOBIG when a limit is passed;
 * VT_ENOMEM; or the non-zero value a callback returned. After a failure the parser
 * only returns that code again.
 */
int vt_multipart_feed(vt_multipart *mp, const void *data, size_t len);

/*
 * Say the body is complete. Returns 0 when the close delimiter was seen
 * (whatever came after it is the epilogue), VT_EINVAL with a message
 * saying "truncated" otherwise, or the earlier failure's code.
 */
int vt_multipart_finish(vt_multipart *mp);

/* Number of parts begun so far. */
size_t vt_multipart_parts(const vt_multipart *mp);

/* Free a parser; NULL is a no-op. */
void vt_multipart_free(vt_multipart *mp);

/*
 * Check that a client's filename is fit to keep as a plain file name: 1 to
 * VT_MULTIPART_FILENAME_MAX bytes of valid UTF-8, not "." or "..", with no
 * '/' or '\\', no control characters (C0, DEL, C1) and no Unicode
 * bidirectional overrides or isolates (U+202A-U+202E, U+2066-U+2069, which
 * disguise "evil\u202Etxt.exe" as "evilexe.txt"). Returns 0 or VT_EINVAL
 * with a message saying why. Thread-safe.
 */
int vt_multipart_safe_filename(const char *filename);

#endif
