// nfp finetune end to end: bad input refused with a message before any work, a short run on
// Lift Pot writes a policy nfp eval loads plus its episode log and chart, and a finished run
// resumes when given a larger budget.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cli_util.h"

#define POLICY NFP_TEST_ASSETS "/policies/lift_pot.safetensors"
#define CAMERA NFP_TEST_ASSETS "/policies/camera/lift_pot.safetensors"

static char demos[400], out[400], args[4096];

static int setup(void** state) {
  if (cli_setup(state)) return -1;
  snprintf(demos, sizeof(demos), "%s/demos", cli_tmpdir);
  snprintf(out, sizeof(out), "%s/ft.safetensors", cli_tmpdir);
  cli_result r;
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 3 --out '%s'", demos);
  return cli_run(&r, "", args) == 0 ? 0 : -1;
}

static int lines(const char* path) {
  FILE* f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static const char* SMALL =
    "--warmup-episodes 1 --critic-steps 4 --offline-steps 2 --updates 2 "
    "--batch 32 --eval-episodes 2 --quiet";

static void test_bad_input(void** state) {
  (void)state;
  cli_result r;
  snprintf(args, sizeof(args),
           "finetune --policy '%s/none.safetensors' --task lift_pot "
           "--demos '%s' --out '%s'",
           cli_tmpdir, demos, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "none.safetensors"));
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task beat_block_hammer --demos '%s' "
           "--out '%s'",
           POLICY, demos, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "trained on lift_pot"));
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task lift_pot --demos '%s' --out '%s' "
           "--online-episodes 0",
           POLICY, demos, out);
  assert_int_equal(cli_run(&r, "", args), 2);
  assert_non_null(strstr(r.err, "--online-episodes"));
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task no_such_task --demos '%s' "
           "--out '%s'",
           POLICY, demos, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "unknown --task"));
  snprintf(args, sizeof(args), "finetune --policy '%s' --task lift_pot --demos '%s' --out '%s'",
           CAMERA, demos, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "state policies only"));
  struct stat st;
  assert_int_not_equal(stat(out, &st), 0);  // nothing was written by a refused run
}

static void test_short_run_evaluates_and_resumes(void** state) {
  (void)state;
  cli_result r;
  char offline[512];
  snprintf(offline, sizeof(offline), "%s/offline.safetensors", cli_tmpdir);
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task lift_pot --demos '%s' --out '%s' "
           "--online-episodes 2 --offline-out '%s' %s",
           POLICY, demos, out, offline, SMALL);
  assert_int_equal(cli_run(&r, "", args), 0);
  assert_non_null(strstr(r.out, "saved"));
  struct stat off;
  assert_int_equal(stat(offline, &off), 0);  // the policy after offline RL
  char log[512], chart[512];
  snprintf(log, sizeof(log), "%s/ft.episodes.jsonl", cli_tmpdir);
  snprintf(chart, sizeof(chart), "%s/ft.png", cli_tmpdir);
  assert_int_equal(lines(log), 4);  // one warm-up, two online episodes, the evaluation
  assert_non_null(strstr(r.out, "evaluation: 2 of 2 episodes"));
  struct stat st;
  assert_int_equal(stat(chart, &st), 0);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --policy '%s' --mode sbs --episodes 2 "
           "--seed 100000",
           out);
  assert_int_equal(cli_run(&r, "", args), 0);
  // SBS ranked by the critic it carries; a policy without one is refused
  snprintf(args, sizeof(args),
           "eval --task lift_pot --policy '%s' --mode sbs --rank q "
           "--episodes 2 --seed 100000",
           out);
  assert_int_equal(cli_run(&r, "", args), 0);
  assert_non_null(strstr(r.out, "sbs-q"));
  snprintf(args, sizeof(args), "eval --task lift_pot --policy '%s' --rank q --episodes 2", POLICY);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "holds no critic"));
  // the same budget again is refused; a larger one goes on where the run stopped
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task lift_pot --demos '%s' --out '%s' "
           "--online-episodes 2 --resume '%s' %s",
           POLICY, demos, out, out, SMALL);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "already ran 2 online episodes"));
  snprintf(args, sizeof(args),
           "finetune --policy '%s' --task lift_pot --demos '%s' --out '%s' "
           "--online-episodes 3 --resume '%s' %s",
           POLICY, demos, out, out, SMALL);
  assert_int_equal(cli_run(&r, "", args), 0);
  assert_int_equal(lines(log), 6);  // one more online episode and evaluation
}

// The update's cost in nfp bench: both kinds timed, JSON written.
static void test_bench(void** state) {
  (void)state;
  cli_result r;
  char json[512];
  snprintf(json, sizeof(json), "%s/bench.json", cli_tmpdir);
  snprintf(args, sizeof(args), "bench --finetune --steps 2 --batch 16 --json '%s'", json);
  assert_int_equal(cli_run(&r, "", args), 0);
  assert_non_null(strstr(r.out, "critic + actor update"));
  FILE* f = fopen(json, "r");
  assert_non_null(f);
  char text[2048] = {0};
  assert_true(fread(text, 1, sizeof(text) - 1, f) > 0);
  fclose(f);
  assert_non_null(strstr(text, "\"update_samples_per_s\""));
  assert_non_null(strstr(text, "\"critic_samples_per_s\""));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bad_input),
      cmocka_unit_test(test_short_run_evaluates_and_resumes),
      cmocka_unit_test(test_bench),
  };
  return cmocka_run_group_tests(tests, setup, cli_teardown);
}
