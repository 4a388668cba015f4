// Max pooling (forward/backward; backward accumulates). Backward finds each window's
// maximum again from the input instead of keeping an index map.
#include <float.h>

#include "nfp/conv.h"

static int out_size(int n, int K, int stride, int pad) { return (n + 2 * pad - K) / stride + 1; }

// Offset of the first maximum of the window at (oh, ow) in a plane, and its value.
static int argmax(float* best, const float* plane, int H, int W, int K, int stride, int pad,
                  int oh, int ow) {
  int at = -1;
  float m = -FLT_MAX;
  for (int ki = 0; ki < K; ki++) {
    int ih = oh * stride - pad + ki;
    if (ih < 0 || ih >= H) continue;
    for (int kj = 0; kj < K; kj++) {
      int iw = ow * stride - pad + kj;
      if (iw < 0 || iw >= W) continue;
      float v = plane[ih * W + iw];
      if (at < 0 || v > m) {
        m = v;
        at = ih * W + iw;
      }
    }
  }
  *best = m;
  return at;
}

void nfp_maxpool_forward(float* out, const float* inp, int B, int C, int H, int W, int K,
                         int stride, int pad) {
  int OH = out_size(H, K, stride, pad), OW = out_size(W, K, stride, pad);
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* plane = inp + bc * H * W;
    float* o = out + bc * OH * OW;
    for (int oh = 0; oh < OH; oh++) {
      for (int ow = 0; ow < OW; ow++) argmax(&o[oh * OW + ow], plane, H, W, K, stride, pad, oh, ow);
    }
  }
}

void nfp_maxpool_backward(float* dinp, const float* dout, const float* inp, int B, int C, int H,
                          int W, int K, int stride, int pad) {
  int OH = out_size(H, K, stride, pad), OW = out_size(W, K, stride, pad);
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* plane = inp + bc * H * W;
    const float* d = dout + bc * OH * OW;
    float* di = dinp + bc * H * W;
    for (int oh = 0; oh < OH; oh++) {
      for (int ow = 0; ow < OW; ow++) {
        float m;
        int at = argmax(&m, plane, H, W, K, stride, pad, oh, ow);
        if (at >= 0) di[at] += d[oh * OW + ow];
      }
    }
  }
}
