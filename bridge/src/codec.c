// Little-endian fixed layouts of bridge/PROTOCOL.md. Writers and readers go byte by
// byte, so the code does not depend on the host's byte order or alignment.
#include "codec.h"

#include <math.h>
#include <string.h>

#include "nfp/error.h"

#define RIG_FIXED 112
#define CAM_SIZE 48
#define STATE_FIXED 64
#define STATUS_SIZE (24 + 8 * NFP_WIRE_NCOUNT)
#define ERROR_SIZE (8 + NFP_WIRE_ERROR_TEXT)

//---------------------------------- byte access ----------------------------------------------

static void put_u32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_f64(uint8_t* p, double v) {
  uint64_t u;
  memcpy(&u, &v, 8);
  put_u64(p, u);
}
static uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
  return v;
}
static uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}
static double get_f64(const uint8_t* p) {
  uint64_t u = get_u64(p);
  double v;
  memcpy(&v, &u, 8);
  return v;
}
static void put_text(uint8_t* p, const char* s, size_t n) {
  memset(p, 0, n);
  size_t k = strnlen(s, n - 1);
  memcpy(p, s, k);
}
// A text field holds printable ASCII, then NUL padding to the end of its slot.
static int get_text(char* out, const uint8_t* p, size_t n) {
  size_t k = strnlen((const char*)p, n);
  if (k == n) return -1;
  for (size_t i = 0; i < n; i++) {
    if (i < k ? p[i] < 0x20 || p[i] > 0x7e : p[i] != 0) return -1;
  }
  memcpy(out, p, k);
  out[k] = '\0';
  return 0;
}

//---------------------------------- names ----------------------------------------------------

int nfp_wire_is_request(int type) {
  switch (type) {
    case NFP_WIRE_HELLO: case NFP_WIRE_RESET: case NFP_WIRE_OBSERVE: case NFP_WIRE_STEP:
    case NFP_WIRE_HEARTBEAT: case NFP_WIRE_STATUS_REQ: case NFP_WIRE_ESTOP: case NFP_WIRE_BYE:
      return 1;
    default:
      return 0;
  }
}

const char* nfp_wire_type_name(int type) {
  switch (type) {
    case NFP_WIRE_HELLO: return "HELLO";
    case NFP_WIRE_RIG: return "RIG";
    case NFP_WIRE_RESET: return "RESET";
    case NFP_WIRE_OBSERVE: return "OBSERVE";
    case NFP_WIRE_STEP: return "STEP";
    case NFP_WIRE_STATE: return "STATE";
    case NFP_WIRE_HEARTBEAT: return "HEARTBEAT";
    case NFP_WIRE_STATUS: return "STATUS";
    case NFP_WIRE_STATUS_REQ: return "STATUS_REQ";
    case NFP_WIRE_ESTOP: return "ESTOP";
    case NFP_WIRE_BYE: return "BYE";
    case NFP_WIRE_ERROR: return "ERROR";
    default: return "unknown";
  }
}

const char* nfp_wire_error_name(int code) {
  static const char* names[] = {"none", "bad magic", "bad version", "bad type", "bad length",
                                "bad field", "out of sequence", "late", "emergency stop",
                                "busy", "no session", "rig failure", "stopped"};
  return code >= 0 && code <= NFP_WIRE_E_STOPPED ? names[code] : "unknown error";
}

//---------------------------------- sizes ----------------------------------------------------

static size_t payload_size(const nfp_wire_msg* m) {
  switch (m->type) {
    case NFP_WIRE_HELLO: case NFP_WIRE_OBSERVE: case NFP_WIRE_ESTOP: return 8;
    case NFP_WIRE_RESET: return 16;
    case NFP_WIRE_HEARTBEAT: case NFP_WIRE_STATUS_REQ: case NFP_WIRE_BYE: return 0;
    case NFP_WIRE_STEP: return 16 + 8 * (size_t)m->step.nq;
    case NFP_WIRE_RIG:
      return RIG_FIXED + CAM_SIZE * (size_t)m->rig.n_cam + (16 + NFP_WIRE_JOINT_NAME) *
             (size_t)m->rig.nq;
    case NFP_WIRE_STATE:
      return STATE_FIXED + 16 * (size_t)m->state.nq + 8 * (size_t)m->state.n_object +
             m->state.img_bytes;
    case NFP_WIRE_STATUS: return STATUS_SIZE;
    case NFP_WIRE_ERROR: return ERROR_SIZE;
    default: return 0;
  }
}

