/* SPDX-License-Identifier: Apache-2.0 */
/* The conveyer's log entries (build, release, rebuild) and the rebuild statement. */
#ifndef VITRINE_RELEASE_H
#define VITRINE_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/dsse.h"
#include "vitrine/hash.h"

#define VT_RELEASE_NAME_MAX    64
#define VT_RELEASE_SUBJECT_MAX 256 /* subjects of one build (the recipe's output limit) */
#define VT_RELEASE_PATH_MAX    255 /* longest subject name */

/* The predicateType of an independent rebuilder's statement (docs/conveyer.md). */
#define VT_REBUILD_PREDICATE_TYPE "https://vitrine.dev/conveyer/rebuild/v1"

/* One subject of a build: an output's name and SHA-256. */
typedef struct {
	char name[VT_RELEASE_PATH_MAX + 1];
	vt_hash digest;
} vt_release_subject;

/*
 * A `build` entry (docs/entries.md): a verified build stored at the site.
 * Plain value; subjects owned by vt_build_entry_dispose().
 */
typedef struct {
	char name[VT_RELEASE_NAME_MAX + 1];
	char version[VT_RELEASE_NAME_MAX + 1];
	vt_hash envelope; /* SHA-256 of the DSSE envelope's bytes */
	vt_hash recipe;	  /* SHA-256 of the recipe's bytes */
	vt_hash source;	  /* SHA-256 of the source tarball's bytes */
	vt_release_subject *subjects;
	size_t nsubjects;
} vt_build_entry;

/* `release` entry: a build published under its name and version. */
typedef struct {
	char name[VT_RELEASE_NAME_MAX + 1];
	char version[VT_RELEASE_NAME_MAX + 1];
	uint64_t build_index; /* log index of the build entry */
	vt_hash envelope;     /* the build's envelope */
} vt_release_entry;

/* `rebuild` entry: an independent rebuilder's signed verdict on a build. */
typedef struct {
	char name[VT_RELEASE_NAME_MAX + 1];
	char version[VT_RELEASE_NAME_MAX + 1];
	vt_hash build_envelope; /* the build's envelope */
	vt_hash envelope;	/* SHA-256 of the rebuilder's envelope */
	char key[VT_DSSE_KEYID_LEN + 1]; /* the rebuilder's key id */
	bool reproduced;
} vt_rebuild_entry;

/* 0 when s is a recipe Name (lower-case) or Version, else VT_EINVAL. */
int vt_release_check_name(const char *s, size_t len);
int vt_release_check_version(const char *s, size_t len);

/* 0 when s is a subject name: 1-255 of [A-Za-z0-9._+-/], no empty, . or .. component. */
int vt_release_check_path(const char *s, size_t len);

/*
 * Append the one spelling of a build entry. VT_EINVAL for a field that
 * breaks its rule (checked as the parser would), VT_ETOOBIG, VT_ENOMEM.
 */
int vt_build_entry_format(vt_buf *out, const vt_build_entry *e);

/*
 * Parse a build entry strictly (exactly the spelling of the formatter).
 * On success *out owns its subjects; on failure it is zeroed. VT_EINVAL.
 */
int vt_build_entry_parse(vt_build_entry *out, const char *text, size_t len);

/* Free a build entry's subjects and zero it. */
void vt_build_entry_dispose(vt_build_entry *e);

/* Append / parse a release entry, as for build entries. */
int vt_release_entry_format(vt_buf *out, const vt_release_entry *e);
int vt_release_entry_parse(vt_release_entry *out, const char *text, size_t len);

/* Append / parse a rebuild entry, as for build entries. */
int vt_rebuild_entry_format(vt_buf *out, const vt_rebuild_entry *e);
int vt_rebuild_entry_parse(vt_rebuild_entry *out, const char *text, size_t len);

/*
 * What an opened provenance statement says, read by vt_release_statement_read():
 * subjects, builder id, recipe and source digests. Owned; dispose it.
 */
typedef struct {
	vt_release_subject *subjects;
	size_t nsubjects;
	char builder_id[1024];
	char build_type[256];
	char recipe_name[VT_RELEASE_PATH_MAX + 1];
	vt_hash recipe;	      /* externalParameters.recipe.digest.sha256 */
	vt_hash source_tree;  /* externalParameters.source.digest.vitrineTree1 */
	vt_hash source_file;  /* ...source.digest.sha256, when has_source_file */
	bool has_source_file;
} vt_release_statement;

/*
 * Read the fields above from a provenance statement (the payload of an
 * envelope vt_provenance_open() accepted). VT_EINVAL when one is missing
 * or malformed. Initialises *out in every case.
 */
int vt_release_statement_read(vt_release_statement *out, const char *json, size_t len);

void vt_release_statement_dispose(vt_release_statement *s);

/*
 * What an independent rebuilder found: the build it rebuilt (name,
 * version, build envelope digest, recipe and source digests) and its
 * outputs. Owned; dispose it.
 */
typedef struct {
	char name[VT_RELEASE_NAME_MAX + 1];
	char version[VT_RELEASE_NAME_MAX + 1];
	vt_hash build_envelope;
	vt_hash recipe;
	vt_hash source;	     /* source tarball */
	char rebuilder_id[1024];
	bool reproduced;
	/*
	 * The rebuilder's own two varied runs gave different bytes: its
	 * verdict is then "differs" whatever the first run gave
	 * (predicate.ownRuns "differ", else "reproduced").
	 */
	bool runs_differ;
	vt_release_subject *subjects; /* what the rebuild produced (its first run) */
	size_t nsubjects;
	char finished[32]; /* RFC 3339 UTC */
} vt_rebuild_statement;

/*
 * Append a rebuild statement (in-toto Statement v1, predicateType
 * VT_REBUILD_PREDICATE_TYPE) for s given the expected subjects of the
 * build (differing ones are listed with both digests). reproduced must
 * hold exactly when every expected subject was rebuilt with its digest
 * and the rebuilder's own runs agreed (!runs_differ). Compact JSON,
 * sorted keys. VT_EINVAL, VT_ENOMEM.
 */
int vt_rebuild_statement_format(vt_buf *out, const vt_rebuild_statement *s,
				const vt_release_subject *expected, size_t nexpected);

/*
 * Verify a rebuilder's envelope under pub and read its statement.
 * VT_EVERIFY (signature), VT_EINVAL (shape: types, fields, a result that
 * disagrees with the digests or with ownRuns). Initialises *out in every case.
 */
int vt_rebuild_statement_open(vt_rebuild_statement *out, const char *env, size_t len,
			      const uint8_t pub[VT_ED25519_PUB_SIZE]);

void vt_rebuild_statement_dispose(vt_rebuild_statement *s);

#endif
