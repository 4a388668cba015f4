// The wire codec: every message type round-trips, and every way a message can be wrong
// is refused with the right code. JPEG frames: close to the raw frame at quality 90, and
// hostile ones (wrong size, truncated, corrupt, huge) refused. The safety clamp on its own.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jpeg.h"
#include "nfp/bridge.h"
#include "nfp/error.h"
#include "nfp/rng.h"

static uint8_t buf[1 << 20];

static size_t encode_step(uint32_t seq, int nq, double fill) {
  nfp_wire_msg m = {.type = NFP_WIRE_STEP, .seq = seq};
  m.step.nq = nq;
  m.step.deadline_step = 3;
  for (int j = 0; j < nq; j++) m.step.target[j] = fill + j;
  return nfp_wire_encode(buf, sizeof(buf), &m);
}

static void put32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void step_round_trip(void** state) {
  (void)state;
  size_t n = encode_step(42, 14, 0.25);
  assert_int_equal(n, 16 + 16 + 8 * 14);
  // Header bytes as PROTOCOL.md gives them.
  assert_memory_equal(buf, "NFPB", 4);
  assert_int_equal(buf[4], 1);
  assert_int_equal(buf[6], NFP_WIRE_STEP);
  assert_int_equal(buf[8], 42);
  nfp_wire_msg m;
  assert_int_equal(nfp_wire_decode(&m, buf, n), 0);
  assert_int_equal(m.type, NFP_WIRE_STEP);
  assert_int_equal(m.seq, 42);
  assert_int_equal(m.step.nq, 14);
  assert_int_equal(m.step.deadline_step, 3);
  for (int j = 0; j < 14; j++) assert_true(m.step.target[j] == 0.25 + j);
}

static void rig_state_round_trip(void** state) {
  (void)state;
  nfp_wire_msg m = {.type = NFP_WIRE_RIG, .seq = 1}, d;
  snprintf(m.rig.name, sizeof(m.rig.name), "sim:lift_pot");
  m.rig.nq = 14, m.rig.mode = NFP_WIRE_REALTIME, m.rig.control_hz = 50.0 / 3.0;
  m.rig.step_cap = 400, m.rig.gripper_mask = 1u << 6 | 1u << 13, m.rig.max_vel = 3;
  m.rig.watchdog_ms = 200, m.rig.heartbeat_ms = 1000, m.rig.n_cam = 1;
  m.rig.cam_h = 240, m.rig.cam_w = 320;
  snprintf(m.rig.cam_name, sizeof(m.rig.cam_name), "head");
  for (int j = 0; j < 14; j++) {
    m.rig.q_lo[j] = -1.5 - j, m.rig.q_hi[j] = 1.5 + j;
    snprintf(m.rig.joint_names[j], 32, "joint_%d", j);
  }
  size_t n = nfp_wire_encode(buf, sizeof(buf), &m);
  assert_int_equal(n, 16 + 112 + 48 + 14 * 48);
  assert_int_equal(nfp_wire_decode(&d, buf, n), 0);
  assert_string_equal(d.rig.name, "sim:lift_pot");
  assert_string_equal(d.rig.joint_names[13], "joint_13");
  assert_string_equal(d.rig.cam_name, "head");
  assert_true(d.rig.control_hz == m.rig.control_hz && d.rig.q_hi[13] == 14.5);
  assert_int_equal(d.rig.gripper_mask, m.rig.gripper_mask);
  assert_int_equal(d.rig.cam_w, 320);

  static uint8_t image[240 * 320 * 3];
  for (size_t i = 0; i < sizeof(image); i++) image[i] = (uint8_t)(i * 7);
  nfp_wire_msg s = {.type = NFP_WIRE_STATE, .seq = 9};
  s.state.obs_seq = 77, s.state.step = 12, s.state.time = 0.72, s.state.success = -1;
  s.state.nq = 14, s.state.n_object = 7, s.state.flags = NFP_WIRE_S_HOLDING;
  s.state.img_h = 240, s.state.img_w = 320, s.state.img_bytes = sizeof(image), s.state.image = image;
  for (int j = 0; j < 14; j++) s.state.qpos[j] = 0.1 * j, s.state.qvel[j] = -0.2 * j;
  for (int j = 0; j < 7; j++) s.state.object[j] = j;
  n = nfp_wire_encode(buf, sizeof(buf), &s);
  assert_int_equal(n, 16 + 64 + 16 * 14 + 8 * 7 + sizeof(image));
  assert_int_equal(nfp_wire_decode(&d, buf, n), 0);
  assert_int_equal(d.state.obs_seq, 77);
  assert_int_equal(d.state.success, -1);
  assert_int_equal(d.state.n_object, 7);
  assert_true(d.state.qvel[13] == s.state.qvel[13]);
  assert_memory_equal(d.state.image, image, sizeof(image));
}

