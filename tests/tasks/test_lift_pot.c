// Lift Pot: seeded set-ups (deterministic, within the stated ranges), the success
// check on hand-made states, and the scripted expert on a fixed set of seeds.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ik.h"
#include "near.h"
#include "nfp/render.h"
#include "nfp/tasks.h"
#include "task_checks.h"

static int setup(void** state) {
  *state = task_checks_open("lift_pot");
  return 0;
}

static void test_reset_deterministic(void** state) {
  check_reset_deterministic(*state, 100042, 60, 5, 0);
}

static void test_setups_vary_within_ranges(void** state) {
  nfp_task* t = *state;
  double obj[7], first[7];
  double lo[3] = {1, 1, 1}, hi[3] = {-1, -1, -1};
  assert_int_equal(nfp_task_object_state(t, obj, 6), -1);   // too small a buffer
  for (int seed = 0; seed < 60; seed++) {
    nfp_task_reset(t, 100000 + seed);
    assert_int_equal(nfp_task_object_state(t, obj, 7), 7);
    if (seed == 0) memcpy(first, obj, sizeof(first));
    else assert_memory_not_equal(first, obj, sizeof(first));
    double v[3] = {obj[0], obj[1], task_checks_yaw(obj + 3)};
    assert_true(fabs(v[0]) <= 0.05 + 1e-3 && fabs(v[1]) <= 0.05 + 1e-3);
    assert_true(fabs(v[2]) <= mjPI / 8 + 1e-3);
    assert_near(obj[2], 0.795, 2e-3);   // resting on the table
    for (int i = 0; i < 3; i++) lo[i] = fmin(lo[i], v[i]), hi[i] = fmax(hi[i], v[i]);
  }
  // The draws spread over most of their ranges.
  assert_true(lo[0] < -0.03 && hi[0] > 0.03);
  assert_true(lo[1] < -0.03 && hi[1] > 0.03);
  assert_true(lo[2] < -0.25 && hi[2] > 0.25);
}

// Pot at (x, y, z) turned by yaw about z and then tilted by `tilt` about its
// handle-to-handle axis; grippers IK'd onto the handles when `held`, else at home.
static void pose_scene(nfp_task* t, double dz, double tilt, int held) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  int pot = mj_name2id(m, mjOBJ_BODY, "pot");
  double* q = d->qpos + m->jnt_qposadr[m->body_jntadr[pot]];
  double yaw = task_checks_yaw(q + 3), qyaw[4], qtilt[4];
  double axis_z[3] = {0, 0, 1}, axis_x[3] = {1, 0, 0};
  mju_axisAngle2Quat(qyaw, axis_z, yaw);
  mju_axisAngle2Quat(qtilt, axis_x, tilt);
  mju_mulQuat(q + 3, qyaw, qtilt);
  q[2] += dz;
  mju_zero(d->qvel, m->nv);
  mj_forward(m, d);
  if (held) {
    const char* site[2] = {"handle_left", "handle_right"};
    for (int a = 0; a < 2; a++) {
      const double* h = d->site_xpos + 3 * mj_name2id(m, mjOBJ_SITE, site[a]);
      nfp_pose goal;
      nfp_pose_topdown(&goal, t, a, h, yaw + mjPI / 2);
      double qa[NFP_ARM_DOF];
      for (int j = 0; j < NFP_ARM_DOF; j++) qa[j] = d->qpos[t->rig.arm_qadr[a][j]];
      mju_copy(t->kin->qpos, d->qpos, m->nq);
      assert_int_equal(nfp_ik_solve(qa, t, a, &goal), 0);
      for (int j = 0; j < NFP_ARM_DOF; j++) d->qpos[t->rig.arm_qadr[a][j]] = qa[j];
    }
    mj_forward(m, d);
  }
}

