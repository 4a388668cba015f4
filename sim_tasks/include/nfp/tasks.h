// nfp_tasks: the simulated bi-manual rig and the task registry.
//
// The joint interface is 14 numbers, ALOHA order:
//   [0..5]  left arm joints (rad)   [6]  left gripper  (0 = closed .. 1 = open)
//   [7..12] right arm joints (rad)  [13] right gripper (0 = closed .. 1 = open)
// Observations (qpos, qvel) and commands (joint-position targets) use this layout.
//
// A task owns one mjModel (read-only after load) and one mjData (mutable state).
// A seed fully determines an episode: reset(seed) randomises the set-up with
// nfp_rng seeded by it, and the scripted expert is deterministic given the state.
#ifndef NFP_TASKS_H
#define NFP_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include <mujoco/mujoco.h>

#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_NJ 14        // width of the joint interface
#define NFP_ARM_DOF 6    // joints per arm
#define NFP_LEFT 0
#define NFP_RIGHT 1

// Where the rig's pieces live inside a loaded model (resolved once by name).
typedef struct nfp_rig_ {
  int arm_qadr[2][NFP_ARM_DOF];   // qpos address of each arm joint
  int arm_dofadr[2][NFP_ARM_DOF]; // qvel/dof address of each arm joint
  int finger_qadr[2][2];          // qpos address of the two finger slides
  int finger_dofadr[2][2];
  int actuator[NFP_NJ];           // actuator id for each interface slot
  int grasp_site[2];              // site between the fingertips of each arm
  int base_body[2];               // arm base body (its frame says where the arm faces)
  int head_camera;                // camera id of "head"
  double finger_open;             // finger slide travel (m) that means "1 = open"
} nfp_rig;

typedef struct nfp_task_ nfp_task;

// One registry entry: a task is one source file plus its MJCF.
typedef struct nfp_task_def_ {
  const char* name;          // "lift_pot"
  const char* mjcf;          // path relative to the asset folder
  const char* summary;       // one line for --help and listings
  int step_cap;              // policy/expert control steps before failure
  size_t state_size;         // bytes of per-episode task state (expert phase, ...)
  // Check a freshly loaded model has the task's own elements; 0, or -1 with the error set.
  int (*check)(const mjModel* m);
  // Randomise the set-up; called after mj_resetData with the rig at its home pose.
  void (*reset)(nfp_task* t, nfp_rng* rng);
  // Next 14-D joint target of the scripted expert (may update its phase state).
  void (*expert)(nfp_task* t, double target[NFP_NJ]);
  // 1 when the scripted expert has played its whole script (it then holds still).
  int (*expert_done)(const nfp_task* t);
  // Name of the expert's current phase ("grasp", ...), for logs and the viewer.
  const char* (*expert_phase)(const nfp_task* t);
  // 1 when the success condition holds in the current state.
  int (*success)(const nfp_task* t);
  // Object state for demos (positions, quaternions ...); returns the count written (<= cap).
  int (*object_state)(const nfp_task* t, double* out, int cap);
  // Optional, for a task whose set-up range, expert and success are symmetric under the
  // left-right mirror x -> -x: the n object-state values of the mirrored scene. 0, or -1
  // with the error set (n is not this task's width). NULL: not symmetric.
  int (*mirror_object)(double* out, const double* in, int n);
  // 1: nfp train (--mirror auto) adds the mirror images of the demos, where that was
  // measured to help; a symmetric task without it still takes --mirror on.
  int mirror_by_default;
  // 1: a recorded demo runs on after the success to the end of the expert's script
  // (letting go, retracting), for a task whose policy must learn that part too.
  // 0: it ends once the success has held. Demos that end in the script's still hold
  // teach the policy to stall near the goal.
  int demo_runs_on;
} nfp_task_def;

struct nfp_task_ {
  const nfp_task_def* def;
  mjModel* m;          // read-only after load
  mjData* d;
  nfp_rig rig;
  uint64_t seed;
  int step;            // control steps taken since reset
  int substeps;        // physics steps per control step
  double control_dt;   // seconds per control step
  double target[NFP_NJ];  // last commanded target
  void* state;         // def->state_size bytes, zeroed at reset
  mjData* kin;         // kinematics scratch for IK and the experts; never stepped
  int attached;        // 1: m and d belong to the caller (nfp_task_attach)
};

// Registry.
int nfp_task_count(void);
const nfp_task_def* nfp_task_at(int i);
const nfp_task_def* nfp_task_find(const char* name);   // NULL if unknown
// Comma-separated names of the known tasks, for error messages.
const char* nfp_task_names(void);

