// Samplers: single, Stochastic Batch Selection and Gradient Refinement, plus scoring.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/sampler.h"
#include "ws_block.h"

struct nfp_sampler_ {
  const nfp_model* model;
  int max_candidates;
  int n_drawn;       // candidates of the last draw, kept in a
  nfp_model_ws* ws;  // batch max_candidates
  float* state;      // [obs_dim] normalised observation
  float* ctx;        // [C] the observation's context
  double* u;         // [max_candidates, D]
  double* a;         // [max_candidates, D]
  double* logp;      // [max_candidates]
  double* score;     // [max_candidates] the caller's scores of SBS candidates (opts score)
  double* grad;      // [D]
  double* best;      // [D]
  double* trial;     // [D]
  float* chunk;      // [D]
  uint8_t* shrunk;   // [img_src_h/img_down][img_src_w/img_down][3] one frame (image models)
  uint8_t* image;    // [n_cam][img_h][img_w][3] the encoder's input (image models)
};

void nfp_sample_opts_default(nfp_sample_opts* o, const nfp_model* m, nfp_sample_mode mode) {
  o->mode = mode;
  o->sigma = m->cfg.sigma;
  o->n_candidates = m->cfg.sbs_candidates;
  o->gr_steps = m->cfg.gr_steps;
  o->gr_step_size = m->cfg.gr_step_size;
  o->sbs_exact_ranking = 0;
  o->score = NULL;
  o->score_ctx = NULL;
}

int nfp_sample_mode_parse(nfp_sample_mode* mode, const char* name) {
  static const char* names[] = {"single", "sbs", "gr"};
  for (int i = 0; i < 3; i++) {
    if (strcmp(name, names[i]) == 0) {
      *mode = (nfp_sample_mode)i;
      return 0;
    }
  }
  return nfp_error_set("unknown sampling mode \"%s\" (use single, sbs or gr)", name);
}

const char* nfp_sample_mode_name(nfp_sample_mode mode) {
  switch (mode) {
    case NFP_SAMPLE_SINGLE: return "single";
    case NFP_SAMPLE_SBS: return "sbs";
    case NFP_SAMPLE_GR: return "gr";
  }
  return "unknown";
}

// m, max_candidates -> s's buffer pointers into b and b->used (while b->at is NULL, only
// measuring: the pointers are NULL). Every buffer is written before it is read.
static void sampler_layout(nfp_sampler* s, const nfp_model* m, int max_candidates,
                           nfp_ws_block* b) {
  size_t N = (size_t)max_candidates, D = (size_t)m->chunk_dim, C = (size_t)m->cfg.context_dim;
  s->state = nfp_ws_take(b, (size_t)m->obs_dim, sizeof(float));
  s->ctx = nfp_ws_take(b, C + 1, sizeof(float));
  s->u = nfp_ws_take(b, N * D, sizeof(double));
  s->a = nfp_ws_take(b, N * D, sizeof(double));
  s->logp = nfp_ws_take(b, N, sizeof(double));
  s->score = nfp_ws_take(b, N, sizeof(double));
  s->grad = nfp_ws_take(b, D, sizeof(double));
  s->best = nfp_ws_take(b, D, sizeof(double));
  s->trial = nfp_ws_take(b, D, sizeof(double));
  s->chunk = nfp_ws_take(b, D, sizeof(float));
  const nfp_model_config* cfg = &m->cfg;
  s->shrunk = s->image = NULL;  // state-only models: no frames
  if (cfg->n_cam > 0) {
    size_t shrunk = (size_t)(cfg->img_src_h / cfg->img_down) * (cfg->img_src_w / cfg->img_down);
    s->shrunk = nfp_ws_take(b, shrunk * 3, 1);
    size_t input = (size_t)cfg->img_h * cfg->img_w * 3;
    s->image = nfp_ws_take(b, (size_t)nfp_model_config_frames(cfg) * input, 1);
  }
}

// m, max_candidates -> ONE block (the struct, then its buffers) and the model's
// workspace for max_candidates rows, its own block (model.c owns its layout).
nfp_sampler* nfp_sampler_create(const nfp_model* m, int max_candidates) {
  if (max_candidates < 1) max_candidates = 1;
  nfp_sampler measure;
  nfp_ws_block b = {0};
  sampler_layout(&measure, m, max_candidates, &b);
  nfp_sampler* s = nfp_ws_block_alloc(&b, sizeof(*s));
  if (!s) {
    nfp_error_set("sampler: out of memory for %d candidates", max_candidates);
    return NULL;
  }
  s->model = m;
  s->max_candidates = max_candidates;
  sampler_layout(s, m, max_candidates, &b);
  s->ws = nfp_model_ws_create(m, max_candidates);
  if (!s->ws) {
    nfp_sampler_free(s);
    return NULL;
  }
  return s;
}

