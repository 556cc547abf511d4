/* SPDX-License-Identifier: Apache-2.0 */
/* Custody fsck: the vault checked against itself and against the log's `sample` entries. */
#ifndef VITRINE_FSCK_H
#define VITRINE_FSCK_H

#include <stdint.h>

#include "vitrine/reader.h"
#include "vitrine/vault.h"

/* What the cross-check saw, beside vt_vault_fsck_stats. */
typedef struct {
	uint64_t entries;  /* log entries read */
	uint64_t samples;  /* distinct files named by `sample` entries for this jurisdiction */
	uint64_t unlogged; /* verified objects without a `sample` entry */
	uint64_t missing;  /* `sample` entries whose object file is gone */
} vt_fsck_log_stats;

/*
 * Run vt_vault_fsck() on v (in data directory dir) and cross-check it with
 * the log read by r (its whole tree): every object that verifies must be
 * named by a `sample` entry, and every `sample` entry of jurisdiction
 * must have its object file (a shredded object's tombstone counts: the
 * file is there, its key is gone). Each discrepancy goes to on_problem
 * as VT_VAULT_PROBLEM_UNLOGGED or VT_VAULT_PROBLEM_MISSING (counted in
 * vst->problems too). Memory: 32 bytes per sample. Returns as
 * vt_vault_fsck(), or the log's read errors.
 */
int vt_fsck_custody(vt_vault_fsck_stats *vst, vt_fsck_log_stats *lst, vt_vault *v, const char *dir,
		    const char *jurisdiction, vt_tlog_reader *r, vt_vault_problem_fn on_problem,
		    void *payload);

#endif
