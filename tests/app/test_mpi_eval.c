// nfp eval under mpirun: the ranks share out every batch's trials and gather the results,
// so the report holds the one-process outcomes seed by seed (the expert and a policy in
// every mode, shards uneven or empty); rank 0 alone prints and writes; --arms refuses ranks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "json_util.h"

static cli_result r;

// How many times needle occurs in hay.
static int count(const char* hay, const char* needle) {
  int n = 0;
  for (const char* p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

// `nfp eval ARGS --json DIR/NAME.json` on `ranks` MPI processes (1: no mpirun) -> the report.
static cJSON* eval_on(int ranks, const char* name, const char* args) {
  char prefix[512], all[2048], json[512];
  snprintf(json, sizeof(json), "%s/%s.json", cli_tmpdir, name);
  snprintf(prefix, sizeof(prefix), ranks > 1 ? "'%s' --oversubscribe -np %d" : "", NFP_MPIRUN,
           ranks);
  snprintf(all, sizeof(all), "eval --task lift_pot --seed 100000 --jobs 1 --json '%s' %s", json,
           args);
  int code = cli_run(&r, prefix, all);
  if (code) fail_msg("eval on %d rank(s) exited %d:\n%s\n%s", ranks, code, r.out, r.err);
  // Rank 0 speaks for the job: one table, one report line.
  assert_int_equal(count(r.out, "\nsummary: "), 1);
  assert_int_equal(count(r.out, "report: "), 1);
  cJSON* root = json_read_report(json);
  // Every batch run (not the expert's reference tally) says how many ranks ran it.
  const cJSON* run;
  cJSON_ArrayForEach(run, cJSON_GetObjectItem(root, "runs")) {
    if (!cJSON_GetObjectItem(run, "records")) continue;
    assert_int_equal(cJSON_GetObjectItem(run, "ranks")->valueint, ranks);
  }
  return root;
}

static void same_number(const cJSON* a, const cJSON* b, const char* key) {
  const cJSON* x = cJSON_GetObjectItemCaseSensitive(a, key);
  const cJSON* y = cJSON_GetObjectItemCaseSensitive(b, key);
  if (!x && !y) return;
  if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y)) fail_msg("'%s' missing in a report", key);
  if (x->valuedouble != y->valuedouble) {
    fail_msg("'%s' differs: %.17g vs %.17g", key, x->valuedouble, y->valuedouble);
  }
}

// Every run (expert reference and modes) has the same per-seed outcomes in both reports:
// seed, success, steps, and for a policy its calls and chunk log-likelihoods, bit for bit.
static void same_outcomes(const cJSON* one, const cJSON* many) {
  const cJSON* ra = cJSON_GetObjectItem(one, "runs");
  const cJSON* rb = cJSON_GetObjectItem(many, "runs");
  assert_int_equal(cJSON_GetArraySize(ra), cJSON_GetArraySize(rb));
  static const char* run_keys[] = {"trials", "successes", "mean_steps", "policy_calls",
                                   "loglik_mean"};
  static const char* rec_keys[] = {"seed", "steps", "plans", "hold_steps", "loglik_mean",
                                   "loglik_min"};
  for (int k = 0; k < cJSON_GetArraySize(ra); k++) {
    const cJSON* a = cJSON_GetArrayItem(ra, k);
    const cJSON* b = cJSON_GetArrayItem(rb, k);
    for (size_t i = 0; i < sizeof(run_keys) / sizeof(run_keys[0]); i++) {
      same_number(a, b, run_keys[i]);
    }
    const cJSON* xa = cJSON_GetObjectItem(a, "records");
    const cJSON* xb = cJSON_GetObjectItem(b, "records");
    assert_int_equal(cJSON_GetArraySize(xa), cJSON_GetArraySize(xb));
    for (int i = 0; i < cJSON_GetArraySize(xa); i++) {
      const cJSON* p = cJSON_GetArrayItem(xa, i);
      const cJSON* q = cJSON_GetArrayItem(xb, i);
      assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(p, "success")),
                       cJSON_IsTrue(cJSON_GetObjectItem(q, "success")));
      for (size_t j = 0; j < sizeof(rec_keys) / sizeof(rec_keys[0]); j++) {
        same_number(p, q, rec_keys[j]);
      }
    }
  }
}

// The expert's 6 trials on 2 ranks: the one-process records; --verbose lines for all six
// seeds from rank 0 alone.
static void test_expert_two_ranks(void** state) {
  (void)state;
  cJSON* one = eval_on(1, "expert1", "--agent expert --episodes 6");
  cJSON* two = eval_on(2, "expert2", "--agent expert --episodes 6 --verbose");
  for (int i = 0; i < 6; i++) {
    char want[128];
    snprintf(want, sizeof(want), " seed %d: ", 100000 + i);
    assert_int_equal(count(r.out, want), 1);
  }
  assert_int_equal(count(r.out, "lift_pot/expert trial 6/6 "), 1);
  assert_non_null(strstr(r.out, "on each of 2 MPI ranks"));
  same_outcomes(one, two);
  cJSON_Delete(one);
  cJSON_Delete(two);
}

// More ranks than trials: a rank with no share still takes part in the gathering.
static void test_more_ranks_than_trials(void** state) {
  (void)state;
  cJSON* one = eval_on(1, "few1", "--agent expert --episodes 2");
  cJSON* three = eval_on(3, "few3", "--agent expert --episodes 2");
  same_outcomes(one, three);
  cJSON_Delete(one);
  cJSON_Delete(three);
}

// The bundled policy in every mode on 3 ranks (uneven shards): the expert-seed search and
// each mode's trials match one process, log-likelihoods included.
static void test_policy_three_ranks(void** state) {
  (void)state;
  char args[1024];
  snprintf(args, sizeof(args), "--policy '%s/policies/lift_pot.safetensors' --mode all "
           "--episodes 4", NFP_TEST_ASSETS);
  cJSON* one = eval_on(1, "policy1", args);
  cJSON* three = eval_on(3, "policy3", args);
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(one, "runs")), 4);
  same_outcomes(one, three);
  cJSON_Delete(one);
  cJSON_Delete(three);
}

// --arms drives one rig: refused on 2 ranks, before anything connects.
static void test_arms_refuses_ranks(void** state) {
  (void)state;
  char prefix[512];
  snprintf(prefix, sizeof(prefix), "timeout 60 '%s' --oversubscribe -np 2", NFP_MPIRUN);
  int code = cli_run(&r, prefix, "eval --task lift_pot --agent expert --episodes 1 --jobs 1 "
                                 "--arms tcp://127.0.0.1:1 --insecure");
  assert_true(code != 0 && code != 124);
  if (!strstr(r.err, "--arms drives one rig from one process")) fail_msg("stderr:\n%s", r.err);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_expert_two_ranks),
      cmocka_unit_test(test_more_ranks_than_trials),
      cmocka_unit_test(test_policy_three_ranks),
      cmocka_unit_test(test_arms_refuses_ranks),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
