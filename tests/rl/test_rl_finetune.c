// The whole fine-tuning run on the toy task (toy_arms.h): imitation of a deliberately
// imprecise demonstrator, then SERNF's stages must raise the success rate on held-out seeds;
// a run stopped and resumed ends bit for bit where an uninterrupted one does.
#include <cblas.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/agent.h"
#include "nfp/error.h"
#include "nfp/rl.h"
#include "nfp/rollout.h"
#include "toy_arms.h"

#define N_DEMOS 60
#define EVAL_SEEDS 100

// 60 demos whose expert misses the goal by a bias drawn in [-0.15, 0.15] (about a third
// succeed), and the flow imitating all of them.
static nfp_model* imitation(nfp_episode* eps) {
  nfp_rng rng;
  nfp_rng_seed(&rng, 99);
  for (int e = 0; e < N_DEMOS; e++) {
    assert_int_equal(toy_demo(&eps[e], (uint64_t)e, nfp_rng_range(&rng, -0.15, 0.15)), 0);
  }
  nfp_dataset_config dc = {
      .horizon = 4, .stride = 1, .n_obs = 1, .use_object = 1, .val_frac = 0.1f, .seed = 3};
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, N_DEMOS, &dc, NULL, NULL), 0);
  nfp_model_config mc;
  nfp_model_config_default(&mc);
  mc.action_dim = 2;
  mc.state_dim = 3;
  mc.horizon = 4;
  mc.stride = 1;
  mc.n_obs = 1;
  mc.n_layers = 4;
  mc.hidden = 32;
  mc.n_blocks = 1;
  mc.context_dim = 16;
  mc.enc_hidden = 32;
  nfp_model* m = nfp_model_create(&mc, 5);
  assert_non_null(m);
  nfp_train_config tc;
  nfp_train_config_default(&tc);
  tc.epochs = 30;
  tc.batch = 128;
  tc.lr = 3e-3f;
  tc.threads = 1;
  nfp_trainer tr;
  assert_int_equal(nfp_trainer_init(&tr, m, &ds, &tc), 0);
  while (tr.epoch < tc.epochs) assert_int_equal(nfp_trainer_epoch(&tr), 0);
  memcpy(m->params, tr.ema.w, sizeof(float) * m->num_params);
  nfp_trainer_free(&tr);
  nfp_dataset_free(&ds);
  return m;
}

static void toy_config(nfp_finetune_config* c, const nfp_model* m, int online) {
  nfp_finetune_config_default(c, m);
  nfp_controller_opts_default(&c->act, m, NFP_SAMPLE_SINGLE);
  c->act.replan = 2;
  c->gamma = 0.97;
  c->warmup_episodes = 30;
  c->critic_warmup_steps = 300;
  c->offline_steps = 200;
  c->online_episodes = online;
  c->updates_per_episode = 10;
  c->batch = 64;
  c->actor_lr = 3e-4f;
  c->critic.hidden = 64;
  c->critic.blocks = 1;
}

// Successes of the policy acting alone (single draws) on the held-out seeds 1000...
static int successes(const nfp_model* m, const nfp_controller_opts* act) {
  nfp_arms* arms = toy_arms_create();
  nfp_agent_spec spec = {.kind = "policy", .policy_path = "toy", .model = m, .controller = *act};
  nfp_agent* agent = nfp_agent_create(&spec);
  assert_non_null(agent);
  nfp_rollout r = {0};
  int good = 0;
  for (int s = 0; s < EVAL_SEEDS; s++) {
    assert_int_equal(nfp_rollout_run(&r, arms, agent, 1000 + (uint64_t)s), 0);
    good += r.success;
  }
  nfp_rollout_free(&r);
  nfp_agent_free(agent);
  nfp_arms_close(arms);
  return good;
}

// The run to its end with cfg -> successes of the fine-tuned policy on the held-out seeds.
static int finetuned(const nfp_model* m, nfp_episode* eps, const nfp_finetune_config* cfg) {
  nfp_finetune ft;
  assert_int_equal(nfp_finetune_init(&ft, m, eps, N_DEMOS, cfg), 0);
  nfp_arms* arms = toy_arms_create();
  assert_int_equal(nfp_finetune_run(&ft, arms), 0);
  assert_int_equal(ft.stage, NFP_FT_DONE);
  int good = successes(ft.actor, &cfg->act);
  nfp_arms_close(arms);
  nfp_finetune_free(&ft);
  return good;
}

static void test_finetune_raises_success(void** state) {
  (void)state;
  nfp_episode eps[N_DEMOS];
  nfp_model* m = imitation(eps);
  nfp_finetune_config cfg;
  toy_config(&cfg, m, 40);
  int before = successes(m, &cfg.act);
  int after = finetuned(m, eps, &cfg);
  cfg.actor = NFP_ACTOR_FILTERED;
  int filtered = finetuned(m, eps, &cfg);
  cfg.actor = NFP_ACTOR_AWR_RETURN;
  int by_return = finetuned(m, eps, &cfg);
  printf("toy task, %d held-out seeds: imitation %d, filtered imitation %d, weighted by the "
         "observed return %d, by the critic %d successes\n",
         EVAL_SEEDS, before, filtered, by_return, after);
  // These counts follow the float rounding of the BLAS kernels (docs/rl.md): under
  // OpenBLAS's generic SSE3 kernels the imitation came out at 91 and fine-tuning gave 72.
  assert_true(before < 70);           // the demonstrator's imprecision is imitated
  assert_true(after >= before + 30);  // and RL removes much of it
  assert_true(after >= filtered);     // the critic is worth at least the outcome filter
  nfp_model_free(m);
  for (int e = 0; e < N_DEMOS; e++) nfp_episode_free(&eps[e]);
}

