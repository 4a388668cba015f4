// Max pooling (forward/backward; backward accumulates). The plain backward finds each
// window's maximum again from the input; the _at pair keeps the winners' offsets instead.
#include <float.h>

#include "nfp/layers.h"

static int out_size(int n, int K, int stride, int pad) { return (n + 2 * pad - K) / stride + 1; }

// Offset of the first maximum of the window at (oh, ow) in a plane, and its value; -1 for
// a window wholly in the padding.
static int argmax(float* best, const float* plane, int H, int W, int K, int stride, int pad,
                  int oh, int ow) {
  int ih0 = oh * stride - pad, iw0 = ow * stride - pad;
  int ki0 = ih0 < 0 ? -ih0 : 0, ki1 = H - ih0 < K ? H - ih0 : K;
  int kj0 = iw0 < 0 ? -iw0 : 0, kj1 = W - iw0 < K ? W - iw0 : K;
  if (ki0 >= ki1 || kj0 >= kj1) {
    *best = -FLT_MAX;
    return -1;
  }
  // the maximum first (branch-free), then the first element equal to it
  int first = (ih0 + ki0) * W + iw0 + kj0;
  float m = plane[first];
  for (int ki = ki0; ki < ki1; ki++) {
    const float* row = plane + (ih0 + ki) * W + iw0;
    for (int kj = kj0; kj < kj1; kj++) m = row[kj] > m ? row[kj] : m;
  }
  *best = m;
  for (int ki = ki0; ki < ki1; ki++) {
    int r = (ih0 + ki) * W + iw0;
    for (int kj = kj0; kj < kj1; kj++) {
      if (plane[r + kj] == m) return r + kj;
    }
  }
  return first;  // a NaN first element: nothing compares greater, it stays the winner
}

void nfp_maxpool_forward_at(float* out, int32_t* at, const float* inp, int B, int C, int H,
                            int W, int K, int stride, int pad) {
  int OH = out_size(H, K, stride, pad), OW = out_size(W, K, stride, pad);
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* plane = inp + bc * H * W;
    float* o = out + bc * OH * OW;
    int32_t* a = at ? at + bc * OH * OW : NULL;
    for (int oh = 0; oh < OH; oh++) {
      for (int ow = 0; ow < OW; ow++) {
        int k = argmax(&o[oh * OW + ow], plane, H, W, K, stride, pad, oh, ow);
        if (a) a[oh * OW + ow] = k;
      }
    }
  }
}

void nfp_maxpool_forward(float* out, const float* inp, int B, int C, int H, int W, int K,
                         int stride, int pad) {
  nfp_maxpool_forward_at(out, NULL, inp, B, C, H, W, K, stride, pad);
}

void nfp_maxpool_backward_at(float* dinp, const float* dout, const int32_t* at, int B, int C,
                             int H, int W, int OH, int OW) {
  size_t P = (size_t)OH * OW;
  for (size_t bc = 0; bc < (size_t)B * C; bc++) {
    const float* d = dout + bc * P;
    const int32_t* a = at + bc * P;
    float* di = dinp + bc * H * W;
    for (size_t p = 0; p < P; p++) {
      if (a[p] >= 0) di[a[p]] += d[p];
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
