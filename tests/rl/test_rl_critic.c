// Finite differences for the new gradients: the critic's (weights and executed chunk), and the
// actor's advantage-weighted likelihood (per-row weights through nfp_model_backward).
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../policy/fd_util.h"
#include "nfp/rl.h"

#define B 5

// sum_i sum_b c[i][b] q_i(obs_b, act_b): a loss whose gradient is the backward with dq = c.
static double critic_objective(const nfp_critic* c, nfp_critic_ws* ws, const float* obs,
                               const float* act, const float* coef) {
  float q[NFP_CRITIC_MAX_Q * B];
  assert_int_equal(nfp_critic_forward(c, ws, c->params, obs, act, B, q), 0);
  double s = 0;
  for (int i = 0; i < c->cfg.n_q * B; i++) s += (double)coef[i] * q[i];
  return s;
}

static void test_critic_gradients(void** state) {
  (void)state;
  nfp_critic_config cfg = {.obs_dim = 6, .act_dim = 4, .hidden = 16, .blocks = 1, .n_q = 2};
  nfp_critic c;
  assert_int_equal(nfp_critic_init(&c, &cfg, 7), 0);
  nfp_critic_ws* ws = nfp_critic_ws_create(&c, B);
  assert_non_null(ws);
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  // bigger weights than the init so every layer matters in the check
  fill_uniform(c.params, c.num_params, 0.3, &rng);
  float obs[B * 6], act[B * 4], coef[2 * B], dact[B * 4] = {0};
  fill_uniform(obs, B * 6, 1.0, &rng);
  fill_uniform(act, B * 4, 1.0, &rng);
  fill_uniform(coef, 2 * B, 1.0, &rng);
  float* grads = calloc(c.num_params, sizeof(float));
  critic_objective(&c, ws, obs, act, coef);
  nfp_critic_backward(&c, ws, c.params, coef, grads, dact);
  int ok = 1;
  double eps = 2e-3;  // small enough not to cross a ReLU's kink, large for float rounding
  for (size_t i = 0; i < c.num_params; i += c.num_params / 97 + 1) {
    float keep = c.params[i];
    c.params[i] = keep + (float)eps;
    double up = critic_objective(&c, ws, obs, act, coef);
    c.params[i] = keep - (float)eps;
    double down = critic_objective(&c, ws, obs, act, coef);
    c.params[i] = keep;
    ok &= grad_close("critic weight", i, grads[i], (up - down) / (2 * eps), 2e-2, 2e-3);
  }
  for (size_t i = 0; i < B * 4; i++) {
    float keep = act[i];
    act[i] = keep + (float)eps;
    double up = critic_objective(&c, ws, obs, act, coef);
    act[i] = keep - (float)eps;
    double down = critic_objective(&c, ws, obs, act, coef);
    act[i] = keep;
    ok &= grad_close("executed chunk", i, dact[i], (up - down) / (2 * eps), 2e-2, 2e-3);
  }
  assert_true(ok);
  // the target follows by Polyak averaging: tau 1 lands on the live weights (to rounding),
  // tau 0.25 a quarter of the way
  float t0 = c.target[3], p0 = c.params[3];
  nfp_critic_polyak(&c, 0.25f);
  assert_float_equal(c.target[3], t0 + 0.25f * (p0 - t0), 1e-6);
  nfp_critic_polyak(&c, 1.0f);
  for (size_t i = 0; i < c.num_params; i++) assert_float_equal(c.target[i], c.params[i], 1e-6);
  free(grads);
  nfp_critic_ws_free(ws);
  nfp_critic_free(&c);
}

// The ensemble minimum per row.
static void test_critic_min(void** state) {
  (void)state;
  float q[6] = {1, 5, -2, 0, 7, -3}, m[3];
  nfp_critic_min(m, q, 2, 3);
  assert_float_equal(m[0], 0, 0);
  assert_float_equal(m[1], 5, 0);
  assert_float_equal(m[2], -3, 0);
}

// Bad sizes are refused with a message, not built.
static void test_critic_bad_config(void** state) {
  (void)state;
  nfp_critic c;
  nfp_critic_config cfg = {.obs_dim = 6, .act_dim = 4, .hidden = 16, .blocks = 1, .n_q = 9};
  assert_int_equal(nfp_critic_init(&c, &cfg, 1), -1);
  cfg.n_q = 2;
  cfg.act_dim = 0;
  assert_int_equal(nfp_critic_init(&c, &cfg, 1), -1);
  nfp_critic_config back;
  cfg.act_dim = 4;
  char* j = nfp_critic_config_to_json(&cfg);
  assert_int_equal(nfp_critic_config_from_json(&back, j), 0);
  assert_memory_equal(&back, &cfg, sizeof(cfg));
  free(j);
  assert_int_equal(nfp_critic_config_from_json(&back, "{\"obs_dim\":6}"), -1);
}

// sum_b w_b log p(a_b | o_b): the actor's weighted objective, whose gradient is the model's
// backward with dlogp = w.
static double weighted_loglik(const nfp_model* m, nfp_model_ws* ws, const float* obs,
                              const float* act, const double* w) {
  nfp_obs_batch ob = {.state = obs};
  double logp[B];
  assert_int_equal(nfp_model_logprob(m, ws, &ob, act, B, logp), 0);
  double s = 0;
  for (int b = 0; b < B; b++) s += w[b] * logp[b];
  return s;
}

static void test_weighted_likelihood_gradient(void** state) {
  (void)state;
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.action_dim = 2;
  cfg.horizon = 3;
  cfg.state_dim = 3;
  cfg.n_layers = 2;
  cfg.hidden = 16;
  cfg.n_blocks = 1;
  cfg.context_dim = 8;
  cfg.enc_hidden = 16;
  nfp_model* m = nfp_model_create(&cfg, 5);
  assert_non_null(m);
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  fill_uniform(m->params, m->num_params, 0.2, &rng);
  float obs[B * 6], act[B * 6];
  fill_uniform(obs, (size_t)B * m->obs_dim, 1.0, &rng);
  fill_uniform(act, (size_t)B * m->chunk_dim, 1.0, &rng);
  double w[B] = {0.5, 2.0, 1.0, 7.5, 0.1};
  float* grads = calloc(m->num_params, sizeof(float));
  weighted_loglik(m, ws, obs, act, w);
  nfp_model_backward(m, ws, w, grads, NULL);
  int ok = 1;
  double eps = 1e-2;
  for (size_t i = 0; i < m->num_params; i += m->num_params / 61 + 1) {
    float keep = m->params[i];
    m->params[i] = keep + (float)eps;
    double up = weighted_loglik(m, ws, obs, act, w);
    m->params[i] = keep - (float)eps;
    double down = weighted_loglik(m, ws, obs, act, w);
    m->params[i] = keep;
    ok &= grad_close("actor weight", i, grads[i], (up - down) / (2 * eps), 3e-2, 5e-3);
  }
  assert_true(ok);
  free(grads);
  nfp_model_ws_free(ws);
  nfp_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_critic_gradients),
      cmocka_unit_test(test_critic_min),
      cmocka_unit_test(test_critic_bad_config),
      cmocka_unit_test(test_weighted_likelihood_gradient),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
