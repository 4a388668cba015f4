// nfp inspect for checkpoints and policies: the model configuration and size, the demos
// it was trained on, the training configuration, where training stood (train_state), the
// weights its model tensors hold (policy_weights) and whether nfp train can resume it.
#include <math.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/train.h"

static const char* const encoder_names[] = {"state", "resnet18", "cnn", "cnn-kp"};  // by kind

// The metadata keys the report gives sections of its own; the others go under "metadata".
static const char* const known_keys[] = {"train_config", "train_state", "policy_weights",
                                         "demo_task",    "demo_seed_min", "demo_seed_max"};

// Metadata text that holds a JSON object -> rep[name] (left out when absent or not JSON).
static void add_json(cJSON* rep, const char* name, const char* text) {
  cJSON* j = text ? cJSON_Parse(text) : NULL;
  if (j && cJSON_IsObject(j)) {
    cJSON_AddItemToObject(rep, name, j);
  } else {
    cJSON_Delete(j);
  }
}

// The loaded model's configuration, encoder name and parameter count -> rep["model"]. 0/-1.
static int add_model(cJSON* rep, const nfp_model* m) {
  char* text = nfp_model_config_to_json(&m->cfg);
  cJSON* j = text ? cJSON_Parse(text) : NULL;
  free(text);
  if (!j) return nfp_error_set("out of memory");
  int e = m->cfg.encoder;
  cJSON_AddStringToObject(j, "encoder_name", e >= 0 && e < 4 ? encoder_names[e] : "unknown");
  cJSON_AddNumberToObject(j, "parameters", (double)m->num_params);
  cJSON_AddItemToObject(rep, "model", j);
  return 0;
}

// demo_* metadata and train_config's "data" -> rep["data"] (the demos it was trained on).
static void add_data(cJSON* rep, const nfp_meta* meta) {
  cJSON* d = cJSON_AddObjectToObject(rep, "data");
  const cJSON* tc = cJSON_GetObjectItemCaseSensitive(rep, "train_config");
  const cJSON* dir = tc ? cJSON_GetObjectItemCaseSensitive(tc, "data") : NULL;
  if (d && cJSON_IsString(dir)) cJSON_AddStringToObject(d, "demos", dir->valuestring);
  const char* task = nfp_meta_get(meta, "demo_task");
  if (d && task) cJSON_AddStringToObject(d, "task", task);
  const char* keys[2] = {"demo_seed_min", "demo_seed_max"};
  const char* names[2] = {"seed_min", "seed_max"};
  for (int i = 0; d && i < 2; i++) {
    const char* s = nfp_meta_get(meta, keys[i]);
    char* end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (s && end && end != s && !*end) cJSON_AddNumberToObject(d, names[i], (double)v);
  }
}

// The user metadata that no section shows -> rep["metadata"] (strings as stored).
static void add_other_meta(cJSON* rep, const nfp_meta* meta) {
  cJSON* o = NULL;
  for (int i = 0; i < meta->n; i++) {
    int known = 0;
    for (size_t k = 0; k < sizeof(known_keys) / sizeof(known_keys[0]); k++) {
      known |= !strcmp(meta->key[i], known_keys[k]);
    }
    if (!known && !o) o = cJSON_AddObjectToObject(rep, "metadata");
    if (!known && o) cJSON_AddStringToObject(o, meta->key[i], meta->value[i]);
  }
}

// ck's train.* tensors -> rep "kind", "resumable", "best_weights".
static void add_training_state(cJSON* rep, const nfp_checkpoint* ck, const nfp_meta* meta) {
  int resumable = nfp_checkpoint_has_extra(ck, "train.params") &&
                  nfp_checkpoint_has_extra(ck, "train.adam_m") &&
                  nfp_checkpoint_has_extra(ck, "train.adam_v") &&
                  nfp_checkpoint_has_extra(ck, "train.hist_train") &&
                  nfp_meta_get(meta, "train_state") != NULL;
  cJSON_AddStringToObject(rep, "kind", resumable ? "checkpoint" : "policy");
  cJSON_AddBoolToObject(rep, "resumable", resumable);
  cJSON_AddBoolToObject(rep, "best_weights", nfp_checkpoint_has_extra(ck, NFP_TRAIN_BEST_TENSOR));
}

// path read once and validated -> the report, or NULL (error set).
cJSON* nfp_inspect_checkpoint(const char* path, double file_bytes) {
  nfp_meta meta = {0};
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  nfp_model* m = ck ? nfp_checkpoint_model(ck, NULL, &meta) : NULL;
  cJSON* rep = m ? cJSON_CreateObject() : NULL;
  if (m && !rep) nfp_error_set("out of memory");
  if (rep) {
    cJSON_AddStringToObject(rep, "file", path);
    add_training_state(rep, ck, &meta);
    cJSON_AddNumberToObject(rep, "file_bytes", file_bytes);
    if (add_model(rep, m) != 0) rep = (cJSON_Delete(rep), NULL);
  }
  if (rep) {
    add_json(rep, "train_config", nfp_meta_get(&meta, "train_config"));
    add_data(rep, &meta);
    add_json(rep, "train_state", nfp_meta_get(&meta, "train_state"));
    add_json(rep, "policy_weights", nfp_meta_get(&meta, "policy_weights"));
    add_other_meta(rep, &meta);
  }
  nfp_meta_free(&meta);
  nfp_model_free(m);
  nfp_checkpoint_free(ck);
  return rep;
}

