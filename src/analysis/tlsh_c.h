/* SPDX-License-Identifier: Apache-2.0 */
/* The C face of libtlsh (a C++ class), implemented in tlsh.cpp. */
#ifndef VT_TLSH_C_H
#define VT_TLSH_C_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vt_tlsh vt_tlsh;

/* A new hasher, or NULL when out of memory. */
vt_tlsh *vt_analysis__tlsh_new(void);

/* Feed len bytes. */
void vt_analysis__tlsh_update(vt_tlsh *t, const unsigned char *data, unsigned len);

/*
 * Finish: write "T1" and the hex digest to out (size >= 80), or "" when
 * the input was too small or too uniform to hash. The hasher restarts.
 */
void vt_analysis__tlsh_final(vt_tlsh *t, char *out, size_t size);

/* Free a hasher (NULL is fine). */
void vt_analysis__tlsh_free(vt_tlsh *t);

/* TLSH distance of two hashes (with or without "T1"); -1 when one is malformed. */
int vt_analysis__tlsh_diff(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
