// Handover Block: the left arm picks a tall box up from the top and holds it out at
// the centre, the right arm takes it from the side, the left lets go and withdraws,
// and the right stands the box on the target pad (RoboTwin 2.0's handover_block,
// adapted to this rig).
//
// Adaptations: RoboTwin's arms stand side by side facing +y, ours face each other
// along x. Its x maps onto our x unchanged (box on the left half, pad on the right
// half, so the box starts at the left arm and ends at the right arm), its y onto our
// y unchanged. RoboTwin's box also carries a fixed 22.5 degree yaw under the +-0.2
// draw; ours is square to the table plus the draw (a square box repeats every
// quarter turn, so this only moves the draws). Our left gripper's home spot lies
// inside the box's range, so box draws within 10 cm of it are redrawn. The handover
// point is left of the exact centre, at x = -0.05: the left arm's top-down reach at
// the holding height ends there, and the right arm's side grasp reaches past it.
// The arms never share space: the left holds the box's top 5 cm from above, the
// right takes it by its middle from the +x side (the hands stay 3.8 cm apart at the
// closest), and the left rises and backs off before the right carries the box away.
#include <stddef.h>
#include <string.h>

#include "expert.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

#define TABLE_Z 0.74
#define BOX_HALF_XY 0.03            // box: 6 x 6 x 20 cm
#define BOX_HALF_Z 0.1
#define BOX_X_LO (-0.25)            // box centre x uniform in [lo, hi] (left half)
#define BOX_X_HI (-0.05)
#define BOX_Y_LO 0.0                // box centre y uniform in [lo, hi]
#define BOX_Y_HI 0.25
#define BOX_YAW_RANGE 0.2           // box yaw uniform in +-this (rad)
#define PAD_X_LO 0.1                // pad centre x uniform in [lo, hi] (right half)
#define PAD_X_HI 0.25
#define PAD_Y_LO 0.15               // pad centre y uniform in [lo, hi]
#define PAD_Y_HI 0.2
#define PAD_HALF_Z 0.005            // pad: 10 x 10 x 1 cm
#define HOME_CLEAR 0.1              // box centre this far (x-y) from the left gripper's home
#define PREGRASP_HEIGHT 0.07        // left pre-grasp: this far above the grasp (RoboTwin)
#define TOP_GRASP_DEPTH 0.025       // left grasp site this far below the box top
#define LIFT_HEIGHT 0.10            // left lift after the grasp (RoboTwin)
#define HANDOVER_X (-0.05)          // box centre at the handover (m)
#define HANDOVER_Y 0.10
#define HANDOVER_Z 0.90             // box bottom 6 cm above the table
#define SIDE_GRASP_HEIGHT 0.10      // right grasp site this far above the box bottom (its middle)
#define SIDE_PREGRASP 0.10          // right pre-grasp: this far out along +x
#define RETREAT_UP 0.06             // left withdraws up and back toward its base
#define RETREAT_BACK 0.06
#define PLACE_ABOVE 0.05            // box bottom this far above the pad before lowering
#define PLACE_DROP 0.003            // release this far above the pad
#define FINAL_BACK 0.08             // right withdraws along its approach after the release

enum {
  L_PREGRASP, L_APPROACH, L_GRASP, LIFT, MEET, R_PREGRASP, R_APPROACH, R_GRASP,
  L_RELEASE, L_RETREAT, CARRY, PLACE, R_RELEASE, R_RETREAT, DONE, NPHASE
};
static const char* const kPhaseName[NPHASE] = {
  "left_pregrasp", "left_approach", "left_grasp", "lift",   "meet",
  "right_pregrasp", "right_approach", "right_grasp", "left_release", "left_retreat",
  "carry",          "place",          "right_release", "right_retreat", "done"};
static const int kPhaseSteps[NPHASE] = {30, 15, 8, 15, 30, 25, 15, 8, 8, 12, 35, 15, 8, 12, 1};

typedef struct handover_state_ {
  nfp_phased expert;        // first: nfp_phased_expert_done/_phase read it
  double offset[3];         // box bottom centre minus the right's commanded grasp site
} handover_state;
_Static_assert(offsetof(handover_state, expert) == 0, "the task state starts with its nfp_phased");

typedef struct handover_ids_ {
  int box, box_geom, qadr, pad, pad_geom, mocap;
} handover_ids;

static handover_ids handover_lookup(const mjModel* m) {
  handover_ids h;
  h.box = mj_name2id(m, mjOBJ_BODY, "box");
  h.box_geom = mj_name2id(m, mjOBJ_GEOM, "box");
  h.qadr = -1;
  if (h.box >= 0 && m->body_jntnum[h.box] == 1) h.qadr = m->jnt_qposadr[m->body_jntadr[h.box]];
  h.pad = mj_name2id(m, mjOBJ_BODY, "pad");
  h.pad_geom = mj_name2id(m, mjOBJ_GEOM, "pad");
  h.mocap = h.pad >= 0 ? m->body_mocapid[h.pad] : -1;
  return h;
}

