// nfp_agent: whatever picks the next 14-D joint target: the scripted expert (which
// reads the simulator's state, so it needs simulated arms) or a trained NF-P policy
// (which sees only the observation, so it drives any nfp_arms). eval, view and
// collect drive agents only through this.
#ifndef NFP_AGENT_H
#define NFP_AGENT_H

#include <stdint.h>

#include "nfp/arms.h"
#include "nfp/model.h"
#include "nfp/sampler.h"

// What an agent did at one control step (policy agents fill the plan fields).
typedef struct {
  int planned;      // a chunk was sampled at this step
  double plan_ms;   // wall time of that sampling call
  double loglik;    // log-likelihood of the chunk being executed (0 for the expert)
  int hold;         // the confidence gate asks the arms to hold position
  const float* chunk;  // the chunk being executed [horizon][action_dim] (policy), else NULL
} nfp_agent_step;

typedef struct nfp_agent_ nfp_agent;
struct nfp_agent_ {
  const char* kind;  // "expert", "policy"
  void* ctx;         // agent-private state (a controller ...)
  int wants_image;   // the agent looks at the head camera (see nfp_agent_wants_image)
  // Start of an episode, called right after the arms were reset to `seed`. 0 or -1.
  int (*reset)(nfp_agent* a, nfp_arms* arms, uint64_t seed);
  // Next joint target for observation obs. 0 or -1 (error set).
  int (*act)(nfp_agent* a, nfp_arms* arms, const nfp_arms_obs* obs, double* target,
             nfp_agent_step* info);
  void (*destroy)(nfp_agent* a);
};

// How to build an agent; each rollout thread builds its own from the same spec.
typedef struct {
  const char* kind;               // "expert" | "policy"
  const char* policy_path;        // checkpoint (policy)
  const nfp_model* model;         // the loaded checkpoint, shared by every agent (policy)
  nfp_controller_opts controller; // sampling mode, re-planning, gate (policy)
} nfp_agent_spec;

// The state frame a policy observes: the joint positions, then the object state when the
// model was trained with it (state_dim = nq + n_object), into out[state_dim]. Every host
// (the agent, the MuJoCo plugin) builds it with this. 0, or -1 naming source and sizes.
int nfp_state_frame(double* out, int state_dim, const double* qpos, int nq,
                    const double* object, int n_object, const char* source);

// Known kinds, for --help and error messages.
const char* nfp_agent_kinds(void);
// 0 if the spec names a known kind with what it needs, else -1 (error set).
int nfp_agent_check(const nfp_agent_spec* spec);
// Should the next observation include the head camera? Only at the steps where an
// image policy samples a chunk, so the frame is rendered once per plan, not per step.
int nfp_agent_wants_image(const nfp_agent* a);
// Does this kind need a policy checkpoint?
int nfp_agent_needs_policy(const char* kind);
nfp_agent* nfp_agent_create(const nfp_agent_spec* spec);
// The controller behind a policy agent (its chunk and candidates, for the viewer);
// NULL for other kinds.
nfp_controller* nfp_agent_controller(nfp_agent* a);
void nfp_agent_free(nfp_agent* a);

#endif
