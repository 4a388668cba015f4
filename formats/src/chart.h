// Private to the chart writers (curve, bars): a cairo drawing that ends as a PNG or an SVG
// file chosen by the path's extension, written atomically, plus the text and axis helpers
// both charts share.
#ifndef NFP_CHART_H
#define NFP_CHART_H

#include <cairo.h>
#include <stddef.h>
#include <stdint.h>

#include "nfp/atomic_file.h"

// Font sizes in px: every chart uses these two (each size is a glyph set in an SVG).
#define NFP_CHART_TITLE 18
#define NFP_CHART_TEXT 13
#define NFP_CHART_PI 3.14159265358979323846  // M_PI is not in strict C11 / POSIX

typedef struct {
  cairo_surface_t* surface;
  cairo_t* cr;
  int svg;               // 1: SVG, 0: PNG
  nfp_atomic_file file;  // the output, begun before any drawing
  char* buf;             // SVG text collected in memory (its <title> goes in at the end)
  size_t len, cap;
} nfp_chart;

// Open path (".png": PNG, else SVG) and a w x h drawing on a white background. 0 or -1.
int nfp_chart_begin(nfp_chart* c, const char* path, int w, int h);
// Finish the drawing and move it into place; an SVG gets title and desc (may be NULL) as
// its <title> and <desc>, the text readers and search find. Frees c. 0 or -1.
int nfp_chart_end(nfp_chart* c, const char* title, const char* desc);
// Drop the drawing; path keeps what it held. Frees c.
void nfp_chart_abort(nfp_chart* c);

// A context on a 1x1 surface for measuring text before the chart's size is known.
cairo_t* nfp_chart_scratch(void);

void nfp_chart_font(cairo_t* cr, double size, int bold);
void nfp_chart_rgb(cairo_t* cr, uint32_t rgb);  // 0xRRGGBB
// Add the segment (x0, y0)-(x1, y1) to the path (stroked by the caller).
void nfp_chart_line(cairo_t* cr, double x0, double y0, double x1, double y1);
double nfp_chart_text_width(cairo_t* cr, const char* s);
// s with its box anchored at (x, y): ax 0 / 0.5 / 1 = left / centre / right end, ay the
// same from the ascent's top to the descent's bottom; turned by angle (radians) about it.
void nfp_chart_text(cairo_t* cr, const char* s, double x, double y, double ax, double ay,
                    double angle);

// A tick step of 1, 2 or 5 x 10^k giving about `target` steps over span (> 0).
double nfp_chart_tick_step(double span, int target);
// The decimals a tick label needs at this step ("%.*f").
int nfp_chart_tick_decimals(double step);

#endif
