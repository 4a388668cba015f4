// Training windows from demonstration episodes (see nfp/dataset.h for the layout).
#include "nfp/train.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/rng.h"

void nfp_norm_apply(float* out, const double* x, const nfp_norm* norm, int n) {
  int d = norm->dim;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < d; j++) {
      double lo = norm->lo[j], hi = norm->hi[j];
      out[i * d + j] = (float)(2.0 * (x[i * d + j] - lo) / (hi - lo) - 1.0);
    }
  }
}

void nfp_norm_invert(double* out, const float* y, const nfp_norm* norm, int n) {
  int d = norm->dim;
  for (int i = 0; i < n; i++) {
    for (int j = 0; j < d; j++) {
      double lo = norm->lo[j], hi = norm->hi[j];
      out[i * d + j] = lo + 0.5 * ((double)y[i * d + j] + 1.0) * (hi - lo);
    }
  }
}

void nfp_dataset_config_default(nfp_dataset_config* cfg) {
  memset(cfg, 0, sizeof(*cfg));  // no images unless asked for
  cfg->horizon = 8;
  cfg->stride = 4;
  cfg->n_obs = 2;
  cfg->use_object = -1;
  cfg->img_shift = -1;
  cfg->val_frac = 0.1f;
  cfg->seed = 1;
}

// Which per-frame values a statistic or a normalised array holds.
enum { FIELD_STATE, FIELD_ACTION, FIELD_OBJECT };

// Value j of frame t's state (qpos, then object state), action or object state alone.
static double field(const nfp_episode* ep, int t, int j, int which) {
  if (which == FIELD_ACTION) return ep->action[t * ep->nq + j];
  if (which == FIELD_OBJECT) return ep->object_state[t * ep->nobj + j];
  return j < ep->nq ? ep->qpos[t * ep->nq + j] : ep->object_state[t * ep->nobj + j - ep->nq];
}

// min/max over the training episodes' frames of one field, range floored around the middle.
static void norm_fit(nfp_norm* norm, const nfp_episode* eps, int n_episodes, const char* is_val,
                     int dim, int which) {
  norm->dim = dim;
  for (int j = 0; j < dim; j++) {
    norm->lo[j] = FLT_MAX;
    norm->hi[j] = -FLT_MAX;
  }
  for (int e = 0; e < n_episodes; e++) {
    if (is_val[e]) continue;
    for (int t = 0; t < eps[e].T; t++) {
      for (int j = 0; j < dim; j++) {
        float v = (float)field(&eps[e], t, j, which);
        if (v < norm->lo[j]) norm->lo[j] = v;
        if (v > norm->hi[j]) norm->hi[j] = v;
      }
    }
  }
  for (int j = 0; j < dim; j++) {
    if (norm->hi[j] - norm->lo[j] < NFP_NORM_MIN_RANGE) {
      float mid = 0.5f * (norm->lo[j] + norm->hi[j]);
      norm->lo[j] = mid - 0.5f * NFP_NORM_MIN_RANGE;
      norm->hi[j] = mid + 0.5f * NFP_NORM_MIN_RANGE;
    }
  }
}

static void normalize_frames(float* out, const nfp_episode* ep, const nfp_norm* norm,
                             int which) {
  int d = norm->dim;
  for (int t = 0; t < ep->T; t++) {
    for (int j = 0; j < d; j++) {
      double lo = norm->lo[j], hi = norm->hi[j];
      out[t * d + j] = (float)(2.0 * (field(ep, t, j, which) - lo) / (hi - lo) - 1.0);
    }
  }
}

