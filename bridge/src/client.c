// The arm client: an nfp_arms whose calls become bridge messages. A DEALER socket with
// one request in flight; replies carry the request's sequence number, and a reply to an
// older request (one that timed out) is dropped rather than taken for the current one.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "codec.h"
#include "endpoint.h"
#include "jpeg.h"
#include "nfp/bridge.h"
#include "nfp/error.h"

typedef struct {
  void* ctx;
  void* sock;
  char endpoint[256];
  int timeout_ms;
  int control;             // this session commands the rig
  int jpeg;                // frames as JPEG at this quality (agreed in the handshake); 0 raw
  uint32_t seq;
  nfp_wire_rig rig;
  uint8_t* in;             // last reply (STATE images point into it)
  size_t in_cap;
  nfp_wire_msg reply;      // last decoded reply
  // command for the coming step
  double target[NFP_ARMS_MAX_NQ];
  int hold;
  // the observation the last RESET / STEP brought back
  int have_state, state_has_image, want_image;
  nfp_wire_state state;
  uint8_t* image;          // copy of the last frame [cam_h][cam_w][3]
  uint32_t frame_bytes;    // what the last frame took on the wire
  nfp_jpeg codec;          // decodes JPEG frames
} arms_zmq;

static arms_zmq* impl(nfp_arms* a) { return (arms_zmq*)a->impl; }

void nfp_bridge_client_opts_default(nfp_bridge_client_opts* o) {
  *o = (nfp_bridge_client_opts){.control = 1, .timeout_ms = 3000};
}

// Send m, wait for its reply (a STATE/STATUS/RIG, or ERROR turned into an error).
static int request(arms_zmq* z, nfp_wire_msg* m, int want_type) {
  m->seq = ++z->seq;
  uint8_t buf[NFP_WIRE_MAX_REQUEST];
  size_t n = nfp_wire_encode(buf, sizeof(buf), m);
  if (!n) return -1;
  if (zmq_send(z->sock, buf, n, 0) != (int)n) {
    return nfp_error_set("%s: sending %s: %s", z->endpoint, nfp_wire_type_name(m->type),
                         zmq_strerror(errno));
  }
  for (;;) {
    zmq_msg_t msg;
    zmq_msg_init(&msg);
    int got = zmq_msg_recv(&msg, z->sock, 0);
    if (got < 0) {
      int e = errno;
      zmq_msg_close(&msg);
      if (e == EAGAIN) {
        return nfp_error_set("%s: no reply to %s within %d ms (server down, or this client's "
                             "key refused)", z->endpoint, nfp_wire_type_name(m->type),
                             z->timeout_ms);
      }
      return nfp_error_set("%s: %s", z->endpoint, zmq_strerror(e));
    }
    size_t len = zmq_msg_size(&msg);
    if (len > z->in_cap) {
      uint8_t* p = realloc(z->in, len);
      if (!p) {
        zmq_msg_close(&msg);
        return nfp_error_set("out of memory receiving %zu bytes", len);
      }
      z->in = p;
      z->in_cap = len;
    }
    memcpy(z->in, zmq_msg_data(&msg), len);
    zmq_msg_close(&msg);
    int rc = nfp_wire_decode(&z->reply, z->in, len);
    if (rc) return nfp_error_wrap("%s: malformed reply to %s", z->endpoint, nfp_wire_type_name(m->type));
    if (z->reply.seq != m->seq) continue;  // a late reply to an earlier request
    if (z->reply.type == NFP_WIRE_ERROR) {
      return nfp_error_set("%s refused %s: %s (%s)", z->endpoint, nfp_wire_type_name(m->type),
                           nfp_wire_error_name(z->reply.error.code), z->reply.error.message);
    }
    if (z->reply.type != want_type) {
      return nfp_error_set("%s: %s answered with %s", z->endpoint, nfp_wire_type_name(m->type),
                           nfp_wire_type_name(z->reply.type));
    }
    return 0;
  }
}

// Request flags asking for the camera frame in the agreed encoding (0 without a frame).
static uint32_t image_flags(const arms_zmq* z, int with_image) {
  if (!with_image) return 0;
  return NFP_WIRE_WITH_IMAGE | (uint32_t)z->jpeg << NFP_WIRE_QUALITY_SHIFT;
}

