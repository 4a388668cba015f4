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
#ifndef NFP_FLOW_H
#define NFP_FLOW_H

#include <stddef.h>

#include "nfp/layers.h"
#include "nfp/rng.h"
#include "nfp/spline.h"
#include "nfp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

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
