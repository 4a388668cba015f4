// nfp_agent: whatever picks the next 14-D joint target (the scripted expert now,
// a trained policy next). eval, view and collect drive agents only through this.
#ifndef NFP_APP_AGENT_H
#define NFP_APP_AGENT_H

#include "nfp/tasks.h"

typedef struct nfp_agent_ nfp_agent;
struct nfp_agent_ {
  const char* kind;  // "expert"
  void* ctx;         // agent-private state (a policy workspace ...)
  // Start of an episode, called right after nfp_task_reset. 0 or -1 (error set).
  int (*reset)(nfp_agent* a, nfp_task* t);
  // Next joint target for the current state of t. 0 or -1 (error set).
  int (*act)(nfp_agent* a, nfp_task* t, double target[NFP_NJ]);
  void (*destroy)(nfp_agent* a);
};

// How to build an agent; each rollout thread builds its own from the same spec.
typedef struct {
  const char* kind;         // "expert"
  const char* policy_path;  // checkpoint, for agents that need one (NULL otherwise)
} nfp_agent_spec;

// Known kinds, for --help and error messages.
const char* nfp_agent_kinds(void);
// 0 if the spec names a known kind with what it needs, else -1 (error set).
int nfp_agent_check(const nfp_agent_spec* spec);
nfp_agent* nfp_agent_create(const nfp_agent_spec* spec);
void nfp_agent_free(nfp_agent* a);

#endif
