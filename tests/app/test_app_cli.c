// The nfp command on bad input: clear message, non-zero exit, no crash; --help documents flags.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"

static cli_result r;

static void assert_has(const char* text, const char* needle) {
  if (!strstr(text, needle)) fail_msg("expected '%s' in:\n%s", needle, text);
}

static void test_help(void** state) {
  (void)state;
  assert_int_equal(cli_run(&r, "", "--help"), 0);
  assert_has(r.out, "collect");
  assert_has(r.out, "lift_pot");
  assert_int_equal(cli_run(&r, "", "collect --help"), 0);
  const char* collect_flags[] = {"--task", "--episodes", "--out", "--images", "--seed", "--assets"};
  for (int i = 0; i < 6; i++) assert_has(r.out, collect_flags[i]);
  assert_int_equal(cli_run(&r, "", "eval --help"), 0);
  const char* eval_flags[] = {"--task", "--agent", "--episodes", "--seed", "--jobs", "--json"};
  for (int i = 0; i < 6; i++) assert_has(r.out, eval_flags[i]);
  assert_int_equal(cli_run(&r, "", "view --help"), 0);
  const char* view_flags[] = {"--task", "--agent", "--seed", "--frames", "--screenshot"};
  for (int i = 0; i < 5; i++) assert_has(r.out, view_flags[i]);
  assert_int_equal(cli_run(&r, "", ""), 2);
  assert_int_equal(cli_run(&r, "", "frobnicate"), 2);
  assert_has(r.err, "unknown verb");
}

static void test_unknown_task(void** state) {
  (void)state;
  const char* cmds[] = {"eval --task no_such_task --episodes 1",
                        "view --task no_such_task --frames 1",
                        "collect --task no_such_task --episodes 1 --out /tmp"};
  for (int i = 0; i < 3; i++) {
    assert_int_equal(cli_run(&r, "", cmds[i]), 2);
    assert_has(r.err, "unknown task 'no_such_task'");
    assert_has(r.err, "lift_pot");
  }
}

static void test_bad_flags(void** state) {
  (void)state;
  assert_int_equal(cli_run(&r, "", "eval --bogus 3"), 2);
  assert_has(r.err, "unknown option '--bogus'");
  assert_int_equal(cli_run(&r, "", "eval --episodes abc"), 2);
  assert_has(r.err, "--episodes expects a number");
  assert_int_equal(cli_run(&r, "", "eval --episodes 0"), 2);
  assert_has(r.err, "--episodes must be in");
  assert_int_equal(cli_run(&r, "", "eval --episodes 2.5"), 2);
  assert_has(r.err, "whole number");
  assert_int_equal(cli_run(&r, "", "eval --jobs"), 2);
  assert_has(r.err, "--jobs needs a value");
  assert_int_equal(cli_run(&r, "", "eval --agent wizard --episodes 1"), 2);
  assert_has(r.err, "unknown agent 'wizard'");
  assert_int_equal(cli_run(&r, "", "collect --episodes 1"), 2);
  assert_has(r.err, "--out DIR is required");
  assert_int_equal(cli_run(&r, "", "collect --out=/tmp --seed -4"), 2);
  assert_has(r.err, "--seed must be in");
  assert_int_equal(cli_run(&r, "", "view --images"), 2);
}

static void test_output_folder(void** state) {
  (void)state;
  // Parent missing.
  assert_int_equal(cli_run(&r, "", "collect --episodes 1 --out /nonexistent_nfp/a/b"), 1);
  assert_has(r.err, "/nonexistent_nfp/a/b");
  assert_has(r.err, "parent folder does not exist");
  // A file where the folder should be.
  char file[400], args[600];
  snprintf(file, sizeof(file), "%s/plain_file", cli_tmpdir);
  FILE* f = fopen(file, "w");
  fclose(f);
  snprintf(args, sizeof(args), "collect --episodes 1 --out %s", file);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_has(r.err, "is not a folder");
  // Unwritable even for root: a folder on procfs.
  assert_int_equal(cli_run(&r, "", "collect --episodes 1 --out /proc/self"), 1);
  assert_has(r.err, "not writable");
  // JSON report target checked before the run starts.
  assert_int_equal(cli_run(&r, "", "eval --episodes 1 --json /nonexistent_nfp/r.json"), 1);
  assert_has(r.err, "/nonexistent_nfp/r.json");
}

