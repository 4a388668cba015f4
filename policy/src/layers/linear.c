// Linear and ReLU layers (forward/backward pairs; backward accumulates).
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nfp/layers.h"

// Four floats as a GCC vector (SSE on x86-64, any CPU): -O2 only vectorises loops whose
// trip count is a known multiple of the width, so the elementwise loops here use these.
typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f load4(const float* p) {
  v4f v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static void fill(float* p, float v, int n) {
  v4f v4 = {v, v, v, v};
  int i = 0;
  for (; i + 4 <= n; i += 4) memcpy(p + i, &v4, sizeof(v4));
  for (; i < n; i++) p[i] = v;
}

void nfp_linear_forward(float* out, const float* inp, const float* weight, const float* bias,
                        int B, int C, int OC) {
  if (bias) {
    for (int b = 0; b < B; b++) memcpy(out + (size_t)b * OC, bias, sizeof(float) * (size_t)OC);
  }
  if (C == 0) {
    if (!bias) {
      for (size_t i = 0; i < (size_t)B * OC; i++) out[i] = 0.0f;
    }
    return;
  }
  if (B == 1) {  // matrix-vector: sgemm would pack the whole weight for one row
    cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, C, 1.0f, weight, C, inp, 1, bias ? 1.0f : 0.0f,
                out, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, OC, C, 1.0f, inp, C, weight, C,
              bias ? 1.0f : 0.0f, out, OC);
}

void nfp_linear_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                         const float* inp, const float* weight, int B, int C, int OC) {
  if (B == 1 && C > 0) {
    if (dinp) cblas_sgemv(CblasRowMajor, CblasTrans, OC, C, 1.0f, weight, C, dout, 1, 1.0f, dinp, 1);
    if (dweight) cblas_sger(CblasRowMajor, OC, C, 1.0f, dout, 1, inp, 1, dweight, C);
  } else if (dinp && C > 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, C, OC, 1.0f, dout, OC, weight, C,
                1.0f, dinp, C);
  }
  if (B > 1 && dweight && C > 0) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, B, 1.0f, dout, OC, inp, C, 1.0f,
                dweight, C);
  }
  if (dbias) {
    for (int b = 0; b < B; b++) {
      const float* d = dout + (size_t)b * OC;
      for (int j = 0; j < OC; j++) dbias[j] += d[j];
    }
  }
}

void nfp_linear_forward_t(float* out, const float* inp, const float* weight, const float* bias,
                          int B, int C, int OC) {
  if (B == 1) {  // one row: both layouts are the same
    nfp_linear_forward(out, inp, weight, bias, B, C, OC);
    return;
  }
  for (int j = 0; j < OC; j++) {
    float v = bias ? bias[j] : 0.0f;
    float* o = out + (size_t)j * B;
    fill(o, v, B);
  }
  if (C == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, OC, B, C, 1.0f, weight, C, inp, C,
              bias ? 1.0f : 0.0f, out, B);
}

void nfp_linear_backward_t(float* dinp, float* dweight, float* dbias, const float* dout,
                           const float* inp, const float* weight, int B, int C, int OC) {
  if (B == 1) {
    nfp_linear_backward(dinp, dweight, dbias, dout, inp, weight, B, C, OC);
    return;
  }
  if (dinp && C > 0) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, B, C, OC, 1.0f, dout, B, weight, C,
                1.0f, dinp, C);
  }
  if (dweight && C > 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, OC, C, B, 1.0f, dout, B, inp, C,
                1.0f, dweight, C);
  }
  if (dbias) {
    for (int j = 0; j < OC; j++) {
      const float* d = dout + (size_t)j * B;
      float acc[8] = {0};  // eight running sums: a single one is a latency-bound chain
      int b = 0;
      for (; b + 8 <= B; b += 8) {
        for (int l = 0; l < 8; l++) acc[l] += d[b + l];
      }
      for (; b < B; b++) acc[0] += d[b];
      dbias[j] += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    }
  }
}

void nfp_linear_init(float* weight, float* bias, int C, int OC, nfp_rng* rng) {
  double bound = C > 0 ? 1.0 / sqrt((double)C) : 0.0;
  for (size_t i = 0; i < (size_t)OC * C; i++) weight[i] = (float)nfp_rng_range(rng, -bound, bound);
  if (bias) {
    for (int j = 0; j < OC; j++) bias[j] = (float)nfp_rng_range(rng, -bound, bound);
  }
}

// x with its bits kept where the sign bit is clear, else 0 (so +NaN passes through)
static inline float relu1(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof(u));
  u &= 0u - (uint32_t)((u >> 31) == 0);
  memcpy(&x, &u, sizeof(u));
  return x;
}

// Branch-free, four floats at a time: the signs are random, so branches would mispredict
// half the time (and -O2 turns the scalar backward into a branch on the sign).
void nfp_relu_forward(float* out, const float* inp, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v4i u = (v4i)load4(inp + i);
    v4f r = (v4f)(u & ~(u >> 31));  // >> 31 of a negative lane is all ones
    memcpy(out + i, &r, sizeof(r));
  }
  for (; i < n; i++) out[i] = relu1(inp[i]);
}

void nfp_relu_backward(float* dinp, const float* dout, const float* inp, int n) {
  const v4f one = {1.0f, 1.0f, 1.0f, 1.0f};
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    v4f on = (v4f)((v4i)one & (load4(inp + i) > 0.0f));  // 1 where inp > 0, else 0
    v4f d = load4(dinp + i) + load4(dout + i) * on;
    memcpy(dinp + i, &d, sizeof(d));
  }
  for (; i < n; i++) dinp[i] += dout[i] * (float)(inp[i] > 0.0f);
}
