// nfp_model: encoder + flow, normalisation, exact log-likelihood and its backward.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/model.h"
#include "ws_block.h"

#define LOG_2PI 1.8378770664093453

nfp_model* nfp_model_create(const nfp_model_config* cfg, uint64_t seed) {
  return nfp_model_create_within(cfg, seed, SIZE_MAX);
}

nfp_model* nfp_model_create_within(const nfp_model_config* cfg, uint64_t seed,
                                   size_t max_params) {
  if (nfp_model_config_validate(cfg) != 0) return NULL;
  nfp_model* m = calloc(1, sizeof(*m));
  if (!m) {
    nfp_error_set("model: out of memory");
    return NULL;
  }
  m->cfg = *cfg;
  m->chunk_dim = cfg->horizon * cfg->action_dim;
  m->obs_dim = cfg->n_obs * cfg->state_dim;
  nfp_encoder_config ec = {
      .kind = (nfp_encoder_kind)cfg->encoder,
      .state_dim = cfg->state_dim,
      .n_obs = cfg->n_obs,
      .hidden = cfg->enc_hidden,
      .blocks = cfg->enc_blocks,
      .out_dim = cfg->context_dim,
      .n_cam = nfp_model_config_frames(cfg),  // the newest frames, then the first ones
      .img_h = cfg->img_h,
      .img_w = cfg->img_w,
      .aux_dim = cfg->aux_dim,
      .aux_bottleneck = cfg->aux_bottleneck,
  };
  nfp_spline sp;
  nfp_spline_init(&sp, cfg->n_bins, cfg->tail_bound, cfg->min_bin_width, cfg->min_bin_height,
                  cfg->min_derivative);
  if (nfp_encoder_build(&m->enc, &m->table, "enc", &ec) != 0 ||
      nfp_flow_build(&m->flow, &m->table, "flow", m->chunk_dim, cfg->context_dim, cfg->n_layers,
                     cfg->hidden, cfg->n_blocks, &sp) != 0) {
    nfp_error_wrap("building the model");
    nfp_model_free(m);
    return NULL;
  }
  m->num_params = m->table.total;
  if (m->num_params > max_params) {
    nfp_error_set("model: the configuration needs %zu parameters, more than the %zu available",
                  m->num_params, max_params);
    nfp_model_free(m);
    return NULL;
  }
  m->params = calloc(m->num_params, sizeof(float));
  m->state_lo = malloc(sizeof(float) * (size_t)cfg->state_dim);
  m->state_hi = malloc(sizeof(float) * (size_t)cfg->state_dim);
  m->action_lo = malloc(sizeof(float) * (size_t)cfg->action_dim);
  m->action_hi = malloc(sizeof(float) * (size_t)cfg->action_dim);
  if (!m->params || !m->state_lo || !m->state_hi || !m->action_lo || !m->action_hi) {
    nfp_model_free(m);
    nfp_error_set("model: out of memory for %zu parameters", m->num_params);
    return NULL;
  }
  for (int j = 0; j < cfg->state_dim; j++) m->state_lo[j] = -1.0f, m->state_hi[j] = 1.0f;
  for (int j = 0; j < cfg->action_dim; j++) m->action_lo[j] = -1.0f, m->action_hi[j] = 1.0f;
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  nfp_encoder_init(m->params, &m->enc, &rng);
  nfp_flow_init(m->params, &m->flow, &rng);
  return m;
}

void nfp_model_free(nfp_model* m) {
  if (!m) return;
  nfp_flow_free(&m->flow);
  nfp_ptable_free(&m->table);
  free(m->params);
  free(m->state_lo);
  free(m->state_hi);
  free(m->action_lo);
  free(m->action_hi);
  free(m);
}

size_t nfp_model_num_params(const nfp_model* m) { return m->num_params; }

static int check_range(const float* lo, const float* hi, int n, const char* what) {
  for (int j = 0; j < n; j++) {
    if (!isfinite(lo[j]) || !isfinite(hi[j]) || !(hi[j] > lo[j])) {
      return nfp_error_set("normalisation: %s %d has lo %g, hi %g (need finite, hi > lo)", what,
                           j, lo[j], hi[j]);
    }
  }
  return 0;
}

