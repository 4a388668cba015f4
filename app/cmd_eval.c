// nfp eval: headless success rate of an agent over seeded trials, optionally on
// several worker threads. A trial's outcome depends only on its seed, so the
// per-trial results do not depend on --jobs.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent.h"
#include "args.h"
#include "clock.h"
#include "commands.h"
#include "files.h"
#include "nfp/error.h"
#include "nfp/tasks.h"
#include "rollout.h"

#define EVAL_MAX_JOBS 64

typedef struct {
  uint64_t seed;
  int success;
  int steps;
  double wall_s;
} trial_result;

// One task's evaluation, shared by the workers; everything mutable is under lock.
typedef struct {
  const char* task_name;
  const nfp_agent_spec* spec;
  int trials;
  long long seed0;
  trial_result* results;  // [trials], slot i holds seed seed0 + i
  pthread_mutex_t lock;
  int next;  // next trial to hand out
  int finished, successes;
  int failed;  // a worker hit an error; the others stop
  char error[1024];
  int tty;
  double t0;
} eval_run;

typedef struct {
  eval_run* run;
  nfp_task* task;
  nfp_agent* agent;
} eval_worker;

static void eval_progress(eval_run* e, int i) {
  const trial_result* r = &e->results[i];
  if (e->tty) {
    printf("\r%s [%d/%d] successes %d (%.1f %%), %.1f s   ", e->task_name, e->finished, e->trials,
           e->successes, 100.0 * e->successes / e->finished, nfp_wall_seconds() - e->t0);
  } else {
    printf("trial %d/%d seed %llu: %s in %d steps (%.2f s)\n", e->finished, e->trials,
           (unsigned long long)r->seed, r->success ? "success" : "failure", r->steps, r->wall_s);
  }
  fflush(stdout);
}

static void* eval_worker_main(void* arg) {
  eval_worker* w = arg;
  eval_run* e = w->run;
  for (;;) {
    pthread_mutex_lock(&e->lock);
    int i = e->failed ? e->trials : e->next++;
    pthread_mutex_unlock(&e->lock);
    if (i >= e->trials) break;
    trial_result r = {(uint64_t)(e->seed0 + i), 0, 0, 0.0};
    double t0 = nfp_wall_seconds();
    nfp_rollout ro;
    int st = nfp_rollout_run(&ro, w->task, w->agent, r.seed);
    r.success = ro.success;
    r.steps = ro.steps;
    r.wall_s = nfp_wall_seconds() - t0;
    pthread_mutex_lock(&e->lock);
    if (st) {
      if (!e->failed) snprintf(e->error, sizeof(e->error), "%s", nfp_error_last());
      e->failed = 1;
    } else {
      e->results[i] = r;
      e->finished++;
      e->successes += r.success;
      eval_progress(e, i);
    }
    pthread_mutex_unlock(&e->lock);
  }
  return NULL;
}

static cJSON* eval_report(const eval_run* e, int jobs, double wall) {
  cJSON* o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "task", e->task_name);
  cJSON_AddStringToObject(o, "agent", e->spec->kind);
  if (e->spec->policy_path) cJSON_AddStringToObject(o, "policy", e->spec->policy_path);
  cJSON_AddNumberToObject(o, "trials", e->trials);
  cJSON_AddNumberToObject(o, "successes", e->successes);
  cJSON_AddNumberToObject(o, "success_rate", (double)e->successes / e->trials);
  double steps = 0;
  for (int i = 0; i < e->trials; i++) steps += e->results[i].steps;
  cJSON_AddNumberToObject(o, "mean_steps", steps / e->trials);
  cJSON_AddNumberToObject(o, "seed0", (double)e->seed0);
  cJSON* seeds = cJSON_AddArrayToObject(o, "seeds");
  cJSON* recs = cJSON_AddArrayToObject(o, "records");
  for (int i = 0; i < e->trials; i++) {
    const trial_result* r = &e->results[i];
    cJSON_AddItemToArray(seeds, cJSON_CreateNumber((double)r->seed));
    cJSON* rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "seed", (double)r->seed);
    cJSON_AddBoolToObject(rec, "success", r->success);
    cJSON_AddNumberToObject(rec, "steps", r->steps);
    cJSON_AddNumberToObject(rec, "wall_s", r->wall_s);
    cJSON_AddItemToArray(recs, rec);
  }
  cJSON_AddNumberToObject(o, "jobs", jobs);
  cJSON_AddNumberToObject(o, "wall_time_s", wall);
  return o;
}

