// NFP_VLANES floats as one GCC vector: the float counterpart of vecd.h, for the spline
// kernels that rank SBS candidates (nfp_spline_inverse_n_f32). Same conventions: the
// includer defines NFP_VLANES to its target's native width (16 AVX-512, 8 AVX2, 4 SSE2);
// comparisons only as select conditions; no FMA, so every width gives the same bits.
// v_exp, v_log and v_log1p are within a few float ulp.
#ifndef NFP_VECF_H
#define NFP_VECF_H

#include <stdint.h>

#ifndef NFP_VLANES
#error "define NFP_VLANES (16, 8 or 4) before including vecf.h"
#endif

typedef float vd __attribute__((vector_size(4 * NFP_VLANES)));     // the lane vector
typedef int32_t vl __attribute__((vector_size(4 * NFP_VLANES)));
typedef uint32_t vu __attribute__((vector_size(4 * NFP_VLANES)));
typedef float vf __attribute__((vector_size(4 * NFP_VLANES)));
typedef double vdd __attribute__((vector_size(8 * NFP_VLANES)));  // for loads and stores
typedef float vs;                                                   // the element type

#define V_INLINE static inline __attribute__((always_inline))

V_INLINE vd v_set(float x) { return x - (vd){0}; }  // broadcast (x - 0 keeps -0)
V_INLINE vl v_bits(vd x) { return (vl)x; }
V_INLINE vd v_from_bits(vl x) { return (vd)x; }

// c ? a : b lane by lane; c must be a comparison (all ones or all zeros per lane).
#define V_SELECT(c, a, b) v_from_bits(((c) & v_bits(a)) | (~(c) & v_bits(b)))

V_INLINE vd v_load_raw(const float* p) {
  vd v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
V_INLINE vd v_load_in(const double* p) {
  vdd v;
  __builtin_memcpy(&v, p, sizeof(v));
  return __builtin_convertvector(v, vd);
}
V_INLINE void v_store_out(double* p, vd v) {
  vdd d = __builtin_convertvector(v, vdd);
  __builtin_memcpy(p, &d, sizeof(d));
}
V_INLINE vf v_to_f32(vd v) { return v; }

V_INLINE vd v_max(vd a, vd b) { return V_SELECT(a > b, a, b); }
V_INLINE vd v_abs(vd x) { return V_SELECT(x < 0.0f, -x, x); }

// 2^n for integer-valued n in -126..127.
V_INLINE vd v_pow2(vd n) {
  const float magic = 0x1.8p23f;
  return v_from_bits((v_bits(n + magic) - v_bits(v_set(magic)) + 127) << 23);
}

// exp: Cody-Waite reduction to |r| <= ln2/2, Taylor series to r^7 (truncation 5e-9).
V_INLINE vd v_exp(vd x) {
  const float lo = -103.9f, hi = 88.72f;  // below lo the result is 0, above hi infinite
  vd xc = V_SELECT(x < lo, v_set(lo), x);
  xc = V_SELECT(xc > hi, v_set(hi), xc);
  const float magic = 0x1.8p23f;
  vd n = (xc * 1.44269504f + magic) - magic;
  vd r = xc - n * 0.693145752f;  // ln2 high part (n * it is exact)
  r = r - n * 1.42860677e-06f;   // ln2 low part
  vd p = v_set(1.0f / 5040.0f);
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  vd n1 = (n * 0.5f + magic) - magic;  // two in-range halves of n
  vd y = p * v_pow2(n1) * v_pow2(n - n1);
  y = V_SELECT(x < lo, v_set(0.0f), y);
  return V_SELECT(x > hi, v_set(__builtin_inff()), y);
}

// log: x = 2^e m, m in [sqrt(1/2), sqrt(2)), log m = 2 atanh((m-1)/(m+1)) to f^9.
V_INLINE vd v_log(vd x) {
  vd xs = V_SELECT(x < 0x1p-126f, x * 0x1p25f, x);
  vd bias = V_SELECT(x < 0x1p-126f, v_set(152.0f), v_set(127.0f));
  vl b = v_bits(xs);
  vl eb = (vl)((vu)b >> 23) & 0xff;
  vd m = v_from_bits((b & 0x007fffff) | 0x3f800000);  // [1, 2)
  vd big = V_SELECT(m > 1.41421356f, v_set(1.0f), v_set(0.0f));
  m = V_SELECT(m > 1.41421356f, m * 0.5f, m);
  vd e = (v_from_bits(eb | 0x4b000000) - 0x1p23f) - bias + big;
  vd f = (m - 1.0f) / (m + 1.0f);
  vd s = f * f;
  vd p = v_set(1.0f / 9.0f);
  p = p * s + 1.0f / 7.0f;
  p = p * s + 1.0f / 5.0f;
  p = p * s + 1.0f / 3.0f;
  vd y = e * 0.693145752f + (2.0f * f + 2.0f * f * (s * p) + e * 1.42860677e-06f);
  y = V_SELECT(x == 0.0f, v_set(-__builtin_inff()), y);
  y = V_SELECT(x == __builtin_inff(), x, y);
  y = V_SELECT(x < 0.0f, v_set(__builtin_nanf("")), y);
  return V_SELECT(x != x, x, y);
}

V_INLINE vd v_log1p(vd x) {
  vd u = x + 1.0f;
  vd um1 = u - 1.0f;
  vd q = x / V_SELECT(um1 == 0.0f, v_set(1.0f), um1);
  return V_SELECT(um1 == 0.0f, x, v_log(u) * q);
}

#endif
