// Stack Block Two: the arm on each block's side puts block 1 on the centre mark
// and block 2 on top of it (RoboTwin 2.0's stack_blocks_two, adapted to this rig).
//
// Adaptations: RoboTwin's arms stand side by side facing +y, ours face each other
// along x. Its x (left/right of the table) maps onto our x unchanged, so "the arm on
// the block's side" is the left arm for x < 0, the right arm otherwise, i.e. the
// nearer one; its y (depth) maps onto our y unchanged, which keeps every draw inside
// both arms' reach and the head camera's view. The centre mark is RoboTwin's
// block-1 target (0, -0.13).
#include <stddef.h>
#include <string.h>

#include "expert.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

#define TABLE_Z 0.74
#define BLOCK_HALF 0.025            // cube half size (m)
#define BLOCK_X_RANGE 0.28          // block x uniform in +-this ...
#define BLOCK_X_MIN 0.05            // ... but |x| >= this (one arm's side)
#define BLOCK_Y_LO (-0.08)          // block y uniform in [lo, hi]
#define BLOCK_Y_HI 0.05
#define BLOCK_YAW_RANGE 0.75        // block yaw uniform in +-this (rad)
#define BLOCK_GAP 0.1               // blocks at least this far apart (m, x-y)
#define TARGET_X 0.0                // centre mark: where block 1 goes
#define TARGET_Y (-0.13)
#define TARGET_CLEAR 0.15           // blocks start at least this far from the mark
#define PREGRASP_HEIGHT 0.09        // pre-grasp: this far above the grasp (RoboTwin)
#define GRASP_ABOVE_CENTRE 0.005    // grasp site above the cube centre: fingertips clear the table
#define LIFT_HEIGHT 0.07            // lift after the grasp and after the release
#define PLACE_DROP 0.003            // release this far above the resting height

// Expert phases per block, in order; the script plays them for block 1, then block 2.
enum { PREGRASP, APPROACH, GRASP, LIFT, CARRY, PLACE, RELEASE, RETREAT, NSUB };
#define DONE (2 * NSUB)
static const char* const kPhaseName[DONE + 1] = {
  "pregrasp_1", "approach_1", "grasp_1", "lift_1", "carry_1", "place_1", "release_1",
  "retreat_1",  "pregrasp_2", "approach_2", "grasp_2", "lift_2", "carry_2", "place_2",
  "release_2",  "retreat_2",  "done"};
static const int kSubSteps[NSUB] = {30, 15, 8, 12, 30, 15, 8, 12};

typedef struct stack_state_ {
  nfp_phased expert;        // first: nfp_phased_expert_done/_phase read it
  int arm[2];               // arm that moves block k
  double offset[3];         // held block centre minus the commanded grasp site
  double place[3];          // where the held block's centre goes
} stack_state;
_Static_assert(offsetof(stack_state, expert) == 0, "the task state starts with its nfp_phased");

typedef struct block_ids_ {
  int body[2], geom[2], qadr[2];
} block_ids;

static block_ids block_lookup(const mjModel* m) {
  block_ids b;
  const char* name[2] = {"block1", "block2"};
  for (int k = 0; k < 2; k++) {
    b.body[k] = mj_name2id(m, mjOBJ_BODY, name[k]);
    b.geom[k] = mj_name2id(m, mjOBJ_GEOM, name[k]);
    b.qadr[k] = -1;
    if (b.body[k] >= 0 && m->body_jntnum[b.body[k]] == 1) {
      b.qadr[k] = m->jnt_qposadr[m->body_jntadr[b.body[k]]];
    }
  }
  return b;
}

static int check(const mjModel* m) {
  block_ids b = block_lookup(m);
  for (int k = 0; k < 2; k++) {
    if (b.qadr[k] < 0 || m->jnt_type[m->body_jntadr[b.body[k]]] != mjJNT_FREE || b.geom[k] < 0) {
      return nfp_error_set("stack_block_two needs bodies 'block1', 'block2' with one free joint "
                           "and geoms of the same names");
    }
  }
  return 0;
}

