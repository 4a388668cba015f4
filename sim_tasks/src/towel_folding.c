// Towel Folding: pinch the two near corners of a cloth (a 2-D flex) with both
// arms, lift them, fold the towel in half onto the two far corners and let go.
//
// Towel frame: the flat towel's own x (from the left arm's side to the right
// arm's) and y (from the near edge, y < 0, to the far edge). The left arm
// folds the near-left corner onto the far-left one, the right arm the
// near-right onto the far-right; the fold line runs along x, half way in y.
#include <string.h>

#include "motion.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

#define TOWEL_XY_RANGE 0.03        // towel centre x, y uniform in +-this (m)
#define TOWEL_YAW_RANGE 0.15       // towel yaw uniform in +-this (rad, about 8.6 degrees)

// Pinch geometry. The fingers straddle a corner with the closing axis across
// the corner's bisector, so both fingertips come down on the bare table beside
// the cloth and squeeze the corner between them.
// Grasp point this far in from the corner along the bisector (m). The MJCF may set
// it (custom numeric "towel_pinch_inset") so the pinch can be tuned to a cloth
// without a rebuild; the 9 x 9 cloth folds at 10-14 mm (towel_folding.xml).
#define PINCH_INSET 0.012
#define PINCH_INSET_NAME "towel_pinch_inset"
#define FINGERTIP_DROP 0.02        // fingertips reach this far below the grasp site (arm.xml)
#define FINGERTIP_CLEAR 0.002      // fingertips this far above the table while pinching (m)
// Fingers closed to a gap of about two cloth layers: the pinched corner
// folds in two between them. Tighter would press the layers into each other
// and the contact would fling the corner when let go; looser slips. The MJCF may
// set it too (custom numeric "towel_pinch_grip", gripper command 0..1).
#define PINCH_GRIP 0.04            // gripper command while pinching (gap 11 mm)
#define PINCH_GRIP_NAME "towel_pinch_grip"
#define PREGRASP_HEIGHT 0.06       // pre-grasp: this far above the pinch pose (m)
#define PLACE_CLEAR 0.004          // fingertips this far above the folded stack (m)
#define PLACE_BACK 0.008           // place point this far short of the partner, towards the fold (m)
#define RETRACT_HEIGHT 0.10        // straight up after letting go (m)

// Expert phases, in order, and their control steps (16.7 Hz).
// Once let go, the corner that was doubled up between the fingers springs a few cm
// up and out, pushed by the cloth's own contacts (no finger touches it by then); it
// drops back onto its partner within about 0.3 s, so the script rests before it is
// done and a recorded demo ends on the finished fold.
enum { PREGRASP, APPROACH, PINCH, FOLD, SETTLE, RELEASE, RETRACT, REST, DONE, NPHASE };
static const char* const kPhaseName[NPHASE] = {"pregrasp", "approach", "pinch",   "fold", "settle",
                                               "release",  "retract",  "rest",    "done"};
static const int kPhaseSteps[NPHASE] = {25, 12, 10, 40, 8, 10, 20, 12, 1};

// Corners in towel-frame order; each arm folds its near corner onto its far one.
enum { NEAR_LEFT, NEAR_RIGHT, FAR_LEFT, FAR_RIGHT, NCORNER };
static const int kHeld[2] = {NEAR_LEFT, NEAR_RIGHT};
static const int kPartner[2] = {FAR_LEFT, FAR_RIGHT};

typedef struct towel_ids_ {
  int flex;               // flex id of "towel"
  int vertadr, vertnum;   // its vertices in flexvert_xpos
  int corner[NCORNER];    // vertex index (within the flex) of each corner
  double radius;          // half the cloth thickness (m)
} towel_ids;

typedef struct towel_state_ {
  int started;
  int phase;
  double table_z;              // table top under the towel (m)
  double grip;                 // gripper command while pinching
  double grasp[2][3];          // pinch point of each arm's corner, flat towel
  double place[2][3];          // where each grasp point goes: over the partner corner
  double yaw[2];               // finger closing direction of each pinch (rad)
  nfp_arm_plan arm[2];
} towel_state;

