// nfp/layers.h: the building blocks of the policy network: the parameter table (one flat buffer),
// linear and MLP layers, convolutions, GroupNorm, ResNet blocks, pooling.
//
// Sections: tensor, layers, conv, blas.
#ifndef NFP_LAYERS_H
#define NFP_LAYERS_H

#include <stddef.h>
#include <stdint.h>

#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== tensor ====================================================
// nfp_ptable: the table of named parameter tensors inside one flat float buffer.
//
// Every layer registers its tensors here while the model is built; the table gives
// each tensor an offset into the single parameter buffer (llm.c style). The same
// offsets index the gradient buffer and the optimiser moments, and the checkpoint
// writes one safetensors entry per row of the table.
#define NFP_TENSOR_NAME_MAX 64
#define NFP_TENSOR_MAX_DIM 4

typedef struct nfp_tensor_info_ {
  char name[NFP_TENSOR_NAME_MAX];  // e.g. "flow.3.mlp.in.weight"
  int ndim;                        // 1 (bias), 2 (weight [out, in], PyTorch layout),
                                   // 4 (conv weight [out, in, kh, kw])
  int shape[NFP_TENSOR_MAX_DIM];
  size_t offset;                   // first float in the flat buffer
  size_t size;                     // number of floats
} nfp_tensor_info;

typedef struct nfp_ptable_ {
  int n, cap;
  nfp_tensor_info* t;
  size_t total;                    // floats in the whole buffer
  int failed;                      // set when an allocation or a name failed
} nfp_ptable;

// Append a tensor (ndim 1: shape {rows}; ndim 2: shape {rows, cols}); returns its offset.
// On failure sets table->failed (checked once by the builder) and returns 0.
size_t nfp_ptable_add(nfp_ptable* table, const char* name, int ndim, int rows, int cols);
// The same for any rank from 1 to NFP_TENSOR_MAX_DIM (shape[ndim], every size > 0).
size_t nfp_ptable_add_nd(nfp_ptable* table, const char* name, int ndim, const int* shape);
const nfp_tensor_info* nfp_ptable_find(const nfp_ptable* table, const char* name);
void nfp_ptable_free(nfp_ptable* table);

//================================== layers ====================================================
// Layers of the NF-P networks, each a forward/backward pair (llm.c style):
// outputs first, then inputs, then sizes; backward ACCUMULATES (+=) into every
// gradient it writes, so gradients are zeroed once per step. Activations are
// float32, matrix products go through cblas_sgemm. Weights are [out, in]
// (PyTorch layout), so a row of inp times weight^T gives a row of out.
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

//================================== conv ======================================================
// Image layers, each a forward/backward pair (llm.c style, as layers.h): outputs first,
// then inputs, then sizes; backward ACCUMULATES (+=) into every gradient it writes.
// Feature maps are float32 NCHW, [B][C][H][W]; convolution weights are [OC][C][K][K]
// (PyTorch layout), so torchvision state dicts load by name and shape.
//
// The convolution runs as im2col + cblas_sgemm: the columns of a chunk of samples are
// laid side by side so that even a 2x3 feature map gives the GEMM hundreds of columns.
// Stride-1, pad-1 3x3 convolutions with enough tiles in the batch run as Winograd
// F(2x2,3x3) or F(4x4,3x3) instead (policy/src/winograd.h; forward, backward data and
// weights, fewer multiplies, same results to float rounding). The caller provides the
// column buffer either path uses (nfp_conv2d_col_size floats, independent of B).
// Geometry of one 2-D convolution (square kernel, same stride and padding on both axes).
typedef struct nfp_conv_geom_ {
  int C, H, W;           // input channels and size
  int OC, K, stride, pad;
  int OH, OW;            // output size, filled by nfp_conv_geom_init
} nfp_conv_geom;

