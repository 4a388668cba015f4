// Beat Block Hammer: the arm on the block's side picks the hammer up by its handle,
// lifts it and brings its head down onto the block (RoboTwin 2.0's
// beat_block_hammer, adapted to this rig).
//
// Adaptations: RoboTwin's arms stand side by side facing +y, ours face each other
// along x. Its x maps onto our x unchanged, so "the arm on the block's side" is the
// left arm for x < 0 and the right arm otherwise (the nearer one); its y maps onto
// our y unchanged. The hammer is built from boxes and lies flat with its handle
// along y, head at the +y end, which is the same grasp for either arm. RoboTwin's
// hammer sits at (0, -0.06); ours at (0, -0.23) so that its 8 cm wide head stays
// clear of every block draw (block y >= -0.05). The block is fixed, as RoboTwin's.
#include <stddef.h>
#include <string.h>

#include "expert.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

#define TABLE_Z 0.74
#define BLOCK_HALF 0.025            // cube half size (m)
#define BLOCK_X_RANGE 0.25          // block x uniform in +-this ...
#define BLOCK_X_MIN 0.05            // ... but |x| >= this (one arm's side)
#define BLOCK_Y_LO (-0.05)          // block y uniform in [lo, hi]
#define BLOCK_Y_HI 0.15
#define BLOCK_YAW_RANGE 0.5         // block yaw uniform in +-this (rad)
#define PREGRASP_HEIGHT 0.12        // pre-grasp: this far above the grasp (RoboTwin)
#define GRASP_ABOVE_SITE 0.012      // grasp this far above the handle's centre (fingertips
                                    // then clear the table)
#define LIFT_HEIGHT 0.07            // lift after the grasp (RoboTwin)
#define STRIKE_ABOVE 0.06           // head this far above the block before the strike (RoboTwin)
#define STRIKE_DEPTH 0.003          // aim the face this far into the block: it stays pressed on it

enum { PREGRASP, APPROACH, GRASP, LIFT, ALIGN, STRIKE, HOLD, DONE, NPHASE };
static const char* const kPhaseName[NPHASE] = {"pregrasp", "approach", "grasp", "lift",
                                               "align",    "strike",   "hold",  "done"};
static const int kPhaseSteps[NPHASE] = {30, 15, 8, 12, 30, 15, 10, 1};

typedef struct hammer_state_ {
  nfp_phased expert;        // first: nfp_phased_expert_done/_phase read it
  int arm;                  // the arm on the block's side
  double offset[3];         // striking face minus the commanded grasp site
} hammer_state;
_Static_assert(offsetof(hammer_state, expert) == 0, "the task state starts with its nfp_phased");

typedef struct hammer_ids_ {
  int hammer, qadr, head, grasp_site, face_site, block, block_geom, mocap;
} hammer_ids;

static hammer_ids hammer_lookup(const mjModel* m) {
  hammer_ids h;
  h.hammer = mj_name2id(m, mjOBJ_BODY, "hammer");
  h.qadr = -1;
  if (h.hammer >= 0 && m->body_jntnum[h.hammer] == 1) {
    h.qadr = m->jnt_qposadr[m->body_jntadr[h.hammer]];
  }
  h.head = mj_name2id(m, mjOBJ_GEOM, "hammer_head");
  h.grasp_site = mj_name2id(m, mjOBJ_SITE, "hammer_grasp");
  h.face_site = mj_name2id(m, mjOBJ_SITE, "hammer_face");
  h.block = mj_name2id(m, mjOBJ_BODY, "block");
  h.block_geom = mj_name2id(m, mjOBJ_GEOM, "block");
  h.mocap = h.block >= 0 ? m->body_mocapid[h.block] : -1;
  return h;
}

static int check(const mjModel* m) {
  hammer_ids h = hammer_lookup(m);
  if (h.qadr < 0 || m->jnt_type[m->body_jntadr[h.hammer]] != mjJNT_FREE || h.head < 0 ||
      h.grasp_site < 0 || h.face_site < 0) {
    return nfp_error_set("beat_block_hammer needs a body 'hammer' with one free joint, a geom "
                         "'hammer_head' and sites 'hammer_grasp', 'hammer_face'");
  }
  if (h.mocap < 0 || h.block_geom < 0) {
    return nfp_error_set("beat_block_hammer needs a mocap body 'block' with a geom 'block'");
  }
  return 0;
}

static void reset(nfp_task* t, nfp_rng* rng) {
  hammer_ids h = hammer_lookup(t->m);
  double x;
  do x = nfp_rng_range(rng, -BLOCK_X_RANGE, BLOCK_X_RANGE);
  while (mju_abs(x) < BLOCK_X_MIN);   // off the centre line: one arm's side
  double y = nfp_rng_range(rng, BLOCK_Y_LO, BLOCK_Y_HI);
  double yaw = nfp_rng_range(rng, -BLOCK_YAW_RANGE, BLOCK_YAW_RANGE);
  double* p = t->d->mocap_pos + 3 * h.mocap;
  double* q = t->d->mocap_quat + 4 * h.mocap;
  p[0] = x, p[1] = y, p[2] = TABLE_Z + BLOCK_HALF;
  q[0] = mju_cos(yaw / 2), q[1] = 0, q[2] = 0, q[3] = mju_sin(yaw / 2);
}

