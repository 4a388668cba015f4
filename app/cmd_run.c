// nfp run: drive a rig with a policy, episode after episode, through the same rollout
// runner as eval: an arm server (--arms, any rig behind the bridge) or the in-process
// simulator (--task).
#include <cblas.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "bridge_flags.h"
#include "commands.h"
#include "files.h"
#include "nfp/agent.h"
#include "nfp/arms_sim.h"
#include "nfp/bridge.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rollout.h"
#include "nfp/tasks.h"
#include "policy_flags.h"

static const char* run_about =
    "Runs a policy on a rig for --episodes episodes with the rollout runner eval uses\n"
    "(an episode ends on success held 3 steps or at the rig's step cap). --arms drives an\n"
    "arm server (nfp arms serve): the simulated rig or real hardware, over CURVE unless\n"
    "--insecure; --task runs the simulator in process. Against a lock-step simulated\n"
    "server the episodes are the in-process ones, step for step. Reports success (when\n"
    "the rig can judge it), steps and policy latency per episode.";

// nfp run's flags.
typedef struct {
  const char* task;  // in-process simulator, or NULL with --arms
  const char* assets;
  const char* mode_name;
  nfp_sample_mode mode;
  const char* json;
  int episodes;
  long long seed0;
  nfp_policy_flags pf;
  nfp_bridge_flags bf;
} run_opts;

// The rig, the policy agent acting on it, and the rollout runner, freed by run_rig_close.
typedef struct {
  nfp_model* model;
  nfp_arms* arms;
  nfp_agent* agent;
  nfp_rollout ro;
} run_rig;

// argv -> o through the flag table. 0 go on, 1 --help printed, 2 bad flags (reported).
static int run_parse(run_opts* o, int argc, char** argv) {
  nfp_arg args[8 + NFP_POLICY_NARGS + NFP_BRIDGE_NARGS] = {
      {"--task", NFP_ARG_STR, &o->task, "NAME", "run the simulated task in process (no --arms)",
       0, 0, 0},
      {"--mode", NFP_ARG_STR, &o->mode_name, "M",
       "policy sampling: single, sbs or gr", 0, 0, 0},
      {"--episodes", NFP_ARG_INT, &o->episodes, "N", "episodes to run", 1, 1e6, 0},
      {"--seed", NFP_ARG_SEED, &o->seed0, "S", "first episode seed (a simulator's set-up)", 0,
       9e15, 0},
      {"--json", NFP_ARG_STR, &o->json, "FILE", "write per-episode results here", 0, 0, 0},
      {"--assets", NFP_ARG_STR, &o->assets, "DIR", "asset folder for --task", 0, 0, 0},
  };
  int nargs = 6;
  nfp_policy_flags_args(args + nargs, &o->pf);
  args[nargs].help = "policy checkpoint (.safetensors)";  // one file: no eval folder here
  args[nargs].required = 1;
  nargs += NFP_POLICY_NARGS;
  nfp_bridge_flags_args(args + nargs, &o->bf);
  nargs += NFP_BRIDGE_NARGS;
  return nfp_args_parse(argc, argv, args, nargs,
                        "nfp run --policy FILE (--arms tcp://HOST:PORT [--server-key F --key F | "
                        "--insecure] | --task NAME) [--mode M] [--episodes N] [--seed S]",
                        run_about);
}

// One rig (--arms or --task), a known task, mode and writable --json. 0 or 2 (reported).
static int run_check(run_opts* o) {
  if ((o->bf.endpoint != NULL) == (o->task != NULL)) {
    fprintf(stderr, "nfp run: give exactly one of --arms ENDPOINT and --task NAME\n");
    return 2;
  }
  if (o->task && !nfp_task_find(o->task)) {
    fprintf(stderr, "nfp run: unknown task '%s' (known: %s)\n", o->task, nfp_task_names());
    return 2;
  }
  if (nfp_sample_mode_parse(&o->mode, o->mode_name) || nfp_bridge_flags_check(&o->bf) ||
      (o->json && nfp_file_check_writable(o->json))) {
    fprintf(stderr, "nfp run: %s\n", nfp_error_last());
    return 2;
  }
  return 0;
}

// The policy checkpoint, the rig it drives and the agent -> g. 0 or -1 (error set).
static int run_rig_open(run_rig* g, const run_opts* o) {
  if (nfp_policy_flags_load(&o->pf, &g->model)) return -1;
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &o->pf, g->model, o->mode);
  g->arms = o->task ? nfp_arms_sim_create(o->task, o->assets)
                    : nfp_arms_zmq_connect(o->bf.endpoint, &o->bf.client);
  g->agent = g->arms ? nfp_agent_create(&spec) : NULL;
  return g->agent ? 0 : -1;
}

// Everything run_rig_open made (each part may be missing).
static void run_rig_close(run_rig* g) {
  nfp_rollout_free(&g->ro);
  nfp_agent_free(g->agent);
  nfp_arms_close(g->arms);
  nfp_model_free(g->model);
}

