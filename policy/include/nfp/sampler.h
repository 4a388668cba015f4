// nfp/sampler.h: acting: sampling chunks from the model (single, SBS, GR) and the controller
// that executes them.
//
// Sections: sampler, controller.
#ifndef NFP_SAMPLER_H
#define NFP_SAMPLER_H

#include <stdint.h>

#include "nfp/model.h"
#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== sampler ===================================================
// nfp_sampler: action chunks from a trained model, three ways, in physical units.
//
//   single: u ~ N(0, sigma^2 I), one inverse pass.
//   sbs:    Stochastic Batch Selection: N candidates for one observation in one
//           batched inverse pass, keep the one with the highest log p(a|o) (or the highest
//           score of the caller's ranking, opts.score). The pass
//           runs the splines in float (nfp_model_inverse_rank), which only RANKS the
//           candidates: the winner's draw is inverted again in double, so the chunk
//           and log p returned are exact (as nfp_sampler_score gives them). Candidates
//           within ~1e-4 nats of each other may rank either way; sbs_exact_ranking = 1
//           ranks in double (about twice as slow).
//   gr:     Gradient Refinement: from a single sample, `gr_steps` steps of gradient
//           ascent on log p(a|o) w.r.t. the (normalised) chunk through the whole flow.
//           The step is a <- a + eta * grad / |grad| (eta is a length in normalised
//           units, so one eta suits any model); a step that lowers log p is undone and
//           eta halved, an accepted one grows eta by 1.2, so the result (the best
//           iterate) never scores below its start. eta starts at gr_step_size.
//
// Every mode reports log p(a|o) of the returned chunk: the model density of the
// normalised chunk (base N(0, I), whatever sigma), as nfp_sampler_score computes it.
// The sampler owns all per-call scratch: one sampler per thread, one shared const model.
typedef enum nfp_sample_mode_ {
  NFP_SAMPLE_SINGLE = 0,
  NFP_SAMPLE_SBS = 1,
  NFP_SAMPLE_GR = 2,
} nfp_sample_mode;

typedef struct nfp_sample_opts_ {
  nfp_sample_mode mode;
  double sigma;         // base noise scale (model default 0.5)
  int n_candidates;     // SBS N (model default 128)
  int gr_steps;         // GR steps (model default 10)
  double gr_step_size;  // GR initial step size (model default 0.01)
  int sbs_exact_ranking;  // SBS: rank in double too (default 0: float ranking, see above)
  // SBS: rank the candidates by the caller's score instead of log p (NULL: by log p), e.g. a
  // critic's value (nfp finetune). state: the normalised observation [n_obs * state_dim];
  // chunks: the n candidates, normalised, [n][horizon * action_dim]; fills score[n]. Called
  // from every thread that samples with these options. 0, or -1 with a message.
  int (*score)(void* ctx, const float* state, const double* chunks, int n, double* score);
  void* score_ctx;
} nfp_sample_opts;

// Mode + the model's configured defaults.
void nfp_sample_opts_default(nfp_sample_opts* opts, const nfp_model* model,
                             nfp_sample_mode mode);
// "single" | "sbs" | "gr" -> mode; -1 with a message otherwise.
int nfp_sample_mode_parse(nfp_sample_mode* mode, const char* name);
const char* nfp_sample_mode_name(nfp_sample_mode mode);

typedef struct nfp_sampler_ nfp_sampler;

// Scratch for up to max_candidates SBS candidates (at least 1). NULL with a message.
nfp_sampler* nfp_sampler_create(const nfp_model* model, int max_candidates);
void nfp_sampler_free(nfp_sampler* sampler);

// chunk[horizon][action_dim] physical joint targets for one observation, *logp its
// log-likelihood. 0, or -1 with a message (bad options, non-finite observation).
int nfp_sampler_sample(nfp_sampler* sampler, const nfp_obs* obs, const nfp_sample_opts* opts,
                       nfp_rng* rng, float* chunk, double* logp);
// log p(chunk | obs) of a given physical chunk (normalised density, as reported above).
int nfp_sampler_score(nfp_sampler* sampler, const nfp_obs* obs, const float* chunk,
                      double* logp);

// The raw candidates of the last sample call (SBS: all N, float-ranked ones good to ~1e-5
// except the winner; single and GR: the initial draw), in physical units, for
// visualisation: copies up to max chunks into
// out[max][horizon][action_dim] and returns the count.
int nfp_sampler_candidates(nfp_sampler* sampler, float* out, int max);

//================================== controller ================================================
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
