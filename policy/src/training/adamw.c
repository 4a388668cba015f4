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

// One weight's update; decay is 1 where weight decay applies, else 0.
static inline void adamw_one(float* restrict p, float* restrict m, float* restrict v, float g,
                             float decay, float b1, float b2, float step, float inv_sqrt_c2,
                             float eps, float wd) {
  float mi = b1 * *m + (1.0f - b1) * g;
  float vi = b2 * *v + (1.0f - b2) * g * g;
  *m = mi;
  *v = vi;
  *p -= step * mi / (sqrtf(vi) * inv_sqrt_c2 + eps) + wd * decay * *p;
}

// n weights' updates. Vectorised: a clone per instruction set, picked when the library loads,
// and this file compiled with -fno-math-errno and the vectoriser's dynamic cost model (see
// CMakeLists.txt): scalar square roots and divisions made AdamW ~8 % of a training step.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void adamw_run(size_t n, float* restrict p, float* restrict m, float* restrict v,
                      const float* restrict g, const uint8_t* restrict decay_mask, float b1,
                      float b2, float step, float inv_sqrt_c2, float eps, float wd) {
  if (decay_mask) {
    for (size_t i = 0; i < n; i++)
      adamw_one(p + i, m + i, v + i, g[i], (float)decay_mask[i], b1, b2, step, inv_sqrt_c2,
                eps, wd);
  } else {
    for (size_t i = 0; i < n; i++)
      adamw_one(p + i, m + i, v + i, g[i], 1.0f, b1, b2, step, inv_sqrt_c2, eps, wd);
  }
}

void nfp_adamw_step(nfp_adamw* opt, float* params, const float* grads, const uint8_t* decay_mask,
                    float lr) {
  opt->t++;
  float b1 = opt->beta1, b2 = opt->beta2;
  // Bias corrections folded into two constants, computed in double (1 - beta^t needs the
  // precision): p -= (lr / c1) m / (sqrt(v) / sqrt(c2) + eps).
  double c1 = 1.0 - pow(b1, (double)opt->t), c2 = 1.0 - pow(b2, (double)opt->t);
  float step = (float)(lr / c1), inv_sqrt_c2 = (float)(1.0 / sqrt(c2));
  adamw_run(opt->n, params, opt->m, opt->v, grads, decay_mask, b1, b2, step, inv_sqrt_c2,
            opt->eps, lr * opt->weight_decay);
}

double nfp_grad_sumsq(const float* grads, size_t n) {
  // Eight float partial sums per block of 1024 break the add dependency chain; the
  // blocks are summed in double so the total keeps its precision.
  double ss = 0.0;
  for (size_t b = 0; b < n; b += 1024) {
    size_t e = b + 1024 < n ? b + 1024 : n, i = b;
    float acc[8] = {0};
    for (; i + 8 <= e; i += 8)
      for (int k = 0; k < 8; k++) acc[k] += grads[i + k] * grads[i + k];
    for (; i < e; i++) acc[0] += grads[i] * grads[i];
    for (int k = 0; k < 8; k++) ss += acc[k];
  }
  return ss;
}

float nfp_grad_clip_scale(double sumsq, float max_norm) {
  float norm = (float)sqrt(sumsq);
  return max_norm > 0.0f && norm > max_norm ? max_norm / (norm + 1e-6f) : 1.0f;
}

float nfp_grad_clip(float* grads, size_t n, float max_norm) {
  double ss = nfp_grad_sumsq(grads, n);
  float scale = nfp_grad_clip_scale(ss, max_norm);
  if (scale != 1.0f) {
    for (size_t i = 0; i < n; i++) grads[i] *= scale;
  }
  return (float)sqrt(ss);
}
