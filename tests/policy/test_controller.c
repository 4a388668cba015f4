// nfp_controller: chunk execution at the control rate. Targets at the strided steps are
// the chunk's targets and in between the exact linear blend (or the held target with
// interpolate = 0); a chunk is sampled exactly every `replan` steps; a seed fixes the
// target stream; the log-likelihood gate holds the position observed at planning; the
// history repeats the first frame until n_obs frames were seen; non-finite input is
// refused; the SBS candidates are exposed and the executed chunk is one of them.
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/rng.h"
#include "nfp/sampler.h"

#define NQ 14      // joints = action_dim
#define NS 17      // state frame: joints + 3 object values
#define H 4        // horizon
#define S 3        // stride
#define NOBS 3     // history frames
#define SPAN ((H - 1) * S + 1)  // control steps one chunk covers
#define NCAND 16   // SBS candidates

static nfp_model* model;

// A small model: a perturbed identity flow with normalisation that is not the identity
// map, so physical and normalised units differ.
static int setup(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  c.action_dim = NQ;
  c.horizon = H;
  c.stride = S;
  c.n_obs = NOBS;
  c.state_dim = NS;
  c.n_layers = 4;
  c.hidden = 32;
  c.n_blocks = 1;
  c.context_dim = 16;
  c.enc_hidden = 32;
  c.sbs_candidates = NCAND;
  c.gr_steps = 3;
  model = nfp_model_create(&c, 5);
  if (!model) return -1;
  nfp_rng rng;
  nfp_rng_seed(&rng, 6);
  for (size_t i = 0; i < model->num_params; i++) {
    model->params[i] += (float)(0.05 * nfp_rng_normal(&rng));
  }
  float slo[NS], shi[NS], alo[NQ], ahi[NQ];
  for (int j = 0; j < NS; j++) slo[j] = (float)(-1.0 - 0.1 * j), shi[j] = (float)(0.5 + 0.1 * j);
  for (int j = 0; j < NQ; j++) alo[j] = slo[j], ahi[j] = shi[j];
  return nfp_model_set_norm(model, slo, shi, alo, ahi);
}

static int teardown(void** state) {
  (void)state;
  nfp_model_free(model);
  return 0;
}

// A smooth, made-up observation for control step t.
static void frame(double* s, int t) {
  for (int j = 0; j < NS; j++) s[j] = 0.3 * sin(0.05 * t + 0.7 * j) - 0.2;
}

static nfp_controller* make(nfp_sample_mode mode, int replan, int interpolate, double min_ll) {
  nfp_controller_opts o;
  nfp_controller_opts_default(&o, model, mode);
  o.replan = replan;
  o.interpolate = interpolate;
  o.min_loglik = min_ll;
  nfp_controller* c = nfp_controller_create(model, &o);
  if (!c) fail_msg("controller: %s", nfp_error_last());
  return c;
}

// (a) Between plans the targets at steps k*S are chunk[k]; in between they are the
// linear blend of the two strided targets around them (interpolate = 1), or chunk[k]
// held for S steps (interpolate = 0). replan = SPAN: a chunk runs to its end.
static void check_execution(int interpolate) {
  nfp_controller* c = make(NFP_SAMPLE_SINGLE, SPAN, interpolate, -INFINITY);
  nfp_controller_reset(c, 11);
  float chunk[H * NQ];
  int t0 = 0, plans = 0;
  for (int t = 0; t < 3 * SPAN; t++) {
    double s[NS], target[NQ];
    nfp_controller_info info;
    frame(s, t);
    assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
    assert_int_equal(info.held, 0);
    if (info.planned) {
      memcpy(chunk, info.chunk, sizeof(chunk));
      t0 = t;
      plans++;
    }
    int u = t - t0, k = u / S, r = u % S;
    assert_in_range(k, 0, H - 1);
    for (int j = 0; j < NQ; j++) {
      double a = chunk[k * NQ + j];
      if (r == 0 || !interpolate) {
        assert_true(target[j] == a);  // exactly the strided target, no rounding
      } else {
        double b = chunk[(k + 1) * NQ + j], w = (double)r / S;
        double want = (1.0 - w) * a + w * b;
        assert_true(fabs(target[j] - want) <= 1e-12 * (1.0 + fabs(want)));
        assert_true(target[j] >= fmin(a, b) - 1e-12 && target[j] <= fmax(a, b) + 1e-12);
      }
    }
  }
  assert_int_equal(plans, 3);
  nfp_controller_free(c);
}

