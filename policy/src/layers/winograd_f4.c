// Winograd F(4x4, 3x3) transforms (Lavin & Gray 2016; points 0, 1, -1, 2, -2), four tiles
// at a time:
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
//          0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// 36 products per 4x4 outputs (a direct convolution takes 144). Tiles overlap by two
// columns: four tiles' columns 4tx .. 4tx+3 are a 4x4 transpose of four runs, columns 4
// and 5 the next tile's 0 and 1.
#include "winograd_kernels.h"

// The kernels are short fixed loops over tile rows and positions: fully unrolled, their
// arrays live in registers (at -O2 they went through the stack, half the speed).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

// o = B^T d (one dimension).
static inline void bt6(v4f o[6], const v4f d[6]) {
  o[0] = 4.0f * d[0] - 5.0f * d[2] + d[4];
  o[1] = d[3] + d[4] - 4.0f * (d[1] + d[2]);
  o[2] = d[4] - d[3] + 4.0f * (d[1] - d[2]);
  o[3] = d[4] - d[2] + 2.0f * (d[3] - d[1]);
  o[4] = d[4] - d[2] + 2.0f * (d[1] - d[3]);
  o[5] = 4.0f * d[1] - 5.0f * d[3] + d[5];
}

// o = B v, the adjoint of bt6.
static inline void b6(v4f o[6], const v4f v[6]) {
  o[0] = 4.0f * v[0];
  o[1] = 4.0f * (v[2] - v[1] + v[5]) + 2.0f * (v[4] - v[3]);
  o[2] = -5.0f * v[0] - 4.0f * (v[1] + v[2]) - v[3] - v[4];
  o[3] = v[1] - v[2] + 2.0f * (v[3] - v[4]) - 5.0f * v[5];
  o[4] = v[0] + v[1] + v[2] + v[3] + v[4];
  o[5] = v[5];
}

// o = G (a, b, c).
static inline void g6(v4f o[6], v4f a, v4f b, v4f c) {
  o[0] = 0.25f * a;
  o[1] = (-1.0f / 6) * (a + b + c);
  o[2] = (-1.0f / 6) * (a - b + c);
  o[3] = (1.0f / 24) * a + (1.0f / 12) * b + (1.0f / 6) * c;
  o[4] = (1.0f / 24) * a - (1.0f / 12) * b + (1.0f / 6) * c;
  o[5] = c;
}

// o = G^T h, the adjoint of g6.
static inline void gt3(v4f o[3], const v4f h[6]) {
  o[0] = 0.25f * h[0] - (1.0f / 6) * (h[1] + h[2]) + (1.0f / 24) * (h[3] + h[4]);
  o[1] = (1.0f / 6) * (h[2] - h[1]) + (1.0f / 12) * (h[3] - h[4]);
  o[2] = (1.0f / 6) * (h[3] + h[4] - h[1] - h[2]) + h[5];
}

// o = A^T m.
static inline void at4(v4f o[4], const v4f m[6]) {
  v4f s = m[1] + m[2], d = m[1] - m[2], s2 = m[3] + m[4], d2 = m[3] - m[4];
  o[0] = m[0] + s + s2;
  o[1] = d + 2.0f * d2;
  o[2] = s + 4.0f * s2;
  o[3] = d + 8.0f * d2 + m[5];
}

// o = A y, the adjoint of at4.
static inline void a6(v4f o[6], const v4f y[4]) {
  v4f s = y[0] + y[2], d = y[1] + y[3];
  v4f s4 = y[0] + 4.0f * y[2], d2 = 2.0f * y[1] + 8.0f * y[3];
  o[0] = y[0];
  o[1] = s + d;
  o[2] = s - d;
  o[3] = s4 + d2;
  o[4] = s4 - d2;
  o[5] = y[3];
}

static inline void transpose4(v4f r[4]) {
  v4f a = __builtin_shuffle(r[0], r[1], (v4i){0, 4, 1, 5});
  v4f b = __builtin_shuffle(r[2], r[3], (v4i){0, 4, 1, 5});
  v4f c = __builtin_shuffle(r[0], r[1], (v4i){2, 6, 3, 7});
  v4f d = __builtin_shuffle(r[2], r[3], (v4i){2, 6, 3, 7});
  r[0] = __builtin_shuffle(a, b, (v4i){0, 1, 4, 5});
  r[1] = __builtin_shuffle(a, b, (v4i){2, 3, 6, 7});
  r[2] = __builtin_shuffle(c, d, (v4i){0, 1, 4, 5});
  r[3] = __builtin_shuffle(c, d, (v4i){2, 3, 6, 7});
}

