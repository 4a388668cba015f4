// The cairo surface under every chart: PNG or SVG by extension, written atomically, and
// the text, tick, axis, line and legend helpers the charts share (chart.h).
#include "chart.h"

#include <cairo-svg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nfp/error.h"

// Cairo's SVG output, kept in memory so that its <title> can go in before it is written.
static cairo_status_t svg_collect(void* ctx, const unsigned char* data, unsigned int n) {
  nfp_chart* c = ctx;
  if (c->len + n + 1 > c->cap) {
    size_t cap = c->cap ? c->cap : 1 << 16;
    while (cap < c->len + n + 1) cap *= 2;
    char* b = realloc(c->buf, cap);
    if (!b) {
      nfp_error_set("drawing %s: out of memory", c->file.path);
      return CAIRO_STATUS_WRITE_ERROR;
    }
    c->buf = b;
    c->cap = cap;
  }
  memcpy(c->buf + c->len, data, n);
  c->len += n;
  c->buf[c->len] = '\0';
  return CAIRO_STATUS_SUCCESS;
}

// PNG bytes from cairo straight into the temporary file (error set on failure).
static cairo_status_t png_emit(void* ctx, const unsigned char* data, unsigned int n) {
  return nfp_atomic_write(ctx, data, n) ? CAIRO_STATUS_WRITE_ERROR : CAIRO_STATUS_SUCCESS;
}

// Cairo's failure -> -1 with a message; a write error has set its own already.
static int chart_fail(const nfp_chart* c, cairo_status_t st) {
  if (st == CAIRO_STATUS_WRITE_ERROR) return -1;
  return nfp_error_set("drawing %s: %s", c->file.path, cairo_status_to_string(st));
}

int nfp_chart_begin(nfp_chart* c, const char* path, int w, int h) {
  memset(c, 0, sizeof(*c));
  size_t len = strlen(path);
  c->svg = !(len >= 4 && !strcasecmp(path + len - 4, ".png"));
  if (nfp_atomic_begin(&c->file, path, 0666)) return -1;
  c->surface = c->svg ? cairo_svg_surface_create_for_stream(svg_collect, c, w, h)
                      : cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
  // Pixels, so that the SVG shows at the PNG's size (cairo's default unit is the point).
  if (c->svg && !cairo_surface_status(c->surface)) {
    cairo_svg_surface_set_document_unit(c->surface, CAIRO_SVG_UNIT_PX);
  }
  c->cr = cairo_create(c->surface);
  cairo_status_t st = cairo_status(c->cr);
  if (st) {
    int rc = chart_fail(c, st);
    nfp_chart_abort(c);
    return rc;
  }
  nfp_chart_rgb(c->cr, 0xffffff);
  cairo_paint(c->cr);
  return 0;
}

// s with XML's five special characters escaped, into the temporary file. 0 or -1.
static int xml_write(nfp_atomic_file* f, const char* s) {
  while (*s) {
    size_t run = strcspn(s, "<>&\"'");
    if (run && nfp_atomic_write(f, s, run)) return -1;
    s += run;
    if (!*s) break;
    const char* ent = *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '&' ? "&amp;"
                      : *s == '"' ? "&quot;" : "&apos;";
    if (nfp_atomic_write(f, ent, strlen(ent))) return -1;
    s++;
  }
  return 0;
}

// The collected SVG with <title> and <desc> right after its opening <svg ...> tag.
static int svg_emit(nfp_chart* c, const char* title, const char* desc) {
  const char* open = c->buf ? strstr(c->buf, "<svg") : NULL;
  const char* gt = open ? strchr(open, '>') : NULL;
  if (!gt) return nfp_error_set("drawing %s: cairo wrote no <svg> element", c->file.path);
  nfp_atomic_file* f = &c->file;
  size_t head = (size_t)(gt + 1 - c->buf);
  if (nfp_atomic_write(f, c->buf, head)) return -1;
  if (nfp_atomic_write(f, "\n<title>", 8) || xml_write(f, title ? title : "") ||
      nfp_atomic_write(f, "</title>\n<desc>", 15) || xml_write(f, desc ? desc : "") ||
      nfp_atomic_write(f, "</desc>", 7)) {
    return -1;
  }
  return nfp_atomic_write(f, c->buf + head, c->len - head);
}

