// The fine-tuning state file: the fine-tuned policy as the model tensors (what eval loads),
// and as "train.*" tensors and metadata everything a resume needs.
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"

#define N_WEIGHTS 6  // critic live and target, both optimisers' moments

// The float tensors besides the buffer, in one list for save and resume.
static void weight_tensors(const nfp_finetune* ft, nfp_extra_tensor* t) {
  const char* names[N_WEIGHTS] = {"train.critic.params", "train.critic.target",
                                  "train.critic.adam_m", "train.critic.adam_v",
                                  "train.actor.adam_m",  "train.actor.adam_v"};
  const float* data[N_WEIGHTS] = {ft->critic.params, ft->critic.target, ft->critic_opt.m,
                                  ft->critic_opt.v,  ft->actor_opt.m,   ft->actor_opt.v};
  for (int i = 0; i < N_WEIGHTS; i++) {
    t[i].name = names[i];
    t[i].ndim = 1;
    t[i].shape[0] = i < 4 ? ft->critic.num_params : ft->actor->num_params;
    t[i].data = data[i];
  }
}

// Counters, sums and the random stream -> the "finetune_state" JSON text (malloc'd).
static char* state_json(const nfp_finetune* ft) {
  char* s = malloc(1024);
  if (!s) return NULL;
  snprintf(s, 1024,
           "{\"stage\":%d,\"stage_step\":%d,\"updates\":%ld,\"actor_t\":%ld,\"critic_t\":%ld,"
           "\"buffer\":%d,\"critic_loss_sum\":%.17g,\"weight_sum\":%.17g,\"n_critic\":%ld,"
           "\"n_actor\":%ld,\"rng\":[\"%016" PRIx64 "\",\"%016" PRIx64 "\",\"%016" PRIx64
           "\",\"%016" PRIx64 "\"]}",
           ft->stage, ft->stage_step, ft->updates, ft->actor_opt.t, ft->critic_opt.t, ft->buf.n,
           ft->critic_loss_sum, ft->weight_sum, ft->n_critic, ft->n_actor, ft->rng.s[0],
           ft->rng.s[1], ft->rng.s[2], ft->rng.s[3]);
  return s;
}

int nfp_finetune_save(const nfp_finetune* ft, const char* path) {
  nfp_meta meta = {0};
  nfp_extra_tensor t[N_WEIGHTS + NFP_REPLAY_TENSORS];
  weight_tensors(ft, t);
  int n = N_WEIGHTS;
  if (ft->buf.n > 0) {
    nfp_replay_tensors(&ft->buf, t + n);
    n += NFP_REPLAY_TENSORS;
  }
  char* st = state_json(ft);
  char* cc = nfp_critic_config_to_json(&ft->critic.cfg);
  int rc =
      (!st || !cc) ? nfp_error_set("out of memory saving %s", path)
      : (nfp_meta_set(&meta, "finetune_state", st) || nfp_meta_set(&meta, "critic_config", cc) ||
         (ft->task[0] && nfp_meta_set(&meta, "demo_task", ft->task)))
          ? -1
          : nfp_checkpoint_save(path, ft->actor, NULL, &meta, t, n);
  free(st);
  free(cc);
  nfp_meta_free(&meta);
  return rc;
}

// One integral field of the state JSON in [lo, hi] into *out.
static int get_long(cJSON* root, const char* name, long lo, long hi, long* out) {
  cJSON* v = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
      v->valuedouble > hi) {
    return nfp_error_set("'%s' missing or outside %ld..%ld", name, lo, hi);
  }
  *out = (long)v->valuedouble;
  return 0;
}

static int get_double(cJSON* root, const char* name, double* out) {
  cJSON* v = cJSON_GetObjectItemCaseSensitive(root, name);
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
    return nfp_error_set("'%s' missing or not finite", name);
  }
  *out = v->valuedouble;
  return 0;
}

