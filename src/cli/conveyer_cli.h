/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the conveyer's commands (release, rebuild, bundle, verify). */
#ifndef VITRINE_CLI_CONVEYER_H
#define VITRINE_CLI_CONVEYER_H

#include <jansson.h>
#include <stddef.h>

#include "vitrine/buf.h"
#include "vitrine/client.h"
#include "vitrine/dsse.h"
#include "vitrine/endpoint.h"
#include "vitrine/release.h"

/* Split "NAME@VERSION" into checked name and version. VT_EINVAL. */
int cv_split_nv(char *name, char *version, const char *arg);

/* Load a DSSE signer from a signed-note private key file. */
int cv_load_signer(vt_dsse_signer *s, const char *path);

/* GET a JSON document. VT_EIO when unreachable, VT_ENOTFOUND, VT_EINVAL. */
int cv_get_json(json_t **out, vt_client *cl, const char *path);

/* GET /api/v1/{attestations,artifacts,sources}/HEX and check its SHA-256. */
int cv_get_blob(vt_buf *out, vt_client *cl, const char *kind, const char *hex);

/* The statement inside an envelope, read without verifying it. */
int cv_envelope_statement(vt_release_statement *st, const vt_buf *env);

/*
 * Make a bundle (docs/conveyer.md) of NAME VERSION from a site: its
 * envelope, recipe, build entry, a tlog-proof of the entry under the
 * checkpoint note cp (a cosigned copy of a checkpoint of the site's log;
 * NULL: the site's latest), a consistency proof from the checkpoint note
 * since when it is older, and the rebuild envelopes. The entry read from
 * the log at its index must be the one the site lists.
 */
int cv_make_bundle(vt_buf *out, vt_client *cl, const char *name, const char *version,
		   const char *cp, size_t cp_len, const char *since, size_t since_len);

/*
 * The check that fetching evidence from a site failed with err (a
 * VT_E* code, message in vt_error_last()): unreachable for I/O and busy
 * errors, else the bundle. msg gets "<check>: <what>: <error>".
 */
vt_check cv_fetch_refusal(char *msg, size_t cap, int err);

#endif
