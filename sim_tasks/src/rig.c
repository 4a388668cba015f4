// The bi-manual rig: names, home pose and the joint interface <-> MuJoCo mapping.
#include "rig.h"

#include <stdio.h>

#include "nfp/error.h"

static const char* const kArmPrefix[2] = {"left_", "right_"};
static const char* const kJointName[NFP_ARM_DOF] = {"j1", "j2", "j3", "j4", "j5", "j6"};

// Arm raised above its base, grasp site about 0.2 m above the table and
// 0.2 m in front of the base, gripper pointing down, open.
static const double kHomeArm[NFP_ARM_DOF] = {0.0, -0.2, 0.35, 0.0, 1.42, 0.0};

static int find_id(int* id, const mjModel* m, mjtObj type, const char* prefix,
                   const char* name) {
  char full[64];
  snprintf(full, sizeof(full), "%s%s", prefix, name);
  *id = mj_name2id(m, type, full);
  if (*id < 0) return nfp_error_set("rig element '%s' (%s) missing from the model", full,
                                    mju_type2Str(type));
  return 0;
}

int nfp_rig_resolve(nfp_rig* rig, const mjModel* m) {
  if (m->nu < NFP_NJ) {
    return nfp_error_set("model has %d actuators; the rig needs %d", (int)m->nu, NFP_NJ);
  }
  for (int a = 0; a < 2; a++) {
    const char* p = kArmPrefix[a];
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      int jnt, act;
      if (find_id(&jnt, m, mjOBJ_JOINT, p, kJointName[j]) ||
          find_id(&act, m, mjOBJ_ACTUATOR, p, kJointName[j])) {
        return -1;
      }
      rig->arm_qadr[a][j] = m->jnt_qposadr[jnt];
      rig->arm_dofadr[a][j] = m->jnt_dofadr[jnt];
      rig->actuator[nfp_rig_slot(a, j)] = act;
    }
    const char* finger[2] = {"finger_a", "finger_b"};
    for (int f = 0; f < 2; f++) {
      int jnt;
      if (find_id(&jnt, m, mjOBJ_JOINT, p, finger[f])) return -1;
      rig->finger_qadr[a][f] = m->jnt_qposadr[jnt];
      rig->finger_dofadr[a][f] = m->jnt_dofadr[jnt];
    }
    int act;
    if (find_id(&act, m, mjOBJ_ACTUATOR, p, "gripper") ||
        find_id(&rig->grasp_site[a], m, mjOBJ_SITE, p, "grasp") ||
        find_id(&rig->base_body[a], m, mjOBJ_BODY, p, "base")) {
      return -1;
    }
    rig->actuator[nfp_rig_grip_slot(a)] = act;
    rig->finger_open = m->actuator_ctrlrange[2 * act + 1];
  }
  if (find_id(&rig->head_camera, m, mjOBJ_CAMERA, "", "head")) return -1;
  if (!(rig->finger_open > 0)) {
    return nfp_error_set("gripper actuator needs a positive upper ctrlrange (finger travel)");
  }
  return 0;
}

void nfp_rig_home(double target[NFP_NJ]) {
  for (int a = 0; a < 2; a++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) target[nfp_rig_slot(a, j)] = kHomeArm[j];
    target[nfp_rig_grip_slot(a)] = 1.0;
  }
}

void nfp_rig_mirror(double out[NFP_NJ], const double in[NFP_NJ]) {
  static const double kSign[NFP_ARM_DOF + 1] = {-1, 1, 1, -1, 1, -1, 1};   // arm.xml axes
  for (int a = 0; a < 2; a++) {
    for (int j = 0; j <= NFP_ARM_DOF; j++) out[a * (NFP_ARM_DOF + 1) + j] =
        kSign[j] * in[(1 - a) * (NFP_ARM_DOF + 1) + j];
  }
}

void nfp_pose_mirror(double out[7], const double in[7]) {
  // A rotation about axis (ax, ay, az) by t becomes one about (ax, -ay, -az) by t.
  out[0] = -in[0], out[1] = in[1], out[2] = in[2];
  out[3] = in[3], out[4] = in[4], out[5] = -in[5], out[6] = -in[6];
}

void nfp_rig_clamp(double target[NFP_NJ], const nfp_rig* rig, const mjModel* m) {
  for (int i = 0; i < NFP_NJ; i++) {
    double lo = m->actuator_ctrlrange[2 * rig->actuator[i]];
    double hi = m->actuator_ctrlrange[2 * rig->actuator[i] + 1];
    if (i == nfp_rig_grip_slot(0) || i == nfp_rig_grip_slot(1)) lo = 0.0, hi = 1.0;
    // NaN fails both comparisons; send it to the lower limit rather than the servo.
    if (!(target[i] >= lo)) target[i] = lo;
    if (target[i] > hi) target[i] = hi;
  }
}

void nfp_rig_ctrl(mjData* d, const nfp_rig* rig, const double target[NFP_NJ]) {
  for (int i = 0; i < NFP_NJ; i++) {
    int grip = i == nfp_rig_grip_slot(0) || i == nfp_rig_grip_slot(1);
    d->ctrl[rig->actuator[i]] = grip ? target[i] * rig->finger_open : target[i];
  }
}

void nfp_rig_set_qpos(mjData* d, const nfp_rig* rig, const double q[NFP_NJ]) {
  for (int a = 0; a < 2; a++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) d->qpos[rig->arm_qadr[a][j]] = q[nfp_rig_slot(a, j)];
    for (int f = 0; f < 2; f++) {
      d->qpos[rig->finger_qadr[a][f]] = q[nfp_rig_grip_slot(a)] * rig->finger_open;
    }
  }
}

void nfp_rig_observe(double qpos[NFP_NJ], double qvel[NFP_NJ], const nfp_rig* rig,
                     const mjData* d) {
  for (int a = 0; a < 2; a++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      if (qpos) qpos[nfp_rig_slot(a, j)] = d->qpos[rig->arm_qadr[a][j]];
      if (qvel) qvel[nfp_rig_slot(a, j)] = d->qvel[rig->arm_dofadr[a][j]];
    }
    // The gripper reads as the mean finger travel over the full travel.
    const int* qa = rig->finger_qadr[a];
    const int* va = rig->finger_dofadr[a];
    double s = 0.5 / rig->finger_open;
    if (qpos) qpos[nfp_rig_grip_slot(a)] = s * (d->qpos[qa[0]] + d->qpos[qa[1]]);
    if (qvel) qvel[nfp_rig_grip_slot(a)] = s * (d->qvel[va[0]] + d->qvel[va[1]]);
  }
}