// The episode just run -> 1 when the rig judged success (its last observation's success
// is 1 or 0), 0 when it cannot judge it (-1, e.g. the replay driver).
static int episode_judged(const nfp_rollout* ro) { return ro->success || ro->obs.success >= 0; }

// One episode's result, as JSON ("success": null when the rig cannot judge it).
static cJSON* episode_json(uint64_t seed, const nfp_rollout* ro, double wall) {
  cJSON* o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "seed", (double)seed);
  if (episode_judged(ro)) cJSON_AddBoolToObject(o, "success", ro->success);
  else cJSON_AddNullToObject(o, "success");
  cJSON_AddNumberToObject(o, "steps", ro->steps);
  cJSON_AddNumberToObject(o, "wall_s", wall);
  cJSON_AddNumberToObject(o, "plans", ro->plans);
  cJSON_AddNumberToObject(o, "hold_steps", ro->hold_steps);
  return o;
}

// --episodes rollouts from --seed on: a line each on stdout, a record each in recs,
// the episodes the rig could not judge in *unknown. The successes, or -1 (error set).
static int run_episodes(run_rig* g, const run_opts* o, cJSON* recs, int* unknown) {
  int successes = 0;
  *unknown = 0;
  for (int k = 0; k < o->episodes; k++) {
    uint64_t seed = (uint64_t)(o->seed0 + k);
    double t0 = nfp_clock_seconds();
    if (nfp_rollout_run(&g->ro, g->arms, g->agent, seed)) return -1;
    double wall = nfp_clock_seconds() - t0;
    int judged = episode_judged(&g->ro);
    successes += g->ro.success;
    *unknown += !judged;
    const char* what = !judged ? "success unknown (the rig cannot judge it)"
                       : g->ro.success ? "success" : "no success";
    printf("episode %d seed %llu: %s in %d steps (%.2f s, %d plans, %d held)\n", k + 1,
           (unsigned long long)seed, what, g->ro.steps, wall, g->ro.plans, g->ro.hold_steps);
    fflush(stdout);
    cJSON_AddItemToArray(recs, episode_json(seed, &g->ro, wall));
  }
  return successes;
}

// The episodes on the rig -> the success count on stdout and the report -> --json. 0 or -1.
static int run_report(run_rig* g, const run_opts* o) {
  printf("running %s (%s) on %s: %d episode%s from seed %lld\n", o->pf.path, o->mode_name,
         g->arms->info.name, o->episodes, o->episodes == 1 ? "" : "s", o->seed0);
  fflush(stdout);
  cJSON* root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "policy", o->pf.path);
  cJSON_AddStringToObject(root, "mode", o->mode_name);
  cJSON_AddStringToObject(root, "rig", g->arms->info.name);
  cJSON* recs = cJSON_AddArrayToObject(root, "episodes");
  int unknown = 0;
  int successes = run_episodes(g, o, recs, &unknown);
  int rc = successes < 0 ? -1 : 0;
  if (!rc) {
    int judged = o->episodes - unknown;  // the rate counts only the episodes the rig judged
    if (unknown) {
      printf("%d of %d judged episodes succeeded; %d unknown (the rig cannot judge success)\n",
             successes, judged, unknown);
    } else {
      printf("%d/%d episodes succeeded\n", successes, o->episodes);
    }
    cJSON_AddNumberToObject(root, "successes", successes);
    cJSON_AddNumberToObject(root, "judged", judged);
    cJSON_AddNumberToObject(root, "unknown", unknown);
    if (judged) cJSON_AddNumberToObject(root, "success_rate", (double)successes / judged);
    else cJSON_AddNullToObject(root, "success_rate");
    if (o->json) {
      char* text = cJSON_Print(root);
      rc = text && !nfp_text_write(o->json, text) ? 0 : -1;
      free(text);
    }
  }
  cJSON_Delete(root);
  return rc;
}

// Flags -> checks -> policy, rig and agent -> episodes and report.
static int run(int argc, char** argv) {
  run_opts o = {.mode_name = "sbs", .episodes = 1, .seed0 = 100000};
  nfp_policy_flags_default(&o.pf);
  nfp_bridge_flags_default(&o.bf);
  int rc = run_parse(&o, argc, argv);
  if (rc) return rc;  // 1: --help, 2: bad flags
  if (run_check(&o)) return 2;
  openblas_set_num_threads(1);
  run_rig g;
  memset(&g, 0, sizeof(g));
  rc = run_rig_open(&g, &o);
  if (!rc) rc = run_report(&g, &o);
  run_rig_close(&g);
  return rc;
}

int nfp_cmd_run(int argc, char** argv) {
  int rc = run(argc, argv);
  if (rc == 1) return 0;
  if (rc == 2) return 2;
  if (rc) {
    fprintf(stderr, "nfp run: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}
