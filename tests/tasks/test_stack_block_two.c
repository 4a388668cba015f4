// Stack Block Two: seeded set-ups (deterministic, within the stated ranges), the
// success check on hand-made states, and the scripted expert on a fixed set of seeds.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"
#include "nfp/tasks.h"
#include "task_checks.h"

#define TABLE_Z 0.74

static int setup(void** state) {
  *state = task_checks_open("stack_block_two");
  return 0;
}

static int block_body(const nfp_task* t, int k) {
  return mj_name2id(t->m, mjOBJ_BODY, k ? "block2" : "block1");
}

static void test_registered(void** state) { check_registered(*state, "stack_block_two", 800); }

static void test_reset_deterministic(void** state) {
  check_reset_deterministic(*state, 100042, 150, 7, 40);
}

static void test_setups_vary_within_ranges(void** state) {
  nfp_task* t = *state;
  double obj[14], first[14];
  double lo[3] = {1, 1, 1}, hi[3] = {-1, -1, -1};
  int sides[2] = {0, 0};
  assert_int_equal(nfp_task_object_state(t, obj, 13), -1);   // too small a buffer
  for (int seed = 0; seed < 60; seed++) {
    nfp_task_reset(t, 100000 + seed);
    assert_int_equal(nfp_task_object_state(t, obj, 14), 14);
    if (seed == 0) memcpy(first, obj, sizeof(first));
    else assert_memory_not_equal(first, obj, sizeof(first));
    for (int k = 0; k < 2; k++) {
      const double* b = obj + 7 * k;
      double v[3] = {b[0], b[1], task_checks_yaw(b + 3)};
      assert_true(fabs(v[0]) >= 0.05 - 1e-3 && fabs(v[0]) <= 0.28 + 1e-3);
      assert_true(v[1] >= -0.08 - 1e-3 && v[1] <= 0.05 + 1e-3);
      assert_true(fabs(v[2]) <= 0.75 + 1e-3);
      assert_near(b[2], TABLE_Z + 0.025, 2e-3);   // resting on the table
      assert_true(hypot(v[0], v[1] + 0.13) >= 0.15 - 1e-3);   // clear of the centre mark
      for (int i = 0; i < 3; i++) lo[i] = fmin(lo[i], v[i]), hi[i] = fmax(hi[i], v[i]);
      sides[v[0] > 0]++;
    }
    assert_true(hypot(obj[0] - obj[7], obj[1] - obj[8]) >= 0.1 - 1e-3);
  }
  // The draws spread over most of their ranges, on both sides.
  assert_true(lo[0] < -0.2 && hi[0] > 0.2);
  assert_true(lo[1] < -0.05 && hi[1] > 0.02);
  assert_true(lo[2] < -0.5 && hi[2] > 0.5);
  assert_true(sides[0] > 20 && sides[1] > 20);
}

// Block 1 at (x, y) on the table, block 2 at block 1 + d; the grippers at home
// (open) unless `closed` names one to close.
static void pose_blocks(nfp_task* t, double x, double y, const double d[3], int closed) {
  mjData* d_ = t->d;
  for (int k = 0; k < 2; k++) {
    double* q = d_->qpos + t->m->jnt_qposadr[t->m->body_jntadr[block_body(t, k)]];
    q[0] = x + (k ? d[0] : 0), q[1] = y + (k ? d[1] : 0);
    q[2] = TABLE_Z + 0.025 + (k ? 0.05 + d[2] : 0);
    q[3] = 1, q[4] = q[5] = q[6] = 0;
  }
  if (closed >= 0) {
    for (int f = 0; f < 2; f++) d_->qpos[t->rig.finger_qadr[closed][f]] = 0.003;
  }
  mju_zero(d_->qvel, t->m->nv);
  mj_forward(t->m, d_);
}

