// The whole model: configuration, exact log-likelihood, and finite-difference checks
// of d logp / d params and d logp / d action.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/error.h"
#include "nfp/model.h"

static void small_config(nfp_model_config* c) {
  nfp_model_config_default(c);
  c->action_dim = 3;
  c->horizon = 2;
  c->state_dim = 3;
  c->n_obs = 2;
  c->n_layers = 4;
  c->hidden = 12;
  c->n_blocks = 1;
  c->context_dim = 5;
  c->enc_hidden = 10;
  c->enc_blocks = 1;
}

static void test_config(void** state) {
  (void)state;
  nfp_model_config c, d;
  nfp_model_config_default(&c);
  assert_int_equal(nfp_model_config_validate(&c), 0);
  char* json = nfp_model_config_to_json(&c);
  assert_non_null(json);
  assert_int_equal(nfp_model_config_from_json(&d, json), 0);
  assert_int_equal(nfp_model_config_compare(&c, &d), 0);
  free(json);
  d.hidden = 64;
  assert_int_equal(nfp_model_config_compare(&d, &c), -1);
  assert_non_null(strstr(nfp_error_last(), "hidden"));
  assert_int_equal(nfp_model_config_from_json(&d, "{\"hidden\": 3}"), -1);
  assert_int_equal(nfp_model_config_from_json(&d, "[1,2]"), -1);
  c.n_bins = 1;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "n_bins"));
  assert_null(nfp_model_create(&c, 1));

  // the object-state head: image encoders only, the bottleneck only with a head; a config
  // written before the head existed reads as none
  nfp_model_config_default(&c);
  c.aux_dim = 7;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "object-state head"));
  c.encoder = NFP_ENCODER_CNN, c.n_cam = 1, c.img_h = 56, c.img_w = 72;
  c.img_src_h = 240, c.img_src_w = 320, c.img_down = 4, c.aux_bottleneck = 1;
  assert_int_equal(nfp_model_config_validate(&c), 0);
  json = nfp_model_config_to_json(&c);
  assert_int_equal(nfp_model_config_from_json(&d, json), 0);
  assert_int_equal(nfp_model_config_compare(&c, &d), 0);
  free(json);
  c.aux_dim = 0;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  c.aux_bottleneck = 0;
  json = nfp_model_config_to_json(&c);
  char* cut = strstr(json, ",\"aux_dim\"");  // as an older checkpoint has it
  assert_non_null(cut);
  memmove(cut, strstr(json, ",\"sigma\""), strlen(strstr(json, ",\"sigma\"")) + 1);
  assert_int_equal(nfp_model_config_from_json(&d, json), 0);
  assert_int_equal(d.aux_dim, 0);
  free(json);

  // sizes: the reference flow (nfp_model_config_reference) has about 7.08 M parameters
  nfp_model_config_reference(&c);
  nfp_model* m = nfp_model_create(&c, 1);
  assert_non_null(m);
  size_t enc = 0;
  for (int i = 0; i < m->table.n; i++) {
    if (strncmp(m->table.t[i].name, "enc.", 4) == 0) enc += m->table.t[i].size;
  }
  size_t flow = m->num_params - enc;
  printf("  reference: flow %zu + encoder %zu parameters\n", flow, enc);
  assert_true(flow > 7070000 && flow < 7090000);
  assert_non_null(nfp_ptable_find(&m->table, "flow.3.mlp.in.weight"));
  nfp_model_free(m);
  nfp_model_config_default(&c);
  m = nfp_model_create(&c, 1);
  printf("  default: %zu parameters\n", m->num_params);
  nfp_model_free(m);
}

