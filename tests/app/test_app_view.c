// nfp view under a virtual X server: the saved screenshot is a real picture; an image
// policy gets head-camera frames from the viewer's own GL context.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "cli_util.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/render.h"

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

// Distinct grey levels in rows [y0, y1) and columns [x0, x1) of an RGB image.
static int grey_levels(const uint8_t* rgb, int w, int x0, int x1, int y0, int y1) {
  int seen[256] = {0}, levels = 0;
  for (int y = y0; y < y1; y++) {
    for (int x = x0; x < x1; x++) {
      const uint8_t* p = rgb + 3 * ((size_t)y * w + x);
      levels += !seen[(p[0] + p[1] + p[2]) / 3]++;
    }
  }
  return levels;
}

// An untrained CNN policy over the head camera: the viewer renders its frames (where an
// OSMesa renderer beside the window crashed it) and, with --head, shows its input.
static void test_image_policy(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  c.encoder = NFP_ENCODER_CNN;
  c.n_cam = 1;
  c.img_src_h = NFP_HEAD_H;
  c.img_src_w = NFP_HEAD_W;
  c.img_down = 4;
  c.img_h = 56;
  c.img_w = 72;
  nfp_model* model = nfp_model_create(&c, 1);
  if (!model) fail_msg("%s", nfp_error_last());
  char ckpt[400], png[400], args[1000];
  snprintf(ckpt, sizeof(ckpt), "%s/image.safetensors", cli_tmpdir);
  snprintf(png, sizeof(png), "%s/image.png", cli_tmpdir);
  assert_int_equal(nfp_checkpoint_save(ckpt, model, NULL, NULL, NULL, 0), 0);
  nfp_model_free(model);
  snprintf(args, sizeof(args),
           "view --policy %s --mode single --head --frames 10 --width 640 --height 480 "
           "--screenshot %s", ckpt, png);
  int code = cli_run(&r, "xvfb-run -a", args);
  if (code) fail_msg("view exited %d:\n%s\n%s", code, r.out, r.err);
  printf("%s", r.out);
  assert_non_null(strstr(r.out, "after 10 steps"));
  // Plans at steps 0 and 8 (replan 8): one frame each.
  assert_non_null(strstr(r.out, "head camera: 2 frames rendered for the policy"));
  png_image img;
  memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  assert_true(png_image_begin_read_from_file(&img, png));
  img.format = PNG_FORMAT_RGB;
  uint8_t* rgb = malloc(PNG_IMAGE_SIZE(img));
  assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
  // The inset, 2 x (72 x 56) at 10 px from the top-right corner, is a picture.
  int inset = grey_levels(rgb, 640, 640 - 10 - 144, 640 - 10, 10, 10 + 112);
  printf("inset: %d grey levels\n", inset);
  assert_true(inset > 20);
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
      cmocka_unit_test(test_image_policy),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