int nfp_model_set_norm(nfp_model* m, const float* state_lo, const float* state_hi,
                       const float* action_lo, const float* action_hi) {
  if (check_range(state_lo, state_hi, m->cfg.state_dim, "state joint") != 0 ||
      check_range(action_lo, action_hi, m->cfg.action_dim, "action joint") != 0) {
    return -1;
  }
  memcpy(m->state_lo, state_lo, sizeof(float) * (size_t)m->cfg.state_dim);
  memcpy(m->state_hi, state_hi, sizeof(float) * (size_t)m->cfg.state_dim);
  memcpy(m->action_lo, action_lo, sizeof(float) * (size_t)m->cfg.action_dim);
  memcpy(m->action_hi, action_hi, sizeof(float) * (size_t)m->cfg.action_dim);
  return 0;
}

double nfp_model_norm_logdet(const nfp_model* m) {
  double s = 0.0;
  for (int j = 0; j < m->cfg.action_dim; j++) {
    s += log(2.0 / ((double)m->action_hi[j] - (double)m->action_lo[j]));
  }
  return s * m->cfg.horizon;
}

static void normalize(float* out, const float* raw, const float* lo, const float* hi, int dim,
                      int n) {
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < dim; j++) {
      double l = lo[j], h = hi[j];
      out[i * dim + j] = (float)(2.0 * ((double)raw[i * dim + j] - l) / (h - l) - 1.0);
    }
  }
}

void nfp_model_normalize_state(const nfp_model* m, float* out, const float* raw, int n) {
  normalize(out, raw, m->state_lo, m->state_hi, m->cfg.state_dim, n);
}

void nfp_model_normalize_action(const nfp_model* m, float* out, const float* raw, int n) {
  normalize(out, raw, m->action_lo, m->action_hi, m->cfg.action_dim, n);
}

void nfp_model_denormalize_action(const nfp_model* m, float* out, const float* norm, int n) {
  int dim = m->cfg.action_dim;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < dim; j++) {
      double l = m->action_lo[j], h = m->action_hi[j];
      out[i * dim + j] = (float)(l + 0.5 * ((double)norm[i * dim + j] + 1.0) * (h - l));
    }
  }
}

struct nfp_model_ws_ {
  int max_batch;
  int B;             // batch of the last logprob (0: nothing cached)
  int ctx_given;     // the last logprob took its contexts given: no encoder cache
  float* enc_acts;
  float* enc_scratch;
  float* state;      // [B, obs_dim] copy of the last observation batch
  nfp_obs_batch obs; // the last batch (state points at the copy)
  float* ctx;        // [B, C]
  float* dctx;       // [B, C]
  double* x;         // [B, D] flow input
  double* z;         // [B, D] flow output
  double* logdet;    // [B]
  double* dz;        // [B, D]
  double* dlogdet;   // [B]
  nfp_flow_ws* flow;
};

// m, max_batch -> ws's buffer pointers into b and b->used (while b->at is NULL, only
// measuring: the pointers are NULL). Every buffer is written before it is read.
static void model_ws_layout(nfp_model_ws* ws, const nfp_model* m, int max_batch,
                            nfp_ws_block* b) {
  size_t B = (size_t)max_batch, D = (size_t)m->chunk_dim, C = (size_t)m->cfg.context_dim;
  ws->enc_acts = nfp_ws_take(b, nfp_encoder_acts_size(&m->enc, max_batch) + 1, sizeof(float));
  ws->enc_scratch =
      nfp_ws_take(b, nfp_encoder_scratch_size(&m->enc, max_batch) + 1, sizeof(float));
  ws->state = nfp_ws_take(b, B * (size_t)m->obs_dim, sizeof(float));
  ws->ctx = nfp_ws_take(b, B * C + 1, sizeof(float));
  ws->dctx = nfp_ws_take(b, B * C + 1, sizeof(float));
  ws->x = nfp_ws_take(b, B * D, sizeof(double));
  ws->z = nfp_ws_take(b, B * D, sizeof(double));
  ws->dz = nfp_ws_take(b, B * D, sizeof(double));
  ws->logdet = nfp_ws_take(b, B, sizeof(double));
  ws->dlogdet = nfp_ws_take(b, B, sizeof(double));
}

