// nfp bench --ranks: data-parallel training throughput under mpirun (or alone).
#ifndef NFP_APP_BENCH_RANKS_H
#define NFP_APP_BENCH_RANKS_H

// argv (the bench verb's) -> the figures on rank 0's stdout (and --json). Exit code.
int nfp_bench_ranks(int argc, char** argv);

#endif
