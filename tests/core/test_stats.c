// Order statistics: nearest-rank percentiles and medians against values worked by hand;
// Wilson intervals against published values.
#include <math.h>
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

// 95 % Wilson score intervals; the reference values are worked independently (Newcombe
// 1998, table I: 81/263 -> 0.2553..0.3662; 15/148 -> 0.0624..0.1605; 0/10 -> 0..0.2775).
static void test_wilson(void** state) {
  (void)state;
  double lo, hi;
  nfp_wilson_interval(41, 100, 1.96, &lo, &hi);
  assert_float_equal(lo, 0.31867, 5e-5);
  assert_float_equal(hi, 0.50799, 5e-5);
  nfp_wilson_interval(81, 263, 1.96, &lo, &hi);
  assert_float_equal(lo, 0.2553, 5e-5);
  assert_float_equal(hi, 0.3662, 5e-5);
  nfp_wilson_interval(15, 148, 1.96, &lo, &hi);
  assert_float_equal(lo, 0.0624, 5e-5);
  assert_float_equal(hi, 0.1605, 5e-5);
  nfp_wilson_interval(0, 10, 1.96, &lo, &hi);
  assert_float_equal(lo, 0.0, 0);
  assert_float_equal(hi, 0.2775, 5e-5);
  nfp_wilson_interval(10, 10, 1.96, &lo, &hi);  // mirror image of 0/10
  assert_float_equal(lo, 1.0 - 0.2775, 5e-5);
  assert_float_equal(hi, 1.0, 0);
  nfp_wilson_interval(0, 0, 1.96, &lo, &hi);  // no trials: no information
  assert_float_equal(lo, 0.0, 0);
  assert_float_equal(hi, 1.0, 0);
}

// Hand-counted pairs: perfect, reversed, ties, one class missing.
static void test_auroc(void** state) {
  (void)state;
  double s[4] = {0.9, 0.8, 0.3, 0.1};
  int perfect[4] = {1, 1, 0, 0}, reversed[4] = {0, 0, 1, 1}, mixed[4] = {1, 0, 1, 0};
  assert_float_equal(nfp_auroc(s, perfect, 4), 1.0, 0);
  assert_float_equal(nfp_auroc(s, reversed, 4), 0.0, 0);
  assert_float_equal(nfp_auroc(s, mixed, 4), 0.75, 1e-12);  // 3 of 4 pairs ordered
  double tie[3] = {0.5, 0.5, 0.2};
  int t[3] = {1, 0, 0};
  assert_float_equal(nfp_auroc(tie, t, 3), 0.75, 1e-12);
  int none[4] = {1, 1, 1, 1};
  assert_true(isnan(nfp_auroc(s, none, 4)));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_percentile),
      cmocka_unit_test(test_median),
      cmocka_unit_test(test_wilson),
      cmocka_unit_test(test_auroc),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
