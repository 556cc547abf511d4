/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Analysis at the site: a pool of workers that analyses every stored
 * sample where it is held, stores the result in the index and logs an
 * `analysis` entry; and rulesets, staged, logged (`ruleset` entry) and
 * only then installed (DIR/rules/<digest>, DIR/rules/current).
 *
 * The queue is the index (vt_index_analysis_queue and _stale): new
 * samples first, then a retro-scan in SHA-256 order of every sample
 * analysed with another ruleset. Nothing about the queue lives only in
 * memory, so a restart, even after kill -9, picks up where it stopped.
 * docs/analysis.md has the design and the verdict logging policy.
 */
#ifndef VITRINE_ANALYSIS_SERVICE_H
#define VITRINE_ANALYSIS_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/analysis.h"
#include "vitrine/buf.h"
#include "vitrine/index.h"
#include "vitrine/log.h"
#include "vitrine/vault.h"

/* Rule names listed in one `analysis` entry; the count covers all. */
#define VT_ANALYSIS_ENTRY_RULES_MAX 200
/* Files and bytes of one ruleset source set. */
#define VT_RULESET_FILES_MAX 256
#define VT_RULESET_BYTES_MAX ((size_t)16 << 20)

/* ---- entries ---- */

/*
 * Append the `analysis` entry (docs/entries.md): sample, ruleset digest in
 * hex ("" for none), verdict and the matched rules ("namespace:identifier",
 * sorted and without repeats, at most VT_INDEX_RULE_MAX bytes of
 * [A-Za-z0-9._/-] then ':' and a YARA identifier). VT_EINVAL, VT_ETOOBIG.
 */
int vt_analysis_entry(vt_buf *out, const vt_hash *sample, const char *ruleset, vt_verdict v,
		      const char *const *rules, size_t nrules);

/*
 * Append the `ruleset` entry (docs/entries.md): digest in hex, rule count,
 * source file count and, for rules installed from a release, the line
 * "release NAME@VERSION" (release NULL: none). VT_EINVAL for a malformed
 * release, VT_ETOOBIG.
 */
int vt_ruleset_entry(vt_buf *out, const char *digest, unsigned rules, size_t files,
		     const char *release);

/* A `ruleset` entry, parsed. */
typedef struct {
	char digest[65]; /* lower-case hex */
	unsigned rules;
	size_t files;
	char release[130]; /* "NAME@VERSION", or "" when not from a release */
} vt_ruleset_info;

/*
 * Parse a `ruleset` entry strictly: the header, digest, rules, files in
 * that order, an optional release line last, canonical decimals, final
 * newline, nothing else. VT_EINVAL (out zeroed). Thread-safe.
 */
int vt_ruleset_entry_parse(vt_ruleset_info *out, const char *text, size_t len);

/* ---- rulesets ---- */

/* The name of a release's compiled rules file in DIR/rules/<digest>/. */
#define VT_RULESET_COMPILED_NAME "rules.yarc"
/* The largest compiled rules file a site installs. */
#define VT_RULESET_COMPILED_MAX ((size_t)256 << 20)

/* One source file of a ruleset: a relative path and its bytes (borrowed). */
typedef struct {
	const char *path;
	const void *data;
	size_t len;
} vt_ruleset_file;

typedef struct vt_ruleset_stage vt_ruleset_stage;

/*
 * Write the files into a new staging directory under DIR/rules and
 * compile them there (vt_analysis_rules_compile with facts), so that what
 * is digested is what will be installed. Paths: 1 to 255 bytes of
 * [A-Za-z0-9._/-], relative, no "." or ".." component, ending in .yar or
 * .yara; at most VT_RULESET_FILES_MAX files and VT_RULESET_BYTES_MAX
 * bytes. VT_EINVAL (bad path, compile error or slow rule, with every
 * message), VT_EIO, VT_ENOMEM.
 */
int vt_ruleset_stage_new(vt_ruleset_stage **out, const char *site_dir, const vt_ruleset_file *files,
			 size_t n);

/*
 * Stage from the JSON body of POST /api/v1/rulesets: {"files":
 * {"<path>": "<source>", ...}} as vt_ruleset_stage_new, or {"release":
 * "NAME@VERSION", "compiled": "<standard base64>"} as
 * vt_ruleset_stage_compiled. VT_EINVAL for other JSON.
 */
int vt_ruleset_stage_json(vt_ruleset_stage **out, const char *site_dir, const char *json,
			  size_t len);

/*
 * Stage rules compiled by `yarac` (a rules release's artifact) for
 * installation: written to a new staging directory as
 * VT_RULESET_COMPILED_NAME and loaded from there
 * (vt_analysis_rules_load: the digest is the SHA-256 of the file). The
 * entry carries "release NAME@VERSION" and files 1. The caller must have
 * verified the release (docs/analysis.md, "Rules releases"). VT_EINVAL
 * (bad release name, not a loadable rules file), VT_EEXISTS (the rules in
 * force), VT_ETOOBIG, VT_EIO, VT_ENOMEM.
 */
