// Fuzz target of the policy loader: any bytes, written as a checkpoint file, either load
// into a model or are refused with a message; never a crash, a leak or a read out of bounds.
// Built with clang -fsanitize=fuzzer (target fuzz_checkpoint) or driven by corpus_driver.c.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static char path[64];
  if (!path[0]) snprintf(path, sizeof(path), "/tmp/nfp_fuzz_ckpt.%ld.safetensors", (long)getpid());
  FILE* f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0) abort();
  nfp_meta meta;
  nfp_model* m = nfp_checkpoint_load(path, NULL, &meta);
  if (m) {
    nfp_meta_free(&meta);
    nfp_model_free(m);
  } else if (!nfp_error_last()[0]) {
    fprintf(stderr, "fuzz_checkpoint: refused without a message\n");
    abort();
  }
  unlink(path);
  return 0;
}
