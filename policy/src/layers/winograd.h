// Winograd convolution F(m x m, 3x3), m = 2 or 4, for 3x3, stride-1, padding-1 layers
// (forward/backward).
//
// Each m x m output tile is an a x a (a = m + 2) element-wise product in the transformed
// domain, so the 9 m^2 multiply-adds per tile and channel pair of a direct convolution
// become 16 (m = 2) or 36 (m = 4). The a^2 products run as a^2 sgemm calls over a chunk
// of samples' tiles side by side:
//   V[p][C][T] = B^T d B (input tiles), U[p][OC][C] = G w G^T (weights),
//   M[p] = U[p] V[p], out tile = A^T m A.
// The backward is the exact adjoint of that forward: dM = A dy A^T, dU[p] = dM[p] V[p]^T
// (dw += G^T dU G) and dV[p] = U[p]^T dM[p] (dx += B dv B^T, overlapping tiles added).
// Private to conv.c, which picks it (and m) for the shapes where it pays.
#ifndef NFP_WINOGRAD_H
#define NFP_WINOGRAD_H

#include <stddef.h>

#include "nfp/layers.h"

// Non-zero when g is a 3x3, stride-1, padding-1 convolution (output size = input size).
int nfp_winograd_fits(const nfp_conv_geom* g);
// Output tiles of one sample.
int nfp_winograd_tiles(const nfp_conv_geom* g, int m);
// Floats of workspace forward and backward need (for any batch size).
size_t nfp_winograd_ws_size(const nfp_conv_geom* g, int m);

// out[B,OC,H,W] = conv(inp, weight) (overwritten); ws: nfp_winograd_ws_size floats.
void nfp_winograd_forward(float* out, float* ws, const float* inp, const float* weight,
                          const nfp_conv_geom* g, int m, int B);
// dinp +=, dweight += (either may be NULL); ws as forward.
void nfp_winograd_backward(float* dinp, float* dweight, float* ws, const float* dout,
                           const float* inp, const float* weight, const nfp_conv_geom* g, int m,
                           int B);

#endif
