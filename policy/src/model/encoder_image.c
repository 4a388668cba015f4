// Image encoders: a CNN trunk per camera image (shared weights), the features of every
// camera (a flattened map or keypoints) and the state concatenated, then the residual
// MLP to the context.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "encoder_kinds.h"
#include "nfp/error.h"

typedef struct {
  float *x, *trunk, *feat, *aux, *cat, *mlp;
} image_acts;

static size_t state_width(const nfp_encoder* enc) {
  return (size_t)enc->cfg.n_obs * enc->cfg.state_dim;
}

static size_t feat_width(const nfp_encoder* enc) {
  return (size_t)enc->cfg.n_cam * enc->cnn.out_dim;
}

static size_t acts_map(image_acts* a, const float* acts, const nfp_encoder* enc, int B) {
  const nfp_encoder_config* c = &enc->cfg;
  int N = B * c->n_cam;
  float* p = (float*)acts;
  a->x = p, p += (size_t)N * 3 * c->img_h * c->img_w;
  a->trunk = p, p += nfp_cnn_acts_size(&enc->cnn, N);
  a->feat = p, p += (size_t)B * feat_width(enc);
  a->aux = p, p += (size_t)B * c->aux_dim;
  a->cat = p, p += (size_t)B * enc->in_dim;
  a->mlp = p, p += nfp_resmlp_acts_size(&enc->mlp, B);
  return (size_t)(p - (float*)acts);
}

static size_t image_acts_size(const nfp_encoder* enc, int B) {
  image_acts a;
  return acts_map(&a, NULL, enc, B);
}

// dcat [B, in_dim], dfeat [B, features], daux [B, aux_dim], then the MLP's or the trunk's
// scratch.
static size_t image_scratch_size(const nfp_encoder* enc, int B) {
  size_t mlp = nfp_resmlp_scratch_size(&enc->mlp, B);
  size_t cnn = nfp_cnn_scratch_size(&enc->cnn, B * enc->cfg.n_cam);
  return (size_t)B * (enc->in_dim + feat_width(enc) + enc->cfg.aux_dim) + (mlp > cnn ? mlp : cnn);
}

// The MLP's own input besides the state: the head's estimate or the camera features.
static size_t vision_width(const nfp_encoder* enc) {
  return enc->cfg.aux_bottleneck ? (size_t)enc->cfg.aux_dim : feat_width(enc);
}

static void image_init(float* params, const nfp_encoder* enc, nfp_rng* rng) {
  nfp_cnn_init(params, &enc->cnn, rng);
  nfp_resmlp_init(params, &enc->mlp, rng, 0);
  if (enc->cfg.aux_dim > 0) {
    nfp_linear_init(params + enc->aux_w, params + enc->aux_b, (int)feat_width(enc),
                    enc->cfg.aux_dim, rng);
  }
}

// The head is needed for the MLP's input (bottleneck) or for its training loss.
static int aux_active(const nfp_encoder* enc, const nfp_obs_batch* obs) {
  return enc->cfg.aux_dim > 0 && (enc->cfg.aux_bottleneck || obs->aux_target);
}

static void image_forward(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B) {
  const nfp_encoder_config* c = &enc->cfg;
  image_acts a;
  acts_map(&a, acts, enc, B);
  int N = B * c->n_cam;
  nfp_image_to_nchw(a.x, obs->image, N, c->img_h, c->img_w);
  nfp_cnn_forward(a.feat, a.trunk, params, &enc->cnn, a.x, N);
  size_t F = feat_width(enc), S = state_width(enc), V = vision_width(enc);
  if (aux_active(enc, obs)) {
    nfp_linear_forward(a.aux, a.feat, params + enc->aux_w, params + enc->aux_b, B, (int)F,
                       c->aux_dim);
  }
  // a row of the MLP input: every camera's features (contiguous per sample) or the head's
  // estimate, then the state
  const float* vision = c->aux_bottleneck ? a.aux : a.feat;
  for (int b = 0; b < B; b++) {
    float* row = a.cat + (size_t)b * enc->in_dim;
    memcpy(row, vision + (size_t)b * V, sizeof(float) * V);
    memcpy(row + V, obs->state + (size_t)b * S, sizeof(float) * S);
  }
  nfp_resmlp_forward(ctx, a.mlp, params, &enc->mlp, a.cat, NULL, B);
}

double nfp_encoder_aux_mse(const float* acts, const nfp_encoder* enc, const nfp_obs_batch* obs,
                           int B) {
  if (enc->cfg.aux_dim <= 0 || enc->cfg.n_cam <= 0 || !obs->aux_target || B <= 0) return NAN;
  image_acts a;
  acts_map(&a, acts, enc, B);
  size_t n = (size_t)B * enc->cfg.aux_dim;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    double e = (double)a.aux[i] - obs->aux_target[i];
    sum += e * e;
  }
  return sum / (double)n;
}

// d(aux_weight * mean squared error)/d(estimate), added to daux[B, aux_dim].
static void aux_loss_grad(float* daux, const float* aux, const nfp_obs_batch* obs, int B, int K) {
  float scale = 2.0f * obs->aux_weight / (float)((size_t)B * K);
  for (size_t i = 0; i < (size_t)B * K; i++) daux[i] += scale * (aux[i] - obs->aux_target[i]);
}

