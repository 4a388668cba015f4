// JPEG camera frames through the bridge: the client asks in HELLO, the server agrees in
// RIG when it has a camera, frames then come as JPEG (lock-step and real-time) and land
// decoded in the same [cam_h][cam_w][3] buffer; raw frames stay bit-exact. A hostile
// server's frames (another size, truncated, garbage, huge, the wrong encoding) are
// refused with a message and the client goes on; a server that offers JPEG unasked, or
// refuses it, is named. Loopback plain TCP, no simulator.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bridge_serve.h"
#include "codec.h"
#include "jpeg.h"
#include "nfp/error.h"

#define CH 24
#define CW 32
#define NQ 3

//---------------------------------- a small camera rig ---------------------------------------

typedef struct {
  double q[NQ];
  int64_t step;
  uint8_t image[CH * CW * 3];
} cam_rig;

// The rig's frame at a step: smooth shading that moves with the step.
static void cam_frame(uint8_t* rgb, int64_t step) {
  for (int y = 0; y < CH; y++) {
    for (int x = 0; x < CW; x++) {
      uint8_t* p = rgb + 3 * (y * CW + x);
      p[0] = (uint8_t)(60 + 4 * y + step), p[1] = (uint8_t)(90 + 3 * x), p[2] = 120;
    }
  }
}

static int cam_reset(nfp_arms* a, uint64_t seed) {
  cam_rig* r = a->impl;
  (void)seed;
  r->step = 0;
  return 0;
}
static int cam_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  cam_rig* r = a->impl;
  memset(obs, 0, sizeof(*obs));
  memcpy(obs->qpos, r->q, sizeof(r->q));
  obs->step = r->step;
  obs->success = -1;
  cam_frame(r->image, r->step);
  obs->image = with_image ? r->image : NULL;
  return 0;
}
static int cam_command(nfp_arms* a, const double* target, int hold) {
  cam_rig* r = a->impl;
  if (!hold) memcpy(r->q, target, sizeof(r->q));
  return 0;
}
static int cam_step(nfp_arms* a) {
  ((cam_rig*)a->impl)->step++;
  return 0;
}
static void cam_close(nfp_arms* a) {
  free(a->impl);
  free(a);
}
static const nfp_arms_ops cam_ops = {cam_reset, cam_observe, cam_command, cam_step, cam_close};

// A rig of NQ joints, with a CH x CW camera or none.
static nfp_arms* cam_rig_create(int camera) {
  nfp_arms* a = calloc(1, sizeof(*a));
  cam_rig* r = calloc(1, sizeof(*r));
  assert_true(a && r);
  *a = (nfp_arms){.ops = &cam_ops, .impl = r};
  snprintf(a->info.name, sizeof(a->info.name), "camera rig");
  a->info.nq = NQ;
  a->info.control_hz = 50;
  a->info.cam_h = camera ? CH : 0;
  a->info.cam_w = camera ? CW : 0;
  for (int j = 0; j < NQ; j++) a->info.q_lo[j] = -1, a->info.q_hi[j] = 1;
  return a;
}

static void serve(server_run* srv, int camera, int realtime) {
  nfp_bridge_server_opts o;
  nfp_bridge_server_opts_default(&o);
  o.bind = "tcp://127.0.0.1:*";
  o.insecure = 1;
  o.realtime = realtime;
  o.safety.max_vel = 0;
  if (server_launch(srv, cam_rig_create(camera), &o)) fail_msg("%s", nfp_error_last());
}

static nfp_arms* connect_q(const char* endpoint, int quality) {
  nfp_bridge_client_opts co;
  nfp_bridge_client_opts_default(&co);
  co.insecure = 1;
  co.jpeg_quality = quality;
  return nfp_arms_zmq_connect(endpoint, &co);
}

static double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += abs((int)a[i] - (int)b[i]);
  return sum / (double)n;
}

// Reset, then steps with frames: each frame the rig's at that step, exactly (raw) or
// within 4 gray levels (JPEG); bytes on the wire as the encoding makes them.
static void check_frames(nfp_arms* a, int jpeg) {
  nfp_bridge_rig rig;
  assert_int_equal(nfp_arms_zmq_rig(a, &rig), 0);
  assert_int_equal(rig.jpeg_quality, jpeg);
  static uint8_t want[CH * CW * 3];
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_reset(a, 1), 0);
  for (int k = 0; k < 4; k++) {
    if (nfp_arms_observe(a, &obs, 1)) fail_msg("%s", nfp_error_last());
    assert_non_null(obs.image);
    cam_frame(want, obs.step);
    uint32_t bytes = nfp_arms_zmq_frame_bytes(a);
    if (jpeg) {
      assert_true(bytes > 0 && bytes < sizeof(want));
      assert_true(mean_abs_diff(obs.image, want, sizeof(want)) < 4.0);
    } else {
      assert_int_equal(bytes, sizeof(want));
      assert_memory_equal(obs.image, want, sizeof(want));
    }
    if (nfp_arms_command(a, obs.qpos, 0) || nfp_arms_step(a)) fail_msg("%s", nfp_error_last());
  }
  assert_true(obs.step >= 3);
}

