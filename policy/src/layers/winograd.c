// Winograd convolution for 3x3, stride-1, padding-1 layers (forward/backward; backward
// accumulates). See winograd.h; the transforms are in winograd_f2.c and winograd_f4.c.
//
// Layout per chunk of n samples (Tc = n T tile columns), P = a^2 positions:
// V[P][C][Tc], M[P][OCb][Tc], U[P][OCb][C], each position's slice a row-major matrix for
// sgemm. Output channels go in blocks of OCb so that U stays bounded however wide the
// layer is; chunks are small enough for a chunk's V and M to stay near L2.
#include <cblas.h>
#include <string.h>

#include "winograd.h"
#include "winograd_kernels.h"

#define WS_FLOATS 32768  // per position of F(2x2) (16/36 of it for F(4x4)): channels x
                         // columns of V and of U aim below this (measured best on ResNet18
                         // at batch 64)
#define SKEW 16          // floats added to each position stride: 16 or 36 power-of-two
                         // strides apart would share one cache set

typedef struct {
  const nfp_wino_kernels* k;
  nfp_wino_tiling t;
  int C, OC, H, W;
  int P, T;     // positions (a^2), tiles per sample
  int n, ocb;   // samples per chunk, output channels per block
  size_t psU, psV, psM;  // position strides of U, V (and dV), M
  float *U, *V, *dV, *M;
  float *pad, *pad_o, *pad_d;  // padded input (zero borders), output gradient, input gradient
  float* tmp;
} plan;

int nfp_winograd_fits(const nfp_conv_geom* g) {
  return g->K == 3 && g->stride == 1 && g->pad == 1 && g->OH == g->H && g->OW == g->W;
}

