// Finite-difference checks of the image layers' backward: conv2d (several kernel,
// stride and padding combinations, with and without bias, chunked and single-sample
// GEMMs), GroupNorm, max pooling and the ResNet BasicBlock (with and without its
// downsample path); plus the accumulate (+=) contract and a direct-convolution check.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/layers.h"

// The loss <out, w> is summed in double, but each output carries float rounding (~6e-8
// relative) that a central difference divides by 2h: h is as large as each layer allows.
// Convolutions are linear (any h is exact), GroupNorm is smooth (h = 1e-2 leaves an
// O(h^2) error far below the tolerance), max pool inputs are spaced 1e-2 apart (h = 1e-3
// never changes a window's winner).
#define H_LINEAR 0.1
#define H_SMOOTH 1e-2
#define H_POOL 1e-3
#define RTOL 3e-3
#define ATOL 3e-4
#define MAX_COORDS 40  // coordinates checked per tensor (all of a small one)

typedef double (*loss_fn)(void* ctx);

static double dot(const float* a, const double* w, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * w[i];
  return s;
}

// Check grad against central differences of loss over up to MAX_COORDS coordinates of var.
static void check_grad(const char* what, float* var, const float* grad, size_t n, loss_fn loss,
                       void* ctx, double h, nfp_rng* rng) {
  size_t m = n < MAX_COORDS ? n : MAX_COORDS;
  int bad = 0;
  for (size_t k = 0; k < m; k++) {
    size_t i = n <= MAX_COORDS ? k : (size_t)(nfp_rng_uniform(rng) * (double)n) % n;
    float save = var[i];
    var[i] = save + (float)h;
    double lp = loss(ctx);
    var[i] = save - (float)h;
    double lm = loss(ctx);
    var[i] = save;
    if (!grad_close(what, i, grad[i], (lp - lm) / (2 * h), RTOL, ATOL)) bad++;
  }
  assert_int_equal(bad, 0);
}

static float* rand_buf(size_t n, double scale, nfp_rng* rng) {
  float* p = malloc(sizeof(float) * n);
  assert_non_null(p);
  fill_uniform(p, n, scale, rng);
  return p;
}

// ---- conv2d ----

typedef struct {
  nfp_conv_geom g;
  int B, use_bias;
  float *x, *w, *b, *y, *col;
  double* wout;
} conv_case;

static double conv_loss(void* ctx) {
  conv_case* c = ctx;
  nfp_conv2d_forward(c->y, c->col, c->x, c->w, c->use_bias ? c->b : NULL, &c->g, c->B);
  return dot(c->y, c->wout, (size_t)c->B * c->g.OC * c->g.OH * c->g.OW);
}

