// The rig inside a loaded model: name resolution, the home pose, and the
// mapping between the 14-D joint interface and MuJoCo's qpos / ctrl.
// nfp_rig_resolve, _clamp, _ctrl, _observe and _set_qpos are public (nfp/tasks.h).
#ifndef NFP_RIG_H
#define NFP_RIG_H

#include "nfp/tasks.h"

// Home pose in interface layout: arms raised clear of the table, grippers open.
void nfp_rig_home(double target[NFP_NJ]);

// Interface slot of arm joint j (0..5) and of the gripper of `arm`.
static inline int nfp_rig_slot(int arm, int j) { return arm * (NFP_ARM_DOF + 1) + j; }
static inline int nfp_rig_grip_slot(int arm) { return arm * (NFP_ARM_DOF + 1) + NFP_ARM_DOF; }

#endif