size_t nfp_wire_size(const nfp_wire_msg* m) { return NFP_WIRE_HEADER + payload_size(m); }

//---------------------------------- checks shared by both directions ------------------------

static int finite_all(const double* v, int n) {
  for (int i = 0; i < n; i++) {
    if (!isfinite(v[i])) return 0;
  }
  return 1;
}

static int check_rig(const nfp_wire_rig* r) {
  if (r->nq < 1 || r->nq > NFP_ARMS_MAX_NQ) return nfp_error_set("RIG: nq %d not in 1..%d", r->nq, NFP_ARMS_MAX_NQ);
  if (r->mode != NFP_WIRE_LOCKSTEP && r->mode != NFP_WIRE_REALTIME) return nfp_error_set("RIG: mode %d", r->mode);
  if (!(r->control_hz > 0 && r->control_hz <= 10000)) return nfp_error_set("RIG: control rate %g Hz", r->control_hz);
  if (r->step_cap < 0 || r->watchdog_ms < 0 || r->heartbeat_ms < 0) return nfp_error_set("RIG: negative step cap or period");
  if (r->nq < 32 && (r->gripper_mask >> r->nq)) return nfp_error_set("RIG: gripper mask beyond nq");
  if (!(r->max_vel >= 0 && isfinite(r->max_vel))) return nfp_error_set("RIG: max velocity %g", r->max_vel);
  if (r->n_cam < 0 || r->n_cam > 1) return nfp_error_set("RIG: %d cameras (0 or 1)", r->n_cam);
  if (r->n_cam && (r->cam_h < 1 || r->cam_w < 1 || r->cam_h > NFP_WIRE_MAX_IMAGE_SIDE ||
                   r->cam_w > NFP_WIRE_MAX_IMAGE_SIDE ||
                   (r->cam_encoding != NFP_WIRE_RGB8 && r->cam_encoding != NFP_WIRE_JPEG))) {
    return nfp_error_set("RIG: camera %dx%d encoding %d", r->cam_w, r->cam_h, r->cam_encoding);
  }
  for (int j = 0; j < r->nq; j++) {
    if (!isfinite(r->q_lo[j]) || !isfinite(r->q_hi[j]) || !(r->q_lo[j] <= r->q_hi[j])) {
      return nfp_error_set("RIG: joint %d limits [%g, %g]", j, r->q_lo[j], r->q_hi[j]);
    }
  }
  return 0;
}

// A frame's fields: none at all (encoding 0), raw RGB8 of exactly 3 h w bytes, or a JPEG
// of 1 .. NFP_WIRE_JPEG_MAX_BYTES bytes, with sides 1..NFP_WIRE_MAX_IMAGE_SIDE.
static int image_fields_ok(uint32_t enc, uint32_t h, uint32_t w, uint32_t bytes) {
  if (!bytes) return !h && !w && enc == NFP_WIRE_RGB8;
  if (h < 1 || w < 1 || h > NFP_WIRE_MAX_IMAGE_SIDE || w > NFP_WIRE_MAX_IMAGE_SIDE) return 0;
  if (enc == NFP_WIRE_RGB8) return bytes == 3 * h * w;
  return enc == NFP_WIRE_JPEG && bytes <= NFP_WIRE_JPEG_MAX_BYTES(h, w);
}

// Request flags: no unknown bits, and a JPEG quality (bits 8..15) of at most 100.
static int check_flags(uint32_t flags, uint32_t known, const char* what) {
  if (flags & ~known) return nfp_error_set("%s: unknown flags 0x%x", what, flags);
  if (NFP_WIRE_QUALITY(flags) > 100) {
    return nfp_error_set("%s: JPEG quality %u (1..100, or 0 for raw frames)", what,
                         NFP_WIRE_QUALITY(flags));
  }
  return 0;
}

