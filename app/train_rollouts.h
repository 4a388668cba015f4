// nfp train --eval-every: closed-loop rollouts of the EMA weights during training, logged
// beside the NLL (validation NLL is known not to track success).
#ifndef NFP_APP_TRAIN_ROLLOUTS_H
#define NFP_APP_TRAIN_ROLLOUTS_H

#include "nfp/train.h"

typedef struct {
  const char* task;     // the demos' task (a simulated one)
  const char* assets;   // NULL: the installed assets
  int every;            // epochs between evaluations (0: never); the last epoch always
  int episodes;         // rollouts per evaluation
  long long seed0;      // first seed, disjoint from the demos' seeds
} nfp_train_rollouts;

// The trainer's on_epoch hook (ctx: an nfp_train_rollouts): on the epochs due, `episodes`
// seeded SBS rollouts of the EMA weights in the simulator -> tr->rollout_*. 0 or -1.
int nfp_train_rollouts_hook(nfp_trainer* tr, void* ctx);

#endif
