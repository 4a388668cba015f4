// Image encoders (ResNet18-GroupNorm, the small CNN and the keypoint CNN behind
// nfp_encoder): sizes and refusals, finite-difference checks through trunk + MLP, a small
// visual regression learnt with the encoder's own gradients, and the ResNet18 trunk
// against torchvision (tests/policy/reference/resnet_ref.py; skipped when /usr/bin/python3
// lacks torch or torchvision).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../policy/src/checkpoint/safetensors.h"
#include "fd_util.h"
#include "nfp/error.h"
#include "nfp/model.h"

static nfp_encoder_config config(nfp_encoder_kind kind, int n_cam, int h, int w) {
  return (nfp_encoder_config){.kind = kind, .state_dim = 3, .n_obs = 2, .hidden = 16,
                              .blocks = 1, .out_dim = 4, .n_cam = n_cam, .img_h = h, .img_w = w};
}

static void test_sizes(void** state) {
  (void)state;
  nfp_encoder enc;
  nfp_ptable t = {0};
  nfp_encoder_config c = config(NFP_ENCODER_RESNET18, 1, 56, 72);
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), 0);
  assert_int_equal(enc.cnn.out_C, 512);
  assert_int_equal(enc.cnn.out_H, 2);
  assert_int_equal(enc.cnn.out_W, 3);
  assert_int_equal(enc.in_dim, 512 * 6 + 6);
  const nfp_tensor_info* ti = nfp_ptable_find(&t, "enc.trunk.conv1.weight");
  assert_non_null(ti);
  assert_int_equal(ti->ndim, 4);
  assert_int_equal(ti->shape[0], 64);
  assert_int_equal(ti->shape[1], 3);
  assert_int_equal(ti->shape[2], 7);
  assert_int_equal(ti->shape[3], 7);
  assert_non_null(nfp_ptable_find(&t, "enc.trunk.bn1.weight"));
  assert_non_null(nfp_ptable_find(&t, "enc.trunk.layer2.0.downsample.1.bias"));
  assert_null(nfp_ptable_find(&t, "enc.trunk.layer1.0.downsample.0.weight"));
  assert_non_null(nfp_ptable_find(&t, "enc.mlp.in.weight"));
  // torchvision's resnet18 has 11,689,512 parameters, 513,000 of them in fc
  assert_int_equal(nfp_cnn_num_params(&enc.cnn), 11689512 - 513000);
  nfp_ptable_free(&t);

  c = config(NFP_ENCODER_CNN, 2, 56, 72);
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), 0);
  assert_int_equal(enc.cnn.out_dim, 64 * 4 * 5);
  assert_int_equal(enc.in_dim, 2 * 64 * 4 * 5 + 6);
  assert_non_null(nfp_ptable_find(&t, "enc.trunk.0.conv.weight"));
  assert_non_null(nfp_ptable_find(&t, "enc.trunk.3.norm.bias"));
  nfp_ptable_free(&t);

  // keypoints: 32 maps at a quarter of the input, two coordinates each
  c = config(NFP_ENCODER_CNN_KP, 2, 56, 72);
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), 0);
  assert_int_equal(enc.cnn.out_C, 32);
  assert_int_equal(enc.cnn.out_H, 14);
  assert_int_equal(enc.cnn.out_W, 18);
  assert_int_equal(enc.cnn.out_dim, 64);
  assert_int_equal(enc.in_dim, 2 * 64 + 6);
  assert_non_null(nfp_ptable_find(&t, "enc.trunk.3.norm.bias"));
  ti = nfp_ptable_find(&t, "enc.trunk.kp.weight");
  assert_non_null(ti);
  assert_int_equal(ti->shape[0], 32);
  assert_int_equal(ti->shape[1], 64);
  assert_int_equal(ti->shape[2], 1);
  assert_int_equal(nfp_cnn_num_params(&enc.cnn),
                   32 * 3 * 25 + 32 * 32 * 9 + 64 * 32 * 9 + 64 * 64 * 9 + 2 * (32 + 32 + 64 + 64) +
                       32 * 64);
  nfp_ptable_free(&t);

  // refusals, each with a message
  const int bad[][3] = {{0, 56, 72}, {9, 56, 72}, {1, 4, 72}, {1, 56, 0}, {1, 2000, 72}};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    for (int k = NFP_ENCODER_RESNET18; k <= NFP_ENCODER_CNN_KP; k++) {
      c = config((nfp_encoder_kind)k, bad[i][0], bad[i][1], bad[i][2]);
      assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), -1);
      assert_true(strlen(nfp_error_last()) > 10);
      nfp_ptable_free(&t);
    }
  }
  c = config(NFP_ENCODER_CNN, 1, 56, 72);
  c.hidden = 0;
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), -1);
  nfp_ptable_free(&t);
  c.hidden = 16;
  c.kind = (nfp_encoder_kind)7;
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), -1);
  nfp_ptable_free(&t);
}

