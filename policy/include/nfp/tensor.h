// nfp_ptable: the table of named parameter tensors inside one flat float buffer.
//
// Every layer registers its tensors here while the model is built; the table gives
// each tensor an offset into the single parameter buffer (llm.c style). The same
// offsets index the gradient buffer and the optimiser moments, and the checkpoint
// writes one safetensors entry per row of the table.
#ifndef NFP_TENSOR_H
#define NFP_TENSOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
