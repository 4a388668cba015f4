// The rig: the MJCF meets the interface (14 actuators in order, camera, options),
// the joint interface maps and clamps correctly, the servos hold the home pose,
// and the IK and motion primitives the experts share reach their goals.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "ik.h"
#include "motion.h"
#include "near.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

#define TABLE_Z 0.74

static void test_rig_mjcf(void** state) {
  (void)state;
  char err[1000] = "";
  mjModel* m = mj_loadXML(NFP_TEST_ASSETS "/rig.xml", NULL, err, sizeof(err));
  if (!m) fail_msg("rig.xml: %s", err);
  assert_int_equal(m->nu, NFP_NJ);
  assert_int_equal(m->nmesh, 0);   // primitives only
  const char* order[NFP_NJ] = {"left_j1",  "left_j2",  "left_j3",  "left_j4",  "left_j5",
                               "left_j6",  "left_gripper", "right_j1", "right_j2", "right_j3",
                               "right_j4", "right_j5", "right_j6", "right_gripper"};
  nfp_rig rig;
  assert_int_equal(nfp_rig_resolve(&rig, m), 0);
  for (int i = 0; i < NFP_NJ; i++) {
    assert_string_equal(mj_id2name(m, mjOBJ_ACTUATOR, i), order[i]);
    assert_int_equal(rig.actuator[i], i);
    assert_int_equal(m->actuator_gaintype[i], mjGAIN_FIXED);   // position servos
  }
  assert_near(m->cam_fovy[rig.head_camera], 37.0, 1e-9);
  assert_true(m->vis.global.offwidth >= 320 && m->vis.global.offheight >= 240);
  assert_near(m->opt.timestep, 0.002, 1e-12);
  assert_int_equal(m->opt.cone, mjCONE_ELLIPTIC);
  assert_int_equal(m->opt.integrator, mjINT_IMPLICITFAST);
  assert_true(rig.finger_open > 0.02 && rig.finger_open < 0.1);
  // Every arm joint is limited and the servos' ranges match the joint limits.
  for (int a = 0; a < 2; a++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      int jnt = m->dof_jntid[rig.arm_dofadr[a][j]];
      int act = rig.actuator[nfp_rig_slot(a, j)];
      assert_true(m->jnt_limited[jnt]);
      assert_near(m->jnt_range[2 * jnt], m->actuator_ctrlrange[2 * act], 1e-12);
      assert_near(m->jnt_range[2 * jnt + 1], m->actuator_ctrlrange[2 * act + 1], 1e-12);
    }
  }
  mj_deleteModel(m);
}

static void test_home_and_hold(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  assert_near(nfp_task_control_hz(t), 1.0 / 0.06, 1e-9);
  nfp_task_reset(t, 7);
  double qpos[NFP_NJ], qvel[NFP_NJ], home[NFP_NJ];
  nfp_rig_home(home);
  nfp_task_observe(t, qpos, qvel);
  for (int i = 0; i < NFP_NJ; i++) {
    assert_near(qpos[i], home[i], 1e-2);
    assert_true(fabs(qvel[i]) < 1e-3);
  }
  for (int a = 0; a < 2; a++) {
    assert_true(t->d->site_xpos[3 * t->rig.grasp_site[a] + 2] > TABLE_Z + 0.15);
  }
  // Two seconds of commanding home: the servos hold it and nothing drifts.
  for (int k = 0; k < 33; k++) nfp_task_step(t, home);
  nfp_task_observe(t, qpos, qvel);
  for (int i = 0; i < NFP_NJ; i++) {
    assert_near(qpos[i], home[i], 1e-2);
    assert_true(fabs(qvel[i]) < 1e-2);
  }
  nfp_task_free(t);
}