// Default asset folder: $NFP_ASSETS if set, else the one compiled in.
const char* nfp_asset_dir(void);

// Load a task's model. NULL on failure, with nfp_error_last() saying why
// (unknown task lists the known ones; a missing or broken MJCF names the file).
nfp_task* nfp_task_create(const char* name, const char* asset_dir);
// Run a task definition on a model and data the caller owns (a MuJoCo plugin's host,
// say): m must hold the rig and the task's elements; m and d outlive the task, which
// never writes m. nfp_task_free then frees only what the task made. NULL with a message.
nfp_task* nfp_task_attach(const char* name, const mjModel* m, mjData* d);
void nfp_task_free(nfp_task* t);

// Start an episode: home pose, seeded set-up, settle.
void nfp_task_reset(nfp_task* t, uint64_t seed);
// The same on data the caller has just reset with mj_resetData (nfp_task_reset is
// mj_resetData + this): for hosts that reset the data themselves.
void nfp_task_setup(nfp_task* t, uint64_t seed);
// Command a 14-D joint target and advance one control period. The target is
// clamped to the joint and gripper limits first. One control period is
// `substeps` physics steps: 30 x 2 ms = 60 ms, i.e. about 16.7 Hz as RoboTwin.
void nfp_task_step(nfp_task* t, const double target[NFP_NJ]);
// Current joint positions and velocities in interface layout.
void nfp_task_observe(const nfp_task* t, double qpos[NFP_NJ], double qvel[NFP_NJ]);
void nfp_task_expert(nfp_task* t, double target[NFP_NJ]);
int nfp_task_success(const nfp_task* t);
// An episode succeeds once nfp_task_success has held this many control steps in a row
// (nfp eval, collect and view; the nfp.task plugin counts the same way).
#define NFP_SUCCESS_HOLD 3
// The control steps in a row the success check has held, after one more step whose
// check gave `success`. It stops at NFP_SUCCESS_HOLD: the episode has succeeded for good.
int nfp_task_success_count(int held, int success);
// 1 once the scripted expert has finished its script (collectors may stop there).
int nfp_task_expert_done(const nfp_task* t);
// Name of the expert's current phase ("" before the first expert step).
const char* nfp_task_expert_phase(const nfp_task* t);
int nfp_task_object_state(const nfp_task* t, double* out, int cap);
// The left-right mirror image (x -> -x) of an object state of a symmetric task (n values,
// out != in). 0, or -1 with the error set: the task is not symmetric, or n is wrong.
int nfp_task_mirror_object(const nfp_task_def* def, double* out, const double* in, int n);

// Control rate of the rig (Hz).
double nfp_task_control_hz(const nfp_task* t);

// The rig inside any model that holds it (a plugin host's, say); the task calls
// above are built on these.
// Find every rig element by name ("left_j1" ... "right_gripper", "head").
// 0, or -1 with the error naming the first missing element.
int nfp_rig_resolve(nfp_rig* rig, const mjModel* m);
// Clamp an interface target to the actuators' control ranges (joint limits
// and gripper 0..1), in place.
void nfp_rig_clamp(double target[NFP_NJ], const nfp_rig* rig, const mjModel* m);
// Write an interface target into d->ctrl (gripper 0..1 -> finger travel).
void nfp_rig_ctrl(mjData* d, const nfp_rig* rig, const double target[NFP_NJ]);
// Read joint positions and velocities in interface layout (gripper normalised);
// either output may be NULL.
void nfp_rig_observe(double qpos[NFP_NJ], double qvel[NFP_NJ], const nfp_rig* rig,
                     const mjData* d);
// Place the rig at interface joint positions q directly (no dynamics).
void nfp_rig_set_qpos(mjData* d, const nfp_rig* rig, const double q[NFP_NJ]);
// The joint interface of the left-right mirrored rig (x -> -x; out != in). The arms swap.
// Each arm sees the mirror as a reflection across its own x-z plane (the right arm is the
// left one turned half a turn), so the joints about the arm's z and x axes (j1, j4, j6)
// change sign, the joints about y (j2, j3, j5) and the grippers do not.
void nfp_rig_mirror(double out[NFP_NJ], const double in[NFP_NJ]);
// A pose (position, then quaternion w x y z) of a body that is itself symmetric across
// its own y-z plane, mirrored x -> -x (out != in).
void nfp_pose_mirror(double out[7], const double in[7]);

#ifdef __cplusplus
}
#endif
#endif