static void small_messages_round_trip(void** state) {
  (void)state;
  int types[] = {NFP_WIRE_HELLO, NFP_WIRE_RESET, NFP_WIRE_OBSERVE, NFP_WIRE_HEARTBEAT,
                 NFP_WIRE_STATUS_REQ, NFP_WIRE_ESTOP, NFP_WIRE_BYE, NFP_WIRE_STATUS,
                 NFP_WIRE_ERROR};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    nfp_wire_msg m = {.type = types[i], .seq = (uint32_t)i + 100}, d;
    if (types[i] == NFP_WIRE_RESET) m.reset.seed = 0xfedcba9876543210ull;
    if (types[i] == NFP_WIRE_STATUS) m.status.count[NFP_WIRE_C_ESTOPS] = 3, m.status.state = 4;
    if (types[i] == NFP_WIRE_ERROR) {
      m.error.code = NFP_WIRE_E_LATE;
      snprintf(m.error.message, sizeof(m.error.message), "too late");
    }
    size_t n = nfp_wire_encode(buf, sizeof(buf), &m);
    assert_true(n >= 16);
    assert_int_equal(nfp_wire_decode(&d, buf, n), 0);
    assert_int_equal(d.type, types[i]);
    assert_int_equal(d.seq, i + 100);
    if (types[i] == NFP_WIRE_RESET) assert_true(d.reset.seed == 0xfedcba9876543210ull);
    if (types[i] == NFP_WIRE_STATUS) assert_int_equal(d.status.count[NFP_WIRE_C_ESTOPS], 3);
    if (types[i] == NFP_WIRE_ERROR) assert_string_equal(d.error.message, "too late");
  }
}

static void refusals(void** state) {
  (void)state;
  nfp_wire_msg m;
  size_t n = encode_step(5, 14, 0);
  // truncated anywhere
  for (size_t k = 0; k < n; k++) assert_int_equal(nfp_wire_decode(&m, buf, k), NFP_WIRE_E_LENGTH);
  // a byte too many, with the length field unchanged or made to match
  buf[n] = 0;
  assert_int_equal(nfp_wire_decode(&m, buf, n + 1), NFP_WIRE_E_LENGTH);
  put32(buf + 12, (uint32_t)(n + 1 - 16));
  assert_int_equal(nfp_wire_decode(&m, buf, n + 1), NFP_WIRE_E_LENGTH);
  // magic, version, type
  n = encode_step(5, 14, 0);
  buf[0] = 'X';
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_MAGIC);
  n = encode_step(5, 14, 0);
  buf[4] = 2;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_VERSION);
  assert_int_equal(m.seq, 5);  // the header was readable: the refusal can echo it
  n = encode_step(5, 14, 0);
  buf[6] = 99;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_TYPE);
  // fields: nq, unknown flags, NaN target, negative deadline
  n = encode_step(5, 14, 0);
  put32(buf + 16 + 4, 33);
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  n = encode_step(5, 14, 0);
  put32(buf + 16 + 4, 13);  // nq says 13, payload holds 14
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_LENGTH);
  n = encode_step(5, 14, 0);
  buf[16] = 0x80;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  n = encode_step(5, 14, 0);
  double nan = NAN;
  memcpy(buf + 16 + 16 + 8 * 3, &nan, 8);
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  n = encode_step(5, 14, 0);
  buf[16 + 15] = 0x80;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  // reserved bytes and unterminated text
  nfp_wire_msg h = {.type = NFP_WIRE_HELLO, .seq = 1};
  n = nfp_wire_encode(buf, sizeof(buf), &h);
  buf[16 + 5] = 1;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  nfp_wire_msg e = {.type = NFP_WIRE_ERROR, .seq = 1};
  e.error.code = 1;
  n = nfp_wire_encode(buf, sizeof(buf), &e);
  memset(buf + 16 + 8, 'a', NFP_WIRE_ERROR_TEXT);
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  // a camera frame whose byte count does not match its size
  static uint8_t img[12];
  nfp_wire_msg s = {.type = NFP_WIRE_STATE, .seq = 1};
  s.state.nq = 1, s.state.img_h = 2, s.state.img_w = 2, s.state.img_bytes = 12, s.state.image = img;
  n = nfp_wire_encode(buf, sizeof(buf), &s);
  assert_true(n > 0);
  put32(buf + 16 + 48, 3);  // height 3
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  // the encoder refuses what the decoder would
  nfp_wire_msg bad = {.type = NFP_WIRE_STEP, .seq = 1};
  bad.step.nq = 0;
  assert_int_equal(nfp_wire_encode(buf, sizeof(buf), &bad), 0);
  assert_int_equal(encode_step(1, 14, 0) > 0, 1);
  assert_int_equal(nfp_wire_encode(buf, 20, &(nfp_wire_msg){.type = NFP_WIRE_STATUS}), 0);
}

