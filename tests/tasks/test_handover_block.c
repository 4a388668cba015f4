// Handover Block: seeded set-ups (deterministic, within the stated ranges), the
// success check on hand-made states, and the scripted expert on a fixed set of seeds.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ik.h"
#include "near.h"
#include "nfp/tasks.h"
#include "rig.h"
#include "task_checks.h"

#define TABLE_Z 0.74
#define PAD_TOP (TABLE_Z + 0.01)

static int setup(void** state) {
  *state = task_checks_open("handover_block");
  return 0;
}

static void test_registered(void** state) { check_registered(*state, "handover_block", 800); }

static void test_reset_deterministic(void** state) {
  check_reset_deterministic(*state, 100042, 150, 7, 60);
}

static void test_setups_vary_within_ranges(void** state) {
  nfp_task* t = *state;
  double obj[10], first[10];
  double lo[5] = {1, 1, 1, 1, 1}, hi[5] = {-1, -1, -1, -1, -1};
  assert_int_equal(nfp_task_object_state(t, obj, 9), -1);   // too small a buffer
  // Where the left gripper hangs at home: the box never starts under it.
  double home[NFP_NJ];
  nfp_pose rest;
  nfp_rig_home(home);
  nfp_ik_forward(&rest, t, NFP_LEFT, home);
  for (int seed = 0; seed < 60; seed++) {
    nfp_task_reset(t, 100000 + seed);
    assert_int_equal(nfp_task_object_state(t, obj, 10), 10);
    if (seed == 0) memcpy(first, obj, sizeof(first));
    else assert_memory_not_equal(first, obj, sizeof(first));
    double v[5] = {obj[0], obj[1], task_checks_yaw(obj + 3), obj[7], obj[8]};
    assert_true(v[0] >= -0.25 - 1e-3 && v[0] <= -0.05 + 1e-3);
    assert_true(v[1] >= 0.0 - 1e-3 && v[1] <= 0.25 + 1e-3);
    assert_true(fabs(v[2]) <= 0.2 + 1e-3);
    assert_true(v[3] >= 0.1 && v[3] <= 0.25);
    assert_true(v[4] >= 0.15 && v[4] <= 0.2);
    assert_near(obj[2], TABLE_Z + 0.1, 2e-3);   // standing upright on the table
    assert_near(obj[9], TABLE_Z + 0.005, 1e-9);
    assert_true(hypot(v[0] - rest.pos[0], v[1] - rest.pos[1]) >= 0.1 - 1e-3);
    for (int i = 0; i < 5; i++) lo[i] = fmin(lo[i], v[i]), hi[i] = fmax(hi[i], v[i]);
  }
  assert_true(lo[0] < -0.2 && hi[0] > -0.1);
  assert_true(lo[1] < 0.05 && hi[1] > 0.2);
  assert_true(lo[2] < -0.1 && hi[2] > 0.1);
  assert_true(lo[3] < 0.13 && hi[3] > 0.22);
  assert_true(lo[4] < 0.16 && hi[4] > 0.19);
}

// Box with its bottom face centre at pad top + (dx, dy, dz), tipped by `tilt`
// about x; the grippers at home (open) unless `closed` names one to close.
static void pose_box(nfp_task* t, double dx, double dy, double dz, double tilt, int closed) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  int box = mj_name2id(m, mjOBJ_BODY, "box");
  int pad = mj_name2id(m, mjOBJ_BODY, "pad");
  const double* pp = d->mocap_pos + 3 * m->body_mocapid[pad];
  double* q = d->qpos + m->jnt_qposadr[m->body_jntadr[box]];
  const double axis[3] = {1, 0, 0}, down[3] = {0, 0, -0.1};
  double offset[3];   // bottom centre from the box centre
  mju_axisAngle2Quat(q + 3, axis, tilt);
  mju_rotVecQuat(offset, down, q + 3);
  q[0] = pp[0] + dx - offset[0];
  q[1] = pp[1] + dy - offset[1];
  q[2] = PAD_TOP + dz - offset[2];
  if (closed >= 0) {
    for (int f = 0; f < 2; f++) d->qpos[t->rig.finger_qadr[closed][f]] = 0.003;
  }
  mju_zero(d->qvel, m->nv);
  mj_forward(m, d);
}

