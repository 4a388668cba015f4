// Left-right mirror images of demos, for training on a task that is symmetric under
// x -> -x (nfp_task_def.mirror_object): every demo of a block on the right also
// teaches the same moves for a block on the left, with the arms' roles swapped.
#ifndef NFP_APP_DEMO_MIRROR_H
#define NFP_APP_DEMO_MIRROR_H

#include "nfp/demo.h"
#include "nfp/tasks.h"

// The task of the first demo in dir: its definition in *def (NULL when unknown). 0, or -1
// (error set: no demos, or one cannot be read).
int nfp_demo_task(const char* dir, const nfp_task_def** def);

// nfp_dataset_config.twin: *twin = the mirror image of ep (joints, targets, object state
// and head-camera frames). 0 or -1 (error set).
int nfp_demo_mirror(nfp_episode* twin, const nfp_episode* ep, void* unused);

#endif
