// Rational-quadratic spline (see nfp/spline.h): parameters, and the choice of the
// widest kernel the CPU runs (spline_lanes.h, compiled per instruction set).
#include "nfp/flow.h"

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

// The instruction sets, widest first: their double and float kernels.
typedef struct {
  const nfp_spline_kernels *f64, *f32;
} isa_kernels;

static const isa_kernels isas[] = {
    {&nfp_spline_kernels_avx512, &nfp_spline_kernels_f32_avx512},
    {&nfp_spline_kernels_avx2, &nfp_spline_kernels_f32_avx2},
    {&nfp_spline_kernels_base, &nfp_spline_kernels_f32_base},
};
enum { N_ISA = sizeof(isas) / sizeof(isas[0]) };

static int cpu_runs(const isa_kernels* k) {
  if (!k->f64->forward || !k->f32->forward) return 0;
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
  __builtin_cpu_init();
  if (k->f64 == &nfp_spline_kernels_avx512) return __builtin_cpu_supports("x86-64-v4") != 0;
  if (k->f64 == &nfp_spline_kernels_avx2) return __builtin_cpu_supports("avx2") != 0;
#endif
  return k->f64 == &nfp_spline_kernels_base;
}

static const isa_kernels* widest(void) {
  for (int i = 0; i < N_ISA; i++) {
    if (cpu_runs(&isas[i])) return &isas[i];
  }
  return &isas[N_ISA - 1];
}

// Chosen before main (so no thread ever sees it change, unless a test forces one).
static const isa_kernels* active = &isas[N_ISA - 1];
__attribute__((constructor)) static void pick_kernels(void) { active = widest(); }

const char* nfp_spline_isa(void) { return active->f64->name; }

int nfp_spline_use_isa(const char* name) {
  if (!name) {
    active = widest();
    return 0;
  }
  for (int i = 0; i < N_ISA; i++) {
    if (isas[i].f64->name && strcmp(isas[i].f64->name, name) == 0) {
      if (!cpu_runs(&isas[i])) return nfp_error_set("spline: this CPU does not run %s", name);
      active = &isas[i];
      return 0;
    }
  }
  return nfp_error_set("spline: unknown instruction set \"%s\" (avx512, avx2, base)", name);
}

double nfp_spline_forward(double* logdet, double x, const double* raw, const nfp_spline* s) {
  return active->f64->forward1(logdet, x, raw, s);
}

double nfp_spline_inverse(double* logdet, double y, const double* raw, const nfp_spline* s) {
  return active->f64->inverse1(logdet, y, raw, s);
}

void nfp_spline_backward(double* dx, double* draw, double dy, double dlogdet, double x,
                         const double* raw, const nfp_spline* s) {
  active->f64->backward1(dx, draw, dy, dlogdet, x, raw, s);
}

void nfp_spline_forward_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s) {
  active->f64->forward(out, logdet, in, raw, lane_stride, param_stride, n, s);
}

void nfp_spline_inverse_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s) {
  active->f64->inverse(out, logdet, in, raw, lane_stride, param_stride, n, s);
}

void nfp_spline_backward_n(double* dx, float* draw, const double* dy, const double* dlogdet,
                           const double* x, const float* raw, ptrdiff_t lane_stride,
                           ptrdiff_t param_stride, int n, const nfp_spline* s) {
  active->f64->backward(dx, draw, dy, dlogdet, x, raw, lane_stride, param_stride, n, s);
}

void nfp_spline_inverse_n_f32(double* out, double* logdet, const double* in, const float* raw,
                              ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                              const nfp_spline* s) {
  active->f32->inverse(out, logdet, in, raw, lane_stride, param_stride, n, s);
}
