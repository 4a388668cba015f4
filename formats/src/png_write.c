// libpng writer; written atomically so readers never see half a PNG.
#include "nfp/picture.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

// libpng reports failure by longjmp; keep everything that must survive it outside.
static int png_encode(FILE* f, const uint8_t* rgb, int w, int h) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png ? png_create_info_struct(png) : NULL;
  if (!info) {
    png_destroy_write_struct(&png, NULL);
    return -1;
  }
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_init_io(png, f);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_const_bytep)(rgb + (size_t)y * w * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

int nfp_png_write(const char* path, const uint8_t* rgb, int w, int h) {
  if (w <= 0 || h <= 0) return nfp_error_set("writing %s: empty image %dx%d", path, w, h);
  nfp_atomic_file out;
  if (nfp_atomic_begin(&out, path, 0666)) return -1;
  FILE* f = nfp_atomic_stream(&out);
  if (!f || png_encode(f, rgb, w, h)) {
    nfp_atomic_abort(&out);
    return nfp_error_set("writing %s failed (disk full?)", path);
  }
  return nfp_atomic_commit(&out);
}