// Columns 0 .. 5 of four tiles from a row (lanes = tiles).
static inline void cols6(v4f c[6], const float* e) {
  c[0] = ld4(e), c[1] = ld4(e + 4), c[2] = ld4(e + 8), c[3] = ld4(e + 12);
  v4f x4 = ld4(e + 16);
  transpose4(c);
  c[4] = __builtin_shuffle(c[0], x4, (v4i){1, 2, 3, 4});
  c[5] = __builtin_shuffle(c[1], x4, (v4i){1, 2, 3, 5});
}

static inline v4f tap4(const float* w, int k) {
  return (v4f){w[k], w[9 + k], w[18 + k], w[27 + k]};
}

static void weight4(float* u, size_t ps, const float* w) {
  v4f gw[6][3];
  for (int j = 0; j < 3; j++) {
    v4f col[6];
    g6(col, tap4(w, j), tap4(w, 3 + j), tap4(w, 6 + j));
    for (int i = 0; i < 6; i++) gw[i][j] = col[i];
  }
  for (int i = 0; i < 6; i++) {
    v4f row[6];
    g6(row, gw[i][0], gw[i][1], gw[i][2]);
    for (int k = 0; k < 6; k++) st4(u + (6 * i + k) * ps, row[k]);
  }
}

static void fold4(float* dw, const float* du, size_t ps) {
  v4f h[6][3];
  for (int a = 0; a < 6; a++) {
    v4f q[6];
    for (int k = 0; k < 6; k++) q[k] = ld4(du + (6 * a + k) * ps);
    gt3(h[a], q);
  }
  v4f d[3][3];
  for (int j = 0; j < 3; j++) {
    v4f col[6], o[3];
    for (int a = 0; a < 6; a++) col[a] = h[a][j];
    gt3(o, col);
    for (int i = 0; i < 3; i++) d[i][j] = o[i];
  }
  for (int l = 0; l < 4; l++) {
    for (int k = 0; k < 9; k++) dw[9 * l + k] += d[k / 3][k % 3][l];
  }
}

static void input(float* v, size_t ps, const float* pad, float* tmp, const nfp_wino_tiling* t) {
  int PW = t->PW, TW = t->TW;
  for (int ty = 0; ty < t->TH; ty++) {
    const float* r = pad + (size_t)4 * ty * PW;
    for (int x = 0; x < PW; x += 4) {  // B^T d, along whole rows (PW is a multiple of 4)
      v4f d[6], o[6];
      for (int k = 0; k < 6; k++) d[k] = ld4(r + (size_t)k * PW + x);
      bt6(o, d);
      for (int k = 0; k < 6; k++) st4(tmp + (size_t)k * PW + x, o[k]);
    }
    float* dst = v + (size_t)ty * TW;
    for (int k = 0; k < 6; k++) {  // then B on the right
      const float* e = tmp + (size_t)k * PW;
      for (int tx = 0; tx < TW; tx += 4) {
        v4f c[6], o[6];
        cols6(c, e + 4 * tx);
        bt6(o, c);
        for (int j = 0; j < 6; j++) st4(dst + (6 * k + j) * ps + tx, o[j]);
      }
    }
  }
}