// Find the towel and its corners from the reference grid: flex_vert0 holds
// the vertices scaled onto [0, 1]^2, so a corner has both coordinates at 0 or 1.
static int towel_lookup(towel_ids* w, const mjModel* m) {
  memset(w, 0, sizeof(*w));
  w->flex = mj_name2id(m, mjOBJ_FLEX, "towel");
  if (w->flex < 0) return nfp_error_set("towel_folding needs a flex named 'towel'");
  if (m->flex_dim[w->flex] != 2) return nfp_error_set("the 'towel' flex must be 2-D (dim=2)");
  w->vertadr = m->flex_vertadr[w->flex];
  w->vertnum = m->flex_vertnum[w->flex];
  w->radius = m->flex_radius[w->flex];
  for (int c = 0; c < NCORNER; c++) w->corner[c] = -1;
  for (int v = 0; v < w->vertnum; v++) {
    const double* u = m->flex_vert0 + 3 * (w->vertadr + v);
    int hx = u[0] > 1 - 1e-6, lx = u[0] < 1e-6, hy = u[1] > 1 - 1e-6, ly = u[1] < 1e-6;
    if ((hx || lx) && (hy || ly)) w->corner[(ly ? 0 : 2) + (hx ? 1 : 0)] = v;
  }
  for (int c = 0; c < NCORNER; c++) {
    if (w->corner[c] < 0) return nfp_error_set("the 'towel' flex has no grid corner %d", c);
  }
  return 0;
}

// A pinch setting: the MJCF's custom numeric `name`, else `dflt`; -1 (error set) if the
// numeric is not one number in [lo, hi]. Read once per fold, not per step.
static double pinch_setting(const mjModel* m, const char* name, double dflt, double lo,
                            double hi) {
  int n = mj_name2id(m, mjOBJ_NUMERIC, name);
  if (n < 0) return dflt;
  double v = m->numeric_size[n] == 1 ? m->numeric_data[m->numeric_adr[n]] : -1;
  if (v >= lo && v <= hi) return v;
  nfp_error_set("the custom numeric '%s' must be one number in [%g, %g]", name, lo, hi);
  return -1;
}

static double pinch_inset(const mjModel* m) {   // metres
  return pinch_setting(m, PINCH_INSET_NAME, PINCH_INSET, 0.001, 0.1);
}

static double pinch_grip(const mjModel* m) {    // gripper command, 0 = closed
  return pinch_setting(m, PINCH_GRIP_NAME, PINCH_GRIP, 0, 1);
}

static const double* vert(const nfp_task* t, const towel_ids* w, int v) {
  return t->d->flexvert_xpos + 3 * (w->vertadr + v);
}

static int check(const mjModel* m) {
  towel_ids w;
  if (towel_lookup(&w, m) || pinch_inset(m) < 0 || pinch_grip(m) < 0) return -1;
  // reset() places the towel through its vertex bodies' three slide joints.
  for (int v = 0; v < w.vertnum; v++) {
    int b = m->flex_vertbodyid[w.vertadr + v];
    if (m->body_jntnum[b] != 3) {
      return nfp_error_set("towel vertex %d must move on 3 slide joints (flexcomp dof=\"full\")", v);
    }
    for (int j = m->body_jntadr[b]; j < m->body_jntadr[b] + 3; j++) {
      if (m->jnt_type[j] != mjJNT_SLIDE) {
        return nfp_error_set("towel vertex %d must move on slide joints", v);
      }
    }
  }
  return 0;
}

// Towel-frame axes of the flat towel, from its corners (unit vectors in xy).
static void towel_axes(double ex[3], double ey[3], const nfp_task* t, const towel_ids* w) {
  const double* c[NCORNER];
  for (int k = 0; k < NCORNER; k++) c[k] = vert(t, w, w->corner[k]);
  for (int i = 0; i < 3; i++) {
    ex[i] = (c[NEAR_RIGHT][i] + c[FAR_RIGHT][i]) - (c[NEAR_LEFT][i] + c[FAR_LEFT][i]);
    ey[i] = (c[FAR_LEFT][i] + c[FAR_RIGHT][i]) - (c[NEAR_LEFT][i] + c[NEAR_RIGHT][i]);
  }
  ex[2] = ey[2] = 0;
  mju_normalize3(ex);
  mju_normalize3(ey);
}