// The frame of a STATE (size and encoding as agreed) -> z->image [cam_h][cam_w][3], raw
// frames copied, JPEG frames decoded.
static int keep_frame(nfp_arms* a, const nfp_wire_state* st) {
  arms_zmq* z = impl(a);
  int h = a->info.cam_h, w = a->info.cam_w;
  if (st->img_h != h || st->img_w != w) {
    return nfp_error_set("%s sent a %dx%d frame, the handshake said %dx%d", z->endpoint,
                         st->img_w, st->img_h, w, h);
  }
  int want = z->jpeg ? NFP_WIRE_JPEG : NFP_WIRE_RGB8;
  if (st->img_encoding != want) {
    return nfp_error_set("%s sent a %s frame, the handshake agreed on %s", z->endpoint,
                         st->img_encoding == NFP_WIRE_JPEG ? "JPEG" : "raw RGB8",
                         z->jpeg ? "JPEG" : "raw RGB8");
  }
  size_t raw = 3 * (size_t)h * (size_t)w;
  if (!z->image && !(z->image = malloc(raw))) return nfp_error_set("out of memory");
  if (st->img_encoding == NFP_WIRE_RGB8) memcpy(z->image, st->image, raw);
  else if (nfp_jpeg_decode(&z->codec, z->image, h, w, st->image, st->img_bytes)) {
    return nfp_error_wrap("%s", z->endpoint);
  }
  z->frame_bytes = st->img_bytes;
  return 0;
}

// Keep the STATE just received (its frame copied or decoded out of the receive buffer).
static int keep_state(nfp_arms* a) {
  arms_zmq* z = impl(a);
  const nfp_wire_state* st = &z->reply.state;
  if (st->nq != a->info.nq) {
    return nfp_error_set("%s sent %d joints, the handshake said %d", z->endpoint, st->nq,
                         a->info.nq);
  }
  z->frame_bytes = 0;
  if (st->img_bytes && keep_frame(a, st)) return -1;
  z->state = *st;
  z->state.image = NULL;
  z->have_state = 1;
  z->state_has_image = st->img_bytes > 0;
  return 0;
}

static int zmq_reset(nfp_arms* a, uint64_t seed) {
  arms_zmq* z = impl(a);
  nfp_wire_msg m = {.type = NFP_WIRE_RESET};
  m.reset.seed = seed;
  m.reset.flags = image_flags(z, z->want_image);
  z->have_state = 0;
  z->hold = 1;  // nothing commanded yet
  if (request(z, &m, NFP_WIRE_STATE) || keep_state(a)) return -1;
  memcpy(z->target, z->state.qpos, sizeof(double) * (size_t)a->info.nq);
  return 0;
}

static int zmq_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  arms_zmq* z = impl(a);
  with_image = with_image && a->info.cam_h > 0;
  z->want_image = with_image;
  // The reply to the last RESET/STEP is the present state; ask again only when it
  // lacks the frame (the next STEPs then bring frames along).
  if (!z->have_state || (with_image && !z->state_has_image)) {
    nfp_wire_msg m = {.type = NFP_WIRE_OBSERVE};
    m.observe.flags = image_flags(z, with_image);
    if (request(z, &m, NFP_WIRE_STATE) || keep_state(a)) return -1;
  }
  const nfp_wire_state* st = &z->state;
  memset(obs, 0, sizeof(*obs));
  memcpy(obs->qpos, st->qpos, sizeof(double) * (size_t)st->nq);
  memcpy(obs->qvel, st->qvel, sizeof(double) * (size_t)st->nq);
  memcpy(obs->object, st->object, sizeof(double) * (size_t)st->n_object);
  obs->n_object = st->n_object;
  obs->time = st->time;
  obs->step = st->step;
  obs->success = st->success;
  obs->image = with_image ? z->image : NULL;
  return 0;
}

static int zmq_command(nfp_arms* a, const double* target, int hold) {
  arms_zmq* z = impl(a);
  z->hold = hold != 0;
  if (hold) return 0;
  for (int j = 0; j < a->info.nq; j++) {
    if (!(target[j] == target[j])) return nfp_error_set("%s: target %d is NaN", z->endpoint, j);
  }
  memcpy(z->target, target, sizeof(double) * (size_t)a->info.nq);
  return 0;
}

static int zmq_step(nfp_arms* a) {
  arms_zmq* z = impl(a);
  if (!z->have_state) return nfp_error_set("%s: step before reset", z->endpoint);
  nfp_wire_msg m = {.type = NFP_WIRE_STEP};
  m.step.flags = (z->hold ? NFP_WIRE_HOLD : 0) | image_flags(z, z->want_image);
  m.step.nq = a->info.nq;
  // Lock-step: for exactly the observed step. Real-time: for the next two ticks.
  m.step.deadline_step = z->state.step + (z->rig.mode == NFP_WIRE_REALTIME ? 2 : 0);
  memcpy(m.step.target, z->target, sizeof(double) * (size_t)a->info.nq);
  z->have_state = 0;
  return request(z, &m, NFP_WIRE_STATE) || keep_state(a) ? -1 : 0;
}

