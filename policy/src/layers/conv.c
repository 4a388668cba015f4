// 2-D convolution as im2col + sgemm (forward/backward; backward accumulates).
//
// A chunk of samples is unrolled side by side into one column matrix
// col[C*K*K][n*P] (P = OH*OW output pixels per sample), so the deep layers of a
// ResNet, whose feature maps have only a handful of pixels, still give the GEMM
// enough columns to run near peak. 1x1 stride-1 convolutions need no unrolling, and
// 3x3 same-size ones run as Winograd F(2x2, 3x3) or F(4x4, 3x3) when the batch has enough
// tiles (winograd.c: 16 products per 2x2 outputs, or 36 per 4x4, instead of 36 or 144).
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "lanes4.h"
#include "nfp/error.h"
#include "nfp/layers.h"
#include "winograd.h"

// Columns per chunk the GEMMs aim for (a chunk is never less than one sample).
#define COLS_TARGET 512
// Output tiles of a batch from which a 3x3 same-size convolution runs as Winograd
// F(2x2, 3x3): below it the weight transforms cost more than the saved products (measured
// on ResNet18's layers: im2col wins at 16 tiles, Winograd at 20 and more).
#define WINO_MIN_TILES 20
#define WINO4_MIN_TILES 24  // likewise for F(4x4, 3x3) (measured: 20 lose, 24 win)

int nfp_conv_geom_init(nfp_conv_geom* g, int C, int H, int W, int OC, int K, int stride,
                       int pad) {
  memset(g, 0, sizeof(*g));
  if (C <= 0 || H <= 0 || W <= 0 || OC <= 0 || K <= 0 || stride <= 0 || pad < 0 ||
      H + 2 * pad < K || W + 2 * pad < K) {
    return nfp_error_set("convolution: bad geometry (%d channels of %dx%d into %d, kernel %d, "
                         "stride %d, padding %d)", C, H, W, OC, K, stride, pad);
  }
  *g = (nfp_conv_geom){C, H, W, OC, K, stride, pad, (H + 2 * pad - K) / stride + 1,
                       (W + 2 * pad - K) / stride + 1};
  return 0;
}

static int is_pointwise(const nfp_conv_geom* g) {
  return g->K == 1 && g->stride == 1 && g->pad == 0;
}

// Samples per chunk.
static int chunk(const nfp_conv_geom* g) {
  if (is_pointwise(g)) return 1;
  int P = g->OH * g->OW;
  return P >= COLS_TARGET ? 1 : (COLS_TARGET + P - 1) / P;
}

// F(4x4) beats F(2x2) when it saves 64 or more of its products per sample (its 4x4 tiles
// waste more of a small map): ResNet18's layer1 and layer2 at 56x72.
static int winograd4_pays(const nfp_conv_geom* g) {
  return 16 * nfp_winograd_tiles(g, 2) - 36 * nfp_winograd_tiles(g, 4) >= 64;
}

// The Winograd tile for B samples (0: im2col instead): 4 when F(4x4) pays and the batch
// has tiles enough for its 36-position weight transforms.
static int winograd_tile(const nfp_conv_geom* g, int B) {
  if (!nfp_winograd_fits(g) || (long)B * nfp_winograd_tiles(g, 2) < WINO_MIN_TILES) return 0;
  return winograd4_pays(g) && (long)B * nfp_winograd_tiles(g, 4) >= WINO4_MIN_TILES ? 4 : 2;
}

size_t nfp_conv2d_col_size(const nfp_conv_geom* g) {
  if (is_pointwise(g)) return 1;
  size_t cols = (size_t)chunk(g) * g->OH * g->OW;
  size_t ckk = (size_t)g->C * g->K * g->K;
  size_t n = (ckk + (size_t)g->OC) * cols;  // columns, then the chunk's [OC][cols] outputs
  size_t n2 = nfp_winograd_fits(g) ? nfp_winograd_ws_size(g, 2) : 0;
  size_t n4 = nfp_winograd_fits(g) && winograd4_pays(g) ? nfp_winograd_ws_size(g, 4) : 0;
  n = n > n2 ? n : n2;
  return n > n4 ? n : n4;
}

double nfp_conv2d_macs(const nfp_conv_geom* g) {
  return (double)g->OC * g->OH * g->OW * g->C * g->K * g->K;
}