typedef struct {
  nfp_encoder enc;
  nfp_ptable table;
  float *params, *grads, *acts, *scratch, *ctx, *state;
  uint8_t* image;
  float* aux_target;  // [B][aux_dim] with an object-state head, else NULL
  float aux_weight;
  int B;
} enc_case;

// The observation batch of a case (with the head's targets when it has a head).
static nfp_obs_batch obs_of(const enc_case* e) {
  return (nfp_obs_batch){.state = e->state, .image = e->image, .n_cam = e->enc.cfg.n_cam,
                         .img_h = e->enc.cfg.img_h, .img_w = e->enc.cfg.img_w,
                         .aux_target = e->aux_target, .aux_weight = e->aux_weight};
}

static void enc_setup_aux(enc_case* e, nfp_encoder_kind kind, int n_cam, int h, int w, int B,
                          uint64_t seed, int aux_dim, int bottleneck) {
  memset(e, 0, sizeof(*e));
  nfp_encoder_config c = config(kind, n_cam, h, w);
  c.aux_dim = aux_dim;
  c.aux_bottleneck = bottleneck;
  assert_int_equal(nfp_encoder_build(&e->enc, &e->table, "enc", &c), 0);
  e->B = B;
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  e->params = malloc(sizeof(float) * e->table.total);
  e->grads = calloc(e->table.total, sizeof(float));
  nfp_encoder_init(e->params, &e->enc, &rng);
  e->acts = malloc(sizeof(float) * nfp_encoder_acts_size(&e->enc, B));
  e->scratch = malloc(sizeof(float) * nfp_encoder_scratch_size(&e->enc, B));
  e->ctx = malloc(sizeof(float) * B * c.out_dim);
  e->state = malloc(sizeof(float) * B * e->enc.cfg.n_obs * e->enc.cfg.state_dim);
  fill_uniform(e->state, (size_t)B * c.n_obs * c.state_dim, 1.0, &rng);
  size_t n_pix = (size_t)B * n_cam * h * w * 3;
  e->image = malloc(n_pix);
  for (size_t i = 0; i < n_pix; i++) e->image[i] = (uint8_t)(nfp_rng_next(&rng) & 255);
  if (aux_dim > 0) {
    e->aux_target = malloc(sizeof(float) * (size_t)B * aux_dim);
    fill_uniform(e->aux_target, (size_t)B * aux_dim, 1.0, &rng);
    e->aux_weight = 0.7f;
  }
}

static void enc_setup(enc_case* e, nfp_encoder_kind kind, int n_cam, int h, int w, int B,
                      uint64_t seed) {
  enc_setup_aux(e, kind, n_cam, h, w, B, seed, 0, 0);
}

static void enc_free(enc_case* e) {
  free(e->params), free(e->grads), free(e->acts), free(e->scratch), free(e->ctx);
  free(e->state), free(e->image), free(e->aux_target);
  nfp_ptable_free(&e->table);
}

