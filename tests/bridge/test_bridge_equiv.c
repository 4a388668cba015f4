// A policy evaluated through the bridge (lock-step, CURVE, loopback) gives the in-process
// episodes: the same outcome per seed and bit-identical joint positions at every step.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "nfp/agent.h"
#include "bridge_util.h"
#include "policy_flags.h"
#include "nfp/rollout.h"

#define NSEEDS 3
#define MAX_STEPS 400

typedef struct {
  int steps, success, plans, hold_steps;
  double qpos[MAX_STEPS + 1][14];
} episode_trace;

static int run_episodes(episode_trace* out, nfp_arms* arms, const nfp_model* model,
                        nfp_sample_mode mode) {
  nfp_policy_flags pf;
  nfp_policy_flags_default(&pf);
  pf.path = policy_path;
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &pf, model, mode);
  nfp_agent* agent = nfp_agent_create(&spec);
  if (!agent) return -1;
  nfp_rollout ro = {0};
  int rc = 0;
  for (int k = 0; k < NSEEDS && !rc; k++) {
    episode_trace* e = &out[k];
    rc = nfp_rollout_begin(&ro, arms, agent, 1000 + (uint64_t)k);
    if (!rc) memcpy(e->qpos[0], ro.obs.qpos, sizeof(e->qpos[0]));
    while (!rc && !ro.done && ro.steps < MAX_STEPS) {
      rc = nfp_rollout_step(&ro, NULL, NULL);
      if (!rc) memcpy(e->qpos[ro.steps], ro.obs.qpos, sizeof(e->qpos[0]));
    }
    e->steps = ro.steps;
    e->success = ro.success;
    e->plans = ro.plans;
    e->hold_steps = ro.hold_steps;
  }
  nfp_rollout_free(&ro);
  nfp_agent_free(agent);
  return rc;
}

static void compare(const episode_trace* a, const episode_trace* b) {
  for (int k = 0; k < NSEEDS; k++) {
    assert_int_equal(a[k].steps, b[k].steps);
    assert_int_equal(a[k].success, b[k].success);
    assert_int_equal(a[k].plans, b[k].plans);
    assert_int_equal(a[k].hold_steps, b[k].hold_steps);
    for (int t = 0; t <= a[k].steps; t++) {
      if (memcmp(a[k].qpos[t], b[k].qpos[t], sizeof(a[k].qpos[t]))) {
        fail_msg("seed %d step %d: qpos differs through the bridge", 1000 + k, t);
      }
    }
  }
}

static void check_mode(nfp_sample_mode mode) {
  nfp_model* model = nfp_checkpoint_load(policy_path, NULL, NULL);
  assert_non_null(model);
  static episode_trace local[NSEEDS], remote[NSEEDS];
  memset(local, 0, sizeof(local));
  memset(remote, 0, sizeof(remote));

  nfp_arms* sim = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(sim);
  if (run_episodes(local, sim, model, mode)) fail_msg("%s", nfp_error_last());
  nfp_arms_close(sim);

  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  nfp_bridge_client_opts co;
  client_opts(&co, cli_key);
  nfp_arms* remote_arms = nfp_arms_zmq_connect(nfp_bridge_server_endpoint(srv.server), &co);
  if (!remote_arms) fail_msg("%s", nfp_error_last());
  assert_string_equal(remote_arms->info.name, "sim:lift_pot");
  assert_int_equal(remote_arms->info.nq, 14);
  assert_int_equal(remote_arms->info.step_cap, 400);
  if (run_episodes(remote, remote_arms, model, mode)) fail_msg("%s", nfp_error_last());
  nfp_bridge_status st;
  assert_int_equal(nfp_arms_zmq_status(remote_arms, &st), 0);
  nfp_arms_close(remote_arms);
  server_finish(&srv);
  assert_int_equal(srv.rc, 0);

  compare(local, remote);
  // The safety layer was there but had nothing to do, and nothing was refused.
  assert_int_equal(st.rate_clamps, 0);
  assert_int_equal(st.rejected, 0);
  assert_int_equal(st.errors, 0);
  int total = 0;
  for (int k = 0; k < NSEEDS; k++) total += local[k].steps;
  assert_int_equal((int)st.commands, total);
  // The arms did move (a frozen rig would compare equal too).
  double moved = 0;
  for (int j = 0; j < 14; j++) moved += fabs(local[0].qpos[local[0].steps][j] - local[0].qpos[0][j]);
  assert_true(moved > 1e-3);
  nfp_model_free(model);
}

static void equivalence_single(void** state) {
  (void)state;
  check_mode(NFP_SAMPLE_SINGLE);
}

static void equivalence_sbs(void** state) {
  (void)state;
  check_mode(NFP_SAMPLE_SBS);
}

static int setup(void** state) {
  (void)state;
  return make_keys() || make_policy("lift_pot") ? -1 : 0;
}

static int teardown(void** state) {
  (void)state;
  remove_tdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(equivalence_single),
      cmocka_unit_test(equivalence_sbs),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
