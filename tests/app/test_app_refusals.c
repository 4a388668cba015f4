// Bad input to the nfp command gets a clear message and a non-zero exit, never a crash,
// and leaves nothing half-written: crafted checkpoints, NaN in demos, flags that do not fit
// together, a folder given as a file, an unwritable report path.
#include <setjmp.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "nfp/demo.h"

static cli_result r;

#define assert_has(hay, needle)                                        \
  do {                                                                 \
    if (!strstr((hay), (needle))) {                                    \
      printf("  missing \"%s\" in:\n%s\n", (needle), (hay));           \
      fail();                                                          \
    }                                                                  \
  } while (0)

static int exists(const char* path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

// Every verb that loads a policy refuses the crafted checkpoints of the fuzz corpus.
static void test_crafted_checkpoints(void** state) {
  (void)state;
  const char* cases[][2] = {
      {"huge_shape_extra_tensor", "more elements than"},
      {"wrapping_shape", "more elements than"},
      {"flipped_bit", "does not match its checksum"},
      {"hostile_config", "parameters, more than"},
      {"nan_without_checksum", "non-finite"},
      {"truncated", "truncated"},
  };
  char args[1200], out[400];
  snprintf(out, sizeof(out), "%s/exported.safetensors", cli_tmpdir);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(args, sizeof(args), "eval --policy %s/%s --episodes 1", NFP_FUZZ_CORPUS, cases[i][0]);
    assert_int_equal(cli_run(&r, "", args), 1);
    assert_has(r.err, cases[i][1]);
    snprintf(args, sizeof(args), "export --in %s/%s --out %s", NFP_FUZZ_CORPUS, cases[i][0], out);
    assert_int_equal(cli_run(&r, "", args), 1);
    assert_has(r.err, cases[i][1]);
    assert_false(exists(out));
  }
  // A folder is not a checkpoint (it used to read "9223372036854775807 bytes").
  snprintf(args, sizeof(args), "export --in %s --out %s", cli_tmpdir, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_has(r.err, "not a regular file");
}

// NaN in a held-out episode trained to "val NLL nan", exit 0 and a checkpoint.
static void test_nan_demo(void** state) {
  (void)state;
  char demos[400], args[1200], ckpt[400], path[500];
  snprintf(demos, sizeof(demos), "%s/demos", cli_tmpdir);
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 2 --out %s", demos);
  assert_int_equal(cli_run(&r, "", args), 0);
  char** paths;
  int n = nfp_demo_list(demos, &paths);
  assert_int_equal(n, 2);
  nfp_episode ep;
  assert_int_equal(nfp_demo_read(paths[1], &ep, 0), 0);
  ep.action[5 * ep.nq + 2] = NAN;
  assert_int_equal(nfp_demo_write(paths[1], &ep), 0);
  snprintf(path, sizeof(path), "%s", paths[1]);
  nfp_episode_free(&ep);
  nfp_demo_list_free(paths, n);
  snprintf(ckpt, sizeof(ckpt), "%s/nan.ckpt.safetensors", cli_tmpdir);
  snprintf(args, sizeof(args), "train --data %s --out %s --epochs 1 --quiet", demos, ckpt);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_has(r.err, path);
  assert_has(r.err, "'action' holds nan at frame 5, column 2");
  assert_false(exists(ckpt));
}

static void test_flags_that_do_not_fit(void** state) {
  (void)state;
  // The policy was silently ignored by the expert.
  assert_int_equal(cli_run(&r, "", "eval --agent expert --policy x.safetensors --episodes 1"), 2);
  assert_has(r.err, "agent 'expert' takes no --policy");
  // --crop shapes the camera input; with a state observation it did nothing.
  assert_int_equal(
      cli_run(&r, "", "train --data /nonexistent --out /tmp/x.safetensors --crop 56x72"), 1);
  assert_has(r.err, "--crop shapes the camera input: it needs --obs image+state");
  assert_int_equal(
      cli_run(&r, "", "train --data /nonexistent --out /tmp/x.safetensors --first-frame"), 1);
  assert_has(r.err, "--first-frame shapes the camera input: it needs --obs image+state");
  // The object-state head trains the camera encoder; the bottleneck needs the head.
  assert_int_equal(cli_run(&r, "", "train --data /nonexistent --out /tmp/x.safetensors "
                                   "--object-head 1"), 1);
  assert_has(r.err, "need --obs image+state");
  assert_int_equal(cli_run(&r, "", "train --data /nonexistent --out /tmp/x.safetensors "
                                   "--obs image+state --object-bottleneck"), 1);
  assert_has(r.err, "--object-bottleneck needs --object-head W");
  // The report path is checked before minutes of measuring.
  assert_int_equal(cli_run(&r, "", "bench --no-torch --json /nonexistent_nfp/x.json"), 1);
  assert_has(r.err, "/nonexistent_nfp/x.json");
  assert_has(r.err, "--json");
  // Flag errors of a sub-verb name the sub-verb (it read "see: nfp serve --help").
  assert_int_equal(cli_run(&r, "", "arms serve --bogus"), 2);
  assert_has(r.err, "see: nfp arms serve --help");
  assert_int_equal(cli_run(&r, "", "arms status --bogus"), 2);
  assert_has(r.err, "see: nfp arms status --help");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crafted_checkpoints),
      cmocka_unit_test(test_nan_demo),
      cmocka_unit_test(test_flags_that_do_not_fit),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