static void check_conv(int B, int C, int H, int W, int OC, int K, int stride, int pad,
                       int use_bias, uint64_t seed) {
  conv_case c = {.B = B, .use_bias = use_bias};
  assert_int_equal(nfp_conv_geom_init(&c.g, C, H, W, OC, K, stride, pad), 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  size_t nx = (size_t)B * C * H * W, nw = (size_t)OC * C * K * K;
  size_t ny = (size_t)B * OC * c.g.OH * c.g.OW;
  c.x = rand_buf(nx, 1.0, &rng);
  c.w = rand_buf(nw, 0.5, &rng);
  c.b = rand_buf((size_t)OC, 0.5, &rng);
  c.y = malloc(sizeof(float) * ny);
  c.col = malloc(sizeof(float) * nfp_conv2d_col_size(&c.g));
  c.wout = malloc(sizeof(double) * ny);
  float* dy = malloc(sizeof(float) * ny);
  for (size_t i = 0; i < ny; i++) dy[i] = (float)(c.wout[i] = nfp_rng_normal(&rng));
  // forward against a direct convolution
  conv_loss(&c);
  for (int s = 0; s < B; s++) {
    for (int o = 0; o < OC; o++) {
      for (int oh = 0; oh < c.g.OH; oh++) {
        for (int ow = 0; ow < c.g.OW; ow++) {
          double acc = use_bias ? c.b[o] : 0.0;
          for (int ci = 0; ci < C; ci++) {
            for (int ki = 0; ki < K; ki++) {
              for (int kj = 0; kj < K; kj++) {
                int ih = oh * stride - pad + ki, iw = ow * stride - pad + kj;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                acc += (double)c.w[((o * C + ci) * K + ki) * K + kj] *
                       c.x[(((size_t)s * C + ci) * H + ih) * W + iw];
              }
            }
          }
          float got = c.y[(((size_t)s * OC + o) * c.g.OH + oh) * c.g.OW + ow];
          assert_true(fabs(got - acc) < 1e-4 * (1.0 + fabs(acc)));
        }
      }
    }
  }
  float* dx = calloc(nx, sizeof(float));
  float* dw = calloc(nw, sizeof(float));
  float* db = calloc((size_t)OC, sizeof(float));
  nfp_conv2d_backward(dx, dw, use_bias ? db : NULL, c.col, dy, c.x, c.w, &c.g, B);
  check_grad("conv dinp", c.x, dx, nx, conv_loss, &c, H_LINEAR, &rng);
  check_grad("conv dweight", c.w, dw, nw, conv_loss, &c, H_LINEAR, &rng);
  if (use_bias) check_grad("conv dbias", c.b, db, (size_t)OC, conv_loss, &c, H_LINEAR, &rng);
  // accumulation: a second call doubles every gradient
  float* dx2 = malloc(sizeof(float) * nx);
  float* dw2 = malloc(sizeof(float) * nw);
  memcpy(dx2, dx, sizeof(float) * nx);
  memcpy(dw2, dw, sizeof(float) * nw);
  nfp_conv2d_backward(dx2, dw2, NULL, c.col, dy, c.x, c.w, &c.g, B);
  for (size_t i = 0; i < nx; i++) assert_true(fabsf(dx2[i] - 2 * dx[i]) < 1e-4f * (1 + fabsf(dx[i])));
  for (size_t i = 0; i < nw; i++) assert_true(fabsf(dw2[i] - 2 * dw[i]) < 1e-4f * (1 + fabsf(dw[i])));
  free(dx2), free(dw2), free(dx), free(dw), free(db), free(dy);
  free(c.x), free(c.w), free(c.b), free(c.y), free(c.col), free(c.wout);
}

static void test_conv2d(void** state) {
  (void)state;
  check_conv(2, 3, 9, 11, 4, 3, 1, 1, 1, 1);   // same-size 3x3
  check_conv(3, 2, 12, 10, 5, 3, 2, 1, 0, 2);  // strided, no bias, several samples per chunk
  check_conv(2, 3, 13, 15, 4, 7, 2, 3, 0, 3);  // ResNet stem geometry
  check_conv(2, 4, 8, 6, 6, 1, 2, 0, 1, 4);    // downsample 1x1 stride 2
  check_conv(2, 5, 6, 7, 3, 1, 1, 0, 1, 5);    // pointwise (no im2col)
  check_conv(1, 2, 5, 5, 3, 5, 2, 2, 1, 6);    // 5x5 stride 2
  check_conv(2, 2, 4, 5, 2, 4, 3, 0, 1, 7);    // even kernel, stride 3, no padding
  check_conv(2, 2, 30, 28, 3, 3, 1, 1, 0, 8);  // one sample already fills a chunk
}

static void test_conv_geometry(void** state) {
  (void)state;
  nfp_conv_geom g;
  assert_int_equal(nfp_conv_geom_init(&g, 3, 56, 72, 64, 7, 2, 3), 0);
  assert_int_equal(g.OH, 28);
  assert_int_equal(g.OW, 36);
  assert_int_equal(nfp_conv_geom_init(&g, 3, 2, 2, 4, 7, 1, 0), -1);  // kernel larger than image
  assert_int_equal(nfp_conv_geom_init(&g, 0, 8, 8, 4, 3, 1, 1), -1);
  assert_int_equal(nfp_conv_geom_init(&g, 3, 8, 8, 4, 3, 0, 1), -1);
}

// ---- GroupNorm ----

typedef struct {
  int B, C, HW, G;
  float *x, *w, *b, *y, *mean, *rstd;
  double* wout;
} gn_case;

static double gn_loss(void* ctx) {
  gn_case* c = ctx;
  nfp_groupnorm_forward(c->y, c->mean, c->rstd, c->x, c->w, c->b, c->B, c->C, c->HW, c->G);
  return dot(c->y, c->wout, (size_t)c->B * c->C * c->HW);
}

static void check_gn(int B, int C, int HW, int G, uint64_t seed) {
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  gn_case c = {.B = B, .C = C, .HW = HW, .G = G};
  size_t n = (size_t)B * C * HW;
  c.x = rand_buf(n, 2.0, &rng);
  for (size_t i = 0; i < n; i++) c.x[i] += 0.5f;  // a non-zero mean
  c.w = rand_buf((size_t)C, 1.5, &rng);
  c.b = rand_buf((size_t)C, 1.0, &rng);
  c.y = malloc(sizeof(float) * n);
  c.mean = malloc(sizeof(float) * B * G);
  c.rstd = malloc(sizeof(float) * B * G);
  c.wout = malloc(sizeof(double) * n);
  float* dy = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) dy[i] = (float)(c.wout[i] = nfp_rng_normal(&rng));
  gn_loss(&c);
  // forward: each group of a sample has mean b and spread w once w = 1, b = 0
  float* one = malloc(sizeof(float) * C);
  float* zero = calloc((size_t)C, sizeof(float));
  for (int i = 0; i < C; i++) one[i] = 1.0f;
  float* y1 = malloc(sizeof(float) * n);
  nfp_groupnorm_forward(y1, c.mean, c.rstd, c.x, one, zero, B, C, HW, G);
  size_t gs = (size_t)(C / G) * HW;
  for (size_t g = 0; g < (size_t)B * G; g++) {
    double s = 0.0, s2 = 0.0;
    for (size_t i = 0; i < gs; i++) s += y1[g * gs + i], s2 += (double)y1[g * gs + i] * y1[g * gs + i];
    assert_true(fabs(s / gs) < 1e-5);
    assert_true(fabs(s2 / gs - 1.0) < 1e-3);
  }
  float* dx = calloc(n, sizeof(float));
  float* dw = calloc((size_t)C, sizeof(float));
  float* db = calloc((size_t)C, sizeof(float));
  nfp_groupnorm_backward(dx, dw, db, dy, c.x, c.mean, c.rstd, c.w, B, C, HW, G);
  check_grad("groupnorm dinp", c.x, dx, n, gn_loss, &c, H_SMOOTH, &rng);
  check_grad("groupnorm dweight", c.w, dw, (size_t)C, gn_loss, &c, H_SMOOTH, &rng);
  check_grad("groupnorm dbias", c.b, db, (size_t)C, gn_loss, &c, H_SMOOTH, &rng);
  free(one), free(zero), free(y1), free(dx), free(dw), free(db), free(dy);
  free(c.x), free(c.w), free(c.b), free(c.y), free(c.mean), free(c.rstd), free(c.wout);
}

