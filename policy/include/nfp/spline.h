// Monotone rational-quadratic spline (Durkan et al. 2019, nflows' formulas) with
// linear tails, one scalar at a time, all arithmetic in double.
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

#ifdef __cplusplus
}
#endif
#endif
