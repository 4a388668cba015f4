// Placeholder until the collect verb lands; replaced by its owner.
#include <stdio.h>

#include "commands.h"

int nfp_cmd_collect(int argc, char** argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nfp collect: not built yet\n");
  return 1;
}
