// The critic of a fine-tuned policy file as an SBS ranking: candidates scored by the ensemble
// minimum of Q over their executed part (nfp eval --rank q).
#include <stdlib.h>
#include <string.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/rl.h"

struct nfp_critic_scorer_ {
  nfp_critic critic;
  int obs_dim, chunk_dim;
};

// A fine-tuning file -> its critic, checked against the policy it will rank for.
nfp_critic_scorer* nfp_critic_scorer_load(const char* path, const nfp_model* policy) {
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  if (!ck) return NULL;
  nfp_meta meta = {0};
  nfp_model* m = nfp_checkpoint_model(ck, &policy->cfg, &meta);
  nfp_critic_scorer* s = calloc(1, sizeof(*s));
  nfp_critic_config cfg;
  const char* json = nfp_meta_get(&meta, "critic_config");
  int rc = -1;
  if (!m || !s) {
    if (!s) nfp_error_set("out of memory");
  } else if (!json || nfp_critic_config_from_json(&cfg, json)) {
    nfp_error_set("%s holds no critic: ranking by Q needs a policy from nfp finetune", path);
  } else if (cfg.obs_dim != policy->obs_dim || cfg.act_dim % policy->cfg.action_dim ||
             cfg.act_dim > policy->chunk_dim) {
    nfp_error_set("%s: its critic (observation %d, chunk %d) does not fit the policy", path,
                  cfg.obs_dim, cfg.act_dim);
  } else if (!nfp_critic_init(&s->critic, &cfg, 0) &&
             !nfp_checkpoint_extra(ck, "train.critic.params", s->critic.params,
                                   s->critic.num_params)) {
    s->obs_dim = policy->obs_dim;
    s->chunk_dim = policy->chunk_dim;
    rc = 0;
  }
  nfp_model_free(m);
  nfp_meta_free(&meta);
  nfp_checkpoint_free(ck);
  if (rc) {
    nfp_critic_scorer_free(s);
    return NULL;
  }
  return s;
}

void nfp_critic_scorer_free(nfp_critic_scorer* s) {
  if (!s) return;
  nfp_critic_free(&s->critic);
  free(s);
}

// The observation repeated per candidate, each candidate's executed part -> min_i Q_i. The
// workspace is the call's own, so threads may share the scorer.
int nfp_critic_scorer_score(void* ctx, const float* state, const double* chunks, int n,
                            double* score) {
  const nfp_critic_scorer* s = ctx;
  const nfp_critic* c = &s->critic;
  int od = s->obs_dim, E = c->cfg.act_dim, nq = c->cfg.n_q;
  nfp_critic_ws* ws = nfp_critic_ws_create(c, n);
  float* buf = malloc(sizeof(float) * (size_t)n * (size_t)(od + E + nq + 1));
  if (!ws || !buf) {
    nfp_critic_ws_free(ws);
    free(buf);
    return nfp_error_set("out of memory scoring %d candidates", n);
  }
  float *obs = buf, *act = obs + (size_t)n * od, *q = act + (size_t)n * E,
        *qmin = q + (size_t)n * nq;
  for (int b = 0; b < n; b++) {
    memcpy(obs + (size_t)b * od, state, sizeof(float) * od);
    for (int j = 0; j < E; j++)
      act[(size_t)b * E + j] = (float)chunks[(size_t)b * s->chunk_dim + j];
  }
  int rc = nfp_critic_forward(c, ws, c->params, obs, act, n, q);
  if (!rc) {
    nfp_critic_min(qmin, q, nq, n);
    for (int b = 0; b < n; b++) score[b] = qmin[b];
  }
  nfp_critic_ws_free(ws);
  free(buf);
  return rc;
}