static int check_state(const nfp_wire_state* s) {
  if (s->nq < 1 || s->nq > NFP_ARMS_MAX_NQ) return nfp_error_set("STATE: nq %d", s->nq);
  if (s->n_object < 0 || s->n_object > NFP_ARMS_MAX_OBJECT) return nfp_error_set("STATE: %d object values", s->n_object);
  if (s->success < -1 || s->success > 1) return nfp_error_set("STATE: success %d", s->success);
  if (s->flags & ~15u) return nfp_error_set("STATE: unknown flags 0x%x", s->flags);
  if (s->step < 0) return nfp_error_set("STATE: step %lld", (long long)s->step);
  if (!isfinite(s->time) || !isfinite(s->server_time)) return nfp_error_set("STATE: time not finite");
  if (s->img_h < 0 || s->img_w < 0 || s->img_encoding < 0 ||
      !image_fields_ok((uint32_t)s->img_encoding, (uint32_t)s->img_h, (uint32_t)s->img_w,
                       s->img_bytes)) {
    return nfp_error_set("STATE: image %dx%d, encoding %d, with %u bytes", s->img_w, s->img_h,
                         s->img_encoding, s->img_bytes);
  }
  if (!finite_all(s->qpos, s->nq) || !finite_all(s->qvel, s->nq) || !finite_all(s->object, s->n_object)) {
    return nfp_error_set("STATE: a joint or object value is not finite");
  }
  return 0;
}

static int check_step(const nfp_wire_msg* m) {
  uint32_t known = NFP_WIRE_WITH_IMAGE | NFP_WIRE_HOLD | NFP_WIRE_QUALITY_MASK;
  if (check_flags(m->step.flags, known, "STEP")) return -1;
  if (m->step.nq < 1 || m->step.nq > NFP_ARMS_MAX_NQ) return nfp_error_set("STEP: nq %d", m->step.nq);
  if (m->step.deadline_step < 0) return nfp_error_set("STEP: deadline step %lld", (long long)m->step.deadline_step);
  if (!(m->step.flags & NFP_WIRE_HOLD) && !finite_all(m->step.target, m->step.nq)) {
    return nfp_error_set("STEP: a joint target is not finite");
  }
  return 0;
}

//---------------------------------- encode ---------------------------------------------------

static void encode_rig(uint8_t* p, const nfp_wire_rig* r) {
  memset(p, 0, RIG_FIXED);
  put_text(p, r->name, NFP_WIRE_NAME);
  put_u32(p + 64, (uint32_t)r->nq);
  put_u32(p + 68, (uint32_t)r->mode);
  put_f64(p + 72, r->control_hz);
  put_u32(p + 80, (uint32_t)r->step_cap);
  put_u32(p + 84, r->gripper_mask);
  put_f64(p + 88, r->max_vel);
  put_u32(p + 96, (uint32_t)r->watchdog_ms);
  put_u32(p + 100, (uint32_t)r->heartbeat_ms);
  put_u32(p + 104, (uint32_t)r->n_cam);
  p += RIG_FIXED;
  if (r->n_cam) {
    memset(p, 0, CAM_SIZE);
    put_text(p, r->cam_name, NFP_WIRE_JOINT_NAME);
    put_u32(p + 32, (uint32_t)r->cam_h);
    put_u32(p + 36, (uint32_t)r->cam_w);
    put_u32(p + 40, (uint32_t)r->cam_encoding);
    p += CAM_SIZE;
  }
  for (int j = 0; j < r->nq; j++) put_f64(p + 8 * j, r->q_lo[j]);
  p += 8 * r->nq;
  for (int j = 0; j < r->nq; j++) put_f64(p + 8 * j, r->q_hi[j]);
  p += 8 * r->nq;
  for (int j = 0; j < r->nq; j++) put_text(p + NFP_WIRE_JOINT_NAME * j, r->joint_names[j], NFP_WIRE_JOINT_NAME);
}

