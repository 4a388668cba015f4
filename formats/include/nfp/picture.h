// nfp pictures: PNG images (screenshots), training curves, success-rate and series charts.
// Curves and charts are drawn with cairo and written as PNG or SVG from the same code:
// a path ending in ".png" (any case) gives a PNG, any other path an SVG. Every picture
// is written atomically (nfp/atomic_file.h).
#ifndef NFP_PICTURE_H
#define NFP_PICTURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Write an 8-bit RGB image (rows top-down, [h*w*3]) as PNG. 0 or -1 (error set).
int nfp_png_write(const char* path, const uint8_t* rgb, int w, int h);

// A training curve: mean NLL per epoch, index i holding epoch i + 1.
typedef struct {
  const float* train;    // [n] training NLL; NaN entries are skipped
  const float* val;      // [n] validation NLL, or NULL (no validation windows)
  int n;                 // epochs done (>= 1)
  int stage_starts[3];   // 0-based first epoch of each schedule stage ([0] is 0)
  int n_stages;          // entries used in stage_starts (0: no stages marked)
  int best_epoch;        // 1-based epoch of the lowest validation NLL; 0: none
  const char* title;     // NULL: "training curve"
} nfp_curve;

// The curve with labelled axes, a legend, dashed lines where stages 2 and 3 begin and a
// marker at the best epoch, as PNG or SVG (by path). 0 or -1 (error set).
int nfp_curve_write(const char* path, const nfp_curve* c);

typedef struct {
  const char* group;  // task name
  const char* label;  // mode or agent; one colour per label across groups
  double rate;        // success rate in [0, 1]
  double lo, hi;      // its 95 % interval; NaN: none drawn
} nfp_bar;

// Bars grouped by `group` in the order given, with error bars, a value on each bar and a
// legend of labels, as PNG or SVG (by path). subtitle (the policy and date) may be NULL.
// 0 or -1 (error set).
int nfp_bars_write(const char* path, const char* title, const char* subtitle,
                   const nfp_bar* bars, int n);

// One line of a series chart: y[i] at x[i] (NaN entries leave a gap), drawn in the
// colour given (0xRRGGBB), dashed when dashed is non-zero, named in the legend.
typedef struct {
  const char* label;
  const double* x;
  const double* y;
  int n;
  uint32_t rgb;
  int dashed;
} nfp_series;
// Lines over shared axes with labelled axes (xlabel, ylabel), a legend and a title, as PNG or
// SVG (by path). y_lo < y_hi fixes the y range (e.g. 0 and 1 for rates); otherwise it is fitted
// to the data. 0 or -1 (error set): no series, a series with n < 1 or no finite point at all.
int nfp_series_write(const char* path, const char* title, const char* xlabel,
                     const char* ylabel, const nfp_series* s, int n_series, double y_lo,
                     double y_hi);

#ifdef __cplusplus
}
#endif
#endif