// Seeded choice of validation episodes: a shuffled order, the first n_val held out.
// With twins, episodes [n, 2n) are the twins of [0, n) and go where their originals go.
static void split_episodes(char* is_val, int n_episodes, float val_frac, uint64_t seed,
                           int twins) {
  memset(is_val, 0, (size_t)n_episodes);
  if (twins) {
    int n = n_episodes / 2;
    split_episodes(is_val, n, val_frac, seed, 0);
    memcpy(is_val + n, is_val, (size_t)n);
    return;
  }
  if (n_episodes < 2 || val_frac <= 0.0f) return;
  int n_val = (int)lrintf(val_frac * (float)n_episodes);
  if (n_val < 1) n_val = 1;
  if (n_val > n_episodes - 1) n_val = n_episodes - 1;
  int* order = malloc(sizeof(int) * (size_t)n_episodes);
  for (int i = 0; i < n_episodes; i++) order[i] = i;
  nfp_rng rng;
  nfp_rng_seed(&rng, seed ^ 0x5eed5917ULL);
  for (int i = n_episodes - 1; i > 0; i--) {
    int j = (int)(nfp_rng_next(&rng) % (uint64_t)(i + 1));
    int tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  for (int i = 0; i < n_val; i++) is_val[order[i]] = 1;
  free(order);
}

// Every episode's frames shrunk img_down times into ds->images (one buffer).
static int shrink_images(nfp_dataset* ds, const nfp_episode* eps, int n_episodes) {
  const nfp_dataset_config* c = &ds->cfg;
  int sh = eps[0].img_h, sw = eps[0].img_w;
  for (int e = 0; e < n_episodes; e++) {
    if (!eps[e].images) {
      return nfp_error_set("dataset: episode %d (seed %lld) has no camera frames; record demos "
                           "with nfp collect --images", e, (long long)eps[e].seed);
    }
    if (eps[e].img_h != sh || eps[e].img_w != sw) {
      return nfp_error_set("dataset: episode %d has %d x %d frames, episode 0 has %d x %d", e,
                           eps[e].img_h, eps[e].img_w, sh, sw);
    }
  }
  int h = sh / c->img_down, w = sw / c->img_down;
  if (h < c->img_crop_h || w < c->img_crop_w || c->img_crop_h < 1 || c->img_crop_w < 1) {
    return nfp_error_set("dataset: frames of %d x %d shrunk %d times (%d x %d) cannot be cropped "
                         "to %d x %d", sh, sw, c->img_down, h, w, c->img_crop_h, c->img_crop_w);
  }
  nfp_image_window win = {c->img_crop_h, c->img_crop_w, c->img_off_y, c->img_off_x, 0};
  int y0, x0;
  nfp_image_window_place(&y0, &x0, &win, h, w, NULL);
  if (y0 < 0 || x0 < 0 || y0 + c->img_crop_h > h || x0 + c->img_crop_w > w) {
    return nfp_error_set("dataset: the %d x %d window at (%d, %d) does not fit in the %d x %d "
                         "shrunk frames", c->img_crop_h, c->img_crop_w, y0, x0, h, w);
  }
  if (c->img_shift > h || c->img_shift > w) {
    return nfp_error_set("dataset: a training shift of %d pixels exceeds the %d x %d shrunk "
                         "frames", c->img_shift, h, w);
  }
  ds->img_src_h = sh;
  ds->img_src_w = sw;
  ds->img_h = h;
  ds->img_w = w;
  size_t frame = (size_t)h * w * 3, src = (size_t)sh * sw * 3;
  ds->images = malloc(frame * (size_t)ds->n_frames);
  if (!ds->images) return nfp_error_set("dataset: out of memory for %d frames", ds->n_frames);
  size_t f = 0;
  for (int e = 0; e < n_episodes; e++) {
    for (int t = 0; t < eps[e].T; t++, f++) {
      nfp_image_shrink(ds->images + f * frame, eps[e].images + (size_t)t * src, sh, sw,
                       c->img_down);
    }
  }
  return 0;
}

// Room and statistics for every frame's object state alone (a training target). 0 or -1.
static int keep_objects(nfp_dataset* ds, const nfp_episode* eps, int n_episodes) {
  int k = eps[0].nobj;
  if (k < 1 || k > NFP_NORM_MAX_DIM) {
    return nfp_error_set("dataset: the object state was asked for as a training target, but "
                         "the demos record %d values", k);
  }
  for (int e = 0; e < n_episodes; e++) {
    if (eps[e].nobj != k || !eps[e].object_state) {
      return nfp_error_set("dataset: episode %d has %d object values, episode 0 has %d", e,
                           eps[e].nobj, k);
    }
  }
  ds->nobj = k;
  ds->object = malloc(sizeof(float) * (size_t)ds->n_frames * (size_t)k);
  if (!ds->object) return nfp_error_set("dataset: out of memory for %d frames", ds->n_frames);
  norm_fit(&ds->object_norm, eps, n_episodes, ds->is_val, k, FIELD_OBJECT);
  return 0;
}

// The dataset of eps[0..n_episodes); with twins, the second half twins the first.
static int build(nfp_dataset* ds, const nfp_episode* eps, int n_episodes,
                 const nfp_dataset_config* cfg, const nfp_norm* state_norm,
                 const nfp_norm* action_norm, int twins) {
  memset(ds, 0, sizeof(*ds));
  if (n_episodes < 1) return nfp_error_set("dataset: no episodes");
  if (cfg->horizon < 1 || cfg->stride < 1 || cfg->n_obs < 1) {
    return nfp_error_set("dataset: horizon, stride and n_obs must be >= 1 (got %d, %d, %d)",
                         cfg->horizon, cfg->stride, cfg->n_obs);
  }
  int nq = eps[0].nq;
  int use_object = cfg->use_object < 0 ? eps[0].nobj > 0 : cfg->use_object;
  int ns = nq + (use_object ? eps[0].nobj : 0);
  if (nq < 1 || ns > NFP_NORM_MAX_DIM) {
    return nfp_error_set("dataset: bad state width %d (joints %d)", ns, nq);
  }
  if (use_object && eps[0].nobj < 1) {
    return nfp_error_set("dataset: the object state was asked for, but the demos have none");
  }
  int n_frames = 0;
  for (int e = 0; e < n_episodes; e++) {
    if (eps[e].nq != nq) {
      return nfp_error_set("dataset: episode %d has %d joints, episode 0 has %d", e, eps[e].nq, nq);
    }
    if (use_object && (eps[e].nobj != eps[0].nobj || !eps[e].object_state)) {
      return nfp_error_set("dataset: episode %d has %d object values, episode 0 has %d", e,
                           eps[e].nobj, eps[0].nobj);
    }
    if (eps[e].T < 1) return nfp_error_set("dataset: episode %d has no frames", e);
    if (n_frames > (1 << 30) - eps[e].T) return nfp_error_set("dataset: too many frames");
    n_frames += eps[e].T;
  }
  ds->cfg = *cfg;
  ds->cfg.use_object = use_object;
  ds->nq = nq;
  ds->ns = ns;
  ds->seed_min = ds->seed_max = eps[0].seed;
  snprintf(ds->task, sizeof(ds->task), "%s", eps[0].task);
  for (int e = 1; e < n_episodes; e++) {
    if (eps[e].seed < ds->seed_min) ds->seed_min = eps[e].seed;
    if (eps[e].seed > ds->seed_max) ds->seed_max = eps[e].seed;
    if (strcmp(eps[e].task, ds->task)) ds->task[0] = '\0';
  }
  ds->obs_dim = cfg->n_obs * ns;
  ds->act_dim = cfg->horizon * nq;
  ds->n_episodes = n_episodes;
  ds->n_frames = n_frames;
  ds->ep_start = malloc(sizeof(int) * (size_t)(n_episodes + 1));
  ds->frame_ep = malloc(sizeof(int) * (size_t)n_frames);
  ds->is_val = malloc((size_t)n_episodes);
  ds->state = malloc(sizeof(float) * (size_t)n_frames * (size_t)ns);
  ds->action = malloc(sizeof(float) * (size_t)n_frames * (size_t)nq);
  ds->train_idx = malloc(sizeof(int) * (size_t)n_frames);
  ds->val_idx = malloc(sizeof(int) * (size_t)n_frames);
  if (!ds->ep_start || !ds->frame_ep || !ds->is_val || !ds->state || !ds->action ||
      !ds->train_idx || !ds->val_idx) {
    nfp_dataset_free(ds);
    return nfp_error_set("dataset: out of memory for %d frames", n_frames);
  }

  if (cfg->img_down > 0 && shrink_images(ds, eps, n_episodes) != 0) {
    nfp_dataset_free(ds);
    return -1;
  }
  split_episodes(ds->is_val, n_episodes, cfg->val_frac, cfg->seed, twins);
  if (state_norm && action_norm) {
    if (state_norm->dim != ns || action_norm->dim != nq) {
      nfp_dataset_free(ds);
      return nfp_error_set("dataset: statistics for %d state / %d action values, demos have "
                           "%d / %d", state_norm->dim, action_norm->dim, ns, nq);
    }
    ds->state_norm = *state_norm;
    ds->action_norm = *action_norm;
  } else {
    norm_fit(&ds->state_norm, eps, n_episodes, ds->is_val, ns, FIELD_STATE);
    norm_fit(&ds->action_norm, eps, n_episodes, ds->is_val, nq, FIELD_ACTION);
  }
  if (cfg->aux_object && keep_objects(ds, eps, n_episodes) != 0) {
    nfp_dataset_free(ds);
    return -1;
  }

  int f = 0;
  for (int e = 0; e < n_episodes; e++) {
    ds->ep_start[e] = f;
    normalize_frames(ds->state + (size_t)f * ns, &eps[e], &ds->state_norm, FIELD_STATE);
    normalize_frames(ds->action + (size_t)f * nq, &eps[e], &ds->action_norm, FIELD_ACTION);
    if (ds->object) {
      normalize_frames(ds->object + (size_t)f * ds->nobj, &eps[e], &ds->object_norm,
                       FIELD_OBJECT);
    }
    for (int t = 0; t < eps[e].T; t++, f++) {
      ds->frame_ep[f] = e;
      if (ds->is_val[e]) {
        ds->val_idx[ds->n_val++] = f;
      } else {
        ds->train_idx[ds->n_train++] = f;
      }
    }
  }
  ds->ep_start[n_episodes] = f;
  return 0;
}

int nfp_dataset_build(nfp_dataset* ds, const nfp_episode* eps, int n_episodes,
                      const nfp_dataset_config* cfg, const nfp_norm* state_norm,
                      const nfp_norm* action_norm) {
  if (!cfg->twin || n_episodes < 1) {
    return build(ds, eps, n_episodes, cfg, state_norm, action_norm, 0);
  }
  memset(ds, 0, sizeof(*ds));
  nfp_episode* all = calloc(2 * (size_t)n_episodes, sizeof(nfp_episode));
  if (!all) return nfp_error_set("dataset: out of memory for %d episodes", 2 * n_episodes);
  memcpy(all, eps, sizeof(nfp_episode) * (size_t)n_episodes);   // shallow: borrowed arrays
  int rc = 0, made = 0;
  for (; rc == 0 && made < n_episodes; made++) {
    if (cfg->twin(&all[n_episodes + made], &eps[made], cfg->twin_ctx) != 0) {
      rc = nfp_error_wrap("dataset: twin of episode %d (seed %lld)", made,
                          (long long)eps[made].seed);
    }
  }
  if (rc == 0) rc = build(ds, all, 2 * n_episodes, cfg, state_norm, action_norm, 1);
  for (int e = 0; e < made; e++) nfp_episode_free(&all[n_episodes + e]);
  free(all);
  return rc;
}

void nfp_dataset_free(nfp_dataset* ds) {
  free(ds->ep_start);
  free(ds->frame_ep);
  free(ds->is_val);
  free(ds->state);
  free(ds->action);
  free(ds->train_idx);
  free(ds->val_idx);
  free(ds->images);
  free(ds->object);
  memset(ds, 0, sizeof(*ds));
}

void nfp_dataset_gather(float* obs, float* act, const nfp_dataset* ds, const int* anchors, int n) {
  int nq = ds->nq, ns = ds->ns;
  size_t row = sizeof(float) * (size_t)nq, srow = sizeof(float) * (size_t)ns;
  for (int i = 0; i < n; i++) {
    int f = anchors[i];
    int e = ds->frame_ep[f];
    int first = ds->ep_start[e], last = ds->ep_start[e + 1] - 1;
    float* o = obs + (size_t)i * ds->obs_dim;
    for (int k = 0; k < ds->cfg.n_obs; k++) {
      int g = f - k;
      if (g < first) g = first;
      memcpy(o + k * ns, ds->state + (size_t)g * ns, srow);
    }
    float* a = act + (size_t)i * ds->act_dim;
    for (int h = 0; h < ds->cfg.horizon; h++) {
      int g = f + h * ds->cfg.stride;
      if (g > last) g = last;
      memcpy(a + h * nq, ds->action + (size_t)g * nq, row);
    }
  }
}

void nfp_dataset_gather_images(uint8_t* out, const nfp_dataset* ds, const int* anchors, int n,
                               nfp_rng* rng) {
  const nfp_dataset_config* c = &ds->cfg;
  nfp_image_window win = {c->img_crop_h, c->img_crop_w, c->img_off_y, c->img_off_x, c->img_shift};
  size_t frame = (size_t)ds->img_h * ds->img_w * 3, crop = (size_t)win.h * win.w * 3;
  int per = c->img_first ? 2 : 1;
  for (int i = 0; i < n; i++) {
    int y0, x0;
    nfp_image_window_place(&y0, &x0, &win, ds->img_h, ds->img_w, rng);
    uint8_t* o = out + (size_t)i * per * crop;
    nfp_image_crop(o, ds->images + (size_t)anchors[i] * frame, ds->img_h, ds->img_w, win.h,
                   win.w, y0, x0);
    if (!c->img_first) continue;
    int f0 = ds->ep_start[ds->frame_ep[anchors[i]]];
    nfp_image_crop(o + crop, ds->images + (size_t)f0 * frame, ds->img_h, ds->img_w, win.h, win.w,
                   y0, x0);
  }
}

void nfp_dataset_gather_object(float* out, const nfp_dataset* ds, const int* anchors, int n) {
  size_t k = (size_t)ds->nobj;
  for (int i = 0; i < n; i++) {
    memcpy(out + i * k, ds->object + (size_t)anchors[i] * k, sizeof(float) * k);
  }
}