static int check(const mjModel* m) {
  handover_ids h = handover_lookup(m);
  if (h.qadr < 0 || m->jnt_type[m->body_jntadr[h.box]] != mjJNT_FREE || h.box_geom < 0) {
    return nfp_error_set("handover_block needs a body 'box' with one free joint and a geom 'box'");
  }
  if (h.mocap < 0 || h.pad_geom < 0) {
    return nfp_error_set("handover_block needs a mocap body 'pad' with a geom 'pad'");
  }
  return 0;
}

static void reset(nfp_task* t, nfp_rng* rng) {
  handover_ids h = handover_lookup(t->m);
  // The box stands 20 cm tall: where the left gripper hangs at home it would start
  // inside it, so draws that close to that spot are redrawn.
  double home[NFP_NJ];
  nfp_pose rest;
  nfp_rig_home(home);
  nfp_ik_forward(&rest, t, NFP_LEFT, home + nfp_rig_slot(NFP_LEFT, 0));
  double* q = t->d->qpos + h.qadr;   // x y z, quaternion w x y z
  do {
    q[0] = nfp_rng_range(rng, BOX_X_LO, BOX_X_HI);
    q[1] = nfp_rng_range(rng, BOX_Y_LO, BOX_Y_HI);
  } while (mju_sqrt((q[0] - rest.pos[0]) * (q[0] - rest.pos[0]) +
                    (q[1] - rest.pos[1]) * (q[1] - rest.pos[1])) < HOME_CLEAR);
  q[2] = TABLE_Z + BOX_HALF_Z;
  double yaw = nfp_rng_range(rng, -BOX_YAW_RANGE, BOX_YAW_RANGE);
  q[3] = mju_cos(yaw / 2), q[4] = 0, q[5] = 0, q[6] = mju_sin(yaw / 2);
  double* p = t->d->mocap_pos + 3 * h.mocap;
  p[0] = nfp_rng_range(rng, PAD_X_LO, PAD_X_HI);
  p[1] = nfp_rng_range(rng, PAD_Y_LO, PAD_Y_HI);
  p[2] = TABLE_Z + PAD_HALF_Z;
}

// A square box looks the same every quarter turn: fold its yaw into [-pi/4, pi/4).
static double quarter_yaw(const mjData* d, int body) {
  const double* r = d->xmat + 9 * body;
  double yaw = mju_atan2(r[3], r[0]);
  double q = mjPI / 2;
  return yaw - q * mju_round(yaw / q);
}

// Centre of the box's bottom face (its local -z end), wherever the box points.
static void box_bottom(double out[3], const mjData* d, int box) {
  const double* r = d->xmat + 9 * box;
  const double* c = d->xpos + 3 * box;
  for (int i = 0; i < 3; i++) out[i] = c[i] - BOX_HALF_Z * r[3 * i + 2];
}