// Fill g (OH = (H + 2 pad - K) / stride + 1, likewise OW). 0, or -1 with a message when
// a size is not positive or the kernel does not fit the padded input.
int nfp_conv_geom_init(nfp_conv_geom* g, int C, int H, int W, int OC, int K, int stride, int pad);

// Floats of column buffer nfp_conv2d_forward/backward need (for any batch size).
size_t nfp_conv2d_col_size(const nfp_conv_geom* g);
// Multiply-adds per sample (the cost of one forward).
double nfp_conv2d_macs(const nfp_conv_geom* g);

// out[B,OC,OH,OW] = conv(inp[B,C,H,W], weight[OC,C,K,K]) + bias[OC] (bias may be NULL).
// col: nfp_conv2d_col_size floats, overwritten.
void nfp_conv2d_forward(float* out, float* col, const float* inp, const float* weight,
                        const float* bias, const nfp_conv_geom* g, int B);
// dinp[B,C,H,W] +=, dweight[OC,C,K,K] +=, dbias[OC] += (each may be NULL); col as forward.
void nfp_conv2d_backward(float* dinp, float* dweight, float* dbias, float* col,
                         const float* dout, const float* inp, const float* weight,
                         const nfp_conv_geom* g, int B);
// Kaiming normal, fan_out mode, ReLU gain (torchvision's ResNet init): N(0, 2 / (OC K K)).
void nfp_conv2d_init(float* weight, const nfp_conv_geom* g, nfp_rng* rng);

// GroupNorm over G groups of C/G channels (eps 1e-5) with a per-channel affine:
// out[B,C,HW] = (inp - mean) * rstd * weight + bias; mean, rstd [B,G] are kept for backward.
void nfp_groupnorm_forward(float* out, float* mean, float* rstd, const float* inp,
                           const float* weight, const float* bias, int B, int C, int HW, int G);
// dinp +=, dweight +=, dbias += (each may be NULL).
void nfp_groupnorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                            const float* inp, const float* mean, const float* rstd,
                            const float* weight, int B, int C, int HW, int G);

// GroupNorm fused with what follows it in a trunk: out = gn(inp) + residual (may be NULL),
// then a ReLU when relu is non-zero. One pass over the output instead of three.
void nfp_groupnorm_act_forward(float* out, float* mean, float* rstd, const float* inp,
                               const float* weight, const float* bias, const float* residual,
                               int relu, int B, int C, int HW, int G);
// GroupNorm backward from dout masked by a ReLU (mask > 0 passes, mask = the ReLU's output;
// NULL passes all); dinp is overwritten when overwrite is non-zero, else accumulated.
void nfp_groupnorm_act_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                const float* mask, int overwrite, const float* inp,
                                const float* mean, const float* rstd, const float* weight,
                                int B, int C, int HW, int G);

// Max pooling, K x K window, padding never wins (as PyTorch): out[B,C,OH,OW].
void nfp_maxpool_forward(float* out, const float* inp, int B, int C, int H, int W, int K,
                         int stride, int pad);
// dinp += dout routed to the first maximum of each window (found again from inp).
void nfp_maxpool_backward(float* dinp, const float* dout, const float* inp, int B, int C, int H,
                          int W, int K, int stride, int pad);
// As nfp_maxpool_forward, also keeping each window's winner (its offset in the input
// plane, -1 for none) in at[B,C,OH,OW]; the backward then routes dout without searching.
void nfp_maxpool_forward_at(float* out, int32_t* at, const float* inp, int B, int C, int H,
                            int W, int K, int stride, int pad);
void nfp_maxpool_backward_at(float* dinp, const float* dout, const int32_t* at, int B, int C,
                             int H, int W, int OH, int OW);

// A convolution followed by GroupNorm (and a ReLU unless it feeds a residual sum): the
// unit every trunk is made of. Offsets index the flat parameter buffer.
typedef struct nfp_convgn_ {
  nfp_conv_geom g;
  int groups;
  size_t w, gn_w, gn_b;  // conv weight (no bias), GroupNorm affine
} nfp_convgn;

