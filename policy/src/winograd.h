// Winograd F(2x2, 3x3) convolution for 3x3, stride-1, padding-1 layers (forward/backward).
//
// Each 2x2 output tile is a 4x4 element-wise product in the transformed domain, so the
// 36 multiply-adds per tile and channel pair of a direct convolution become 16. The 16
// products run as 16 sgemm calls over a chunk of samples' tiles side by side:
//   V[16][C][T] = B^T d B (input tiles), U[16][OC][C] = G w G^T (weights),
//   M[p] = U[p] V[p], out tile = A^T m A.
// The backward is the exact adjoint of that forward: dM = A dy A^T, dU[p] = dM[p] V[p]^T
// (dw += G^T dU G) and dV[p] = U[p]^T dM[p] (dx += B dv B^T, overlapping tiles added).
// Private to conv.c, which picks it for the shapes where it pays.
#ifndef NFP_WINOGRAD_H
#define NFP_WINOGRAD_H

#include <stddef.h>

#include "nfp/conv.h"

// Non-zero when g is a 3x3, stride-1, padding-1 convolution (output size = input size).
int nfp_winograd_fits(const nfp_conv_geom* g);
// Output tiles of one sample.
int nfp_winograd_tiles(const nfp_conv_geom* g);
// Floats of workspace forward and backward need (for any batch size).
size_t nfp_winograd_ws_size(const nfp_conv_geom* g);

// out[B,OC,H,W] = conv(inp, weight) (overwritten); ws: nfp_winograd_ws_size floats.
void nfp_winograd_forward(float* out, float* ws, const float* inp, const float* weight,
                          const nfp_conv_geom* g, int B);
// dinp +=, dweight += (either may be NULL); ws as forward.
void nfp_winograd_backward(float* dinp, float* dweight, float* ws, const float* dout,
                           const float* inp, const float* weight, const nfp_conv_geom* g, int B);

#endif