// Output columns [ow0, ow1) whose input column ow stride - pad + kj lies inside the image.
static void valid_cols(int* ow0, int* ow1, const nfp_conv_geom* g, int kj) {
  int a = 0, b = g->OW;
  while (a < b && a * g->stride - g->pad + kj < 0) a++;
  while (b > a && (b - 1) * g->stride - g->pad + kj >= g->W) b--;
  *ow0 = a, *ow1 = b;
}

// A stride-1 convolution that keeps the image size (3x3, padding 1): column row (ki, kj)
// of a sample is its plane shifted by (ki - pad) W + kj - pad as one flat run, with the
// columns that fall off the sides and the rows off the top and bottom zeroed.
static int is_same(const nfp_conv_geom* g) {
  return g->stride == 1 && g->OH == g->H && g->OW == g->W;
}

// Flat range [i0, i1) of a plane's outputs whose input is inside the image, and the rows.
static void same_range(size_t* i0, size_t* i1, int* oh0, int* oh1, const nfp_conv_geom* g, int ki,
                       int ow0, int ow1) {
  int a = 0, b = g->OH;
  while (a < b && a - g->pad + ki < 0) a++;
  while (b > a && b - 1 - g->pad + ki >= g->H) b--;
  if (b <= a || ow1 <= ow0) a = b = ow0 = ow1 = 0;  // nothing inside: an empty range
  *oh0 = a, *oh1 = b;
  *i0 = (size_t)a * g->OW + (size_t)ow0;
  *i1 = b > a ? (size_t)(b - 1) * g->OW + (size_t)ow1 : *i0;
}

// d[ow] = s[2 ow] for ow in [a, b): the even lanes of eight-float runs, then one by one.
// The runs end before s[2 (b - 1)], the last float read, so they never leave the image row.
static void gather2(float* d, const float* s, int a, int b) {
  int ow = a;
  for (; ow + 5 <= b; ow += 4) {
    st4(d + ow, __builtin_shuffle(ld4(s + 2 * ow), ld4(s + 2 * ow + 4), (v4i){0, 2, 4, 6}));
  }
  for (; ow < b; ow++) d[ow] = s[2 * ow];
}

// d[2 ow] += s[ow] for ow in [a, b) (the adjoint of gather2): the odd lanes add zero.
static void scatter2_add(float* d, const float* s, int a, int b) {
  int ow = a;
  for (; ow + 5 <= b; ow += 4) {
    v4f v = ld4(s + ow), z = {0};
    float* q = d + 2 * ow;
    st4(q, ld4(q) + __builtin_shuffle(v, z, (v4i){0, 4, 1, 5}));
    st4(q + 4, ld4(q + 4) + __builtin_shuffle(v, z, (v4i){2, 6, 3, 7}));
  }
  for (; ow < b; ow++) d[2 * ow] += s[ow];
}

// col[(c K + ki) K + kj][s P + oh OW + ow] = inp[s][c][oh stride - pad + ki][ow stride - pad + kj]
static void im2col(float* col, const float* inp, const nfp_conv_geom* g, int n) {
  int K = g->K, S = g->stride, OH = g->OH, OW = g->OW, H = g->H, W = g->W;
  size_t P = (size_t)OH * OW, ld = (size_t)n * P;
  int same = is_same(g);
  for (int c = 0; c < g->C; c++) {
    for (int ki = 0; ki < K; ki++) {
      for (int kj = 0; kj < K; kj++) {
        float* row = col + ((size_t)(c * K + ki) * K + kj) * ld;
        int ow0, ow1;
        valid_cols(&ow0, &ow1, g, kj);
        if (same) {
          size_t i0, i1;
          int oh0, oh1;
          same_range(&i0, &i1, &oh0, &oh1, g, ki, ow0, ow1);
          ptrdiff_t shift = (ptrdiff_t)(ki - g->pad) * W + (kj - g->pad);
          for (int s = 0; s < n; s++) {
            const float* plane = inp + ((size_t)s * g->C + c) * H * W;
            float* dst = row + s * P;
            memset(dst, 0, sizeof(float) * i0);
            if (i1 > i0) {
              memcpy(dst + i0, plane + (ptrdiff_t)i0 + shift, sizeof(float) * (i1 - i0));
            }
            memset(dst + i1, 0, sizeof(float) * (P - i1));
            for (int oh = oh0; oh < oh1; oh++) {  // the columns that wrapped round a side
              float* d = dst + (size_t)oh * OW;
              for (int ow = 0; ow < ow0; ow++) d[ow] = 0.0f;
              for (int ow = ow1; ow < OW; ow++) d[ow] = 0.0f;
            }
          }
          continue;
        }
        for (int s = 0; s < n; s++) {
          const float* plane = inp + ((size_t)s * g->C + c) * H * W;
          for (int oh = 0; oh < OH; oh++) {
            float* dst = row + s * P + (size_t)oh * OW;
            int ih = oh * S - g->pad + ki;
            if (ih < 0 || ih >= H) {
              memset(dst, 0, sizeof(float) * (size_t)OW);
              continue;
            }
            const float* src = plane + (size_t)ih * W - g->pad + kj;
            for (int ow = 0; ow < ow0; ow++) dst[ow] = 0.0f;
            if (S == 1) {
              memcpy(dst + ow0, src + ow0, sizeof(float) * (size_t)(ow1 - ow0));
            } else if (S == 2) {
              gather2(dst, src, ow0, ow1);
            } else {
              for (int ow = ow0; ow < ow1; ow++) dst[ow] = src[ow * S];
            }
            for (int ow = ow1; ow < OW; ow++) dst[ow] = 0.0f;
          }
        }
      }
    }
  }
}

