// nfp collect -> HDF5 -> read back, and the recorded actions replay the episode.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_util.h"
#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/tasks.h"

static cli_result r;

static void test_collect_two_with_images(void** state) {
  (void)state;
  char out[400], args[1200];
  snprintf(out, sizeof(out), "%s/demos", cli_tmpdir);
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 2 --images --seed 5 --out %s",
           out);
  int code = cli_run(&r, "env -u DISPLAY", args);
  if (code) fail_msg("collect exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "created output folder"));
  char** paths = NULL;
  int n = nfp_demo_list(out, &paths);
  assert_int_equal(n, 2);
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  int64_t last_seed = 4;
  for (int e = 0; e < n; e++) {
    nfp_episode ep;
    if (nfp_demo_read(paths[e], &ep, 1)) fail_msg("%s", nfp_error_last());
    assert_string_equal(ep.task, "lift_pot");
    assert_true(ep.seed > last_seed);  // seeds 5, 6, ... minus skipped ones
    last_seed = ep.seed;
    assert_int_equal(ep.success, 1);
    assert_int_equal(ep.nq, 14);
    assert_true(ep.T > 10 && ep.T <= t->def->step_cap);
    assert_true(ep.nobj > 0);
    assert_int_equal(ep.img_h, 240);
    assert_int_equal(ep.img_w, 320);
    assert_true(ep.control_hz > 1 && ep.control_hz < 1000);
    // Frames differ over time (the arms move, the image changes).
    assert_memory_not_equal(ep.qpos, ep.qpos + (size_t)(ep.T - 1) * 14, 14 * sizeof(double));
    size_t frame = 240 * 320 * 3;
    assert_memory_not_equal(ep.images, ep.images + (ep.T - 1) * frame, frame);
    // Replaying the recorded targets from the same seed reproduces the states exactly.
    // Lift Pot's demos end once the success has held for NFP_SUCCESS_HOLD (3) steps:
    // the last three states succeed, the one before them does not.
    nfp_task_reset(t, (uint64_t)ep.seed);
    for (int k = 0; k < ep.T; k++) {
      double q[14], v[14];
      nfp_task_observe(t, q, v);
      assert_memory_equal(q, ep.qpos + (size_t)k * 14, sizeof(q));
      assert_memory_equal(v, ep.qvel + (size_t)k * 14, sizeof(v));
      nfp_task_step(t, ep.action + (size_t)k * 14);
      if (k >= ep.T - 4) assert_int_equal(nfp_task_success(t), k >= ep.T - 3);
    }
    nfp_episode_free(&ep);
  }
  nfp_task_free(t);
  nfp_demo_list_free(paths, n);
  // A Lift Pot camera policy trains on the frames' mirror images too (--mirror auto), and
  // not with --mirror off.
  snprintf(args, sizeof(args), "train --data %s --out %s/m.safetensors --obs image+state "
           "--encoder cnn --crop 60x80 --epochs 1 --layers 2 --hidden 16", out, cli_tmpdir);
  code = cli_run(&r, "", args);
  if (code) fail_msg("train exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "half of them mirror images"));
  snprintf(args, sizeof(args), "train --data %s --out %s/m.safetensors --obs image+state "
           "--encoder cnn --crop 60x80 --epochs 1 --layers 2 --hidden 16 --mirror off", out,
           cli_tmpdir);
  code = cli_run(&r, "", args);
  if (code) fail_msg("train exited %d:\n%s\n%s", code, r.out, r.err);
  assert_null(strstr(r.out, "mirror images"));
  // A region of interest at twice the resolution, shifted +-2 pixels in training: the
  // window is where the flags put it, and the checkpoint carries it.
  snprintf(args, sizeof(args), "train --data %s --out %s/roi.safetensors --obs image+state "
           "--encoder cnn --img-down 2 --crop 60x120 --crop-at 15,20 --shift 2 --epochs 1 "
           "--layers 2 --hidden 16", out, cli_tmpdir);
  code = cli_run(&r, "", args);
  if (code) fail_msg("train exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "a 60 x 120 window at (15, 20) when acting, placed within +-2 "
                                "pixels in training"));
  snprintf(args, sizeof(args), "inspect %s/roi.safetensors", cli_tmpdir);
  code = cli_run(&r, "", args);
  if (code) fail_msg("inspect exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "60x120 crops at (15, 20)"));
  // mirror images are cropped at the same place as the frames they flip: off-centre refused
  snprintf(args, sizeof(args), "train --data %s --out %s/roi.safetensors --obs image+state "
           "--encoder cnn --img-down 2 --crop 60x120 --crop-at 15,10 --epochs 1", out,
           cli_tmpdir);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "mirror images need the window centred left to right (X = 20"));
  // No temporary files are left behind.
  snprintf(args, sizeof(args), "test -z \"$(ls -a '%s' | grep tmp)\"", out);
  assert_int_equal(system(args), 0);
}

// Reads the single episode collect wrote into dir.
static void read_only_episode(const char* dir, nfp_episode* ep) {
  char** paths = NULL;
  int n = nfp_demo_list(dir, &paths);
  assert_int_equal(n, 1);
  if (nfp_demo_read(paths[0], ep, 0)) fail_msg("%s", nfp_error_last());
  nfp_demo_list_free(paths, n);
}

