// nfp collect under mpirun: the ranks try seeds in rounds and settle them in seed order, so
// the folder is the one-process folder (same files, seeds and recordings) with a failed
// seed skipped and the seeds tried past the last episode dropped; rank 0 alone speaks.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli_util.h"
#include "nfp/demo.h"
#include "nfp/error.h"

static cli_result r;

// How many times needle occurs in hay.
static int count(const char* hay, const char* needle) {
  int n = 0;
  for (const char* p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

// 3 episodes from seed 0, slightly perturbed (an expert failure or so among the first
// seeds), on `ranks` MPI processes (1: no mpirun) into DIR/NAME -> the closing line's seeds
// part ("tried seeds ..."), malloc'd.
static char* collect_on(int ranks, const char* name) {
  char prefix[512], args[1024];
  snprintf(prefix, sizeof(prefix), ranks > 1 ? "'%s' --oversubscribe -np %d" : "", NFP_MPIRUN,
           ranks);
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 3 --noise 0.03 --verbose "
           "--out '%s/%s'", cli_tmpdir, name);
  int code = cli_run(&r, prefix, args);
  if (code) fail_msg("collect on %d rank(s) exited %d:\n%s\n%s", ranks, code, r.out, r.err);
  // Rank 0 speaks for the job.
  assert_int_equal(count(r.out, "created output folder"), 1);
  assert_int_equal(count(r.out, "collecting 3 lift_pot episodes"), 1);
  assert_int_equal(count(r.out, "[3/3]\n"), 1);
  assert_int_equal(count(r.out, "saved 3 of 3 episodes"), 1);
  const char* tried = strstr(r.out, "tried seeds");
  assert_non_null(tried);
  return strdup(tried);
}

// Episode files a and b hold the same recording.
static void same_episode(const char* a, const char* b) {
  nfp_episode x, y;
  if (nfp_demo_read(a, &x, 0) || nfp_demo_read(b, &y, 0)) fail_msg("%s", nfp_error_last());
  assert_string_equal(x.task, y.task);
  assert_int_equal(x.seed, y.seed);
  assert_int_equal(x.success, y.success);
  assert_true(x.control_hz == y.control_hz);
  assert_int_equal(x.T, y.T);
  assert_int_equal(x.nq, y.nq);
  assert_int_equal(x.nobj, y.nobj);
  size_t n = (size_t)x.T * (size_t)x.nq * sizeof(double);
  assert_memory_equal(x.qpos, y.qpos, n);
  assert_memory_equal(x.qvel, y.qvel, n);
  assert_memory_equal(x.action, y.action, n);
  assert_memory_equal(x.object_state, y.object_state, (size_t)x.T * x.nobj * sizeof(double));
  nfp_episode_free(&x);
  nfp_episode_free(&y);
}

// Folder NAME holds exactly the files of folder one (no temporaries), the same recordings.
static void same_folder(const char* one, const char* name) {
  char cmd[1024];
  snprintf(cmd, sizeof(cmd), "cd '%s' && [ \"$(ls -a %s)\" = \"$(ls -a %s)\" ]", cli_tmpdir,
           one, name);
  assert_int_equal(system(cmd), 0);
  char dir[512];
  snprintf(dir, sizeof(dir), "%s/%s", cli_tmpdir, one);
  char** pa = NULL;
  int n = nfp_demo_list(dir, &pa);
  assert_int_equal(n, 3);
  for (int i = 0; i < n; i++) {
    char other[1024];
    snprintf(other, sizeof(other), "%s/%s%s", cli_tmpdir, name, strrchr(pa[i], '/'));
    same_episode(pa[i], other);
  }
  nfp_demo_list_free(pa, n);
}

static void test_collect_ranks_match_one(void** state) {
  (void)state;
  char* one = collect_on(1, "one");
  char* two = collect_on(2, "two");
  assert_string_equal(one, two);  // same seeds tried, same ones skipped
  same_folder("one", "two");
  char* three = collect_on(3, "three");  // rounds that overshoot the last episode needed
  assert_string_equal(one, three);
  same_folder("one", "three");
  free(one);
  free(two);
  free(three);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_collect_ranks_match_one, cli_setup, cli_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
