/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A C face for libtlsh, which is a C++ class: the rest of the module is
 * C11. Nothing here may throw past the boundary, so allocation uses
 * nothrow new and the library calls used do not throw.
 */
#include <new>
#include <string.h>

#include <tlsh.h>

#include "tlsh_c.h"

struct vt_tlsh {
	Tlsh t;
};

extern "C" vt_tlsh *vt_analysis__tlsh_new(void)
{
	return new (std::nothrow) vt_tlsh;
}

extern "C" void vt_analysis__tlsh_update(vt_tlsh *t, const unsigned char *data, unsigned len)
{
	t->t.update(data, len);
}

extern "C" void vt_analysis__tlsh_final(vt_tlsh *t, char *out, size_t size)
{
	char hex[200];
	const char *h;

	out[0] = '\0';
	t->t.final();
	/* An empty string means too little or too uniform input. */
	h = t->t.getHash(hex, sizeof(hex));
	if (h != NULL && h[0] != '\0' && strlen(h) + 3 <= size) {
		out[0] = 'T';
		out[1] = '1';
		memcpy(out + 2, h, strlen(h) + 1);
	}
	t->t.reset();
}

extern "C" void vt_analysis__tlsh_free(vt_tlsh *t)
{
	delete t;
}

extern "C" int vt_analysis__tlsh_diff(const char *a, const char *b)
{
	Tlsh x, y;
	/* Our hashes carry the customary "T1"; libtlsh 3.4 reads bare hex. */
	if (strncmp(a, "T1", 2) == 0)
		a += 2;
	if (strncmp(b, "T1", 2) == 0)
		b += 2;
	if (x.fromTlshStr(a) != 0 || y.fromTlshStr(b) != 0)
		return -1;
	return x.totalDiff(&y);
}