// Evaluate one task; on success *report holds its JSON. Returns an exit code.
static int eval_task(cJSON** report, const char* task_name, const char* assets,
                     const nfp_agent_spec* spec, int trials, long long seed0, int jobs) {
  *report = NULL;
  if (jobs > trials) jobs = trials;
  eval_run e;
  memset(&e, 0, sizeof(e));
  e.task_name = task_name;
  e.spec = spec;
  e.trials = trials;
  e.seed0 = seed0;
  e.tty = isatty(STDOUT_FILENO);
  e.results = calloc((size_t)trials, sizeof(trial_result));
  eval_worker w[EVAL_MAX_JOBS];
  memset(w, 0, sizeof(w));
  int rc = e.results ? 0 : 1;
  if (rc) fprintf(stderr, "nfp eval: out of memory\n");
  // Load every worker's model here, so a broken asset is one clear message.
  for (int j = 0; j < jobs && !rc; j++) {
    w[j].run = &e;
    w[j].task = nfp_task_create(task_name, assets);
    w[j].agent = w[j].task ? nfp_agent_create(spec) : NULL;
    if (!w[j].agent) {
      fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
      rc = 1;
    }
  }
  if (!rc) {
    printf("evaluating %s on %s: %d trials, seeds %lld..%lld, %d job%s\n", spec->kind, task_name,
           trials, seed0, seed0 + trials - 1, jobs, jobs == 1 ? "" : "s");
    fflush(stdout);
    pthread_mutex_init(&e.lock, NULL);
    pthread_t th[EVAL_MAX_JOBS];
    e.t0 = nfp_wall_seconds();
    int started = 0;
    for (int j = 1; j < jobs; j++) {
      if (pthread_create(&th[j], NULL, eval_worker_main, &w[j])) break;
      started = j;
    }
    eval_worker_main(&w[0]);  // the main thread is worker 0
    for (int j = 1; j <= started; j++) pthread_join(th[j], NULL);
    double wall = nfp_wall_seconds() - e.t0;
    pthread_mutex_destroy(&e.lock);
    if (e.tty) printf("\n");
    if (e.failed) {
      fprintf(stderr, "nfp eval: %s\n", e.error);
      rc = 1;
    } else {
      double steps = 0;
      for (int i = 0; i < trials; i++) steps += e.results[i].steps;
      printf("%s / %s: %d/%d successes (%.1f %%), mean steps %.1f, wall time %.2f s (%d job%s)\n",
             task_name, spec->kind, e.successes, trials, 100.0 * e.successes / trials,
             steps / trials, wall, jobs, jobs == 1 ? "" : "s");
      *report = eval_report(&e, jobs, wall);
    }
  }
  for (int j = 0; j < jobs; j++) {
    nfp_agent_free(w[j].agent);
    if (w[j].task) nfp_task_free(w[j].task);
  }
  free(e.results);
  return rc;
}

int nfp_cmd_eval(int argc, char** argv) {
  const char* task_name = "lift_pot";
  const char* agent = "expert";
  const char* policy = NULL;
  const char* json = NULL;
  const char* assets = NULL;
  int trials = 100, jobs = 1;
  long long seed0 = 100000;
  nfp_arg args[] = {
      {"--task", NFP_ARG_STR, &task_name, "NAME", "task to evaluate, or 'all' for every task", 0, 0,
       0},
      {"--agent", NFP_ARG_STR, &agent, "KIND", "who acts: expert (the scripted expert)", 0, 0, 0},
      {"--policy", NFP_ARG_STR, &policy, "FILE", "checkpoint, for agents that need one", 0, 0, 0},
      {"--trials", NFP_ARG_INT, &trials, "N", "number of trials", 1, 1e6, 0},
      {"--seed0", NFP_ARG_SEED, &seed0, "S", "trial i uses seed S+i", 0, 9e15, 0},
      {"--jobs", NFP_ARG_INT, &jobs, "N", "worker threads (results do not depend on it)", 1,
       EVAL_MAX_JOBS, 0},
      {"--json", NFP_ARG_STR, &json, "FILE", "write a JSON report (per-trial records) here", 0, 0,
       0},
      {"--assets", NFP_ARG_STR, &assets, "DIR", "asset folder (default $NFP_ASSETS, else built in)",
       0, 0, 0},
  };
  int nargs = (int)(sizeof(args) / sizeof(args[0]));
  int rc =
      nfp_args_parse(argc, argv, args, nargs,
                     "nfp eval [--task NAME|all] [--agent KIND] [--trials N] [--seed0 S] "
                     "[--jobs N] [--json FILE]",
                     "Runs seeded trials headless and reports the success rate, mean steps "
                     "and wall time.\nA trial succeeds when the task's success condition holds "
                     "for 3 control steps in a row\nbefore the task's step cap.");
  if (rc) return rc == 1 ? 0 : 2;
  int all = !strcmp(task_name, "all");
  if (!all && !nfp_task_find(task_name)) {
    fprintf(stderr, "nfp eval: unknown task '%s' (known: %s, or all)\n", task_name,
            nfp_task_names());
    return 2;
  }
  nfp_agent_spec spec = {agent, policy};
  if (nfp_agent_check(&spec)) {
    fprintf(stderr, "nfp eval: %s\n", nfp_error_last());
    return 2;
  }
  if (json && nfp_file_check_writable(json)) {
    fprintf(stderr, "nfp eval: --json: %s\n", nfp_error_last());
    return 1;
  }
  if (!assets) assets = nfp_asset_dir();
  double t0 = nfp_wall_seconds();
  cJSON* root = NULL;
  cJSON* list = NULL;
  if (all) {
    root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "agent", agent);
    list = cJSON_AddArrayToObject(root, "tasks");
  }
  int ntasks = all ? nfp_task_count() : 1;
  for (int k = 0; k < ntasks && !rc; k++) {
    const char* name = all ? nfp_task_at(k)->name : task_name;
    cJSON* rep = NULL;
    rc = eval_task(&rep, name, assets, &spec, trials, seed0, jobs);
    if (rep && all) cJSON_AddItemToArray(list, rep);
    if (rep && !all) root = rep;
  }
  if (all && !rc) cJSON_AddNumberToObject(root, "wall_time_s", nfp_wall_seconds() - t0);
  if (!rc && json) {
    char* text = cJSON_Print(root);
    if (!text || nfp_text_write(json, text)) {
      fprintf(stderr, "nfp eval: %s\n", text ? nfp_error_last() : "out of memory");
      rc = 1;
    } else {
      printf("report: %s\n", json);
    }
    free(text);
  }
  cJSON_Delete(root);
  return rc;
}
