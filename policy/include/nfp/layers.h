// Layers of the NF-P networks, each a forward/backward pair (llm.c style):
// outputs first, then inputs, then sizes; backward ACCUMULATES (+=) into every
// gradient it writes, so gradients are zeroed once per step. Activations are
// float32, matrix products go through cblas_sgemm. Weights are [out, in]
// (PyTorch layout), so a row of inp times weight^T gives a row of out.
#ifndef NFP_LAYERS_H
#define NFP_LAYERS_H

#include <stddef.h>

#include "nfp/rng.h"
#include "nfp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

// out[B,OC] = inp[B,C] weight[OC,C]^T + bias[OC] (bias may be NULL).
void nfp_linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                        int B, int C, int OC);
// dinp[B,C] += dout weight; dweight[OC,C] += dout^T inp; dbias[OC] += sum_b dout.
// Any of dinp, dweight, dbias may be NULL.
void nfp_linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                         const float* inp, const float* weight, int B, int C, int OC);

// The same with the output transposed, out[OC, B]: each output's B values side by side
// (the layout the batched spline reads fastest). dout is [OC, B] likewise.
void nfp_linear_forward_t(float* out, const float* inp, const float* weight, const float* bias,
                          int B, int C, int OC);
void nfp_linear_backward_t(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int B, int C, int OC);

// PyTorch's default init: U(-1/sqrt(C), 1/sqrt(C)) for weight and bias.
void nfp_linear_init(float* weight, float* bias, int C, int OC, nfp_rng* rng);

void nfp_relu_forward(float* out, const float* inp, int n);
// dinp += dout where inp > 0 (out may be passed as inp: same sign).
void nfp_relu_backward(float* dinp, const float* dout, const float* inp, int n);

// Residual MLP, the conditioner of nflows' ResidualNet:
//   h0 = W_in inp + b_in
//   block k: t = W1 relu(W0 relu(h) + b0) + b1;  with ctx: t = t * sigmoid(Wc ctx + bc);  h += t
//   out = W_out h + b_out
// inp already holds the context where the caller wants it in the first layer; ctx (the
// gate input) is optional (ctx_dim 0).
#define NFP_RESMLP_MAX_BLOCKS 8

typedef struct nfp_resmlp_ {
  int in, hidden, blocks, ctx, out;
  int out_t;  // 1: out (and dout) are [out, B], as nfp_linear_forward_t (0 after build)
  // offsets of the tensors in the flat parameter buffer
  size_t w_in, b_in, w_out, b_out;
  size_t w0[NFP_RESMLP_MAX_BLOCKS], b0[NFP_RESMLP_MAX_BLOCKS];
  size_t w1[NFP_RESMLP_MAX_BLOCKS], b1[NFP_RESMLP_MAX_BLOCKS];
  size_t wc[NFP_RESMLP_MAX_BLOCKS], bc[NFP_RESMLP_MAX_BLOCKS];
} nfp_resmlp;

// Register the tensors "<prefix>.in.weight", "<prefix>.block.<k>.0.weight", ... in table.
// 0, or -1 with a message.
int nfp_resmlp_build(nfp_resmlp* m, nfp_ptable* table, const char* prefix,
                     int in, int hidden, int blocks, int ctx, int out);
// PyTorch-default init; the last linear of each block U(-1e-3, 1e-3) (as nflows);
// zero_out zeroes the output layer (identity-initialised flows).
void nfp_resmlp_init(float* params, const nfp_resmlp* m, nfp_rng* rng, int zero_out);

// Floats of cached activations for a batch of B rows, and of backward scratch.
size_t nfp_resmlp_acts_size(const nfp_resmlp* m, int B);
size_t nfp_resmlp_scratch_size(const nfp_resmlp* m, int B);

// out[B,out]; acts caches what backward needs. ctx[B,ctx] or NULL when m->ctx == 0.
void nfp_resmlp_forward(float* out, float* acts, const float* params, const nfp_resmlp* m,
                        const float* inp, const float* ctx, int B);
// Inference with ONE context for all B rows (no backward): ctx[ctx] gates every block
// and is taken as the last ctx of the in inputs, so inp is [B, in - ctx] (the rows' own
// inputs) and the context's share of the first layer is computed once. Needs ctx > 0.
void nfp_resmlp_forward_shared(float* out, float* acts, const float* params,
                               const nfp_resmlp* m, const float* inp, const float* ctx, int B);
// dinp[B,in] +=, dctx[B,ctx] +=, dparams += (each may be NULL); scratch is overwritten.
void nfp_resmlp_backward(float* dinp, float* dctx, float* dparams, float* scratch,
                         const float* dout, const float* acts, const float* params,
                         const nfp_resmlp* m, const float* inp, const float* ctx, int B);

#ifdef __cplusplus
}
#endif
#endif
