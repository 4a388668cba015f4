// nfp train under mpirun: two ranks follow the one-process curve (the same windows, noise
// and schedule; only float sums are ordered differently), and rank 0 alone speaks and
// writes. (rank_dies.sh: a rank killed mid-run ends the job.)
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"

// The per-epoch metrics file -> train_nll and val_nll of each epoch. Returns the epochs.
static int read_metrics(const char* path, double* train, double* val, int cap) {
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  char line[2048];
  int n = 0;
  while (n < cap && fgets(line, sizeof(line), f)) {
    cJSON* j = cJSON_Parse(line);
    assert_non_null(j);
    train[n] = cJSON_GetObjectItem(j, "train_nll")->valuedouble;
    val[n] = cJSON_GetObjectItem(j, "val_nll")->valuedouble;
    cJSON_Delete(j);
    n++;
  }
  fclose(f);
  return n;
}

// How many times needle occurs in hay.
static int count(const char* hay, const char* needle) {
  int n = 0;
  for (const char* p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static void collect_demos(void) {
  cli_result r;
  char args[512];
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 4 --out '%s/demos'",
           cli_tmpdir);
  assert_int_equal(cli_run(&r, "", args), 0);
}

static void test_two_ranks_follow_one(void** state) {
  (void)state;
  collect_demos();
  cli_result r;
  char args[1024], prefix[512];
  // Two short epochs: over longer runs float rounding grows as it does between one and two
  // OpenBLAS threads in one process (same size of drift; docs/cluster.md).
  const char* common = "--epochs 2 --batch 64 --threads 1";
  snprintf(args, sizeof(args), "train --data '%s/demos' --out '%s/one.safetensors' %s",
           cli_tmpdir, cli_tmpdir, common);
  assert_int_equal(cli_run(&r, "", args), 0);
  snprintf(prefix, sizeof(prefix), "'%s' -np 2", NFP_MPIRUN);
  snprintf(args, sizeof(args), "train --data '%s/demos' --out '%s/two.safetensors' %s",
           cli_tmpdir, cli_tmpdir, common);
  int code = cli_run(&r, prefix, args);
  if (code != 0) fprintf(stderr, "%s\n%s\n", r.out, r.err);
  assert_int_equal(code, 0);
  // Rank 0 speaks for the job: one plan, one line per epoch, one "saved".
  assert_int_equal(count(r.out, "data-parallel: 2 MPI ranks"), 1);
  assert_int_equal(count(r.out, "epoch   1/2"), 1);
  assert_int_equal(count(r.out, "saved "), 1);
  double t1[8], v1[8], t2[8], v2[8];
  char path[512];
  snprintf(path, sizeof(path), "%s/one.metrics.jsonl", cli_tmpdir);
  int n1 = read_metrics(path, t1, v1, 8);
  snprintf(path, sizeof(path), "%s/two.metrics.jsonl", cli_tmpdir);
  int n2 = read_metrics(path, t2, v2, 8);
  assert_int_equal(n1, 2);
  assert_int_equal(n2, 2);
  // Same curve to 1e-4 relative: float sums in another order are all that differs.
  for (int e = 0; e < 2; e++) {
    assert_true(fabs(t1[e] - t2[e]) <= 1e-4 * fabs(t1[e]) + 1e-4);
    assert_true(fabs(v1[e] - v2[e]) <= 1e-4 * fabs(v1[e]) + 1e-4);
  }
  snprintf(args, sizeof(args), "inspect '%s/two.safetensors'", cli_tmpdir);
  assert_int_equal(cli_run(&r, "", args), 0);
}

// The JSON report's number at key.
static double json_number(const char* path, const char* key) {
  FILE* f = fopen(path, "r");
  assert_non_null(f);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = '\0';
  cJSON* j = cJSON_Parse(buf);
  assert_non_null(j);
  const cJSON* v = cJSON_GetObjectItem(j, key);
  assert_true(cJSON_IsNumber(v));
  double x = v->valuedouble;
  cJSON_Delete(j);
  return x;
}

// nfp bench --ranks times the data-parallel step alone and as two ranks; verbs that run as
// one process only refuse a multi-process launch.
static void test_bench_ranks(void** state) {
  (void)state;
  cli_result r;
  char args[512], prefix[512], path[512];
  snprintf(prefix, sizeof(prefix), "'%s' -np 2", NFP_MPIRUN);
  snprintf(args, sizeof(args), "bench --ranks --steps 1 --batch 32 --json '%s/b.json'",
           cli_tmpdir);
  int code = cli_run(&r, prefix, args);
  if (code != 0) fprintf(stderr, "%s\n%s\n", r.out, r.err);
  assert_int_equal(code, 0);
  assert_int_equal(count(r.out, "data-parallel training"), 1);  // rank 0 alone reports
  snprintf(path, sizeof(path), "%s/b.json", cli_tmpdir);
  assert_true(json_number(path, "ranks") == 2);
  assert_true(json_number(path, "samples_per_s") > 0);
  assert_true(json_number(path, "gradient_bytes_per_step") > 1e6);
  assert_int_equal(cli_run(&r, prefix, "inspect --help"), 2);
  assert_non_null(strstr(r.err, "runs as one process"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_two_ranks_follow_one, cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_bench_ranks, cli_setup, cli_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
