// Training checkpoints: the configuration as JSON metadata, and saving / resuming a run
// (weights, optimiser, history, the best-validation weights, a part-done epoch).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/train.h"

//---------------------------------- configuration JSON --------------------------------------

// Training and dataset configuration -> the "train_config" JSON text (caller frees).
char* nfp_train_config_to_json(const nfp_train_config* cfg, const nfp_dataset_config* dcfg,
                               const char* data_dir) {
  cJSON* j = cJSON_CreateObject();
  if (!j) return NULL;
  char seed[32];
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)cfg->seed);
  cJSON_AddNumberToObject(j, "epochs", cfg->epochs);
  cJSON_AddNumberToObject(j, "batch", cfg->batch);
  cJSON_AddNumberToObject(j, "lr", cfg->lr);
  cJSON_AddNumberToObject(j, "weight_decay", cfg->weight_decay);
  cJSON_AddNumberToObject(j, "beta1", cfg->beta1);
  cJSON_AddNumberToObject(j, "beta2", cfg->beta2);
  cJSON_AddNumberToObject(j, "eps", cfg->eps);
  cJSON_AddNumberToObject(j, "clip", cfg->clip);
  cJSON_AddNumberToObject(j, "ema_decay", cfg->ema_decay);
  cJSON_AddNumberToObject(j, "action_noise", cfg->action_noise);
  cJSON_AddNumberToObject(j, "obs_noise", cfg->obs_noise);
  cJSON_AddNumberToObject(j, "aux_weight", cfg->aux_weight);
  cJSON_AddStringToObject(j, "seed", seed);  // string: a 64-bit seed does not fit a double
  cJSON_AddNumberToObject(j, "ckpt_every", cfg->ckpt_every);
  cJSON_AddNumberToObject(j, "horizon", dcfg->horizon);
  cJSON_AddNumberToObject(j, "stride", dcfg->stride);
  cJSON_AddNumberToObject(j, "n_obs", dcfg->n_obs);
  cJSON_AddBoolToObject(j, "use_object", dcfg->use_object != 0);
  cJSON_AddBoolToObject(j, "twins", dcfg->twin != NULL);   // demos augmented with twins
  cJSON_AddNumberToObject(j, "val_frac", dcfg->val_frac);
  cJSON_AddNumberToObject(j, "img_shift", dcfg->img_shift);
  snprintf(seed, sizeof(seed), "%llu", (unsigned long long)dcfg->seed);
  cJSON_AddStringToObject(j, "split_seed", seed);
  cJSON_AddStringToObject(j, "schedule",
                          "3 stages: 20% epochs batch/4 lr; 50% batch/2 lr/3; "
                          "30% batch cosine lr/10 -> lr/100; 100-step warm-up");
  if (data_dir) cJSON_AddStringToObject(j, "data", data_dir);
  char* s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

// j[key] -> *out when it is a number. 0 or -1.
static int json_number(double* out, const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) return nfp_error_set("train_config: missing number '%s'", key);
  *out = v->valuedouble;
  return 0;
}

// j[key], a decimal string (a 64-bit seed) -> *out. 0 or -1.
static int json_u64(uint64_t* out, const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  char* end = NULL;
  if (!cJSON_IsString(v)) return nfp_error_set("train_config: missing string '%s'", key);
  *out = strtoull(v->valuestring, &end, 10);
  if (!end || *end) return nfp_error_set("train_config: bad '%s'", key);
  return 0;
}

