// nfp bench: latency of the three samplers and training throughput, for the default
// state-conditioned model and the reference size (nfp_model_config_reference), and of the
// image encoders (bench_encoder.c), beside the same models in PyTorch (bench/torch_peer.py)
// measured in the same run.
#include <cblas.h>
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "bench_bridge.h"
#include "bench_ranks.h"
#include "bench_encoder.h"
#include "bench_finetune.h"
#include "commands.h"
#include "files.h"
#include "nfp/clock.h"
#include "nfp/cluster.h"
#include "nfp/error.h"
#include "nfp/layers.h"
#include "nfp/model.h"
#include "nfp/rng.h"
#include "nfp/sampler.h"
#include "nfp/stats.h"
#include "nfp/train.h"

#define BENCH_TRAIN_BATCH 256

typedef struct {
  const char* name;
  nfp_model_config cfg;
  size_t params;
  double single_ms, sbs_ms, gr_ms, train_ms, train_sps;
  // PyTorch peer (NAN when it did not run)
  long torch_params;
  double t_single_ms, t_sbs_ms, t_gr_ms, t_train_sps;
} bench_result;

// A fresh flow is the identity; small random output layers make every spline bend, as a
// trained one does, so the timed maths is the real one (the peer does the same).
static void perturb(nfp_model* m, uint64_t seed) {
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  for (int i = 0; i < m->table.n; i++) {
    const nfp_tensor_info* t = &m->table.t[i];
    if (!strncmp(t->name, "flow.", 5) && strstr(t->name, ".out.weight")) {
      for (size_t k = 0; k < t->size; k++)
        m->params[t->offset + k] = (float)nfp_rng_range(&rng, -0.01, 0.01);
    }
  }
}

static int time_sampler(double* ms, nfp_sampler* s, const nfp_model* m, const nfp_obs* obs,
                        nfp_sample_mode mode, int warmup, int repeats) {
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, mode);
  nfp_rng rng;
  nfp_rng_seed(&rng, 7);
  float* chunk = malloc(sizeof(float) * (size_t)m->chunk_dim);
  double* t = malloc(sizeof(double) * (size_t)repeats);
  int rc = chunk && t ? 0 : nfp_error_set("out of memory");
  double lp;
  for (int i = 0; i < warmup + repeats && rc == 0; i++) {
    double t0 = nfp_clock_ms();
    rc = nfp_sampler_sample(s, obs, &o, &rng, chunk, &lp);
    if (i >= warmup) t[i - warmup] = nfp_clock_ms() - t0;
  }
  if (rc == 0) *ms = nfp_median(t, repeats);
  free(chunk);
  free(t);
  return rc;
}

// One training step as nfp train takes it: NLL forward, backward, clip, AdamW.
static int time_training(double* ms, nfp_model* m, int repeats) {
  int B = BENCH_TRAIN_BATCH;
  nfp_model_ws* ws = nfp_model_ws_create(m, B);
  float* obs = malloc(sizeof(float) * (size_t)B * m->obs_dim);
  float* act = malloc(sizeof(float) * (size_t)B * m->chunk_dim);
  float* grads = malloc(sizeof(float) * m->num_params);
  double* logp = malloc(sizeof(double) * B);
  double* dlogp = malloc(sizeof(double) * B);
  double* t = malloc(sizeof(double) * (size_t)repeats);
  nfp_adamw opt = {0};
  int rc = ws && obs && act && grads && logp && dlogp && t ? 0 : nfp_error_set("out of memory");
  if (rc == 0) rc = nfp_adamw_init(&opt, m->num_params, 0.9f, 0.999f, 1e-8f, 1e-4f);
  nfp_rng rng;
  nfp_rng_seed(&rng, 11);
  for (size_t i = 0; rc == 0 && i < (size_t)B * m->obs_dim; i++)
    obs[i] = 0.5f * (float)nfp_rng_normal(&rng);
  for (size_t i = 0; rc == 0 && i < (size_t)B * m->chunk_dim; i++)
    act[i] = (float)nfp_rng_range(&rng, -0.9, 0.9);
  for (int i = 0; i < B; i++) dlogp[i] = -1.0 / B;
  nfp_obs_batch ob = {.state = obs};
  for (int i = 0; i < 2 + repeats && rc == 0; i++) {
    double t0 = nfp_clock_ms();
    rc = nfp_model_logprob(m, ws, &ob, act, B, logp);
    memset(grads, 0, sizeof(float) * m->num_params);
    if (rc == 0) nfp_model_backward(m, ws, dlogp, grads, NULL);
    nfp_grad_clip(grads, m->num_params, 5.0f);
    nfp_adamw_step(&opt, m->params, grads, NULL, 1e-4f);
    if (i >= 2) t[i - 2] = nfp_clock_ms() - t0;
  }
  if (rc == 0) *ms = nfp_median(t, repeats);
  nfp_adamw_free(&opt);
  nfp_model_ws_free(ws);
  free(obs);
  free(act);
  free(grads);
  free(logp);
  free(dlogp);
  free(t);
  return rc;
}

