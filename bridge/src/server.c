// The arm server: one ROUTER socket in front of any nfp_arms, with the safety layer
// between what arrives and what the arms are told.
//
// Lock-step: the rig moves only when the controlling client sends STEP (one round trip
// per control period), so a simulated episode through the bridge is the in-process one.
// Real-time: the server steps on its own clock at the rig's control rate; the newest
// command wins, a STEP is answered after the next tick, and the watchdog holds position
// when commands stop coming (by default at the first tick more than one control period
// after the last command, so within two periods of it).
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "endpoint.h"
#include "jpeg.h"
#include "nfp/bridge.h"
#include "nfp/clock.h"
#include "nfp/driver.h"
#include "nfp/error.h"
#include "zap.h"

#define MAX_ID 256
#define MAX_WAITERS 8

typedef struct {
  uint8_t id[MAX_ID];
  size_t len;
} peer_id;

struct nfp_bridge_server_ {
  nfp_arms* arms;
  nfp_bridge_server_opts opts;
  nfp_wire_rig rig;
  void* ctx;
  void* sock;
  nfp_zap zap;
  char endpoint[256];
  atomic_int stop;
  double t0;
  uint8_t* out;  // encode buffer
  size_t out_cap;
  // JPEG frames: the last one compressed, reused for replies of the same observation
  nfp_jpeg codec;
  uint64_t jpeg_obs;
  int jpeg_quality;
  size_t jpeg_bytes;
  // the controlling session
  int has_ctl;
  peer_id ctl;
  uint32_t ctl_seq;
  double ctl_last;  // server time of its last accepted message
  // the episode
  int state;        // nfp_wire_state_kind
  int64_t step;
  uint64_t obs_seq;
  double prev[NFP_ARMS_MAX_NQ];       // last target the arms were given
  double hold_q[NFP_ARMS_MAX_NQ];     // latched position while holding
  uint32_t last_flags;                // NFP_WIRE_S_CLAMPED of the last command
  // real-time: the newest command and who waits for the next tick
  int have_cmd, cmd_hold;
  int64_t cmd_deadline;
  double cmd[NFP_ARMS_MAX_NQ];
  double last_cmd;                    // server time of the last valid command
  double next_tick;                   // when the next tick is due (during tick(): this one)
  double watchdog_s;                  // hold after this long without a valid command
  struct {
    peer_id who;
    uint32_t seq;
    uint32_t flags;                   // the STEP's: frame or not, raw or JPEG
  } wait[MAX_WAITERS];
  int n_wait;
  // counters, under lock for nfp_bridge_server_status
  pthread_mutex_t lock;
  uint64_t count[NFP_WIRE_NCOUNT];
};

static double server_time(const nfp_bridge_server* s) { return nfp_clock_seconds() - s->t0; }

static void logf_(const nfp_bridge_server* s, const char* fmt, ...) {
  if (!s->opts.verbose) return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "nfp bridge [%.3f s]: ", server_time(s));
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static void bump(nfp_bridge_server* s, int counter) {
  pthread_mutex_lock(&s->lock);
  s->count[counter]++;
  pthread_mutex_unlock(&s->lock);
}

static void set_state(nfp_bridge_server* s, int state) {
  pthread_mutex_lock(&s->lock);
  s->state = state;
  pthread_mutex_unlock(&s->lock);
}

//---------------------------------- replies --------------------------------------------------

static int send_msg(nfp_bridge_server* s, const peer_id* to, const nfp_wire_msg* m) {
  size_t need = nfp_wire_size(m);
  if (need > s->out_cap) {
    uint8_t* p = realloc(s->out, need);
    if (!p) return nfp_error_set("out of memory encoding a reply");
    s->out = p;
    s->out_cap = need;
  }
  size_t n = nfp_wire_encode(s->out, s->out_cap, m);
  if (!n) return -1;
  // A peer that went away makes ROUTER drop the reply; that is fine.
  zmq_send(s->sock, to->id, to->len, ZMQ_SNDMORE | ZMQ_DONTWAIT);
  zmq_send(s->sock, s->out, n, ZMQ_DONTWAIT);
  return 0;
}

