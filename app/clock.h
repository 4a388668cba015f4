// Wall-clock seconds for progress and reports.
#ifndef NFP_APP_CLOCK_H
#define NFP_APP_CLOCK_H

#include <time.h>

static inline double nfp_wall_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
