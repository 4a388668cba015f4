// nfp inspect and nfp --version: the bundled policy, a resumable training checkpoint made by
// nfp train on two collected demos (and its export), a demo episode, each as text and as
// JSON; missing, empty, random and truncated files refused with exit 1 and a message.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "nfp/checkpoint.h"
#include "nfp/demo.h"
#include "nfp/error.h"

static cli_result r;
static char demos[400], ckpt[400];  // made once by the group setup

// nfp args must exit 0 (the test fails with its output otherwise).
static void run_ok(const char* args) {
  if (cli_run(&r, "", args)) fail_msg("nfp %s exited %d:\n%s\n%s", args, r.code, r.out, r.err);
}

// stdout of `nfp inspect --json path` -> the parsed report (caller deletes).
static cJSON* inspect_json(const char* path) {
  char args[600];
  snprintf(args, sizeof(args), "inspect --json '%s'", path);
  run_ok(args);
  cJSON* j = cJSON_Parse(r.out);
  if (!j) fail_msg("nfp %s printed no JSON:\n%s", args, r.out);
  return j;
}

// j at the dotted path "a.b" -> its number (fails the test when absent).
static double num_at(const cJSON* j, const char* a, const char* b) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, a);
  if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
  if (!cJSON_IsNumber(v)) fail_msg("no number at %s.%s", a, b ? b : "");
  return v->valuedouble;
}

// j at "a.b" -> its string (fails the test when absent).
static const char* str_at(const cJSON* j, const char* a, const char* b) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(j, a);
  if (b) v = cJSON_GetObjectItemCaseSensitive(v, b);
  if (!cJSON_IsString(v)) fail_msg("no string at %s.%s", a, b ? b : "");
  return v->valuestring;
}

// Two collected Lift Pot demos and a 2-epoch tiny checkpoint trained on them.
static int setup(void** state) {
  if (cli_setup(state)) return -1;
  char args[1200];
  snprintf(demos, sizeof(demos), "%s/demos", cli_tmpdir);
  snprintf(ckpt, sizeof(ckpt), "%s/ck.safetensors", cli_tmpdir);
  snprintf(args, sizeof(args), "collect --task lift_pot --episodes 2 --seed 3 --out %s", demos);
  if (cli_run(&r, "", args)) return -1;
  snprintf(args, sizeof(args),
           "train --data %s --out %s --epochs 2 --batch 16 --hidden 16 --layers 2 --context 8 "
           "--val-frac 0.5 --threads 1 --quiet", demos, ckpt);
  return cli_run(&r, "", args) ? -1 : 0;
}

// The bundled policy: an exported, non-resumable state policy for lift_pot.
static void test_bundled_policy(void** state) {
  (void)state;
  const char* path = NFP_TEST_ASSETS "/policies/lift_pot.safetensors";
  nfp_model* m = nfp_checkpoint_load(path, NULL, NULL);
  if (!m) fail_msg("%s", nfp_error_last());
  char args[600], line[64];
  snprintf(args, sizeof(args), "inspect '%s'", path);
  run_ok(args);
  assert_non_null(strstr(r.out, "nfp policy"));
  assert_non_null(strstr(r.out, "encoder         state"));
  assert_non_null(strstr(r.out, "task            lift_pot"));
  assert_non_null(strstr(r.out, "resumable         no"));
  snprintf(line, sizeof(line), "parameters      %zu\n", m->num_params);
  assert_non_null(strstr(r.out, line));
  cJSON* j = inspect_json(path);
  assert_string_equal(str_at(j, "kind", NULL), "policy");
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "resumable")));
  assert_true(num_at(j, "model", "parameters") == (double)m->num_params);
  assert_true(num_at(j, "model", "horizon") == m->cfg.horizon);
  assert_string_equal(str_at(j, "model", "encoder_name"), "state");
  assert_string_equal(str_at(j, "data", "task"), "lift_pot");
  assert_true(num_at(j, "train_state", "epoch") > 0);
  assert_true(isfinite(num_at(j, "train_state", "val_nll")));
  assert_true(num_at(j, "train_config", "batch") > 0);
  assert_true(num_at(j, "file_bytes", NULL) > 1e6);
  cJSON_Delete(j);
  nfp_model_free(m);
}

