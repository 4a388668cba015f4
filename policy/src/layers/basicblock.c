// ResNet BasicBlock with GroupNorm (forward/backward; backward accumulates).
//
// Cached per block: y1 (conv1 output), r1 (relu(gn1(y1)), conv2's input), y2, and for
// the downsample path yd and its normalised copy; GroupNorm mean/rstd for each norm.
// The block output is the caller's (it is the next block's input).
#include <stdio.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/layers.h"

int nfp_basicblock_build(nfp_basicblock* blk, nfp_ptable* table, const char* prefix, int C,
                         int H, int W, int OC, int stride) {
  memset(blk, 0, sizeof(*blk));
  char conv[NFP_TENSOR_NAME_MAX], norm[NFP_TENSOR_NAME_MAX];
  snprintf(conv, sizeof(conv), "%s.conv1", prefix);
  snprintf(norm, sizeof(norm), "%s.bn1", prefix);
  if (nfp_convgn_build(&blk->c1, table, conv, norm, C, H, W, OC, 3, stride, 1, 0) != 0) return -1;
  int OH = blk->c1.g.OH, OW = blk->c1.g.OW;
  snprintf(conv, sizeof(conv), "%s.conv2", prefix);
  snprintf(norm, sizeof(norm), "%s.bn2", prefix);
  if (nfp_convgn_build(&blk->c2, table, conv, norm, OC, OH, OW, OC, 3, 1, 1, 0) != 0) return -1;
  blk->has_down = stride != 1 || C != OC;
  if (blk->has_down) {
    snprintf(conv, sizeof(conv), "%s.downsample.0", prefix);
    snprintf(norm, sizeof(norm), "%s.downsample.1", prefix);
    if (nfp_convgn_build(&blk->down, table, conv, norm, C, H, W, OC, 1, stride, 0, 0) != 0) {
      return -1;
    }
  }
  blk->C = C, blk->H = H, blk->W = W, blk->OC = OC, blk->OH = OH, blk->OW = OW;
  return 0;
}

void nfp_basicblock_init(float* params, const nfp_basicblock* blk, nfp_rng* rng) {
  nfp_convgn_init(params, &blk->c1, rng);
  nfp_convgn_init(params, &blk->c2, rng);
  if (blk->has_down) nfp_convgn_init(params, &blk->down, rng);
}

typedef struct {
  float *y1, *r1, *y2, *yd, *gd;
  float *m1, *s1, *m2, *s2, *md, *sd;
} block_acts;

static size_t acts_map(block_acts* a, const float* acts, const nfp_basicblock* blk, int B) {
  size_t n = (size_t)B * blk->OC * blk->OH * blk->OW, ng = (size_t)B * blk->c1.groups;
  float* p = (float*)acts;
  memset(a, 0, sizeof(*a));
  a->y1 = p, p += n;
  a->r1 = p, p += n;
  a->y2 = p, p += n;
  a->m1 = p, p += ng;
  a->s1 = p, p += ng;
  a->m2 = p, p += ng;
  a->s2 = p, p += ng;
  if (blk->has_down) {
    a->yd = p, p += n;
    a->gd = p, p += n;
    a->md = p, p += ng;
    a->sd = p, p += ng;
  }
  return (size_t)(p - (float*)acts);
}

size_t nfp_basicblock_acts_size(const nfp_basicblock* blk, int B) {
  block_acts a;
  return acts_map(&a, NULL, blk, B);
}

size_t nfp_basicblock_col_size(const nfp_basicblock* blk) {
  size_t c = nfp_conv2d_col_size(&blk->c1.g), c2 = nfp_conv2d_col_size(&blk->c2.g);
  if (c2 > c) c = c2;
  if (blk->has_down && nfp_conv2d_col_size(&blk->down.g) > c) c = nfp_conv2d_col_size(&blk->down.g);
  return c;
}

