// PNG output for screenshots and report pictures.
#ifndef NFP_APP_PNG_WRITE_H
#define NFP_APP_PNG_WRITE_H

#include <stdint.h>

// Write an 8-bit RGB image (rows top-down, [h*w*3]) atomically. 0 or -1 (error set).
int nfp_png_write(const char* path, const uint8_t* rgb, int w, int h);

#endif
