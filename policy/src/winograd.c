// Winograd F(2x2, 3x3) convolution (forward/backward; backward accumulates). See winograd.h.
//
// Transforms (Lavin & Gray 2016):
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Tile (ty, tx) reads input rows 2ty-1 .. 2ty+2 and columns 2tx-1 .. 2tx+2 (zeros outside)
// and writes output rows 2ty, 2ty+1, columns 2tx, 2tx+1 (those inside the image).
//
// Layout per chunk of n samples (Tc = n T tile columns): V[16][C][Tc], M[16][OCb][Tc],
// U[16][OCb][C], each position's slice a row-major matrix for sgemm. Output channels go
// in blocks of OCb so that U stays about half a million floats however wide the layer.
#include <cblas.h>
#include <string.h>

#include "winograd.h"

#define POS 16
#define WS_FLOATS 32768  // per position: channels x columns of V and of U aim below this,
                         // so that a chunk's V and M stay in L2 (measured best on ResNet18)
#define SKEW 16          // floats added to each position stride: 16 power-of-two strides
                         // apart would share one cache set

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static inline v4f ld4(const float* p) {
  v4f v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void st4(float* p, v4f v) { memcpy(p, &v, sizeof(v)); }

static inline v4f even4(v4f a, v4f b) { return __builtin_shuffle(a, b, (v4i){0, 2, 4, 6}); }
static inline v4f odd4(v4f a, v4f b) { return __builtin_shuffle(a, b, (v4i){1, 3, 5, 7}); }

typedef struct {
  int C, OC, H, W;
  int TH, TW, T;          // tiles per sample, T = TH TW
  int n, ocb;             // samples per chunk, output channels per block
  int TWv;                // TW rounded up to 4: tiles go four at a time
  int PW;                 // padded row: 2 TWv + 2 (one column left of the image, the rest right)
  size_t psU, psV, psM;   // position strides of U, V (and dV), M
  float *U, *V, *dV, *M;
  float *pad, *pad_o, *pad_d;  // padded input (zero borders), output gradient, input gradient
  float* tmp;
} plan;

int nfp_winograd_fits(const nfp_conv_geom* g) {
  return g->K == 3 && g->stride == 1 && g->pad == 1 && g->OH == g->H && g->OW == g->W;
}

int nfp_winograd_tiles(const nfp_conv_geom* g) {
  return ((g->OH + 1) / 2) * ((g->OW + 1) / 2);
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

// Sizes and, when ws is given, the buffers in it.
static size_t plan_init(plan* p, float* ws, const nfp_conv_geom* g) {
  p->C = g->C, p->OC = g->OC, p->H = g->H, p->W = g->W;
  p->TH = (g->H + 1) / 2, p->TW = (g->W + 1) / 2, p->T = p->TH * p->TW;
  int cols = clampi(WS_FLOATS / g->C, 64, 256);  // enough GEMM columns, V bounded
  p->n = (cols + p->T - 1) / p->T;
  p->ocb = clampi(WS_FLOATS / g->C, 16, g->OC);
  p->TWv = (p->TW + 3) / 4 * 4;
  p->PW = 2 * p->TWv + 2;
  size_t tc = (size_t)p->n * p->T, ph = 2 * (size_t)p->TH + 2;
  p->psU = (size_t)p->ocb * p->C + SKEW;
  p->psV = (size_t)p->C * tc + SKEW;
  p->psM = (size_t)p->ocb * tc + SKEW;
  size_t sizes[8] = {POS * p->psU, POS * p->psV, POS * p->psV, POS * p->psM,
                     ph * p->PW,   ph * p->PW,   ph * p->PW,   4 * (size_t)p->PW};
  float** bufs[8] = {&p->U, &p->V, &p->dV, &p->M, &p->pad, &p->pad_o, &p->pad_d, &p->tmp};
  size_t off = 0;
  for (int i = 0; i < 8; i++) {
    *bufs[i] = ws ? ws + off : NULL;
    off += sizes[i];
  }
  return off;
}

size_t nfp_winograd_ws_size(const nfp_conv_geom* g) {
  plan p;
  return plan_init(&p, NULL, g);
}

// Lanes k, 9 + k, 18 + k, 27 + k of w: one tap of four consecutive filters.
static inline v4f tap4(const float* w, int k) {
  return (v4f){w[k], w[9 + k], w[18 + k], w[27 + k]};
}

// u[pos][0..4) = (G w G^T)[pos] of four consecutive filters; position stride ps.
static inline void xform_weight4(float* u, size_t ps, const float* w) {
  v4f gw[4][3];
  for (int j = 0; j < 3; j++) {
    v4f a = tap4(w, j), b = tap4(w, 3 + j), c = tap4(w, 6 + j);
    gw[0][j] = a, gw[1][j] = 0.5f * (a + b + c), gw[2][j] = 0.5f * (a - b + c), gw[3][j] = c;
  }
  for (int i = 0; i < 4; i++) {
    v4f a = gw[i][0], b = gw[i][1], c = gw[i][2];
    st4(u + (4 * i) * ps, a), st4(u + (4 * i + 1) * ps, 0.5f * (a + b + c));
    st4(u + (4 * i + 2) * ps, 0.5f * (a - b + c)), st4(u + (4 * i + 3) * ps, c);
  }
}

// U[pos][o][c] = (G w G^T)[pos] for output channels [o0, o0 + nb) (rows of C floats).
static void xform_weight(float* U, const float* weight, int o0, int nb, const plan* p) {
  for (int o = 0; o < nb; o++) {
    const float* w = weight + (size_t)(o0 + o) * p->C * 9;
    float* u = U + (size_t)o * p->C;
    int c = 0;
    for (; c + 4 <= p->C; c += 4) xform_weight4(u + c, p->psU, w + (size_t)c * 9);
    if (c < p->C) {  // the last one to three filters, through zero-padded copies
      float w4[36] = {0}, u4[POS * 4];
      memcpy(w4, w + (size_t)c * 9, sizeof(float) * 9 * (size_t)(p->C - c));
      xform_weight4(u4, 4, w4);
      for (int q = 0; q < POS; q++) {
        for (int l = 0; c + l < p->C; l++) u[q * p->psU + c + l] = u4[4 * q + l];
      }
    }
  }
}

// dw[l][0..9) += (G^T du G)[l] of four consecutive filters (du[pos][l], stride ps).
static inline void fold_dweight4(float* dw, const float* du, size_t ps) {
  v4f h[4][3];
  for (int a = 0; a < 4; a++) {
    v4f q0 = ld4(du + (4 * a) * ps), q1 = ld4(du + (4 * a + 1) * ps),
        q2 = ld4(du + (4 * a + 2) * ps), q3 = ld4(du + (4 * a + 3) * ps);
    h[a][0] = q0 + 0.5f * (q1 + q2);
    h[a][1] = 0.5f * (q1 - q2);
    h[a][2] = 0.5f * (q1 + q2) + q3;
  }
  v4f d[9];
  for (int j = 0; j < 3; j++) {
    d[j] = h[0][j] + 0.5f * (h[1][j] + h[2][j]);
    d[3 + j] = 0.5f * (h[1][j] - h[2][j]);
    d[6 + j] = 0.5f * (h[1][j] + h[2][j]) + h[3][j];
  }
  for (int l = 0; l < 4; l++) {
    for (int k = 0; k < 9; k++) dw[9 * l + k] += d[k][l];
  }
}

// dweight[o0 + o] += G^T dU[o] G for the block's nb output channels (dU laid out as U).
static void fold_dweight(float* dweight, const float* dU, int o0, int nb, const plan* p) {
  for (int o = 0; o < nb; o++) {
    float* dw = dweight + (size_t)(o0 + o) * p->C * 9;
    const float* u = dU + (size_t)o * p->C;
    int c = 0;
    for (; c + 4 <= p->C; c += 4) fold_dweight4(dw + (size_t)c * 9, u + c, p->psU);
    if (c < p->C) {  // the last one to three filters, through padded copies
      float u4[POS * 4] = {0}, dw4[36] = {0};
      for (int q = 0; q < POS; q++) {
        for (int l = 0; c + l < p->C; l++) u4[4 * q + l] = u[q * p->psU + c + l];
      }
      fold_dweight4(dw4, u4, 4);
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

// The plane x[H][W] into the padded plane's interior (row 1, column 1 on); borders stay 0.
static void pad_plane(float* pad, const float* x, const plan* p) {
  for (int r = 0; r < p->H; r++) copy_run(pad + (size_t)(r + 1) * p->PW + 1, x + (size_t)r * p->W, p->W);
}

// v[pos][t] = (B^T d B)[pos] of every tile t of a padded plane; position stride ps.
// Four tiles at a time: their columns 2tx .. 2tx+3 are the even and odd lanes of two
// overlapping eight-float runs. A row of TW tiles writes TWv: the extra lanes land on the
// next row's tiles or the next plane's, which are written after (see chunk_input).
static void xform_input(float* v, size_t ps, const float* pad, float* tmp, const plan* p) {
  int PW = p->PW, TW = p->TW;
  float *t0 = tmp, *t1 = tmp + PW, *t2 = tmp + 2 * PW, *t3 = tmp + 3 * PW;
  for (int ty = 0; ty < p->TH; ty++) {
    const float* r0 = pad + (size_t)2 * ty * PW;
    const float *r1 = r0 + PW, *r2 = r1 + PW, *r3 = r2 + PW;
    int x = 0;
    for (; x + 4 <= PW; x += 4) {  // B^T d, along whole rows
      v4f a = ld4(r0 + x), b = ld4(r1 + x), c = ld4(r2 + x), d = ld4(r3 + x);
      st4(t0 + x, a - c), st4(t1 + x, b + c), st4(t2 + x, c - b), st4(t3 + x, b - d);
    }
    for (; x < PW; x++) {
      t0[x] = r0[x] - r2[x], t1[x] = r1[x] + r2[x];
      t2[x] = r2[x] - r1[x], t3[x] = r1[x] - r3[x];
    }
    float* d = v + (size_t)ty * TW;
    for (int k = 0; k < 4; k++) {  // then B on the right
      const float* t = tmp + (size_t)k * PW;
      float* d0 = d + (4 * k) * ps;
      float *d1 = d0 + ps, *d2 = d1 + ps, *d3 = d2 + ps;
      for (int tx = 0; tx < TW; tx += 4) {
        const float* e = t + 2 * tx;
        v4f x0 = ld4(e), x1 = ld4(e + 4), y0 = ld4(e + 2), y1 = ld4(e + 6);
        v4f e0 = even4(x0, x1), e1 = odd4(x0, x1), e2 = even4(y0, y1), e3 = odd4(y0, y1);
        st4(d0 + tx, e0 - e2), st4(d1 + tx, e1 + e2), st4(d2 + tx, e2 - e1);
        st4(d3 + tx, e1 - e3);
      }
    }
  }
}

// pad += (B dv B^T) of every tile (the adjoint of xform_input); dx += the pad's interior.
// Four tiles at a time, each padded row's contribution summed in registers: columns 2tx
// and 2tx+1 get the tile's own columns 0 and 1 plus the left neighbour's 2 and 3, which
// come in as a carry. The extra lanes of a row's last four tiles are masked to zero.
static void xform_input_adjoint(float* dx, const float* v, size_t ps, float* pad,
                                const plan* p) {
  int PW = p->PW, TW = p->TW;
  memset(pad, 0, sizeof(float) * (2 * (size_t)p->TH + 2) * PW);
  for (int ty = 0; ty < p->TH; ty++) {
    float* r = pad + (size_t)2 * ty * PW;
    const float* s = v + (size_t)ty * TW;
    v4f c2[4] = {{0}}, c3[4] = {{0}};  // the previous four tiles' columns 2 and 3, per row
    for (int tx = 0; tx < TW; tx += 4) {
      v4i keep = (v4i){tx, tx + 1, tx + 2, tx + 3} < TW;
      v4f h[4][4];
      for (int a = 0; a < 4; a++) {
        v4f v0 = ld4(s + (4 * a) * ps + tx), v1 = ld4(s + (4 * a + 1) * ps + tx),
            v2 = ld4(s + (4 * a + 2) * ps + tx), v3 = ld4(s + (4 * a + 3) * ps + tx);
        v0 = (v4f)((v4i)v0 & keep), v1 = (v4f)((v4i)v1 & keep);
        v2 = (v4f)((v4i)v2 & keep), v3 = (v4f)((v4i)v3 & keep);
        h[a][0] = v0, h[a][1] = v1 - v2 + v3, h[a][2] = v1 + v2 - v0, h[a][3] = -v3;
      }
      for (int i = 0; i < 4; i++) {
        v4f d[4];
        for (int j = 0; j < 4; j++) {
          d[j] = i == 0   ? h[0][j]
                 : i == 1 ? h[1][j] - h[2][j] + h[3][j]
                 : i == 2 ? h[1][j] + h[2][j] - h[0][j]
                          : -h[3][j];
        }
        v4f e = d[0] + __builtin_shuffle(c2[i], d[2], (v4i){3, 4, 5, 6});
        v4f o = d[1] + __builtin_shuffle(c3[i], d[3], (v4i){3, 4, 5, 6});
        c2[i] = d[2], c3[i] = d[3];
        float* q = r + (size_t)i * PW + 2 * tx;
        st4(q, ld4(q) + __builtin_shuffle(e, o, (v4i){0, 4, 1, 5}));
        st4(q + 4, ld4(q + 4) + __builtin_shuffle(e, o, (v4i){2, 6, 3, 7}));
      }
    }
    int tail = 2 * ((TW + 3) / 4 * 4);  // the last carry's columns
    for (int i = 0; i < 4; i++) {
      r[(size_t)i * PW + tail] += c2[i][3];
      r[(size_t)i * PW + tail + 1] += c3[i][3];
    }
  }
  for (int y = 0; y < p->H; y++) {
    const float* src = pad + (size_t)(y + 1) * PW + 1;
    float* dst = dx + (size_t)y * p->W;
    int x = 0;
    for (; x + 4 <= p->W; x += 4) st4(dst + x, ld4(dst + x) + ld4(src + x));
    for (; x < p->W; x++) dst[x] += src[x];
  }
}

// y[H][W] = (A^T m A) of every tile, m[pos][t] with position stride ps (a row's extra
// lanes read other tiles and are dropped).
static void xform_output(float* y, const float* m, size_t ps, float* tmp, const plan* p) {
  int TW = p->TW, W = p->W;
  float *b0 = tmp, *b1 = tmp + 2 * p->TWv;  // the band's two output rows
  for (int ty = 0; ty < p->TH; ty++) {
    const float* s = m + (size_t)ty * TW;
    for (int tx = 0; tx < TW; tx += 4) {
      v4f r0[4], r1[4];
      for (int j = 0; j < 4; j++) {
        v4f m0 = ld4(s + j * ps + tx), m1 = ld4(s + (4 + j) * ps + tx),
            m2 = ld4(s + (8 + j) * ps + tx), m3 = ld4(s + (12 + j) * ps + tx);
        r0[j] = m0 + m1 + m2;
        r1[j] = m1 - m2 - m3;
      }
      v4f a = r0[0] + r0[1] + r0[2], b = r0[1] - r0[2] - r0[3];
      st4(b0 + 2 * tx, __builtin_shuffle(a, b, (v4i){0, 4, 1, 5}));
      st4(b0 + 2 * tx + 4, __builtin_shuffle(a, b, (v4i){2, 6, 3, 7}));
      a = r1[0] + r1[1] + r1[2], b = r1[1] - r1[2] - r1[3];
      st4(b1 + 2 * tx, __builtin_shuffle(a, b, (v4i){0, 4, 1, 5}));
      st4(b1 + 2 * tx + 4, __builtin_shuffle(a, b, (v4i){2, 6, 3, 7}));
    }
    copy_run(y + (size_t)2 * ty * W, b0, W);
    if (2 * ty + 1 < p->H) copy_run(y + (size_t)(2 * ty + 1) * W, b1, W);
  }
}

// m[pos][t] = (A dy A^T)[pos] of every tile (the adjoint of xform_output); dy is padded
// with zeros to 2 TH rows of PW floats. Extra lanes spill as in xform_input.
static void xform_output_adjoint(float* m, size_t ps, const float* pad, const plan* p) {
  int PW = p->PW, TW = p->TW;
  for (int ty = 0; ty < p->TH; ty++) {
    const float* r0 = pad + (size_t)2 * ty * PW;
    const float* r1 = r0 + PW;
    float* d = m + (size_t)ty * TW;
    for (int tx = 0; tx < TW; tx += 4) {
      v4f a0 = ld4(r0 + 2 * tx), a1 = ld4(r0 + 2 * tx + 4);
      v4f b0 = ld4(r1 + 2 * tx), b1 = ld4(r1 + 2 * tx + 4);
      v4f y00 = even4(a0, a1), y01 = odd4(a0, a1), y10 = even4(b0, b1), y11 = odd4(b0, b1);
      v4f e0[4] = {y00, y00 + y01, y00 - y01, -y01};
      v4f e1[4] = {y10, y10 + y11, y10 - y11, -y11};
      for (int j = 0; j < 4; j++) {
        st4(d + j * ps + tx, e0[j]);
        st4(d + (4 + j) * ps + tx, e0[j] + e1[j]);
        st4(d + (8 + j) * ps + tx, e0[j] - e1[j]);
        st4(d + (12 + j) * ps + tx, -e1[j]);
      }
    }
  }
}

// V of samples [s0, s0 + n): every input plane's tiles, Tc = n T columns. Planes go in
// memory order (channel rows, samples along them), so each one's spill is overwritten.
static void chunk_input(const plan* p, const float* inp, int s0, int n) {
  size_t tc = (size_t)n * p->T, hw = (size_t)p->H * p->W;
  for (int c = 0; c < p->C; c++) {
    for (int s = 0; s < n; s++) {
      pad_plane(p->pad, inp + ((size_t)(s0 + s) * p->C + c) * hw, p);
      xform_input(p->V + (size_t)c * tc + (size_t)s * p->T, p->psV, p->pad, p->tmp, p);
    }
  }
}

void nfp_winograd_forward(float* out, float* ws, const float* inp, const float* weight,
                          const nfp_conv_geom* g, int B) {
  plan p;
  plan_init(&p, ws, g);
  memset(p.pad, 0, sizeof(float) * (2 * (size_t)p.TH + 2) * p.PW);
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
      for (size_t q = 0; q < POS; q++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb, tc, p.C, 1.0f,
                    p.U + q * p.psU, p.C, p.V + q * p.psV, tc, 0.0f, p.M + q * p.psM, tc);
      }
      for (int s = 0; s < n; s++) {
        for (int o = 0; o < nb; o++) {
          xform_output(out + ((size_t)(s0 + s) * p.OC + o0 + o) * hw,
                       p.M + (size_t)o * tc + (size_t)s * p.T, p.psM, p.tmp, &p);
        }
      }
    }
  }
}

void nfp_winograd_backward(float* dinp, float* dweight, float* ws, const float* dout,
                           const float* inp, const float* weight, const nfp_conv_geom* g, int B) {
  if (!dinp && !dweight) return;
  plan p;
  plan_init(&p, ws, g);
  size_t ph = 2 * (size_t)p.TH + 2, hw = (size_t)p.H * p.W;
  memset(p.pad, 0, sizeof(float) * ph * p.PW);
  memset(p.pad_o, 0, sizeof(float) * ph * p.PW);
  for (int s0 = 0; s0 < B; s0 += p.n) {
    int n = B - s0 < p.n ? B - s0 : p.n;
    int tc = n * p.T;
    if (dweight) chunk_input(&p, inp, s0, n);
    for (int o0 = 0; o0 < p.OC; o0 += p.ocb) {
      int nb = p.OC - o0 < p.ocb ? p.OC - o0 : p.ocb;
      for (int o = 0; o < nb; o++) {  // dM of the block, in memory order as chunk_input
        for (int s = 0; s < n; s++) {
          const float* dy = dout + ((size_t)(s0 + s) * p.OC + o0 + o) * hw;
          for (int r = 0; r < p.H; r++) copy_run(p.pad_o + (size_t)r * p.PW, dy + (size_t)r * p.W, p.W);
          xform_output_adjoint(p.M + (size_t)o * tc + (size_t)s * p.T, p.psM, p.pad_o, &p);
        }
      }
      if (dweight) {  // dU[q] = dM[q] V[q]^T, folded into dweight at once (U holds it)
        for (size_t q = 0; q < POS; q++) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb, p.C, tc, 1.0f,
                      p.M + q * p.psM, tc, p.V + q * p.psV, tc, 0.0f, p.U + q * p.psU, p.C);
        }
        fold_dweight(dweight, p.U, o0, nb, &p);
      }
      if (dinp) {  // dV[q] += U[q]^T dM[q]
        xform_weight(p.U, weight, o0, nb, &p);
        for (size_t q = 0; q < POS; q++) {
          cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p.C, tc, nb, 1.0f,
                      p.U + q * p.psU, p.C, p.M + q * p.psM, tc, o0 == 0 ? 0.0f : 1.0f,
                      p.dV + q * p.psV, tc);
        }
      }
    }
    if (dinp) {
      for (int s = 0; s < n; s++) {
        for (int c = 0; c < p.C; c++) {
          xform_input_adjoint(dinp + ((size_t)(s0 + s) * p.C + c) * hw,
                              p.dV + (size_t)c * tc + (size_t)s * p.T, p.psV, p.pad_d,
                              &p);
        }
      }
    }
  }
}
