// The agent registry: each kind is a constructor filling the nfp_agent hooks.
#include "nfp/agent.h"

#include <stdlib.h>
#include <string.h>

#include "nfp/arms_sim.h"
#include "nfp/error.h"

//---------------------------------- scripted expert ------------------------------------------

// The expert keeps its phase in the task state; it needs nothing of its own.
static int expert_reset(nfp_agent* a, nfp_arms* arms, uint64_t seed) {
  (void)a;
  (void)seed;
  if (!nfp_arms_sim_task(arms)) {
    return nfp_error_set("the scripted expert reads the simulator's state; it cannot drive '%s'",
                         arms->info.name);
  }
  return 0;
}

static int expert_act(nfp_agent* a, nfp_arms* arms, const nfp_arms_obs* obs, double* target,
                      nfp_agent_step* info) {
  (void)a;
  (void)obs;
  memset(info, 0, sizeof(*info));
  nfp_task_expert(nfp_arms_sim_task(arms), target);
  return 0;
}

static int expert_init(nfp_agent* a, const nfp_agent_spec* spec) {
  (void)spec;
  a->reset = expert_reset;
  a->act = expert_act;
  return 0;
}

//---------------------------------- NF-P policy ----------------------------------------------

typedef struct {
  const nfp_model* model;
  nfp_controller* controller;
} policy_agent;

static int policy_reset(nfp_agent* a, nfp_arms* arms, uint64_t seed) {
  policy_agent* p = a->ctx;
  const nfp_model_config* cfg = &p->model->cfg;
  if (cfg->n_cam > 0 && (arms->info.cam_h != cfg->img_src_h || arms->info.cam_w != cfg->img_src_w)) {
    return nfp_error_set("the policy was trained on %d x %d head-camera frames; %s gives %d x %d",
                         cfg->img_src_h, cfg->img_src_w, arms->info.name, arms->info.cam_h,
                         arms->info.cam_w);
  }
  nfp_controller_reset(p->controller, seed);
  return 0;
}

// Observation -> state frame -> the controller's next target (and its plan statistics).
static int policy_act(nfp_agent* a, nfp_arms* arms, const nfp_arms_obs* obs, double* target,
                      nfp_agent_step* info) {
  policy_agent* p = a->ctx;
  double state[NFP_ARMS_MAX_NQ + NFP_ARMS_MAX_OBJECT];
  if (nfp_state_frame(state, p->model->cfg.state_dim, obs->qpos, arms->info.nq, obs->object,
                      obs->n_object, arms->info.name)) {
    return -1;
  }
  nfp_controller_info ci;
  if (nfp_controller_act(p->controller, state, obs->image, target, &ci)) return -1;
  info->planned = ci.planned;
  info->plan_ms = ci.plan_ms;
  info->loglik = ci.loglik;
  info->hold = ci.held;
  info->chunk = ci.chunk;
  return 0;
}

static void policy_destroy(nfp_agent* a) {
  policy_agent* p = a->ctx;
  nfp_controller_free(p->controller);
  free(p);
}

static int policy_init(nfp_agent* a, const nfp_agent_spec* spec) {
  if (!spec->model) return nfp_error_set("agent 'policy': no model loaded");
  policy_agent* p = calloc(1, sizeof(*p));
  if (!p) return nfp_error_set("out of memory creating a policy agent");
  p->model = spec->model;
  p->controller = nfp_controller_create(spec->model, &spec->controller);
  if (!p->controller) {
    free(p);
    return -1;
  }
  a->ctx = p;
  a->wants_image = spec->model->cfg.n_cam > 0;
  a->reset = policy_reset;
  a->act = policy_act;
  a->destroy = policy_destroy;
  return 0;
}

int nfp_agent_wants_image(const nfp_agent* a) {
  if (!a->wants_image) return 0;
  const nfp_controller* c = nfp_agent_controller((nfp_agent*)a);
  return !c || nfp_controller_will_plan(c);
}

//---------------------------------- registry -------------------------------------------------

typedef struct {
  const char* kind;
  int needs_policy;
  int (*init)(nfp_agent* a, const nfp_agent_spec* spec);
} agent_kind;

static const agent_kind kinds[] = {
    {"expert", 0, expert_init},
    {"policy", 1, policy_init},
};
static const int nkinds = (int)(sizeof(kinds) / sizeof(kinds[0]));

const char* nfp_agent_kinds(void) { return "expert, policy"; }

static const agent_kind* find_kind(const char* kind) {
  for (int i = 0; i < nkinds; i++) {
    if (kind && !strcmp(kind, kinds[i].kind)) return &kinds[i];
  }
  nfp_error_set("unknown agent '%s' (known: %s)", kind ? kind : "", nfp_agent_kinds());
  return NULL;
}

int nfp_agent_needs_policy(const char* kind) {
  const agent_kind* k = find_kind(kind);
  return k ? k->needs_policy : 0;
}

int nfp_agent_check(const nfp_agent_spec* spec) {
  const agent_kind* k = find_kind(spec->kind);
  if (!k) return -1;
  if (k->needs_policy && !spec->policy_path) {
    return nfp_error_set("agent '%s' needs --policy FILE", k->kind);
  }
  if (!k->needs_policy && spec->policy_path) {
    return nfp_error_set("agent '%s' takes no --policy (drop --policy %s, or use --agent policy)",
                         k->kind, spec->policy_path);
  }
  return 0;
}

nfp_agent* nfp_agent_create(const nfp_agent_spec* spec) {
  if (nfp_agent_check(spec)) return NULL;
  const agent_kind* k = find_kind(spec->kind);
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

nfp_controller* nfp_agent_controller(nfp_agent* a) {
  return a && a->destroy == policy_destroy ? ((policy_agent*)a->ctx)->controller : NULL;
}

void nfp_agent_free(nfp_agent* a) {
  if (!a) return;
  if (a->destroy) a->destroy(a);
  free(a);
}