static void zmq_close_arms(nfp_arms* a) {
  arms_zmq* z = impl(a);
  if (z) {
    if (z->sock) {
      nfp_wire_msg m = {.type = NFP_WIRE_BYE};
      int t = 500;  // do not hang on close
      zmq_setsockopt(z->sock, ZMQ_RCVTIMEO, &t, sizeof(t));
      if (z->rig.nq && z->control) request(z, &m, NFP_WIRE_STATUS);
      zmq_close(z->sock);
    }
    if (z->ctx) zmq_ctx_term(z->ctx);
    free(z->in);
    free(z->image);
    nfp_jpeg_free(&z->codec);
    free(z);
  }
  free(a);
}

static const nfp_arms_ops zmq_ops = {zmq_reset, zmq_observe, zmq_command, zmq_step,
                                     zmq_close_arms};

int nfp_arms_is_zmq(const nfp_arms* a) { return a && a->ops == &zmq_ops; }

static int setup_socket(arms_zmq* z, const char* endpoint, const nfp_bridge_client_opts* o) {
  z->ctx = zmq_ctx_new();
  if (!z->ctx) return nfp_error_set("zmq_ctx_new failed");
  z->sock = zmq_socket(z->ctx, ZMQ_DEALER);
  int zero = 0, hb = 250, hbt = 2000;
  int64_t maxmsg = NFP_WIRE_MAX_MESSAGE;
  if (!z->sock || zmq_setsockopt(z->sock, ZMQ_LINGER, &zero, sizeof(zero)) ||
      zmq_setsockopt(z->sock, ZMQ_RCVTIMEO, &z->timeout_ms, sizeof(int)) ||
      zmq_setsockopt(z->sock, ZMQ_SNDTIMEO, &z->timeout_ms, sizeof(int)) ||
      zmq_setsockopt(z->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg)) ||
      zmq_setsockopt(z->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb)) ||
      zmq_setsockopt(z->sock, ZMQ_HEARTBEAT_TIMEOUT, &hbt, sizeof(hbt))) {
    return nfp_error_set("configuring the client socket: %s", zmq_strerror(errno));
  }
  if (!o->insecure) {
    char server[NFP_KEY_TEXT], secret[NFP_KEY_TEXT], pub[NFP_KEY_TEXT];
    if (nfp_bridge_key_read_public(server, o->server_key)) {
      return nfp_error_wrap("server public key (--server-key)");
    }
    if (nfp_bridge_key_read_secret(secret, o->client_key)) {
      return nfp_error_wrap("client secret key (--key)");
    }
    int rc = nfp_bridge_key_public(pub, secret) ||
             zmq_setsockopt(z->sock, ZMQ_CURVE_SERVERKEY, server, 40) ||
             zmq_setsockopt(z->sock, ZMQ_CURVE_PUBLICKEY, pub, 40) ||
             zmq_setsockopt(z->sock, ZMQ_CURVE_SECRETKEY, secret, 40);
    memset(secret, 0, sizeof(secret));
    if (rc) return nfp_error_set("setting the CURVE keys: %s", zmq_strerror(errno));
  } else if (!nfp_bridge_endpoint_is_local(endpoint)) {
    return nfp_error_set("plain TCP (--insecure) only on loopback; %s is not (use CURVE keys)",
                         endpoint);
  }
  char to[sizeof(z->endpoint)];
  if (nfp_endpoint_prepare(z->sock, endpoint, 0, to, sizeof(to))) return -1;
  if (zmq_connect(z->sock, to)) {
    return nfp_error_set("cannot connect to %s: %s", endpoint, zmq_strerror(errno));
  }
  return 0;
}

// HELLO (control, JPEG frames if asked) -> RIG -> z->rig and the agreed frame encoding.
static int handshake(arms_zmq* z, const nfp_bridge_client_opts* o) {
  if (o->jpeg_quality < 0 || o->jpeg_quality > 100) {
    return nfp_error_set("JPEG quality %d: 1..100, or 0 for raw frames", o->jpeg_quality);
  }
  nfp_wire_msg m = {.type = NFP_WIRE_HELLO};
  m.hello.flags = (o->control ? NFP_WIRE_HELLO_CONTROL : 0) |
                  (o->jpeg_quality ? NFP_WIRE_HELLO_JPEG : 0);
  if (request(z, &m, NFP_WIRE_RIG)) {
    if (o->jpeg_quality && z->reply.type == NFP_WIRE_ERROR &&
        z->reply.error.code == NFP_WIRE_E_FIELD) {
      nfp_error_wrap("(a server without JPEG frames refuses them: connect without --jpeg)");
    }
    return -1;
  }
  z->rig = z->reply.rig;
  int jpeg = z->rig.n_cam && z->rig.cam_encoding == NFP_WIRE_JPEG;
  if (jpeg && !o->jpeg_quality) {
    return nfp_error_set("%s offers JPEG frames though raw frames were asked for", z->endpoint);
  }
  z->jpeg = jpeg ? o->jpeg_quality : 0;
  return 0;
}

