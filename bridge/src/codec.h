// The bridge's wire codec (bridge/PROTOCOL.md): fixed little-endian layouts behind a
// 16-byte header (magic, version, type, sequence number, payload length). Both the
// arm client and the arm server encode and decode only through these calls, and the
// decoder checks every size and field before anything else reads a message.
#ifndef NFP_BRIDGE_CODEC_H
#define NFP_BRIDGE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "nfp/arms.h"

#define NFP_WIRE_MAGIC 0x4250464Eu  // bytes "NFPB"
#define NFP_WIRE_VERSION 1
#define NFP_WIRE_HEADER 16
#define NFP_WIRE_MAX_REQUEST 4096                // largest client message accepted
#define NFP_WIRE_MAX_IMAGE_SIDE 2048
#define NFP_WIRE_MAX_MESSAGE (16u << 20)         // largest message either side reads
#define NFP_WIRE_NAME 64
#define NFP_WIRE_JOINT_NAME 32
#define NFP_WIRE_ERROR_TEXT 128

typedef enum {
  NFP_WIRE_HELLO = 1,       // client: open a session
  NFP_WIRE_RIG = 2,         // server: the rig describes itself (reply to HELLO)
  NFP_WIRE_RESET = 3,       // client: start an episode
  NFP_WIRE_OBSERVE = 4,     // client: current state
  NFP_WIRE_STEP = 5,        // client: joint targets for the coming control period
  NFP_WIRE_STATE = 6,       // server: an observation
  NFP_WIRE_HEARTBEAT = 7,   // client: still here
  NFP_WIRE_STATUS = 8,      // server: safety state and counters
  NFP_WIRE_STATUS_REQ = 9,  // client: ask for STATUS
  NFP_WIRE_ESTOP = 10,      // client: emergency stop (latched until RESET)
  NFP_WIRE_BYE = 11,        // client: end the session (the rig holds position)
  NFP_WIRE_ERROR = 15,      // server: the request was refused
} nfp_wire_type;

// Flags. Unknown bits are refused.
#define NFP_WIRE_HELLO_CONTROL 1u   // HELLO: this client commands the rig
#define NFP_WIRE_HELLO_JPEG 2u      // HELLO: this client takes JPEG frames (RIG says if agreed)
#define NFP_WIRE_WITH_IMAGE 1u      // RESET, OBSERVE, STEP: reply with the camera frame
#define NFP_WIRE_HOLD 2u            // STEP: hold position (target ignored)
// RESET, OBSERVE, STEP: bits 8..15 are the JPEG quality of the frame asked for (1..100),
// 0 for raw RGB8. Only after a RIG that agreed to JPEG frames.
#define NFP_WIRE_QUALITY_SHIFT 8
#define NFP_WIRE_QUALITY_MASK 0xff00u
#define NFP_WIRE_QUALITY(flags) (((flags) & NFP_WIRE_QUALITY_MASK) >> NFP_WIRE_QUALITY_SHIFT)
#define NFP_WIRE_S_HOLDING 1u       // STATE flags: the server holds position
#define NFP_WIRE_S_ESTOPPED 2u
#define NFP_WIRE_S_STOPPED 4u
#define NFP_WIRE_S_CLAMPED 8u       // the last command was clamped by the safety layer

typedef enum { NFP_WIRE_LOCKSTEP = 1, NFP_WIRE_REALTIME = 2 } nfp_wire_mode;
typedef enum { NFP_WIRE_RGB8 = 0, NFP_WIRE_JPEG = 1 } nfp_wire_encoding;
// Largest JPEG frame accepted for h x w: above TurboJPEG's worst case for any subsampling
// (tjBufSize with the sides rounded up to whole 16-pixel blocks), plus room for markers.
#define NFP_WIRE_JPEG_MAX_BYTES(h, w) \
  (6u * ((uint32_t)(h) + 15u) * ((uint32_t)(w) + 15u) + 4096u)

typedef enum {
  NFP_WIRE_E_MAGIC = 1,      // not an nfp bridge message
  NFP_WIRE_E_VERSION = 2,    // protocol version not spoken here
  NFP_WIRE_E_TYPE = 3,       // unknown type, or not a request
  NFP_WIRE_E_LENGTH = 4,     // truncated, oversized or length field wrong
  NFP_WIRE_E_FIELD = 5,      // a field out of range (nq, NaN, flags, ...)
  NFP_WIRE_E_SEQUENCE = 6,   // sequence number not after the last accepted one
  NFP_WIRE_E_LATE = 7,       // the command's deadline step has passed
  NFP_WIRE_E_ESTOPPED = 8,   // emergency stop latched; RESET clears it
  NFP_WIRE_E_BUSY = 9,       // another client commands the rig
  NFP_WIRE_E_SESSION = 10,   // no session or episode for this request
  NFP_WIRE_E_RIG = 11,       // the rig itself failed
  NFP_WIRE_E_STOPPED = 12,   // stopped on heartbeat loss; RESET resumes
} nfp_wire_error;

