// nfp/rl.h: RL fine-tuning of a flow policy (SERNF): the action-chunked critic, the replay
// buffer of executed chunks, the n-step backup, and the fine-tuning run that ties them to a
// policy, demos and a pair of arms.
//
// Sections: critic, replay, backup, finetune.
#ifndef NFP_RL_H
#define NFP_RL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nfp/arms.h"
#include "nfp/episode.h"
#include "nfp/layers.h"
#include "nfp/model.h"
#include "nfp/rng.h"
#include "nfp/sampler.h"
#include "nfp/train.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== critic ====================================================
// nfp_critic: n_q independent Q networks Q_i(o, c) over the observation features o (the
// policy's normalised state frames) and the EXECUTED part c of a chunk (the strided targets
// the arms follow until the policy plans again, normalised), each a residual MLP with one
// output, each with a target copy that follows it by Polyak averaging. The ensemble's
// minimum is the pessimistic estimate both the backup and the actor use.
#define NFP_CRITIC_MAX_Q 4

typedef struct nfp_critic_config_ {
  int obs_dim;  // observation features
  int act_dim;  // executed chunk values
  int hidden;   // MLP width (256)
  int blocks;   // residual blocks (2)
  int n_q;      // networks in the ensemble (2)
} nfp_critic_config;

typedef struct nfp_critic_ {
  nfp_critic_config cfg;
  nfp_ptable table;  // "critic.<i>.*", one flat buffer for all networks
  nfp_resmlp q[NFP_CRITIC_MAX_Q];
  size_t num_params;
  float* params;  // [num_params] live weights
  float* target;  // [num_params] target weights
} nfp_critic;

void nfp_critic_config_default(nfp_critic_config* cfg, int obs_dim, int act_dim);
// Build and seed-initialise; the target starts equal to the live weights. 0, or -1 with a
// message (bad sizes).
int nfp_critic_init(nfp_critic* c, const nfp_critic_config* cfg, uint64_t seed);
void nfp_critic_free(nfp_critic* c);
// JSON text of the configuration (malloc'd) and back (every field needed). NULL / -1.
char* nfp_critic_config_to_json(const nfp_critic_config* cfg);
int nfp_critic_config_from_json(nfp_critic_config* cfg, const char* json);

// Scratch and cached activations for batches of up to max_batch rows.
typedef struct nfp_critic_ws_ nfp_critic_ws;
nfp_critic_ws* nfp_critic_ws_create(const nfp_critic* c, int max_batch);
void nfp_critic_ws_free(nfp_critic_ws* ws);

// q[i * B + b] = Q_i(obs_b, act_b) under weights (c->params or c->target); obs [B][obs_dim],
// act [B][act_dim]. Caches what nfp_critic_backward needs. 0, or -1 (B too large).
int nfp_critic_forward(const nfp_critic* c, nfp_critic_ws* ws, const float* weights,
                       const float* obs, const float* act, int B, float* q);
// Backward of the last forward with weights dq[n_q * B]: grads[num_params] += the gradient
// of sum dq * q (may be NULL), dact[B][act_dim] += the same w.r.t. act (may be NULL).
void nfp_critic_backward(const nfp_critic* c, nfp_critic_ws* ws, const float* weights,
                         const float* dq, float* grads, float* dact);
// q_min[b] = min_i q[i * B + b].
void nfp_critic_min(float* q_min, const float* q, int n_q, int B);
// target += tau (params - target).
void nfp_critic_polyak(nfp_critic* c, float tau);

// A fine-tuned policy file's critic as a ranking for SBS candidates (nfp_sample_opts.score):
// each candidate scored by min_i Q_i over its executed part. Load checks the file carries a
// critic that fits policy; NULL with a message otherwise.
typedef struct nfp_critic_scorer_ nfp_critic_scorer;
nfp_critic_scorer* nfp_critic_scorer_load(const char* path, const nfp_model* policy);
void nfp_critic_scorer_free(nfp_critic_scorer* s);
// The nfp_sample_opts.score function; ctx is the scorer. Thread-safe.
int nfp_critic_scorer_score(void* ctx, const float* state, const double* chunks, int n,
                            double* score);

