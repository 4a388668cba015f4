// Private to the chart writers (curve, bars, series): a cairo drawing that ends as a PNG or
// an SVG file chosen by the path's extension, written atomically, plus the text, axis, line
// and legend helpers the charts share.
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
#define NFP_CHART_INK 0x222222   // text and axes
#define NFP_CHART_GRID 0xe4e4e4  // grid lines

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

// A plot box in pixels and the data range it shows, with y ticks ystep apart.
typedef struct {
  double left, right, top, bottom;
  double xlo, xhi, ylo, yhi, ystep;
} nfp_chart_frame;

// Data x -> x in pixels.
double nfp_chart_fx(const nfp_chart_frame* f, double x);
// Data y -> y in pixels.
double nfp_chart_fy(const nfp_chart_frame* f, double y);
// The values lo..hi (finite, lo <= hi) -> f's y range, padded by 2 % and out to whole tick
// steps (about six); a flat range is first widened by 0.5 either way.
void nfp_chart_fit_y(nfp_chart_frame* f, double lo, double hi);
// Grid and tick labels at round numbers (whole numbers on x when whole_x), the two axes
// and their titles (NULL: none).
void nfp_chart_axes(cairo_t* cr, const nfp_chart_frame* f, const char* xlabel,
                    const char* ylabel, int whole_x);

// Point i of a line in data units; a NaN (or infinite) x or y leaves a gap.
typedef void (*nfp_chart_point)(const void* data, int i, double* x, double* y);
// n points from at(data, i) as a 2 px line in rgb, dashed when dashed, broken at gaps; dots
// on its points when there are few of them, and always on a point with no finite neighbour
// (it would not show otherwise).
void nfp_chart_plot(cairo_t* cr, const nfp_chart_frame* f, nfp_chart_point at,
                    const void* data, int n, uint32_t rgb, int dashed);

// Legend swatches: a line, a dashed line, a ring (a marker).
enum { NFP_CHART_SWATCH_LINE, NFP_CHART_SWATCH_DASHED, NFP_CHART_SWATCH_RING };
#define NFP_CHART_LEGEND_GAP 24.0  // between one legend entry and the next
// The width of a legend entry named name, in the current font, without the gap after it.
double nfp_chart_legend_width(cairo_t* cr, const char* name);
// A legend entry with its middle left at (x, y): a swatch in rgb, then name in ink, in the
// current font. The x where the next entry starts.
double nfp_chart_legend_item(cairo_t* cr, double x, double y, uint32_t rgb, int swatch,
                             const char* name);

#endif
