// Rational-quadratic spline: an independent torch reference, round trips, finite
// differences of the backward, identity at zero parameters.
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/flow.h"
#include "nfp/rng.h"

#define P NFP_SPLINE_NPARAM(8)

static int close_to(double a, double b, double tol) {
  return fabs(a - b) <= tol * fmax(1.0, fabs(b));
}

// Reference values written by reference/make_spline_reference.py (torch float64).
static void test_reference(void** state) {
  (void)state;
  FILE* f = fopen(NFP_POLICY_REFERENCE_DIR "/spline_reference.txt", "r");
  assert_non_null(f);
  nfp_spline s;
  assert_int_equal(fscanf(f, "%d %lf %lf %lf %lf", &s.K, &s.B, &s.wmin, &s.hmin, &s.dmin), 5);
  assert_int_equal(s.K, 8);
  nfp_spline_init(&s, s.K, s.B, s.wmin, s.hmin, s.dmin);
  int cases = 0;
  double worst_val = 0.0, worst_grad = 0.0;
  for (;;) {
    double raw[P], x, y, ld, dydx, dldx, dydr[P], dldr[P], yi, xi, ldi, at_knot;
    if (fscanf(f, "%lf", &raw[0]) != 1) break;
    for (int i = 1; i < P; i++) assert_int_equal(fscanf(f, "%lf", &raw[i]), 1);
    assert_int_equal(fscanf(f, "%lf %lf %lf %lf %lf", &x, &y, &ld, &dydx, &dldx), 5);
    for (int i = 0; i < P; i++) assert_int_equal(fscanf(f, "%lf", &dydr[i]), 1);
    for (int i = 0; i < P; i++) assert_int_equal(fscanf(f, "%lf", &dldr[i]), 1);
    assert_int_equal(fscanf(f, "%lf %lf %lf %lf", &yi, &xi, &ldi, &at_knot), 4);
    cases++;

    double myld, myy = nfp_spline_forward(&myld, x, raw, &s);
    worst_val = fmax(worst_val, fabs(myy - y) / fmax(1.0, fabs(y)));
    assert_true(close_to(myy, y, 1e-10));
    assert_true(close_to(myld, ld, 1e-10));
    double myldi, myxi = nfp_spline_inverse(&myldi, yi, raw, &s);
    // x = f^-1(y) is known only to (rounding of y) / slope; on very flat splines (slope
    // 1e-7) that exceeds 1e-10, so the tolerance carries the conditioning term
    double slope = exp(-ldi);
    double tol_x = 1e-10 + 64.0 * DBL_EPSILON * fmax(1.0, fabs(yi)) / slope;
    assert_true(fabs(myxi - xi) <= tol_x);
    double ldf;
    double yback = nfp_spline_forward(&ldf, myxi, raw, &s);
    // backward error: f(x) hits y up to the rounding of x times the slope
    double tol_y = 64.0 * DBL_EPSILON * (fmax(1.0, fabs(yi)) + exp(ldf) * fmax(1.0, fabs(myxi)));
    assert_true(fabs(yback - yi) < tol_y);
    assert_true(close_to(myldi, -ldf, 1e-8));
    // the log-det moves by (d logdet/dx) times the same uncertainty in x
    double dldx_at = 0.0;
    nfp_spline_backward(&dldx_at, NULL, 0.0, 1.0, myxi, raw, &s);
    assert_true(fabs(myldi - ldi) <= 1e-9 * fmax(1.0, fabs(ldi)) + fabs(dldx_at) * tol_x);

    if (at_knot != 0.0) continue;  // one-sided gradients on a knot (see the script)
    // backward: seed dy = 1 (then dlogdet = 1) and compare with autograd
    double dx = 0.0, dr[P] = {0};
    nfp_spline_backward(&dx, dr, 1.0, 0.0, x, raw, &s);
    assert_true(close_to(dx, dydx, 1e-8));
    for (int i = 0; i < P; i++) {
      worst_grad = fmax(worst_grad, fabs(dr[i] - dydr[i]) / fmax(1.0, fabs(dydr[i])));
      assert_true(close_to(dr[i], dydr[i], 1e-8));
    }
    dx = 0.0;
    for (int i = 0; i < P; i++) dr[i] = 0.0;
    nfp_spline_backward(&dx, dr, 0.0, 1.0, x, raw, &s);
    assert_true(close_to(dx, dldx, 1e-7));
    for (int i = 0; i < P; i++) assert_true(close_to(dr[i], dldr[i], 1e-7));
  }
  fclose(f);
  assert_true(cases > 200);
  printf("  %d reference cases, worst value error %.2e, worst gradient error %.2e\n", cases,
         worst_val, worst_grad);
}

