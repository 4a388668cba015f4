// The training loop: mean negative log-likelihood of demonstration windows, AdamW,
// global-norm clipping, the three-stage schedule and an EMA of the weights.
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "nfp/checkpoint.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rng.h"
#include "nfp/train.h"

void nfp_train_config_default(nfp_train_config* cfg) {
  cfg->epochs = 200;  // 120 -> 200: stack SBS 67 -> 76 %, the towel 42 -> 31 % (docs/experiments.md)
  cfg->batch = 256;
  cfg->lr = 1e-3f;
  cfg->weight_decay = 1e-4f;
  cfg->beta1 = 0.9f;
  cfg->beta2 = 0.999f;
  cfg->eps = 1e-8f;
  cfg->clip = 5.0f;
  cfg->ema_decay = 0.999f;
  cfg->action_noise = 0.0f;
  cfg->obs_noise = 0.0f;
  cfg->aux_weight = 1.0f;
  cfg->seed = 1;
  cfg->ckpt_every = 10;
  cfg->threads = 1;
}

static int max_batch(const nfp_schedule* s) {
  int b = 1;
  for (int k = 0; k < 3; k++)
    if (s->stage[k].batch > b) b = s->stage[k].batch;
  return b;
}

int nfp_trainer_init(nfp_trainer* tr, nfp_model* model, const nfp_dataset* ds,
                     const nfp_train_config* cfg) {
  memset(tr, 0, sizeof(*tr));
  const nfp_model_config* mc = &model->cfg;
  if (mc->action_dim != ds->nq || mc->state_dim != ds->ns || mc->horizon != ds->cfg.horizon ||
      mc->n_obs != ds->cfg.n_obs) {
    return nfp_error_set(
        "model (action %d, state %d, horizon %d, n_obs %d) does not fit the demos "
        "(%d joints, state %d, horizon %d, n_obs %d)",
        mc->action_dim, mc->state_dim, mc->horizon, mc->n_obs, ds->nq, ds->ns, ds->cfg.horizon,
        ds->cfg.n_obs);
  }
  if (ds->n_train < 1) return nfp_error_set("no training windows");
  if (cfg->epochs < 1 || cfg->batch < 1 || !(cfg->lr > 0.0f)) {
    return nfp_error_set("epochs, batch and learning rate must be positive (%d, %d, %g)",
                         cfg->epochs, cfg->batch, (double)cfg->lr);
  }
  if (nfp_model_set_norm(model, ds->state_norm.lo, ds->state_norm.hi, ds->action_norm.lo,
                         ds->action_norm.hi) != 0) {
    return -1;
  }
  if (mc->n_cam > 0 && (!ds->images || mc->n_cam != 1 || ds->img_src_h != mc->img_src_h ||
                        ds->img_src_w != mc->img_src_w || ds->cfg.img_down != mc->img_down ||
                        ds->cfg.img_crop_h != mc->img_h || ds->cfg.img_crop_w != mc->img_w)) {
    return nfp_error_set("the image model takes %d frame(s) of %d x %d shrunk %d times and "
                         "cropped to %d x %d; the dataset does not match (frames %s, %d x %d)",
                         mc->n_cam, mc->img_src_h, mc->img_src_w, mc->img_down, mc->img_h,
                         mc->img_w, ds->images ? "loaded" : "missing", ds->img_src_h,
                         ds->img_src_w);
  }
  if (mc->aux_dim > 0 && (!ds->object || ds->nobj != mc->aux_dim)) {
    return nfp_error_set("the model's object-state head takes %d values; the dataset holds %d "
                         "(build it with aux_object from demos that record the object state)",
                         mc->aux_dim, ds->object ? ds->nobj : 0);
  }
  tr->model = model;
  tr->ds = ds;
  tr->cfg = *cfg;
  nfp_schedule_default(&tr->sched, cfg->epochs, cfg->batch, cfg->lr);
  int B = max_batch(&tr->sched);
  size_t n = model->num_params;
  tr->ws = nfp_model_ws_create(model, B);
  tr->grads = calloc(n, sizeof(float));
  tr->decay_mask = calloc(n, 1);
  tr->obs = malloc(sizeof(float) * (size_t)B * ds->obs_dim);
  tr->act = malloc(sizeof(float) * (size_t)B * ds->act_dim);
  size_t img = (size_t)mc->n_cam * mc->img_h * mc->img_w * 3;
  tr->img = img ? malloc(img * (size_t)B) : NULL;
  size_t aux = (size_t)mc->aux_dim;
  tr->aux = aux ? malloc(sizeof(float) * aux * (size_t)B) : NULL;
  tr->logp = malloc(sizeof(double) * (size_t)B);
  tr->dlogp = malloc(sizeof(double) * (size_t)B);
  tr->order = malloc(sizeof(int) * (size_t)ds->n_train);
  tr->hist_train = malloc(sizeof(float) * (size_t)cfg->epochs);
  tr->hist_val = malloc(sizeof(float) * (size_t)cfg->epochs);
  if (!tr->ws || !tr->grads || !tr->decay_mask || !tr->obs || !tr->act || !tr->logp ||
      !tr->dlogp || !tr->order || !tr->hist_train || !tr->hist_val || (img && !tr->img) ||
      (aux && !tr->aux)) {
    nfp_trainer_free(tr);
    return nfp_error_set("trainer: out of memory (%zu parameters, batch %d)", n, B);
  }
  if (nfp_adamw_init(&tr->opt, n, cfg->beta1, cfg->beta2, cfg->eps, cfg->weight_decay) != 0 ||
      nfp_ema_init(&tr->ema, model->params, n, cfg->ema_decay) != 0) {
    nfp_trainer_free(tr);
    return -1;
  }
  // Decay weight matrices only: biases set the identity start of the flow.
  for (int i = 0; i < model->table.n; i++) {
    const nfp_tensor_info* t = &model->table.t[i];
    if (t->ndim >= 2) memset(tr->decay_mask + t->offset, 1, t->size);
  }
  for (int e = 0; e < cfg->epochs; e++) tr->hist_train[e] = tr->hist_val[e] = NAN;
  tr->aux_mse = tr->val_aux_mse = NAN;
  return 0;
}

