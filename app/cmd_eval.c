// Placeholder until the eval verb lands; replaced by its owner.
#include <stdio.h>

#include "commands.h"

int nfp_cmd_eval(int argc, char** argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nfp eval: not built yet\n");
  return 1;
}
