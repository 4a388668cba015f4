// Spatial softmax and the keypoint encoder kind: the expected coordinates of hand-made
// maps, stability on huge logits, finite differences of the backward in several shapes,
// and a cnn-kp policy checkpoint that round-trips bit for bit and acts the same after.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/sampler.h"

// One hot pixel per map at a known (row, col): the keypoint is that pixel's coordinate.
static void test_hot_pixel(void** state) {
  (void)state;
  enum { B = 2, C = 3, H = 5, W = 7 };
  static const int at[B * C][2] = {{0, 0}, {4, 6}, {2, 3}, {0, 6}, {4, 0}, {1, 5}};
  float inp[B * C * H * W], prob[B * C * H * W], out[B * C * 2];
  for (int i = 0; i < B * C * H * W; i++) inp[i] = -3.0f + 0.01f * (float)(i % 7);
  for (int m = 0; m < B * C; m++) inp[(m * H + at[m][0]) * W + at[m][1]] = 40.0f;
  nfp_spatial_softmax_forward(out, prob, inp, B, C, H, W);
  for (int m = 0; m < B * C; m++) {
    float x = -1.0f + 2.0f * (float)at[m][1] / (W - 1);
    float y = -1.0f + 2.0f * (float)at[m][0] / (H - 1);
    assert_float_equal(out[2 * m], x, 1e-5f);
    assert_float_equal(out[2 * m + 1], y, 1e-5f);
  }
  // two equal hot pixels: the midpoint; a flat map: the centre
  float two[H * W] = {0}, flat[H * W], p1[H * W], o1[2];
  two[1 * W + 1] = two[3 * W + 5] = 30.0f;
  nfp_spatial_softmax_forward(o1, p1, two, 1, 1, H, W);
  assert_float_equal(o1[0], (-1.0f + 2.0f / 6 + -1.0f + 10.0f / 6) / 2, 1e-5f);
  assert_float_equal(o1[1], 0.0f, 1e-5f);
  for (int i = 0; i < H * W; i++) flat[i] = 2.5f;
  nfp_spatial_softmax_forward(o1, p1, flat, 1, 1, H, W);
  assert_float_equal(o1[0], 0.0f, 1e-6f);
  assert_float_equal(o1[1], 0.0f, 1e-6f);
  double sum = 0.0;
  for (int i = 0; i < H * W; i++) sum += p1[i];
  assert_float_equal(sum, 1.0, 1e-6);
  // a map one pixel tall or wide sits at 0 along that side
  float row[W], prow[W];
  for (int j = 0; j < W; j++) row[j] = j == 6 ? 50.0f : 0.0f;
  nfp_spatial_softmax_forward(o1, prow, row, 1, 1, 1, W);
  assert_float_equal(o1[0], 1.0f, 1e-5f);
  assert_float_equal(o1[1], 0.0f, 0.0f);
}

// Logits far beyond expf's range give the same keypoints as their shifted copies.
static void test_stable(void** state) {
  (void)state;
  enum { H = 4, W = 6 };
  float a[H * W], b[H * W], pa[H * W], pb[H * W], oa[2], ob[2];
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  for (int i = 0; i < H * W; i++) {
    a[i] = (float)nfp_rng_range(&rng, -4.0, 4.0);
    b[i] = a[i] + 1000.0f;
  }
  nfp_spatial_softmax_forward(oa, pa, a, 1, 1, H, W);
  nfp_spatial_softmax_forward(ob, pb, b, 1, 1, H, W);
  for (int k = 0; k < 2; k++) {
    assert_true(isfinite(ob[k]));
    assert_float_equal(oa[k], ob[k], 1e-3f);  // b's float rounding at 1000 is ~6e-5
  }
  for (int i = 0; i < H * W; i++) b[i] = a[i] * 1e6f;  // nearly a hard argmax
  nfp_spatial_softmax_forward(ob, pb, b, 1, 1, H, W);
  assert_true(isfinite(ob[0]) && isfinite(ob[1]));
}

static double ss_loss(const float* inp, const double* w, int B, int C, int H, int W) {
  size_t n = (size_t)B * C * H * W;
  float* prob = malloc(sizeof(float) * n);
  float* out = malloc(sizeof(float) * B * C * 2);
  nfp_spatial_softmax_forward(out, prob, inp, B, C, H, W);
  double s = 0.0;
  for (int i = 0; i < B * C * 2; i++) s += w[i] * out[i];
  free(prob), free(out);
  return s;
}