// nfp_rig_mirror is the rig's mirror image: home is its own image, mirroring twice is
// the identity, and the mirrored joints put each arm's grasp frame at the mirror image
// (x -> -x) of the other arm's.
static void test_mirror_joints(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  double home[NFP_NJ], q[NFP_NJ], back[NFP_NJ];
  nfp_rig_home(home);
  nfp_rig_mirror(q, home);
  for (int i = 0; i < NFP_NJ; i++) assert_near(q[i], home[i], 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  for (int trial = 0; trial < 20; trial++) {
    double in[NFP_NJ], site[2][3], frame[2][9];
    for (int i = 0; i < NFP_NJ; i++) in[i] = nfp_rng_range(&rng, -1.2, 1.2);
    nfp_rig_set_qpos(t->kin, &t->rig, in);
    mj_kinematics(t->m, t->kin);
    for (int a = 0; a < 2; a++) {
      mju_copy3(site[a], t->kin->site_xpos + 3 * t->rig.grasp_site[a]);
      mju_copy(frame[a], t->kin->site_xmat + 9 * t->rig.grasp_site[a], 9);
    }
    nfp_rig_mirror(q, in);
    nfp_rig_mirror(back, q);
    for (int i = 0; i < NFP_NJ; i++) assert_near(back[i], in[i], 0);
    nfp_rig_set_qpos(t->kin, &t->rig, q);
    mj_kinematics(t->m, t->kin);
    for (int a = 0; a < 2; a++) {
      const double* p = t->kin->site_xpos + 3 * t->rig.grasp_site[a];
      const double* r = t->kin->site_xmat + 9 * t->rig.grasp_site[a];
      const double* o = site[1 - a];
      const double* ro = frame[1 - a];
      assert_near(p[0], -o[0], 1e-9);
      assert_near(p[1], o[1], 1e-9);
      assert_near(p[2], o[2], 1e-9);
      // The reflection S = diag(-1, 1, 1) on both sides: the grasp frame is itself
      // symmetric across its x-z plane (the fingers close along its y).
      for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) {
          double s = (i == 0 ? -1 : 1) * (j == 1 ? -1 : 1);
          assert_near(r[3 * i + j], s * ro[3 * i + j], 1e-9);
        }
      }
    }
  }
  nfp_task_free(t);
}

static void test_clamp_and_gripper(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  double target[NFP_NJ];
  nfp_rig_home(target);
  target[0] = 100.0;     // far past the left j1 limit
  target[8] = -100.0;    // far below the right j2 limit
  target[3] = NAN;
  target[6] = 0.5;       // left gripper half open
  target[13] = 7.0;      // right gripper past open
  nfp_task_step(t, target);
  const mjModel* m = t->m;
  for (int i = 0; i < NFP_NJ; i++) {
    int act = t->rig.actuator[i];
    int grip = i == 6 || i == 13;
    double lo = grip ? 0 : m->actuator_ctrlrange[2 * act];
    double hi = grip ? 1 : m->actuator_ctrlrange[2 * act + 1];
    assert_true(t->target[i] >= lo && t->target[i] <= hi);
  }
  assert_near(t->target[0], m->actuator_ctrlrange[2 * t->rig.actuator[0] + 1], 0);
  assert_near(t->target[8], m->actuator_ctrlrange[2 * t->rig.actuator[8]], 0);
  assert_near(t->target[13], 1.0, 0);
  for (int k = 0; k < 10; k++) nfp_task_step(t, t->target);
  double qpos[NFP_NJ];
  nfp_task_observe(t, qpos, NULL);
  assert_near(qpos[6], 0.5, 0.02);
  assert_near(qpos[13], 1.0, 0.02);
  // The two fingers stay symmetric.
  const int* f = t->rig.finger_qadr[NFP_LEFT];
  assert_near(t->d->qpos[f[0]], t->d->qpos[f[1]], 1e-3);
  assert_near(t->d->qpos[f[0]], 0.5 * t->rig.finger_open, 1e-3);
  nfp_task_free(t);
}

static double rot_angle(const double a[4], const double b[4]) {
  double dot = fabs(a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]);
  return 2 * acos(dot > 1 ? 1 : dot);
}

static void test_ik_reaches_poses(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  double home[NFP_NJ];
  nfp_rig_home(home);
  // Goals are poses of random joint configurations near home, so all are reachable.
  for (int trial = 0; trial < 40; trial++) {
    int arm = trial % 2;
    double qgoal[NFP_ARM_DOF], q[NFP_ARM_DOF];
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      qgoal[j] = home[nfp_rig_slot(arm, j)] + nfp_rng_range(&rng, -0.4, 0.4);
      q[j] = home[nfp_rig_slot(arm, j)];
    }
    nfp_pose goal, got;
    nfp_ik_forward(&goal, t, arm, qgoal);
    assert_int_equal(nfp_ik_solve(q, t, arm, &goal), 0);
    nfp_ik_forward(&got, t, arm, q);
    double d[3];
    mju_sub3(d, got.pos, goal.pos);
    assert_true(mju_norm3(d) < 1e-3);
    assert_true(rot_angle(got.quat, goal.quat) < 1e-2);
  }
  // An unreachable goal: best effort inside the limits, and -1.
  nfp_pose far;
  double q[NFP_ARM_DOF];
  for (int j = 0; j < NFP_ARM_DOF; j++) q[j] = home[j];
  nfp_ik_forward(&far, t, NFP_LEFT, q);
  far.pos[2] += 2.0;
  assert_int_equal(nfp_ik_solve(q, t, NFP_LEFT, &far), -1);
  for (int j = 0; j < NFP_ARM_DOF; j++) {
    int jnt = t->m->dof_jntid[t->rig.arm_dofadr[NFP_LEFT][j]];
    assert_true(q[j] >= t->m->jnt_range[2 * jnt] && q[j] <= t->m->jnt_range[2 * jnt + 1]);
  }
  nfp_task_free(t);
}