size_t nfp_basicblock_scratch_size(const nfp_basicblock* blk, int B) {
  return 3 * (size_t)B * blk->OC * blk->OH * blk->OW + nfp_basicblock_col_size(blk);
}

void nfp_basicblock_forward(float* out, float* acts, float* col, const float* params,
                            const nfp_basicblock* blk, const float* inp, int B) {
  block_acts a;
  acts_map(&a, acts, blk, B);
  int OC = blk->OC, P = blk->OH * blk->OW, G = blk->c1.groups;
  const float* p = params;
  const float* id = inp;
  if (blk->has_down) {
    nfp_conv2d_forward(a.yd, col, inp, p + blk->down.w, NULL, &blk->down.g, B);
    nfp_groupnorm_forward(a.gd, a.md, a.sd, a.yd, p + blk->down.gn_w, p + blk->down.gn_b, B, OC,
                          P, G);
    id = a.gd;
  }
  nfp_conv2d_forward(a.y1, col, inp, p + blk->c1.w, NULL, &blk->c1.g, B);
  nfp_groupnorm_act_forward(a.r1, a.m1, a.s1, a.y1, p + blk->c1.gn_w, p + blk->c1.gn_b, NULL, 1,
                            B, OC, P, G);
  nfp_conv2d_forward(a.y2, col, a.r1, p + blk->c2.w, NULL, &blk->c2.g, B);
  nfp_groupnorm_act_forward(out, a.m2, a.s2, a.y2, p + blk->c2.gn_w, p + blk->c2.gn_b, id, 1, B,
                            OC, P, G);
}

// The ReLUs' backward ride on the GroupNorm backward (masked by the ReLU's output) and
// the GroupNorm gradients overwrite their buffers: only d1 is cleared (col2im adds into it).
void nfp_basicblock_backward(float* dinp, float* dparams, float* scratch, const float* dout,
                             const float* out, const float* acts, const float* params,
                             const nfp_basicblock* blk, const float* inp, int B) {
  block_acts a;
  acts_map(&a, acts, blk, B);
  int OC = blk->OC, P = blk->OH * blk->OW, G = blk->c1.groups;
  size_t n = (size_t)B * OC * P;
  float* ds = scratch;  // gradient of the residual sum
  float* d1 = ds + n;
  float* d2 = d1 + n;
  float* col = d2 + n;
  const float* p = params;
  float* dp = dparams;
  for (size_t i = 0; i < n; i++) ds[i] = out[i] > 0.0f ? dout[i] : 0.0f;
  // main path, from the top
  nfp_groupnorm_act_backward(d2, dp + blk->c2.gn_w, dp + blk->c2.gn_b, ds, NULL, 1, a.y2, a.m2,
                             a.s2, p + blk->c2.gn_w, B, OC, P, G);
  memset(d1, 0, sizeof(float) * n);
  nfp_conv2d_backward(d1, dp + blk->c2.w, NULL, col, d2, a.r1, p + blk->c2.w, &blk->c2.g, B);
  nfp_groupnorm_act_backward(d2, dp + blk->c1.gn_w, dp + blk->c1.gn_b, d1, a.r1, 1, a.y1, a.m1,
                             a.s1, p + blk->c1.gn_w, B, OC, P, G);
  nfp_conv2d_backward(dinp, dp + blk->c1.w, NULL, col, d2, inp, p + blk->c1.w, &blk->c1.g, B);
  // identity path
  if (blk->has_down) {
    nfp_groupnorm_act_backward(d2, dp + blk->down.gn_w, dp + blk->down.gn_b, ds, NULL, 1, a.yd,
                               a.md, a.sd, p + blk->down.gn_w, B, OC, P, G);
    nfp_conv2d_backward(dinp, dp + blk->down.w, NULL, col, d2, inp, p + blk->down.w,
                        &blk->down.g, B);
  } else if (dinp) {
    for (size_t i = 0; i < n; i++) dinp[i] += ds[i];
  }
}
