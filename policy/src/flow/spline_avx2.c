// The spline kernels for AVX2: four lanes.
#include "spline_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2")
#include <immintrin.h>

#define NFP_VLANES 4
#include "vecd.h"
V_INLINE vd v_sqrt(vd x) { return (vd)_mm256_sqrt_pd((__m256d)x); }

#define NFP_SPLINE_TABLE nfp_spline_kernels_avx2
#define NFP_SPLINE_NAME "avx2"
#include "spline_lanes.h"
#else
const nfp_spline_kernels nfp_spline_kernels_avx2 = {0};
#endif
