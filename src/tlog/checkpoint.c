/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Checkpoint bodies (c2sp.org/tlog-checkpoint): origin, tree size, root
 * hash and optional extension lines, each ending in a newline.
 *
 * Parsing is strict so that one tree head has exactly one text: canonical
 * decimal size, canonical base64 root of 32 bytes, no empty extension
 * line, and the character rules of a signed note. Nothing is allocated
 * beyond the base64 decoder's scratch; extension lines stay in the text.
 */
#include "vitrine/checkpoint.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/note.h"

#include <inttypes.h>
#include <string.h>

int vt_checkpoint_check_origin(const char *origin, size_t len)
{
	int err = 0;

	if (len == 0)
		err = vt_error_set(VT_EINVAL, "empty origin");
	else if (len > VT_ORIGIN_MAX)
		err = vt_error_set(VT_EINVAL, "origin longer than %d bytes", VT_ORIGIN_MAX);
	else if (memchr(origin, '\n', len))
		err = vt_error_set(VT_EINVAL, "origin contains a newline");
	else if ((err = vt_note_check_chars(origin, len)) < 0)
		vt_error_wrap(err, "origin");
	return err;
}

/*
 * Extension lines: each non-empty and ending in '\n', no control
 * characters but the newlines, valid UTF-8.
 */
static int check_ext(const char *ext, size_t len)
{
	int err = 0;

	if (len == 0)
		goto done;
	if (ext[len - 1] != '\n') {
		err = vt_error_set(VT_EINVAL, "extension line without a final newline");
		goto done;
	}
	if (ext[0] == '\n' || memmem(ext, len, "\n\n", 2)) {
		err = vt_error_set(VT_EINVAL, "empty extension line");
		goto done;
	}
	if ((err = vt_note_check_chars(ext, len)) < 0)
		vt_error_wrap(err, "extension lines");
done:
	return err;
}

/* Take the next line (without '\n') from [*p, end); VT_EINVAL if there is none. */
static int next_line(const char **line, size_t *len, const char **p, const char *end,
		     const char *what)
{
	const char *nl = *p < end ? memchr(*p, '\n', (size_t)(end - *p)) : NULL;

	if (!nl)
		return vt_error_set(VT_EINVAL, "checkpoint has no %s line", what);
	*line = *p;
	*len = (size_t)(nl - *p);
	*p = nl + 1;
	return 0;
}

int vt_checkpoint_parse(vt_checkpoint *out, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *line = NULL;
	size_t n = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = next_line(&line, &n, &p, end, "origin")) < 0)
		goto done;
	if ((err = vt_checkpoint_check_origin(line, n)) < 0)
		goto done;
	memcpy(out->origin, line, n);
	out->origin[n] = '\0';
	if ((err = next_line(&line, &n, &p, end, "tree size")) < 0)
		goto done;
	if ((err = vt_parse_u64(&out->size, line, n)) < 0) {
		vt_error_wrap(err, "tree size");
		goto done;
	}
	if ((err = next_line(&line, &n, &p, end, "root hash")) < 0)
		goto done;
	if ((err = vt_base64_decode_exact(out->root.b, VT_HASH_SIZE, line, n)) < 0) {
		vt_error_wrap(err, "root hash");
		goto done;
	}
	if ((err = check_ext(p, (size_t)(end - p))) < 0)
		goto done;
	out->ext = p < end ? p : NULL;
	out->ext_len = (size_t)(end - p);
done:
	if (err < 0) {
		memset(out, 0, sizeof(*out));
		vt_error_wrap(err, "checkpoint");
	}
	return err;
}

int vt_checkpoint_format(vt_buf *out, const vt_checkpoint *c)
{
	size_t start = out->len, olen = strnlen(c->origin, sizeof(c->origin));
	int err;

	if (olen == sizeof(c->origin)) {
		err = vt_error_set(VT_EINVAL, "origin is not NUL-terminated");
		goto done;
	}
	if ((err = vt_checkpoint_check_origin(c->origin, olen)) < 0)
		goto done;
	if ((err = check_ext(c->ext, c->ext ? c->ext_len : 0)) < 0)
		goto done;
	if ((err = vt_buf_printf(out, "%s\n%" PRIu64 "\n", c->origin, c->size)) < 0 ||
	    (err = vt_base64_append(out, c->root.b, VT_HASH_SIZE)) < 0 ||
	    (err = vt_buf_addc(out, '\n')) < 0)
		goto done;
	if (c->ext && c->ext_len)
		err = vt_buf_add(out, c->ext, c->ext_len);
done:
	if (err < 0 && out->len != start) {
		out->len = start;
		out->ptr[start] = 0;
	}
	return err;
}
