// NFP_VLANES doubles as one GCC vector, with the exp/log the batched spline needs.
//
// The includer defines NFP_VLANES to its instruction set's native width (8 AVX-512,
// 4 AVX2, 2 SSE2) and compiles for that target: GCC lowers comparisons and selects of
// wider vectors lane by lane, so the width must be native. Comparisons are only used
// as select conditions (a mask in arithmetic is slow on AVX-512).
//
// Only IEEE basic operations are used and contraction is off in C11 mode (no FMA), so
// every width gives the same bits. v_exp is within 1 ulp of glibc's, v_log within 2,
// v_log1p within 4 (tests/policy/test_spline.c).
#ifndef NFP_VECD_H
#define NFP_VECD_H

#include <stdint.h>

#ifndef NFP_VLANES
#error "define NFP_VLANES (8, 4 or 2) before including vecd.h"
#endif

typedef double vd __attribute__((vector_size(8 * NFP_VLANES)));
typedef int64_t vl __attribute__((vector_size(8 * NFP_VLANES)));
typedef uint64_t vu __attribute__((vector_size(8 * NFP_VLANES)));
typedef float vf __attribute__((vector_size(4 * NFP_VLANES)));

#define V_INLINE static inline __attribute__((always_inline))

V_INLINE vd v_set(double x) { return x - (vd){0}; }  // broadcast (x - 0 keeps -0)
V_INLINE vl v_bits(vd x) { return (vl)x; }            // a vector cast keeps the bits
V_INLINE vd v_from_bits(vl x) { return (vd)x; }

// c ? a : b lane by lane; c must be a comparison (all ones or all zeros per lane).
#define V_SELECT(c, a, b) v_from_bits(((c) & v_bits(a)) | (~(c) & v_bits(b)))

V_INLINE vd v_load(const double* p) {
  vd v;
  __builtin_memcpy(&v, p, sizeof(v));
  return v;
}
V_INLINE vd v_load_f(const float* p) {
  vf v;
  __builtin_memcpy(&v, p, sizeof(v));
  return __builtin_convertvector(v, vd);
}
V_INLINE void v_store(double* p, vd v) { __builtin_memcpy(p, &v, sizeof(v)); }

// The kernels' element-type neutral memory access (vecf.h has the float versions).
typedef double vs;  // the element type
V_INLINE vd v_load_raw(const float* p) { return v_load_f(p); }
V_INLINE vd v_load_in(const double* p) { return v_load(p); }
V_INLINE void v_store_out(double* p, vd v) { v_store(p, v); }
V_INLINE vf v_to_f32(vd v) { return __builtin_convertvector(v, vf); }

V_INLINE vd v_max(vd a, vd b) { return V_SELECT(a > b, a, b); }
V_INLINE vd v_abs(vd x) { return V_SELECT(x < 0.0, -x, x); }

// 2^n for integer-valued n in -1022..1023, built in the exponent bits.
V_INLINE vd v_pow2(vd n) {
  const double magic = 0x1.8p52;  // adding it leaves n in the low mantissa bits
  return v_from_bits((v_bits(n + magic) - v_bits(v_set(magic)) + 1023) << 52);
}

// exp: x = n ln2 + r (Cody-Waite, |r| <= ln2/2), exp(r) by its Taylor series to r^13
// (truncation below 1e-17), times 2^n applied as two factors so that subnormal and
// near-overflow results stay in range.
V_INLINE vd v_exp(vd x) {
  const double lo = -745.2, hi = 709.79;  // below lo the result is 0, above hi infinite
  vd xc = V_SELECT(x < lo, v_set(lo), x);
  xc = V_SELECT(xc > hi, v_set(hi), xc);
  const double magic = 0x1.8p52;  // adding it rounds to an integer
  vd n = (xc * 1.4426950408889634 + magic) - magic;
  vd r = xc - n * 6.93147180369123816490e-01;  // ln2 high part (n * it is exact)
  r = r - n * 1.90821492927058770002e-10;      // ln2 low part
  vd p = v_set(1.0 / 6227020800.0);            // 1/13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  vd n1 = (n * 0.5 + magic) - magic;  // any split of n into two in-range halves
  vd y = p * v_pow2(n1) * v_pow2(n - n1);
  y = V_SELECT(x < lo, v_set(0.0), y);
  return V_SELECT(x > hi, v_set(__builtin_inf()), y);
}

// log: x = 2^e m with m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(f), f = (m-1)/(m+1),
// |f| <= 0.172, by its series to f^21. Zero, negative, infinite and NaN inputs give what
// libm gives; subnormals are scaled up first.
V_INLINE vd v_log(vd x) {
  vd xs = V_SELECT(x < 0x1p-1022, x * 0x1p54, x);
  vd bias = V_SELECT(x < 0x1p-1022, v_set(1077.0), v_set(1023.0));
  vl b = v_bits(xs);
  vl eb = (vl)((vu)b >> 52) & 0x7ff;
  vd m = v_from_bits((b & 0x000fffffffffffffLL) | 0x3ff0000000000000LL);  // [1, 2)
  vd big = V_SELECT(m > 1.4142135623730951, v_set(1.0), v_set(0.0));
  m = V_SELECT(m > 1.4142135623730951, m * 0.5, m);
  // the exponent field as a double without an int64 -> double conversion
  vd e = (v_from_bits(eb | 0x4330000000000000LL) - 0x1p52) - bias + big;
  vd f = (m - 1.0) / (m + 1.0);
  vd s = f * f;
  vd p = v_set(1.0 / 21.0);
  p = p * s + 1.0 / 19.0;
  p = p * s + 1.0 / 17.0;
  p = p * s + 1.0 / 15.0;
  p = p * s + 1.0 / 13.0;
  p = p * s + 1.0 / 11.0;
  p = p * s + 1.0 / 9.0;
  p = p * s + 1.0 / 7.0;
  p = p * s + 1.0 / 5.0;
  p = p * s + 1.0 / 3.0;
  vd lm = 2.0 * f + 2.0 * f * (s * p);
  vd y = e * 6.93147180369123816490e-01 + (lm + e * 1.90821492927058770002e-10);
  y = V_SELECT(x == 0.0, v_set(-__builtin_inf()), y);
  y = V_SELECT(x == __builtin_inf(), x, y);
  y = V_SELECT(x < 0.0, v_set(__builtin_nan("")), y);
  return V_SELECT(x != x, x, y);
}

// log1p for x in (-1, 1e300]: log(u) with u = 1 + x, corrected by x / (u - 1) for the
// rounding of u (Goldberg); x itself where u rounds to 1.
V_INLINE vd v_log1p(vd x) {
  vd u = x + 1.0;
  vd um1 = u - 1.0;
  vd q = x / V_SELECT(um1 == 0.0, v_set(1.0), um1);
  return V_SELECT(um1 == 0.0, x, v_log(u) * q);
}

#endif
