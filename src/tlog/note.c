/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Signed notes (c2sp.org/signed-note) with Ed25519 and cosignature/v1 keys.
 *
 * Opening a note is two passes: the first checks the whole message's
 * syntax (characters, layout, every signature line) without touching any
 * key, so a malformed note is VT_EINVAL whatever order its lines come in;
 * the second verifies the lines whose name and key id match a given key.
 * Nothing is allocated while parsing but the scratch buffer that decodes
 * one signature at a time; the result points into the caller's message.
 */
#include "vitrine/note.h"
#include "vitrine/ed25519.h"
#include "vitrine/encoding.h"
#include "vitrine/error.h"
#include "vitrine/hash.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EM_DASH		"\xe2\x80\x94"
#define SIG_PREFIX	EM_DASH " "
#define SIG_PREFIX_LEN	4
#define KEY_LEN		(1 + VT_ED25519_PUB_SIZE) /* type byte || key */
#define KEY_B64_LEN	VT_BASE64_LEN(KEY_LEN)
#define ED25519_SIG_LEN (4 + VT_ED25519_SIG_SIZE)
#define COSIG_SIG_LEN	(4 + 8 + VT_ED25519_SIG_SIZE)
#define COSIG_HEADER	"cosignature/v1\ntime "
#define MAX_SIG_B64	8192 /* room for post-quantum signatures of unknown keys */

struct vt_note_signer {
	char *name;
	size_t name_len;
	int type;
	uint32_t id;
	vt_ed25519_key key;
};

struct vt_note_verifier {
	char *name;
	size_t name_len;
	int type;
	uint32_t id;
	uint8_t pub[VT_ED25519_PUB_SIZE];
};

/* One syntactically valid signature line. */
typedef struct {
	const char *name;
	size_t name_len;
	const char *b64;
	size_t b64_len;
	uint32_t id;
} sig_line;

/* The layout of a syntactically valid note. */
typedef struct {
	size_t text_len;
	size_t nlines;
	sig_line lines[VT_NOTE_MAX_SIGS];
} parsed_note;

/*
 * Decode one UTF-8 sequence strictly (no overlong forms, surrogates or
 * code points above U+10FFFF). Returns its length, or 0 when invalid.
 */
static size_t utf8_decode(uint32_t *cp, const uint8_t *s, size_t len)
{
	uint32_t c;
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int vt_note_check_chars(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;
		if (p[i] >= 0x20 && p[i] < 0x80) {
			i++;
			continue;
		}
		if ((n = utf8_decode(&cp, p + i, len - i)) == 0)
			return vt_error_set(VT_EINVAL, "invalid UTF-8 at byte %zu", i);
		if (cp < 0x20 && cp != '\n')
			return vt_error_set(VT_EINVAL, "control character 0x%02x at byte %zu",
					    (unsigned)cp, i);
		i += n;
	}
	return 0;
}

int vt_note_check_text(const char *text, size_t len)
{
	if (len == 0 || text[len - 1] != '\n')
		return vt_error_set(VT_EINVAL, "note text must be non-empty and end in a newline");
	if (len > VT_NOTE_MAX_SIZE)
		return vt_error_set(VT_ETOOBIG, "note text longer than %d bytes", VT_NOTE_MAX_SIZE);
	return vt_note_check_chars(text, len);
}

/* Unicode White_Space, as Go's unicode.IsSpace sees it. */
static bool is_space(uint32_t c)
{
	return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
	       c == 0x205f || c == 0x3000;
}

/* A key name: non-empty UTF-8 with no '+', space or control character. */
static bool name_valid(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t i = 0;

	if (len == 0)
		return false;
	while (i < len) {
		uint32_t cp;
		size_t n = utf8_decode(&cp, p + i, len - i);
		if (n == 0 || cp < 0x20 || cp == '+' || is_space(cp))
			return false;
		i += n;
	}
	return true;
}

static uint32_t key_id(const char *name, size_t name_len, int type, const uint8_t pub[32])
{
	uint8_t t = (uint8_t)type;
	const void *parts[] = {name, "\n", &t, pub};
	const size_t lens[] = {name_len, 1, 1, VT_ED25519_PUB_SIZE};
	vt_hash h;

	/* Only fails when OpenSSL cannot allocate; an id of 0 then fails every check. */
	if (vt_sha256_v(&h, parts, lens, 4) < 0)
		return 0;
	return vt_get_be32(h.b);
}