static void send_error(nfp_bridge_server* s, const peer_id* to, uint32_t seq, int code,
                       const char* text) {
  nfp_wire_msg m = {.type = NFP_WIRE_ERROR, .seq = seq};
  m.error.code = code;
  snprintf(m.error.message, sizeof(m.error.message), "%s", text);
  for (char* c = m.error.message; *c; c++) {
    if (*c < 0x20 || *c > 0x7e) *c = '?';
  }
  bump(s, NFP_WIRE_C_ERRORS);
  logf_(s, "refused seq %u: %s (%s)", seq, nfp_wire_error_name(code), m.error.message);
  send_msg(s, to, &m);
}

static void fill_status(nfp_bridge_server* s, nfp_wire_status* st) {
  pthread_mutex_lock(&s->lock);
  st->state = s->state;
  st->step = s->step;
  memcpy(st->count, s->count, sizeof(st->count));
  pthread_mutex_unlock(&s->lock);
  st->server_time = server_time(s);
}

static void send_status(nfp_bridge_server* s, const peer_id* to, uint32_t seq) {
  nfp_wire_msg m = {.type = NFP_WIRE_STATUS, .seq = seq};
  fill_status(s, &m.status);
  send_msg(s, to, &m);
}

static uint32_t state_flags(const nfp_bridge_server* s) {
  uint32_t f = s->last_flags;
  if (s->state == NFP_WIRE_ST_HOLDING) f |= NFP_WIRE_S_HOLDING;
  if (s->state == NFP_WIRE_ST_ESTOP) f |= NFP_WIRE_S_ESTOPPED;
  if (s->state == NFP_WIRE_ST_STOPPED) f |= NFP_WIRE_S_STOPPED;
  return f;
}

// Observe the arms into a STATE message (the image stays in the arms' buffer).
static int observe(nfp_bridge_server* s, nfp_wire_msg* m, nfp_arms_obs* obs, int with_image) {
  with_image = with_image && s->rig.n_cam;
  if (nfp_arms_observe(s->arms, obs, with_image)) return -1;
  memset(m, 0, sizeof(*m));
  m->type = NFP_WIRE_STATE;
  nfp_wire_state* st = &m->state;
  st->obs_seq = ++s->obs_seq;
  st->step = obs->step < 0 ? 0 : obs->step;
  st->time = obs->time;
  st->server_time = server_time(s);
  st->success = obs->success < -1 ? -1 : obs->success > 1 ? 1 : obs->success;
  st->flags = state_flags(s);
  st->nq = s->rig.nq;
  st->n_object = obs->n_object < 0 ? 0 : obs->n_object;
  memcpy(st->qpos, obs->qpos, sizeof(double) * (size_t)st->nq);
  memcpy(st->qvel, obs->qvel, sizeof(double) * (size_t)st->nq);
  memcpy(st->object, obs->object, sizeof(double) * (size_t)st->n_object);
  if (with_image && obs->image) {
    st->img_h = s->rig.cam_h;
    st->img_w = s->rig.cam_w;
    st->img_bytes = 3u * (uint32_t)st->img_h * (uint32_t)st->img_w;
    st->image = obs->image;
  }
  s->step = st->step;
  return 0;
}

// The raw frame st carries -> a JPEG at quality (0: stays raw), which st then carries.
// The last JPEG is reused for another reply of the same observation and quality. 0 or -1.
static int frame_to_jpeg(nfp_bridge_server* s, nfp_wire_state* st, int quality) {
  if (!quality || !st->img_bytes) return 0;
  if (s->jpeg_obs != st->obs_seq || s->jpeg_quality != quality) {
    const uint8_t* data;
    s->jpeg_quality = 0;
    size_t n = nfp_jpeg_encode(&s->codec, st->image, st->img_h, st->img_w, quality, &data);
    if (!n) return -1;
    s->jpeg_obs = st->obs_seq;
    s->jpeg_quality = quality;
    s->jpeg_bytes = n;
  }
  st->img_encoding = NFP_WIRE_JPEG;
  st->img_bytes = (uint32_t)s->jpeg_bytes;
  st->image = s->codec.buf;
  return 0;
}