// Move the flat towel by (dx, dy) and turn it by yaw about its centre, by
// setting every vertex's slide joints to its displacement from rest.
static void reset(nfp_task* t, nfp_rng* rng) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  towel_ids w;
  towel_lookup(&w, m);
  double dx = nfp_rng_range(rng, -TOWEL_XY_RANGE, TOWEL_XY_RANGE);
  double dy = nfp_rng_range(rng, -TOWEL_XY_RANGE, TOWEL_XY_RANGE);
  double yaw = nfp_rng_range(rng, -TOWEL_YAW_RANGE, TOWEL_YAW_RANGE);
  double cy = mju_cos(yaw), sy = mju_sin(yaw);

  mj_kinematics(m, d);   // vertex bodies at rest: qpos0 of the towel is all zeros
  double centre[3] = {0};
  for (int v = 0; v < w.vertnum; v++) {
    mju_addTo3(centre, d->xpos + 3 * m->flex_vertbodyid[w.vertadr + v]);
  }
  mju_scl3(centre, centre, 1.0 / w.vertnum);
  for (int v = 0; v < w.vertnum; v++) {
    int b = m->flex_vertbodyid[w.vertadr + v];
    const double* rest = d->xpos + 3 * b;
    double rx = rest[0] - centre[0], ry = rest[1] - centre[1];
    double delta[3] = {cy * rx - sy * ry - rx + dx, sy * rx + cy * ry - ry + dy, 0};
    for (int j = m->body_jntadr[b]; j < m->body_jntadr[b] + 3; j++) {
      d->qpos[m->jnt_qposadr[j]] = mju_dot3(delta, d->xaxis + 3 * j);
    }
  }
}

// Plan the whole fold once, from the flat towel after it settled.
static void plan_fold(nfp_task* t, towel_state* s) {
  towel_ids w;
  towel_lookup(&w, t->m);
  double ex[3], ey[3];
  towel_axes(ex, ey, t, &w);
  double inset = pinch_inset(t->m);   // check() refused bad settings
  s->grip = pinch_grip(t->m);
  s->table_z = vert(t, &w, w.corner[NEAR_LEFT])[2] - w.radius;
  for (int a = 0; a < 2; a++) {
    // Inward bisector of a corner: +-ex +-ey pointing into the towel.
    double sx = a == NFP_LEFT ? 1 : -1;
    double in_near[3], in_far[3];
    for (int i = 0; i < 3; i++) {
      in_near[i] = (sx * ex[i] + ey[i]) * 0.70710678118654752;
      in_far[i] = (sx * ex[i] - ey[i]) * 0.70710678118654752;
    }
    const double* held = vert(t, &w, w.corner[kHeld[a]]);
    const double* partner = vert(t, &w, w.corner[kPartner[a]]);
    mju_addScl3(s->grasp[a], held, in_near, inset);
    s->grasp[a][2] = s->table_z + FINGERTIP_CLEAR + FINGERTIP_DROP;
    // Folded over, the held corner lands upside down on its partner: the pinch
    // point keeps its inset, now along the partner's bisector.
    mju_addScl3(s->place[a], partner, in_far, inset);
    mju_addScl3(s->place[a], s->place[a], ey, -PLACE_BACK);
    s->place[a][2] = s->table_z + 4 * w.radius + PLACE_CLEAR + FINGERTIP_DROP;
    // Fingers close across the bisector.
    s->yaw[a] = mju_atan2(in_near[1], in_near[0]) + mjPI / 2;
  }
}