//================================== replay ====================================================
// nfp_replay: one transition per executed chunk. Everything normalised as the policy
// sees it. Growable; every field is float so the whole buffer saves as tensors.
typedef enum nfp_replay_source_ {
  NFP_REPLAY_DEMO = 0,     // cut from a demonstration
  NFP_REPLAY_OFFLINE = 1,  // a rollout of the imitation policy before any update
  NFP_REPLAY_ONLINE = 2,   // a rollout during online fine-tuning
} nfp_replay_source;

typedef struct nfp_replay_ {
  int obs_dim;    // observation features (n_obs * state_dim)
  int chunk_dim;  // the whole chunk the flow models (horizon * action_dim)
  int n, cap;
  float* obs;       // [cap][obs_dim] at the decision point
  float* next_obs;  // [cap][obs_dim] at the next decision point (or the episode's end)
  float* chunk;     // [cap][chunk_dim] the chunk sampled (or the demo's window)
  float* ret;       // [cap] discounted reward over the executed control steps
  float* disc;      // [cap] gamma ^ (control steps executed)
  float* done;      // [cap] 1: the episode ended in success within the chunk (terminal)
  float* mc;        // [cap] the discounted return observed from this chunk to the episode's
                    // end (0 after a step-cap ending: a lower bound for the critic)
  float* source;    // [cap] nfp_replay_source
  float* episode;   // [cap] episode number (0, 1, ... in the order added)
  float* success;   // [cap] the episode's outcome, 1 or 0
} nfp_replay;

// Empty buffer. 0, or -1 with a message.
int nfp_replay_init(nfp_replay* r, int obs_dim, int chunk_dim);
void nfp_replay_free(nfp_replay* r);
// Append one transition (obs, next_obs: obs_dim floats; chunk: chunk_dim). 0 or -1.
int nfp_replay_add(nfp_replay* r, const float* obs, const float* next_obs, const float* chunk,
                   float ret, float disc, float done, float mc, nfp_replay_source source,
                   int episode, int success);
// Episodes in the buffer (1 + the largest episode number; 0 when empty).
int nfp_replay_episodes(const nfp_replay* r);
// Its fields as "train.rl.<field>" tensors for nfp_checkpoint_save (out[NFP_REPLAY_TENSORS]);
// the pointers stay the buffer's.
#define NFP_REPLAY_TENSORS 10
void nfp_replay_tensors(const nfp_replay* r, nfp_extra_tensor* out);
// Refill an empty buffer (obs_dim, chunk_dim set by init) from a checkpoint holding n rows
// of those tensors. 0, or -1 with a message (missing or mis-sized tensor, bad values).
int nfp_replay_load(nfp_replay* r, const nfp_checkpoint* ck, int n);

//================================== backup ====================================================
// The chunked n-step backup. An episode of T control steps with reward[t] (1 at the step
// the task succeeded, 0 elsewhere: the sparse success reward) is cut into the chunks the
// policy executed, chunk i covering steps start[i] .. start[i+1]-1 (the last up to T-1):
//   ret[i]  = sum_k gamma^k reward[start_i + k]
//   disc[i] = gamma ^ (steps in chunk i)
//   done[i] = 1 for the last chunk when the episode ended terminal (success), else 0: an
//             episode stopped by the step cap is NOT terminal, its last chunk bootstraps.
void nfp_backup_chunks(float* ret, float* disc, float* done, const float* reward, int T,
                       int terminal, const int* start, int n, double gamma);
// Each chunk's observed return to the episode's end: mc[i] = ret[i] + disc[i] mc[i + 1],
// mc past the last chunk 0.
void nfp_backup_returns(float* mc, const float* ret, const float* disc, int n);
// y[b] = max(ret[b] + disc[b] (1 - done[b]) q_next[b], mc[b]) (mc may be NULL: no floor).
// The observed return floors the target (as Cal-QL calibrates): a sparse success reward
// otherwise creeps back one chunk per target-network time constant, and the critic would
// rank nothing for thousands of updates.
void nfp_backup_targets(float* y, const float* ret, const float* disc, const float* done,
                        const float* mc, const float* q_next, int B);