uint32_t vt_note_key_id(const char *name, int type, const uint8_t pub[32])
{
	return key_id(name, strlen(name), type, pub);
}

static bool type_known(int type)
{
	return type == VT_NOTE_ED25519 || type == VT_NOTE_COSIG;
}

/* Parse 8 lower-case hex digits, the only form Go writes. */
static int parse_hexid(uint32_t *out, const char *s, size_t len)
{
	uint8_t b[4];
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return vt_error_set(VT_EINVAL, "key id must be 8 lower-case hex digits");
	if (len != 8 || vt_hex_decode(b, 4, s, len) < 0)
		return vt_error_set(VT_EINVAL, "key id must be 8 lower-case hex digits");
	*out = vt_get_be32(b);
	return 0;
}

/*
 * Split "<name>+<hexid>+<base64(type||key)>" and decode its parts; the
 * key id is left for the caller to check (a signer derives its public key
 * first).
 */
static int parse_key(const char **name, size_t *name_len, uint32_t *id, uint8_t key[KEY_LEN],
		     const char *s, size_t len)
{
	const char *p1, *p2;
	int err = 0;

	p1 = memchr(s, '+', len);
	p2 = p1 ? memchr(p1 + 1, '+', len - (size_t)(p1 + 1 - s)) : NULL;
	if (!p2) {
		err = vt_error_set(VT_EINVAL, "key must be <name>+<hexid>+<base64 key>");
		goto done;
	}
	*name = s;
	*name_len = (size_t)(p1 - s);
	if (!name_valid(*name, *name_len)) {
		err = vt_error_set(VT_EINVAL, "invalid key name");
		goto done;
	}
	if ((err = parse_hexid(id, p1 + 1, (size_t)(p2 - p1 - 1))) < 0)
		goto done;
	if ((err = vt_base64_decode_exact(key, KEY_LEN, p2 + 1, len - (size_t)(p2 + 1 - s))) < 0) {
		err = vt_error_set(VT_EINVAL, "key must be base64 of a type byte and 32 bytes");
		goto done;
	}
	if (!type_known(key[0]))
		err = vt_error_set(VT_EINVAL, "unknown key type 0x%02x", key[0]);
done:
	return err;
}

static char *dup_name(const char *name, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, name, len);
		p[len] = '\0';
	}
	return p;
}