static void begin_phase(nfp_task* t, towel_state* s) {
  int n = kPhaseSteps[s->phase];
  for (int a = 0; a < 2; a++) {
    nfp_arm_plan* arm = &s->arm[a];
    nfp_pose pose;
    double p[3];
    switch (s->phase) {
      case PREGRASP:   // above the corner, open, fingers across the bisector
        mju_copy3(p, s->grasp[a]);
        p[2] += PREGRASP_HEIGHT;
        nfp_pose_topdown(&pose, t, a, p, s->yaw[a]);
        nfp_plan_move(arm, &pose, 1.0, n);
        break;
      case APPROACH:   // straight down beside the corner
        nfp_pose_topdown(&pose, t, a, s->grasp[a], s->yaw[a]);
        nfp_plan_move(arm, &pose, 1.0, n);
        break;
      case PINCH:
      case FOLD:       // fold_step() drives the arc; the plan only keeps the gripper shut
      case SETTLE:     // let the laid-down half come to rest before letting go
        nfp_plan_grip(arm, s->grip, n);
        break;
      case RELEASE:
        nfp_plan_grip(arm, 1.0, n);
        break;
      case RETRACT:
        nfp_plan_lift(arm, RETRACT_HEIGHT, 1.0, n);
        break;
      default:         // REST, DONE: hold still, open
        nfp_plan_grip(arm, 1.0, n);
        break;
    }
  }
}

// One control step of the fold: the pinch point swings over the fold line on
// a half circle from its grasp to its place point, so the lifted half stays
// stretched out from the fold line all the way over and lands flat.
static int fold_step(nfp_task* t, towel_state* s, int a) {
  nfp_arm_plan* arm = &s->arm[a];
  if (arm->k >= arm->steps) return 1;
  arm->k++;
  double u = (double)arm->k / arm->steps;
  double theta = mjPI * u * u * (3 - 2 * u);   // smooth start and stop
  double centre[3], half[3];
  for (int i = 0; i < 3; i++) centre[i] = 0.5 * (s->grasp[a][i] + s->place[a][i]);
  mju_sub3(half, s->grasp[a], centre);
  half[2] = 0;
  double p[3];
  mju_addScl3(p, centre, half, mju_cos(theta));
  p[2] = s->grasp[a][2] + (s->place[a][2] - s->grasp[a][2]) * theta / mjPI +
         mju_norm3(half) * mju_sin(theta);
  nfp_pose_topdown(&arm->pose, t, a, p, s->yaw[a]);
  nfp_ik_solve(arm->q, t, a, &arm->pose);
  return arm->k >= arm->steps;
}

static void expert(nfp_task* t, double target[NFP_NJ]) {
  towel_state* s = t->state;
  if (!s->started) {
    s->started = 1;
    s->phase = PREGRASP;
    plan_fold(t, s);
    for (int a = 0; a < 2; a++) nfp_plan_start(&s->arm[a], t, a);
    begin_phase(t, s);
  }
  int done = 1;
  for (int a = 0; a < 2; a++) {
    done &= s->phase == FOLD ? fold_step(t, s, a) : nfp_plan_step(&s->arm[a], t, a);
  }
  for (int a = 0; a < 2; a++) nfp_plan_write(target, &s->arm[a], a);
  if (done && s->phase < DONE) {
    s->phase++;
    begin_phase(t, s);
  }
}

static int expert_done(const nfp_task* t) {
  const towel_state* s = t->state;
  return s->started && s->phase == DONE;
}

static const char* expert_phase(const nfp_task* t) {
  const towel_state* s = t->state;
  return s->started ? kPhaseName[s->phase] : "";
}

// Area of the convex hull of the vertices' xy (monotone chain).
static double footprint(const nfp_task* t, const towel_ids* w) {
  enum { MAXV = 1024 };
  double p[MAXV][2], h[2 * MAXV][2];
  int n = w->vertnum < MAXV ? w->vertnum : MAXV;
  for (int v = 0; v < n; v++) p[v][0] = vert(t, w, v)[0], p[v][1] = vert(t, w, v)[1];
  // Insertion sort by x then y: a few hundred points at most.
  for (int i = 1; i < n; i++) {
    double x = p[i][0], y = p[i][1];
    int j = i - 1;
    for (; j >= 0 && (p[j][0] > x || (p[j][0] == x && p[j][1] > y)); j--) {
      p[j + 1][0] = p[j][0], p[j + 1][1] = p[j][1];
    }
    p[j + 1][0] = x, p[j + 1][1] = y;
  }
  int k = 0;
  for (int pass = 0; pass < 2; pass++) {
    int lo = k;
    for (int c = 0; c < n; c++) {
      int i = pass ? n - 1 - c : c;
      while (k >= lo + 2) {
        double cross = (h[k - 1][0] - h[k - 2][0]) * (p[i][1] - h[k - 2][1]) -
                       (h[k - 1][1] - h[k - 2][1]) * (p[i][0] - h[k - 2][0]);
        if (cross > 0) break;
        k--;
      }
      h[k][0] = p[i][0], h[k][1] = p[i][1], k++;
    }
    k--;   // the last point of each chain starts the other
  }
  double area = 0;
  for (int i = 0; i < k; i++) {
    int j = (i + 1) % k;
    area += h[i][0] * h[j][1] - h[j][0] * h[i][1];
  }
  return 0.5 * mju_abs(area);
}

