// nfp eval: headless success rate of an agent over seeded trials, on worker threads.
// A trial's outcome depends only on its seed, so per-trial results do not depend on
// --jobs. A policy is evaluated in one or more sampling modes on the same seeds, and
// (as RoboTwin does) on seeds where the scripted expert itself succeeds. Progress goes
// to stderr (progress.h), the per-trial lines with --verbose and a closing table
// (eval_summary.h) to stdout. Under mpirun -np N every batch's trials are shared out over
// the ranks and their results gathered on every rank, so the report is the one-process
// report; rank 0 speaks and writes for the job.
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <cjson/cJSON.h>

#include "args.h"
#include "bridge_flags.h"
#include "commands.h"
#include "eval_summary.h"
#include "eval_video.h"
#include "files.h"
#include "nfp/agent.h"
#include "nfp/arms_sim.h"
#include "nfp/bridge.h"
#include "nfp/checkpoint.h"
#include "nfp/clock.h"
#include "nfp/cluster.h"
#include "nfp/error.h"
#include "nfp/picture.h"
#include "nfp/rl.h"
#include "nfp/rollout.h"
#include "nfp/stats.h"
#include "nfp/tasks.h"
#include "policy_flags.h"
#include "progress.h"

#define EVAL_MAX_JOBS PROGRESS_SLOTS
#define EVAL_MAX_MODES 3

typedef struct {
  uint64_t seed;
  int success, steps;
  double wall_s;
  int plans, hold_steps;
  double loglik_mean, loglik_min;  // over the episode's chunks (policy only)
  // The set-up: the object state the arms measured before the first step (n_start = 0
  // when the rig measures none), so that outcomes can be read against placements.
  double object_start[NFP_ARMS_MAX_OBJECT];
  int n_start;
} trial_result;

// One batch of trials, shared by the workers; everything mutable is under lock.
typedef struct {
  const char* task_name;
  const char* assets;
  const nfp_agent_spec* spec;
  const nfp_bridge_flags* bridge;  // drive this arm server instead of in-process arms
  const char* label;        // "expert", "sbs", ... for progress lines
  char name[160];           // "task/label"
  int trials;
  const uint64_t* seeds;    // [trials]
  int lo, hi;               // this rank's share of the trials: [lo, hi)
  trial_result* results;    // [trials] (this rank's share until gathered)
  double* plan_ms;          // every sampling latency of the batch (for percentiles)
  int n_plan, plan_cap;
  pthread_mutex_t lock;
  int next, finished, successes;  // next trial to start; counts, over all ranks once gathered
  int slots;                // workers started (each shows its trial's steps on its slot)
  int failed;               // a worker hit an error; the others stop
  char error[1024];
  int verbose;              // a line per trial on stdout
  const eval_video_opts* video;  // --video: record the first trials (NULL: none)
  progress prog;
} eval_batch;

// Rank 0 speaks for an MPI job: stdout, progress, the report files.
static int eval_talks(void) { return nfp_cluster_world()->rank == 0; }

// A finished trial -> its --verbose line (the format scripts read; under e->lock).
static void batch_trial_line(eval_batch* e, const trial_result* r) {
  if (!e->verbose) return;
  progress_printf(&e->prog, "%s/%s trial %d/%d seed %llu: %s in %d steps (%.2f s)\n",
                  e->task_name, e->label, e->finished, e->trials, (unsigned long long)r->seed,
                  r->success ? "success" : "failure", r->steps, r->wall_s);
}

static int batch_keep_latencies(eval_batch* e, const nfp_rollout* ro) {
  if (ro->plans == 0) return 0;  // the expert: no buffers yet, and memcpy(NULL, NULL, 0) is UB
  if (e->n_plan + ro->plans > e->plan_cap) {
    int cap = 2 * (e->n_plan + ro->plans) + 64;
    double* p = realloc(e->plan_ms, sizeof(double) * (size_t)cap);
    if (!p) return nfp_error_set("out of memory keeping latencies");
    e->plan_ms = p;
    e->plan_cap = cap;
  }
  memcpy(e->plan_ms + e->n_plan, ro->plan_ms, sizeof(double) * (size_t)ro->plans);
  e->n_plan += ro->plans;
  return 0;
}

static void batch_fail(eval_batch* e) {
  if (!e->failed) snprintf(e->error, sizeof(e->error), "%s", nfp_error_last());
  e->failed = 1;
}