static void negotiated_frames(void** state) {
  (void)state;
  for (int realtime = 0; realtime < 2; realtime++) {
    server_run srv;
    serve(&srv, 1, realtime);
    const char* ep = nfp_bridge_server_endpoint(srv.server);
    nfp_arms* a = connect_q(ep, 0);
    if (!a) fail_msg("%s", nfp_error_last());
    check_frames(a, 0);
    nfp_arms_close(a);
    a = connect_q(ep, 80);
    if (!a) fail_msg("%s", nfp_error_last());
    check_frames(a, 80);
    nfp_arms_close(a);
    server_finish(&srv);
    assert_int_equal(srv.rc, 0);
  }
  // No camera: the server declines, and the client knows.
  server_run srv;
  serve(&srv, 0, 0);
  nfp_arms* a = connect_q(nfp_bridge_server_endpoint(srv.server), 80);
  if (!a) fail_msg("%s", nfp_error_last());
  nfp_bridge_rig rig;
  assert_int_equal(nfp_arms_zmq_rig(a, &rig), 0);
  assert_int_equal(rig.jpeg_quality, 0);
  nfp_arms_close(a);
  assert_null(connect_q(nfp_bridge_server_endpoint(srv.server), 101));
  assert_non_null(strstr(nfp_error_last(), "JPEG quality 101"));
  server_finish(&srv);
}

//---------------------------------- a hostile server -----------------------------------------

// What the fake server answers: its RIG's camera encoding, and one STATE frame per RESET.
typedef struct {
  int encoding;
  const uint8_t* data;
  uint32_t bytes;
} fake_frame;

typedef struct {
  void* ctx;
  void* sock;
  char endpoint[128];
  pthread_t thread;
  atomic_int stop;
  int rig_encoding;
  const fake_frame* frames;
  int n_frames, next;
} fake_server;

// The reply to one request: RIG for HELLO (rig_encoding -1: refused, as a server older than
// JPEG frames refuses the flag), the next scripted frame for RESET, else STATUS.
static void fake_reply(fake_server* f, const nfp_wire_msg* q, nfp_wire_msg* r) {
  memset(r, 0, sizeof(*r));
  r->seq = q->seq;
  if (q->type == NFP_WIRE_HELLO && f->rig_encoding < 0) {
    r->type = NFP_WIRE_ERROR;
    r->error.code = NFP_WIRE_E_FIELD;
    snprintf(r->error.message, sizeof(r->error.message), "HELLO: unknown flags 0x3");
  } else if (q->type == NFP_WIRE_HELLO) {
    r->type = NFP_WIRE_RIG;
    snprintf(r->rig.name, sizeof(r->rig.name), "hostile");
    r->rig.nq = NQ, r->rig.mode = NFP_WIRE_LOCKSTEP, r->rig.control_hz = 50;
    r->rig.n_cam = 1, r->rig.cam_h = CH, r->rig.cam_w = CW;
    r->rig.cam_encoding = f->rig_encoding;
  } else if (q->type == NFP_WIRE_RESET && f->next < f->n_frames) {
    const fake_frame* fr = &f->frames[f->next++];
    r->type = NFP_WIRE_STATE;
    r->state.nq = NQ, r->state.img_h = CH, r->state.img_w = CW;
    r->state.img_encoding = fr->encoding, r->state.img_bytes = fr->bytes;
    r->state.image = fr->data;
  } else {
    r->type = NFP_WIRE_STATUS;
  }
}

static void* fake_main(void* arg) {
  fake_server* f = arg;
  static uint8_t in[NFP_WIRE_MAX_REQUEST], out[1 << 16];
  while (!atomic_load(&f->stop)) {
    zmq_pollitem_t it = {f->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, 20) <= 0) continue;
    uint8_t id[256];
    int idn = zmq_recv(f->sock, id, sizeof(id), 0);
    int n = zmq_recv(f->sock, in, sizeof(in), 0);
    nfp_wire_msg q, r;
    if (idn <= 0 || n <= 0 || nfp_wire_decode(&q, in, (size_t)n)) continue;
    fake_reply(f, &q, &r);
    size_t len = nfp_wire_encode(out, sizeof(out), &r);
    zmq_send(f->sock, id, (size_t)idn, ZMQ_SNDMORE);
    zmq_send(f->sock, out, len, 0);
  }
  return NULL;
}