// <ctx, wout> (when with_ctx), plus aux_weight times the head's mean squared error when
// there is a head.
static double enc_loss_part(enc_case* e, const double* wout, int with_ctx) {
  nfp_obs_batch obs = obs_of(e);
  nfp_encoder_forward(e->ctx, e->acts, e->params, &e->enc, &obs, e->B);
  double s = 0.0;
  for (int i = 0; with_ctx && i < e->B * e->enc.cfg.out_dim; i++) s += e->ctx[i] * wout[i];
  if (e->aux_target) s += e->aux_weight * nfp_encoder_aux_mse(e->acts, &e->enc, &obs, e->B);
  return s;
}

static double enc_loss(enc_case* e, const double* wout) { return enc_loss_part(e, wout, 1); }

// A central difference per tensor along its own analytic gradient: the step moves every
// coordinate at once (a small fraction of the tensor's norm), so the loss changes far more than the
// float rounding of a deep trunk, and the odd ReLU kink a coordinate crosses averages
// out; a wrong or mis-scaled gradient gives a different slope.
static void check_encoder_grads_aux(nfp_encoder_kind kind, int n_cam, uint64_t seed, int aux_dim,
                                    int bottleneck) {
  enum { B = 2 };
  enc_case e;
  enc_setup_aux(&e, kind, n_cam, 32, 40, B, seed, aux_dim, bottleneck);
  nfp_rng rng;
  nfp_rng_seed(&rng, seed + 100);
  for (int t = 0; t < e.table.n; t++) {  // non-trivial GroupNorm affines
    const nfp_tensor_info* ti = &e.table.t[t];
    if (ti->ndim == 1 && strstr(ti->name, ".trunk.")) {
      for (size_t i = 0; i < ti->size; i++) {
        e.params[ti->offset + i] += (float)nfp_rng_range(&rng, -0.3, 0.3);
      }
    }
  }
  int n_out = B * e.enc.cfg.out_dim;
  double wout[B * 4];
  float dctx[B * 4];
  for (int i = 0; i < n_out; i++) dctx[i] = (float)(wout[i] = nfp_rng_normal(&rng));
  enc_loss(&e, wout);
  nfp_obs_batch obs = obs_of(&e);
  nfp_encoder_backward(e.grads, e.scratch, dctx, e.acts, e.params, &e.enc, &obs, B);
  float* save = malloc(sizeof(float) * e.table.total);
  memcpy(save, e.params, sizeof(float) * e.table.total);
  int bad = 0;
  for (int t = 0; t < e.table.n; t++) {
    const nfp_tensor_info* ti = &e.table.t[t];
    const float* g = e.grads + ti->offset;
    double gn = 0.0, pn = 0.0;
    for (size_t i = 0; i < ti->size; i++) {
      gn += (double)g[i] * g[i];
      pn += (double)save[ti->offset + i] * save[ti->offset + i];
    }
    gn = sqrt(gn), pn = sqrt(pn);
    // the MLP blocks' inner layers feed near-zero last layers (nflows init): their
    // gradients are tiny, below float resolution here (test_layers checks them)
    if (strstr(ti->name, ".mlp.block.") && gn < 1e-2) continue;
    assert_true(gn > 0.0);
    // step norm: 3e-5 of a weight tensor's norm, 1e-3 for a vector (biases, GN affines).
    // Between the two errors of a float difference: at 1e-5 rounding moved an MLP weight's
    // slope by 1.3 % under OpenBLAS's AVX-512 kernels, at 1e-4 the trunk's curvature by 2 %.
    double h = (ti->ndim > 1 ? 3e-5 * (pn > 1.0 ? pn : 1.0) : 1e-3) / gn;
    for (size_t i = 0; i < ti->size; i++) e.params[ti->offset + i] = (float)(save[ti->offset + i] + h * g[i]);
    // a bottleneck's estimate is a stop-gradient: the trunk and head follow its error alone
    int with_ctx = !bottleneck || strstr(ti->name, ".mlp.") != NULL;
    double lp = enc_loss_part(&e, wout, with_ctx);
    for (size_t i = 0; i < ti->size; i++) e.params[ti->offset + i] = (float)(save[ti->offset + i] - h * g[i]);
    double lm = enc_loss_part(&e, wout, with_ctx);
    memcpy(e.params + ti->offset, save + ti->offset, sizeof(float) * ti->size);
    // the slope along g is |g|^2
    if (!grad_close(ti->name, 0, gn * gn, (lp - lm) / (2 * h), 1e-2, 1e-6)) bad++;
  }
  assert_int_equal(bad, 0);
  free(save);
  // gradients accumulate: a second backward doubles them
  float* g1 = malloc(sizeof(float) * e.table.total);
  memcpy(g1, e.grads, sizeof(float) * e.table.total);
  enc_loss(&e, wout);
  nfp_encoder_backward(e.grads, e.scratch, dctx, e.acts, e.params, &e.enc, &obs, B);
  for (size_t i = 0; i < e.table.total; i++) {
    assert_true(fabsf(e.grads[i] - 2 * g1[i]) <= 1e-4f * (1 + fabsf(g1[i])));
  }
  free(g1);
  enc_free(&e);
}