// One trial on r->seed (nfp_rollout_run a step at a time, its steps shown on the worker's
// progress slot; filmed into vid unless NULL) -> r. 0 or -1 (error set).
static int batch_trial(eval_batch* e, int slot, nfp_arms* arms, nfp_agent* agent,
                       nfp_rollout* ro, trial_result* r, eval_video* vid) {
  double t0 = nfp_clock_seconds();
  int st = nfp_rollout_begin(ro, arms, agent, r->seed);
  if (!st) {
    r->n_start = ro->obs.n_object;
    memcpy(r->object_start, ro->obs.object, sizeof(double) * (size_t)r->n_start);
  }
  if (!st && vid) st = eval_video_begin(vid, arms, e->task_name, e->label, ro);
  progress_steps(&e->prog, slot, 0);
  while (!st && !ro->done) {
    nfp_agent_step s;
    st = nfp_rollout_step(ro, NULL, &s);
    if (!st && vid) st = eval_video_step(vid, ro, &s);
    progress_steps(&e->prog, slot, ro->steps);
  }
  if (vid) st = eval_video_end(vid, st);
  progress_steps(&e->prog, slot, -1);
  r->success = ro->success;
  r->steps = ro->steps;
  r->wall_s = nfp_clock_seconds() - t0;
  r->plans = ro->plans;
  r->hold_steps = ro->hold_steps;
  r->loglik_mean = ro->plans ? ro->loglik_sum / ro->plans : 0.0;
  r->loglik_min = ro->plans ? ro->loglik_min : 0.0;
  return st;
}

// A worker owns its arms and agent (made on its own thread, where the offscreen
// renderer of an image policy must live); it takes the next seed until none is left.
static void* batch_worker(void* arg) {
  eval_batch* e = arg;
  pthread_mutex_lock(&e->lock);
  int slot = e->slots++;
  pthread_mutex_unlock(&e->lock);
  nfp_arms* arms = e->bridge ? nfp_bridge_flags_connect(e->bridge, e->task_name)
                             : nfp_arms_sim_create(e->task_name, e->assets);
  nfp_agent* agent = arms ? nfp_agent_create(e->spec) : NULL;
  nfp_rollout ro = {0};
  eval_video rec = {.opts = e->video};
  if (!agent) {
    pthread_mutex_lock(&e->lock);
    batch_fail(e);
    pthread_mutex_unlock(&e->lock);
  }
  while (agent) {
    pthread_mutex_lock(&e->lock);
    int i = e->failed ? e->hi : e->next++;
    pthread_mutex_unlock(&e->lock);
    if (i >= e->hi) break;
    trial_result r = {.seed = e->seeds[i]};
    eval_video* vid = e->video && i < e->video->episodes ? &rec : NULL;
    int st = batch_trial(e, slot, arms, agent, &ro, &r, vid);
    pthread_mutex_lock(&e->lock);
    if (st || batch_keep_latencies(e, &ro)) {
      batch_fail(e);
    } else {
      e->results[i] = r;
      e->finished++;
      e->successes += r.success;
      progress_item(&e->prog, 1, r.success, 0);
      batch_trial_line(e, &r);
      if (vid && eval_talks()) progress_printf(&e->prog, "video: %s\n", rec.path);
    }
    pthread_mutex_unlock(&e->lock);
  }
  nfp_rollout_free(&ro);
  eval_video_free(&rec);
  nfp_agent_free(agent);
  nfp_arms_close(arms);
  return NULL;
}

// Every rank's share of the results and latencies -> e on every rank, as one process
// running the whole batch has them; rank 0 adds the --verbose lines of the others' trials.
// 0 or -1 (error set).
static int batch_gather(eval_batch* e) {
  const int ranks = nfp_cluster_world()->size;
  const size_t size = sizeof(trial_result) * (size_t)e->trials;
  void* all = NULL;
  size_t* off = NULL;
  if (nfp_cluster_allgather(e->results + e->lo, sizeof(trial_result) * (size_t)(e->hi - e->lo),
                            &all, &off)) {
    return -1;
  }
  // Contiguous shards in rank order: their concatenation is the batch in trial order.
  int whole = off[ranks] == size;
  if (whole) memcpy(e->results, all, size);
  free(all);
  free(off);
  if (!whole) return nfp_error_set("gathering %s: the ranks' shares do not add up", e->name);
  if (nfp_cluster_allgather(e->plan_ms, sizeof(double) * (size_t)e->n_plan, &all, &off)) {
    return -1;
  }
  free(e->plan_ms);
  e->plan_ms = all;  // in another order than one process's: only percentiles are taken
  e->n_plan = e->plan_cap = (int)(off[ranks] / sizeof(double));
  free(off);
  for (int i = 0; i < e->trials; i++) {
    if (i >= e->lo && i < e->hi) continue;  // counted and shown as it finished
    e->finished++;
    e->successes += e->results[i].success;
    batch_trial_line(e, &e->results[i]);
  }
  return 0;
}

