// The coupling flow: identity at initialisation, inverse round trip, log-det against a
// numerical Jacobian, and densities that integrate to one.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/flow.h"

#define LOG_2PI 1.8378770664093453

typedef struct {
  nfp_ptable table;
  nfp_flow flow;
  float* params;
  nfp_flow_ws* ws;
} test_flow;

// A flow with every parameter perturbed (scale 0 keeps the identity initialisation).
static void make_flow(test_flow* t, int D, int ctx, int L, int hidden, int blocks, double scale,
                      uint64_t seed, int max_batch) {
  memset(t, 0, sizeof(*t));
  nfp_spline s;
  nfp_spline_default(&s);
  assert_int_equal(nfp_flow_build(&t->flow, &t->table, "flow", D, ctx, L, hidden, blocks, &s), 0);
  t->params = calloc(t->table.total, sizeof(float));
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  nfp_flow_init(t->params, &t->flow, &rng);
  for (size_t i = 0; i < t->table.total; i++) {
    t->params[i] += (float)(scale * nfp_rng_range(&rng, -1.0, 1.0));
  }
  t->ws = nfp_flow_ws_create(&t->flow, max_batch);
  assert_non_null(t->ws);
}

static void free_flow(test_flow* t) {
  nfp_flow_ws_free(t->ws);
  nfp_flow_free(&t->flow);
  nfp_ptable_free(&t->table);
  free(t->params);
}

static void test_identity_init(void** state) {
  (void)state;
  enum { B = 16, D = 112, C = 8 };
  test_flow t;
  make_flow(&t, D, C, 10, 32, 2, 0.0, 3, B);
  nfp_rng rng;
  nfp_rng_seed(&rng, 4);
  double* x = malloc(sizeof(double) * B * D);
  double* z = malloc(sizeof(double) * B * D);
  float ctx[B * C];
  double ld[B];
  for (int i = 0; i < B * D; i++) x[i] = 2.0 * nfp_rng_normal(&rng);
  fill_uniform(ctx, B * C, 1.0, &rng);
  assert_int_equal(nfp_flow_forward(z, ld, t.ws, t.params, &t.flow, x, ctx, B), 0);
  for (int i = 0; i < B * D; i++) assert_true(fabs(z[i] - x[i]) < 1e-12);
  for (int b = 0; b < B; b++) assert_true(fabs(ld[b]) < 1e-9);
  free(x);
  free(z);
  free_flow(&t);
}

static void test_round_trip(void** state) {
  (void)state;
  enum { B = 32, D = 20, C = 5 };
  test_flow t;
  make_flow(&t, D, C, 6, 16, 1, 0.3, 5, B);
  nfp_rng rng;
  nfp_rng_seed(&rng, 6);
  double x[B * D], z[B * D], xb[B * D], ld[B], ldi[B];
  float ctx[B * C];
  for (int i = 0; i < B * D; i++) x[i] = 1.5 * nfp_rng_normal(&rng);
  fill_uniform(ctx, B * C, 1.0, &rng);
  assert_int_equal(nfp_flow_forward(z, ld, t.ws, t.params, &t.flow, x, ctx, B), 0);
  assert_int_equal(nfp_flow_inverse(xb, ldi, t.ws, t.params, &t.flow, z, ctx, B), 0);
  double worst = 0.0, moved = 0.0;
  for (int i = 0; i < B * D; i++) {
    worst = fmax(worst, fabs(xb[i] - x[i]));
    moved = fmax(moved, fabs(z[i] - x[i]));
  }
  for (int b = 0; b < B; b++) assert_true(fabs(ld[b] + ldi[b]) < 1e-8);
  printf("  max |x - T^-1(T(x))| = %.2e (T moves points by up to %.2f)\n", worst, moved);
  assert_true(moved > 0.1);  // the perturbed flow is far from the identity
  assert_true(worst < 1e-9);
  free_flow(&t);
}

