// JPEG frames through TurboJPEG: one compressor and one decompressor per side, made on
// first use, and a compressed-frame buffer sized for the worst case so TurboJPEG never
// reallocates it.
#include "jpeg.h"

#include <stdlib.h>
#include <turbojpeg.h>

#include "nfp/error.h"

#define NFP_JPEG_SAMP TJSAMP_420

// Handles and buffer -> released; *j empty again.
void nfp_jpeg_free(nfp_jpeg* j) {
  if (j->enc) tjDestroy(j->enc);
  if (j->dec) tjDestroy(j->dec);
  free(j->buf);
  *j = (nfp_jpeg){0};
}

// A handle of the kind asked for (compress or not), made once -> *h. 0 or -1.
static int handle(void** h, int compress) {
  if (!*h) *h = compress ? tjInitCompress() : tjInitDecompress();
  if (!*h) {
    return nfp_error_set("starting the JPEG %s: %s", compress ? "compressor" : "decompressor",
                         tjGetErrorStr2(NULL));
  }
  return 0;
}

// rgb[h][w][3] -> j->buf (grown to TurboJPEG's worst case) -> its size, or 0.
size_t nfp_jpeg_encode(nfp_jpeg* j, const uint8_t* rgb, int h, int w, int quality,
                       const uint8_t** out) {
  if (h < 1 || w < 1 || quality < 1 || quality > 100) {
    nfp_error_set("JPEG frame %dx%d at quality %d: size must be positive, quality 1..100", w,
                  h, quality);
    return 0;
  }
  if (handle(&j->enc, 1)) return 0;
  size_t need = tjBufSize(w, h, NFP_JPEG_SAMP);
  if (need == (size_t)-1) {
    nfp_error_set("JPEG frame %dx%d: %s", w, h, tjGetErrorStr2(NULL));
    return 0;
  }
  if (need > j->cap) {
    uint8_t* p = realloc(j->buf, need);
    if (!p) {
      nfp_error_set("out of memory for a %zu-byte JPEG buffer", need);
      return 0;
    }
    j->buf = p;
    j->cap = need;
  }
  unsigned char* dst = j->buf;
  unsigned long size = (unsigned long)j->cap;
  if (tjCompress2(j->enc, rgb, w, 3 * w, h, TJPF_RGB, &dst, &size, NFP_JPEG_SAMP, quality,
                  TJFLAG_NOREALLOC)) {
    nfp_error_set("compressing a %dx%d frame to JPEG: %s", w, h, tjGetErrorStr2(j->enc));
    return 0;
  }
  *out = j->buf;
  return (size_t)size;
}

// The header of data[n] must declare w x h in a colour space that converts to RGB.
static int check_header(nfp_jpeg* j, int h, int w, const uint8_t* data, size_t n) {
  int fw = 0, fh = 0, samp = 0, cs = 0;
  if (tjDecompressHeader3(j->dec, data, (unsigned long)n, &fw, &fh, &samp, &cs)) {
    return nfp_error_set("JPEG frame of %zu bytes has no readable header: %s", n,
                         tjGetErrorStr2(j->dec));
  }
  if (fw != w || fh != h) {
    return nfp_error_set("JPEG frame is %dx%d, the handshake said %dx%d", fw, fh, w, h);
  }
  if (cs == TJCS_CMYK || cs == TJCS_YCCK) {
    return nfp_error_set("JPEG frame is in a CMYK colour space; RGB or grayscale expected");
  }
  return 0;
}

// data[n] -> header check -> rgb[h][w][3]; any libjpeg-turbo warning is an error.
static int decode(nfp_jpeg* j, uint8_t* rgb, int h, int w, const uint8_t* data, size_t n) {
  if (!n || !data) return nfp_error_set("empty JPEG frame");
  if (handle(&j->dec, 0) || check_header(j, h, w, data, n)) return -1;
  int flags = TJFLAG_STOPONWARNING | TJFLAG_LIMITSCANS;
  if (tjDecompress2(j->dec, data, (unsigned long)n, rgb, w, 3 * w, h, TJPF_RGB, flags)) {
    return nfp_error_set("JPEG frame of %zu bytes does not decode: %s", n,
                         tjGetErrorStr2(j->dec));
  }
  return 0;
}

// decode(), with a fresh decompressor after a failure: one that stopped on a broken frame
// keeps tables of it that can make the next good frame fail.
int nfp_jpeg_decode(nfp_jpeg* j, uint8_t* rgb, int h, int w, const uint8_t* data, size_t n) {
  if (!decode(j, rgb, h, w, data, n)) return 0;
  if (j->dec) tjDestroy(j->dec);
  j->dec = NULL;
  return -1;
}
