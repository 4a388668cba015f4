// The phased expert: plans started once, stepped together, phases advanced in step.
#include "expert.h"

void nfp_phased_step(nfp_phased* p, nfp_task* t, double target[NFP_NJ],
                     const nfp_phase_script* script) {
  if (!p->script) {
    p->script = script;
    p->phase = 0;
    for (int a = 0; a < 2; a++) nfp_plan_start(&p->plan[a], t, a);
    script->begin(t);
  }
  // Both arms step every time (no short cut): each holds its last command once done.
  int done = 1;
  for (int a = 0; a < 2; a++) {
    done &= script->step ? script->step(t, a) : nfp_plan_step(&p->plan[a], t, a);
  }
  for (int a = 0; a < 2; a++) nfp_plan_write(target, &p->plan[a], a);
  if (done && p->phase < script->nphase - 1) {
    p->phase++;
    script->begin(t);
  }
}

void nfp_phased_hold(nfp_phased* p, int steps) {
  for (int a = 0; a < 2; a++) nfp_plan_grip(&p->plan[a], p->plan[a].grip, steps);
}

int nfp_phased_expert_done(const nfp_task* t) {
  const nfp_phased* p = t->state;
  return p->script && p->phase == p->script->nphase - 1;
}

const char* nfp_phased_expert_phase(const nfp_task* t) {
  const nfp_phased* p = t->state;
  return p->script ? p->script->names[p->phase] : "";
}