// Each padded row's share of four tiles summed in registers: columns 4tx and 4tx+1 get
// the tile's own columns 0 and 1 plus the left neighbour's 4 and 5, which come in as a
// carry; then a transpose gives each tile's four columns.
static void input_adjoint(float* pad, const float* v, size_t ps, const nfp_wino_tiling* t) {
  int PW = t->PW, TW = t->TW;
  for (int ty = 0; ty < t->TH; ty++) {
    float* r = pad + (size_t)4 * ty * PW;
    const float* s = v + (size_t)ty * TW;
    v4f c4[6] = {{0}}, c5[6] = {{0}};  // the previous four tiles' columns 4 and 5, per row
    for (int tx = 0; tx < TW; tx += 4) {
      v4f h[6][6];
      for (int a = 0; a < 6; a++) {
        v4f q[6];
        for (int k = 0; k < 6; k++) q[k] = keep4(ld4(s + (6 * a + k) * ps + tx), tx, TW);
        b6(h[a], q);
      }
      v4f dd[6][6];
      for (int j = 0; j < 6; j++) {
        v4f col[6], o[6];
        for (int a = 0; a < 6; a++) col[a] = h[a][j];
        b6(o, col);
        for (int i = 0; i < 6; i++) dd[i][j] = o[i];
      }
      for (int i = 0; i < 6; i++) {
        v4f blk[4] = {dd[i][0] + __builtin_shuffle(c4[i], dd[i][4], (v4i){3, 4, 5, 6}),
                      dd[i][1] + __builtin_shuffle(c5[i], dd[i][5], (v4i){3, 4, 5, 6}),
                      dd[i][2], dd[i][3]};
        c4[i] = dd[i][4], c5[i] = dd[i][5];
        transpose4(blk);
        float* q = r + (size_t)i * PW + 4 * tx;
        for (int l = 0; l < 4; l++) st4(q + 4 * l, ld4(q + 4 * l) + blk[l]);
      }
    }
    int tail = 4 * t->TWv;  // the last carry's columns
    for (int i = 0; i < 6; i++) {
      r[(size_t)i * PW + tail] += c4[i][3];
      r[(size_t)i * PW + tail + 1] += c5[i][3];
    }
  }
}

static void output(float* y, const float* m, size_t ps, float* tmp, const nfp_wino_tiling* t) {
  int TW = t->TW, W = t->W, BW = 4 * t->TWv;  // the band: four output rows of BW floats
  for (int ty = 0; ty < t->TH; ty++) {
    const float* s = m + (size_t)ty * TW;
    for (int tx = 0; tx < TW; tx += 4) {
      v4f rr[4][6];
      for (int j = 0; j < 6; j++) {  // A^T m down each column
        v4f col[6], o[4];
        for (int i = 0; i < 6; i++) col[i] = ld4(s + (6 * i + j) * ps + tx);
        at4(o, col);
        for (int i = 0; i < 4; i++) rr[i][j] = o[i];
      }
      for (int i = 0; i < 4; i++) {  // then along each row, and a transpose to tiles
        v4f o[4];
        at4(o, rr[i]);
        transpose4(o);
        float* b = tmp + (size_t)i * BW + 4 * tx;
        for (int l = 0; l < 4; l++) st4(b + 4 * l, o[l]);
      }
    }
    for (int i = 0; i < 4 && 4 * ty + i < t->H; i++) {
      memcpy(y + (size_t)(4 * ty + i) * W, tmp + (size_t)i * BW, sizeof(float) * W);
    }
  }
}

static void output_adjoint(float* m, size_t ps, const float* pad, float* tmp,
                           const nfp_wino_tiling* t) {
  int PW = t->PW, TW = t->TW;
  for (int ty = 0; ty < t->TH; ty++) {
    const float* r = pad + (size_t)4 * ty * PW;
    for (int x = 0; x < PW; x += 4) {  // A dy, along whole rows
      v4f yv[4], o[6];
      for (int k = 0; k < 4; k++) yv[k] = ld4(r + (size_t)k * PW + x);
      a6(o, yv);
      for (int k = 0; k < 6; k++) st4(tmp + (size_t)k * PW + x, o[k]);
    }
    float* d = m + (size_t)ty * TW;
    for (int k = 0; k < 6; k++) {  // then A^T on the right
      const float* e = tmp + (size_t)k * PW;
      for (int tx = 0; tx < TW; tx += 4) {
        v4f c[4], o[6];
        c[0] = ld4(e + 4 * tx), c[1] = ld4(e + 4 * tx + 4);
        c[2] = ld4(e + 4 * tx + 8), c[3] = ld4(e + 4 * tx + 12);
        transpose4(c);
        a6(o, c);
        for (int j = 0; j < 6; j++) st4(d + (6 * k + j) * ps + tx, o[j]);
      }
    }
  }
}

const nfp_wino_kernels nfp_wino_f4 = {4, 6, weight4, fold4, input, input_adjoint, output,
                                      output_adjoint};
