// nfp bench --ranks: what data-parallel training costs and gains. Under `mpirun -np N`
// every rank times nfp_trainer_step (the step nfp train takes: gather, forward, backward,
// the gradient sum across ranks, clip, AdamW, EMA) on synthetic demos the size of Lift
// Pot's, for the default state model or a camera model; rank 0 reports global samples/s,
// the step time, the share spent communicating (waits included), and the gradient bytes
// (what the scaling estimate for a cluster starts from).
#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bench_ranks.h"
#include "files.h"
#include "nfp/clock.h"
#include "nfp/cluster.h"
#include "nfp/error.h"
#include "nfp/layers.h"
#include "nfp/stats.h"
#include "nfp/train.h"
#include "train_group.h"

#define RANKS_EPISODES 8
#define RANKS_FRAMES 300  // about a Lift Pot demo
#define RANKS_NQ 14
#define RANKS_NOBJ 7
#define RANKS_CAM_H 240
#define RANKS_CAM_W 320

typedef struct {
  const char* model;  // "state" or "cnn"
  int batch, steps, threads;
  const char* json;
  // measured
  size_t params;
  double step_ms, comm_ms, samples_per_s;  // medians over the timed steps
} ranks_bench;

// Synthetic episodes (smooth joint paths, random object poses and frames) -> ds. 0 or -1.
static int synthetic_dataset(nfp_dataset* ds, const nfp_model_config* mc, int images) {
  nfp_episode eps[RANKS_EPISODES];
  memset(eps, 0, sizeof(eps));
  nfp_rng rng;
  nfp_rng_seed(&rng, 21);
  int rc = 0;
  for (int e = 0; e < RANKS_EPISODES && rc == 0; e++) {
    rc = nfp_episode_alloc(&eps[e], RANKS_FRAMES, RANKS_NQ, RANKS_NOBJ,
                           images ? RANKS_CAM_H : 0, images ? RANKS_CAM_W : 0);
    if (rc != 0) break;
    eps[e].seed = e;
    for (int t = 0; t < RANKS_FRAMES; t++) {
      for (int j = 0; j < RANKS_NQ; j++) {
        double q = sin(0.01 * t * (j + 1) + e);
        eps[e].qpos[t * RANKS_NQ + j] = q;
        eps[e].action[t * RANKS_NQ + j] = q + 0.01 * nfp_rng_normal(&rng);
      }
      for (int k = 0; k < RANKS_NOBJ; k++) {
        eps[e].object_state[t * RANKS_NOBJ + k] = nfp_rng_normal(&rng);
      }
    }
    size_t npix = images ? (size_t)RANKS_FRAMES * RANKS_CAM_H * RANKS_CAM_W * 3 : 0;
    for (size_t i = 0; i < npix; i++) eps[e].images[i] = (uint8_t)(nfp_rng_next(&rng) >> 56);
  }
  nfp_dataset_config dc;
  nfp_dataset_config_default(&dc);
  dc.horizon = mc->horizon;
  dc.stride = mc->stride;
  dc.n_obs = mc->n_obs;
  dc.use_object = images ? 0 : 1;
  if (images) dc.img_down = mc->img_down, dc.img_crop_h = mc->img_h, dc.img_crop_w = mc->img_w;
  if (rc == 0) rc = nfp_dataset_build(ds, eps, RANKS_EPISODES, &dc, NULL, NULL);
  for (int e = 0; e < RANKS_EPISODES; e++) nfp_episode_free(&eps[e]);
  return rc;
}

// The model under test: the default state model, or the camera recipe (cnn, 60 x 80).
static int bench_model_config(nfp_model_config* mc, const char* kind) {
  nfp_model_config_default(mc);
  if (!strcmp(kind, "state")) return 0;
  if (strcmp(kind, "cnn")) return nfp_error_set("--model must be state or cnn, got '%s'", kind);
  mc->encoder = NFP_ENCODER_CNN;
  mc->n_cam = 1;
  mc->img_down = 4;
  mc->img_h = 60;
  mc->img_w = 80;
  mc->img_src_h = RANKS_CAM_H;
  mc->img_src_w = RANKS_CAM_W;
  return 0;
}

// Two warm-up steps, then b->steps timed ones -> the medians in b. 0 or -1.
static int time_steps(ranks_bench* b, nfp_trainer* tr) {
  double* t = malloc(sizeof(double) * (size_t)b->steps);
  double* c = malloc(sizeof(double) * (size_t)b->steps);
  int rc = t && c ? 0 : nfp_error_set("out of memory");
  for (int i = 0; i < 2 + b->steps && rc == 0; i++) {
    const int* anchors = tr->ds->train_idx + (size_t)(i * b->batch) % (tr->ds->n_train - b->batch);
    double c0 = tr->comm_seconds, t0 = nfp_clock_seconds(), nll;
    rc = nfp_trainer_step(tr, anchors, b->batch, 1e-4f, &nll);
    if (i >= 2) {
      t[i - 2] = 1e3 * (nfp_clock_seconds() - t0);
      c[i - 2] = 1e3 * (tr->comm_seconds - c0);
    }
  }
  if (rc == 0) {
    b->step_ms = nfp_median(t, b->steps);
    b->comm_ms = nfp_median(c, b->steps);
    b->samples_per_s = b->batch / (1e-3 * b->step_ms);
  }
  free(t);
  free(c);
  return rc;
}

