// nfp_controller: turns a policy into a joint-target stream at the control rate.
//
// Every `replan` control steps (or when no plan is left) the controller samples a
// chunk of H targets at stride s control steps: chunk[k] is the target for step t0 + k*s.
// Between two strided targets it interpolates linearly, so the arms see a smooth
// target at every control step (interpolate = 0 holds each target for s steps instead).
// The chunk's log-likelihood is the confidence signal: when it is below min_loglik the
// controller holds the present position instead of executing the chunk.
//
// The controller keeps the last n_obs observation frames (newest first) as the policy's
// observation history, exactly as the dataset builds it from demos. A frame is the
// model's state vector: the joint positions (action_dim values, the layout of the
// targets) first, then whatever else the model was trained on (object state).
// One controller per rollout; the model it uses is shared and const.
#ifndef NFP_CONTROLLER_H
#define NFP_CONTROLLER_H

#include <stdint.h>

#include "nfp/model.h"
#include "nfp/sampler.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_controller_opts_ {
  nfp_sample_opts sample;  // mode, sigma, SBS candidates, GR steps
  int replan;              // control steps executed before sampling again (default 8)
  int interpolate;         // 1: linear between strided targets (default), 0: hold
  double min_loglik;       // hold when the chunk log p is below this (-INFINITY: off)
} nfp_controller_opts;

// What happened at one control step.
typedef struct nfp_controller_info_ {
  int planned;        // 1 if a new chunk was sampled at this step
  int held;           // 1 if the last chunk was gated (holding position)
  double loglik;      // log p of the chunk being executed
  double plan_ms;     // wall time of the sampling call (0 if none this step)
  const float* chunk; // [horizon][action_dim] being executed (physical units)
} nfp_controller_info;

void nfp_controller_opts_default(nfp_controller_opts* opts, const nfp_model* model,
                                 nfp_sample_mode mode);

typedef struct nfp_controller_ nfp_controller;

// NULL with a message (bad options).
nfp_controller* nfp_controller_create(const nfp_model* model, const nfp_controller_opts* opts);
void nfp_controller_free(nfp_controller* c);

// Start an episode: forget history and plan; reseed the sampling noise.
void nfp_controller_reset(nfp_controller* c, uint64_t seed);

// Observe this control step's state frame (state_dim values, physical units) and, for
// image models, the camera frames ([n_cam][img_src_h][img_src_w][3]; read only at steps
// that plan, so it may be NULL when nfp_controller_will_plan said no), and return the
// joint target to command now (action_dim values).
// 0, or -1 with a message (non-finite input, a missing or mis-sized frame).
int nfp_controller_act(nfp_controller* c, const double* state, const uint8_t* image,
                       double* target, nfp_controller_info* info);

// Will the next nfp_controller_act sample a new chunk? (Lets a host render the camera
// only when an image model will look at it.)
int nfp_controller_will_plan(const nfp_controller* c);

// The candidates behind the last plan (see nfp_sampler_candidates): up to max chunks
// into out[max][horizon][action_dim], physical units; returns the count.
int nfp_controller_candidates(nfp_controller* c, float* out, int max);

#ifdef __cplusplus
}
#endif
#endif