// Observation m as one request's flags ask for it (frame or not, raw or JPEG) -> to.
static void reply_state(nfp_bridge_server* s, const peer_id* to, uint32_t seq,
                        const nfp_wire_msg* m, uint32_t flags) {
  nfp_wire_msg r = *m;
  r.seq = seq;
  if (!(flags & NFP_WIRE_WITH_IMAGE)) {
    r.state.img_h = r.state.img_w = r.state.img_encoding = 0;
    r.state.img_bytes = 0;
    r.state.image = NULL;
  }
  if (frame_to_jpeg(s, &r.state, (int)NFP_WIRE_QUALITY(flags)) || send_msg(s, to, &r)) {
    send_error(s, to, seq, NFP_WIRE_E_RIG, nfp_error_last());
  }
}

// Observe now -> a STATE as the request's flags ask (frame, encoding) -> to.
static void send_state(nfp_bridge_server* s, const peer_id* to, uint32_t seq, uint32_t flags) {
  nfp_wire_msg m;
  nfp_arms_obs obs;
  if (observe(s, &m, &obs, (flags & NFP_WIRE_WITH_IMAGE) != 0)) {
    send_error(s, to, seq, NFP_WIRE_E_RIG, nfp_error_last());
    return;
  }
  reply_state(s, to, seq, &m, flags);
}

//---------------------------------- safety ---------------------------------------------------

// Give the arms a target through the clamp, which limits the step from the measured
// position. hold: the client's confidence gate, passed through as the rig defines it
// (keep the present target).
static int command(nfp_bridge_server* s, const double* target, int hold) {
  if (hold) {
    s->last_flags = 0;
    return nfp_arms_command(s->arms, s->prev, 1);
  }
  nfp_arms_obs obs;
  if (nfp_arms_observe(s->arms, &obs, 0)) return -1;
  double q[NFP_ARMS_MAX_NQ];
  double max_step = s->opts.safety.max_vel / s->rig.control_hz;
  int hit = nfp_bridge_safety_clamp(q, target, obs.qpos, s->prev, &s->arms->info,
                                    s->rig.gripper_mask, max_step);
  if (hit & NFP_SAFETY_LIMIT) bump(s, NFP_WIRE_C_LIMIT_CLAMPS);
  if (hit & NFP_SAFETY_RATE) bump(s, NFP_WIRE_C_RATE_CLAMPS);
  s->last_flags = hit ? NFP_WIRE_S_CLAMPED : 0;
  if (nfp_arms_command(s->arms, q, 0)) return -1;
  memcpy(s->prev, q, sizeof(double) * (size_t)s->rig.nq);
  return 0;
}

// Latch the present position and keep commanding it.
static int hold_here(nfp_bridge_server* s, int state) {
  nfp_arms_obs obs;
  if (nfp_arms_observe(s->arms, &obs, 0)) return -1;
  double q[NFP_ARMS_MAX_NQ], here[NFP_ARMS_MAX_NQ];
  // A broken reading (NaN) holds the last target rather than sending the joint to a limit.
  for (int j = 0; j < s->rig.nq; j++) here[j] = isfinite(obs.qpos[j]) ? obs.qpos[j] : s->prev[j];
  nfp_bridge_safety_clamp(q, here, here, here, &s->arms->info, 0, 0);
  memcpy(s->hold_q, q, sizeof(q));
  memcpy(s->prev, q, sizeof(q));
  set_state(s, state);
  return nfp_arms_command(s->arms, s->hold_q, 0);
}

static void stop_rig(nfp_bridge_server* s, int state, const char* why) {
  if (hold_here(s, state) || nfp_arms_driver_stop(s->arms)) {
    logf_(s, "stopping the rig failed: %s", nfp_error_last());
  }
  s->have_cmd = 0;
  logf_(s, "%s: rig stopped, holding position", why);
}

//---------------------------------- requests -------------------------------------------------

static int same_peer(const peer_id* a, const peer_id* b) {
  return a->len == b->len && !memcmp(a->id, b->id, a->len);
}

