// nfp export: a deployable copy of a checkpoint: the model's (EMA) weights, its
// normalisation and configuration and the training metadata, without the optimiser
// state that `nfp train --resume` needs (a quarter of the size). --weights picks the last
// EMA weights (the default) or those of the best validation epoch.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "args.h"
#include "commands.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/train.h"

static const char* about =
    "Writes the policy of a training checkpoint without its optimiser state, for\n"
    "bundling and deployment. The result loads everywhere a checkpoint does\n"
    "(eval, view, run, the MuJoCo plugin), but cannot be resumed.\n"
    "--weights last (the default) exports the EMA weights at the end of training, the ones\n"
    "nfp eval and the samplers use when given the checkpoint itself. --weights best exports\n"
    "the EMA weights of the epoch with the lowest validation NLL, which nfp train keeps\n"
    "beside them: worth trying when a policy overfits (camera policies), but validation NLL\n"
    "does not track task success (on the camera Lift Pot, training on while it rose doubled\n"
    "the success rate; docs/experiments.md), so compare both with nfp eval before choosing.";

// A number from a metadata JSON object, or NAN when absent.
static double json_num(const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// The JSON object of metadata key (NULL when absent or not JSON). Caller deletes.
static cJSON* meta_json(const nfp_meta* meta, const char* key) {
  const char* text = nfp_meta_get(meta, key);
  return text ? cJSON_Parse(text) : NULL;
}

// The metadata of the input -> "policy_weights" JSON for its model tensors (the last EMA
// weights of a checkpoint that predates the key: from train_state), or NULL when unknown.
static char* stored_weights(const nfp_meta* meta) {
  const char* pw = nfp_meta_get(meta, "policy_weights");
  if (pw) return strdup(pw);
  cJSON* st = meta_json(meta, "train_state");
  double epoch = st ? json_num(st, "epoch") : NAN;
  char* s = isfinite(epoch) ? nfp_train_weights_json("last", (int)epoch, 0, json_num(st, "val_nll"))
                            : NULL;
  cJSON_Delete(st);
  return s;
}

// The best-validation weights of ck -> model->params, and their "policy_weights" JSON
// (NULL with a message when ck has none).
static char* take_best(nfp_model* model, const nfp_checkpoint* ck, const nfp_meta* meta) {
  const char* path = nfp_checkpoint_path(ck);
  cJSON* st = meta_json(meta, "train_state");
  double epoch = st ? json_num(st, "best_epoch") : NAN;
  double val = st ? json_num(st, "best_val_nll") : NAN;
  cJSON_Delete(st);
  if (!isfinite(epoch) || !nfp_checkpoint_has_extra(ck, NFP_TRAIN_BEST_TENSOR)) {
    nfp_error_set("%s holds no best-validation weights (an exported policy, a run without "
                  "validation episodes, or a checkpoint from before nfp train kept them); "
                  "export it with --weights last", path);
    return NULL;
  }
  if (nfp_checkpoint_extra(ck, NFP_TRAIN_BEST_TENSOR, model->params, model->num_params) != 0) {
    return NULL;
  }
  char* s = nfp_train_weights_json("best", (int)epoch, 0, val);
  if (!s) nfp_error_set("out of memory");
  return s;
}

// "policy_weights" JSON -> "best weights: the EMA after epoch 12, val NLL -3.210".
static void describe(char* buf, size_t cap, const char* weights) {
  cJSON* j = weights ? cJSON_Parse(weights) : NULL;
  const cJSON* which = j ? cJSON_GetObjectItemCaseSensitive(j, "weights") : NULL;
  double epoch = j ? json_num(j, "epoch") : NAN, val = j ? json_num(j, "val_nll") : NAN;
  double steps = j ? json_num(j, "epoch_step") : NAN;
  if (!cJSON_IsString(which) || !isfinite(epoch)) {
    snprintf(buf, cap, "the weights stored in the input");
    cJSON_Delete(j);
    return;
  }
  int n = snprintf(buf, cap, "%s weights: the EMA after epoch %.0f", which->valuestring, epoch);
  if (n > 0 && (size_t)n < cap && isfinite(steps)) {
    snprintf(buf + n, cap - (size_t)n, " and %.0f steps of the next (stopped there)", steps);
  } else if (n > 0 && (size_t)n < cap && isfinite(val)) {
    snprintf(buf + n, cap - (size_t)n, ", val NLL %.3f", val);
  }
  cJSON_Delete(j);
}

// --in read once -> the chosen weights with the input's metadata -> --out. 0 or -1.
static int export_policy(const char* in, const char* out, int best) {
  nfp_meta meta = {0};
  nfp_checkpoint* ck = nfp_checkpoint_read(in);
  nfp_model* model = ck ? nfp_checkpoint_model(ck, NULL, &meta) : NULL;
  char* weights = NULL;
  int rc = model ? 0 : -1;
  if (rc == 0) weights = best ? take_best(model, ck, &meta) : stored_weights(&meta);
  if (rc == 0 && best && !weights) rc = -1;
  if (rc == 0 && weights && nfp_meta_set(&meta, "policy_weights", weights) != 0) rc = -1;
  if (rc == 0) rc = nfp_checkpoint_save(out, model, NULL, &meta, NULL, 0);
  if (rc == 0) {
    char what[160];
    describe(what, sizeof(what), weights);
    printf("wrote %s (%zu parameters; %s)\n", out, model->num_params, what);
  }
  free(weights);
  nfp_meta_free(&meta);
  nfp_model_free(model);
  nfp_checkpoint_free(ck);
  return rc;
}

// argv -> the exported policy; exit 0, 1 (error) or 2 (bad flags).
int nfp_cmd_export(int argc, char** argv) {
  const char* in = NULL;
  const char* out = NULL;
  const char* weights = "last";
  nfp_arg args[] = {
      {"--in", NFP_ARG_STR, &in, "FILE", "checkpoint written by nfp train", 0, 0, 1},
      {"--out", NFP_ARG_STR, &out, "FILE", "policy file to write (.safetensors)", 0, 0, 1},
      {"--weights", NFP_ARG_STR, &weights, "WHICH",
       "last (EMA weights at the end of training) or best (EMA weights of the epoch with the "
       "lowest validation NLL)", 0, 0, 0},
  };
  int rc = nfp_args_parse(argc, argv, args, 3, "nfp export --in FILE --out FILE [--weights "
                          "last|best]", about);
  if (rc) return rc == 1 ? 0 : 2;
  if (strcmp(weights, "last") != 0 && strcmp(weights, "best") != 0) {
    fprintf(stderr, "nfp export: --weights must be last or best, got '%s'\n", weights);
    return 2;
  }
  if (export_policy(in, out, !strcmp(weights, "best")) != 0) {
    fprintf(stderr, "nfp export: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
