// The phased expert shared by the scripted tasks: a script is a list of phases;
// entering a phase sets both arms' plans (motion.h) once, the plans run, and the
// script enters the next phase on the step both complete. The last phase is the
// end: the expert stays there, holding the plans' last command.
//
//   typedef struct my_state_ { nfp_phased expert; ... } my_state;   // first member
//   static void begin_phase(nfp_task* t) { my_state* s = t->state; switch (s->expert.phase) ... }
//   static const nfp_phase_script kScript = {.nphase = NPHASE, .names = kPhaseName,
//                                            .begin = begin_phase};
//   expert():            nfp_phased_step(&s->expert, t, target, &kScript);
//   nfp_task_def fields: .expert_done = nfp_phased_expert_done,
//                        .expert_phase = nfp_phased_expert_phase
#ifndef NFP_EXPERT_H
#define NFP_EXPERT_H

#include "motion.h"

// A task's script, constant: its phases in order and how each one begins.
typedef struct nfp_phase_script_ {
  int nphase;                  // phases, the last one the end ("done")
  const char* const* names;    // nphase names, for logs and the viewer
  // Set both plans for the phase just entered; the task state says which phase.
  void (*begin)(nfp_task* t);
  // Optional motion of the script's own: advance arm `arm` one control step in the
  // current phase, 1 once its move is complete. NULL: nfp_plan_step on the arm's plan.
  int (*step)(nfp_task* t, int arm);
} nfp_phase_script;

// Where an episode's script stands. Zero (as nfp_task_reset leaves the task state)
// means not started.
typedef struct nfp_phased_ {
  const nfp_phase_script* script;   // NULL until the episode's first expert step
  int phase;                        // 0 .. script->nphase - 1
  nfp_arm_plan plan[2];             // NFP_LEFT, NFP_RIGHT
} nfp_phased;

// One expert control step. The first of an episode starts both plans from the
// task's last target (t->target) and begins phase 0. Then both arms step, their
// commands go into target, and once both moves are complete the next phase begins.
void nfp_phased_step(nfp_phased* p, nfp_task* t, double target[NFP_NJ],
                     const nfp_phase_script* script);

// Both arms keep their pose and gripper for `steps` (a phase's default: the
// begin callback then gives the arms that move their own plans).
void nfp_phased_hold(nfp_phased* p, int steps);

// nfp_task_def.expert_done and .expert_phase for a task whose state starts with
// its nfp_phased: 1 once the last phase is reached; the current phase's name, ""
// before the first expert step.
int nfp_phased_expert_done(const nfp_task* t);
const char* nfp_phased_expert_phase(const nfp_task* t);

#endif
