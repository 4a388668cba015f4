// The float spline kernels (SBS ranking) for AVX2: 8 lanes.
#include "spline_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("avx2")
#include <immintrin.h>

#define NFP_VLANES 8
#include "vecf.h"
V_INLINE vd v_sqrt(vd x) { return (vd)_mm256_sqrt_ps((__m256)x); }

#define NFP_SPLINE_TABLE nfp_spline_kernels_f32_avx2
#define NFP_SPLINE_NAME "avx2"
#include "spline_lanes.h"
#else
const nfp_spline_kernels nfp_spline_kernels_f32_avx2 = {0};
#endif
