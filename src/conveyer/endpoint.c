/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Endpoint verification: a plain-text policy, a self-contained bundle and
 * the checks that accept an artifact only when every one passes. The
 * checks run in a fixed order and the first failure is the one reported,
 * so a given bad input always fails the same way (and with the same exit
 * code). Nothing here touches the network: an online endpoint fetches a
 * bundle first (vitrine verify --url) and verifies it the same way.
 */
#include "vitrine/checkpoint.h"
#include "vitrine/conveyer.h"
#include "vitrine/encoding.h"
#include "vitrine/endpoint.h"
#include "vitrine/error.h"
#include "vitrine/proof.h"
#include "vitrine/recipe.h"
#include "vitrine/release.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- policy ----------------------------------------------------------- */

void vt_endpoint_policy_dispose(vt_endpoint_policy *p)
{
	vt_note_verifier_free(p->builder);
	vt_note_verifier_free(p->log);
	for (size_t i = 0; i < p->nwitnesses; i++)
		vt_note_verifier_free(p->witnesses[i]);
	for (size_t i = 0; i < p->nrebuilders; i++)
		vt_note_verifier_free(p->rebuilders[i]);
	memset(p, 0, sizeof(*p));
}

static int parse_key(vt_note_verifier **out, const char *v, size_t n, int type, size_t line)
{
	int err;
	if ((err = vt_note_verifier_parse(out, v, n)) < 0)
		return vt_error_wrap(err, "line %zu", line);
	if (vt_note_verifier_type(*out) != type) {
		vt_note_verifier_free(*out);
		*out = NULL;
		return vt_error_set(VT_EINVAL, "line %zu: want a key of type 0x%02x", line, type);
	}
	return 0;
}

static int add_key(vt_note_verifier **keys, size_t *n, const char *v, size_t len, int type,
		   size_t line)
{
	vt_note_verifier *k;
	int err;
	if (*n == VT_ENDPOINT_MAX_KEYS)
		return vt_error_set(VT_EINVAL, "line %zu: more than %d keys", line,
				    VT_ENDPOINT_MAX_KEYS);
	if ((err = parse_key(&k, v, len, type, line)) < 0)
		return err;
	for (size_t i = 0; i < *n; i++)
		if (memcmp(vt_note_verifier_pub(keys[i]), vt_note_verifier_pub(k), 32) == 0) {
			vt_note_verifier_free(k);
			return vt_error_set(VT_EINVAL, "line %zu: the same key twice", line);
		}
	keys[(*n)++] = k;
	return 0;
}

static int parse_threshold(unsigned *out, const char *v, size_t n, size_t line)
{
	uint64_t t;
	if (vt_parse_u64(&t, v, n) < 0 || t > VT_ENDPOINT_MAX_KEYS)
		return vt_error_set(VT_EINVAL, "line %zu: a threshold is 0 to %d", line,
				    VT_ENDPOINT_MAX_KEYS);
	*out = (unsigned)t;
	return 0;
}

