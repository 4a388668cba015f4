// Pictures: a training curve and a chart are written as valid PNG / SVG files, and an
// unwritable path is refused.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/picture.h"

static void test_curve_png(void** state) {
  (void)state;
  char path[] = "/tmp/nfp_curve_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  float tr[5] = {3.0f, 1.0f, 0.0f, -1.0f, -1.5f}, va[5] = {3.2f, 1.5f, NAN, -0.5f, -0.7f};
  assert_int_equal(nfp_curve_write_png(path, tr, va, 5), 0);
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  unsigned char sig[8];
  assert_int_equal(fread(sig, 1, 8, f), 8);
  fclose(f);
  assert_memory_equal(sig, "\x89PNG\r\n\x1a\n", 8);
  assert_int_equal(nfp_curve_write_png(path, tr, NULL, 1), 0);  // one point, no validation
  remove(path);
  assert_int_equal(nfp_curve_write_png("/nonexistent/dir/c.png", tr, va, 5), -1);
}

static void test_bars_svg(void** state) {
  (void)state;
  char path[] = "/tmp/nfp_bars_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  nfp_bar bars[3] = {{"lift_pot", "single", 1.0}, {"lift_pot", "sbs", 0.5}, {"stack", "sbs", 0.25}};
  assert_int_equal(nfp_bars_write_svg(path, "success", bars, 3), 0);
  char text[8192] = "";
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  fclose(f);
  text[n] = '\0';
  assert_non_null(strstr(text, "<svg"));
  assert_non_null(strstr(text, "lift_pot"));
  assert_non_null(strstr(text, "</svg>"));
  remove(path);
  assert_int_equal(nfp_bars_write_svg("/nonexistent/dir/c.svg", "x", bars, 3), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_curve_png),
      cmocka_unit_test(test_bars_svg),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