// m, max_batch -> ONE block (the struct, then the encoder's and the model's buffers) and
// the flow's workspace, its own block (flow.c owns its layout).
nfp_model_ws* nfp_model_ws_create(const nfp_model* m, int max_batch) {
  if (max_batch <= 0) {
    nfp_error_set("model workspace: batch must be positive (got %d)", max_batch);
    return NULL;
  }
  nfp_model_ws measure;
  nfp_ws_block b = {0};
  model_ws_layout(&measure, m, max_batch, &b);
  nfp_model_ws* ws = nfp_ws_block_alloc(&b, sizeof(*ws));
  if (!ws) {
    nfp_error_set("model workspace: out of memory for batch %d", max_batch);
    return NULL;
  }
  ws->max_batch = max_batch;
  model_ws_layout(ws, m, max_batch, &b);
  ws->flow = nfp_flow_ws_create(&m->flow, max_batch);
  if (!ws->flow) {
    nfp_model_ws_free(ws);
    return NULL;
  }
  return ws;
}

// The flow's block, then ours (the struct and its buffers).
void nfp_model_ws_free(nfp_model_ws* ws) {
  if (!ws) return;
  nfp_flow_ws_free(ws->flow);
  free(ws);
}

int nfp_model_ws_max_batch(const nfp_model_ws* ws) { return ws->max_batch; }

static int check_batch(const nfp_model_ws* ws, int B) {
  if (B <= 0 || B > ws->max_batch) {
    return nfp_error_set("model: batch %d outside the workspace's 1..%d", B, ws->max_batch);
  }
  return 0;
}

// Encode into ws->ctx, keeping a copy of the observation for backward.
static void encode_cached(const nfp_model* m, nfp_model_ws* ws, const nfp_obs_batch* obs, int B) {
  memcpy(ws->state, obs->state, sizeof(float) * (size_t)B * m->obs_dim);
  ws->obs = *obs;
  ws->obs.state = ws->state;
  nfp_encoder_forward(ws->ctx, ws->enc_acts, m->params, &m->enc, &ws->obs, B);
}

double nfp_model_aux_mse(const nfp_model* m, const nfp_model_ws* ws) {
  if (ws->B == 0 || ws->ctx_given) return NAN;
  return nfp_encoder_aux_mse(ws->enc_acts, &m->enc, &ws->obs, ws->B);
}

// log p of the actions in ws->x under the contexts in ws->ctx.
static int flow_logprob(const nfp_model* m, nfp_model_ws* ws, int B, double* logp) {
  int D = m->chunk_dim;
  if (nfp_flow_forward(ws->z, ws->logdet, ws->flow, m->params, &m->flow, ws->x, ws->ctx, B) != 0) {
    return -1;
  }
  for (int b = 0; b < B; b++) {
    const double* z = ws->z + (size_t)b * D;
    double sq = 0.0;
    for (int i = 0; i < D; i++) sq += z[i] * z[i];
    logp[b] = -0.5 * sq - 0.5 * D * LOG_2PI + ws->logdet[b];
  }
  ws->B = B;
  return 0;
}

static int logprob_cached(const nfp_model* m, nfp_model_ws* ws, const nfp_obs_batch* obs, int B,
                          double* logp) {
  encode_cached(m, ws, obs, B);
  ws->ctx_given = 0;
  return flow_logprob(m, ws, B, logp);
}

int nfp_model_logprob_ctx_d(const nfp_model* m, nfp_model_ws* ws, const float* ctx,
                            const double* action, int B, double* logp) {
  if (check_batch(ws, B) != 0) return -1;
  memcpy(ws->x, action, sizeof(double) * (size_t)B * m->chunk_dim);
  memcpy(ws->ctx, ctx, sizeof(float) * (size_t)B * m->cfg.context_dim);
  ws->ctx_given = 1;
  return flow_logprob(m, ws, B, logp);
}

