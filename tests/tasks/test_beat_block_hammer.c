// Beat Block Hammer: seeded set-ups (deterministic, within the stated ranges), the
// success check on hand-made states, and the scripted expert on a fixed set of seeds.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"
#include "nfp/tasks.h"
#include "rig.h"
#include "task_checks.h"

#define TABLE_Z 0.74

static int setup(void** state) {
  *state = task_checks_open("beat_block_hammer");
  return 0;
}

static void test_registered(void** state) { check_registered(*state, "beat_block_hammer", 400); }

static void test_reset_deterministic(void** state) {
  check_reset_deterministic(*state, 100042, 90, 7, 40);
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
    // The hammer lies at the same spot every time, flat and square.
    assert_near(obj[0], 0.0, 1e-3);
    assert_near(obj[1], -0.23, 1e-3);
    assert_near(obj[2], TABLE_Z + 0.015, 2e-3);
    assert_near(obj[3], 1.0, 1e-3);
    if (seed == 0) memcpy(first, obj, sizeof(first));
    else assert_memory_not_equal(first + 7, obj + 7, 7 * sizeof(double));
    const double* b = obj + 7;
    double v[3] = {b[0], b[1], task_checks_yaw(b + 3)};
    assert_true(fabs(v[0]) >= 0.05 && fabs(v[0]) <= 0.25);
    assert_true(v[1] >= -0.05 && v[1] <= 0.15);
    assert_true(fabs(v[2]) <= 0.5 + 1e-9);
    assert_near(b[2], TABLE_Z + 0.025, 1e-9);   // standing on the table
    for (int i = 0; i < 3; i++) lo[i] = fmin(lo[i], v[i]), hi[i] = fmax(hi[i], v[i]);
    sides[v[0] > 0]++;
  }
  assert_true(lo[0] < -0.2 && hi[0] > 0.2);
  assert_true(lo[1] < -0.02 && hi[1] > 0.12);
  assert_true(lo[2] < -0.35 && hi[2] > 0.35);
  assert_true(sides[0] > 15 && sides[1] > 15);
}

// Hammer lying flat, its striking face centre at block top + (dx, dy, dz).
static void pose_hammer(nfp_task* t, double dx, double dy, double dz) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  int hammer = mj_name2id(m, mjOBJ_BODY, "hammer");
  int face = mj_name2id(m, mjOBJ_SITE, "hammer_face");
  int block = mj_name2id(m, mjOBJ_BODY, "block");
  const double* bp = d->mocap_pos + 3 * m->body_mocapid[block];
  double* q = d->qpos + m->jnt_qposadr[m->body_jntadr[hammer]];
  const double* f = m->site_pos + 3 * face;   // face in the hammer frame
  q[0] = bp[0] + dx - f[0];
  q[1] = bp[1] + dy - f[1];
  q[2] = bp[2] + 0.025 + dz - f[2];
  q[3] = 1, q[4] = q[5] = q[6] = 0;
  mju_zero(d->qvel, m->nv);
  mj_forward(m, d);
}

static void test_success_check(void** state) {
  nfp_task* t = *state;
  nfp_task_reset(t, 100003);
  assert_false(nfp_task_success(t));   // a fresh set-up
  struct {
    double dx, dy, dz;
    int success;
    const char* what;
  } cases[] = {
    {0, 0, -0.001, 1, "face centred, pressed on the block"},
    {0.015, -0.015, -0.001, 1, "1.5 cm off in x and y, touching"},
    {0.025, 0, -0.001, 0, "2.5 cm off in x, touching"},
    {0, 0.025, -0.001, 0, "2.5 cm off in y, touching"},
    {0, 0, 0.005, 0, "centred but 5 mm above"},
    {0, 0, 0.05, 0, "centred, held high"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nfp_task_reset(t, 100003);
    pose_hammer(t, cases[i].dx, cases[i].dy, cases[i].dz);
    if (nfp_task_success(t) != cases[i].success) fail_msg("case '%s'", cases[i].what);
  }
}

static void test_expert_succeeds(void** state) {
  nfp_task* t = *state;
  const char* const order[] = {"pregrasp", "approach", "grasp", "lift",
                               "align",    "strike",   "hold",  "done"};
  int grasp = mj_name2id(t->m, mjOBJ_SITE, "hammer_grasp");
  for (uint64_t seed = 100000; seed < 100010; seed++) {
    expert_run run;
    expert_run_start(&run, t, seed, order, 8);
    double obj[14];
    nfp_task_object_state(t, obj, 14);
    int arm = obj[7] < 0 ? NFP_LEFT : NFP_RIGHT;   // the block's side
    while (expert_run_step(&run, NULL)) {}
    expert_run_finish(&run);
    // The arm on the block's side holds the hammer by its handle, the other is idle.
    double gap[3];
    mju_sub3(gap, t->d->site_xpos + 3 * t->rig.grasp_site[arm], t->d->site_xpos + 3 * grasp);
    assert_true(mju_norm3(gap) < 0.02);
    double q[NFP_NJ];
    nfp_task_observe(t, q, NULL);
    assert_true(q[nfp_rig_grip_slot(arm)] < 0.6 && q[nfp_rig_grip_slot(1 - arm)] > 0.9);
  }
}

// Camera policies train on mirror images: they must be episodes of the mirrored set-up.
static const char* const kBodies[2] = {"hammer", "block"};   // the object state's order

static void test_mirror_image_succeeds(void** state) {
  for (uint64_t seed = 100000; seed < 100003; seed++) {
    check_mirror_image(*state, seed, kBodies, 2, 0.01);
  }
}

// More than a valid episode: the expert itself acts as the mirror image of its episode
// from the mirrored set-up, so mirror images add placements without a second style of
// grasp for the flow to learn.
static void test_expert_is_mirror_symmetric(void** state) {
  enum { CAP = 400 };
  static double targets[CAP][NFP_NJ];
  nfp_task* t = *state;
  double obj[14], twin[14];
  nfp_task_reset(t, 100001);
  nfp_task_object_state(t, obj, 14);
  int T = 0;
  while (!nfp_task_expert_done(t) && T < CAP) {
    nfp_task_expert(t, targets[T]);
    nfp_task_step(t, targets[T++]);
  }
  nfp_task_reset(t, 100001);
  assert_int_equal(nfp_task_mirror_object(t->def, twin, obj, 14), 0);
  task_checks_place(t, kBodies, 2, twin);
  double worst = 0.0;
  for (int k = 0; k < T; k++) {
    double q[NFP_NJ], mirrored[NFP_NJ];
    nfp_task_expert(t, q);
    nfp_task_step(t, q);
    nfp_rig_mirror(mirrored, targets[k]);
    for (int j = 0; j < NFP_NJ; j++) worst = fmax(worst, fabs(q[j] - mirrored[j]));
  }
  printf("expert on the mirrored set-up vs the mirror image: %.2e rad at most\n", worst);
  assert_true(nfp_task_expert_done(t));
  assert_true(worst < 1e-3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registered),
    cmocka_unit_test(test_reset_deterministic),
    cmocka_unit_test(test_setups_vary_within_ranges),
    cmocka_unit_test(test_success_check),
    cmocka_unit_test(test_expert_succeeds),
    cmocka_unit_test(test_mirror_image_succeeds),
    cmocka_unit_test(test_expert_is_mirror_symmetric),
  };
  return cmocka_run_group_tests(tests, setup, task_checks_teardown);
}
