// One fine-tuning update: the critic's n-step TD step toward the target networks, then the
// actor's advantage-weighted likelihood step.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "nfp/error.h"

void nfp_finetune_exec_part(const nfp_finetune* ft, float* out, const float* chunk, int n) {
  int E = ft->critic.cfg.act_dim, D = ft->actor->chunk_dim;
  for (int b = 0; b < n; b++) memcpy(out + (size_t)b * E, chunk + (size_t)b * D, sizeof(float) * E);
}

// Rows drawn uniformly: half from the offline rows and half from the online ones once
// there are online rows (as Q-chunking and RLPD mix them), else from all.
static void draw_batch(nfp_finetune* ft) {
  int B = ft->cfg.batch, n = ft->buf.n, off = ft->n_offline;
  int split = n > off && off > 0 ? B / 2 : (n > off ? 0 : B);
  for (int b = 0; b < B; b++) {
    int lo = b < split ? 0 : off, hi = b < split ? off : n;
    int k = lo + (int)(nfp_rng_uniform(&ft->rng) * (double)(hi - lo));
    ft->idx[b] = k < hi ? k : hi - 1;
  }
}

// Batch rows -> [next; obs] frames, chunks, their executed parts and the backup's terms.
static void gather(nfp_finetune* ft) {
  const nfp_replay* r = &ft->buf;
  int B = ft->cfg.batch, od = r->obs_dim, D = r->chunk_dim;
  float *ret = ft->y + B, *disc = ft->y + 2 * B, *done = ft->y + 3 * B, *mc = ft->y + 4 * B;
  for (int b = 0; b < B; b++) {
    size_t k = (size_t)ft->idx[b];
    memcpy(ft->b_obs + (size_t)b * od, r->next_obs + k * od, sizeof(float) * od);
    memcpy(ft->b_obs + (size_t)(B + b) * od, r->obs + k * od, sizeof(float) * od);
    memcpy(ft->b_chunk + (size_t)b * D, r->chunk + k * D, sizeof(float) * D);
    ret[b] = r->ret[k];
    disc[b] = r->disc[k];
    done[b] = r->done[k];
    mc[b] = r->mc[k];
    ft->y[5 * B + b] = r->success[k];
  }
  nfp_finetune_exec_part(ft, ft->b_exec, ft->b_chunk, B);
}

// One draw of the current policy for every row of [next; obs] (at the acting sigma) ->
// their executed parts in b_pi.
static int sample_policy(nfp_finetune* ft) {
  nfp_model* m = ft->actor;
  int B2 = 2 * ft->cfg.batch, D = m->chunk_dim, E = ft->critic.cfg.act_dim;
  double sigma = ft->cfg.act.sample.sigma;
  for (size_t i = 0; i < (size_t)B2 * D; i++) ft->u[i] = sigma * nfp_rng_normal(&ft->rng);
  nfp_obs_batch ob = {.state = ft->b_obs};
  nfp_model_encode(m, ft->ws, &ob, B2, ft->b_ctx);
  if (nfp_model_inverse(m, ft->ws, ft->b_ctx, ft->u, B2, ft->a_pi, ft->logp)) return -1;
  for (int b = 0; b < B2; b++) {
    for (int j = 0; j < E; j++) ft->b_pi[(size_t)b * E + j] = (float)ft->a_pi[(size_t)b * D + j];
  }
  return 0;
}

// TD step of every critic toward y = ret + disc (1 - done) min_i Q'_i(next, pi(next)).
static int critic_step(nfp_finetune* ft) {
  nfp_critic* c = &ft->critic;
  int B = ft->cfg.batch, nq = c->cfg.n_q, od = c->cfg.obs_dim;
  if (nfp_critic_forward(c, ft->cws, c->target, ft->b_obs, ft->b_pi, B, ft->q)) return -1;
  nfp_critic_min(ft->qmin, ft->q, nq, B);
  nfp_backup_targets(ft->y, ft->y + B, ft->y + 2 * B, ft->y + 3 * B, ft->y + 4 * B, ft->qmin, B);
  const float* obs = ft->b_obs + (size_t)B * od;
  if (nfp_critic_forward(c, ft->cws, c->params, obs, ft->b_exec, B, ft->q)) return -1;
  double loss = 0;
  for (int i = 0; i < nq; i++) {
    for (int b = 0; b < B; b++) {
      float e = ft->q[(size_t)i * B + b] - ft->y[b];
      loss += (double)e * e;
      ft->dq[(size_t)i * B + b] = 2.0f * e / (float)B;
    }
  }
  if (!isfinite(loss)) return nfp_error_set("critic loss is not finite at update %ld", ft->updates);
  memset(ft->cgrads, 0, sizeof(float) * c->num_params);
  nfp_critic_backward(c, ft->cws, c->params, ft->dq, ft->cgrads, NULL);
  nfp_grad_clip(ft->cgrads, c->num_params, ft->cfg.clip);
  nfp_adamw_step(&ft->critic_opt, c->params, ft->cgrads, NULL, ft->cfg.critic_lr);
  nfp_critic_polyak(c, ft->cfg.tau);
  ft->critic_loss_sum += loss / (double)(nq * B);
  ft->n_critic++;
  return 0;
}