void nfp_trainer_free(nfp_trainer* tr) {
  nfp_model_ws_free(tr->ws);
  nfp_adamw_free(&tr->opt);
  nfp_ema_free(&tr->ema);
  free(tr->grads);
  free(tr->decay_mask);
  free(tr->obs);
  free(tr->act);
  free(tr->img);
  free(tr->aux);
  free(tr->logp);
  free(tr->dlogp);
  free(tr->order);
  free(tr->hist_train);
  free(tr->hist_val);
  memset(tr, 0, sizeof(*tr));
}

static double mean_nll(const double* logp, int n) {
  double s = 0.0;
  for (int i = 0; i < n; i++) s -= logp[i];
  return s / n;
}

// AdamW then EMA on parameters [lo, hi): the optimiser and the average seen through views
// of their buffers, with the step counters as they stand before this step.
typedef struct {
  nfp_trainer* tr;
  size_t lo, hi;
  float lr;
} update_part;

static void* update_range(void* arg) {
  const update_part* u = arg;
  nfp_trainer* tr = u->tr;
  size_t lo = u->lo, n = u->hi - u->lo;
  nfp_adamw opt = tr->opt;
  opt.m += lo;
  opt.v += lo;
  opt.n = n;
  nfp_adamw_step(&opt, tr->model->params + lo, tr->grads + lo, tr->decay_mask + lo, u->lr);
  nfp_ema ema = tr->ema;
  ema.w += lo;
  ema.n = n;
  nfp_ema_update(&ema, tr->model->params + lo);
  return NULL;
}