// "train_config" JSON text -> the training and dataset configuration. 0 or -1.
int nfp_train_config_from_json(nfp_train_config* cfg, nfp_dataset_config* dcfg,
                               const char* json) {
  cJSON* j = cJSON_Parse(json);
  if (!j) return nfp_error_set("train_config: not valid JSON");
  double v[15];
  static const char* keys[15] = {"epochs", "batch",        "lr",        "weight_decay",
                                 "beta1",  "beta2",        "eps",       "clip",
                                 "ema_decay", "action_noise", "ckpt_every", "horizon",
                                 "stride", "n_obs",        "val_frac"};
  int rc = 0;
  for (int i = 0; i < 15 && rc == 0; i++) rc = json_number(&v[i], j, keys[i]);
  if (rc == 0) rc = json_u64(&cfg->seed, j, "seed");
  if (rc == 0) rc = json_u64(&dcfg->seed, j, "split_seed");
  const cJSON* uo = cJSON_GetObjectItemCaseSensitive(j, "use_object");
  if (rc == 0 && !cJSON_IsBool(uo)) rc = nfp_error_set("train_config: missing 'use_object'");
  if (rc == 0) dcfg->use_object = cJSON_IsTrue(uo);
  // Optional: checkpoints from before --obs-noise existed trained without it.
  const cJSON* on = cJSON_GetObjectItemCaseSensitive(j, "obs_noise");
  cfg->obs_noise = cJSON_IsNumber(on) ? (float)on->valuedouble : 0.0f;
  const cJSON* is = cJSON_GetObjectItemCaseSensitive(j, "img_shift");  // likewise: anywhere
  if (rc == 0 && is && !(cJSON_IsNumber(is) && is->valuedouble >= -1 && is->valuedouble <= 4096)) {
    rc = nfp_error_set("train_config: img_shift must be a number in -1..4096");
  }
  dcfg->img_shift = rc == 0 && is ? (int)is->valuedouble : -1;
  const cJSON* aw = cJSON_GetObjectItemCaseSensitive(j, "aux_weight");  // likewise
  cfg->aux_weight = cJSON_IsNumber(aw) ? (float)aw->valuedouble : 1.0f;
  cJSON_Delete(j);
  if (rc != 0) return rc;
  cfg->epochs = (int)v[0];
  cfg->batch = (int)v[1];
  cfg->lr = (float)v[2];
  cfg->weight_decay = (float)v[3];
  cfg->beta1 = (float)v[4];
  cfg->beta2 = (float)v[5];
  cfg->eps = (float)v[6];
  cfg->clip = (float)v[7];
  cfg->ema_decay = (float)v[8];
  cfg->action_noise = (float)v[9];
  cfg->ckpt_every = (int)v[10];
  dcfg->horizon = (int)v[11];
  dcfg->stride = (int)v[12];
  dcfg->n_obs = (int)v[13];
  dcfg->val_frac = (float)v[14];
  return 0;
}

//---------------------------------- checkpoints ---------------------------------------------

// Stands for NaN in the saved history (checkpoints refuse non-finite values).
#define NO_VALUE (-1e30f)

// j[key] = x with all 17 significant digits: cJSON prints 15 when they give x back to within
// a rounding error, and a resumed run's running sums must be the saved ones bit for bit.
static void add_exact(cJSON* j, const char* key, double x) {
  char digits[32];
  snprintf(digits, sizeof(digits), "%.17g", x);
  if (isfinite(x)) cJSON_AddRawToObject(j, key, digits);
  else cJSON_AddNumberToObject(j, key, x);  // cJSON writes null, refused when read back
}

