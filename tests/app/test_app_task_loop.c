// The whole loop on one task (the task name is argv[1]): nfp collect records an expert
// episode whose actions replay it to success, nfp train makes a (tiny) policy from it
// that remembers its task, nfp eval runs that policy on the task with the expert's rate
// beside it, and refuses it on another task.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "json_util.h"
#include "nfp/checkpoint.h"
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

static cli_result r;
static const char* task_name;

static void run_ok(const char* args) {
  if (cli_run(&r, "", args)) fail_msg("nfp %s exited %d:\n%s\n%s", args, r.code, r.out, r.err);
}

static void test_collect_train_eval(void** state) {
  (void)state;
  char demos[400], ckpt[400], json[400], args[2048];
  snprintf(demos, sizeof(demos), "%s/demos", cli_tmpdir);
  snprintf(ckpt, sizeof(ckpt), "%s/p.safetensors", cli_tmpdir);
  snprintf(json, sizeof(json), "%s/r.json", cli_tmpdir);

  // collect: one expert episode, and its recorded targets replay it to success
  snprintf(args, sizeof(args), "collect --task %s --episodes 1 --seed 3 --out %s", task_name,
           demos);
  run_ok(args);
  char** paths = NULL;
  assert_int_equal(nfp_demo_list(demos, &paths), 1);
  nfp_episode ep;
  if (nfp_demo_read(paths[0], &ep, 0)) fail_msg("%s", nfp_error_last());
  nfp_demo_list_free(paths, 1);
  assert_string_equal(ep.task, task_name);
  assert_int_equal(ep.success, 1);
  assert_true(ep.nobj > 0);
  nfp_task* t = nfp_task_create(task_name, NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  nfp_task_reset(t, (uint64_t)ep.seed);
  for (int k = 0; k < ep.T; k++) {
    double q[14];
    nfp_task_observe(t, q, NULL);
    assert_memory_equal(q, ep.qpos + (size_t)k * 14, sizeof(q));
    nfp_task_step(t, ep.action + (size_t)k * 14);
  }
  assert_true(nfp_task_success(t));
  nfp_task_free(t);
  int nobj = ep.nobj;
  nfp_episode_free(&ep);

  // train: a tiny policy that records which task its demos came from, with a closed-loop
  // rollout of its weights after every epoch logged beside the NLL
  snprintf(args, sizeof(args),
           "train --data %s --out %s --epochs 2 --batch 16 --hidden 16 --layers 2 --context 8 "
           "--threads 1 --eval-every 1 --eval-episodes 1", demos, ckpt);
  run_ok(args);
  assert_non_null(strstr(r.out, "rollouts "));
  char metrics[600];
  snprintf(metrics, sizeof(metrics), "%s", ckpt);
  char* ext = strstr(metrics, ".safetensors");
  assert_non_null(ext);
  strcpy(ext, ".metrics.jsonl");
  FILE* mf = fopen(metrics, "r");
  assert_non_null(mf);
  char line[2048];
  int with_rollouts = 0;
  while (fgets(line, sizeof(line), mf)) {
    with_rollouts += strstr(line, "\"rollout_episodes\":1") != NULL;
  }
  fclose(mf);
  assert_int_equal(with_rollouts, 2);
  // rollouts on the demos' own seeds are refused
  snprintf(args, sizeof(args),
           "train --data %s --out %s.x --epochs 1 --eval-every 1 --eval-seed 0", demos, ckpt);
  cli_run(&r, "", args);
  if (r.code != 1 || !strstr(r.err, "overlap the demos' seeds")) {
    fail_msg("--eval-seed 0: exit %d, stderr: %s", r.code, r.err);
  }
  nfp_meta meta = {0};
  nfp_model* m = nfp_checkpoint_load(ckpt, NULL, &meta);
  if (!m) fail_msg("%s", nfp_error_last());
  assert_string_equal(nfp_meta_get(&meta, "demo_task"), task_name);
  assert_int_equal(m->cfg.state_dim, 14 + nobj);  // joints + the task's object state
  // it trained on the demos' mirror images too exactly when the task asks for that
  const nfp_task_def* def = nfp_task_find(task_name);
  int symmetric = def->mirror_object != NULL;
  const char* tc = nfp_meta_get(&meta, "train_config");
  assert_non_null(strstr(tc, def->mirror_by_default ? "\"twins\":true" : "\"twins\":false"));
  nfp_meta_free(&meta);
  nfp_model_free(m);

  // --mirror on is refused for a task that is not symmetric, with the reason
  if (!symmetric) {
    snprintf(args, sizeof(args), "train --data %s --out %s.m --epochs 1 --mirror on", demos, ckpt);
    cli_run(&r, "", args);
    if (r.code != 1 || !strstr(r.err, "not left-right symmetric")) {
      fail_msg("--mirror on for %s: exit %d, stderr: %s", task_name, r.code, r.err);
    }
  }

  // eval: one trial per mode on the task, the expert's rate on the same seed beside it
  snprintf(args, sizeof(args),
           "eval --task %s --policy %s --mode all --episodes 1 --seed 100000 --json %s",
           task_name, ckpt, json);
  run_ok(args);
  cJSON* root = json_read_report(json);
  const cJSON* runs = cJSON_GetObjectItem(root, "runs");
  assert_int_equal(cJSON_GetArraySize(runs), 4);
  const char* agents[4] = {"expert", "policy", "policy", "policy"};
  for (int i = 0; i < 4; i++) {
    const cJSON* run = cJSON_GetArrayItem(runs, i);
    assert_string_equal(cJSON_GetObjectItem(run, "task")->valuestring, task_name);
    assert_string_equal(cJSON_GetObjectItem(run, "agent")->valuestring, agents[i]);
    assert_int_equal(cJSON_GetObjectItem(run, "trials")->valueint, 1);
  }
  assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(runs, 0), "successes")->valueint, 1);
  cJSON_Delete(root);

  // the policy is refused on another task, naming both
  const char* other = strcmp(task_name, "lift_pot") ? "lift_pot" : "stack_block_two";
  snprintf(args, sizeof(args), "eval --task %s --policy %s --episodes 1", other, ckpt);
  cli_run(&r, "", args);
  if (r.code != 1 || !strstr(r.err, task_name) || !strstr(r.err, other)) {
    fail_msg("policy of %s on %s: exit %d, stderr: %s", task_name, other, r.code, r.err);
  }
}

int main(int argc, char** argv) {
  if (argc != 2 || !nfp_task_find(argv[1])) {
    fprintf(stderr, "usage: test_app_task_loop TASK (one of %s)\n", nfp_task_names());
    return 2;
  }
  task_name = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_collect_train_eval),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
