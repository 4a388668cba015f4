// Order statistics: nearest-rank percentiles and medians against values worked by hand.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "nfp/stats.h"

static void test_percentile(void** state) {
  (void)state;
  double v[10] = {9, 1, 8, 2, 7, 3, 6, 4, 5, 10};
  assert_float_equal(nfp_percentile(v, 10, 0.5), 5, 0);    // ceil(5) = 5th smallest
  assert_float_equal(nfp_percentile(v, 10, 0.99), 10, 0);  // ceil(9.9) = 10th
  assert_float_equal(nfp_percentile(v, 10, 0.1), 1, 0);
  assert_float_equal(nfp_percentile(v, 10, 0.11), 2, 0);
  for (int i = 0; i < 10; i++) assert_float_equal(v[i], i + 1, 0);  // sorted in place
  assert_float_equal(nfp_percentile(v, 0, 0.5), 0, 0);
}

static void test_median(void** state) {
  (void)state;
  double odd[3] = {3, 1, 2}, even[4] = {4, 1, 3, 2};
  assert_float_equal(nfp_median(odd, 3), 2, 0);
  assert_float_equal(nfp_median(even, 4), 2.5, 0);
  assert_float_equal(nfp_median(even, 0), 0, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_percentile),
      cmocka_unit_test(test_median),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