// Success, measured on the cloth's vertices:
#define SUCCESS_CORNER 0.04      // each folded corner within 4 cm (3-D) of its partner
#define SUCCESS_FOOTPRINT 0.6    // xy convex-hull area at most 60 % of the flat towel's
#define SUCCESS_OPEN 0.5         // both grippers let go (observed opening above half)

static int success(const nfp_task* t) {
  const mjModel* m = t->m;
  towel_ids w;
  towel_lookup(&w, m);
  for (int a = 0; a < 2; a++) {
    double diff[3];
    mju_sub3(diff, vert(t, &w, w.corner[kHeld[a]]), vert(t, &w, w.corner[kPartner[a]]));
    if (mju_norm3(diff) > SUCCESS_CORNER) return 0;
  }
  // The flat towel's area from the model: flex_size holds the half extents at rest.
  const double* half = m->flex_size + 3 * w.flex;
  if (footprint(t, &w) > SUCCESS_FOOTPRINT * 4 * half[0] * half[1]) return 0;
  double q[NFP_NJ];
  nfp_task_observe(t, q, NULL);
  for (int a = 0; a < 2; a++) {
    if (q[a * (NFP_ARM_DOF + 1) + NFP_ARM_DOF] < SUCCESS_OPEN) return 0;
  }
  return 1;
}

// Corner positions (near-left, near-right, far-left, far-right; 4 x 3) and the
// centroid of all vertices (3).
static int object_state(const nfp_task* t, double* out, int cap) {
  towel_ids w;
  towel_lookup(&w, t->m);
  if (cap < 15) {
    return nfp_error_set("towel_folding object state needs 15 numbers, got room for %d", cap);
  }
  for (int c = 0; c < NCORNER; c++) mju_copy3(out + 3 * c, vert(t, &w, w.corner[c]));
  double* centroid = out + 12;
  mju_zero3(centroid);
  for (int v = 0; v < w.vertnum; v++) mju_addTo3(centroid, vert(t, &w, v));
  mju_scl3(centroid, centroid, 1.0 / w.vertnum);
  return 15;
}

// Mirrored, the left corners become the right ones (near-left <-> near-right,
// far-left <-> far-right); the set-up range and the fold are symmetric in x.
static int mirror_object(double* out, const double* in, int n) {
  if (n != 15) return nfp_error_set("towel_folding object state has 15 numbers, got %d", n);
  static const int kSwap[NCORNER + 1] = {NEAR_RIGHT, NEAR_LEFT, FAR_RIGHT, FAR_LEFT, NCORNER};
  for (int c = 0; c <= NCORNER; c++) {   // the four corners, then the centroid
    const double* p = in + 3 * kSwap[c];
    out[3 * c] = -p[0], out[3 * c + 1] = p[1], out[3 * c + 2] = p[2];
  }
  return 0;
}

const nfp_task_def nfp_task_towel_folding = {
  .name = "towel_folding",
  .mjcf = "towel_folding.xml",
  .summary = "pinch two corners of a cloth and fold it in half onto the other two "
             "(towel x,y +-3 cm, yaw +-0.15)",
  .step_cap = 400,
  .state_size = sizeof(towel_state),
  .check = check,
  .reset = reset,
  .expert = expert,
  .expert_done = expert_done,
  .expert_phase = expert_phase,
  .success = success,
  .object_state = object_state,
  .mirror_object = mirror_object,   // not by default: single 67 % -> 47 % on 30 trials
  // The success comes as the fingers open; the demos must also show them lifting
  // clear while the corner stays put (single 57 % -> 67 % on 30 trials).
  .demo_runs_on = 1,
};
