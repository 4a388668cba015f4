// Monotone rational-quadratic spline (Durkan et al. 2019, nflows' formulas) with
// linear tails, all arithmetic in double, vectorised over coordinates (exp and log are
// the project's own, within a few ulp of libm's and the same bits on every CPU).
//
// K bins cover [-B, B]; outside, the map is the identity with log-det 0. The
// 3K-1 raw parameters of one dimension are, in order: K width logits, K height
// logits, K-1 interior derivative logits. Widths (heights likewise) are
// wmin + (1 - K wmin) softmax(logits), knots pinned to -B and B; derivatives are
// dmin + softplus(logit + c) with c = log(expm1(1 - dmin)), so all-zero raw
// parameters give uniform bins and unit derivatives: exactly the identity. The
// boundary derivatives are 1, matching the linear tails.
#ifndef NFP_SPLINE_H
#define NFP_SPLINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_SPLINE_MAX_BINS 64
#define NFP_SPLINE_NPARAM(K) (3 * (K) - 1)

typedef struct nfp_spline_ {
  int K;        // bins (default 8)
  double B;     // tail bound, in normalised units (default 3)
  double wmin;  // minimum bin width (1e-3)
  double hmin;  // minimum bin height (1e-3)
  double dmin;  // minimum derivative (1e-3)
  double dshift;  // log(expm1(1 - dmin)), set by nfp_spline_init / nfp_spline_default
} nfp_spline;

// Defaults: K = 8, B = 3, wmin = hmin = dmin = 1e-3.
void nfp_spline_default(nfp_spline* s);
// Any sizes (checked by the flow builder); always use this (or _default) to fill one.
void nfp_spline_init(nfp_spline* s, int K, double B, double wmin, double hmin, double dmin);

// y = f(x); *logdet = log|df/dx|.
double nfp_spline_forward(double* logdet, double x, const double* raw, const nfp_spline* s);
// x = f^-1(y); *logdet = log|df^-1/dy| = -log|df/dx| at x.
double nfp_spline_inverse(double* logdet, double y, const double* raw, const nfp_spline* s);

// Backward of the forward map at x: given dy = dL/dy and dlogdet = dL/dlogdet,
// *dx += dL/dx and draw[0..3K-1) += dL/draw (either may be NULL).
void nfp_spline_backward(double* dx, double* draw, double dy, double dlogdet, double x,
                         const double* raw, const nfp_spline* s);

// Batched forms, the flow's path (the scalar calls above are the same kernels on one
// coordinate). n coordinates: coordinate i has input in[i] and its parameter q, as a
// float, at raw[i * lane_stride + q * param_stride] (lane_stride 1 is the fast layout:
// the coordinates side by side for each parameter); out[i] and logdet[i] per coordinate.
void nfp_spline_forward_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s);
void nfp_spline_inverse_n(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s);
// Backward of nfp_spline_forward_n: dx[i] += dL/dx and draw (laid out as raw) = dL/draw,
// overwritten, from dy[i] = dL/dy and dlogdet[i] = dL/dlogdet.
void nfp_spline_backward_n(double* dx, float* draw, const double* dy, const double* dlogdet,
                           const double* x, const float* raw, ptrdiff_t lane_stride,
                           ptrdiff_t param_stride, int n, const nfp_spline* s);

// nfp_spline_inverse_n in FLOAT arithmetic (inputs and outputs still double): about 4x
// faster and good to ~1e-5, for ranking candidates only (see nfp_model_inverse_rank);
// never for a value that is reported or trained on.
void nfp_spline_inverse_n_f32(double* out, double* logdet, const double* in, const float* raw,
                              ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                              const nfp_spline* s);

// The kernels run 8 (AVX-512), 4 (AVX2) or 2 coordinates at a time, the widest the CPU
// has, picked at load time; every width gives the same bits. The name of the one in use,
// and (for tests, with no spline running in another thread) a way to force one: "avx512",
// "avx2", "base", or NULL for the default. 0, or -1 with a message.
const char* nfp_spline_isa(void);
int nfp_spline_use_isa(const char* name);

#ifdef __cplusplus
}
#endif
#endif
