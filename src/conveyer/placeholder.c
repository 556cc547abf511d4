/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the conveyer module lands. */
int vt_conveyer_placeholder(void);
int vt_conveyer_placeholder(void) { return 0; }
