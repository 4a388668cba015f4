// The spline kernels for AVX-512 (x86-64-v4): eight lanes.
#include "spline_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("arch=x86-64-v4")
#include <immintrin.h>

#define NFP_VLANES 8
#include "vecd.h"
V_INLINE vd v_sqrt(vd x) { return (vd)_mm512_sqrt_pd((__m512d)x); }

#define NFP_SPLINE_TABLE nfp_spline_kernels_avx512
#define NFP_SPLINE_NAME "avx512"
#include "spline_lanes.h"
#else
const nfp_spline_kernels nfp_spline_kernels_avx512 = {0};
#endif