// Stop after `after` online episodes (the hook the app's signal handler fills).
typedef struct {
  int online, after;
} stop_ctx;

static void count_online(const nfp_finetune* ft, const nfp_finetune_episode* ep, void* ctx) {
  (void)ft;
  if (ep->index >= 0) ((stop_ctx*)ctx)->online++;
}

static int stop_after(void* ctx) {
  stop_ctx* s = ctx;
  return s->online >= s->after;
}

static void test_resume_bit_for_bit(void** state) {
  (void)state;
  char dir[] = "/tmp/nfp_test_finetune_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[256];
  snprintf(path, sizeof(path), "%s/ft.safetensors", dir);
  nfp_episode eps[N_DEMOS];
  nfp_model* m = imitation(eps);
  nfp_finetune_config cfg;
  toy_config(&cfg, m, 6);
  cfg.warmup_episodes = 4;
  cfg.critic_warmup_steps = 20;
  cfg.offline_steps = 10;
  nfp_arms* arms = toy_arms_create();
  nfp_finetune whole, first, second;
  assert_int_equal(nfp_finetune_init(&whole, m, eps, N_DEMOS, &cfg), 0);
  assert_int_equal(nfp_finetune_run(&whole, arms), 0);
  // the same run stopped after 3 online episodes, saved, and resumed in a fresh set-up
  stop_ctx sc = {0, 3};
  assert_int_equal(nfp_finetune_init(&first, m, eps, N_DEMOS, &cfg), 0);
  first.on_episode = count_online;
  first.on_episode_ctx = &sc;
  first.stop = stop_after;
  first.stop_ctx = &sc;
  assert_int_equal(nfp_finetune_run(&first, arms), 1);
  assert_int_equal(nfp_finetune_save(&first, path), 0);
  assert_int_equal(nfp_finetune_init(&second, m, eps, N_DEMOS, &cfg), 0);
  assert_int_equal(nfp_finetune_resume(&second, path), 0);
  assert_int_equal(second.stage, NFP_FT_ONLINE);
  assert_int_equal(second.stage_step, 3);
  assert_int_equal(nfp_finetune_run(&second, arms), 0);
  assert_int_equal(second.buf.n, whole.buf.n);
  assert_memory_equal(second.buf.chunk, whole.buf.chunk,
                      sizeof(float) * (size_t)whole.buf.n * whole.buf.chunk_dim);
  assert_memory_equal(second.actor->params, whole.actor->params,
                      sizeof(float) * whole.actor->num_params);
  assert_memory_equal(second.critic.params, whole.critic.params,
                      sizeof(float) * whole.critic.num_params);
  assert_memory_equal(second.critic.target, whole.critic.target,
                      sizeof(float) * whole.critic.num_params);
  assert_int_equal(second.updates, whole.updates);
  // a file that is no fine-tuning state is refused with a message
  nfp_finetune other;
  assert_int_equal(nfp_finetune_init(&other, m, eps, N_DEMOS, &cfg), 0);
  assert_int_equal(nfp_checkpoint_save(path, m, NULL, NULL, NULL, 0), 0);
  assert_int_equal(nfp_finetune_resume(&other, path), -1);
  assert_non_null(strstr(nfp_error_last(), "not a fine-tuning file"));
  nfp_finetune_free(&other);
  nfp_finetune_free(&whole);
  nfp_finetune_free(&first);
  nfp_finetune_free(&second);
  nfp_arms_close(arms);
  nfp_model_free(m);
  for (int e = 0; e < N_DEMOS; e++) nfp_episode_free(&eps[e]);
  unlink(path);
  rmdir(dir);
}

// Bad set-ups are refused with a message: no budget, demos of another width.
static void test_bad_setup(void** state) {
  (void)state;
  nfp_episode eps[N_DEMOS];
  nfp_model* m = imitation(eps);
  nfp_finetune_config cfg;
  toy_config(&cfg, m, 0);
  nfp_finetune ft;
  assert_int_equal(nfp_finetune_init(&ft, m, eps, N_DEMOS, &cfg), -1);
  assert_non_null(strstr(nfp_error_last(), "budget"));
  toy_config(&cfg, m, 5);
  eps[3].nq = 3;  // a demo of another rig
  assert_int_equal(nfp_finetune_init(&ft, m, eps, N_DEMOS, &cfg), -1);
  eps[3].nq = 2;
  nfp_model_free(m);
  for (int e = 0; e < N_DEMOS; e++) nfp_episode_free(&eps[e]);
}

int main(void) {
  openblas_set_num_threads(1);  // bit-for-bit comparisons need one summation order
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_finetune_raises_success),
      cmocka_unit_test(test_resume_bit_for_bit),
      cmocka_unit_test(test_bad_setup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
