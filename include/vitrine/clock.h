/* SPDX-License-Identifier: Apache-2.0 */
/* Monotonic time, for durations and deadlines. */
#ifndef VITRINE_CLOCK_H
#define VITRINE_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC, from an arbitrary start: only differences mean anything. */
static inline double vt_monotonic_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

#endif
