// nfp_arms over an in-process task: observe reads the rig, command stores the target,
// step integrates one control period with nfp_task_step.
#include "nfp/arms_sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/render.h"
#include "rig.h"

typedef struct {
  nfp_task* task;
  double target[NFP_NJ];   // target for the coming control period
  nfp_renderer* renderer;  // created lazily on the thread that asks for images
  uint8_t* image;          // [NFP_HEAD_H][NFP_HEAD_W][3]
} arms_sim;

static arms_sim* impl(nfp_arms* a) { return (arms_sim*)a->impl; }

static int sim_reset(nfp_arms* a, uint64_t seed) {
  arms_sim* s = impl(a);
  nfp_task_reset(s->task, seed);
  memcpy(s->target, s->task->target, sizeof(s->target));
  return 0;
}

static int sim_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  arms_sim* s = impl(a);
  nfp_task* t = s->task;
  memset(obs, 0, sizeof(*obs));
  nfp_task_observe(t, obs->qpos, obs->qvel);
  obs->time = t->d->time;
  obs->step = t->step;
  obs->success = nfp_task_success(t);
  obs->n_object = nfp_task_object_state(t, obs->object, NFP_ARMS_MAX_OBJECT);
  if (with_image) {
    if (!s->renderer) {
      s->renderer = nfp_render_create(t->m, NFP_HEAD_W, NFP_HEAD_H);
      s->image = malloc((size_t)NFP_HEAD_W * NFP_HEAD_H * 3);
      if (!s->renderer || !s->image) return nfp_error_wrap("simulated arms: head camera");
    }
    if (nfp_render_camera(s->image, s->renderer, t->m, t->d, t->rig.head_camera)) return -1;
    obs->image = s->image;
  }
  return 0;
}

static int sim_command(nfp_arms* a, const double* target, int hold) {
  arms_sim* s = impl(a);
  if (hold) return 0;  // keep the last target: the servos hold the arms where they are
  for (int j = 0; j < NFP_NJ; j++) {
    if (!(target[j] == target[j])) return nfp_error_set("simulated arms: target %d is NaN", j);
  }
  memcpy(s->target, target, sizeof(s->target));
  return 0;
}

static int sim_step(nfp_arms* a) {
  arms_sim* s = impl(a);
  nfp_task_step(s->task, s->target);
  memcpy(s->target, s->task->target, sizeof(s->target));  // as clamped
  return 0;
}

static void sim_close(nfp_arms* a) {
  arms_sim* s = impl(a);
  if (s) {
    nfp_render_free(s->renderer);
    free(s->image);
    nfp_task_free(s->task);
    free(s);
  }
  free(a);
}

static const nfp_arms_ops sim_ops = {sim_reset, sim_observe, sim_command, sim_step, sim_close};

nfp_arms* nfp_arms_sim_create(const char* name, const char* asset_dir) {
  nfp_task* t = nfp_task_create(name, asset_dir);
  if (!t) return NULL;
  nfp_arms* a = calloc(1, sizeof(*a));
  arms_sim* s = calloc(1, sizeof(*s));
  if (!a || !s) {
    free(a);
    free(s);
    nfp_task_free(t);
    nfp_error_set("simulated arms: out of memory");
    return NULL;
  }
  s->task = t;
  a->ops = &sim_ops;
  a->impl = s;
  nfp_arms_info* info = &a->info;
  snprintf(info->name, sizeof(info->name), "sim:%s", name);
  info->nq = NFP_NJ;
  info->control_hz = nfp_task_control_hz(t);
  info->step_cap = t->def->step_cap;
  info->cam_w = NFP_HEAD_W;
  info->cam_h = NFP_HEAD_H;
  for (int arm = 0; arm < 2; arm++) {
    for (int j = 0; j < NFP_ARM_DOF; j++) {
      int slot = nfp_rig_slot(arm, j);
      int jnt = t->m->dof_jntid[t->rig.arm_dofadr[arm][j]];
      info->q_lo[slot] = t->m->jnt_range[2 * jnt];
      info->q_hi[slot] = t->m->jnt_range[2 * jnt + 1];
    }
    info->q_lo[nfp_rig_grip_slot(arm)] = 0.0;
    info->q_hi[nfp_rig_grip_slot(arm)] = 1.0;
  }
  memcpy(s->target, t->target, sizeof(s->target));
  return a;
}

nfp_task* nfp_arms_sim_task(nfp_arms* a) {
  return a && a->ops == &sim_ops ? impl(a)->task : NULL;
}