//================================== finetune ==================================================
// nfp_finetune: SERNF's stages on one policy.
//   1. imitation: the given policy (nfp train); kept frozen as the reference.
//   2. critic warm-up: the demos (as executed chunks, success at their last frame) and
//      rollouts of the imitation policy (failures included) fill the offline buffer; the
//      critic alone learns on it.
//   3. offline RL: critic and actor updates on the offline buffer.
//   4. online RL: a fixed budget of episodes of the current policy through nfp_arms, each
//      followed by updates on batches half offline, half online data.
// The critic's backup takes the next chunk from the current policy (one draw at the acting
// sigma). The actor's update is advantage-weighted likelihood on buffer chunks:
//   loss = -mean_b w_b log pi(chunk_b | o_b),  w_b = min(exp(beta A_b), max_weight),
//   A_b = min_i Q_i(o_b, c_b) - min_i Q_i(o_b, c~pi(o_b)),
// which needs no gradient through the sampling pass and, being a weighted likelihood of
// chunks the data holds, stays near the data (conservative).
typedef enum nfp_finetune_stage_ {
  NFP_FT_WARMUP = 0,   // rollouts of the imitation policy
  NFP_FT_CRITIC = 1,   // critic warm-up
  NFP_FT_OFFLINE = 2,  // offline RL
  NFP_FT_ONLINE = 3,   // online RL
  NFP_FT_DONE = 4,
} nfp_finetune_stage;

// How the actor weighs each buffer chunk's log-likelihood.
typedef enum nfp_actor_update_ {
  NFP_ACTOR_AWR = 0,         // exp(beta A), A = Q(o, c) - V(o): the critic judges the chunk
  NFP_ACTOR_AWR_RETURN = 1,  // exp(beta A), A = the observed return from c on - V(o)
  NFP_ACTOR_FILTERED = 2,    // the episode's outcome, 1 or 0 (filtered imitation, no critic)
} nfp_actor_update;

typedef struct nfp_finetune_config_ {
  double gamma;               // discount per control step (0.998)
  int warmup_episodes;        // rollouts of the imitation policy for the offline buffer (50)
  int critic_warmup_steps;    // critic-only updates before the actor moves (2000)
  int offline_steps;          // critic + actor updates on the offline buffer (500)
  int online_episodes;        // the online budget (100)
  int updates_per_episode;    // critic + actor updates after each online episode (20)
  int batch;                  // transitions per update (256)
  float critic_lr, actor_lr;  // AdamW rates (3e-4, 1e-5)
  float tau;                  // target Polyak rate (0.005)
  float beta, max_weight;     // advantage weighting (30, 20)
  float clip;                 // global gradient-norm clip of either update (1)
  int actor_every;            // actor steps once per this many critic steps (1)
  int actor;                  // nfp_actor_update (NFP_ACTOR_AWR)
  uint64_t seed;              // updates' sampling
  uint64_t warmup_seed;       // first seed of the warm-up rollouts
  uint64_t online_seed;       // first seed of the online episodes
  nfp_critic_config critic;   // sizes (obs_dim, act_dim filled by the run)
  nfp_controller_opts act;    // how the policy acts in rollouts (mode, replan, ...)
} nfp_finetune_config;

void nfp_finetune_config_default(nfp_finetune_config* cfg, const nfp_model* policy);

// One online (or warm-up) episode, as the log records it.
typedef struct nfp_finetune_episode_ {
  int index;  // online episode number (warm-up episodes: -1 - their number)
  uint64_t seed;
  int success, steps, chunks;
  double ret;          // observed discounted return from the first decision point
  double q0;           // the critic's estimate (ensemble minimum) at the first chunk
  double loglik_mean;  // mean chunk log p over the episode's plans
  double critic_loss;  // mean over the updates after it (NaN: none)
  double weight_mean;  // mean advantage weight of its actor updates (NaN: none)
  double seconds;      // wall time of the rollout and its updates
} nfp_finetune_episode;