static void test_topdown_pose(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  double pos[3] = {-0.1, 0.05, 0.9};
  for (int arm = 0; arm < 2; arm++) {
    nfp_pose p;
    nfp_pose_topdown(&p, t, arm, pos, 0.3);
    double mat[9];
    mju_quat2Mat(mat, p.quat);
    assert_near(mat[6], -1.0, 1e-9);   // approach (site x) points down
    // Closing axis (site y) along yaw 0.3, sign chosen towards the arm's own y.
    double sign = arm == NFP_LEFT ? 1 : -1;
    assert_near(mat[1], sign * cos(0.3), 1e-9);
    assert_near(mat[4], sign * sin(0.3), 1e-9);
  }
  // A side grasp: approach along +x, closing axis given slightly off-orthogonal.
  nfp_pose side;
  double approach[3] = {2, 0, 0}, closing[3] = {0.3, 0, 1};
  nfp_pose_axes(&side, pos, approach, closing);
  double mat[9];
  mju_quat2Mat(mat, side.quat);
  assert_near(mat[0], 1.0, 1e-9);   // site x along the approach
  assert_near(mat[7], 1.0, 1e-9);   // site y along world z (orthogonalised)
  assert_near(mat[5], -1.0, 1e-9);  // site z = x cross y = -world y
  assert_memory_equal(side.pos, pos, sizeof(pos));
  nfp_task_free(t);
}

static void test_plan_moves_in_a_line(void** state) {
  (void)state;
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(t);
  nfp_arm_plan plan;
  nfp_plan_start(&plan, t, NFP_RIGHT);
  nfp_pose start = plan.pose, goal = plan.pose;
  goal.pos[0] -= 0.1;
  goal.pos[2] -= 0.08;
  nfp_plan_move(&plan, &goal, 0.3, 10);
  double target[NFP_NJ];
  memcpy(target, t->target, sizeof(target));
  for (int k = 1; k <= 10; k++) {
    int done = nfp_plan_step(&plan, t, NFP_RIGHT);
    assert_int_equal(done, k == 10);
    // Commanded joints reach the commanded pose, which lies on the segment.
    nfp_pose got;
    nfp_ik_forward(&got, t, NFP_RIGHT, plan.q);
    double d[3], along[3], off[3];
    mju_sub3(d, got.pos, plan.pose.pos);
    assert_true(mju_norm3(d) < 1e-3);
    mju_sub3(along, goal.pos, start.pos);
    mju_sub3(off, plan.pose.pos, start.pos);
    double s = mju_dot3(off, along) / mju_dot3(along, along);
    mju_addToScl3(off, along, -s);
    assert_true(mju_norm3(off) < 1e-9);
    nfp_plan_write(target, &plan, NFP_RIGHT);
    nfp_task_step(t, target);
  }
  assert_near(plan.grip, 0.3, 1e-12);
  assert_near(target[13], 0.3, 1e-12);
  // Stepping a finished plan holds its command.
  double q[NFP_ARM_DOF];
  memcpy(q, plan.q, sizeof(q));
  assert_int_equal(nfp_plan_step(&plan, t, NFP_RIGHT), 1);
  assert_memory_equal(q, plan.q, sizeof(q));
  // The arm follows: after settling, the real grasp site is near the goal.
  for (int k = 0; k < 10; k++) nfp_task_step(t, target);
  double d[3];
  mju_sub3(d, t->d->site_xpos + 3 * t->rig.grasp_site[NFP_RIGHT], goal.pos);
  assert_true(mju_norm3(d) < 5e-3);
  nfp_task_free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_rig_mjcf),
    cmocka_unit_test(test_home_and_hold),
    cmocka_unit_test(test_mirror_joints),
    cmocka_unit_test(test_clamp_and_gripper),
    cmocka_unit_test(test_ik_reaches_poses),
    cmocka_unit_test(test_topdown_pose),
    cmocka_unit_test(test_plan_moves_in_a_line),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
