/* SPDX-License-Identifier: Apache-2.0 */
/* The build conveyer: a recipe built twice in the sandbox, compared, and its provenance. */
#ifndef VITRINE_CONVEYER_H
#define VITRINE_CONVEYER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vitrine/buf.h"
#include "vitrine/dsse.h"
#include "vitrine/hash.h"
#include "vitrine/recipe.h"

/* The buildType of vitrine's provenance (docs/conveyer.md describes it). */
#define VT_BUILD_TYPE	  "https://vitrine.dev/conveyer/recipe-build/v1"
#define VT_STATEMENT_TYPE "https://in-toto.io/Statement/v1"
#define VT_PREDICATE_TYPE "https://slsa.dev/provenance/v1"

/* One output of a build. */
typedef struct {
	char *name; /* the path the recipe named, relative to the output directory */
	vt_hash digest;
	uint64_t size;
} vt_build_output;

/* One tool of the recipe's Toolchain as found on this machine. */
typedef struct {
	char *path;	/* as the recipe names it */
	char *resolved; /* symlinks resolved */
	vt_hash digest; /* SHA-256 of the resolved file */
} vt_build_tool;

/* What to build and how. */
typedef struct {
	const char *recipe_path; /* the recipe file */
	const char *out_dir;	 /* where outputs, the log and the envelope go (made if missing) */
	const char *builder_id;	 /* runDetails.builder.id */
	bool once;		 /* one run only: no reproducibility check */
	/* Progress lines (no newline), or NULL. */
	void (*progress)(const char *line, void *payload);
	void *payload;
} vt_build_opts;

/* A finished build; every field is owned and freed by vt_build_dispose(). */
typedef struct {
	vt_recipe recipe;
	char *recipe_name;     /* the recipe file's base name */
	vt_hash source_digest; /* tree digest, equal to the recipe's */
	bool source_is_tar;
	vt_hash source_file; /* SHA-256 of the tarball's bytes, when a tarball */
	vt_build_tool *tools;
	size_t ntools;
	vt_build_output *outputs; /* in the recipe's order, from the first run */
	size_t noutputs;
	int runs;		/* 1 with once, else 2 */
	bool reproduced;	/* both runs gave the same bytes for every output */
	vt_buf report;		/* how the runs differ (empty when reproduced) */
	char sandbox[128];	/* bwrap's version line */
	char invocation_id[33]; /* random, hex */
	struct timespec started, finished;
	vt_hash log_digest; /* SHA-256 of the first run's log */
	char *work_dir;	    /* kept for inspection when not reproduced, else NULL */
} vt_build;

/*
 * Build a recipe: read and parse it, check the source's tree digest
 * against the recipe (a tarball is extracted with libarchive first),
 * hash the toolchain, check the sandbox, run the steps in the sandbox
 * twice with the two variants of vt_sandbox_variant() (the second run
 * starts in a later wall-clock second, on one CPU and under libfaketime
 * when installed; its progress says when the clock could not be
 * varied), hash and compare the outputs.
 * When they agree (or with once) the outputs of the first run are moved
 * to out_dir/<output> and the log to out_dir/<name>-<version>.log, and
 * the work directory is removed; when they differ, b->reproduced is
 * false, b->report says how (diffoscope's text when diffoscope is on
 * PATH, else sizes, first differing offset and count of differing bytes)
 * and b->work_dir is kept. Returns 0 in both cases. VT_EINVAL (recipe),
 * VT_EVERIFY (source digest mismatch), VT_ENOTFOUND (source, tool, an
 * output missing), VT_EDENIED (no sandbox here), VT_EIO (the steps failed
 * or timed out: the message names the log and quotes its end).
 * Initialises *b in every case; dispose it.
 */
int vt_build_run(vt_build *b, const vt_build_opts *o);

/* Free everything a build holds. */
void vt_build_dispose(vt_build *b);

/*
 * Append the in-toto Statement v1 with the SLSA provenance v1 predicate
 * of a build (compact JSON, object keys sorted: JSON_SORT_KEYS).
 * builder_id may not be empty. VT_EINVAL, VT_ENOMEM.
 */
int vt_provenance_statement(vt_buf *out, const vt_build *b, const char *builder_id);

/*
 * Verify a DSSE envelope of an in-toto statement under pub (see
 * vt_dsse_verify) and check the statement's shape: _type is Statement
 * v1, predicateType SLSA provenance v1, a non-empty subject array of
 * {name, digest: {sha256: 64 lower-case hex}}. Appends the statement to
 * out. VT_EINVAL, VT_EVERIFY, VT_ETOOBIG.
 */
int vt_provenance_open(vt_buf *out, const char *env, size_t len,
		       const uint8_t pub[VT_ED25519_PUB_SIZE]);

#endif
