// Chunk execution: re-planning cadence, interpolation between strided targets, and the
// log-likelihood gate. See nfp/controller.h.
#include "nfp/clock.h"
#include "nfp/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nfp/error.h"

struct nfp_controller_ {
  const nfp_model* model;
  nfp_controller_opts opts;
  nfp_sampler* sampler;
  nfp_rng rng;
  int nq;             // joints (action_dim); a state frame starts with them
  int ns;             // state frame width (state_dim)
  int n_obs;
  float* history;     // [n_obs][ns] newest first
  uint8_t* first;     // [n_cam][src_h][src_w][3] the episode's first frames (img_first)
  int n_seen;         // observations since reset
  float* chunk;       // [horizon][nq] being executed
  double* hold;       // [nq] position held while gated
  double loglik;
  int held;
  int step_in_plan;   // control steps executed from the current chunk; -1 = no plan
};

void nfp_controller_opts_default(nfp_controller_opts* o, const nfp_model* m,
                                 nfp_sample_mode mode) {
  nfp_sample_opts_default(&o->sample, m, mode);
  o->replan = 8;
  o->interpolate = 1;
  o->min_loglik = -INFINITY;
}

nfp_controller* nfp_controller_create(const nfp_model* m, const nfp_controller_opts* o) {
  const nfp_model_config* cfg = &m->cfg;
  if (cfg->state_dim < cfg->action_dim) {
    nfp_error_set("controller: state width %d is narrower than the action width %d (a state "
                  "frame starts with the joint positions)", cfg->state_dim, cfg->action_dim);
    return NULL;
  }
  if (o->replan < 1) {
    nfp_error_set("controller: replan = %d must be at least 1 control step", o->replan);
    return NULL;
  }
  nfp_controller* c = calloc(1, sizeof(*c));
  if (!c) goto oom;
  c->model = m;
  c->opts = *o;
  c->nq = cfg->action_dim;
  c->ns = cfg->state_dim;
  c->n_obs = cfg->n_obs;
  c->history = calloc((size_t)c->n_obs * (size_t)c->ns, sizeof(float));
  c->chunk = calloc((size_t)cfg->horizon * (size_t)c->nq, sizeof(float));
  c->hold = calloc((size_t)c->nq, sizeof(double));
  if (cfg->img_first) {
    c->first = malloc((size_t)cfg->n_cam * cfg->img_src_h * cfg->img_src_w * 3);
    if (!c->first) goto oom;
  }
  if (!c->history || !c->chunk || !c->hold) goto oom;
  int cap = o->sample.mode == NFP_SAMPLE_SBS ? o->sample.n_candidates : 1;
  c->sampler = nfp_sampler_create(m, cap);
  if (!c->sampler) {
    nfp_controller_free(c);
    return NULL;
  }
  nfp_controller_reset(c, 0);
  return c;
oom:
  nfp_controller_free(c);
  nfp_error_set("controller: out of memory");
  return NULL;
}

void nfp_controller_free(nfp_controller* c) {
  if (!c) return;
  nfp_sampler_free(c->sampler);
  free(c->history);
  free(c->first);
  free(c->chunk);
  free(c->hold);
  free(c);
}

void nfp_controller_reset(nfp_controller* c, uint64_t seed) {
  nfp_rng_seed(&c->rng, seed);
  c->n_seen = 0;
  c->step_in_plan = -1;
  c->held = 0;
  c->loglik = 0.0;
}

// Push the newest observation; before n_obs frames have been seen the oldest slots
// repeat the first frame, as the dataset clamps history at frame 0.
static void push_history(nfp_controller* c, const double* state) {
  int ns = c->ns;
  memmove(c->history + ns, c->history, sizeof(float) * (size_t)(c->n_obs - 1) * (size_t)ns);
  for (int j = 0; j < ns; j++) c->history[j] = (float)state[j];
  if (c->n_seen == 0) {
    for (int k = 1; k < c->n_obs; k++) memcpy(c->history + k * ns, c->history, sizeof(float) * ns);
  }
  c->n_seen++;
}

static int plan(nfp_controller* c, const double* qpos, const uint8_t* image,
                nfp_controller_info* info) {
  const nfp_model_config* cfg = &c->model->cfg;
  nfp_obs obs = {.state = c->history, .image = image, .first_image = c->first,
                 .n_cam = cfg->n_cam, .img_h = cfg->img_src_h, .img_w = cfg->img_src_w};
  double t0 = nfp_clock_ms();
  if (nfp_sampler_sample(c->sampler, &obs, &c->opts.sample, &c->rng, c->chunk, &c->loglik) != 0) {
    return nfp_error_wrap("controller");
  }
  info->plan_ms = nfp_clock_ms() - t0;
  info->planned = 1;
  c->step_in_plan = 0;
  c->held = c->loglik < c->opts.min_loglik;
  if (c->held) memcpy(c->hold, qpos, sizeof(double) * (size_t)c->nq);
  return 0;
}

int nfp_controller_act(nfp_controller* c, const double* state, const uint8_t* image,
                       double* target, nfp_controller_info* info) {
  nfp_controller_info local;
  if (!info) info = &local;
  memset(info, 0, sizeof(*info));
  for (int j = 0; j < c->ns; j++) {
    if (!isfinite(state[j])) return nfp_error_set("controller: observed state %d is not finite", j);
  }
  push_history(c, state);
  const double* qpos = state;  // the frame starts with the joint positions

  const nfp_model_config* cfg = &c->model->cfg;
  if (c->first && c->n_seen == 1) {  // the first step always plans, so it has its frames
    if (!image) return nfp_error_set("controller: this policy needs camera frames; none given");
    memcpy(c->first, image, (size_t)cfg->n_cam * cfg->img_src_h * cfg->img_src_w * 3);
  }
  if (nfp_controller_will_plan(c) && plan(c, qpos, image, info) != 0) return -1;
  info->loglik = c->loglik;
  info->held = c->held;
  info->chunk = c->chunk;

  int nq = c->nq, t = c->step_in_plan++;
  if (c->held) {
    memcpy(target, c->hold, sizeof(double) * (size_t)nq);
    return 0;
  }
  int k = t / cfg->stride, r = t % cfg->stride;
  const float* a = c->chunk + k * nq;
  if (!c->opts.interpolate || r == 0 || k + 1 >= cfg->horizon) {
    for (int j = 0; j < nq; j++) target[j] = a[j];
  } else {
    const float* b = a + nq;
    double w = (double)r / cfg->stride;
    for (int j = 0; j < nq; j++) target[j] = (1.0 - w) * a[j] + w * b[j];
  }
  return 0;
}

int nfp_controller_will_plan(const nfp_controller* c) {
  const nfp_model_config* cfg = &c->model->cfg;
  int span = (cfg->horizon - 1) * cfg->stride + 1;  // control steps the chunk covers
  return c->step_in_plan < 0 || c->step_in_plan >= c->opts.replan || c->step_in_plan >= span;
}

int nfp_controller_candidates(nfp_controller* c, float* out, int max) {
  return c->step_in_plan < 0 ? 0 : nfp_sampler_candidates(c->sampler, out, max);
}