// The elementwise update is memory- and sqrt-bound and would leave the other cores idle
// between matrix products: split it over cfg.threads (each part is independent).
static void update(nfp_trainer* tr, float lr) {
  enum { MAX_THREADS = 16 };
  size_t n = tr->model->num_params;
  int k = tr->cfg.threads < 1 ? 1 : tr->cfg.threads > MAX_THREADS ? MAX_THREADS : tr->cfg.threads;
  if (n < ((size_t)1 << 16)) k = 1;  // not worth a thread
  update_part part[MAX_THREADS];
  pthread_t thread[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int i = 0; i < k; i++) part[i] = (update_part){tr, n * i / k, n * (i + 1) / k, lr};
  for (int i = 1; i < k; i++) started[i] = pthread_create(&thread[i], NULL, update_range, &part[i]) == 0;
  update_range(&part[0]);
  for (int i = 1; i < k; i++) {
    if (started[i]) pthread_join(thread[i], NULL);
    else update_range(&part[i]);  // no thread to be had: do that part here
  }
  tr->opt.t++;
  tr->ema.updates++;
}

// The batch buffers as the model takes them (with the object-state targets in training).
static nfp_obs_batch batch_of(const nfp_trainer* tr, int training) {
  const nfp_model_config* c = &tr->model->cfg;
  return (nfp_obs_batch){.state = tr->obs, .image = tr->img, .n_cam = tr->img ? c->n_cam : 0,
                         .img_h = c->img_h, .img_w = c->img_w,
                         .aux_target = training ? tr->aux : NULL,
                         .aux_weight = tr->cfg.aux_weight};
}

int nfp_trainer_step(nfp_trainer* tr, const int* anchors, int n, float lr, double* nll) {
  if (n < 1 || n > nfp_model_ws_max_batch(tr->ws)) {
    return nfp_error_set("trainer: batch of %d outside 1..%d", n, nfp_model_ws_max_batch(tr->ws));
  }
  const nfp_dataset* ds = tr->ds;
  nfp_dataset_gather(tr->obs, tr->act, ds, anchors, n);
  // A stream per step, so a resumed run draws the same noise and crops.
  nfp_rng rng;
  nfp_rng_seed(&rng, tr->cfg.seed * 0x9e3779b97f4a7c15ULL + (uint64_t)tr->step + 1);
  if (tr->cfg.action_noise > 0.0f) {
    for (size_t i = 0; i < (size_t)n * ds->act_dim; i++)
      tr->act[i] += tr->cfg.action_noise * (float)nfp_rng_normal(&rng);
  }
  // The policy then cannot lean on exact joint readings (copying its own motion) and
  // has seen states a little off the demos' paths.
  if (tr->cfg.obs_noise > 0.0f) {
    for (size_t i = 0; i < (size_t)n * ds->obs_dim; i++)
      tr->obs[i] += tr->cfg.obs_noise * (float)nfp_rng_normal(&rng);
  }
  if (tr->img) nfp_dataset_gather_images(tr->img, ds, anchors, n, &rng);
  if (tr->aux) nfp_dataset_gather_object(tr->aux, ds, anchors, n);
  nfp_obs_batch ob = batch_of(tr, 1);
  if (nfp_model_logprob(tr->model, tr->ws, &ob, tr->act, n, tr->logp) != 0) return -1;
  *nll = mean_nll(tr->logp, n);
  if (tr->aux) tr->aux_sum += nfp_model_aux_mse(tr->model, tr->ws), tr->aux_steps++;
  if (!isfinite(*nll)) {
    return nfp_error_set("training diverged at step %ld (NLL %g); try a lower --lr", tr->step,
                         *nll);
  }
  for (int i = 0; i < n; i++) tr->dlogp[i] = -1.0 / n;
  size_t np = tr->model->num_params;
  memset(tr->grads, 0, sizeof(float) * np);
  nfp_model_backward(tr->model, tr->ws, tr->dlogp, tr->grads, NULL);
  nfp_grad_clip(tr->grads, np, tr->cfg.clip);
  update(tr, lr);
  tr->step++;
  return 0;
}