static void begin_phase(nfp_task* t) {
  handover_state* s = t->state;
  handover_ids h = handover_lookup(t->m);
  const mjData* d = t->d;
  int phase = s->expert.phase, n = kPhaseSteps[phase];
  nfp_phased_hold(&s->expert, n);   // arms that do not move this phase stay put
  nfp_arm_plan* left = &s->expert.plan[NFP_LEFT];
  nfp_arm_plan* right = &s->expert.plan[NFP_RIGHT];
  const double* box = d->xpos + 3 * h.box;
  nfp_pose pose;
  double pos[3], bottom[3];
  box_bottom(bottom, d, h.box);
  switch (phase) {
    case L_PREGRASP:   // above the box, fingers across two faces
      mju_copy3(pos, box);
      pos[2] += BOX_HALF_Z - TOP_GRASP_DEPTH + PREGRASP_HEIGHT;
      nfp_pose_topdown(&pose, t, NFP_LEFT, pos, mjPI / 2 + quarter_yaw(d, h.box));
      nfp_plan_move(left, &pose, 1.0, n);
      break;
    case L_APPROACH:
      pose = left->pose;
      pose.pos[2] -= PREGRASP_HEIGHT;
      nfp_plan_move(left, &pose, 1.0, n);
      break;
    case L_GRASP:
      nfp_plan_grip(left, 0.0, n);
      break;
    case LIFT:
      nfp_plan_lift(left, LIFT_HEIGHT, 0.0, n);
      break;
    case MEET: {       // box centre to the handover point, its faces turned square to x and y
      double axis[3] = {0, 0, 1}, turn[4], v[3];
      mju_axisAngle2Quat(turn, axis, -quarter_yaw(d, h.box));
      pose = left->pose;
      mju_mulQuat(pose.quat, turn, left->pose.quat);
      mju_sub3(v, left->pose.pos, box);
      mju_rotVecQuat(pose.pos, v, turn);
      const double meet[3] = {HANDOVER_X, HANDOVER_Y, HANDOVER_Z};
      mju_addTo3(pose.pos, meet);
      nfp_plan_move(left, &pose, 0.0, n);
      break;
    }
    case R_PREGRASP:   // level with the lower box, out along +x, fingers across the y faces
    case R_APPROACH: {
      const double approach[3] = {-1, 0, 0};
      const double* base = d->xmat + 9 * t->rig.base_body[NFP_RIGHT];
      const double closing[3] = {base[1], base[4], base[7]};   // the arm's own y axis
      pos[0] = box[0] + (phase == R_PREGRASP ? SIDE_PREGRASP : 0.0);
      pos[1] = box[1];
      pos[2] = bottom[2] + SIDE_GRASP_HEIGHT;
      nfp_pose_axes(&pose, pos, approach, closing);
      nfp_plan_move(right, &pose, 1.0, n);
      break;
    }
    case R_GRASP:
      nfp_plan_grip(right, 0.0, n);
      break;
    case L_RELEASE:
      nfp_plan_grip(left, 1.0, n);
      break;
    case L_RETREAT:
      pose = left->pose;
      pose.pos[0] -= RETREAT_BACK;
      pose.pos[2] += RETREAT_UP;
      nfp_plan_move(left, &pose, 1.0, n);
      break;
    case CARRY: {      // box bottom above the pad, aimed with its measured offset; left goes home
      double home[NFP_NJ];
      nfp_rig_home(home);
      nfp_plan_joints(left, home + nfp_rig_slot(NFP_LEFT, 0), 1.0, n);
      mju_sub3(s->offset, bottom, right->pose.pos);
      const double* pad = d->mocap_pos + 3 * h.mocap;
      pose = right->pose;
      mju_sub3(pose.pos, pad, s->offset);
      pose.pos[2] += PAD_HALF_Z + PLACE_ABOVE;
      nfp_plan_move(right, &pose, 0.0, n);
      break;
    }
    case PLACE:
      pose = right->pose;
      pose.pos[2] -= PLACE_ABOVE - PLACE_DROP;
      nfp_plan_move(right, &pose, 0.0, n);
      break;
    case R_RELEASE:
      nfp_plan_grip(right, 1.0, n);
      break;
    case R_RETREAT: {  // back out along the approach axis (the site's x)
      double r[9];
      mju_quat2Mat(r, right->pose.quat);
      pose = right->pose;
      for (int i = 0; i < 3; i++) pose.pos[i] -= FINAL_BACK * r[3 * i];
      nfp_plan_move(right, &pose, 1.0, n);
      break;
    }
    default:
      break;
  }
}

static const nfp_phase_script kScript = {
  .nphase = NPHASE, .names = kPhaseName, .begin = begin_phase,
};

static void expert(nfp_task* t, double target[NFP_NJ]) {
  handover_state* s = t->state;
  nfp_phased_step(&s->expert, t, target, &kScript);
}

// Success as RoboTwin's check: the box's bottom centre is over the pad within
// these tolerances in x and y and at the pad's top face in z (standing on it),
// and the right gripper has let go.
#define SUCCESS_XY 0.03   // |bottom - pad centre| in x and in y (m)
#define SUCCESS_Z 0.01    // |bottom - pad top| (m)
#define GRIP_OPEN 0.8     // observed gripper opening (0..1) that counts as open

static int success(const nfp_task* t) {
  handover_ids h = handover_lookup(t->m);
  double bottom[3];
  box_bottom(bottom, t->d, h.box);
  const double* pad = t->d->mocap_pos + 3 * h.mocap;
  if (mju_abs(bottom[0] - pad[0]) >= SUCCESS_XY || mju_abs(bottom[1] - pad[1]) >= SUCCESS_XY ||
      mju_abs(bottom[2] - (pad[2] + PAD_HALF_Z)) >= SUCCESS_Z) {
    return 0;
  }
  double q[NFP_NJ];
  nfp_task_observe(t, q, NULL);
  return q[nfp_rig_grip_slot(NFP_RIGHT)] > GRIP_OPEN;
}

// Box position (3) and quaternion (4, w x y z), then the pad's position (3).
static int object_state(const nfp_task* t, double* out, int cap) {
  handover_ids h = handover_lookup(t->m);
  if (cap < 10) {
    return nfp_error_set("handover_block object state needs 10 numbers, got room for %d", cap);
  }
  memcpy(out, t->d->qpos + h.qadr, 7 * sizeof(double));
  mju_copy3(out + 7, t->d->mocap_pos + 3 * h.mocap);
  return 10;
}

const nfp_task_def nfp_task_handover_block = {
  .name = "handover_block",
  .mjcf = "handover_block.xml",
  .summary = "hand the tall box from the left arm to the right and stand it on the pad "
             "(box x -0.25..-0.05, y 0..0.25; pad x 0.1..0.25, y 0.15..0.2)",
  .step_cap = 800,
  .state_size = sizeof(handover_state),
  .check = check,
  .reset = reset,
  .expert = expert,
  .expert_done = nfp_phased_expert_done,
  .expert_phase = nfp_phased_expert_phase,
  .success = success,
  .object_state = object_state,
};
