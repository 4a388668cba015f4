// Samplers: single, SBS and GR give finite chunks in range, SBS never scores below its
// first candidate (the single sample of the same seed), GR never below its start,
// scoring agrees with the reported log-likelihood, and a seed fixes the output.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/error.h"
#include "nfp/sampler.h"

typedef struct {
  nfp_model* model;
  float state[2 * 14];
  nfp_obs obs;
} fixture;

// The default model with its output layers perturbed (a non-trivial flow) and
// normalisation statistics that are not the identity map.
static int setup(void** state) {
  fixture* f = calloc(1, sizeof(*f));
  nfp_model_config c;
  nfp_model_config_default(&c);
  f->model = nfp_model_create(&c, 42);
  nfp_rng rng;
  nfp_rng_seed(&rng, 43);
  for (size_t i = 0; i < f->model->num_params; i++) {
    f->model->params[i] += (float)(0.02 * nfp_rng_normal(&rng));
  }
  float slo[14], shi[14], alo[14], ahi[14];
  for (int j = 0; j < 14; j++) {
    slo[j] = alo[j] = (float)(-1.5 + 0.1 * j);
    shi[j] = ahi[j] = (float)(0.5 + 0.2 * j);
  }
  assert_int_equal(nfp_model_set_norm(f->model, slo, shi, alo, ahi), 0);
  for (int i = 0; i < 28; i++) f->state[i] = (float)nfp_rng_range(&rng, -1.0, 1.0);
  f->obs.state = f->state;
  *state = f;
  return 0;
}

static int teardown(void** state) {
  fixture* f = *state;
  nfp_model_free(f->model);
  free(f);
  return 0;
}

static void check_chunk(const nfp_model* m, const float* chunk) {
  // finite and inside the spline box [-B, B] of the normalised space (sigma 0.5: the
  // base draws stay far inside)
  float n[112];
  nfp_model_normalize_action(m, n, chunk, m->cfg.horizon);
  for (int i = 0; i < m->chunk_dim; i++) {
    assert_true(isfinite(chunk[i]));
    assert_true(fabsf(n[i]) <= (float)m->cfg.tail_bound);
  }
}

static void test_modes(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  nfp_sampler* s = nfp_sampler_create(m, 128);
  assert_non_null(s);
  float chunk[3][112];
  double lp[3], score;
  for (int mode = 0; mode < 3; mode++) {
    nfp_sample_opts o;
    nfp_sample_opts_default(&o, m, (nfp_sample_mode)mode);
    nfp_rng rng;
    nfp_rng_seed(&rng, 7);  // same seed: SBS's first candidate and GR's start are the single draw
    assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk[mode], &lp[mode]), 0);
    check_chunk(m, chunk[mode]);
    assert_int_equal(nfp_sampler_score(s, &f->obs, chunk[mode], &score), 0);
    printf("  %-6s log p %.6f, rescored %.6f\n", nfp_sample_mode_name((nfp_sample_mode)mode),
           lp[mode], score);
    assert_true(fabs(score - lp[mode]) < 1e-3);
  }
  assert_true(lp[NFP_SAMPLE_SBS] >= lp[NFP_SAMPLE_SINGLE]);
  assert_true(lp[NFP_SAMPLE_SBS] > lp[NFP_SAMPLE_SINGLE] + 1.0);  // 128 draws find better
  assert_true(lp[NFP_SAMPLE_GR] > lp[NFP_SAMPLE_SINGLE] + 1e-3);
  nfp_sampler_free(s);
}

// SBS keeps the best of its candidates: it scores at least as well as each single
// draw of its batch (checked for the first by seeding alike, for all by rescoring).
static void test_sbs_is_best(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  nfp_sampler* s = nfp_sampler_create(m, 16);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SBS);
  o.n_candidates = 16;
  nfp_rng rng;
  nfp_rng_seed(&rng, 8);
  float chunk[112];
  double best;
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &best), 0);
  // the same 16 draws one by one: the rng stream is consumed in the same order
  nfp_rng_seed(&rng, 8);
  nfp_sample_opts one;
  nfp_sample_opts_default(&one, m, NFP_SAMPLE_SINGLE);
  double top = -INFINITY;
  for (int k = 0; k < 16; k++) {
    double lp;
    assert_int_equal(nfp_sampler_sample(s, &f->obs, &one, &rng, chunk, &lp), 0);
    top = fmax(top, lp);
  }
  // equal up to float rounding: the batched and the one-row products round differently
  assert_true(fabs(top - best) < 1e-3);
  // the candidates of the last SBS call: all 16, none scoring above the kept one
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &best), 0);
  float cands[16][112];
  assert_int_equal(nfp_sampler_candidates(s, &cands[0][0], 16), 16);
  assert_int_equal(nfp_sampler_candidates(s, &cands[0][0], 4), 4);
  int found = 0;
  for (int k = 0; k < 16; k++) {
    double lp;
    assert_int_equal(nfp_sampler_score(s, &f->obs, cands[k], &lp), 0);
    assert_true(lp <= best + 1e-3);
    found += memcmp(cands[k], chunk, sizeof(chunk)) == 0;
  }
  assert_int_equal(found, 1);  // the returned chunk is one of them
  o.n_candidates = 17;  // more than the sampler holds
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &best), -1);
  assert_non_null(strstr(nfp_error_last(), "candidates"));
  nfp_sampler_free(s);
}

