// The transforms of one Winograd variant, F(2x2, 3x3) or F(4x4, 3x3) (winograd_f2.c,
// winograd_f4.c), and the four-lane helpers they share. Private to winograd.c.
//
// Tiles go four at a time, one per lane. Tile (ty, tx) reads padded rows m ty .. m ty + a - 1
// and columns m tx .. m tx + a - 1 (padded row and column 0 are the image's -1) and writes
// output rows and columns m ty .. m ty + m - 1, m tx .. (a = m + 2, the input tile side).
// A transformed plane is a[0..a^2)[t], position p at p ps, tiles t = ty TW + tx contiguous.
#ifndef NFP_WINOGRAD_KERNELS_H
#define NFP_WINOGRAD_KERNELS_H

#include <stddef.h>
#include <string.h>

#include "lanes4.h"


// Lanes at or past n of tiles tx .. tx+3 zeroed.
static inline v4f keep4(v4f v, int tx, int n) {
  return (v4f)((v4i)v & ((v4i){tx, tx + 1, tx + 2, tx + 3} < n));
}

// Sizes of one plane's tiling.
typedef struct {
  int H, W;
  int TH, TW, TWv;  // tiles per column and row; TW rounded up to 4
  int PW;           // floats per padded row: m TWv + 4 (the last run of four tiles reads
                    // or writes up to four floats past m TWv)
} nfp_wino_tiling;

typedef struct {
  int m, a;  // output and input tile sides
  // u[p][0..4) = (G w G^T)[p] of four consecutive 3x3 filters w; stride ps.
  void (*weight4)(float* u, size_t ps, const float* w);
  // dw[l][0..9) += (G^T du G)[l] of four consecutive filters (du[p][l], stride ps).
  void (*fold4)(float* dw, const float* du, size_t ps);
  // v = (B^T d B) of every tile of a padded plane (borders zero), tmp: a PW floats.
  // A row of TW tiles writes TWv: the extra lanes land on tiles written later.
  void (*input)(float* v, size_t ps, const float* pad, float* tmp, const nfp_wino_tiling* t);
  // pad += (B v B^T) of every tile (the adjoint; pad zeroed by the caller).
  void (*input_adjoint)(float* pad, const float* v, size_t ps, const nfp_wino_tiling* t);
  // y[H][W] = (A^T m A) of every tile; tmp: m m TWv floats.
  void (*output)(float* y, const float* mt, size_t ps, float* tmp, const nfp_wino_tiling* t);
  // m = (A dy A^T) of every tile, dy padded with zeros to m TH rows of PW floats;
  // tmp: a PW floats. Extra lanes as input.
  void (*output_adjoint)(float* mt, size_t ps, const float* dy, float* tmp,
                         const nfp_wino_tiling* t);
} nfp_wino_kernels;

extern const nfp_wino_kernels nfp_wino_f2, nfp_wino_f4;

#endif