static void test_success_check(void** state) {
  nfp_task* t = *state;
  nfp_task_reset(t, 100003);
  assert_false(nfp_task_success(t));   // a fresh set-up
  struct {
    double d[3];
    int closed, success;
    const char* what;
  } cases[] = {
    {{0, 0, 0}, -1, 1, "stacked, both grippers open"},
    {{0.02, -0.02, 0}, -1, 1, "stacked 2 cm off in x and y"},
    {{0.03, 0, 0}, -1, 0, "3 cm off in x"},
    {{0, 0.03, 0}, -1, 0, "3 cm off in y"},
    {{0, 0, 0.01}, -1, 1, "1 cm high"},
    {{0, 0, 0.015}, -1, 0, "1.5 cm high"},
    {{0.1, 0, -0.05}, -1, 0, "side by side on the table"},
    {{0, 0, 0}, NFP_LEFT, 0, "stacked, left gripper closed"},
    {{0, 0, 0}, NFP_RIGHT, 0, "stacked, right gripper closed"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nfp_task_reset(t, 100003);
    pose_blocks(t, 0.0, -0.13, cases[i].d, cases[i].closed);
    if (nfp_task_success(t) != cases[i].success) fail_msg("case '%s'", cases[i].what);
  }
  // Block 1 on block 2 is not the task.
  nfp_task_reset(t, 100003);
  const double under[3] = {0, 0, -0.1};
  pose_blocks(t, 0.0, -0.13, under, -1);
  int b1 = block_body(t, 0), b2 = block_body(t, 1);
  assert_true(t->d->xpos[3 * b1 + 2] > t->d->xpos[3 * b2 + 2]);
  assert_false(nfp_task_success(t));
}

// Training on mirror images relies on them being episodes of the mirrored set-up.
static void test_mirror_image_succeeds(void** state) {
  static const char* const blocks[2] = {"block1", "block2"};
  for (uint64_t seed = 100000; seed < 100003; seed++) {
    check_mirror_image(*state, seed, blocks, 2, 0.01);
  }
  double x[14] = {0}, y[14];
  assert_int_equal(nfp_task_mirror_object(nfp_task_find("handover_block"), y, x, 7), -1);
}

static void test_expert_succeeds(void** state) {
  nfp_task* t = *state;
  const char* const order[] = {"pregrasp_1", "approach_1", "grasp_1", "lift_1", "carry_1",
                               "place_1",    "release_1",  "retreat_1", "pregrasp_2", "approach_2",
                               "grasp_2",    "lift_2",     "carry_2", "place_2", "release_2",
                               "retreat_2",  "done"};
  const int nphase = (int)(sizeof(order) / sizeof(order[0]));
  for (uint64_t seed = 100000; seed < 100008; seed++) {
    expert_run run;
    expert_run_start(&run, t, seed, order, nphase);
    double obj[14];
    nfp_task_object_state(t, obj, 14);
    int arm[2] = {obj[0] < 0 ? NFP_LEFT : NFP_RIGHT, obj[7] < 0 ? NFP_LEFT : NFP_RIGHT};
    const char* entered;
    while (expert_run_step(&run, &entered)) {
      // Lifting block k: the arm on its starting side holds it.
      for (int k = 0; k < 2; k++) {
        if (!entered || strcmp(entered, k ? "lift_2" : "lift_1") != 0) continue;
        double gap[3];
        mju_sub3(gap, t->d->site_xpos + 3 * t->rig.grasp_site[arm[k]],
                 t->d->xpos + 3 * block_body(t, k));
        assert_true(mju_norm3(gap) < 0.02);
      }
    }
    expert_run_finish(&run);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registered),
    cmocka_unit_test(test_reset_deterministic),
    cmocka_unit_test(test_setups_vary_within_ranges),
    cmocka_unit_test(test_success_check),
    cmocka_unit_test(test_expert_succeeds),
    cmocka_unit_test(test_mirror_image_succeeds),
  };
  return cmocka_run_group_tests(tests, setup, task_checks_teardown);
}
