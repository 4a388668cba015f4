// Finite-difference helpers shared by the policy gradient tests.
#ifndef NFP_TEST_FD_UTIL_H
#define NFP_TEST_FD_UTIL_H

#include <math.h>
#include <stdio.h>

#include "nfp/rng.h"

static inline void fill_uniform(float* p, size_t n, double scale, nfp_rng* rng) {
  for (size_t i = 0; i < n; i++) p[i] = (float)nfp_rng_range(rng, -scale, scale);
}

// Compare an analytic gradient with a central difference: |a - fd| <= atol + rtol |fd|.
// Returns 1 when they agree, printing the first disagreement otherwise.
static inline int grad_close(const char* what, size_t i, double analytic, double fd, double rtol,
                             double atol) {
  if (fabs(analytic - fd) <= atol + rtol * fabs(fd)) return 1;
  printf("  %s[%zu]: analytic %.9g, finite difference %.9g\n", what, i, analytic, fd);
  return 0;
}

#endif