// The model's workspace, then ours (the struct and its buffers).
void nfp_sampler_free(nfp_sampler* s) {
  if (!s) return;
  nfp_model_ws_free(s->ws);
  free(s);
}

// Camera frames as the model was trained on them (the newest, then with img_first the
// episode's first), shrunk and cropped to the encoder's input in s->image.
static int load_image(nfp_sampler* s, const nfp_obs* obs, nfp_obs_batch* batch) {
  const nfp_model_config* c = &s->model->cfg;
  if (!obs->image) return nfp_error_set("sampler: this policy needs camera frames; none given");
  if (c->img_first && !obs->first_image) {
    return nfp_error_set("sampler: this policy also needs the episode's first camera frames; "
                         "none given");
  }
  if (obs->n_cam != c->n_cam || obs->img_h != c->img_src_h || obs->img_w != c->img_src_w) {
    return nfp_error_set("sampler: the policy takes %d frame(s) of %d x %d, given %d of %d x %d",
                         c->n_cam, c->img_src_h, c->img_src_w, obs->n_cam, obs->img_h,
                         obs->img_w);
  }
  size_t frame = (size_t)c->img_src_h * c->img_src_w * 3, input = (size_t)c->img_h * c->img_w * 3;
  int frames = nfp_model_config_frames(c);
  for (int k = 0; k < frames; k++) {
    const uint8_t* src = k < c->n_cam ? obs->image : obs->first_image;
    nfp_image_policy_input(s->image + k * input, s->shrunk, src + (k % c->n_cam) * frame, c);
  }
  *batch = (nfp_obs_batch){.state = s->state, .image = s->image, .n_cam = frames,
                           .img_h = c->img_h, .img_w = c->img_w};
  return 0;
}

// Normalise the observation into s->state; refuse non-finite values.
static int load_obs(nfp_sampler* s, const nfp_obs* obs, nfp_obs_batch* batch) {
  const nfp_model* m = s->model;
  if (!obs || !obs->state) return nfp_error_set("sampler: observation without a state");
  for (int i = 0; i < m->obs_dim; i++) {
    if (!isfinite(obs->state[i])) {
      return nfp_error_set("sampler: observation state[%d] is not finite", i);
    }
  }
  nfp_model_normalize_state(m, s->state, obs->state, m->cfg.n_obs);
  *batch = (nfp_obs_batch){.state = s->state};
  return m->cfg.n_cam > 0 ? load_image(s, obs, batch) : 0;
}

// Draw n candidates u ~ N(0, sigma^2 I) and invert them under the context in s->ctx;
// rank: with float splines (nfp_model_inverse_rank), good enough to rank them.
static int draw(nfp_sampler* s, int n, double sigma, nfp_rng* rng, int rank) {
  const nfp_model* m = s->model;
  size_t D = (size_t)m->chunk_dim;
  for (size_t i = 0; i < (size_t)n * D; i++) s->u[i] = sigma * nfp_rng_normal(rng);
  s->n_drawn = n;
  if (rank) return nfp_model_inverse_rank(m, s->ws, s->ctx, s->u, n, s->a, s->logp);
  return nfp_model_inverse_shared(m, s->ws, s->ctx, s->u, n, s->a, s->logp);
}

// Gradient ascent on log p from s->a[0] (see sampler.h); leaves the best in s->best.
// The observation's context is s->ctx, computed once for every step.
static int refine(nfp_sampler* s, const nfp_sample_opts* o, double* logp) {
  const nfp_model* m = s->model;
  size_t D = (size_t)m->chunk_dim;
  double one = 1.0, lp_best, lp;
  memcpy(s->best, s->a, sizeof(double) * D);
  if (nfp_model_logprob_ctx_d(m, s->ws, s->ctx, s->best, 1, &lp_best) != 0) return -1;
  memset(s->grad, 0, sizeof(double) * D);
  nfp_model_backward(m, s->ws, &one, NULL, s->grad);
  // eta is a step LENGTH in normalised action units along the gradient direction: a
  // trained flow's density is so peaked that raw gradient steps overshoot by orders of
  // magnitude, while a length adapts to any model.
  double eta = o->gr_step_size;
  for (int k = 0; k < o->gr_steps; k++) {
    double gn = 0.0;
    for (size_t i = 0; i < D; i++) gn += s->grad[i] * s->grad[i];
    gn = sqrt(gn);
    if (!(gn > 0.0) || !isfinite(gn)) break;  // at a maximum (or a broken gradient): stop
    for (size_t i = 0; i < D; i++) s->trial[i] = s->best[i] + (eta / gn) * s->grad[i];
    if (nfp_model_logprob_ctx_d(m, s->ws, s->ctx, s->trial, 1, &lp) != 0) return -1;
    if (isfinite(lp) && lp > lp_best) {
      lp_best = lp;
      memcpy(s->best, s->trial, sizeof(double) * D);
      memset(s->grad, 0, sizeof(double) * D);
      nfp_model_backward(m, s->ws, &one, NULL, s->grad);
      eta *= 1.2;
    } else {
      eta *= 0.5;  // overshoot: keep the best iterate and its gradient, shorten the step
    }
  }
  *logp = lp_best;
  return 0;
}

