// nfp/cluster.h: the processes of one job on a cluster (MPI), or this process alone.
//
// nfp runs data-parallel training and sharded evaluation on MPI (Open MPI, MPICH, or Slurm's
// srun with PMI): launched by `mpirun -np N nfp VERB ...`, every process is one rank of the
// world group. Started any other way, or built without MPI, the group is this process alone
// (rank 0 of 1) and every call below is a cheap no-op, so callers need no second code path.
// Collectives must be called by every rank in the same order, as MPI requires.
#ifndef NFP_CLUSTER_H
#define NFP_CLUSTER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_cluster_ {
  int rank;  // this process, 0..size-1
  int size;  // processes in the job
  int mpi;   // 1 when MPI was started (a launcher started this process)
} nfp_cluster;

// Was this nfp built with MPI?
int nfp_cluster_built_with_mpi(void);

// Start MPI when an MPI launcher started this process, else a group of one. Refuses (-1,
// message) a multi-process launch of an nfp built without MPI: each process would do the
// whole job alone. Call once, before any other thread starts.
int nfp_cluster_init(void);
// The group nfp_cluster_init made (a group of one before it).
const nfp_cluster* nfp_cluster_world(void);
// End MPI cleanly (every rank, after its last collective).
void nfp_cluster_finalize(void);
// End the whole job now with `code`: a rank that fails alone must not leave the others
// waiting in a collective. Returns only in a group of one.
void nfp_cluster_abort(int code);

// In place, every rank gets the elementwise sum over ranks. 0 or -1 (message).
int nfp_cluster_sum_float(float* buf, size_t n);
int nfp_cluster_sum_double(double* buf, size_t n);
// In place, for a vector shared out by nfp_cluster_shard's rule over n: this rank's share
// of buf ends up holding that share's sum over ranks (the rest is left undefined)...
int nfp_cluster_sum_scatter_float(float* buf, size_t n);
// ... and every rank's share of buf goes to every rank. 0 or -1 (message).
int nfp_cluster_gather_float(float* buf, size_t n);
// *flag = the largest flag over ranks (e.g. "any rank asked to stop"). 0 or -1.
int nfp_cluster_max_int(int* flag);

// Every rank's n bytes, concatenated in rank order, on every rank: *all (malloc'd; caller
// frees) and off[0..size] (malloc'd; rank r's bytes are all[off[r] .. off[r+1])). 0 or -1.
int nfp_cluster_allgather(const void* mine, size_t n, void** all, size_t** off);

// Shard [lo, hi) of n items for this rank: contiguous, sizes differing by at most one
// (rank r: n * r / size .. n * (r + 1) / size).
void nfp_cluster_shard(int n, int* lo, int* hi);

// Seconds spent inside the collectives above since the process started (for the
// communication share of a training step).
double nfp_cluster_comm_seconds(void);

#ifdef __cplusplus
}
#endif
#endif
