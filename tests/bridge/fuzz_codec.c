// Fuzz target of the bridge decoder: any bytes either decode into a message that encodes
// back to exactly those bytes (the layout is canonical), or are refused with a code. A
// STATE's JPEG frame then goes through the frame decoder as the client's would: decoded
// into a buffer of the size the STATE gives, or refused, never a crash.
// Built with clang -fsanitize=fuzzer (target fuzz_codec) or driven by fuzz_driver.c.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jpeg.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

// A JPEG frame of a decoded STATE -> the client's frame decoder (result not needed).
static void decode_frame(const nfp_wire_state* st) {
  static nfp_jpeg codec;  // kept across inputs, as a client keeps its decompressor
  if (st->img_encoding != NFP_WIRE_JPEG) return;
  uint8_t* rgb = malloc(3 * (size_t)st->img_h * (size_t)st->img_w);
  if (!rgb) abort();
  nfp_jpeg_decode(&codec, rgb, st->img_h, st->img_w, st->image, st->img_bytes);
  free(rgb);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nfp_wire_msg m;
  int rc = nfp_wire_decode(&m, data, size);
  if (rc < 0 || rc > NFP_WIRE_E_STOPPED) abort();
  if (rc) return 0;
  uint8_t* again = malloc(size ? size : 1);
  if (!again) abort();
  size_t n = nfp_wire_encode(again, size, &m);
  if (n != size || memcmp(again, data, size)) {
    fprintf(stderr, "fuzz_codec: %s of %zu bytes did not re-encode to itself\n",
            nfp_wire_type_name(m.type), size);
    abort();
  }
  free(again);
  if (m.type == NFP_WIRE_STATE) decode_frame(&m.state);
  return 0;
}