int vt_endpoint_policy_parse(vt_endpoint_policy *out, const char *text, size_t len)
{
	bool seen_id = false, seen_wt = false, seen_rt = false, seen_src = false;
	const char *p = text, *end = text + len;
	size_t line = 0;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (len > VT_ENDPOINT_POLICY_MAX)
		return vt_error_set(VT_ETOOBIG, "a policy is at most %d bytes",
				    VT_ENDPOINT_POLICY_MAX);
	if (vt_note_check_chars(text, len) < 0 || memchr(text, 0, len))
		return vt_error_set(VT_EINVAL, "a policy is UTF-8 text without control characters");
	while (p < end && err == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp, *v;
		size_t n, kl, vl;
		line++;
		if (!nl) {
			err = vt_error_set(VT_EINVAL, "line %zu: does not end in a newline", line);
			break;
		}
		n = (size_t)(nl - p);
		if (n == 0 || p[0] == '#') {
			p = nl + 1;
			continue;
		}
		sp = memchr(p, ' ', n);
		if (!sp || sp == p || sp + 1 == nl || sp[1] == ' ' || nl[-1] == ' ') {
			err = vt_error_set(VT_EINVAL, "line %zu: want \"key value\"", line);
			break;
		}
		kl = (size_t)(sp - p);
		v = sp + 1;
		vl = (size_t)(nl - v);
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(p, s, kl) == 0)
#define ONCE(cond)                                                                                 \
	if (cond) {                                                                                \
		err = vt_error_set(VT_EINVAL, "line %zu: %.*s given twice", line, (int)kl, p);     \
		break;                                                                             \
	}
		if (KEY("builder-key")) {
			ONCE(out->builder);
			err = parse_key(&out->builder, v, vl, VT_NOTE_ED25519, line);
		} else if (KEY("log-key")) {
			ONCE(out->log);
			err = parse_key(&out->log, v, vl, VT_NOTE_ED25519, line);
		} else if (KEY("builder-id")) {
			ONCE(seen_id);
			seen_id = true;
			if (vl >= sizeof(out->builder_id) || memchr(v, ' ', vl))
				err = vt_error_set(VT_EINVAL, "line %zu: builder-id is one word",
						   line);
			else
				memcpy(out->builder_id, v, vl);
		} else if (KEY("source")) {
			ONCE(seen_src);
			seen_src = true;
			if ((err = vt_release_check_name(v, vl)) < 0)
				err = vt_error_wrap(err, "line %zu: source", line);
			else
				memcpy(out->source, v, vl);
		} else if (KEY("witness-key")) {
			err = add_key(out->witnesses, &out->nwitnesses, v, vl, VT_NOTE_COSIG, line);
		} else if (KEY("rebuilder-key")) {
			err = add_key(out->rebuilders, &out->nrebuilders, v, vl, VT_NOTE_ED25519,
				      line);
		} else if (KEY("witness-threshold")) {
			ONCE(seen_wt);
			seen_wt = true;
			err = parse_threshold(&out->witness_threshold, v, vl, line);
		} else if (KEY("rebuild-threshold")) {
			ONCE(seen_rt);
			seen_rt = true;
			err = parse_threshold(&out->rebuild_threshold, v, vl, line);
		} else {
			err = vt_error_set(VT_EINVAL, "line %zu: unknown key \"%.*s\"", line,
					   (int)kl, p);
		}
#undef KEY
#undef ONCE
		p = nl + 1;
	}
	if (err == 0) {
		if (!out->builder || !seen_id || !out->log || !seen_src || !seen_wt || !seen_rt)
			err = vt_error_set(VT_EINVAL,
					   "a policy needs builder-key, builder-id, log-key, "
					   "source, witness-threshold and "
					   "rebuild-threshold");
		else if (out->witness_threshold > out->nwitnesses)
			err = vt_error_set(VT_EINVAL,
					   "witness-threshold %u above the %zu witness keys",
					   out->witness_threshold, out->nwitnesses);
		else if (out->rebuild_threshold > out->nrebuilders)
			err = vt_error_set(VT_EINVAL,
					   "rebuild-threshold %u above the %zu rebuilder keys",
					   out->rebuild_threshold, out->nrebuilders);
	}
	if (err < 0)
		vt_endpoint_policy_dispose(out);
	return err;
}

/* ---- bundle ----------------------------------------------------------- */

/* The next section: "name LEN\n" LEN bytes "\n". 1 when the next section is another. */
static int section(const char **body, size_t *blen, const char **p, const char *end,
		   const char *name)
{
	size_t nl_len = strlen(name);
	const char *nl;
	uint64_t n;

	if ((size_t)(end - *p) < nl_len + 1 || memcmp(*p, name, nl_len) != 0 || (*p)[nl_len] != ' ')
		return 1;
	nl = memchr(*p + nl_len + 1, '\n', (size_t)(end - *p) - nl_len - 1);
	if (!nl || vt_parse_u64(&n, *p + nl_len + 1, (size_t)(nl - *p) - nl_len - 1) < 0)
		return vt_error_set(VT_EINVAL, "bundle: section %s: bad length line", name);
	if (n > (uint64_t)(end - nl - 1) || (uint64_t)(end - nl - 1) - n < 1 || nl[1 + n] != '\n')
		return vt_error_set(VT_EINVAL, "bundle: section %s: truncated", name);
	*body = nl + 1;
	*blen = (size_t)n;
	*p = nl + 2 + n;
	return 0;
}

static int need(int rc, const char *name)
{
	if (rc == 1)
		return vt_error_set(VT_EINVAL, "bundle: section %s missing or out of order", name);
	return rc;
}

