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

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

void nfp_image_crop(uint8_t* out, const uint8_t* src, int src_h, int src_w, int crop_h,
                    int crop_w, int y0, int x0) {
  int inside = x0 >= 0 && x0 + crop_w <= src_w;
  for (int y = 0; y < crop_h; y++) {
    const uint8_t* row = src + (size_t)clampi(y0 + y, 0, src_h - 1) * src_w * 3;
    uint8_t* o = out + (size_t)y * crop_w * 3;
    if (inside) {
      memcpy(o, row + (size_t)x0 * 3, (size_t)crop_w * 3);
      continue;
    }
    for (int x = 0; x < crop_w; x++) memcpy(o + x * 3, row + clampi(x0 + x, 0, src_w - 1) * 3, 3);
  }
}

// Uniform in lo..hi.
static int draw(nfp_rng* rng, int lo, int hi) {
  return lo + (int)(nfp_rng_next(rng) % (uint64_t)(hi - lo + 1));
}

void nfp_image_window_place(int* y0, int* x0, const nfp_image_window* win, int h, int w,
                            nfp_rng* rng) {
  int my = h - win->h, mx = w - win->w;
  if (rng && win->shift < 0) {  // anywhere inside the frame
    *y0 = draw(rng, 0, my);
    *x0 = draw(rng, 0, mx);
    return;
  }
  *y0 = my / 2 + win->off_y;
  *x0 = mx / 2 + win->off_x;
  if (rng) {
    *y0 += draw(rng, -win->shift, win->shift);
    *x0 += draw(rng, -win->shift, win->shift);
  }
}

void nfp_image_policy_input(uint8_t* out, uint8_t* shrunk, const uint8_t* frame,
                            const nfp_model_config* c) {
  int sh = c->img_src_h / c->img_down, sw = c->img_src_w / c->img_down, y0, x0;
  nfp_image_window win = {c->img_h, c->img_w, c->img_off_y, c->img_off_x, 0};
  nfp_image_shrink(shrunk, frame, c->img_src_h, c->img_src_w, c->img_down);
  nfp_image_window_place(&y0, &x0, &win, sh, sw, NULL);
  nfp_image_crop(out, shrunk, sh, sw, c->img_h, c->img_w, y0, x0);
}