// A caller's ranking: score = the first value of the normalised chunk. The kept chunk is the
// candidate with the largest first joint target (the map to physical units is increasing);
// a failing score fails the call with its message.
static int first_value(void* ctx, const float* state, const double* chunks, int n, double* out) {
  int D = *(const int*)ctx;
  (void)state;
  for (int b = 0; b < n; b++) out[b] = chunks[(size_t)b * D];
  return 0;
}

static int refuse(void* ctx, const float* state, const double* chunks, int n, double* out) {
  (void)ctx, (void)state, (void)chunks, (void)n, (void)out;
  return nfp_error_set("no critic here");
}

static void test_sbs_caller_ranking(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  nfp_sampler* s = nfp_sampler_create(m, 16);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SBS);
  o.n_candidates = 16;
  int D = m->chunk_dim;
  o.score = first_value;
  o.score_ctx = &D;
  nfp_rng rng;
  nfp_rng_seed(&rng, 21);
  float chunk[112], cands[16][112];
  double lp;
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &lp), 0);
  assert_int_equal(nfp_sampler_candidates(s, &cands[0][0], 16), 16);
  float top = -INFINITY;
  for (int k = 0; k < 16; k++) top = fmaxf(top, cands[k][0]);
  assert_float_equal(chunk[0], top, 1e-3);
  double exact;  // the reported log p is still the kept chunk's own
  assert_int_equal(nfp_sampler_score(s, &f->obs, chunk, &exact), 0);
  assert_float_equal(lp, exact, 1e-3);
  o.score = refuse;
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &lp), -1);
  assert_non_null(strstr(nfp_error_last(), "no critic here"));
  nfp_sampler_free(s);
}

// Float ranking (the SBS default) against double ranking on 24 observations of the same
// draws: the same winner except in a near-tie (then within the tie); the reported log p
// is the exact one (nfp_sampler_score of the chunk); and the float pass's chunks and
// log-likelihoods are close to the double ones for every candidate.
static void test_sbs_float_ranking(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  enum { N = 64, OBS = 24 };
  nfp_sampler* s = nfp_sampler_create(m, N);
  nfp_model_ws* ws = nfp_model_ws_create(m, N);
  assert_true(s && ws);
  nfp_sample_opts fast, exact;
  nfp_sample_opts_default(&fast, m, NFP_SAMPLE_SBS);
  fast.n_candidates = N;
  exact = fast;
  exact.sbs_exact_ranking = 1;
  assert_int_equal(fast.sbs_exact_ranking, 0);
  nfp_rng orng;
  nfp_rng_seed(&orng, 77);
  int same = 0;
  double worst_lp = 0.0;
  for (int k = 0; k < OBS; k++) {
    float state_k[28];
    for (int i = 0; i < 28; i++) state_k[i] = (float)nfp_rng_range(&orng, -1.0, 1.0);
    nfp_obs obs = {.state = state_k};
    float c1[112], c2[112];
    double lp1, lp2, score;
    nfp_rng rng;
    nfp_rng_seed(&rng, 100 + k);
    assert_int_equal(nfp_sampler_sample(s, &obs, &fast, &rng, c1, &lp1), 0);
    assert_int_equal(nfp_sampler_score(s, &obs, c1, &score), 0);
    assert_true(fabs(score - lp1) < 1e-3);
    nfp_rng_seed(&rng, 100 + k);
    assert_int_equal(nfp_sampler_sample(s, &obs, &exact, &rng, c2, &lp2), 0);
    // the same winner up to float rounding (a one-row recompute rounds unlike the batch);
    // other candidates differ by a tenth or more
    double dc = 0.0;
    for (int i = 0; i < m->chunk_dim; i++) dc = fmax(dc, fabs((double)c1[i] - c2[i]));
    if (dc < 1e-4) {
      same++;
      assert_true(fabs(lp1 - lp2) < 1e-4);
    } else {
      assert_true(lp1 <= lp2 + 1e-4 && lp2 - lp1 < 1e-3);  // a near-tie, lost by a hair
    }
    // every candidate's float log p against the double one
    nfp_obs_batch batch = {.state = state_k};
    float ctx[128];
    double u[N * 112], a1[N * 112], a2[N * 112], l1[N], l2[N];
    nfp_rng_seed(&rng, 100 + k);
    for (int i = 0; i < N * m->chunk_dim; i++) u[i] = fast.sigma * nfp_rng_normal(&rng);
    float norm[28];
    nfp_model_normalize_state(m, norm, state_k, m->cfg.n_obs);
    batch.state = norm;
    nfp_model_encode(m, ws, &batch, 1, ctx);
    assert_int_equal(nfp_model_inverse_rank(m, ws, ctx, u, N, a1, l1), 0);
    assert_int_equal(nfp_model_inverse_shared(m, ws, ctx, u, N, a2, l2), 0);
    for (int b = 0; b < N; b++) worst_lp = fmax(worst_lp, fabs(l1[b] - l2[b]));
    for (int i = 0; i < N * m->chunk_dim; i++) assert_true(fabs(a1[i] - a2[i]) < 1e-4);
  }
  printf("  float ranking picked the double winner in %d of %d; worst candidate log p error "
         "%.1e\n", same, OBS, worst_lp);
  assert_true(worst_lp < 1e-3);
  assert_true(same >= OBS - 2);
  nfp_model_ws_free(ws);
  nfp_sampler_free(s);
}

