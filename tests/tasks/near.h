// assert_near: cmocka 1.1 has no assert_double_equal.
#ifndef NFP_TEST_NEAR_H
#define NFP_TEST_NEAR_H

#include <math.h>

#define assert_near(a, b, tol)                                                      \
  do {                                                                              \
    double a_ = (a), b_ = (b);                                                      \
    if (!(fabs(a_ - b_) <= (tol)))                                                  \
      fail_msg("%s = %.9g, expected %.9g +- %g", #a, a_, b_, (double)(tol));        \
  } while (0)

#endif
