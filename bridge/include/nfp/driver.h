// Hardware-driver interface: plug a physical rig into the arm server.
//
// A driver is a small table of C functions. nfp_arms_driver_open wraps it into an
// nfp_arms, which `nfp arms serve` (nfp_bridge_server) puts behind the bridge and its
// safety layer: the driver only ever sees targets that are finite, inside the limits it
// declared and rate-limited. bridge/README.md walks through writing one.
#ifndef NFP_DRIVER_H
#define NFP_DRIVER_H

#include "nfp/arms.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_driver_ {
  const char* name;
  // Connect to the rig described by `config` (a device path, a file ...), fill info (nq,
  // control_hz, limits, camera size) and joint_names. 0 or -1 (error set); *ctx is yours.
  int (*open)(void** ctx, const char* config, nfp_arms_info* info,
              char (*joint_names)[32]);
  // Present state (qpos, qvel; image when with_image and the rig has a camera).
  int (*read)(void* ctx, nfp_arms_obs* obs, int with_image);
  // Send joint targets for the coming control period.
  int (*write)(void* ctx, const double* target);
  // Stop now (brakes, zero velocity); called on emergency stop and heartbeat loss.
  int (*stop)(void* ctx);
  void (*close)(void* ctx);
} nfp_driver;

// An nfp_arms over a driver: reset reads the state (a real rig has no seeds), command
// stores the target (hold: the position read at the hold), step writes it and waits
// for the control period to end. NULL with a message.
nfp_arms* nfp_arms_driver_open(const nfp_driver* d, const char* config);
// The driver's joint names (NULL when `a` is not a driver arms).
const char (*nfp_arms_driver_joint_names(nfp_arms* a))[32];
// Call the driver's stop; 0 when `a` is not a driver arms (nothing to stop).
int nfp_arms_driver_stop(nfp_arms* a);

// Worked example needing no hardware: replays a recorded HDF5 episode (nfp collect's
// demos). config = the episode file. Each step advances one recorded frame (the state
// follows the recording, not the targets); after the last frame the rig stands still.
extern const nfp_driver nfp_driver_replay;
// Look a driver up by name ("replay"). NULL with a message.
const nfp_driver* nfp_driver_find(const char* name);

#ifdef __cplusplus
}
#endif
#endif