//---------------------------------- JPEG frames ----------------------------------------------

#define FH 240
#define FW 320

// A frame like a camera's: lit gradients, a table edge, a dark pot, a little sensor noise.
static void scene_frame(uint8_t* rgb, int h, int w) {
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  for (int y = 0; y < h; y++) {
    for (int x = 0; x < w; x++) {
      double r = 70 + 90.0 * y / h, g = 80 + 60.0 * x / w, b = 120 + 40.0 * (x + y) / (w + h);
      if (y > h * 3 / 5) r = 150, g = 110, b = 70;  // table top
      double dx = x - 0.55 * w, dy = y - 0.55 * h;
      if (dx * dx + dy * dy < 0.012 * w * w) r = 40, g = 45, b = 55;  // the pot
      double c[3] = {r, g, b};
      for (int k = 0; k < 3; k++) {
        double v = c[k] + nfp_rng_range(&rng, -3, 3);
        rgb[3 * ((size_t)y * w + x) + k] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
      }
    }
  }
}

static double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += abs((int)a[i] - (int)b[i]);
  return sum / (double)n;
}

// A STATE carrying a JPEG of the frame survives the wire and decodes back into the
// [h][w][3] buffer within 3 gray levels on average at quality 90, at a tenth of the bytes.
static void jpeg_state_round_trip(void** state) {
  (void)state;
  static uint8_t frame[FH * FW * 3], back[FH * FW * 3];
  scene_frame(frame, FH, FW);
  nfp_jpeg j = {0};
  const uint8_t* data;
  size_t n = nfp_jpeg_encode(&j, frame, FH, FW, 90, &data);
  assert_true(n > 0 && n < sizeof(frame) / 5);
  nfp_wire_msg s = {.type = NFP_WIRE_STATE, .seq = 3}, d;
  s.state.nq = 14, s.state.img_h = FH, s.state.img_w = FW, s.state.step = 4;
  s.state.img_encoding = NFP_WIRE_JPEG, s.state.img_bytes = (uint32_t)n, s.state.image = data;
  size_t len = nfp_wire_encode(buf, sizeof(buf), &s);
  assert_int_equal(len, 16 + 64 + 16 * 14 + n);
  assert_int_equal(nfp_wire_decode(&d, buf, len), 0);
  assert_int_equal(d.state.img_encoding, NFP_WIRE_JPEG);
  assert_int_equal(d.state.img_bytes, n);
  assert_int_equal(nfp_jpeg_decode(&j, back, FH, FW, d.state.image, d.state.img_bytes), 0);
  double mae = mean_abs_diff(frame, back, sizeof(frame));
  print_message("JPEG q90: %zu bytes (raw %zu), mean abs error %.2f gray levels\n", n,
                sizeof(frame), mae);
  assert_true(mae > 0 && mae < 3.0);
  // quality 100 is closer still; quality 10 much smaller
  n = nfp_jpeg_encode(&j, frame, FH, FW, 100, &data);
  assert_int_equal(nfp_jpeg_decode(&j, back, FH, FW, data, n), 0);
  assert_true(mean_abs_diff(frame, back, sizeof(frame)) < mae);
  assert_true(nfp_jpeg_encode(&j, frame, FH, FW, 10, &data) < n / 4);
  assert_int_equal(nfp_jpeg_encode(&j, frame, FH, FW, 0, &data), 0);
  assert_int_equal(nfp_jpeg_encode(&j, frame, FH, FW, 101, &data), 0);
  nfp_jpeg_free(&j);
}