static void test_groupnorm(void** state) {
  (void)state;
  check_gn(2, 8, 12, 2, 11);
  check_gn(3, 6, 5, 3, 12);
  check_gn(1, 4, 20, 1, 13);  // one group: LayerNorm over the sample
  check_gn(2, 4, 9, 4, 14);   // one channel per group: InstanceNorm
}

// ---- max pool ----

typedef struct {
  int B, C, H, W;
  float *x, *y;
  double* wout;
  size_t ny;
} pool_case;

static double pool_loss(void* ctx) {
  pool_case* c = ctx;
  nfp_maxpool_forward(c->y, c->x, c->B, c->C, c->H, c->W, 3, 2, 1);
  return dot(c->y, c->wout, c->ny);
}

static void test_maxpool(void** state) {
  (void)state;
  nfp_rng rng;
  nfp_rng_seed(&rng, 21);
  pool_case c = {.B = 2, .C = 3, .H = 7, .W = 8};
  int OH = (7 + 2 - 3) / 2 + 1, OW = (8 + 2 - 3) / 2 + 1;
  size_t nx = 2 * 3 * 7 * 8;
  c.ny = (size_t)2 * 3 * OH * OW;
  // distinct values spaced well beyond h, so no perturbation changes a window's winner
  c.x = malloc(sizeof(float) * nx);
  for (size_t i = 0; i < nx; i++) c.x[i] = 0.01f * (float)i;
  for (size_t i = nx - 1; i > 0; i--) {
    size_t j = nfp_rng_next(&rng) % (i + 1);
    float t = c.x[i];
    c.x[i] = c.x[j], c.x[j] = t;
  }
  c.y = malloc(sizeof(float) * c.ny);
  c.wout = malloc(sizeof(double) * c.ny);
  float* dy = malloc(sizeof(float) * c.ny);
  for (size_t i = 0; i < c.ny; i++) dy[i] = (float)(c.wout[i] = nfp_rng_normal(&rng));
  pool_loss(&c);
  assert_true(c.y[0] == fmaxf(fmaxf(c.x[0], c.x[1]), fmaxf(c.x[8], c.x[9])));  // corner window
  float* dx = calloc(nx, sizeof(float));
  nfp_maxpool_backward(dx, dy, c.x, 2, 3, 7, 8, 3, 2, 1);
  // every coordinate (the tensor is small)
  for (size_t i = 0; i < nx; i++) {
    float s = c.x[i];
    c.x[i] = s + (float)H_POOL;
    double lp = pool_loss(&c);
    c.x[i] = s - (float)H_POOL;
    double lm = pool_loss(&c);
    c.x[i] = s;
    assert_true(grad_close("maxpool dinp", i, dx[i], (lp - lm) / (2 * H_POOL), RTOL, ATOL));
  }
  free(dx), free(dy), free(c.x), free(c.y), free(c.wout);
}