static void collect_one(const char* dir, const char* extra) {
  char args[600];
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 1 --seed 5 --out %s %s", dir,
           extra);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("collect exited %d:\n%s\n%s", code, r.out, r.err);
}

// --noise perturbs what the arms execute, not what the demo records: the expert's
// first phase (planned from the set-up alone) records the same targets as a clean
// run while the arms are elsewhere; the perturbation is seeded, so runs repeat.
static void test_collect_perturbed(void** state) {
  (void)state;
  char clean[400], noisy[400], again[400];
  snprintf(clean, sizeof(clean), "%s/clean", cli_tmpdir);
  snprintf(noisy, sizeof(noisy), "%s/noisy", cli_tmpdir);
  snprintf(again, sizeof(again), "%s/again", cli_tmpdir);
  collect_one(clean, "");
  collect_one(noisy, "--noise 0.01");
  assert_non_null(strstr(r.out, "perturbed by 0.01 rad"));
  collect_one(again, "--noise 0.01");
  nfp_episode c, n, a;
  read_only_episode(clean, &c);
  read_only_episode(noisy, &n);
  read_only_episode(again, &a);
  assert_int_equal(c.seed, n.seed);
  int k = 15;  // inside the expert's first phase
  assert_true(c.T > k && n.T > k);
  assert_memory_equal(c.action, n.action, (size_t)k * 14 * sizeof(double));
  double diff = 0;
  for (int j = 0; j < 14; j++) diff += fabs(c.qpos[k * 14 + j] - n.qpos[k * 14 + j]);
  assert_true(diff > 1e-3);
  assert_int_equal(n.T, a.T);
  assert_memory_equal(n.qpos, a.qpos, (size_t)n.T * 14 * sizeof(double));
  nfp_episode_free(&c);
  nfp_episode_free(&n);
  nfp_episode_free(&a);
  // Out of range: refused before anything runs.
  snprintf(again, sizeof(again), "collect --task lift_pot --noise 0.9 --out %s/x", cli_tmpdir);
  assert_int_equal(cli_run(&r, "", again), 2);
}

// Towel Folding's demos run on past the success to the end of the expert's script
// (the fingers lift clear of the folded corner): the last target recorded is the one
// on which the script finishes, and the fold still succeeds there.
static void test_collect_runs_on(void** state) {
  (void)state;
  char dir[400], args[600];
  snprintf(dir, sizeof(dir), "%s/towel", cli_tmpdir);
  snprintf(args, sizeof(args), "collect --task towel_folding --episodes 1 --seed 3 --out %s", dir);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("collect exited %d:\n%s\n%s", code, r.out, r.err);
  nfp_episode ep;
  read_only_episode(dir, &ep);
  nfp_task* t = nfp_task_create("towel_folding", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  assert_true(t->def->demo_runs_on);
  nfp_task_reset(t, (uint64_t)ep.seed);
  int first_success = -1;
  double target[14];
  for (int k = 0; k < ep.T; k++) {
    assert_false(nfp_task_expert_done(t));
    nfp_task_expert(t, target);
    assert_memory_equal(target, ep.action + (size_t)k * 14, sizeof(target));
    nfp_task_step(t, target);
    if (first_success < 0 && nfp_task_success(t)) first_success = k;
  }
  assert_true(nfp_task_expert_done(t));
  assert_true(nfp_task_success(t));
  assert_true(first_success >= 0 && first_success < ep.T - 4);
  nfp_task_free(t);
  nfp_episode_free(&ep);
}

// Progress through a pipe: plain lines on stderr (episodes saved / total, skipped seeds),
// no carriage return, no per-seed lines; --verbose brings those back on stdout.
static void test_collect_progress(void** state) {
  (void)state;
  char args[800];
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 2 --seed 5 --out %s/prog "
           "2>&1 | cat", cli_tmpdir);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("collect exited %d:\n%s", code, r.out);
  assert_null(strchr(r.out, '\r'));
  assert_non_null(strstr(r.out, "\ncollect lift_pot 1/2 episodes, skipped seeds 0, "));
  assert_non_null(strstr(r.out, "\ncollect lift_pot 2/2 episodes, skipped seeds 0, "));
  assert_null(strstr(r.out, "success in"));
  assert_non_null(strstr(r.out, "saved 2 of 2 episodes"));
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 2 --seed 5 --verbose "
           "--out %s/prog_verbose", cli_tmpdir);
  code = cli_run(&r, "", args);
  if (code) fail_msg("collect --verbose exited %d:\n%s\n%s", code, r.out, r.err);
  assert_non_null(strstr(r.out, "seed 5: success in "));
  assert_non_null(strstr(r.out, "/prog_verbose/episode_000001.hdf5 [2/2]\n"));
  assert_non_null(strstr(r.err, "collect lift_pot 2/2 episodes"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_collect_two_with_images),
      cmocka_unit_test(test_collect_perturbed),
      cmocka_unit_test(test_collect_runs_on),
      cmocka_unit_test(test_collect_progress),
  };
  return cmocka_run_group_tests(tests, cli_setup, cli_teardown);
}
