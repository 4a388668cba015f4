// nfp view under a virtual X server: the saved screenshot is a real picture.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "cli_util.h"

static cli_result r;

static void test_screenshot(void** state) {
  (void)state;
  char png[400], args[700];
  snprintf(png, sizeof(png), "%s/shot.png", cli_tmpdir);
  snprintf(args, sizeof(args),
           "view --task lift_pot --agent expert --seed 2 --frames 5 --width 640 --height 480 "
           "--screenshot %s",
           png);
  int code = cli_run(&r, "xvfb-run -a", args);
  if (code) fail_msg("view exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "after 5 steps"));
  png_image img;
  memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  assert_true(png_image_begin_read_from_file(&img, png));
  assert_int_equal(img.width, 640);
  assert_int_equal(img.height, 480);
  img.format = PNG_FORMAT_RGB;
  uint8_t* rgb = malloc(PNG_IMAGE_SIZE(img));
  assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
  // Non-blank: many distinct grey levels and a real spread.
  int seen[256] = {0}, levels = 0, lo = 255, hi = 0;
  for (size_t i = 0; i < (size_t)640 * 480; i++) {
    int g = (rgb[3 * i] + rgb[3 * i + 1] + rgb[3 * i + 2]) / 3;
    if (!seen[g]++) levels++;
    if (g < lo) lo = g;
    if (g > hi) hi = g;
  }
  assert_true(levels > 20);
  assert_true(hi - lo > 60);
  free(rgb);
}

int main(void) {
  // No virtual X server on this machine: report a skip to ctest (SKIP_RETURN_CODE).
  if (system("command -v xvfb-run >/dev/null 2>&1") != 0) {
    printf("xvfb-run not found: skipping the viewer screenshot test\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_screenshot),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
