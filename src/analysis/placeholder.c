/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the analysis module lands. */
int vt_analysis_placeholder(void);
int vt_analysis_placeholder(void) { return 0; }
