// Image encoders: a CNN trunk per camera image (shared weights), the features of every
// camera (a flattened map or keypoints) and the state concatenated, then the residual
// MLP to the context.
#include <stdio.h>
#include <string.h>

#include "encoder_kinds.h"
#include "nfp/error.h"

typedef struct {
  float *x, *trunk, *feat, *cat, *mlp;
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
  a->cat = p, p += (size_t)B * enc->in_dim;
  a->mlp = p, p += nfp_resmlp_acts_size(&enc->mlp, B);
  return (size_t)(p - (float*)acts);
}

static size_t image_acts_size(const nfp_encoder* enc, int B) {
  image_acts a;
  return acts_map(&a, NULL, enc, B);
}

// dcat [B, in_dim], then the MLP's or the trunk's scratch.
static size_t image_scratch_size(const nfp_encoder* enc, int B) {
  size_t mlp = nfp_resmlp_scratch_size(&enc->mlp, B);
  size_t cnn = nfp_cnn_scratch_size(&enc->cnn, B * enc->cfg.n_cam);
  return (size_t)B * enc->in_dim + (mlp > cnn ? mlp : cnn);
}

static void image_init(float* params, const nfp_encoder* enc, nfp_rng* rng) {
  nfp_cnn_init(params, &enc->cnn, rng);
  nfp_resmlp_init(params, &enc->mlp, rng, 0);
}

static void image_forward(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B) {
  const nfp_encoder_config* c = &enc->cfg;
  image_acts a;
  acts_map(&a, acts, enc, B);
  int N = B * c->n_cam;
  nfp_image_to_nchw(a.x, obs->image, N, c->img_h, c->img_w);
  nfp_cnn_forward(a.feat, a.trunk, params, &enc->cnn, a.x, N);
  // a row of the MLP input: every camera's features (contiguous per sample), then the state
  size_t F = feat_width(enc), S = state_width(enc);
  for (int b = 0; b < B; b++) {
    float* row = a.cat + (size_t)b * enc->in_dim;
    memcpy(row, a.feat + (size_t)b * F, sizeof(float) * F);
    memcpy(row + F, obs->state + (size_t)b * S, sizeof(float) * S);
  }
  nfp_resmlp_forward(ctx, a.mlp, params, &enc->mlp, a.cat, NULL, B);
}

static void image_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                           const float* params, const nfp_encoder* enc,
                           const nfp_obs_batch* obs, int B) {
  (void)obs;
  image_acts a;
  acts_map(&a, acts, enc, B);
  float* dcat = scratch;
  float* rest = scratch + (size_t)B * enc->in_dim;
  memset(dcat, 0, sizeof(float) * (size_t)B * enc->in_dim);
  nfp_resmlp_backward(dcat, NULL, dparams, rest, dctx, a.mlp, params, &enc->mlp, a.cat, NULL, B);
  // the features' share of dcat, packed as the trunk's [B * n_cam, out_dim] (in place:
  // row b moves down to offset b F, never past rows still to be read)
  size_t F = feat_width(enc);
  for (int b = 0; b < B; b++) {
    memmove(dcat + (size_t)b * F, dcat + (size_t)b * enc->in_dim, sizeof(float) * F);
  }
  nfp_cnn_backward(dparams, rest, dcat, a.trunk, params, &enc->cnn, a.x, B * enc->cfg.n_cam);
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
  enc->in_dim = (int)(feat_width(enc) + state_width(enc));
  snprintf(name, sizeof(name), "%s.mlp", prefix);
  return nfp_resmlp_build(&enc->mlp, table, name, enc->in_dim, cfg->hidden, cfg->blocks, 0,
                          cfg->out_dim);
}
