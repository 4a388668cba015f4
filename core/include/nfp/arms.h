// nfp_arms: the one interface through which anything drives a pair of arms.
//
// Headless evaluation, the viewer, the plugin host and the real-robot run all talk to
// arms only through these calls, so the simulated rig (in process), a remote rig
// behind the ZeroMQ bridge, and physical hardware are interchangeable. Policy code
// never learns which one it drives.
//
// A control cycle is: observe -> command(target) -> step. step advances one control
// period (the simulator integrates it; a real rig waits for the period to pass).
// Plain C with no simulator or network types, so any backend can implement it.
#ifndef NFP_ARMS_H
#define NFP_ARMS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_ARMS_MAX_NQ 32
#define NFP_ARMS_MAX_OBJECT 64

// What a rig says about itself (the bridge's handshake carries the same fields).
typedef struct nfp_arms_info_ {
  char name[64];              // "sim:lift_pot", "tcp://...", a driver name
  int nq;                     // joint interface width (14 for the bi-manual rig)
  double control_hz;          // control steps per second
  double q_lo[NFP_ARMS_MAX_NQ], q_hi[NFP_ARMS_MAX_NQ];  // target limits (grippers 0..1)
  int cam_h, cam_w;           // head camera size (0 if none)
  int step_cap;               // control steps per episode (0 = none)
} nfp_arms_info;

typedef struct nfp_arms_obs_ {
  double qpos[NFP_ARMS_MAX_NQ];
  double qvel[NFP_ARMS_MAX_NQ];
  double time;                // seconds since reset
  int64_t step;               // control steps since reset
  int success;                // task success as the rig judges it: 1, 0, or -1 (unknown)
  // Object state the rig can measure (a simulator's object poses, a tracker's), in the
  // layout the task's demos record; n_object = 0 when the rig has none.
  double object[NFP_ARMS_MAX_OBJECT];
  int n_object;
  const uint8_t* image;       // [cam_h][cam_w][3] when requested and available, else NULL
} nfp_arms_obs;

typedef struct nfp_arms_ nfp_arms;

typedef struct nfp_arms_ops_ {
  // Start an episode; a simulator lays out the seeded set-up, a real rig may ignore seed.
  int (*reset)(nfp_arms* a, uint64_t seed);
  // Current state; with_image asks for the head camera (valid until the next call).
  int (*observe)(nfp_arms* a, nfp_arms_obs* obs, int with_image);
  // Joint targets for the coming control period. hold = 1 asks the rig to keep its
  // present position instead (the policy's confidence gate); target is then ignored.
  int (*command)(nfp_arms* a, const double* target, int hold);
  // Advance one control period.
  int (*step)(nfp_arms* a);
  void (*close)(nfp_arms* a);
} nfp_arms_ops;

struct nfp_arms_ {
  const nfp_arms_ops* ops;
  nfp_arms_info info;
  void* impl;                 // backend state
};

// Thin dispatchers; each returns 0 or -1 with nfp_error_last() set.
static inline int nfp_arms_reset(nfp_arms* a, uint64_t seed) { return a->ops->reset(a, seed); }
static inline int nfp_arms_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  return a->ops->observe(a, obs, with_image);
}
static inline int nfp_arms_command(nfp_arms* a, const double* target, int hold) {
  return a->ops->command(a, target, hold);
}
static inline int nfp_arms_step(nfp_arms* a) { return a->ops->step(a); }
static inline void nfp_arms_close(nfp_arms* a) {
  if (a) a->ops->close(a);
}

#ifdef __cplusplus
}
#endif
#endif
