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
#include "train_internal.h"

void nfp_train_config_default(nfp_train_config* cfg) {
  // 120 -> 200: stack SBS 67 -> 76 %, the towel 42 -> 31 % (docs/experiments.md)
  cfg->epochs = 200;
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
  if (mc->n_cam > 0 && (!ds->images || mc->n_cam != 1 || ds->cfg.img_first != mc->img_first ||
                        ds->img_src_h != mc->img_src_h ||
                        ds->img_src_w != mc->img_src_w || ds->cfg.img_down != mc->img_down ||
                        ds->cfg.img_crop_h != mc->img_h || ds->cfg.img_crop_w != mc->img_w)) {
    return nfp_error_set("the image model takes %d frame(s)%s of %d x %d shrunk %d times and "
                         "cropped to %d x %d; the dataset does not match (frames %s%s, %d x %d)",
                         mc->n_cam, mc->img_first ? " and the first ones" : "", mc->img_src_h,
                         mc->img_src_w, mc->img_down, mc->img_h, mc->img_w,
                         ds->images ? "loaded" : "missing",
                         ds->cfg.img_first ? " with the first ones" : "", ds->img_src_h,
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
  size_t img = (size_t)nfp_model_config_frames(mc) * mc->img_h * mc->img_w * 3;
  tr->img = img ? malloc(img * (size_t)B) : NULL;
  size_t aux = (size_t)mc->aux_dim;
  tr->aux = aux ? malloc(sizeof(float) * aux * (size_t)B) : NULL;
  tr->logp = malloc(sizeof(double) * (size_t)B);
  tr->dlogp = malloc(sizeof(double) * (size_t)B);
  tr->order = malloc(sizeof(int) * (size_t)ds->n_train);
  tr->hist_train = malloc(sizeof(float) * (size_t)cfg->epochs);
  tr->hist_val = malloc(sizeof(float) * (size_t)cfg->epochs);
  tr->best_w = ds->n_val > 0 ? malloc(sizeof(float) * n) : NULL;
  if (!tr->ws || !tr->grads || !tr->decay_mask || !tr->obs || !tr->act || !tr->logp ||
      !tr->dlogp || !tr->order || !tr->hist_train || !tr->hist_val || (img && !tr->img) ||
      (aux && !tr->aux) || (ds->n_val > 0 && !tr->best_w)) {
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
  free(tr->best_w);
  memset(tr, 0, sizeof(*tr));
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

// The elementwise update of parameters [lo, hi) is memory- and sqrt-bound and would leave
// the other cores idle between matrix products: split it over cfg.threads (each part is
// independent).
static void update(nfp_trainer* tr, size_t lo, size_t hi, float lr) {
  enum { MAX_THREADS = 16 };
  size_t n = hi - lo;
  int k = tr->cfg.threads < 1 ? 1 : tr->cfg.threads > MAX_THREADS ? MAX_THREADS : tr->cfg.threads;
  if (n < ((size_t)1 << 16)) k = 1;  // not worth a thread
  update_part part[MAX_THREADS];
  pthread_t thread[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int i = 0; i < k; i++) {
    part[i] = (update_part){tr, lo + n * i / k, lo + n * (i + 1) / k, lr};
  }
  for (int i = 1; i < k; i++) {
    started[i] = pthread_create(&thread[i], NULL, update_range, &part[i]) == 0;
  }
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
  int frames = tr->img ? nfp_model_config_frames(c) : 0;
  return (nfp_obs_batch){.state = tr->obs, .image = tr->img, .n_cam = frames,
                         .img_h = c->img_h, .img_w = c->img_w,
                         .aux_target = training ? tr->aux : NULL,
                         .aux_weight = tr->cfg.aux_weight};
}

// This rank's contiguous share [*lo, *hi) of n items (all of them without a group).
static void share(const nfp_trainer* tr, int n, int* lo, int* hi) {
  const nfp_train_group* g = tr->group;
  *lo = g ? (int)((long long)n * g->rank / g->size) : 0;
  *hi = g ? (int)((long long)n * (g->rank + 1) / g->size) : n;
}

// Sum buf over the group's ranks, timed (nothing without a group). 0 or -1.
static int group_sum_double(nfp_trainer* tr, double* buf, size_t n) {
  if (!tr->group) return 0;
  double t0 = nfp_clock_seconds();
  int rc = tr->group->sum_double(buf, n);
  tr->comm_seconds += nfp_clock_seconds() - t0;
  return rc;
}

// The group's reduce-scatter (sum_scatter_float) or gather (gather_float) of buf, timed.
static int group_float(nfp_trainer* tr, int (*op)(float*, size_t), float* buf, size_t n) {
  double t0 = nfp_clock_seconds();
  int rc = op(buf, n);
  tr->comm_seconds += nfp_clock_seconds() - t0;
  return rc;
}

// The summed gradient -> clipped by its global norm -> AdamW and EMA on this rank's share
// of the parameters -> every rank's updated share gathered (alone: the whole vector). 0, -1.
static int clip_and_update(nfp_trainer* tr, float lr) {
  size_t np = tr->model->num_params;
  const nfp_train_group* g = tr->group;
  if (!g) {
    nfp_grad_clip(tr->grads, np, tr->cfg.clip);
    update(tr, 0, np, lr);
    return 0;
  }
  size_t lo = np * (size_t)g->rank / (size_t)g->size;
  size_t hi = np * (size_t)(g->rank + 1) / (size_t)g->size;
  if (group_float(tr, g->sum_scatter_float, tr->grads, np) != 0) return -1;
  double ss = nfp_grad_sumsq(tr->grads + lo, hi - lo);
  if (group_sum_double(tr, &ss, 1) != 0) return -1;
  float scale = nfp_grad_clip_scale(ss, tr->cfg.clip);
  if (scale != 1.0f) {
    for (size_t i = lo; i < hi; i++) tr->grads[i] *= scale;
  }
  update(tr, lo, hi, lr);
  return group_float(tr, g->gather_float, tr->model->params, np);
}

// The EMA and AdamW moments, each rank's share -> every rank, so validation, best weights
// and checkpoints see whole vectors (nothing without a group). 0 or -1.
static int gather_state(nfp_trainer* tr) {
  const nfp_train_group* g = tr->group;
  size_t np = tr->model->num_params;
  if (!g) return 0;
  if (group_float(tr, g->gather_float, tr->ema.w, np) != 0 ||
      group_float(tr, g->gather_float, tr->opt.m, np) != 0 ||
      group_float(tr, g->gather_float, tr->opt.v, np) != 0) {
    return -1;
  }
  return 0;
}

// The batch's windows from lo on, as the model takes them.
static nfp_obs_batch batch_slice(const nfp_trainer* tr, int training, int lo) {
  const nfp_model_config* c = &tr->model->cfg;
  nfp_obs_batch ob = batch_of(tr, training);
  ob.state += (size_t)lo * tr->ds->obs_dim;
  if (ob.image) ob.image += (size_t)lo * ob.n_cam * c->img_h * c->img_w * 3;
  if (ob.aux_target) ob.aux_target += (size_t)lo * c->aux_dim;
  return ob;
}

// Log-likelihood and gradient of this rank's share [lo, hi) of the n gathered windows:
// sums[0] += their NLL, sums[1] += n * their share of the head's mean squared error; grads
// = the gradient of the whole batch's mean loss restricted to them. 0 or -1.
static int step_share(nfp_trainer* tr, int lo, int hi, int n, double* sums) {
  int m = hi - lo;
  size_t np = tr->model->num_params;
  memset(tr->grads, 0, sizeof(float) * np);
  if (m == 0) return 0;
  nfp_obs_batch ob = batch_slice(tr, 1, lo);
  ob.aux_weight *= (float)m / (float)n;  // the head's mean is over the whole batch
  const float* act = tr->act + (size_t)lo * tr->ds->act_dim;
  if (nfp_model_logprob(tr->model, tr->ws, &ob, act, m, tr->logp) != 0) return -1;
  for (int i = 0; i < m; i++) sums[0] -= tr->logp[i];
  if (tr->aux) sums[1] += m * nfp_model_aux_mse(tr->model, tr->ws);
  for (int i = 0; i < m; i++) tr->dlogp[i] = -1.0 / n;
  return 0;
}

int nfp_trainer_step(nfp_trainer* tr, const int* anchors, int n, float lr, double* nll) {
  if (n < 1 || n > nfp_model_ws_max_batch(tr->ws)) {
    return nfp_error_set("trainer: batch of %d outside 1..%d", n, nfp_model_ws_max_batch(tr->ws));
  }
  const nfp_dataset* ds = tr->ds;
  nfp_dataset_gather(tr->obs, tr->act, ds, anchors, n);
  // A stream per step, so a resumed run draws the same noise and crops. The whole batch's
  // draws on every rank: the same numbers whatever the rank count.
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
  int lo, hi;
  share(tr, n, &lo, &hi);
  double sums[2] = {0.0, 0.0};  // NLL and n * the head's error, over the ranks
  if (step_share(tr, lo, hi, n, sums) != 0 || group_sum_double(tr, sums, 2) != 0) return -1;
  *nll = sums[0] / n;
  if (tr->aux) tr->aux_sum += sums[1] / n, tr->aux_steps++;
  if (!isfinite(*nll)) {
    return nfp_error_set("training diverged at step %ld (NLL %g); try a lower --lr", tr->step,
                         *nll);
  }
  if (hi > lo) nfp_model_backward(tr->model, tr->ws, tr->dlogp, tr->grads, NULL);
  if (clip_and_update(tr, lr) != 0) return -1;
  tr->step++;
  return 0;
}

int nfp_trainer_evaluate(nfp_trainer* tr, const int* anchors, int n, double* nll) {
  int B = nfp_model_ws_max_batch(tr->ws);
  float* live = tr->model->params;
  tr->model->params = tr->ema.w;  // evaluate the weights that get saved
  double sums[2] = {0.0, 0.0};    // NLL and the head's summed error over the windows
  int rc = 0, lo, hi;
  share(tr, n, &lo, &hi);  // each rank its share of the windows, summed below
  nfp_obs_batch ob = batch_of(tr, 0);
  ob.aux_target = tr->aux;  // the head's error on these windows too (never the context)
  for (int i = lo; i < hi && rc == 0; i += B) {
    int m = hi - i < B ? hi - i : B;
    nfp_dataset_gather(tr->obs, tr->act, tr->ds, anchors + i, m);
    if (tr->img) nfp_dataset_gather_images(tr->img, tr->ds, anchors + i, m, NULL);
    if (tr->aux) nfp_dataset_gather_object(tr->aux, tr->ds, anchors + i, m);
    rc = nfp_model_logprob(tr->model, tr->ws, &ob, tr->act, m, tr->logp);
    for (int j = 0; j < m; j++) sums[0] -= tr->logp[j];
    if (tr->aux && rc == 0) sums[1] += m * nfp_model_aux_mse(tr->model, tr->ws);
  }
  tr->model->params = live;
  if (rc == 0) rc = group_sum_double(tr, sums, 2);
  *nll = n > 0 ? sums[0] / n : NAN;
  tr->val_aux_mse = tr->aux && n > 0 ? sums[1] / n : NAN;
  return rc;
}

// Epoch e's shuffled training anchors -> tr->order, from a stream of (seed, e) alone, so a
// resumed run (even one resumed mid-epoch) sees the same order.
static void shuffle_epoch(nfp_trainer* tr, int e) {
  nfp_rng rng;
  nfp_rng_seed(&rng, tr->cfg.seed ^ (0xa24baed4963ee407ULL * (uint64_t)(e + 1)));
  int n = tr->ds->n_train;
  memcpy(tr->order, tr->ds->train_idx, sizeof(int) * (size_t)n);
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(nfp_rng_next(&rng) % (uint64_t)(i + 1));
    int t = tr->order[i];
    tr->order[i] = tr->order[j];
    tr->order[j] = t;
  }
}

// Validation windows -> hist_val[e] under the EMA weights, and those weights into best_w when
// they are the best so far. 0 or -1.
static int validate_epoch(nfp_trainer* tr, int e) {
  double val = NAN;
  int n_val = tr->ds->n_val;
  if (n_val > 0 && nfp_trainer_evaluate(tr, tr->ds->val_idx, n_val, &val) != 0) return -1;
  if (n_val > 0 && !isfinite(val)) {
    return nfp_error_set("epoch %d: validation NLL is %g (a non-finite value in the held-out "
                         "episodes or the weights); nothing more is saved", e + 1, val);
  }
  tr->hist_val[e] = (float)val;
  if (n_val > 0 && (tr->best_epoch == 0 || (float)val < tr->best_val)) {
    tr->best_epoch = e + 1;
    tr->best_val = (float)val;
    memcpy(tr->best_w, tr->ema.w, sizeof(float) * tr->model->num_params);
  }
  return 0;
}

// tr->stop asked to stop: the time spent so far is counted; the epoch stays part-done and
// the ranks' shares of the state are gathered for the save. 1, or -1.
static int stopped(nfp_trainer* tr, double t0) {
  tr->seconds += nfp_clock_seconds() - t0;
  return gather_state(tr) == 0 ? 1 : -1;
}

// Does the caller want the run to stop now? With a group: does any rank (all must agree,
// or one would wait for the others in the next sum; a failed vote stops too).
static int stop_asked(nfp_trainer* tr) {
  int flag = tr->stop && tr->stop(tr->stop_ctx);
  if (!tr->group) return flag;
  double t0 = nfp_clock_seconds();
  if (tr->group->max_int(&flag) != 0) flag = 1;
  tr->comm_seconds += nfp_clock_seconds() - t0;
  return flag;
}

// Epoch tr->epoch from step tr->epoch_step on: steps, validation, history. 0, 1 or -1.
int nfp_trainer_epoch(nfp_trainer* tr) {
  int e = tr->epoch;
  if (e >= tr->cfg.epochs) return nfp_error_set("trainer: all %d epochs done", tr->cfg.epochs);
  shuffle_epoch(tr, e);
  int n = tr->ds->n_train;
  int B = nfp_schedule_batch(&tr->sched, e);
  if (B > n) B = n;
  int steps = n / B;  // drop the ragged tail: every step sees a full batch
  if (tr->epoch_step == 0) tr->epoch_sum = 0.0, tr->aux_sum = 0.0, tr->aux_steps = 0;
  // A run resumed with another schedule (--epochs, --batch) may have fewer steps now.
  int first = tr->epoch_step < steps ? tr->epoch_step : steps;
  double t0 = nfp_clock_seconds();
  tr->comm_seconds = 0.0;
  for (int s = first; s < steps; s++) {
    if (stop_asked(tr)) return stopped(tr, t0);
    float lr = nfp_schedule_lr(&tr->sched, e, (float)s / (float)steps, tr->step);
    double nll;
    if (nfp_trainer_step(tr, tr->order + (size_t)s * B, B, lr, &nll) != 0) {
      return nfp_error_wrap("epoch %d", e + 1);
    }
    tr->epoch_sum += nll;
    tr->epoch_step = s + 1;
  }
  if (stop_asked(tr)) return stopped(tr, t0);
  double dt = nfp_clock_seconds() - t0;
  tr->samples_per_s = dt > 0.0 ? (double)(steps - first) * B / dt : 0.0;
  // epoch_step counts the steps summed (more than `steps` when a resumed run's schedule
  // has fewer for this epoch than the one that stopped in it).
  tr->hist_train[e] = (float)(tr->epoch_sum / (tr->epoch_step > 0 ? tr->epoch_step : 1));
  tr->aux_mse = tr->aux_steps ? tr->aux_sum / tr->aux_steps : NAN;
  if (gather_state(tr) != 0 || validate_epoch(tr, e) != 0) return -1;
  tr->epoch_seconds = nfp_clock_seconds() - t0;
  tr->seconds += tr->epoch_seconds;
  tr->epoch++;
  tr->epoch_step = 0;
  tr->epoch_sum = 0.0;
  return 0;
}

// tr's history -> epochs finished since the best validation NLL (0 when there is none).
int nfp_trainer_epochs_since_best(const nfp_trainer* tr) {
  return tr->best_epoch > 0 ? tr->epoch - tr->best_epoch : 0;
}

//---------------------------------- the loop ------------------------------------------------

// out_path with ".safetensors" (when it ends so) replaced by suffix. NULL when out of memory.
static char* sibling_path(const char* out_path, const char* suffix) {
  static const char ext[] = ".safetensors";
  size_t n = strlen(out_path), e = sizeof(ext) - 1, k = strlen(suffix);
  if (n > e && !strcmp(out_path + n - e, ext)) n -= e;
  char* p = malloc(n + k + 1);
  if (!p) return NULL;
  memcpy(p, out_path, n);
  memcpy(p + n, suffix, k + 1);
  return p;
}

// "x.safetensors" -> "x.curve.png".
char* nfp_train_curve_path(const char* out_path) { return sibling_path(out_path, ".curve.png"); }

// "x.safetensors" -> "x.metrics.jsonl".
char* nfp_train_metrics_path(const char* out_path) {
  return sibling_path(out_path, ".metrics.jsonl");
}

// Seconds -> "42s", "3m07s" or "2h05m".
static void format_duration(char* buf, size_t size, double s) {
  if (s < 60.0) {
    snprintf(buf, size, "%.0fs", s);
  } else if (s < 3600.0) {
    snprintf(buf, size, "%dm%02ds", (int)(s / 60.0), (int)fmod(s, 60.0));
  } else {
    snprintf(buf, size, "%dh%02dm", (int)(s / 3600.0), (int)fmod(s / 60.0, 60.0));
  }
}

// The epoch just finished -> one progress line on log (ETA from this process's epochs).
static void log_epoch(const nfp_trainer* tr, FILE* log, int first) {
  int e = tr->epoch;
  double per_epoch = tr->seconds / (e - first);
  char eta[32];
  format_duration(eta, sizeof(eta), per_epoch * (tr->cfg.epochs - e));
  int k = nfp_schedule_stage(&tr->sched, e - 1);
  char aux[112] = "";  // the object head's error, the rollouts, the group's share, if any
  int k0 = 0;
  if (isfinite(tr->aux_mse)) {
    k0 = snprintf(aux, sizeof(aux), "  object MSE %.4f (val %.4f)", tr->aux_mse,
                  tr->val_aux_mse);
  }
  if (tr->rollout_episodes > 0) {
    k0 += snprintf(aux + k0, sizeof(aux) - (size_t)k0, "  rollouts %d/%d",
                   tr->rollout_successes, tr->rollout_episodes);
  }
  if (tr->group && tr->epoch_seconds > 0.0) {
    snprintf(aux + k0, sizeof(aux) - (size_t)k0, "  %d ranks, comm %.1f %%", tr->group->size,
             100.0 * tr->comm_seconds / tr->epoch_seconds);
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

// Validation NLL above its best for `patience` epochs -> one line on warn, once per run.
static void warn_overfit(nfp_trainer* tr, FILE* warn, int patience) {
  int since = nfp_trainer_epochs_since_best(tr);
  if (!warn || tr->overfit_warned || since < patience) return;
  fprintf(warn,
          "warning: validation NLL has stayed above its best (%.3f at epoch %d) for %d epochs "
          "(now %.3f): the policy may be overfitting the training demos; the checkpoint keeps "
          "the best weights too (nfp export --weights best)\n",
          (double)tr->best_val, tr->best_epoch, since, (double)tr->hist_val[tr->epoch - 1]);
  fflush(warn);
  tr->overfit_warned = 1;
}

// Checkpoint, then the caller's hook (the curve picture, for nfp train).
static int save_all(const nfp_trainer* tr, const nfp_train_run_opts* o) {
  if (nfp_trainer_save(tr, o->out_path, o->data_dir) != 0) return -1;
  return o->on_save ? o->on_save(tr, o->out_path, o->ctx) : 0;
}

// After each finished epoch: progress line, warning, metrics, periodic checkpoint. 0 or -1.
static int after_epoch(nfp_trainer* tr, const nfp_train_run_opts* o, nfp_metrics_log* ml,
                       int first) {
  tr->rollout_episodes = tr->rollout_successes = 0;
  if (o->on_epoch && o->on_epoch(tr, o->ctx) != 0) return -1;
  if (o->log) log_epoch(tr, o->log, first);
  warn_overfit(tr, o->warn, o->overfit_epochs > 0 ? o->overfit_epochs : NFP_TRAIN_OVERFIT_EPOCHS);
  if (o->metrics_path && nfp_metrics_log_append(ml, tr) != 0) return -1;
  int e = tr->epoch;
  int periodic = tr->cfg.ckpt_every > 0 && e % tr->cfg.ckpt_every == 0;
  return o->out_path && (periodic || e == tr->cfg.epochs) ? save_all(tr, o) : 0;
}

// Epochs to the end (or a stop, saved) with their progress, warnings, metrics, checkpoints.
int nfp_trainer_run(nfp_trainer* tr, const nfp_train_run_opts* o) {
  // Only rank 0 of a group writes: the other ranks hold the same weights.
  nfp_train_run_opts quiet = {0};
  if (tr->group && tr->group->rank != 0) o = &quiet;
  nfp_metrics_log ml;
  int rc = 0, first = tr->epoch;
  if (o->metrics_path) rc = nfp_metrics_log_open(&ml, o->metrics_path, o->metrics_prior, first);
  while (rc == 0 && tr->epoch < tr->cfg.epochs) {
    rc = nfp_trainer_epoch(tr);
    if (rc == 1 && o->out_path && save_all(tr, o) != 0) rc = -1;
    if (rc == 0) rc = after_epoch(tr, o, &ml, first);
  }
  if (o->metrics_path) nfp_metrics_log_free(&ml);
  return rc;
}
