// Observation encoder interface: build by kind, then dispatch through the ops table.
#include <string.h>

#include "encoder_kinds.h"
#include "nfp/error.h"

int nfp_encoder_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix,
                      const nfp_encoder_config* cfg) {
  memset(enc, 0, sizeof(*enc));
  enc->cfg = *cfg;
  switch (cfg->kind) {
    case NFP_ENCODER_STATE:
      return nfp_encoder_state_build(enc, table, prefix);
    case NFP_ENCODER_RESNET18:
      return nfp_encoder_image_build(enc, table, prefix, NFP_CNN_RESNET18);
    case NFP_ENCODER_CNN:
      return nfp_encoder_image_build(enc, table, prefix, NFP_CNN_SMALL);
    case NFP_ENCODER_CNN_KP:
      return nfp_encoder_image_build(enc, table, prefix, NFP_CNN_KEYPOINT);
  }
  return nfp_error_set("encoder: unknown kind %d", (int)cfg->kind);
}

size_t nfp_encoder_acts_size(const nfp_encoder* enc, int B) { return enc->ops->acts_size(enc, B); }

size_t nfp_encoder_scratch_size(const nfp_encoder* enc, int B) {
  return enc->ops->scratch_size(enc, B);
}

void nfp_encoder_init(float* params, const nfp_encoder* enc, nfp_rng* rng) {
  enc->ops->init(params, enc, rng);
}

void nfp_encoder_forward(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                         const nfp_obs_batch* obs, int B) {
  enc->ops->forward(ctx, acts, params, enc, obs, B);
}

void nfp_encoder_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                          const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B) {
  enc->ops->backward(dparams, scratch, dctx, acts, params, enc, obs, B);
}