//---------------------------------- text -----------------------------------------------------

// rep["model"] -> the model section.
static void print_model(const cJSON* m) {
  double enc = nfp_inspect_num(m, "encoder");
  const cJSON* name = cJSON_GetObjectItemCaseSensitive(m, "encoder_name");
  printf("model\n  %-15s %s", "encoder", cJSON_IsString(name) ? name->valuestring : "?");
  printf(" (MLP %.0f wide x %.0f blocks -> context %.0f)\n", nfp_inspect_num(m, "enc_hidden"),
         nfp_inspect_num(m, "enc_blocks"), nfp_inspect_num(m, "context_dim"));
  if (enc > 0) {
    double h = nfp_inspect_num(m, "img_h"), w = nfp_inspect_num(m, "img_w");
    double down = nfp_inspect_num(m, "img_down"), oy = nfp_inspect_num(m, "img_off_y"),
           ox = nfp_inspect_num(m, "img_off_x");  // absent before regions of interest: 0
    double y0 = floor((floor(nfp_inspect_num(m, "img_src_h") / down) - h) / 2) +
                (isnan(oy) ? 0 : oy);
    double x0 = floor((floor(nfp_inspect_num(m, "img_src_w") / down) - w) / 2) +
                (isnan(ox) ? 0 : ox);
    printf("  %-15s %.0f camera(s): %.0fx%.0f frames shrunk %.0fx, %.0fx%.0f crops at (%.0f, "
           "%.0f)%s\n", "images", nfp_inspect_num(m, "n_cam"), nfp_inspect_num(m, "img_src_h"),
           nfp_inspect_num(m, "img_src_w"), down, h, w, y0, x0,
           nfp_inspect_num(m, "img_first") > 0 ? "; the newest and the episode's first" : "");
    double aux = nfp_inspect_num(m, "aux_dim");
    if (aux > 0) {
      printf("  %-15s %.0f object-state values%s\n", "object head", aux,
             nfp_inspect_num(m, "aux_bottleneck") > 0 ? " (bottleneck: the MLP sees them)" : "");
    } else {
      printf("  %-15s none\n", "object head");
    }
  }
  printf("  %-15s %.0f frames x %.0f values\n", "observation", nfp_inspect_num(m, "n_obs"),
         nfp_inspect_num(m, "state_dim"));
  printf("  %-15s %.0f steps x %.0f joints, stride %.0f frames\n", "action chunk",
         nfp_inspect_num(m, "horizon"), nfp_inspect_num(m, "action_dim"),
         nfp_inspect_num(m, "stride"));
  printf("  %-15s %.0f coupling layers, %.0f spline bins, conditioner %.0f wide x %.0f blocks\n",
         "flow", nfp_inspect_num(m, "n_layers"), nfp_inspect_num(m, "n_bins"),
         nfp_inspect_num(m, "hidden"), nfp_inspect_num(m, "n_blocks"));
  printf("  %-15s %.0f\n", "parameters", nfp_inspect_num(m, "parameters"));
}

// rep["data"] -> the training data section.
static void print_data(const cJSON* d) {
  char buf[256];
  printf("training data\n");
  const cJSON* demos = cJSON_GetObjectItemCaseSensitive(d, "demos");
  const cJSON* task = cJSON_GetObjectItemCaseSensitive(d, "task");
  printf("  %-15s %s\n", "demos", cJSON_IsString(demos) ? demos->valuestring : "not recorded");
  printf("  %-15s %s\n", "task", nfp_inspect_value(buf, sizeof(buf), task));
  double lo = nfp_inspect_num(d, "seed_min"), hi = nfp_inspect_num(d, "seed_max");
  if (isfinite(lo) && isfinite(hi)) {
    printf("  %-15s %.0f..%.0f\n", "seeds", lo, hi);
  } else {
    printf("  %-15s not recorded\n", "seeds");
  }
  printf("  %-15s not recorded (nfp train stores the demos folder and seed range)\n", "episodes");
}

// Readable names of train_config's keys; keys shown elsewhere have NULL.
static const char* config_label(const char* key) {
  static const char* const names[][2] = {
      {"lr", "learning rate"},    {"weight_decay", "weight decay"}, {"ema_decay", "EMA decay"},
      {"clip", "gradient clip"},  {"action_noise", "action noise"}, {"obs_noise", "obs noise"},
      {"aux_weight", "head weight"}, {"use_object", "object state"}, {"twins", "mirror twins"},
      {"val_frac", "val fraction"}, {"split_seed", "split seed"}, {"ckpt_every", "ckpt every"},
      {"horizon", NULL},          {"stride", NULL},                 {"n_obs", NULL},
      {"data", NULL}};
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (!strcmp(key, names[i][0])) return names[i][1];
  }
  return key;
}

