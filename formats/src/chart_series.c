// Series chart: lines over shared, labelled axes (the RL fine-tuning log: success rate over
// online episodes, the critic's estimate against the observed return), each in its own
// colour, solid or dashed, broken at NaNs and named in a legend that wraps onto more rows
// (the chart grows taller for them); drawn with cairo as PNG or SVG (chart.h). A series
// with no finite point draws nothing but its legend entry; the chart needs one point.
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "chart.h"
#include "nfp/error.h"
#include "nfp/picture.h"

#define SERIES_W 880
#define SERIES_H 540  // with one legend row
#define MARGIN 16.0
#define LEGEND_Y 50.0   // the first legend row's middle
#define LEGEND_ROW 22.0  // from one legend row to the next

// Point i of an nfp_series, for nfp_chart_plot.
static void series_point(const void* data, int i, double* x, double* y) {
  const nfp_series* s = data;
  *x = s->x[i];
  *y = s->y[i];
}

// Point i of s -> whether it is drawn (x and y finite).
static int finite_at(const nfp_series* s, int i) {
  return isfinite(s->x[i]) && isfinite(s->y[i]);
}

// The input -> 0, or -1 with a message: no series, an empty one, no finite point in any.
static int series_check(const char* path, const nfp_series* s, int n_series) {
  if (!s || n_series < 1) return nfp_error_set("%s: no series to draw", path);
  int finite = 0;
  for (int k = 0; k < n_series; k++) {
    if (s[k].n < 1 || !s[k].x || !s[k].y) {
      return nfp_error_set("%s: series %d (%s) has no points", path, k + 1,
                           s[k].label ? s[k].label : "unnamed");
    }
    for (int i = 0; i < s[k].n && !finite; i++) finite = finite_at(&s[k], i);
  }
  return finite ? 0 : nfp_error_set("%s: no series has a finite point to draw", path);
}

// The finite points -> f's x range and its y range (fixed when y_lo < y_hi, both finite).
// Whether every finite x is a whole number (x ticks then are too).
static int series_range(const nfp_series* s, int n_series, double y_lo, double y_hi,
                        nfp_chart_frame* f) {
  double xlo = INFINITY, xhi = -INFINITY, lo = INFINITY, hi = -INFINITY;
  int whole = 1;
  for (int k = 0; k < n_series; k++) {
    for (int i = 0; i < s[k].n; i++) {
      if (!finite_at(&s[k], i)) continue;
      xlo = fmin(xlo, s[k].x[i]);
      xhi = fmax(xhi, s[k].x[i]);
      lo = fmin(lo, s[k].y[i]);
      hi = fmax(hi, s[k].y[i]);
      whole = whole && s[k].x[i] == floor(s[k].x[i]);
    }
  }
  if (xhi - xlo < 1e-9 * fmax(1.0, fabs(xlo))) xlo -= 0.5, xhi += 0.5;  // a single x
  f->xlo = xlo;
  f->xhi = xhi;
  if (isfinite(y_lo) && isfinite(y_hi) && y_lo < y_hi) {
    f->ylo = y_lo;
    f->yhi = y_hi;
    f->ystep = nfp_chart_tick_step(y_hi - y_lo, 6);
  } else {
    nfp_chart_fit_y(f, lo, hi);
  }
  return whole;
}

// The legend from (MARGIN, LEGEND_Y), a swatch and label per named series, wrapped onto a
// new row where an entry would pass the chart's right margin. Its rows; drawn when draw.
static int legend(cairo_t* cr, const nfp_series* s, int n_series, int draw) {
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  double x = MARGIN, y = LEGEND_Y;
  int rows = 1;
  for (int k = 0; k < n_series; k++) {
    if (!s[k].label || !*s[k].label) continue;
    double w = nfp_chart_legend_width(cr, s[k].label);
    if (x > MARGIN && x + w > SERIES_W - MARGIN) {
      x = MARGIN;
      y += LEGEND_ROW;
      rows++;
    }
    int swatch = s[k].dashed ? NFP_CHART_SWATCH_DASHED : NFP_CHART_SWATCH_LINE;
    if (draw) nfp_chart_legend_item(cr, x, y, s[k].rgb, swatch, s[k].label);
    x += w + NFP_CHART_LEGEND_GAP;
  }
  return rows;
}

// printf onto the end of buf (cap bytes, *len used), cut short when it is full.
__attribute__((format(printf, 4, 5))) static void append(char* buf, size_t cap, size_t* len,
                                                         const char* fmt, ...) {
  if (*len + 1 >= cap) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
  va_end(ap);
  if (n > 0) *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

// What the chart shows, in words (the SVG's <desc>): the axes, then each series' label,
// its finite points and the last of them.
static void series_desc(char* buf, size_t cap, const char* xlabel, const char* ylabel,
                        const nfp_series* s, int n_series) {
  size_t len = 0;
  buf[0] = '\0';
  append(buf, cap, &len, "%s against %s", ylabel ? ylabel : "y", xlabel ? xlabel : "x");
  for (int k = 0; k < n_series; k++) {
    int count = 0, last = -1;
    for (int i = 0; i < s[k].n; i++) {
      if (finite_at(&s[k], i)) count++, last = i;
    }
    const char* name = s[k].label && *s[k].label ? s[k].label : "unnamed";
    if (last < 0) {
      append(buf, cap, &len, "; %s: no finite point", name);
    } else {
      append(buf, cap, &len, "; %s: %d point%s, last %.4g at %.4g", name, count,
             count == 1 ? "" : "s", s[k].y[last], s[k].x[last]);
    }
  }
}

int nfp_series_write(const char* path, const char* title, const char* xlabel,
                     const char* ylabel, const nfp_series* s, int n_series, double y_lo,
                     double y_hi) {
  if (series_check(path, s, n_series)) return -1;
  cairo_t* m = nfp_chart_scratch();  // the legend's rows set the chart's height
  double extra = LEGEND_ROW * (legend(m, s, n_series, 0) - 1);
  cairo_destroy(m);
  int h = SERIES_H + (int)extra;
  nfp_chart ch;
  if (nfp_chart_begin(&ch, path, SERIES_W, h)) return -1;
  cairo_t* cr = ch.cr;
  nfp_chart_frame f = {.left = 92, .right = SERIES_W - 28, .top = 92 + extra, .bottom = h - 58};
  int whole_x = series_range(s, n_series, y_lo, y_hi, &f);
  nfp_chart_rgb(cr, NFP_CHART_INK);
  nfp_chart_font(cr, NFP_CHART_TITLE, 1);
  nfp_chart_text(cr, title ? title : "", MARGIN, 12, 0, 0, 0);
  legend(cr, s, n_series, 1);
  nfp_chart_axes(cr, &f, xlabel, ylabel, whole_x);
  cairo_save(cr);
  cairo_rectangle(cr, f.left - 4, f.top - 4, f.right - f.left + 8, f.bottom - f.top + 8);
  cairo_clip(cr);  // a fixed y range cuts off what lies outside it
  for (int k = 0; k < n_series; k++) {
    nfp_chart_plot(cr, &f, series_point, &s[k], s[k].n, s[k].rgb, s[k].dashed);
  }
  cairo_restore(cr);
  char desc[1024];
  series_desc(desc, sizeof(desc), xlabel, ylabel, s, n_series);
  return nfp_chart_end(&ch, title ? title : "", desc);
}
