// Damped-least-squares IK on the grasp site of one arm.
#include "ik.h"

#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

#define IK_ITERS 100        // iterations per solve (warm starts converge in a few)
#define IK_ROT_WEIGHT 0.2   // metres per radian: how much orientation error counts
#define IK_DAMPING 1e-4     // lambda^2 of the damped pseudo-inverse
#define IK_MAX_STEP 0.2     // largest joint change per iteration (rad)
#define IK_TOL_POS 1e-3     // success tolerance (m)
#define IK_TOL_ROT 1e-2     // success tolerance (rad)

// Put the arm at q in the scratch data and compute positions and cdof.
static void kin_set(nfp_task* t, int arm, const double q[NFP_ARM_DOF]) {
  for (int j = 0; j < NFP_ARM_DOF; j++) t->kin->qpos[t->rig.arm_qadr[arm][j]] = q[j];
  mj_kinematics(t->m, t->kin);
  mj_comPos(t->m, t->kin);
}

static void site_pose(nfp_pose* pose, const nfp_task* t, int arm) {
  int s = t->rig.grasp_site[arm];
  mju_copy3(pose->pos, t->kin->site_xpos + 3 * s);
  mju_mat2Quat(pose->quat, t->kin->site_xmat + 9 * s);
}

// World-frame rotation vector taking orientation `from` to `to`.
static void rot_error(double err[3], const double to[4], const double from[4]) {
  double inv[4], diff[4];
  mju_negQuat(inv, from);
  mju_mulQuat(diff, to, inv);
  if (diff[0] < 0) mju_scl(diff, diff, -1, 4);   // shortest way round
  mju_quat2Vel(err, diff, 1);
}

void nfp_ik_forward(nfp_pose* pose, nfp_task* t, int arm, const double q[NFP_ARM_DOF]) {
  kin_set(t, arm, q);
  site_pose(pose, t, arm);
}

int nfp_ik_solve(double q[NFP_ARM_DOF], nfp_task* t, int arm, const nfp_pose* goal) {
  const mjModel* m = t->m;
  mjData* kin = t->kin;
  const int nv = m->nv;
  const int* dof = t->rig.arm_dofadr[arm];
  const int site = t->rig.grasp_site[arm];
  double jac[6 * NFP_ARM_DOF];            // task rows x arm joints
  double jjt[36], err[6], y[6], dq[NFP_ARM_DOF];
  double best[NFP_ARM_DOF], best_cost = mjMAXVAL, best_ep = 0, best_er = 0;

  // Heap, not mj_markStack: the sanitizer build of our code links a plain MuJoCo.
  mjtNum* jacp = malloc(6 * nv * sizeof(mjtNum));
  if (!jacp) return nfp_error_set("IK: out of memory");
  mjtNum* jacr = jacp + 3 * nv;
  for (int it = 0; it <= IK_ITERS; it++) {
    nfp_pose cur;
    kin_set(t, arm, q);
    site_pose(&cur, t, arm);
    mju_sub3(err, goal->pos, cur.pos);
    rot_error(err + 3, goal->quat, cur.quat);
    double ep = mju_norm3(err), er = mju_norm3(err + 3);
    double cost = ep + IK_ROT_WEIGHT * er;
    if (cost < best_cost) {
      best_cost = cost, best_ep = ep, best_er = er;
      memcpy(best, q, sizeof(best));
    }
    if (it == IK_ITERS || (ep < 1e-5 && er < 1e-4)) break;

    mju_scl3(err + 3, err + 3, IK_ROT_WEIGHT);
    mj_jacSite(m, kin, jacp, jacr, site);
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      for (int r = 0; r < 3; r++) {
        jac[r * NFP_ARM_DOF + j] = jacp[r * nv + dof[j]];
        jac[(r + 3) * NFP_ARM_DOF + j] = IK_ROT_WEIGHT * jacr[r * nv + dof[j]];
      }
    }
    // dq = J^T (J J^T + lambda^2 I)^-1 err
    mju_mulMatMatT(jjt, jac, jac, 6, NFP_ARM_DOF, 6);
    for (int i = 0; i < 6; i++) jjt[7 * i] += IK_DAMPING;
    mju_cholFactor(jjt, 6, mjMINVAL);
    mju_cholSolve(y, jjt, err, 6);
    mju_mulMatTVec(dq, jac, y, 6, NFP_ARM_DOF);

    double big = 0;
    for (int j = 0; j < NFP_ARM_DOF; j++) big = mju_max(big, mju_abs(dq[j]));
    double scale = big > IK_MAX_STEP ? IK_MAX_STEP / big : 1.0;
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      int jnt = m->dof_jntid[dof[j]];
      q[j] = mju_clip(q[j] + scale * dq[j], m->jnt_range[2 * jnt], m->jnt_range[2 * jnt + 1]);
    }
  }
  free(jacp);
  memcpy(q, best, sizeof(best));
  return best_ep < IK_TOL_POS && best_er < IK_TOL_ROT ? 0 : -1;
}

void nfp_pose_axes(nfp_pose* pose, const double pos[3], const double approach[3],
                   const double closing[3]) {
  double x[3], y[3], z[3];
  mju_copy3(x, approach);
  mju_normalize3(x);
  mju_addScl3(y, closing, x, -mju_dot3(closing, x));   // Gram-Schmidt
  mju_normalize3(y);
  mju_cross(z, x, y);
  // Rotation matrix with the site axes as columns (row-major).
  double mat[9] = {x[0], y[0], z[0], x[1], y[1], z[1], x[2], y[2], z[2]};
  mju_copy3(pose->pos, pos);
  mju_mat2Quat(pose->quat, mat);
}

void nfp_pose_topdown(nfp_pose* pose, const nfp_task* t, int arm, const double pos[3],
                      double yaw) {
  // The arm's own y axis is the base frame's second column.
  const double* base = t->d->xmat + 9 * t->rig.base_body[arm];
  double y[3] = {mju_cos(yaw), mju_sin(yaw), 0};
  if (y[0] * base[1] + y[1] * base[4] < 0) mju_scl3(y, y, -1);
  const double down[3] = {0, 0, -1};
  nfp_pose_axes(pose, pos, down, y);
}

void nfp_pose_lerp(nfp_pose* out, const nfp_pose* a, const nfp_pose* b, double s) {
  double pos[3], rot[3], dq[4];
  for (int i = 0; i < 3; i++) pos[i] = a->pos[i] + s * (b->pos[i] - a->pos[i]);
  rot_error(rot, b->quat, a->quat);
  double angle = mju_normalize3(rot);
  mju_axisAngle2Quat(dq, rot, s * angle);
  mju_mulQuat(out->quat, dq, a->quat);
  mju_normalize4(out->quat);
  mju_copy3(out->pos, pos);
}