// Where training stands, for --resume and for a person reading the metadata.
static char* state_to_json(const nfp_trainer* tr) {
  cJSON* j = cJSON_CreateObject();
  if (!j) return NULL;
  cJSON_AddNumberToObject(j, "epoch", tr->epoch);
  cJSON_AddNumberToObject(j, "step", (double)tr->step);
  cJSON_AddNumberToObject(j, "adam_t", (double)tr->opt.t);
  cJSON_AddNumberToObject(j, "ema_updates", (double)tr->ema.updates);
  if (tr->epoch > 0) {
    float t = tr->hist_train[tr->epoch - 1], v = tr->hist_val[tr->epoch - 1];
    cJSON_AddNumberToObject(j, "train_nll", t);
    if (isfinite(v)) cJSON_AddNumberToObject(j, "val_nll", v);  // JSON has no NaN
  }
  if (tr->best_epoch > 0) {
    cJSON_AddNumberToObject(j, "best_epoch", tr->best_epoch);
    cJSON_AddNumberToObject(j, "best_val_nll", tr->best_val);
  }
  if (tr->epoch_step > 0) {  // stopped mid-epoch: where in it, and its running sums
    cJSON_AddNumberToObject(j, "epoch_step", tr->epoch_step);
    add_exact(j, "epoch_nll_sum", tr->epoch_sum);
    add_exact(j, "epoch_aux_sum", tr->aux_sum);
    cJSON_AddNumberToObject(j, "epoch_aux_steps", (double)tr->aux_steps);
  }
  cJSON_AddNumberToObject(j, "samples_per_s", tr->samples_per_s);
  char* s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

// The weights a checkpoint's model tensors hold: {"weights":"last"|"best","epoch":E,...}.
char* nfp_train_weights_json(const char* which, int epoch, int epoch_step, double val_nll) {
  cJSON* j = cJSON_CreateObject();
  if (!j) return NULL;
  cJSON_AddStringToObject(j, "weights", which);
  cJSON_AddNumberToObject(j, "epoch", epoch);
  if (epoch_step > 0) cJSON_AddNumberToObject(j, "epoch_step", epoch_step);
  if (isfinite(val_nll)) cJSON_AddNumberToObject(j, "val_nll", val_nll);
  char* s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

// tr -> the checkpoint's metadata (configuration, state, demos, weights). 0 or -1.
static int build_meta(nfp_meta* meta, const nfp_trainer* tr, const char* path,
                      const char* data_dir) {
  char* cfg_json = nfp_train_config_to_json(&tr->cfg, &tr->ds->cfg, data_dir);
  char* state = state_to_json(tr);
  // Stopped mid-epoch, the weights have moved on since the last validation.
  double last_val = tr->epoch > 0 && tr->epoch_step == 0 ? tr->hist_val[tr->epoch - 1] : NAN;
  char* weights = nfp_train_weights_json("last", tr->epoch, tr->epoch_step, last_val);
  // Where the demos came from, so evaluation can refuse seeds the policy was trained on.
  char seed_min[32], seed_max[32];
  snprintf(seed_min, sizeof(seed_min), "%lld", (long long)tr->ds->seed_min);
  snprintf(seed_max, sizeof(seed_max), "%lld", (long long)tr->ds->seed_max);
  int rc = (cfg_json && state && weights && nfp_meta_set(meta, "train_config", cfg_json) == 0 &&
            nfp_meta_set(meta, "train_state", state) == 0 &&
            nfp_meta_set(meta, "policy_weights", weights) == 0 &&
            nfp_meta_set(meta, "demo_task", tr->ds->task) == 0 &&
            nfp_meta_set(meta, "demo_seed_min", seed_min) == 0 &&
            nfp_meta_set(meta, "demo_seed_max", seed_max) == 0)
               ? 0
               : nfp_error_set("%s: cannot build the checkpoint metadata (out of memory)", path);
  free(cfg_json);
  free(state);
  free(weights);
  return rc;
}

// h[0..n) -> a copy with NaN as NO_VALUE, or NULL when out of memory.
static float* finite_copy(const float* h, int n) {
  float* c = malloc(sizeof(float) * (size_t)n);
  for (int i = 0; c && i < n; i++) c[i] = isfinite(h[i]) ? h[i] : NO_VALUE;
  return c;
}

// tr -> path: the last EMA weights as the model, the rest as metadata and train.* tensors.
int nfp_trainer_save(const nfp_trainer* tr, const char* path, const char* data_dir) {
  nfp_meta meta = {0};
  int rc = build_meta(&meta, tr, path, data_dir);
  size_t n = tr->model->num_params;
  int ne = tr->epoch > 0 ? tr->epoch : 1;
  float* ht = finite_copy(tr->hist_train, ne);
  float* hv = finite_copy(tr->hist_val, ne);
  if (rc == 0 && (!ht || !hv)) rc = nfp_error_set("%s: out of memory", path);
  nfp_extra_tensor extra[6] = {
      {"train.params", 1, {n}, tr->model->params},
      {"train.adam_m", 1, {n}, tr->opt.m},
      {"train.adam_v", 1, {n}, tr->opt.v},
      {"train.hist_train", 1, {(size_t)ne}, ht},
      {"train.hist_val", 1, {(size_t)ne}, hv},
      {NFP_TRAIN_BEST_TENSOR, 1, {n}, tr->best_w},
  };
  int n_extra = tr->best_w && tr->best_epoch > 0 ? 6 : 5;
  if (rc == 0) rc = nfp_checkpoint_save(path, tr->model, tr->ema.w, &meta, extra, n_extra);
  free(ht);
  free(hv);
  nfp_meta_free(&meta);
  return rc;
}

// What train_state holds (numbers; the optional ones 0 when absent).
typedef struct {
  double epoch, step, adam_t, ema_updates;          // required
  double best_epoch, best_val;                      // runs with validation windows
  double epoch_step, epoch_sum, aux_sum, aux_steps; // a part-done epoch
} saved_state;

// The train_state JSON -> st. 0 or -1 (a required field missing or out of range).
static int parse_state(saved_state* st, const char* json, const char* path) {
  static const char* keys[10] = {"epoch",      "step",          "adam_t",        "ema_updates",
                                 "best_epoch", "best_val_nll",  "epoch_step",    "epoch_nll_sum",
                                 "epoch_aux_sum", "epoch_aux_steps"};
  double* field[10] = {&st->epoch,      &st->step,     &st->adam_t,     &st->ema_updates,
                       &st->best_epoch, &st->best_val, &st->epoch_step, &st->epoch_sum,
                       &st->aux_sum,    &st->aux_steps};
  memset(st, 0, sizeof(*st));
  cJSON* j = json ? cJSON_Parse(json) : NULL;
  if (!j) return nfp_error_set("%s: no train_state metadata (not written by nfp train)", path);
  int rc = 0;
  for (int i = 0; i < 10 && rc == 0; i++) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
    if (cJSON_IsNumber(v) && v->valuedouble >= (i == 5 || i == 7 ? -1e30 : 0)) {
      *field[i] = v->valuedouble;
    } else if (i < 4 || v) {
      rc = nfp_error_set("%s: train_state has no valid '%s'", path, keys[i]);
    }
  }
  cJSON_Delete(j);
  return rc;
}

// ck's history tensors -> tr->hist_* (ne saved values; NO_VALUE back to NaN). 0 or -1.
static int read_history(nfp_trainer* tr, const nfp_checkpoint* ck, int ne) {
  if (nfp_checkpoint_extra(ck, "train.hist_train", tr->hist_train, (size_t)ne) != 0 ||
      nfp_checkpoint_extra(ck, "train.hist_val", tr->hist_val, (size_t)ne) != 0) {
    return -1;
  }
  for (int i = 0; i < ne; i++) {
    if (tr->hist_train[i] <= NO_VALUE) tr->hist_train[i] = NAN;
    if (tr->hist_val[i] <= NO_VALUE) tr->hist_val[i] = NAN;
  }
  return 0;
}

// ck's live weights, moments, history and best weights -> tr. 0 or -1.
static int read_tensors(nfp_trainer* tr, const nfp_checkpoint* ck, const saved_state* st) {
  size_t n = tr->model->num_params;
  int ne = st->epoch > 0 ? (int)st->epoch : 1;
  if (nfp_checkpoint_extra(ck, "train.params", tr->model->params, n) != 0 ||
      nfp_checkpoint_extra(ck, "train.adam_m", tr->opt.m, n) != 0 ||
      nfp_checkpoint_extra(ck, "train.adam_v", tr->opt.v, n) != 0 || read_history(tr, ck, ne)) {
    return -1;
  }
  // Checkpoints from before the best weights were kept: the best is tracked from here on.
  tr->best_epoch = 0;
  if (tr->best_w && st->best_epoch >= 1 && nfp_checkpoint_has_extra(ck, NFP_TRAIN_BEST_TENSOR)) {
    if (nfp_checkpoint_extra(ck, NFP_TRAIN_BEST_TENSOR, tr->best_w, n) != 0) return -1;
    tr->best_epoch = (int)st->best_epoch;
    tr->best_val = (float)st->best_val;
  }
  return 0;
}

// A checkpoint in memory (one read of its file) -> tr restored to where that run stood.
int nfp_trainer_resume_from(nfp_trainer* tr, const nfp_checkpoint* ck) {
  const char* path = nfp_checkpoint_path(ck);
  nfp_meta meta = {0};
  nfp_model* saved = nfp_checkpoint_model(ck, &tr->model->cfg, &meta);
  if (!saved) return nfp_error_wrap("resuming");
  saved_state st;
  int rc = parse_state(&st, nfp_meta_get(&meta, "train_state"), path);
  if (rc == 0 && st.epoch >= tr->cfg.epochs) {
    rc = nfp_error_set("%s: already trained for %.0f epochs; ask for more with --epochs (now %d)",
                       path, st.epoch, tr->cfg.epochs);
  }
  if (rc == 0) rc = read_tensors(tr, ck, &st);
  if (rc == 0) {
    memcpy(tr->ema.w, saved->params, sizeof(float) * tr->model->num_params);  // model = EMA
    tr->epoch = (int)st.epoch;
    tr->step = (long)st.step;
    tr->opt.t = (long)st.adam_t;
    tr->ema.updates = (long)st.ema_updates;
    tr->epoch_step = (int)st.epoch_step;
    tr->epoch_sum = st.epoch_sum;
    tr->aux_sum = st.aux_sum;
    tr->aux_steps = (long)st.aux_steps;
  }
  nfp_model_free(saved);
  nfp_meta_free(&meta);
  return rc;
}

// path -> one read -> tr restored (see nfp_trainer_resume_from).
int nfp_trainer_resume(nfp_trainer* tr, const char* path) {
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  if (!ck) return nfp_error_wrap("resuming");
  int rc = nfp_trainer_resume_from(tr, ck);
  nfp_checkpoint_free(ck);
  return rc;
}
