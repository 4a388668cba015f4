// Training end to end through the model API: a 2-D multimodal density learnt to within
// 0.1 nats of its entropy, one demonstration overfit, and resume restoring the run exactly.
#include <cblas.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <cjson/cJSON.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/sampler.h"
#include "nfp/train.h"

//---------------------------------- a mixture of three Gaussians ----------------------------

enum { NMIX = 3 };
static const double mix_w[NMIX] = {0.4, 0.35, 0.25};
static const double mix_mu[NMIX][2] = {{-1.0, -0.5}, {1.0, 0.5}, {0.0, 1.2}};
static const double mix_sd[NMIX] = {0.3, 0.25, 0.2};

static double mix_logpdf(double x, double y) {
  double p = 0.0;
  for (int k = 0; k < NMIX; k++) {
    double dx = (x - mix_mu[k][0]) / mix_sd[k], dy = (y - mix_mu[k][1]) / mix_sd[k];
    p += mix_w[k] * exp(-0.5 * (dx * dx + dy * dy)) / (6.283185307179586 * mix_sd[k] * mix_sd[k]);
  }
  return log(p);
}

static void mix_sample(double* xy, nfp_rng* rng) {
  double u = nfp_rng_uniform(rng);
  int k = 0;
  while (k < NMIX - 1 && u >= mix_w[k]) u -= mix_w[k++];
  xy[0] = mix_mu[k][0] + mix_sd[k] * nfp_rng_normal(rng);
  xy[1] = mix_mu[k][1] + mix_sd[k] * nfp_rng_normal(rng);
}

// H = -int p log p, by the midpoint rule on [-4, 4]^2 (the density is ~0 outside).
static double mix_entropy(void) {
  const int n = 800;
  const double lo = -4.0, h = 8.0 / n;
  double s = 0.0;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double lp = mix_logpdf(lo + (i + 0.5) * h, lo + (j + 0.5) * h);
      if (lp > -700.0) s -= exp(lp) * lp;
    }
  return s * h * h;
}

static void toy_model_config(nfp_model_config* mc) {
  nfp_model_config_default(mc);
  mc->action_dim = 2;
  mc->horizon = 1;
  mc->stride = 1;
  mc->state_dim = 1;
  mc->n_obs = 1;
  mc->n_layers = 6;
  mc->n_bins = 8;
  mc->hidden = 64;
  mc->n_blocks = 2;
  mc->context_dim = 4;
  mc->enc_hidden = 8;
  mc->enc_blocks = 1;
}

static void test_mixture_entropy(void** state) {
  (void)state;
  enum { NE = 10, T = 1000 };
  nfp_rng rng;
  nfp_rng_seed(&rng, 2024);
  nfp_episode eps[NE];
  for (int e = 0; e < NE; e++) {
    assert_int_equal(nfp_episode_alloc(&eps[e], T, 2, 0, 0, 0), 0);
    memset(eps[e].qpos, 0, sizeof(double) * T * 2);  // a constant observation
    for (int t = 0; t < T; t++) mix_sample(eps[e].action + 2 * t, &rng);
  }
  // Episodes carry qpos and action of the same width, so the (constant) state is 2-D too.
  nfp_dataset_config dc = {.horizon = 1, .stride = 1, .n_obs = 1, .val_frac = 0.2f, .seed = 3};
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, NE, &dc, NULL, NULL), 0);
  nfp_model_config mc;
  toy_model_config(&mc);
  mc.state_dim = 2;
  nfp_model* m = nfp_model_create(&mc, 5);
  assert_non_null(m);

  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 25;
  tc.batch = 256;
  tc.lr = 3e-3f;
  tc.ema_decay = 0.995f;
  tc.weight_decay = 0.0f;
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  while (tr.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tr), 0);

  // Test NLL of fresh samples under the EMA weights, in raw units.
  memcpy(m->params, tr.ema.w, sizeof(float) * m->num_params);
  enum { NT = 20000, B = 500 };
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  assert_non_null(ws);
  static float obs[2 * B], zeros[2 * B], act[2 * B], raw[2 * B];
  double logp[B], nll = 0.0;
  for (int i = 0; i < NT; i += B) {
    for (int b = 0; b < B; b++) {
      double xy[2];
      mix_sample(xy, &rng);
      raw[2 * b] = (float)xy[0];
      raw[2 * b + 1] = (float)xy[1];
    }
    nfp_model_normalize_action(m, act, raw, B);
    nfp_model_normalize_state(m, obs, zeros, B);
    nfp_obs_batch ob = {.state = obs};
    assert_int_equal(nfp_model_logprob(m, ws, &ob, act, B, logp), 0);
    for (int b = 0; b < B; b++) nll -= logp[b] + nfp_model_norm_logdet(m);
  }
  nll /= NT;
  double H = mix_entropy();
  printf("mixture: entropy %.4f nats, test NLL %.4f (gap %.4f)\n", H, nll, nll - H);
  assert_true(nll - H < 0.1);
  assert_true(nll - H > -0.05);  // a model cannot beat the entropy beyond sampling noise

  nfp_model_ws_free(ws);
  nfp_trainer_free(&tr);
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  for (int e = 0; e < NE; e++) nfp_episode_free(&eps[e]);
}

//---------------------------------- one demonstration ----------------------------------------

enum { DEMO_T = 60, DEMO_NQ = 3 };

