// The float spline kernels (SBS ranking) for any CPU: four lanes.
#include "spline_kernels.h"

#define NFP_VLANES 4
#include "vecf.h"

#if defined(__SSE2__)
#include <emmintrin.h>
V_INLINE vd v_sqrt(vd x) { return (vd)_mm_sqrt_ps((__m128)x); }
#else
V_INLINE vd v_sqrt(vd x) {
  return (vd){__builtin_sqrtf(x[0]), __builtin_sqrtf(x[1]), __builtin_sqrtf(x[2]),
              __builtin_sqrtf(x[3])};
}
#endif

#define NFP_SPLINE_TABLE nfp_spline_kernels_f32_base
#define NFP_SPLINE_NAME "base"
#include "spline_lanes.h"
