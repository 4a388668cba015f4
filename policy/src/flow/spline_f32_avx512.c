// The float spline kernels (SBS ranking) for AVX-512: 16 lanes.
#include "spline_kernels.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#pragma GCC target("arch=x86-64-v4")
#include <immintrin.h>

#define NFP_VLANES 16
#include "vecf.h"
V_INLINE vd v_sqrt(vd x) { return (vd)_mm512_sqrt_ps((__m512)x); }

#define NFP_SPLINE_TABLE nfp_spline_kernels_f32_avx512
#define NFP_SPLINE_NAME "avx512"
#include "spline_lanes.h"
#else
const nfp_spline_kernels nfp_spline_kernels_f32_avx512 = {0};
#endif