// This rank's share of the batch's seeds on `jobs` threads (progress on stderr from rank 0,
// counting its own share), then every rank's results on every rank. 0 or -1 (error set).
static int batch_run(eval_batch* e, int jobs) {
  e->results = calloc((size_t)e->trials, sizeof(trial_result));
  if (!e->results) return nfp_error_set("out of memory");
  nfp_cluster_shard(e->trials, &e->lo, &e->hi);
  e->next = e->lo;
  if (jobs > e->hi - e->lo) jobs = e->hi - e->lo;  // 0 when more ranks than trials
  pthread_mutex_init(&e->lock, NULL);
  pthread_t th[EVAL_MAX_JOBS];
  snprintf(e->name, sizeof(e->name), "%s/%s", e->task_name, e->label);
  progress_spec ps = {.label = e->name, .unit = "trials", .good = "successes",
                      .total = e->hi - e->lo, .silent = !eval_talks()};
  progress_start(&e->prog, &ps);
  int started = 0;
  for (int j = 1; j < jobs; j++) {
    if (pthread_create(&th[j], NULL, batch_worker, e)) break;
    started = j;
  }
  if (jobs > 0) batch_worker(e);  // the calling thread is worker 0
  for (int j = 1; j <= started; j++) pthread_join(th[j], NULL);
  pthread_mutex_destroy(&e->lock);
  // A failed rank does not gather: main() ends the job, the others with it.
  int rc = e->failed ? nfp_error_set("%s", e->error) : batch_gather(e);
  progress_finish(&e->prog);
  return rc;
}

static void batch_free(eval_batch* e) {
  free(e->results);
  free(e->plan_ms);
}

// The expert on the first `trials` seeds from seed0: its successes (its success rate) and
// the steps of its successful and of all trials.
typedef struct {
  int ok;
  double steps_ok, steps_all;
} expert_tally;

// Candidate trial i of the expert check at seed seed0 + k + i -> x when among the first
// `trials` seeds.
static void expert_count(expert_tally* x, const trial_result* r, int k, int i, int trials) {
  if (k + i >= trials) return;
  x->ok += r->success;
  x->steps_all += r->steps;
  if (r->success) x->steps_ok += r->steps;
}

// Seeds from seed0 on where the expert succeeds, until `trials` of them (or 3x tried);
// *x tallies the expert's first `trials` seeds.
static int expert_seeds(uint64_t* out, const char* task, const char* assets, int trials,
                        long long seed0, int jobs, int* skipped, expert_tally* x) {
  int n = 0, k = 0;
  *skipped = 0;
  *x = (expert_tally){0};
  nfp_agent_spec expert = {.kind = "expert"};
  while (n < trials && k < 3 * trials + 10) {
    int want = trials - n + 2;
    uint64_t* cand = malloc(sizeof(uint64_t) * (size_t)want);
    if (!cand) return nfp_error_set("out of memory");
    for (int i = 0; i < want; i++) cand[i] = (uint64_t)(seed0 + k + i);
    eval_batch e = {.task_name = task, .assets = assets, .spec = &expert, .label = "expert check",
                    .trials = want, .seeds = cand};
    int rc = batch_run(&e, jobs);
    for (int i = 0; !rc && i < want; i++) expert_count(x, &e.results[i], k, i, trials);
    for (int i = 0; !rc && i < want && n < trials; i++) {
      if (e.results[i].success) {
        out[n++] = cand[i];
      } else {
        (*skipped)++;
      }
    }
    batch_free(&e);
    free(cand);
    if (rc) return -1;
    k += want;
  }
  if (n < trials) {
    return nfp_error_set("the %s expert succeeded on only %d of %d seeds from %lld", task, n, k,
                         seed0);
  }
  return 0;
}

static cJSON* trial_json(const trial_result* r, int policy) {
  cJSON* o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "seed", (double)r->seed);
  cJSON_AddBoolToObject(o, "success", r->success);
  cJSON_AddNumberToObject(o, "steps", r->steps);
  cJSON_AddNumberToObject(o, "wall_s", r->wall_s);
  if (r->n_start > 0) {
    cJSON_AddItemToObject(o, "object_start", cJSON_CreateDoubleArray(r->object_start, r->n_start));
  }
  if (policy) {
    cJSON_AddNumberToObject(o, "plans", r->plans);
    cJSON_AddNumberToObject(o, "loglik_mean", r->loglik_mean);
    cJSON_AddNumberToObject(o, "loglik_min", r->loglik_min);
    cJSON_AddNumberToObject(o, "hold_steps", r->hold_steps);
  }
  return o;
}

