// Motion primitives for the scripted experts: each arm follows a plan that
// moves its grasp site to a goal pose over N control steps (straight line,
// shortest rotation, smooth start and stop) or moves its gripper, emitting
// one joint target per control step. Experts chain these into phases:
//
//   nfp_plan_move(&arm, &pose, 0.5, 30);          // go there, gripper half open
//   ... each control step:
//   int done = nfp_plan_step(&arm, t, NFP_LEFT);  // next joint target via IK
//   nfp_plan_write(target, &arm, NFP_LEFT);
#ifndef NFP_MOTION_H
#define NFP_MOTION_H

#include "ik.h"

typedef struct nfp_arm_plan_ {
  double q[NFP_ARM_DOF];   // joint target commanded now (also the IK warm start)
  double grip;             // gripper command now, 0 = closed .. 1 = open
  nfp_pose pose;           // grasp-site pose commanded now
  nfp_pose from, to;       // current move: start and goal pose
  double grip_from, grip_to;
  double q_from[NFP_ARM_DOF], q_to[NFP_ARM_DOF];
  int joint_space;         // current move interpolates joints, not the pose
  int steps, k;            // length of the current move and steps taken
} nfp_arm_plan;

// Start from the task's last commanded target (t->target) for `arm`.
void nfp_plan_start(nfp_arm_plan* p, nfp_task* t, int arm);

// Move the grasp site from where the plan is to `goal`, gripper to `grip`,
// over `steps` control steps (>= 1).
void nfp_plan_move(nfp_arm_plan* p, const nfp_pose* goal, double grip, int steps);

// Move by `dz` metres straight up (negative: down), keeping the orientation.
void nfp_plan_lift(nfp_arm_plan* p, double dz, double grip, int steps);

// Keep the pose; take the gripper to `grip` over `steps` (also a plain wait).
void nfp_plan_grip(nfp_arm_plan* p, double grip, int steps);

// Interpolate the joints straight to q (e.g. back to home), gripper to `grip`.
void nfp_plan_joints(nfp_arm_plan* p, const double q[NFP_ARM_DOF], double grip, int steps);

// Advance one control step (IK for pose moves). 1 once the move is complete;
// stepping a complete plan holds its last command.
int nfp_plan_step(nfp_arm_plan* p, nfp_task* t, int arm);

// Write the plan's current command into arm's seven interface slots.
void nfp_plan_write(double target[NFP_NJ], const nfp_arm_plan* p, int arm);

#endif
