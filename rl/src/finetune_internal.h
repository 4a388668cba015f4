// Private to the fine-tuning run's files.
#ifndef NFP_FINETUNE_INTERNAL_H
#define NFP_FINETUNE_INTERNAL_H

#include "nfp/rl.h"

// Strided chunk steps executed per plan under act (the critic's chunk length).
int nfp_finetune_exec_steps(const nfp_model_config* m, const nfp_controller_opts* act);
// Demo episodes -> transitions at every replan-th frame, success at the last frame.
int nfp_finetune_add_demos(nfp_finetune* ft, const nfp_episode* demos, int n);
// One episode's decision points -> buffer rows (chunked returns from the per-step rewards).
int nfp_finetune_add_episode(nfp_finetune* ft, const float* obs, const float* chunk,
                             const int* start, int n, const float* final_obs, const float* reward,
                             int T, int success, nfp_replay_source src);
// The critic's ensemble minimum for one observation (normalised frames) and the executed
// part of one normalised chunk; NaN on error.
double nfp_finetune_q_at(nfp_finetune* ft, const float* obs, const float* chunk);
// The first exec_steps strided actions of each of n normalised chunks: out[n][exec dim].
void nfp_finetune_exec_part(const nfp_finetune* ft, float* out, const float* chunk, int n);

#endif