// Summary of one batch: prints a line and returns its JSON object.
static cJSON* batch_report(eval_batch* e, const char* mode, double wall, int jobs) {
  int policy = mode != NULL;
  double steps = 0, steps_ok = 0, ll_ok = 0, ll_fail = 0, ll_all = 0;
  int n_ok = 0, n_fail = 0;
  for (int i = 0; i < e->trials; i++) {
    const trial_result* r = &e->results[i];
    steps += r->steps;
    ll_all += r->loglik_mean;
    if (r->success) {
      steps_ok += r->steps;
      ll_ok += r->loglik_mean;
      n_ok++;
    } else {
      ll_fail += r->loglik_mean;
      n_fail++;
    }
  }
  cJSON* o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "task", e->task_name);
  cJSON_AddStringToObject(o, "agent", e->spec->kind);
  if (policy) {
    cJSON_AddStringToObject(o, "mode", mode);
    cJSON_AddStringToObject(o, "policy", e->spec->policy_path);
  }
  cJSON_AddNumberToObject(o, "trials", e->trials);
  cJSON_AddNumberToObject(o, "successes", e->successes);
  cJSON_AddNumberToObject(o, "success_rate", (double)e->successes / e->trials);
  eval_summary_interval(o, e->successes, e->trials);
  cJSON_AddNumberToObject(o, "mean_steps", steps / e->trials);
  if (n_ok) cJSON_AddNumberToObject(o, "mean_steps_success", steps_ok / n_ok);
  double p50 = 0, p99 = 0;
  if (policy) {
    p50 = nfp_percentile(e->plan_ms, e->n_plan, 0.5);
    p99 = nfp_percentile(e->plan_ms, e->n_plan, 0.99);
    cJSON_AddNumberToObject(o, "policy_calls", e->n_plan);
    cJSON_AddNumberToObject(o, "latency_p50_ms", p50);
    cJSON_AddNumberToObject(o, "latency_p99_ms", p99);
    cJSON_AddNumberToObject(o, "loglik_mean", ll_all / e->trials);
    if (n_ok) cJSON_AddNumberToObject(o, "loglik_mean_success", ll_ok / n_ok);
    if (n_fail) cJSON_AddNumberToObject(o, "loglik_mean_failure", ll_fail / n_fail);
  }
  cJSON* seeds = cJSON_AddArrayToObject(o, "seeds");
  cJSON* recs = cJSON_AddArrayToObject(o, "records");
  for (int i = 0; i < e->trials; i++) {
    cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)e->results[i].seed));
    cJSON_AddItemToArray(recs, trial_json(&e->results[i], policy));
  }
  cJSON_AddNumberToObject(o, "jobs", jobs);
  cJSON_AddNumberToObject(o, "ranks", nfp_cluster_world()->size);  // MPI processes, jobs each
  cJSON_AddNumberToObject(o, "wall_time_s", wall);
  if (!eval_talks()) return o;

  printf("%s / %s: %d/%d successes (%.1f %%), mean steps %.1f, wall time %.1f s", e->task_name,
         e->label, e->successes, e->trials, 100.0 * e->successes / e->trials, steps / e->trials,
         wall);
  if (policy) {
    printf(", latency p50 %.2f ms p99 %.2f ms, chunk log p %.1f", p50, p99, ll_all / e->trials);
    if (n_ok && n_fail) printf(" (success %.1f, failure %.1f)", ll_ok / n_ok, ll_fail / n_fail);
  }
  printf("\n");
  fflush(stdout);
  return o;
}

typedef struct {
  const char* agent;
  const char* modes;  // "single", "sbs", "gr" or "all"
  const char* rank;   // SBS ranks candidates by "logp" or by the critic, "q"
  nfp_policy_flags pf;
  int policy;         // the agent is a policy: pf.path is a checkpoint or a folder of them
  int trials, jobs, keep_expert_failures;  // jobs 0: one per core (1 with --arms)
  int verbose;        // a line per trial
  long long seed0;
  const char* assets;
  nfp_bridge_flags bridge;
  eval_video_opts video;  // --video, --video-episodes, --camera
} eval_opts;

// The policy's training demos (checkpoint metadata) must be of this task, and their
// seeds must not be evaluation seeds.
static int check_policy(const nfp_meta* meta, const char* path, const char* task,
                        long long seed0, int trials) {
  const char* trained = nfp_meta_get(meta, "demo_task");
  if (trained && trained[0] && strcmp(trained, task)) {
    return nfp_error_set("%s was trained on %s demos, not %s", path, trained, task);
  }
  const char* lo = nfp_meta_get(meta, "demo_seed_min");
  const char* hi = nfp_meta_get(meta, "demo_seed_max");
  int rc = 0;
  if (lo && hi) {
    long long a = atoll(lo), b = atoll(hi);
    // Skipped expert failures can push evaluation up to ~3x trials past seed0.
    long long end = seed0 + 3LL * trials + 10;
    if (a < end && seed0 <= b) {
      rc = nfp_error_set("evaluation seeds from %lld overlap the training demos' seeds %lld..%lld "
                         "of %s; pick another --seed", seed0, a, b, path);
    }
  }
  return rc;
}

// One bar of the chart: ok successes in trials, with the interval the JSON report gives.
static nfp_bar eval_bar(const char* task, const char* label, int ok, int trials) {
  nfp_bar b = {.group = task, .label = label, .rate = (double)ok / trials};
  nfp_wilson_interval(ok, trials, EVAL_SUMMARY_Z, &b.lo, &b.hi);
  return b;
}

