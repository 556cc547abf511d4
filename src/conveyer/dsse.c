/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DSSE envelopes (github.com/secure-systems-lab/dsse, protocol v1.0).
 *
 * The signature covers the PAE of the payload type and the raw payload,
 * never the JSON, so the envelope's own formatting is free; the verifier
 * is still strict about it because a lenient parser is where two readers
 * start to disagree about what was signed.
 */
#include "vitrine/dsse.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/hash.h"
#include "vitrine/note.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int vt_dsse_pae(vt_buf *out, const char *type, const void *body, size_t len)
{
	size_t start = out->len;
	int err;

	if ((err = vt_buf_printf(out, "DSSEv1 %zu %s %zu ", strlen(type), type, len)) < 0 ||
	    (err = vt_buf_add(out, body, len)) < 0) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = 0;
	}
	return err;
}

int vt_dsse_keyid(char out[VT_DSSE_KEYID_LEN + 1], const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	vt_hash h;
	int err;
	if ((err = vt_sha256(&h, pub, VT_ED25519_PUB_SIZE)) < 0)
		return err;
	vt_hex_encode(out, h.b, VT_HASH_SIZE);
	return 0;
}

int vt_dsse_signer_from_note(vt_dsse_signer *out, const char *skey, size_t len)
{
	vt_note_signer *ns = NULL;
	vt_note_verifier *nv = NULL;
	uint8_t raw[1 + VT_ED25519_SEED_SIZE];
	const char *b64;
	int err;

	memset(out, 0, sizeof(*out));
	if ((err = vt_note_signer_parse(&ns, skey, len)) < 0)
		goto done;
	if (vt_note_signer_type(ns) != VT_NOTE_ED25519) {
		err = vt_error_set(VT_EINVAL, "key %s is not a plain Ed25519 signing key",
				   vt_note_signer_name(ns));
		goto done;
	}
	/*
	 * The note module checked the whole string: after "PRIVATE+KEY+" come
	 * the name (no '+'), '+', eight hex digits, '+' and the base64 (which
	 * may hold '+' itself).
	 */
	b64 = memchr(skey + 12, '+', len - 12) + 10;
	if ((err = vt_base64_decode_exact(raw, sizeof(raw), b64, len - (size_t)(b64 - skey))) < 0 ||
	    (err = vt_ed25519_from_seed(&out->key, raw + 1)) < 0 ||
	    (err = vt_note_signer_verifier(&nv, ns)) < 0)
		goto done;
	if (memcmp(vt_note_verifier_pub(nv), out->key.pub, VT_ED25519_PUB_SIZE) != 0) {
		err = vt_error_set(VT_EINVAL, "the key's public half does not match its seed");
		goto done;
	}
	err = vt_dsse_keyid(out->keyid, out->key.pub);
done:
	memset(raw, 0, sizeof(raw));
	if (err < 0)
		vt_dsse_signer_wipe(out);
	vt_note_signer_free(ns);
	vt_note_verifier_free(nv);
	return err;
}

void vt_dsse_signer_wipe(vt_dsse_signer *s)
{
	vt_ed25519_wipe(&s->key);
	memset(s, 0, sizeof(*s));
}

int vt_dsse_sign(vt_buf *out, const vt_dsse_signer *s, const char *type, const void *payload,
		 size_t len)
{
	uint8_t sig[VT_ED25519_SIG_SIZE];
	size_t start = out->len;
	json_t *env = NULL, *sigs = NULL, *one = NULL;
	char *text = NULL;
	vt_buf pae, b64;
	int err;

	vt_buf_init(&pae, VT_DSSE_MAX_SIZE);
	vt_buf_init(&b64, VT_DSSE_MAX_SIZE);
	if ((err = vt_note_check_chars(type, strlen(type))) < 0 || strchr(type, '\n')) {
		err = vt_error_set(VT_EINVAL, "bad payload type");
		goto done;
	}
	if ((err = vt_dsse_pae(&pae, type, payload, len)) < 0 ||
	    (err = vt_ed25519_sign(sig, &s->key, pae.ptr, pae.len)) < 0)
		goto done;
	if ((err = vt_base64_append(&b64, payload, len)) < 0)
		goto done;
	err = VT_ENOMEM; /* every jansson failure below is an allocation failure */
	if (!(env = json_object()) || !(sigs = json_array()) || !(one = json_object()))
		goto done;
	if (json_object_set_new(env, "payload", json_stringn(vt_buf_cstr(&b64), b64.len)) < 0 ||
	    json_object_set_new(env, "payloadType", json_string(type)) < 0 ||
	    json_object_set_new(one, "keyid", json_string(s->keyid)) < 0)
		goto done;
	vt_buf_reset(&b64);
	if (vt_base64_append(&b64, sig, sizeof(sig)) < 0 ||
	    json_object_set_new(one, "sig", json_string(vt_buf_cstr(&b64))) < 0 ||
	    json_array_append(sigs, one) < 0 || json_object_set(env, "signatures", sigs) < 0)
		goto done;
	if (!(text = json_dumps(env, JSON_COMPACT | JSON_PRESERVE_ORDER)))
		goto done;
	err = vt_buf_adds(out, text);
done:
	if (err == VT_ENOMEM)
		vt_error_set(err, "out of memory");
	if (err < 0 && out->len != start) {
		out->len = start;
		out->ptr[start] = 0;
	}
	free(text);
	json_decref(one);
	json_decref(sigs);
	json_decref(env);
	vt_buf_dispose(&pae);
	vt_buf_dispose(&b64);
	return err;
}

