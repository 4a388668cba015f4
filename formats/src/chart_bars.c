// Success-rate chart: bars grouped by task, a colour per mode (legend), 95 % intervals as
// error bars and the rate on each bar, drawn with cairo as PNG or SVG (chart.h). The chart
// widens with the number of bars, and task names wider than their group are turned, so
// that no two labels ever overlap.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"
#include "nfp/error.h"
#include "nfp/picture.h"

#define BAR_W 36.0
#define BAR_GAP 4.0
#define GROUP_GAP 34.0
#define PLOT_H 300.0
#define MARGIN 16.0
#define TURN (-40.0 * NFP_CHART_PI / 180.0)  // task names that do not fit across
#define INK 0x222222
#define MUTED 0x666666
#define GRID 0xe4e4e4

static const uint32_t palette[] = {0x4c72b0, 0xdd8452, 0x55a868, 0xc44e52,
                                   0x8172b3, 0x937860, 0xda8bc3, 0x8c8c8c};

// Where everything goes, worked out before the surface (whose size it sets) exists.
typedef struct {
  const nfp_bar* bars;
  int n;
  const char** labels;  // distinct labels in first-seen order: colour k is labels[k]'s
  int nlabels;
  int intervals;        // some bar has a finite interval (the legend explains the whiskers)
  double left, top, plot_w, band, legend_y, width, height;
  double inset;         // from the plot's left to the first group (bars centred in the plot)
  double angle;         // of the task names: 0, or TURN when one is wider than its group
} layout;

// label -> its colour's index (nlabels when not among the labels yet).
static int label_index(const layout* L, const char* label) {
  int k = 0;
  while (k < L->nlabels && strcmp(L->labels[k], label)) k++;
  return k;
}

// The index after the run of bars sharing bars[i]'s group.
static int group_end(const layout* L, int i) {
  int j = i + 1;
  while (j < L->n && !strcmp(L->bars[j].group, L->bars[i].group)) j++;
  return j;
}

// Bars in a group -> their width in pixels, gaps included.
static double group_width(int nbars) { return nbars * BAR_W + (nbars - 1) * BAR_GAP; }

// A rate or bound -> within [0, 1] (the plot's range).
static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

// An interval's error bar at x from y0 to y1, its caps reaching cap to either side.
static void whisker(cairo_t* cr, double x, double y0, double y1, double cap) {
  cairo_set_line_width(cr, 1.5);
  nfp_chart_line(cr, x, y0, x, y1);
  nfp_chart_line(cr, x - cap, y0, x + cap, y0);
  nfp_chart_line(cr, x - cap, y1, x + cap, y1);
  cairo_stroke(cr);
}

// The legend row at (x0, y): a swatch and name per label, then the whisker's meaning.
// Its width; it is only measured when draw is 0.
static double legend(cairo_t* cr, const layout* L, double x0, double y, int draw) {
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  double x = x0;
  for (int k = 0; k < L->nlabels; k++) {
    if (draw) {
      nfp_chart_rgb(cr, palette[k % 8]);
      cairo_rectangle(cr, x, y - 6, 14, 12);
      cairo_fill(cr);
      nfp_chart_rgb(cr, INK);
      nfp_chart_text(cr, L->labels[k], x + 20, y, 0, 0.5, 0);
    }
    x += 20 + nfp_chart_text_width(cr, L->labels[k]) + 18;
  }
  if (L->intervals) {
    if (draw) {
      nfp_chart_rgb(cr, INK);
      whisker(cr, x + 7, y + 7, y - 7, 4);
      nfp_chart_text(cr, "95 % interval", x + 20, y, 0, 0.5, 0);
    }
    x += 20 + nfp_chart_text_width(cr, "95 % interval") + 18;
  }
  return x - x0 - 18;
}

