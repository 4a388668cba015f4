// The action-chunked critic: an ensemble of residual MLPs over [observation, executed chunk].
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/rl.h"

struct nfp_critic_ws_ {
  int max_batch;
  int B;        // rows of the last forward
  float* inp;   // [max_batch][obs_dim + act_dim]
  float* acts;  // [n_q][acts_per] cached activations
  size_t acts_per;
  float* scratch;  // backward scratch
  float* dinp;     // [max_batch][obs_dim + act_dim]
  float* dout;     // [max_batch]
};

void nfp_critic_config_default(nfp_critic_config* cfg, int obs_dim, int act_dim) {
  cfg->obs_dim = obs_dim;
  cfg->act_dim = act_dim;
  cfg->hidden = 256;
  cfg->blocks = 2;
  cfg->n_q = 2;
}

// Sizes -> tensors registered, weights drawn, target copied.
int nfp_critic_init(nfp_critic* c, const nfp_critic_config* cfg, uint64_t seed) {
  memset(c, 0, sizeof(*c));
  if (cfg->obs_dim < 1 || cfg->act_dim < 1 || cfg->hidden < 1 || cfg->blocks < 0 ||
      cfg->blocks > NFP_RESMLP_MAX_BLOCKS || cfg->n_q < 1 || cfg->n_q > NFP_CRITIC_MAX_Q ||
      cfg->obs_dim > 100000 || cfg->act_dim > 100000 || cfg->hidden > 8192) {
    return nfp_error_set(
        "critic: bad sizes (obs %d, chunk %d, hidden %d, blocks %d, "
        "networks %d; networks 1..%d, blocks 0..%d)",
        cfg->obs_dim, cfg->act_dim, cfg->hidden, cfg->blocks, cfg->n_q, NFP_CRITIC_MAX_Q,
        NFP_RESMLP_MAX_BLOCKS);
  }
  c->cfg = *cfg;
  for (int i = 0; i < cfg->n_q; i++) {
    char prefix[32];
    snprintf(prefix, sizeof(prefix), "critic.%d", i);
    if (nfp_resmlp_build(&c->q[i], &c->table, prefix, cfg->obs_dim + cfg->act_dim, cfg->hidden,
                         cfg->blocks, 0, 1)) {
      nfp_critic_free(c);
      return -1;
    }
  }
  c->num_params = c->table.total;
  c->params = calloc(c->num_params, sizeof(float));
  c->target = calloc(c->num_params, sizeof(float));
  if (c->table.failed || !c->params || !c->target) {
    nfp_critic_free(c);
    return nfp_error_set("critic: out of memory");
  }
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  for (int i = 0; i < cfg->n_q; i++) nfp_resmlp_init(c->params, &c->q[i], &rng, 0);
  memcpy(c->target, c->params, sizeof(float) * c->num_params);
  return 0;
}

void nfp_critic_free(nfp_critic* c) {
  nfp_ptable_free(&c->table);
  free(c->params);
  free(c->target);
  memset(c, 0, sizeof(*c));
}

// Configuration -> JSON object text.
char* nfp_critic_config_to_json(const nfp_critic_config* cfg) {
  char* s = malloc(256);
  if (!s) return NULL;
  snprintf(s, 256, "{\"obs_dim\":%d,\"act_dim\":%d,\"hidden\":%d,\"blocks\":%d,\"n_q\":%d}",
           cfg->obs_dim, cfg->act_dim, cfg->hidden, cfg->blocks, cfg->n_q);
  return s;
}

// JSON object text -> configuration; every field required and integral.
int nfp_critic_config_from_json(nfp_critic_config* cfg, const char* json) {
  cJSON* root = cJSON_Parse(json);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return nfp_error_set("critic configuration: not a JSON object");
  }
  struct {
    const char* name;
    int* field;
  } f[] = {
      {"obs_dim", &cfg->obs_dim}, {"act_dim", &cfg->act_dim}, {"hidden", &cfg->hidden},
      {"blocks", &cfg->blocks},   {"n_q", &cfg->n_q},
  };
  for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
    cJSON* v = cJSON_GetObjectItemCaseSensitive(root, f[i].name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
        fabs(v->valuedouble) > 1e6) {
      cJSON_Delete(root);
      return nfp_error_set("critic configuration: '%s' missing or not an integer", f[i].name);
    }
    *f[i].field = (int)v->valuedouble;
  }
  cJSON_Delete(root);
  return 0;
}

