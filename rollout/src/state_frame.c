// The state frame a policy observes, built one way for every host (see nfp/agent.h).
#include <string.h>

#include "nfp/agent.h"
#include "nfp/error.h"

int nfp_state_frame(double* out, int state_dim, const double* qpos, int nq,
                    const double* object, int n_object, const char* source) {
  if (state_dim != nq && state_dim != nq + n_object) {
    return nfp_error_set("the policy observes %d state values per frame, but %s gives %d joints "
                         "and %d object values", state_dim, source, nq, n_object);
  }
  memcpy(out, qpos, sizeof(double) * (size_t)nq);
  if (state_dim > nq) memcpy(out + nq, object, sizeof(double) * (size_t)(state_dim - nq));
  return 0;
}
