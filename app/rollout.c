// Episode bookkeeping shared by eval, collect and view.
#include "rollout.h"

#include <string.h>

#include "nfp/error.h"

int nfp_rollout_begin(nfp_rollout* r, nfp_task* t, nfp_agent* a, uint64_t seed) {
  memset(r, 0, sizeof(*r));
  r->task = t;
  r->agent = a;
  r->seed = seed;
  nfp_task_reset(t, seed);
  if (a->reset && a->reset(a, t)) {
    return nfp_error_wrap("agent %s, seed %llu", a->kind, (unsigned long long)seed);
  }
  return 0;
}

int nfp_rollout_step(nfp_rollout* r, double* target) {
  if (r->done) return 0;
  double q[NFP_NJ];
  if (r->agent->act(r->agent, r->task, q)) {
    return nfp_error_wrap("agent %s, seed %llu, step %d", r->agent->kind,
                          (unsigned long long)r->seed, r->steps);
  }
  if (target) memcpy(target, q, sizeof(q));
  nfp_task_step(r->task, q);
  r->steps++;
  r->held = nfp_task_success(r->task) ? r->held + 1 : 0;
  r->success = r->held >= NFP_SUCCESS_HOLD;
  r->done = r->success || r->steps >= r->task->def->step_cap;
  return 0;
}

int nfp_rollout_run(nfp_rollout* r, nfp_task* t, nfp_agent* a, uint64_t seed) {
  if (nfp_rollout_begin(r, t, a, seed)) return -1;
  while (!r->done) {
    if (nfp_rollout_step(r, NULL)) return -1;
  }
  return 0;
}
