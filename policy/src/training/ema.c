// Exponential moving average of the weights; the averaged copy is what gets evaluated
// and saved, since it is smoother than the last step's weights.
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/train.h"

int nfp_ema_init(nfp_ema* ema, const float* params, size_t n, float decay) {
  memset(ema, 0, sizeof(*ema));
  ema->w = malloc(sizeof(float) * (n ? n : 1));
  if (!ema->w) return nfp_error_set("ema: out of memory for %zu parameters", n);
  memcpy(ema->w, params, sizeof(float) * n);
  ema->n = n;
  ema->decay = decay;
  return 0;
}

void nfp_ema_free(nfp_ema* ema) {
  free(ema->w);
  memset(ema, 0, sizeof(*ema));
}

void nfp_ema_update(nfp_ema* ema, const float* params) {
  ema->updates++;
  // Warm-up: early on the average would be dominated by the random initialisation.
  float d = (1.0f + (float)ema->updates) / (10.0f + (float)ema->updates);
  if (d > ema->decay) d = ema->decay;
  float* w = ema->w;
  for (size_t i = 0; i < ema->n; i++) w[i] += (1.0f - d) * (params[i] - w[i]);
}