static void handle_hello(nfp_bridge_server* s, const peer_id* from, const nfp_wire_msg* m) {
  double t = server_time(s);
  if (m->hello.flags & NFP_WIRE_HELLO_CONTROL) {
    int fresh = s->has_ctl && !same_peer(&s->ctl, from) &&
                t - s->ctl_last < 1e-3 * s->opts.safety.heartbeat_ms;
    if (fresh) {
      send_error(s, from, m->seq, NFP_WIRE_E_BUSY, "another client commands this rig");
      return;
    }
    s->has_ctl = 1;
    s->ctl = *from;
    s->ctl_seq = m->seq;
    s->ctl_last = t;
    logf_(s, "controlling client connected");
  }
  nfp_wire_msg r = {.type = NFP_WIRE_RIG, .seq = m->seq};
  r.rig = s->rig;
  // JPEG frames: agreed when asked for and there is a camera; the requests then carry
  // the quality, so the server keeps nothing per client.
  if (s->rig.n_cam && (m->hello.flags & NFP_WIRE_HELLO_JPEG)) {
    r.rig.cam_encoding = NFP_WIRE_JPEG;
    logf_(s, "client takes JPEG frames");
  }
  send_msg(s, from, &r);
}

static void handle_reset(nfp_bridge_server* s, const peer_id* from, const nfp_wire_msg* m) {
  if (nfp_arms_reset(s->arms, m->reset.seed)) {
    send_error(s, from, m->seq, NFP_WIRE_E_RIG, nfp_error_last());
    return;
  }
  nfp_arms_obs obs;
  if (nfp_arms_observe(s->arms, &obs, 0)) {
    send_error(s, from, m->seq, NFP_WIRE_E_RIG, nfp_error_last());
    return;
  }
  memcpy(s->prev, obs.qpos, sizeof(double) * (size_t)s->rig.nq);
  set_state(s, NFP_WIRE_ST_RUNNING);
  s->have_cmd = 0;
  s->last_flags = 0;
  s->last_cmd = server_time(s);
  s->next_tick = s->last_cmd + 1.0 / s->rig.control_hz;
  logf_(s, "episode reset, seed %llu", (unsigned long long)m->reset.seed);
  send_state(s, from, m->seq, m->reset.flags);
}

static void handle_step(nfp_bridge_server* s, const peer_id* from, const nfp_wire_msg* m) {
  if (s->state == NFP_WIRE_ST_ESTOP) {
    send_error(s, from, m->seq, NFP_WIRE_E_ESTOPPED, "emergency stop latched; RESET clears it");
  } else if (s->state == NFP_WIRE_ST_STOPPED) {
    send_error(s, from, m->seq, NFP_WIRE_E_STOPPED, "stopped on heartbeat loss; RESET resumes");
  } else if (s->state == NFP_WIRE_ST_IDLE) {
    send_error(s, from, m->seq, NFP_WIRE_E_SESSION, "no episode: send RESET first");
  } else if (m->step.nq != s->rig.nq) {
    char text[96];
    snprintf(text, sizeof(text), "STEP carries %d targets, the rig has %d joints", m->step.nq,
             s->rig.nq);
    send_error(s, from, m->seq, NFP_WIRE_E_FIELD, text);
  } else if (m->step.deadline_step < s->step) {
    send_error(s, from, m->seq, NFP_WIRE_E_LATE, "the command's deadline step has passed");
  } else {
    bump(s, NFP_WIRE_C_COMMANDS);
    s->last_cmd = server_time(s);
    int hold = (m->step.flags & NFP_WIRE_HOLD) != 0;
    if (!s->opts.realtime) {
      set_state(s, NFP_WIRE_ST_RUNNING);
      if (command(s, m->step.target, hold) || nfp_arms_step(s->arms)) {
        send_error(s, from, m->seq, NFP_WIRE_E_RIG, nfp_error_last());
        return;
      }
      send_state(s, from, m->seq, m->step.flags);
      return;
    }
    // Real-time: newest command wins; answered after the next tick.
    if (s->state == NFP_WIRE_ST_HOLDING) set_state(s, NFP_WIRE_ST_RUNNING);
    s->have_cmd = 1;
    s->cmd_hold = hold;
    s->cmd_deadline = m->step.deadline_step;
    memcpy(s->cmd, m->step.target, sizeof(double) * (size_t)m->step.nq);
    if (s->n_wait == MAX_WAITERS) {
      send_error(s, from, m->seq, NFP_WIRE_E_BUSY, "too many STEPs waiting for the next tick");
      return;
    }
    s->wait[s->n_wait].who = *from;
    s->wait[s->n_wait].seq = m->seq;
    s->wait[s->n_wait].flags = m->step.flags;
    s->n_wait++;
    return;
  }
  bump(s, NFP_WIRE_C_REJECTED);
}