static void make_demo(nfp_episode* ep) {
  assert_int_equal(nfp_episode_alloc(ep, DEMO_T, DEMO_NQ, 0, 0, 0), 0);
  for (int t = 0; t < DEMO_T; t++) {
    double s = (double)t / DEMO_T;
    ep->qpos[t * DEMO_NQ + 0] = 0.8 * sin(3.0 * s);
    ep->qpos[t * DEMO_NQ + 1] = -0.5 + s * s;
    // A gripper closing over 8 frames. (A one-frame step would ask the encoder to resolve a
    // jump between two nearly equal states, which takes far longer to fit.)
    double g = (t - 26) / 8.0;
    ep->qpos[t * DEMO_NQ + 2] = 0.04 * (g < 0.0 ? 0.0 : g > 1.0 ? 1.0 : g);
    for (int j = 0; j < DEMO_NQ; j++) ep->action[t * DEMO_NQ + j] = ep->qpos[t * DEMO_NQ + j];
    ep->action[t * DEMO_NQ + 0] += 0.05;  // the command leads the state
  }
}

static void demo_config(nfp_model_config* mc, nfp_dataset_config* dc) {
  nfp_model_config_default(mc);
  mc->action_dim = mc->state_dim = DEMO_NQ;
  mc->horizon = 4;
  mc->stride = 2;
  mc->n_obs = 2;
  mc->n_layers = 4;
  mc->hidden = 64;
  mc->context_dim = 16;
  mc->enc_hidden = 64;
  *dc = (nfp_dataset_config){.horizon = 4, .stride = 2, .n_obs = 2, .val_frac = 0.0f, .seed = 1};
}

// Train m on ds for all of tc's epochs -> m holds the EMA weights (tr stays open for the
// caller's checks and frees).
static void train_to_end(nfp_trainer* tr, nfp_model* m, const nfp_dataset* ds,
                         const nfp_train_config* tc) {
  assert_int_equal(nfp_trainer_init(tr, m, ds, tc), 0);
  while (tr->epoch < tc->epochs) assert_int_equal(nfp_trainer_epoch(tr), 0);
  memcpy(m->params, tr->ema.w, sizeof(float) * m->num_params);
}

static void test_overfit_one_demo(void** state) {
  (void)state;
  nfp_episode ep;
  make_demo(&ep);
  nfp_model_config mc;
  nfp_dataset_config dc;
  demo_config(&mc, &dc);
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, &ep, 1, &dc, NULL, NULL), 0);
  nfp_model* m = nfp_model_create(&mc, 9);
  assert_non_null(m);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 1200;
  tc.batch = 20;
  tc.lr = 3e-3f;
  tc.ema_decay = 0.99f;
  tc.weight_decay = 0.0f;
  nfp_trainer tr;
  train_to_end(&tr, m, &ds, &tc);

  // Sample every window's chunk with a small sigma and compare with the demo's chunk.
  nfp_sampler* s = nfp_sampler_create(m, 1);
  assert_non_null(s);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SINGLE);
  o.sigma = 0.01;
  nfp_rng rng;
  nfp_rng_seed(&rng, 1);
  double max_err = 0.0, sum_err = 0.0, range[DEMO_NQ];
  for (int j = 0; j < DEMO_NQ; j++) range[j] = m->action_hi[j] - m->action_lo[j];
  for (int t = 0; t < DEMO_T; t++) {
    float hist[2 * DEMO_NQ], chunk[4 * DEMO_NQ];
    for (int k = 0; k < 2; k++)
      for (int j = 0; j < DEMO_NQ; j++)
        hist[k * DEMO_NQ + j] = (float)ep.qpos[(t - k < 0 ? 0 : t - k) * DEMO_NQ + j];
    nfp_obs obs = {.state = hist};
    double lp;
    assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, chunk, &lp), 0);
    for (int h = 0; h < 4; h++) {
      int f = t + 2 * h < DEMO_T ? t + 2 * h : DEMO_T - 1;
      for (int j = 0; j < DEMO_NQ; j++) {
        double err = fabs(chunk[h * DEMO_NQ + j] - ep.action[f * DEMO_NQ + j]) / range[j];
        if (err > max_err) max_err = err;
        sum_err += err;
      }
    }
  }
  double mean_err = sum_err / (DEMO_T * 4 * DEMO_NQ);
  printf("one demo: final train NLL %.2f, chunk error mean %.4f max %.4f of the joint range\n",
         (double)tr.hist_train[tc.epochs - 1], mean_err, max_err);
  assert_true(mean_err < 0.005);
  assert_true(max_err < 0.1);  // the worst window sits on the gripper ramp

  nfp_sampler_free(s);
  nfp_trainer_free(&tr);
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  nfp_episode_free(&ep);
}

//---------------------------------- a task only the camera solves ----------------------------

enum { VT_EPS = 8, VT_T = 8, VT_H = 24, VT_W = 32 };

