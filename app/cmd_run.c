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

static int run(int argc, char** argv) {
  const char* task = NULL;
  const char* assets = NULL;
  const char* mode_name = "sbs";
  const char* json = NULL;
  int episodes = 1;
  long long seed0 = 100000;
  nfp_policy_flags pf;
  nfp_policy_flags_default(&pf);
  nfp_bridge_flags bf;
  nfp_bridge_flags_default(&bf);
  nfp_arg args[8 + NFP_POLICY_NARGS + NFP_BRIDGE_NARGS] = {
      {"--task", NFP_ARG_STR, &task, "NAME", "run the simulated task in process (no --arms)", 0, 0,
       0},
      {"--mode", NFP_ARG_STR, &mode_name, "M", "policy sampling: single, sbs or gr (default sbs)",
       0, 0, 0},
      {"--episodes", NFP_ARG_INT, &episodes, "N", "episodes to run", 1, 1e6, 0},
      {"--seed0", NFP_ARG_SEED, &seed0, "S", "first episode seed (a simulator's set-up)", 0, 9e15,
       0},
      {"--json", NFP_ARG_STR, &json, "FILE", "write per-episode results here", 0, 0, 0},
      {"--assets", NFP_ARG_STR, &assets, "DIR", "asset folder for --task", 0, 0, 0},
  };
  int nargs = 6;
  nfp_policy_flags_args(args + nargs, &pf);
  args[nargs].required = 1;
  nargs += NFP_POLICY_NARGS;
  nfp_bridge_flags_args(args + nargs, &bf);
  nargs += NFP_BRIDGE_NARGS;
  int rc = nfp_args_parse(argc, argv, args, nargs,
                          "nfp run --policy FILE (--arms tcp://HOST:PORT [--server-key F --key F | "
                          "--insecure] | --task NAME) [--mode M] [--episodes N] [--seed0 S]",
                          run_about);
  if (rc) return rc;
  nfp_sample_mode mode;
  if ((bf.endpoint != NULL) == (task != NULL)) {
    fprintf(stderr, "nfp run: give exactly one of --arms ENDPOINT and --task NAME\n");
    return 2;
  }
  if (task && !nfp_task_find(task)) {
    fprintf(stderr, "nfp run: unknown task '%s' (known: %s)\n", task, nfp_task_names());
    return 2;
  }
  if (nfp_sample_mode_parse(&mode, mode_name) || nfp_bridge_flags_check(&bf) ||
      (json && nfp_file_check_writable(json))) {
    fprintf(stderr, "nfp run: %s\n", nfp_error_last());
    return 2;
  }
  openblas_set_num_threads(1);
  nfp_model* model = NULL;
  if (nfp_policy_flags_load(&pf, &model)) return -1;
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &pf, model, mode);
  nfp_arms* arms = task ? nfp_arms_sim_create(task, assets) : nfp_arms_zmq_connect(bf.endpoint, &bf.client);
  nfp_agent* agent = arms ? nfp_agent_create(&spec) : NULL;
  if (!agent) {
    nfp_arms_close(arms);
    nfp_model_free(model);
    return -1;
  }
  printf("running %s (%s) on %s: %d episode%s from seed %lld\n", pf.path, mode_name,
         arms->info.name, episodes, episodes == 1 ? "" : "s", seed0);
  fflush(stdout);
  cJSON* root = cJSON_CreateObject();
  cJSON_AddStringToObject(root, "policy", pf.path);
  cJSON_AddStringToObject(root, "mode", mode_name);
  cJSON_AddStringToObject(root, "rig", arms->info.name);
  cJSON* recs = cJSON_AddArrayToObject(root, "episodes");
  nfp_rollout ro = {0};
  int successes = 0;
  for (int k = 0; k < episodes && !rc; k++) {
    uint64_t seed = (uint64_t)(seed0 + k);
    double t0 = nfp_clock_seconds();
    if (nfp_rollout_run(&ro, arms, agent, seed)) {
      rc = -1;
      break;
    }
    double wall = nfp_clock_seconds() - t0;
    successes += ro.success;
    printf("episode %d seed %llu: %s in %d steps (%.2f s, %d plans, %d held)\n", k + 1,
           (unsigned long long)seed, ro.success ? "success" : "no success", ro.steps, wall,
           ro.plans, ro.hold_steps);
    fflush(stdout);
    cJSON* o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seed", (double)seed);
    cJSON_AddBoolToObject(o, "success", ro.success);
    cJSON_AddNumberToObject(o, "steps", ro.steps);
    cJSON_AddNumberToObject(o, "wall_s", wall);
    cJSON_AddNumberToObject(o, "plans", ro.plans);
    cJSON_AddNumberToObject(o, "hold_steps", ro.hold_steps);
    cJSON_AddItemToArray(recs, o);
  }
  if (!rc) {
    printf("%d/%d episodes succeeded\n", successes, episodes);
    cJSON_AddNumberToObject(root, "successes", successes);
    cJSON_AddNumberToObject(root, "success_rate", (double)successes / episodes);
    if (json) {
      char* text = cJSON_Print(root);
      rc = text && !nfp_text_write(json, text) ? 0 : -1;
      free(text);
    }
  }
  cJSON_Delete(root);
  nfp_rollout_free(&ro);
  nfp_agent_free(agent);
  nfp_arms_close(arms);
  nfp_model_free(model);
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