// A checkpoint from nfp train: resumable, with metrics, best weights and its demos' seeds;
// its export is a policy that names the weights it holds.
static void test_training_checkpoint(void** state) {
  (void)state;
  char args[1200], policy[420];
  snprintf(args, sizeof(args), "inspect '%s'", ckpt);
  run_ok(args);
  assert_non_null(strstr(r.out, "nfp training checkpoint"));
  assert_non_null(strstr(r.out, "resumable         yes"));
  assert_non_null(strstr(r.out, "seeds           3..4"));
  assert_non_null(strstr(r.out, "epoch           2 "));
  assert_non_null(strstr(r.out, "val NLL"));
  assert_non_null(strstr(r.out, "best epoch"));
  assert_non_null(strstr(r.out, "flow            2 coupling layers"));
  cJSON* j = inspect_json(ckpt);
  assert_string_equal(str_at(j, "kind", NULL), "checkpoint");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "resumable")));
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "best_weights")));
  assert_true(num_at(j, "train_state", "epoch") == 2);
  assert_true(isfinite(num_at(j, "train_state", "train_nll")));
  assert_true(isfinite(num_at(j, "train_state", "val_nll")));
  assert_true(num_at(j, "train_state", "best_epoch") >= 1);
  assert_true(num_at(j, "train_config", "epochs") == 2);
  assert_true(num_at(j, "model", "hidden") == 16);
  assert_true(num_at(j, "data", "seed_min") == 3 && num_at(j, "data", "seed_max") == 4);
  assert_string_equal(str_at(j, "data", "demos"), demos);
  assert_string_equal(str_at(j, "policy_weights", "weights"), "last");
  cJSON_Delete(j);

  snprintf(policy, sizeof(policy), "%s/best.safetensors", cli_tmpdir);
  snprintf(args, sizeof(args), "export --in %s --out %s --weights best", ckpt, policy);
  run_ok(args);
  j = inspect_json(policy);
  assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(j, "resumable")));
  assert_string_equal(str_at(j, "policy_weights", "weights"), "best");
  cJSON_Delete(j);
  snprintf(args, sizeof(args), "inspect %s", policy);
  run_ok(args);
  assert_non_null(strstr(r.out, "best: the EMA weights after epoch"));
}

// A collected episode: its attributes, length and datasets as nfp_demo_read sees them.
static void test_episode(void** state) {
  (void)state;
  char path[500], args[600], line[128];
  snprintf(path, sizeof(path), "%s/episode_000000.hdf5", demos);
  nfp_episode ep;
  if (nfp_demo_read(path, &ep, 0)) fail_msg("%s", nfp_error_last());
  snprintf(args, sizeof(args), "inspect %s", path);
  run_ok(args);
  assert_non_null(strstr(r.out, "nfp episode"));
  assert_non_null(strstr(r.out, "lift_pot"));
  assert_non_null(strstr(r.out, "success                    yes"));
  snprintf(line, sizeof(line), "/observations/qpos         [%d,14] float64", ep.T);
  assert_non_null(strstr(r.out, line));
  snprintf(line, sizeof(line), "/observations/object_state [%d,%d] float64", ep.T, ep.nobj);
  assert_non_null(strstr(r.out, line));
  assert_non_null(strstr(r.out, "format_version"));
  cJSON* j = inspect_json(path);
  assert_string_equal(str_at(j, "kind", NULL), "episode");
  assert_string_equal(str_at(j, "task", NULL), "lift_pot");
  assert_true(num_at(j, "seed", NULL) == (double)ep.seed);
  assert_true(num_at(j, "frames", NULL) == ep.T);
  assert_true(fabs(num_at(j, "control_hz", NULL) - ep.control_hz) < 1e-9);
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "success")));
  const cJSON* qpos = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(j, "fields"), "observations/qpos");
  const cJSON* shape = cJSON_GetObjectItemCaseSensitive(qpos, "shape");
  assert_int_equal(cJSON_GetArraySize(shape), 2);
  assert_true(cJSON_GetArrayItem(shape, 0)->valuedouble == ep.T);
  assert_true(num_at(j, "attributes", "format_version") == NFP_DEMO_FORMAT_VERSION);
  cJSON_Delete(j);
  nfp_episode_free(&ep);
}

