// The spline kernels for any CPU: two lanes (SSE2 on x86-64, the compiler's choice
// elsewhere).
#include "spline_kernels.h"

#define NFP_VLANES 2
#include "vecd.h"

#if defined(__SSE2__)
#include <emmintrin.h>
V_INLINE vd v_sqrt(vd x) { return (vd)_mm_sqrt_pd((__m128d)x); }
#else
V_INLINE vd v_sqrt(vd x) { return (vd){__builtin_sqrt(x[0]), __builtin_sqrt(x[1])}; }
#endif

#define NFP_SPLINE_TABLE nfp_spline_kernels_base
#define NFP_SPLINE_NAME "base"
#include "spline_lanes.h"
