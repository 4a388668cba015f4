// nfp_bridge: arms over ZeroMQ (bridge/PROTOCOL.md).
//
// The arm client is an nfp_arms, so the rollout runner drives a remote rig exactly as
// it drives the in-process simulator. The arm server wraps ANY nfp_arms (the simulated
// rig, a hardware driver from nfp/driver.h) and puts a safety layer between the wire and
// the arms that does not trust the policy: joint-limit clamp, per-step change limit from
// the measured position, command watchdog, heartbeat stop, emergency stop. Connections
// are CURVE-encrypted and only clients whose public key is on the allow-list get in;
// plain TCP exists only on loopback and only when asked for.
#ifndef NFP_BRIDGE_H
#define NFP_BRIDGE_H

#include <stdint.h>

#include "nfp/arms.h"

#ifdef __cplusplus
extern "C" {
#endif

//---------------------------------- keys -----------------------------------------------------

#define NFP_KEY_TEXT 41  // Z85 text of a 32-byte key, with its NUL

// Make a CURVE key pair: NAME.key (secret, mode 0600) and NAME.pub (public), each one
// line of Z85 text, written atomically. 0 or -1 (error set).
int nfp_bridge_keys_gen(const char* name);
// Read a secret key file (one line of 40 Z85 characters) into out. Refuses a NAME.pub
// (a public key used as a secret would let anyone holding the .pub in) and a file that
// group or others may access (chmod 600). 0 or -1.
int nfp_bridge_key_read_secret(char out[NFP_KEY_TEXT], const char* path);
// Read a public key file into out. Refuses a NAME.key (a secret key). 0 or -1.
int nfp_bridge_key_read_public(char out[NFP_KEY_TEXT], const char* path);
// Public key of a secret key (both Z85). 0 or -1.
int nfp_bridge_key_public(char pub[NFP_KEY_TEXT], const char* secret);
// Is this endpoint on this machine (tcp loopback, ipc, inproc)? Plain TCP needs it.
int nfp_bridge_endpoint_is_local(const char* endpoint);

//---------------------------------- client ---------------------------------------------------

typedef struct {
  const char* server_key;  // server's public key file (CURVE)
  const char* client_key;  // this client's secret key file (its public key must be allowed)
  int insecure;            // plain TCP, loopback only; the key files are then unused
  int control;             // 1: command the rig (default); 0: observe and e-stop only
  int timeout_ms;          // reply timeout (default 3000)
  // Camera frames: 0 (default) raw RGB8, bit-exact; 1..100 asks the server for JPEG frames
  // at this quality, decoded back into the same [cam_h][cam_w][3] buffer. The server may
  // decline (a rig without a camera): nfp_bridge_rig.jpeg_quality says what was agreed.
  int jpeg_quality;
} nfp_bridge_client_opts;

void nfp_bridge_client_opts_default(nfp_bridge_client_opts* o);
// Connect and handshake; the rig's self-description lands in the returned arms' info.
// NULL with a message (refused key, no server, protocol version, busy rig).
nfp_arms* nfp_arms_zmq_connect(const char* endpoint, const nfp_bridge_client_opts* o);
// Is this an arms made by nfp_arms_zmq_connect?
int nfp_arms_is_zmq(const nfp_arms* a);

// Rig details beyond nfp_arms_info, from the handshake (joint names, mode, safety).
typedef struct {
  int mode;                // 1 lock-step, 2 real-time
  double max_vel;          // rad/s, 0 = off
  int watchdog_ms, heartbeat_ms;  // the watchdog in effect (one period when set to auto)
  uint32_t gripper_mask;
  char joint_names[NFP_ARMS_MAX_NQ][32];
  int jpeg_quality;        // frames come as JPEG at this quality; 0: raw RGB8
} nfp_bridge_rig;
int nfp_arms_zmq_rig(const nfp_arms* a, nfp_bridge_rig* out);
// Bytes the last camera frame took on the wire (RGB8: 3 h w; JPEG: compressed), 0 when
// the last reply carried none.
uint32_t nfp_arms_zmq_frame_bytes(const nfp_arms* a);

// Safety state and counters of the server.
typedef struct {
  int state;               // 0 idle, 1 running, 2 holding, 3 stopped, 4 e-stopped
  int64_t step;
  double server_time;
  uint64_t commands, rejected, limit_clamps, rate_clamps, watchdog_holds, heartbeat_stops,
      estops, errors;
} nfp_bridge_status;

const char* nfp_bridge_state_name(int state);
int nfp_arms_zmq_status(nfp_arms* a, nfp_bridge_status* out);
int nfp_arms_zmq_heartbeat(nfp_arms* a);
// Emergency stop: the server holds and stops the rig until the next reset.
int nfp_arms_zmq_estop(nfp_arms* a);

//---------------------------------- server ---------------------------------------------------

typedef struct {
  // Arm joints: a target at most max_vel / control_hz from the measured position, rad/s
  // (0 = off).
  double max_vel;
  // Real-time: hold position when no valid command came for this long, checked at each
  // tick. 0 (the default): one control period, so the hold comes at most two control
  // periods after the last command, and a client that sends one per period never trips it.
  int watchdog_ms;
  int heartbeat_ms;        // stop when the controlling client is silent for this long
} nfp_bridge_safety;

typedef struct {
  const char* bind;        // "tcp://127.0.0.1:5555"; port * picks a free one
  int realtime;            // 0: lock-step (steps only on STEP); 1: own clock, latest command wins
  const char* server_key;  // server's secret key file (CURVE)
  const char* allow;       // file of allowed client public keys, one Z85 per line
  int insecure;            // plain TCP on loopback, no authentication
  nfp_bridge_safety safety;
  // Joint names for the handshake (NULL: the driver's, else "q0", "q1", ...). Grippers
  // (exempt from the rate limit) are the slots with range exactly 0..1 whose name ends
  // in "gripper", or every 0..1 slot when there are no names.
  const char (*joint_names)[32];
  int verbose;             // log sessions and safety events to stderr
} nfp_bridge_server_opts;

typedef struct nfp_bridge_server_ nfp_bridge_server;

void nfp_bridge_server_opts_default(nfp_bridge_server_opts* o);
// Bind and start authenticating (the arms stay owned by the caller and must outlive
// the server). NULL with a message.
nfp_bridge_server* nfp_bridge_server_create(nfp_arms* arms, const nfp_bridge_server_opts* o);
// The bound endpoint (with the port actually picked).
const char* nfp_bridge_server_endpoint(const nfp_bridge_server* s);
// Serve until nfp_bridge_server_stop. 0, or -1 (error set) when the rig failed.
int nfp_bridge_server_run(nfp_bridge_server* s);
// From any thread or a signal handler.
void nfp_bridge_server_stop(nfp_bridge_server* s);
// Snapshot of the safety state, from any thread.
void nfp_bridge_server_status(nfp_bridge_server* s, nfp_bridge_status* out);
void nfp_bridge_server_free(nfp_bridge_server* s);

//---------------------------------- safety (pure) --------------------------------------------

#define NFP_SAFETY_LIMIT 1  // a target was outside the joint limits
#define NFP_SAFETY_RATE 2   // a target was further than max_step from the joint's position

// out = target clamped into [q_lo, q_hi] and within max_step of the MEASURED joint
// position on every slot not in gripper_mask (max_step <= 0: no rate limit), so a joint
// held or pushed away from its target is never told to jump back to it: the goal is at
// most max_step from where the joint is (LeRobot's max_relative_target). Where a reading
// is not finite the rate limit measures from prev, the last target given. A NaN target
// goes to the lower limit; the joint limits win where the joint sits outside them.
// Returns NFP_SAFETY_* bits of what bit.
int nfp_bridge_safety_clamp(double* out, const double* target, const double* measured,
                            const double* prev, const nfp_arms_info* info,
                            uint32_t gripper_mask, double max_step);

#ifdef __cplusplus
}
#endif
#endif