typedef struct nfp_finetune_ {
  nfp_finetune_config cfg;
  char task[64];     // the task, saved as the policy's "demo_task" ("" leaves it out)
  nfp_model* actor;  // the policy being fine-tuned (its params are the live weights)
  nfp_critic critic;
  nfp_adamw actor_opt, critic_opt;
  nfp_replay buf;
  int n_offline;   // buffer rows before the first online one (demos, warm-up)
  int exec_steps;  // strided chunk steps executed per plan (critic input)
  int stage;       // nfp_finetune_stage
  int stage_step;  // progress within the stage (episodes or updates)
  long updates;    // critic updates taken
  nfp_rng rng;     // updates' sampling
  // scratch
  nfp_model_ws* ws;
  nfp_critic_ws* cws;
  float *grads, *cgrads;
  int* idx;
  float *b_obs, *b_next, *b_chunk, *b_exec, *b_pi, *b_ctx, *q, *qmin, *y, *dq;
  double *u, *a_pi, *logp, *dlogp;
  // sums over the updates since the last finished episode (for its log line)
  double critic_loss_sum, weight_sum;
  long n_critic, n_actor;
  // optional: called after each finished episode (warm-up and online) for logs
  void (*on_episode)(const struct nfp_finetune_* ft, const nfp_finetune_episode* ep, void* ctx);
  void* on_episode_ctx;
  // optional: called when a stage has finished (ft->stage is the next one)
  void (*on_stage)(const struct nfp_finetune_* ft, void* ctx);
  // optional: called every 250 updates of the offline stages (critic warm-up, offline RL)
  void (*on_updates)(const struct nfp_finetune_* ft, void* ctx);
  int (*stop)(void* ctx);  // non-zero: return at the next episode or update boundary
  void* stop_ctx;
} nfp_finetune;

// Set up on a copy of policy (which stays untouched) and the demos (state frames from
// qpos, plus the object state when the policy observes it). Camera policies are refused
// (the buffer keeps state frames only). 0, or -1 with a message.
int nfp_finetune_init(nfp_finetune* ft, const nfp_model* policy, const nfp_episode* demos,
                      int n_demos, const nfp_finetune_config* cfg);
void nfp_finetune_free(nfp_finetune* ft);
// Run the stages from where ft stands until done (0), stopped by ft->stop (1), or an
// error (-1). arms drive every rollout.
int nfp_finetune_run(nfp_finetune* ft, nfp_arms* arms);
// One episode of the current policy on arms from seed into the buffer with source; fills ep.
int nfp_finetune_rollout(nfp_finetune* ft, nfp_arms* arms, uint64_t seed, nfp_replay_source source,
                         nfp_finetune_episode* ep);
// The policy as it stands on n episodes from seed (not added to the buffer): its successes,
// and how well two scores taken over each episode's first `first` chunks tell success from
// failure (AUROC): the critic's estimate, and the chunks' mean log-likelihood.
typedef struct nfp_finetune_eval_ {
  int episodes, successes, first_chunks;
  double auroc_q, auroc_loglik;  // NaN when every episode ended the same way
} nfp_finetune_eval;
int nfp_finetune_evaluate(nfp_finetune* ft, nfp_arms* arms, uint64_t seed, int n, int first,
                          nfp_finetune_eval* out);
// One update on a batch from the buffer: the critic always, the actor when with_actor.
int nfp_finetune_update(nfp_finetune* ft, int with_actor);
// Save everything a resume needs (the actor as the model, critic and target weights, both
// optimisers, the buffer, stage and counters, rng) into one checkpoint (atomic). The model tensors
// are the fine-tuned policy, so the file is also what nfp eval loads.
int nfp_finetune_save(const nfp_finetune* ft, const char* path);
// Restore from such a file onto an ft set up by nfp_finetune_init with the same policy
// configuration. 0, or -1 with a message.
int nfp_finetune_resume(nfp_finetune* ft, const char* path);

#ifdef __cplusplus
}
#endif
#endif
