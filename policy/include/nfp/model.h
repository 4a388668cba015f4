// nfp_model: the NF-P policy network, an observation encoder plus a conditional
// spline coupling flow over an action chunk, with its normalisation statistics.
//
// Units. Everything at this level is NORMALISED: per joint x -> 2 (x - lo)/(hi - lo) - 1
// with lo/hi the training-set min/max stored in the model (and its checkpoint). A chunk
// is [horizon][action_dim] (D = horizon * action_dim) and log p is the density of the
// normalised chunk; the density of the raw chunk is log p + nfp_model_norm_logdet().
// The sampler (sampler.h) works in physical units and converts with the helpers below.
//
// A model is created (or loaded) once and is const afterwards: every call that needs
// scratch takes a workspace (nfp_model_ws), so threads can share one model.
#ifndef NFP_MODEL_H
#define NFP_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "nfp/encoder.h"
#include "nfp/flow.h"
#include "nfp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_model_config_ {
  // chunk and observation
  int action_dim;        // joints per step (14)
  int horizon;           // H: actions per chunk (8)
  int stride;            // s: frames between chunk actions (4; used by the dataset)
  int n_obs;             // observation frames (2)
  int state_dim;         // robot state per frame (14)
  // flow
  int n_layers;          // L coupling layers (10)
  int n_bins;            // K spline bins (8)
  double tail_bound;     // B, normalised units (3)
  double min_bin_width;  // 1e-3
  double min_bin_height; // 1e-3
  double min_derivative; // 1e-3
  int hidden;            // conditioner width (128)
  int n_blocks;          // conditioner residual blocks (2)
  // encoder
  int encoder;           // nfp_encoder_kind (NFP_ENCODER_STATE)
  int context_dim;       // context vector size (64)
  int enc_hidden;        // encoder width (256)
  int enc_blocks;        // encoder residual blocks (1)
  int n_cam, img_h, img_w;  // image encoders: network input per camera (0 otherwise)
  int img_src_h, img_src_w; // the camera frames it takes (240 x 320 head camera), which are
  int img_down;             // box-averaged by img_down, then cropped to img_h x img_w (centre
                            // crop when acting, random crop in training)
  // sampling defaults (sampler.h)
  double sigma;          // base noise scale for sampling (0.5)
  int sbs_candidates;    // SBS candidates N (128)
  int gr_steps;          // GR ascent steps (10)
  double gr_step_size;   // GR initial step length, normalised action units (0.01)
} nfp_model_config;

// The default (task) model: hidden 128 x 2 blocks, context 64, L 10, K 8.
void nfp_model_config_default(nfp_model_config* cfg);
// The reference size of PERFORMANCE.md: D 112, context 128, L 10, K 8, hidden 256,
// 2 blocks (about 7.08 M flow parameters).
void nfp_model_config_reference(nfp_model_config* cfg);
// 0, or -1 with a message naming the bad field.
int nfp_model_config_validate(const nfp_model_config* cfg);
// JSON object text of every field (malloc'd, caller frees), and back. The parser
// needs every field and refuses unknown ones. NULL / -1 with a message.
char* nfp_model_config_to_json(const nfp_model_config* cfg);
int nfp_model_config_from_json(nfp_model_config* cfg, const char* json);
// 0 when equal, else -1 with a message naming the first differing field.
int nfp_model_config_compare(const nfp_model_config* a, const nfp_model_config* b);

typedef struct nfp_model_ {
  nfp_model_config cfg;
  int chunk_dim;         // D = horizon * action_dim
  int obs_dim;           // n_obs * state_dim
  nfp_ptable table;      // named tensors in params
  size_t num_params;
  float* params;         // [num_params], one buffer
  nfp_encoder enc;
  nfp_flow flow;
  // normalisation statistics (identity map lo = -1, hi = 1 until set)
  float* state_lo;       // [state_dim]
  float* state_hi;
  float* action_lo;      // [action_dim]
  float* action_hi;
} nfp_model;

