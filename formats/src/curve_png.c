// Training curve picture: train and validation NLL per epoch as two polylines on simple
// axes, rasterised here and written by nfp_png_write.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/picture.h"

typedef struct {
  int w, h;
  uint8_t* px;  // [h*w*3] RGB
} canvas;

static void put(canvas* c, int x, int y, const uint8_t rgb[3]) {
  if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
  memcpy(c->px + 3 * ((size_t)y * c->w + x), rgb, 3);
}

static void fill(canvas* c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  for (int y = y0; y <= y1; y++)
    for (int x = x0; x <= x1; x++) put(c, x, y, rgb);
}

// Bresenham with a 2-pixel pen.
static void line(canvas* c, int x0, int y0, int x1, int y1, const uint8_t rgb[3]) {
  int dx = abs(x1 - x0), dy = -abs(y1 - y0);
  int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    fill(c, x0, y0, x0 + 1, y0 + 1, rgb);
    if (x0 == x1 && y0 == y1) break;
    int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

// 3x5 glyphs, one row per entry, bit 2 = left column. Only what the labels need.
static const char glyph_chars[] = "0123456789.-+ecpohNLtrainvlsx";
static const uint8_t glyph_rows[][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1},
    {7, 4, 7, 1, 7}, {7, 4, 7, 5, 7}, {7, 1, 1, 2, 2}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7},
    {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0}, {0, 2, 7, 2, 0}, {7, 5, 7, 4, 7}, {0, 7, 4, 4, 7},
    {7, 5, 7, 4, 4}, {0, 7, 5, 5, 7}, {4, 4, 7, 5, 5}, {5, 7, 7, 7, 5}, {4, 4, 4, 4, 7},
    {2, 7, 2, 2, 3}, {0, 6, 5, 4, 4}, {0, 7, 1, 7, 7}, {2, 0, 2, 2, 2}, {0, 6, 5, 5, 5},
    {0, 5, 5, 5, 2}, {6, 2, 2, 2, 7}, {0, 3, 6, 3, 6}, {0, 5, 2, 2, 5},
};

static void text(canvas* c, int x, int y, const char* s, int scale, const uint8_t rgb[3]) {
  for (; *s; s++, x += 4 * scale) {
    const char* p = strchr(glyph_chars, *s);
    if (!p || *s == ' ') continue;
    const uint8_t* g = glyph_rows[p - glyph_chars];
    for (int r = 0; r < 5; r++)
      for (int col = 0; col < 3; col++)
        if (g[r] & (4 >> col))
          fill(c, x + col * scale, y + r * scale, x + col * scale + scale - 1,
               y + r * scale + scale - 1, rgb);
  }
}

int nfp_curve_write_png(const char* path, const float* train, const float* val, int n) {
  static const uint8_t black[3] = {40, 40, 40},
                       grid[3] = {225, 225, 225}, blue[3] = {31, 119, 180},
                       orange[3] = {255, 127, 14};
  const int W = 640, H = 400, left = 70, right = 20, top = 40, bottom = 40;
  canvas c = {W, H, malloc((size_t)W * H * 3)};
  if (!c.px) return nfp_error_set("%s: out of memory", path);
  memset(c.px, 255, (size_t)W * H * 3);

  // y range over the finite values of both curves, with a margin.
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < n; i++) {
    if (isfinite(train[i])) lo = fmin(lo, train[i]), hi = fmax(hi, train[i]);
    if (val && isfinite(val[i])) lo = fmin(lo, val[i]), hi = fmax(hi, val[i]);
  }
  if (!isfinite(lo)) lo = 0.0, hi = 1.0;
  if (hi - lo < 1e-6) lo -= 0.5, hi += 0.5;
  double pad = 0.05 * (hi - lo);
  lo -= pad;
  hi += pad;
  int x0 = left, x1 = W - right, y0 = H - bottom, y1 = top;

  char buf[32];
  for (int k = 0; k <= 4; k++) {  // horizontal grid lines with value labels
    int y = y0 + (y1 - y0) * k / 4;
    fill(&c, x0, y, x1, y, grid);
    snprintf(buf, sizeof(buf), "%.2f", lo + (hi - lo) * k / 4.0);
    text(&c, 4, y - 5, buf, 2, black);
  }
  fill(&c, x0, y1, x0 + 1, y0, black);
  fill(&c, x0, y0, x1, y0 + 1, black);
  snprintf(buf, sizeof(buf), "%d", n > 0 ? n : 0);
  text(&c, x1 - 8 * (int)strlen(buf), y0 + 8, buf, 2, black);
  text(&c, x0, y0 + 8, "1", 2, black);
  text(&c, (x0 + x1) / 2 - 20, y0 + 8, "epoch", 2, black);
  text(&c, x0, 10, "NLL", 2, black);
  fill(&c, x1 - 200, 14, x1 - 180, 16, blue);
  text(&c, x1 - 174, 10, "train", 2, black);
  if (val) {
    fill(&c, x1 - 90, 14, x1 - 70, 16, orange);
    text(&c, x1 - 64, 10, "val", 2, black);
  }

  for (int pass = 0; pass < 2; pass++) {
    const float* v = pass == 0 ? train : val;
    if (!v) continue;
    int px = -1, py = -1;
    for (int i = 0; i < n; i++) {
      if (!isfinite(v[i])) {
        px = -1;
        continue;
      }
      int x = n > 1 ? x0 + (int)lrint((double)(x1 - x0) * i / (n - 1)) : (x0 + x1) / 2;
      int y = y0 + (int)lrint((double)(y1 - y0) * (v[i] - lo) / (hi - lo));
      if (px >= 0) line(&c, px, py, x, y, pass == 0 ? blue : orange);
      else fill(&c, x - 1, y - 1, x + 1, y + 1, pass == 0 ? blue : orange);
      px = x;
      py = y;
    }
  }
  int rc = nfp_png_write(path, c.px, c.w, c.h);
  free(c.px);
  return rc;
}
