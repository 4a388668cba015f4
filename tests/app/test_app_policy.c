// nfp eval / nfp export with a policy: per-trial records that depend only on the seed
// (not on --jobs) in every sampling mode, each with its seed's set-up (object_start),
// the JSON and SVG reports, the confidence gate
// (--min-loglik above any chunk's log-likelihood holds every step, and a gated
// controller on the simulated arms keeps them where they started), an exported policy
// that evaluates identically, and bad input refused with the file or the modes named.
#include <float.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <math.h>

#include "cli_util.h"
#include "json_util.h"
#include "nfp/arms_sim.h"
#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/rng.h"
#include "nfp/sampler.h"
#include "nfp/tasks.h"

#define NOBJ 7  // Lift Pot's object state: pot position and quaternion

static cli_result r;
static char policy[512];  // the test policy checkpoint in cli_tmpdir

// Joint range over one scripted-expert episode, padded: the statistics a trained policy
// stores, so the untrained policy's targets stay in the task's workspace.
static void expert_ranges(float* lo, float* hi) {
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  if (!t) fail_msg("%s", nfp_error_last());
  for (int j = 0; j < NFP_NJ; j++) lo[j] = 1e9f, hi[j] = -1e9f;
  nfp_task_reset(t, 0);
  for (int k = 0; k < 400 && !nfp_task_expert_done(t); k++) {
    double q[NFP_NJ], target[NFP_NJ];
    nfp_task_observe(t, q, NULL);
    nfp_task_expert(t, target);
    for (int j = 0; j < NFP_NJ; j++) {
      lo[j] = fminf(lo[j], fminf((float)q[j], (float)target[j]));
      hi[j] = fmaxf(hi[j], fmaxf((float)q[j], (float)target[j]));
    }
    nfp_task_step(t, target);
  }
  nfp_task_free(t);
  for (int j = 0; j < NFP_NJ; j++) lo[j] -= 0.05f, hi[j] += 0.05f;
}

// A small untrained Lift Pot policy as `nfp train` shapes it from demos that record the
// object state (state frame = 14 joints + 7 object values), with perturbed weights.
static void make_policy(const char* path) {
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.state_dim = NFP_NJ + NOBJ;
  cfg.n_layers = 4;
  cfg.hidden = 32;
  cfg.n_blocks = 1;
  cfg.context_dim = 16;
  cfg.enc_hidden = 64;
  cfg.sbs_candidates = 16;
  cfg.gr_steps = 4;
  nfp_model* m = nfp_model_create(&cfg, 3);
  if (!m) fail_msg("%s", nfp_error_last());
  nfp_rng rng;
  nfp_rng_seed(&rng, 4);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.02f * (float)nfp_rng_normal(&rng);
  float lo[NFP_NJ + NOBJ], hi[NFP_NJ + NOBJ];
  expert_ranges(lo, hi);
  for (int j = NFP_NJ; j < NFP_NJ + NOBJ; j++) lo[j] = -1.0f, hi[j] = 1.0f;
  if (nfp_model_set_norm(m, lo, hi, lo, hi) || nfp_checkpoint_save(path, m, NULL, NULL, NULL, 0)) {
    fail_msg("%s", nfp_error_last());
  }
  nfp_model_free(m);
}

static int setup(void** state) {
  if (cli_setup(state)) return -1;
  snprintf(policy, sizeof(policy), "%s/policy.safetensors", cli_tmpdir);
  make_policy(policy);
  return 0;
}

// nfp eval with the test policy and `extra` flags, its JSON report parsed.
static cJSON* eval(const char* name, const char* pol, const char* extra) {
  char json[600], args[2048];
  snprintf(json, sizeof(json), "%s/%s.json", cli_tmpdir, name);
  snprintf(args, sizeof(args), "eval --policy '%s' --seed 100000 --json '%s' %s", pol, json,
           extra);
  int code = cli_run(&r, "", args);
  if (code) fail_msg("nfp %s exited %d:\n%s\n%s", args, code, r.out, r.err);
  return json_read_report(json);
}

static double num(const cJSON* o, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(o, key);
  if (!cJSON_IsNumber(v)) fail_msg("JSON field '%s' missing or not a number", key);
  return v->valuedouble;
}