static void check_encoder_grads(nfp_encoder_kind kind, int n_cam, uint64_t seed) {
  check_encoder_grads_aux(kind, n_cam, seed, 0, 0);
}

// The object-state head: its squared error's gradient beside the context's, through the
// head and the trunk; and as the bottleneck, where the MLP sees only the head's estimate
// and the trunk learns from the head's error alone.
static void test_grads_object_head(void** state) {
  (void)state;
  check_encoder_grads_aux(NFP_ENCODER_CNN, 1, 46, 3, 0);
  check_encoder_grads_aux(NFP_ENCODER_CNN, 1, 47, 3, 1);
  check_encoder_grads_aux(NFP_ENCODER_CNN_KP, 2, 48, 2, 1);
  // without targets (acting) the bottleneck still runs the head; the loss term is absent
  enc_case e;
  enc_setup_aux(&e, NFP_ENCODER_CNN, 1, 32, 40, 2, 49, 3, 1);
  nfp_obs_batch obs = obs_of(&e);
  obs.aux_target = NULL;
  nfp_encoder_forward(e.ctx, e.acts, e.params, &e.enc, &obs, 2);
  assert_true(isnan(nfp_encoder_aux_mse(e.acts, &e.enc, &obs, 2)));
  float ctx1[8];
  memcpy(ctx1, e.ctx, sizeof(ctx1));
  obs.aux_target = e.aux_target;  // the target changes the loss, never the context
  nfp_encoder_forward(e.ctx, e.acts, e.params, &e.enc, &obs, 2);
  assert_memory_equal(ctx1, e.ctx, sizeof(ctx1));
  assert_true(nfp_encoder_aux_mse(e.acts, &e.enc, &obs, 2) > 0.0);
  enc_free(&e);
  // a state encoder has no head; a bottleneck needs one
  nfp_encoder enc;
  nfp_ptable t = {0};
  nfp_encoder_config c = config(NFP_ENCODER_STATE, 0, 0, 0);
  c.aux_dim = 2;
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), -1);
  nfp_ptable_free(&t);
  c = config(NFP_ENCODER_CNN, 1, 32, 40);
  c.aux_bottleneck = 1;
  assert_int_equal(nfp_encoder_build(&enc, &t, "enc", &c), -1);
  nfp_ptable_free(&t);
}

static void test_grads_cnn(void** state) {
  (void)state;
  check_encoder_grads(NFP_ENCODER_CNN, 1, 41);
  check_encoder_grads(NFP_ENCODER_CNN, 2, 42);
}

static void test_grads_cnn_kp(void** state) {
  (void)state;
  check_encoder_grads(NFP_ENCODER_CNN_KP, 1, 44);
  check_encoder_grads(NFP_ENCODER_CNN_KP, 2, 45);
}

static void test_grads_resnet18(void** state) {
  (void)state;
  check_encoder_grads(NFP_ENCODER_RESNET18, 1, 43);
}

