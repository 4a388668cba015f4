// nfp export: a deployable copy of a checkpoint: the model's (EMA) weights, its
// normalisation and configuration and the training metadata, without the optimiser
// state that `nfp train --resume` needs (a quarter of the size).
#include <stdio.h>

#include "args.h"
#include "commands.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"

int nfp_cmd_export(int argc, char** argv) {
  const char* in = NULL;
  const char* out = NULL;
  nfp_arg args[] = {
      {"--in", NFP_ARG_STR, &in, "FILE", "checkpoint written by nfp train", 0, 0, 1},
      {"--out", NFP_ARG_STR, &out, "FILE", "policy file to write (.safetensors)", 0, 0, 1},
  };
  int rc = nfp_args_parse(argc, argv, args, 2, "nfp export --in FILE --out FILE",
                          "Writes the policy of a training checkpoint without its optimiser "
                          "state, for\nbundling and deployment. The result loads everywhere a "
                          "checkpoint does\n(eval, view, run, the MuJoCo plugin), but cannot be "
                          "resumed.");
  if (rc) return rc == 1 ? 0 : 2;
  nfp_meta meta = {0};
  nfp_model* model = nfp_checkpoint_load(in, NULL, &meta);
  rc = !model || nfp_checkpoint_save(out, model, NULL, &meta, NULL, 0);
  if (rc) {
    fprintf(stderr, "nfp export: %s\n", nfp_error_last());
  } else {
    printf("wrote %s (%zu parameters)\n", out, model->num_params);
  }
  nfp_meta_free(&meta);
  nfp_model_free(model);
  return rc ? 1 : 0;
}
