// Winograd F(2x2, 3x3) and F(4x4, 3x3) convolutions against a direct convolution in
// double: forward, backward data and backward weights (accumulating), on odd and even
// sizes, a 1x1 and a 2x3 image, several samples per chunk and several chunks,
// output-channel blocks and a channel count that is not a multiple of four; and
// nfp_conv2d picking im2col, F(2x2) or F(4x4) (with a bias).
//
// Tolerance: every output is a sum of products; float32 rounds each transform, product
// and sum to 2^-24 relative. The error of a sum is bounded by its terms' magnitude, so
// each value is compared against S = sum |a||b| of its direct products: |got - ref| <=
// 2e-5 S. The transforms sum up to 36 terms with coefficients up to 8 (F(4x4)) and the
// GEMM sums 36 C products, so rounding stays within a few hundred ulps of S; a wrong
// transform coefficient or a dropped tile is an O(S) error instead. (Observed: at most
// 1e-6 S for F(2x2), 4e-6 S for F(4x4).)
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/layers.h"
#include "winograd.h"

#define TOL 2e-5

typedef struct {
  nfp_conv_geom g;
  int B;
  float *x, *w, *dy;
  double *y, *sy;    // direct forward and its sum of |products|
  double *dx, *sdx;  // direct data gradient
  double *dw, *sdw;  // direct weight gradient
} ref_case;

static float* rand_buf(size_t n, nfp_rng* rng) {
  float* p = malloc(sizeof(float) * n);
  assert_non_null(p);
  fill_uniform(p, n, 1.0, rng);
  return p;
}

static double* zeros(size_t n) {
  double* p = calloc(n, sizeof(double));
  assert_non_null(p);
  return p;
}

// Every product of the direct convolution, routed to the forward, dx and dw references.
static void ref_build(ref_case* r, int B, int C, int H, int W, int OC, uint64_t seed) {
  memset(r, 0, sizeof(*r));
  assert_int_equal(nfp_conv_geom_init(&r->g, C, H, W, OC, 3, 1, 1), 0);
  assert_true(nfp_winograd_fits(&r->g));
  r->B = B;
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  size_t nx = (size_t)B * C * H * W, ny = (size_t)B * OC * H * W, nw = (size_t)OC * C * 9;
  r->x = rand_buf(nx, &rng), r->w = rand_buf(nw, &rng), r->dy = rand_buf(ny, &rng);
  r->y = zeros(ny), r->sy = zeros(ny), r->dx = zeros(nx), r->sdx = zeros(nx);
  r->dw = zeros(nw), r->sdw = zeros(nw);
  for (int s = 0; s < B; s++) {
    for (int o = 0; o < OC; o++) {
      for (int c = 0; c < C; c++) {
        for (int k = 0; k < 9; k++) {
          size_t wi = ((size_t)o * C + c) * 9 + k;
          double wv = r->w[wi];
          for (int h = 0; h < H; h++) {
            int ih = h + k / 3 - 1;
            if (ih < 0 || ih >= H) continue;
            for (int x = 0; x < W; x++) {
              int iw = x + k % 3 - 1;
              if (iw < 0 || iw >= W) continue;
              size_t yi = (((size_t)s * OC + o) * H + h) * W + x;
              size_t xi = (((size_t)s * C + c) * H + ih) * W + iw;
              double xv = r->x[xi], gv = r->dy[yi];
              r->y[yi] += wv * xv, r->sy[yi] += fabs(wv * xv);
              r->dx[xi] += wv * gv, r->sdx[xi] += fabs(wv * gv);
              r->dw[wi] += gv * xv, r->sdw[wi] += fabs(gv * xv);
            }
          }
        }
      }
    }
  }
}

static void ref_free(ref_case* r) {
  free(r->x), free(r->w), free(r->dy), free(r->y), free(r->sy);
  free(r->dx), free(r->sdx), free(r->dw), free(r->sdw);
}

// got - base against ref, element by element; returns the largest error / S seen.
static double check_close(const char* what, const float* got, const float* base,
                          const double* ref, const double* s, size_t n) {
  double worst = 0.0;
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    double v = (double)got[i] - (base ? (double)base[i] : 0.0);
    double err = fabs(v - ref[i]), lim = TOL * s[i] + (base ? 1e-6 * fabs(base[i]) : 0.0);
    if (s[i] > 0.0 && err / s[i] > worst) worst = err / s[i];
    if (err > lim + 1e-30) {
      if (bad++ < 3) {
        printf("  %s[%zu]: got %.9g, direct %.9g (S %.3g)\n", what, i, v, ref[i], s[i]);
      }
    }
  }
  assert_int_equal(bad, 0);
  return worst;
}