nfp_critic_ws* nfp_critic_ws_create(const nfp_critic* c, int max_batch) {
  nfp_critic_ws* ws = calloc(1, sizeof(*ws));
  if (!ws || max_batch < 1) {
    free(ws);
    nfp_error_set("critic workspace: out of memory or batch %d < 1", max_batch);
    return NULL;
  }
  size_t in = (size_t)(c->cfg.obs_dim + c->cfg.act_dim), B = (size_t)max_batch;
  ws->max_batch = max_batch;
  ws->acts_per = nfp_resmlp_acts_size(&c->q[0], max_batch);
  ws->inp = malloc(sizeof(float) * B * in);
  ws->dinp = malloc(sizeof(float) * B * in);
  ws->dout = malloc(sizeof(float) * B);
  ws->acts = malloc(sizeof(float) * ws->acts_per * (size_t)c->cfg.n_q);
  ws->scratch = malloc(sizeof(float) * nfp_resmlp_scratch_size(&c->q[0], max_batch));
  if (!ws->inp || !ws->dinp || !ws->dout || !ws->acts || !ws->scratch) {
    nfp_critic_ws_free(ws);
    nfp_error_set("critic workspace: out of memory for batch %d", max_batch);
    return NULL;
  }
  return ws;
}

void nfp_critic_ws_free(nfp_critic_ws* ws) {
  if (!ws) return;
  free(ws->inp);
  free(ws->dinp);
  free(ws->dout);
  free(ws->acts);
  free(ws->scratch);
  free(ws);
}

// [obs | act] rows -> every network's output, activations cached per network.
int nfp_critic_forward(const nfp_critic* c, nfp_critic_ws* ws, const float* weights,
                       const float* obs, const float* act, int B, float* q) {
  if (B < 1 || B > ws->max_batch) {
    return nfp_error_set("critic: batch %d outside 1..%d", B, ws->max_batch);
  }
  int od = c->cfg.obs_dim, ad = c->cfg.act_dim, in = od + ad;
  for (int b = 0; b < B; b++) {
    memcpy(ws->inp + (size_t)b * in, obs + (size_t)b * od, sizeof(float) * od);
    memcpy(ws->inp + (size_t)b * in + od, act + (size_t)b * ad, sizeof(float) * ad);
  }
  for (int i = 0; i < c->cfg.n_q; i++) {
    nfp_resmlp_forward(q + (size_t)i * B, ws->acts + ws->acts_per * i, weights, &c->q[i], ws->inp,
                       NULL, B);
  }
  ws->B = B;
  return 0;
}

// dq per network -> parameter and executed-chunk gradients through the cached pass.
void nfp_critic_backward(const nfp_critic* c, nfp_critic_ws* ws, const float* weights,
                         const float* dq, float* grads, float* dact) {
  int B = ws->B, od = c->cfg.obs_dim, ad = c->cfg.act_dim, in = od + ad;
  if (dact) memset(ws->dinp, 0, sizeof(float) * (size_t)B * in);
  for (int i = 0; i < c->cfg.n_q; i++) {
    nfp_resmlp_backward(dact ? ws->dinp : NULL, NULL, grads, ws->scratch, dq + (size_t)i * B,
                        ws->acts + ws->acts_per * i, weights, &c->q[i], ws->inp, NULL, B);
  }
  if (!dact) return;
  for (int b = 0; b < B; b++) {
    for (int j = 0; j < ad; j++) dact[(size_t)b * ad + j] += ws->dinp[(size_t)b * in + od + j];
  }
}

void nfp_critic_min(float* q_min, const float* q, int n_q, int B) {
  for (int b = 0; b < B; b++) {
    float m = q[b];
    for (int i = 1; i < n_q; i++) m = fminf(m, q[(size_t)i * B + b]);
    q_min[b] = m;
  }
}

void nfp_critic_polyak(nfp_critic* c, float tau) {
  for (size_t i = 0; i < c->num_params; i++) c->target[i] += tau * (c->params[i] - c->target[i]);
}
