// The arm server under bad clients: malformed, truncated, oversized and out-of-order
// messages get an error reply and the server keeps serving; strangers are refused;
// emergency stop latches; the clamp bites; a client killed mid-episode leaves the arms
// holding position, then stopped.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge_util.h"
#include "codec.h"

extern char** environ;

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

//---------------------------------- a raw CURVE client --------------------------------------

typedef struct {
  void* ctx;
  void* sock;
  uint8_t in[1 << 20];
} raw_client;

static void raw_open(raw_client* c, const char* endpoint) {
  char server[NFP_KEY_TEXT], secret[NFP_KEY_TEXT], pub[NFP_KEY_TEXT];
  assert_int_equal(nfp_bridge_key_read_public(server, srv_pub), 0);
  assert_int_equal(nfp_bridge_key_read_secret(secret, cli_key), 0);
  assert_int_equal(nfp_bridge_key_public(pub, secret), 0);
  c->ctx = zmq_ctx_new();
  c->sock = zmq_socket(c->ctx, ZMQ_DEALER);
  int t = 5000, zero = 0;
  zmq_setsockopt(c->sock, ZMQ_RCVTIMEO, &t, sizeof(t));
  zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof(zero));
  zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, server, 40);
  zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
  zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, secret, 40);
  assert_int_equal(zmq_connect(c->sock, endpoint), 0);
}

static void raw_close(raw_client* c) {
  zmq_close(c->sock);
  zmq_ctx_term(c->ctx);
}

// Send bytes (flags: ZMQ_SNDMORE to start a multi-frame message), decode the reply.
static void raw_send(raw_client* c, const void* bytes, size_t n, nfp_wire_msg* reply) {
  assert_int_equal(zmq_send(c->sock, bytes, n, 0), (int)n);
  int got = zmq_recv(c->sock, c->in, sizeof(c->in), 0);
  assert_true(got >= 16);
  assert_int_equal(nfp_wire_decode(reply, c->in, (size_t)got), 0);
}

static void raw_msg(raw_client* c, const nfp_wire_msg* m, nfp_wire_msg* reply) {
  uint8_t buf[NFP_WIRE_MAX_REQUEST];
  size_t n = nfp_wire_encode(buf, sizeof(buf), m);
  assert_true(n > 0);
  raw_send(c, buf, n, reply);
}

static void expect_error(const nfp_wire_msg* r, int code, uint32_t seq) {
  if (r->type != NFP_WIRE_ERROR) fail_msg("expected ERROR %d, got %s", code, nfp_wire_type_name(r->type));
  if (r->error.code != code) {
    fail_msg("expected error %s, got %s (%s)", nfp_wire_error_name(code),
             nfp_wire_error_name(r->error.code), r->error.message);
  }
  assert_int_equal(r->seq, seq);
}

static nfp_wire_msg step_msg(uint32_t seq, int64_t deadline) {
  nfp_wire_msg m = {.type = NFP_WIRE_STEP, .seq = seq};
  m.step.nq = 14;
  m.step.deadline_step = deadline;
  m.step.flags = NFP_WIRE_HOLD;
  return m;
}