int nfp_trainer_evaluate(nfp_trainer* tr, const int* anchors, int n, double* nll) {
  int B = nfp_model_ws_max_batch(tr->ws);
  float* live = tr->model->params;
  tr->model->params = tr->ema.w;  // evaluate the weights that get saved
  double sum = 0.0, aux_sum = 0.0;
  int rc = 0;
  nfp_obs_batch ob = batch_of(tr, 0);
  ob.aux_target = tr->aux;  // the head's error on these windows too (never the context)
  for (int i = 0; i < n && rc == 0; i += B) {
    int m = n - i < B ? n - i : B;
    nfp_dataset_gather(tr->obs, tr->act, tr->ds, anchors + i, m);
    if (tr->img) nfp_dataset_gather_images(tr->img, tr->ds, anchors + i, m, NULL);
    if (tr->aux) nfp_dataset_gather_object(tr->aux, tr->ds, anchors + i, m);
    rc = nfp_model_logprob(tr->model, tr->ws, &ob, tr->act, m, tr->logp);
    for (int j = 0; j < m; j++) sum -= tr->logp[j];
    if (tr->aux && rc == 0) aux_sum += m * nfp_model_aux_mse(tr->model, tr->ws);
  }
  tr->model->params = live;
  *nll = n > 0 ? sum / n : NAN;
  tr->val_aux_mse = tr->aux && n > 0 ? aux_sum / n : NAN;
  return rc;
}

int nfp_trainer_epoch(nfp_trainer* tr) {
  const nfp_dataset* ds = tr->ds;
  int e = tr->epoch;
  if (e >= tr->cfg.epochs) return nfp_error_set("trainer: all %d epochs done", tr->cfg.epochs);
  // Shuffle from a stream of (seed, epoch) alone, so resuming reproduces the order.
  nfp_rng rng;
  nfp_rng_seed(&rng, tr->cfg.seed ^ (0xa24baed4963ee407ULL * (uint64_t)(e + 1)));
  int n = ds->n_train;
  memcpy(tr->order, ds->train_idx, sizeof(int) * (size_t)n);
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(nfp_rng_next(&rng) % (uint64_t)(i + 1));
    int t = tr->order[i];
    tr->order[i] = tr->order[j];
    tr->order[j] = t;
  }
  int B = nfp_schedule_batch(&tr->sched, e);
  if (B > n) B = n;
  int steps = n / B;  // drop the ragged tail: every step sees a full batch
  double t0 = nfp_clock_seconds(), sum = 0.0;
  tr->aux_sum = 0.0, tr->aux_steps = 0;
  for (int s = 0; s < steps; s++) {
    float lr = nfp_schedule_lr(&tr->sched, e, (float)s / (float)steps, tr->step);
    double nll;
    if (nfp_trainer_step(tr, tr->order + (size_t)s * B, B, lr, &nll) != 0) {
      return nfp_error_wrap("epoch %d", e + 1);
    }
    sum += nll;
  }
  double dt = nfp_clock_seconds() - t0;
  tr->samples_per_s = dt > 0.0 ? (double)steps * B / dt : 0.0;
  tr->hist_train[e] = (float)(sum / steps);
  tr->aux_mse = tr->aux_steps ? tr->aux_sum / tr->aux_steps : NAN;
  double val = NAN;
  if (ds->n_val > 0 && nfp_trainer_evaluate(tr, ds->val_idx, ds->n_val, &val) != 0) return -1;
  if (ds->n_val > 0 && !isfinite(val)) {
    return nfp_error_set("epoch %d: validation NLL is %g (a non-finite value in the held-out "
                         "episodes or the weights); nothing more is saved", e + 1, val);
  }
  tr->hist_val[e] = (float)val;
  tr->seconds += nfp_clock_seconds() - t0;
  tr->epoch++;
  return 0;
}

//---------------------------------- configuration JSON --------------------------------------

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

static int json_number(double* out, const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  if (!cJSON_IsNumber(v)) return nfp_error_set("train_config: missing number '%s'", key);
  *out = v->valuedouble;
  return 0;
}

static int json_u64(uint64_t* out, const cJSON* j, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, key);
  char* end = NULL;
  if (!cJSON_IsString(v)) return nfp_error_set("train_config: missing string '%s'", key);
  *out = strtoull(v->valuestring, &end, 10);
  if (!end || *end) return nfp_error_set("train_config: bad '%s'", key);
  return 0;
}

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
  cJSON_AddNumberToObject(j, "samples_per_s", tr->samples_per_s);
  char* s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