// The expert's success rate on the evaluation seeds, as a run of its own beside the modes.
static void expert_report(cJSON* out, nfp_bar* bars, int* nbars, const char* task,
                          const expert_tally* x, int trials) {
  int ok = x->ok;
  cJSON* o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "task", task);
  cJSON_AddStringToObject(o, "agent", "expert");
  cJSON_AddNumberToObject(o, "trials", trials);
  cJSON_AddNumberToObject(o, "successes", ok);
  cJSON_AddNumberToObject(o, "success_rate", (double)ok / trials);
  eval_summary_interval(o, ok, trials);
  cJSON_AddNumberToObject(o, "mean_steps", x->steps_all / trials);
  if (ok) cJSON_AddNumberToObject(o, "mean_steps_success", x->steps_ok / ok);
  cJSON_AddItemToArray(out, o);
  bars[(*nbars)++] = eval_bar(task, "expert", ok, trials);
  if (eval_talks()) {
    printf("%s / expert: %d/%d successes (%.1f %%)\n", task, ok, trials, 100.0 * ok / trials);
  }
}

// The checkpoint for `task`: --policy itself, or FOLDER/<task>.safetensors.
static int policy_path_for(char* path, size_t cap, const char* given, const char* task,
                           int all) {
  struct stat st;
  if (stat(given, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(path, cap, "%s/%s.safetensors", given, task);
    if (access(path, R_OK) != 0) {
      return nfp_error_set("%s: no policy for %s here (expected %s)", given, task, path);
    }
    return 0;
  }
  if (all) {
    return nfp_error_set("--task all takes a folder as --policy, holding <task>.safetensors for "
                         "each task (%s is a file)", given);
  }
  snprintf(path, cap, "%s", given);
  return 0;
}

// Load the task's policy, refusing one trained on another task or on these seeds.
static nfp_model* load_policy(const char* path, const char* task, const eval_opts* o) {
  nfp_meta meta = {0};
  nfp_model* model = nfp_checkpoint_load(path, NULL, &meta);
  if (model && check_policy(&meta, path, task, o->seed0, o->trials)) {
    nfp_model_free(model);
    model = NULL;
  }
  nfp_meta_free(&meta);
  return model;
}

// The line that opens a batch (rank 0): what runs, on how many threads and ranks.
static void eval_announce(const char* label, const char* task, const eval_opts* o,
                          uint64_t seed) {
  if (!eval_talks()) return;
  int ranks = nfp_cluster_world()->size;
  printf("evaluating %s on %s: %d trials from seed %llu, %d job%s", label, task, o->trials,
         (unsigned long long)seed, o->jobs, o->jobs == 1 ? "" : "s");
  if (ranks > 1) printf(" on each of %d MPI ranks (progress: rank 0's share)", ranks);
  printf("\n");
  fflush(stdout);
}

// Evaluate one task in every requested mode; appends JSON to `out` and bars to `bars`.
static int eval_task(cJSON* out, nfp_bar* bars, int* nbars, const char* task,
                     const eval_opts* o, int all) {
  int policy = o->policy;
  char path[4096];
  nfp_model* model = NULL;
  nfp_critic_scorer* scorer = NULL;  // --rank q: the critic of a fine-tuned policy
  if (policy) {
    if (policy_path_for(path, sizeof(path), o->pf.path, task, all)) return -1;
    model = load_policy(path, task, o);
    if (!model) return -1;
    if (!strcmp(o->rank, "q") && !(scorer = nfp_critic_scorer_load(path, model))) {
      nfp_model_free(model);
      return nfp_error_wrap("--rank q");
    }
  }
  uint64_t* seeds = malloc(sizeof(uint64_t) * (size_t)o->trials);
  if (!seeds) {
    nfp_critic_scorer_free(scorer);
    nfp_model_free(model);
    return nfp_error_set("out of memory");
  }
  int rc = 0, skipped = 0;
  expert_tally x = {0};
  if (policy && !o->keep_expert_failures) {
    rc = expert_seeds(seeds, task, o->assets, o->trials, o->seed0, o->jobs, &skipped, &x);
    if (!rc && skipped && eval_talks()) {
      printf("%s: skipped %d seed(s) on which the expert fails\n", task, skipped);
    }
    if (!rc) expert_report(out, bars, nbars, task, &x, o->trials);
  } else {
    for (int i = 0; i < o->trials; i++) seeds[i] = (uint64_t)(o->seed0 + i);
  }
  nfp_sample_mode modes[EVAL_MAX_MODES];
  int nmodes = 0;
  if (policy && !strcmp(o->modes, "all")) {
    modes[nmodes++] = NFP_SAMPLE_SINGLE;
    modes[nmodes++] = NFP_SAMPLE_SBS;
    modes[nmodes++] = NFP_SAMPLE_GR;
  } else if (policy) {
    nfp_sample_mode_parse(&modes[nmodes++], o->modes);
  } else {
    nmodes = 1;
  }
  for (int k = 0; k < nmodes && !rc; k++) {
    nfp_agent_spec spec = {.kind = o->agent};
    const char* label = o->agent;
    if (policy) {
      nfp_policy_flags pf = o->pf;
      pf.path = path;
      nfp_policy_flags_spec(&spec, &pf, model, modes[k]);
      label = nfp_sample_mode_name(modes[k]);
      if (scorer && modes[k] == NFP_SAMPLE_SBS) {
        spec.controller.sample.score = nfp_critic_scorer_score;
        spec.controller.sample.score_ctx = scorer;
        label = "sbs-q";
      }
    }
    eval_announce(label, task, o, seeds[0]);
    eval_batch e = {.task_name = task, .assets = o->assets, .spec = &spec, .label = label,
                    .trials = o->trials, .seeds = seeds, .verbose = o->verbose && eval_talks(),
                    .bridge = o->bridge.endpoint ? &o->bridge : NULL,
                    .video = o->video.dir ? &o->video : NULL};
    double t0 = nfp_clock_seconds();
    rc = batch_run(&e, o->jobs);
    if (!rc) {
      cJSON_AddItemToArray(out, batch_report(&e, policy ? label : NULL,
                                             nfp_clock_seconds() - t0, o->jobs));
      bars[*nbars] = eval_bar(task, label, e.successes, e.trials);
      (*nbars)++;
    }
    batch_free(&e);
  }
  free(seeds);
  nfp_critic_scorer_free(scorer);
  nfp_model_free(model);
  return rc;
}

// nfp eval's flags: the options every task's evaluation shares, and what to run and write.
typedef struct {
  eval_opts o;
  const char* task_name;  // a task, or "all"
  int all;                // --task all
  const char* json;       // --json report
  const char* chart;      // --chart, or the --json path with .svg
  char chart_buf[4096];
} eval_request;

// argv -> r through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int eval_parse(eval_request* r, int argc, char** argv) {
  eval_opts* o = &r->o;
  nfp_arg args[16 + NFP_POLICY_NARGS + NFP_BRIDGE_NARGS + EVAL_VIDEO_NARGS] = {
      {"--task", NFP_ARG_STR, &r->task_name, "NAME", "task to evaluate, or 'all' for every task",
       0, 0, 0},
      {"--agent", NFP_ARG_STR, &o->agent, "KIND",
       "who acts: expert (scripted) or policy (default: policy when --policy is given)", 0, 0, 0},
      {"--mode", NFP_ARG_STR, &o->modes, "M", "policy sampling: single, sbs, gr or all",
       0, 0, 0},
      {"--rank", NFP_ARG_STR, &o->rank, "BY",
       "SBS keeps the candidate with the highest log p (logp) or critic value (q: a policy "
       "from nfp finetune; reported as mode sbs-q)", 0, 0, 0},
      {"--episodes", NFP_ARG_INT, &o->trials, "N", "evaluation episodes (trials) per mode", 1,
       1e6, 0},
      {"--seed", NFP_ARG_SEED, &o->seed0, "S", "first seed (episodes use S, S+1, ...)", 0,
       9e15, 0},
      {"--jobs", NFP_ARG_INT, &o->jobs, "N",
       "worker threads (default: one per core, shared by the ranks under mpirun; 1 with "
       "--arms; results do not depend on it)", 1, EVAL_MAX_JOBS, 0},
      {"--verbose", NFP_ARG_FLAG, &o->verbose, NULL,
       "a line per trial on stdout: TASK/MODE trial I/N seed S: success|failure in K steps", 0,
       0, 0},
      {"--keep-expert-failures", NFP_ARG_FLAG, &o->keep_expert_failures, NULL,
       "evaluate a policy on every seed, not only where the scripted expert succeeds", 0, 0, 0},
      {"--json", NFP_ARG_STR, &r->json, "FILE",
       "write a JSON report here (per-trial records: seed, outcome, steps, and object_start, "
       "the set-up's object state where the arms measure one)", 0, 0, 0},
      {"--chart", NFP_ARG_STR, &r->chart, "FILE.svg",
       "success-rate bar chart, PNG if FILE ends in .png, else SVG (default: the --json path "
       "with .svg)", 0, 0, 0},
      {"--assets", NFP_ARG_STR, &o->assets, "DIR",
       "asset folder (default $NFP_ASSETS, else built in)", 0, 0, 0},
  };
  int nargs = 12;
  nfp_policy_flags_args(args + nargs, &o->pf);
  nargs += NFP_POLICY_NARGS;
  nfp_bridge_flags_args(args + nargs, &o->bridge);
  nargs += NFP_BRIDGE_NARGS;
  eval_video_args(args + nargs, &o->video);
  nargs += EVAL_VIDEO_NARGS;
  return nfp_args_parse(
      argc, argv, args, nargs,
      "nfp eval [--task NAME|all] [--agent expert|policy] [--policy FILE --mode M] [--episodes N] "
      "[--seed S] [--jobs N] [--json FILE]",
      "Runs seeded trials headless and reports the success rate, episode lengths and wall\n"
      "time; for a policy also the latency per call (p50, p99) and the chunk log-likelihood\n"
      "in successful and failed episodes. A trial succeeds when the task's success condition\n"
      "holds for 3 control steps in a row before the task's step cap. A policy is evaluated\n"
      "on seeds where the scripted expert succeeds (as RoboTwin does), the same seeds for\n"
      "every mode.\n"
      "Progress goes to stderr: a line updated in place on a terminal (trials done, successes,\n"
      "ETA, steps of the trials in flight), else a line every 10 % of a batch or 10 s. A table\n"
      "closes the run: success rate with its 95 % Wilson interval, mean steps, latency.\n"
      "--arms evaluates through an arm server (nfp arms serve) with --jobs 1; a lock-step\n"
      "simulated server gives the in-process results. The expert-seed check still runs the\n"
      "scripted expert in process on --task (it reads the simulator's state); against a rig\n"
      "that is not this simulator, add --keep-expert-failures.\n"
      "Under mpirun -np N the trials of every batch are shared out over N processes (--jobs\n"
      "threads each; the progress line counts rank 0's share) and gathered: the outcomes\n"
      "are those of one process, rank 0 prints and writes the report.");
}

