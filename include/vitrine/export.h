/* SPDX-License-Identifier: Apache-2.0 */
/* Customer files leaving the vault: the plaintext or a ZIP under the password "infected". */
#ifndef VITRINE_EXPORT_H
#define VITRINE_EXPORT_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/access.h"
#include "vitrine/vault.h"

/* The customary password of malware ZIPs (VirusTotal, MWDB, MalwareBazaar). */
#define VT_EXPORT_ZIP_PASSWORD "infected"

typedef struct vt_export vt_export;

/*
 * Read object id through to its end without keeping anything, so that a
 * damaged object is refused before a byte of it is sent. Returns 0, or
 * the error of vt_vault_reader_open()/vt_vault_reader_read() (VT_ENOTFOUND,
 * VT_ECORRUPT, VT_EVERIFY, VT_EIO).
 */
int vt_export_check(vt_vault *v, const vt_hash *id, const char *jurisdiction);

/*
 * A stream of object id as fmt: the plaintext, or a ZIP holding one member
 * named member (such as the hex SHA-256) encrypted with the traditional
 * PKWARE cipher under VT_EXPORT_ZIP_PASSWORD, which every unzip tool
 * opens. Memory stays bounded (about two vault chunks) whatever the size.
 * Returns 0, or the errors of vt_vault_reader_open(), VT_ENOMEM, VT_EIO.
 */
int vt_export_open(vt_export **out, vt_vault *v, const vt_hash *id, const char *jurisdiction,
		   vt_access_format fmt, const char *member);

/* Bytes the stream will produce, or -1 when not known in advance (ZIP). */
int64_t vt_export_size(const vt_export *e);

/*
 * Up to cap (> 0) next bytes into buf; *n receives the count, 0 at the
 * end. Returns 0, VT_ECORRUPT when the object turns out damaged, VT_EIO.
 */
int vt_export_read(size_t *n, vt_export *e, void *buf, size_t cap);

/* Free a stream (NULL is fine). */
void vt_export_free(vt_export *e);

#endif