// rep["train_config"] -> one line per setting (the object head's weight only when the model
// has that head).
static void print_config(const cJSON* tc, int has_head) {
  char buf[256];
  printf("training config\n");
  const cJSON* v = NULL;
  cJSON_ArrayForEach(v, tc) {
    const char* label = v->string ? config_label(v->string) : NULL;
    if (!has_head && v->string && !strcmp(v->string, "aux_weight")) continue;
    if (label) printf("  %-15s %s\n", label, nfp_inspect_value(buf, sizeof(buf), v));
  }
}

// rep["train_state"] -> the metrics at the end of the run.
static void print_metrics(const cJSON* st) {
  printf("final metrics\n");
  printf("  %-15s %.0f (step %.0f)\n", "epoch", nfp_inspect_num(st, "epoch"),
         nfp_inspect_num(st, "step"));
  double part = nfp_inspect_num(st, "epoch_step");
  if (part > 0) printf("  %-15s stopped %.0f steps into the next epoch\n", "", part);
  const char* keys[3] = {"train_nll", "val_nll", "samples_per_s"};
  const char* labels[3] = {"train NLL", "val NLL", "samples/s"};
  for (int i = 0; i < 3; i++) {
    double v = nfp_inspect_num(st, keys[i]);
    if (isfinite(v)) printf("  %-15s %.*f\n", labels[i], i == 2 ? 0 : 3, v);
    if (!isfinite(v) && i == 1) printf("  %-15s none (no validation episodes)\n", labels[i]);
  }
  double best = nfp_inspect_num(st, "best_epoch");
  if (isfinite(best)) {
    printf("  %-15s %.0f (val NLL %.3f)\n", "best epoch", best,
           nfp_inspect_num(st, "best_val_nll"));
  }
}

// rep["policy_weights"] (may be NULL; then train_state's epoch) -> the weights line.
static void print_weights(const cJSON* w, const cJSON* st) {
  const cJSON* which = w ? cJSON_GetObjectItemCaseSensitive(w, "weights") : NULL;
  double epoch = nfp_inspect_num(st, "epoch");
  if (!cJSON_IsString(which) && isfinite(epoch)) {
    printf("%-17s last: the EMA weights after epoch %.0f (not recorded in the file, which "
           "predates policy_weights)\n", "weights", epoch);
    return;
  }
  if (!cJSON_IsString(which)) {
    printf("%-17s not recorded\n", "weights");
    return;
  }
  printf("%-17s %s: the EMA weights after epoch %.0f", "weights", which->valuestring,
         nfp_inspect_num(w, "epoch"));
  double part = nfp_inspect_num(w, "epoch_step"), val = nfp_inspect_num(w, "val_nll");
  if (isfinite(part)) printf(" and %.0f steps of the next", part);
  if (isfinite(val)) printf(", val NLL %.3f", val);
  printf("\n");
}

// A checkpoint report -> readable text on stdout.
void nfp_inspect_checkpoint_print(const cJSON* rep) {
  char buf[256];
  const cJSON* file = cJSON_GetObjectItemCaseSensitive(rep, "file");
  int resumable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "resumable"));
  double bytes = nfp_inspect_num(rep, "file_bytes");
  printf("%s: nfp %s, %s\n", file->valuestring, resumable ? "training checkpoint" : "policy",
         nfp_inspect_size(buf, sizeof(buf), bytes));
  print_model(cJSON_GetObjectItemCaseSensitive(rep, "model"));
  print_data(cJSON_GetObjectItemCaseSensitive(rep, "data"));
  const cJSON* tc = cJSON_GetObjectItemCaseSensitive(rep, "train_config");
  double aux = nfp_inspect_num(cJSON_GetObjectItemCaseSensitive(rep, "model"), "aux_dim");
  if (tc) print_config(tc, aux > 0);
  const cJSON* st = cJSON_GetObjectItemCaseSensitive(rep, "train_state");
  if (st) print_metrics(st);
  print_weights(cJSON_GetObjectItemCaseSensitive(rep, "policy_weights"), st);
  int best = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rep, "best_weights"));
  printf("%-17s %s\n", "best weights", best ? "kept (nfp export --weights best)" : "no");
  printf("%-17s %s\n", "resumable", resumable ? "yes (nfp train --resume; optimiser state kept)"
                                              : "no (no train.* tensors: an exported policy)");
  const cJSON* other = cJSON_GetObjectItemCaseSensitive(rep, "metadata");
  const cJSON* v = NULL;
  if (other) printf("other metadata\n");
  cJSON_ArrayForEach(v, other) printf("  %-15s %s\n", v->string, v->valuestring);
}
