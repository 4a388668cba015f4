// Order statistics of timing samples (see nfp/stats.h).
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
