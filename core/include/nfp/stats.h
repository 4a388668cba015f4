// nfp stats: order statistics of timing samples (latency p50/p99, medians of repeats), the
// confidence interval of a success rate, and the AUROC of a score that predicts an outcome.
#ifndef NFP_STATS_H
#define NFP_STATS_H

#ifdef __cplusplus
extern "C" {
#endif

// Sort v[0..n) ascending in place.
void nfp_sort_doubles(double* v, int n);
// Nearest-rank percentile, q in (0, 1]: the smallest value with at least q n values at or
// below it. Sorts v. 0 when n is 0.
double nfp_percentile(double* v, int n, double q);
// The median, averaging the middle two of an even count. Sorts v. 0 when n is 0.
double nfp_median(double* v, int n);
// Wilson score interval of a success rate k/n at z standard errors (1.96: 95 %) ->
// [*lo, *hi] within [0, 1]. [0, 1] when n is 0.
void nfp_wilson_interval(int k, int n, double z, double* lo, double* hi);
// Area under the ROC curve of score for telling positive[i] = 1 from 0: the probability that
// a random positive scores higher than a random negative, ties counting one half (the
// Mann-Whitney statistic). NaN when either class is empty or a score is not finite.
double nfp_auroc(const double* score, const int* positive, int n);

#ifdef __cplusplus
}
#endif
#endif
