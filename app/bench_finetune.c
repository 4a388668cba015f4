// nfp bench --finetune: what RL fine-tuning's updates cost. Times nfp_finetune_update (the
// update nfp finetune takes: a policy draw for every row's next and own observation, the
// critic's TD step, and the actor's weighted-likelihood step) on synthetic demos for the
// default state model, critic alone and critic plus actor, as transitions per second.
#include "bench_finetune.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "files.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rl.h"
#include "nfp/stats.h"

#define FT_EPISODES 8
#define FT_FRAMES 300  // about a Lift Pot demo
#define FT_NQ 14

typedef struct {
  int batch, steps, threads;
  const char* json;
  double critic_ms, update_ms;  // medians over the timed updates
} finetune_bench;

// Synthetic episodes (smooth joint paths) -> eps[FT_EPISODES]. 0 or -1.
static int synthetic_demos(nfp_episode* eps) {
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  for (int e = 0; e < FT_EPISODES; e++) {
    if (nfp_episode_alloc(&eps[e], FT_FRAMES, FT_NQ, 0, 0, 0)) return -1;
    eps[e].seed = e;
    eps[e].success = e % 2;
    for (int t = 0; t < FT_FRAMES * FT_NQ; t++) {
      eps[e].qpos[t] = sin(0.01 * t + e);
      eps[e].action[t] = eps[e].qpos[t] + 0.01 * nfp_rng_normal(&rng);
    }
  }
  return 0;
}

// Median milliseconds of `steps` updates after one warm-up, with or without the actor.
static int time_updates(nfp_finetune* ft, int steps, int with_actor, double* ms) {
  double* t = malloc(sizeof(double) * (size_t)steps);
  if (!t) return nfp_error_set("out of memory");
  int rc = nfp_finetune_update(ft, with_actor);
  for (int i = 0; i < steps && !rc; i++) {
    double t0 = nfp_clock_ms();
    rc = nfp_finetune_update(ft, with_actor);
    t[i] = nfp_clock_ms() - t0;
  }
  if (!rc) *ms = nfp_median(t, steps);
  free(t);
  return rc;
}

// The default state model on synthetic demos -> b's timings. 0 or -1.
static int measure(finetune_bench* b) {
  nfp_episode eps[FT_EPISODES];
  memset(eps, 0, sizeof(eps));
  nfp_model_config mc;
  nfp_model_config_default(&mc);
  nfp_model* m = nfp_model_create(&mc, 1);
  int rc = m ? synthetic_demos(eps) : -1;
  nfp_finetune ft;
  memset(&ft, 0, sizeof(ft));
  if (!rc) {
    nfp_finetune_config cfg;
    nfp_finetune_config_default(&cfg, m);
    cfg.batch = b->batch;
    cfg.actor_lr = 1e-6f;  // the weights barely move: every timed update is alike
    rc = nfp_finetune_init(&ft, m, eps, FT_EPISODES, &cfg);
  }
  if (!rc) rc = time_updates(&ft, b->steps, 0, &b->critic_ms);
  if (!rc) rc = time_updates(&ft, b->steps, 1, &b->update_ms);
  nfp_finetune_free(&ft);
  nfp_model_free(m);
  for (int e = 0; e < FT_EPISODES; e++) nfp_episode_free(&eps[e]);
  return rc;
}

// b -> stdout, and JSON in b->json. 0 or -1.
static int report(const finetune_bench* b) {
  double cs = 1e3 * b->batch / b->critic_ms, us = 1e3 * b->batch / b->update_ms;
  printf("fine-tuning updates, default state model, batch %d, %d thread(s), median of %d:\n",
         b->batch, b->threads, b->steps);
  printf("  critic update (policy draws + TD step)   %8.1f ms  %9.0f transitions/s\n", b->critic_ms,
         cs);
  printf("  critic + actor update                    %8.1f ms  %9.0f transitions/s\n", b->update_ms,
         us);
  if (!b->json) return 0;
  cJSON* o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "bench", "finetune");
  cJSON_AddNumberToObject(o, "batch", b->batch);
  cJSON_AddNumberToObject(o, "threads", b->threads);
  cJSON_AddNumberToObject(o, "steps", b->steps);
  cJSON_AddNumberToObject(o, "critic_update_ms", b->critic_ms);
  cJSON_AddNumberToObject(o, "critic_samples_per_s", cs);
  cJSON_AddNumberToObject(o, "update_ms", b->update_ms);
  cJSON_AddNumberToObject(o, "update_samples_per_s", us);
  char* text = cJSON_Print(o);
  cJSON_Delete(o);
  int rc = text ? nfp_text_write(b->json, text) : nfp_error_set("out of memory");
  free(text);
  if (!rc) printf("wrote %s\n", b->json);
  return rc;
}

int nfp_bench_finetune(int argc, char** argv) {
  finetune_bench b = {.batch = 256, .steps = 20, .threads = 1};
  nfp_arg args[] = {
      {"--finetune", NFP_ARG_FLAG, &(int){0}, NULL, "this benchmark", 0, 0, 0},
      {"--batch", NFP_ARG_INT, &b.batch, "N", "transitions per update", 2, 65536, 0},
      {"--steps", NFP_ARG_INT, &b.steps, "N", "timed updates of each kind", 1, 100000, 0},
      {"--threads", NFP_ARG_INT, &b.threads, "N", "OpenBLAS threads", 1, 256, 0},
      {"--json", NFP_ARG_STR, &b.json, "FILE", "write the figures as JSON", 0, 0, 0},
  };
  int prc = nfp_args_parse(argc, argv, args, (int)(sizeof(args) / sizeof(args[0])),
                           "nfp bench --finetune [--batch N] [--steps N] [--json FILE]",
                           "Times nfp finetune's update on synthetic demos (default state "
                           "model): the critic's\nupdate alone and with the actor's, median "
                           "milliseconds and transitions per second.");
  if (prc) return prc == 1 ? 0 : 2;
  openblas_set_num_threads(b.threads);
  if (measure(&b) || report(&b)) {
    fprintf(stderr, "nfp bench --finetune: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