// The wire rules of JPEG frames and the JPEG flags of requests.
static void jpeg_wire_refusals(void** state) {
  (void)state;
  static uint8_t jpg[64];
  nfp_wire_msg m, s = {.type = NFP_WIRE_STATE, .seq = 1};
  s.state.nq = 1, s.state.img_h = 2, s.state.img_w = 2, s.state.image = jpg;
  s.state.img_encoding = NFP_WIRE_JPEG, s.state.img_bytes = sizeof(jpg);
  size_t n = nfp_wire_encode(buf, sizeof(buf), &s);
  assert_true(n > 0);
  assert_int_equal(nfp_wire_decode(&m, buf, n), 0);  // JPEG bytes are opaque to the codec
  put32(buf + 16 + 56, 2);  // an encoding nobody speaks
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  put32(buf + 16 + 56, NFP_WIRE_JPEG);
  put32(buf + 16 + 48, 0);  // a JPEG of no size
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  // more bytes than any 2x2 JPEG takes; no frame but an encoding
  s.state.img_bytes = NFP_WIRE_JPEG_MAX_BYTES(2, 2) + 1;
  assert_int_equal(nfp_wire_encode(buf, sizeof(buf), &s), 0);
  s.state.img_h = s.state.img_w = 0, s.state.img_bytes = 0;
  assert_int_equal(nfp_wire_encode(buf, sizeof(buf), &s), 0);
  // requests: quality 1..100 in bits 8..15, HELLO's JPEG flag
  nfp_wire_msg o = {.type = NFP_WIRE_OBSERVE, .seq = 2};
  o.observe.flags = NFP_WIRE_WITH_IMAGE | 100u << NFP_WIRE_QUALITY_SHIFT;
  n = nfp_wire_encode(buf, sizeof(buf), &o);
  assert_int_equal(nfp_wire_decode(&m, buf, n), 0);
  assert_int_equal(NFP_WIRE_QUALITY(m.observe.flags), 100);
  buf[16 + 1] = 101;
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  assert_non_null(strstr(nfp_error_last(), "JPEG quality 101"));
  nfp_wire_msg r = {.type = NFP_WIRE_RESET, .seq = 3};
  r.reset.flags = NFP_WIRE_WITH_IMAGE | 200u << NFP_WIRE_QUALITY_SHIFT;
  n = nfp_wire_encode(buf, sizeof(buf), &r);
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
  nfp_wire_msg st = {.type = NFP_WIRE_STEP, .seq = 4};
  st.step.nq = 1, st.step.flags = NFP_WIRE_HOLD | 255u << NFP_WIRE_QUALITY_SHIFT;
  assert_int_equal(nfp_wire_encode(buf, sizeof(buf), &st), 0);
  st.step.flags = NFP_WIRE_HOLD | 75u << NFP_WIRE_QUALITY_SHIFT;
  n = nfp_wire_encode(buf, sizeof(buf), &st);
  assert_int_equal(nfp_wire_decode(&m, buf, n), 0);
  nfp_wire_msg h = {.type = NFP_WIRE_HELLO, .seq = 5};
  h.hello.flags = NFP_WIRE_HELLO_CONTROL | NFP_WIRE_HELLO_JPEG;
  n = nfp_wire_encode(buf, sizeof(buf), &h);
  assert_int_equal(nfp_wire_decode(&m, buf, n), 0);
  assert_int_equal(m.hello.flags, h.hello.flags);
  buf[16 + 1] = 90;  // a quality is not HELLO's
  assert_int_equal(nfp_wire_decode(&m, buf, n), NFP_WIRE_E_FIELD);
}

// Offset of the SOF0 marker's height in a baseline JPEG.
static size_t sof_at(const uint8_t* p, size_t n) {
  for (size_t i = 2; i + 9 < n; i++) {
    if (p[i] == 0xff && p[i + 1] == 0xc0) return i + 5;
  }
  fail_msg("no SOF0 marker");
  return 0;
}