static void malformed_messages(void** state) {
  (void)state;
  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  static raw_client c;
  raw_open(&c, nfp_bridge_server_endpoint(srv.server));
  nfp_wire_msg r;
  uint8_t buf[8192];

  raw_send(&c, "hello, robot", 12, &r);  // not ours at all
  expect_error(&r, NFP_WIRE_E_LENGTH, 0);
  memset(buf, 0, sizeof(buf));
  memcpy(buf, "GARBAGE!", 8);
  raw_send(&c, buf, 32, &r);
  expect_error(&r, NFP_WIRE_E_MAGIC, 0);
  nfp_wire_msg s = step_msg(3, 0);
  size_t n = nfp_wire_encode(buf, sizeof(buf), &s);
  raw_send(&c, buf, n - 5, &r);  // truncated
  expect_error(&r, NFP_WIRE_E_LENGTH, 3);
  memset(buf + n, 0, 8192 - n);
  raw_send(&c, buf, 8192, &r);  // oversized
  expect_error(&r, NFP_WIRE_E_LENGTH, 0);
  buf[4] = 9;  // version
  raw_send(&c, buf, n, &r);
  expect_error(&r, NFP_WIRE_E_VERSION, 3);
  nfp_wire_msg st = {.type = NFP_WIRE_STATUS, .seq = 4};  // a server message sent to it
  raw_msg(&c, &st, &r);
  expect_error(&r, NFP_WIRE_E_TYPE, 4);
  // two frames in one message
  n = nfp_wire_encode(buf, sizeof(buf), &s);
  zmq_send(c.sock, buf, n, ZMQ_SNDMORE);
  raw_send(&c, buf, n, &r);
  expect_error(&r, NFP_WIRE_E_LENGTH, 0);
  // commanding without a session
  raw_msg(&c, &s, &r);
  expect_error(&r, NFP_WIRE_E_SESSION, 3);

  nfp_wire_msg hello = {.type = NFP_WIRE_HELLO, .seq = 10};
  hello.hello.flags = NFP_WIRE_HELLO_CONTROL;
  raw_msg(&c, &hello, &r);
  assert_int_equal(r.type, NFP_WIRE_RIG);
  assert_int_equal(r.rig.nq, 14);
  nfp_wire_msg early = step_msg(11, 0);
  raw_msg(&c, &early, &r);
  expect_error(&r, NFP_WIRE_E_SESSION, 11);  // no episode yet
  nfp_wire_msg reset = {.type = NFP_WIRE_RESET, .seq = 12};
  reset.reset.seed = 3;
  raw_msg(&c, &reset, &r);
  assert_int_equal(r.type, NFP_WIRE_STATE);
  assert_int_equal(r.state.step, 0);
  nfp_wire_msg ok = step_msg(13, 0);
  raw_msg(&c, &ok, &r);
  assert_int_equal(r.type, NFP_WIRE_STATE);
  assert_int_equal(r.state.step, 1);
  raw_msg(&c, &ok, &r);  // replayed: same sequence number
  expect_error(&r, NFP_WIRE_E_SEQUENCE, 13);
  nfp_wire_msg old = step_msg(12, 1);
  raw_msg(&c, &old, &r);  // older sequence number
  expect_error(&r, NFP_WIRE_E_SEQUENCE, 12);
  nfp_wire_msg late = step_msg(14, 0);  // for step 0, the rig is at 1
  raw_msg(&c, &late, &r);
  expect_error(&r, NFP_WIRE_E_LATE, 14);
  nfp_wire_msg narrow = step_msg(15, 1);
  narrow.step.nq = 6;
  raw_msg(&c, &narrow, &r);
  expect_error(&r, NFP_WIRE_E_FIELD, 15);
  nfp_wire_msg nan = step_msg(16, 1);
  nan.step.flags = 0;
  n = nfp_wire_encode(buf, sizeof(buf), &nan);
  double bad = NAN;
  memcpy(buf + 16 + 16, &bad, 8);
  raw_send(&c, buf, n, &r);
  expect_error(&r, NFP_WIRE_E_FIELD, 16);

  // Still serving: a good step goes through and the refusals were counted.
  nfp_wire_msg good = step_msg(17, 1);
  raw_msg(&c, &good, &r);
  assert_int_equal(r.type, NFP_WIRE_STATE);
  assert_int_equal(r.state.step, 2);
  nfp_wire_msg q = {.type = NFP_WIRE_STATUS_REQ, .seq = 18};
  raw_msg(&c, &q, &r);
  assert_int_equal(r.type, NFP_WIRE_STATUS);
  assert_int_equal(r.status.state, NFP_WIRE_ST_RUNNING);
  assert_int_equal(r.status.count[NFP_WIRE_C_COMMANDS], 2);
  assert_int_equal(r.status.count[NFP_WIRE_C_ERRORS], 14);
  raw_close(&c);
  server_finish(&srv);
  assert_int_equal(srv.rc, 0);
}

