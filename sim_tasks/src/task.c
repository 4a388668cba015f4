// One task instance: load, reset, step and the calls into its definition.
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rig.h"

#define CONTROL_DT 0.06     // seconds per control step: 16.7 Hz, as RoboTwin's demos
#define SETTLE_TIME 0.2     // seconds of physics after placing the objects

// The parts of a task every instance has, around a model and data it is given:
// rig and task elements resolved, kinematics scratch, task state, control rate.
// Marked attached (the caller keeps m and d); NULL with the error set.
static nfp_task* task_new(const nfp_task_def* def, mjModel* m, mjData* d, const char* where) {
  nfp_task* t = calloc(1, sizeof(*t));
  if (!t) {
    nfp_error_set("task '%s': out of memory", def->name);
    return NULL;
  }
  t->def = def;
  t->m = m;
  t->d = d;
  t->attached = 1;
  if (nfp_rig_resolve(&t->rig, m) || (def->check && def->check(m))) {
    nfp_error_wrap("task '%s': '%s'", def->name, where);
    nfp_task_free(t);
    return NULL;
  }
  t->kin = mj_makeData(m);
  t->state = calloc(1, def->state_size ? def->state_size : 1);
  if (!t->kin || !t->state) {
    nfp_error_set("task '%s': out of memory", def->name);
    nfp_task_free(t);
    return NULL;
  }
  t->substeps = (int)(CONTROL_DT / m->opt.timestep + 0.5);
  if (t->substeps < 1) t->substeps = 1;
  t->control_dt = t->substeps * m->opt.timestep;
  return t;
}

nfp_task* nfp_task_create(const char* name, const char* asset_dir) {
  const nfp_task_def* def = nfp_task_find(name);
  if (!def) {
    nfp_error_set("unknown task '%s' (known: %s)", name ? name : "(null)", nfp_task_names());
    return NULL;
  }
  if (!asset_dir) asset_dir = nfp_asset_dir();
  // MuJoCo 3.17 resolves an include inside an included file against the relative
  // folder twice ("dir/dir/arm.xml"), so a relative asset folder is made absolute.
  char abs_dir[PATH_MAX], cwd[PATH_MAX];
  if (asset_dir[0] != '/' && getcwd(cwd, sizeof(cwd)) &&
      snprintf(abs_dir, sizeof(abs_dir), "%s/%s", cwd, asset_dir) < (int)sizeof(abs_dir)) {
    asset_dir = abs_dir;
  }
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/%s", asset_dir, def->mjcf) >= (int)sizeof(path)) {
    nfp_error_set("task '%s': asset path too long", name);
    return NULL;
  }
  FILE* f = fopen(path, "rb");
  if (!f) {
    nfp_error_set("task '%s': model file '%s' not found (set NFP_ASSETS to the asset folder)",
                  name, path);
    return NULL;
  }
  fclose(f);

  char err[1024] = "";
  mjModel* m = mj_loadXML(path, NULL, err, sizeof(err));
  if (!m) {
    // MuJoCo's parser messages span lines; keep ours on one.
    for (char* c = err; *c; c++) if (*c == '\n') *c = ' ';
    size_t n = strlen(err);
    while (n && err[n - 1] == ' ') err[--n] = '\0';
    nfp_error_set("task '%s': cannot load '%s': %s", name, path, err);
    return NULL;
  }
  mjData* d = mj_makeData(m);
  nfp_task* t = d ? task_new(def, m, d, path) : NULL;
  if (!t) {
    if (!d) nfp_error_set("task '%s': out of memory", name);
    if (d) mj_deleteData(d);
    mj_deleteModel(m);
    return NULL;
  }
  t->attached = 0;
  nfp_task_reset(t, 0);
  return t;
}

nfp_task* nfp_task_attach(const char* name, const mjModel* m, mjData* d) {
  const nfp_task_def* def = nfp_task_find(name);
  if (!def) {
    nfp_error_set("unknown task '%s' (known: %s)", name ? name : "(null)", nfp_task_names());
    return NULL;
  }
  // An attached task only reads m; the field is non-const for the owning case.
  return task_new(def, (mjModel*)m, d, "host model");
}

void nfp_task_free(nfp_task* t) {
  if (!t) return;
  if (t->kin) mj_deleteData(t->kin);
  if (!t->attached) {
    if (t->d) mj_deleteData(t->d);
    if (t->m) mj_deleteModel(t->m);
  }
  free(t->state);
  free(t);
}

void nfp_task_reset(nfp_task* t, uint64_t seed) {
  mj_resetData(t->m, t->d);
  nfp_task_setup(t, seed);
}

void nfp_task_setup(nfp_task* t, uint64_t seed) {
  const mjModel* m = t->m;
  mjData* d = t->d;
  mj_resetData(m, t->kin);
  nfp_rig_home(t->target);
  nfp_rig_set_qpos(d, &t->rig, t->target);
  nfp_rig_ctrl(d, &t->rig, t->target);
  t->seed = seed;
  t->step = 0;
  memset(t->state, 0, t->def->state_size);

  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  if (t->def->reset) t->def->reset(t, &rng);
  mj_forward(m, d);

  // Let contacts and servos come to rest before the first observation.
  int settle = (int)(SETTLE_TIME / m->opt.timestep + 0.5);
  for (int i = 0; i < settle; i++) mj_step(m, d);
  d->time = 0;
  mj_forward(m, d);
  mju_copy(t->kin->qpos, d->qpos, m->nq);
}

void nfp_task_step(nfp_task* t, const double target[NFP_NJ]) {
  memcpy(t->target, target, sizeof(t->target));
  nfp_rig_clamp(t->target, &t->rig, t->m);
  nfp_rig_ctrl(t->d, &t->rig, t->target);
  for (int i = 0; i < t->substeps; i++) mj_step(t->m, t->d);
  t->step++;
}

void nfp_task_observe(const nfp_task* t, double qpos[NFP_NJ], double qvel[NFP_NJ]) {
  nfp_rig_observe(qpos, qvel, &t->rig, t->d);
}

void nfp_task_expert(nfp_task* t, double target[NFP_NJ]) {
  memcpy(target, t->target, sizeof(t->target));
  if (t->def->expert) t->def->expert(t, target);
}

int nfp_task_success(const nfp_task* t) { return t->def->success ? t->def->success(t) : 0; }

int nfp_task_success_count(int held, int success) {
  if (held >= NFP_SUCCESS_HOLD) return held;
  return success ? held + 1 : 0;
}

int nfp_task_expert_done(const nfp_task* t) {
  return t->def->expert_done ? t->def->expert_done(t) : 1;
}

const char* nfp_task_expert_phase(const nfp_task* t) {
  const char* name = t->def->expert_phase ? t->def->expert_phase(t) : NULL;
  return name ? name : "";
}

int nfp_task_object_state(const nfp_task* t, double* out, int cap) {
  return t->def->object_state ? t->def->object_state(t, out, cap) : 0;
}

int nfp_task_mirror_object(const nfp_task_def* def, double* out, const double* in, int n) {
  if (!def->mirror_object) {
    return nfp_error_set("task %s is not left-right symmetric (no mirror image of its set-up)",
                         def->name);
  }
  return def->mirror_object(out, in, n);
}

double nfp_task_control_hz(const nfp_task* t) { return 1.0 / t->control_dt; }