// Episode e: the joints follow the same path in every episode, and the target pulls both
// joints up when the camera shows a bright square on the right, down when on the left
// (even / odd episodes). Only the image tells the two apart; with hidden_later only the
// episode's first frame shows the square (as an arm hides an object it goes for).
static void make_side_episode(nfp_episode* ep, int e, int hidden_later) {
  assert_int_equal(nfp_episode_alloc(ep, VT_T, 2, 0, VT_H, VT_W), 0);
  double side = e % 2 ? -1.0 : 1.0;
  int col = side > 0 ? VT_W - 10 : 4, row = 6 + 2 * (e / 2);
  for (int t = 0; t < VT_T; t++) {
    ep->qpos[t * 2] = 0.05 * t, ep->qpos[t * 2 + 1] = -0.05 * t;
    ep->action[t * 2] = 0.05 * t + 0.5 * side, ep->action[t * 2 + 1] = -0.05 * t + 0.5 * side;
    uint8_t* img = ep->images + (size_t)t * VT_H * VT_W * 3;
    memset(img, 20, (size_t)VT_H * VT_W * 3);
    for (int r = row; r < row + 6 && (t == 0 || !hidden_later); r++)
      for (int c = col; c < col + 6; c++) memset(img + ((size_t)r * VT_W + c) * 3, 230, 3);
  }
}

// Train a policy on the side episodes (with or without the camera, with or without the
// episode's first frame) -> the fraction of windows whose sampled first action moves to
// the side the square was shown on.
static double side_accuracy(nfp_episode* eps, int camera, int first) {
  nfp_dataset_config dc = {.horizon = 2, .stride = 1, .n_obs = 1, .val_frac = 0.0f, .seed = 1,
                           .img_down = camera, .img_crop_h = camera ? VT_H : 0,
                           .img_crop_w = camera ? VT_W : 0, .img_first = first};
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, VT_EPS, &dc, NULL, NULL), 0);
  nfp_model_config mc;
  nfp_model_config_default(&mc);
  mc.action_dim = mc.state_dim = 2;
  mc.horizon = 2, mc.stride = 1, mc.n_obs = 1, mc.n_layers = 4, mc.hidden = 32;
  mc.context_dim = 8, mc.enc_hidden = 32;
  if (camera) {
    mc.encoder = NFP_ENCODER_CNN, mc.n_cam = 1, mc.img_h = VT_H, mc.img_w = VT_W;
    mc.img_src_h = VT_H, mc.img_src_w = VT_W, mc.img_down = 1, mc.img_first = first;
  }
  nfp_model* m = nfp_model_create(&mc, 5);
  assert_non_null(m);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 120, tc.batch = 32, tc.lr = 3e-3f, tc.ema_decay = 0.95f;
  nfp_trainer tr;
  train_to_end(&tr, m, &ds, &tc);
  nfp_sampler* s = nfp_sampler_create(m, 1);
  assert_non_null(s);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SINGLE);
  o.sigma = 0.1;
  nfp_rng rng;
  nfp_rng_seed(&rng, 2);
  int right = 0, n = 0;
  for (int e = 0; e < VT_EPS; e++) {
    for (int t = 0; t < VT_T; t++, n++) {
      float q[2] = {(float)eps[e].qpos[2 * t], (float)eps[e].qpos[2 * t + 1]}, chunk[4];
      nfp_obs obs = {.state = q};
      if (camera) {
        obs.image = eps[e].images + (size_t)t * VT_H * VT_W * 3;
        obs.first_image = eps[e].images;
        obs.n_cam = 1, obs.img_h = VT_H, obs.img_w = VT_W;
      }
      double lp;
      assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, chunk, &lp), 0);
      double side = e % 2 ? -1.0 : 1.0, moved = chunk[0] - 0.05 * t;
      right += moved * side > 0.0;
    }
  }
  nfp_sampler_free(s);
  nfp_trainer_free(&tr);
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  return (double)right / n;
}

// The side task (the square shown at every step, or at the first only) learnt by a policy
// that should solve it (inputs `good`: camera, first frame) and by one that cannot (`bad`):
// the first must put >= 95 % of its first actions on the square's side, the second <= 75 %.
static void side_contrast(const char* what, int hidden_later, const int good[2],
                          const int bad[2]) {
  nfp_episode eps[VT_EPS];
  for (int e = 0; e < VT_EPS; e++) make_side_episode(&eps[e], e, hidden_later);
  double ok = side_accuracy(eps, good[0], good[1]), guess = side_accuracy(eps, bad[0], bad[1]);
  printf("%s: %.0f %% of the first actions on the square's side, %.0f %% without\n", what,
         100 * ok, 100 * guess);
  assert_true(ok >= 0.95);
  assert_true(guess <= 0.75);
  for (int e = 0; e < VT_EPS; e++) nfp_episode_free(&eps[e]);
}

// The visual task is learnt from the camera, and only from it: the joints alone cannot
// tell the two sides apart, so a state policy guesses.
static void test_image_needed(void** state) {
  (void)state;
  side_contrast("camera vs joints alone", 0, (int[2]){1, 0}, (int[2]){0, 0});
}

// The square shown only in the episode's first frame: learnt with the first frame beside
// the newest (img_first), not from the newest alone (right only at the first step).
static void test_first_frame_needed(void** state) {
  (void)state;
  side_contrast("square at the first step only: first frame vs newest alone", 1,
                (int[2]){1, 1}, (int[2]){1, 0});
}

//---------------------------------- object-state head ----------------------------------------

enum { OH_EPS = 8, OH_T = 12, OH_H = 32, OH_W = 40 };

