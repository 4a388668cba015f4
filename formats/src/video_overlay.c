// Text on video frames with cairo: the top band of the RGB image is copied into a cairo
// RGB24 surface, the box and text drawn there, and the band copied back.
#include <string.h>

#include <cairo.h>

#include "nfp/error.h"
#include "nfp/video.h"

#define OVERLAY_MAX_LINES 8

// Rows [0, n) of rgb <-> the surface's xRGB pixels (to_surface 1: into the surface).
static void overlay_copy(uint8_t* rgb, int w, int n, cairo_surface_t* s, int to_surface) {
  if (to_surface) cairo_surface_flush(s);
  unsigned char* data = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  for (int y = 0; y < n; y++) {
    uint32_t* px = (uint32_t*)(data + (size_t)y * stride);
    uint8_t* p = rgb + (size_t)y * w * 3;
    for (int x = 0; x < w; x++, p += 3) {
      if (to_surface) {
        px[x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
      } else {
        p[0] = (uint8_t)(px[x] >> 16);
        p[1] = (uint8_t)(px[x] >> 8);
        p[2] = (uint8_t)px[x];
      }
    }
  }
  if (to_surface) cairo_surface_mark_dirty(s);
}

// text -> its lines in line[] (copies, cut at 255 characters); the count.
static int overlay_lines(const char* text, char line[][256]) {
  int n = 0;
  while (n < OVERLAY_MAX_LINES) {
    const char* end = strchr(text, '\n');
    size_t len = end ? (size_t)(end - text) : strlen(text);
    if (len > 255) len = 255;
    memcpy(line[n], text, len);
    line[n++][len] = '\0';
    if (!end) break;
    text = end + 1;
  }
  return n;
}

// The box (translucent black, as wide as the longest line) and the white lines.
static void overlay_draw(cairo_t* cr, char line[][256], int n, double size, double pad) {
  cairo_select_font_face(cr, "monospace", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double width = 0;
  for (int i = 0; i < n; i++) {
    cairo_text_extents_t te;
    cairo_text_extents(cr, line[i], &te);
    if (te.x_advance > width) width = te.x_advance;
  }
  cairo_set_source_rgba(cr, 0, 0, 0, 0.6);
  cairo_rectangle(cr, 0, 0, width + 2 * pad, n * fe.height + 2 * pad);
  cairo_fill(cr);
  cairo_set_source_rgb(cr, 1, 1, 1);
  for (int i = 0; i < n; i++) {
    cairo_move_to(cr, pad, pad + i * fe.height + fe.ascent);
    cairo_show_text(cr, line[i]);
  }
}

int nfp_overlay_text(uint8_t* rgb, int w, int h, const char* text) {
  char line[OVERLAY_MAX_LINES][256];
  int n = overlay_lines(text, line);
  // About 22 lines of text fit the height: readable on 240 rows, not huge on 720.
  double size = h / 22.0 < 9 ? 9 : h / 22.0 > 28 ? 28 : h / 22.0, pad = size / 3;
  int band = (int)(n * 1.3 * size + 2 * pad) + 2;  // font height is about 1.2 x its size
  if (band > h) band = h;
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, band);
  if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(s);
    return nfp_error_set("overlay: cannot make a %dx%d cairo surface", w, band);
  }
  overlay_copy(rgb, w, band, s, 1);
  cairo_t* cr = cairo_create(s);
  overlay_draw(cr, line, n, size, pad);
  int ok = cairo_status(cr) == CAIRO_STATUS_SUCCESS;
  cairo_destroy(cr);
  cairo_surface_flush(s);
  if (ok) overlay_copy(rgb, w, band, s, 0);
  cairo_surface_destroy(s);
  return ok ? 0 : nfp_error_set("overlay: cairo could not draw the text");
}