static const cJSON* run_of(const cJSON* root, const char* mode) {
  const cJSON* runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
  const cJSON* run;
  cJSON_ArrayForEach(run, runs) {
    const cJSON* m = cJSON_GetObjectItemCaseSensitive(run, "mode");
    if (cJSON_IsString(m) && !strcmp(m->valuestring, mode)) return run;
  }
  fail_msg("no run for mode %s", mode);
  return NULL;
}

// Two runs' per-trial records agree in everything but wall time, bit for bit.
static void same_records(const cJSON* a, const cJSON* b) {
  const cJSON* ra = cJSON_GetObjectItemCaseSensitive(a, "records");
  const cJSON* rb = cJSON_GetObjectItemCaseSensitive(b, "records");
  assert_int_equal(cJSON_GetArraySize(ra), cJSON_GetArraySize(rb));
  const char* keys[] = {"seed", "steps", "plans", "hold_steps", "loglik_mean", "loglik_min"};
  for (int i = 0; i < cJSON_GetArraySize(ra); i++) {
    const cJSON* x = cJSON_GetArrayItem(ra, i);
    const cJSON* y = cJSON_GetArrayItem(rb, i);
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
      if (num(x, keys[k]) != num(y, keys[k])) {
        fail_msg("record %d: %s %.17g vs %.17g", i, keys[k], num(x, keys[k]), num(y, keys[k]));
      }
    }
    assert_int_equal(cJSON_IsTrue(cJSON_GetObjectItem(x, "success")),
                     cJSON_IsTrue(cJSON_GetObjectItem(y, "success")));
  }
}

// Every record's object_start is the set-up the task itself makes for that seed.
static void expect_setups(nfp_task* t, const cJSON* run) {
  const cJSON* rec;
  cJSON_ArrayForEach(rec, cJSON_GetObjectItem(run, "records")) {
    const cJSON* got = cJSON_GetObjectItemCaseSensitive(rec, "object_start");
    assert_true(cJSON_IsArray(got));
    assert_int_equal(cJSON_GetArraySize(got), NOBJ);
    double want[NOBJ];
    nfp_task_reset(t, (uint64_t)num(rec, "seed"));
    assert_int_equal(nfp_task_object_state(t, want, NOBJ), NOBJ);
    for (int i = 0; i < NOBJ; i++) {
      // cJSON prints 15 significant digits when they read back within its epsilon: the
      // last bit may differ, nothing more
      double g = cJSON_GetArrayItem(got, i)->valuedouble;
      if (fabs(g - want[i]) > 4 * DBL_EPSILON * fabs(want[i])) {
        fail_msg("seed %.0f value %d: %.17g vs %.17g", num(rec, "seed"), i, g, want[i]);
      }
    }
  }
}

static const char* modes[] = {"single", "sbs", "gr"};