static int parse_consistency(vt_endpoint_bundle *out, const char *s, size_t len)
{
	const char *p = s, *end = s + len, *nl;
	if (len < 6 || memcmp(s, "old ", 4) != 0 || !(nl = memchr(s, '\n', len)) ||
	    vt_parse_u64(&out->old_size, s + 4, (size_t)(nl - s) - 4) < 0)
		return vt_error_set(VT_EINVAL, "bundle: consistency: want \"old SIZE\"");
	p = nl + 1;
	while (p < end) {
		if (out->nconsistency == VT_MERKLE_MAX_PROOF ||
		    !(nl = memchr(p, '\n', (size_t)(end - p))) ||
		    vt_base64_decode_exact(out->consistency[out->nconsistency].b, VT_HASH_SIZE, p,
					   (size_t)(nl - p)) < 0)
			return vt_error_set(VT_EINVAL, "bundle: consistency: bad hash line");
		out->nconsistency++;
		p = nl + 1;
	}
	out->has_consistency = true;
	return 0;
}

int vt_endpoint_bundle_parse(vt_endpoint_bundle *out, const char *text, size_t len)
{
	static const char hdr[] = VT_ENDPOINT_BUNDLE_HEADER "\n";
	const char *p = text, *end = text + len, *body;
	size_t blen;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len > VT_ENDPOINT_BUNDLE_MAX)
		return vt_error_set(VT_ETOOBIG, "a bundle is at most %zu bytes",
				    VT_ENDPOINT_BUNDLE_MAX);
	if (len >= 17 && memcmp(text, "vitrine-bundle/1\n", 17) == 0)
		return vt_error_set(VT_EINVAL, "a vitrine-bundle/1 (rebuilds without log proofs) "
					       "is no longer accepted: make a new bundle");
	if (len < sizeof(hdr) - 1 || memcmp(text, hdr, sizeof(hdr) - 1) != 0)
		return vt_error_set(VT_EINVAL, "not a bundle (no %s line)",
				    VT_ENDPOINT_BUNDLE_HEADER);
	p += sizeof(hdr) - 1;
	if ((rc = need(section(&out->envelope, &out->envelope_len, &p, end, "envelope"),
		       "envelope")) < 0 ||
	    (rc = need(section(&out->recipe, &out->recipe_len, &p, end, "recipe"), "recipe")) < 0 ||
	    (rc = need(section(&out->entry, &out->entry_len, &p, end, "entry"), "entry")) < 0 ||
	    (rc = need(section(&out->proof, &out->proof_len, &p, end, "proof"), "proof")) < 0)
		goto fail;
	rc = section(&body, &blen, &p, end, "consistency");
	if (rc < 0 || (rc == 0 && (rc = parse_consistency(out, body, blen)) < 0))
		goto fail;
	while (p < end) {
		if (out->nrebuilds == VT_ENDPOINT_MAX_REBUILDS) {
			rc = vt_error_set(VT_EINVAL, "bundle: more than %d rebuilds",
					  VT_ENDPOINT_MAX_REBUILDS);
			goto fail;
		}
		size_t i = out->nrebuilds;
		rc = section(&out->rebuilds[i], &out->rebuild_lens[i], &p, end, "rebuild");
		if (rc == 1)
			rc = vt_error_set(VT_EINVAL, "bundle: unexpected data at byte %zu",
					  (size_t)(p - text));
		if (rc < 0 ||
		    (rc = need(section(&out->rebuild_entries[i], &out->rebuild_entry_lens[i], &p,
				       end, "rebuild-entry"),
			       "rebuild-entry")) < 0 ||
		    (rc = need(section(&out->rebuild_proofs[i], &out->rebuild_proof_lens[i], &p,
				       end, "rebuild-proof"),
			       "rebuild-proof")) < 0)
			goto fail;
		out->nrebuilds++;
	}
	return 0;
fail:
	memset(out, 0, sizeof(*out));
	return rc;
}

static int add_section(vt_buf *out, const char *name, const void *data, size_t len)
{
	int err;
	if ((err = vt_buf_printf(out, "%s %zu\n", name, len)) < 0 ||
	    (err = vt_buf_add(out, data, len)) < 0 || (err = vt_buf_addc(out, '\n')) < 0)
		return err;
	return 0;
}

