// Placeholder until the bench verb lands; replaced by its owner.
#include <stdio.h>

#include "commands.h"

int nfp_cmd_bench(int argc, char** argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nfp bench: not built yet\n");
  return 1;
}
