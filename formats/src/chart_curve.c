// Training curve: train and validation NLL per epoch on labelled axes, with the schedule's
// stages and the best epoch marked, drawn with cairo as PNG or SVG (chart.h).
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "chart.h"
#include "nfp/error.h"
#include "nfp/picture.h"

#define CURVE_W 880
#define CURVE_H 540
#define INK NFP_CHART_INK
#define MUTED 0x666666
#define TRAIN_RGB 0x1f77b4
#define VAL_RGB 0xe8710a

// Finite values -> the y range, out to whole tick steps. The top stops at 1.5x the range
// after the first tenth of the epochs: the steep start would squash the rest flat.
static void curve_range(const nfp_curve* c, nfp_chart_frame* f) {
  double lo = INFINITY, hi = -INFINITY, hi_late = -INFINITY;
  for (int i = 0; i < c->n; i++) {
    for (int s = 0; s < 2; s++) {
      const float* v = s ? c->val : c->train;
      if (!v || !isfinite(v[i])) continue;
      lo = fmin(lo, v[i]);
      hi = fmax(hi, v[i]);
      if (i >= c->n / 10) hi_late = fmax(hi_late, v[i]);
    }
  }
  if (!isfinite(lo)) lo = 0.0, hi = hi_late = 1.0;
  if (hi_late > lo) hi = fmin(hi, hi_late + 0.5 * (hi_late - lo));
  nfp_chart_fit_y(f, lo, hi);
  f->xlo = c->n > 1 ? 1.0 : 0.5;
  f->xhi = c->n > 1 ? c->n : 1.5;
}

// Dashed lines where stages 2 and 3 begin, each named in the band above the plot.
static void draw_stages(cairo_t* cr, const nfp_chart_frame* f, const nfp_curve* c) {
  if (c->n_stages < 2) return;
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  nfp_chart_rgb(cr, MUTED);
  nfp_chart_text(cr, "stage 1", f->left + 4, f->top - 4, 0, 1, 0);
  double label_end = f->left + 4 + nfp_chart_text_width(cr, "stage 1");
  for (int k = 1; k < c->n_stages && k < 3; k++) {
    int s = c->stage_starts[k];
    if (s <= 0 || s >= c->n) continue;  // not reached yet
    if (k + 1 < c->n_stages && c->stage_starts[k + 1] == s) continue;  // an empty stage
    // between the last epoch before and the first
    double x = round(nfp_chart_fx(f, s + 0.5)) + 0.5;
    double dash = 5;
    cairo_set_dash(cr, &dash, 1, 0);
    cairo_set_line_width(cr, 1.2);
    nfp_chart_line(cr, x, f->top, x, f->bottom);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    char name[24];
    snprintf(name, sizeof(name), "stage %d", k + 1);
    // right of its line, pushed further right past the previous name, in the plot's width
    double w = nfp_chart_text_width(cr, name);
    double tx = fmin(fmax(x + 4, label_end + 8), f->right - w);
    nfp_chart_text(cr, name, tx, f->top - 4, 0, 1, 0);
    label_end = tx + w;
  }
}

// Point i of a per-epoch series (float NLL values), for nfp_chart_plot: epoch i + 1.
static void epoch_point(const void* data, int i, double* x, double* y) {
  *x = i + 1;
  *y = ((const float*)data)[i];
}

// The 1-based best epoch when it has a finite validation value, else 0.
static int best_shown(const nfp_curve* c) {
  int b = c->best_epoch;
  return c->val && b >= 1 && b <= c->n && isfinite(c->val[b - 1]) ? b : 0;
}