// The cores online -> the default --jobs, within 1..EVAL_MAX_JOBS.
static int eval_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > EVAL_MAX_JOBS ? EVAL_MAX_JOBS : (int)n;
}

// The parsed flags, checked together, and the defaults that depend on others (agent, jobs,
// chart, assets). 0 to go on, else the exit code (message on stderr).
static int eval_check(eval_request* r) {
  eval_opts* o = &r->o;
  if (!o->agent) o->agent = o->pf.path ? "policy" : "expert";
  // Under mpirun the ranks share the cores (Open MPI binds each to its own).
  int per_rank = eval_cores() / nfp_cluster_world()->size;
  if (!o->jobs) o->jobs = o->bridge.endpoint ? 1 : per_rank > 1 ? per_rank : 1;
  r->all = !strcmp(r->task_name, "all");
  if (!r->all && !nfp_task_find(r->task_name)) {
    fprintf(stderr, "nfp eval: unknown task '%s' (known: %s, or all)\n", r->task_name,
            nfp_task_names());
    return 2;
  }
  nfp_agent_spec check = {.kind = o->agent, .policy_path = o->pf.path};
  nfp_sample_mode mode;
  if (nfp_agent_check(&check)) {
    fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
    return 2;
  }
  // eval also takes "all", which the sampler's own message cannot list
  if (strcmp(o->modes, "all") && nfp_sample_mode_parse(&mode, o->modes)) {
    fprintf(stderr, "nfp eval: unknown --mode '%s' (use single, sbs, gr or all)\n", o->modes);
    return 2;
  }
  if (strcmp(o->rank, "logp") && strcmp(o->rank, "q")) {
    fprintf(stderr, "nfp eval: unknown --rank '%s' (use logp or q)\n", o->rank);
    return 2;
  }
  if (o->bridge.endpoint && nfp_cluster_world()->size > 1) {
    fprintf(stderr, "nfp eval: --arms drives one rig from one process: run it without mpirun "
                    "(or with -np 1), not as %d ranks\n", nfp_cluster_world()->size);
    return 2;
  }
  if (o->bridge.endpoint && (r->all || o->jobs != 1)) {
    fprintf(stderr, "nfp eval: --arms drives one rig: give one --task and --jobs 1\n");
    return 2;
  }
  if (nfp_bridge_flags_check(&o->bridge)) {
    fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
    return 2;
  }
  if (r->json && eval_talks() && nfp_file_check_writable(r->json)) {  // rank 0 writes
    fprintf(stderr, "nfp eval: --json: %s\n", nfp_error_last());
    return 1;
  }
  if (!r->chart && r->json) {
    snprintf(r->chart_buf, sizeof(r->chart_buf), "%s", r->json);
    char* dot = strrchr(r->chart_buf, '.');
    if (dot && !strchr(dot, '/')) *dot = '\0';
    strncat(r->chart_buf, ".svg", sizeof(r->chart_buf) - strlen(r->chart_buf) - 1);
    r->chart = r->chart_buf;
  }
  if (!o->assets) o->assets = nfp_asset_dir();
  int vrc = eval_video_check(&o->video, r->task_name, r->all, o->assets, !!o->bridge.endpoint);
  if (vrc) return vrc;
  return 0;
}

