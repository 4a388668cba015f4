// nfp bench, image encoders: latency of one observation through the encoder (uint8 frame ->
// ImageNet normalisation -> trunk -> flatten + state -> MLP -> context) and training
// throughput of the whole model with that encoder, beside bench/torch_peer.py --encoder.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_encoder.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rng.h"
#include "nfp/stats.h"
#include "nfp/train.h"

void nfp_bench_enc_setup(nfp_bench_enc* r, int kind) {
  memset(r, 0, sizeof(*r));
  r->name = kind == NFP_ENCODER_CNN ? "cnn" : "resnet18";
  nfp_model_config_default(&r->cfg);
  r->cfg.encoder = kind;
  r->cfg.n_cam = 1;
  r->cfg.img_h = 56;
  r->cfg.img_w = 72;
  r->cfg.img_src_h = 240;
  r->cfg.img_src_w = 320;
  r->cfg.img_down = 4;
  r->t_enc_ms = r->t_enc_p99_ms = r->t_train_sps = r->t_enc_cpu_ms = r->t_train_cpu_sps = NAN;
}

// CPU seconds of the whole process: on a shared machine, less disturbed by other jobs than
// wall time (equal to it on an idle one at one thread).
static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

// As the flow benchmark (and the peer): a fresh flow is the identity, so the spline output
// layers get small random weights and every spline bends.
static void perturb_flow(nfp_model* m, nfp_rng* rng) {
  for (int i = 0; i < m->table.n; i++) {
    const nfp_tensor_info* t = &m->table.t[i];
    if (!strncmp(t->name, "flow.", 5) && strstr(t->name, ".out.weight")) {
      for (size_t k = 0; k < t->size; k++)
        m->params[t->offset + k] = (float)nfp_rng_range(rng, -0.01, 0.01);
    }
  }
}

// Random observations for B rows: normalised states and uint8 frames at the input size.
static void fill_obs(float* state, uint8_t* img, const nfp_model_config* c, int B, nfp_rng* rng) {
  for (size_t i = 0; i < (size_t)B * c->n_obs * c->state_dim; i++)
    state[i] = 0.5f * (float)nfp_rng_normal(rng);
  for (size_t i = 0; i < (size_t)B * c->n_cam * c->img_h * c->img_w * 3; i++)
    img[i] = (uint8_t)(nfp_rng_next(rng) >> 56);
}

static int time_encode(nfp_bench_enc* r, const nfp_model* m, int repeats) {
  const nfp_model_config* c = &r->cfg;
  nfp_model_ws* ws = nfp_model_ws_create(m, 1);
  float* state = malloc(sizeof(float) * (size_t)m->obs_dim);
  uint8_t* img = malloc((size_t)c->n_cam * c->img_h * c->img_w * 3);
  float* ctx = malloc(sizeof(float) * (size_t)c->context_dim);
  double* t = malloc(sizeof(double) * (size_t)repeats);
  double* cpu = malloc(sizeof(double) * (size_t)repeats);
  int rc = ws && state && img && ctx && t && cpu ? 0 : nfp_error_set("out of memory");
  if (rc == 0) {
    nfp_rng rng;
    nfp_rng_seed(&rng, 5);
    fill_obs(state, img, c, 1, &rng);
    nfp_obs_batch ob = {.state = state, .image = img, .n_cam = c->n_cam, .img_h = c->img_h,
                        .img_w = c->img_w};
    int warmup = 5;
    for (int i = 0; i < warmup + repeats; i++) {
      double t0 = nfp_clock_seconds(), c0 = cpu_seconds();
      nfp_model_encode(m, ws, &ob, 1, ctx);
      if (i >= warmup) {
        t[i - warmup] = 1e3 * (nfp_clock_seconds() - t0);
        cpu[i - warmup] = 1e3 * (cpu_seconds() - c0);
      }
    }
    r->enc_p99_ms = nfp_percentile(t, repeats, 0.99);
    r->enc_ms = nfp_median(t, repeats);
    r->enc_cpu_ms = nfp_median(cpu, repeats);
  }
  nfp_model_ws_free(ws);
  free(state);
  free(img);
  free(ctx);
  free(t);
  free(cpu);
  return rc;
}

