// Fuzz target of the bridge decoder: any bytes either decode into a message that encodes
// back to exactly those bytes (the layout is canonical), or are refused with a code.
// Built with clang -fsanitize=fuzzer (target fuzz_codec) or driven by fuzz_driver.c.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

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
  return 0;
}