// Central differences per input element, from smooth maps to a peaked one.
static void test_fd(void** state) {
  (void)state;
  static const struct {
    int B, C, H, W;
    double scale;
  } cases[] = {{1, 1, 1, 1, 1.0}, {2, 3, 4, 5, 1.0}, {1, 2, 1, 7, 2.0}, {2, 2, 6, 3, 1.0},
               {1, 2, 14, 18, 1.0}, {1, 2, 5, 5, 6.0}};
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
    int B = cases[c].B, C = cases[c].C, H = cases[c].H, W = cases[c].W;
    size_t n = (size_t)B * C * H * W;
    float* inp = malloc(sizeof(float) * n);
    float* prob = malloc(sizeof(float) * n);
    float* din = malloc(sizeof(float) * n);
    float* out = malloc(sizeof(float) * B * C * 2);
    float* dout = malloc(sizeof(float) * B * C * 2);
    double* w = malloc(sizeof(double) * B * C * 2);
    fill_uniform(inp, n, cases[c].scale, &rng);
    if (cases[c].scale > 3.0) inp[7] = 12.0f;  // peaked: most of one map's mass on one pixel
    for (int i = 0; i < B * C * 2; i++) dout[i] = (float)(w[i] = nfp_rng_normal(&rng));
    nfp_spatial_softmax_forward(out, prob, inp, B, C, H, W);
    for (size_t i = 0; i < n; i++) din[i] = 0.25f;  // backward accumulates
    nfp_spatial_softmax_backward(din, dout, out, prob, B, C, H, W);
    int bad = 0;
    const double h = 1e-2;
    for (size_t i = 0; i < n; i++) {
      float save = inp[i];
      inp[i] = (float)(save + h);
      double lp = ss_loss(inp, w, B, C, H, W);
      inp[i] = (float)(save - h);
      double lm = ss_loss(inp, w, B, C, H, W);
      inp[i] = save;
      if (!grad_close("spatial softmax dinp", i, din[i] - 0.25, (lp - lm) / (2 * h), 2e-2, 2e-5)) {
        bad++;
      }
    }
    assert_int_equal(bad, 0);
    free(inp), free(prob), free(din), free(out), free(dout), free(w);
  }
}

// A cnn-kp policy saved and loaded: the same tensors, the same configuration, the same
// chunk from the same frame and noise; a loader expecting the small CNN refuses it.
static void test_checkpoint(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  c.n_layers = 2;
  c.hidden = 16;
  c.n_blocks = 1;
  c.context_dim = 8;
  c.enc_hidden = 16;
  c.encoder = NFP_ENCODER_CNN_KP;
  c.n_cam = 1;
  c.img_h = 24;
  c.img_w = 32;
  c.img_down = 1;
  c.img_src_h = 28;
  c.img_src_w = 36;
  nfp_model* m = nfp_model_create(&c, 1);
  if (!m) fail_msg("%s", nfp_error_last());
  assert_non_null(nfp_ptable_find(&m->table, "enc.trunk.kp.weight"));
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.05f * (float)nfp_rng_normal(&rng);
  float lo[14], hi[14];
  for (int i = 0; i < 14; i++) lo[i] = -1.0f - 0.1f * (float)i, hi[i] = 1.0f + 0.2f * (float)i;
  assert_int_equal(nfp_model_set_norm(m, lo, hi, lo, hi), 0);
  char dir[] = "/tmp/nfp_kp_ckptXXXXXX", path[96];
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/kp.safetensors", dir);
  if (nfp_checkpoint_save(path, m, NULL, NULL, NULL, 0) != 0) fail_msg("%s", nfp_error_last());
  nfp_model* l = nfp_checkpoint_load(path, &c, NULL);
  if (!l) fail_msg("%s", nfp_error_last());
  assert_int_equal(l->cfg.encoder, NFP_ENCODER_CNN_KP);
  assert_int_equal(l->num_params, m->num_params);
  assert_memory_equal(l->params, m->params, sizeof(float) * m->num_params);

  static uint8_t frame[28 * 36 * 3];
  for (size_t i = 0; i < sizeof(frame); i++) frame[i] = (uint8_t)(i * 29 + (i / 108) * 7);
  float st[2 * 14] = {0};
  nfp_obs obs = {.state = st, .image = frame, .n_cam = 1, .img_h = 28, .img_w = 36};
  float chunk[2][8 * 14];
  double lp[2];
  nfp_model* both[2] = {m, l};
  for (int k = 0; k < 2; k++) {
    nfp_sampler* s = nfp_sampler_create(both[k], 1);
    assert_non_null(s);
    nfp_sample_opts o;
    nfp_sample_opts_default(&o, both[k], NFP_SAMPLE_SINGLE);
    nfp_rng_seed(&rng, 9);
    if (nfp_sampler_sample(s, &obs, &o, &rng, chunk[k], &lp[k])) fail_msg("%s", nfp_error_last());
    nfp_sampler_free(s);
  }
  assert_memory_equal(chunk[0], chunk[1], sizeof(chunk[0]));
  assert_true(lp[0] == lp[1]);

  nfp_model_config other = c;
  other.encoder = NFP_ENCODER_CNN;
  assert_null(nfp_checkpoint_load(path, &other, NULL));
  assert_non_null(strstr(nfp_error_last(), "encoder"));
  unlink(path), rmdir(dir);
  nfp_model_free(l);
  nfp_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_hot_pixel),
      cmocka_unit_test(test_stable),
      cmocka_unit_test(test_fd),
      cmocka_unit_test(test_checkpoint),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
