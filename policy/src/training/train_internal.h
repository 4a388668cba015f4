// Private to the training loop: the per-epoch metrics file (JSON lines).
#ifndef NFP_TRAIN_INTERNAL_H
#define NFP_TRAIN_INTERNAL_H

#include <stddef.h>

#include "nfp/train.h"

// The lines of a metrics file, kept in memory and written whole after every epoch.
typedef struct nfp_metrics_log_ {
  const char* path;
  char* text;  // every line so far, each ending in '\n'
  size_t len, cap;
} nfp_metrics_log;

// Start the log at path keeping the lines of epochs 1..keep already there (or in prior when
// path does not exist; prior may be NULL). Lines that do not parse are dropped. 0 or -1.
int nfp_metrics_log_open(nfp_metrics_log* ml, const char* path, const char* prior, int keep);
// The epoch tr just finished -> a new line, and the file rewritten atomically. 0 or -1.
int nfp_metrics_log_append(nfp_metrics_log* ml, const nfp_trainer* tr);
void nfp_metrics_log_free(nfp_metrics_log* ml);

#endif
