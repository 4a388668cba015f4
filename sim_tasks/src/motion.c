// Motion primitives: interpolated grasp-site moves and gripper moves.
#include "motion.h"

#include <string.h>

#include "rig.h"

// Smoothstep: zero velocity at both ends of a move, so the servos never see a jump.
static double ease(double s) { return s * s * (3.0 - 2.0 * s); }

static void begin(nfp_arm_plan* p, double grip, int steps) {
  p->from = p->pose;
  p->to = p->pose;
  p->grip_from = p->grip;
  p->grip_to = grip;
  p->joint_space = 0;
  p->steps = steps < 1 ? 1 : steps;
  p->k = 0;
}

void nfp_plan_start(nfp_arm_plan* p, nfp_task* t, int arm) {
  memset(p, 0, sizeof(*p));
  for (int j = 0; j < NFP_ARM_DOF; j++) p->q[j] = t->target[nfp_rig_slot(arm, j)];
  p->grip = t->target[nfp_rig_grip_slot(arm)];
  nfp_ik_forward(&p->pose, t, arm, p->q);
  begin(p, p->grip, 1);
  p->k = p->steps;   // nothing to do until a move is given
}

void nfp_plan_move(nfp_arm_plan* p, const nfp_pose* goal, double grip, int steps) {
  begin(p, grip, steps);
  p->to = *goal;
}

void nfp_plan_lift(nfp_arm_plan* p, double dz, double grip, int steps) {
  begin(p, grip, steps);
  p->to.pos[2] += dz;
}

void nfp_plan_grip(nfp_arm_plan* p, double grip, int steps) { begin(p, grip, steps); }

void nfp_plan_joints(nfp_arm_plan* p, const double q[NFP_ARM_DOF], double grip, int steps) {
  begin(p, grip, steps);
  memcpy(p->q_from, p->q, sizeof(p->q_from));
  memcpy(p->q_to, q, sizeof(p->q_to));
  p->joint_space = 1;
}

int nfp_plan_step(nfp_arm_plan* p, nfp_task* t, int arm) {
  if (p->k >= p->steps) return 1;
  p->k++;
  double s = ease((double)p->k / p->steps);
  p->grip = p->grip_from + s * (p->grip_to - p->grip_from);
  if (p->joint_space) {
    for (int j = 0; j < NFP_ARM_DOF; j++) p->q[j] = p->q_from[j] + s * (p->q_to[j] - p->q_from[j]);
    nfp_ik_forward(&p->pose, t, arm, p->q);
  } else {
    nfp_pose_lerp(&p->pose, &p->from, &p->to, s);
    nfp_ik_solve(p->q, t, arm, &p->pose);
  }
  return p->k >= p->steps;
}

void nfp_plan_write(double target[NFP_NJ], const nfp_arm_plan* p, int arm) {
  for (int j = 0; j < NFP_ARM_DOF; j++) target[nfp_rig_slot(arm, j)] = p->q[j];
  target[nfp_rig_grip_slot(arm)] = p->grip;
}
