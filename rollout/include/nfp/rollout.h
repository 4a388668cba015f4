// One episode of an agent on a pair of arms, a control step at a time, so that eval
// (whole episodes), collect (recording every step) and view (paced, pausable) share
// the same rules for when an episode ends.
#ifndef NFP_ROLLOUT_H
#define NFP_ROLLOUT_H

#include <stdint.h>

#include "nfp/agent.h"
#include "nfp/arms.h"
#include "nfp/tasks.h"   // NFP_SUCCESS_HOLD

typedef struct {
  nfp_arms* arms;
  nfp_agent* agent;
  uint64_t seed;
  int step_cap;      // control steps before the episode counts as failed
  int steps;         // control steps taken
  int held;          // consecutive steps the success condition has held (nfp_task_success_count)
  int success;       // 1 once held >= NFP_SUCCESS_HOLD (stays 1)
  int done;          // success (and run_on finished), or the step cap reached
  nfp_arms_obs obs;  // observation the next step acts on
  // Optional offset added to each commanded target after it is reported (NULL: none);
  // collect uses it to perturb the expert's execution while recording its clean targets.
  // The caller owns it and may change it between steps; begin keeps it.
  const double* perturb;
  // Optional: after the success the episode runs on until run_on(run_on_ctx) returns 1
  // or the step cap. collect passes "the expert's script is finished", so a demo holds
  // what the expert does after the success too (letting go, retracting), not a cut-off
  // in the middle of it. begin keeps both.
  int (*run_on)(void* ctx);
  void* run_on_ctx;
  // policy statistics of the episode
  int plans;         // chunks sampled
  int hold_steps;    // control steps held by the confidence gate
  double loglik_sum, loglik_min;  // over sampled chunks
  double* plan_ms;   // [plans] sampling latency per call (grows as needed)
  int plan_cap;
} nfp_rollout;

// Reset the arms to `seed` and the agent. Zero the struct before its first begin; it
// keeps its statistics buffer across episodes. 0 or -1 (error set).
int nfp_rollout_begin(nfp_rollout* r, nfp_arms* arms, nfp_agent* a, uint64_t seed);
// Ask the agent, command its target (copied to target if not NULL), advance one
// control period, update success/done. 0 or -1 (error set). No-op once done.
int nfp_rollout_step(nfp_rollout* r, double* target, nfp_agent_step* info);
// Whole episode. 0 or -1.
int nfp_rollout_run(nfp_rollout* r, nfp_arms* arms, nfp_agent* a, uint64_t seed);
// Free the statistics buffer (the rollout can be begun again afterwards).
void nfp_rollout_free(nfp_rollout* r);

#endif
