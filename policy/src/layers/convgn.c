// The convolution + GroupNorm unit: its tensors and their initialisation.
#include <stdio.h>

#include "nfp/error.h"
#include "nfp/layers.h"

int nfp_convgn_build(nfp_convgn* u, nfp_ptable* table, const char* conv_name,
                     const char* norm_name, int C, int H, int W, int OC, int K, int stride,
                     int pad, int groups) {
  if (nfp_conv_geom_init(&u->g, C, H, W, OC, K, stride, pad) != 0) {
    return nfp_error_wrap("%s", conv_name);
  }
  if (groups == 0) groups = OC >= 16 ? OC / 16 : 1;
  if (groups < 0 || OC % groups != 0) {
    return nfp_error_set("%s: %d channels do not split into %d groups", norm_name, OC, groups);
  }
  u->groups = groups;
  char name[NFP_TENSOR_NAME_MAX];
  int shape[4] = {OC, C, K, K};
  int ok = snprintf(name, sizeof(name), "%s.weight", conv_name) < (int)sizeof(name);
  u->w = nfp_ptable_add_nd(table, name, 4, shape);
  ok = ok && snprintf(name, sizeof(name), "%s.weight", norm_name) < (int)sizeof(name);
  u->gn_w = nfp_ptable_add(table, name, 1, OC, 0);
  ok = ok && snprintf(name, sizeof(name), "%s.bias", norm_name) < (int)sizeof(name);
  u->gn_b = nfp_ptable_add(table, name, 1, OC, 0);
  if (!ok || table->failed) {
    return nfp_error_set("%s: out of memory or tensor name too long", conv_name);
  }
  return 0;
}

void nfp_convgn_init(float* params, const nfp_convgn* u, nfp_rng* rng) {
  nfp_conv2d_init(params + u->w, &u->g, rng);
  for (int o = 0; o < u->g.OC; o++) {
    params[u->gn_w + o] = 1.0f;
    params[u->gn_b + o] = 0.0f;
  }
}
