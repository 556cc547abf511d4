/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Fuzz target for the DSSE verifier: arbitrary envelopes never verify
 * under a fixed key unless they carry a real signature, and whatever
 * verifies re-verifies from a fresh signature over the same payload.
 */
#include "vitrine/dsse.h"
#include "vitrine/error.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static vt_dsse_signer s;
	static int ready;
	vt_buf out, env, again;
	int err;

	if (!ready) {
		uint8_t seed[32] = {7};
		if (vt_ed25519_from_seed(&s.key, seed) < 0 || vt_dsse_keyid(s.keyid, s.key.pub) < 0)
			abort();
		ready = 1;
	}
	vt_buf_init(&out, VT_DSSE_MAX_SIZE);
	vt_buf_init(&env, VT_DSSE_MAX_SIZE);
	vt_buf_init(&again, VT_DSSE_MAX_SIZE);
	err = vt_dsse_verify(&out, (const char *)data, size, VT_DSSE_INTOTO_TYPE, s.key.pub);
	if (err != 0 && err != VT_EINVAL && err != VT_EVERIFY && err != VT_ETOOBIG)
		abort();
	if (err != 0 && out.len != 0)
		abort();
	/* Sign the input as a payload; it must verify and come back the same. */
	if (vt_dsse_sign(&env, &s, VT_DSSE_INTOTO_TYPE, data, size) == 0) {
		if (vt_dsse_verify(&again, (const char *)env.ptr, env.len, VT_DSSE_INTOTO_TYPE,
				   s.key.pub) != 0 ||
		    again.len != size || (size && memcmp(again.ptr, data, size) != 0))
			abort();
	}
	vt_buf_dispose(&out);
	vt_buf_dispose(&env);
	vt_buf_dispose(&again);
	return 0;
}
