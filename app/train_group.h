// The MPI job's ranks as the trainer's data-parallel group (nfp train, nfp bench --ranks).
#ifndef NFP_APP_TRAIN_GROUP_H
#define NFP_APP_TRAIN_GROUP_H

#include "nfp/train.h"

// Under mpirun -np N with N > 1: the group over nfp_cluster's collectives; else NULL.
const nfp_train_group* nfp_app_train_group(void);

#endif
