// nfp pictures: PNG images (screenshots, training curves) and SVG charts (success rates).
// Every picture is written atomically (nfp/atomic_file.h).
#ifndef NFP_PICTURE_H
#define NFP_PICTURE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Write an 8-bit RGB image (rows top-down, [h*w*3]) as PNG. 0 or -1 (error set).
int nfp_png_write(const char* path, const uint8_t* rgb, int w, int h);

// Train (blue) and validation (orange, may be NULL) values per epoch as a PNG.
int nfp_curve_write_png(const char* path, const float* train, const float* val, int n);

typedef struct {
  const char* group;  // task name
  const char* label;  // mode or agent
  double rate;        // success rate in [0, 1]
} nfp_bar;

// Bars grouped by `group` in the order given, as SVG. 0 or -1 (error set).
int nfp_bars_write_svg(const char* path, const char* title, const nfp_bar* bars, int n);

#ifdef __cplusplus
}
#endif
#endif