// ---- BasicBlock ----
// The block's float output carries too much rounding (three GEMMs and GroupNorms deep)
// for a float central difference, and ReLU kinks forbid a large step: its gradients are
// checked against central differences of a double-precision direct implementation
// (whose forward must match the float one), with a tiny step.
#define H_DOUBLE 1e-6
#define RTOL_BLOCK 1e-3
#define ATOL_BLOCK 1e-4

static void conv_d(double* out, const double* inp, const double* w, const nfp_conv_geom* g,
                   int B) {
  for (int s = 0; s < B; s++) {
    for (int o = 0; o < g->OC; o++) {
      for (int oh = 0; oh < g->OH; oh++) {
        for (int ow = 0; ow < g->OW; ow++) {
          double acc = 0.0;
          for (int c = 0; c < g->C; c++) {
            for (int ki = 0; ki < g->K; ki++) {
              for (int kj = 0; kj < g->K; kj++) {
                int ih = oh * g->stride - g->pad + ki, iw = ow * g->stride - g->pad + kj;
                if (ih < 0 || ih >= g->H || iw < 0 || iw >= g->W) continue;
                acc += w[((o * g->C + c) * g->K + ki) * g->K + kj] *
                       inp[(((size_t)s * g->C + c) * g->H + ih) * g->W + iw];
              }
            }
          }
          out[(((size_t)s * g->OC + o) * g->OH + oh) * g->OW + ow] = acc;
        }
      }
    }
  }
}

static void gn_d(double* x, const double* w, const double* b, int B, int C, int HW, int G,
                 int relu) {
  size_t n = (size_t)(C / G) * HW;
  for (int s = 0; s < B * G; s++) {
    double* v = x + (size_t)s * n;
    double m = 0.0, var = 0.0;
    for (size_t i = 0; i < n; i++) m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) var += (v[i] - m) * (v[i] - m);
    double r = 1.0 / sqrt(var / (double)n + 1e-5);
    for (size_t i = 0; i < n; i++) {
      int c = (s % G) * (C / G) + (int)(i / HW);
      v[i] = (v[i] - m) * r * w[c] + b[c];
      if (relu && v[i] < 0) v[i] = 0;
    }
  }
}

typedef struct {
  const nfp_basicblock* blk;
  int B;
  double *p, *x, *t1, *t2, *td;
  const double* wout;
  size_t ny;
} block_ref;

static double block_ref_loss(void* ctx) {
  block_ref* r = ctx;
  const nfp_basicblock* k = r->blk;
  int OC = k->OC, P = k->OH * k->OW, G = k->c1.groups;
  conv_d(r->t1, r->x, r->p + k->c1.w, &k->c1.g, r->B);
  gn_d(r->t1, r->p + k->c1.gn_w, r->p + k->c1.gn_b, r->B, OC, P, G, 1);
  conv_d(r->t2, r->t1, r->p + k->c2.w, &k->c2.g, r->B);
  gn_d(r->t2, r->p + k->c2.gn_w, r->p + k->c2.gn_b, r->B, OC, P, G, 0);
  const double* id = r->x;
  if (k->has_down) {
    conv_d(r->td, r->x, r->p + k->down.w, &k->down.g, r->B);
    gn_d(r->td, r->p + k->down.gn_w, r->p + k->down.gn_b, r->B, OC, P, G, 0);
    id = r->td;
  }
  double l = 0.0;
  for (size_t i = 0; i < r->ny; i++) {
    double v = r->t2[i] + id[i];
    r->t2[i] = v > 0 ? v : 0;
    l += r->t2[i] * r->wout[i];
  }
  return l;
}

static void check_grad_d(const char* what, double* var, const float* grad, size_t n,
                         block_ref* r, nfp_rng* rng) {
  size_t m = n < MAX_COORDS ? n : MAX_COORDS;
  int bad = 0;
  for (size_t k = 0; k < m; k++) {
    size_t i = n <= MAX_COORDS ? k : (size_t)(nfp_rng_uniform(rng) * (double)n) % n;
    double save = var[i];
    var[i] = save + H_DOUBLE;
    double lp = block_ref_loss(r);
    var[i] = save - H_DOUBLE;
    double lm = block_ref_loss(r);
    var[i] = save;
    if (!grad_close(what, i, grad[i], (lp - lm) / (2 * H_DOUBLE), RTOL_BLOCK, ATOL_BLOCK)) bad++;
  }
  assert_int_equal(bad, 0);
}