// Images with a bright square on the left or the right (and anywhere vertically): the
// encoder must regress the side (-1 / +1) from pixels alone (the state is noise).
static void learns_position(nfp_encoder_kind kind) {
  enum { B = 16, H = 24, W = 32, STEPS = 300 };
  enc_case e;
  enc_setup(&e, kind, 1, H, W, B, 51);
  e.enc.cfg.out_dim = 4;
  nfp_rng rng;
  nfp_rng_seed(&rng, 52);
  size_t np = e.table.total;
  float* m = calloc(np, sizeof(float));
  float* v = calloc(np, sizeof(float));
  float target[B], dctx[B * 4];
  double first = 0.0, last = 0.0;
  for (int step = 1; step <= STEPS; step++) {
    memset(e.image, 20, (size_t)B * H * W * 3);
    for (int b = 0; b < B; b++) {
      int right = (int)(nfp_rng_next(&rng) & 1);
      target[b] = right ? 1.0f : -1.0f;
      int y0 = (int)(nfp_rng_next(&rng) % (H - 6)), x0 = (right ? W / 2 : 0) +
               (int)(nfp_rng_next(&rng) % (W / 2 - 6));
      for (int y = y0; y < y0 + 6; y++) {
        for (int x = x0; x < x0 + 6; x++) memset(e.image + (((size_t)b * H + y) * W + x) * 3, 230, 3);
      }
    }
    fill_uniform(e.state, (size_t)B * 6, 1.0, &rng);
    nfp_obs_batch obs = obs_of(&e);
    nfp_encoder_forward(e.ctx, e.acts, e.params, &e.enc, &obs, B);
    // the first context entry is the prediction; mean squared error
    double loss = 0.0;
    memset(dctx, 0, sizeof(dctx));
    for (int b = 0; b < B; b++) {
      double d = e.ctx[b * 4] - target[b];
      loss += d * d / B;
      dctx[b * 4] = (float)(2 * d / B);
    }
    if (step <= 20) first += loss / 20;
    if (step > STEPS - 20) last += loss / 20;
    memset(e.grads, 0, sizeof(float) * np);
    nfp_encoder_backward(e.grads, e.scratch, dctx, e.acts, e.params, &e.enc, &obs, B);
    // Adam, lr 1e-3
    float b1 = 0.9f, b2 = 0.999f, lr = 1e-3f;
    float c1 = 1.0f - powf(b1, (float)step), c2 = 1.0f - powf(b2, (float)step);
    for (size_t i = 0; i < np; i++) {
      m[i] = b1 * m[i] + (1 - b1) * e.grads[i];
      v[i] = b2 * v[i] + (1 - b2) * e.grads[i] * e.grads[i];
      e.params[i] -= lr * (m[i] / c1) / (sqrtf(v[i] / c2) + 1e-8f);
    }
  }
  printf("  position regression (%s): mse %.4f over the first 20 steps, %.4f over the last 20\n",
         kind == NFP_ENCODER_CNN ? "cnn" : "cnn-kp", first, last);
  assert_true(last < 0.05);  // predicting the mean (0) scores 1
  free(m), free(v);
  enc_free(&e);
}

static void test_learns_position(void** state) {
  (void)state;
  learns_position(NFP_ENCODER_CNN);
  learns_position(NFP_ENCODER_CNN_KP);
}

