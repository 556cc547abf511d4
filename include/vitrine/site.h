/* SPDX-License-Identifier: Apache-2.0 */
/* The conveyer's site side: content-addressed store of builds, trusted keys, build/release/rebuild records. */
#ifndef VITRINE_SITE_H
#define VITRINE_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"
#include "vitrine/recipe.h"
#include "vitrine/release.h"

/*
 * DIR/conveyer/ holds (docs/conveyer.md, "Site"):
 *   builders, rebuilders        trusted verifier keys, one vkey a line
 *   attestations/, artifacts/,  immutable blobs named by the hex SHA-256
 *   sources/                    of their bytes (recipes go to sources/)
 *   builds/NAME@VERSION         "index N" line, then the build entry
 *   releases/NAME@VERSION       the same for the release entry
 *   rebuilds/NAME@VERSION/KEYID the same for a rebuilder's entry
 *   tmp/                        uploads in progress
 * Records are written once the entry is published. All writes are atomic
 * (temporary file, fsync, rename, fsync directory). A site is shared by
 * the server's threads: every function is thread-safe.
 */
typedef struct vt_conveyer_site vt_conveyer_site;

/*
 * What an upload may hold in memory: its envelope (a build's provenance or
 * a rebuilder's statement; 256 subjects and a long toolchain stay far
 * below) and its recipe. Larger ones are refused with 413 while they
 * arrive. Sources and artifacts stream to tmp/ and never count here.
 */
#define VT_SITE_ENVELOPE_MAX ((size_t)1 << 20)
#define VT_SITE_RECIPE_MAX   VT_RECIPE_MAX_SIZE

/* The three blob stores, named as in the URL paths. */
typedef enum { VT_SITE_ATTESTATIONS, VT_SITE_ARTIFACTS, VT_SITE_SOURCES } vt_site_kind;

/* The record directories. */
typedef enum { VT_SITE_BUILDS, VT_SITE_RELEASES, VT_SITE_REBUILDS } vt_site_record;

/* An uploaded file in the site's tmp/ directory, hashed while it came in. */
typedef struct {
	char name[VT_RELEASE_PATH_MAX + 1]; /* an artifact's subject name */
	char tmp[4096];			    /* path of the temporary file; "" once stored */
	vt_hash digest;
	uint64_t size;
} vt_site_part;

/*
 * Open (creating what is missing) DIR/conveyer of the data directory dir
 * and load its trusted keys and the log's verifier key (dir/log.vkey),
 * then restore missing records from the log (vt_site_recover). Call it
 * with the log's lock held (vitrine serve does, after opening the log's
 * storage). VT_EINVAL for a malformed key line (the message names file
 * and line), VT_ECORRUPT, VT_EIO, VT_ENOMEM. Free with vt_site_close().
 */
int vt_site_open(vt_conveyer_site **out, const char *dir);

/*
 * Restore the records a crash left unwritten: a record is written after
 * its entry is published, so a server that dies in between leaves a
 * `build`, `release` or `rebuild` entry in the log that no record lists.
 * Read the published checkpoint dir/log/checkpoint (verified with the
 * log's key) and walk the entries from the size DIR/conveyer/recovered
 * names (0 when absent) to it; each conveyer entry without a record gets
 * one ("index N" and the entry: all a record holds) when the site's
 * store backs it: a build's envelope, recipe, source and artifacts are
 * stored and the stored recipe has its name and version; a release's
 * build record has its build index and envelope; a rebuild's envelope is
 * stored and its build recorded. Others are left alone (an admin may
 * append any text with POST /log/add). Then the size is written to
 * DIR/conveyer/recovered. *restored (may be NULL) gets the number of
 * records written. VT_ECORRUPT (checkpoint or tiles), VT_EIO.
 */
int vt_site_recover(vt_conveyer_site *s, const char *dir, size_t *restored);

/* Close a site; NULL is a no-op. */
void vt_site_close(vt_conveyer_site *s);

/*
 * Add a verifier key (a vkey line) to dir/conveyer/builders or
 * rebuilders; a key already there is not added twice. Takes effect when
 * the site is next opened. VT_EINVAL (not a vkey of type 0x01), VT_EIO.
 */
int vt_site_trust(const char *dir, bool rebuilder, const char *vkey, size_t len);

/* Number of builder and rebuilder keys loaded. */
size_t vt_site_nkeys(const vt_conveyer_site *s, bool rebuilder);