// Registers "<conv_name>.weight" [OC,C,K,K], "<norm_name>.weight" and ".bias" [OC].
// groups must divide OC; 0 picks OC / 16 (Diffusion Policy's BatchNorm replacement).
int nfp_convgn_build(nfp_convgn* u, nfp_ptable* table, const char* conv_name,
                     const char* norm_name, int C, int H, int W, int OC, int K, int stride,
                     int pad, int groups);
void nfp_convgn_init(float* params, const nfp_convgn* u, nfp_rng* rng);

// ResNet BasicBlock (torchvision):
//   out = relu(gn2(conv2(relu(gn1(conv1(x))))) + identity)
//   identity = x, or gn_d(conv_d(x)) (1x1, stride s) when the stride or the width changes.
typedef struct nfp_basicblock_ {
  nfp_convgn c1, c2, down;
  int has_down;
  int C, H, W, OC, OH, OW;
} nfp_basicblock;

// Registers "<prefix>.conv1.weight", "<prefix>.bn1.*", "<prefix>.conv2.weight", "<prefix>.bn2.*"
// and, when needed, "<prefix>.downsample.0.weight", "<prefix>.downsample.1.*".
int nfp_basicblock_build(nfp_basicblock* blk, nfp_ptable* table, const char* prefix, int C,
                         int H, int W, int OC, int stride);
void nfp_basicblock_init(float* params, const nfp_basicblock* blk, nfp_rng* rng);
// Floats of cached activations for B samples (the block output is the caller's).
size_t nfp_basicblock_acts_size(const nfp_basicblock* blk, int B);
// Floats of backward scratch for B samples (column buffer included).
size_t nfp_basicblock_scratch_size(const nfp_basicblock* blk, int B);
size_t nfp_basicblock_col_size(const nfp_basicblock* blk);
// out[B,OC,OH,OW]; col: nfp_basicblock_col_size floats.
void nfp_basicblock_forward(float* out, float* acts, float* col, const float* params,
                            const nfp_basicblock* blk, const float* inp, int B);
// dinp[B,C,H,W] += (may be NULL), dparams +=; out is the forward's output.
void nfp_basicblock_backward(float* dinp, float* dparams, float* scratch, const float* dout,
                             const float* out, const float* acts, const float* params,
                             const nfp_basicblock* blk, const float* inp, int B);

//================================== blas ======================================================
// OpenBLAS picks its kernels for the CPU when it loads. Release 0.3.21 (Debian 12's) does not
// know CPUs newer than itself (Sapphire and Emerald Rapids among them) and then runs its
// generic SSE3 kernels ("Prescott"): nfp's training step is about 2.5 times slower on them.
// nfp_blas_fit_cpu makes the choice again from the CPU's instruction sets, as later OpenBLAS
// releases do (AVX-512 -> SkylakeX, AVX2 -> Haswell, AVX -> Sandybridge). It changes nothing
// when OPENBLAS_CORETYPE is set (the user's choice), when OpenBLAS knew the CPU, or when the
// BLAS cannot choose at run time. It runs by itself before main in every program linked to
// the policy library with its CMake target (nfp, the plugin, the tests; elsewhere link with
// -Wl,--undefined=nfp_blas_fit_cpu, or call it before any BLAS work and before starting
// threads that use BLAS). When it chooses, it also sets OPENBLAS_CORETYPE, so the processes
// the program starts run the same kernels. Returns the kernel set in use afterwards.
const char* nfp_blas_fit_cpu(void);
const char* nfp_blas_core(void);  // the kernel set OpenBLAS uses now, e.g. "SkylakeX"
int nfp_blas_core_fitted(void);   // 1 when nfp_blas_fit_cpu changed OpenBLAS's choice

#ifdef __cplusplus
}
#endif
#endif