static int check_opts(const nfp_sampler* s, const nfp_sample_opts* o) {
  if (!(o->sigma > 0.0 && isfinite(o->sigma))) {
    return nfp_error_set("sampler: sigma = %g must be positive", o->sigma);
  }
  if (o->mode == NFP_SAMPLE_SBS && (o->n_candidates < 1 || o->n_candidates > s->max_candidates)) {
    return nfp_error_set("sampler: %d SBS candidates outside 1..%d (the sampler's capacity)",
                         o->n_candidates, s->max_candidates);
  }
  if (o->mode == NFP_SAMPLE_GR && (o->gr_steps < 0 || !(o->gr_step_size > 0.0) ||
                                   !isfinite(o->gr_step_size))) {
    return nfp_error_set("sampler: GR needs steps >= 0 and a positive step size (got %d, %g)",
                         o->gr_steps, o->gr_step_size);
  }
  if (o->mode != NFP_SAMPLE_SINGLE && o->mode != NFP_SAMPLE_SBS && o->mode != NFP_SAMPLE_GR) {
    return nfp_error_set("sampler: unknown mode %d", (int)o->mode);
  }
  return 0;
}

int nfp_sampler_sample(nfp_sampler* s, const nfp_obs* obs, const nfp_sample_opts* o,
                       nfp_rng* rng, float* chunk, double* logp) {
  const nfp_model* m = s->model;
  size_t D = (size_t)m->chunk_dim;
  nfp_obs_batch batch;
  if (check_opts(s, o) != 0 || load_obs(s, obs, &batch) != 0) return -1;
  nfp_model_encode(m, s->ws, &batch, 1, s->ctx);
  const double* a = s->a;
  double lp;
  if (o->mode == NFP_SAMPLE_SBS) {
    int rank = !o->sbs_exact_ranking && o->n_candidates > 1;
    if (draw(s, o->n_candidates, o->sigma, rng, rank) != 0) return -1;
    const double* by = s->logp;
    if (o->score) {
      if (o->score(o->score_ctx, batch.state, s->a, o->n_candidates, s->score) != 0) {
        return nfp_error_wrap("sampler: scoring the candidates");
      }
      by = s->score;
    }
    int best = 0;
    for (int b = 1; b < o->n_candidates; b++) {
      if (by[b] > by[best] || !isfinite(by[best])) best = b;
    }
    // the winner of a float ranking again, exactly: what is returned and reported
    if (rank && nfp_model_inverse_shared(m, s->ws, s->ctx, s->u + best * D, 1, s->a + best * D,
                                         &s->logp[best]) != 0) {
      return -1;
    }
    a = s->a + best * D;
    lp = s->logp[best];
  } else {
    if (draw(s, 1, o->sigma, rng, 0) != 0) return -1;
    lp = s->logp[0];
    if (o->mode == NFP_SAMPLE_GR) {
      if (refine(s, o, &lp) != 0) return -1;
      a = s->best;
    }
  }
  for (size_t i = 0; i < D; i++) s->chunk[i] = (float)a[i];
  nfp_model_denormalize_action(m, chunk, s->chunk, m->cfg.horizon);
  *logp = lp;
  if (!isfinite(lp)) return nfp_error_set("sampler: the sampled chunk has a non-finite log-likelihood");
  return 0;
}

int nfp_sampler_score(nfp_sampler* s, const nfp_obs* obs, const float* chunk, double* logp) {
  const nfp_model* m = s->model;
  nfp_obs_batch batch;
  if (load_obs(s, obs, &batch) != 0) return -1;
  for (int i = 0; i < m->chunk_dim; i++) {
    if (!isfinite(chunk[i])) return nfp_error_set("sampler: chunk[%d] is not finite", i);
  }
  nfp_model_normalize_action(m, s->chunk, chunk, m->cfg.horizon);
  // scratch other than s->a, which keeps the last draw for nfp_sampler_candidates
  for (int i = 0; i < m->chunk_dim; i++) s->trial[i] = (double)s->chunk[i];
  return nfp_model_logprob_d(m, s->ws, &batch, s->trial, 1, logp);
}

int nfp_sampler_candidates(nfp_sampler* s, float* out, int max) {
  const nfp_model* m = s->model;
  size_t D = (size_t)m->chunk_dim;
  int n = s->n_drawn < max ? s->n_drawn : max;
  for (int b = 0; b < n; b++) {
    for (size_t i = 0; i < D; i++) s->chunk[i] = (float)s->a[b * D + i];
    nfp_model_denormalize_action(m, out + b * D, s->chunk, m->cfg.horizon);
  }
  return n;
}
