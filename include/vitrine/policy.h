/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The federation-wide residency policy: which sites exist (jurisdiction,
 * base URL, log verifier key) and which jurisdiction must hold the data of
 * each customer region. The policy is canonical plain text (docs/policy.md)
 * signed as a c2sp.org/signed-note under a policy key; a site adopts a
 * policy only after logging a `policy` entry (docs/entries.md).
 *
 * The parser is strict: a text is accepted only in its one canonical form,
 * so parse then format gives back the same bytes, and two policies are
 * equal exactly when their texts are.
 */
#ifndef VITRINE_POLICY_H
#define VITRINE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "vitrine/buf.h"
#include "vitrine/hash.h"
#include "vitrine/note.h"

#define VT_POLICY_MAX_SIZE    65536 /* bytes of policy text */
#define VT_POLICY_MAX_SITES   64
#define VT_POLICY_MAX_REGIONS 256
#define VT_JURISDICTION_MAX   11 /* "CC-" and 1 to 8 of [A-Z0-9] */
#define VT_REGION_MAX	      16 /* [A-Z][A-Z0-9]{1,15} */
#define VT_POLICY_URL_MAX     256
#define VT_POLICY_VKEY_MAX    512

/* One site of the federation. */
typedef struct {
	char jurisdiction[VT_JURISDICTION_MAX + 1]; /* such as "CH-ZRH" */
	char url[VT_POLICY_URL_MAX + 1];	    /* base URL, no trailing '/' */
	char vkey[VT_POLICY_VKEY_MAX + 1];	    /* the log's verifier key string */
	vt_note_verifier *verifier;		    /* the same key, parsed (owned) */
} vt_policy_site;

/* One customer region and the site that must hold its data. */
typedef struct {
	char region[VT_REGION_MAX + 1]; /* such as "EU" */
	size_t site;			/* index into vt_policy.sites */
} vt_policy_region;

/*
 * A parsed policy. Sites are sorted by jurisdiction and regions by name
 * (byte order), without duplicates. Owned by the caller: vt_policy_init()
 * before use or a successful vt_policy_parse(), vt_policy_dispose() after.
 */
typedef struct {
	uint64_t version; /* at least 1 */
	size_t nsites, nregions;
	vt_policy_site *sites;
	vt_policy_region *regions;
} vt_policy;

/* Where a region's data must be kept, seen from one site. */
typedef enum {
	VT_POLICY_HERE = 0,  /* the region maps to this site */
	VT_POLICY_ELSEWHERE, /* the region maps to another site (HTTP 421) */
	VT_POLICY_NOWHERE,   /* the policy maps the region to no site (HTTP 451) */
} vt_policy_place;

/* Make p an empty policy (version 0, no sites, no regions). */
void vt_policy_init(vt_policy *p);

/* Free what p holds and make it empty again. NULL is fine. */
void vt_policy_dispose(vt_policy *p);

/*
 * Parse policy text strictly (the format of docs/policy.md): first line
 * "vitrine/1 policy", then "version N" (N >= 1, canonical decimal), then
 * one or more "site <JURISDICTION> <URL> <VKEY>" lines sorted by
 * jurisdiction, then one or more "region <REGION> <JURISDICTION>" lines
 * sorted by region, each naming a listed site. Printable ASCII only,
 * single spaces, final newline. Anything else is VT_EINVAL with a message
 * naming the line ("policy line 4: ..."); VT_ETOOBIG above
 * VT_POLICY_MAX_SIZE or the site/region limits; VT_ENOMEM.
 *
 * *out is overwritten without being disposed first; on success the caller
 * disposes it, on failure it is left empty. Thread-safe.
 */
int vt_policy_parse(vt_policy *out, const char *text, size_t len);

/*
 * Append the canonical text of p to out. For a parsed policy this is the
 * parsed text, byte for byte. VT_EINVAL when p breaks a rule of the format
 * (a hand-built struct, say), VT_ETOOBIG, VT_ENOMEM; out is unchanged on
 * failure.
 */
int vt_policy_format(vt_buf *out, const vt_policy *p);