static void encode_state(uint8_t* p, const nfp_wire_state* s) {
  put_u64(p, s->obs_seq);
  put_u64(p + 8, (uint64_t)s->step);
  put_f64(p + 16, s->time);
  put_f64(p + 24, s->server_time);
  put_u32(p + 32, (uint32_t)s->success);
  put_u32(p + 36, s->flags);
  put_u32(p + 40, (uint32_t)s->nq);
  put_u32(p + 44, (uint32_t)s->n_object);
  put_u32(p + 48, (uint32_t)s->img_h);
  put_u32(p + 52, (uint32_t)s->img_w);
  put_u32(p + 56, (uint32_t)s->img_encoding);
  put_u32(p + 60, s->img_bytes);
  p += STATE_FIXED;
  for (int j = 0; j < s->nq; j++) put_f64(p + 8 * j, s->qpos[j]);
  p += 8 * s->nq;
  for (int j = 0; j < s->nq; j++) put_f64(p + 8 * j, s->qvel[j]);
  p += 8 * s->nq;
  for (int j = 0; j < s->n_object; j++) put_f64(p + 8 * j, s->object[j]);
  p += 8 * s->n_object;
  if (s->img_bytes) memcpy(p, s->image, s->img_bytes);
}

size_t nfp_wire_encode(uint8_t* buf, size_t cap, const nfp_wire_msg* m) {
  int bad = 0;
  if (m->type == NFP_WIRE_RIG) bad = check_rig(&m->rig);
  if (m->type == NFP_WIRE_STATE) bad = check_state(&m->state) || (m->state.img_bytes && !m->state.image);
  if (m->type == NFP_WIRE_STEP) bad = check_step(m);
  if (!nfp_wire_is_request(m->type) && m->type != NFP_WIRE_RIG && m->type != NFP_WIRE_STATE &&
      m->type != NFP_WIRE_STATUS && m->type != NFP_WIRE_ERROR) {
    bad = nfp_error_set("cannot encode message type %d", m->type);
  }
  if (bad) {
    nfp_error_wrap("encoding %s", nfp_wire_type_name(m->type));
    return 0;
  }
  size_t n = nfp_wire_size(m);
  if (n > cap) {
    nfp_error_set("encoding %s: %zu bytes do not fit in %zu", nfp_wire_type_name(m->type), n, cap);
    return 0;
  }
  put_u32(buf, NFP_WIRE_MAGIC);
  buf[4] = NFP_WIRE_VERSION & 0xff;
  buf[5] = NFP_WIRE_VERSION >> 8;
  buf[6] = (uint8_t)m->type;
  buf[7] = (uint8_t)(m->type >> 8);
  put_u32(buf + 8, m->seq);
  put_u32(buf + 12, (uint32_t)(n - NFP_WIRE_HEADER));
  uint8_t* p = buf + NFP_WIRE_HEADER;
  switch (m->type) {
    case NFP_WIRE_HELLO: put_u32(p, m->hello.flags); put_u32(p + 4, 0); break;
    case NFP_WIRE_OBSERVE: put_u32(p, m->observe.flags); put_u32(p + 4, 0); break;
    case NFP_WIRE_ESTOP: put_u32(p, m->estop.reason); put_u32(p + 4, 0); break;
    case NFP_WIRE_RESET:
      put_u64(p, m->reset.seed);
      put_u32(p + 8, m->reset.flags);
      put_u32(p + 12, 0);
      break;
    case NFP_WIRE_STEP:
      put_u32(p, m->step.flags);
      put_u32(p + 4, (uint32_t)m->step.nq);
      put_u64(p + 8, (uint64_t)m->step.deadline_step);
      for (int j = 0; j < m->step.nq; j++) put_f64(p + 16 + 8 * j, m->step.target[j]);
      break;
    case NFP_WIRE_RIG: encode_rig(p, &m->rig); break;
    case NFP_WIRE_STATE: encode_state(p, &m->state); break;
    case NFP_WIRE_STATUS:
      put_u32(p, (uint32_t)m->status.state);
      put_u32(p + 4, 0);
      put_u64(p + 8, (uint64_t)m->status.step);
      put_f64(p + 16, m->status.server_time);
      for (int i = 0; i < NFP_WIRE_NCOUNT; i++) put_u64(p + 24 + 8 * i, m->status.count[i]);
      break;
    case NFP_WIRE_ERROR:
      put_u32(p, (uint32_t)m->error.code);
      put_u32(p + 4, 0);
      put_text(p + 8, m->error.message, NFP_WIRE_ERROR_TEXT);
      break;
    default: break;
  }
  return n;
}