/* The path of a blob (which may not exist) into out. VT_ETOOBIG. */
int vt_site_blob_path(char *out, size_t cap, const vt_conveyer_site *s, vt_site_kind kind,
		      const vt_hash *h);

/* Store bytes as a blob (a blob already there is left alone). VT_EIO. */
int vt_site_blob_put(vt_conveyer_site *s, vt_site_kind kind, const void *data, size_t len,
		     vt_hash *digest);

/* Read a whole blob into out. VT_ENOTFOUND, VT_ETOOBIG, VT_EIO. */
int vt_site_blob_get(vt_buf *out, const vt_conveyer_site *s, vt_site_kind kind, const vt_hash *h);

/*
 * Create a temporary file in tmp/ for an upload: *fd open for writing,
 * its path in p->tmp. VT_EIO.
 */
int vt_site_tmp_open(int *fd, vt_conveyer_site *s, vt_site_part *p);

/* Remove a part's temporary file, if any. */
void vt_site_tmp_drop(vt_site_part *p);

/*
 * Check an uploaded build and make its `build` entry: the envelope
 * verifies under one of the trusted builder keys as SLSA provenance
 * (vt_provenance_open); the recipe's SHA-256 is the statement's and it
 * parses; the source is a tarball whose tree digest is the statement's
 * (and the recipe's), whose SHA-256 is the statement's when it names
 * one; the artifacts are exactly the subjects (same names, same
 * SHA-256); no build of that name and version is recorded. Fills *out
 * (dispose it). VT_EVERIFY (signature, a digest differs), VT_EINVAL
 * (malformed, missing or extra part), VT_EEXISTS (already built).
 */
int vt_site_build_check(vt_build_entry *out, vt_conveyer_site *s, const char *env, size_t env_len,
			const char *recipe, size_t recipe_len, const vt_site_part *source,
			const vt_site_part *artifacts, size_t nartifacts);

/*
 * Move a checked build's files into the stores (envelope to
 * attestations, recipe and source to sources, artifacts to artifacts)
 * and sync. Temporary files are consumed. VT_EIO.
 */
int vt_site_build_store(vt_conveyer_site *s, const char *env, size_t env_len, const char *recipe,
			size_t recipe_len, vt_site_part *source, vt_site_part *artifacts,
			size_t nartifacts);

/*
 * Make the `release` entry of a recorded build once proof (a
 * c2sp.org/tlog-proof) shows its build entry in a checkpoint signed by
 * this site's log. VT_ENOTFOUND (no such build), VT_EEXISTS (released),
 * VT_EVERIFY (the proof does not show the entry).
 */
int vt_site_release_check(vt_buf *entry, vt_conveyer_site *s, const char *name,
			  const char *version, const char *proof, size_t proof_len);

/*
 * Check a rebuilder's envelope: it verifies under one of the trusted
 * rebuilder keys, its statement names a recorded build by that build's
 * envelope, recipe and source digests, and that key has no rebuild of it
 * recorded yet. Fills *out. VT_EVERIFY, VT_EINVAL, VT_ENOTFOUND,
 * VT_EEXISTS.
 */
int vt_site_rebuild_check(vt_rebuild_entry *out, vt_conveyer_site *s, const char *env,
			  size_t len);

/*
 * Write a record (once its entry is published at index). key is the
 * rebuilder key id for VT_SITE_REBUILDS, else NULL. VT_EEXISTS, VT_EIO.
 */
int vt_site_record_put(vt_conveyer_site *s, vt_site_record kind, const char *name,
		       const char *version, const char *key, uint64_t index, const void *entry,
		       size_t len);

/* Read a record: its entry into entry and its index. VT_ENOTFOUND, VT_ECORRUPT, VT_EIO. */
int vt_site_record_get(vt_buf *entry, uint64_t *index, const vt_conveyer_site *s,
		       vt_site_record kind, const char *name, const char *version, const char *key);

/*
 * Call fn for every release (name, version), or for every rebuilder key
 * id of one build (kind VT_SITE_REBUILDS with name and version), sorted.
 * A non-zero return of fn stops and is returned.
 */
int vt_site_list(const vt_conveyer_site *s, vt_site_record kind, const char *name,
		 const char *version,
		 int (*fn)(const char *a, const char *b, void *payload), void *payload);

#endif
