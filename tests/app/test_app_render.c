// Offscreen head camera: renders with no display and gives a real picture.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/render.h"
#include "nfp/tasks.h"

// A red box on a green floor seen from above by "head"; no sky, so the image
// is split between two known colours.
static const char* scene_xml =
    "<mujoco>"
    "  <visual><global offwidth='64' offheight='48'/></visual>"
    "  <worldbody>"
    "    <light pos='0 0 3' dir='0 0 -1'/>"
    "    <geom type='plane' size='2 2 0.1' rgba='0.2 0.6 0.2 1'/>"
    "    <body pos='0 0 0.1'><freejoint/><geom type='box' size='0.1 0.1 0.1' rgba='0.9 0.1 0.1 "
    "1'/></body>"
    "    <camera name='head' pos='0 0 1.2' xyaxes='1 0 0 0 1 0' fovy='37'/>"
    "  </worldbody>"
    "</mujoco>";

typedef struct {
  double mean[3];
  int min, max;
} image_stats;

static image_stats stats_of(const uint8_t* rgb, int w, int h) {
  image_stats s = {{0, 0, 0}, 255, 0};
  for (int i = 0; i < w * h; i++) {
    for (int c = 0; c < 3; c++) {
      int v = rgb[3 * i + c];
      s.mean[c] += v;
      if (v < s.min) s.min = v;
      if (v > s.max) s.max = v;
    }
  }
  for (int c = 0; c < 3; c++) s.mean[c] /= (double)(w * h);
  return s;
}

static void test_small_scene(void** state) {
  (void)state;
  assert_null(getenv("DISPLAY"));  // ctest runs this with DISPLAY unset
  char err[1000] = "";
  mjSpec* spec = mj_parseXMLString(scene_xml, NULL, err, sizeof(err));
  assert_non_null(spec);
  mjModel* m = mj_compile(spec, NULL);
  assert_non_null(m);
  mjData* d = mj_makeData(m);
  mj_forward(m, d);
  nfp_renderer* r = nfp_render_create(m, NFP_HEAD_W, NFP_HEAD_H);
  if (!r) fail_msg("%s", nfp_error_last());
  assert_int_equal(nfp_render_width(r), 320);
  assert_int_equal(nfp_render_height(r), 240);
  uint8_t* rgb = malloc(320 * 240 * 3);
  assert_int_equal(nfp_render_camera(rgb, r, m, d, mj_name2id(m, mjOBJ_CAMERA, "head")), 0);
  image_stats s = stats_of(rgb, 320, 240);
  assert_true(s.max - s.min > 50);
  // Centre pixel sees the red box, a corner the green floor.
  const uint8_t* centre = rgb + (120 * 320 + 160) * 3;
  const uint8_t* corner = rgb + (5 * 320 + 5) * 3;
  assert_true(centre[0] > centre[1] + 40);
  assert_true(corner[1] > corner[0] + 20);
  // A bad camera id is an error, not a crash.
  assert_int_equal(nfp_render_camera(rgb, r, m, d, 7), -1);
  free(rgb);
  nfp_render_free(r);
  mj_deleteData(d);
  mj_deleteModel(m);
  mj_deleteSpec(spec);
}

// The rows come out top-down: a box placed towards the image top shows up there.
static void test_rows_top_down(void** state) {
  (void)state;
  char err[1000] = "";
  mjSpec* spec = mj_parseXMLString(scene_xml, NULL, err, sizeof(err));
  mjModel* m = mj_compile(spec, NULL);
  mjData* d = mj_makeData(m);
  d->qpos[1] = 0.25;  // camera y axis points up the image
  mj_forward(m, d);
  nfp_renderer* r = nfp_render_create(m, NFP_HEAD_W, NFP_HEAD_H);
  assert_non_null(r);
  uint8_t* rgb = malloc(320 * 240 * 3);
  assert_int_equal(nfp_render_camera(rgb, r, m, d, 0), 0);
  int red_top = 0, red_bottom = 0;
  for (int y = 0; y < 240; y++) {
    for (int x = 0; x < 320; x++) {
      const uint8_t* p = rgb + (y * 320 + x) * 3;
      if (p[0] > p[1] + 40) *(y < 120 ? &red_top : &red_bottom) += 1;
    }
  }
  assert_true(red_top > 10 * (red_bottom + 1));
  free(rgb);
  nfp_render_free(r);
  mj_deleteData(d);
  mj_deleteModel(m);
  mj_deleteSpec(spec);
}

static void test_lift_pot_head_camera(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  nfp_task_reset(t, 3);
  nfp_renderer* r = nfp_render_create(t->m, NFP_HEAD_W, NFP_HEAD_H);
  assert_non_null(r);
  uint8_t* rgb = malloc(320 * 240 * 3);
  assert_int_equal(nfp_render_camera(rgb, r, t->m, t->d, t->rig.head_camera), 0);
  image_stats s = stats_of(rgb, 320, 240);
  double mean = (s.mean[0] + s.mean[1] + s.mean[2]) / 3;
  assert_true(s.max - s.min > 50);
  assert_true(mean > 20 && mean < 235);
  // Same state, same picture.
  uint8_t* again = malloc(320 * 240 * 3);
  assert_int_equal(nfp_render_camera(again, r, t->m, t->d, t->rig.head_camera), 0);
  assert_memory_equal(rgb, again, 320 * 240 * 3);
  free(again);
  free(rgb);
  nfp_render_free(r);
  nfp_task_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_scene),
      cmocka_unit_test(test_rows_top_down),
      cmocka_unit_test(test_lift_pot_head_camera),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