// Build and seed-initialise (the flow starts as the identity). NULL with a message.
nfp_model* nfp_model_create(const nfp_model_config* cfg, uint64_t seed);
// The same, refused (NULL, error set) when cfg needs more than max_params parameters:
// loaders pass what the file holds, so a hostile config cannot ask for gigabytes.
nfp_model* nfp_model_create_within(const nfp_model_config* cfg, uint64_t seed,
                                   size_t max_params);
void nfp_model_free(nfp_model* model);

size_t nfp_model_num_params(const nfp_model* model);
// Set the statistics (arrays of state_dim / action_dim floats); every hi > lo and
// finite, else -1 with a message.
int nfp_model_set_norm(nfp_model* model, const float* state_lo, const float* state_hi,
                       const float* action_lo, const float* action_hi);
// sum over the chunk of log(2 / (hi - lo)): raw log-density = normalised + this.
double nfp_model_norm_logdet(const nfp_model* model);
// Physical <-> normalised for n frames of state (state_dim each) or n steps of action.
void nfp_model_normalize_state(const nfp_model* model, float* out, const float* raw, int n);
void nfp_model_normalize_action(const nfp_model* model, float* out, const float* raw, int n);
void nfp_model_denormalize_action(const nfp_model* model, float* out, const float* norm, int n);

// Workspace: cached activations and scratch for batches of up to max_batch rows.
typedef struct nfp_model_ws_ nfp_model_ws;
nfp_model_ws* nfp_model_ws_create(const nfp_model* model, int max_batch);
void nfp_model_ws_free(nfp_model_ws* ws);
int nfp_model_ws_max_batch(const nfp_model_ws* ws);

// logp[b] = log p(action_b | obs_b), all normalised (action [B][D] floats). Caches
// what nfp_model_backward needs. 0, or -1 with a message (B too large).
int nfp_model_logprob(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                      const float* action, int B, double* logp);
// The same from a double action (used by the samplers; no float rounding of a).
int nfp_model_logprob_d(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                        const double* action, int B, double* logp);
// The same with the contexts given (ctx[B][context_dim], from nfp_model_encode): the
// encoder does not run, so gradient refinement pays for it once, not per step. A following
// nfp_model_backward fills daction only (grads must be NULL: no encoder cache to back into).
int nfp_model_logprob_ctx_d(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                            const double* action, int B, double* logp);
// Backward of the last logprob call with weights dlogp[B] (e.g. -1/B each for the mean
// NLL): grads[num_params] += d(sum_b dlogp_b logp_b)/dparams (may be NULL) and
// daction[B][D] += the same w.r.t. the normalised action (may be NULL).
void nfp_model_backward(const nfp_model* model, nfp_model_ws* ws, const double* dlogp,
                        float* grads, double* daction);

// Context vectors for B observations into ctx[B][context_dim] (no cache kept).
void nfp_model_encode(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                      int B, float* ctx);
// Inverse pass with given contexts ctx[B][context_dim]: action[B][D] = T^-1(u),
// logp[B] = log p(action | obs) from the inverse log-dets. Normalised units.
int nfp_model_inverse(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                      const double* u, int B, double* action, double* logp);

// The same for B draws under ONE context ctx[context_dim] (SBS): the context's share of
// every conditioner is computed once. Equal to nfp_model_inverse with the context
// repeated, up to float rounding in the conditioners.
int nfp_model_inverse_shared(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                             const double* u, int B, double* action, double* logp);
// nfp_model_inverse_shared with the splines in float: about twice as fast for SBS, action
// and logp good to ~1e-4 (logp error grows with the flow's sharpness). For RANKING
// candidates only: recompute the chosen one with nfp_model_inverse_shared.
int nfp_model_inverse_rank(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                           const double* u, int B, double* action, double* logp);

#ifdef __cplusplus
}
#endif
#endif
