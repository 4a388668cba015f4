// nfp eval: the JSON report is complete and --jobs 2 gives the same trials as --jobs 1;
// progress on stderr (plain lines through a pipe, in place on a terminal), --verbose's
// per-trial lines, the closing table against the JSON, --jobs one per core by default.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "json_util.h"

static cli_result r;

static cJSON* run_eval(int jobs) {
  char json[400], args[800];
  snprintf(json, sizeof(json), "%s/eval_jobs%d.json", cli_tmpdir, jobs);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --agent expert --episodes 4 --seed 100000 --jobs %d --json %s",
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

// The 95 % Wilson score interval of k/n, worked here from its formula.
static void wilson(int k, int n, double* lo, double* hi) {
  double z = 1.96, p = (double)k / n, d = 1 + z * z / n;
  double c = (p + z * z / (2.0 * n)) / d;
  double h = z * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / d;
  *lo = fmax(0, c - h);
  *hi = fmin(1, c + h);
}

// A run's success_rate_ci95 is the Wilson interval of its successes; mean_steps_success
// is the mean over its successful records.
static void check_run_stats(const cJSON* run) {
  int k = (int)num(run, "successes"), n = (int)num(run, "trials");
  double lo, hi;
  wilson(k, n, &lo, &hi);
  const cJSON* ci = cJSON_GetObjectItemCaseSensitive(run, "success_rate_ci95");
  assert_int_equal(cJSON_GetArraySize(ci), 2);
  assert_float_equal(cJSON_GetArrayItem(ci, 0)->valuedouble, lo, 1e-12);
  assert_float_equal(cJSON_GetArrayItem(ci, 1)->valuedouble, hi, 1e-12);
  const cJSON* recs = cJSON_GetObjectItemCaseSensitive(run, "records");
  if (!recs) return;  // the expert's reference run beside a policy's
  double steps = 0;
  int ok = 0;
  const cJSON* rec;
  cJSON_ArrayForEach(rec, recs) {
    if (!cJSON_IsTrue(cJSON_GetObjectItem(rec, "success"))) continue;
    steps += num(rec, "steps");
    ok++;
  }
  if (ok) assert_float_equal(num(run, "mean_steps_success"), steps / ok, 1e-9);
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
  check_run_stats(a);
  assert_true(num(a, "mean_steps_success") == num(b, "mean_steps_success"));
  cJSON_Delete(a);
  cJSON_Delete(b);
}

static void assert_has(const char* text, const char* needle) {
  if (!strstr(text, needle)) fail_msg("expected '%s' in:\n%s", needle, text);
}

// Through a pipe (stdout and stderr together): no carriage return anywhere, a plain
// progress line at every 10 % of the 4 trials, no per-trial lines without --verbose.
static void test_progress_plain(void** state) {
  (void)state;
  int code = cli_run(&r, "", "eval --task lift_pot --agent expert --episodes 4 --seed 100000 "
                             "--jobs 1 2>&1 | cat");
  if (code) fail_msg("eval exited %d:\n%s", code, r.out);
  assert_null(strchr(r.out, '\r'));
  for (int i = 1; i <= 4; i++) {
    char want[128];
    snprintf(want, sizeof(want), "\nlift_pot/expert %d/4 trials, successes %d (100.0 %%), ", i,
             i);
    assert_has(r.out, want);
  }
  assert_has(r.out, "ETA ");
  assert_null(strstr(r.out, " trial "));
  assert_has(r.out, "lift_pot / expert: 4/4 successes");
}

// On a terminal (a pseudo-terminal from script(1)) the progress line is redrawn in place.
static void test_progress_terminal(void** state) {
  (void)state;
  if (system("script -qec true /dev/null >/dev/null 2>&1")) skip();
  int code = cli_run(&r, "script -qec \"", "eval --task lift_pot --agent expert --episodes 10 "
                                           "--seed 100000 --jobs 1\" /dev/null");
  if (code) fail_msg("eval under script exited %d:\n%s\n%s", code, r.out, r.err);
  assert_has(r.out, "\rlift_pot/expert ");  // a redraw (a newline is "\r\n" on a terminal)
  assert_null(strstr(r.out, " trial "));
  assert_has(r.out, "lift_pot / expert: 10/10 successes");
}

// --verbose: a line per trial in the format scripts read, agreeing with the JSON records.
static void test_verbose_lines(void** state) {
  (void)state;
  char json[400], args[800];
  snprintf(json, sizeof(json), "%s/verbose.json", cli_tmpdir);
  snprintf(args, sizeof(args), "eval --task lift_pot --agent expert --episodes 4 --seed 100000 "
           "--jobs 2 --verbose --json %s", json);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("eval exited %d:\n%s\n%s", code, r.out, r.err);
  cJSON* root = json_read_report(json);
  const cJSON* recs = cJSON_GetObjectItem(root, "records");
  int lines = 0, seen[4] = {0};
  for (const char* l = r.out; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
    int k, n, steps;
    unsigned long long seed;
    char outcome[16];
    double wall;
    if (sscanf(l, "lift_pot/expert trial %d/%d seed %llu: %15s in %d steps (%lf s)", &k, &n,
               &seed, outcome, &steps, &wall) != 6) {
      continue;
    }
    lines++;
    assert_int_equal(k, lines);  // numbered in the order trials finish
    assert_int_equal(n, 4);
    assert_true(seed >= 100000 && seed < 100004 && !seen[seed - 100000]);
    seen[seed - 100000] = 1;
    const cJSON* rec = cJSON_GetArrayItem(recs, (int)(seed - 100000));
    assert_string_equal(outcome, cJSON_IsTrue(cJSON_GetObjectItem(rec, "success")) ? "success"
                                                                                   : "failure");
    assert_int_equal(steps, (int)num(rec, "steps"));
  }
  assert_int_equal(lines, 4);
  cJSON_Delete(root);
}

// The table row of `name` (a mode, or the agent) -> its cells; fails when missing.
typedef struct {
  int trials;
  double rate, lo, hi;
  char ok[16], all[16], p50[16], p99[16];
} table_row;

static table_row row_of(const char* out, const char* name) {
  const char* t = strstr(out, "\nsummary: ");
  if (!t) fail_msg("no summary table in:\n%s", out);
  table_row w;
  for (const char* l = t; l; l = strchr(l + 1, '\n')) {
    char task[64], run[16];
    if (sscanf(l + 1, "%63s %15s %d %lf %% [%lf, %lf] %% %15s %15s %15s %15s", task, run,
               &w.trials, &w.rate, &w.lo, &w.hi, w.ok, w.all, w.p50, w.p99) == 10 &&
        !strcmp(task, "lift_pot") && !strcmp(run, name)) {
      return w;
    }
  }
  fail_msg("no table row for %s in:\n%s", name, t);
  return w;
}

// A cell against run[key] as printed with `decimals`, or "-" when the run has none.
static void cell_matches(const char* cell, const cJSON* run, const char* key, int decimals) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(run, key);
  if (!cJSON_IsNumber(v)) {
    assert_string_equal(cell, "-");
    return;
  }
  assert_float_equal(atof(cell), v->valuedouble, 0.51 * pow(10, -decimals));
}