// One context row for a batch (SBS) against the same context repeated, and the shared
// inverse's round trip back through the forward.
static void test_inverse_shared(void** state) {
  (void)state;
  enum { B = 13, D = 20, C = 5 };
  test_flow t;
  make_flow(&t, D, C, 6, 16, 2, 0.1, 8, B);
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  double z[B * D], x1[B * D], x2[B * D], zb[B * D], ld1[B], ld2[B], ldf[B];
  float ctx[C], ctxs[B * C];
  for (int i = 0; i < B * D; i++) z[i] = 1.2 * nfp_rng_normal(&rng);
  fill_uniform(ctx, C, 1.0, &rng);
  for (int b = 0; b < B; b++) memcpy(ctxs + b * C, ctx, sizeof(ctx));
  for (int rows = 1; rows <= B; rows += B - 1) {
    assert_int_equal(nfp_flow_inverse_shared(x1, ld1, t.ws, t.params, &t.flow, z, ctx, rows, 0), 0);
    assert_int_equal(nfp_flow_inverse(x2, ld2, t.ws, t.params, &t.flow, z, ctxs, rows), 0);
    double moved = 0.0;
    for (int i = 0; i < rows * D; i++) {
      assert_true(fabs(x1[i] - x2[i]) < 1e-5);
      moved = fmax(moved, fabs(x1[i] - z[i]));
    }
    assert_true(moved > 0.1);  // far from the identity
    for (int b = 0; b < rows; b++) assert_true(fabs(ld1[b] - ld2[b]) < 1e-4 * (1.0 + fabs(ld2[b])));
  }
  assert_int_equal(nfp_flow_forward(zb, ldf, t.ws, t.params, &t.flow, x1, ctxs, B), 0);
  for (int i = 0; i < B * D; i++) assert_true(fabs(zb[i] - z[i]) < 1e-4);
  free_flow(&t);
}

// log|det J| from central differences of the full D x D Jacobian (LU in double).
static double logdet_lu(double* a, int n) {
  double s = 0.0;
  for (int k = 0; k < n; k++) {
    int p = k;
    for (int i = k + 1; i < n; i++) {
      if (fabs(a[i * n + k]) > fabs(a[p * n + k])) p = i;
    }
    if (p != k) {
      for (int j = 0; j < n; j++) {
        double t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      }
    }
    s += log(fabs(a[k * n + k]));
    for (int i = k + 1; i < n; i++) {
      double f = a[i * n + k] / a[k * n + k];
      for (int j = k; j < n; j++) a[i * n + j] -= f * a[k * n + j];
    }
  }
  return s;
}

static void test_logdet_vs_jacobian(void** state) {
  (void)state;
  enum { D = 8, C = 3 };
  test_flow t;
  make_flow(&t, D, C, 4, 16, 1, 0.2, 8, 1);
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  float ctx[C];
  fill_uniform(ctx, C, 1.0, &rng);
  for (int rep = 0; rep < 5; rep++) {
    double x[D], z[D], zp[D], zm[D], J[D * D], ld, tmp;
    for (int i = 0; i < D; i++) x[i] = nfp_rng_range(&rng, -2.0, 2.0);
    assert_int_equal(nfp_flow_forward(z, &ld, t.ws, t.params, &t.flow, x, ctx, 1), 0);
    // The conditioner sees float inputs (rounding ~1e-7), so h must be large; Richardson
    // extrapolation of central differences at h and h/2 removes the O(h^2) error.
    const double h = 1e-2;
    for (int j = 0; j < D; j++) {
      double s = x[j];
      for (int i = 0; i < D; i++) J[i * D + j] = 0.0;
      const double hs[2] = {h, h / 2}, wts[2] = {-1.0 / 3.0, 4.0 / 3.0};
      for (int q = 0; q < 2; q++) {
        x[j] = s + hs[q];
        nfp_flow_forward(zp, &tmp, t.ws, t.params, &t.flow, x, ctx, 1);
        x[j] = s - hs[q];
        nfp_flow_forward(zm, &tmp, t.ws, t.params, &t.flow, x, ctx, 1);
        for (int i = 0; i < D; i++) J[i * D + j] += wts[q] * (zp[i] - zm[i]) / (2 * hs[q]);
      }
      x[j] = s;
    }
    double num = logdet_lu(J, D);
    printf("  log|det J|: flow %.9f, numerical %.9f\n", ld, num);
    assert_true(fabs(num - ld) < 1e-4 * fmax(1.0, fabs(ld)));
  }
  free_flow(&t);
}