// A ringed marker on the best validation point, labelled on a white backing.
static void draw_best(cairo_t* cr, const nfp_chart_frame* f, const nfp_curve* c) {
  int b = best_shown(c);
  if (!b) return;
  double x = nfp_chart_fx(f, b), y = nfp_chart_fy(f, c->val[b - 1]);
  nfp_chart_rgb(cr, 0xffffff);
  cairo_arc(cr, x, y, 6, 0, 2 * NFP_CHART_PI);
  cairo_fill_preserve(cr);
  nfp_chart_rgb(cr, INK);
  cairo_set_line_width(cr, 2);
  cairo_stroke(cr);
  char label[64];
  snprintf(label, sizeof(label), "best: epoch %d, %.*f", b,
           nfp_chart_tick_decimals(f->ystep) + 2, c->val[b - 1]);
  nfp_chart_font(cr, NFP_CHART_TEXT, 1);
  double w = nfp_chart_text_width(cr, label), right = x > (f->left + f->right) / 2;
  double tx = right ? x - 10 - w : x + 10, ty = fmax(f->top + 2, y - 30);
  cairo_set_source_rgba(cr, 1, 1, 1, 0.85);
  cairo_rectangle(cr, tx - 4, ty - 2, w + 8, 20);
  cairo_fill(cr);
  nfp_chart_rgb(cr, INK);
  nfp_chart_text(cr, label, tx, ty, 0, 0, 0);
}

// Title, then a legend row: a swatch and a name per series (and the best-epoch marker).
static void draw_header(cairo_t* cr, const nfp_curve* c) {
  nfp_chart_rgb(cr, INK);
  nfp_chart_font(cr, NFP_CHART_TITLE, 1);
  nfp_chart_text(cr, c->title ? c->title : "training curve", 16, 12, 0, 0, 0);
  const char* names[3] = {"train", "validation (EMA weights)", "lowest validation NLL"};
  const uint32_t colours[3] = {TRAIN_RGB, VAL_RGB, INK};
  const int swatches[3] = {NFP_CHART_SWATCH_LINE, NFP_CHART_SWATCH_LINE, NFP_CHART_SWATCH_RING};
  int shown[3] = {1, c->val != NULL, best_shown(c) != 0};
  double x = 16;
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  for (int k = 0; k < 3; k++) {
    if (shown[k]) x = nfp_chart_legend_item(cr, x, 50, colours[k], swatches[k], names[k]);
  }
}

// What the curve shows, in words: the SVG's <desc>.
static void curve_desc(char* buf, size_t cap, const nfp_curve* c) {
  int len = snprintf(buf, cap, "Mean NLL per epoch over %d epoch%s; last train NLL %.4f",
                     c->n, c->n == 1 ? "" : "s", c->train[c->n - 1]);
  if (c->val && len < (int)cap) {
    len += snprintf(buf + len, cap - (size_t)len, ", last validation NLL %.4f",
                    c->val[c->n - 1]);
  }
  int b = best_shown(c);
  if (b && len < (int)cap) {
    snprintf(buf + len, cap - (size_t)len, "; lowest validation NLL %.4f at epoch %d",
             c->val[b - 1], b);
  }
}

int nfp_curve_write(const char* path, const nfp_curve* c) {
  if (!c->train || c->n < 1) return nfp_error_set("%s: no epochs to draw", path);
  nfp_chart ch;
  if (nfp_chart_begin(&ch, path, CURVE_W, CURVE_H)) return -1;
  cairo_t* cr = ch.cr;
  nfp_chart_frame f = {.left = 92, .right = CURVE_W - 28, .top = 92, .bottom = CURVE_H - 58};
  curve_range(c, &f);
  draw_header(cr, c);
  nfp_chart_axes(cr, &f, "epoch", "negative log-likelihood", 1);
  draw_stages(cr, &f, c);
  cairo_save(cr);
  cairo_rectangle(cr, f.left, f.top - 2, f.right - f.left + 8, f.bottom - f.top + 4);
  cairo_clip(cr);  // early epochs above the top leave the plot, not cross the stage names
  nfp_chart_plot(cr, &f, epoch_point, c->train, c->n, TRAIN_RGB, 0);
  if (c->val) nfp_chart_plot(cr, &f, epoch_point, c->val, c->n, VAL_RGB, 0);
  cairo_restore(cr);
  draw_best(cr, &f, c);
  char desc[256];
  curve_desc(desc, sizeof(desc), c);
  return nfp_chart_end(&ch, c->title ? c->title : "training curve", desc);
}
