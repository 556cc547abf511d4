/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the analysis engine. */
#include "../test.h"
int main(void) { return TEST_DONE(); }