static void test_interpolation(void** state) {
  (void)state;
  check_execution(1);
}

static void test_hold_targets(void** state) {
  (void)state;
  check_execution(0);
}

// (b) info.planned exactly at t % replan == 0; a replan longer than a chunk re-plans
// when the chunk runs out. Sampling latency is reported only on planning steps.
static void test_replan_cadence(void** state) {
  (void)state;
  int replans[] = {1, 2, 5, 8, SPAN, SPAN + 7};
  for (size_t i = 0; i < sizeof(replans) / sizeof(replans[0]); i++) {
    int replan = replans[i], every = replan < SPAN ? replan : SPAN;
    nfp_controller* c = make(NFP_SAMPLE_SINGLE, replan, 1, -INFINITY);
    for (int episode = 0; episode < 2; episode++) {
      nfp_controller_reset(c, 20 + (uint64_t)episode);  // a reset plans at once again
      int plans = 0;
      for (int t = 0; t < 40; t++) {
        double s[NS], target[NQ];
        nfp_controller_info info;
        frame(s, t);
        assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
        if (info.planned != (t % every == 0)) {
          fail_msg("replan %d: step %d planned = %d", replan, t, info.planned);
        }
        if (!info.planned) assert_true(info.plan_ms == 0.0);
        assert_true(info.plan_ms >= 0.0);
        assert_true(isfinite(info.loglik));
        plans += info.planned;
      }
      assert_int_equal(plans, (40 + every - 1) / every);
    }
    nfp_controller_free(c);
  }
}

// Closed loop: the next observation's joints are this step's target, so any difference
// in one target changes everything after it. Writes n targets into out[n][NQ].
static void run_stream(nfp_controller* c, uint64_t seed, int n, double* out) {
  nfp_controller_reset(c, seed);
  double s[NS];
  frame(s, 0);
  for (int t = 0; t < n; t++) {
    assert_int_equal(nfp_controller_act(c, s, NULL, out + t * NQ, NULL), 0);
    memcpy(s, out + t * NQ, sizeof(double) * NQ);
  }
}

// (c) The same seed gives the same target stream bit for bit (a fresh controller or
// one reset after another episode); another seed gives another stream. Every mode.
static void test_determinism(void** state) {
  (void)state;
  enum { N = 30 };
  for (int mode = 0; mode < 3; mode++) {
    nfp_controller* a = make((nfp_sample_mode)mode, 4, 1, -INFINITY);
    nfp_controller* b = make((nfp_sample_mode)mode, 4, 1, -INFINITY);
    static double x[N * NQ], y[N * NQ], z[N * NQ], w[N * NQ];
    run_stream(a, 77, N, x);
    run_stream(b, 78, N, z);  // b has seen another episode before its seed-77 one
    run_stream(b, 77, N, y);
    run_stream(a, 77, N, w);  // a reused after a reset to the same seed
    assert_memory_equal(x, y, sizeof(x));
    assert_memory_equal(x, w, sizeof(x));
    int differ = 0;
    for (int i = 0; i < N * NQ; i++) differ += x[i] != z[i];
    assert_true(differ > N * NQ / 2);
    nfp_controller_free(a);
    nfp_controller_free(b);
  }
}

