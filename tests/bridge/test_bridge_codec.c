// The wire codec: every message type round-trips, and every way a message can be wrong
// is refused with the right code. The safety clamp on its own.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "nfp/bridge.h"

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
      cmocka_unit_test(loopback_endpoints),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