int vt_ruleset_stage_compiled(vt_ruleset_stage **out, const char *site_dir, const void *data,
			      size_t len, const char *release);

/* The compiled rules (borrowed) and the `ruleset` entry to log (borrowed). */
vt_analysis_rules *vt_ruleset_stage_rules(const vt_ruleset_stage *s);
const vt_buf *vt_ruleset_stage_entry(const vt_ruleset_stage *s);
size_t vt_ruleset_stage_files(const vt_ruleset_stage *s);
/* "NAME@VERSION" of a staged release's rules, "" for a source set (borrowed). */
const char *vt_ruleset_stage_release(const vt_ruleset_stage *s);

/*
 * Install after the entry is logged: move the staging directory to
 * DIR/rules/<digest> (kept when already there) and point DIR/rules/current
 * at it with one rename, durably. VT_EIO.
 */
int vt_ruleset_stage_commit(vt_ruleset_stage *s);

/* Free a stage; an uncommitted staging directory is removed. NULL is fine. */
void vt_ruleset_stage_free(vt_ruleset_stage *s);

/*
 * Load the ruleset in force (DIR/rules/current): the compiled file of a
 * release when the directory holds VT_RULESET_COMPILED_NAME, else its
 * sources compiled. VT_ENOTFOUND when the site has none; errors of
 * vt_analysis_rules_compile and vt_analysis_rules_load.
 */
int vt_ruleset_load_current(vt_analysis_rules **out, const char *site_dir);

/* ---- the service ---- */

typedef struct vt_analysis_service vt_analysis_service;

typedef struct {
	unsigned workers;	   /* 0: the number of CPUs */
	unsigned batch;		   /* samples a worker takes at once (0: 16) */
	unsigned poll_ms;	   /* idle poll of the queue (0: 100) */
	vt_analysis_limits limits; /* zero: the defaults */
	/* Each worker analyses in a confined child (docs/analysis.md). */
	const char *analyser_exe;      /* the vitrine binary; NULL: /proc/self/exe */
	uint64_t analyser_memory_max;  /* a child's RLIMIT_AS; 0: the default */
	unsigned analyser_max_samples; /* samples a child analyses before it is
					  replaced; 0: 1000 (docs/analysis.md) */
} vt_analysis_service_options;

/*
 * Start the workers. idx, vault, log are borrowed and must outlive the
 * service; rules may be NULL (the service takes its own reference).
 * site_dir is where DIR/rules lives. VT_ENOMEM, VT_EIO.
 */
int vt_analysis_service_start(vt_analysis_service **out, vt_index *idx, vt_vault *vault,
			      const char *jurisdiction, vt_log *log, const char *site_dir,
			      vt_analysis_rules *rules, const vt_analysis_service_options *opt);

/*
 * Stop the workers: the batches running finish, are logged and stored.
 * Call before vt_log_stop(). The routes keep answering from the index.
 * Idempotent; NULL is fine.
 */
void vt_analysis_service_stop(vt_analysis_service *s);

/* Stop (if not yet) and free the service. NULL is fine. */
void vt_analysis_service_free(vt_analysis_service *s);

/* Swap the rules and start a retro-scan. Thread-safe. */
void vt_analysis_service_set_rules(vt_analysis_service *s, vt_analysis_rules *rules);

/* Wake the workers: new work may be queued. Thread-safe and cheap. */
void vt_analysis_service_kick(vt_analysis_service *s);

/* The index and the site directory the service works on (borrowed). */
vt_index *vt_analysis_service_index(vt_analysis_service *s);
const char *vt_analysis_service_dir(vt_analysis_service *s);

/*
 * Append the status JSON of GET /api/v1/analysis: {"ruleset", "rules",
 * "workers", "pending", "queued", "analysed", "samples", "errors",
 * "reconciled", "analysers": {"running", "started", "restarts",
 * "failures", "start_failures"}, "retro_scan": {"done", "total", "rate",
 * "eta_s"}}. restarts counts children started to replace one that failed
 * (crashed, timed out, answered garbage or died at start). VT_EIO,
 * VT_ETOOBIG.
 */
int vt_analysis_service_status(vt_buf *out, vt_analysis_service *s);

/* What one page of a search may cost: rows examined, milliseconds. */
#define VT_SEARCH_SCAN_MAX 200000
#define VT_SEARCH_MS_MAX   5000

/*
 * Run query q (vt_query_parse) for a token's view (tenant NULL: all) and
 * append {"results": [...], "cursor": "<opaque>"|null} to out. cursor is
 * the previous answer's (NULL: the first page). limit 1..1000. A page
 * examines at most VT_SEARCH_SCAN_MAX rows for at most VT_SEARCH_MS_MAX
 * ms and may then hold fewer than limit results, with a cursor. Blocks:
 * call it off the event loop. VT_EINVAL for a bad cursor, VT_EBUSY when
 * the time ran out before any row was found, VT_EIO.
 */
int vt_analysis_service_search(vt_buf *out, vt_analysis_service *s, const vt_query *q,
			       const char *tenant, const char *cursor, size_t limit);

#endif
