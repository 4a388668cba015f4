// nfp bench --finetune: the cost of RL fine-tuning's critic and actor updates.
#ifndef NFP_APP_BENCH_FINETUNE_H
#define NFP_APP_BENCH_FINETUNE_H

// argv (the bench verb's) -> the figures on stdout (and --json). Exit code.
int nfp_bench_finetune(int argc, char** argv);

#endif