static int bench_c(bench_result* r, int repeats) {
  nfp_model* m = nfp_model_create(&r->cfg, 1);
  if (!m) return -1;
  perturb(m, 3);
  r->params = m->num_params;
  nfp_sampler* s = nfp_sampler_create(m, r->cfg.sbs_candidates);
  float* state = malloc(sizeof(float) * (size_t)m->obs_dim);
  int rc = s && state ? 0 : -1;
  if (rc == 0) {
    nfp_rng rng;
    nfp_rng_seed(&rng, 5);
    for (int i = 0; i < m->obs_dim; i++) state[i] = 0.5f * (float)nfp_rng_normal(&rng);
    nfp_obs obs = {.state = state};
    int slow = repeats / 3 > 5 ? repeats / 3 : 5;
    rc = time_sampler(&r->single_ms, s, m, &obs, NFP_SAMPLE_SINGLE, 5, repeats);
    if (rc == 0) rc = time_sampler(&r->sbs_ms, s, m, &obs, NFP_SAMPLE_SBS, 3, slow);
    if (rc == 0) rc = time_sampler(&r->gr_ms, s, m, &obs, NFP_SAMPLE_GR, 2, slow);
    if (rc == 0) rc = time_training(&r->train_ms, m, slow > 10 ? 10 : slow);
    if (rc == 0) r->train_sps = BENCH_TRAIN_BATCH / (1e-3 * r->train_ms);
  }
  free(state);
  nfp_sampler_free(s);
  nfp_model_free(m);
  return rc;
}

//---------------------------------- the PyTorch peer -----------------------------------------

// bench/torch_peer.py: --peer, else $NFP_TORCH_PEER, else beside the source tree relative
// to this executable (build*/app/nfp) or the working folder.
static const char* find_peer(const char* given, char* buf, size_t size) {
  if (given) return access(given, R_OK) == 0 ? given : NULL;
  const char* env = getenv("NFP_TORCH_PEER");
  if (env) return access(env, R_OK) == 0 ? env : NULL;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    char* slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    static const char* rel[] = {"/../bench", "/../../bench", "/../../../bench", "/bench"};
    for (int i = 0; i < 4; i++) {
      snprintf(buf, size, "%s%s/torch_peer.py", exe, rel[i]);
      if (access(buf, R_OK) == 0) return buf;
    }
  }
  snprintf(buf, size, "bench/torch_peer.py");
  return access(buf, R_OK) == 0 ? buf : NULL;
}

static void peer_spec(char* buf, size_t size, const char* name, const nfp_model_config* c,
                      int train_batch) {
  snprintf(buf, size,
           "name=%s,action_dim=%d,horizon=%d,state_dim=%d,n_obs=%d,context=%d,enc_hidden=%d,"
           "enc_blocks=%d,layers=%d,bins=%d,hidden=%d,blocks=%d,tail=%g,sbs=%d,gr_steps=%d,"
           "gr_step=%g,sigma=%g,train_batch=%d",
           name, c->action_dim, c->horizon, c->state_dim, c->n_obs, c->context_dim,
           c->enc_hidden, c->enc_blocks, c->n_layers, c->n_bins, c->hidden, c->n_blocks,
           c->tail_bound, c->sbs_candidates, c->gr_steps, c->gr_step_size, c->sigma, train_batch);
}