// Distance in the table plane.
static double plane_dist(double x0, double y0, double x1, double y1) {
  return mju_sqrt((x0 - x1) * (x0 - x1) + (y0 - y1) * (y0 - y1));
}

static void reset(nfp_task* t, nfp_rng* rng) {
  stack_state* s = t->state;
  block_ids b = block_lookup(t->m);
  double xy[2][2];
  for (int k = 0; k < 2; k++) {
    // Rejection sampling as RoboTwin: off the centre line, clear of the mark and
    // of the other block. The accepted region is most of the box, so this ends fast.
    for (;;) {
      double x = nfp_rng_range(rng, -BLOCK_X_RANGE, BLOCK_X_RANGE);
      double y = nfp_rng_range(rng, BLOCK_Y_LO, BLOCK_Y_HI);
      int ok = mju_abs(x) >= BLOCK_X_MIN && plane_dist(x, y, TARGET_X, TARGET_Y) >= TARGET_CLEAR;
      if (ok && k == 1) ok = plane_dist(x, y, xy[0][0], xy[0][1]) >= BLOCK_GAP;
      if (ok) {
        xy[k][0] = x, xy[k][1] = y;
        break;
      }
    }
    double yaw = nfp_rng_range(rng, -BLOCK_YAW_RANGE, BLOCK_YAW_RANGE);
    double* q = t->d->qpos + b.qadr[k];   // x y z, quaternion w x y z
    q[0] = xy[k][0], q[1] = xy[k][1], q[2] = TABLE_Z + BLOCK_HALF;
    q[3] = mju_cos(yaw / 2), q[4] = 0, q[5] = 0, q[6] = mju_sin(yaw / 2);
    s->arm[k] = xy[k][0] < 0 ? NFP_LEFT : NFP_RIGHT;   // the nearer arm
  }
}

// A cube looks the same every quarter turn: fold its yaw into [-pi/4, pi/4).
static double quarter_yaw(const mjData* d, int body) {
  const double* r = d->xmat + 9 * body;
  double yaw = mju_atan2(r[3], r[0]);
  double q = mjPI / 2;
  return yaw - q * mju_round(yaw / q);
}

static void begin_phase(nfp_task* t) {
  stack_state* s = t->state;
  block_ids b = block_lookup(t->m);
  const mjData* d = t->d;
  int phase = s->expert.phase, k = phase / NSUB, sub = phase % NSUB;
  int n = phase < DONE ? kSubSteps[sub] : 1;
  nfp_phased_hold(&s->expert, n);   // arms that do not move this phase stay put
  if (phase == DONE) return;

  int a = s->arm[k];
  nfp_arm_plan* p = &s->expert.plan[a];
  const double* block = d->xpos + 3 * b.body[k];
  nfp_pose pose;
  double pos[3];
  switch (sub) {
    case PREGRASP:   // above the block, fingers across two faces; when the arms switch,
                     // the first one goes home meanwhile
      if (k == 1 && s->arm[1] != s->arm[0]) {
        double home[NFP_NJ];
        nfp_rig_home(home);
        nfp_plan_joints(&s->expert.plan[1 - a], home + nfp_rig_slot(1 - a, 0), 1.0, n);
      }
      mju_copy3(pos, block);
      pos[2] += GRASP_ABOVE_CENTRE + PREGRASP_HEIGHT;
      nfp_pose_topdown(&pose, t, a, pos, mjPI / 2 + quarter_yaw(d, b.body[k]));
      nfp_plan_move(p, &pose, 1.0, n);
      break;
    case APPROACH:
      pose = p->pose;
      mju_copy3(pose.pos, block);
      pose.pos[2] += GRASP_ABOVE_CENTRE;
      nfp_plan_move(p, &pose, 1.0, n);
      break;
    case GRASP:
      nfp_plan_grip(p, 0.0, n);
      break;
    case LIFT:
      nfp_plan_lift(p, LIFT_HEIGHT, 0.0, n);
      break;
    case CARRY:      // above the place point at lift height; aim with the block's measured offset
      if (k == 0) {
        s->place[0] = TARGET_X, s->place[1] = TARGET_Y, s->place[2] = TABLE_Z + BLOCK_HALF;
      } else {
        mju_copy3(s->place, d->xpos + 3 * b.body[0]);
        s->place[2] += 2 * BLOCK_HALF;
      }
      s->place[2] += PLACE_DROP;
      mju_sub3(s->offset, block, p->pose.pos);
      pose = p->pose;
      mju_sub3(pose.pos, s->place, s->offset);
      pose.pos[2] += LIFT_HEIGHT;
      nfp_plan_move(p, &pose, 0.0, n);
      break;
    case PLACE:
      pose = p->pose;
      mju_sub3(pose.pos, s->place, s->offset);
      nfp_plan_move(p, &pose, 0.0, n);
      break;
    case RELEASE:
      nfp_plan_grip(p, 1.0, n);
      break;
    case RETREAT:
      nfp_plan_lift(p, LIFT_HEIGHT, 1.0, n);
      break;
  }
}