static void strangers_refused(void** state) {
  (void)state;
  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  const char* ep = nfp_bridge_server_endpoint(srv.server);
  nfp_bridge_client_opts o;
  client_opts(&o, bad_key);  // a valid key pair, not on the allow-list
  o.timeout_ms = 700;
  nfp_arms* a = nfp_arms_zmq_connect(ep, &o);
  assert_null(a);
  assert_non_null(strstr(nfp_error_last(), "no reply to HELLO"));
  o.insecure = 1;  // no CURVE at all
  assert_null(nfp_arms_zmq_connect(ep, &o));
  client_opts(&o, cli_key);  // the allowed key still gets in afterwards
  a = nfp_arms_zmq_connect(ep, &o);
  if (!a) fail_msg("%s", nfp_error_last());
  // a second controlling client is turned away while the first is alive
  nfp_arms* b = nfp_arms_zmq_connect(ep, &o);
  assert_null(b);
  assert_non_null(strstr(nfp_error_last(), "busy"));
  nfp_arms_close(a);
  server_finish(&srv);

  // Plain TCP off loopback, and CURVE without an allow-list, do not even start.
  nfp_arms* arms = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  nfp_bridge_server_opts so;
  nfp_bridge_server_opts_default(&so);
  so.bind = "tcp://0.0.0.0:*";
  so.insecure = 1;
  assert_null(nfp_bridge_server_create(arms, &so));
  assert_non_null(strstr(nfp_error_last(), "loopback"));
  so.bind = "tcp://127.0.0.1:*";
  so.insecure = 0;
  so.server_key = srv_key;
  assert_null(nfp_bridge_server_create(arms, &so));
  assert_non_null(strstr(nfp_error_last(), "allow"));
  nfp_bridge_client_opts io;
  nfp_bridge_client_opts_default(&io);
  io.insecure = 1;
  assert_null(nfp_arms_zmq_connect("tcp://192.0.2.1:5555", &io));
  assert_non_null(strstr(nfp_error_last(), "loopback"));
  nfp_arms_close(arms);
}

static void estop_and_clamps(void** state) {
  (void)state;
  server_run srv;
  nfp_bridge_safety safety = {.max_vel = 1.0, .watchdog_ms = 200, .heartbeat_ms = 5000};
  if (server_start(&srv, "lift_pot", 0, &safety)) fail_msg("%s", nfp_error_last());
  const char* ep = nfp_bridge_server_endpoint(srv.server);
  nfp_bridge_client_opts o;
  client_opts(&o, cli_key);
  nfp_arms* a = nfp_arms_zmq_connect(ep, &o);
  if (!a) fail_msg("%s", nfp_error_last());
  o.control = 0;
  nfp_arms* watcher = nfp_arms_zmq_connect(ep, &o);
  if (!watcher) fail_msg("%s", nfp_error_last());
  nfp_bridge_rig rig;
  assert_int_equal(nfp_arms_zmq_rig(a, &rig), 0);
  assert_true(rig.max_vel == 1.0);
  assert_int_equal(rig.gripper_mask, 1u << 6 | 1u << 13);
  assert_string_equal(rig.joint_names[7], "q7");  // no names given: generic ones

  // A target far away: one step moves the command by at most max_vel / control_hz.
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_reset(a, 7), 0);
  assert_int_equal(nfp_arms_observe(a, &obs, 0), 0);
  double q[14];
  memcpy(q, obs.qpos, sizeof(q));
  q[0] += 1.0;
  q[1] = 50.0;  // beyond the limit
  assert_int_equal(nfp_arms_command(a, q, 0), 0);
  assert_int_equal(nfp_arms_step(a), 0);
  nfp_bridge_status st;
  assert_int_equal(nfp_arms_zmq_status(watcher, &st), 0);
  assert_int_equal(st.rate_clamps, 1);
  assert_int_equal(st.limit_clamps, 1);

  // Emergency stop from the watcher: the controller's steps are refused until reset.
  assert_int_equal(nfp_arms_zmq_estop(watcher), 0);
  assert_int_equal(nfp_arms_zmq_status(watcher, &st), 0);
  assert_int_equal(st.state, 4);
  assert_int_equal(st.estops, 1);
  assert_int_equal(nfp_arms_observe(a, &obs, 0), 0);
  assert_int_equal(nfp_arms_command(a, obs.qpos, 0), 0);
  assert_int_equal(nfp_arms_step(a), -1);
  assert_non_null(strstr(nfp_error_last(), "emergency stop"));
  // An observer cannot command.
  assert_int_equal(nfp_arms_reset(watcher, 1), -1);
  assert_int_equal(nfp_arms_reset(a, 8), 0);
  assert_int_equal(nfp_arms_observe(a, &obs, 0), 0);
  assert_int_equal(nfp_arms_command(a, obs.qpos, 0), 0);
  assert_int_equal(nfp_arms_step(a), 0);
  assert_int_equal(nfp_arms_zmq_status(watcher, &st), 0);
  assert_int_equal(st.state, 1);
  nfp_arms_close(watcher);
  nfp_arms_close(a);
  server_finish(&srv);
}