int nfp_trainer_save(const nfp_trainer* tr, const char* path, const char* data_dir) {
  nfp_meta meta = {0};
  char* cfg_json = nfp_train_config_to_json(&tr->cfg, &tr->ds->cfg, data_dir);
  char* state = state_to_json(tr);
  // Where the demos came from, so evaluation can refuse seeds the policy was trained on.
  char seed_min[32], seed_max[32];
  snprintf(seed_min, sizeof(seed_min), "%lld", (long long)tr->ds->seed_min);
  snprintf(seed_max, sizeof(seed_max), "%lld", (long long)tr->ds->seed_max);
  int rc = (cfg_json && state && nfp_meta_set(&meta, "train_config", cfg_json) == 0 &&
            nfp_meta_set(&meta, "train_state", state) == 0 &&
            nfp_meta_set(&meta, "demo_task", tr->ds->task) == 0 &&
            nfp_meta_set(&meta, "demo_seed_min", seed_min) == 0 &&
            nfp_meta_set(&meta, "demo_seed_max", seed_max) == 0)
               ? 0
               : nfp_error_set("%s: cannot build the checkpoint metadata", path);
  free(cfg_json);
  free(state);
  size_t n = tr->model->num_params;
  int ne = tr->epoch > 0 ? tr->epoch : 1;
  nfp_extra_tensor extra[5] = {
      {"train.params", 1, {n}, tr->model->params},
      {"train.adam_m", 1, {n}, tr->opt.m},
      {"train.adam_v", 1, {n}, tr->opt.v},
      {"train.hist_train", 1, {(size_t)ne}, tr->hist_train},
      {"train.hist_val", 1, {(size_t)ne}, tr->hist_val},
  };
  // The history may hold NaN (no validation set); checkpoints refuse non-finite values.
  float* hv = malloc(sizeof(float) * (size_t)ne);
  if (rc == 0 && !hv) rc = nfp_error_set("%s: out of memory", path);
  if (rc == 0) {
    for (int i = 0; i < ne; i++) hv[i] = isfinite(tr->hist_val[i]) ? tr->hist_val[i] : -1e30f;
    extra[4].data = hv;
    rc = nfp_checkpoint_save(path, tr->model, tr->ema.w, &meta, extra, 5);
  }
  free(hv);
  nfp_meta_free(&meta);
  return rc;
}

static int state_field(long* out, const char* json, const char* key) {
  cJSON* j = cJSON_Parse(json);
  const cJSON* v = j ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
  int rc = cJSON_IsNumber(v) ? 0 : nfp_error_set("train_state: missing '%s'", key);
  if (rc == 0) *out = (long)v->valuedouble;
  cJSON_Delete(j);
  return rc;
}

int nfp_trainer_resume(nfp_trainer* tr, const char* path) {
  nfp_meta meta = {0};
  nfp_model* saved = nfp_checkpoint_load(path, &tr->model->cfg, &meta);
  if (!saved) return nfp_error_wrap("resuming");
  const char* state = nfp_meta_get(&meta, "train_state");
  long epoch = 0, step = 0, adam_t = 0, ema_updates = 0;
  int rc = state ? 0 : nfp_error_set("%s: no train_state metadata (not written by nfp train)", path);
  if (rc == 0) rc = state_field(&epoch, state, "epoch");
  if (rc == 0) rc = state_field(&step, state, "step");
  if (rc == 0) rc = state_field(&adam_t, state, "adam_t");
  if (rc == 0) rc = state_field(&ema_updates, state, "ema_updates");
  if (rc == 0 && epoch < 1) rc = nfp_error_set("%s: no finished epoch to resume from", path);
  if (rc == 0 && epoch >= tr->cfg.epochs) {
    rc = nfp_error_set("%s: already trained for %ld epochs; ask for more with --epochs (now %d)",
                       path, epoch, tr->cfg.epochs);
  }
  size_t n = tr->model->num_params;
  if (rc == 0) rc = nfp_checkpoint_read_extra(path, "train.params", tr->model->params, n);
  if (rc == 0) rc = nfp_checkpoint_read_extra(path, "train.adam_m", tr->opt.m, n);
  if (rc == 0) rc = nfp_checkpoint_read_extra(path, "train.adam_v", tr->opt.v, n);
  if (rc == 0) rc = nfp_checkpoint_read_extra(path, "train.hist_train", tr->hist_train, epoch);
  if (rc == 0) rc = nfp_checkpoint_read_extra(path, "train.hist_val", tr->hist_val, epoch);
  if (rc == 0) {
    memcpy(tr->ema.w, saved->params, sizeof(float) * n);  // the checkpoint's model = EMA
    for (long i = 0; i < epoch; i++)
      if (tr->hist_val[i] < -1e29f) tr->hist_val[i] = NAN;
    tr->epoch = (int)epoch;
    tr->step = step;
    tr->opt.t = adam_t;
    tr->ema.updates = ema_updates;
  }
  nfp_model_free(saved);
  nfp_meta_free(&meta);
  return rc;
}