static int b64_member(vt_buf *out, json_t *obj, const char *key, const char *what)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v))
		return vt_error_set(VT_EINVAL, "envelope: %s is not a string", what);
	if (vt_base64_decode(out, json_string_value(v), json_string_length(v)) < 0)
		return vt_error_set(VT_EINVAL, "envelope: %s is not canonical base64", what);
	return 0;
}

int vt_dsse_verify(vt_buf *out, const char *env, size_t len, const char *type,
		   const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	json_error_t jerr;
	json_t *root = NULL, *pt, *sigs;
	vt_buf payload, pae, sig;
	bool good = false;
	int err;

	vt_buf_init(&payload, VT_DSSE_MAX_SIZE);
	vt_buf_init(&pae, VT_DSSE_MAX_SIZE + 4096);
	vt_buf_init(&sig, 1024);
	if (len > VT_DSSE_MAX_SIZE) {
		err = vt_error_set(VT_ETOOBIG, "envelope larger than %d bytes", VT_DSSE_MAX_SIZE);
		goto done;
	}
	if (!(root = json_loadb(env, len, JSON_REJECT_DUPLICATES, &jerr))) {
		err = vt_error_set(VT_EINVAL, "envelope: %s at byte %d", jerr.text, jerr.position);
		goto done;
	}
	err = VT_EINVAL;
	if (!json_is_object(root) || json_object_size(root) != 3) {
		vt_error_set(err,
			     "envelope: want an object of payload, payloadType and signatures");
		goto done;
	}
	pt = json_object_get(root, "payloadType");
	sigs = json_object_get(root, "signatures");
	if (!json_is_string(pt) || strlen(json_string_value(pt)) != json_string_length(pt) ||
	    !json_is_array(sigs) || !json_object_get(root, "payload")) {
		vt_error_set(err,
			     "envelope: want an object of payload, payloadType and signatures");
		goto done;
	}
	if (strcmp(json_string_value(pt), type) != 0) {
		vt_error_set(err, "envelope: payload type %s, want %s", json_string_value(pt),
			     type);
		goto done;
	}
	if (json_array_size(sigs) == 0) {
		vt_error_set(err, "envelope: no signatures");
		goto done;
	}
	if ((err = b64_member(&payload, root, "payload", "payload")) < 0 ||
	    (err = vt_dsse_pae(&pae, type, payload.ptr, payload.len)) < 0)
		goto done;
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		json_t *s = json_array_get(sigs, i), *kid;
		size_t want = 1;
		if (!json_is_object(s)) {
			err =
			    vt_error_set(VT_EINVAL, "envelope: signature %zu is not an object", i);
			goto done;
		}
		if ((kid = json_object_get(s, "keyid"))) {
			want = 2;
			if (!json_is_string(kid)) {
				err = vt_error_set(VT_EINVAL, "envelope: keyid %zu is not a string",
						   i);
				goto done;
			}
		}
		if (json_object_size(s) != want) {
			err = vt_error_set(
			    VT_EINVAL,
			    "envelope: signature %zu has members other than keyid and sig", i);
			goto done;
		}
		vt_buf_reset(&sig);
		if ((err = b64_member(&sig, s, "sig", "sig")) < 0)
			goto done;
		if (sig.len == VT_ED25519_SIG_SIZE &&
		    vt_ed25519_verify(pub, sig.ptr, pae.ptr, pae.len) == 0)
			good = true;
	}
	if (!good) {
		err = vt_error_set(VT_EVERIFY, "envelope: no valid signature by the expected key");
		goto done;
	}
	err = vt_buf_add(out, payload.ptr, payload.len);
done:
	json_decref(root);
	vt_buf_dispose(&payload);
	vt_buf_dispose(&pae);
	vt_buf_dispose(&sig);
	return err;
}