// An untrained model is the identity flow: log p is the standard normal density.
static void test_identity_logprob(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  nfp_model* m = nfp_model_create(&c, 2);
  nfp_model_ws* ws = nfp_model_ws_create(m, 4);
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  int D = m->chunk_dim;
  float* a = malloc(sizeof(float) * 4 * D);
  float st[4 * 28];
  fill_uniform(a, 4 * (size_t)D, 2.0, &rng);
  fill_uniform(st, 4 * 28, 1.0, &rng);
  nfp_obs_batch obs = {.state = st};
  double lp[4];
  assert_int_equal(nfp_model_logprob(m, ws, &obs, a, 4, lp), 0);
  for (int b = 0; b < 4; b++) {
    double want = -0.5 * D * 1.8378770664093453;
    for (int i = 0; i < D; i++) want -= 0.5 * (double)a[b * D + i] * a[b * D + i];
    assert_true(fabs(lp[b] - want) < 1e-9);
  }
  assert_int_equal(nfp_model_logprob(m, ws, &obs, a, 5, lp), -1);  // beyond the workspace
  free(a);
  nfp_model_ws_free(ws);
  nfp_model_free(m);
}

static void test_gradients(void** state) {
  (void)state;
  enum { B = 3 };
  nfp_model_config c;
  small_config(&c);
  nfp_model* m = nfp_model_create(&c, 4);
  assert_non_null(m);
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += (float)nfp_rng_range(&rng, -0.2, 0.2);
  int D = m->chunk_dim;
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  float st[B * 6];
  double a[B * 6], w[B], lp[B];
  fill_uniform(st, B * 6, 1.0, &rng);
  for (int i = 0; i < B * D; i++) a[i] = nfp_rng_range(&rng, -1.5, 1.5);
  for (int b = 0; b < B; b++) w[b] = nfp_rng_normal(&rng);
  nfp_obs_batch obs = {.state = st};
  float* g = calloc(m->num_params, sizeof(float));
  double da[B * 6] = {0};
  assert_int_equal(nfp_model_logprob_d(m, ws, &obs, a, B, lp), 0);
  nfp_model_backward(m, ws, w, g, da);
#define LOSS(out)                                                   \
  do {                                                              \
    nfp_model_logprob_d(m, ws, &obs, a, B, lp);                     \
    out = 0.0;                                                      \
    for (int b = 0; b < B; b++) out += w[b] * lp[b];                \
  } while (0)
  const double h = 1e-3;
  double lpp, lpm;
  int bad = 0;
  int retried = 0;
  for (size_t i = 0; i < m->num_params; i++) {
    float s = m->params[i];
    m->params[i] = s + (float)h;
    LOSS(lpp);
    m->params[i] = s - (float)h;
    LOSS(lpm);
    m->params[i] = s;
    double fd = (lpp - lpm) / (2 * h);
    if (fabs(g[i] - fd) > 1e-3 + 5e-3 * fabs(fd)) {
      // a ReLU pre-activation within h of zero makes the difference straddle a kink:
      // repeat with a step ten times smaller (float noise allows a looser tolerance)
      retried++;
      m->params[i] = s + (float)(h / 10);
      LOSS(lpp);
      m->params[i] = s - (float)(h / 10);
      LOSS(lpm);
      m->params[i] = s;
      bad += !grad_close("d logp/d params", i, g[i], (lpp - lpm) / (2 * h / 10), 2e-2, 2e-3);
    }
  }
  assert_true(retried < 10);
  for (int i = 0; i < B * D; i++) {
    double s = a[i];
    a[i] = s + h;
    LOSS(lpp);
    a[i] = s - h;
    LOSS(lpm);
    a[i] = s;
    bad += !grad_close("d logp/d action", (size_t)i, da[i], (lpp - lpm) / (2 * h), 5e-3, 1e-3);
  }
#undef LOSS
  printf("  checked %zu parameters (%d near a ReLU kink, rechecked with h/10) and %d action "
         "entries\n", m->num_params, retried, B * D);
  assert_int_equal(bad, 0);
  // the float entry point agrees with the double one
  float af[B * 6];
  for (int i = 0; i < B * D; i++) af[i] = (float)a[i];
  double lpf[B];
  assert_int_equal(nfp_model_logprob_d(m, ws, &obs, a, B, lp), 0);
  assert_int_equal(nfp_model_logprob(m, ws, &obs, af, B, lpf), 0);
  for (int b = 0; b < B; b++) assert_true(fabs(lpf[b] - lp[b]) < 1e-4);
  free(g);
  nfp_model_ws_free(ws);
  nfp_model_free(m);
}

