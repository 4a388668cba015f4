// nfp clock: monotonic seconds for latencies, progress, deadlines and watchdogs.
#ifndef NFP_CLOCK_H
#define NFP_CLOCK_H

#include <time.h>

// Seconds on the monotonic clock (an arbitrary origin; only differences mean anything).
static inline double nfp_clock_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// The same in milliseconds.
static inline double nfp_clock_ms(void) { return 1e3 * nfp_clock_seconds(); }

#endif