static void test_gr_monotone(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  nfp_sampler* s = nfp_sampler_create(m, 1);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_GR);
  double prev = -INFINITY;
  for (int steps = 0; steps <= 20; steps += 5) {  // more steps never end lower
    o.gr_steps = steps;
    nfp_rng rng;
    nfp_rng_seed(&rng, 9);
    float chunk[112];
    double lp;
    assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &lp), 0);
    assert_true(lp >= prev - 1e-9);
    prev = lp;
  }
  nfp_sampler_free(s);
}

static void test_reproducible_and_shared(void** state) {
  fixture* f = *state;
  const nfp_model* m = f->model;
  nfp_sampler* a = nfp_sampler_create(m, 32);
  nfp_sampler* b = nfp_sampler_create(m, 32);  // a second user of the same const model
  for (int mode = 0; mode < 3; mode++) {
    nfp_sample_opts o;
    nfp_sample_opts_default(&o, m, (nfp_sample_mode)mode);
    o.n_candidates = 32;
    float c1[112], c2[112];
    double l1, l2;
    nfp_rng r1, r2;
    nfp_rng_seed(&r1, 100);
    nfp_rng_seed(&r2, 100);
    assert_int_equal(nfp_sampler_sample(a, &f->obs, &o, &r1, c1, &l1), 0);
    assert_int_equal(nfp_sampler_sample(b, &f->obs, &o, &r2, c2, &l2), 0);
    assert_memory_equal(c1, c2, sizeof(c1));
    assert_true(l1 == l2);
    nfp_rng_seed(&r1, 101);  // another seed, another chunk
    assert_int_equal(nfp_sampler_sample(a, &f->obs, &o, &r1, c2, &l2), 0);
    assert_memory_not_equal(c1, c2, sizeof(c1));
  }
  nfp_sampler_free(a);
  nfp_sampler_free(b);
}

static void test_bad_input(void** state) {
  fixture* f = *state;
  nfp_sampler* s = nfp_sampler_create(f->model, 1);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, f->model, NFP_SAMPLE_SINGLE);
  nfp_rng rng;
  nfp_rng_seed(&rng, 1);
  float chunk[112];
  double lp;
  f->state[3] = NAN;
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &lp), -1);
  assert_non_null(strstr(nfp_error_last(), "state[3]"));
  f->state[3] = 0.0f;
  o.sigma = -1.0;
  assert_int_equal(nfp_sampler_sample(s, &f->obs, &o, &rng, chunk, &lp), -1);
  nfp_sample_mode mode;
  assert_int_equal(nfp_sample_mode_parse(&mode, "gr"), 0);
  assert_int_equal(mode, NFP_SAMPLE_GR);
  assert_int_equal(nfp_sample_mode_parse(&mode, "best"), -1);
  nfp_sampler_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_modes),
      cmocka_unit_test(test_sbs_is_best),
      cmocka_unit_test(test_sbs_float_ranking),
      cmocka_unit_test(test_sbs_caller_ranking),
      cmocka_unit_test(test_gr_monotone),
      cmocka_unit_test(test_reproducible_and_shared),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