static void expect_refused(nfp_jpeg* j, uint8_t* out, int h, int w, const uint8_t* d,
                           size_t n, const char* why) {
  if (!nfp_jpeg_decode(j, out, h, w, d, n)) fail_msg("a JPEG %s decoded", why);
  assert_true(strlen(nfp_error_last()) > 0);
}

// Frames a hostile or broken server could send: each refused with a message, none read
// past its bytes (ASan) or makes the decoder allocate for the size it claims.
static void jpeg_hostile_frames(void** state) {
  (void)state;
  enum { H = 48, W = 64 };
  static uint8_t frame[H * W * 3], out[H * W * 3], bad[1 << 16];
  scene_frame(frame, H, W);
  nfp_jpeg j = {0};
  const uint8_t* data;
  size_t n = nfp_jpeg_encode(&j, frame, H, W, 90, &data);
  assert_true(n > 0 && n < sizeof(bad));
  memcpy(bad, data, n);
  // another size than the handshake's, either way round
  assert_int_equal(nfp_jpeg_decode(&j, out, W, H, bad, n), -1);
  assert_non_null(strstr(nfp_error_last(), "JPEG frame is 64x48, the handshake said 48x64"));
  // huge declared dimensions
  size_t sof = sof_at(bad, n);
  bad[sof] = bad[sof + 1] = bad[sof + 2] = bad[sof + 3] = 0xfe;
  expect_refused(&j, out, H, W, bad, n, "declaring 65278x65278");
  assert_non_null(strstr(nfp_error_last(), "65278x65278"));
  memcpy(bad, data, n);
  // truncated anywhere, empty, not a JPEG
  for (size_t k = 0; k < n; k++) expect_refused(&j, out, H, W, bad, k, "cut short");
  expect_refused(&j, out, H, W, (const uint8_t*)"NFPB not a JPEG", 15, "of text");
  // corrupt bytes: never a crash; a decode that still succeeds stays in the buffer
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  int refused = 0;
  for (int t = 0; t < 300; t++) {
    memcpy(bad, data, n);
    for (int k = 0; k < 4; k++) bad[nfp_rng_next(&rng) % n] = (uint8_t)nfp_rng_next(&rng);
    refused += nfp_jpeg_decode(&j, out, H, W, bad, n) != 0;
  }
  assert_true(refused > 0);
  // and the good one still decodes after all that
  if (nfp_jpeg_decode(&j, out, H, W, data, n)) fail_msg("%s", nfp_error_last());
  assert_true(mean_abs_diff(frame, out, sizeof(frame)) < 4.0);
  nfp_jpeg_free(&j);
}

static void safety_clamp(void** state) {
  (void)state;
  nfp_arms_info info = {.nq = 3};
  for (int j = 0; j < 3; j++) info.q_lo[j] = -1, info.q_hi[j] = 1;
  info.q_lo[2] = 0;
  double prev[3] = {0.0, 0.95, 0.0}, out[3];
  // inside limits and rate: unchanged
  double t1[3] = {0.05, 0.9, 1.0};
  assert_int_equal(nfp_bridge_safety_clamp(out, t1, prev, prev, &info, 1u << 2, 0.1), 0);
  assert_memory_equal(out, t1, sizeof(t1));
  // too fast on joint 0, past the limit on joint 1; the gripper (slot 2) is not
  // rate-limited, only clamped to its range
  double t2[3] = {0.5, 3.0, 1.5};
  int hit = nfp_bridge_safety_clamp(out, t2, prev, prev, &info, 1u << 2, 0.1);
  assert_int_equal(hit, NFP_SAFETY_RATE | NFP_SAFETY_LIMIT);
  assert_true(fabs(out[0] - 0.1) < 1e-12);
  assert_true(out[1] == 1.0);
  assert_true(out[2] == 1.0);
  // max_step 0: limits only
  double t3[3] = {-5, 0.5, -1};
  assert_int_equal(nfp_bridge_safety_clamp(out, t3, prev, prev, &info, 0, 0), NFP_SAFETY_LIMIT);
  assert_true(out[0] == -1 && out[1] == 0.5 && out[2] == 0);
}