int nfp_chart_end(nfp_chart* c, const char* title, const char* desc) {
  cairo_status_t st = cairo_status(c->cr);
  cairo_destroy(c->cr);
  c->cr = NULL;
  if (!st && c->svg) {
    cairo_surface_finish(c->surface);  // emits the SVG document
    st = cairo_surface_status(c->surface);
  } else if (!st) {
    st = cairo_surface_write_to_png_stream(c->surface, png_emit, &c->file);
  }
  int rc = st ? chart_fail(c, st) : c->svg ? svg_emit(c, title, desc) : 0;
  if (rc) {
    nfp_chart_abort(c);
    return -1;
  }
  cairo_surface_destroy(c->surface);
  c->surface = NULL;
  free(c->buf);
  c->buf = NULL;
  return nfp_atomic_commit(&c->file);
}

void nfp_chart_abort(nfp_chart* c) {
  if (c->cr) cairo_destroy(c->cr);
  if (c->surface) cairo_surface_destroy(c->surface);
  free(c->buf);
  c->cr = NULL;
  c->surface = NULL;
  c->buf = NULL;
  nfp_atomic_abort(&c->file);
}

cairo_t* nfp_chart_scratch(void) {
  cairo_surface_t* s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1, 1);
  cairo_t* cr = cairo_create(s);
  cairo_surface_destroy(s);  // cr holds its own reference
  return cr;
}

void nfp_chart_font(cairo_t* cr, double size, int bold) {
  cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL,
                         bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, size);
}

void nfp_chart_rgb(cairo_t* cr, uint32_t rgb) {
  cairo_set_source_rgb(cr, ((rgb >> 16) & 255) / 255.0, ((rgb >> 8) & 255) / 255.0,
                       (rgb & 255) / 255.0);
}

void nfp_chart_line(cairo_t* cr, double x0, double y0, double x1, double y1) {
  cairo_move_to(cr, x0, y0);
  cairo_line_to(cr, x1, y1);
}

double nfp_chart_text_width(cairo_t* cr, const char* s) {
  cairo_text_extents_t te;
  cairo_text_extents(cr, s, &te);
  return te.x_advance;
}

void nfp_chart_text(cairo_t* cr, const char* s, double x, double y, double ax, double ay,
                    double angle) {
  cairo_font_extents_t fe;
  cairo_font_extents(cr, &fe);
  double w = nfp_chart_text_width(cr, s);
  cairo_save(cr);
  cairo_translate(cr, x, y);
  cairo_rotate(cr, angle);
  cairo_move_to(cr, -ax * w, fe.ascent - ay * (fe.ascent + fe.descent));
  cairo_show_text(cr, s);
  cairo_restore(cr);
  cairo_new_path(cr);  // show_text leaves a current point the next line would start from
}

double nfp_chart_tick_step(double span, int target) {
  double raw = span / target, p = pow(10.0, floor(log10(raw))), m = raw / p;
  return (m < 1.5 ? 1.0 : m < 3.5 ? 2.0 : m < 7.5 ? 5.0 : 10.0) * p;
}

int nfp_chart_tick_decimals(double step) {
  int d = (int)ceil(-log10(step) - 1e-9);
  return d < 0 ? 0 : d;
}

double nfp_chart_fx(const nfp_chart_frame* f, double x) {
  return f->left + (f->right - f->left) * (x - f->xlo) / (f->xhi - f->xlo);
}

double nfp_chart_fy(const nfp_chart_frame* f, double y) {
  return f->bottom - (f->bottom - f->top) * (y - f->ylo) / (f->yhi - f->ylo);
}

void nfp_chart_fit_y(nfp_chart_frame* f, double lo, double hi) {
  if (hi - lo < 1e-9 * fmax(1.0, fabs(lo))) lo -= 0.5, hi += 0.5;
  double pad = 0.02 * (hi - lo);
  f->ystep = nfp_chart_tick_step(hi - lo + 2 * pad, 6);
  f->ylo = floor((lo - pad) / f->ystep) * f->ystep;
  f->yhi = ceil((hi + pad) / f->ystep) * f->ystep;
}

// lo..hi and a tick step -> the first tick (a multiple of step) and the number after it.
static double first_tick(double lo, double hi, double step, int* more) {
  double first = ceil(lo / step - 1e-6) * step;
  *more = (int)floor((hi - first) / step + 1e-6);
  return first;
}

// v as a tick label at this step ("-0" shown as "0").
static void tick_label(char* buf, size_t cap, double v, double step) {
  snprintf(buf, cap, "%.*f", nfp_chart_tick_decimals(step), fabs(v) < 0.5 * step ? 0.0 : v);
}