static double json_num(const cJSON* o, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// Appends " --FLAG 'SPEC'" to cmd; -1 with a message when it does not fit.
static int add_spec(char* cmd, size_t size, const char* flag, const char* spec) {
  size_t n = strlen(cmd);
  int k = snprintf(cmd + n, size - n, " --%s '%s'", flag, spec);
  return k > 0 && (size_t)k < size - n ? 0 : nfp_error_set("peer command too long");
}

// Runs the peer once for all models and encoders; fills their torch fields, or returns -1
// with the reason.
static int run_peer(bench_result* r, int n, nfp_bench_enc* e, int ne, const char* python,
                    const char* peer, int threads, int repeats, int enc_repeats,
                    int enc_train_repeats, char* version, size_t vsize) {
  if (access(python, X_OK) != 0) return nfp_error_set("%s not found (install python3-torch)", python);
  char cmd[16384], spec[1024], keys[256];
  // Debian's torch does its matrix maths in OpenBLAS's own pool, which set_num_threads
  // does not reach: pin both pools to the same count, with passive waiting.
  snprintf(cmd, sizeof(cmd),
           "OMP_WAIT_POLICY=PASSIVE OPENBLAS_NUM_THREADS=%d OMP_NUM_THREADS=%d '%s' '%s' "
           "--threads %d --repeats %d --encoder-repeats %d --encoder-train-repeats %d",
           threads, threads, python, peer, threads, repeats, enc_repeats, enc_train_repeats);
  int rc = 0;
  for (int i = 0; i < n && rc == 0; i++) {
    peer_spec(spec, sizeof(spec), r[i].name, &r[i].cfg, BENCH_TRAIN_BATCH);
    rc = add_spec(cmd, sizeof(cmd), "model", spec);
  }
  for (int i = 0; i < ne && rc == 0; i++) {
    peer_spec(spec, sizeof(spec), e[i].name, &e[i].cfg, NFP_BENCH_ENC_BATCH);
    nfp_bench_enc_peer_keys(keys, sizeof(keys), &e[i]);
    size_t len = strlen(spec);
    snprintf(spec + len, sizeof(spec) - len, ",%s", keys);
    rc = add_spec(cmd, sizeof(cmd), "encoder", spec);
  }
  if (rc != 0) return -1;
  FILE* p = popen(cmd, "r");
  if (!p) return nfp_error_set("cannot start %s", python);
  size_t cap = 1 << 16, len = 0;
  char* text = malloc(cap);
  while (text && len + 1 < cap) {
    size_t k = fread(text + len, 1, cap - 1 - len, p);
    if (k == 0) break;
    len += k;
  }
  int status = pclose(p);
  if (!text) return nfp_error_set("out of memory");
  text[len] = '\0';
  cJSON* j = status == 0 ? cJSON_Parse(text) : NULL;
  free(text);
  if (!j) {
    return nfp_error_set("the PyTorch peer failed (exit code %d; is python3-torch installed?)",
                         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  }
  const cJSON* err = cJSON_GetObjectItemCaseSensitive(j, "error");
  if (cJSON_IsString(err)) {
    nfp_error_set("%s", err->valuestring);
    cJSON_Delete(j);
    return -1;
  }
  const cJSON* ver = cJSON_GetObjectItemCaseSensitive(j, "torch_version");
  snprintf(version, vsize, "%s", cJSON_IsString(ver) ? ver->valuestring : "?");
  const cJSON* models = cJSON_GetObjectItemCaseSensitive(j, "models");
  const cJSON* encs = cJSON_GetObjectItemCaseSensitive(j, "encoders");
  if (cJSON_GetArraySize(models) != n || cJSON_GetArraySize(encs) != ne) {
    rc = nfp_error_set("the peer returned %d models and %d encoders, expected %d and %d",
                       cJSON_GetArraySize(models), cJSON_GetArraySize(encs), n, ne);
  }
  for (int i = 0; i < n && rc == 0; i++) {
    const cJSON* o = cJSON_GetArrayItem(models, i);
    r[i].torch_params = (long)json_num(o, "params");
    r[i].t_single_ms = json_num(o, "single_ms");
    r[i].t_sbs_ms = json_num(o, "sbs_ms");
    r[i].t_gr_ms = json_num(o, "gr_ms");
    r[i].t_train_sps = json_num(o, "train_samples_per_s");
  }
  for (int i = 0; i < ne && rc == 0; i++) {
    rc = nfp_bench_enc_from_peer(&e[i], cJSON_GetArrayItem(encs, i));
  }
  cJSON_Delete(j);
  return rc;
}

//---------------------------------- report ---------------------------------------------------

static void add_num(cJSON* o, const char* key, double v) {
  if (isfinite(v)) cJSON_AddNumberToObject(o, key, round(v * 1e4) / 1e4);
  else cJSON_AddNullToObject(o, key);
}

static cJSON* result_json(const bench_result* r, int with_torch) {
  cJSON* o = cJSON_CreateObject();
  char key[64];
  const nfp_model_config* c = &r->cfg;
  cJSON_AddStringToObject(o, "model", r->name);
  cJSON_AddNumberToObject(o, "params", (double)r->params);
  cJSON_AddNumberToObject(o, "chunk_dim", c->horizon * c->action_dim);
  cJSON_AddNumberToObject(o, "context_dim", c->context_dim);
  cJSON_AddNumberToObject(o, "layers", c->n_layers);
  cJSON_AddNumberToObject(o, "bins", c->n_bins);
  cJSON_AddNumberToObject(o, "hidden", c->hidden);
  cJSON_AddNumberToObject(o, "blocks", c->n_blocks);
  cJSON_AddNumberToObject(o, "gr_steps", c->gr_steps);
  cJSON_AddNumberToObject(o, "sbs_candidates", c->sbs_candidates);
  cJSON_AddNumberToObject(o, "train_batch", BENCH_TRAIN_BATCH);
  add_num(o, "single_ms", r->single_ms);
  snprintf(key, sizeof(key), "sbs%d_ms", c->sbs_candidates);
  add_num(o, key, r->sbs_ms);
  add_num(o, "gr_ms", r->gr_ms);
  add_num(o, "train_step_ms", r->train_ms);
  add_num(o, "train_samples_per_s", r->train_sps);
  if (with_torch) {
    cJSON_AddNumberToObject(o, "torch_params", (double)r->torch_params);
    add_num(o, "torch_single_ms", r->t_single_ms);
    snprintf(key, sizeof(key), "torch_sbs%d_ms", c->sbs_candidates);
    add_num(o, key, r->t_sbs_ms);
    add_num(o, "torch_gr_ms", r->t_gr_ms);
    add_num(o, "torch_train_samples_per_s", r->t_train_sps);
    add_num(o, "speedup_single", r->t_single_ms / r->single_ms);
    snprintf(key, sizeof(key), "speedup_sbs%d", c->sbs_candidates);
    add_num(o, key, r->t_sbs_ms / r->sbs_ms);
    add_num(o, "speedup_gr", r->t_gr_ms / r->gr_ms);
    add_num(o, "speedup_train", r->train_sps / r->t_train_sps);
  }
  return o;
}

static void print_row(const char* what, const char* unit, double c, double t, int torch, int up) {
  printf("  %-22s %10.3f %-10s", what, c, unit);
  if (torch && isfinite(t)) printf(" %10.3f   x%.2f", t, up ? c / t : t / c);
  printf("\n");
}

static void print_result(const bench_result* r, int torch) {
  printf("%s model: %zu parameters (D %d, context %d, L %d, K %d, hidden %d x %d blocks)%s\n",
         r->name, r->params, r->cfg.horizon * r->cfg.action_dim, r->cfg.context_dim,
         r->cfg.n_layers, r->cfg.n_bins, r->cfg.hidden, r->cfg.n_blocks,
         torch && r->torch_params != (long)r->params ? "  [PyTorch parameter count differs]" : "");
  printf("  %-22s %10s %-10s %10s   %s\n", "", "nfp", "", torch ? "PyTorch" : "",
         torch ? "speed-up" : "");
  char what[64];
  print_row("single sample", "ms", r->single_ms, r->t_single_ms, torch, 0);
  snprintf(what, sizeof(what), "SBS-%d", r->cfg.sbs_candidates);
  print_row(what, "ms", r->sbs_ms, r->t_sbs_ms, torch, 0);
  snprintf(what, sizeof(what), "GR-%d", r->cfg.gr_steps);
  print_row(what, "ms", r->gr_ms, r->t_gr_ms, torch, 0);
  snprintf(what, sizeof(what), "training, batch %d", BENCH_TRAIN_BATCH);
  print_row(what, "samples/s", r->train_sps, r->t_train_sps, torch, 1);
}

// nfp bench's flags, and what one run measures and learns about the PyTorch peer.
typedef struct {
  const char *json, *python, *peer_arg;
  int threads, no_torch, repeats, no_reference, no_encoders, encoders_only, enc_train_repeats;
  bench_result r[2];   // the default and the reference model
  int n;               // how many of r are measured
  nfp_bench_enc e[2];  // the image encoders
  int ne, enc_repeats;
  int torch;           // the peer ran: the torch fields are filled
  char version[64];    // its torch version
  const char* why_not;  // else why not
  char why_buf[1100], peer_buf[PATH_MAX + 64];
} bench_run;

// One target of the default model, met or not.
typedef struct {
  const char* key;
  int met;
} bench_target;

#define BENCH_NTARGETS 6
#define BENCH_FIRST_TORCH_TARGET 3  // the targets from here on compare with PyTorch

// argv -> b through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int bench_parse(bench_run* b, int argc, char** argv) {
  nfp_arg args[] = {
      {"--json", NFP_ARG_STR, &b->json, "FILE", "write the report as JSON here", 0, 0, 0},
      {"--threads", NFP_ARG_INT, &b->threads, "N", "threads for nfp (OpenBLAS) and PyTorch", 1,
       64, 0},
      {"--repeats", NFP_ARG_INT, &b->repeats, "N",
       "timed runs of the single sample (a third of that for SBS, GR, training; 4x for the "
       "encoders)", 5, 10000, 0},
      {"--no-torch", NFP_ARG_FLAG, &b->no_torch, NULL, "skip the PyTorch peer", 0, 0, 0},
      {"--bridge", NFP_ARG_FLAG, &(int){0}, NULL,
       "instead: arm-bridge round trips over loopback (nfp bench --bridge --help)", 0, 0, 0},
      {"--ranks", NFP_ARG_FLAG, &(int){0}, NULL,
       "instead: data-parallel training under mpirun (nfp bench --ranks --help)", 0, 0, 0},
      {"--finetune", NFP_ARG_FLAG, &(int){0}, NULL,
       "instead: RL fine-tuning's updates (nfp bench --finetune --help)", 0, 0, 0},
      {"--no-reference", NFP_ARG_FLAG, &b->no_reference, NULL,
       "only the default model, not the reference size", 0, 0, 0},
      {"--no-encoders", NFP_ARG_FLAG, &b->no_encoders, NULL,
       "skip the image encoders (ResNet18-GroupNorm, small CNN)", 0, 0, 0},
      {"--encoders-only", NFP_ARG_FLAG, &b->encoders_only, NULL,
       "only the image encoders, not the state-conditioned models", 0, 0, 0},
      {"--encoder-train-repeats", NFP_ARG_INT, &b->enc_train_repeats, "N",
       "timed training steps of each image-encoder model (after one warm-up step)", 1, 1000, 0},
      {"--python", NFP_ARG_STR, &b->python, "EXE", "Python with torch for the peer", 0, 0, 0},
      {"--peer", NFP_ARG_STR, &b->peer_arg, "FILE",
       "the peer script (default: bench/torch_peer.py)", 0, 0, 0},
  };
  return nfp_args_parse(argc, argv, args, (int)(sizeof(args) / sizeof(args[0])),
                        "nfp bench [--json FILE] [--threads N] [--no-torch]",
                        "Measures, for the default state-conditioned model and the reference "
                        "size\n(D 112, context 128, L 10, K 8, hidden 256 "
                        "x 2 blocks): single-sample, SBS and GR latency\nand training "
                        "throughput (NLL forward + backward + AdamW at batch 256). Medians "
                        "after\nwarm-up. The same models in PyTorch run in the same process "
                        "tree with the same thread\ncount (torch.set_num_threads, OpenBLAS "
                        "threads, OMP_WAIT_POLICY=PASSIVE) and the ratios\nare reported. "
                        "Targets: single <= 1 ms, SBS-128 <= 10 ms, GR <= 20 ms, >= 5x "
                        "PyTorch at\nbatch 1, >= PyTorch at SBS-128 and training.\n\n"
                        "Image encoders (the default model with --encoder resnet18 and cnn, "
                        "one 56 x 72 camera):\nencoder latency for one observation (median "
                        "and p99 of 4 x --repeats calls) and\ntraining throughput of the "
                        "whole model at batch 64. Targets: >= PyTorch on both.");
}

// The models and encoders the flags ask for, timed in nfp -> b->r, b->e. 0 or -1.
static int bench_measure(bench_run* b) {
  bench_result* r = b->r;
  r[0].name = "default";
  nfp_model_config_default(&r[0].cfg);
  r[1].name = "reference";
  nfp_model_config_reference(&r[1].cfg);
  b->n = b->encoders_only ? 0 : b->no_reference ? 1 : 2;
  for (int i = 0; i < b->n; i++) {
    r[i].t_single_ms = r[i].t_sbs_ms = r[i].t_gr_ms = r[i].t_train_sps = NAN;
    if (bench_c(&r[i], b->repeats) != 0) return nfp_error_wrap("%s model", r[i].name);
  }
  nfp_bench_enc_setup(&b->e[0], NFP_ENCODER_RESNET18);
  nfp_bench_enc_setup(&b->e[1], NFP_ENCODER_CNN);
  b->ne = b->no_encoders ? 0 : 2;
  b->enc_repeats = 4 * b->repeats;
  for (int i = 0; i < b->ne; i++) {
    if (nfp_bench_enc_run(&b->e[i], b->enc_repeats, b->enc_train_repeats) != 0) return -1;
  }
  return 0;
}

// The same models in PyTorch -> their torch fields and b->torch, or b->why_not.
static void bench_torch(bench_run* b) {
  if (b->no_torch) {
    b->why_not = "skipped (--no-torch)";
    return;
  }
  const char* peer = find_peer(b->peer_arg, b->peer_buf, sizeof(b->peer_buf));
  if (!peer) {
    b->why_not = "bench/torch_peer.py not found (give --peer FILE or set NFP_TORCH_PEER)";
  } else if (run_peer(b->r, b->n, b->e, b->ne, b->python, peer, b->threads, b->repeats,
                      b->enc_repeats, b->enc_train_repeats, b->version,
                      sizeof(b->version)) != 0) {
    snprintf(b->why_buf, sizeof(b->why_buf), "%s", nfp_error_last());
    b->why_not = b->why_buf;
  } else {
    b->torch = 1;
  }
}

// The default model's figures against the targets (the last three need the peer).
static void bench_targets(bench_target t[BENCH_NTARGETS], const bench_run* b) {
  const bench_result* d = &b->r[0];
  int torch = b->torch;
  bench_target all[BENCH_NTARGETS] = {
      {"single_le_1ms", d->single_ms <= 1.0},
      {"sbs128_le_10ms", d->sbs_ms <= 10.0},
      {"gr_le_20ms", d->gr_ms <= 20.0},
      {"single_ge_5x_torch", torch && d->t_single_ms / d->single_ms >= 5.0},
      {"sbs128_ge_torch", torch && d->t_sbs_ms / d->sbs_ms >= 1.0},
      {"train_ge_torch", torch && d->train_sps / d->t_train_sps >= 1.0},
  };
  memcpy(t, all, sizeof(all));
}

// The figures and the targets met, on stdout.
static void bench_print(const bench_run* b, const bench_target t[BENCH_NTARGETS]) {
  int torch = b->torch;
  printf("nfp bench: %d thread%s, medians after warm-up; OpenBLAS %s kernels%s%s%s\n",
         b->threads, b->threads > 1 ? "s" : "", nfp_blas_core(),
         nfp_blas_core_fitted() ? " (chosen by nfp)" : "", torch ? "; PyTorch " : "",
         torch ? b->version : "");
  for (int i = 0; i < b->n; i++) print_result(&b->r[i], torch);
  for (int i = 0; i < b->ne; i++) nfp_bench_enc_print(&b->e[i], torch);
  if (!torch) printf("PyTorch peer: %s\n", b->why_not);
  if (b->n > 0) {
    printf("targets (default model):");
    for (int i = 0; i < BENCH_NTARGETS; i++) {
      int needs_torch = i >= BENCH_FIRST_TORCH_TARGET;
      printf("  %s %s", t[i].key, needs_torch && !torch ? "n/a" : (t[i].met ? "met" : "NOT met"));
    }
    printf("\n");
  }
  for (int i = 0; i < b->ne; i++) {
    printf("targets (%s encoder):  encode_ge_torch %s  train_ge_torch %s\n", b->e[i].name,
           !torch ? "n/a" : nfp_bench_enc_encode_met(&b->e[i]) ? "met" : "NOT met",
           !torch ? "n/a" : nfp_bench_enc_train_met(&b->e[i]) ? "met" : "NOT met");
  }
}

// The report as JSON -> --json. 0 or -1.
static int bench_write_json(const bench_run* b, const bench_target t[BENCH_NTARGETS]) {
  int torch = b->torch;
  // the default model's figures at the top level (as before the encoders came)
  cJSON* root = b->n > 0 ? result_json(&b->r[0], torch) : cJSON_CreateObject();
  cJSON_AddNumberToObject(root, "threads", b->threads);
  cJSON_AddStringToObject(root, "blas_kernels", nfp_blas_core());  // both sides run them
  cJSON_AddBoolToObject(root, "blas_kernels_chosen_by_nfp", nfp_blas_core_fitted());
  cJSON* tj = cJSON_AddObjectToObject(root, "torch");
  cJSON_AddBoolToObject(tj, "available", torch);
  if (torch) {
    cJSON_AddStringToObject(tj, "version", b->version);
    cJSON_AddStringToObject(tj, "thread_setup",
                            "torch.set_num_threads, OPENBLAS_NUM_THREADS and "
                            "openblas_set_num_threads, OMP_WAIT_POLICY=PASSIVE");
  } else {
    cJSON_AddStringToObject(tj, "reason", b->why_not);
  }
  if (b->n > 0) {
    cJSON* tg = cJSON_AddObjectToObject(root, "targets");
    for (int i = 0; i < BENCH_NTARGETS; i++) {
      if (i >= BENCH_FIRST_TORCH_TARGET && !torch) cJSON_AddNullToObject(tg, t[i].key);
      else cJSON_AddBoolToObject(tg, t[i].key, t[i].met);
    }
  }
  if (b->n > 1) cJSON_AddItemToObject(root, "reference", result_json(&b->r[1], torch));
  if (b->ne > 0) {
    cJSON* ej = cJSON_AddArrayToObject(root, "encoders");
    for (int i = 0; i < b->ne; i++) cJSON_AddItemToArray(ej, nfp_bench_enc_json(&b->e[i], torch));
  }
  char* text = cJSON_Print(root);
  cJSON_Delete(root);
  int rc = text ? nfp_text_write(b->json, text) : nfp_error_set("out of memory");
  free(text);
  if (rc == 0) printf("wrote %s\n", b->json);
  return rc;
}

// Flags -> nfp timings -> PyTorch peer timings -> printed and JSON report.
static int run(int argc, char** argv) {
  bench_run b = {.python = "/usr/bin/python3", .threads = 1, .repeats = 30,
                 .enc_train_repeats = 3};
  int prc = bench_parse(&b, argc, argv);
  if (prc) return prc;
  if (b.no_encoders && b.encoders_only) {
    fprintf(stderr, "nfp bench: --no-encoders and --encoders-only leave nothing to measure\n");
    return 2;
  }
  // before minutes of measuring, not after
  if (b.json && nfp_file_check_writable(b.json)) return nfp_error_wrap("--json");
  openblas_set_num_threads(b.threads);
  if (bench_measure(&b) != 0) return -1;
  bench_torch(&b);
  bench_target targets[BENCH_NTARGETS];
  bench_targets(targets, &b);
  bench_print(&b, targets);
  return b.json ? bench_write_json(&b, targets) : 0;
}

int nfp_cmd_bench(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--bridge")) return nfp_bench_bridge(argc, argv);
    if (!strcmp(argv[i], "--ranks")) return nfp_bench_ranks(argc, argv);
    if (!strcmp(argv[i], "--finetune")) return nfp_bench_finetune(argc, argv);
  }
  if (nfp_cluster_world()->size > 1) {
    fprintf(stderr, "nfp bench: under mpirun only --ranks runs (nfp bench --ranks --help)\n");
    return 2;
  }
  int rc = run(argc, argv);
  if (rc == 1) return 0;  // --help
  if (rc == 2) return 2;  // bad flags, already reported
  if (rc != 0) {
    fprintf(stderr, "nfp bench: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
