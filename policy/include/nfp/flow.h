// nfp/flow.h: the conditional neural spline flow: the rational-quadratic spline and the
// coupling layers stacked into a flow.
//
// Sections: spline, flow.
#ifndef NFP_FLOW_H
#define NFP_FLOW_H

#include <stddef.h>

#include "nfp/layers.h"
#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== spline ====================================================
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

//================================== flow ======================================================
// Conditional coupling flow: L rational-quadratic spline coupling layers over a
// D-dimensional vector, conditioned on a context vector.
//
// Layer l splits the D coordinates by a fixed mask: coordinate i is transformed
// when bit p of i, XOR (l & 1), is 1, with p = (l / 2) mod P and P the number of
// bits below D (so consecutive layers are complements and later pairs mix wider
// groups: for a chunk laid out [step][joint], p = 0 splits joints by parity,
// larger p mix time steps). With D = 1 every layer transforms the one coordinate
// from the context alone. The transformed coordinates pass through the spline
// whose 3K-1 parameters per coordinate come from a residual MLP (nfp_resmlp) over
// [untouched coordinates, context], with the context also gating each block.
// The MLP's output layer starts at zero, so a new flow is exactly the identity.
//
// The flow state is double (the spline maths and the log-det sums are double);
// the conditioner sees float32 copies.
typedef struct nfp_coupling_ {
  int D, ctx;
  int n_id, n_tr;  // untouched / transformed coordinates
  int* id_idx;     // [n_id] indices of the untouched coordinates
  int* tr_idx;     // [n_tr] indices of the transformed coordinates
  nfp_resmlp mlp;  // in = n_id + ctx, out = n_tr * (3K - 1)
} nfp_coupling;

typedef struct nfp_flow_ {
  int D, ctx, L;
  nfp_spline spline;
  nfp_coupling* layer;  // [L]
} nfp_flow;

// Register tensors "<prefix>.<l>.mlp.*" for l < L. 0, or -1 with a message.
int nfp_flow_build(nfp_flow* flow, nfp_ptable* table, const char* prefix, int D, int ctx,
                   int L, int hidden, int blocks, const nfp_spline* spline);
void nfp_flow_free(nfp_flow* flow);
// Seeded init with zero output layers: the flow starts as the identity.
void nfp_flow_init(float* params, const nfp_flow* flow, nfp_rng* rng);

// ---- one coupling layer (exposed for tests; the flow calls these) ----
// Buffers for B rows: mlp_in [B, n_id+ctx] floats, mlp_out [n_tr*(3K-1), B] floats,
// acts nfp_resmlp_acts_size floats; all written by forward and read by backward.
size_t nfp_coupling_acts_size(const nfp_coupling* c, int B);     // mlp_in + mlp_out + acts
size_t nfp_coupling_scratch_size(const nfp_coupling* c, int B);

// y[B,D] = coupling(x) (untouched coordinates copied); logdet[B] += log|det|.
void nfp_coupling_forward(double* y, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* x,
                          const float* ctx, int B);
// x[B,D] = coupling^-1(y); logdet[B] += log|det d coupling^-1 / dy|. acts is scratch.
void nfp_coupling_inverse(double* x, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* y,
                          const float* ctx, int B);
// The same with ONE context row ctx[ctx] for all B rows: its share of the conditioner is
// computed once (sampling many candidates for one observation). Same results up to float
// rounding in the conditioner. f32: the splines in float (nfp_spline_inverse_n_f32),
// results good to ~1e-5, for ranking candidates only.
void nfp_coupling_inverse_shared(double* x, double* logdet, float* acts, const float* params,
                                 const nfp_coupling* c, const nfp_spline* s, const double* y,
                                 const float* ctx, int B, int f32);
// From dy[B,D] and dlogdet[B]: dx[B,D] +=, dctx[B,ctx] += (may be NULL), dparams +=.
void nfp_coupling_backward(double* dx, float* dctx, float* dparams, float* scratch,
                           const double* dy, const double* dlogdet, const float* acts,
                           const float* params, const nfp_coupling* c, const nfp_spline* s,
                           const double* x, const float* ctx, int B);

// ---- the whole flow ----
typedef struct nfp_flow_ws_ nfp_flow_ws;  // cached activations for up to max_batch rows

nfp_flow_ws* nfp_flow_ws_create(const nfp_flow* flow, int max_batch);
void nfp_flow_ws_free(nfp_flow_ws* ws);

// z[B,D] = T(x; ctx), logdet[B] = log|det dT/dx|; caches what backward needs.
// ctx is [B, ctx] floats. 0, or -1 when B exceeds the workspace.
int nfp_flow_forward(double* z, double* logdet, nfp_flow_ws* ws, const float* params,
                     const nfp_flow* flow, const double* x, const float* ctx, int B);
// Backward of the last nfp_flow_forward: dx[B,D] += (may be NULL), dctx[B,ctx] +=
// (may be NULL), dparams += (may be NULL).
void nfp_flow_backward(double* dx, float* dctx, float* dparams, nfp_flow_ws* ws,
                       const float* params, const nfp_flow* flow, const double* dz,
                       const double* dlogdet, int B);
// x[B,D] = T^-1(z; ctx), logdet[B] = log|det dT^-1/dz| (= -forward log-det at x).
// Reuses the workspace's activations: it invalidates the cache of the last forward.
int nfp_flow_inverse(double* x, double* logdet, nfp_flow_ws* ws, const float* params,
                     const nfp_flow* flow, const double* z, const float* ctx, int B);

// nfp_flow_inverse with ONE context row ctx[ctx] for all B rows, f32 as in
// nfp_coupling_inverse_shared.
int nfp_flow_inverse_shared(double* x, double* logdet, nfp_flow_ws* ws, const float* params,
                            const nfp_flow* flow, const double* z, const float* ctx, int B,
                            int f32);

#ifdef __cplusplus
}
#endif
#endif