// Episode e: the object sits at x in [-0.1, 0.1] and the head camera shows it as a bright
// square whose column follows x; the joints know nothing of it.
static void make_object_episode(nfp_episode* ep, int e) {
  assert_int_equal(nfp_episode_alloc(ep, OH_T, 2, 1, OH_H, OH_W), 0);
  double x = -0.1 + 0.2 * e / (OH_EPS - 1);
  int col = 4 + (int)lrint((x + 0.1) / 0.2 * (OH_W - 14));
  for (int t = 0; t < OH_T; t++) {
    ep->qpos[t * 2] = 0.1 * t, ep->qpos[t * 2 + 1] = -0.05 * t;
    ep->action[t * 2] = 0.1 * t + 0.1, ep->action[t * 2 + 1] = -0.05 * t;
    ep->object_state[t] = x;
    uint8_t* img = ep->images + (size_t)t * OH_H * OH_W * 3;
    memset(img, 20, (size_t)OH_H * OH_W * 3);
    for (int r = 12; r < 20; r++)
      for (int c = col; c < col + 6; c++) memset(img + ((size_t)r * OH_W + c) * 3, 230, 3);
  }
}

// Training with the head: its error on the object state falls from the first epoch to the
// last (the trunk learns to see the square), and the bottleneck policy still trains.
static void test_object_head_learns(void** state) {
  (void)state;
  nfp_episode eps[OH_EPS];
  for (int e = 0; e < OH_EPS; e++) make_object_episode(&eps[e], e);
  nfp_dataset_config dc = {.horizon = 2, .stride = 1, .n_obs = 1, .val_frac = 0.0f, .seed = 1,
                           .img_down = 1, .img_crop_h = OH_H, .img_crop_w = OH_W,
                           .aux_object = 1};
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, OH_EPS, &dc, NULL, NULL), 0);
  assert_int_equal(ds.nobj, 1);
  nfp_model_config mc;
  nfp_model_config_default(&mc);
  mc.action_dim = mc.state_dim = 2;
  mc.horizon = 2, mc.stride = 1, mc.n_obs = 1, mc.n_layers = 2, mc.hidden = 16;
  mc.context_dim = 8, mc.enc_hidden = 16;
  mc.encoder = NFP_ENCODER_CNN, mc.n_cam = 1, mc.img_h = OH_H, mc.img_w = OH_W;
  mc.img_src_h = OH_H, mc.img_src_w = OH_W, mc.img_down = 1;
  mc.aux_dim = 1, mc.aux_bottleneck = 1;
  nfp_model* m = nfp_model_create(&mc, 3);
  assert_non_null(m);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 150, tc.batch = 32, tc.lr = 3e-3f, tc.aux_weight = 1.0f;
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  assert_true(isnan(tr.aux_mse));
  assert_int_equal(nfp_trainer_epoch(&tr), 0);
  double first = tr.aux_mse;
  while (tr.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tr), 0);
  printf("object head: MSE %.4f in the first epoch, %.4f in the last (normalised units)\n",
         first, tr.aux_mse);
  assert_true(isfinite(first) && first > 0.0);
  assert_true(tr.aux_mse < 0.25 * first);
  assert_true(tr.aux_mse < 0.05);
  assert_true(isfinite(tr.hist_train[tc.epochs - 1]));
  // a dataset without the object state is refused by a model with a head
  nfp_trainer_free(&tr);
  nfp_dataset ds2;
  dc.aux_object = 0;
  assert_int_equal(nfp_dataset_build(&ds2, eps, OH_EPS, &dc, NULL, NULL), 0);
  assert_int_equal(nfp_trainer_init(&tr, m, &ds2, &tc), -1);
  assert_non_null(strstr(nfp_error_last(), "object-state head takes 1 values"));
  nfp_dataset_free(&ds2);
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  for (int e = 0; e < OH_EPS; e++) nfp_episode_free(&eps[e]);
}

//---------------------------------- resume ---------------------------------------------------