static void test_broken_assets(void** state) {
  (void)state;
  char dir[400], path[500], prefix[600];
  // An empty asset folder: the MJCF is missing.
  snprintf(dir, sizeof(dir), "%s/assets_empty", cli_tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(prefix, sizeof(prefix), "NFP_ASSETS='%s'", dir);
  assert_int_equal(cli_run(&r, prefix, "eval --episodes 1"), 1);
  assert_has(r.err, "lift_pot");
  assert_has(r.err, dir);
  // A truncated MJCF.
  snprintf(dir, sizeof(dir), "%s/assets_broken", cli_tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  const char* names[] = {"lift_pot.xml", "rig.xml", "arm.xml"};
  for (int i = 0; i < 3; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    FILE* f = fopen(path, "w");
    fputs("<mujoco model='broken'>\n  <worldbody>\n    <geom type='box' size='0.1\n", f);
    fclose(f);
  }
  snprintf(prefix, sizeof(prefix), "NFP_ASSETS='%s'", dir);
  assert_int_equal(cli_run(&r, prefix, "eval --episodes 1"), 1);
  assert_has(r.err, "lift_pot.xml");
  char out[500], args[700];
  snprintf(out, sizeof(out), "%s/demos", cli_tmpdir);
  snprintf(args, sizeof(args), "collect --episodes 1 --out %s", out);
  assert_int_equal(cli_run(&r, prefix, args), 1);
  assert_has(r.err, "lift_pot.xml");
  assert_has(r.out, "created output folder");
  assert_int_equal(cli_run(&r, prefix, "view --frames 1 --screenshot /tmp/nfp_never.png"), 1);
  assert_has(r.err, "lift_pot.xml");
}

// Every verb's --help: no repeated default, no file outside the repository, and each
// verb says only what it does (eval alone takes a policy folder; status/estop drive no arm).
static void test_help_texts(void** state) {
  (void)state;
  const char* verbs[] = {"collect", "train", "finetune", "eval", "view", "export", "bench",
                         "bench --bridge", "bench --finetune", "run", "arms serve", "arms status",
                         "arms estop", "keys gen"};
  char args[64], *text = NULL;
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    snprintf(args, sizeof(args), "%s --help", verbs[i]);
    if (cli_run(&r, "", args) != 0) fail_msg("nfp %s exited non-zero:\n%s", args, r.err);
    text = r.out;
    const char* bad[] = {"../shared", "/shared/", "/home/", "/work/"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
      if (strstr(text, bad[k])) fail_msg("nfp %s says '%s'", args, bad[k]);
    }
    // A default given twice: "(default sbs) (default sbs)".
    for (const char* d = strstr(text, "(default "); d; d = strstr(d + 1, "(default ")) {
      const char* end = strchr(d, ')');
      if (end && !strncmp(end, ") (default", 10)) fail_msg("nfp %s: default twice", args);
    }
    int is_eval = !strcmp(verbs[i], "eval");
    if (!is_eval && strstr(text, "folder of <task>")) fail_msg("nfp %s: eval's folder", args);
    if (!strncmp(verbs[i], "arms s", 6) && strstr(text, "drive the arm server")) {
      if (strcmp(verbs[i], "arms serve")) fail_msg("nfp %s claims to drive the arms", args);
    }
    if (!strcmp(verbs[i], "train") && strstr(text, "state-conditioned NF-P policy"))
      fail_msg("nfp train: camera policies train too");
  }
  assert_int_equal(cli_run(&r, "", "eval --help"), 0);
  assert_has(r.out, "folder of <task>.safetensors");
  assert_int_equal(cli_run(&r, "", "run --help"), 0);
  assert_has(r.out, "single, sbs or gr (default sbs)");
}

// One spelling per meaning across the verbs (--seed, --episodes; --noise is execution noise,
// training's is --action-noise); the old spellings still work, with a note.
static void test_flag_names(void** state) {
  (void)state;
  const char* seeded[] = {"collect", "eval", "run", "view", "train"};
  for (size_t i = 0; i < sizeof(seeded) / sizeof(seeded[0]); i++) {
    char args[64];
    snprintf(args, sizeof(args), "%s --help", seeded[i]);
    assert_int_equal(cli_run(&r, "", args), 0);
    assert_has(r.out, "--seed ");
    if (strstr(r.out, "--seed0")) fail_msg("nfp %s still says --seed0", seeded[i]);
  }
  assert_int_equal(cli_run(&r, "", "eval --help"), 0);
  assert_has(r.out, "--episodes N");
  assert_int_equal(cli_run(&r, "", "train --help"), 0);
  assert_has(r.out, "--action-noise X");
  char cmp[2][4096];
  const char* runs[] = {"eval --task lift_pot --agent expert --episodes 2 --seed 100000 --jobs 1",
                        "eval --task lift_pot --agent expert --trials 2 --seed0 100000 --jobs 1"};
  for (int k = 0; k < 2; k++) {
    assert_int_equal(cli_run(&r, "", runs[k]), 0);
    const char* table = strstr(r.out, "lift_pot          expert");
    assert_non_null(table);
    snprintf(cmp[k], sizeof(cmp[k]), "%s", table);
  }
  assert_string_equal(cmp[0], cmp[1]);  // the same run either way
  assert_has(r.err, "--trials is now --episodes");
  assert_has(r.err, "--seed0 is now --seed");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_flag_names),
      cmocka_unit_test(test_help),          cmocka_unit_test(test_unknown_task),
      cmocka_unit_test(test_bad_flags),     cmocka_unit_test(test_output_folder),
      cmocka_unit_test(test_broken_assets), cmocka_unit_test(test_help_texts),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
