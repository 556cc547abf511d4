/* SPDX-License-Identifier: Apache-2.0 */
/* Endpoint verification of a released artifact: the policy, the offline bundle and the checks. */
#ifndef VITRINE_ENDPOINT_H
#define VITRINE_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"
#include "vitrine/merkle.h"
#include "vitrine/note.h"

#define VT_ENDPOINT_POLICY_MAX	(64 * 1024)
#define VT_ENDPOINT_MAX_KEYS	32
#define VT_ENDPOINT_BUNDLE_MAX	((size_t)64 << 20)
#define VT_ENDPOINT_MAX_REBUILDS 64
#define VT_ENDPOINT_BUNDLE_HEADER "vitrine-bundle/2"

/* A parsed verification policy (docs/conveyer.md, "Verification policy"). */
typedef struct {
	vt_note_verifier *builder; /* builder-key */
	char builder_id[1024];	   /* builder-id */
	vt_note_verifier *log;	   /* log-key; its name is the log's origin */
	vt_note_verifier *witnesses[VT_ENDPOINT_MAX_KEYS];
	size_t nwitnesses;
	unsigned witness_threshold;
	vt_note_verifier *rebuilders[VT_ENDPOINT_MAX_KEYS];
	size_t nrebuilders;
	unsigned rebuild_threshold;
	char source[65]; /* source: the release name (the recipe's Name) */
} vt_endpoint_policy;

/*
 * Parse a policy strictly: "key value" lines (one space), '#' comment
 * lines and empty lines; builder-key, builder-id, log-key, source,
 * witness-threshold and rebuild-threshold exactly once; witness-key and
 * rebuilder-key any number of times (at most VT_ENDPOINT_MAX_KEYS, no
 * key twice); a threshold at most its number of keys. Builder and
 * rebuilder keys are Ed25519 (0x01), witness keys cosignature keys
 * (0x04). VT_EINVAL with "line N: ..." or VT_ETOOBIG; on failure *out is
 * zeroed. Dispose with vt_endpoint_policy_dispose(). Thread-safe.
 */
int vt_endpoint_policy_parse(vt_endpoint_policy *out, const char *text, size_t len);

void vt_endpoint_policy_dispose(vt_endpoint_policy *p);

/*
 * A parsed bundle: every pointer points into the text given to
 * vt_endpoint_bundle_parse(), which must outlive it.
 */
typedef struct {
	const char *envelope, *recipe, *entry, *proof;
	size_t envelope_len, recipe_len, entry_len, proof_len;
	bool has_consistency;
	uint64_t old_size; /* the consistency proof goes from this size to the proof's checkpoint */
	vt_hash consistency[VT_MERKLE_MAX_PROOF];
	size_t nconsistency;
	/*
	 * Each rebuild: the rebuilder's envelope, its `rebuild` entry and a
	 * tlog-proof of that entry under the same checkpoint as proof.
	 */
	const char *rebuilds[VT_ENDPOINT_MAX_REBUILDS];
	size_t rebuild_lens[VT_ENDPOINT_MAX_REBUILDS];
	const char *rebuild_entries[VT_ENDPOINT_MAX_REBUILDS];
	size_t rebuild_entry_lens[VT_ENDPOINT_MAX_REBUILDS];
	const char *rebuild_proofs[VT_ENDPOINT_MAX_REBUILDS];
	size_t rebuild_proof_lens[VT_ENDPOINT_MAX_REBUILDS];
	size_t nrebuilds;
} vt_endpoint_bundle;

/*
 * Parse a bundle strictly (docs/conveyer.md, "Bundle format"): the
 * header line (version 2; version 1, whose rebuilds carry no log
 * proofs, is refused), then the sections envelope, recipe, entry, proof,
 * an optional consistency and zero or more groups of rebuild,
 * rebuild-entry and rebuild-proof, in that order, each
 * "NAME LEN\n", LEN bytes and "\n", LEN canonical decimal; nothing after
 * the last. Section bodies are not verified here, except the
 * consistency body's syntax. VT_EINVAL, VT_ETOOBIG. Thread-safe.
 */
int vt_endpoint_bundle_parse(vt_endpoint_bundle *out, const char *text, size_t len);

/* Append the bundle's one spelling to out. VT_EINVAL, VT_ETOOBIG, VT_ENOMEM. */
int vt_endpoint_bundle_format(vt_buf *out, const vt_endpoint_bundle *b);

/* The checks, in the order they run; each has an exit code (vt_check_exit). */
typedef enum {
	VT_CHECK_OK = 0,
	VT_CHECK_BUNDLE,	/* the bundle or the evidence is malformed or missing */
	VT_CHECK_ENVELOPE,	/* the envelope does not verify under the builder key */
	VT_CHECK_SUBJECT,	/* the artifact's sha256 is not a subject */
	VT_CHECK_PREDICATE,	/* builder id, build type, recipe or source not the policy's */
	VT_CHECK_LOG_SIGNATURE, /* the checkpoint is not signed by the log's key */
	VT_CHECK_INCLUSION,	/* no valid inclusion proof of this build's entry */
	VT_CHECK_COSIGNATURES,	/* fewer witness cosignatures than the threshold */
	VT_CHECK_CONSISTENCY,	/* not consistent with (or older than) the last checkpoint seen */
	VT_CHECK_REBUILDS,	/* fewer reproducing rebuilders than the threshold */
	VT_CHECK_UNREACHABLE,	/* the site or log could not be reached */
} vt_check;

/* The name of a check ("envelope", ...), as reported. */
const char *vt_check_name(vt_check c);

/* The exit status of vitrine verify for a failed check: 10 + its number. */
int vt_check_exit(vt_check c);

/* What a verification found. */
typedef struct {
	vt_check failed; /* VT_CHECK_OK when accepted */
	char name[65], version[65];
	uint64_t index;	   /* the build entry's log index */
	uint64_t size;	   /* the proof's checkpoint size */
	size_t witnesses;  /* distinct witness cosignatures that verified */
	size_t rebuilders; /* distinct rebuilder keys that reproduced */
	const char *checkpoint; /* the proof's checkpoint note (points into the bundle) */
	size_t checkpoint_len;
} vt_endpoint_result;

/*
 * Run every check of the policy on a bundle for the artifact whose
 * SHA-256 is artifact. state (may be NULL) is the last checkpoint note
 * this endpoint accepted: the bundle's checkpoint must be it or extend it
 * (a consistency proof from its size in the bundle). Returns 0 when
 * accepted; VT_EVERIFY with r->failed and the message naming the check
 * otherwise. A rebuild counts only when its statement verifies under a
 * rebuilder key of the policy, says reproduced for this build's envelope,
 * recipe and source with the artifact among its subjects, and its
 * `rebuild` entry names that envelope, key and verdict and is proven
 * included under the same checkpoint (origin, size and root) as the
 * build entry.
 * VT_ECORRUPT when state does not verify under the log key.
 * Thread-safe.
 */
int vt_endpoint_verify(vt_endpoint_result *r, const vt_endpoint_policy *p,
		       const vt_endpoint_bundle *b, const vt_hash *artifact, const char *state,
		       size_t state_len);

#endif