static void test_normalisation(void** state) {
  (void)state;
  nfp_model_config c;
  small_config(&c);
  nfp_model* m = nfp_model_create(&c, 1);
  float slo[3] = {-1, 0, 2}, shi[3] = {1, 2, 6}, alo[3] = {0, 0, 0}, ahi[3] = {1, 2, 4};
  assert_int_equal(nfp_model_set_norm(m, slo, shi, alo, ahi), 0);
  float raw[6] = {0.5f, 1.0f, 2.0f, 0.0f, 2.0f, 4.0f}, n[6], back[6];
  nfp_model_normalize_action(m, n, raw, 2);
  assert_true(fabsf(n[0]) < 1e-6f && fabsf(n[3] + 1.0f) < 1e-6f && fabsf(n[5] - 1.0f) < 1e-6f);
  nfp_model_denormalize_action(m, back, n, 2);
  for (int i = 0; i < 6; i++) assert_true(fabsf(back[i] - raw[i]) < 1e-6f);
  assert_true(fabs(nfp_model_norm_logdet(m) - 2 * (log(2.0) + 0.0 + log(0.5))) < 1e-9);
  ahi[1] = 0.0f;
  assert_int_equal(nfp_model_set_norm(m, slo, shi, alo, ahi), -1);
  assert_non_null(strstr(nfp_error_last(), "action joint 1"));
  nfp_model_free(m);
}

// log p with the contexts given equals log p from the observation, and so does its
// action gradient, bit for bit (what gradient refinement relies on); parameter gradients
// are left alone after it.
static void test_given_context(void** state) {
  (void)state;
  enum { B = 3 };
  nfp_model_config c;
  small_config(&c);
  nfp_model* m = nfp_model_create(&c, 4);
  assert_non_null(m);
  nfp_rng rng;
  nfp_rng_seed(&rng, 6);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += (float)nfp_rng_range(&rng, -0.2, 0.2);
  int D = m->chunk_dim;
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  float st[B * 6], ctx[B * 64];
  assert_true(c.context_dim <= 64);
  double a[B * 6], w[B] = {1.0, -0.5, 2.0}, lp[B], lp2[B], da[B * 6] = {0}, da2[B * 6] = {0};
  fill_uniform(st, B * 6, 1.0, &rng);
  for (int i = 0; i < B * D; i++) a[i] = nfp_rng_range(&rng, -1.5, 1.5);
  nfp_obs_batch obs = {.state = st};
  assert_int_equal(nfp_model_logprob_d(m, ws, &obs, a, B, lp), 0);
  nfp_model_backward(m, ws, w, NULL, da);
  nfp_model_encode(m, ws, &obs, B, ctx);
  assert_int_equal(nfp_model_logprob_ctx_d(m, ws, ctx, a, B, lp2), 0);
  float* g = calloc(m->num_params, sizeof(float));
  nfp_model_backward(m, ws, w, g, da2);
  assert_memory_equal(lp, lp2, sizeof(lp));
  assert_memory_equal(da, da2, sizeof(double) * (size_t)(B * D));
  for (size_t i = 0; i < m->num_params; i++) assert_true(g[i] == 0.0f);
  free(g);
  nfp_model_ws_free(ws);
  nfp_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_identity_logprob),
      cmocka_unit_test(test_gradients),
      cmocka_unit_test(test_normalisation),
      cmocka_unit_test(test_given_context),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
