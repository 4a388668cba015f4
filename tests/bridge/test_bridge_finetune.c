// RL fine-tuning through the bridge: the same run (warm-up, critic, offline and online
// stages) against a lock-step simulated arm server gives, bit for bit, the replay buffer,
// actor and critic of the run in process: the loop drives arms only through nfp_arms, so
// it runs on a rig behind the bridge unchanged.
#include <cblas.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "bridge_util.h"
#include "nfp/rl.h"

// The small run on arms -> ft (left set up for the caller to compare and free).
static void run(nfp_finetune* ft, const nfp_model* m, nfp_arms* arms) {
  nfp_finetune_config cfg;
  nfp_finetune_config_default(&cfg, m);
  cfg.warmup_episodes = 1;
  cfg.critic_warmup_steps = 3;
  cfg.offline_steps = 2;
  cfg.online_episodes = 2;
  cfg.updates_per_episode = 2;
  cfg.batch = 16;
  cfg.critic.hidden = 32;
  cfg.critic.blocks = 1;
  if (nfp_finetune_init(ft, m, NULL, 0, &cfg) || nfp_finetune_run(ft, arms)) {
    fail_msg("%s", nfp_error_last());
  }
}

static void through_the_bridge(void** state) {
  (void)state;
  nfp_model* m = nfp_checkpoint_load(policy_path, NULL, NULL);
  assert_non_null(m);
  nfp_finetune local, remote;
  nfp_arms* sim = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(sim);
  run(&local, m, sim);
  nfp_arms_close(sim);
  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  nfp_bridge_client_opts co;
  client_opts(&co, cli_key);
  nfp_arms* arms = nfp_arms_zmq_connect(nfp_bridge_server_endpoint(srv.server), &co);
  if (!arms) fail_msg("%s", nfp_error_last());
  run(&remote, m, arms);
  nfp_bridge_status st;
  assert_int_equal(nfp_arms_zmq_status(arms, &st), 0);
  assert_int_equal(st.rate_clamps, 0);  // the safety layer had nothing to change
  nfp_arms_close(arms);
  server_finish(&srv);
  assert_int_equal(remote.buf.n, local.buf.n);
  assert_true(local.buf.n > 0);
  assert_memory_equal(remote.buf.obs, local.buf.obs,
                      sizeof(float) * (size_t)local.buf.n * local.buf.obs_dim);
  assert_memory_equal(remote.buf.chunk, local.buf.chunk,
                      sizeof(float) * (size_t)local.buf.n * local.buf.chunk_dim);
  assert_memory_equal(remote.buf.ret, local.buf.ret, sizeof(float) * (size_t)local.buf.n);
  assert_memory_equal(remote.actor->params, local.actor->params,
                      sizeof(float) * local.actor->num_params);
  assert_memory_equal(remote.critic.params, local.critic.params,
                      sizeof(float) * local.critic.num_params);
  nfp_finetune_free(&local);
  nfp_finetune_free(&remote);
  nfp_model_free(m);
}

static int setup(void** state) {
  (void)state;
  openblas_set_num_threads(1);  // one summation order for the bitwise comparison
  if (make_keys() || make_policy("lift_pot")) {
    fprintf(stderr, "setup: %s\n", nfp_error_last());
    return -1;
  }
  return 0;
}

static int teardown(void** state) {
  (void)state;
  remove_tdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(through_the_bridge),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
