// Order statistics of timing samples and success-rate intervals (see nfp/stats.h).
#include "nfp/stats.h"

#include <math.h>
#include <stdlib.h>

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

void nfp_sort_doubles(double* v, int n) {
  if (n > 1) qsort(v, (size_t)n, sizeof(double), cmp_double);
}

double nfp_percentile(double* v, int n, double q) {
  if (n <= 0) return 0.0;
  nfp_sort_doubles(v, n);
  int k = (int)ceil(q * n) - 1;
  return v[k < 0 ? 0 : k >= n ? n - 1 : k];
}

double nfp_median(double* v, int n) {
  if (n <= 0) return 0.0;
  nfp_sort_doubles(v, n);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void nfp_wilson_interval(int k, int n, double z, double* lo, double* hi) {
  *lo = 0.0;
  *hi = 1.0;
  if (n <= 0) return;
  double p = (double)k / n, z2n = z * z / n;
  double centre = (p + 0.5 * z2n) / (1.0 + z2n);
  double half = z * sqrt(p * (1.0 - p) / n + 0.25 * z2n / n) / (1.0 + z2n);
  *lo = centre - half > 0.0 ? centre - half : 0.0;
  *hi = centre + half < 1.0 ? centre + half : 1.0;
}

// Pairs counted directly: n is an episode count (hundreds), so O(n^2) is instant and exact.
double nfp_auroc(const double* score, const int* positive, int n) {
  double wins = 0;
  long pairs = 0;
  for (int i = 0; i < n; i++) {
    if (!isfinite(score[i])) return NAN;
    if (!positive[i]) continue;
    for (int j = 0; j < n; j++) {
      if (positive[j]) continue;
      wins += score[i] > score[j] ? 1.0 : score[i] == score[j] ? 0.5 : 0.0;
      pairs++;
    }
  }
  return pairs ? wins / (double)pairs : NAN;
}
