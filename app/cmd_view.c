// Placeholder until the view verb lands; replaced by its owner.
#include <stdio.h>

#include "commands.h"

int nfp_cmd_view(int argc, char** argv) {
  (void)argc;
  (void)argv;
  fprintf(stderr, "nfp view: not built yet\n");
  return 1;
}
