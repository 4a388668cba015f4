// Rollouts of the weights being trained: the EMA weights (what gets saved) drive the
// simulated task on seeds the demos never used, in SBS mode, one episode after another.
#include "train_rollouts.h"

#include "nfp/agent.h"
#include "nfp/arms_sim.h"
#include "nfp/error.h"
#include "nfp/rollout.h"
#include "policy_flags.h"

// The arms, an agent on the model as it stands, and `episodes` rollouts -> successes. -1 on
// an error.
static int run_episodes(const nfp_train_rollouts* r, const nfp_model* model) {
  nfp_policy_flags pf;
  nfp_policy_flags_default(&pf);
  pf.path = "(the weights being trained)";  // the model is in memory, not in a file
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &pf, model, NFP_SAMPLE_SBS);
  nfp_arms* arms = nfp_arms_sim_create(r->task, r->assets);
  nfp_agent* agent = arms ? nfp_agent_create(&spec) : NULL;
  nfp_rollout ro = {0};
  int successes = agent ? 0 : -1;
  for (int i = 0; i < r->episodes && successes >= 0; i++) {
    if (nfp_rollout_run(&ro, arms, agent, (uint64_t)(r->seed0 + i)) != 0) successes = -1;
    else successes += ro.success;
  }
  nfp_rollout_free(&ro);
  nfp_agent_free(agent);
  nfp_arms_close(arms);
  return successes;
}

int nfp_train_rollouts_hook(nfp_trainer* tr, void* ctx) {
  const nfp_train_rollouts* r = ctx;
  int due = r->every > 0 && (tr->epoch % r->every == 0 || tr->epoch == tr->cfg.epochs);
  if (!due) return 0;
  float* live = tr->model->params;
  tr->model->params = tr->ema.w;  // the weights a checkpoint saves
  int successes = run_episodes(r, tr->model);
  tr->model->params = live;
  if (successes < 0) return nfp_error_wrap("rollouts after epoch %d", tr->epoch);
  tr->rollout_successes = successes;
  tr->rollout_episodes = r->episodes;
  return 0;
}
