// The agent registry: each kind is a constructor filling the nfp_agent hooks.
#include "agent.h"

#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

// The scripted expert keeps its phase in the task state; it needs nothing of its own.
static int expert_reset(nfp_agent* a, nfp_task* t) {
  (void)a;
  (void)t;
  return 0;
}

static int expert_act(nfp_agent* a, nfp_task* t, double target[NFP_NJ]) {
  (void)a;
  nfp_task_expert(t, target);
  return 0;
}

static int expert_init(nfp_agent* a, const nfp_agent_spec* spec) {
  (void)spec;
  a->reset = expert_reset;
  a->act = expert_act;
  return 0;
}

typedef struct {
  const char* kind;
  int needs_policy;
  int (*init)(nfp_agent* a, const nfp_agent_spec* spec);
} agent_kind;

static const agent_kind kinds[] = {
    {"expert", 0, expert_init},
};
static const int nkinds = (int)(sizeof(kinds) / sizeof(kinds[0]));

const char* nfp_agent_kinds(void) {
  return "expert";
}

static const agent_kind* find_kind(const nfp_agent_spec* spec) {
  for (int i = 0; i < nkinds; i++) {
    if (spec->kind && !strcmp(spec->kind, kinds[i].kind)) return &kinds[i];
  }
  nfp_error_set("unknown agent '%s' (known: %s)", spec->kind ? spec->kind : "", nfp_agent_kinds());
  return NULL;
}

int nfp_agent_check(const nfp_agent_spec* spec) {
  const agent_kind* k = find_kind(spec);
  if (!k) return -1;
  if (k->needs_policy && !spec->policy_path) {
    return nfp_error_set("agent '%s' needs --policy FILE", k->kind);
  }
  return 0;
}

nfp_agent* nfp_agent_create(const nfp_agent_spec* spec) {
  if (nfp_agent_check(spec)) return NULL;
  const agent_kind* k = find_kind(spec);
  nfp_agent* a = calloc(1, sizeof(*a));
  if (!a) {
    nfp_error_set("out of memory creating an agent");
    return NULL;
  }
  a->kind = k->kind;
  if (k->init(a, spec)) {
    free(a);
    return NULL;
  }
  return a;
}

void nfp_agent_free(nfp_agent* a) {
  if (!a) return;
  if (a->destroy) a->destroy(a);
  free(a);
}
