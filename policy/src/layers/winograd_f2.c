// Winograd F(2x2, 3x3) transforms (Lavin & Gray 2016), four tiles at a time:
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
//   A^T = [1 1 1 0; 0 1 -1 -1]
// Tiles overlap by two columns, so four tiles' columns 2tx .. 2tx+3 are the even and odd
// lanes of two overlapping eight-float runs.
#include "winograd_kernels.h"

// The kernels are short fixed loops over tile rows and positions: fully unrolled, their
// arrays live in registers (at -O2 they went through the stack, half the speed).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif

static inline v4f even4(v4f a, v4f b) { return __builtin_shuffle(a, b, (v4i){0, 2, 4, 6}); }
static inline v4f odd4(v4f a, v4f b) { return __builtin_shuffle(a, b, (v4i){1, 3, 5, 7}); }

// Lanes k, 9 + k, 18 + k, 27 + k of w: one tap of four consecutive filters.
static inline v4f tap4(const float* w, int k) {
  return (v4f){w[k], w[9 + k], w[18 + k], w[27 + k]};
}

static void weight4(float* u, size_t ps, const float* w) {
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

static void fold4(float* dw, const float* du, size_t ps) {
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

static void input(float* v, size_t ps, const float* pad, float* tmp, const nfp_wino_tiling* t) {
  int PW = t->PW, TW = t->TW;
  float *t0 = tmp, *t1 = tmp + PW, *t2 = tmp + 2 * PW, *t3 = tmp + 3 * PW;
  for (int ty = 0; ty < t->TH; ty++) {
    const float* r0 = pad + (size_t)2 * ty * PW;
    const float *r1 = r0 + PW, *r2 = r1 + PW, *r3 = r2 + PW;
    for (int x = 0; x < PW; x += 4) {  // B^T d, along whole rows (PW is a multiple of 4)
      v4f a = ld4(r0 + x), b = ld4(r1 + x), c = ld4(r2 + x), d = ld4(r3 + x);
      st4(t0 + x, a - c), st4(t1 + x, b + c), st4(t2 + x, c - b), st4(t3 + x, b - d);
    }
    float* d = v + (size_t)ty * TW;
    for (int k = 0; k < 4; k++) {  // then B on the right
      const float* e = tmp + (size_t)k * PW;
      float* d0 = d + (4 * k) * ps;
      float *d1 = d0 + ps, *d2 = d1 + ps, *d3 = d2 + ps;
      for (int tx = 0; tx < TW; tx += 4) {
        const float* s = e + 2 * tx;
        v4f x0 = ld4(s), x1 = ld4(s + 4), y0 = ld4(s + 2), y1 = ld4(s + 6);
        v4f e0 = even4(x0, x1), e1 = odd4(x0, x1), e2 = even4(y0, y1), e3 = odd4(y0, y1);
        st4(d0 + tx, e0 - e2), st4(d1 + tx, e1 + e2), st4(d2 + tx, e2 - e1);
        st4(d3 + tx, e1 - e3);
      }
    }
  }
}

// Each padded row's share summed in registers: columns 2tx and 2tx+1 get the tile's own
// columns 0 and 1 plus the left neighbour's 2 and 3, which come in as a carry.
static void input_adjoint(float* pad, const float* v, size_t ps, const nfp_wino_tiling* t) {
  int PW = t->PW, TW = t->TW;
  for (int ty = 0; ty < t->TH; ty++) {
    float* r = pad + (size_t)2 * ty * PW;
    const float* s = v + (size_t)ty * TW;
    v4f c2[4] = {{0}}, c3[4] = {{0}};  // the previous four tiles' columns 2 and 3, per row
    for (int tx = 0; tx < TW; tx += 4) {
      v4f h[4][4];
      for (int a = 0; a < 4; a++) {
        v4f v0 = keep4(ld4(s + (4 * a) * ps + tx), tx, TW);
        v4f v1 = keep4(ld4(s + (4 * a + 1) * ps + tx), tx, TW);
        v4f v2 = keep4(ld4(s + (4 * a + 2) * ps + tx), tx, TW);
        v4f v3 = keep4(ld4(s + (4 * a + 3) * ps + tx), tx, TW);
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
    int tail = 2 * t->TWv;  // the last carry's columns
    for (int i = 0; i < 4; i++) {
      r[(size_t)i * PW + tail] += c2[i][3];
      r[(size_t)i * PW + tail + 1] += c3[i][3];
    }
  }
}

static void output(float* y, const float* m, size_t ps, float* tmp, const nfp_wino_tiling* t) {
  int TW = t->TW, W = t->W;
  float *b0 = tmp, *b1 = tmp + 2 * t->TWv;  // the band's two output rows
  for (int ty = 0; ty < t->TH; ty++) {
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
    memcpy(y + (size_t)2 * ty * W, b0, sizeof(float) * W);
    if (2 * ty + 1 < t->H) memcpy(y + (size_t)(2 * ty + 1) * W, b1, sizeof(float) * W);
  }
}

static void output_adjoint(float* m, size_t ps, const float* pad, float* tmp,
                           const nfp_wino_tiling* t) {
  (void)tmp;
  int PW = t->PW, TW = t->TW;
  for (int ty = 0; ty < t->TH; ty++) {
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

const nfp_wino_kernels nfp_wino_f2 = {2, 4, weight4, fold4, input, input_adjoint, output,
                                      output_adjoint};