// Model, synthetic data, trainer -> timed steps. 0 or -1.
static int ranks_measure(ranks_bench* b) {
  nfp_model_config mc;
  if (bench_model_config(&mc, b->model) != 0) return -1;
  nfp_dataset ds;
  if (synthetic_dataset(&ds, &mc, mc.n_cam > 0) != 0) return -1;
  if (ds.n_train <= b->batch) {
    nfp_dataset_free(&ds);
    return nfp_error_set("--batch %d needs more than the %d synthetic windows", b->batch,
                         ds.n_train);
  }
  mc.action_dim = ds.nq;
  mc.state_dim = ds.ns;
  nfp_model* m = nfp_model_create(&mc, 1);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.batch = b->batch;
  tc.epochs = 1;
  tc.threads = b->threads;
  nfp_trainer tr;
  int rc = m ? nfp_trainer_init(&tr, m, &ds, &tc) : -1;
  if (rc == 0) {
    b->params = m->num_params;
    tr.group = nfp_app_train_group();
    rc = time_steps(b, &tr);
    nfp_trainer_free(&tr);
  }
  nfp_model_free(m);
  nfp_dataset_free(&ds);
  return rc;
}

// The figures -> a JSON object (caller deletes).
static cJSON* ranks_json(const ranks_bench* b) {
  const nfp_cluster* w = nfp_cluster_world();
  cJSON* o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "model", b->model);
  cJSON_AddNumberToObject(o, "params", (double)b->params);
  cJSON_AddNumberToObject(o, "ranks", w->size);
  cJSON_AddNumberToObject(o, "threads_per_rank", b->threads);
  cJSON_AddStringToObject(o, "blas_kernels", nfp_blas_core());
  cJSON_AddBoolToObject(o, "blas_kernels_chosen_by_nfp", nfp_blas_core_fitted());
  cJSON_AddNumberToObject(o, "batch", b->batch);
  cJSON_AddNumberToObject(o, "steps", b->steps);
  cJSON_AddNumberToObject(o, "step_ms", b->step_ms);
  cJSON_AddNumberToObject(o, "comm_ms", b->comm_ms);
  cJSON_AddNumberToObject(o, "comm_share", b->step_ms > 0 ? b->comm_ms / b->step_ms : 0);
  cJSON_AddNumberToObject(o, "samples_per_s", b->samples_per_s);
  cJSON_AddNumberToObject(o, "gradient_bytes_per_step", 4.0 * (double)b->params);
  return o;
}

// Rank 0: the figures on stdout, and as JSON in b->json. 0 or -1.
static int ranks_report(const ranks_bench* b) {
  const nfp_cluster* w = nfp_cluster_world();
  printf("data-parallel training, %s model (%zu parameters), batch %d, %d rank%s x %d "
         "thread%s:\n  step %.1f ms (median of %d), of which communicating %.1f ms "
         "(%.1f %%); %.0f samples/s; %.1f MB summed per step\n",
         b->model, b->params, b->batch, w->size, w->size == 1 ? "" : "s", b->threads,
         b->threads == 1 ? "" : "s", b->step_ms, b->steps, b->comm_ms,
         b->step_ms > 0 ? 100.0 * b->comm_ms / b->step_ms : 0.0, b->samples_per_s,
         4e-6 * (double)b->params);
  if (!b->json) return 0;
  cJSON* o = ranks_json(b);
  char* text = cJSON_Print(o);
  cJSON_Delete(o);
  int rc = text ? nfp_text_write(b->json, text) : nfp_error_set("out of memory");
  free(text);
  if (rc == 0) printf("wrote %s\n", b->json);
  return rc;
}

int nfp_bench_ranks(int argc, char** argv) {
  ranks_bench b = {.model = "state", .batch = 256, .steps = 10, .threads = 1};
  int ranks = 0;
  nfp_arg args[] = {
      {"--ranks", NFP_ARG_FLAG, &ranks, NULL, "measure data-parallel training (this benchmark)",
       0, 0, 0},
      {"--model", NFP_ARG_STR, &b.model, "KIND", "state (the default model) or cnn (camera)", 0,
       0, 0},
      {"--batch", NFP_ARG_INT, &b.batch, "N", "global batch of a step (256)", 2, 4096, 0},
      {"--steps", NFP_ARG_INT, &b.steps, "N", "timed steps after two warm-up steps (10)", 1,
       10000, 0},
      {"--threads", NFP_ARG_INT, &b.threads, "N", "OpenBLAS threads per rank (1)", 1, 256, 0},
      {"--json", NFP_ARG_STR, &b.json, "FILE", "write the figures as JSON (rank 0)", 0, 0, 0},
  };
  int rc = nfp_args_parse(argc, argv, args, 6,
                          "mpirun -np N nfp bench --ranks [--model state|cnn] [--batch N] "
                          "[--steps N] [--threads N] [--json FILE]",
                          "Times the training step of nfp train on every rank of an MPI job "
                          "(or alone): each\nrank computes its share of the batch, gradients "
                          "are summed across ranks. Rank 0\nreports global samples/s, the step "
                          "time and the share spent summing gradients.");
  if (rc) return rc == 1 ? 0 : 2;
  int rank = nfp_cluster_world()->rank;
  if (rank == 0 && b.json && nfp_file_check_writable(b.json)) rc = nfp_error_wrap("--json");
  openblas_set_num_threads(b.threads);
  if (rc == 0) rc = ranks_measure(&b);
  if (rc == 0 && rank == 0) rc = ranks_report(&b);
  if (rc != 0) fprintf(stderr, "nfp bench: %s\n", nfp_error_last());
  return rc == 0 ? 0 : 1;
}