//---------------------------------- decode ---------------------------------------------------

// Every message type's payload: exactly `fixed` bytes, or at least `fixed` with the rest
// sized by its own fields.
static int need(size_t have, size_t want, const char* what) {
  if (have != want) {
    nfp_error_set("%s payload is %zu bytes, its fields need %zu", what, have, want);
    return NFP_WIRE_E_LENGTH;
  }
  return 0;
}

static int at_least(size_t have, size_t want, const char* what) {
  if (have < want) {
    nfp_error_set("%s payload is %zu bytes, shorter than its %zu fixed bytes", what, have, want);
    return NFP_WIRE_E_LENGTH;
  }
  return 0;
}

static int zero_reserved(const uint8_t* p, const char* what) {
  if (get_u32(p)) {
    nfp_error_set("%s: reserved field is not zero", what);
    return NFP_WIRE_E_FIELD;
  }
  return 0;
}

static int decode_rig(nfp_wire_rig* r, const uint8_t* p, size_t n) {
  int rc = at_least(n, RIG_FIXED, "RIG");
  if (rc) return rc;
  memset(r, 0, sizeof(*r));
  if (get_text(r->name, p, NFP_WIRE_NAME)) {
    nfp_error_set("RIG: rig name is not terminated printable text");
    return NFP_WIRE_E_FIELD;
  }
  uint32_t nq = get_u32(p + 64), ncam = get_u32(p + 104);
  if (nq < 1 || nq > NFP_ARMS_MAX_NQ || ncam > 1) {
    nfp_error_set("RIG: nq %u (1..%d), %u cameras (0 or 1)", nq, NFP_ARMS_MAX_NQ, ncam);
    return NFP_WIRE_E_FIELD;
  }
  if ((rc = need(n, RIG_FIXED + CAM_SIZE * ncam + (16 + NFP_WIRE_JOINT_NAME) * nq, "RIG"))) return rc;
  if ((rc = zero_reserved(p + 108, "RIG"))) return rc;
  r->nq = (int)nq;
  r->n_cam = (int)ncam;
  r->mode = (int)get_u32(p + 68);
  r->control_hz = get_f64(p + 72);
  uint32_t cap = get_u32(p + 80);
  r->step_cap = cap > 0x7fffffff ? -1 : (int)cap;
  r->gripper_mask = get_u32(p + 84);
  r->max_vel = get_f64(p + 88);
  uint32_t wd = get_u32(p + 96), hb = get_u32(p + 100);
  r->watchdog_ms = wd > 0x7fffffff ? -1 : (int)wd;
  r->heartbeat_ms = hb > 0x7fffffff ? -1 : (int)hb;
  p += RIG_FIXED;
  if (ncam) {
    if (get_text(r->cam_name, p, NFP_WIRE_JOINT_NAME)) {
      nfp_error_set("RIG: camera name is not terminated printable text");
      return NFP_WIRE_E_FIELD;
    }
    uint32_t h = get_u32(p + 32), w = get_u32(p + 36);
    r->cam_h = h > NFP_WIRE_MAX_IMAGE_SIDE ? -1 : (int)h;
    r->cam_w = w > NFP_WIRE_MAX_IMAGE_SIDE ? -1 : (int)w;
    uint32_t enc = get_u32(p + 40);
    r->cam_encoding = enc > 0xffff ? -1 : (int)enc;
    if ((rc = zero_reserved(p + 44, "RIG camera"))) return rc;
    p += CAM_SIZE;
  }
  for (uint32_t j = 0; j < nq; j++) r->q_lo[j] = get_f64(p + 8 * j);
  p += 8 * nq;
  for (uint32_t j = 0; j < nq; j++) r->q_hi[j] = get_f64(p + 8 * j);
  p += 8 * nq;
  for (uint32_t j = 0; j < nq; j++) {
    if (get_text(r->joint_names[j], p + NFP_WIRE_JOINT_NAME * j, NFP_WIRE_JOINT_NAME)) {
      nfp_error_set("RIG: joint %u name is not terminated printable text", j);
      return NFP_WIRE_E_FIELD;
    }
  }
  return check_rig(r) ? NFP_WIRE_E_FIELD : 0;
}

