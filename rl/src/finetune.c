// The fine-tuning run: set-up on a policy and demos, and the stages in order.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rl.h"

void nfp_finetune_config_default(nfp_finetune_config* cfg, const nfp_model* policy) {
  memset(cfg, 0, sizeof(*cfg));
  cfg->gamma = 0.998;
  cfg->warmup_episodes = 50;
  cfg->critic_warmup_steps = 2000;
  cfg->offline_steps = 500;
  cfg->online_episodes = 100;
  cfg->updates_per_episode = 20;
  cfg->batch = 256;
  cfg->critic_lr = 3e-4f;
  cfg->actor_lr = 1e-5f;
  cfg->tau = 0.005f;
  cfg->beta = 30.0f;
  cfg->max_weight = 20.0f;
  cfg->clip = 1.0f;
  cfg->actor_every = 1;
  cfg->seed = 1;
  cfg->warmup_seed = 200000;
  cfg->online_seed = 300000;
  nfp_controller_opts_default(&cfg->act, policy, NFP_SAMPLE_SBS);
  nfp_critic_config_default(&cfg->critic, policy->obs_dim, 1);
}

// Strided chunk steps the arms follow before the next plan: with interpolation the target
// moves toward chunk[k + 1] while chunk[k] is passed, so one more than the held ones.
int nfp_finetune_exec_steps(const nfp_model_config* m, const nfp_controller_opts* act) {
  int k = act->interpolate ? (act->replan - 1) / m->stride + 2
                           : (act->replan + m->stride - 1) / m->stride;
  return k < m->horizon ? k : m->horizon;
}

static int check_config(const nfp_finetune_config* c) {
  if (!(c->gamma > 0 && c->gamma <= 1)) return nfp_error_set("gamma %g outside (0, 1]", c->gamma);
  if (c->warmup_episodes < 0 || c->critic_warmup_steps < 0 || c->offline_steps < 0 ||
      c->updates_per_episode < 0) {
    return nfp_error_set("episode and update counts must not be negative");
  }
  if (c->online_episodes < 1) {
    return nfp_error_set("online episodes %d: the budget must be at least 1", c->online_episodes);
  }
  if (c->batch < 2 || c->batch > 65536) return nfp_error_set("batch %d outside 2..65536", c->batch);
  if (!(c->critic_lr > 0) || !(c->actor_lr >= 0) || !(c->tau > 0 && c->tau <= 1) ||
      !(c->beta >= 0) || !(c->max_weight >= 1) || c->actor_every < 1 || !isfinite(c->beta) ||
      !isfinite(c->max_weight) || !isfinite(c->critic_lr) || !isfinite(c->actor_lr)) {
    return nfp_error_set(
        "bad rates: critic lr > 0, actor lr >= 0, tau in (0, 1], beta >= 0, "
        "max weight >= 1, actor every >= 1");
  }
  return 0;
}

// The actor: a copy of the policy, its own weights to move.
static nfp_model* copy_model(const nfp_model* p) {
  nfp_model* m = nfp_model_create(&p->cfg, 0);
  if (!m) return NULL;
  memcpy(m->params, p->params, sizeof(float) * p->num_params);
  if (nfp_model_set_norm(m, p->state_lo, p->state_hi, p->action_lo, p->action_hi)) {
    nfp_model_free(m);
    return NULL;
  }
  return m;
}