static int signer_make(vt_note_signer **out, const char *name, size_t name_len, int type,
		       const uint8_t seed[VT_ED25519_SEED_SIZE])
{
	vt_note_signer *s = NULL;
	int err = 0;

	if ((s = calloc(1, sizeof(*s))) == NULL || (s->name = dup_name(name, name_len)) == NULL) {
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	s->name_len = name_len;
	s->type = type;
	if (seed)
		err = vt_ed25519_from_seed(&s->key, seed);
	else
		err = vt_ed25519_generate(&s->key);
	if (err < 0)
		goto done;
	s->id = key_id(s->name, name_len, type, s->key.pub);
	*out = s;
	s = NULL;
done:
	vt_note_signer_free(s);
	return err;
}

int vt_note_signer_parse(vt_note_signer **out, const char *skey, size_t len)
{
	static const char prefix[] = "PRIVATE+KEY+";
	const size_t plen = sizeof(prefix) - 1;
	const char *name;
	size_t name_len;
	uint32_t id;
	uint8_t key[KEY_LEN];
	vt_note_signer *s = NULL;
	int err;

	*out = NULL;
	if (len < plen || memcmp(skey, prefix, plen) != 0) {
		err = vt_error_set(VT_EINVAL, "private key must start with PRIVATE+KEY+");
		goto done;
	}
	if ((err = parse_key(&name, &name_len, &id, key, skey + plen, len - plen)) < 0)
		goto done;
	if ((err = signer_make(&s, name, name_len, key[0], key + 1)) < 0)
		goto done;
	if (s->id != id) {
		err = vt_error_set(VT_EINVAL, "key id %08" PRIx32 " does not match the key", id);
		goto done;
	}
	*out = s;
	s = NULL;
done:
	vt_note_signer_free(s);
	explicit_bzero(key, sizeof(key)); /* may hold a seed */
	if (err < 0)
		vt_error_wrap(err, "private key");
	return err;
}

/* The name and type of a key made from parts rather than parsed. VT_EINVAL. */
static int check_new_key(const char *name, int type)
{
	int err = 0;

	if (!name_valid(name, strlen(name)))
		err = vt_error_set(VT_EINVAL, "invalid key name");
	else if (!type_known(type))
		err = vt_error_set(VT_EINVAL, "unknown key type %d", type);
	return err;
}

int vt_note_signer_generate(vt_note_signer **out, const char *name, int type)
{
	int err;

	*out = NULL;
	if ((err = check_new_key(name, type)) == 0)
		err = signer_make(out, name, strlen(name), type, NULL);
	return err;
}

/* Append "<name>+<hexid>+<base64(type||bytes)>". */
static int append_key(vt_buf *out, const char *name, uint32_t id, int type, const uint8_t *bytes)
{
	uint8_t key[KEY_LEN];
	size_t start = out->len;
	int err;

	key[0] = (uint8_t)type;
	memcpy(key + 1, bytes, 32);
	if ((err = vt_buf_printf(out, "%s+%08" PRIx32 "+", name, id)) < 0 ||
	    (err = vt_base64_append(out, key, sizeof(key))) < 0) {
		out->len = start;
		if (out->ptr)
			out->ptr[start] = 0;
	}
	explicit_bzero(key, sizeof(key)); /* may hold a seed */
	return err;
}

int vt_note_signer_skey(vt_buf *out, const vt_note_signer *s)
{
	size_t start = out->len;
	int err;

	if ((err = vt_buf_adds(out, "PRIVATE+KEY+")) < 0)
		goto done;
	if ((err = append_key(out, s->name, s->id, s->type, s->key.seed)) < 0) {
		out->len = start;
		out->ptr[start] = 0;
	}
done:
	return err;
}

int vt_note_signer_vkey(vt_buf *out, const vt_note_signer *s)
{
	return append_key(out, s->name, s->id, s->type, s->key.pub);
}

const char *vt_note_signer_name(const vt_note_signer *s)
{
	return s->name;
}

uint32_t vt_note_signer_id(const vt_note_signer *s)
{
	return s->id;
}

int vt_note_signer_type(const vt_note_signer *s)
{
	return s->type;
}

void vt_note_signer_free(vt_note_signer *s)
{
	if (!s)
		return;
	vt_ed25519_wipe(&s->key);
	free(s->name);
	free(s);
}

static int verifier_make(vt_note_verifier **out, const char *name, size_t name_len, int type,
			 const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	vt_note_verifier *v;
	int err = 0;

	if ((v = calloc(1, sizeof(*v))) == NULL || (v->name = dup_name(name, name_len)) == NULL) {
		free(v);
		err = vt_error_set(VT_ENOMEM, "out of memory");
		goto done;
	}
	v->name_len = name_len;
	v->type = type;
	memcpy(v->pub, pub, VT_ED25519_PUB_SIZE);
	v->id = key_id(v->name, name_len, type, pub);
	*out = v;
done:
	return err;
}

int vt_note_verifier_parse(vt_note_verifier **out, const char *vkey, size_t len)
{
	const char *name;
	size_t name_len;
	uint32_t id;
	uint8_t key[KEY_LEN];
	int err;

	*out = NULL;
	if ((err = parse_key(&name, &name_len, &id, key, vkey, len)) < 0)
		goto done;
	if (key_id(name, name_len, key[0], key + 1) != id) {
		err = vt_error_set(VT_EINVAL, "key id %08" PRIx32 " does not match the key", id);
		goto done;
	}
	err = verifier_make(out, name, name_len, key[0], key + 1);
done:
	if (err < 0)
		vt_error_wrap(err, "verifier key");
	return err;
}

int vt_note_verifier_new(vt_note_verifier **out, const char *name, int type,
			 const uint8_t pub[VT_ED25519_PUB_SIZE])
{
	int err;

	*out = NULL;
	if ((err = check_new_key(name, type)) == 0)
		err = verifier_make(out, name, strlen(name), type, pub);
	return err;
}

int vt_note_signer_verifier(vt_note_verifier **out, const vt_note_signer *s)
{
	return verifier_make(out, s->name, s->name_len, s->type, s->key.pub);
}

int vt_note_verifier_vkey(vt_buf *out, const vt_note_verifier *v)
{
	return append_key(out, v->name, v->id, v->type, v->pub);
}

const char *vt_note_verifier_name(const vt_note_verifier *v)
{
	return v->name;
}

uint32_t vt_note_verifier_id(const vt_note_verifier *v)
{
	return v->id;
}

int vt_note_verifier_type(const vt_note_verifier *v)
{
	return v->type;
}

const uint8_t *vt_note_verifier_pub(const vt_note_verifier *v)
{
	return v->pub;
}

void vt_note_verifier_free(vt_note_verifier *v)
{
	if (!v)
		return;
	free(v->name);
	free(v);
}

/* Decode a signature's base64 into scratch (reset first). */
static int decode_sig(vt_buf *scratch, const char *b64, size_t len)
{
	vt_buf_reset(scratch);
	return vt_base64_decode(scratch, b64, len);
}

/* Check one signature line (without its '\n') and record it. */
static int parse_sig_line(sig_line *out, vt_buf *scratch, const char *line, size_t len)
{
	const char *sp;
	int err = 0;

	if (len < SIG_PREFIX_LEN || memcmp(line, SIG_PREFIX, SIG_PREFIX_LEN) != 0) {
		err = vt_error_set(VT_EINVAL,
				   "signature line must start with an em dash and a space");
		goto done;
	}
	line += SIG_PREFIX_LEN;
	len -= SIG_PREFIX_LEN;
	if ((sp = memchr(line, ' ', len)) == NULL) {
		err = vt_error_set(VT_EINVAL, "signature line has no signature");
		goto done;
	}
	out->name = line;
	out->name_len = (size_t)(sp - line);
	out->b64 = sp + 1;
	out->b64_len = len - out->name_len - 1;
	if (!name_valid(out->name, out->name_len)) {
		err = vt_error_set(VT_EINVAL, "invalid key name in signature line");
		goto done;
	}
	if (out->b64_len > MAX_SIG_B64) {
		err = vt_error_set(VT_EINVAL, "signature too long");
		goto done;
	}
	if (decode_sig(scratch, out->b64, out->b64_len) < 0 || scratch->len < 5) {
		err =
		    vt_error_set(VT_EINVAL, "signature must be base64 of a key id and a signature");
		goto done;
	}
	out->id = vt_get_be32(scratch->ptr);
done:
	return err;
}

/* The syntax pass: characters, text/signature split, every signature line. */
static int parse_note(parsed_note *p, vt_buf *scratch, const char *msg, size_t len)
{
	const char *sigs, *end = msg + len;
	size_t i;
	int err;

	p->text_len = 0;
	p->nlines = 0;
	if (len > VT_NOTE_MAX_SIZE) {
		err = vt_error_set(VT_ETOOBIG, "note longer than %d bytes", VT_NOTE_MAX_SIZE);
		goto done;
	}
	if ((err = vt_note_check_chars(msg, len)) < 0)
		goto done;
	/* The text ends at the last blank line. */
	for (i = len; i >= 2; i--)
		if (msg[i - 1] == '\n' && msg[i - 2] == '\n')
			break;
	if (i < 2) {
		err = vt_error_set(VT_EINVAL, "note has no blank line before its signatures");
		goto done;
	}
	p->text_len = i - 1;
	sigs = msg + i;
	if (sigs == end || end[-1] != '\n') {
		err =
		    vt_error_set(VT_EINVAL, "note must end in newline-terminated signature lines");
		goto done;
	}
	while (sigs < end) {
		const char *nl = memchr(sigs, '\n', (size_t)(end - sigs));
		if (p->nlines == VT_NOTE_MAX_SIGS) {
			err = vt_error_set(VT_EINVAL, "note has more than %d signatures",
					   VT_NOTE_MAX_SIGS);
			goto done;
		}
		if ((err = parse_sig_line(&p->lines[p->nlines], scratch, sigs,
					  (size_t)(nl - sigs))) < 0)
			goto done;
		p->nlines++;
		sigs = nl + 1;
	}
done:
	if (err < 0)
		vt_error_wrap(err, "malformed note");
	return err;
}

int vt_note_check(size_t *text_len, const char *msg, size_t len)
{
	parsed_note p;
	vt_buf scratch;
	int err;

	vt_buf_init(&scratch, MAX_SIG_B64);
	if ((err = parse_note(&p, &scratch, msg, len)) < 0)
		goto done;
	if (text_len)
		*text_len = p.text_len;
done:
	vt_buf_dispose(&scratch);
	return err;
}

/* Append the cosignature/v1 signed message for text. */
static int cosig_message(vt_buf *out, uint64_t timestamp, const char *text, size_t len)
{
	int err;
	if ((err = vt_buf_printf(out, COSIG_HEADER "%" PRIu64 "\n", timestamp)) < 0)
		return err;
	return vt_buf_add(out, text, len);
}

/*
 * Verify one signature (decoded in sig, key id included) by v over text.
 * Fills the timestamp of a cosignature.
 */
static int verify_sig(vt_note_sig *out, vt_buf *scratch, const vt_note_verifier *v,
		      const uint8_t *sig, size_t siglen, const char *text, size_t text_len)
{
	int err = 0;

	out->by = v;
	out->timestamp = 0;
	if (v->type == VT_NOTE_ED25519) {
		if (siglen != ED25519_SIG_LEN)
			err = VT_EVERIFY;
		else
			err = vt_ed25519_verify(v->pub, sig + 4, text, text_len);
		goto done;
	}
	/* VT_NOTE_COSIG: the spec caps timestamps at 2^63 - 1. */
	if (siglen != COSIG_SIG_LEN || (out->timestamp = vt_get_be64(sig + 4)) > INT64_MAX) {
		err = VT_EVERIFY;
		goto done;
	}
	vt_buf_reset(scratch);
	if ((err = cosig_message(scratch, out->timestamp, text, text_len)) < 0)
		goto done;
	err = vt_ed25519_verify(v->pub, sig + 12, scratch->ptr, scratch->len);
done:
	if (err == VT_EVERIFY)
		err = vt_error_set(VT_EVERIFY, "invalid signature for key %s+%08" PRIx32, v->name,
				   v->id);
	return err;
}

/* The one verifier matching a signature line, NULL if none, VT_EINVAL if two. */
static int find_verifier(const vt_note_verifier **out, const sig_line *l,
			 vt_note_verifier *const *verifiers, size_t n)
{
	int err = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		const vt_note_verifier *v = verifiers[i];
		if (v->id != l->id || v->name_len != l->name_len ||
		    memcmp(v->name, l->name, l->name_len) != 0)
			continue;
		if (*out) {
			err =
			    vt_error_set(VT_EINVAL, "ambiguous key %s+%08" PRIx32, v->name, v->id);
			goto done;
		}
		*out = v;
	}
done:
	return err;
}

