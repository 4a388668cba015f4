// Placeholder until the train verb lands; replaced by its owner.
#include <stdio.h>

#include "commands.h"

int nfp_cmd_train(int argc, char** argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nfp train: not built yet\n");
  return 1;
}