void nfp_chart_axes(cairo_t* cr, const nfp_chart_frame* f, const char* xlabel,
                    const char* ylabel, int whole_x) {
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  cairo_set_line_width(cr, 1);
  char buf[48];
  int more;
  double first = first_tick(f->ylo, f->yhi, f->ystep, &more);
  for (int k = 0; k <= more; k++) {
    double v = first + k * f->ystep, y = round(nfp_chart_fy(f, v)) + 0.5;
    nfp_chart_rgb(cr, NFP_CHART_GRID);
    nfp_chart_line(cr, f->left, y, f->right, y);
    cairo_stroke(cr);
    tick_label(buf, sizeof(buf), v, f->ystep);
    nfp_chart_rgb(cr, NFP_CHART_INK);
    nfp_chart_text(cr, buf, f->left - 8, y, 1, 0.5, 0);
  }
  double step = nfp_chart_tick_step(f->xhi - f->xlo, 8);
  if (whole_x) step = fmax(1.0, round(step));
  first = first_tick(f->xlo, f->xhi, step, &more);
  for (int k = 0; k <= more; k++) {
    double v = first + k * step, x = round(nfp_chart_fx(f, v)) + 0.5;
    nfp_chart_rgb(cr, NFP_CHART_INK);
    nfp_chart_line(cr, x, f->bottom, x, f->bottom + 5);
    cairo_stroke(cr);
    tick_label(buf, sizeof(buf), v, step);
    nfp_chart_text(cr, buf, x, f->bottom + 8, 0.5, 0, 0);
  }
  cairo_set_line_width(cr, 1.2);
  cairo_move_to(cr, f->left, f->top);
  cairo_line_to(cr, f->left, f->bottom);
  cairo_line_to(cr, f->right, f->bottom);
  cairo_stroke(cr);
  if (xlabel) nfp_chart_text(cr, xlabel, (f->left + f->right) / 2, f->bottom + 30, 0.5, 0, 0);
  if (ylabel) {
    nfp_chart_text(cr, ylabel, 14, (f->top + f->bottom) / 2, 0.5, 0, -NFP_CHART_PI / 2);
  }
}

// Point i -> pixels; 0 when its x or y is not finite (a gap in the line).
static int plot_point(const nfp_chart_frame* f, nfp_chart_point at, const void* data, int i,
                      double* px, double* py) {
  double x, y;
  at(data, i, &x, &y);
  if (!isfinite(x) || !isfinite(y)) return 0;
  *px = nfp_chart_fx(f, x);
  *py = nfp_chart_fy(f, y);
  return 1;
}

static const double dash_pattern[2] = {6, 4};  // on, off in px: a 26 px swatch ends "on"

void nfp_chart_plot(cairo_t* cr, const nfp_chart_frame* f, nfp_chart_point at,
                    const void* data, int n, uint32_t rgb, int dashed) {
  nfp_chart_rgb(cr, rgb);
  cairo_set_line_width(cr, 2);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  if (dashed) cairo_set_dash(cr, dash_pattern, 2, 0);
  int open = 0;
  double x, y, nx, ny;
  for (int i = 0; i < n; i++) {
    int ok = plot_point(f, at, data, i, &x, &y);
    if (ok && open) cairo_line_to(cr, x, y);
    else if (ok) cairo_move_to(cr, x, y);
    open = ok;
  }
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  for (int i = 0; i < n; i++) {
    if (!plot_point(f, at, data, i, &x, &y)) continue;
    int alone = (i == 0 || !plot_point(f, at, data, i - 1, &nx, &ny)) &&
                (i == n - 1 || !plot_point(f, at, data, i + 1, &nx, &ny));
    if (!alone && n > 40) continue;
    cairo_arc(cr, x, y, alone ? 3.5 : 2.5, 0, 2 * NFP_CHART_PI);
    cairo_fill(cr);
  }
}

double nfp_chart_legend_width(cairo_t* cr, const char* name) {
  return 32 + nfp_chart_text_width(cr, name);
}

double nfp_chart_legend_item(cairo_t* cr, double x, double y, uint32_t rgb, int swatch,
                             const char* name) {
  cairo_set_line_width(cr, 2);
  nfp_chart_rgb(cr, rgb);
  if (swatch == NFP_CHART_SWATCH_RING) {
    cairo_new_sub_path(cr);
    cairo_arc(cr, x + 13, y, 5, 0, 2 * NFP_CHART_PI);
  } else {
    if (swatch == NFP_CHART_SWATCH_DASHED) cairo_set_dash(cr, dash_pattern, 2, 0);
    nfp_chart_line(cr, x, y, x + 26, y);
  }
  cairo_stroke(cr);
  cairo_set_dash(cr, NULL, 0, 0);
  nfp_chart_rgb(cr, NFP_CHART_INK);
  nfp_chart_text(cr, name, x + 32, y, 0, 0.5, 0);
  return x + nfp_chart_legend_width(cr, name) + NFP_CHART_LEGEND_GAP;
}