int nfp_winograd_tiles(const nfp_conv_geom* g, int m) {
  return ((g->OH + m - 1) / m) * ((g->OW + m - 1) / m);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Sizes and, when ws is given, the buffers in it.
static size_t plan_init(plan* p, float* ws, const nfp_conv_geom* g, int m) {
  p->k = m == 4 ? &nfp_wino_f4 : &nfp_wino_f2;
  int a = p->k->a;
  p->C = g->C, p->OC = g->OC, p->H = g->H, p->W = g->W;
  nfp_wino_tiling* t = &p->t;
  t->H = g->H, t->W = g->W;
  t->TH = (g->H + m - 1) / m, t->TW = (g->W + m - 1) / m, t->TWv = (t->TW + 3) / 4 * 4;
  t->PW = m * t->TWv + 4;
  p->P = a * a, p->T = t->TH * t->TW;
  // GEMM columns: V bounded, but 128 at least, so that a wide layer's weights are
  // transformed once for a whole batch of 64 small maps (measured: 10 % off layer4)
  int cols = clampi(WS_FLOATS * 16 / (p->P * g->C), 128, 256);
  p->n = (cols + p->T - 1) / p->T;
  // output-channel blocks of equal size, a multiple of 16 (a thin last block would
  // repack V for a handful of rows)
  int ocb = clampi(WS_FLOATS * 16 / (p->P * g->C), 16, g->OC);
  int nblk = (g->OC + ocb - 1) / ocb;
  p->ocb = clampi(((g->OC + nblk - 1) / nblk + 15) / 16 * 16, 16, g->OC);
  size_t tc = (size_t)p->n * p->T, ph = (size_t)m * t->TH + 2;
  p->psU = (size_t)p->ocb * p->C + SKEW;
  p->psV = (size_t)p->C * tc + SKEW;
  p->psM = (size_t)p->ocb * tc + SKEW;
  size_t sizes[8] = {p->P * p->psU, p->P * p->psV, p->P * p->psV, p->P * p->psM,
                     ph * t->PW,    ph * t->PW,    ph * t->PW,    (size_t)a * t->PW};
  float** bufs[8] = {&p->U, &p->V, &p->dV, &p->M, &p->pad, &p->pad_o, &p->pad_d, &p->tmp};
  size_t off = 0;
  for (int i = 0; i < 8; i++) {
    *bufs[i] = ws ? ws + off : NULL;
    off += sizes[i];
  }
  return off;
}

size_t nfp_winograd_ws_size(const nfp_conv_geom* g, int m) {
  plan p;
  return plan_init(&p, NULL, g, m);
}

static size_t pad_floats(const plan* p) {
  return ((size_t)p->k->m * p->t.TH + 2) * p->t.PW;
}

// U[pos][o][c] = (G w G^T)[pos] for output channels [o0, o0 + nb) (rows of C floats).
static void xform_weight(float* U, const float* weight, int o0, int nb, const plan* p) {
  for (int o = 0; o < nb; o++) {
    const float* w = weight + (size_t)(o0 + o) * p->C * 9;
    float* u = U + (size_t)o * p->C;
    int c = 0;
    for (; c + 4 <= p->C; c += 4) p->k->weight4(u + c, p->psU, w + (size_t)c * 9);
    if (c < p->C) {  // the last one to three filters, through zero-padded copies
      float w4[36] = {0}, u4[36 * 4];
      memcpy(w4, w + (size_t)c * 9, sizeof(float) * 9 * (size_t)(p->C - c));
      p->k->weight4(u4, 4, w4);
      for (int q = 0; q < p->P; q++) {
        for (int l = 0; c + l < p->C; l++) u[q * p->psU + c + l] = u4[4 * q + l];
      }
    }
  }
}

// dweight[o0 + o] += G^T dU[o] G for the block's nb output channels (dU laid out as U).
static void fold_dweight(float* dweight, const float* dU, int o0, int nb, const plan* p) {
  for (int o = 0; o < nb; o++) {
    float* dw = dweight + (size_t)(o0 + o) * p->C * 9;
    const float* u = dU + (size_t)o * p->C;
    int c = 0;
    for (; c + 4 <= p->C; c += 4) p->k->fold4(dw + (size_t)c * 9, u + c, p->psU);
    if (c < p->C) {  // the last one to three filters, through padded copies
      float u4[36 * 4] = {0}, dw4[36] = {0};
      for (int q = 0; q < p->P; q++) {
        for (int l = 0; c + l < p->C; l++) u4[4 * q + l] = u[q * p->psU + c + l];
      }
      p->k->fold4(dw4, u4, 4);
      for (int k = 0; k < 9 * (p->C - c); k++) dw[(size_t)c * 9 + k] += dw4[k];
    }
  }
}

// d[0..n) = s[0..n): rows are a few dozen floats, too short for a memcpy call to pay.
static inline void copy_run(float* d, const float* s, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) st4(d + i, ld4(s + i));
  for (; i < n; i++) d[i] = s[i];
}

// V of samples [s0, s0 + n): every input plane's tiles, Tc = n T columns. Planes go in
// memory order (channel rows, samples along them), so each one's spill is overwritten.
static void chunk_input(const plan* p, const float* inp, int s0, int n) {
  size_t tc = (size_t)n * p->T, hw = (size_t)p->H * p->W;
  int PW = p->t.PW;
  for (int c = 0; c < p->C; c++) {
    for (int s = 0; s < n; s++) {
      const float* x = inp + ((size_t)(s0 + s) * p->C + c) * hw;
      for (int r = 0; r < p->H; r++) {  // into the interior: row 1, column 1 on
        copy_run(p->pad + (size_t)(r + 1) * PW + 1, x + (size_t)r * p->W, p->W);
      }
      p->k->input(p->V + (size_t)c * tc + (size_t)s * p->T, p->psV, p->pad, p->tmp, &p->t);
    }
  }
}