int vt_endpoint_bundle_format(vt_buf *out, const vt_endpoint_bundle *b)
{
	vt_buf c;
	int err;

	vt_buf_init(&c, 64 * VT_MERKLE_MAX_PROOF + 64);
	if ((err = vt_buf_adds(out, VT_ENDPOINT_BUNDLE_HEADER "\n")) < 0 ||
	    (err = add_section(out, "envelope", b->envelope, b->envelope_len)) < 0 ||
	    (err = add_section(out, "recipe", b->recipe, b->recipe_len)) < 0 ||
	    (err = add_section(out, "entry", b->entry, b->entry_len)) < 0 ||
	    (err = add_section(out, "proof", b->proof, b->proof_len)) < 0)
		goto done;
	if (b->has_consistency) {
		vt_buf_printf(&c, "old %llu\n", (unsigned long long)b->old_size);
		for (size_t i = 0; i < b->nconsistency; i++) {
			vt_base64_append(&c, b->consistency[i].b, VT_HASH_SIZE);
			vt_buf_addc(&c, '\n');
		}
		if ((err = add_section(out, "consistency", c.ptr, c.len)) < 0)
			goto done;
	}
	for (size_t i = 0; i < b->nrebuilds; i++)
		if ((err = add_section(out, "rebuild", b->rebuilds[i], b->rebuild_lens[i])) < 0 ||
		    (err = add_section(out, "rebuild-entry", b->rebuild_entries[i],
				       b->rebuild_entry_lens[i])) < 0 ||
		    (err = add_section(out, "rebuild-proof", b->rebuild_proofs[i],
				       b->rebuild_proof_lens[i])) < 0)
			goto done;
done:
	vt_buf_dispose(&c);
	return err;
}

/* ---- checks ----------------------------------------------------------- */

const char *vt_check_name(vt_check c)
{
	static const char *const names[] = {
	    "ok",	 "bundle",	 "envelope",	"subject",  "predicate",  "log-signature",
	    "inclusion", "cosignatures", "consistency", "rebuilds", "unreachable"};
	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "unknown";
}

int vt_check_exit(vt_check c)
{
	return c == VT_CHECK_OK ? 0 : 10 + (int)c;
}

static int failed(vt_endpoint_result *r, vt_check c, const char *fmt, const char *detail)
{
	r->failed = c;
	return vt_error_set(VT_EVERIFY, "%s: %s%s%s", vt_check_name(c), fmt, detail ? ": " : "",
			    detail ? detail : "");
}

/*
 * The rebuild entry of a statement is logged: it names the statement's
 * envelope, the rebuilder's key and its verdict, and it is proven
 * included under the build's checkpoint cp (same origin, size and root),
 * so a statement the log does not hold counts for nothing.
 */
static bool rebuild_logged(const vt_endpoint_policy *p, const vt_endpoint_bundle *b, size_t i,
			   const vt_note_verifier *key, const vt_rebuild_statement *st,
			   const vt_checkpoint *cp)
{
	vt_rebuild_entry re;
	vt_tlog_proof proof;
	vt_checkpoint rc;
	vt_hash h;
	char keyid[VT_DSSE_KEYID_LEN + 1];

	if (vt_rebuild_entry_parse(&re, b->rebuild_entries[i], b->rebuild_entry_lens[i]) < 0 ||
	    vt_sha256(&h, b->rebuilds[i], b->rebuild_lens[i]) < 0 ||
	    vt_dsse_keyid(keyid, vt_note_verifier_pub(key)) < 0)
		return false;
	if (!vt_hash_equal(&re.envelope, &h) || strcmp(re.key, keyid) != 0 ||
	    re.reproduced != st->reproduced ||
	    !vt_hash_equal(&re.build_envelope, &st->build_envelope) ||
	    strcmp(re.name, st->name) != 0 || strcmp(re.version, st->version) != 0)
		return false;
	if (vt_tlog_proof_parse(&proof, b->rebuild_proofs[i], b->rebuild_proof_lens[i]) < 0 ||
	    vt_tlog_proof_verify_origin(&rc, NULL, &proof, vt_note_verifier_name(p->log),
					b->rebuild_entries[i], b->rebuild_entry_lens[i], &p->log,
					1) < 0)
		return false;
	return rc.size == cp->size && vt_hash_equal(&rc.root, &cp->root);
}

/*
 * A reproducing rebuild of this build by key, with the artifact among its
 * outputs, logged under the build's checkpoint.
 */
