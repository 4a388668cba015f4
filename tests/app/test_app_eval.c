// nfp eval: the JSON report is complete and --jobs 2 gives the same trials as --jobs 1.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"

static cli_result r;

static cJSON* run_eval(int jobs) {
  char json[400], args[800];
  snprintf(json, sizeof(json), "%s/eval_jobs%d.json", cli_tmpdir, jobs);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --agent expert --trials 4 --seed0 100000 --jobs %d --json %s",
           jobs, json);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("eval exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "successes"));
  assert_non_null(strstr(r.out, "wall time"));
  FILE* f = fopen(json, "r");
  assert_non_null(f);
  static char text[1 << 16];
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = '\0';
  fclose(f);
  cJSON* root = cJSON_Parse(text);
  assert_non_null(root);
  return root;
}

static double num(const cJSON* o, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) fail_msg("JSON field '%s' missing or not a number", key);
  return v->valuedouble;
}

static void test_jobs_identical(void** state) {
  (void)state;
  cJSON* a = run_eval(1);
  cJSON* b = run_eval(2);
  assert_string_equal(cJSON_GetObjectItem(a, "task")->valuestring, "lift_pot");
  assert_string_equal(cJSON_GetObjectItem(a, "agent")->valuestring, "expert");
  assert_int_equal((int)num(a, "trials"), 4);
  assert_true(num(a, "wall_time_s") > 0);
  double successes = num(a, "successes");
  assert_true(num(a, "success_rate") == successes / 4);
  const cJSON* seeds = cJSON_GetObjectItem(a, "seeds");
  assert_int_equal(cJSON_GetArraySize(seeds), 4);
  const cJSON* ra = cJSON_GetObjectItem(a, "records");
  const cJSON* rb = cJSON_GetObjectItem(b, "records");
  assert_int_equal(cJSON_GetArraySize(ra), 4);
  assert_int_equal(cJSON_GetArraySize(rb), 4);
  int count = 0;
  for (int i = 0; i < 4; i++) {
    const cJSON* x = cJSON_GetArrayItem(ra, i);
    const cJSON* y = cJSON_GetArrayItem(rb, i);
    assert_int_equal((long long)num(x, "seed"), 100000 + i);
    assert_int_equal((long long)num(y, "seed"), 100000 + i);
    assert_true(cJSON_GetArrayItem(seeds, i)->valuedouble == 100000 + i);
    assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(x, "success")),
                     cJSON_IsTrue(cJSON_GetObjectItem(y, "success")));
    assert_int_equal((int)num(x, "steps"), (int)num(y, "steps"));
    assert_true(num(x, "wall_s") > 0);
    count += cJSON_IsTrue(cJSON_GetObjectItem(x, "success"));
  }
  assert_int_equal(count, (int)successes);
  assert_true(num(a, "successes") == num(b, "successes"));
  cJSON_Delete(a);
  cJSON_Delete(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jobs_identical),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