int vt_note_open(vt_note *out, const char *msg, size_t len, vt_note_verifier *const *verifiers,
		 size_t nverifiers)
{
	parsed_note note, *p = &note;
	vt_buf scratch, signed_msg;
	int err;

	memset(out, 0, sizeof(*out));
	vt_buf_init(&scratch, MAX_SIG_B64);
	vt_buf_init(&signed_msg, VT_NOTE_MAX_SIZE + 64);
	if ((err = parse_note(p, &scratch, msg, len)) < 0)
		goto done;
	for (size_t i = 0; i < p->nlines; i++) {
		const sig_line *l = &p->lines[i];
		const vt_note_verifier *v;
		vt_note_sig sig;
		bool seen = false;

		if ((err = find_verifier(&v, l, verifiers, nverifiers)) < 0)
			goto done;
		if (!v) {
			out->nunknown++;
			continue;
		}
		if ((err = decode_sig(&scratch, l->b64, l->b64_len)) < 0)
			goto done;
		if ((err = verify_sig(&sig, &signed_msg, v, scratch.ptr, scratch.len, msg,
				      p->text_len)) < 0)
			goto done;
		/* A key that signed twice is reported once, like Go does. */
		for (size_t j = 0; j < out->nsigs; j++)
			seen = seen || out->sigs[j].by == v;
		if (!seen)
			out->sigs[out->nsigs++] = sig;
	}
	if (out->nsigs == 0) {
		err = vt_error_set(VT_EVERIFY, "note has no verifiable signatures");
		goto done;
	}
	out->text = msg;
	out->text_len = p->text_len;
done:
	if (err < 0) {
		int keep = err;
		memset(out, 0, sizeof(*out));
		err = keep;
	}
	vt_buf_dispose(&scratch);
	vt_buf_dispose(&signed_msg);
	return err;
}

