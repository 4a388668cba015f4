// The toy task: joint 0 follows its target at half the distance per step; joint 1 is idle.
#include "toy_arms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/rng.h"
#include "nfp/tasks.h"

typedef struct {
  double q, target, goal;
  int64_t step;
} toy;

double toy_goal(uint64_t seed) {
  nfp_rng rng;
  nfp_rng_seed(&rng, seed * 7919 + 1);
  return nfp_rng_range(&rng, -0.5, 0.5);
}

static int toy_reset(nfp_arms* a, uint64_t seed) {
  toy* t = a->impl;
  t->q = t->target = 0;
  t->goal = toy_goal(seed);
  t->step = 0;
  return 0;
}

static int toy_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  (void)with_image;
  toy* t = a->impl;
  memset(obs, 0, sizeof(*obs));
  obs->qpos[0] = t->q;
  obs->step = t->step;
  obs->time = t->step / a->info.control_hz;
  obs->object[0] = t->goal;
  obs->n_object = 1;
  obs->success = fabs(t->q - t->goal) < TOY_TOLERANCE;
  return 0;
}

static int toy_command(nfp_arms* a, const double* target, int hold) {
  toy* t = a->impl;
  if (!isfinite(target[0])) return nfp_error_set("toy: target not finite");
  t->target = hold ? t->q : target[0];
  return 0;
}

static int toy_step(nfp_arms* a) {
  toy* t = a->impl;
  t->q += 0.5 * (t->target - t->q);
  t->step++;
  return 0;
}

static void toy_close(nfp_arms* a) {
  free(a->impl);
  free(a);
}

static const nfp_arms_ops toy_ops = {toy_reset, toy_observe, toy_command, toy_step, toy_close};

nfp_arms* toy_arms_create(void) {
  nfp_arms* a = calloc(1, sizeof(*a));
  toy* t = calloc(1, sizeof(*t));
  if (!a || !t) {
    free(a);
    free(t);
    return NULL;
  }
  a->ops = &toy_ops;
  a->impl = t;
  strcpy(a->info.name, "toy");
  a->info.nq = 2;
  a->info.control_hz = 10;
  a->info.q_lo[0] = a->info.q_lo[1] = -1;
  a->info.q_hi[0] = a->info.q_hi[1] = 1;
  a->info.step_cap = TOY_STEP_CAP;
  return a;
}

// The expert's episode on the toy arms themselves, recorded as a demo.
int toy_demo(nfp_episode* ep, uint64_t seed, double bias) {
  if (nfp_episode_alloc(ep, TOY_STEP_CAP, 2, 1, 0, 0)) return -1;
  nfp_arms* a = toy_arms_create();
  if (!a) return nfp_error_set("toy: out of memory");
  toy_reset(a, seed);
  toy* t = a->impl;
  strcpy(ep->task, "toy");
  ep->seed = (int64_t)seed;
  ep->control_hz = 10;
  int held = 0;
  for (int s = 0; s < TOY_STEP_CAP; s++) {
    double target[2] = {t->goal + bias, 0};
    ep->qpos[s * 2] = t->q;
    ep->qpos[s * 2 + 1] = 0;
    ep->qvel[s * 2] = ep->qvel[s * 2 + 1] = 0;
    ep->action[s * 2] = target[0];
    ep->action[s * 2 + 1] = 0;
    ep->object_state[s] = t->goal;
    toy_command(a, target, 0);
    toy_step(a);
    held = nfp_task_success_count(held, fabs(t->q - t->goal) < TOY_TOLERANCE);
  }
  ep->success = held >= NFP_SUCCESS_HOLD;
  toy_close(a);
  return 0;
}