// One training step as nfp train takes it, with the frames already cropped: NLL forward,
// backward, clip, AdamW.
static int time_training(nfp_bench_enc* r, nfp_model* m, int repeats) {
  const nfp_model_config* c = &r->cfg;
  int B = NFP_BENCH_ENC_BATCH;
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  float* state = malloc(sizeof(float) * (size_t)B * m->obs_dim);
  uint8_t* img = malloc((size_t)B * c->n_cam * c->img_h * c->img_w * 3);
  float* act = malloc(sizeof(float) * (size_t)B * m->chunk_dim);
  float* grads = malloc(sizeof(float) * m->num_params);
  double* logp = malloc(sizeof(double) * B);
  double* dlogp = malloc(sizeof(double) * B);
  double* t = malloc(sizeof(double) * (size_t)repeats);
  double* cpu = malloc(sizeof(double) * (size_t)repeats);
  nfp_adamw opt = {0};
  int rc = ws && state && img && act && grads && logp && dlogp && t && cpu
               ? 0
               : nfp_error_set("out of memory");
  if (rc == 0) rc = nfp_adamw_init(&opt, m->num_params, 0.9f, 0.999f, 1e-8f, 1e-4f);
  if (rc == 0) {
    nfp_rng rng;
    nfp_rng_seed(&rng, 11);
    fill_obs(state, img, c, B, &rng);
    for (size_t i = 0; i < (size_t)B * m->chunk_dim; i++)
      act[i] = (float)nfp_rng_range(&rng, -0.9, 0.9);
    for (int i = 0; i < B; i++) dlogp[i] = -1.0 / B;
  }
  nfp_obs_batch ob = {.state = state, .image = img, .n_cam = c->n_cam, .img_h = c->img_h,
                      .img_w = c->img_w};
  for (int i = 0; i < 1 + repeats && rc == 0; i++) {
    double t0 = nfp_clock_seconds(), c0 = cpu_seconds();
    rc = nfp_model_logprob(m, ws, &ob, act, B, logp);
    memset(grads, 0, sizeof(float) * m->num_params);
    if (rc == 0) nfp_model_backward(m, ws, dlogp, grads, NULL);
    nfp_grad_clip(grads, m->num_params, 5.0f);
    nfp_adamw_step(&opt, m->params, grads, NULL, 1e-4f);
    if (i >= 1) {
      t[i - 1] = 1e3 * (nfp_clock_seconds() - t0);
      cpu[i - 1] = 1e3 * (cpu_seconds() - c0);
    }
  }
  if (rc == 0) {
    r->train_ms = nfp_median(t, repeats);
    r->train_sps = B / (1e-3 * r->train_ms);
    r->train_cpu_sps = B / (1e-3 * nfp_median(cpu, repeats));
  }
  nfp_adamw_free(&opt);
  nfp_model_ws_free(ws);
  free(state);
  free(img);
  free(act);
  free(grads);
  free(logp);
  free(dlogp);
  free(t);
  free(cpu);
  return rc;
}

int nfp_bench_enc_run(nfp_bench_enc* r, int repeats, int train_repeats) {
  nfp_model* m = nfp_model_create(&r->cfg, 1);
  if (!m) return nfp_error_wrap("%s encoder model", r->name);
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  perturb_flow(m, &rng);
  r->params = m->num_params;
  r->enc_params = 0;
  for (int i = 0; i < m->table.n; i++) {
    if (!strncmp(m->table.t[i].name, "enc.", 4)) r->enc_params += m->table.t[i].size;
  }
  int rc = time_encode(r, m, repeats);
  if (rc == 0) rc = time_training(r, m, train_repeats);
  nfp_model_free(m);
  return rc == 0 ? 0 : nfp_error_wrap("%s encoder", r->name);
}

void nfp_bench_enc_peer_keys(char* buf, size_t size, const nfp_bench_enc* r) {
  snprintf(buf, size, "kind=%s,n_cam=%d,img_h=%d,img_w=%d", r->name, r->cfg.n_cam, r->cfg.img_h,
           r->cfg.img_w);
}

static double json_num(const cJSON* o, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int nfp_bench_enc_from_peer(nfp_bench_enc* r, const cJSON* o) {
  const cJSON* err = cJSON_GetObjectItemCaseSensitive(o, "error");
  if (cJSON_IsString(err)) return nfp_error_set("%s encoder: %s", r->name, err->valuestring);
  r->t_params = (long)json_num(o, "params");
  r->t_enc_params = (long)json_num(o, "encoder_params");
  r->t_enc_ms = json_num(o, "encode_ms");
  r->t_enc_p99_ms = json_num(o, "encode_p99_ms");
  r->t_train_sps = json_num(o, "train_samples_per_s");
  r->t_enc_cpu_ms = json_num(o, "encode_cpu_ms");
  r->t_train_cpu_sps = json_num(o, "train_cpu_samples_per_s");
  if (!isfinite(r->t_enc_ms) || !isfinite(r->t_enc_p99_ms) || !isfinite(r->t_train_sps)) {
    return nfp_error_set("the peer gave no figures for the %s encoder", r->name);
  }
  return 0;
}

int nfp_bench_enc_encode_met(const nfp_bench_enc* r) { return r->t_enc_ms / r->enc_ms >= 1.0; }
int nfp_bench_enc_train_met(const nfp_bench_enc* r) { return r->train_sps / r->t_train_sps >= 1.0; }

static void add_num(cJSON* o, const char* key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, round(v * 1e4) / 1e4);
  else cJSON_AddNullToObject(o, key);
}