/* Append "— <name> <base64(id || sig)>\n". */
static int append_sig_line(vt_buf *out, const vt_note_signer *s, const uint8_t *sig, size_t len)
{
	uint8_t raw[COSIG_SIG_LEN];
	int err;

	vt_put_be32(raw, s->id);
	memcpy(raw + 4, sig, len);
	if ((err = vt_buf_printf(out, SIG_PREFIX "%s ", s->name)) < 0 ||
	    (err = vt_base64_append(out, raw, 4 + len)) < 0 || (err = vt_buf_addc(out, '\n')) < 0)
		return err;
	return 0;
}

int vt_cosig_sign(vt_buf *out, const vt_note_signer *s, const char *body, size_t len,
		  uint64_t timestamp)
{
	uint8_t sig[8 + VT_ED25519_SIG_SIZE];
	size_t start = out->len;
	vt_buf msg;
	int err;

	vt_buf_init(&msg, VT_NOTE_MAX_SIZE + 64);
	if (s->type != VT_NOTE_COSIG) {
		err = vt_error_set(VT_EINVAL, "key %s is not a cosigner key", s->name);
		goto done;
	}
	if (timestamp > INT64_MAX) {
		err = vt_error_set(VT_EINVAL, "cosignature timestamp above 2^63-1");
		goto done;
	}
	if ((err = vt_note_check_text(body, len)) < 0)
		goto done;
	if ((err = cosig_message(&msg, timestamp, body, len)) < 0)
		goto done;
	vt_put_be64(sig, timestamp);
	if ((err = vt_ed25519_sign(sig + 8, &s->key, msg.ptr, msg.len)) < 0)
		goto done;
	err = append_sig_line(out, s, sig, sizeof(sig));
done:
	if (err < 0 && out->len != start) {
		out->len = start;
		out->ptr[start] = 0;
	}
	vt_buf_dispose(&msg);
	return err;
}

