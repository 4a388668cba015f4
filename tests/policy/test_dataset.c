// Dataset windows: chunk stride, end padding, observation history at the start, split by
// episode, normalisation round trip.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/train.h"

// Episode e, frame t, joint j: qpos = 100 e + t + 0.01 j, action = qpos + 0.5, so every value
// names its origin after normalising back.
static void make_episodes(nfp_episode* eps, int n, const int* T, int nq) {
  for (int e = 0; e < n; e++) {
    assert_int_equal(nfp_episode_alloc(&eps[e], T[e], nq, 0, 0, 0), 0);
    for (int t = 0; t < T[e]; t++)
      for (int j = 0; j < nq; j++) {
        eps[e].qpos[t * nq + j] = 100.0 * e + t + 0.01 * j;
        eps[e].action[t * nq + j] = 100.0 * e + t + 0.01 * j + 0.5;
      }
  }
}

static void test_windows(void** state) {
  (void)state;
  enum { NQ = 3 };
  int T[1] = {10};
  nfp_episode ep;
  make_episodes(&ep, 1, T, NQ);
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  cfg.horizon = 4;
  cfg.stride = 3;
  cfg.n_obs = 3;
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.n_train, 10);  // one episode: nothing held out, one window per frame
  assert_int_equal(ds.n_val, 0);
  assert_int_equal(ds.obs_dim, 3 * NQ);
  assert_int_equal(ds.act_dim, 4 * NQ);

  float obs[3 * NQ], act[4 * NQ];
  double o[3 * NQ], a[4 * NQ];
  // Anchor 1: history 1, 0, 0 (clamped); chunk 1, 4, 7, 9 (10 -> padded with the last frame).
  int anchor = 1;
  nfp_dataset_gather(obs, act, &ds, &anchor, 1);
  nfp_norm_invert(o, obs, &ds.state_norm, 3);
  nfp_norm_invert(a, act, &ds.action_norm, 4);
  const int hist[3] = {1, 0, 0}, chunk[4] = {1, 4, 7, 9};
  for (int k = 0; k < 3; k++)
    for (int j = 0; j < NQ; j++) assert_float_equal(o[k * NQ + j], hist[k] + 0.01 * j, 1e-4);
  for (int h = 0; h < 4; h++)
    for (int j = 0; j < NQ; j++) assert_float_equal(a[h * NQ + j], chunk[h] + 0.01 * j + 0.5, 1e-4);

  // Last anchor: every chunk step repeats the last action.
  anchor = 9;
  nfp_dataset_gather(obs, act, &ds, &anchor, 1);
  nfp_norm_invert(a, act, &ds.action_norm, 4);
  for (int h = 0; h < 4; h++) assert_float_equal(a[h * NQ], 9.5, 1e-4);
  nfp_dataset_free(&ds);
  nfp_episode_free(&ep);
}

