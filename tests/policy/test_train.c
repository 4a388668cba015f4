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
#include <unistd.h>

#include <cmocka.h>

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
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  while (tr.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tr), 0);
  memcpy(m->params, tr.ema.w, sizeof(float) * m->num_params);

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
// (even / odd episodes). Only the image tells the two apart.
static void make_side_episode(nfp_episode* ep, int e) {
  assert_int_equal(nfp_episode_alloc(ep, VT_T, 2, 0, VT_H, VT_W), 0);
  double side = e % 2 ? -1.0 : 1.0;
  int col = side > 0 ? VT_W - 10 : 4, row = 6 + 2 * (e / 2);
  for (int t = 0; t < VT_T; t++) {
    ep->qpos[t * 2] = 0.05 * t, ep->qpos[t * 2 + 1] = -0.05 * t;
    ep->action[t * 2] = 0.05 * t + 0.5 * side, ep->action[t * 2 + 1] = -0.05 * t + 0.5 * side;
    uint8_t* img = ep->images + (size_t)t * VT_H * VT_W * 3;
    memset(img, 20, (size_t)VT_H * VT_W * 3);
    for (int r = row; r < row + 6; r++)
      for (int c = col; c < col + 6; c++) memset(img + ((size_t)r * VT_W + c) * 3, 230, 3);
  }
}

// Train a policy on the side episodes (with or without the camera) -> the fraction of
// windows whose sampled first action moves to the side the image shows.
static double side_accuracy(nfp_episode* eps, int camera) {
  nfp_dataset_config dc = {.horizon = 2, .stride = 1, .n_obs = 1, .val_frac = 0.0f, .seed = 1,
                           .img_down = camera, .img_crop_h = camera ? VT_H : 0,
                           .img_crop_w = camera ? VT_W : 0};
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, VT_EPS, &dc, NULL, NULL), 0);
  nfp_model_config mc;
  nfp_model_config_default(&mc);
  mc.action_dim = mc.state_dim = 2;
  mc.horizon = 2, mc.stride = 1, mc.n_obs = 1, mc.n_layers = 4, mc.hidden = 32;
  mc.context_dim = 8, mc.enc_hidden = 32;
  if (camera) {
    mc.encoder = NFP_ENCODER_CNN, mc.n_cam = 1, mc.img_h = VT_H, mc.img_w = VT_W;
    mc.img_src_h = VT_H, mc.img_src_w = VT_W, mc.img_down = 1;
  }
  nfp_model* m = nfp_model_create(&mc, 5);
  assert_non_null(m);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 120, tc.batch = 32, tc.lr = 3e-3f, tc.ema_decay = 0.95f;
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  while (tr.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tr), 0);
  memcpy(m->params, tr.ema.w, sizeof(float) * m->num_params);
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

// The visual task is learnt from the camera, and only from it: the joints alone cannot
// tell the two sides apart, so a state policy guesses.
static void test_image_needed(void** state) {
  (void)state;
  nfp_episode eps[VT_EPS];
  for (int e = 0; e < VT_EPS; e++) make_side_episode(&eps[e], e);
  double cam = side_accuracy(eps, 1), joints = side_accuracy(eps, 0);
  printf("square left or right: %.0f %% of the first actions on its side with the camera, "
         "%.0f %% from the joints alone\n", 100 * cam, 100 * joints);
  assert_true(cam >= 0.95);
  assert_true(joints <= 0.75);
  for (int e = 0; e < VT_EPS; e++) nfp_episode_free(&eps[e]);
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

int main(void) {
  openblas_set_num_threads(1);  // the same reduction order in both runs of test_resume
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_resume),
      cmocka_unit_test(test_object_head_learns),
      cmocka_unit_test(test_image_needed),
      cmocka_unit_test(test_overfit_one_demo),
      cmocka_unit_test(test_mixture_entropy),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
