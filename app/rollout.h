// One episode of an agent on a task, a control step at a time, so that eval
// (whole episodes), collect (recording every step) and view (paced, pausable)
// share the same rules for when an episode ends.
#ifndef NFP_APP_ROLLOUT_H
#define NFP_APP_ROLLOUT_H

#include <stdint.h>

#include "agent.h"
#include "nfp/tasks.h"

// An episode succeeds once the success condition has held this many control steps in a row.
#define NFP_SUCCESS_HOLD 3

typedef struct {
  nfp_task* task;
  nfp_agent* agent;
  uint64_t seed;
  int steps;    // control steps taken
  int held;     // consecutive steps the success condition has held
  int success;  // 1 once held >= NFP_SUCCESS_HOLD
  int done;     // success, or the task's step cap reached
} nfp_rollout;

// Reset the task to `seed` and the agent. 0 or -1 (error set).
int nfp_rollout_begin(nfp_rollout* r, nfp_task* t, nfp_agent* a, uint64_t seed);
// Ask the agent, command its target (copied to target if not NULL), advance one
// control period, update success/done. 0 or -1 (error set). No-op once done.
int nfp_rollout_step(nfp_rollout* r, double* target);
// Whole episode. 0 or -1.
int nfp_rollout_run(nfp_rollout* r, nfp_task* t, nfp_agent* a, uint64_t seed);

#endif
