/* SPDX-License-Identifier: Apache-2.0 */
/* Placeholder until the command lands. */
typedef int vt_placeholder;