static void test_success_check(void** state) {
  nfp_task* t = *state;
  struct {
    double dz, tilt;
    int held, success;
    const char* what;
  } cases[] = {
    {0.00, 0.0, 0, 0, "on the table"},
    {0.00, 0.0, 1, 0, "grasped on the table"},
    {0.10, 0.0, 1, 1, "lifted 10 cm and held"},
    {0.085, 0.0, 1, 1, "lifted 8.5 cm and held"},
    {0.06, 0.0, 1, 0, "lifted only 6 cm"},
    {0.10, 0.0, 0, 0, "lifted but grippers away"},
    {0.10, 0.5, 1, 1, "lifted, tilted 29 degrees (up.z 0.88)"},
    {0.10, 0.8, 1, 0, "lifted, tilted 46 degrees (up.z 0.70)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nfp_task_reset(t, 100007);
    pose_scene(t, cases[i].dz, cases[i].tilt, cases[i].held);
    if (nfp_task_success(t) != cases[i].success) fail_msg("case '%s'", cases[i].what);
  }
}

// Training on mirror images relies on them being episodes of the mirrored set-up.
static void test_mirror_image_succeeds(void** state) {
  static const char* const pot[1] = {"pot"};
  for (uint64_t seed = 100000; seed < 100003; seed++) check_mirror_image(*state, seed, pot, 1, 0.01);
}

// Mean absolute difference of two head-camera frames, per channel value; with flip, the
// first is read mirrored left to right.
static double frame_mad(const uint8_t* a, const uint8_t* b, int flip) {
  double sum = 0.0;
  for (int y = 0; y < NFP_HEAD_H; y++) {
    for (int x = 0; x < NFP_HEAD_W; x++) {
      const uint8_t* pa = a + 3 * ((size_t)y * NFP_HEAD_W + (flip ? NFP_HEAD_W - 1 - x : x));
      const uint8_t* pb = b + 3 * ((size_t)y * NFP_HEAD_W + x);
      for (int c = 0; c < 3; c++) sum += fabs((double)pa[c] - pb[c]);
    }
  }
  return sum / (3.0 * NFP_HEAD_H * NFP_HEAD_W);
}

// Camera policies train on demos' frames flipped left to right as the mirror images'
// frames: that holds only if the head camera sees the mirrored scene (arms, pot, table,
// lights) as exactly that flip. Part-way through the expert's grasp, both ways.
static void test_mirror_camera_image(void** state) {
  enum { STEPS = 45 };
  static uint8_t a[NFP_HEAD_H * NFP_HEAD_W * 3], b[NFP_HEAD_H * NFP_HEAD_W * 3];
  static double targets[STEPS][NFP_NJ];
  nfp_task* t = *state;
  nfp_renderer* r = nfp_render_create(t->m, NFP_HEAD_W, NFP_HEAD_H);
  assert_non_null(r);
  int cam = mj_name2id(t->m, mjOBJ_CAMERA, "head");
  assert_true(cam >= 0);
  int pot = t->m->jnt_qposadr[t->m->body_jntadr[mj_name2id(t->m, mjOBJ_BODY, "pot")]];
  nfp_task_reset(t, 100001);
  double obj[7], twin[7];
  nfp_task_object_state(t, obj, 7);
  for (int k = 0; k < STEPS; k++) {
    nfp_task_expert(t, targets[k]);
    nfp_task_step(t, targets[k]);
  }
  assert_int_equal(nfp_render_camera(a, r, t->m, t->d, cam), 0);
  nfp_task_reset(t, 100001);
  assert_int_equal(nfp_task_mirror_object(t->def, twin, obj, 7), 0);
  memcpy(t->d->qpos + pot, twin, sizeof(twin));
  mj_forward(t->m, t->d);
  for (int k = 0; k < STEPS; k++) {
    double q[NFP_NJ];
    nfp_rig_mirror(q, targets[k]);
    nfp_task_step(t, q);
  }
  assert_int_equal(nfp_render_camera(b, r, t->m, t->d, cam), 0);
  double mirrored = frame_mad(a, b, 1), unflipped = frame_mad(a, b, 0);
  printf("head camera: the mirrored scene differs from the flipped frame by %.3f per value "
         "(from the frame as it is: %.3f)\n", mirrored, unflipped);
  assert_true(mirrored < 1.0);
  assert_true(unflipped > 10.0 * mirrored);
  nfp_render_free(r);
}

static void test_expert_succeeds(void** state) {
  nfp_task* t = *state;
  // The phases come in RoboTwin's order, each one at least once.
  const char* const order[] = {"close_half", "pregrasp", "approach", "grasp",
                               "lift",       "hold",     "done"};
  int pot = mj_name2id(t->m, mjOBJ_BODY, "pot");
  for (uint64_t seed = 100000; seed < 100010; seed++) {
    expert_run run;
    expert_run_start(&run, t, seed, order, 7);
    while (expert_run_step(&run, NULL)) {}
    expert_run_finish(&run);
    // Lifted level: the pot rose about the scripted 12 cm and did not tilt.
    double obj[7];
    nfp_task_object_state(t, obj, 7);
    assert_near(obj[2], 0.795 + 0.12, 0.01);
    assert_true(t->d->xmat[9 * pot + 8] > 0.99);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_reset_deterministic),
    cmocka_unit_test(test_setups_vary_within_ranges),
    cmocka_unit_test(test_success_check),
    cmocka_unit_test(test_expert_succeeds),
    cmocka_unit_test(test_mirror_image_succeeds),
    cmocka_unit_test(test_mirror_camera_image),
  };
  return cmocka_run_group_tests(tests, setup, task_checks_teardown);
}
