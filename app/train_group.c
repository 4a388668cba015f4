// The trainer's data-parallel group made of nfp_cluster's collectives.
#include "train_group.h"

#include "nfp/cluster.h"

const nfp_train_group* nfp_app_train_group(void) {
  static nfp_train_group g;
  const nfp_cluster* w = nfp_cluster_world();
  if (w->size < 2) return NULL;
  g = (nfp_train_group){.rank = w->rank, .size = w->size,
                        .sum_scatter_float = nfp_cluster_sum_scatter_float,
                        .gather_float = nfp_cluster_gather_float,
                        .sum_double = nfp_cluster_sum_double, .max_int = nfp_cluster_max_int};
  return &g;
}