// The task names' room below the plot: across when each fits its group, else turned.
static void layout_groups(layout* L, cairo_t* m) {
  nfp_chart_font(m, NFP_CHART_TEXT, 1);
  double x = 0, reach_left = 0, widest = 0;
  int fits = 1;
  for (int i = 0, j; i < L->n; i = j) {
    j = group_end(L, i);
    double gw = group_width(j - i), w = nfp_chart_text_width(m, L->bars[i].group);
    fits &= w <= gw + GROUP_GAP - 8;
    // a turned name ends at its group's centre and reaches down-left from there
    reach_left = fmax(reach_left, w * cos(TURN) + 8 - (x + GROUP_GAP / 2 + gw / 2));
    widest = fmax(widest, w);
    x += gw + GROUP_GAP;
  }
  cairo_font_extents_t fe;
  cairo_font_extents(m, &fe);
  double lh = fe.ascent + fe.descent;
  L->angle = fits ? 0 : TURN;
  L->band = fits ? lh : widest * sin(-TURN) + lh * cos(TURN);
  L->left = fmax(72, fits ? 0 : reach_left + MARGIN);
  L->plot_w = x;  // the groups' width for now; layout_make widens the plot around them
}

// Labels, colours and every size. 0 or -1 (error set).
static int layout_make(layout* L, const char* title, const char* subtitle) {
  L->labels = malloc(sizeof(*L->labels) * (size_t)(L->n > 0 ? L->n : 1));
  if (!L->labels) return nfp_error_set("out of memory");
  for (int i = 0; i < L->n; i++) {
    const char* label = L->bars[i].label;
    if (label_index(L, label) == L->nlabels) L->labels[L->nlabels++] = label;
    L->intervals |= isfinite(L->bars[i].lo) && isfinite(L->bars[i].hi);
  }
  cairo_t* m = nfp_chart_scratch();
  layout_groups(L, m);
  nfp_chart_font(m, NFP_CHART_TITLE, 1);
  double header = nfp_chart_text_width(m, title);
  nfp_chart_font(m, NFP_CHART_TEXT, 0);
  if (subtitle) header = fmax(header, nfp_chart_text_width(m, subtitle));
  header = fmax(header, legend(m, L, 0, 0, 0));
  cairo_destroy(m);
  L->legend_y = subtitle ? 72 : 52;
  L->top = L->legend_y + 40;  // room for the value above a full bar and its whisker
  // At least 200 px of plot, and as wide as the header allows: the bars centred in it.
  L->width = ceil(fmax(L->left + fmax(L->plot_w, 200) + MARGIN, header + 2 * MARGIN));
  double groups_w = L->plot_w;
  L->plot_w = L->width - L->left - MARGIN;
  L->inset = (L->plot_w - groups_w) / 2 + GROUP_GAP / 2;
  L->height = ceil(L->top + PLOT_H + 12 + L->band + MARGIN);
  return 0;
}

// Grid lines every 20 %, their labels and the axis title.
static void draw_grid(cairo_t* cr, const layout* L) {
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  cairo_set_line_width(cr, 1);
  char buf[16];
  for (int p = 0; p <= 100; p += 20) {
    double y = round(L->top + PLOT_H * (1 - p / 100.0)) + 0.5;
    nfp_chart_rgb(cr, p ? GRID : INK);
    nfp_chart_line(cr, L->left, y, L->left + L->plot_w, y);
    cairo_stroke(cr);
    snprintf(buf, sizeof(buf), "%d", p);
    nfp_chart_rgb(cr, INK);
    nfp_chart_text(cr, buf, L->left - 8, y, 1, 0.5, 0);
  }
  nfp_chart_text(cr, "success rate (%)", MARGIN, L->top + PLOT_H / 2, 0.5, 0,
                 -NFP_CHART_PI / 2);
}

// One bar at x: its colour, its interval as a whisker, its rate in % above both.
static void draw_bar(cairo_t* cr, const layout* L, const nfp_bar* b, double x) {
  double base = L->top + PLOT_H, cx = x + BAR_W / 2;
  double rate = isfinite(b->rate) ? clamp01(b->rate) : 0, top = base - PLOT_H * rate;
  nfp_chart_rgb(cr, palette[label_index(L, b->label) % 8]);
  // a 0 % bar keeps a 3 px sliver, so its colour still shows
  cairo_rectangle(cr, x, fmin(top, base - 3), BAR_W, fmax(base - top, 3));
  cairo_fill(cr);
  nfp_chart_rgb(cr, INK);
  if (isfinite(b->lo) && isfinite(b->hi)) {
    double ylo = base - PLOT_H * clamp01(b->lo), yhi = base - PLOT_H * clamp01(b->hi);
    whisker(cr, cx, ylo, yhi, 6);
    top = fmin(top, yhi);
  }
  char value[16];
  snprintf(value, sizeof(value), isfinite(b->rate) ? "%.0f" : "n/a", 100 * rate);
  nfp_chart_font(cr, NFP_CHART_TEXT, 0);
  double w = nfp_chart_text_width(cr, value);
  if (w > BAR_W + BAR_GAP - 2) nfp_chart_font(cr, NFP_CHART_TEXT * (BAR_W + BAR_GAP - 2) / w, 0);
  nfp_chart_text(cr, value, cx, top - 3, 0.5, 1, 0);
}