static void test_resume(void** state) {
  (void)state;
  nfp_episode eps[3];
  for (int e = 0; e < 3; e++) {
    make_demo(&eps[e]);
    for (int i = 0; i < DEMO_T * DEMO_NQ; i++) eps[e].action[i] += 0.01 * e;
  }
  nfp_model_config mc;
  nfp_dataset_config dc;
  demo_config(&mc, &dc);
  dc.val_frac = 0.3f;
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, 3, &dc, NULL, NULL), 0);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 6;
  tc.batch = 16;
  tc.action_noise = 0.01f;  // the noise streams must resume too
  tc.obs_noise = 0.02f;

  // Straight through, with the update split over two threads (it must not change a bit).
  nfp_model* a = nfp_model_create(&mc, 4);
  nfp_trainer ta;
  nfp_train_config two = tc;
  two.threads = 2;
  assert_int_equal(nfp_trainer_init(&ta, a, &ds, &two), 0);
  assert_true(a->num_params > ((size_t)1 << 16));  // large enough to be split
  while (ta.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&ta), 0);

  // Three epochs, save, and continue in a fresh trainer from a differently seeded model.
  char dir[] = "/tmp/nfp_resume_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof(path), "%s/run.safetensors", dir);
  nfp_model* b = nfp_model_create(&mc, 4);
  nfp_trainer tb;
  assert_int_equal(nfp_trainer_init(&tb, b, &ds, &tc), 0);
  for (int e = 0; e < 3; e++) assert_int_equal(nfp_trainer_epoch(&tb), 0);
  assert_int_equal(nfp_trainer_save(&tb, path, "synthetic"), 0);

  nfp_model* c = nfp_model_create(&mc, 99);
  nfp_trainer tc2;
  assert_int_equal(nfp_trainer_init(&tc2, c, &ds, &tc), 0);
  assert_int_equal(nfp_trainer_resume(&tc2, path), 0);
  assert_int_equal(tc2.epoch, 3);
  assert_int_equal(tc2.step, tb.step);
  assert_int_equal(tc2.opt.t, tb.opt.t);
  assert_int_equal(tc2.ema.updates, tb.ema.updates);
  assert_memory_equal(tc2.model->params, tb.model->params, sizeof(float) * c->num_params);
  assert_memory_equal(tc2.ema.w, tb.ema.w, sizeof(float) * c->num_params);
  assert_memory_equal(tc2.opt.m, tb.opt.m, sizeof(float) * c->num_params);
  assert_memory_equal(tc2.opt.v, tb.opt.v, sizeof(float) * c->num_params);
  assert_memory_equal(tc2.hist_train, tb.hist_train, sizeof(float) * 3);
  assert_memory_equal(tc2.hist_val, tb.hist_val, sizeof(float) * 3);
  while (tc2.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tc2), 0);

  // The resumed run ends exactly where the straight one did.
  assert_memory_equal(tc2.model->params, ta.model->params, sizeof(float) * a->num_params);
  assert_memory_equal(tc2.ema.w, ta.ema.w, sizeof(float) * a->num_params);
  assert_memory_equal(tc2.hist_val, ta.hist_val, sizeof(float) * tc.epochs);

  // The checkpoint holds the EMA weights and loads as a plain model with the training
  // configuration in its metadata.
  nfp_meta meta = {0};
  nfp_model* loaded = nfp_checkpoint_load(path, &mc, &meta);
  assert_non_null(loaded);
  assert_memory_equal(loaded->params, tb.ema.w, sizeof(float) * c->num_params);
  assert_non_null(nfp_meta_get(&meta, "train_config"));
  nfp_train_config back;
  nfp_dataset_config dback;
  assert_int_equal(nfp_train_config_from_json(&back, &dback, nfp_meta_get(&meta, "train_config")),
                   0);
  assert_int_equal(back.epochs, tc.epochs);
  assert_int_equal(dback.stride, dc.stride);
  assert_float_equal(back.obs_noise, tc.obs_noise, 0);
  // A configuration written before --obs-noise existed reads as "no observation noise".
  char* legacy = strdup(nfp_meta_get(&meta, "train_config"));
  char* field = strstr(legacy, "\"obs_noise\":");
  assert_non_null(field);
  char* comma = strchr(field, ',');
  assert_non_null(comma);
  memmove(field, comma + 1, strlen(comma + 1) + 1);
  back.obs_noise = 1;
  assert_int_equal(nfp_train_config_from_json(&back, &dback, legacy), 0);
  assert_float_equal(back.obs_noise, 0, 0);
  free(legacy);
  nfp_meta_free(&meta);
  nfp_model_free(loaded);

  // Resuming past the end is refused with a message.
  tc.epochs = 2;
  nfp_model* d = nfp_model_create(&mc, 4);
  nfp_trainer td;
  assert_int_equal(nfp_trainer_init(&td, d, &ds, &tc), 0);
  assert_int_equal(nfp_trainer_resume(&td, path), -1);
  assert_non_null(strstr(nfp_error_last(), "epochs"));

  remove(path);
  rmdir(dir);
  nfp_trainer_free(&td);
  nfp_trainer_free(&ta);
  nfp_trainer_free(&tb);
  nfp_trainer_free(&tc2);
  nfp_model_free(a);
  nfp_model_free(b);
  nfp_model_free(c);
  nfp_model_free(d);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 3; e++) nfp_episode_free(&eps[e]);
}

//---------------------------------- best weights, stop, metrics, one read -------------------

// Three demos with independent noise on their actions: the closer the flow fits the noise
// of the two it trains on, the worse it scores the held-out third.
static void overfit_dataset(nfp_dataset* ds, nfp_episode* eps, nfp_model_config* mc) {
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  for (int e = 0; e < 3; e++) {
    make_demo(&eps[e]);
    for (int i = 0; i < DEMO_T * DEMO_NQ; i++) eps[e].action[i] += 0.03 * nfp_rng_normal(&rng);
  }
  nfp_dataset_config dc;
  demo_config(mc, &dc);
  dc.val_frac = 0.34f;
  assert_int_equal(nfp_dataset_build(ds, eps, 3, &dc, NULL, NULL), 0);
  assert_int_equal(ds->n_val, DEMO_T);
}

typedef struct {
  float* best;       // the EMA weights after the epoch that was best when it finished
  size_t n;
  int saves;
} best_watch;

// After every checkpoint (ckpt_every 1): the EMA weights whenever the epoch is the best.
static int watch_best(const nfp_trainer* tr, const char* out_path, void* ctx) {
  (void)out_path;
  best_watch* w = ctx;
  w->saves++;
  if (tr->best_epoch == tr->epoch) memcpy(w->best, tr->ema.w, sizeof(float) * w->n);
  return 0;
}

// How many times text occurs in the file at path.
static int count_in_file(const char* path, const char* text) {
  static char buf[1 << 16];
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  int k = 0;
  for (const char* p = buf; (p = strstr(p, text)); p++) k++;
  return k;
}