// The tasks this run covers: every task with --task all, else the one named.
static int eval_task_count(const eval_request* r) { return r->all ? nfp_task_count() : 1; }

static const char* eval_task_name(const eval_request* r, int k) {
  return r->all ? nfp_task_at(k)->name : r->task_name;
}

// Every task's checkpoint must be there before the first trial runs. 0 or 1 (reported).
static int eval_find_policies(const eval_request* r) {
  for (int k = 0; r->o.policy && k < eval_task_count(r); k++) {
    char path[4096];
    if (policy_path_for(path, sizeof(path), r->o.pf.path, eval_task_name(r, k), r->all)) {
      fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
      return 1;
    }
  }
  return 0;
}

// A single run of the agent (beside the expert's reference run) keeps its fields at the
// top level of root too (task, trials, success_rate, records, ...).
static void hoist_single_run(cJSON* root, const cJSON* runs, const char* agent) {
  const cJSON* only = NULL;
  int n_own = 0;
  for (const cJSON* run = runs->child; run; run = run->next) {
    if (!strcmp(cJSON_GetObjectItem(run, "agent")->valuestring, agent)) {
      only = run;
      n_own++;
    }
  }
  if (n_own != 1) return;
  for (const cJSON* it = only->child; it; it = it->next) {
    if (!cJSON_GetObjectItemCaseSensitive(root, it->string)) {
      cJSON_AddItemToObject(root, it->string, cJSON_Duplicate(it, 1));
    }
  }
}

