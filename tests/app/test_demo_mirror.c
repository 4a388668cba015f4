// The mirror image of a demo (nfp train --mirror): the rig's joint mirror on joints and
// targets, the task's mirror on the object state, and head-camera frames flipped left to
// right; mirroring twice gives the demo back.
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "demo_mirror.h"
#include "nfp/rng.h"
#include "nfp/tasks.h"

enum { T = 3, H = 4, W = 5 };

// A Lift Pot demo of T frames with random joints, pot poses and H x W frames.
static void make_demo(nfp_episode* ep, int with_images) {
  assert_int_equal(nfp_episode_alloc(ep, T, NFP_NJ, 7, with_images ? H : 0,
                                     with_images ? W : 0), 0);
  snprintf(ep->task, sizeof(ep->task), "lift_pot");
  ep->seed = 7, ep->control_hz = 25.0, ep->success = 1;
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  for (int i = 0; i < T * NFP_NJ; i++) {
    ep->qpos[i] = nfp_rng_range(&rng, -1, 1);
    ep->qvel[i] = nfp_rng_range(&rng, -1, 1);
    ep->action[i] = nfp_rng_range(&rng, -1, 1);
  }
  for (int t = 0; t < T; t++) {  // a unit quaternion, as the object state holds
    double* o = ep->object_state + 7 * t;
    for (int i = 0; i < 3; i++) o[i] = nfp_rng_range(&rng, -0.3, 0.3);
    double a = nfp_rng_range(&rng, -1, 1);
    o[3] = cos(a), o[4] = 0.0, o[5] = 0.0, o[6] = sin(a);
  }
  for (int i = 0; with_images && i < T * H * W * 3; i++) {
    ep->images[i] = (uint8_t)(nfp_rng_next(&rng) & 255);
  }
}

static void assert_close(const double* a, const double* b, int n) {
  for (int i = 0; i < n; i++) assert_true(fabs(a[i] - b[i]) < 1e-12);
}

static void test_mirror_flips_frames(void** state) {
  (void)state;
  nfp_episode ep, twin, back;
  make_demo(&ep, 1);
  assert_int_equal(nfp_demo_mirror(&twin, &ep, NULL), 0);
  assert_int_equal(twin.img_h, H);
  assert_int_equal(twin.img_w, W);
  for (int t = 0; t < T; t++) {
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        const uint8_t* a = ep.images + 3 * (((size_t)t * H + y) * W + x);
        const uint8_t* b = twin.images + 3 * (((size_t)t * H + y) * W + (W - 1 - x));
        assert_memory_equal(a, b, 3);
      }
    }
    double q[NFP_NJ];
    nfp_rig_mirror(q, ep.qpos + t * NFP_NJ);
    assert_close(twin.qpos + t * NFP_NJ, q, NFP_NJ);
  }
  assert_int_equal(nfp_demo_mirror(&back, &twin, NULL), 0);
  assert_memory_equal(back.images, ep.images, (size_t)T * H * W * 3);
  assert_close(back.qpos, ep.qpos, T * NFP_NJ);
  assert_close(back.action, ep.action, T * NFP_NJ);
  assert_close(back.object_state, ep.object_state, T * 7);
  nfp_episode_free(&back);
  nfp_episode_free(&twin);
  nfp_episode_free(&ep);
}

static void test_mirror_without_frames(void** state) {
  (void)state;
  nfp_episode ep, twin;
  make_demo(&ep, 0);
  assert_int_equal(nfp_demo_mirror(&twin, &ep, NULL), 0);
  assert_null(twin.images);
  nfp_episode_free(&twin);
  snprintf(ep.task, sizeof(ep.task), "no_such_task");
  assert_int_equal(nfp_demo_mirror(&twin, &ep, NULL), -1);
  nfp_episode_free(&ep);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mirror_flips_frames),
      cmocka_unit_test(test_mirror_without_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