// Each line of the metrics file parses as JSON and agrees with the history.
static void check_metrics(const char* path, const nfp_trainer* tr) {
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  char line[1024];
  int k = 0;
  while (fgets(line, sizeof(line), f)) {
    cJSON* j = cJSON_Parse(line);
    if (!j) fail_msg("metrics line %d is not JSON: %s", k + 1, line);
    assert_int_equal(cJSON_GetObjectItem(j, "epoch")->valueint, k + 1);
    const char* keys[] = {"stage", "batch", "lr", "train_nll", "val_nll", "samples_per_s",
                          "seconds", "best_epoch"};
    for (int i = 0; i < 8; i++) assert_true(cJSON_IsNumber(cJSON_GetObjectItem(j, keys[i])));
    assert_float_equal(cJSON_GetObjectItem(j, "val_nll")->valuedouble, tr->hist_val[k],
                       1e-5 * (1.0 + fabs(tr->hist_val[k])));
    assert_null(cJSON_GetObjectItem(j, "object_mse"));  // no object-state head here
    cJSON_Delete(j);
    k++;
  }
  fclose(f);
  assert_int_equal(k, tr->epoch);
}

// A run whose validation NLL rises: the checkpoint keeps the best epoch's EMA weights
// beside the last, the metadata names it, the warning comes once, the metrics parse.
static void test_best_weights_kept(void** state) {
  (void)state;
  nfp_episode eps[3];
  nfp_model_config mc;
  nfp_dataset ds;
  overfit_dataset(&ds, eps, &mc);
  nfp_model* m = nfp_model_create(&mc, 4);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 60, tc.batch = 16, tc.lr = 3e-3f, tc.ema_decay = 0.9f, tc.weight_decay = 0.0f;
  tc.ckpt_every = 1;
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  char dir[] = "/tmp/nfp_best_XXXXXX", path[64], metrics[64], warn_path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/run.safetensors", dir);
  snprintf(metrics, sizeof(metrics), "%s/run.metrics.jsonl", dir);
  snprintf(warn_path, sizeof(warn_path), "%s/warn.txt", dir);
  FILE* warn = fopen(warn_path, "w");
  best_watch w = {malloc(sizeof(float) * m->num_params), m->num_params, 0};
  nfp_train_run_opts ro = {.out_path = path, .warn = warn, .metrics_path = metrics,
                           .overfit_epochs = 10, .on_save = watch_best, .ctx = &w};
  assert_int_equal(nfp_trainer_run(&tr, &ro), 0);
  fclose(warn);
  int best = 0;
  for (int e = 1; e < tc.epochs; e++) best = tr.hist_val[e] < tr.hist_val[best] ? e : best;
  printf("val NLL: first %.3f, best %.3f at epoch %d, last %.3f (train %.3f)\n",
         (double)tr.hist_val[0], (double)tr.hist_val[best], best + 1,
         (double)tr.hist_val[tc.epochs - 1], (double)tr.hist_train[tc.epochs - 1]);
  assert_int_equal(tr.best_epoch, best + 1);
  assert_true(tr.best_epoch > 1 && tr.best_epoch + 10 <= tc.epochs);  // it did rise
  assert_true(tr.hist_val[tc.epochs - 1] > tr.best_val + 0.5f);
  assert_memory_equal(tr.best_w, w.best, sizeof(float) * m->num_params);
  assert_int_equal(w.saves, tc.epochs);
  assert_int_equal(count_in_file(warn_path, "warning: validation NLL"), 1);
  assert_int_equal(count_in_file(warn_path, "\n"), 1);  // one line
  check_metrics(metrics, &tr);

  // The model tensors are the last EMA weights; the best ride along with their epoch.
  nfp_meta meta = {0};
  nfp_model* last = nfp_checkpoint_load(path, &mc, &meta);
  assert_non_null(last);
  assert_memory_equal(last->params, tr.ema.w, sizeof(float) * m->num_params);
  assert_int_equal(nfp_checkpoint_read_extra(path, NFP_TRAIN_BEST_TENSOR, last->params,
                                             m->num_params), 0);
  assert_memory_equal(last->params, w.best, sizeof(float) * m->num_params);
  cJSON* st = cJSON_Parse(nfp_meta_get(&meta, "train_state"));
  assert_int_equal(cJSON_GetObjectItem(st, "best_epoch")->valueint, tr.best_epoch);
  assert_float_equal(cJSON_GetObjectItem(st, "best_val_nll")->valuedouble, tr.best_val, 1e-4);
  cJSON_Delete(st);
  cJSON* pw = cJSON_Parse(nfp_meta_get(&meta, "policy_weights"));
  assert_string_equal(cJSON_GetObjectItem(pw, "weights")->valuestring, "last");
  assert_int_equal(cJSON_GetObjectItem(pw, "epoch")->valueint, tc.epochs);
  cJSON_Delete(pw);
  nfp_meta_free(&meta);

  // Resumed, the best weights and epoch come back.
  nfp_train_config more = tc;
  more.epochs = tc.epochs + 1;
  nfp_model* c = nfp_model_create(&mc, 7);
  nfp_trainer t2;
  assert_int_equal(nfp_trainer_init(&t2, c, &ds, &more), 0);
  assert_int_equal(nfp_trainer_resume(&t2, path), 0);
  assert_int_equal(t2.best_epoch, tr.best_epoch);
  assert_float_equal(t2.best_val, tr.best_val, 0);
  assert_memory_equal(t2.best_w, tr.best_w, sizeof(float) * m->num_params);

  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  free(w.best);
  nfp_model_free(last);
  nfp_trainer_free(&t2);
  nfp_trainer_free(&tr);
  nfp_model_free(c);
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 3; e++) nfp_episode_free(&eps[e]);
}