nfp_arms* nfp_arms_zmq_connect(const char* endpoint, const nfp_bridge_client_opts* o) {
  nfp_bridge_client_opts def;
  if (!o) nfp_bridge_client_opts_default(&def), o = &def;
  nfp_arms* a = calloc(1, sizeof(*a));
  arms_zmq* z = calloc(1, sizeof(*z));
  if (!a || !z) {
    free(a);
    free(z);
    nfp_error_set("out of memory");
    return NULL;
  }
  a->ops = &zmq_ops;
  a->impl = z;
  snprintf(z->endpoint, sizeof(z->endpoint), "%s", endpoint);
  z->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 3000;
  z->control = o->control != 0;
  if (setup_socket(z, endpoint, o) || handshake(z, o)) {
    nfp_arms_close(a);
    return NULL;
  }
  nfp_arms_info* in = &a->info;
  snprintf(in->name, sizeof(in->name), "%s", z->rig.name);
  in->nq = z->rig.nq;
  in->control_hz = z->rig.control_hz;
  in->step_cap = z->rig.step_cap;
  in->cam_h = z->rig.n_cam ? z->rig.cam_h : 0;
  in->cam_w = z->rig.n_cam ? z->rig.cam_w : 0;
  memcpy(in->q_lo, z->rig.q_lo, sizeof(in->q_lo));
  memcpy(in->q_hi, z->rig.q_hi, sizeof(in->q_hi));
  return a;
}

int nfp_arms_zmq_rig(const nfp_arms* a, nfp_bridge_rig* out) {
  if (!nfp_arms_is_zmq(a)) return nfp_error_set("not a bridge client");
  const nfp_wire_rig* r = &((const arms_zmq*)a->impl)->rig;
  *out = (nfp_bridge_rig){.mode = r->mode, .max_vel = r->max_vel, .watchdog_ms = r->watchdog_ms,
                          .heartbeat_ms = r->heartbeat_ms, .gripper_mask = r->gripper_mask};
  memcpy(out->joint_names, r->joint_names, sizeof(out->joint_names));
  out->jpeg_quality = ((const arms_zmq*)a->impl)->jpeg;
  return 0;
}

uint32_t nfp_arms_zmq_frame_bytes(const nfp_arms* a) {
  return nfp_arms_is_zmq(a) ? ((const arms_zmq*)a->impl)->frame_bytes : 0;
}

const char* nfp_bridge_state_name(int state) {
  static const char* names[] = {"idle", "running", "holding", "stopped", "e-stopped"};
  return state >= 0 && state <= NFP_WIRE_ST_ESTOP ? names[state] : "unknown";
}

static int status_request(nfp_arms* a, nfp_bridge_status* out, int type) {
  if (!nfp_arms_is_zmq(a)) return nfp_error_set("not a bridge client");
  arms_zmq* z = impl(a);
  nfp_wire_msg m = {.type = type};
  if (request(z, &m, NFP_WIRE_STATUS)) return -1;
  if (out) {
    const nfp_wire_status* st = &z->reply.status;
    *out = (nfp_bridge_status){.state = st->state, .step = st->step, .server_time = st->server_time};
    out->commands = st->count[NFP_WIRE_C_COMMANDS];
    out->rejected = st->count[NFP_WIRE_C_REJECTED];
    out->limit_clamps = st->count[NFP_WIRE_C_LIMIT_CLAMPS];
    out->rate_clamps = st->count[NFP_WIRE_C_RATE_CLAMPS];
    out->watchdog_holds = st->count[NFP_WIRE_C_WATCHDOG_HOLDS];
    out->heartbeat_stops = st->count[NFP_WIRE_C_HEARTBEAT_STOPS];
    out->estops = st->count[NFP_WIRE_C_ESTOPS];
    out->errors = st->count[NFP_WIRE_C_ERRORS];
  }
  return 0;
}

int nfp_arms_zmq_status(nfp_arms* a, nfp_bridge_status* out) {
  return status_request(a, out, NFP_WIRE_STATUS_REQ);
}
int nfp_arms_zmq_heartbeat(nfp_arms* a) { return status_request(a, NULL, NFP_WIRE_HEARTBEAT); }
int nfp_arms_zmq_estop(nfp_arms* a) { return status_request(a, NULL, NFP_WIRE_ESTOP); }