static void random_raw(double* raw, double scale, nfp_rng* rng) {
  for (int i = 0; i < P; i++) raw[i] = scale * nfp_rng_normal(rng);
}

static void test_round_trip(void** state) {
  (void)state;
  nfp_spline s;
  nfp_spline_default(&s);
  nfp_rng rng;
  nfp_rng_seed(&rng, 7);
  const double scales[] = {0.0, 0.5, 2.0, 10.0, 100.0, 1e4, 1e-6};
  double worst = 0.0;  // over well-conditioned points
  int n = 0, n_flat = 0;
  for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++) {
    for (int rep = 0; rep < 40; rep++) {
      double raw[P];
      random_raw(raw, scales[si], &rng);
      if (rep == 0) {  // one very sharp spline: a single bin holds almost everything
        for (int i = 0; i < P; i++) raw[i] = 0.0;
        raw[3] = 1e3;
        raw[8 + 5] = -1e3;
        raw[16 + 2] = 1e3;
        raw[16 + 3] = -1e3;
      }
      double xs[64];
      int m = 0;
      for (int i = 0; i < 40; i++) xs[m++] = nfp_rng_range(&rng, -s.B - 1.0, s.B + 1.0);
      xs[m++] = -s.B;
      xs[m++] = s.B;
      xs[m++] = nextafter(s.B, 0.0);
      xs[m++] = nextafter(-s.B, 0.0);
      for (int k = 0; k <= 8; k++) xs[m++] = -s.B + 2.0 * s.B * k / 8.0;  // uniform-bin edges
      for (int i = 0; i < m; i++) {
        double ld, ldi;
        double y = nfp_spline_forward(&ld, xs[i], raw, &s);
        double x = nfp_spline_inverse(&ldi, y, raw, &s);
        assert_true(isfinite(y) && isfinite(ld) && isfinite(x) && isfinite(ldi));
        assert_true(y >= -s.B || xs[i] < -s.B);
        // |x - f^-1(f(x))| is bounded by 1e-9 plus the rounding of y over the slope (only
        // very flat splines, slope ~1e-7, need the second term); in y space it is tight
        double err = fabs(x - xs[i]);
        double slope = exp(ld);
        double cond = 64.0 * DBL_EPSILON * fmax(1.0, fabs(y)) / slope;
        if (err > 1e-9) n_flat++;
        if (cond < 1e-9) worst = fmax(worst, err);
        assert_true(err < 1e-9 + cond);
        double ldy, yy = nfp_spline_forward(&ldy, x, raw, &s);
        assert_true(fabs(ldi + ldy) < 1e-8 * fmax(1.0, fabs(ldy)));
        if (cond < 1e-9) assert_true(fabs(ld + ldi) < 1e-8 * fmax(1.0, fabs(ld)));
        assert_true(fabs(yy - y) <
                    64.0 * DBL_EPSILON * (fmax(1.0, fabs(y)) + exp(ldy) * fmax(1.0, fabs(x))));
        n++;
      }
    }
  }
  printf("  %d round trips, worst |x - f^-1(f(x))| = %.2e (%d on flat splines above 1e-9)\n", n,
         worst, n_flat);
}

