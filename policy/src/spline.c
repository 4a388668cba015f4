// Rational-quadratic spline (see nfp/spline.h): parameters, and the choice of the
// widest kernel the CPU runs (spline_lanes.h, compiled per instruction set).
#include "nfp/spline.h"

#include <math.h>
#include <string.h>

#include "nfp/error.h"
#include "spline_kernels.h"

void nfp_spline_init(nfp_spline* s, int K, double B, double wmin, double hmin, double dmin) {
  s->K = K;
  s->B = B;
  s->wmin = wmin;
  s->hmin = hmin;
  s->dmin = dmin;
  s->dshift = log(expm1(1.0 - dmin));  // so a zero derivative logit gives derivative 1
}

void nfp_spline_default(nfp_spline* s) { nfp_spline_init(s, 8, 3.0, 1e-3, 1e-3, 1e-3); }

static int cpu_runs(const nfp_spline_kernels* k) {
  if (!k->forward) return 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  if (k == &nfp_spline_kernels_avx512) return __builtin_cpu_supports("x86-64-v4") != 0;
  if (k == &nfp_spline_kernels_avx2) return __builtin_cpu_supports("avx2") != 0;
#endif
  return k == &nfp_spline_kernels_base;
}

static const nfp_spline_kernels* widest(void) {
  if (cpu_runs(&nfp_spline_kernels_avx512)) return &nfp_spline_kernels_avx512;
  if (cpu_runs(&nfp_spline_kernels_avx2)) return &nfp_spline_kernels_avx2;
  return &nfp_spline_kernels_base;
}

// Chosen before main (so no thread ever sees it change, unless a test forces one).
static const nfp_spline_kernels* active = &nfp_spline_kernels_base;
__attribute__((constructor)) static void pick_kernels(void) { active = widest(); }

const char* nfp_spline_isa(void) { return active->name; }

int nfp_spline_use_isa(const char* name) {
  const nfp_spline_kernels* all[] = {&nfp_spline_kernels_avx512, &nfp_spline_kernels_avx2,
                                     &nfp_spline_kernels_base};
  if (!name) {
    active = widest();
    return 0;
  }
  for (int i = 0; i < 3; i++) {
    if (all[i]->name && strcmp(all[i]->name, name) == 0) {
      if (!cpu_runs(all[i])) return nfp_error_set("spline: this CPU does not run %s", name);
      active = all[i];
      return 0;
    }
  }
  return nfp_error_set("spline: unknown instruction set \"%s\" (avx512, avx2, base)", name);
}

double nfp_spline_forward(double* logdet, double x, const double* raw, const nfp_spline* s) {
  return active->forward1(logdet, x, raw, s);
}

double nfp_spline_inverse(double* logdet, double y, const double* raw, const nfp_spline* s) {
  return active->inverse1(logdet, y, raw, s);
}

void nfp_spline_backward(double* dx, double* draw, double dy, double dlogdet, double x,
                         const double* raw, const nfp_spline* s) {
  active->backward1(dx, draw, dy, dlogdet, x, raw, s);
}

void nfp_spline_forward_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s) {
  active->forward(out, logdet, in, raw, lane_stride, param_stride, n, s);
}

void nfp_spline_inverse_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s) {
  active->inverse(out, logdet, in, raw, lane_stride, param_stride, n, s);
}

void nfp_spline_backward_n(double* dx, float* draw, const double* dy, const double* dlogdet,
                           const double* x, const float* raw, ptrdiff_t lane_stride,
                           ptrdiff_t param_stride, int n, const nfp_spline* s) {
  active->backward(dx, draw, dy, dlogdet, x, raw, lane_stride, param_stride, n, s);
}