void nfp_winograd_forward(float* out, float* ws, const float* inp, const float* weight,
                          const nfp_conv_geom* g, int m, int B) {
  plan p;
  plan_init(&p, ws, g, m);
  memset(p.pad, 0, sizeof(float) * pad_floats(&p));
  int whole = p.ocb >= p.OC;
  if (whole) xform_weight(p.U, weight, 0, p.OC, &p);
  size_t hw = (size_t)p.H * p.W;
  for (int s0 = 0; s0 < B; s0 += p.n) {
    int n = B - s0 < p.n ? B - s0 : p.n;
    int tc = n * p.T;
    chunk_input(&p, inp, s0, n);
    for (int o0 = 0; o0 < p.OC; o0 += p.ocb) {
      int nb = p.OC - o0 < p.ocb ? p.OC - o0 : p.ocb;
      if (!whole) xform_weight(p.U, weight, o0, nb, &p);
      for (size_t q = 0; q < (size_t)p.P; q++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, tc, p.C, 1.0f,
                    p.U + q * p.psU, p.C, p.V + q * p.psV, tc, 0.0f, p.M + q * p.psM, tc);
      }
      for (int s = 0; s < n; s++) {
        for (int o = 0; o < nb; o++) {
          p.k->output(out + ((size_t)(s0 + s) * p.OC + o0 + o) * hw,
                      p.M + (size_t)o * tc + (size_t)s * p.T, p.psM, p.tmp, &p.t);
        }
      }
    }
  }
}

void nfp_winograd_backward(float* dinp, float* dweight, float* ws, const float* dout,
                           const float* inp, const float* weight, const nfp_conv_geom* g, int m,
                           int B) {
  if (!dinp && !dweight) return;
  plan p;
  plan_init(&p, ws, g, m);
  size_t hw = (size_t)p.H * p.W;
  int PW = p.t.PW;
  memset(p.pad, 0, sizeof(float) * pad_floats(&p));
  memset(p.pad_o, 0, sizeof(float) * pad_floats(&p));
  for (int s0 = 0; s0 < B; s0 += p.n) {
    int n = B - s0 < p.n ? B - s0 : p.n;
    int tc = n * p.T;
    if (dweight) chunk_input(&p, inp, s0, n);
    for (int o0 = 0; o0 < p.OC; o0 += p.ocb) {
      int nb = p.OC - o0 < p.ocb ? p.OC - o0 : p.ocb;
      for (int o = 0; o < nb; o++) {  // dM of the block, in memory order as chunk_input
        for (int s = 0; s < n; s++) {
          const float* dy = dout + ((size_t)(s0 + s) * p.OC + o0 + o) * hw;
          for (int r = 0; r < p.H; r++) {
            copy_run(p.pad_o + (size_t)r * PW, dy + (size_t)r * p.W, p.W);
          }
          p.k->output_adjoint(p.M + (size_t)o * tc + (size_t)s * p.T, p.psM, p.pad_o, p.tmp,
                              &p.t);
        }
      }
      if (dweight) {  // dU[q] = dM[q] V[q]^T, folded into dweight at once (U holds it)
        for (size_t q = 0; q < (size_t)p.P; q++) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, p.C, tc, 1.0f,
                      p.M + q * p.psM, tc, p.V + q * p.psV, tc, 0.0f, p.U + q * p.psU, p.C);
        }
        fold_dweight(dweight, p.U, o0, nb, &p);
      }
      if (dinp) {  // dV[q] += U[q]^T dM[q]
        xform_weight(p.U, weight, o0, nb, &p);
        for (size_t q = 0; q < (size_t)p.P; q++) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p.C, tc, nb, 1.0f,
                      p.U + q * p.psU, p.C, p.M + q * p.psM, tc, o0 == 0 ? 0.0f : 1.0f,
                      p.dV + q * p.psV, tc);
        }
      }
    }
    if (!dinp) continue;
    for (int s = 0; s < n; s++) {  // dx += the adjoint input transform's interior
      for (int c = 0; c < p.C; c++) {
        memset(p.pad_d, 0, sizeof(float) * pad_floats(&p));
        p.k->input_adjoint(p.pad_d, p.dV + (size_t)c * tc + (size_t)s * p.T, p.psV, &p.t);
        float* dx = dinp + ((size_t)(s0 + s) * p.C + c) * hw;
        for (int y = 0; y < p.H; y++) {
          const float* src = p.pad_d + (size_t)(y + 1) * PW + 1;
          float* dst = dx + (size_t)y * p.W;
          int x = 0;
          for (; x + 4 <= p.W; x += 4) st4(dst + x, ld4(dst + x) + ld4(src + x));
          for (; x < p.W; x++) dst[x] += src[x];
        }
      }
    }
  }
}
