// The phased expert driver (expert.h) on a made-up three-phase script: phases
// begin once each and advance on the step both arms complete, the last phase
// holds, names and done follow, a zeroed state starts over, and a script's own
// step function replaces nfp_plan_step.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "expert.h"
#include "nfp/tasks.h"
#include "rig.h"
#include "task_checks.h"

enum { CLOSE_LEFT, CLOSE_RIGHT, END, NPHASE };
static const char* const kNames[NPHASE] = {"close_left", "close_right", "end"};
#define CLOSE_LEFT_STEPS 3
#define CLOSE_RIGHT_STEPS 5

typedef struct script_state_ {
  nfp_phased expert;
  int begun[NPHASE];   // begin calls per phase
  int own_steps;       // calls of the script's own step function
} script_state;

static void begin(nfp_task* t) {
  script_state* s = t->state;
  nfp_phased* p = &s->expert;
  s->begun[p->phase]++;
  switch (p->phase) {
    case CLOSE_LEFT:
      nfp_phased_hold(p, 1);
      nfp_plan_grip(&p->plan[NFP_LEFT], 0.0, CLOSE_LEFT_STEPS);
      break;
    case CLOSE_RIGHT:   // the left's move is short: it holds while the right closes
      nfp_phased_hold(p, 1);
      nfp_plan_grip(&p->plan[NFP_RIGHT], 0.0, CLOSE_RIGHT_STEPS);
      break;
    default:
      nfp_phased_hold(p, 1);
      break;
  }
}

static int own_step(nfp_task* t, int arm) {
  script_state* s = t->state;
  s->own_steps++;
  return nfp_plan_step(&s->expert.plan[arm], t, arm);
}

static const nfp_phase_script kScript = {.nphase = NPHASE, .names = kNames, .begin = begin};
static const nfp_phase_script kOwnStep = {
  .nphase = NPHASE, .names = kNames, .begin = begin, .step = own_step};

// The task with our script's state in place of its own (a shallow copy: the
// model, data and kinematics scratch stay the task's).
typedef struct harness_ {
  nfp_task t;
  script_state s;
} harness;

static void harness_init(harness* h, nfp_task* task) {
  nfp_task_reset(task, 100000);
  h->t = *task;
  memset(&h->s, 0, sizeof(h->s));
  h->t.state = &h->s;
}

static int setup(void** state) {
  *state = task_checks_open("lift_pot");
  return 0;
}

static void run_script(nfp_task* task, const nfp_phase_script* script) {
  harness h;
  harness_init(&h, task);
  nfp_task* t = &h.t;
  double target[NFP_NJ];
  assert_string_equal(nfp_phased_expert_phase(t), "");
  assert_false(nfp_phased_expert_done(t));

  // Phase 0 takes its 3 steps; the step that completes it enters phase 1.
  for (int k = 1; k <= CLOSE_LEFT_STEPS; k++) {
    nfp_phased_step(&h.s.expert, t, target, script);
    const char* due = k < CLOSE_LEFT_STEPS ? "close_left" : "close_right";
    assert_string_equal(nfp_phased_expert_phase(t), due);
    assert_true(target[nfp_rig_grip_slot(NFP_LEFT)] < 1.0);
    assert_true(target[nfp_rig_grip_slot(NFP_RIGHT)] == 1.0);
  }
  assert_true(target[nfp_rig_grip_slot(NFP_LEFT)] == 0.0);
  for (int k = 1; k <= CLOSE_RIGHT_STEPS; k++) {
    nfp_phased_step(&h.s.expert, t, target, script);
    assert_int_equal(nfp_phased_expert_done(t), k == CLOSE_RIGHT_STEPS);
  }
  assert_string_equal(nfp_phased_expert_phase(t), "end");
  assert_true(target[nfp_rig_grip_slot(NFP_LEFT)] == 0.0);
  assert_true(target[nfp_rig_grip_slot(NFP_RIGHT)] == 0.0);

  // The last phase holds: same command, no phase past it.
  double held[NFP_NJ];
  memcpy(held, target, sizeof(held));
  for (int k = 0; k < 4; k++) nfp_phased_step(&h.s.expert, t, target, script);
  assert_memory_equal(held, target, sizeof(held));
  assert_string_equal(nfp_phased_expert_phase(t), "end");
  assert_true(nfp_phased_expert_done(t));
  for (int i = 0; i < NPHASE; i++) assert_int_equal(h.s.begun[i], 1);
  // Both arms step on every call, through the script's own step when it has one.
  const int calls = CLOSE_LEFT_STEPS + CLOSE_RIGHT_STEPS + 4;
  assert_int_equal(h.s.own_steps, script->step ? 2 * calls : 0);

  // A zeroed state (as a reset leaves it) starts the script over from t->target.
  memset(&h.s, 0, sizeof(h.s));
  assert_string_equal(nfp_phased_expert_phase(t), "");
  nfp_phased_step(&h.s.expert, t, target, script);
  assert_string_equal(nfp_phased_expert_phase(t), "close_left");
  assert_int_equal(h.s.begun[CLOSE_LEFT], 1);
  assert_true(target[nfp_rig_grip_slot(NFP_LEFT)] > 0.0);
  assert_true(target[nfp_rig_grip_slot(NFP_RIGHT)] == 1.0);
}

static void test_phases_advance_and_hold(void** state) { run_script(*state, &kScript); }

static void test_own_step(void** state) { run_script(*state, &kOwnStep); }

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_phases_advance_and_hold),
    cmocka_unit_test(test_own_step),
  };
  return cmocka_run_group_tests(tests, setup, task_checks_teardown);
}
