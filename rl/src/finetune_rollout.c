// Filling the replay buffer: demo episodes cut at the decision points, and rollouts of the
// current policy through nfp_arms recorded chunk by chunk.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "finetune_internal.h"
#include "nfp/agent.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/rollout.h"
#include "nfp/stats.h"

int nfp_finetune_add_episode(nfp_finetune* ft, const float* obs, const float* chunk,
                             const int* start, int n, const float* final_obs, const float* reward,
                             int T, int success, nfp_replay_source src) {
  float* col = malloc(sizeof(float) * 4 * (size_t)(n > 0 ? n : 1));
  if (!col) return nfp_error_set("out of memory adding an episode");
  float *ret = col, *disc = col + n, *done = col + 2 * n, *mc = col + 3 * n;
  nfp_backup_chunks(ret, disc, done, reward, T, success, start, n, ft->cfg.gamma);
  nfp_backup_returns(mc, ret, disc, n);
  int ep = nfp_replay_episodes(&ft->buf), od = ft->buf.obs_dim, D = ft->buf.chunk_dim;
  for (int i = 0; i < n; i++) {
    const float* next = i + 1 < n ? obs + (size_t)(i + 1) * od : final_obs;
    if (nfp_replay_add(&ft->buf, obs + (size_t)i * od, next, chunk + (size_t)i * D, ret[i], disc[i],
                       done[i], mc[i], src, ep, success)) {
      free(col);
      return -1;
    }
  }
  free(col);
  if (src != NFP_REPLAY_ONLINE) ft->n_offline = ft->buf.n;
  return 0;
}

// Frame t of a demo -> the policy's raw state frame (qpos, then the object state if used).
static int demo_frame(float* out, const nfp_episode* ep, int t, int sd) {
  if (sd != ep->nq && sd != ep->nq + ep->nobj) {
    return nfp_error_set(
        "demo seed %lld: frames of %d joints and %d object values do not make "
        "the policy's %d-value state",
        (long long)ep->seed, ep->nq, ep->nobj, sd);
  }
  for (int j = 0; j < ep->nq; j++) out[j] = (float)ep->qpos[(size_t)t * ep->nq + j];
  for (int j = ep->nq; j < sd; j++)
    out[j] = (float)ep->object_state[(size_t)t * ep->nobj + j - ep->nq];
  return 0;
}

// One demo -> decision points every replan frames: history (clamped at frame 0) and the
// strided window of the demo's actions (clamped at its last frame).
static int add_demo(nfp_finetune* ft, const nfp_episode* ep, float* work) {
  const nfp_model* m = ft->actor;
  int T = ep->T, sd = m->cfg.state_dim, no = m->cfg.n_obs, H = m->cfg.horizon;
  int na = m->cfg.action_dim, od = m->obs_dim, D = m->chunk_dim, step = ft->cfg.act.replan;
  if (ep->nq != na) {
    return nfp_error_set("demo seed %lld has %d joints, the policy acts on %d", (long long)ep->seed,
                         ep->nq, na);
  }
  int n = (T + step - 1) / step;
  float* st = work;                       // [T][sd] normalised frames
  float* obs = st + (size_t)T * sd;       // [n][od]
  float* chunk = obs + (size_t)n * od;    // [n][D]
  float* reward = chunk + (size_t)n * D;  // [T]
  int* start = (int*)(reward + T);        // [n]
  for (int t = 0; t < T; t++) {
    if (demo_frame(st + (size_t)t * sd, ep, t, sd)) return -1;
    nfp_model_normalize_state(m, st + (size_t)t * sd, st + (size_t)t * sd, 1);
    reward[t] = 0;
  }
  for (int i = 0; i < n; i++) {
    int t = i * step;
    start[i] = t;
    for (int k = 0; k < no; k++) {
      int f = t - k > 0 ? t - k : 0;
      memcpy(obs + (size_t)i * od + (size_t)k * sd, st + (size_t)f * sd, sizeof(float) * sd);
    }
    for (int k = 0; k < H; k++) {
      int f = t + k * m->cfg.stride < T ? t + k * m->cfg.stride : T - 1;
      float* dst = chunk + (size_t)i * D + (size_t)k * na;
      for (int j = 0; j < na; j++) dst[j] = (float)ep->action[(size_t)f * na + j];
      nfp_model_normalize_action(m, dst, dst, 1);
    }
  }
  int success = ep->success != 0;  // a recorded demo counts as a success unless it says not
  if (success) reward[T - 1] = 1;
  return nfp_finetune_add_episode(ft, obs, chunk, start, n, obs + (size_t)(n - 1) * od, reward, T,
                                  success, NFP_REPLAY_DEMO);
}

