// AdamW (Loshchilov & Hutter): Adam with weight decay applied to the weights directly,
// not through the gradient, so the decay is not rescaled by the second moment.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/train.h"

int nfp_adamw_init(nfp_adamw* opt, size_t n, float beta1, float beta2, float eps,
                   float weight_decay) {
  memset(opt, 0, sizeof(*opt));
  opt->m = calloc(n ? n : 1, sizeof(float));
  opt->v = calloc(n ? n : 1, sizeof(float));
  if (!opt->m || !opt->v) {
    nfp_adamw_free(opt);
    return nfp_error_set("adamw: out of memory for %zu parameters", n);
  }
  opt->n = n;
  opt->beta1 = beta1;
  opt->beta2 = beta2;
  opt->eps = eps;
  opt->weight_decay = weight_decay;
  return 0;
}

void nfp_adamw_free(nfp_adamw* opt) {
  free(opt->m);
  free(opt->v);
  memset(opt, 0, sizeof(*opt));
}

void nfp_adamw_step(nfp_adamw* opt, float* params, const float* grads, const uint8_t* decay_mask,
                    float lr) {
  opt->t++;
  float b1 = opt->beta1, b2 = opt->beta2;
  // Bias corrections in double: beta2^t underflows slowly, and 1 - beta^t needs the precision.
  float c1 = (float)(1.0 - pow(b1, (double)opt->t));
  float c2 = (float)(1.0 - pow(b2, (double)opt->t));
  float wd = lr * opt->weight_decay;
  float* m = opt->m;
  float* v = opt->v;
  for (size_t i = 0; i < opt->n; i++) {
    float g = grads[i];
    m[i] = b1 * m[i] + (1.0f - b1) * g;
    v[i] = b2 * v[i] + (1.0f - b2) * g * g;
    float mhat = m[i] / c1;
    float vhat = v[i] / c2;
    float decay = (!decay_mask || decay_mask[i]) ? wd * params[i] : 0.0f;
    params[i] -= lr * mhat / (sqrtf(vhat) + opt->eps) + decay;
  }
}

float nfp_grad_clip(float* grads, size_t n, float max_norm) {
  double ss = 0.0;
  for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
  float norm = (float)sqrt(ss);
  if (max_norm > 0.0f && norm > max_norm) {
    float scale = max_norm / (norm + 1e-6f);
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
  }
  return norm;
}
