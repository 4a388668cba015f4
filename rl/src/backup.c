// The chunked n-step backup: per-chunk discounted rewards and the bootstrapped target.
#include <math.h>

#include "nfp/rl.h"

// Per-step rewards of one episode -> each executed chunk's return, discount and terminal flag.
void nfp_backup_chunks(float* ret, float* disc, float* done, const float* reward, int T,
                       int terminal, const int* start, int n, double gamma) {
  for (int i = 0; i < n; i++) {
    int end = i + 1 < n ? start[i + 1] : T;
    double g = 1.0, sum = 0.0;
    for (int t = start[i]; t < end; t++) {
      sum += g * reward[t];
      g *= gamma;
    }
    ret[i] = (float)sum;
    disc[i] = (float)g;
    done[i] = (i == n - 1 && terminal) ? 1.0f : 0.0f;
  }
}

void nfp_backup_returns(float* mc, const float* ret, const float* disc, int n) {
  float next = 0.0f;
  for (int i = n - 1; i >= 0; i--) {
    mc[i] = ret[i] + disc[i] * next;
    next = mc[i];
  }
}

void nfp_backup_targets(float* y, const float* ret, const float* disc, const float* done,
                        const float* mc, const float* q_next, int B) {
  for (int b = 0; b < B; b++) {
    y[b] = ret[b] + disc[b] * (1.0f - done[b]) * q_next[b];
    if (mc && mc[b] > y[b]) y[b] = mc[b];
  }
}
