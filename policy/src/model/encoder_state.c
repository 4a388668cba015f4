// State encoder: a residual MLP over the normalised joint state of the last n_obs
// frames, producing the context vector.
#include <stdio.h>

#include "encoder_kinds.h"
#include "nfp/error.h"

static size_t state_acts_size(const nfp_encoder* enc, int B) {
  return nfp_resmlp_acts_size(&enc->mlp, B);
}

static size_t state_scratch_size(const nfp_encoder* enc, int B) {
  return nfp_resmlp_scratch_size(&enc->mlp, B);
}

static void state_init(float* params, const nfp_encoder* enc, nfp_rng* rng) {
  nfp_resmlp_init(params, &enc->mlp, rng, 0);
}

static void state_forward(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B) {
  nfp_resmlp_forward(ctx, acts, params, &enc->mlp, obs->state, NULL, B);
}

static void state_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                           const float* params, const nfp_encoder* enc,
                           const nfp_obs_batch* obs, int B) {
  nfp_resmlp_backward(NULL, NULL, dparams, scratch, dctx, acts, params, &enc->mlp, obs->state,
                      NULL, B);
}

static const nfp_encoder_ops state_ops = {
    .name = "state",
    .acts_size = state_acts_size,
    .scratch_size = state_scratch_size,
    .init = state_init,
    .forward = state_forward,
    .backward = state_backward,
};

int nfp_encoder_state_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix) {
  if (enc->cfg.aux_dim != 0) {
    return nfp_error_set("state encoder: an object-state head needs an image encoder");
  }
  const nfp_encoder_config* cfg = &enc->cfg;
  if (cfg->state_dim <= 0 || cfg->n_obs <= 0 || cfg->hidden <= 0 || cfg->blocks < 0 ||
      cfg->out_dim <= 0) {
    return nfp_error_set("state encoder: bad sizes (state %d x %d frames, hidden %d, blocks %d, "
                         "context %d)", cfg->state_dim, cfg->n_obs, cfg->hidden, cfg->blocks,
                         cfg->out_dim);
  }
  enc->ops = &state_ops;
  enc->in_dim = cfg->state_dim * cfg->n_obs;
  char name[NFP_TENSOR_NAME_MAX];
  snprintf(name, sizeof(name), "%s.mlp", prefix);
  return nfp_resmlp_build(&enc->mlp, table, name, enc->in_dim, cfg->hidden, cfg->blocks, 0,
                          cfg->out_dim);
}