static void test_success_check(void** state) {
  nfp_task* t = *state;
  nfp_task_reset(t, 100003);
  assert_false(nfp_task_success(t));   // a fresh set-up
  struct {
    double dx, dy, dz, tilt;
    int closed, success;
    const char* what;
  } cases[] = {
    {0, 0, 0, 0, -1, 1, "standing on the pad's centre, let go"},
    {0.025, -0.025, 0, 0, -1, 1, "2.5 cm off in x and y"},
    {0.035, 0, 0, 0, -1, 0, "3.5 cm off in x"},
    {0, -0.035, 0, 0, -1, 0, "3.5 cm off in y"},
    {0, 0, 0.008, 0, -1, 1, "8 mm above the pad"},
    {0, 0, 0.03, 0, -1, 0, "3 cm above the pad"},
    {0, 0, 0.03, mjPI / 2, -1, 0, "lying on its side, bottom face over the pad"},
    {0, 0, 0, 0, NFP_RIGHT, 0, "on the pad, right gripper closed"},
    {0, 0, 0, 0, NFP_LEFT, 1, "on the pad, left gripper closed (only the right must let go)"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    nfp_task_reset(t, 100003);
    pose_box(t, cases[i].dx, cases[i].dy, cases[i].dz, cases[i].tilt, cases[i].closed);
    if (nfp_task_success(t) != cases[i].success) fail_msg("case '%s'", cases[i].what);
  }
}

// Closest distance between any geom of the left arm and any of the right arm
// (the rig does not collide the arms with each other, so the script must keep them apart).
static double arm_gap(const nfp_task* t) {
  const mjModel* m = t->m;
  double gap = 1.0, fromto[6];
  for (int a = 0; a < m->ngeom; a++) {
    const char* ba = mj_id2name(m, mjOBJ_BODY, m->geom_bodyid[a]);
    if (!ba || strncmp(ba, "left_", 5)) continue;
    for (int b = 0; b < m->ngeom; b++) {
      const char* bb = mj_id2name(m, mjOBJ_BODY, m->geom_bodyid[b]);
      if (!bb || strncmp(bb, "right_", 6)) continue;
      gap = fmin(gap, mj_geomDistance(m, t->d, a, b, gap, fromto));
    }
  }
  return gap;
}

static void test_expert_succeeds(void** state) {
  nfp_task* t = *state;
  const char* const order[] = {"left_pregrasp",  "left_approach", "left_grasp",   "lift",
                               "meet",           "right_pregrasp", "right_approach", "right_grasp",
                               "left_release",   "left_retreat",  "carry",        "place",
                               "right_release",  "right_retreat", "done"};
  const int nphase = (int)(sizeof(order) / sizeof(order[0]));
  int box = mj_name2id(t->m, mjOBJ_BODY, "box");
  double q[NFP_NJ];
  for (uint64_t seed = 100000; seed < 100008; seed++) {
    expert_run run;
    expert_run_start(&run, t, seed, order, nphase);
    double closest = 1.0;
    const char* entered;
    while (expert_run_step(&run, &entered)) {
      closest = fmin(closest, arm_gap(t));
      if (!entered) continue;
      nfp_task_observe(t, q, NULL);
      const double* b = t->d->xpos + 3 * box;
      if (strcmp(entered, "right_pregrasp") == 0) {
        // The left arm holds the box up near the centre, lifted clear of the table.
        assert_true(fabs(b[0]) < 0.08 && b[2] > TABLE_Z + 0.1 + 0.05);
        assert_true(q[nfp_rig_grip_slot(NFP_LEFT)] < 0.8);
      } else if (strcmp(entered, "left_release") == 0) {
        // Both hold it for a moment: the handover.
        assert_true(q[nfp_rig_grip_slot(NFP_LEFT)] < 0.8 && q[nfp_rig_grip_slot(NFP_RIGHT)] < 0.8);
      } else if (strcmp(entered, "carry") == 0) {
        // The right alone holds it, still up in the air.
        assert_true(q[nfp_rig_grip_slot(NFP_LEFT)] > 0.9 && q[nfp_rig_grip_slot(NFP_RIGHT)] < 0.8);
        assert_true(b[2] > TABLE_Z + 0.1 + 0.05);
      }
    }
    expert_run_finish(&run);
    // The hands pass the box with room to spare.
    if (closest < 0.02) {
      fail_msg("arms came within %.3f m on seed %lu", closest, (unsigned long)seed);
    }
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
  return cmocka_run_group_tests(tests, setup, task_checks_teardown);
}
