// Checks shared by the task tests: open, registry, seeded resets, the expert's run.
#include "task_checks.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/error.h"

#define MAX_OBJECT_STATE 64   // room for any task's object state

static int warnings;

// MuJoCo reports a warning through this once per kind and mjData (later ones
// only bump d->warning), so a count of zero means none was raised anywhere.
static void count_warning(const char* msg) {
  warnings++;
  fprintf(stderr, "MuJoCo warning: %s\n", msg);
}

nfp_task* task_checks_open(const char* name) {
  mju_user_warning = count_warning;
  nfp_task* t = nfp_task_create(name, NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  return t;
}

int task_checks_teardown(void** state) {
  nfp_task_free(*state);
  return 0;
}

int task_checks_warnings(void) { return warnings; }

double task_checks_yaw(const double quat[4]) { return 2 * atan2(quat[3], quat[0]); }

void check_registered(const nfp_task* t, const char* name, int step_cap) {
  const nfp_task_def* def = nfp_task_find(name);
  assert_ptr_equal(def, t->def);
  assert_int_equal(def->step_cap, step_cap);
}

static void run_expert(nfp_task* t, int steps) {
  double target[NFP_NJ];
  for (int k = 0; k < steps; k++) {
    nfp_task_expert(t, target);
    nfp_task_step(t, target);
  }
}

void check_reset_deterministic(nfp_task* t, uint64_t seed, int steps, uint64_t other_seed,
                               int other_steps) {
  const int nq = t->m->nq;
  double qpos[2][nq], obj[2][MAX_OBJECT_STATE];
  int nobj[2];
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, seed);
    memcpy(qpos[pass], t->d->qpos, sizeof(qpos[pass]));
    nobj[pass] = nfp_task_object_state(t, obj[pass], MAX_OBJECT_STATE);
    assert_true(nobj[pass] >= 0);
  }
  assert_memory_equal(qpos[0], qpos[1], sizeof(qpos[0]));
  assert_int_equal(nobj[0], nobj[1]);
  if (nobj[0]) assert_memory_equal(obj[0], obj[1], nobj[0] * sizeof(double));
  // An episode of another seed in between must not leak into the next one.
  for (int pass = 0; pass < 2; pass++) {
    nfp_task_reset(t, seed);
    run_expert(t, steps);
    memcpy(qpos[pass], t->d->qpos, sizeof(qpos[pass]));
    nfp_task_reset(t, other_seed);
    run_expert(t, other_steps);
  }
  assert_memory_equal(qpos[0], qpos[1], sizeof(qpos[0]));
}

void expert_run_start(expert_run* r, nfp_task* t, uint64_t seed, const char* const* order,
                      int nphase) {
  r->t = t;
  r->order = order;
  r->nphase = nphase;
  r->next = 0;
  r->warnings = warnings;
  nfp_task_reset(t, seed);
  assert_false(nfp_task_success(t));
  assert_false(nfp_task_expert_done(t));
  assert_string_equal(nfp_task_expert_phase(t), "");
}

int expert_run_step(expert_run* r, const char** entered) {
  nfp_task* t = r->t;
  if (entered) *entered = NULL;
  if (nfp_task_expert_done(t) || t->step >= t->def->step_cap) return 0;
  nfp_task_expert(t, r->target);
  nfp_task_step(t, r->target);
  const char* phase = nfp_task_expert_phase(t);
  if (r->next < r->nphase && strcmp(phase, r->order[r->next]) == 0) {
    r->next++;
    if (entered) *entered = phase;
  } else if (r->next == 0 || strcmp(phase, r->order[r->next - 1]) != 0) {
    fail_msg("seed %lu step %d: phase '%s' after '%s'", (unsigned long)t->seed, t->step, phase,
             r->next ? r->order[r->next - 1] : "");
  }
  return 1;
}

void expert_run_finish(const expert_run* r) {
  const nfp_task* t = r->t;
  assert_int_equal(r->next, r->nphase);
  assert_true(nfp_task_expert_done(t));
  if (!nfp_task_success(t)) fail_msg("expert failed on seed %lu", (unsigned long)t->seed);
  assert_true(t->step < t->def->step_cap);
  // A clean run: MuJoCo raised no warning (instability, contact overflow, ...).
  for (int w = 0; w < mjNWARNING; w++) assert_int_equal(t->d->warning[w].number, 0);
  assert_int_equal(warnings, r->warnings);
}

void task_checks_place(nfp_task* t, const char* const* bodies, int nbodies, const double* poses) {
  for (int k = 0; k < nbodies; k++) {
    int b = mj_name2id(t->m, mjOBJ_BODY, bodies[k]);
    assert_true(b >= 0);
    int mocap = t->m->body_mocapid[b];
    if (mocap >= 0) {   // a fixed object placed at reset
      memcpy(t->d->mocap_pos + 3 * mocap, poses + 7 * k, 3 * sizeof(double));
      memcpy(t->d->mocap_quat + 4 * mocap, poses + 7 * k + 3, 4 * sizeof(double));
    } else {
      memcpy(t->d->qpos + t->m->jnt_qposadr[t->m->body_jntadr[b]], poses + 7 * k,
             7 * sizeof(double));
    }
  }
  mj_forward(t->m, t->d);
}

void check_mirror_image(nfp_task* t, uint64_t seed, const char* const* bodies, int nbodies,
                        double tol) {
  enum { CAP = 1000 };
  static double targets[CAP][NFP_NJ];
  int n = 7 * nbodies;
  assert_true(n <= MAX_OBJECT_STATE);
  double obj0[MAX_OBJECT_STATE], obj[MAX_OBJECT_STATE], end[MAX_OBJECT_STATE];
  double want[MAX_OBJECT_STATE];
  nfp_task_reset(t, seed);
  assert_int_equal(nfp_task_object_state(t, obj0, MAX_OBJECT_STATE), n);
  int T = 0;
  while (!nfp_task_expert_done(t) && T < CAP && T < t->def->step_cap) {
    nfp_task_expert(t, targets[T]);
    nfp_task_step(t, targets[T++]);
  }
  assert_true(nfp_task_success(t));
  nfp_task_object_state(t, end, MAX_OBJECT_STATE);

  // The same seed (the arms at home, which is its own mirror image), objects mirrored.
  nfp_task_reset(t, seed);
  if (nfp_task_mirror_object(t->def, obj, obj0, n)) fail_msg("%s", nfp_error_last());
  task_checks_place(t, bodies, nbodies, obj);
  for (int k = 0; k < T; k++) {
    double q[NFP_NJ];
    nfp_rig_mirror(q, targets[k]);
    nfp_task_step(t, q);
  }
  if (!nfp_task_success(t)) fail_msg("seed %lu: the mirror image failed", (unsigned long)seed);
  nfp_task_object_state(t, obj, MAX_OBJECT_STATE);
  if (nfp_task_mirror_object(t->def, want, end, n)) fail_msg("%s", nfp_error_last());
  for (int k = 0; k < nbodies; k++) {
    for (int i = 0; i < 3; i++) {
      if (fabs(obj[7 * k + i] - want[7 * k + i]) > tol) {
        fail_msg("seed %lu: %s ends at %g on axis %d, its mirror image at %g", (unsigned long)seed,
                 bodies[k], obj[7 * k + i], i, want[7 * k + i]);
      }
    }
  }
  // Only the task's own object-state width is mirrored.
  assert_int_equal(nfp_task_mirror_object(t->def, want, obj, n + 1), -1);
}
