// The spline kernels of one instruction set (private to spline*.c). spline_lanes.h
// is compiled once per width and element type (spline_{avx512,avx2,base}.c in double,
// spline_f32_*.c in float) and spline.c picks the widest the CPU runs; every width
// gives the same bits.
#ifndef NFP_SPLINE_KERNELS_H
#define NFP_SPLINE_KERNELS_H

#include <stddef.h>

#include "nfp/flow.h"

typedef struct nfp_spline_kernels_ {
  const char* name;  // "avx512", "avx2", "base"
  // the batched calls of nfp/spline.h
  void (*forward)(double* out, double* logdet, const double* in, const float* raw,
                  ptrdiff_t lane_stride, ptrdiff_t param_stride, int n, const nfp_spline* s);
  void (*inverse)(double* out, double* logdet, const double* in, const float* raw,
                  ptrdiff_t lane_stride, ptrdiff_t param_stride, int n, const nfp_spline* s);
  void (*backward)(double* dx, float* draw, const double* dy, const double* dlogdet,
                   const double* x, const float* raw, ptrdiff_t lane_stride,
                   ptrdiff_t param_stride, int n, const nfp_spline* s);
  // one coordinate with double parameters (the scalar calls)
  double (*forward1)(double* logdet, double x, const double* raw, const nfp_spline* s);
  double (*inverse1)(double* logdet, double y, const double* raw, const nfp_spline* s);
  void (*backward1)(double* dx, double* draw, double dy, double dlogdet, double x,
                    const double* raw, const nfp_spline* s);
} nfp_spline_kernels;

// NULL members where the compiler or the architecture lacks the instruction set. The
// f32 tables are the same kernels in float, for ranking SBS candidates.
extern const nfp_spline_kernels nfp_spline_kernels_avx512;
extern const nfp_spline_kernels nfp_spline_kernels_avx2;
extern const nfp_spline_kernels nfp_spline_kernels_base;  // always present
extern const nfp_spline_kernels nfp_spline_kernels_f32_avx512;
extern const nfp_spline_kernels nfp_spline_kernels_f32_avx2;
extern const nfp_spline_kernels nfp_spline_kernels_f32_base;

#endif