// The rate limit measures from where the joints are, not from the last target: a joint
// pushed far from its target is moved at most max_step from there (issue 18: it used to
// snap back toward the old target). Grippers stay exempt, NaN targets go to the lower
// limit, and a reading that is not finite falls back to the last target.
static void safety_clamp_from_measured(void** state) {
  (void)state;
  nfp_arms_info info = {.nq = 4};
  for (int j = 0; j < 4; j++) info.q_lo[j] = -3, info.q_hi[j] = 3;
  info.q_lo[3] = 0, info.q_hi[3] = 1;
  const double step = 0.18;
  double target[4] = {3.0, 3.0, 3.0, 1.0};        // everything at the upper limit
  double prev[4] = {3.0, 3.0, 3.0, 0.0};          // what the arms were told last
  double measured[4] = {0.0, 2.95, -2.5, 0.0};    // joint 0 and 2 held far away
  double out[4];
  int hit = nfp_bridge_safety_clamp(out, target, measured, prev, &info, 1u << 3, step);
  assert_int_equal(hit, NFP_SAFETY_RATE);
  for (int j = 0; j < 3; j++) {
    if (fabs(out[j] - measured[j]) > step + 1e-12) {
      fail_msg("joint %d: target %.3f is %.3f from the measured %.3f (max_step %.2f)", j, out[j],
               fabs(out[j] - measured[j]), measured[j], step);
    }
  }
  assert_true(fabs(out[0] - 0.18) < 1e-12 && out[1] == 3.0 && fabs(out[2] + 2.32) < 1e-12);
  assert_true(out[3] == 1.0);  // the gripper goes straight to its target
  // Pulled down; NaN goes to the lower limit; the limits win over the rate limit when a
  // joint sits beyond one (pushed past it).
  double low[4] = {-9.0, NAN, 3.0, 0.5}, beyond[4] = {0.0, 2.95, 3.5, 0.0};
  hit = nfp_bridge_safety_clamp(out, low, beyond, prev, &info, 1u << 3, step);
  assert_int_equal(hit, NFP_SAFETY_RATE | NFP_SAFETY_LIMIT);
  assert_true(fabs(out[0] + 0.18) < 1e-12);   // -9 -> limit -3 -> 0.18 below measured 0
  assert_true(fabs(out[1] - 2.77) < 1e-12);   // NaN -> lower limit -> 0.18 below 2.95
  assert_true(out[2] == 3.0 && out[3] == 0.5);
  // A broken reading: the rate limit measures from the last target instead.
  double broken[4] = {NAN, INFINITY, 0.0, 0.0}, back[4] = {0.0, 0.0, 0.0, 0.0};
  nfp_bridge_safety_clamp(out, back, broken, prev, &info, 1u << 3, step);
  assert_true(fabs(out[0] - 2.82) < 1e-12 && fabs(out[1] - 2.82) < 1e-12 && out[2] == 0.0);
}

static void loopback_endpoints(void** state) {
  (void)state;
  assert_true(nfp_bridge_endpoint_is_local("tcp://127.0.0.1:5555"));
  assert_true(nfp_bridge_endpoint_is_local("tcp://localhost:1"));
  assert_true(nfp_bridge_endpoint_is_local("ipc:///tmp/x"));
  assert_false(nfp_bridge_endpoint_is_local("tcp://0.0.0.0:5555"));
  assert_false(nfp_bridge_endpoint_is_local("tcp://*:5555"));
  assert_false(nfp_bridge_endpoint_is_local("tcp://10.0.0.2:5555"));
  assert_false(nfp_bridge_endpoint_is_local("tcp://127.example.com:5555"));
  assert_false(nfp_bridge_endpoint_is_local("tcp://localhost.evil.org:5555"));
  assert_true(nfp_bridge_endpoint_is_local("tcp://127.0.0.1:*"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(step_round_trip),       cmocka_unit_test(rig_state_round_trip),
      cmocka_unit_test(small_messages_round_trip), cmocka_unit_test(refusals),
      cmocka_unit_test(safety_clamp),          cmocka_unit_test(safety_clamp_from_measured),
      cmocka_unit_test(loopback_endpoints),    cmocka_unit_test(jpeg_state_round_trip),
      cmocka_unit_test(jpeg_wire_refusals),    cmocka_unit_test(jpeg_hostile_frames),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