// The trainer's stop hook: stop once the run has taken `at` optimiser steps in all.
typedef struct {
  long at;
  const nfp_trainer* tr;
} stop_at;

// The stop hook: has the run taken its `at` steps?
static int stop_at_step(void* ctx) {
  const stop_at* s = ctx;
  return s->tr->step >= s->at;
}

// A run stopped after `at` steps in all (saved to path) and resumed in a fresh trainer
// ends bit-for-bit where the uninterrupted run `ta` did. *epoch, *epoch_step: where it
// stopped.
static void stop_and_resume(const nfp_dataset* ds, const nfp_model_config* mc,
                            const nfp_train_config* tc, const char* path, long at,
                            const nfp_trainer* ta, int* epoch, int* epoch_step) {
  nfp_model* b = nfp_model_create(mc, 4);
  nfp_trainer tb;
  assert_int_equal(nfp_trainer_init(&tb, b, ds, tc), 0);
  stop_at s = {at, &tb};
  tb.stop = stop_at_step, tb.stop_ctx = &s;
  nfp_train_run_opts ro = {.out_path = path};
  assert_int_equal(nfp_trainer_run(&tb, &ro), 1);
  assert_int_equal(tb.step, at);
  *epoch = tb.epoch, *epoch_step = tb.epoch_step;

  nfp_model* c = nfp_model_create(mc, 99);
  nfp_trainer t3;
  assert_int_equal(nfp_trainer_init(&t3, c, ds, tc), 0);
  assert_int_equal(nfp_trainer_resume(&t3, path), 0);
  assert_int_equal(t3.epoch, tb.epoch);
  assert_int_equal(t3.epoch_step, tb.epoch_step);
  assert_int_equal(t3.step, at);
  assert_true(t3.epoch_sum == tb.epoch_sum);
  assert_int_equal(t3.best_epoch, tb.best_epoch);
  assert_int_equal(nfp_trainer_run(&t3, &ro), 0);
  size_t n = c->num_params;
  assert_int_equal(t3.step, ta->step);
  assert_memory_equal(t3.model->params, ta->model->params, sizeof(float) * n);
  assert_memory_equal(t3.ema.w, ta->ema.w, sizeof(float) * n);
  assert_memory_equal(t3.best_w, ta->best_w, sizeof(float) * n);
  assert_memory_equal(t3.hist_train, ta->hist_train, sizeof(float) * tc->epochs);
  assert_memory_equal(t3.hist_val, ta->hist_val, sizeof(float) * tc->epochs);
  nfp_trainer_free(&tb);
  nfp_trainer_free(&t3);
  nfp_model_free(b);
  nfp_model_free(c);
}

// A run stopped mid-epoch (as Ctrl-C stops nfp train), or between its last step and the
// validation, saves a checkpoint that resumes there and ends bit-for-bit where an
// uninterrupted run does; one stopped before any step still saves a loadable checkpoint.
static void test_stop_mid_epoch(void** state) {
  (void)state;
  nfp_episode eps[3];
  nfp_model_config mc;
  nfp_dataset ds;
  overfit_dataset(&ds, eps, &mc);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 5, tc.batch = 16, tc.action_noise = 0.01f, tc.ckpt_every = 0;
  nfp_model* a = nfp_model_create(&mc, 4);
  nfp_trainer ta;
  assert_int_equal(nfp_trainer_init(&ta, a, &ds, &tc), 0);
  long after[5];  // steps taken after each epoch (the stages differ in batch)
  while (ta.epoch < tc.epochs) {
    assert_int_equal(nfp_trainer_epoch(&ta), 0);
    after[ta.epoch - 1] = ta.step;
  }
  char dir[] = "/tmp/nfp_stop_XXXXXX", path[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/run.safetensors", dir);
  int epoch, epoch_step;
  stop_and_resume(&ds, &mc, &tc, path, after[1] + 3, &ta, &epoch, &epoch_step);
  assert_int_equal(epoch, 2);  // three steps into the third epoch
  assert_int_equal(epoch_step, 3);
  stop_and_resume(&ds, &mc, &tc, path, after[0], &ta, &epoch, &epoch_step);
  assert_int_equal(epoch, 0);  // every step of the first epoch, not its validation
  assert_int_equal(epoch_step, after[0]);

  // Stopped before the first step: still a checkpoint that loads and resumes.
  nfp_model* b = nfp_model_create(&mc, 4);
  nfp_trainer tb;
  assert_int_equal(nfp_trainer_init(&tb, b, &ds, &tc), 0);
  stop_at s = {0, &tb};
  tb.stop = stop_at_step, tb.stop_ctx = &s;
  nfp_train_run_opts ro = {.out_path = path};
  assert_int_equal(nfp_trainer_run(&tb, &ro), 1);
  nfp_trainer_free(&tb);
  assert_int_equal(nfp_trainer_init(&tb, b, &ds, &tc), 0);
  assert_int_equal(nfp_trainer_resume(&tb, path), 0);
  assert_int_equal(tb.epoch, 0);
  assert_int_equal(tb.step, 0);
  assert_true(isnan(tb.hist_train[0]));

  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  nfp_trainer_free(&ta);
  nfp_trainer_free(&tb);
  nfp_model_free(a);
  nfp_model_free(b);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 3; e++) nfp_episode_free(&eps[e]);
}