// d[0..n) += s[0..n), four lanes at a time.
static void add_run(float* d, const float* s, size_t n) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    v4f a, b;
    memcpy(&a, d + i, sizeof(a));
    memcpy(&b, s + i, sizeof(b));
    a += b;
    memcpy(d + i, &a, sizeof(a));
  }
  for (; i < n; i++) d[i] += s[i];
}

// dinp[s] += the columns folded back onto the image (the adjoint of im2col). The columns
// are scratch: a same-size convolution zeroes the ones that fell off the sides, then adds
// each row of the column matrix back as one flat run.
static void col2im_add(float* dinp, float* col, const nfp_conv_geom* g, int n) {
  int K = g->K, S = g->stride, OH = g->OH, OW = g->OW, H = g->H, W = g->W;
  size_t P = (size_t)OH * OW, ld = (size_t)n * P;
  int same = is_same(g);
  for (int c = 0; c < g->C; c++) {
    for (int ki = 0; ki < K; ki++) {
      for (int kj = 0; kj < K; kj++) {
        float* row = col + ((size_t)(c * K + ki) * K + kj) * ld;
        int ow0, ow1;
        valid_cols(&ow0, &ow1, g, kj);
        if (same) {
          size_t i0, i1;
          int oh0, oh1;
          same_range(&i0, &i1, &oh0, &oh1, g, ki, ow0, ow1);
          ptrdiff_t shift = (ptrdiff_t)(ki - g->pad) * W + (kj - g->pad);
          for (int s = 0; s < n; s++) {
            float* src = row + s * P;
            for (int oh = oh0; oh < oh1; oh++) {
              float* d = src + (size_t)oh * OW;
              for (int ow = 0; ow < ow0; ow++) d[ow] = 0.0f;
              for (int ow = ow1; ow < OW; ow++) d[ow] = 0.0f;
            }
            float* plane = dinp + ((size_t)s * g->C + c) * H * W;
            if (i1 > i0) add_run(plane + (ptrdiff_t)i0 + shift, src + i0, i1 - i0);
          }
          continue;
        }
        for (int s = 0; s < n; s++) {
          float* plane = dinp + ((size_t)s * g->C + c) * H * W;
          for (int oh = 0; oh < OH; oh++) {
            int ih = oh * S - g->pad + ki;
            if (ih < 0 || ih >= H) continue;
            const float* src = row + s * P + (size_t)oh * OW;
            float* dst = plane + (size_t)ih * W - g->pad + kj;
            if (S == 2) {
              scatter2_add(dst, src, ow0, ow1);
            } else {
              for (int ow = ow0; ow < ow1; ow++) dst[ow * S] += src[ow];
            }
          }
        }
      }
    }
  }
}

