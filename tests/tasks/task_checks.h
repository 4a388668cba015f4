// Checks every task test makes (cmocka): the task opens and is registered,
// seeded resets repeat exactly, and the scripted expert plays its phases in
// order to success with MuJoCo silent. A test walks the expert itself so that
// it can add its own checks along the way:
//
//   expert_run run;
//   expert_run_start(&run, t, seed, order, nphase);
//   const char* entered;
//   while (expert_run_step(&run, &entered)) { ... }   // entered: a phase, or NULL
//   expert_run_finish(&run);
#ifndef NFP_TEST_TASK_CHECKS_H
#define NFP_TEST_TASK_CHECKS_H

#include <stdint.h>

#include "nfp/tasks.h"

// cmocka group set-up body: the task `name` from the test assets (the test
// fails with the error when it does not load); from here on MuJoCo's warnings
// are counted (and still printed).
nfp_task* task_checks_open(const char* name);
// cmocka group teardown: frees the task in *state.
int task_checks_teardown(void** state);

// MuJoCo warnings raised so far in this program, on any mjData (the task's
// data and its kinematics scratch alike).
int task_checks_warnings(void);

// Yaw about z of a quaternion that only turns about z: (cos y/2, 0, 0, sin y/2).
double task_checks_yaw(const double quat[4]);

// The registry finds t's definition under `name`, with this step cap.
void check_registered(const nfp_task* t, const char* name, int step_cap);

// Resetting to `seed` twice gives the same state and object state; so does
// running the expert `steps` steps from it twice, with an episode of
// `other_seed` (`other_steps` expert steps) in between that must not leak.
void check_reset_deterministic(nfp_task* t, uint64_t seed, int steps, uint64_t other_seed,
                               int other_steps);

// Puts `bodies` at `poses` (position, quaternion each; free joints or mocap), then forward.
void task_checks_place(nfp_task* t, const char* const* bodies, int nbodies, const double* poses);

// The mirror image of the expert's episode from `seed` (nfp_rig_mirror on its targets,
// the task's mirror on its set-up) succeeds in the mirrored set-up, and the objects end
// within `tol` (m) of the mirror image of where the expert left them. The object state
// must be the poses (position, quaternion) of `bodies`, in order: free joints or mocap.
void check_mirror_image(nfp_task* t, uint64_t seed, const char* const* bodies, int nbodies,
                        double tol);

// One expert episode under test: the phases come in `order`, each at least once.
typedef struct expert_run_ {
  nfp_task* t;
  const char* const* order;
  int nphase;
  int next;               // phases entered so far
  int warnings;           // task_checks_warnings() at the start
  double target[NFP_NJ];
} expert_run;

// Reset to `seed` and check the fresh episode: no success, expert not started.
void expert_run_start(expert_run* r, nfp_task* t, uint64_t seed, const char* const* order,
                      int nphase);
// One expert step; 0 (and no step) once the script is done or at the step cap.
// Fails on a phase out of order. *entered (when not NULL): the phase this step
// entered, else NULL.
int expert_run_step(expert_run* r, const char** entered);
// The episode's end: every phase entered, script done before the step cap,
// success, and no MuJoCo warning (mjData counters and the warning callback).
void expert_run_finish(const expert_run* r);

#endif