// --mode all on 1 and 2 threads: every mode's trials identical; the report complete.
static void test_eval_modes_jobs(void** state) {
  (void)state;
  cJSON* a = eval("all_j1", policy, "--mode all --episodes 3 --jobs 1");
  cJSON* b = eval("all_j2", policy, "--mode all --episodes 3 --jobs 2");
  assert_string_equal(cJSON_GetObjectItem(a, "agent")->valuestring, "policy");
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(a, "runs")), 4);  // expert + 3 modes
  const cJSON* expert = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "runs"), 0);
  assert_string_equal(cJSON_GetObjectItem(expert, "agent")->valuestring, "expert");
  assert_int_equal((int)num(expert, "successes"), 3);  // the Lift Pot expert on 100000..2
  nfp_task* lift_pot = nfp_task_create("lift_pot", NFP_TEST_ASSETS);  // the set-ups' reference
  if (!lift_pot) fail_msg("%s", nfp_error_last());
  expect_setups(lift_pot, expert);
  for (int k = 0; k < 3; k++) {
    const cJSON* x = run_of(a, modes[k]);
    const cJSON* y = run_of(b, modes[k]);
    assert_string_equal(cJSON_GetObjectItem(x, "task")->valuestring, "lift_pot");
    assert_int_equal((int)num(x, "trials"), 3);
    assert_int_equal((int)num(y, "jobs"), 2);
    double rate = num(x, "success_rate");
    assert_true(rate >= 0 && rate <= 1 && rate == num(x, "successes") / 3);
    double p50 = num(x, "latency_p50_ms"), p99 = num(x, "latency_p99_ms");
    printf("  %-6s success %.2f, chunk log p %.2f, latency p50 %.2f ms p99 %.2f ms\n", modes[k],
           rate, num(x, "loglik_mean"), p50, p99);
    assert_true(p50 > 0 && p99 >= p50);
    assert_true(isfinite(num(x, "loglik_mean")));
    assert_true(num(x, "loglik_mean") == num(y, "loglik_mean"));
    int calls = 0;
    const cJSON* rec;
    cJSON_ArrayForEach(rec, cJSON_GetObjectItem(x, "records")) {
      int steps = (int)num(rec, "steps"), plans = (int)num(rec, "plans");
      assert_true(steps > 0 && steps <= 400);
      assert_int_equal(plans, (steps + 7) / 8);  // default --replan 8
      assert_int_equal((int)num(rec, "hold_steps"), 0);  // the gate is off by default
      assert_true(num(rec, "loglik_min") <= num(rec, "loglik_mean"));
      calls += plans;
    }
    assert_int_equal((int)num(x, "policy_calls"), calls);
    same_records(x, y);
    expect_setups(lift_pot, x);
    expect_setups(lift_pot, y);
    // every mode runs on the same seeds
    const cJSON* s0 = cJSON_GetObjectItem(run_of(a, "single"), "seeds");
    const cJSON* sk = cJSON_GetObjectItem(x, "seeds");
    for (int i = 0; i < 3; i++) {
      assert_true(cJSON_GetArrayItem(s0, i)->valuedouble == cJSON_GetArrayItem(sk, i)->valuedouble);
    }
  }
  // SBS keeps the best of 16 candidates: its chunks score well above single draws
  assert_true(num(run_of(a, "sbs"), "loglik_mean") > num(run_of(a, "single"), "loglik_mean"));
  // the chart next to the JSON, a bar per mode
  char svg[600];
  snprintf(svg, sizeof(svg), "%s/all_j1.svg", cli_tmpdir);
  FILE* f = fopen(svg, "r");
  assert_non_null(f);
  static char text[1 << 20];  // cairo's SVG carries its glyph outlines
  size_t n = fread(text, 1, sizeof(text) - 1, f);
  text[n] = '\0';
  fclose(f);
  assert_non_null(strstr(text, "<svg"));
  assert_non_null(strstr(text, "</svg>"));
  for (int k = 0; k < 3; k++) assert_non_null(strstr(text, modes[k]));
  assert_non_null(strstr(text, "expert"));
  assert_non_null(strstr(text, "(95 % interval 0.0-"));  // the bars carry their intervals
  nfp_task_free(lift_pot);
  cJSON_Delete(a);
  cJSON_Delete(b);
}

// --min-loglik above any achievable log-likelihood: every step of every trial is a hold.
static void test_eval_gate(void** state) {
  (void)state;
  cJSON* a = eval("gate", policy, "--mode single --episodes 2 --jobs 2 --min-loglik 1e9");
  const cJSON* rec;
  int n = 0;
  cJSON_ArrayForEach(rec, cJSON_GetObjectItem(a, "records")) {
    assert_int_equal((int)num(rec, "hold_steps"), (int)num(rec, "steps"));
    assert_false(cJSON_IsTrue(cJSON_GetObjectItem(rec, "success")));
    n++;
  }
  assert_int_equal(n, 2);
  cJSON_Delete(a);
}

// Largest joint deviation from q0 over `steps` control steps of a gated controller on
// the simulated Lift Pot arms. honour_hold = 0 plays a rig that ignores the hold flag
// and servos to the target the controller gives (the position seen at planning).
static double gated_drift(nfp_arms* arms, nfp_controller* c, int steps, int honour_hold) {
  assert_int_equal(nfp_arms_reset(arms, 100003), 0);
  nfp_controller_reset(c, 100003);
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_observe(arms, &obs, 0), 0);
  assert_int_equal(obs.n_object, NOBJ);
  double q0[NFP_NJ], drift = 0.0;
  memcpy(q0, obs.qpos, sizeof(q0));
  for (int t = 0; t < steps; t++) {
    double s[NFP_NJ + NOBJ], target[NFP_NJ];
    memcpy(s, obs.qpos, sizeof(double) * NFP_NJ);
    memcpy(s + NFP_NJ, obs.object, sizeof(double) * NOBJ);
    nfp_controller_info info;
    assert_int_equal(nfp_controller_act(c, s, NULL, target, &info), 0);
    assert_int_equal(info.held, 1);
    assert_int_equal(nfp_arms_command(arms, target, honour_hold ? info.held : 0), 0);
    assert_int_equal(nfp_arms_step(arms), 0);
    assert_int_equal(nfp_arms_observe(arms, &obs, 0), 0);
    for (int j = 0; j < NFP_NJ; j++) drift = fmax(drift, fabs(obs.qpos[j] - q0[j]));
  }
  return drift;
}