// Batch buffers for updates (two batches' worth where the policy samples both observations).
static int alloc_scratch(nfp_finetune* ft) {
  size_t B = (size_t)ft->cfg.batch, od = (size_t)ft->actor->obs_dim;
  size_t D = (size_t)ft->actor->chunk_dim, E = (size_t)ft->critic.cfg.act_dim;
  size_t ctx = (size_t)ft->actor->cfg.context_dim, nq = (size_t)ft->critic.cfg.n_q;
  ft->ws = nfp_model_ws_create(ft->actor, 2 * ft->cfg.batch);
  ft->cws = nfp_critic_ws_create(&ft->critic, ft->cfg.batch);
  ft->grads = malloc(sizeof(float) * ft->actor->num_params);
  ft->cgrads = malloc(sizeof(float) * ft->critic.num_params);
  ft->idx = malloc(sizeof(int) * B);
  ft->b_obs = malloc(sizeof(float) * 2 * B * od);  // [next; obs] for one encoder pass
  ft->b_chunk = malloc(sizeof(float) * B * D);
  ft->b_exec = malloc(sizeof(float) * B * E);
  ft->b_pi = malloc(sizeof(float) * 2 * B * E);
  ft->b_ctx = malloc(sizeof(float) * 2 * B * ctx);
  ft->q = malloc(sizeof(float) * nq * B);
  ft->qmin = malloc(sizeof(float) * 2 * B);
  ft->y = malloc(sizeof(float) * 6 * B);  // targets, ret, disc, done, mc, success
  ft->dq = malloc(sizeof(float) * nq * B);
  ft->u = malloc(sizeof(double) * 2 * B * D);
  ft->a_pi = malloc(sizeof(double) * 2 * B * D);
  ft->logp = malloc(sizeof(double) * 2 * B);
  ft->dlogp = malloc(sizeof(double) * B);
  if (!ft->ws || !ft->cws || !ft->grads || !ft->cgrads || !ft->idx || !ft->b_obs || !ft->b_chunk ||
      !ft->b_exec || !ft->b_pi || !ft->b_ctx || !ft->q || !ft->qmin || !ft->y || !ft->dq ||
      !ft->u || !ft->a_pi || !ft->logp || !ft->dlogp) {
    return nfp_error_set("fine-tuning: out of memory for batch %d", ft->cfg.batch);
  }
  return 0;
}

int nfp_finetune_init(nfp_finetune* ft, const nfp_model* policy, const nfp_episode* demos,
                      int n_demos, const nfp_finetune_config* cfg) {
  memset(ft, 0, sizeof(*ft));
  if (policy->cfg.n_cam > 0) {
    return nfp_error_set(
        "fine-tuning takes state policies only for now (this one looks at %d "
        "camera(s)): the replay buffer keeps state frames, not images",
        policy->cfg.n_cam);
  }
  if (check_config(cfg)) return nfp_error_wrap("fine-tuning");
  ft->cfg = *cfg;
  ft->actor = copy_model(policy);
  if (!ft->actor) return nfp_error_wrap("fine-tuning: copying the policy");
  ft->exec_steps = nfp_finetune_exec_steps(&policy->cfg, &cfg->act);
  ft->cfg.critic.obs_dim = policy->obs_dim;
  ft->cfg.critic.act_dim = ft->exec_steps * policy->cfg.action_dim;
  nfp_rng_seed(&ft->rng, cfg->seed);
  if (nfp_critic_init(&ft->critic, &ft->cfg.critic, cfg->seed ^ 0x5eed) ||
      nfp_adamw_init(&ft->actor_opt, ft->actor->num_params, 0.9f, 0.999f, 1e-8f, 0.0f) ||
      nfp_adamw_init(&ft->critic_opt, ft->critic.num_params, 0.9f, 0.999f, 1e-8f, 0.0f) ||
      nfp_replay_init(&ft->buf, policy->obs_dim, policy->chunk_dim) || alloc_scratch(ft) ||
      nfp_finetune_add_demos(ft, demos, n_demos)) {
    nfp_finetune_free(ft);
    return nfp_error_wrap("fine-tuning");
  }
  return 0;
}

void nfp_finetune_free(nfp_finetune* ft) {
  nfp_model_free(ft->actor);
  nfp_critic_free(&ft->critic);
  nfp_adamw_free(&ft->actor_opt);
  nfp_adamw_free(&ft->critic_opt);
  nfp_replay_free(&ft->buf);
  nfp_model_ws_free(ft->ws);
  nfp_critic_ws_free(ft->cws);
  void* bufs[] = {ft->grads, ft->cgrads, ft->idx,  ft->b_obs, ft->b_chunk, ft->b_exec,
                  ft->b_pi,  ft->b_ctx,  ft->q,    ft->qmin,  ft->y,       ft->dq,
                  ft->u,     ft->a_pi,   ft->logp, ft->dlogp};
  for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) free(bufs[i]);
  memset(ft, 0, sizeof(*ft));
}

