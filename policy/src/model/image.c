// Shrinking and cropping camera frames (see image.h).
#include "nfp/model.h"

#include <string.h>

void nfp_image_shrink(uint8_t* out, const uint8_t* src, int src_h, int src_w, int down) {
  int h = src_h / down, w = src_w / down;
  unsigned area = (unsigned)(down * down);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      unsigned sum[3] = {0, 0, 0};
      for (int dy = 0; dy < down; dy++) {
        const uint8_t* p = src + ((size_t)(y * down + dy) * src_w + (size_t)x * down) * 3;
        for (int dx = 0; dx < down; dx++, p += 3) {
          sum[0] += p[0];
          sum[1] += p[1];
          sum[2] += p[2];
        }
      }
      uint8_t* q = out + ((size_t)y * w + x) * 3;
      for (int c = 0; c < 3; c++) q[c] = (uint8_t)((sum[c] + area / 2) / area);
    }
  }
}

void nfp_image_crop(uint8_t* out, const uint8_t* src, int src_w, int crop_h, int crop_w, int y0,
                    int x0) {
  for (int y = 0; y < crop_h; y++) {
    memcpy(out + (size_t)y * crop_w * 3, src + ((size_t)(y0 + y) * src_w + x0) * 3,
           (size_t)crop_w * 3);
  }
}

void nfp_image_crop_offset(int* y0, int* x0, int h, int w, int crop_h, int crop_w, nfp_rng* rng) {
  int my = h - crop_h, mx = w - crop_w;
  if (rng) {
    *y0 = (int)(nfp_rng_next(rng) % (uint64_t)(my + 1));
    *x0 = (int)(nfp_rng_next(rng) % (uint64_t)(mx + 1));
  } else {
    *y0 = my / 2;
    *x0 = mx / 2;
  }
}

void nfp_image_policy_input(uint8_t* out, uint8_t* shrunk, const uint8_t* frame, int src_h,
                            int src_w, int down, int crop_h, int crop_w) {
  int sh = src_h / down, sw = src_w / down, y0, x0;
  nfp_image_shrink(shrunk, frame, src_h, src_w, down);
  nfp_image_crop_offset(&y0, &x0, sh, sw, crop_h, crop_w, NULL);
  nfp_image_crop(out, shrunk, sw, crop_h, crop_w, y0, x0);
}