// The gate at C level: a gated controller keeps the arms where they started; the same
// policy ungated moves them (so the tolerance means something).
static void test_gate_arms_still(void** state) {
  (void)state;
  nfp_model* m = nfp_checkpoint_load(policy, NULL, NULL);
  assert_non_null(m);
  nfp_arms* arms = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(arms);
  nfp_controller_opts o;
  nfp_controller_opts_default(&o, m, NFP_SAMPLE_SBS);
  o.min_loglik = 1e9;
  nfp_controller* gated = nfp_controller_create(m, &o);
  o.min_loglik = -INFINITY;
  nfp_controller* free_run = nfp_controller_create(m, &o);
  assert_non_null(gated);
  assert_non_null(free_run);
  double held = gated_drift(arms, gated, 30, 1);
  double servoed = gated_drift(arms, gated, 30, 0);
  // ungated: the same loop without the held assertion
  assert_int_equal(nfp_arms_reset(arms, 100003), 0);
  nfp_controller_reset(free_run, 100003);
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_observe(arms, &obs, 0), 0);
  double q0[NFP_NJ], moved = 0.0;
  memcpy(q0, obs.qpos, sizeof(q0));
  for (int t = 0; t < 30; t++) {
    double s[NFP_NJ + NOBJ], target[NFP_NJ];
    memcpy(s, obs.qpos, sizeof(double) * NFP_NJ);
    memcpy(s + NFP_NJ, obs.object, sizeof(double) * NOBJ);
    nfp_controller_info info;
    assert_int_equal(nfp_controller_act(free_run, s, NULL, target, &info), 0);
    assert_int_equal(info.held, 0);
    assert_int_equal(nfp_arms_command(arms, target, 0), 0);
    assert_int_equal(nfp_arms_step(arms), 0);
    assert_int_equal(nfp_arms_observe(arms, &obs, 0), 0);
    for (int j = 0; j < NFP_NJ; j++) moved = fmax(moved, fabs(obs.qpos[j] - q0[j]));
  }
  printf("  largest joint change over 30 steps: gated %.2e (hold flag) %.2e (held target), "
         "ungated %.3f\n", held, servoed, moved);
  assert_true(held < 0.01);
  assert_true(servoed < 0.01);
  assert_true(moved > 0.05);
  nfp_controller_free(gated);
  nfp_controller_free(free_run);
  nfp_arms_close(arms);
  nfp_model_free(m);
}

// nfp export writes a loadable policy that evaluates exactly as the original.
static void test_export(void** state) {
  (void)state;
  char out[600], args[1400];
  snprintf(out, sizeof(out), "%s/exported.safetensors", cli_tmpdir);
  snprintf(args, sizeof(args), "export --in '%s' --out '%s'", policy, out);
  if (cli_run(&r, "", args)) fail_msg("nfp export exited %d:\n%s", r.code, r.err);
  nfp_model* a = nfp_checkpoint_load(policy, NULL, NULL);
  nfp_model* b = nfp_checkpoint_load(out, NULL, NULL);
  assert_non_null(a);
  if (!b) fail_msg("%s", nfp_error_last());
  assert_int_equal(nfp_model_config_compare(&a->cfg, &b->cfg), 0);
  assert_int_equal(a->num_params, b->num_params);
  assert_memory_equal(a->params, b->params, sizeof(float) * a->num_params);
  nfp_model_free(a);
  nfp_model_free(b);
  cJSON* x = eval("orig", policy, "--mode sbs --episodes 2 --jobs 2");
  cJSON* y = eval("exported", out, "--mode sbs --episodes 2 --jobs 2");
  same_records(x, y);
  cJSON_Delete(x);
  cJSON_Delete(y);
}

