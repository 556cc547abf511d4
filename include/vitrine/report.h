/* SPDX-License-Identifier: Apache-2.0 */
/*
 * File reports (GET /api/v1/files/{hash}) and the JSON pieces of the
 * /api/v1 answers: who may see what, the report built from the index, the
 * error body, and JSON string escaping.
 *
 * Visibility: a submitter sees a file only when its own tenant has a
 * sighting of it, and then only its own tenant's sightings; to anyone
 * else a hidden file is exactly as unknown (same code, same message), so
 * its existence does not leak. Analysts, auditors and admins see all.
 */
#ifndef VITRINE_REPORT_H
#define VITRINE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "vitrine/buf.h"
#include "vitrine/index.h"
#include "vitrine/token.h"

/* Sightings listed in one report; the rest are counted, not listed. */
#define VT_REPORT_SIGHTINGS_MAX 1000

/*
 * The view of a token: 0 and *tenant set to the tenant a submitter is
 * limited to (borrowed from t), or NULL for analysts, auditors and admins
 * who see every tenant. VT_EDENIED for any other role (a narrow role must
 * be granted here explicitly, not by default). Pure.
 */
int vt_report_scope(const char **tenant, const vt_token *t);

/*
 * Whether a token's role may ask POST /api/v1/lookup: 0 for submitter,
 * analyst, auditor and admin, else VT_EDENIED. Pure.
 */
int vt_report_may_lookup(const vt_token *t);

/*
 * Append the JSON report of the sample key names, as the token t may see
 * it:
 *
 *   {"sha256": "..", "sha1": "..", "md5": "..", "size": N,
 *    "first_seen": "<RFC 3339 UTC>", "jurisdiction": "..", "tags": [..],
 *    "verdict": "<verdict>"|null, "analysis": {..}|null,
 *    "sightings_total": N, "sightings_truncated": false,
 *    "sightings": [{"tenant": "..", "region": "..", "name": "..",
 *                   "source": "..", "time": "..", "log_index": N|null}]}
 *
 * "analysis" (null until analysed) holds verdict, ruleset, analysed,
 * log_index, type, mime, ssdeep, tlsh, entropy, matches (rule names of the
 * whole tree), children ({path, sha256}) and the full JSON report
 * (docs/api.md).
 *
 * VT_ENOTFOUND for an unknown sample and for one the token may not see
 * (same message), VT_EDENIED for a role without a view, VT_ETOOBIG when
 * out is too small, VT_EIO and the like when the index cannot answer. out
 * is unchanged on failure. Thread-safe as vt_index is.
 */
int vt_report_file(vt_buf *out, vt_index *idx, const vt_index_key *key, const vt_token *t);

/*
 * Append s (len bytes) as a JSON string with its quotes: '"', '\\' and
 * control characters escaped, DEL as \u007f, and each byte that is not
 * part of valid UTF-8 replaced by \ufffd, so that any bytes give valid
 * JSON. VT_ETOOBIG, VT_ENOMEM.
 */
int vt_report_json_string(vt_buf *out, const char *s, size_t len);

/*
 * Append an /api/v1 error body {"error": {"code": "..", "message": ".."}}
 * and a newline. code is a short stable word such as "bad_hash".
 */
int vt_report_error(vt_buf *out, const char *code, const char *message);

#endif