static void handle(nfp_bridge_server* s, const peer_id* from, const uint8_t* buf, size_t n) {
  if (n > NFP_WIRE_MAX_REQUEST) {
    char text[96];
    snprintf(text, sizeof(text), "message of %zu bytes exceeds the %d-byte request limit", n,
             NFP_WIRE_MAX_REQUEST);
    send_error(s, from, 0, NFP_WIRE_E_LENGTH, text);
    return;
  }
  nfp_wire_msg m;
  int rc = nfp_wire_decode(&m, buf, n);
  if (!rc && !nfp_wire_is_request(m.type)) {
    nfp_error_set("%s is not a request", nfp_wire_type_name(m.type));
    rc = NFP_WIRE_E_TYPE;
  }
  if (rc) {
    send_error(s, from, m.seq, rc, nfp_error_last());
    return;
  }
  int is_ctl = s->has_ctl && same_peer(&s->ctl, from);
  switch (m.type) {
    case NFP_WIRE_HELLO: handle_hello(s, from, &m); return;
    case NFP_WIRE_STATUS_REQ: send_status(s, from, m.seq); return;
    case NFP_WIRE_OBSERVE: send_state(s, from, m.seq, m.observe.flags); return;
    case NFP_WIRE_ESTOP:
      bump(s, NFP_WIRE_C_ESTOPS);
      stop_rig(s, NFP_WIRE_ST_ESTOP, "emergency stop");
      send_status(s, from, m.seq);
      return;
    default: break;
  }
  // The rest commands the rig: the controlling session only, in order.
  if (!is_ctl) {
    send_error(s, from, m.seq, NFP_WIRE_E_SESSION, "send HELLO with the control flag first");
    return;
  }
  if ((int32_t)(m.seq - s->ctl_seq) <= 0) {
    char text[96];
    snprintf(text, sizeof(text), "sequence %u is not after %u", m.seq, s->ctl_seq);
    send_error(s, from, m.seq, NFP_WIRE_E_SEQUENCE, text);
    bump(s, NFP_WIRE_C_REJECTED);
    return;
  }
  s->ctl_seq = m.seq;
  s->ctl_last = server_time(s);
  switch (m.type) {
    case NFP_WIRE_RESET: handle_reset(s, from, &m); break;
    case NFP_WIRE_STEP: handle_step(s, from, &m); break;
    case NFP_WIRE_HEARTBEAT: send_status(s, from, m.seq); break;
    case NFP_WIRE_BYE:
      s->has_ctl = 0;
      if (s->state == NFP_WIRE_ST_RUNNING && s->opts.realtime) hold_here(s, NFP_WIRE_ST_HOLDING);
      logf_(s, "controlling client said goodbye");
      send_status(s, from, m.seq);
      break;
    default: break;
  }
}

//---------------------------------- clock ----------------------------------------------------

// Has the client been silent past the watchdog period at this tick? Measured at the
// tick's scheduled time, so a late wake-up cannot hold a client that sent a command
// every period (each arrives after the previous tick, at most one period before this).
static int watchdog_expired(const nfp_bridge_server* s) {
  return s->next_tick - s->last_cmd > s->watchdog_s;
}

static int tick(nfp_bridge_server* s) {
  double t = server_time(s);
  if (s->state == NFP_WIRE_ST_RUNNING) {
    if (s->have_cmd) {
      s->have_cmd = 0;
      if (s->cmd_deadline < s->step) {
        bump(s, NFP_WIRE_C_REJECTED);  // arrived too late for its step; the rig keeps on
      } else if (command(s, s->cmd, s->cmd_hold)) {
        return -1;
      }
    }
    if (watchdog_expired(s)) {
      bump(s, NFP_WIRE_C_WATCHDOG_HOLDS);
      logf_(s, "watchdog: no valid command for %.0f ms, holding position", 1e3 * (t - s->last_cmd));
      if (hold_here(s, NFP_WIRE_ST_HOLDING)) return -1;
    }
  }
  if (s->state == NFP_WIRE_ST_HOLDING && nfp_arms_command(s->arms, s->hold_q, 0)) return -1;
  if (s->state == NFP_WIRE_ST_RUNNING || s->state == NFP_WIRE_ST_HOLDING) {
    if (nfp_arms_step(s->arms)) return -1;
  }
  // Everyone waiting gets the same fresh observation.
  int image = 0;
  for (int i = 0; i < s->n_wait; i++) image |= (s->wait[i].flags & NFP_WIRE_WITH_IMAGE) != 0;
  nfp_wire_msg m;
  nfp_arms_obs obs;
  int rc = s->n_wait ? observe(s, &m, &obs, image) : 0;
  for (int i = 0; i < s->n_wait; i++) {
    if (rc) send_error(s, &s->wait[i].who, s->wait[i].seq, NFP_WIRE_E_RIG, nfp_error_last());
    else reply_state(s, &s->wait[i].who, s->wait[i].seq, &m, s->wait[i].flags);
  }
  s->n_wait = 0;
  return 0;
}