// The whole file -> a malloc'd buffer (*n bytes).
static char* file_bytes(const char* path, size_t* n) {
  FILE* f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *n = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  char* b = malloc(*n);
  assert_int_equal(fread(b, 1, *n, f), *n);
  fclose(f);
  return b;
}

// rounds times: path replaced (atomically, by rename) by a and b in turn, as a training run
// saving over the checkpoint does.
static void rewrite_loop(const char* path, const char* a, size_t na, const char* b, size_t nb,
                         int rounds) {
  char tmp[96];
  snprintf(tmp, sizeof(tmp), "%s.swap", path);
  for (int i = 0; i < rounds; i++) {
    FILE* f = fopen(tmp, "wb");
    if (!f) _exit(1);
    size_t n = i % 2 ? nb : na;
    if (fwrite(i % 2 ? b : a, 1, n, f) != n) _exit(1);
    fclose(f);
    if (rename(tmp, path) != 0) _exit(1);
  }
  _exit(0);
}

// Resume reads the checkpoint once: from memory it restores one consistent version, even
// when the file is replaced by a later one meanwhile (it used to read the epoch from one
// version and the history from the next: "train.hist_val has 5 values, expected 3").
static void test_resume_one_read(void** state) {
  (void)state;
  nfp_episode eps[3];
  nfp_model_config mc;
  nfp_dataset ds;
  overfit_dataset(&ds, eps, &mc);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 8, tc.batch = 16;
  char dir[] = "/tmp/nfp_oneread_XXXXXX", path[64], p3[64], p5[64];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/run.safetensors", dir);
  snprintf(p3, sizeof(p3), "%s/e3.safetensors", dir);
  snprintf(p5, sizeof(p5), "%s/e5.safetensors", dir);
  nfp_model* m = nfp_model_create(&mc, 4);
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  for (int e = 0; e < 5; e++) {
    assert_int_equal(nfp_trainer_epoch(&tr), 0);
    if (tr.epoch == 3) assert_int_equal(nfp_trainer_save(&tr, p3, NULL), 0);
  }
  assert_int_equal(nfp_trainer_save(&tr, p5, NULL), 0);

  // Read, then the file replaced and removed: the run restored is the one read.
  assert_int_equal(rename(p3, path), 0);
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  assert_non_null(ck);
  size_t n5;
  char* b5 = file_bytes(p5, &n5);
  assert_int_equal(rename(p5, path), 0);
  assert_int_equal(unlink(path), 0);
  nfp_model* c = nfp_model_create(&mc, 9);
  nfp_trainer t2;
  assert_int_equal(nfp_trainer_init(&t2, c, &ds, &tc), 0);
  assert_int_equal(nfp_trainer_resume_from(&t2, ck), 0);
  nfp_checkpoint_free(ck);
  assert_int_equal(t2.epoch, 3);
  assert_memory_equal(t2.hist_val, tr.hist_val, sizeof(float) * 3);

  // Resumed over and over while another process keeps replacing the file.
  size_t n3;
  assert_int_equal(nfp_trainer_save(&t2, p3, NULL), 0);
  char* b3 = file_bytes(p3, &n3);
  assert_int_equal(rename(p3, path), 0);
  pid_t child = fork();
  assert_true(child >= 0);
  if (child == 0) rewrite_loop(path, b3, n3, b5, n5, 400);
  int seen[2] = {0, 0};
  for (int i = 0; i < 40; i++) {
    nfp_trainer_free(&t2);
    assert_int_equal(nfp_trainer_init(&t2, c, &ds, &tc), 0);
    if (nfp_trainer_resume(&t2, path) != 0) fail_msg("resume %d: %s", i, nfp_error_last());
    assert_true(t2.epoch == 3 || t2.epoch == 5);
    assert_memory_equal(t2.hist_val, tr.hist_val, sizeof(float) * (size_t)t2.epoch);
    seen[t2.epoch == 5]++;
  }
  int st = 0;
  assert_int_equal(waitpid(child, &st, 0), child);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  printf("40 resumes during rewrites: %d of epoch 3, %d of epoch 5\n", seen[0], seen[1]);

  char cmd[96];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
  free(b3);
  free(b5);
  nfp_trainer_free(&tr);
  nfp_trainer_free(&t2);
  nfp_model_free(m);
  nfp_model_free(c);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 3; e++) nfp_episode_free(&eps[e]);
}

int main(void) {
  openblas_set_num_threads(1);  // the same reduction order in both runs of test_resume
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_best_weights_kept),
      cmocka_unit_test(test_stop_mid_epoch),
      cmocka_unit_test(test_resume_one_read),
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_object_head_learns),
      cmocka_unit_test(test_image_needed),
      cmocka_unit_test(test_first_frame_needed),
      cmocka_unit_test(test_overfit_one_demo),
      cmocka_unit_test(test_mixture_entropy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
