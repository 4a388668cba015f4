// The flags that configure a policy agent, shared by eval and view, and loading the
// checkpoint they name into an agent spec.
#ifndef NFP_APP_POLICY_FLAGS_H
#define NFP_APP_POLICY_FLAGS_H

#include "nfp/agent.h"
#include "args.h"
#include "nfp/model.h"

typedef struct {
  const char* path;     // --policy
  double sigma;         // --sigma (<= 0: the checkpoint's default)
  int samples;          // --samples: SBS candidates (0: default)
  int gr_steps;         // --gr-steps (-1: default)
  int replan;           // --replan: control steps between samples
  int hold_targets;     // --no-interp: hold each strided target instead of interpolating
  double min_loglik;    // --min-loglik: confidence gate (-inf: off)
} nfp_policy_flags;

#define NFP_POLICY_NARGS 7

void nfp_policy_flags_default(nfp_policy_flags* f);
// Fill args[0..NFP_POLICY_NARGS) with the flag table entries pointing into f.
void nfp_policy_flags_args(nfp_arg* args, nfp_policy_flags* f);

// Load the checkpoint f->path (refusing a broken one with a message) into *model and
// fill spec for the policy agent in `mode`. 0 or -1 (error set).
int nfp_policy_flags_load(const nfp_policy_flags* f, nfp_model** model);
void nfp_policy_flags_spec(nfp_agent_spec* spec, const nfp_policy_flags* f,
                           const nfp_model* model, nfp_sample_mode mode);

#endif