static void check_heartbeat(nfp_bridge_server* s) {
  if (!s->has_ctl || server_time(s) - s->ctl_last <= 1e-3 * s->opts.safety.heartbeat_ms) return;
  s->has_ctl = 0;  // another client may take over
  if (s->opts.realtime && (s->state == NFP_WIRE_ST_RUNNING || s->state == NFP_WIRE_ST_HOLDING)) {
    bump(s, NFP_WIRE_C_HEARTBEAT_STOPS);
    stop_rig(s, NFP_WIRE_ST_STOPPED, "heartbeat lost");
  } else {
    logf_(s, "heartbeat lost; control released (lock-step: the rig was not moving)");
  }
}

//---------------------------------- life cycle -----------------------------------------------

void nfp_bridge_server_opts_default(nfp_bridge_server_opts* o) {
  *o = (nfp_bridge_server_opts){.bind = "tcp://127.0.0.1:5555"};
  o->safety = (nfp_bridge_safety){.max_vel = 3.0, .watchdog_ms = 0, .heartbeat_ms = 1000};
}

static void describe(nfp_bridge_server* s) {
  const nfp_arms_info* in = &s->arms->info;
  nfp_wire_rig* r = &s->rig;
  memset(r, 0, sizeof(*r));
  snprintf(r->name, sizeof(r->name), "%s", in->name);
  r->nq = in->nq;
  r->mode = s->opts.realtime ? NFP_WIRE_REALTIME : NFP_WIRE_LOCKSTEP;
  r->control_hz = in->control_hz;
  r->step_cap = in->step_cap;
  r->max_vel = s->opts.safety.max_vel;
  r->watchdog_ms = (int)ceil(1e3 * s->watchdog_s - 1e-6);  // 60 ms at 16.7 Hz, not 61
  r->heartbeat_ms = s->opts.safety.heartbeat_ms;
  r->n_cam = in->cam_h > 0 && in->cam_w > 0;
  if (r->n_cam) {
    snprintf(r->cam_name, sizeof(r->cam_name), "head");
    r->cam_h = in->cam_h;
    r->cam_w = in->cam_w;
  }
  const char(*names)[32] = s->opts.joint_names ? s->opts.joint_names
                                               : nfp_arms_driver_joint_names(s->arms);
  for (int j = 0; j < in->nq; j++) {
    r->q_lo[j] = in->q_lo[j];
    r->q_hi[j] = in->q_hi[j];
    if (names) snprintf(r->joint_names[j], sizeof(r->joint_names[j]), "%s", names[j]);
    else snprintf(r->joint_names[j], sizeof(r->joint_names[j]), "q%d", j);
    size_t len = strlen(r->joint_names[j]);
    int named = len >= 7 && !strcmp(r->joint_names[j] + len - 7, "gripper");
    if ((named || !names) && in->q_lo[j] == 0.0 && in->q_hi[j] == 1.0) {
      r->gripper_mask |= 1u << j;
    }
  }
}

static int check_arms(const nfp_arms_info* in) {
  if (in->nq < 1 || in->nq > NFP_ARMS_MAX_NQ) return nfp_error_set("the arms report %d joints", in->nq);
  if (!(in->control_hz > 0 && in->control_hz <= 10000)) {
    return nfp_error_set("the arms report a control rate of %g Hz", in->control_hz);
  }
  if (in->cam_h > NFP_WIRE_MAX_IMAGE_SIDE || in->cam_w > NFP_WIRE_MAX_IMAGE_SIDE) {
    return nfp_error_set("camera %dx%d is larger than the protocol carries", in->cam_w, in->cam_h);
  }
  return 0;
}