int vt_note_sign(vt_buf *out, const char *text, size_t len, vt_note_signer *const *signers,
		 size_t nsigners)
{
	uint8_t sig[VT_ED25519_SIG_SIZE];
	size_t start = out->len;
	int err;

	if ((err = vt_note_check_text(text, len)) < 0)
		goto done;
	if (nsigners == 0 || nsigners > VT_NOTE_MAX_SIGS) {
		err = vt_error_set(VT_EINVAL, "a note needs 1 to %d signers", VT_NOTE_MAX_SIGS);
		goto done;
	}
	if ((err = vt_buf_add(out, text, len)) < 0 || (err = vt_buf_addc(out, '\n')) < 0)
		goto done;
	for (size_t i = 0; i < nsigners; i++) {
		const vt_note_signer *s = signers[i];
		if (s->type == VT_NOTE_COSIG) {
			time_t now = time(NULL);
			err = vt_cosig_sign(out, s, text, len, now < 0 ? 0 : (uint64_t)now);
		} else if ((err = vt_ed25519_sign(sig, &s->key, text, len)) == 0) {
			err = append_sig_line(out, s, sig, sizeof(sig));
		}
		if (err < 0)
			goto done;
	}
	if (out->len - start > VT_NOTE_MAX_SIZE)
		err =
		    vt_error_set(VT_ETOOBIG, "signed note longer than %d bytes", VT_NOTE_MAX_SIZE);
done:
	if (err < 0 && out->len != start) {
		out->len = start;
		out->ptr[start] = 0;
	}
	return err;
}