// (d) A gate above any achievable log-likelihood holds, at every step, the joints
// observed when the chunk was planned (not the present ones, which keep changing);
// -INFINITY never holds; a threshold in the middle holds exactly the chunks below it.
static void test_gate(void** state) {
  (void)state;
  double lls[64];
  int n_ll = 0;
  for (int g = 0; g < 3; g++) {
    double min_ll = g == 0 ? 1e9 : g == 1 ? -INFINITY : 0.0;
    if (g == 2) {  // the median of the chunks' log-likelihoods seen with the gate off
      for (int i = 0; i < n_ll; i++) {
        for (int k = i + 1; k < n_ll; k++) {
          if (lls[k] < lls[i]) {
            double tmp = lls[i];
            lls[i] = lls[k];
            lls[k] = tmp;
          }
        }
      }
      min_ll = 0.5 * (lls[n_ll / 2 - 1] + lls[n_ll / 2]);
    }
    nfp_controller* c = make(NFP_SAMPLE_SBS, 5, 1, min_ll);
    nfp_controller_reset(c, 31);
    double at_plan[NQ];
    int holds = 0, runs = 0;
    for (int t = 0; t < 60; t++) {
      double s[NS], target[NQ];
      nfp_controller_info info;
      frame(s, 3 * t);
      assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
      assert_int_equal(info.planned, t % 5 == 0);
      if (info.planned) memcpy(at_plan, s, sizeof(at_plan));
      if (info.planned && g == 1) lls[n_ll++] = info.loglik;
      assert_int_equal(info.held, info.loglik < min_ll);
      if (info.held) {
        assert_memory_equal(target, at_plan, sizeof(at_plan));
        holds++;
      } else {
        runs++;
      }
    }
    if (g == 0) assert_int_equal(holds, 60);
    if (g == 1) assert_int_equal(runs, 60);
    if (g == 2) assert_true(holds > 0 && runs > 0);
    nfp_controller_free(c);
  }
}

// (e) The controller's chunk is what the sampler gives for the history it should keep:
// newest frame first, the oldest slots repeating the first frame until n_obs frames
// were seen, with the same noise (same seed, one stream across plans).
static void test_history(void** state) {
  (void)state;
  nfp_controller* c = make(NFP_SAMPLE_SINGLE, 1, 1, -INFINITY);
  nfp_controller_opts o;
  nfp_controller_opts_default(&o, model, NFP_SAMPLE_SINGLE);
  nfp_sampler* sm = nfp_sampler_create(model, 1);
  assert_non_null(sm);
  for (int episode = 0; episode < 2; episode++) {  // the second starts over after a reset
    uint64_t seed = 40 + (uint64_t)episode;
    nfp_controller_reset(c, seed);
    nfp_rng rng;
    nfp_rng_seed(&rng, seed);
    float seen[8][NS];
    for (int t = 0; t < 6; t++) {
      double s[NS], target[NQ];
      nfp_controller_info info;
      frame(s, 10 * t + 100 * episode);
      for (int j = 0; j < NS; j++) seen[t][j] = (float)s[j];
      assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
      assert_int_equal(info.planned, 1);
      float hist[NOBS][NS], chunk[H * NQ];
      for (int k = 0; k < NOBS; k++) {
        int from = t - k < 0 ? 0 : t - k;  // clamp at the first frame, as the dataset does
        memcpy(hist[k], seen[from], sizeof(hist[k]));
      }
      nfp_obs obs = {.state = &hist[0][0]};
      double ll, score;
      assert_int_equal(nfp_sampler_sample(sm, &obs, &o.sample, &rng, chunk, &ll), 0);
      assert_memory_equal(info.chunk, chunk, sizeof(chunk));
      assert_true(info.loglik == ll);
      assert_int_equal(nfp_sampler_score(sm, &obs, info.chunk, &score), 0);
      assert_true(fabs(score - ll) < 1e-3 * (1.0 + fabs(ll)));
      // a zero-filled history would be another observation: another chunk score
      if (t < NOBS - 1) {
        float zeroed[NOBS][NS];
        memcpy(zeroed, hist, sizeof(zeroed));
        memset(zeroed[NOBS - 1], 0, sizeof(zeroed[0]));
        nfp_obs other = {.state = &zeroed[0][0]};
        double score0;
        assert_int_equal(nfp_sampler_score(sm, &other, info.chunk, &score0), 0);
        assert_true(score0 != score);
      }
    }
  }
  nfp_sampler_free(sm);
  nfp_controller_free(c);
}