nfp_bridge_server* nfp_bridge_server_create(nfp_arms* arms, const nfp_bridge_server_opts* o) {
  if (!o->bind) {
    nfp_error_set("no endpoint to bind");
    return NULL;
  }
  if (o->insecure && !nfp_bridge_endpoint_is_local(o->bind)) {
    nfp_error_set("plain TCP (--insecure) only on loopback; %s is not (use CURVE keys)", o->bind);
    return NULL;
  }
  if (o->safety.max_vel < 0 || o->safety.watchdog_ms < 0 || o->safety.heartbeat_ms < 1) {
    nfp_error_set("safety: max velocity must be >= 0, the watchdog period >= 0 ms (0: one "
                  "control period) and the heartbeat period >= 1 ms");
    return NULL;
  }
  if (check_arms(&arms->info)) return NULL;
  nfp_bridge_server* s = calloc(1, sizeof(*s));
  if (!s) {
    nfp_error_set("out of memory");
    return NULL;
  }
  s->arms = arms;
  s->opts = *o;
  s->t0 = nfp_clock_seconds();
  s->watchdog_s = o->safety.watchdog_ms ? 1e-3 * o->safety.watchdog_ms  // else one period
                                        : 1.0 / arms->info.control_hz;
  pthread_mutex_init(&s->lock, NULL);
  describe(s);
  s->ctx = zmq_ctx_new();
  char secret[NFP_KEY_TEXT];
  int curve = !o->insecure, one = 1, zero = 0, maxmsg = 64 * 1024;
  if (!s->ctx) {
    nfp_error_set("zmq_ctx_new failed");
    goto fail;
  }
  if (curve && nfp_bridge_key_read_secret(secret, o->server_key)) {
    nfp_error_wrap("server key (--key; make one with nfp keys gen)");
    goto fail;
  }
  if (curve && nfp_zap_start(&s->zap, s->ctx, o->allow, o->verbose)) goto fail;
  s->sock = zmq_socket(s->ctx, ZMQ_ROUTER);
  int64_t maxmsg64 = maxmsg, hb_ivl = 250, hb_ttl = 2000;
  int hb = (int)hb_ivl, hbt = (int)hb_ttl;
  if (!s->sock || zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
      zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg64, sizeof(maxmsg64)) ||
      zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) ||
      zmq_setsockopt(s->sock, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt)) ||
      (curve && (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
                 zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, secret, 40) ||
                 zmq_setsockopt(s->sock, ZMQ_ZAP_DOMAIN, "nfp", 3)))) {
    nfp_error_set("configuring the server socket: %s", zmq_strerror(errno));
    goto fail;
  }
  char where[sizeof(s->endpoint)];
  if (nfp_endpoint_prepare(s->sock, o->bind, 1, where, sizeof(where))) goto fail;
  if (zmq_bind(s->sock, where)) {
    nfp_error_set("cannot bind %s: %s", o->bind, zmq_strerror(errno));
    goto fail;
  }
  size_t len = sizeof(s->endpoint);
  zmq_getsockopt(s->sock, ZMQ_LAST_ENDPOINT, s->endpoint, &len);
  memset(secret, 0, sizeof(secret));
  return s;
fail:
  memset(secret, 0, sizeof(secret));
  nfp_bridge_server_free(s);
  return NULL;
}

const char* nfp_bridge_server_endpoint(const nfp_bridge_server* s) { return s->endpoint; }

void nfp_bridge_server_stop(nfp_bridge_server* s) { atomic_store(&s->stop, 1); }

void nfp_bridge_server_status(nfp_bridge_server* s, nfp_bridge_status* out) {
  nfp_wire_status st;
  fill_status(s, &st);
  *out = (nfp_bridge_status){.state = st.state, .step = st.step, .server_time = st.server_time};
  out->commands = st.count[NFP_WIRE_C_COMMANDS];
  out->rejected = st.count[NFP_WIRE_C_REJECTED];
  out->limit_clamps = st.count[NFP_WIRE_C_LIMIT_CLAMPS];
  out->rate_clamps = st.count[NFP_WIRE_C_RATE_CLAMPS];
  out->watchdog_holds = st.count[NFP_WIRE_C_WATCHDOG_HOLDS];
  out->heartbeat_stops = st.count[NFP_WIRE_C_HEARTBEAT_STOPS];
  out->estops = st.count[NFP_WIRE_C_ESTOPS];
  out->errors = st.count[NFP_WIRE_C_ERRORS];
}

