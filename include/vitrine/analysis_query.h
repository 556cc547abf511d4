/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The search language of GET /api/v1/search (docs/analysis.md, "Search"):
 * terms such as `rule:eicar size:>1MB verdict:malicious` combined with AND,
 * read into a vt_query that vt_index_search() runs.
 */
#ifndef VITRINE_ANALYSIS_QUERY_H
#define VITRINE_ANALYSIS_QUERY_H

#include <stddef.h>

#include "vitrine/index.h"

/* Bytes of one query. */
#define VT_QUERY_MAX 2048

/*
 * Read the query text q (len bytes, need not be NUL-terminated) into
 * *out. VT_EINVAL for anything else than the language, with a message
 * that starts "position N: " (1-based byte offset of the term or value at
 * fault) and *errpos (may be NULL) set to N; VT_ETOOBIG for a query over
 * VT_QUERY_MAX bytes or with more than VT_INDEX_QUERY_TERMS terms. Pure
 * and thread-safe.
 */
int vt_query_parse(vt_query *out, size_t *errpos, const char *q, size_t len);

#endif
