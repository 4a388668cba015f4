// The rig inside a loaded model: name resolution, the home pose, and the
// mapping between the 14-D joint interface and MuJoCo's qpos / ctrl.
#ifndef NFP_RIG_H
#define NFP_RIG_H

#include "nfp/tasks.h"

// Find every rig element by name ("left_j1" ... "right_gripper", "head").
// 0, or -1 with the error naming the first missing element.
int nfp_rig_resolve(nfp_rig* rig, const mjModel* m);

// Home pose in interface layout: arms raised clear of the table, grippers open.
void nfp_rig_home(double target[NFP_NJ]);

// Clamp an interface target to the actuators' control ranges (joint limits
// and gripper 0..1), in place.
void nfp_rig_clamp(double target[NFP_NJ], const nfp_rig* rig, const mjModel* m);

// Write an interface target into d->ctrl (gripper 0..1 -> finger travel).
void nfp_rig_ctrl(mjData* d, const nfp_rig* rig, const double target[NFP_NJ]);

// Place the rig at interface joint positions q directly (no dynamics).
void nfp_rig_set_qpos(mjData* d, const nfp_rig* rig, const double q[NFP_NJ]);

// Read joint positions and velocities in interface layout (gripper normalised).
void nfp_rig_observe(double qpos[NFP_NJ], double qvel[NFP_NJ], const nfp_rig* rig,
                     const mjData* d);

// Interface slot of arm joint j (0..5) and of the gripper of `arm`.
static inline int nfp_rig_slot(int arm, int j) { return arm * (NFP_ARM_DOF + 1) + j; }
static inline int nfp_rig_grip_slot(int arm) { return arm * (NFP_ARM_DOF + 1) + NFP_ARM_DOF; }

#endif
