// The server's clamp on every target, whatever sent it.
#include <math.h>

#include "nfp/bridge.h"

int nfp_bridge_safety_clamp(double* out, const double* target, const double* measured,
                            const double* prev, const nfp_arms_info* info,
                            uint32_t gripper_mask, double max_step) {
  int hit = 0;
  for (int j = 0; j < info->nq; j++) {
    double q = target[j], lo = info->q_lo[j], hi = info->q_hi[j];
    if (!(q >= lo && q <= hi)) hit |= NFP_SAFETY_LIMIT;  // what was asked, not what is left
    q = !(q >= lo) ? lo : q > hi ? hi : q;                // NaN goes to the lower limit
    if (max_step > 0 && !(gripper_mask >> j & 1u)) {
      double ref = isfinite(measured[j]) ? measured[j] : prev[j];  // a broken reading
      if (q > ref + max_step) q = ref + max_step, hit |= NFP_SAFETY_RATE;
      if (q < ref - max_step) q = ref - max_step, hit |= NFP_SAFETY_RATE;
      q = q > hi ? hi : q < lo ? lo : q;  // the limits win where the joint sits outside
    }
    out[j] = q;
  }
  return hit;
}