static void begin_phase(nfp_task* t) {
  hammer_state* s = t->state;
  hammer_ids h = hammer_lookup(t->m);
  const mjData* d = t->d;
  int n = kPhaseSteps[s->expert.phase];
  nfp_phased_hold(&s->expert, n);   // arms that do not move this phase stay put
  // The expert picks its arm from the scene it starts in, not from the set-up's draw.
  if (s->expert.phase == PREGRASP) s->arm = d->xpos[3 * h.block] < 0 ? NFP_LEFT : NFP_RIGHT;
  nfp_arm_plan* p = &s->expert.plan[s->arm];
  const double* grasp = d->site_xpos + 3 * h.grasp_site;
  const double* block = d->xpos + 3 * h.block;
  nfp_pose pose;
  double pos[3];
  switch (s->expert.phase) {
    case PREGRASP: {   // above the handle, fingers across it (closing along the hammer's x)
      const double* r = d->xmat + 9 * h.hammer;
      mju_copy3(pos, grasp);
      pos[2] += GRASP_ABOVE_SITE + PREGRASP_HEIGHT;
      nfp_pose_topdown(&pose, t, s->arm, pos, mju_atan2(r[3], r[0]));
      nfp_plan_move(p, &pose, 1.0, n);
      break;
    }
    case APPROACH:
      pose = p->pose;
      mju_copy3(pose.pos, grasp);
      pose.pos[2] += GRASP_ABOVE_SITE;
      nfp_plan_move(p, &pose, 1.0, n);
      break;
    case GRASP:
      nfp_plan_grip(p, 0.0, n);
      break;
    case LIFT:
      nfp_plan_lift(p, LIFT_HEIGHT, 0.0, n);
      break;
    case ALIGN:        // face above the block's top; aim with the face's measured offset
      mju_sub3(s->offset, d->site_xpos + 3 * h.face_site, p->pose.pos);
      pose = p->pose;
      mju_sub3(pose.pos, block, s->offset);
      pose.pos[2] += BLOCK_HALF + STRIKE_ABOVE;
      nfp_plan_move(p, &pose, 0.0, n);
      break;
    case STRIKE:       // straight down onto the block's top face
      pose = p->pose;
      mju_sub3(pose.pos, block, s->offset);
      pose.pos[2] += BLOCK_HALF - STRIKE_DEPTH;
      nfp_plan_move(p, &pose, 0.0, n);
      break;
    default:           // HOLD, DONE: keep the head on the block
      break;
  }
}

static const nfp_phase_script kScript = {
  .nphase = NPHASE, .names = kPhaseName, .begin = begin_phase,
};

static void expert(nfp_task* t, double target[NFP_NJ]) {
  hammer_state* s = t->state;
  nfp_phased_step(&s->expert, t, target, &kScript);
}

// Success as RoboTwin's check: the striking face is over the block within these
// tolerances in x and y, and the head touches the block.
#define SUCCESS_XY 0.02   // |face - block centre| in x and in y (m)

static int heads_touch(const nfp_task* t, const hammer_ids* h) {
  const mjData* d = t->d;
  for (int i = 0; i < d->ncon; i++) {
    int g1 = d->contact[i].geom[0], g2 = d->contact[i].geom[1];
    if ((g1 == h->head && g2 == h->block_geom) || (g1 == h->block_geom && g2 == h->head)) {
      return 1;
    }
  }
  return 0;
}

static int success(const nfp_task* t) {
  hammer_ids h = hammer_lookup(t->m);
  const double* face = t->d->site_xpos + 3 * h.face_site;
  const double* block = t->d->xpos + 3 * h.block;
  if (mju_abs(face[0] - block[0]) >= SUCCESS_XY || mju_abs(face[1] - block[1]) >= SUCCESS_XY) {
    return 0;
  }
  return heads_touch(t, &h);
}

// Hammer position (3) and quaternion (4, w x y z), then the block's.
static int object_state(const nfp_task* t, double* out, int cap) {
  hammer_ids h = hammer_lookup(t->m);
  if (cap < 14) {
    return nfp_error_set("beat_block_hammer object state needs 14 numbers, got room for %d", cap);
  }
  memcpy(out, t->d->qpos + h.qadr, 7 * sizeof(double));
  mju_copy3(out + 7, t->d->mocap_pos + 3 * h.mocap);
  mju_copy4(out + 10, t->d->mocap_quat + 4 * h.mocap);
  return 14;
}

// The hammer lies on the centre line and is symmetric across its own y-z plane (handle and
// head centred in x), so the mirrored set-up is the block mirrored, struck by the other arm.
static int mirror_object(double* out, const double* in, int n) {
  if (n != 14) return nfp_error_set("beat_block_hammer object state has 14 numbers, got %d", n);
  nfp_pose_mirror(out, in);
  nfp_pose_mirror(out + 7, in + 7);
  return 0;
}

const nfp_task_def nfp_task_beat_block_hammer = {
  .name = "beat_block_hammer",
  .mjcf = "beat_block_hammer.xml",
  .summary = "pick up the hammer and bring its head down onto the block (block x +-0.25, "
             "y -0.05..0.15, yaw +-0.5)",
  .step_cap = 400,
  .state_size = sizeof(hammer_state),
  .check = check,
  .reset = reset,
  .expert = expert,
  .expert_done = nfp_phased_expert_done,
  .expert_phase = nfp_phased_expert_phase,
  .success = success,
  .object_state = object_state,
  .mirror_object = mirror_object,   // for the camera recipe; the state policy is measured without
};
