// nfp view under a virtual X server: the saved screenshot is a real picture; an image
// policy gets head-camera frames from the viewer's own GL context, and the encoder inset
// shows exactly its preprocessed input (cnn-kp keypoints marked where they are).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>
#include <png.h>

#include "cli_util.h"
#include "nfp/arms_sim.h"
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

// An untrained image policy with `encoder` over the head camera (and with img_first its
// first frames) -> saved at path; the model is returned for the test's own computations
// (caller frees).
static nfp_model* save_image_policy(const char* path, nfp_encoder_kind encoder, int img_first) {
  nfp_model_config c;
  nfp_model_config_default(&c);
  c.encoder = encoder;
  c.n_cam = 1;
  c.img_src_h = NFP_HEAD_H;
  c.img_src_w = NFP_HEAD_W;
  c.img_down = 4;
  c.img_h = 56;
  c.img_w = 72;
  c.img_first = img_first;
  nfp_model* model = nfp_model_create(&c, 1);
  if (!model) fail_msg("%s", nfp_error_last());
  assert_int_equal(nfp_checkpoint_save(path, model, NULL, NULL, NULL, 0), 0);
  return model;
}

// An untrained CNN policy over the head camera: the viewer renders its frames (where an
// OSMesa renderer beside the window crashed it) and shows its input on the head camera too.
static void test_image_policy(void** state) {
  (void)state;
  char ckpt[400], png[400], args[1000];
  snprintf(ckpt, sizeof(ckpt), "%s/image.safetensors", cli_tmpdir);
  snprintf(png, sizeof(png), "%s/image.png", cli_tmpdir);
  nfp_model_free(save_image_policy(ckpt, NFP_ENCODER_CNN, 0));
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

// The PNG at path -> RGB rows top-down (malloc'd), its size in *w, *h.
static uint8_t* read_png(const char* path, int* w, int* h) {
  png_image img;
  memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&img, path)) fail_msg("cannot read %s", path);
  img.format = PNG_FORMAT_RGB;
  uint8_t* rgb = malloc(PNG_IMAGE_SIZE(img));
  assert_non_null(rgb);
  assert_true(png_image_finish_read(&img, NULL, rgb, 0, NULL));
  *w = (int)img.width;
  *h = (int)img.height;
  return rgb;
}


// The encoder's input at the first plan of seed `seed`, made here independently: the
// head camera of the reset scene (this process's offscreen renderer) through the policy
// library's shrink and crop at the acting window -> input[img_h][img_w][3].
static void first_plan_input(uint8_t* input, const nfp_model_config* c, uint64_t seed) {
  nfp_arms* a = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  if (!a) fail_msg("%s", nfp_error_last());
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_reset(a, seed), 0);
  assert_int_equal(nfp_arms_observe(a, &obs, 1), 0);
  assert_non_null(obs.image);
  int sh = c->img_src_h / c->img_down, sw = c->img_src_w / c->img_down, y0, x0;
  uint8_t* shrunk = malloc((size_t)sh * sw * 3);
  assert_non_null(shrunk);
  nfp_image_shrink(shrunk, obs.image, c->img_src_h, c->img_src_w, c->img_down);
  nfp_image_window win = {c->img_h, c->img_w, c->img_off_y, c->img_off_x, 0};
  nfp_image_window_place(&y0, &x0, &win, sh, sw, NULL);
  nfp_image_crop(input, shrunk, sh, sw, c->img_h, c->img_w, y0, x0);
  free(shrunk);
  nfp_arms_close(a);
}

