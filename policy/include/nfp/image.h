// Camera frames on their way into an image encoder: box-average shrinking and cropping
// of interleaved RGB (uint8 [h][w][3]) frames. The head camera's 240 x 320 frames are
// shrunk 4 times to 60 x 80 and cropped to the network input (56 x 72 by default): a
// random crop per training sample (augmentation), the centre crop when acting.
#ifndef NFP_IMAGE_H
#define NFP_IMAGE_H

#include <stdint.h>

#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

// out[src_h/down][src_w/down][3]: each pixel the rounded mean of a down x down block
// (rows and columns past the last whole block are dropped).
void nfp_image_shrink(uint8_t* out, const uint8_t* src, int src_h, int src_w, int down);

// out[crop_h][crop_w][3] = src[y0 + y][x0 + x]; the window must lie inside src.
void nfp_image_crop(uint8_t* out, const uint8_t* src, int src_w, int crop_h, int crop_w, int y0,
                    int x0);

// Offsets of a crop_h x crop_w window inside h x w: uniform random with rng, else centred.
void nfp_image_crop_offset(int* y0, int* x0, int h, int w, int crop_h, int crop_w, nfp_rng* rng);

#ifdef __cplusplus
}
#endif
#endif