typedef enum {
  NFP_WIRE_ST_IDLE = 0,      // no episode yet
  NFP_WIRE_ST_RUNNING = 1,
  NFP_WIRE_ST_HOLDING = 2,   // watchdog or session end: holding the latched position
  NFP_WIRE_ST_STOPPED = 3,   // heartbeat lost: stopped until RESET
  NFP_WIRE_ST_ESTOP = 4,     // emergency stop latched until RESET
} nfp_wire_state_kind;

#define NFP_WIRE_NCOUNT 8
// STATUS counters, in wire order.
enum {
  NFP_WIRE_C_COMMANDS, NFP_WIRE_C_REJECTED, NFP_WIRE_C_LIMIT_CLAMPS, NFP_WIRE_C_RATE_CLAMPS,
  NFP_WIRE_C_WATCHDOG_HOLDS, NFP_WIRE_C_HEARTBEAT_STOPS, NFP_WIRE_C_ESTOPS, NFP_WIRE_C_ERRORS,
};

typedef struct {
  char name[NFP_WIRE_NAME];
  int nq;
  int mode;                  // nfp_wire_mode
  double control_hz;
  int step_cap;
  uint32_t gripper_mask;     // bit j: slot j is a gripper (range q_lo..q_hi, 0..1)
  double max_vel;            // rad/s per-step change limit (0: off)
  int watchdog_ms, heartbeat_ms;
  int n_cam;                 // 0 or 1
  char cam_name[NFP_WIRE_JOINT_NAME];
  int cam_h, cam_w;
  int cam_encoding;          // frames of this session: RGB8, or JPEG when HELLO asked for it
  double q_lo[NFP_ARMS_MAX_NQ], q_hi[NFP_ARMS_MAX_NQ];
  char joint_names[NFP_ARMS_MAX_NQ][NFP_WIRE_JOINT_NAME];
} nfp_wire_rig;

typedef struct {
  uint64_t obs_seq;
  int64_t step;
  double time, server_time;
  int success;
  uint32_t flags;            // NFP_WIRE_S_*
  int nq, n_object;
  int img_h, img_w, img_encoding;  // encoding 0 when there is no frame
  uint32_t img_bytes;        // RGB8: 3 h w; JPEG: the compressed size
  double qpos[NFP_ARMS_MAX_NQ], qvel[NFP_ARMS_MAX_NQ];
  double object[NFP_ARMS_MAX_OBJECT];
  const uint8_t* image;      // the frame's bytes as sent (RGB8 rows or a JPEG), in the message
                             // buffer (decode) or the caller's (encode)
} nfp_wire_state;

typedef struct {
  int state;                 // nfp_wire_state_kind
  int64_t step;
  double server_time;
  uint64_t count[NFP_WIRE_NCOUNT];
} nfp_wire_status;

typedef struct {
  int type;                  // nfp_wire_type
  uint32_t seq;
  union {
    struct { uint32_t flags; } hello;
    nfp_wire_rig rig;
    struct { uint64_t seed; uint32_t flags; } reset;
    struct { uint32_t flags; } observe;
    struct {
      uint32_t flags;
      int nq;
      int64_t deadline_step;   // refused once the rig's step counter is past it
      double target[NFP_ARMS_MAX_NQ];
    } step;
    nfp_wire_state state;
    nfp_wire_status status;
    struct { uint32_t reason; } estop;
    struct { int code; char message[NFP_WIRE_ERROR_TEXT]; } error;
  };
} nfp_wire_msg;

// Bytes the encoded message takes (header included).
size_t nfp_wire_size(const nfp_wire_msg* m);
// Encode into buf[cap]; returns the size, or 0 when cap is too small or the message
// breaks its own layout rules (error set).
size_t nfp_wire_encode(uint8_t* buf, size_t cap, const nfp_wire_msg* m);
// Decode and validate buf[n]. Returns 0, or an nfp_wire_error code with the reason in
// nfp_error_last(). m->type and m->seq hold the header's fields whenever the header
// itself was readable (so a refusal can echo the sequence number), else 0.
int nfp_wire_decode(nfp_wire_msg* m, const uint8_t* buf, size_t n);
// Is this type sent by clients?
int nfp_wire_is_request(int type);
const char* nfp_wire_type_name(int type);
const char* nfp_wire_error_name(int code);

#endif