static bool rebuild_counts(const vt_endpoint_policy *p, const vt_endpoint_bundle *b, size_t i,
			   const vt_note_verifier *key, const vt_build_entry *be,
			   const vt_hash *artifact, const vt_checkpoint *cp)
{
	vt_rebuild_statement st;
	bool ok = false;
	if (vt_rebuild_statement_open(&st, b->rebuilds[i], b->rebuild_lens[i],
				      vt_note_verifier_pub(key)) < 0)
		return false;
	if (st.reproduced && vt_hash_equal(&st.build_envelope, &be->envelope) &&
	    vt_hash_equal(&st.recipe, &be->recipe) && vt_hash_equal(&st.source, &be->source) &&
	    strcmp(st.name, be->name) == 0 && strcmp(st.version, be->version) == 0)
		for (size_t j = 0; j < st.nsubjects; j++)
			if (vt_hash_equal(&st.subjects[j].digest, artifact))
				ok = true;
	ok = ok && rebuild_logged(p, b, i, key, &st, cp);
	vt_rebuild_statement_dispose(&st);
	return ok;
}

int vt_endpoint_verify(vt_endpoint_result *r, const vt_endpoint_policy *p,
		       const vt_endpoint_bundle *b, const vt_hash *artifact, const char *state,
		       size_t state_len)
{
	vt_release_statement st = {0};
	vt_build_entry be = {0};
	vt_recipe rec = {0};
	vt_tlog_proof proof;
	vt_checkpoint cp, old;
	vt_note note;
	vt_hash h;
	vt_buf payload;
	bool counted[VT_ENDPOINT_MAX_KEYS] = {false};
	int err;

	memset(r, 0, sizeof(*r));
	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	/* envelope */
	if ((err = vt_provenance_open(&payload, b->envelope, b->envelope_len,
				      vt_note_verifier_pub(p->builder))) < 0) {
		err = failed(r, VT_CHECK_ENVELOPE,
			     "the envelope does not verify under the builder key", vt_error_last());
		goto done;
	}
	if ((err = vt_release_statement_read(&st, (const char *)payload.ptr, payload.len)) < 0) {
		err = failed(r, VT_CHECK_PREDICATE, "the statement lacks a field", vt_error_last());
		goto done;
	}
	/* subject */
	err = -1;
	for (size_t i = 0; i < st.nsubjects; i++)
		if (vt_hash_equal(&st.subjects[i].digest, artifact))
			err = 0;
	if (err < 0) {
		err = failed(r, VT_CHECK_SUBJECT,
			     "the artifact's sha256 is not a subject of the "
			     "provenance",
			     NULL);
		goto done;
	}
	/* predicate: who built it, how, from which recipe and source */
	if (strcmp(st.builder_id, p->builder_id) != 0) {
		err =
		    failed(r, VT_CHECK_PREDICATE, "builder id is not the policy's", st.builder_id);
		goto done;
	}
	if (strcmp(st.build_type, VT_BUILD_TYPE) != 0) {
		err = failed(r, VT_CHECK_PREDICATE, "unknown buildType", st.build_type);
		goto done;
	}
	if ((err = vt_sha256(&h, b->recipe, b->recipe_len)) < 0)
		goto done;
	if (!vt_hash_equal(&h, &st.recipe) || vt_recipe_parse(&rec, b->recipe, b->recipe_len) < 0 ||
	    !vt_hash_equal(&rec.source_digest, &st.source_tree)) {
		err = failed(r, VT_CHECK_PREDICATE,
			     "the recipe is not the one the provenance names", NULL);
		goto done;
	}
	if (strcmp(rec.name, p->source) != 0) {
		err = failed(r, VT_CHECK_PREDICATE, "built from another source than the policy's",
			     rec.name);
		goto done;
	}
	snprintf(r->name, sizeof(r->name), "%s", rec.name);
	snprintf(r->version, sizeof(r->version), "%s", rec.version);
	/* the build entry must describe exactly this build */
	if (vt_build_entry_parse(&be, b->entry, b->entry_len) < 0) {
		err = failed(r, VT_CHECK_INCLUSION, "no valid build entry", vt_error_last());
		goto done;
	}
	if ((err = vt_sha256(&h, b->envelope, b->envelope_len)) < 0)
		goto done;
	err = 0;
	if (strcmp(be.name, rec.name) != 0 || strcmp(be.version, rec.version) != 0 ||
	    !vt_hash_equal(&be.envelope, &h) || !vt_hash_equal(&be.recipe, &st.recipe) ||
	    be.nsubjects != st.nsubjects ||
	    (st.has_source_file && !vt_hash_equal(&be.source, &st.source_file)))
		err = -1;
	for (size_t i = 0; err == 0 && i < be.nsubjects; i++)
		if (strcmp(be.subjects[i].name, st.subjects[i].name) != 0 ||
		    !vt_hash_equal(&be.subjects[i].digest, &st.subjects[i].digest))
			err = -1;
	if (err < 0) {
		err =
		    failed(r, VT_CHECK_INCLUSION, "the build entry describes another build", NULL);
		goto done;
	}
	/* log-signature, then inclusion */
	if (vt_tlog_proof_parse(&proof, b->proof, b->proof_len) < 0) {
		err = failed(r, VT_CHECK_INCLUSION, "no valid inclusion proof", vt_error_last());
		goto done;
	}
	r->checkpoint = proof.checkpoint;
	r->checkpoint_len = proof.checkpoint_len;
	r->index = proof.index;
	if (vt_note_open(&note, proof.checkpoint, proof.checkpoint_len, &p->log, 1) < 0) {
		err = failed(r, VT_CHECK_LOG_SIGNATURE,
			     "the checkpoint is not signed by the log's key", vt_error_last());
		goto done;
	}
	if (vt_tlog_proof_verify_origin(&cp, NULL, &proof, vt_note_verifier_name(p->log), b->entry,
					b->entry_len, &p->log, 1) < 0) {
		err = failed(r, VT_CHECK_INCLUSION, "the build entry is not proven included",
			     vt_error_last());
		goto done;
	}
	r->size = cp.size;
	/* cosignatures: distinct witnesses whose cosignature verifies */
	if (p->witness_threshold > 0) {
		if (vt_note_open(&note, proof.checkpoint, proof.checkpoint_len,
				 (vt_note_verifier *const *)p->witnesses, p->nwitnesses) == 0)
			for (size_t i = 0; i < note.nsigs; i++)
				if (vt_note_verifier_type(note.sigs[i].by) == VT_NOTE_COSIG)
					r->witnesses++;
		if (r->witnesses < p->witness_threshold) {
			char msg[96];
			snprintf(msg, sizeof(msg), "%zu of the %u witness cosignatures needed",
				 r->witnesses, p->witness_threshold);
			err = failed(r, VT_CHECK_COSIGNATURES, msg, NULL);
			goto done;
		}
	}
	/* consistency with the last checkpoint this endpoint accepted */
	if (state) {
		if (vt_note_open(&note, state, state_len, &p->log, 1) < 0 ||
		    vt_checkpoint_parse(&old, note.text, note.text_len) < 0) {
			err = vt_error_set(VT_ECORRUPT,
					   "the endpoint's saved checkpoint does not verify "
					   "under the log's key");
			goto done;
		}
		if (cp.size < old.size) {
			char msg[128];
			snprintf(msg, sizeof(msg),
				 "the checkpoint (size %llu) is older than the last one seen "
				 "(size %llu): rolled back",
				 (unsigned long long)cp.size, (unsigned long long)old.size);
			err = failed(r, VT_CHECK_CONSISTENCY, msg, NULL);
			goto done;
		}
		if (cp.size == old.size
			? !vt_hash_equal(&cp.root, &old.root)
			: (!b->has_consistency || b->old_size != old.size ||
			   vt_merkle_verify_consistency(old.size, cp.size, &old.root, &cp.root,
							b->consistency, b->nconsistency) < 0)) {
			err =
			    failed(r, VT_CHECK_CONSISTENCY,
				   "no proof that the checkpoint extends the last one seen", NULL);
			goto done;
		}
	}
	/* rebuilds: distinct rebuilder keys that reproduced this artifact from the same inputs */
	for (size_t k = 0; k < p->nrebuilders; k++)
		for (size_t i = 0; i < b->nrebuilds && !counted[k]; i++)
			if (rebuild_counts(p, b, i, p->rebuilders[k], &be, artifact, &cp)) {
				counted[k] = true;
				r->rebuilders++;
			}
	if (r->rebuilders < p->rebuild_threshold) {
		char msg[96];
		snprintf(msg, sizeof(msg), "%zu of the %u reproducing rebuilders needed",
			 r->rebuilders, p->rebuild_threshold);
		err = failed(r, VT_CHECK_REBUILDS, msg, NULL);
		goto done;
	}
	err = 0;
done:
	vt_recipe_dispose(&rec);
	vt_build_entry_dispose(&be);
	vt_release_statement_dispose(&st);
	vt_buf_dispose(&payload);
	return err;
}