// The chart's subtitle: the policy's file or folder name (else the agent), and today.
static void eval_subtitle(char* buf, size_t cap, const eval_opts* o) {
  char name[256], day[16] = "";
  snprintf(name, sizeof(name), "%s", o->policy ? o->pf.path : o->agent);
  size_t len = strlen(name);
  while (len > 1 && name[len - 1] == '/') name[--len] = '\0';  // "policies/": the folder
  const char* slash = strrchr(name, '/');
  time_t now = time(NULL);
  struct tm tm;
  if (localtime_r(&now, &tm)) strftime(day, sizeof(day), "%Y-%m-%d", &tm);
  snprintf(buf, cap, "%s, %s", slash && slash[1] ? slash + 1 : name, day);
}

// The report -> --json and the bars -> the chart, each announced on stdout. 0 or 1.
static int eval_write(const eval_request* r, const cJSON* root, const nfp_bar* bars,
                      int nbars) {
  if (r->json) {
    char* text = cJSON_Print(root);
    int failed = !text || nfp_text_write(r->json, text);
    if (failed) {
      fprintf(stderr, "nfp eval: %s\n", text ? nfp_error_last() : "out of memory");
    } else {
      printf("report: %s\n", r->json);
    }
    free(text);
    if (failed) return 1;
  }
  if (r->chart) {
    char title[256], subtitle[300];
    snprintf(title, sizeof(title), "success rate over %d trials (%s)", r->o.trials, r->o.agent);
    eval_subtitle(subtitle, sizeof(subtitle), &r->o);
    if (nfp_bars_write(r->chart, title, subtitle, bars, nbars)) {
      fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
      return 1;
    }
    printf("chart: %s\n", r->chart);
  }
  return 0;
}

// Every task in turn -> one JSON report (and chart); the exit code.
static int eval_run(const eval_request* r) {
  const eval_opts* o = &r->o;
  double t0 = nfp_clock_seconds();
  cJSON* root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "agent", o->agent);
  if (o->policy) cJSON_AddStringToObject(root, "policy", o->pf.path);
  cJSON* runs = cJSON_AddArrayToObject(root, "runs");
  int ntasks = eval_task_count(r);
  nfp_bar* bars = calloc((size_t)ntasks * (EVAL_MAX_MODES + 1), sizeof(nfp_bar));
  int nbars = 0, rc = 0;
  for (int k = 0; k < ntasks && !rc && bars; k++) {
    if (eval_task(runs, bars, &nbars, eval_task_name(r, k), o, r->all)) {
      fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
      rc = 1;
    }
  }
  if (!rc && eval_talks()) eval_summary_print(stdout, runs);
  if (!rc) hoist_single_run(root, runs, o->agent);
  cJSON_AddNumberToObject(root, "total_wall_time_s", nfp_clock_seconds() - t0);
  if (!rc && eval_talks()) rc = eval_write(r, root, bars, nbars);
  free(bars);
  cJSON_Delete(root);
  return rc;
}

// Flags -> checks -> every task's trials -> report and chart.
int nfp_cmd_eval(int argc, char** argv) {
  eval_request r = {.task_name = "lift_pot",
                    .o = {.modes = "sbs", .rank = "logp", .trials = 100, .jobs = 0, .seed0 = 100000}};
  nfp_policy_flags_default(&r.o.pf);
  nfp_bridge_flags_default(&r.o.bridge);
  int rc = eval_parse(&r, argc, argv);
  if (rc) return rc == 1 ? 0 : 2;
  rc = eval_check(&r);
  if (rc) return rc;
  // One BLAS thread per worker: the workers already use the cores, and latency figures
  // are then per-core figures, comparable with nfp bench.
  openblas_set_num_threads(1);
  r.o.policy = nfp_agent_needs_policy(r.o.agent);
  if (eval_find_policies(&r)) return 1;
  return eval_run(&r);
}