static void check_winograd(int m, int B, int C, int H, int W, int OC, uint64_t seed) {
  ref_case r;
  ref_build(&r, B, C, H, W, OC, seed);
  const nfp_conv_geom* g = &r.g;
  size_t nx = (size_t)B * C * H * W, ny = (size_t)B * OC * H * W, nw = (size_t)OC * C * 9;
  float* ws = malloc(sizeof(float) * nfp_winograd_ws_size(g, m));
  float* y = malloc(sizeof(float) * ny);
  assert_non_null(ws);
  assert_non_null(y);
  nfp_winograd_forward(y, ws, r.x, r.w, g, m, B);
  double e = check_close("forward", y, NULL, r.y, r.sy, ny);
  // backward accumulates onto what the buffers hold
  nfp_rng rng;
  nfp_rng_seed(&rng, seed + 100);
  float* bx = rand_buf(nx, &rng);
  float* bw = rand_buf(nw, &rng);
  float* dx = malloc(sizeof(float) * nx);
  float* dw = malloc(sizeof(float) * nw);
  memcpy(dx, bx, sizeof(float) * nx);
  memcpy(dw, bw, sizeof(float) * nw);
  nfp_winograd_backward(dx, dw, ws, r.dy, r.x, r.w, g, m, B);
  double ex = check_close("dinp", dx, bx, r.dx, r.sdx, nx);
  double ew = check_close("dweight", dw, bw, r.dw, r.sdw, nw);
  // one gradient at a time gives the same floats
  float* dx1 = malloc(sizeof(float) * nx);
  float* dw1 = malloc(sizeof(float) * nw);
  memcpy(dx1, bx, sizeof(float) * nx);
  memcpy(dw1, bw, sizeof(float) * nw);
  nfp_winograd_backward(dx1, NULL, ws, r.dy, r.x, r.w, g, m, B);
  nfp_winograd_backward(NULL, dw1, ws, r.dy, r.x, r.w, g, m, B);
  assert_memory_equal(dx1, dx, sizeof(float) * nx);
  assert_memory_equal(dw1, dw, sizeof(float) * nw);
  printf("  F(%d): B %d, %d x %dx%d -> %d: largest error / S: forward %.2g, dinp %.2g, "
         "dweight %.2g\n", m, B, C, H, W, OC, e, ex, ew);
  free(dx1), free(dw1), free(bx), free(bw), free(dx), free(dw), free(ws), free(y);
  ref_free(&r);
}

static void test_winograd_small(void** state) {
  (void)state;
  for (int m = 2; m <= 4; m += 2) {
    check_winograd(m, 1, 3, 5, 7, 4, 1);    // odd height and width
    check_winograd(m, 3, 5, 6, 6, 3, 2);    // even, several samples in one chunk
    check_winograd(m, 2, 2, 1, 1, 2, 3);    // one pixel: a single tile, mostly padding
    check_winograd(m, 2, 7, 2, 3, 6, 4);    // ResNet18 layer4's 2x3 map
    check_winograd(m, 20, 3, 9, 11, 5, 5);  // F(2): three chunks (9, 9, 2); rows of 6 tiles
    check_winograd(m, 2, 4, 16, 17, 3, 6);  // rows of 9 (F(2)) or 5 tiles: masked lanes
    check_winograd(m, 40, 3, 14, 18, 2, 7); // F(4): four chunks (13, 13, 13, 1)
  }
}

// 522 channels: output channels in blocks (F(2): 48, 48, 44; F(4): 32 x 4, 12), chunks of
// 2x3 maps (F(2): 64 samples, then 6), and filters that do not fill the last group of four.
static void test_winograd_blocks(void** state) {
  (void)state;
  check_winograd(2, 70, 522, 3, 2, 140, 8);
  check_winograd(4, 70, 522, 3, 2, 140, 9);
}

// nfp_conv2d picks im2col, F(2x2) or F(4x4) by the batch's tiles (bias added after): each
// equals the direct convolution.
static void check_conv2d(int B, int H, int W, uint64_t seed) {
  ref_case r;
  ref_build(&r, B, 6, H, W, 4, seed);
  const nfp_conv_geom* g = &r.g;
  size_t ny = (size_t)B * g->OC * g->H * g->W, P = (size_t)g->H * g->W;
  assert_true(nfp_conv2d_col_size(g) >= nfp_winograd_ws_size(g, H > 7 ? 4 : 2));
  float* col = malloc(sizeof(float) * nfp_conv2d_col_size(g));
  float* y = malloc(sizeof(float) * ny);
  float bias[4] = {0.5f, -1.0f, 0.25f, 2.0f};
  for (size_t i = 0; i < ny; i++) r.y[i] += bias[(i / P) % 4];
  nfp_conv2d_forward(y, col, r.x, r.w, bias, g, B);
  check_close("conv2d forward", y, NULL, r.y, r.sy, ny);
  free(col), free(y);
  ref_free(&r);
}

static void test_conv2d_picks_winograd(void** state) {
  (void)state;
  check_conv2d(1, 7, 5, 10);   // 12 tiles: im2col
  check_conv2d(8, 7, 5, 11);   // 96 tiles of 2x2: F(2x2)
  check_conv2d(2, 14, 18, 12); // 40 tiles of 4x4, saving 288 products per sample: F(4x4)
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_winograd_small),
      cmocka_unit_test(test_winograd_blocks),
      cmocka_unit_test(test_conv2d_picks_winograd),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