// Central differences in double of y and logdet w.r.t. x and every raw parameter.
static void test_finite_differences(void** state) {
  (void)state;
  nfp_spline s;
  nfp_spline_default(&s);
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  const double h = 1e-6;
  for (int rep = 0; rep < 60; rep++) {
    double raw[P];
    random_raw(raw, rep < 30 ? 1.0 : 3.0, &rng);
    double x = nfp_rng_range(&rng, -s.B * 0.999, s.B * 0.999);
    double wy = nfp_rng_normal(&rng), wl = nfp_rng_normal(&rng);
    double dx = 0.0, dr[P] = {0};
    nfp_spline_backward(&dx, dr, wy, wl, x, raw, &s);
    double lp, lm;
    double yp = nfp_spline_forward(&lp, x + h, raw, &s);
    double ym = nfp_spline_forward(&lm, x - h, raw, &s);
    double fd = (wy * (yp - ym) + wl * (lp - lm)) / (2 * h);
    assert_true(fabs(fd - dx) < 1e-5 * fmax(1.0, fabs(dx)));
    for (int i = 0; i < P; i++) {
      double save = raw[i];
      raw[i] = save + h;
      yp = nfp_spline_forward(&lp, x, raw, &s);
      raw[i] = save - h;
      ym = nfp_spline_forward(&lm, x, raw, &s);
      raw[i] = save;
      fd = (wy * (yp - ym) + wl * (lp - lm)) / (2 * h);
      assert_true(fabs(fd - dr[i]) < 1e-5 * fmax(1.0, fabs(dr[i])));
    }
  }
}

static void test_identity_and_tails(void** state) {
  (void)state;
  nfp_spline s;
  nfp_spline_default(&s);
  double raw[P] = {0};
  for (double x = -5.0; x <= 5.0; x += 0.01) {
    double ld;
    double y = nfp_spline_forward(&ld, x, raw, &s);
    assert_true(fabs(y - x) < 1e-14);
    assert_true(fabs(ld) < 1e-12);
  }
  // outside [-B, B] the gradient w.r.t. the parameters is exactly zero (no NaN)
  raw[0] = 1e3;
  double dx = 0.0, dr[P] = {0};
  nfp_spline_backward(&dx, dr, 1.0, 1.0, 7.0, raw, &s);
  assert_true(dx == 1.0);
  for (int i = 0; i < P; i++) assert_true(dr[i] == 0.0);
}
// The batched calls (the flow's path) against the scalar ones, bit for bit, in both
// parameter layouts and with tails, knots and NaN among the inputs; then every
// instruction set this CPU runs against the baseline, bit for bit.
enum { NB = 37 };  // not a multiple of any lane count

typedef struct {
  double in[NB], out[NB], ld[NB], dx[NB];
  float draw[NB * P];
  double in32[NB], ld32[NB];  // the float inverse (ranking) of out
} batch_result;

static void run_batch(batch_result* r, const double* in, const float* raw, ptrdiff_t ls,
                      ptrdiff_t ps, const double* dy, const double* dl, const nfp_spline* s) {
  nfp_spline_forward_n(r->out, r->ld, in, raw, ls, ps, NB, s);
  double inv[NB], ldi[NB];
  nfp_spline_inverse_n(inv, ldi, r->out, raw, ls, ps, NB, s);
  for (int i = 0; i < NB; i++) {
    r->in[i] = inv[i];
    r->ld[i] += ldi[i];  // (forward + inverse log-dets: both enter the comparison)
    r->dx[i] = 0.5;      // backward accumulates
  }
  nfp_spline_backward_n(r->dx, r->draw, dy, dl, in, raw, ls, ps, NB, s);
  nfp_spline_inverse_n_f32(r->in32, r->ld32, r->out, raw, ls, ps, NB, s);
}

static int same_bits(const void* a, const void* b, size_t n) { return memcmp(a, b, n) == 0; }

