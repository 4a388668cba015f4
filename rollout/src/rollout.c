// Episode bookkeeping shared by eval, collect and view.
#include "nfp/rollout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

static int observe(nfp_rollout* r) {
  if (nfp_arms_observe(r->arms, &r->obs, nfp_agent_wants_image(r->agent))) {
    return nfp_error_wrap("%s, seed %llu, step %d", r->arms->info.name,
                          (unsigned long long)r->seed, r->steps);
  }
  return 0;
}

int nfp_rollout_begin(nfp_rollout* r, nfp_arms* arms, nfp_agent* a, uint64_t seed) {
  double* plan_ms = r->plan_ms;  // keep the buffer across episodes
  int plan_cap = r->plan_cap;
  const double* perturb = r->perturb;
  int (*run_on)(void*) = r->run_on;
  void* run_on_ctx = r->run_on_ctx;
  memset(r, 0, sizeof(*r));
  r->run_on = run_on;
  r->run_on_ctx = run_on_ctx;
  r->plan_ms = plan_ms;
  r->plan_cap = plan_cap;
  r->perturb = perturb;
  r->arms = arms;
  r->agent = a;
  r->seed = seed;
  r->step_cap = arms->info.step_cap > 0 ? arms->info.step_cap : 1000000;
  r->loglik_min = INFINITY;
  if (nfp_arms_reset(arms, seed)) return nfp_error_wrap("resetting %s", arms->info.name);
  if (a->reset && a->reset(a, arms, seed)) {
    return nfp_error_wrap("agent %s, seed %llu", a->kind, (unsigned long long)seed);
  }
  return observe(r);
}

static int record_plan(nfp_rollout* r, const nfp_agent_step* s) {
  if (r->plans == r->plan_cap) {
    int cap = r->plan_cap ? 2 * r->plan_cap : 64;
    double* p = realloc(r->plan_ms, sizeof(double) * (size_t)cap);
    if (!p) return nfp_error_set("out of memory recording latencies");
    r->plan_ms = p;
    r->plan_cap = cap;
  }
  r->plan_ms[r->plans++] = s->plan_ms;
  r->loglik_sum += s->loglik;
  if (s->loglik < r->loglik_min) r->loglik_min = s->loglik;
  return 0;
}

int nfp_rollout_step(nfp_rollout* r, double* target, nfp_agent_step* info) {
  if (r->done) return 0;
  double q[NFP_ARMS_MAX_NQ];
  nfp_agent_step s;
  memset(&s, 0, sizeof(s));
  if (r->agent->act(r->agent, r->arms, &r->obs, q, &s)) {
    return nfp_error_wrap("agent %s, seed %llu, step %d", r->agent->kind,
                          (unsigned long long)r->seed, r->steps);
  }
  if (s.planned && record_plan(r, &s)) return -1;
  r->hold_steps += s.hold;
  if (target) memcpy(target, q, sizeof(double) * (size_t)r->arms->info.nq);
  if (info) *info = s;
  if (r->perturb) {
    for (int i = 0; i < r->arms->info.nq; i++) q[i] += r->perturb[i];
  }
  if (nfp_arms_command(r->arms, q, s.hold) || nfp_arms_step(r->arms)) {
    return nfp_error_wrap("%s, seed %llu, step %d", r->arms->info.name,
                          (unsigned long long)r->seed, r->steps);
  }
  r->steps++;
  if (observe(r)) return -1;
  r->held = nfp_task_success_count(r->held, r->obs.success > 0);
  r->success = r->held >= NFP_SUCCESS_HOLD;
  r->done = (r->success && (!r->run_on || r->run_on(r->run_on_ctx))) || r->steps >= r->step_cap;
  return 0;
}

int nfp_rollout_run(nfp_rollout* r, nfp_arms* arms, nfp_agent* a, uint64_t seed) {
  if (nfp_rollout_begin(r, arms, a, seed)) return -1;
  while (!r->done) {
    if (nfp_rollout_step(r, NULL, NULL)) return -1;
  }
  return 0;
}

void nfp_rollout_free(nfp_rollout* r) {
  free(r->plan_ms);
  r->plan_ms = NULL;
  r->plan_cap = 0;
}
