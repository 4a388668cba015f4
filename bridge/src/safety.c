// The server's clamp on every target, whatever sent it.
#include "nfp/bridge.h"

int nfp_bridge_safety_clamp(double* out, const double* target, const double* prev,
                            const nfp_arms_info* info, uint32_t gripper_mask, double max_step) {
  int hit = 0;
  for (int j = 0; j < info->nq; j++) {
    double q = target[j];
    if (max_step > 0 && !(gripper_mask >> j & 1u)) {
      if (q > prev[j] + max_step) q = prev[j] + max_step, hit |= NFP_SAFETY_RATE;
      if (q < prev[j] - max_step) q = prev[j] - max_step, hit |= NFP_SAFETY_RATE;
    }
    if (q > info->q_hi[j]) q = info->q_hi[j], hit |= NFP_SAFETY_LIMIT;
    if (q < info->q_lo[j]) q = info->q_lo[j], hit |= NFP_SAFETY_LIMIT;
    out[j] = q;
  }
  return hit;
}
