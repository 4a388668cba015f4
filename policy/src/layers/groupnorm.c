// GroupNorm (forward/backward). The channels of a group are contiguous in NCHW, so each
// (sample, group) is one run of C/G * HW floats. Sums run in float over four-lane vectors
// per channel (independent adds, so they pipeline) and are gathered per group in double.
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nfp/layers.h"

#define GN_EPS 1e-5

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

static inline v4f load4(const float* p) {
  v4f v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline float hsum(v4f v) { return (v[0] + v[1]) + (v[2] + v[3]); }

// Sum of x[0..n) and of (x - m)^2 (m = 0 skips the shift).
static double sum_run(const float* x, int n) {
  v4f a = {0}, b = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8) a += load4(x + i), b += load4(x + i + 4);
  float s = hsum(a + b);
  for (; i < n; i++) s += x[i];
  return s;
}

static double sq_run(const float* x, float m, int n) {
  v4f a = {0}, b = {0};
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    v4f d = load4(x + i) - m, e = load4(x + i + 4) - m;
    a += d * d, b += e * e;
  }
  float s = hsum(a + b);
  for (; i < n; i++) s += (x[i] - m) * (x[i] - m);
  return s;
}

void nfp_groupnorm_act_forward(float* out, float* mean, float* rstd, const float* inp,
                               const float* weight, const float* bias, const float* residual,
                               int relu, int B, int C, int HW, int G) {
  int cg = C / G;
  size_t n = (size_t)cg * HW;
  for (int b = 0; b < B; b++) {
    for (int g = 0; g < G; g++) {
      size_t off = ((size_t)b * C + (size_t)g * cg) * HW;
      const float* x = inp + off;
      // two passes: the mean first keeps the variance free of cancellation
      double s = 0.0;
      for (int c = 0; c < cg; c++) s += sum_run(x + (size_t)c * HW, HW);
      double m = s / (double)n, v = 0.0;
      for (int c = 0; c < cg; c++) v += sq_run(x + (size_t)c * HW, (float)m, HW);
      float r = (float)(1.0 / sqrt(v / (double)n + GN_EPS));
      mean[b * G + g] = (float)m;
      rstd[b * G + g] = r;
      for (int c = 0; c < cg; c++) {
        float a = r * weight[g * cg + c];
        float sh = bias[g * cg + c] - (float)m * a;
        const float* xc = x + (size_t)c * HW;
        const float* rc = residual ? residual + off + (size_t)c * HW : NULL;
        float* yc = out + off + (size_t)c * HW;
        int p = 0;
        for (; p + 4 <= HW; p += 4) {
          v4f y = load4(xc + p) * a + sh;
          if (rc) y += load4(rc + p);
          if (relu) y = (v4f)((v4i)y & (y > 0.0f));
          memcpy(yc + p, &y, sizeof(y));
        }
        for (; p < HW; p++) {
          float y = xc[p] * a + sh;
          if (rc) y += rc[p];
          yc[p] = relu && !(y > 0.0f) ? 0.0f : y;
        }
      }
    }
  }
}

void nfp_groupnorm_forward(float* out, float* mean, float* rstd, const float* inp,
                           const float* weight, const float* bias, int B, int C, int HW, int G) {
  nfp_groupnorm_act_forward(out, mean, rstd, inp, weight, bias, NULL, 0, B, C, HW, G);
}

// dout where mask > 0 (a ReLU's output), else 0; all of dout without a mask.
static inline v4f masked4(const float* d, const float* mask, int p) {
  v4f v = load4(d + p);
  return mask ? (v4f)((v4i)v & (load4(mask + p) > 0.0f)) : v;
}

static inline float masked1(const float* d, const float* mask, int p) {
  return mask && !(mask[p] > 0.0f) ? 0.0f : d[p];
}

// With xhat = (x - mean) rstd and dxhat = dout w:
//   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), over the group,
// written as dx = a_c dout + bx x + c0 so the last pass is one multiply-add per float.
void nfp_groupnorm_act_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                                const float* mask, int overwrite, const float* inp,
                                const float* mean, const float* rstd, const float* weight,
                                int B, int C, int HW, int G) {
  int cg = C / G;
  double n = (double)cg * HW;
  for (int b = 0; b < B; b++) {
    for (int g = 0; g < G; g++) {
      size_t off = ((size_t)b * C + (size_t)g * cg) * HW;
      const float* x = inp + off;
      const float* dy = dout + off;
      const float* mk = mask ? mask + off : NULL;
      double m = mean[b * G + g], r = rstd[b * G + g];
      double sum1 = 0.0, sum2 = 0.0;  // sums of dxhat and dxhat * xhat over the group
      for (int c = 0; c < cg; c++) {
        size_t co = (size_t)c * HW;
        const float* xc = x + co;
        const float* mc = mk ? mk + co : NULL;
        v4f a = {0}, ax = {0};
        int p = 0;
        for (; p + 4 <= HW; p += 4) {
          v4f d = masked4(dy + co, mc, p);
          a += d, ax += d * load4(xc + p);
        }
        float sdy = hsum(a), sdyx = hsum(ax);
        for (; p < HW; p++) {
          float d = masked1(dy + co, mc, p);
          sdy += d, sdyx += d * xc[p];
        }
        double dw = r * ((double)sdyx - m * sdy);  // sum of dout * xhat
        int ch = g * cg + c;
        if (dweight) dweight[ch] += (float)dw;
        if (dbias) dbias[ch] += sdy;
        sum1 += (double)weight[ch] * sdy;
        sum2 += (double)weight[ch] * dw;
      }
      if (!dinp) continue;
      float bx = (float)(-r * r * sum2 / n);
      float c0 = (float)(-r * sum1 / n + r * r * m * sum2 / n);
      for (int c = 0; c < cg; c++) {
        size_t co = (size_t)c * HW;
        float a = (float)r * weight[g * cg + c];
        const float* xc = x + co;
        const float* mc = mk ? mk + co : NULL;
        float* di = dinp + off + co;
        int p = 0;
        for (; p + 4 <= HW; p += 4) {
          v4f v = a * masked4(dy + co, mc, p) + bx * load4(xc + p) + c0;
          if (!overwrite) v += load4(di + p);
          memcpy(di + p, &v, sizeof(v));
        }
        for (; p < HW; p++) {
          float v = a * masked1(dy + co, mc, p) + bx * xc[p] + c0;
          di[p] = overwrite ? v : di[p] + v;
        }
      }
    }
  }
}

void nfp_groupnorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                            const float* inp, const float* mean, const float* rstd,
                            const float* weight, int B, int C, int HW, int G) {
  nfp_groupnorm_act_backward(dinp, dweight, dbias, dout, NULL, 0, inp, mean, rstd, weight, B, C,
                             HW, G);
}