// Integrate p(x) = N(T(x)) |det dT/dx| on a grid.
static void test_density_1d(void** state) {
  (void)state;
  enum { N = 24001 };
  test_flow t;
  make_flow(&t, 1, 0, 4, 8, 1, 0.3, 10, 1000);  // no context: each spline is a learned constant
  double lo = -12.0, hi = 12.0, dx = (hi - lo) / (N - 1), sum = 0.0;
  double x[1000], z[1000], ld[1000];
  double peak = 0.0;
  for (int i0 = 0; i0 < N; i0 += 1000) {
    int n = N - i0 < 1000 ? N - i0 : 1000;
    for (int i = 0; i < n; i++) x[i] = lo + (i0 + i) * dx;
    assert_int_equal(nfp_flow_forward(z, ld, t.ws, t.params, &t.flow, x, NULL, n), 0);
    for (int i = 0; i < n; i++) {
      double p = exp(-0.5 * z[i] * z[i] - 0.5 * LOG_2PI + ld[i]);
      peak = fmax(peak, p);
      double w = (i0 + i == 0 || i0 + i == N - 1) ? 0.5 : 1.0;  // trapezoid
      sum += w * p * dx;
    }
  }
  printf("  1-D flow: integral %.6f (peak density %.3f; N(0,1) peaks at 0.399)\n", sum, peak);
  assert_true(fabs(peak - 0.3989) > 0.01);  // not the identity
  assert_true(fabs(sum - 1.0) < 1e-3);
  free_flow(&t);
}

static void test_density_2d(void** state) {
  (void)state;
  enum { N = 641, C = 2 };
  test_flow t;
  make_flow(&t, 2, C, 6, 16, 1, 0.2, 11, N);
  float ctx[N * C];
  for (int i = 0; i < N; i++) ctx[i * C] = 0.7f, ctx[i * C + 1] = -0.3f;
  double lo = -8.0, hi = 8.0, d = (hi - lo) / (N - 1), sum = 0.0;
  double* x = malloc(sizeof(double) * N * 2);
  double* z = malloc(sizeof(double) * N * 2);
  double* ld = malloc(sizeof(double) * N);
  for (int r = 0; r < N; r++) {
    for (int c = 0; c < N; c++) x[2 * c] = lo + r * d, x[2 * c + 1] = lo + c * d;
    assert_int_equal(nfp_flow_forward(z, ld, t.ws, t.params, &t.flow, x, ctx, N), 0);
    double wr = (r == 0 || r == N - 1) ? 0.5 : 1.0;
    for (int c = 0; c < N; c++) {
      double wc = (c == 0 || c == N - 1) ? 0.5 : 1.0;
      double q = -0.5 * (z[2 * c] * z[2 * c] + z[2 * c + 1] * z[2 * c + 1]) - LOG_2PI + ld[c];
      sum += wr * wc * exp(q) * d * d;
    }
  }
  printf("  2-D flow: integral %.6f\n", sum);
  assert_true(fabs(sum - 1.0) < 1e-3);
  free(x);
  free(z);
  free(ld);
  free_flow(&t);
}

static void test_batch_limits(void** state) {
  (void)state;
  test_flow t;
  make_flow(&t, 4, 1, 2, 4, 1, 0.0, 1, 2);
  double x[12] = {0}, z[12], ld[3];
  float ctx[3] = {0};
  assert_int_equal(nfp_flow_forward(z, ld, t.ws, t.params, &t.flow, x, ctx, 3), -1);
  free_flow(&t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_identity_init),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_inverse_shared),
      cmocka_unit_test(test_logdet_vs_jacobian),
      cmocka_unit_test(test_density_1d),
      cmocka_unit_test(test_density_2d),
      cmocka_unit_test(test_batch_limits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