// "finetune_state" JSON -> counters, sums, rng, and the buffer's row count.
static int parse_state(nfp_finetune* ft, const char* json, int* rows) {
  cJSON* root = json ? cJSON_Parse(json) : NULL;
  if (!root) return nfp_error_set("no readable 'finetune_state': not a fine-tuning file");
  long v[8];
  const char* names[8] = {"stage",    "stage_step", "updates",  "actor_t",
                          "critic_t", "buffer",     "n_critic", "n_actor"};
  long hi[8] = {NFP_FT_DONE, 1L << 30, 1L << 40, 1L << 40, 1L << 40, 1L << 24, 1L << 40, 1L << 40};
  int rc = 0;
  for (int i = 0; i < 8 && !rc; i++) rc = get_long(root, names[i], 0, hi[i], &v[i]);
  if (!rc) rc = get_double(root, "critic_loss_sum", &ft->critic_loss_sum);
  if (!rc) rc = get_double(root, "weight_sum", &ft->weight_sum);
  cJSON* rng = cJSON_GetObjectItemCaseSensitive(root, "rng");
  for (int i = 0; i < 4 && !rc; i++) {
    cJSON* e = cJSON_IsArray(rng) ? cJSON_GetArrayItem(rng, i) : NULL;
    char* end = NULL;
    if (!cJSON_IsString(e) || strlen(e->valuestring) != 16) {
      rc = nfp_error_set("'rng' must hold four 16-digit hex strings");
    } else {
      ft->rng.s[i] = strtoull(e->valuestring, &end, 16);
      if (*end) rc = nfp_error_set("'rng' must hold four 16-digit hex strings");
    }
  }
  cJSON_Delete(root);
  if (rc) return -1;
  ft->stage = (int)v[0];
  ft->stage_step = (int)v[1];
  if (ft->stage == NFP_FT_DONE) {  // a finished run asked for more online episodes goes on
    if (ft->stage_step >= ft->cfg.online_episodes) {
      return nfp_error_set(
          "already ran %d online episodes; ask for more with a larger budget "
          "(now %d)",
          ft->stage_step, ft->cfg.online_episodes);
    }
    ft->stage = NFP_FT_ONLINE;
  }
  ft->updates = v[2];
  ft->actor_opt.t = v[3];
  ft->critic_opt.t = v[4];
  *rows = (int)v[5];
  ft->n_critic = v[6];
  ft->n_actor = v[7];
  return 0;
}

// A read checkpoint -> actor, critic, optimisers, buffer and counters of ft.
static int restore(nfp_finetune* ft, const nfp_checkpoint* ck) {
  nfp_meta meta = {0};
  nfp_model* saved = nfp_checkpoint_model(ck, &ft->actor->cfg, &meta);
  if (!saved) return -1;
  nfp_critic_config cc;
  int rows = 0, rc = 0;
  const char* ccj = nfp_meta_get(&meta, "critic_config");
  if (!ccj || nfp_critic_config_from_json(&cc, ccj)) {
    rc = nfp_error_set("no readable 'critic_config': not a fine-tuning file");
  } else if (memcmp(&cc, &ft->critic.cfg, sizeof(cc))) {
    rc = nfp_error_set("its critic (%d x %d, %d networks) differs from this run's (%d x %d, %d)",
                       cc.hidden, cc.blocks, cc.n_q, ft->critic.cfg.hidden, ft->critic.cfg.blocks,
                       ft->critic.cfg.n_q);
  }
  if (!rc) rc = parse_state(ft, nfp_meta_get(&meta, "finetune_state"), &rows);
  nfp_extra_tensor t[N_WEIGHTS];
  weight_tensors(ft, t);
  for (int i = 0; i < N_WEIGHTS && !rc; i++) {
    rc = nfp_checkpoint_extra(ck, t[i].name, (float*)t[i].data, t[i].shape[0]);
  }
  if (!rc) rc = nfp_replay_load(&ft->buf, ck, rows);
  if (!rc) {
    memcpy(ft->actor->params, saved->params, sizeof(float) * saved->num_params);
    ft->n_offline = 0;
    while (ft->n_offline < ft->buf.n && ft->buf.source[ft->n_offline] != NFP_REPLAY_ONLINE) {
      ft->n_offline++;
    }
  }
  nfp_model_free(saved);
  nfp_meta_free(&meta);
  return rc;
}

int nfp_finetune_resume(nfp_finetune* ft, const char* path) {
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  if (!ck) return nfp_error_wrap("resuming fine-tuning");
  int rc = restore(ft, ck);
  nfp_checkpoint_free(ck);
  return rc ? nfp_error_wrap("resuming fine-tuning from %s", path) : 0;
}
