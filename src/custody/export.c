/* SPDX-License-Identifier: Apache-2.0 */
/* Customer files leaving the vault as plaintext or as a password-protected ZIP (libarchive). */
#include "vitrine/export.h"
#include "vitrine/buf.h"
#include "vitrine/error.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vt_export {
	vt_vault_reader *r;
	vt_access_format fmt;
	struct archive *zip;
	vt_buf out;    /* ZIP bytes made and not yet read */
	size_t off;    /* of them, already read */
	bool finished; /* the ZIP's trailer is in out */
	uint8_t chunk[VT_VAULT_CHUNK];
};

int vt_export_check(vt_vault *v, const vt_hash *id, const char *jurisdiction)
{
	vt_vault_reader *r = NULL;
	uint8_t *buf = NULL;
	size_t n = 1;
	int err;

	if ((err = vt_vault_reader_open(&r, v, id, jurisdiction)) < 0)
		goto done;
	if ((buf = malloc(VT_VAULT_CHUNK)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	while (n > 0 && (err = vt_vault_reader_read(&n, r, buf, VT_VAULT_CHUNK)) == 0)
		;
done:
	free(buf);
	vt_vault_reader_close(r);
	return err;
}

static la_ssize_t zip_write(struct archive *a, void *payload, const void *data, size_t len)
{
	vt_export *e = payload;
	if (vt_buf_add(&e->out, data, len) < 0) {
		archive_set_error(a, ENOMEM, "out of memory");
		return -1;
	}
	return (la_ssize_t)len;
}

static int zip_fail(vt_export *e, const char *what)
{
	return vt_error_set(VT_EIO, "cannot make the ZIP (%s): %s", what,
			    archive_error_string(e->zip) ? archive_error_string(e->zip) : "?");
}

static int zip_start(vt_export *e, const char *member)
{
	struct archive_entry *ent = NULL;
	int err = 0;

	if ((e->zip = archive_write_new()) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	/* No blocking: every write reaches zip_write at once, so the
	 * stream's memory is one chunk and its compressed form. */
	if (archive_write_set_format_zip(e->zip) != ARCHIVE_OK ||
	    archive_write_set_options(e->zip, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
	    archive_write_set_passphrase(e->zip, VT_EXPORT_ZIP_PASSWORD) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(e->zip, 0) != ARCHIVE_OK ||
	    archive_write_open(e->zip, e, NULL, zip_write, NULL) != ARCHIVE_OK)
		return zip_fail(e, "setup");
	if ((ent = archive_entry_new()) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	archive_entry_set_pathname(ent, member);
	archive_entry_set_filetype(ent, AE_IFREG);
	archive_entry_set_perm(ent, 0644);
	archive_entry_set_size(ent, (la_int64_t)vt_vault_reader_size(e->r));
	archive_entry_set_mtime(ent, time(NULL), 0);
	if (archive_write_header(e->zip, ent) != ARCHIVE_OK)
		err = zip_fail(e, "header");
	archive_entry_free(ent);
	return err;
}

int vt_export_open(vt_export **out, vt_vault *v, const vt_hash *id, const char *jurisdiction,
		   vt_access_format fmt, const char *member)
{
	vt_export *e;
	int err;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return vt_error_set(VT_ENOMEM, "out of memory");
	e->fmt = fmt;
	vt_buf_init(&e->out, (size_t)4 * VT_VAULT_CHUNK);
	if ((err = vt_vault_reader_open(&e->r, v, id, jurisdiction)) == 0 && fmt == VT_ACCESS_ZIP)
		err = zip_start(e, member);
	if (err < 0) {
		vt_export_free(e);
		return err;
	}
	*out = e;
	return 0;
}

int64_t vt_export_size(const vt_export *e)
{
	return e->fmt == VT_ACCESS_ZIP ? -1 : (int64_t)vt_vault_reader_size(e->r);
}

/* Make more ZIP bytes: compress the next chunk, or write the trailer. */
static int zip_more(vt_export *e)
{
	size_t n;
	int err;

	e->out.len = 0;
	e->off = 0;
	if ((err = vt_vault_reader_read(&n, e->r, e->chunk, sizeof(e->chunk))) < 0)
		return err;
	if (n > 0) {
		if (archive_write_data(e->zip, e->chunk, n) != (la_ssize_t)n)
			return zip_fail(e, "data");
		return 0;
	}
	if (archive_write_finish_entry(e->zip) != ARCHIVE_OK ||
	    archive_write_close(e->zip) != ARCHIVE_OK)
		return zip_fail(e, "trailer");
	e->finished = true;
	return 0;
}

int vt_export_read(size_t *n, vt_export *e, void *buf, size_t cap)
{
	int err;

	*n = 0;
	if (e->fmt == VT_ACCESS_RAW)
		return vt_vault_reader_read(n, e->r, buf, cap);
	if (cap == 0)
		return vt_error_set(VT_EINVAL, "no room to read into");
	while (e->off == e->out.len && !e->finished)
		if ((err = zip_more(e)) < 0)
			return err;
	*n = e->out.len - e->off < cap ? e->out.len - e->off : cap;
	memcpy(buf, e->out.ptr + e->off, *n);
	e->off += *n;
	return 0;
}

void vt_export_free(vt_export *e)
{
	if (!e)
		return;
	if (e->zip)
		archive_write_free(e->zip);
	vt_vault_reader_close(e->r);
	vt_buf_dispose(&e->out);
	free(e);
}
