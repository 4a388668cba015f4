// Beat Block Hammer: seeded set-ups (deterministic, within the stated ranges), the
// success check on hand-made states, and the scripted expert on a fixed set of seeds.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "near.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

#define TABLE_Z 0.74

static int setup(void** state) {
  nfp_task* t = nfp_task_create("beat_block_hammer", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  *state = t;
  return 0;
}

static int teardown(void** state) {
  nfp_task_free(*state);
  return 0;
}

static double yaw_of(const double* quat) {   // quaternion about z: (cos y/2, 0, 0, sin y/2)
  return 2 * atan2(quat[3], quat[0]);
}

static void test_registered(void** state) {
  nfp_task* t = *state;
  const nfp_task_def* def = nfp_task_find("beat_block_hammer");
  assert_ptr_equal(def, t->def);
  assert_int_equal(def->step_cap, 400);
}

static void test_reset_deterministic(void** state) {
  nfp_task* t = *state;
  const mjModel* m = t->m;
  double qpos0[m->nq], qpos1[m->nq], obj0[14], obj1[14], target[NFP_NJ];
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, 100042);
    memcpy(pass ? qpos1 : qpos0, t->d->qpos, sizeof(qpos0));
    nfp_task_object_state(t, pass ? obj1 : obj0, 14);
  }
  assert_memory_equal(qpos0, qpos1, sizeof(qpos0));
  assert_memory_equal(obj0, obj1, sizeof(obj0));
  // An episode of another seed in between must not leak into the next one.
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, 100042);
    for (int k = 0; k < 90; k++) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
    }
    memcpy(pass ? qpos1 : qpos0, t->d->qpos, sizeof(qpos0));
    nfp_task_reset(t, 7);
    for (int k = 0; k < 40; k++) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
    }
  }
  assert_memory_equal(qpos0, qpos1, sizeof(qpos0));
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
    double v[3] = {b[0], b[1], yaw_of(b + 3)};
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
  const char* order[] = {"pregrasp", "approach", "grasp", "lift", "align", "strike", "hold", "done"};
  const int nphase = (int)(sizeof(order) / sizeof(order[0]));
  int grasp = mj_name2id(t->m, mjOBJ_SITE, "hammer_grasp");
  double target[NFP_NJ];
  for (uint64_t seed = 100000; seed < 100010; seed++) {
    nfp_task_reset(t, seed);
    assert_false(nfp_task_success(t));
    assert_false(nfp_task_expert_done(t));
    assert_string_equal(nfp_task_expert_phase(t), "");
    double obj[14];
    nfp_task_object_state(t, obj, 14);
    int arm = obj[7] < 0 ? NFP_LEFT : NFP_RIGHT;   // the block's side
    int next = 0;
    while (!nfp_task_expert_done(t) && t->step < t->def->step_cap) {
      nfp_task_expert(t, target);
      nfp_task_step(t, target);
      const char* phase = nfp_task_expert_phase(t);
      if (next < nphase && strcmp(phase, order[next]) == 0) next++;
      else assert_string_equal(phase, order[next - 1]);
    }
    assert_int_equal(next, nphase);
    if (!nfp_task_success(t)) fail_msg("expert failed on seed %lu", (unsigned long)seed);
    // The arm on the block's side holds the hammer by its handle, the other is idle.
    double gap[3];
    mju_sub3(gap, t->d->site_xpos + 3 * t->rig.grasp_site[arm], t->d->site_xpos + 3 * grasp);
    assert_true(mju_norm3(gap) < 0.02);
    double q[NFP_NJ];
    nfp_task_observe(t, q, NULL);
    assert_true(q[nfp_rig_grip_slot(arm)] < 0.6 && q[nfp_rig_grip_slot(1 - arm)] > 0.9);
    // A clean run: MuJoCo raised no warning (instability, contact overflow, ...).
    for (int w = 0; w < mjNWARNING; w++) assert_int_equal(t->d->warning[w].number, 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_registered),
    cmocka_unit_test(test_reset_deterministic),
    cmocka_unit_test(test_setups_vary_within_ranges),
    cmocka_unit_test(test_success_check),
    cmocka_unit_test(test_expert_succeeds),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