// (f) A non-finite value anywhere in the frame (joints or object state) is refused with
// a message naming it and does not enter the history.
static void test_non_finite(void** state) {
  (void)state;
  nfp_controller* a = make(NFP_SAMPLE_SINGLE, 4, 1, -INFINITY);
  nfp_controller* b = make(NFP_SAMPLE_SINGLE, 4, 1, -INFINITY);
  nfp_controller_reset(a, 50);
  nfp_controller_reset(b, 50);
  double s[NS], bad[NS], ta[NQ], tb[NQ];
  frame(s, 0);
  int idx[] = {0, NQ - 1, NQ, NS - 1};
  double vals[] = {NAN, INFINITY, -INFINITY, NAN};
  for (int i = 0; i < 4; i++) {
    memcpy(bad, s, sizeof(bad));
    bad[idx[i]] = vals[i];
    nfp_error_clear();
    assert_int_equal(nfp_controller_act(a, bad, NULL, ta, NULL), -1);
    const char* msg = nfp_error_last();
    char want[32];
    snprintf(want, sizeof(want), "state %d is not finite", idx[i]);
    if (!strstr(msg, want)) fail_msg("message '%s' lacks '%s'", msg, want);
  }
  for (int t = 0; t < 10; t++) {
    frame(s, t);
    assert_int_equal(nfp_controller_act(a, s, NULL, ta, NULL), 0);
    assert_int_equal(nfp_controller_act(b, s, NULL, tb, NULL), 0);
    assert_memory_equal(ta, tb, sizeof(ta));
  }
  nfp_controller_free(a);
  nfp_controller_free(b);
}

// (g) After an SBS plan the controller exposes all N candidates; the executed chunk is
// one of them, the best scored. Before any plan there are none.
static void test_candidates(void** state) {
  (void)state;
  nfp_controller* c = make(NFP_SAMPLE_SBS, 4, 1, -INFINITY);
  nfp_controller_reset(c, 60);
  static float cand[NCAND + 4][H * NQ];
  assert_int_equal(nfp_controller_candidates(c, &cand[0][0], NCAND + 4), 0);
  nfp_sampler* sm = nfp_sampler_create(model, 1);
  assert_non_null(sm);
  float seen[12][NS], hist[NOBS][NS];
  for (int t = 0; t < 12; t++) {
    double s[NS], target[NQ];
    nfp_controller_info info;
    frame(s, t);
    for (int j = 0; j < NS; j++) seen[t][j] = (float)s[j];
    for (int k = 0; k < NOBS; k++) memcpy(hist[k], seen[t - k < 0 ? 0 : t - k], sizeof(hist[k]));
    assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
    if (!info.planned) continue;
    int n = nfp_controller_candidates(c, &cand[0][0], NCAND + 4);
    assert_int_equal(n, NCAND);
    assert_int_equal(nfp_controller_candidates(c, &cand[0][0], 3), 3);
    n = nfp_controller_candidates(c, &cand[0][0], NCAND + 4);
    nfp_obs obs = {.state = &hist[0][0]};
    int found = -1, distinct = 0;
    double best = -INFINITY;
    for (int b = 0; b < n; b++) {
      if (!memcmp(cand[b], info.chunk, sizeof(cand[b]))) found = b;
      if (b && memcmp(cand[b], cand[0], sizeof(cand[b]))) distinct++;
      double ll;
      assert_int_equal(nfp_sampler_score(sm, &obs, cand[b], &ll), 0);
      if (ll > best) best = ll;
    }
    if (found < 0) fail_msg("step %d: the executed chunk is none of the %d candidates", t, n);
    assert_int_equal(distinct, n - 1);
    assert_true(fabs(info.loglik - best) < 1e-3 * (1.0 + fabs(best)));
  }
  nfp_sampler_free(sm);
  nfp_controller_free(c);
}

// Bad options are refused with a message.
static void test_bad_options(void** state) {
  (void)state;
  nfp_controller_opts o;
  nfp_controller_opts_default(&o, model, NFP_SAMPLE_SINGLE);
  o.replan = 0;
  assert_null(nfp_controller_create(model, &o));
  assert_non_null(strstr(nfp_error_last(), "replan"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_interpolation), cmocka_unit_test(test_hold_targets),
      cmocka_unit_test(test_replan_cadence), cmocka_unit_test(test_determinism),
      cmocka_unit_test(test_gate),          cmocka_unit_test(test_history),
      cmocka_unit_test(test_non_finite),    cmocka_unit_test(test_candidates),
      cmocka_unit_test(test_bad_options),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