static void test_split_by_episode(void** state) {
  (void)state;
  enum { NE = 20, NQ = 2 };
  int T[NE];
  for (int e = 0; e < NE; e++) T[e] = 5 + e;
  nfp_episode eps[NE];
  make_episodes(eps, NE, T, NQ);
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  cfg.val_frac = 0.1f;
  cfg.seed = 7;
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, NE, &cfg, NULL, NULL), 0);
  int n_val_eps = 0, val_frames = 0;
  for (int e = 0; e < NE; e++) {
    n_val_eps += ds.is_val[e];
    if (ds.is_val[e]) val_frames += T[e];
  }
  assert_int_equal(n_val_eps, 2);
  assert_int_equal(ds.n_val, val_frames);
  assert_int_equal(ds.n_train + ds.n_val, ds.n_frames);
  // Every window belongs wholly to its side of the split.
  for (int i = 0; i < ds.n_val; i++) assert_true(ds.is_val[ds.frame_ep[ds.val_idx[i]]]);
  for (int i = 0; i < ds.n_train; i++) assert_false(ds.is_val[ds.frame_ep[ds.train_idx[i]]]);

  // Statistics come from training episodes only: normalised training values lie in [-1, 1].
  for (int i = 0; i < ds.n_train; i++) {
    int f = ds.train_idx[i];
    for (int j = 0; j < NQ; j++) {
      assert_true(fabsf(ds.state[f * NQ + j]) <= 1.0f + 1e-5f);
      assert_true(fabsf(ds.action[f * NQ + j]) <= 1.0f + 1e-5f);
    }
  }

  // Same seed, same split; two episodes always give one held out.
  nfp_dataset ds2;
  assert_int_equal(nfp_dataset_build(&ds2, eps, NE, &cfg, NULL, NULL), 0);
  assert_memory_equal(ds.is_val, ds2.is_val, NE);
  nfp_dataset_free(&ds2);
  assert_int_equal(nfp_dataset_build(&ds2, eps, 2, &cfg, NULL, NULL), 0);
  assert_int_equal(ds2.is_val[0] + ds2.is_val[1], 1);
  nfp_dataset_free(&ds2);
  nfp_dataset_free(&ds);
  for (int e = 0; e < NE; e++) nfp_episode_free(&eps[e]);
}

// A twin for the tests: every value negated; refuses episodes longer than *ctx frames.
static int negated_twin(nfp_episode* twin, const nfp_episode* ep, void* ctx) {
  if (ep->T > *(const int*)ctx) return nfp_error_set("test twin: episode too long");
  if (nfp_episode_alloc(twin, ep->T, ep->nq, 0, 0, 0)) return -1;
  twin->seed = ep->seed;
  for (int i = 0; i < ep->T * ep->nq; i++) {
    twin->qpos[i] = -ep->qpos[i];
    twin->action[i] = -ep->action[i];
  }
  return 0;
}

// With a twin hook the dataset holds every episode and its twin, the twin in its
// original's split; a failing twin fails the build with the hook's message.
static void test_twins(void** state) {
  (void)state;
  enum { NE = 10, NQ = 2 };
  int T[NE];
  for (int e = 0; e < NE; e++) T[e] = 5 + e;
  nfp_episode eps[NE];
  make_episodes(eps, NE, T, NQ);
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  cfg.val_frac = 0.2f;
  cfg.seed = 7;
  int max_T = 100;
  cfg.twin = negated_twin;
  cfg.twin_ctx = &max_T;
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, NE, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.n_episodes, 2 * NE);
  int n_val = 0;
  for (int e = 0; e < NE; e++) {
    assert_int_equal(ds.is_val[e], ds.is_val[NE + e]);
    n_val += ds.is_val[e];
    int a = ds.ep_start[e], b = ds.ep_start[NE + e];
    assert_int_equal(ds.ep_start[e + 1] - a, T[e]);
    assert_int_equal(ds.ep_start[NE + e + 1] - b, T[e]);
    // The normalisation spans both signs, symmetric about 0: twins read as negatives.
    for (int k = 0; k < T[e] * NQ; k++) {
      assert_float_equal(ds.state[(size_t)b * NQ + k], -ds.state[(size_t)a * NQ + k], 1e-5);
    }
  }
  assert_int_equal(n_val, 2);
  nfp_dataset_free(&ds);
  max_T = 8;
  assert_int_equal(nfp_dataset_build(&ds, eps, NE, &cfg, NULL, NULL), -1);
  assert_non_null(strstr(nfp_error_last(), "episode too long"));
  for (int e = 0; e < NE; e++) nfp_episode_free(&eps[e]);
}