static int decode_state(nfp_wire_state* s, const uint8_t* p, size_t n) {
  int rc = at_least(n, STATE_FIXED, "STATE");
  if (rc) return rc;
  memset(s, 0, sizeof(*s));
  uint32_t nq = get_u32(p + 40), nobj = get_u32(p + 44), h = get_u32(p + 48),
           w = get_u32(p + 52), enc = get_u32(p + 56), bytes = get_u32(p + 60);
  if (nq < 1 || nq > NFP_ARMS_MAX_NQ || nobj > NFP_ARMS_MAX_OBJECT ||
      !image_fields_ok(enc, h, w, bytes)) {
    nfp_error_set("STATE: nq %u, %u object values, image %ux%u encoding %u with %u bytes", nq,
                  nobj, w, h, enc, bytes);
    return NFP_WIRE_E_FIELD;
  }
  if ((rc = need(n, STATE_FIXED + 16 * (size_t)nq + 8 * (size_t)nobj + bytes, "STATE"))) return rc;
  s->obs_seq = get_u64(p);
  uint64_t step = get_u64(p + 8);
  s->step = step > (uint64_t)INT64_MAX ? -1 : (int64_t)step;
  s->time = get_f64(p + 16);
  s->server_time = get_f64(p + 24);
  s->success = (int32_t)get_u32(p + 32);
  s->flags = get_u32(p + 36);
  s->nq = (int)nq;
  s->n_object = (int)nobj;
  s->img_h = (int)h;
  s->img_w = (int)w;
  s->img_encoding = (int)enc;
  s->img_bytes = bytes;
  p += STATE_FIXED;
  for (uint32_t j = 0; j < nq; j++) s->qpos[j] = get_f64(p + 8 * j);
  p += 8 * nq;
  for (uint32_t j = 0; j < nq; j++) s->qvel[j] = get_f64(p + 8 * j);
  p += 8 * nq;
  for (uint32_t j = 0; j < nobj; j++) s->object[j] = get_f64(p + 8 * j);
  p += 8 * nobj;
  s->image = bytes ? p : NULL;
  return check_state(s) ? NFP_WIRE_E_FIELD : 0;
}