//---------------------------------- the loop ------------------------------------------------

char* nfp_train_curve_path(const char* out_path) {
  static const char ext[] = ".safetensors";
  size_t n = strlen(out_path), e = sizeof(ext) - 1;
  if (n > e && !strcmp(out_path + n - e, ext)) n -= e;
  char* p = malloc(n + 11);
  if (!p) return NULL;
  memcpy(p, out_path, n);
  memcpy(p + n, ".curve.png", 11);
  return p;
}

static void format_duration(char* buf, size_t size, double s) {
  if (s < 60.0) {
    snprintf(buf, size, "%.0fs", s);
  } else if (s < 3600.0) {
    snprintf(buf, size, "%dm%02ds", (int)(s / 60.0), (int)fmod(s, 60.0));
  } else {
    snprintf(buf, size, "%dh%02dm", (int)(s / 3600.0), (int)fmod(s / 60.0, 60.0));
  }
}

// Checkpoint, then the caller's hook (the curve picture, for nfp train).
static int save_all(const nfp_trainer* tr, const char* out_path, const char* data_dir,
                    nfp_trainer_hook on_save, void* ctx) {
  if (nfp_trainer_save(tr, out_path, data_dir) != 0) return -1;
  return on_save ? on_save(tr, out_path, ctx) : 0;
}

int nfp_trainer_run(nfp_trainer* tr, const char* out_path, const char* data_dir, FILE* log,
                    nfp_trainer_hook on_save, void* ctx) {
  int first = tr->epoch;
  while (tr->epoch < tr->cfg.epochs) {
    if (nfp_trainer_epoch(tr) != 0) return -1;
    int e = tr->epoch;
    if (log) {
      double per_epoch = tr->seconds / (e - first);
      char eta[32];
      format_duration(eta, sizeof(eta), per_epoch * (tr->cfg.epochs - e));
      int k = nfp_schedule_stage(&tr->sched, e - 1);
      char aux[48] = "";  // the object-state head's error, where there is one
      if (isfinite(tr->aux_mse)) {
        snprintf(aux, sizeof(aux), "  object MSE %.4f (val %.4f)", tr->aux_mse, tr->val_aux_mse);
      }
      fprintf(log,
              "epoch %3d/%d  stage %d  batch %3d  lr %.1e  train NLL %8.3f  val NLL %8.3f%s  "
              "%6.0f samples/s  ETA %s\n",
              e, tr->cfg.epochs, k + 1, tr->sched.stage[k].batch,
              (double)nfp_schedule_lr(&tr->sched, e - 1, 1.0f, tr->step),
              (double)tr->hist_train[e - 1], (double)tr->hist_val[e - 1], aux, tr->samples_per_s,
              eta);
      fflush(log);
    }
    int periodic = tr->cfg.ckpt_every > 0 && e % tr->cfg.ckpt_every == 0;
    if ((periodic || e == tr->cfg.epochs) && save_all(tr, out_path, data_dir, on_save, ctx) != 0) {
      return -1;
    }
  }
  return 0;
}