// The bundled camera policy (head camera and joints, no object state) lifts the pot on
// the first evaluation seeds (100 % over 100 trials when it was made; one failure allowed
// for another CPU's rounding).
static void test_bundled_camera_policy(void** state) {
  (void)state;
  char json[400], args[1200];
  snprintf(json, sizeof(json), "%s/camera.json", cli_tmpdir);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --policy %s/policies/camera/lift_pot.safetensors "
           "--mode sbs --episodes 6 --seed 100000 --json %s", NFP_TEST_ASSETS, json);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("eval exited %d:\n%s\n%s", code, r.out, r.err);
  cJSON* root = json_read_report(json);
  const cJSON* run = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "runs"), 1);
  assert_non_null(run);
  printf("bundled camera policy: %.0f %% of 6 trials\n", 100 * num(run, "success_rate"));
  assert_true(num(run, "success_rate") >= 5.0 / 6.0 - 1e-9);
  cJSON_Delete(root);
}

// The closing table holds the numbers of the JSON report: the expert's reference run and
// the bundled policy's, with the Wilson interval and the latency per call.
static void test_summary_table(void** state) {
  (void)state;
  char json[400], args[1200];
  snprintf(json, sizeof(json), "%s/table.json", cli_tmpdir);
  snprintf(args, sizeof(args), "eval --task lift_pot --policy %s/policies/lift_pot.safetensors "
           "--mode sbs --episodes 2 --seed 100000 --json %s", NFP_TEST_ASSETS, json);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("eval exited %d:\n%s\n%s", code, r.out, r.err);
  cJSON* root = json_read_report(json);
  const cJSON* runs = cJSON_GetObjectItem(root, "runs");
  assert_int_equal(cJSON_GetArraySize(runs), 2);
  const char* names[] = {"expert", "sbs"};
  for (int i = 0; i < 2; i++) {
    const cJSON* run = cJSON_GetArrayItem(runs, i);
    check_run_stats(run);
    table_row w = row_of(r.out, names[i]);
    assert_int_equal(w.trials, (int)num(run, "trials"));
    assert_float_equal(w.rate, 100 * num(run, "success_rate"), 0.051);
    const cJSON* ci = cJSON_GetObjectItem(run, "success_rate_ci95");
    assert_float_equal(w.lo, 100 * cJSON_GetArrayItem(ci, 0)->valuedouble, 0.051);
    assert_float_equal(w.hi, 100 * cJSON_GetArrayItem(ci, 1)->valuedouble, 0.051);
    cell_matches(w.ok, run, "mean_steps_success", 1);
    cell_matches(w.all, run, "mean_steps", 1);
    cell_matches(w.p50, run, "latency_p50_ms", 2);
    cell_matches(w.p99, run, "latency_p99_ms", 2);
  }
  assert_string_equal(row_of(r.out, "expert").p50, "-");  // the expert makes no policy calls
  assert_float_equal(atof(row_of(r.out, "sbs").p50), num(root, "latency_p50_ms"), 0.0051);
  cJSON_Delete(root);
}

// Without --jobs, one worker per core, said in the header line and the report.
static void test_jobs_default(void** state) {
  (void)state;
  char json[400], args[800], want[128];
  snprintf(json, sizeof(json), "%s/default_jobs.json", cli_tmpdir);
  snprintf(args, sizeof(args), "eval --task lift_pot --agent expert --episodes 2 --seed 100000 "
           "--json %s", json);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("eval exited %d:\n%s\n%s", code, r.out, r.err);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 64) cores = 64;  // the most --jobs takes
  snprintf(want, sizeof(want), "2 trials from seed 100000, %ld job%s\n", cores,
           cores == 1 ? "" : "s");
  assert_has(r.out, want);
  cJSON* root = json_read_report(json);
  assert_int_equal((int)num(root, "jobs"), (int)cores);
  cJSON_Delete(root);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_jobs_identical),
      cmocka_unit_test(test_progress_plain),
      cmocka_unit_test(test_progress_terminal),
      cmocka_unit_test(test_verbose_lines),
      cmocka_unit_test(test_summary_table),
      cmocka_unit_test(test_bundled_camera_policy),
      cmocka_unit_test(test_jobs_default),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