static void test_batched(void** state) {
  (void)state;
  nfp_spline s;
  nfp_spline_default(&s);
  nfp_rng rng;
  nfp_rng_seed(&rng, 21);
  float raw_c[NB * P], raw_t[NB * P];  // [coordinate][param] and [param][coordinate]
  double in[NB], dy[NB], dl[NB];
  for (int i = 0; i < NB; i++) {
    for (int q = 0; q < P; q++) {
      float v = (float)((i % 3 == 0 ? 4.0 : 1.0) * nfp_rng_normal(&rng));
      raw_c[i * P + q] = raw_t[q * NB + i] = v;
    }
    in[i] = nfp_rng_range(&rng, -s.B - 0.5, s.B + 0.5);
    dy[i] = nfp_rng_normal(&rng);
    dl[i] = nfp_rng_normal(&rng);
  }
  in[0] = s.B;
  in[1] = -s.B;
  in[2] = 0.0;
  in[3] = NAN;
  in[4] = -s.B - 1e-12;
  batch_result rc, rt;
  run_batch(&rc, in, raw_c, P, 1, dy, dl, &s);
  run_batch(&rt, in, raw_t, 1, NB, dy, dl, &s);
  for (int i = 0; i < NB; i++) {
    double raw[P], ld, ldi, dx = 0.5, dr[P] = {0};
    for (int q = 0; q < P; q++) raw[q] = (double)raw_c[i * P + q];
    double y = nfp_spline_forward(&ld, in[i], raw, &s);
    double x = nfp_spline_inverse(&ldi, y, raw, &s);
    nfp_spline_backward(&dx, dr, dy[i], dl[i], in[i], raw, &s);
    double sum = ld + ldi;
    assert_true(same_bits(&y, &rc.out[i], sizeof(y)) && same_bits(&x, &rc.in[i], sizeof(x)));
    assert_true(same_bits(&sum, &rc.ld[i], sizeof(sum)) && same_bits(&dx, &rc.dx[i], sizeof(dx)));
    for (int q = 0; q < P; q++) {
      float f = (float)dr[q];
      assert_true(same_bits(&f, &rc.draw[i * P + q], sizeof(f)));
      assert_true(same_bits(&f, &rt.draw[q * NB + i], sizeof(f)));
    }
  }
  assert_true(isnan(rc.out[3]) && rc.ld[3] == 0.0);  // NaN passes through, as a tail
  // the float inverse: close to the double one where the inverse is well conditioned
  // (|dx/dy| below 100; the sharpest of these splines amplify float rounding 1e4-fold)
  double xi[NB], ldi[NB];
  nfp_spline_inverse_n(xi, ldi, rc.out, raw_c, P, 1, NB, &s);
  int checked = 0;
  for (int i = 0; i < NB; i++) {
    if (i == 3 || ldi[i] > log(100.0)) continue;
    assert_true(fabs(rc.in32[i] - xi[i]) < 1e-4);
    assert_true(fabs(rc.ld32[i] - ldi[i]) < 1e-3);
    checked++;
  }
  assert_true(checked > NB / 2);
  assert_true(isnan(rc.in32[3]) && rc.ld32[3] == 0.0);
  assert_true(same_bits(rc.out, rt.out, sizeof(rc.out)) && same_bits(rc.in, rt.in, sizeof(rc.in)));
  assert_true(same_bits(rc.ld, rt.ld, sizeof(rc.ld)) && same_bits(rc.dx, rt.dx, sizeof(rc.dx)));

  const char* isas[] = {"base", "avx2", "avx512"};
  printf("  kernels in use: %s; compared with base:", nfp_spline_isa());
  for (int k = 1; k < 3; k++) {
    if (nfp_spline_use_isa(isas[k]) != 0) continue;  // this CPU lacks it
    batch_result rk;
    run_batch(&rk, in, raw_t, 1, NB, dy, dl, &s);
    printf(" %s", isas[k]);
    assert_true(same_bits(rk.out, rt.out, sizeof(rk.out)) && same_bits(rk.in, rt.in, sizeof(rk.in)));
    assert_true(same_bits(rk.ld, rt.ld, sizeof(rk.ld)) && same_bits(rk.dx, rt.dx, sizeof(rk.dx)));
    assert_true(same_bits(rk.draw, rt.draw, sizeof(rk.draw)));
    assert_true(same_bits(rk.in32, rt.in32, sizeof(rk.in32)));
    assert_true(same_bits(rk.ld32, rt.ld32, sizeof(rk.ld32)));
  }
  printf("\n");
  assert_int_equal(nfp_spline_use_isa("sse9"), -1);
  assert_int_equal(nfp_spline_use_isa(NULL), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reference),
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_finite_differences),
      cmocka_unit_test(test_identity_and_tails),
      cmocka_unit_test(test_batched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
