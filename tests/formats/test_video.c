// Video files: frames of known colours written with nfp_video decode back (same library)
// to the same count, size and colours; the file appears only when closed; the text overlay
// draws in its box and nowhere else.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/video.h"
#include "video_decode.h"

static char dir[64];
static video_info vi;  // large: not on the stack

static const uint8_t colours[10][3] = {
    {255, 0, 0},   {0, 255, 0},     {0, 0, 255},     {255, 255, 255}, {0, 0, 0},
    {255, 255, 0}, {0, 255, 255},   {255, 0, 255},   {128, 128, 128}, {200, 100, 50},
};

// A w x h image of one colour.
static uint8_t* solid(int w, int h, const uint8_t c[3]) {
  uint8_t* rgb = malloc((size_t)w * h * 3);
  for (size_t i = 0; i < (size_t)w * h; i++) memcpy(rgb + 3 * i, c, 3);
  return rgb;
}

// Files in dir whose name starts with prefix.
static int count_files(const char* prefix) {
  char cmd[256];
  snprintf(cmd, sizeof(cmd), "exit $(ls -A '%s' | grep -c '^%s')", dir, prefix);
  int st = system(cmd);
  return WEXITSTATUS(st);
}

static void write_colours(const char* path, int w, int h) {
  nfp_video* v = nfp_video_open(path, w, h, 50.0 / 3);
  if (!v) fail_msg("%s", nfp_error_last());
  for (int i = 0; i < 10; i++) {
    uint8_t* rgb = solid(w, h, colours[i]);
    assert_int_equal(nfp_video_frame(v, rgb), 0);
    free(rgb);
  }
  assert_int_equal(nfp_video_frames(v), 10);
  assert_int_equal(access(path, F_OK), -1);  // not there until closed
  if (nfp_video_close(v)) fail_msg("%s", nfp_error_last());
}

// Ten 64x48 frames of known colours into dir/name -> decoded back: count, size, rate,
// codec (H.264 when the encoder was there and not set aside) and colours.
static void round_trip(const char* name) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  write_colours(path, 64, 48);
  assert_int_equal(video_decode(path, &vi), 0);
  assert_int_equal(vi.frames, 10);
  assert_int_equal(vi.w, 64);
  assert_int_equal(vi.h, 48);
  assert_float_equal(vi.fps, 50.0 / 3, 1e-6);
  const char* force = getenv("NFP_VIDEO_ENCODER");
  int x264 = avcodec_find_encoder_by_name("libx264") && !(force && !strcmp(force, "mpeg4"));
  assert_string_equal(vi.codec, x264 ? "h264" : "mpeg4");
  for (int i = 0; i < 10; i++) {
    for (int c = 0; c < 3; c++) {
      if (fabsf(vi.mean[i][c] - colours[i][c]) > 12) {
        fail_msg("frame %d channel %d: %.1f, wrote %d", i, c, vi.mean[i][c], colours[i][c]);
      }
    }
  }
  assert_int_equal(count_files("colours.*tmp"), 0);  // no temporary left behind
}

static void test_round_trip(void** state) {
  (void)state;
  round_trip("colours.mp4");
}

// yuv420p needs even sizes: the odd last row and column are dropped.
static void test_odd_size(void** state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof(path), "%s/odd.mp4", dir);
  write_colours(path, 65, 49);
  assert_int_equal(video_decode(path, &vi), 0);
  assert_int_equal(vi.frames, 10);
  assert_int_equal(vi.w, 64);
  assert_int_equal(vi.h, 48);
}

static void test_discard_and_errors(void** state) {
  (void)state;
  char path[128];
  snprintf(path, sizeof(path), "%s/dropped.mp4", dir);
  nfp_video* v = nfp_video_open(path, 32, 32, 10);
  assert_non_null(v);
  uint8_t* rgb = solid(32, 32, colours[0]);
  assert_int_equal(nfp_video_frame(v, rgb), 0);
  free(rgb);
  nfp_video_discard(v);
  assert_int_equal(count_files("dropped"), 0);
  assert_null(nfp_video_open("/nonexistent_nfp_dir/x.mp4", 32, 32, 10));
  assert_non_null(strstr(nfp_error_last(), "/nonexistent_nfp_dir/x.mp4"));
  assert_null(nfp_video_open(path, 0, 32, 10));
  assert_non_null(strstr(nfp_error_last(), "out of range"));
}

// White image: the box darkens the top left, text puts light pixels back inside it, the
// rest of the image is untouched.
static void test_overlay(void** state) {
  (void)state;
  const int w = 320, h = 240;
  const uint8_t grey[3] = {200, 200, 200};
  uint8_t* rgb = solid(w, h, grey);
  assert_int_equal(nfp_overlay_text(rgb, w, h, "lift_pot  sbs  seed 7\nstep 12  log p -3.5"), 0);
  int dark = 0, light = 0;
  for (int y = 0; y < 20; y++) {
    for (int x = 0; x < 100; x++) {
      int g = rgb[3 * (y * w + x)];
      dark += g < 120;
      light += g > 220;
    }
  }
  assert_true(dark > 500);   // the box
  assert_true(light > 20);   // glyphs
  for (int y = h / 2; y < h; y++) {
    for (int x = 0; x < w; x++) assert_int_equal(rgb[3 * (y * w + x)], 200);
  }
  assert_int_equal(rgb[3 * (5 * w + w - 1)], 200);  // right of the box
  free(rgb);
}

static int setup(void** state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/nfp_test_video.XXXXXX");
  return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void** state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  return system(cmd);
}

// The MPEG-4 fallback, taken on purpose: the same file checks pass.
static void test_mpeg4_fallback(void** state) {
  (void)state;
  setenv("NFP_VIDEO_ENCODER", "mpeg4", 1);
  round_trip("colours_mpeg4.mp4");
  unsetenv("NFP_VIDEO_ENCODER");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_mpeg4_fallback),
      cmocka_unit_test(test_odd_size),
      cmocka_unit_test(test_discard_and_errors),
      cmocka_unit_test(test_overlay),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
