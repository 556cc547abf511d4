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

/* The time ms milliseconds from now on clock (an absolute timeout for pthread_cond_timedwait). */
static inline struct timespec vt_timespec_after(clockid_t clock, unsigned ms)
{
	struct timespec t;
	clock_gettime(clock, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

#endif