static int decode_payload(nfp_wire_msg* m, const uint8_t* p, size_t n) {
  int rc;
  const char* name = nfp_wire_type_name(m->type);
  switch (m->type) {
    case NFP_WIRE_HELLO: case NFP_WIRE_OBSERVE: case NFP_WIRE_ESTOP: {
      if ((rc = need(n, 8, name)) || (rc = zero_reserved(p + 4, name))) return rc;
      uint32_t v = get_u32(p);
      uint32_t known = m->type == NFP_WIRE_HELLO ? NFP_WIRE_HELLO_CONTROL | NFP_WIRE_HELLO_JPEG
                                                 : NFP_WIRE_WITH_IMAGE | NFP_WIRE_QUALITY_MASK;
      if (m->type != NFP_WIRE_ESTOP && check_flags(v, known, name)) return NFP_WIRE_E_FIELD;
      if (m->type == NFP_WIRE_HELLO) m->hello.flags = v;
      else if (m->type == NFP_WIRE_OBSERVE) m->observe.flags = v;
      else m->estop.reason = v;
      return 0;
    }
    case NFP_WIRE_RESET:
      if ((rc = need(n, 16, name)) || (rc = zero_reserved(p + 12, name))) return rc;
      m->reset.seed = get_u64(p);
      m->reset.flags = get_u32(p + 8);
      if (check_flags(m->reset.flags, NFP_WIRE_WITH_IMAGE | NFP_WIRE_QUALITY_MASK, name)) {
        return NFP_WIRE_E_FIELD;
      }
      return 0;
    case NFP_WIRE_HEARTBEAT: case NFP_WIRE_STATUS_REQ: case NFP_WIRE_BYE:
      return need(n, 0, name);
    case NFP_WIRE_STEP: {
      if ((rc = at_least(n, 16, name))) return rc;
      uint32_t nq = get_u32(p + 4);
      if (nq < 1 || nq > NFP_ARMS_MAX_NQ) {
        nfp_error_set("STEP: nq %u not in 1..%d", nq, NFP_ARMS_MAX_NQ);
        return NFP_WIRE_E_FIELD;
      }
      if ((rc = need(n, 16 + 8 * (size_t)nq, name))) return rc;
      m->step.flags = get_u32(p);
      m->step.nq = (int)nq;
      uint64_t d = get_u64(p + 8);
      m->step.deadline_step = d > (uint64_t)INT64_MAX ? -1 : (int64_t)d;
      for (uint32_t j = 0; j < nq; j++) m->step.target[j] = get_f64(p + 16 + 8 * j);
      return check_step(m) ? NFP_WIRE_E_FIELD : 0;
    }
    case NFP_WIRE_RIG: return decode_rig(&m->rig, p, n);
    case NFP_WIRE_STATE: return decode_state(&m->state, p, n);
    case NFP_WIRE_STATUS: {
      if ((rc = need(n, STATUS_SIZE, name)) || (rc = zero_reserved(p + 4, name))) return rc;
      uint32_t st = get_u32(p);
      uint64_t step = get_u64(p + 8);
      if (st > NFP_WIRE_ST_ESTOP || step > (uint64_t)INT64_MAX || !isfinite(get_f64(p + 16))) {
        nfp_error_set("STATUS: state %u, step %llu", st, (unsigned long long)step);
        return NFP_WIRE_E_FIELD;
      }
      m->status.state = (int)st;
      m->status.step = (int64_t)step;
      m->status.server_time = get_f64(p + 16);
      for (int i = 0; i < NFP_WIRE_NCOUNT; i++) m->status.count[i] = get_u64(p + 24 + 8 * i);
      return 0;
    }
    case NFP_WIRE_ERROR: {
      if ((rc = need(n, ERROR_SIZE, name)) || (rc = zero_reserved(p + 4, name))) return rc;
      uint32_t code = get_u32(p);
      if (code < 1 || code > NFP_WIRE_E_STOPPED || get_text(m->error.message, p + 8, NFP_WIRE_ERROR_TEXT)) {
        nfp_error_set("ERROR: code %u or its text is malformed", code);
        return NFP_WIRE_E_FIELD;
      }
      m->error.code = (int)code;
      return 0;
    }
    default:
      nfp_error_set("unknown message type %d", m->type);
      return NFP_WIRE_E_TYPE;
  }
}

int nfp_wire_decode(nfp_wire_msg* m, const uint8_t* buf, size_t n) {
  memset(m, 0, sizeof(*m));
  if (n < NFP_WIRE_HEADER) {
    nfp_error_set("message of %zu bytes is shorter than the %d-byte header", n, NFP_WIRE_HEADER);
    return NFP_WIRE_E_LENGTH;
  }
  if (get_u32(buf) != NFP_WIRE_MAGIC) {
    nfp_error_set("not an nfp bridge message (magic 0x%08x)", get_u32(buf));
    return NFP_WIRE_E_MAGIC;
  }
  m->type = buf[6] | buf[7] << 8;
  m->seq = get_u32(buf + 8);
  int version = buf[4] | buf[5] << 8;
  if (version != NFP_WIRE_VERSION) {
    nfp_error_set("protocol version %d, this side speaks %d", version, NFP_WIRE_VERSION);
    return NFP_WIRE_E_VERSION;
  }
  uint32_t len = get_u32(buf + 12);
  if ((size_t)len != n - NFP_WIRE_HEADER) {
    nfp_error_set("%s: length field says %u payload bytes, message has %zu",
                  nfp_wire_type_name(m->type), len, n - NFP_WIRE_HEADER);
    return NFP_WIRE_E_LENGTH;
  }
  int type = m->type;
  uint32_t seq = m->seq;
  int rc = decode_payload(m, buf + NFP_WIRE_HEADER, len);
  m->type = type;  // the payload decoders cleared the union only
  m->seq = seq;
  return rc;
}