// path holding n bytes copied from src at its start (src NULL: random bytes).
static void write_file(const char* path, const char* src, size_t n) {
  FILE* in = fopen(src ? src : "/dev/urandom", "rb");
  FILE* out = fopen(path, "wb");
  assert_non_null(in);
  assert_non_null(out);
  char buf[4096];
  while (n > 0) {
    size_t k = fread(buf, 1, n < sizeof(buf) ? n : sizeof(buf), in);
    if (k == 0) break;
    fwrite(buf, 1, k, out);
    n -= k;
  }
  fclose(in);
  fclose(out);
}

// Files that are not nfp files, or damaged ones: exit 1 with the file and the problem named.
static void test_refusals(void** state) {
  (void)state;
  static const char* names[] = {"random.bin", "random.safetensors", "random.hdf5",
                                "cut.safetensors", "cut.hdf5", "empty.safetensors"};
  static const char* expect[] = {"neither", "not a safetensors", "not a readable HDF5", "",
                                 "not a readable HDF5", "is empty"};
  char path[500], args[600], episode[500];
  snprintf(episode, sizeof(episode), "%s/episode_000000.hdf5", demos);
  for (int i = 0; i < 6; i++) {
    snprintf(path, sizeof(path), "%s/%s", cli_tmpdir, names[i]);
    const char* src = i == 3 ? ckpt : i == 4 ? episode : NULL;
    write_file(path, src, i == 5 ? 0 : i >= 3 ? 5000 : 3000);
    snprintf(args, sizeof(args), "inspect %s", path);
    assert_int_equal(cli_run(&r, "", args), 1);
    if (!strstr(r.err, names[i]) || !strstr(r.err, expect[i])) fail_msg("%s: %s", path, r.err);
    snprintf(args, sizeof(args), "inspect --json %s", path);
    assert_int_equal(cli_run(&r, "", args), 1);
    assert_string_equal(r.out, "");
  }
  assert_int_equal(cli_run(&r, "", "inspect /nonexistent_nfp/p.safetensors"), 1);
  assert_non_null(strstr(r.err, "No such file"));
  snprintf(args, sizeof(args), "inspect %s", cli_tmpdir);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "folder"));
  assert_int_equal(cli_run(&r, "", "inspect"), 2);
  assert_int_equal(cli_run(&r, "", "inspect a b"), 2);
  assert_int_equal(cli_run(&r, "", "inspect --bogus x"), 2);
  assert_int_equal(cli_run(&r, "", "inspect --help"), 0);
}

// nfp --version and nfp version: "nfp X.Y.Z ...", and the libraries it runs with.
static void test_version(void** state) {
  (void)state;
  const char* forms[] = {"--version", "version"};
  for (int i = 0; i < 2; i++) {
    assert_int_equal(cli_run(&r, "", forms[i]), 0);
    assert_int_equal(strncmp(r.out, "nfp ", 4), 0);
    assert_non_null(strstr(r.out, "MuJoCo "));
    assert_non_null(strstr(r.out, "OpenBLAS "));
  }
  assert_int_equal(cli_run(&r, "", "--help"), 0);
  assert_non_null(strstr(r.out, "inspect"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bundled_policy), cmocka_unit_test(test_training_checkpoint),
      cmocka_unit_test(test_episode),        cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_version),
  };
  return cmocka_run_group_tests(tests, setup, cli_teardown);
}