int nfp_finetune_add_demos(nfp_finetune* ft, const nfp_episode* demos, int n) {
  for (int e = 0; e < n; e++) {
    const nfp_episode* ep = &demos[e];
    if (ep->T < 1) continue;
    int sd = ft->actor->cfg.state_dim, od = ft->actor->obs_dim, D = ft->actor->chunk_dim;
    int steps = (ep->T + ft->cfg.act.replan - 1) / ft->cfg.act.replan;
    size_t floats = (size_t)ep->T * (size_t)(sd + 2) + (size_t)steps * (size_t)(od + D + 1);
    float* work = malloc(sizeof(float) * floats);
    if (!work) return nfp_error_set("out of memory reading demo %d", e);
    int rc = add_demo(ft, ep, work);
    free(work);
    if (rc) return -1;
  }
  return 0;
}

// Growable record of one rollout's decision points.
typedef struct {
  int n, cap, T, tcap;
  float *obs, *chunk, *reward;
  double* loglik;
  int* start;
} trace;

static int trace_plan(trace* tr, const float* hist, const float* chunk, double loglik, int od,
                      int D, int t) {
  if (tr->n == tr->cap) {
    int cap = tr->cap ? 2 * tr->cap : 64;
    float* o = realloc(tr->obs, sizeof(float) * (size_t)cap * od);
    if (o) tr->obs = o;
    float* c = realloc(tr->chunk, sizeof(float) * (size_t)cap * D);
    if (c) tr->chunk = c;
    int* s = realloc(tr->start, sizeof(int) * (size_t)cap);
    if (s) tr->start = s;
    double* l = realloc(tr->loglik, sizeof(double) * (size_t)cap);
    if (l) tr->loglik = l;
    if (!o || !c || !s || !l) return nfp_error_set("out of memory recording a rollout");
    tr->cap = cap;
  }
  memcpy(tr->obs + (size_t)tr->n * od, hist, sizeof(float) * od);
  memcpy(tr->chunk + (size_t)tr->n * D, chunk, sizeof(float) * D);
  tr->loglik[tr->n] = loglik;
  tr->start[tr->n++] = t;
  return 0;
}

static int trace_reward(trace* tr, float r) {
  if (tr->T == tr->tcap) {
    int cap = tr->tcap ? 2 * tr->tcap : 512;
    float* p = realloc(tr->reward, sizeof(float) * (size_t)cap);
    if (!p) return nfp_error_set("out of memory recording a rollout");
    tr->reward = p;
    tr->tcap = cap;
  }
  tr->reward[tr->T++] = r;
  return 0;
}

static void trace_free(trace* tr) {
  free(tr->obs);
  free(tr->chunk);
  free(tr->reward);
  free(tr->start);
  free(tr->loglik);
}

// The arms' observation -> the newest normalised frame of the history (newest first; the
// first frame of an episode fills every slot, as the controller does).
static int push_frame(float* hist, const nfp_model* m, const nfp_arms* arms,
                      const nfp_arms_obs* obs, int first) {
  int sd = m->cfg.state_dim, no = m->cfg.n_obs;
  double raw[NFP_ARMS_MAX_NQ + NFP_ARMS_MAX_OBJECT];
  if (nfp_state_frame(raw, sd, obs->qpos, arms->info.nq, obs->object, obs->n_object,
                      arms->info.name)) {
    return -1;
  }
  memmove(hist + sd, hist, sizeof(float) * (size_t)(no - 1) * sd);
  for (int j = 0; j < sd; j++) hist[j] = (float)raw[j];
  nfp_model_normalize_state(m, hist, hist, 1);
  for (int k = 1; first && k < no; k++) memcpy(hist + (size_t)k * sd, hist, sizeof(float) * sd);
  return 0;
}

// The episode's steps -> the trace (one row per plan) and the per-step success reward.
static int run_episode(nfp_finetune* ft, nfp_rollout* r, trace* tr, float* hist, float* chunk) {
  const nfp_model* m = ft->actor;
  if (r->obs.success < 0) {
    return nfp_error_set("%s reports no success signal: fine-tuning has no reward there",
                         r->arms->info.name);
  }
  if (push_frame(hist, m, r->arms, &r->obs, 1)) return -1;
  while (!r->done) {
    int was = r->success;
    nfp_agent_step info;
    if (nfp_rollout_step(r, NULL, &info)) return -1;
    if (info.planned) {
      nfp_model_normalize_action(m, chunk, info.chunk, m->cfg.horizon);
      if (trace_plan(tr, hist, chunk, info.loglik, m->obs_dim, m->chunk_dim, r->steps - 1)) {
        return -1;
      }
    }
    if (trace_reward(tr, (float)(!was && r->success))) return -1;
    if (push_frame(hist, m, r->arms, &r->obs, 0)) return -1;
  }
  if (tr->n == 0) return nfp_error_set("the policy never planned in %d steps", r->steps);
  return 0;
}