// Every group's bars left to right, its name centred below them (or turned, ending there).
static void draw_groups(cairo_t* cr, const layout* L) {
  double x = L->left + L->inset, base = L->top + PLOT_H;
  for (int i = 0, j; i < L->n; i = j) {
    j = group_end(L, i);
    double centre = x + group_width(j - i) / 2;
    for (int k = i; k < j; k++, x += BAR_W + BAR_GAP) draw_bar(cr, L, &L->bars[k], x);
    x += GROUP_GAP - BAR_GAP;
    nfp_chart_rgb(cr, INK);
    nfp_chart_font(cr, NFP_CHART_TEXT, 1);
    if (L->angle) nfp_chart_text(cr, L->bars[i].group, centre, base + 12, 1, 0.5, L->angle);
    else nfp_chart_text(cr, L->bars[i].group, centre, base + 8, 0.5, 0, 0);
  }
  if (!L->n) {
    nfp_chart_rgb(cr, MUTED);
    nfp_chart_font(cr, NFP_CHART_TEXT, 0);
    nfp_chart_text(cr, "no results", L->left + L->plot_w / 2, base - PLOT_H / 2, 0.5, 0.5, 0);
  }
}

// The chart in words for the SVG's <desc>: subtitle, then each bar with its interval.
static char* bars_desc(const layout* L, const char* subtitle) {
  size_t cap = 64 + (subtitle ? strlen(subtitle) : 0), len = 0;
  for (int i = 0; i < L->n; i++) cap += strlen(L->bars[i].group) + strlen(L->bars[i].label) + 64;
  char* s = malloc(cap);
  if (!s) return NULL;
  len += (size_t)snprintf(s, cap, "%s%s", subtitle ? subtitle : "", subtitle ? "." : "");
  for (int i = 0; i < L->n; i++) {
    const nfp_bar* b = &L->bars[i];
    len += (size_t)snprintf(s + len, cap - len, " %s / %s: %.1f %%", b->group, b->label,
                            100 * b->rate);
    if (isfinite(b->lo) && isfinite(b->hi)) {
      len += (size_t)snprintf(s + len, cap - len, " (95 %% interval %.1f-%.1f %%)",
                              100 * b->lo, 100 * b->hi);
    }
    len += (size_t)snprintf(s + len, cap - len, ";");
  }
  return s;
}

int nfp_bars_write(const char* path, const char* title, const char* subtitle,
                   const nfp_bar* bars, int n) {
  layout L = {.bars = bars, .n = n > 0 ? n : 0};
  if (!title) title = "success rate";
  nfp_chart ch;
  if (layout_make(&L, title, subtitle) || nfp_chart_begin(&ch, path, (int)L.width, (int)L.height)) {
    free(L.labels);
    return -1;
  }
  cairo_t* cr = ch.cr;
  nfp_chart_rgb(cr, INK);
  nfp_chart_font(cr, NFP_CHART_TITLE, 1);
  nfp_chart_text(cr, title, MARGIN, 12, 0, 0, 0);
  if (subtitle) {
    nfp_chart_rgb(cr, MUTED);
    nfp_chart_font(cr, NFP_CHART_TEXT, 0);
    nfp_chart_text(cr, subtitle, MARGIN, 40, 0, 0, 0);
  }
  legend(cr, &L, MARGIN, L.legend_y, 1);
  draw_grid(cr, &L);
  draw_groups(cr, &L);
  char* desc = bars_desc(&L, subtitle);
  int rc = desc ? nfp_chart_end(&ch, title, desc) : -1;
  if (!desc) {
    nfp_chart_abort(&ch);
    nfp_error_set("out of memory");
  }
  free(desc);
  free(L.labels);
  return rc;
}
