// Inverse kinematics of one arm's grasp site: damped least squares on
// MuJoCo's site Jacobian, position + orientation, within the joint limits.
// All kinematics run on the task's scratch data t->kin; the simulation
// state t->d is never touched.
#ifndef NFP_IK_H
#define NFP_IK_H

#include "nfp/tasks.h"

// A grasp-site pose in the world frame: position (m), unit quaternion (w x y z).
// Site axes: x = approach (out of the palm), y = finger closing axis.
typedef struct nfp_pose_ {
  double pos[3];
  double quat[4];
} nfp_pose;

// Grasp-site pose of `arm` at arm joint angles q.
void nfp_ik_forward(nfp_pose* pose, nfp_task* t, int arm, const double q[NFP_ARM_DOF]);

// Solve for joint angles that put the grasp site of `arm` at `goal`.
// q holds the warm start on entry (use the last command for smooth motion) and
// the best solution found on exit, always within the joint limits.
// Returns 0 when within 1 mm and 0.01 rad of the goal, -1 otherwise (or with
// the error set when out of memory).
int nfp_ik_solve(double q[NFP_ARM_DOF], nfp_task* t, int arm, const nfp_pose* goal);

// Grasp pose at pos from the approach direction and the finger closing axis
// (world frame; closing is made orthogonal to approach). For side grasps,
// handovers and anything not straight down.
void nfp_pose_axes(nfp_pose* pose, const double pos[3], const double approach[3],
                   const double closing[3]);

// Top-down grasp pose at pos: approach straight down, fingers closing along
// the horizontal direction at angle `yaw` (rad, about world z). Of the two
// equivalent closing directions it picks the one nearer the arm's own y axis,
// so the wrist turns as little as possible.
void nfp_pose_topdown(nfp_pose* pose, const nfp_task* t, int arm, const double pos[3],
                      double yaw);

// Pose a fraction s (0..1) of the way from a to b: straight line, shortest rotation.
void nfp_pose_lerp(nfp_pose* out, const nfp_pose* a, const nfp_pose* b, double s);

#endif