static void test_norm_round_trip(void** state) {
  (void)state;
  nfp_norm norm = {.dim = 3, .lo = {-2.0f, 0.0f, 5.0f}, .hi = {2.0f, 0.5f, 5.01f}};
  double x[6] = {-2.0, 0.25, 5.005, 1.0, 0.5, 5.0};
  float y[6];
  double back[6];
  nfp_norm_apply(y, x, &norm, 2);
  assert_float_equal(y[0], -1.0, 1e-6);
  assert_float_equal(y[1], 0.0, 1e-6);
  assert_float_equal(y[4], 1.0, 1e-6);
  nfp_norm_invert(back, y, &norm, 2);
  for (int i = 0; i < 6; i++) assert_float_equal(back[i], x[i], 1e-5);

  // A joint that never moves gets the floor range centred on its value, not a zero division.
  int T[1] = {4};
  nfp_episode ep;
  make_episodes(&ep, 1, T, 2);
  for (int t = 0; t < 4; t++) ep.qpos[t * 2 + 1] = 0.3;
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), 0);
  assert_float_equal(ds.state_norm.hi[1] - ds.state_norm.lo[1], NFP_NORM_MIN_RANGE, 1e-6);
  assert_float_equal(ds.state[1], 0.0, 1e-3);
  nfp_dataset_free(&ds);
  nfp_episode_free(&ep);
}

// With the object state the state frame is qpos then object, and `auto` picks it up only
// when the demos have one.
static void test_object_state(void** state) {
  (void)state;
  enum { NQ = 2, NOBJ = 3 };
  int T[1] = {5};
  nfp_episode ep;
  assert_int_equal(nfp_episode_alloc(&ep, T[0], NQ, NOBJ, 0, 0), 0);
  for (int t = 0; t < T[0]; t++) {
    for (int j = 0; j < NQ; j++) ep.qpos[t * NQ + j] = ep.action[t * NQ + j] = t + 0.1 * j;
    for (int k = 0; k < NOBJ; k++) ep.object_state[t * NOBJ + k] = 10.0 * t - k;
  }
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  cfg.n_obs = 2;
  assert_int_equal(cfg.use_object, -1);
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.cfg.use_object, 1);
  assert_int_equal(ds.ns, NQ + NOBJ);
  assert_int_equal(ds.obs_dim, 2 * (NQ + NOBJ));
  assert_int_equal(ds.state_norm.dim, NQ + NOBJ);
  float obs[2 * (NQ + NOBJ)], act[8 * NQ];
  double o[2 * (NQ + NOBJ)];
  int anchor = 3;
  nfp_dataset_gather(obs, act, &ds, &anchor, 1);
  nfp_norm_invert(o, obs, &ds.state_norm, 2);
  for (int k = 0; k < 2; k++) {  // frames 3 then 2
    int t = 3 - k;
    for (int j = 0; j < NQ; j++) assert_float_equal(o[k * 5 + j], t + 0.1 * j, 1e-4);
    for (int m = 0; m < NOBJ; m++) assert_float_equal(o[k * 5 + NQ + m], 10.0 * t - m, 1e-3);
  }
  nfp_dataset_free(&ds);

  cfg.use_object = 0;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.ns, NQ);
  nfp_dataset_free(&ds);
  nfp_episode_free(&ep);

  // Asking for an object state the demos do not have is an error; auto falls back to qpos.
  assert_int_equal(nfp_episode_alloc(&ep, T[0], NQ, 0, 0, 0), 0);
  memset(ep.qpos, 0, sizeof(double) * T[0] * NQ);
  memset(ep.action, 0, sizeof(double) * T[0] * NQ);
  cfg.use_object = 1;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), -1);
  assert_non_null(strstr(nfp_error_last(), "object"));
  cfg.use_object = -1;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.ns, NQ);
  assert_int_equal(ds.cfg.use_object, 0);
  nfp_dataset_free(&ds);
  nfp_episode_free(&ep);
}

static void test_bad_input(void** state) {
  (void)state;
  nfp_dataset ds;
  nfp_dataset_config cfg;
  nfp_dataset_config_default(&cfg);
  assert_int_equal(nfp_dataset_build(&ds, NULL, 0, &cfg, NULL, NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_split_by_episode),
      cmocka_unit_test(test_twins),
      cmocka_unit_test(test_norm_round_trip),
      cmocka_unit_test(test_object_state),
      cmocka_unit_test(test_bad_input),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