static int stopped(const nfp_finetune* ft) { return ft->stop && ft->stop(ft->stop_ctx); }

// The next stage begins; the caller hears of it (to save a snapshot, say).
static void next_stage(nfp_finetune* ft) {
  ft->stage++;
  ft->stage_step = ft->stage == NFP_FT_DONE ? ft->stage_step : 0;
  if (ft->on_stage) ft->on_stage(ft, ft->on_episode_ctx);
}

// Log one finished episode with the update statistics gathered since the last one.
static void finish_episode(nfp_finetune* ft, nfp_finetune_episode* ep) {
  ep->critic_loss = ft->n_critic ? ft->critic_loss_sum / (double)ft->n_critic : NAN;
  ep->weight_mean = ft->n_actor ? ft->weight_sum / (double)ft->n_actor : NAN;
  if (ft->on_episode) ft->on_episode(ft, ep, ft->on_episode_ctx);
  ft->critic_loss_sum = ft->weight_sum = 0;
  ft->n_critic = ft->n_actor = 0;
}

// Stages 2 and 3 (critic warm-up, offline RL): updates until the stage's count.
static int offline_updates(nfp_finetune* ft, int total, int with_actor) {
  while (ft->stage_step < total) {
    if (stopped(ft)) return 1;
    int actor = with_actor && ft->stage_step % ft->cfg.actor_every == 0;
    if (nfp_finetune_update(ft, actor)) return -1;
    ft->stage_step++;
    if (ft->on_updates && (ft->stage_step % 250 == 0 || ft->stage_step == total)) {
      ft->on_updates(ft, ft->on_episode_ctx);
      ft->critic_loss_sum = ft->weight_sum = 0;
      ft->n_critic = ft->n_actor = 0;
    }
  }
  next_stage(ft);
  return 0;
}

int nfp_finetune_run(nfp_finetune* ft, nfp_arms* arms) {
  int rc;
  while (ft->stage == NFP_FT_WARMUP) {
    if (ft->stage_step >= ft->cfg.warmup_episodes) {
      next_stage(ft);
      break;
    }
    if (stopped(ft)) return 1;
    nfp_finetune_episode ep;
    uint64_t seed = ft->cfg.warmup_seed + (uint64_t)ft->stage_step;
    if (nfp_finetune_rollout(ft, arms, seed, NFP_REPLAY_OFFLINE, &ep)) return -1;
    ep.index = -1 - ft->stage_step;
    ft->stage_step++;
    finish_episode(ft, &ep);
  }
  if (ft->stage == NFP_FT_CRITIC && (rc = offline_updates(ft, ft->cfg.critic_warmup_steps, 0))) {
    return rc;
  }
  if (ft->stage == NFP_FT_OFFLINE && (rc = offline_updates(ft, ft->cfg.offline_steps, 1))) {
    return rc;
  }
  while (ft->stage == NFP_FT_ONLINE) {
    if (ft->stage_step >= ft->cfg.online_episodes) {
      next_stage(ft);
      break;
    }
    if (stopped(ft)) return 1;
    nfp_finetune_episode ep;
    uint64_t seed = ft->cfg.online_seed + (uint64_t)ft->stage_step;
    double t0 = nfp_clock_seconds();
    if (nfp_finetune_rollout(ft, arms, seed, NFP_REPLAY_ONLINE, &ep)) return -1;
    for (int k = 0; k < ft->cfg.updates_per_episode; k++) {
      if (nfp_finetune_update(ft, k % ft->cfg.actor_every == 0)) return -1;
    }
    ep.index = ft->stage_step;
    ep.seconds = nfp_clock_seconds() - t0;
    ft->stage_step++;
    finish_episode(ft, &ep);
  }
  return 0;
}