static void fake_start(fake_server* f, int rig_encoding, const fake_frame* frames, int n) {
  memset(f, 0, sizeof(*f));
  f->rig_encoding = rig_encoding;
  f->frames = frames;
  f->n_frames = n;
  f->ctx = zmq_ctx_new();
  f->sock = zmq_socket(f->ctx, ZMQ_ROUTER);
  int zero = 0;
  zmq_setsockopt(f->sock, ZMQ_LINGER, &zero, sizeof(zero));
  assert_int_equal(zmq_bind(f->sock, "tcp://127.0.0.1:*"), 0);
  size_t len = sizeof(f->endpoint);
  zmq_getsockopt(f->sock, ZMQ_LAST_ENDPOINT, f->endpoint, &len);
  assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_finish(fake_server* f) {
  atomic_store(&f->stop, 1);
  pthread_join(f->thread, NULL);
  zmq_close(f->sock);
  zmq_ctx_term(f->ctx);
}

// Each broken frame makes RESET fail with a message naming the fault; the good frame
// after them decodes.
static void hostile_frames(void** state) {
  (void)state;
  static uint8_t rgb[CH * CW * 3], swapped[1 << 14], huge[1 << 14];
  cam_frame(rgb, 0);
  nfp_jpeg j = {0};
  const uint8_t* d;
  size_t n = nfp_jpeg_encode(&j, rgb, CW, CH, 90, &d);  // a 24x32 frame: the sides swapped
  assert_true(n > 0 && n < sizeof(swapped));
  memcpy(swapped, d, n);
  uint32_t n_swapped = (uint32_t)n;
  n = nfp_jpeg_encode(&j, rgb, CH, CW, 90, &d);
  assert_true(n > 0 && n < sizeof(huge));
  memcpy(huge, d, n);
  for (size_t i = 2; i + 9 < n; i++) {  // SOF0: height and width -> 65278 x 65278
    if (huge[i] == 0xff && huge[i + 1] == 0xc0) {
      memset(huge + i + 5, 0xfe, 4);
      break;
    }
  }
  // static, as the server thread reads them: a failed assertion leaves this frame early
  static fake_frame frames[6];
  frames[0] = (fake_frame){NFP_WIRE_JPEG, swapped, n_swapped};
  frames[1] = (fake_frame){NFP_WIRE_JPEG, d, (uint32_t)n / 2};
  frames[2] = (fake_frame){NFP_WIRE_JPEG, (const uint8_t*)"GIF89a, not a JPEG at all", 25};
  frames[3] = (fake_frame){NFP_WIRE_JPEG, huge, (uint32_t)n};
  frames[4] = (fake_frame){NFP_WIRE_RGB8, rgb, sizeof(rgb)};
  frames[5] = (fake_frame){NFP_WIRE_JPEG, d, (uint32_t)n};
  const char* why[] = {"JPEG frame is 24x32, the handshake said 32x24", "JPEG frame of",
                       "JPEG frame of 25 bytes has no readable header",
                       "JPEG frame is 65278x65278",
                       "sent a raw RGB8 frame, the handshake agreed on JPEG"};
  static fake_server f;
  fake_start(&f, NFP_WIRE_JPEG, frames, 6);
  nfp_arms* a = connect_q(f.endpoint, 90);
  if (!a) fail_msg("%s", nfp_error_last());
  for (int k = 0; k < 5; k++) {
    assert_int_equal(nfp_arms_reset(a, (uint64_t)k), -1);
    if (!strstr(nfp_error_last(), why[k])) fail_msg("frame %d: %s", k, nfp_error_last());
  }
  if (nfp_arms_reset(a, 5)) fail_msg("%s", nfp_error_last());
  nfp_arms_obs obs;
  assert_int_equal(nfp_arms_observe(a, &obs, 1), 0);
  assert_true(mean_abs_diff(obs.image, rgb, sizeof(rgb)) < 4.0);
  nfp_arms_close(a);
  fake_finish(&f);
  nfp_jpeg_free(&j);
}

// A server that sends JPEG frames to a client that asked for raw ones is refused at once;
// one that refuses the JPEG flag (older than it) gets a hint to connect without --jpeg.
static void jpeg_unasked_or_refused(void** state) {
  (void)state;
  static fake_server f;
  fake_start(&f, NFP_WIRE_JPEG, NULL, 0);
  assert_null(connect_q(f.endpoint, 0));
  assert_non_null(strstr(nfp_error_last(), "offers JPEG frames though raw frames were asked"));
  fake_finish(&f);
  fake_start(&f, -1, NULL, 0);
  assert_null(connect_q(f.endpoint, 90));
  assert_non_null(strstr(nfp_error_last(), "connect without --jpeg"));
  assert_non_null(strstr(nfp_error_last(), "unknown flags 0x3"));
  fake_finish(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(negotiated_frames),
      cmocka_unit_test(hostile_frames),
      cmocka_unit_test(jpeg_unasked_or_refused),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
