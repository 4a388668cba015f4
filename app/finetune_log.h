// The fine-tuning run's record: one JSON line per episode, a line on stdout, and at the end
// the picture of success rate and the critic's estimate over the online episodes.
#ifndef NFP_APP_FINETUNE_LOG_H
#define NFP_APP_FINETUNE_LOG_H

#include "nfp/rl.h"

typedef struct nfp_finetune_log_ nfp_finetune_log;

// given, or out with its ".safetensors" replaced by suffix (malloc'd). NULL on no memory.
char* nfp_finetune_log_path(const char* out, const char* given, const char* suffix);
// Open the JSON-lines file (appending when resuming, else truncating). NULL (error set).
nfp_finetune_log* nfp_finetune_log_open(const char* jsonl, const char* chart, int append);
// One episode's line (and, with print, its line on stdout). 0 or -1.
int nfp_finetune_log_episode(nfp_finetune_log* log, const nfp_finetune* ft,
                             const nfp_finetune_episode* ep, int print);
// The closing evaluation's line (and its line on stdout). 0 or -1.
int nfp_finetune_log_eval(nfp_finetune_log* log, const nfp_finetune_eval* ev, uint64_t seed);
// Close; with budget > 0 draw the chart from every online line the file holds. 0 or -1;
// frees log either way.
int nfp_finetune_log_close(nfp_finetune_log* log, int budget);

#endif