// The ResNet18 trunk against torchvision, loaded by name from our tensors.
static void test_resnet18_matches_torchvision(void** state) {
  (void)state;
  if (system("/usr/bin/python3 -c 'import torch, torchvision' > /dev/null 2>&1") != 0) {
    printf("  /usr/bin/python3 with torch and torchvision is not available: skipped "
           "(apt-get install python3-torch python3-torchvision)\n");
    skip();
  }
  enum { N = 2, H = 40, W = 48 };
  enc_case e;
  enc_setup(&e, NFP_ENCODER_RESNET18, 1, H, W, N, 61);
  nfp_rng rng;
  nfp_rng_seed(&rng, 62);
  for (int t = 0; t < e.table.n; t++) {  // non-trivial GroupNorm affines
    const nfp_tensor_info* ti = &e.table.t[t];
    if (ti->ndim == 1 && strstr(ti->name, ".trunk.")) {
      for (size_t i = 0; i < ti->size; i++) {
        e.params[ti->offset + i] = (float)(strstr(ti->name, ".weight") ? nfp_rng_range(&rng, 0.5, 1.5)
                                                                       : nfp_rng_range(&rng, -0.3, 0.3));
      }
    }
  }
  char dir[] = "/tmp/nfp_resnet_refXXXXXX";
  assert_non_null(mkdtemp(dir));
  char in[96], out[96], cmd[512];
  snprintf(in, sizeof(in), "%s/in.safetensors", dir);
  snprintf(out, sizeof(out), "%s/out.safetensors", dir);
  nfp_st_tensor* t = calloc((size_t)e.table.n + 1, sizeof(*t));
  int n = 0;
  for (int i = 0; i < e.table.n; i++) {
    const nfp_tensor_info* ti = &e.table.t[i];
    if (!strstr(ti->name, ".trunk.")) continue;
    t[n] = (nfp_st_tensor){ti->name, ti->ndim, {0}, e.params + ti->offset};
    for (int d = 0; d < ti->ndim; d++) t[n].shape[d] = (size_t)ti->shape[d];
    n++;
  }
  float* pix = malloc(sizeof(float) * N * H * W * 3);
  for (int i = 0; i < N * H * W * 3; i++) pix[i] = e.image[i];
  t[n++] = (nfp_st_tensor){"image", 4, {N, H, W, 3}, pix};
  assert_int_equal(nfp_st_write(in, t, n, NULL, NULL, 0), 0);
  snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/resnet_ref.py %s enc.trunk. %s",
           NFP_POLICY_REFERENCE_DIR, in, out);
  assert_int_equal(system(cmd), 0);
  nfp_st_file f;
  assert_int_equal(nfp_st_read(&f, out), 0);
  const nfp_st_entry* ref = nfp_st_find(&f, "layer4");
  assert_non_null(ref);
  const nfp_cnn* cnn = &e.enc.cnn;
  assert_int_equal(ref->ndim, 4);
  assert_int_equal(ref->shape[1], cnn->out_C);
  assert_int_equal(ref->shape[2], cnn->out_H);
  assert_int_equal(ref->shape[3], cnn->out_W);
  assert_int_equal(ref->count, (size_t)N * cnn->out_dim);
  float* x = malloc(sizeof(float) * N * 3 * H * W);
  float* feat = malloc(sizeof(float) * N * cnn->out_dim);
  float* acts = malloc(sizeof(float) * nfp_cnn_acts_size(cnn, N));
  nfp_image_to_nchw(x, e.image, N, H, W);
  nfp_cnn_forward(feat, acts, e.params, cnn, x, N);
  double err = 0.0, norm = 0.0, worst = 0.0;
  for (size_t i = 0; i < ref->count; i++) {
    double d = feat[i] - ref->data[i];
    err += d * d;
    norm += (double)ref->data[i] * ref->data[i];
    if (fabs(d) > worst) worst = fabs(d);
  }
  double rel = sqrt(err / norm);
  printf("  resnet18 vs torchvision: relative error %.2e (largest difference %.2e, rms %.3f)\n",
         rel, worst, sqrt(norm / (double)ref->count));
  assert_true(rel < 1e-4);
  nfp_st_free(&f);
  unlink(in), unlink(out), rmdir(dir);
  free(x), free(feat), free(acts), free(pix), free(t);
  enc_free(&e);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sizes),
      cmocka_unit_test(test_grads_cnn),
      cmocka_unit_test(test_grads_cnn_kp),
      cmocka_unit_test(test_grads_resnet18),
      cmocka_unit_test(test_grads_object_head),
      cmocka_unit_test(test_learns_position),
      cmocka_unit_test(test_resnet18_matches_torchvision),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