void nfp_conv2d_forward(float* out, float* col, const float* inp, const float* weight,
                        const float* bias, const nfp_conv_geom* g, int B) {
  int OC = g->OC, CKK = g->C * g->K * g->K, P = g->OH * g->OW, nb = chunk(g);
  size_t in_size = (size_t)g->C * g->H * g->W, out_size = (size_t)OC * P;
  float beta = bias ? 1.0f : 0.0f;
  int m = winograd_tile(g, B);
  if (m) {
    nfp_winograd_forward(out, col, inp, weight, g, m, B);
    for (size_t s = 0; bias && s < (size_t)B; s++) {
      for (int o = 0; o < OC; o++) {
        float* y = out + s * out_size + (size_t)o * P;
        for (int p = 0; p < P; p++) y[p] += bias[o];
      }
    }
    return;
  }
  for (int s0 = 0; s0 < B; s0 += nb) {
    int n = B - s0 < nb ? B - s0 : nb;
    const float* x = inp + s0 * in_size;
    float* y = out + s0 * out_size;
    const float* cols = x;  // 1x1 stride 1: the image is its own column matrix
    if (!is_pointwise(g)) {
      im2col(col, x, g, n);
      cols = col;
    }
    int ld = n * P;
    if (n == 1) {
      if (bias) {
        for (int o = 0; o < OC; o++) {
          for (int p = 0; p < P; p++) y[(size_t)o * P + p] = bias[o];
        }
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, P, CKK, 1.0f, weight, CKK,
                  cols, ld, beta, y, P);
      continue;
    }
    float* tmp = col + (size_t)CKK * ld;  // [OC][n P], then scattered to [n][OC][P]
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, ld, CKK, 1.0f, weight, CKK, cols,
                ld, 0.0f, tmp, ld);
    for (int s = 0; s < n; s++) {
      for (int o = 0; o < OC; o++) {
        const float* src = tmp + (size_t)o * ld + (size_t)s * P;
        float* dst = y + (size_t)s * out_size + (size_t)o * P;
        float b = bias ? bias[o] : 0.0f;
        for (int p = 0; p < P; p++) dst[p] = src[p] + b;
      }
    }
  }
}

void nfp_conv2d_backward(float* dinp, float* dweight, float* dbias, float* col,
                         const float* dout, const float* inp, const float* weight,
                         const nfp_conv_geom* g, int B) {
  int OC = g->OC, CKK = g->C * g->K * g->K, P = g->OH * g->OW, nb = chunk(g);
  size_t in_size = (size_t)g->C * g->H * g->W, out_size = (size_t)OC * P;
  if (dbias) {
    for (int s = 0; s < B; s++) {
      for (int o = 0; o < OC; o++) {
        const float* d = dout + s * out_size + (size_t)o * P;
        float acc = 0.0f;
        for (int p = 0; p < P; p++) acc += d[p];
        dbias[o] += acc;
      }
    }
  }
  if (!dinp && !dweight) return;
  int m = winograd_tile(g, B);
  if (m) {
    nfp_winograd_backward(dinp, dweight, col, dout, inp, weight, g, m, B);
    return;
  }
  for (int s0 = 0; s0 < B; s0 += nb) {
    int n = B - s0 < nb ? B - s0 : nb;
    int ld = n * P;
    const float* x = inp + s0 * in_size;
    const float* dy = dout + s0 * out_size;
    if (is_pointwise(g)) {  // n == 1, columns are the image itself
      if (dweight) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, P, 1.0f, dy, P, x, P, 1.0f,
                    dweight, CKK);
      }
      if (dinp) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, P, OC, 1.0f, weight, CKK, dy, P,
                    1.0f, dinp + s0 * in_size, P);
      }
      continue;
    }
    if (n > 1) {  // gather the chunk's output gradients side by side, [OC][n P]
      float* tmp = col + (size_t)CKK * ld;
      for (int s = 0; s < n; s++) {
        for (int o = 0; o < OC; o++) {
          memcpy(tmp + (size_t)o * ld + (size_t)s * P, dy + s * out_size + (size_t)o * P,
                 sizeof(float) * (size_t)P);
        }
      }
      dy = tmp;
    }
    if (dweight) {
      im2col(col, x, g, n);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, CKK, ld, 1.0f, dy, ld, col, ld,
                  1.0f, dweight, CKK);
    }
    if (dinp) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, CKK, ld, OC, 1.0f, weight, CKK, dy, ld,
                  0.0f, col, ld);
      col2im_add(dinp + s0 * in_size, col, g, n);
    }
  }
}

void nfp_conv2d_init(float* weight, const nfp_conv_geom* g, nfp_rng* rng) {
  double std = sqrt(2.0 / ((double)g->OC * g->K * g->K));
  size_t n = (size_t)g->OC * g->C * g->K * g->K;
  for (size_t i = 0; i < n; i++) weight[i] = (float)(std * nfp_rng_normal(rng));
}