static double* to_double(const float* p, size_t n) {
  double* d = malloc(sizeof(double) * n);
  for (size_t i = 0; i < n; i++) d[i] = p[i];
  return d;
}

static void check_block(int C, int OC, int stride, int has_down, uint64_t seed) {
  enum { B = 2, H = 6, W = 5 };
  nfp_basicblock blk;
  nfp_ptable table = {0};
  assert_int_equal(nfp_basicblock_build(&blk, &table, "layer1.0", C, H, W, OC, stride), 0);
  assert_int_equal(blk.has_down, has_down);
  assert_non_null(nfp_ptable_find(&table, "layer1.0.conv1.weight"));
  assert_non_null(nfp_ptable_find(&table, "layer1.0.bn2.bias"));
  const nfp_tensor_info* ds = nfp_ptable_find(&table, "layer1.0.downsample.0.weight");
  assert_true(has_down ? ds != NULL : ds == NULL);
  if (ds) {
    assert_int_equal(ds->ndim, 4);
    assert_int_equal(ds->shape[0], OC);
    assert_int_equal(ds->shape[1], C);
    assert_int_equal(ds->shape[2], 1);
  }
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  float* params = malloc(sizeof(float) * table.total);
  nfp_basicblock_init(params, &blk, &rng);
  for (int i = 0; i < table.n; i++) {  // non-trivial GroupNorm affines
    if (strstr(table.t[i].name, "bn") || strstr(table.t[i].name, "downsample.1")) {
      fill_uniform(params + table.t[i].offset, table.t[i].size, 1.0, &rng);
    }
  }
  size_t nx = (size_t)B * C * H * W, ny = (size_t)B * OC * blk.OH * blk.OW;
  float* x = rand_buf(nx, 1.0, &rng);
  float* y = malloc(sizeof(float) * ny);
  float* acts = malloc(sizeof(float) * nfp_basicblock_acts_size(&blk, B));
  float* col = malloc(sizeof(float) * nfp_basicblock_col_size(&blk));
  double* wout = malloc(sizeof(double) * ny);
  float* dy = malloc(sizeof(float) * ny);
  for (size_t i = 0; i < ny; i++) dy[i] = (float)(wout[i] = nfp_rng_normal(&rng));
  nfp_basicblock_forward(y, acts, col, params, &blk, x, B);
  block_ref r = {&blk, B, to_double(params, table.total), to_double(x, nx),
                 malloc(sizeof(double) * ny), malloc(sizeof(double) * ny),
                 malloc(sizeof(double) * ny), wout, ny};
  block_ref_loss(&r);
  for (size_t i = 0; i < ny; i++) assert_true(fabs(y[i] - r.t2[i]) < 1e-4 * (1 + fabs(r.t2[i])));
  float* dx = calloc(nx, sizeof(float));
  float* dp = calloc(table.total, sizeof(float));
  float* scratch = malloc(sizeof(float) * nfp_basicblock_scratch_size(&blk, B));
  nfp_basicblock_backward(dx, dp, scratch, dy, y, acts, params, &blk, x, B);
  check_grad_d("block dinp", r.x, dx, nx, &r, &rng);
  for (int i = 0; i < table.n; i++) {
    const nfp_tensor_info* t = &table.t[i];
    check_grad_d(t->name, r.p + t->offset, dp + t->offset, t->size, &r, &rng);
  }
  free(scratch), free(dp), free(dx), free(dy), free(params), free(x), free(y), free(acts);
  free(col), free(wout), free(r.p), free(r.x), free(r.t1), free(r.t2), free(r.td);
  nfp_ptable_free(&table);
}

static void test_basicblock(void** state) {
  (void)state;
  check_block(16, 16, 1, 0, 31);  // identity shortcut
  check_block(16, 32, 2, 1, 32);  // stride 2 and wider: 1x1 conv + GN shortcut
  check_block(16, 32, 1, 1, 33);  // wider only
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_geometry), cmocka_unit_test(test_conv2d),
      cmocka_unit_test(test_groupnorm),     cmocka_unit_test(test_maxpool),
      cmocka_unit_test(test_basicblock),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