// Run view on checkpoint ckpt for one control step (the first plan) at 640 x 480 with
// extra flags -> the screenshot's pixels (malloc'd).
static uint8_t* view_one_plan(const char* ckpt, const char* name, const char* extra) {
  char png[400], args[1200];
  snprintf(png, sizeof(png), "%s/%s.png", cli_tmpdir, name);
  snprintf(args, sizeof(args),
           "view --policy %s --assets %s --mode single --seed 3 --frames 1 --width 640 "
           "--height 480 %s --screenshot %s",
           ckpt, NFP_TEST_ASSETS, extra, png);
  int code = cli_run(&r, "xvfb-run -a", args);
  if (code) fail_msg("view exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "after 1 steps"));
  int w, h;
  uint8_t* rgb = read_png(png, &w, &h);
  assert_int_equal(w, 640);
  assert_int_equal(h, 480);
  return rgb;
}

// The inset at 640 x 480: zoom 480 / (4 * 56) = 2, 10 px from the top and right edges.
#define INSET_Z 2
#define INSET_X0 (640 - 10 - 72 * INSET_Z)
#define INSET_Y0 10
// The inset's label lies below it, right-aligned, at most this wide and tall.
#define LABEL_W 520
#define LABEL_H 48

// Inset pixel (x, y) of the screenshot differs from input zoomed nearest-neighbour?
static int inset_differs(const uint8_t* shot, const uint8_t* input, int x, int y) {
  const uint8_t* p = shot + 3 * ((size_t)(INSET_Y0 + y) * 640 + INSET_X0 + x);
  const uint8_t* q = input + 3 * ((size_t)(y / INSET_Z) * 72 + x / INSET_Z);
  return memcmp(p, q, 3) != 0;
}

// A CNN policy: the inset is pixel for pixel the zoomed input computed here, and the only
// change --no-encoder-view makes to the screenshot is the inset and its label.
static void test_encoder_inset(void** state) {
  (void)state;
  char ckpt[400];
  snprintf(ckpt, sizeof(ckpt), "%s/cnn.safetensors", cli_tmpdir);
  nfp_model* model = save_image_policy(ckpt, NFP_ENCODER_CNN, 0);
  uint8_t input[56 * 72 * 3];
  first_plan_input(input, &model->cfg, 3);
  nfp_model_free(model);
  uint8_t* on = view_one_plan(ckpt, "cnn_on", "");
  uint8_t* off = view_one_plan(ckpt, "cnn_off", "--no-encoder-view");
  int wrong = 0, changed = 0, outside = 0;
  for (int y = 0; y < 56 * INSET_Z; y++) {
    for (int x = 0; x < 72 * INSET_Z; x++) wrong += inset_differs(on, input, x, y);
  }
  for (int y = 0; y < 480; y++) {
    for (int x = 0; x < 640; x++) {
      size_t i = 3 * ((size_t)y * 640 + x);
      int near = y >= INSET_Y0 && y < INSET_Y0 + 56 * INSET_Z + LABEL_H && x >= 630 - LABEL_W;
      int diff = memcmp(on + i, off + i, 3) != 0;
      changed += diff;
      outside += diff && !near;
    }
  }
  printf("inset: %d of %d pixels off the zoomed input; %d changed by the inset, %d elsewhere\n",
         wrong, 56 * 72 * INSET_Z * INSET_Z, changed, outside);
  assert_int_equal(wrong, 0);
  assert_int_equal(outside, 0);
  assert_true(changed > 56 * 72 * INSET_Z * INSET_Z / 2);
  free(on);
  free(off);
}

// A policy that also sees the episode's first frame: a second inset, left of the first
// (10 px apart), keeps the first plan's input after the policy has planned again (step 8).
static void test_first_frame_inset(void** state) {
  (void)state;
  char ckpt[400], png[400], args[1200];
  snprintf(ckpt, sizeof(ckpt), "%s/first.safetensors", cli_tmpdir);
  snprintf(png, sizeof(png), "%s/first.png", cli_tmpdir);
  nfp_model* model = save_image_policy(ckpt, NFP_ENCODER_CNN, 1);
  uint8_t input[56 * 72 * 3];
  first_plan_input(input, &model->cfg, 3);
  nfp_model_free(model);
  snprintf(args, sizeof(args),
           "view --policy %s --assets %s --mode single --seed 3 --frames 10 --width 640 "
           "--height 480 --screenshot %s", ckpt, NFP_TEST_ASSETS, png);
  int code = cli_run(&r, "xvfb-run -a", args);
  if (code) fail_msg("view exited %d:\n%s\n%s", code, r.out, r.err);
  int w, h, wrong = 0, x0 = INSET_X0 - 72 * INSET_Z - 10;
  uint8_t* shot = read_png(png, &w, &h);
  for (int y = 0; y < 56 * INSET_Z; y++) {
    for (int x = 0; x < 72 * INSET_Z; x++) {
      const uint8_t* p = shot + 3 * ((size_t)(INSET_Y0 + y) * 640 + x0 + x);
      wrong += memcmp(p, input + 3 * ((size_t)(y / INSET_Z) * 72 + x / INSET_Z), 3) != 0;
    }
  }
  printf("first-frame inset: %d of %d pixels off the first plan's zoomed input\n", wrong,
         56 * 72 * INSET_Z * INSET_Z);
  assert_int_equal(wrong, 0);
  free(shot);
}

// Keypoint i's marker centre in the inset: its expected (x, y) over the 14 x 18 map,
// back to input pixels (strides 2, 1, 2, 1, "same" padding: 4 per map pixel), zoomed.
static void kp_centre(const float* kp, const nfp_cnn* net, int i, int* x, int* y) {
  double u = 0.5 * (kp[2 * i] + 1) * (net->out_W - 1) * 4;
  double v = 0.5 * (kp[2 * i + 1] + 1) * (net->out_H - 1) * 4;
  *x = (int)((u + 0.5) * INSET_Z);
  *y = (int)((v + 0.5) * INSET_Z);
}

// A cnn-kp policy: the inset is the zoomed input except for a small square at each of the
// trunk's keypoints (computed here from that input), and every keypoint has its square.
static void test_keypoint_inset(void** state) {
  (void)state;
  char ckpt[400];
  snprintf(ckpt, sizeof(ckpt), "%s/kp.safetensors", cli_tmpdir);
  nfp_model* model = save_image_policy(ckpt, NFP_ENCODER_CNN_KP, 0);
  const nfp_cnn* net = &model->enc.cnn;
  assert_int_equal(net->out_dim, 2 * NFP_CNN_KEYPOINTS);
  uint8_t input[56 * 72 * 3];
  first_plan_input(input, &model->cfg, 3);
  float nchw[3 * 56 * 72], kp[2 * NFP_CNN_KEYPOINTS];
  float* acts = malloc(sizeof(float) * nfp_cnn_acts_size(net, 1));
  assert_non_null(acts);
  nfp_image_to_nchw(nchw, input, 1, 56, 72);
  nfp_cnn_forward(kp, acts, model->params, net, nchw, 1);
  uint8_t* shot = view_one_plan(ckpt, "kp", "");
  int marked[NFP_CNN_KEYPOINTS] = {0}, stray = 0, wrong = 0;
  for (int y = 0; y < 56 * INSET_Z; y++) {
    for (int x = 0; x < 72 * INSET_Z; x++) {
      if (!inset_differs(shot, input, x, y)) continue;
      wrong++;
      int near = 0;
      for (int i = 0; i < NFP_CNN_KEYPOINTS; i++) {
        int cx, cy;
        kp_centre(kp, net, i, &cx, &cy);
        if (abs(x - cx) <= 2 && abs(y - cy) <= 2) marked[i] = near = 1;  // 5 x 5 marker
      }
      stray += !near;
    }
  }
  int n_marked = 0;
  for (int i = 0; i < NFP_CNN_KEYPOINTS; i++) n_marked += marked[i];
  printf("keypoint inset: %d pixels marked, %d away from a keypoint; %d of %d keypoints shown\n",
         wrong, stray, n_marked, NFP_CNN_KEYPOINTS);
  assert_int_equal(stray, 0);
  assert_int_equal(n_marked, NFP_CNN_KEYPOINTS);
  free(shot);
  free(acts);
  nfp_model_free(model);
}

// A state policy has no camera: it runs, and no inset appears (the flag changes nothing).
static void test_state_policy(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  nfp_model* model = nfp_model_create(&c, 1);
  if (!model) fail_msg("%s", nfp_error_last());
  char ckpt[400];
  snprintf(ckpt, sizeof(ckpt), "%s/state.safetensors", cli_tmpdir);
  assert_int_equal(nfp_checkpoint_save(ckpt, model, NULL, NULL, NULL, 0), 0);
  nfp_model_free(model);
  uint8_t* on = view_one_plan(ckpt, "state_on", "");
  assert_null(strstr(r.out, "head camera:"));
  uint8_t* off = view_one_plan(ckpt, "state_off", "--no-encoder-view");
  assert_memory_equal(on, off, (size_t)640 * 480 * 3);
  free(on);
  free(off);
}

// Without --seed, view starts at eval's first seed (100000), not a training seed.
static void test_default_seed(void** state) {
  (void)state;
  char png[400], args[700];
  snprintf(png, sizeof(png), "%s/default_seed.png", cli_tmpdir);
  snprintf(args, sizeof(args),
           "view --task lift_pot --agent expert --frames 1 --width 64 --height 64 "
           "--screenshot %s", png);
  int code = cli_run(&r, "xvfb-run -a", args);
  if (code) fail_msg("view exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "(seed 100000,"));
  assert_int_equal(cli_run(&r, "", "view --help"), 0);
  assert_non_null(strstr(r.out, "(default 100000)"));
}

int main(void) {
  // No virtual X server on this machine: report a skip to ctest (SKIP_RETURN_CODE).
  if (system("command -v xvfb-run >/dev/null 2>&1") != 0) {
    printf("xvfb-run not found: skipping the viewer screenshot test\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_screenshot),
      cmocka_unit_test(test_default_seed),
      cmocka_unit_test(test_image_policy),
      cmocka_unit_test(test_encoder_inset),
      cmocka_unit_test(test_keypoint_inset),
      cmocka_unit_test(test_first_frame_inset),
      cmocka_unit_test(test_state_policy),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