// Advantage-weighted likelihood step of the actor on the batch's chunks (or, filtered, the
// likelihood of the chunks of successful episodes alone).
static int actor_step(nfp_finetune* ft) {
  nfp_critic* c = &ft->critic;
  nfp_model* m = ft->actor;
  int B = ft->cfg.batch, nq = c->cfg.n_q, od = c->cfg.obs_dim;
  const float* obs = ft->b_obs + (size_t)B * od;
  float *q_data = ft->qmin, *v = ft->qmin + B;
  if (nfp_critic_forward(c, ft->cws, c->params, obs, ft->b_pi + (size_t)B * c->cfg.act_dim, B,
                         ft->q)) {
    return -1;
  }
  nfp_critic_min(v, ft->q, nq, B);
  if (nfp_critic_forward(c, ft->cws, c->params, obs, ft->b_exec, B, ft->q)) return -1;
  nfp_critic_min(q_data, ft->q, nq, B);
  double wsum = 0;
  for (int b = 0; b < B; b++) {
    double a = ft->cfg.actor == NFP_ACTOR_AWR_RETURN ? (double)ft->y[4 * B + b] - v[b]
                                                     : (double)q_data[b] - v[b];
    double w = ft->cfg.actor == NFP_ACTOR_FILTERED
                   ? (double)ft->y[5 * B + b]
                   : fmin(exp(ft->cfg.beta * a), ft->cfg.max_weight);
    ft->dlogp[b] = -w / B;
    wsum += w;
  }
  nfp_obs_batch ob = {.state = obs};
  if (nfp_model_logprob(m, ft->ws, &ob, ft->b_chunk, B, ft->logp)) return -1;
  memset(ft->grads, 0, sizeof(float) * m->num_params);
  nfp_model_backward(m, ft->ws, ft->dlogp, ft->grads, NULL);
  float norm = nfp_grad_clip(ft->grads, m->num_params, ft->cfg.clip);
  if (!isfinite(norm))
    return nfp_error_set("actor gradient is not finite at update %ld", ft->updates);
  nfp_adamw_step(&ft->actor_opt, m->params, ft->grads, NULL, ft->cfg.actor_lr);
  ft->weight_sum += wsum / B;
  ft->n_actor++;
  return 0;
}

int nfp_finetune_update(nfp_finetune* ft, int with_actor) {
  if (ft->buf.n < 1) return nfp_error_set("fine-tuning: the replay buffer is empty");
  draw_batch(ft);
  gather(ft);
  if (sample_policy(ft) || critic_step(ft)) return nfp_error_wrap("critic update %ld", ft->updates);
  if (with_actor && ft->cfg.actor_lr > 0 && actor_step(ft)) {
    return nfp_error_wrap("actor update %ld", ft->updates);
  }
  ft->updates++;
  return 0;
}

double nfp_finetune_q_at(nfp_finetune* ft, const float* obs, const float* chunk) {
  float exec[NFP_ARMS_MAX_NQ * 64], q[NFP_CRITIC_MAX_Q], qmin;
  if (ft->critic.cfg.act_dim > (int)(sizeof(exec) / sizeof(exec[0]))) return NAN;
  nfp_finetune_exec_part(ft, exec, chunk, 1);
  if (nfp_critic_forward(&ft->critic, ft->cws, ft->critic.params, obs, exec, 1, q)) return NAN;
  nfp_critic_min(&qmin, q, ft->critic.cfg.n_q, 1);
  return qmin;
}