cJSON* nfp_bench_enc_json(const nfp_bench_enc* r, int torch) {
  cJSON* o = cJSON_CreateObject();
  const nfp_model_config* c = &r->cfg;
  cJSON_AddStringToObject(o, "encoder", r->name);
  cJSON_AddNumberToObject(o, "params", (double)r->params);
  cJSON_AddNumberToObject(o, "encoder_params", (double)r->enc_params);
  cJSON_AddNumberToObject(o, "n_cam", c->n_cam);
  cJSON_AddNumberToObject(o, "img_h", c->img_h);
  cJSON_AddNumberToObject(o, "img_w", c->img_w);
  cJSON_AddNumberToObject(o, "state_dim", c->state_dim);
  cJSON_AddNumberToObject(o, "n_obs", c->n_obs);
  cJSON_AddNumberToObject(o, "context_dim", c->context_dim);
  cJSON_AddNumberToObject(o, "train_batch", NFP_BENCH_ENC_BATCH);
  cJSON_AddStringToObject(o, "train_step", "whole model: NLL forward + backward + clip + AdamW");
  add_num(o, "encode_ms", r->enc_ms);
  add_num(o, "encode_p99_ms", r->enc_p99_ms);
  add_num(o, "train_step_ms", r->train_ms);
  add_num(o, "train_samples_per_s", r->train_sps);
  add_num(o, "encode_cpu_ms", r->enc_cpu_ms);
  add_num(o, "train_cpu_samples_per_s", r->train_cpu_sps);
  if (torch) {
    cJSON_AddNumberToObject(o, "torch_params", (double)r->t_params);
    cJSON_AddNumberToObject(o, "torch_encoder_params", (double)r->t_enc_params);
    add_num(o, "torch_encode_ms", r->t_enc_ms);
    add_num(o, "torch_encode_p99_ms", r->t_enc_p99_ms);
    add_num(o, "torch_train_samples_per_s", r->t_train_sps);
    add_num(o, "torch_encode_cpu_ms", r->t_enc_cpu_ms);
    add_num(o, "torch_train_cpu_samples_per_s", r->t_train_cpu_sps);
    add_num(o, "speedup_encode", r->t_enc_ms / r->enc_ms);
    add_num(o, "speedup_encode_p99", r->t_enc_p99_ms / r->enc_p99_ms);
    add_num(o, "speedup_train", r->train_sps / r->t_train_sps);
    add_num(o, "speedup_encode_cpu", r->t_enc_cpu_ms / r->enc_cpu_ms);
    add_num(o, "speedup_train_cpu", r->train_cpu_sps / r->t_train_cpu_sps);
  }
  cJSON* tg = cJSON_AddObjectToObject(o, "targets");
  if (torch) {
    cJSON_AddBoolToObject(tg, "encode_ge_torch", nfp_bench_enc_encode_met(r));
    cJSON_AddBoolToObject(tg, "train_ge_torch", nfp_bench_enc_train_met(r));
  } else {
    cJSON_AddNullToObject(tg, "encode_ge_torch");
    cJSON_AddNullToObject(tg, "train_ge_torch");
  }
  return o;
}

static void print_row(const char* what, const char* unit, double c, double t, int torch, int up) {
  printf("  %-22s %10.3f %-10s", what, c, unit);
  if (torch && isfinite(t)) printf(" %10.3f   x%.2f", t, up ? c / t : t / c);
  printf("\n");
}

void nfp_bench_enc_print(const nfp_bench_enc* r, int torch) {
  const nfp_model_config* c = &r->cfg;
  int differs = torch && (r->t_params != (long)r->params || r->t_enc_params != (long)r->enc_params);
  printf("%s encoder model: %zu parameters (encoder %zu), %d camera %d x %d, state %d x %d "
         "frames%s\n", r->name, r->params, r->enc_params, c->n_cam, c->img_h, c->img_w,
         c->state_dim, c->n_obs, differs ? "  [PyTorch parameter count differs]" : "");
  printf("  %-22s %10s %-10s %10s   %s\n", "", "nfp", "", torch ? "PyTorch" : "",
         torch ? "speed-up" : "");
  print_row("encoder, batch 1", "ms", r->enc_ms, r->t_enc_ms, torch, 0);
  print_row("encoder p99, batch 1", "ms", r->enc_p99_ms, r->t_enc_p99_ms, torch, 0);
  char what[64];
  snprintf(what, sizeof(what), "training, batch %d", NFP_BENCH_ENC_BATCH);
  print_row(what, "samples/s", r->train_sps, r->t_train_sps, torch, 1);
  print_row("encoder, CPU time", "ms", r->enc_cpu_ms, r->t_enc_cpu_ms, torch, 0);
  snprintf(what, sizeof(what), "training, CPU time");
  print_row(what, "samples/s", r->train_cpu_sps, r->t_train_cpu_sps, torch, 1);
}