// dctx (and the head's loss) -> the MLP, the head and the trunk's parameter gradients.
static void image_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                           const float* params, const nfp_encoder* enc,
                           const nfp_obs_batch* obs, int B) {
  const nfp_encoder_config* c = &enc->cfg;
  image_acts a;
  acts_map(&a, acts, enc, B);
  size_t F = feat_width(enc), V = vision_width(enc), K = (size_t)c->aux_dim;
  float* dcat = scratch;
  float* dfeat = dcat + (size_t)B * enc->in_dim;
  float* daux = dfeat + (size_t)B * F;
  float* rest = daux + (size_t)B * K;
  memset(dcat, 0, sizeof(float) * (size_t)B * enc->in_dim);
  nfp_resmlp_backward(dcat, NULL, dparams, rest, dctx, a.mlp, params, &enc->mlp, a.cat, NULL, B);
  // the features' share of dcat -> dfeat. A bottleneck's estimate gets none: the policy's
  // gradient stops there, so the head and trunk learn the object state alone (trained
  // through the policy as well, the estimate drifted from the object state and the policy
  // failed).
  memset(dfeat, 0, sizeof(float) * (size_t)B * (F + K));
  if (!c->aux_bottleneck) {
    for (int b = 0; b < B; b++) {
      memcpy(dfeat + (size_t)b * V, dcat + (size_t)b * enc->in_dim, sizeof(float) * V);
    }
  }
  if (aux_active(enc, obs)) {
    if (obs->aux_target && obs->aux_weight != 0.0f) aux_loss_grad(daux, a.aux, obs, B, (int)K);
    nfp_linear_backward(dfeat, dparams + enc->aux_w, dparams + enc->aux_b, daux, a.feat,
                        params + enc->aux_w, B, (int)F, (int)K);
  }
  // dfeat is the trunk's [B * n_cam, out_dim]
  nfp_cnn_backward(dparams, rest, dfeat, a.trunk, params, &enc->cnn, a.x, B * c->n_cam);
}

static const nfp_encoder_ops image_ops = {
    .name = "image",
    .acts_size = image_acts_size,
    .scratch_size = image_scratch_size,
    .init = image_init,
    .forward = image_forward,
    .backward = image_backward,
};

int nfp_encoder_image_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix,
                            nfp_cnn_kind trunk) {
  const nfp_encoder_config* cfg = &enc->cfg;
  static const char* const names[] = {"resnet18", "cnn", "cnn-kp"};  // by nfp_cnn_kind
  const char* kind = names[trunk];
  if (cfg->state_dim <= 0 || cfg->n_obs <= 0 || cfg->hidden <= 0 || cfg->blocks < 0 ||
      cfg->out_dim <= 0) {
    return nfp_error_set("%s encoder: bad sizes (state %d x %d frames, hidden %d, blocks %d, "
                         "context %d)", kind, cfg->state_dim, cfg->n_obs, cfg->hidden,
                         cfg->blocks, cfg->out_dim);
  }
  if (cfg->n_cam < 1 || cfg->n_cam > NFP_ENCODER_MAX_CAM) {
    return nfp_error_set("%s encoder: %d cameras; expected 1 to %d", kind, cfg->n_cam,
                         NFP_ENCODER_MAX_CAM);
  }
  if (cfg->img_h < NFP_ENCODER_MIN_IMG || cfg->img_h > NFP_ENCODER_MAX_IMG ||
      cfg->img_w < NFP_ENCODER_MIN_IMG || cfg->img_w > NFP_ENCODER_MAX_IMG) {
    return nfp_error_set("%s encoder: image size %dx%d (height x width); each side must be %d "
                         "to %d pixels", kind, cfg->img_h, cfg->img_w, NFP_ENCODER_MIN_IMG,
                         NFP_ENCODER_MAX_IMG);
  }
  enc->ops = &image_ops;
  char name[NFP_TENSOR_NAME_MAX];
  snprintf(name, sizeof(name), "%s.trunk", prefix);
  if (nfp_cnn_build(&enc->cnn, table, name, trunk, cfg->img_h, cfg->img_w) != 0) {
    return nfp_error_wrap("%s encoder", kind);
  }
  if (cfg->aux_dim < 0 || cfg->aux_dim > NFP_ENCODER_MAX_AUX ||
      (cfg->aux_bottleneck && cfg->aux_dim == 0)) {
    return nfp_error_set("%s encoder: object-state head of %d values%s; expected 0 to %d (at "
                         "least 1 for the bottleneck)", kind, cfg->aux_dim,
                         cfg->aux_bottleneck ? " as the bottleneck" : "", NFP_ENCODER_MAX_AUX);
  }
  if (cfg->aux_dim > 0) {
    snprintf(name, sizeof(name), "%s.aux.weight", prefix);
    enc->aux_w = nfp_ptable_add(table, name, 2, cfg->aux_dim, (int)feat_width(enc));
    snprintf(name, sizeof(name), "%s.aux.bias", prefix);
    enc->aux_b = nfp_ptable_add(table, name, 1, cfg->aux_dim, 0);
  }
  enc->in_dim = (int)(vision_width(enc) + state_width(enc));
  snprintf(name, sizeof(name), "%s.mlp", prefix);
  return nfp_resmlp_build(&enc->mlp, table, name, enc->in_dim, cfg->hidden, cfg->blocks, 0,
                          cfg->out_dim);
}
