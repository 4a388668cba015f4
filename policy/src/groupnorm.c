// GroupNorm (forward/backward; backward accumulates). The channels of a group are
// contiguous in NCHW, so each (sample, group) is one run of C/G * HW floats.
#include <math.h>

#include "nfp/conv.h"

#define GN_EPS 1e-5

void nfp_groupnorm_forward(float* out, float* mean, float* rstd, const float* inp,
                           const float* weight, const float* bias, int B, int C, int HW, int G) {
  int cg = C / G;
  size_t n = (size_t)cg * HW;
  for (int b = 0; b < B; b++) {
    for (int g = 0; g < G; g++) {
      const float* x = inp + ((size_t)b * C + (size_t)g * cg) * HW;
      float* y = out + ((size_t)b * C + (size_t)g * cg) * HW;
      // two passes in double: the mean first keeps the variance free of cancellation
      double s = 0.0;
      for (size_t i = 0; i < n; i++) s += x[i];
      double m = s / (double)n, v = 0.0;
      for (size_t i = 0; i < n; i++) v += ((double)x[i] - m) * ((double)x[i] - m);
      float r = (float)(1.0 / sqrt(v / (double)n + GN_EPS));
      mean[b * G + g] = (float)m;
      rstd[b * G + g] = r;
      for (int c = 0; c < cg; c++) {
        float a = r * weight[g * cg + c];
        float sh = bias[g * cg + c] - (float)m * a;
        const float* xc = x + (size_t)c * HW;
        float* yc = y + (size_t)c * HW;
        for (int p = 0; p < HW; p++) yc[p] = xc[p] * a + sh;
      }
    }
  }
}

// With xhat = (x - mean) rstd and dxhat = dout w:
//   dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), over the group,
// written as dx = a_c dout + bx x + c0 so the last pass is one multiply-add per float.
void nfp_groupnorm_backward(float* dinp, float* dweight, float* dbias, const float* dout,
                            const float* inp, const float* mean, const float* rstd,
                            const float* weight, int B, int C, int HW, int G) {
  int cg = C / G;
  double n = (double)cg * HW;
  for (int b = 0; b < B; b++) {
    for (int g = 0; g < G; g++) {
      size_t off = ((size_t)b * C + (size_t)g * cg) * HW;
      const float* x = inp + off;
      const float* dy = dout + off;
      double m = mean[b * G + g], r = rstd[b * G + g];
      double sum1 = 0.0, sum2 = 0.0;  // sums of dxhat and dxhat * xhat over the group
      for (int c = 0; c < cg; c++) {
        const float* xc = x + (size_t)c * HW;
        const float* dc = dy + (size_t)c * HW;
        float sdy = 0.0f, sdyx = 0.0f;
        for (int p = 0; p < HW; p++) {
          sdy += dc[p];
          sdyx += dc[p] * xc[p];
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
        float a = (float)r * weight[g * cg + c];
        const float* xc = x + (size_t)c * HW;
        const float* dc = dy + (size_t)c * HW;
        float* di = dinp + off + (size_t)c * HW;
        for (int p = 0; p < HW; p++) di[p] += a * dc[p] + bx * xc[p] + c0;
      }
    }
  }
}