// Real-time server; `nfp run` drives it and is killed mid-episode.
static void killed_client_holds(void** state) {
  (void)state;
  assert_int_equal(make_policy("lift_pot"), 0);
  server_run srv;
  nfp_bridge_safety safety = {.max_vel = 3.0, .watchdog_ms = 200, .heartbeat_ms = 800};
  if (server_start(&srv, "lift_pot", 1, &safety)) fail_msg("%s", nfp_error_last());
  const char* ep = nfp_bridge_server_endpoint(srv.server);
  char* argv[] = {NFP_BIN, "run", "--policy", policy_path, "--arms", (char*)ep, "--server-key",
                  srv_pub, "--key", cli_key, "--mode", "single", "--episodes", "1", NULL};
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, NFP_BIN, NULL, NULL, argv, environ), 0);
  nfp_bridge_status st = {0};
  for (int i = 0; i < 600 && st.commands < 10; i++) {  // up to 30 s on a loaded machine
    sleep_ms(50);
    nfp_bridge_server_status(srv.server, &st);
  }
  assert_true(st.commands >= 10);
  assert_int_equal(st.state, 1);  // running under the client's commands
  kill(pid, SIGKILL);
  int ws;
  waitpid(pid, &ws, 0);
  for (int i = 0; i < 400 && st.state != 3; i++) {
    sleep_ms(50);
    nfp_bridge_server_status(srv.server, &st);
  }
  // First the watchdog held position, then the lost heartbeat stopped the rig.
  assert_int_equal(st.state, 3);
  assert_true(st.watchdog_holds >= 1);
  assert_int_equal(st.heartbeat_stops, 1);
  nfp_bridge_client_opts o;
  client_opts(&o, cli_key);
  o.control = 0;
  nfp_arms* w = nfp_arms_zmq_connect(ep, &o);
  if (!w) fail_msg("%s", nfp_error_last());
  nfp_arms_obs a, b;
  assert_int_equal(nfp_arms_observe(w, &a, 0), 0);
  sleep_ms(300);
  nfp_arms_zmq_heartbeat(w);  // an observer's message does not count as the controller's
  assert_int_equal(nfp_arms_observe(w, &b, 0), 0);
  assert_memory_equal(a.qpos, b.qpos, sizeof(a.qpos));
  assert_int_equal(a.step, b.step);
  nfp_arms_close(w);
  server_finish(&srv);
  assert_int_equal(srv.rc, 0);
}

static int setup(void** state) {
  (void)state;
  return make_keys();
}

static int teardown(void** state) {
  (void)state;
  remove_tdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(malformed_messages),
      cmocka_unit_test(strangers_refused),
      cmocka_unit_test(estop_and_clamps),
      cmocka_unit_test(killed_client_holds),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