// One episode of the current policy from seed -> its trace and final history (hist), r's
// outcome. The caller frees the trace and the rollout.
static int traced_episode(nfp_finetune* ft, nfp_arms* arms, uint64_t seed, trace* tr,
                          nfp_rollout* r, float* hist) {
  nfp_agent_spec spec = {.kind = "policy",
                         .policy_path = "the policy being fine-tuned",
                         .model = ft->actor,
                         .controller = ft->cfg.act};
  nfp_agent* agent = nfp_agent_create(&spec);
  if (!agent) return -1;
  int rc = nfp_rollout_begin(r, arms, agent, seed) ||
           run_episode(ft, r, tr, hist, hist + ft->actor->obs_dim);
  nfp_agent_free(agent);
  return rc ? nfp_error_wrap("fine-tuning rollout, seed %llu", (unsigned long long)seed) : 0;
}

int nfp_finetune_rollout(nfp_finetune* ft, nfp_arms* arms, uint64_t seed, nfp_replay_source source,
                         nfp_finetune_episode* ep) {
  double t0 = nfp_clock_seconds();
  memset(ep, 0, sizeof(*ep));
  const nfp_model* m = ft->actor;
  float* hist = malloc(sizeof(float) * (size_t)(m->obs_dim + m->chunk_dim));
  trace tr = {0};
  nfp_rollout r = {0};
  int rc = -1;
  if (!hist) {
    nfp_error_set("out of memory for a rollout");
  } else if (!traced_episode(ft, arms, seed, &tr, &r, hist) &&
             !nfp_finetune_add_episode(ft, tr.obs, tr.chunk, tr.start, tr.n, hist, tr.reward, tr.T,
                                       r.success, source)) {
    ep->seed = seed;
    ep->success = r.success;
    ep->steps = r.steps;
    ep->chunks = tr.n;
    ep->ret = r.success ? pow(ft->cfg.gamma, (double)(r.steps - 1)) : 0.0;
    ep->loglik_mean = r.plans ? r.loglik_sum / r.plans : NAN;
    ep->q0 = nfp_finetune_q_at(ft, tr.obs, tr.chunk);
    ep->seconds = nfp_clock_seconds() - t0;
    rc = 0;
  }
  nfp_rollout_free(&r);
  trace_free(&tr);
  free(hist);
  return rc;
}

// The critic's ensemble minimum at the first k decision points of a trace, averaged.
static double first_q(nfp_finetune* ft, const trace* tr, int k) {
  double sum = 0;
  for (int i = 0; i < k; i++) {
    sum += nfp_finetune_q_at(ft, tr->obs + (size_t)i * ft->actor->obs_dim,
                             tr->chunk + (size_t)i * ft->actor->chunk_dim);
  }
  return sum / k;
}

int nfp_finetune_evaluate(nfp_finetune* ft, nfp_arms* arms, uint64_t seed, int n, int first,
                          nfp_finetune_eval* out) {
  memset(out, 0, sizeof(*out));
  const nfp_model* m = ft->actor;
  double* score = malloc(sizeof(double) * 2 * (size_t)(n > 0 ? n : 1));
  int* ok = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
  float* hist = malloc(sizeof(float) * (size_t)(m->obs_dim + m->chunk_dim));
  int rc = 0;
  if (!score || !ok || !hist) rc = nfp_error_set("out of memory evaluating");
  for (int e = 0; e < n && !rc; e++) {
    trace tr = {0};
    nfp_rollout r = {0};
    rc = traced_episode(ft, arms, seed + (uint64_t)e, &tr, &r, hist);
    if (!rc) {
      int k = tr.n < first ? tr.n : first;
      double lp = 0;
      for (int i = 0; i < k; i++) lp += tr.loglik[i];
      ok[e] = r.success;
      out->successes += r.success;
      score[e] = first_q(ft, &tr, k);
      score[n + e] = lp / k;
    }
    nfp_rollout_free(&r);
    trace_free(&tr);
  }
  if (!rc) {
    out->episodes = n;
    out->first_chunks = first;
    out->auroc_q = nfp_auroc(score, ok, n);
    out->auroc_loglik = nfp_auroc(score + n, ok, n);
  }
  free(score);
  free(ok);
  free(hist);
  return rc;
}
