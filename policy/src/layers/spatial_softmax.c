// Spatial softmax (Levine et al. 2016): each channel's map becomes a probability over its
// H x W positions, and the channel's output is the expected (x, y) position under it.
// Temperature is fixed at 1: the 1x1 convolution that feeds the layer scales its logits.
#include <math.h>

#include "nfp/model.h"

// Position of column j (or row i) of n in [-1, 1]; a single column sits at 0.
static float coord(int j, int n) { return n > 1 ? -1.0f + 2.0f * (float)j / (float)(n - 1) : 0.0f; }

void nfp_spatial_softmax_forward(float* out, float* prob, const float* inp, int B, int C, int H,
                                 int W) {
  size_t P = (size_t)H * W;
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* x = inp + bc * P;
    float* p = prob + bc * P;
    float m = x[0];
    for (size_t k = 1; k < P; k++) m = x[k] > m ? x[k] : m;
    double sum = 0.0;  // the max subtracted: every exp is at most 1, the sum at least 1
    for (size_t k = 0; k < P; k++) {
      p[k] = expf(x[k] - m);
      sum += p[k];
    }
    float inv = (float)(1.0 / sum);
    double ex = 0.0, ey = 0.0;
    for (int i = 0; i < H; i++) {
      float yi = coord(i, H);
      double row = 0.0;
      for (int j = 0; j < W; j++) {
        float q = p[(size_t)i * W + j] * inv;
        p[(size_t)i * W + j] = q;
        ex += (double)q * coord(j, W);
        row += q;
      }
      ey += row * yi;
    }
    out[2 * bc] = (float)ex;
    out[2 * bc + 1] = (float)ey;
  }
}

// With E = sum_k p_k u_k (u = x or y): dE/dlogit_k = p_k (u_k - E).
void nfp_spatial_softmax_backward(float* dinp, const float* dout, const float* out,
                                  const float* prob, int B, int C, int H, int W) {
  size_t P = (size_t)H * W;
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* p = prob + bc * P;
    float* d = dinp + bc * P;
    float gx = dout[2 * bc], gy = dout[2 * bc + 1], ex = out[2 * bc], ey = out[2 * bc + 1];
    for (int i = 0; i < H; i++) {
      float dy = gy * (coord(i, H) - ey);
      for (int j = 0; j < W; j++) {
        size_t k = (size_t)i * W + j;
        d[k] += p[k] * (gx * (coord(j, W) - ex) + dy);
      }
    }
  }
}