/* 1 when a and b are the same policy (same canonical text), else 0. */
int vt_policy_equal(const vt_policy *a, const vt_policy *b);

/*
 * 0 when s[0..len) is a valid jurisdiction id: two upper-case letters, '-',
 * then 1 to 8 upper-case letters or digits ("CH-ZRH"). Else VT_EINVAL.
 */
int vt_policy_check_jurisdiction(const char *s, size_t len);

/*
 * Read the site's own jurisdiction from DIR/jurisdiction (written by
 * vitrine init --jurisdiction; one id, optionally newline-terminated) into
 * out[VT_JURISDICTION_MAX + 1]. VT_ENOTFOUND when the file does not exist,
 * VT_EINVAL for a malformed id (naming the file), VT_EIO.
 */
int vt_policy_site_jurisdiction(char *out, const char *dir);

/*
 * 0 when s[0..len) is a valid region name: an upper-case letter, then 1 to
 * 15 upper-case letters or digits ("EU", "NA"). Else VT_EINVAL.
 */
int vt_policy_check_region(const char *s, size_t len);

/*
 * The site of a jurisdiction: *out borrowed from p. VT_ENOTFOUND when p
 * lists no such site.
 */
int vt_policy_find_site(const vt_policy_site **out, const vt_policy *p, const char *jurisdiction);

/*
 * The site that must hold region's data: *out borrowed from p.
 * VT_ENOTFOUND ("no site for region") when p maps the region nowhere.
 */
int vt_policy_lookup(const vt_policy_site **out, const vt_policy *p, const char *region);

/*
 * Decide residency for data of region arriving at the site of jurisdiction
 * here: *place is VT_POLICY_HERE, VT_POLICY_ELSEWHERE (with *site the site
 * that must hold it, to name in the refusal) or VT_POLICY_NOWHERE (*site
 * NULL). site may be NULL. Always returns 0; a region or jurisdiction that
 * is not even well-formed is simply not in the policy.
 */
int vt_policy_residency(vt_policy_place *place, const vt_policy_site **site, const vt_policy *p,
			const char *region, const char *here);

/*
 * Check that text is a valid policy, then sign it as a signed note with
 * signer (an Ed25519 key) and append the note to out. VT_EINVAL for bad
 * policy text (message naming the line) or a key that is not Ed25519,
 * VT_ETOOBIG, VT_ENOMEM; out is unchanged on failure.
 */
int vt_policy_sign(vt_buf *out, const char *text, size_t len, vt_note_signer *signer);

/*
 * Open a signed policy: the note must carry a valid signature by policy_key
 * (vt_note_open(), VT_EVERIFY or VT_EINVAL otherwise) and its text must
 * parse (vt_policy_parse()). On success *out holds the policy (dispose
 * it); on failure it is empty. Thread-safe.
 */
int vt_policy_open(vt_policy *out, const char *msg, size_t len, vt_note_verifier *policy_key);

/*
 * Decide whether next may be adopted by a site whose policy in force is
 * in_force (NULL when the site has none yet). Returns 0 with *already 0
 * when next is newer (adopt it), 0 with *already 1 when next is the policy
 * in force (same version, same text: nothing to do). VT_EEXISTS when next
 * has a lower version (rollback) or the same version with different
 * content; the message says which.
 */
int vt_policy_adoption(int *already, const vt_policy *in_force, const vt_policy *next);

/*
 * Append the log entry that records adopting p, whose signed note is
 * signed_policy[0..len):
 *
 *   vitrine/1 policy
 *   version <N>
 *   digest sha256:<lower-case hex of SHA-256 of the signed note>
 *
 * VT_EINVAL when p has no version, VT_ETOOBIG, VT_ENOMEM.
 */
int vt_policy_entry(vt_buf *out, const vt_policy *p, const void *signed_policy, size_t len);

/*
 * Parse a `policy` log entry strictly (exactly the form above). VT_EINVAL
 * otherwise. Thread-safe.
 */
int vt_policy_entry_parse(uint64_t *version, vt_hash *digest, const char *entry, size_t len);

#endif