// One incoming message: [peer id][body]; anything else is refused.
static void receive(nfp_bridge_server* s) {
  zmq_msg_t id, body;
  zmq_msg_init(&id);
  zmq_msg_init(&body);
  if (zmq_msg_recv(&id, s->sock, ZMQ_DONTWAIT) < 0) goto done;
  if (!zmq_msg_more(&id) || zmq_msg_recv(&body, s->sock, 0) < 0) goto done;
  peer_id from = {.len = zmq_msg_size(&id) < MAX_ID ? zmq_msg_size(&id) : MAX_ID};
  memcpy(from.id, zmq_msg_data(&id), from.len);
  if (zmq_msg_more(&body)) {
    int more = 1;
    while (more) {  // drain the extra frames
      zmq_msg_t x;
      zmq_msg_init(&x);
      more = zmq_msg_recv(&x, s->sock, 0) >= 0 && zmq_msg_more(&x);
      zmq_msg_close(&x);
    }
    send_error(s, &from, 0, NFP_WIRE_E_LENGTH, "a request is a single frame");
    goto done;
  }
  handle(s, &from, zmq_msg_data(&body), zmq_msg_size(&body));
done:
  zmq_msg_close(&id);
  zmq_msg_close(&body);
}

int nfp_bridge_server_run(nfp_bridge_server* s) {
  int rc = 0;
  logf_(s, "serving %s on %s (%s, %s)", s->rig.name, s->endpoint,
        s->opts.realtime ? "real-time" : "lock-step",
        s->opts.insecure ? "plain TCP, no authentication" : "CURVE + allow-list");
  while (!atomic_load(&s->stop) && !rc) {
    double t = server_time(s);
    int ticking = s->opts.realtime && (s->state == NFP_WIRE_ST_RUNNING || s->state == NFP_WIRE_ST_HOLDING ||
                                       s->n_wait);
    long wait_ms = 50;
    if (ticking) {
      double left = s->next_tick - t;
      wait_ms = left <= 0 ? 0 : (long)ceil(left * 1e3);
      if (wait_ms > 50) wait_ms = 50;
    }
    zmq_pollitem_t it = {s->sock, 0, ZMQ_POLLIN, 0};
    int n = zmq_poll(&it, 1, wait_ms);
    if (n < 0 && errno != EINTR) {
      rc = nfp_error_set("zmq_poll: %s", zmq_strerror(errno));
      break;
    }
    for (int k = 0; n > 0 && k < 64; k++) {  // drain, but let the clock run
      int ev = 0;
      size_t el = sizeof(ev);
      zmq_getsockopt(s->sock, ZMQ_EVENTS, &ev, &el);
      if (!(ev & ZMQ_POLLIN)) break;
      receive(s);
    }
    t = server_time(s);
    if (ticking && t >= s->next_tick) {
      if (tick(s)) {
        rc = nfp_error_wrap("rig %s", s->rig.name);
        stop_rig(s, NFP_WIRE_ST_STOPPED, "rig failure");
      }
      s->next_tick += 1.0 / s->rig.control_hz;
      if (s->next_tick < t) s->next_tick = t + 1.0 / s->rig.control_hz;  // fell behind
    }
    check_heartbeat(s);
  }
  if (s->opts.realtime && (s->state == NFP_WIRE_ST_RUNNING || s->state == NFP_WIRE_ST_HOLDING)) {
    stop_rig(s, NFP_WIRE_ST_STOPPED, "server shutting down");
  }
  return rc;
}

void nfp_bridge_server_free(nfp_bridge_server* s) {
  if (!s) return;
  if (s->sock) zmq_close(s->sock);
  nfp_zap_stop(&s->zap);
  if (s->ctx) zmq_ctx_term(s->ctx);
  pthread_mutex_destroy(&s->lock);
  nfp_jpeg_free(&s->codec);
  free(s->out);
  free(s);
}
