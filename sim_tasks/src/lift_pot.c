// Lift Pot: grasp the pot by its two handles with both arms and lift it level.
#include <stddef.h>
#include <string.h>

#include "expert.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

#define POT_XY_RANGE 0.05          // pot centre x, y uniform in +-this (m)
#define POT_YAW_RANGE (mjPI / 8)   // pot yaw uniform in +-this (rad)
#define PREGRASP_HEIGHT 0.08       // pre-grasp: this far above the handle (m)
#define LIFT_HEIGHT 0.12           // how far the expert lifts (m)

// Expert phases, in order (as RoboTwin's script), and their control steps.
enum { CLOSE_HALF, PREGRASP, APPROACH, GRASP, LIFT, HOLD, DONE, NPHASE };
static const char* const kPhaseName[NPHASE] = {"close_half", "pregrasp", "approach", "grasp",
                                               "lift",       "hold",     "done"};
static const int kPhaseSteps[NPHASE] = {6, 30, 15, 10, 30, 15, 1};

typedef struct lift_pot_state_ {
  nfp_phased expert;       // first: nfp_phased_expert_done/_phase read it
  double rest_z;           // pot height after placement (m)
} lift_pot_state;
_Static_assert(offsetof(lift_pot_state, expert) == 0, "the task state starts with its nfp_phased");

typedef struct pot_ids_ {
  int body, qadr, handle_site[2];
} pot_ids;

static pot_ids pot_lookup(const mjModel* m) {
  pot_ids p;
  p.body = mj_name2id(m, mjOBJ_BODY, "pot");
  p.qadr = -1;
  if (p.body >= 0 && m->body_jntnum[p.body] > 0) p.qadr = m->jnt_qposadr[m->body_jntadr[p.body]];
  p.handle_site[NFP_LEFT] = mj_name2id(m, mjOBJ_SITE, "handle_left");
  p.handle_site[NFP_RIGHT] = mj_name2id(m, mjOBJ_SITE, "handle_right");
  return p;
}

static int check(const mjModel* m) {
  pot_ids p = pot_lookup(m);
  if (p.body < 0 || m->body_jntnum[p.body] != 1 ||
      m->jnt_type[m->body_jntadr[p.body]] != mjJNT_FREE) {
    return nfp_error_set("lift_pot needs a body 'pot' with one free joint");
  }
  if (p.handle_site[0] < 0 || p.handle_site[1] < 0) {
    return nfp_error_set("lift_pot needs sites 'handle_left' and 'handle_right'");
  }
  return 0;
}

static void reset(nfp_task* t, nfp_rng* rng) {
  lift_pot_state* s = t->state;
  pot_ids p = pot_lookup(t->m);
  double* q = t->d->qpos + p.qadr;   // x y z, quaternion w x y z
  q[0] += nfp_rng_range(rng, -POT_XY_RANGE, POT_XY_RANGE);
  q[1] += nfp_rng_range(rng, -POT_XY_RANGE, POT_XY_RANGE);
  double yaw = nfp_rng_range(rng, -POT_YAW_RANGE, POT_YAW_RANGE);
  q[3] = mju_cos(yaw / 2), q[4] = 0, q[5] = 0, q[6] = mju_sin(yaw / 2);
  s->rest_z = q[2];
}

// Phase set-up: where each arm goes and what its gripper does.
static void begin_phase(nfp_task* t) {
  lift_pot_state* s = t->state;
  pot_ids p = pot_lookup(t->m);
  const double* pm = t->d->xmat + 9 * p.body;
  double yaw = mju_atan2(pm[3], pm[0]);   // the pot's local x in the world
  int phase = s->expert.phase, n = kPhaseSteps[phase];
  for (int a = 0; a < 2; a++) {
    nfp_arm_plan* arm = &s->expert.plan[a];
    const double* handle = t->d->site_xpos + 3 * p.handle_site[a];
    nfp_pose pose;
    switch (phase) {
      case CLOSE_HALF:   // fingers half closed fit past the handle and shorten the grasp
        nfp_plan_grip(arm, 0.5, n);
        break;
      case PREGRASP: {   // above the handle, fingers across it
        double above[3] = {handle[0], handle[1], handle[2] + PREGRASP_HEIGHT};
        nfp_pose_topdown(&pose, t, a, above, yaw + mjPI / 2);
        nfp_plan_move(arm, &pose, 0.5, n);
        break;
      }
      case APPROACH:     // straight down onto the handle
        nfp_pose_topdown(&pose, t, a, handle, yaw + mjPI / 2);
        nfp_plan_move(arm, &pose, 0.5, n);
        break;
      case GRASP:
        nfp_plan_grip(arm, 0.0, n);
        break;
      case LIFT:         // both arms rise on the same schedule: the pot stays level
        nfp_plan_lift(arm, LIFT_HEIGHT, 0.0, n);
        break;
      default:           // HOLD, DONE: stay put, gripper closed
        nfp_plan_grip(arm, 0.0, n);
        break;
    }
  }
}

static const nfp_phase_script kScript = {
  .nphase = NPHASE, .names = kPhaseName, .begin = begin_phase,
};

static void expert(nfp_task* t, double target[NFP_NJ]) {
  lift_pot_state* s = t->state;
  nfp_phased_step(&s->expert, t, target, &kScript);
}

// Success, with thresholds as RoboTwin's check adapted to this rig.
#define SUCCESS_RISE 0.08      // pot centre at least 8 cm above its rest height
#define SUCCESS_GRIP 0.03      // each grasp site within 3 cm of its handle's grasp point
#define SUCCESS_UPRIGHT 0.8    // pot z axis . world z (about 37 degrees of tilt)

static int success(const nfp_task* t) {
  const lift_pot_state* s = t->state;
  pot_ids p = pot_lookup(t->m);
  const mjData* d = t->d;
  if (d->xpos[3 * p.body + 2] - s->rest_z < SUCCESS_RISE) return 0;
  if (d->xmat[9 * p.body + 8] < SUCCESS_UPRIGHT) return 0;
  for (int a = 0; a < 2; a++) {
    double diff[3];
    mju_sub3(diff, d->site_xpos + 3 * t->rig.grasp_site[a], d->site_xpos + 3 * p.handle_site[a]);
    if (mju_norm3(diff) > SUCCESS_GRIP) return 0;
  }
  return 1;
}

// Pot position (3) and quaternion (4, w x y z).
static int object_state(const nfp_task* t, double* out, int cap) {
  pot_ids p = pot_lookup(t->m);
  if (cap < 7) return nfp_error_set("lift_pot object state needs 7 numbers, got room for %d", cap);
  memcpy(out, t->d->qpos + p.qadr, 7 * sizeof(double));
  return 7;
}

// The pot is symmetric across its own y-z plane (a handle each side) and so is its
// set-up range; the arms swap handles.
static int mirror_object(double* out, const double* in, int n) {
  if (n != 7) return nfp_error_set("lift_pot object state has 7 numbers, got %d", n);
  nfp_pose_mirror(out, in);
  return 0;
}

const nfp_task_def nfp_task_lift_pot = {
  .name = "lift_pot",
  .mjcf = "lift_pot.xml",
  .summary = "grasp the pot by both handles and lift it level (pot x,y +-5 cm, yaw +-pi/8)",
  .step_cap = 400,
  .state_size = sizeof(lift_pot_state),
  .check = check,
  .reset = reset,
  .expert = expert,
  .expert_done = nfp_phased_expert_done,
  .expert_phase = nfp_phased_expert_phase,
  .success = success,
  .object_state = object_state,
  .mirror_object = mirror_object,
  .mirror_by_default = 1,
};