static const nfp_phase_script kScript = {
  .nphase = DONE + 1, .names = kPhaseName, .begin = begin_phase,
};

static void expert(nfp_task* t, double target[NFP_NJ]) {
  stack_state* s = t->state;
  nfp_phased_step(&s->expert, t, target, &kScript);
}

// Success as RoboTwin's check: block 2 sits on block 1 within these tolerances and
// both grippers are open (let go).
static const double kStackTol[3] = {0.025, 0.025, 0.012};   // |block2 - block1 - [0,0,0.05]| (m)
#define GRIP_OPEN 0.8   // observed gripper opening (0..1) that counts as open

static int success(const nfp_task* t) {
  block_ids b = block_lookup(t->m);
  const double* p1 = t->d->xpos + 3 * b.body[0];
  const double* p2 = t->d->xpos + 3 * b.body[1];
  for (int i = 0; i < 3; i++) {
    double want = p1[i] + (i == 2 ? 2 * BLOCK_HALF : 0);
    if (mju_abs(p2[i] - want) >= kStackTol[i]) return 0;
  }
  double q[NFP_NJ];
  nfp_task_observe(t, q, NULL);
  return q[nfp_rig_grip_slot(NFP_LEFT)] > GRIP_OPEN && q[nfp_rig_grip_slot(NFP_RIGHT)] > GRIP_OPEN;
}

// Block 1 then block 2: position (3) and quaternion (4, w x y z) each.
static int object_state(const nfp_task* t, double* out, int cap) {
  block_ids b = block_lookup(t->m);
  if (cap < 14) {
    return nfp_error_set("stack_block_two object state needs 14 numbers, got room for %d", cap);
  }
  for (int k = 0; k < 2; k++) memcpy(out + 7 * k, t->d->qpos + b.qadr[k], 7 * sizeof(double));
  return 14;
}

// Mirrored, each block stays itself: the set-up range, the arm choice (by the block's
// side), the centre mark and the success are all symmetric in x.
static int mirror_object(double* out, const double* in, int n) {
  if (n != 14) return nfp_error_set("stack_block_two object state has 14 numbers, got %d", n);
  for (int k = 0; k < 2; k++) nfp_pose_mirror(out + 7 * k, in + 7 * k);
  return 0;
}

const nfp_task_def nfp_task_stack_block_two = {
  .name = "stack_block_two",
  .mjcf = "stack_block_two.xml",
  .summary = "stack block 2 on block 1 at the centre mark (5 cm cubes, x +-0.28, y -0.08..0.05, "
             "yaw +-0.75)",
  .step_cap = 800,
  .state_size = sizeof(stack_state),
  .check = check,
  .reset = reset,
  .expert = expert,
  .expert_done = nfp_phased_expert_done,
  .expert_phase = nfp_phased_expert_phase,
  .success = success,
  .object_state = object_state,
  .mirror_object = mirror_object,
  .mirror_by_default = 1,   // single 20 % -> 57 % on 30 trials (docs/experiments.md)
};