int nfp_model_logprob(const nfp_model* m, nfp_model_ws* ws, const nfp_obs_batch* obs,
                      const float* action, int B, double* logp) {
  if (check_batch(ws, B) != 0) return -1;
  for (size_t i = 0; i < (size_t)B * m->chunk_dim; i++) ws->x[i] = (double)action[i];
  return logprob_cached(m, ws, obs, B, logp);
}

int nfp_model_logprob_d(const nfp_model* m, nfp_model_ws* ws, const nfp_obs_batch* obs,
                        const double* action, int B, double* logp) {
  if (check_batch(ws, B) != 0) return -1;
  memcpy(ws->x, action, sizeof(double) * (size_t)B * m->chunk_dim);
  return logprob_cached(m, ws, obs, B, logp);
}

void nfp_model_backward(const nfp_model* m, nfp_model_ws* ws, const double* dlogp,
                        float* grads, double* daction) {
  int B = ws->B, D = m->chunk_dim, C = m->cfg.context_dim;
  if (B == 0) return;
  if (ws->ctx_given) grads = NULL;  // no encoder activations to back into (see model.h)
  // logp = -|z|^2/2 + logdet + const
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < D; i++) ws->dz[(size_t)b * D + i] = -dlogp[b] * ws->z[(size_t)b * D + i];
    ws->dlogdet[b] = dlogp[b];
  }
  float* dctx = grads ? ws->dctx : NULL;  // the context gradient only feeds the encoder
  if (dctx) memset(dctx, 0, sizeof(float) * (size_t)B * C);
  nfp_flow_backward(daction, dctx, grads, ws->flow, m->params, &m->flow, ws->dz, ws->dlogdet, B);
  if (grads) {
    nfp_encoder_backward(grads, ws->enc_scratch, dctx, ws->enc_acts, m->params, &m->enc, &ws->obs,
                         B);
  }
}

void nfp_model_encode(const nfp_model* m, nfp_model_ws* ws, const nfp_obs_batch* obs, int B,
                      float* ctx) {
  nfp_encoder_forward(ctx, ws->enc_acts, m->params, &m->enc, obs, B);
  ws->B = 0;  // the encoder cache no longer matches a logprob call
}

static int inverse(const nfp_model* m, nfp_model_ws* ws, const float* ctx, const double* u,
                   int B, double* action, double* logp, int shared, int f32) {
  if (check_batch(ws, B) != 0) return -1;
  int D = m->chunk_dim;
  int rc = shared ? nfp_flow_inverse_shared(action, ws->logdet, ws->flow, m->params, &m->flow, u,
                                            ctx, B, f32)
                  : nfp_flow_inverse(action, ws->logdet, ws->flow, m->params, &m->flow, u, ctx, B);
  if (rc != 0) return -1;
  for (int b = 0; b < B; b++) {
    const double* ub = u + (size_t)b * D;
    double sq = 0.0;
    for (int i = 0; i < D; i++) sq += ub[i] * ub[i];
    // log p(a) = log N(u) + log|det dT/da| = log N(u) - log|det dT^-1/du|
    logp[b] = -0.5 * sq - 0.5 * D * LOG_2PI - ws->logdet[b];
  }
  ws->B = 0;  // the inverse reuses the flow's activations
  return 0;
}

int nfp_model_inverse(const nfp_model* m, nfp_model_ws* ws, const float* ctx, const double* u,
                      int B, double* action, double* logp) {
  return inverse(m, ws, ctx, u, B, action, logp, 0, 0);
}

int nfp_model_inverse_shared(const nfp_model* m, nfp_model_ws* ws, const float* ctx,
                             const double* u, int B, double* action, double* logp) {
  return inverse(m, ws, ctx, u, B, action, logp, 1, 0);
}

int nfp_model_inverse_rank(const nfp_model* m, nfp_model_ws* ws, const float* ctx,
                           const double* u, int B, double* action, double* logp) {
  return inverse(m, ws, ctx, u, B, action, logp, 1, 1);
}