static void copy_prefix(const char* from, const char* to, size_t n) {
  FILE* in = fopen(from, "rb");
  FILE* o = fopen(to, "wb");
  assert_non_null(in);
  assert_non_null(o);
  static char buf[1 << 16];
  size_t got = fread(buf, 1, n < sizeof(buf) ? n : sizeof(buf), in);
  assert_int_equal(fwrite(buf, 1, got, o), got);
  fclose(in);
  fclose(o);
}

// A missing, garbage or truncated policy file: exit 1 naming it; an unknown mode: exit 2
// listing the modes.
static void test_bad_input(void** state) {
  (void)state;
  char bad[3][600], args[4096];
  snprintf(bad[0], sizeof(bad[0]), "%s/no_such_policy.safetensors", cli_tmpdir);
  snprintf(bad[1], sizeof(bad[1]), "%s/garbage.safetensors", cli_tmpdir);
  snprintf(bad[2], sizeof(bad[2]), "%s/truncated.safetensors", cli_tmpdir);
  FILE* f = fopen(bad[1], "w");
  assert_non_null(f);
  fputs("this is not a safetensors file\n", f);
  fclose(f);
  copy_prefix(policy, bad[2], 3000);
  for (int i = 0; i < 3; i++) {
    snprintf(args, sizeof(args), "eval --policy '%s' --episodes 1", bad[i]);
    cli_run(&r, "", args);
    if (r.code != 1 || !strstr(r.err, bad[i])) {
      fail_msg("eval --policy %s: exit %d, stderr: %s", bad[i], r.code, r.err);
    }
    assert_null(strstr(r.err, "Sanitizer"));
    snprintf(args, sizeof(args), "export --in '%s' --out '%s/x.safetensors'", bad[i], cli_tmpdir);
    cli_run(&r, "", args);
    if (r.code != 1 || !strstr(r.err, bad[i])) {
      fail_msg("export --in %s: exit %d, stderr: %s", bad[i], r.code, r.err);
    }
  }
  snprintf(args, sizeof(args), "eval --policy '%s' --mode bogus --episodes 1", policy);
  cli_run(&r, "", args);
  if (r.code != 2) fail_msg("--mode bogus: exit %d, stderr: %s", r.code, r.err);
  const char* listed[] = {"bogus", "single", "sbs", "gr", "all"};
  for (int k = 0; k < 5; k++) {
    if (!strstr(r.err, listed[k])) fail_msg("--mode bogus: '%s' not in: %s", listed[k], r.err);
  }
}

// --policy FOLDER holds <task>.safetensors per task; --task all needs one for every task
// and says which is missing before any trial runs; a file with --task all is refused.
static void test_policy_folder(void** state) {
  (void)state;
  char dir[600], path[700], args[2048];
  snprintf(dir, sizeof(dir), "%s/policies", cli_tmpdir);
  assert_int_equal(mkdir(dir, 0755), 0);
  snprintf(path, sizeof(path), "%s/lift_pot.safetensors", dir);
  assert_int_equal(symlink(policy, path), 0);
  cJSON* a = eval("folder", dir, "--task lift_pot --mode single --episodes 2");
  cJSON* b = eval("file", policy, "--task lift_pot --mode single --episodes 2");
  same_records(run_of(a, "single"), run_of(b, "single"));
  cJSON_Delete(a);
  cJSON_Delete(b);
  snprintf(args, sizeof(args), "eval --task all --policy '%s' --episodes 1", dir);
  cli_run(&r, "", args);
  if (r.code != 1 || !strstr(r.err, "no policy for") || strstr(r.out, "evaluating")) {
    fail_msg("--task all with a partial folder: exit %d, stdout: %s, stderr: %s", r.code, r.out,
             r.err);
  }
  snprintf(args, sizeof(args), "eval --task all --policy '%s' --episodes 1", policy);
  cli_run(&r, "", args);
  if (r.code != 1 || !strstr(r.err, "folder")) {
    fail_msg("--task all with a file: exit %d, stderr: %s", r.code, r.err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_eval_modes_jobs), cmocka_unit_test(test_eval_gate),
      cmocka_unit_test(test_gate_arms_still), cmocka_unit_test(test_export),
      cmocka_unit_test(test_bad_input), cmocka_unit_test(test_policy_folder),
  };
  return cmocka_run_group_tests(tests, setup, cli_teardown);
}
