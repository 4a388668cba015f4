#include "policy_flags.h"

#include <math.h>
#include <stddef.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"

void nfp_policy_flags_default(nfp_policy_flags* f) {
  *f = (nfp_policy_flags){.path = NULL, .sigma = 0.0, .samples = 0, .gr_steps = -1,
                          .replan = 8, .hold_targets = 0, .min_loglik = -INFINITY};
}

void nfp_policy_flags_args(nfp_arg* a, nfp_policy_flags* f) {
  // eval's wording; run and view take one file and replace the help text.
  a[0] = (nfp_arg){"--policy", NFP_ARG_STR, &f->path, "FILE",
                   "policy checkpoint (.safetensors), or a folder of <task>.safetensors", 0, 0, 0};
  a[1] = (nfp_arg){"--sigma", NFP_ARG_DOUBLE, &f->sigma, "X",
                   "sampling noise scale (0 = the checkpoint's, 0.5 by default)", 0, 10, 0};
  a[2] = (nfp_arg){"--samples", NFP_ARG_INT, &f->samples, "N",
                   "SBS candidates per call (0 = the checkpoint's, 128 by default)", 0, 4096, 0};
  a[3] = (nfp_arg){"--gr-steps", NFP_ARG_INT, &f->gr_steps, "N",
                   "gradient-refinement steps (-1 = the checkpoint's, 10 by default)", -1, 1000, 0};
  a[4] = (nfp_arg){"--replan", NFP_ARG_INT, &f->replan, "N",
                   "control steps executed from a chunk before sampling the next", 1, 1000, 0};
  a[5] = (nfp_arg){"--no-interp", NFP_ARG_FLAG, &f->hold_targets, NULL,
                   "hold each strided target for `stride` steps instead of interpolating", 0, 0, 0};
  a[6] = (nfp_arg){"--min-loglik", NFP_ARG_DOUBLE, &f->min_loglik, "X",
                   "hold position instead of executing a chunk whose log-likelihood is below X",
                   -1e300, 1e300, 0};
}

int nfp_policy_flags_load(const nfp_policy_flags* f, nfp_model** model) {
  *model = nfp_checkpoint_load(f->path, NULL, NULL);
  return *model ? 0 : -1;
}

void nfp_policy_flags_spec(nfp_agent_spec* spec, const nfp_policy_flags* f,
                           const nfp_model* model, nfp_sample_mode mode) {
  *spec = (nfp_agent_spec){.kind = "policy", .policy_path = f->path, .model = model};
  nfp_controller_opts* c = &spec->controller;
  nfp_controller_opts_default(c, model, mode);
  if (f->sigma > 0) c->sample.sigma = f->sigma;
  if (f->samples > 0) c->sample.n_candidates = f->samples;
  if (f->gr_steps >= 0) c->sample.gr_steps = f->gr_steps;
  c->replan = f->replan;
  c->interpolate = !f->hold_targets;
  c->min_loglik = f->min_loglik;
}
