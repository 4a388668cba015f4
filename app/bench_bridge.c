// nfp bench --bridge: how long one control step takes through the bridge on loopback,
// for a state-only observation and with a 320x240 camera frame, raw and as JPEG (with its
// bytes per frame), over CURVE (the default) and plain TCP. The server wraps a stand-in
// rig that does no work, so the figures are the bridge's own: encode, encrypt, two
// socket hops, decrypt, decode, both ways (and JPEG compression and decoding).
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bench_bridge.h"
#include "bridge_flags.h"
#include "files.h"
#include "nfp/bridge.h"
#include "nfp/clock.h"
#include "nfp/error.h"
#include "nfp/stats.h"

#define CAM_W 320
#define CAM_H 240
#define JPEG_QUALITY 90  // --jpeg's default here

//---------------------------------- a rig that does nothing ----------------------------------

typedef struct {
  double q[14];
  int64_t step;
  uint8_t image[CAM_H * CAM_W * 3];
} null_rig;

static int null_reset(nfp_arms* a, uint64_t seed) {
  null_rig* r = a->impl;
  (void)seed;
  r->step = 0;
  return 0;
}
static int null_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  null_rig* r = a->impl;
  memset(obs, 0, sizeof(*obs));
  memcpy(obs->qpos, r->q, sizeof(r->q));
  obs->step = r->step;
  obs->success = -1;
  obs->image = with_image ? r->image : NULL;
  return 0;
}
static int null_command(nfp_arms* a, const double* target, int hold) {
  null_rig* r = a->impl;
  if (!hold) memcpy(r->q, target, sizeof(r->q));
  return 0;
}
static int null_step(nfp_arms* a) {
  ((null_rig*)a->impl)->step++;
  return 0;
}
static void null_close(nfp_arms* a) { (void)a; }
static const nfp_arms_ops null_ops = {null_reset, null_observe, null_command, null_step, null_close};

//---------------------------------- timing ---------------------------------------------------

typedef struct {
  nfp_bridge_server* s;
  int rc;
} serve_arg;

static void* serve_main(void* p) {
  serve_arg* a = p;
  a->rc = nfp_bridge_server_run(a->s);
  return NULL;
}

// The four figures of one transport (state-only, raw frame and JPEG frame round trips,
// p50 and p99) and the bytes a JPEG frame took.
typedef struct {
  double state[2], image[2], jpeg[2];
  uint32_t jpeg_bytes;
} bridge_figures;

// p50/p99 of n control steps (command + step = one STEP/STATE round trip).
static int time_steps(double out[2], nfp_arms* c, int with_image, int n) {
  double* t = malloc(sizeof(double) * (size_t)n);
  if (!t) return nfp_error_set("out of memory");
  nfp_arms_obs obs;
  int rc = nfp_arms_reset(c, 0) || nfp_arms_observe(c, &obs, with_image);
  for (int i = 0; i < n + n / 10 && !rc; i++) {  // the first tenth warms up
    double t0 = nfp_clock_ms();
    rc = nfp_arms_command(c, obs.qpos, 0) || nfp_arms_step(c) || nfp_arms_observe(c, &obs, with_image);
    if (i >= n / 10) t[i - n / 10] = nfp_clock_ms() - t0;
  }
  if (!rc && with_image && !obs.image) rc = nfp_error_set("no camera frame came back");
  if (!rc) {
    out[0] = nfp_percentile(t, n, 0.5);  // nearest rank, as every report of nfp
    out[1] = nfp_percentile(t, n, 0.99);
  }
  free(t);
  return rc ? -1 : 0;
}

// A client of server s (CURVE with the keys in dir, or plain TCP), frames as JPEG at
// quality (0: raw). NULL with a message.
static nfp_arms* bench_client(nfp_bridge_server* s, int insecure, const char* dir,
                              int quality) {
  char spub[512], ckey[512];
  snprintf(spub, sizeof(spub), "%s/server.pub", dir);
  snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
  nfp_bridge_client_opts co;
  nfp_bridge_client_opts_default(&co);
  co.insecure = insecure;
  co.server_key = spub;
  co.client_key = ckey;
  co.jpeg_quality = quality;
  nfp_arms* c = nfp_arms_zmq_connect(nfp_bridge_server_endpoint(s), &co);
  nfp_bridge_rig rig;
  if (c && quality && (nfp_arms_zmq_rig(c, &rig) || rig.jpeg_quality != quality)) {
    nfp_arms_close(c);
    nfp_error_set("the server declined JPEG frames");
    return NULL;
  }
  return c;
}

// Clients of s: state-only and raw-frame round trips, then JPEG frames at quality on a
// second session -> f.
static int time_sessions(bridge_figures* f, nfp_bridge_server* s, int insecure,
                         const char* dir, int n, int quality) {
  int n_image = n / 4 > 50 ? n / 4 : 50;
  nfp_arms* c = bench_client(s, insecure, dir, 0);
  int rc = c ? 0 : -1;
  if (!rc) rc = time_steps(f->state, c, 0, n);
  if (!rc) rc = time_steps(f->image, c, 1, n_image);
  nfp_arms_close(c);  // says BYE: the next session may take control
  if (rc) return -1;
  c = bench_client(s, insecure, dir, quality);
  rc = c ? time_steps(f->jpeg, c, 1, n_image) : -1;
  if (!rc) f->jpeg_bytes = nfp_arms_zmq_frame_bytes(c);
  nfp_arms_close(c);
  return rc;
}

// Serve the null rig (CURVE with fresh keys in dir, or plain TCP) and time it -> f.
static int bench_one(bridge_figures* f, nfp_arms* rig, int insecure, const char* dir, int n,
                     int quality) {
  char skey[512], cpub[512];
  snprintf(skey, sizeof(skey), "%s/server.key", dir);
  snprintf(cpub, sizeof(cpub), "%s/client.pub", dir);
  nfp_bridge_server_opts so;
  nfp_bridge_server_opts_default(&so);
  so.bind = "tcp://127.0.0.1:*";
  so.insecure = insecure;
  so.server_key = skey;
  so.allow = cpub;  // the allow-list is the client's .pub: one key, one line
  so.safety.max_vel = 0;
  so.safety.heartbeat_ms = 60000;
  nfp_bridge_server* s = nfp_bridge_server_create(rig, &so);
  if (!s) return -1;
  serve_arg sa = {s, 0};
  pthread_t th;
  if (pthread_create(&th, NULL, serve_main, &sa)) {
    nfp_bridge_server_free(s);
    return nfp_error_set("cannot start the server thread");
  }
  int rc = time_sessions(f, s, insecure, dir, n, quality);
  nfp_bridge_server_stop(s);
  pthread_join(th, NULL);
  nfp_bridge_server_free(s);
  return rc;
}

// A frame like a camera's, for JPEG to chew on: shaded wall, a table edge, a dark pot and
// a little sensor noise (a patterned or random frame would make JPEG look worse than it
// does on camera images).
static void scene_frame(uint8_t* rgb) {
  uint32_t noise = 12345;
  for (int y = 0; y < CAM_H; y++) {
    for (int x = 0; x < CAM_W; x++) {
      int c[3] = {70 + 90 * y / CAM_H, 80 + 60 * x / CAM_W, 120 + 40 * (x + y) / (CAM_W + CAM_H)};
      if (y > CAM_H * 3 / 5) c[0] = 150, c[1] = 110, c[2] = 70;
      int dx = x - CAM_W * 11 / 20, dy = y - CAM_H * 11 / 20;
      if (dx * dx + dy * dy < CAM_W * CAM_W / 80) c[0] = 40, c[1] = 45, c[2] = 55;
      for (int k = 0; k < 3; k++) {
        noise = noise * 1664525u + 1013904223u;
        rgb[3 * (y * CAM_W + x) + k] = (uint8_t)(c[k] + (int)(noise >> 29) - 4);
      }
    }
  }
}

// The stand-in rig behind the server: 14 joints and a 320x240 scene-like frame.
static void null_rig_init(nfp_arms* rig, null_rig* impl) {
  scene_frame(impl->image);
  *rig = (nfp_arms){.ops = &null_ops, .impl = impl};
  snprintf(rig->info.name, sizeof(rig->info.name), "null rig");
  rig->info.nq = 14;
  rig->info.control_hz = 50.0 / 3.0;
  rig->info.cam_h = CAM_H;
  rig->info.cam_w = CAM_W;
  for (int j = 0; j < 14; j++) rig->info.q_lo[j] = -3, rig->info.q_hi[j] = 3;
}

// Fresh keys in a temporary folder -> the rig timed over CURVE (*curve) and plain TCP
// (*plain); the folder is removed after. 0, or 1 (reported).
static int bench_transports(bridge_figures* curve, bridge_figures* plain, nfp_arms* rig,
                            int repeats, int quality) {
  char dir[] = "/tmp/nfp_bench_bridge.XXXXXX";
  if (!mkdtemp(dir)) {
    fprintf(stderr, "nfp bench: cannot make a temporary folder\n");
    return 1;
  }
  char base[64];
  snprintf(base, sizeof(base), "%s/server", dir);
  int rc = nfp_bridge_keys_gen(base);
  snprintf(base, sizeof(base), "%s/client", dir);
  rc = rc || nfp_bridge_keys_gen(base);
  rc = rc || bench_one(curve, rig, 0, dir, repeats, quality) ||
       bench_one(plain, rig, 1, dir, repeats, quality);
  const char* files[] = {"server.key", "server.pub", "client.key", "client.pub"};
  for (int i = 0; i < 4; i++) {
    snprintf(base, sizeof(base), "%s/%s", dir, files[i]);
    unlink(base);
  }
  rmdir(dir);
  if (rc) {
    fprintf(stderr, "nfp bench: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}

// One transport's line of the table: p50 / p99 of each kind of round trip.
static void print_row(const char* name, const bridge_figures* f) {
  printf("  %-10s %7.3f / %-7.3f   %7.3f / %-7.3f   %7.3f / %-7.3f\n", name, f->state[0],
         f->state[1], f->image[0], f->image[1], f->jpeg[0], f->jpeg[1]);
}

// The figures, frame sizes and the target, on stdout.
static void bridge_print(const bridge_figures* curve, const bridge_figures* plain,
                         int repeats, int quality) {
  printf("bridge round trip over loopback (one control step), %d state / %d image repeats\n",
         repeats, repeats / 4 > 50 ? repeats / 4 : 50);
  printf("  p50 / p99 ms   state-only          320x240 raw RGB8    320x240 JPEG q%d\n",
         quality);
  print_row("CURVE", curve);
  print_row("plain TCP", plain);
  double raw = CAM_H * CAM_W * 3;
  printf("bytes per frame: raw %.0f, JPEG q%d %u (%.1fx smaller; a synthetic scene)\n", raw,
         quality, curve->jpeg_bytes, raw / (curve->jpeg_bytes ? curve->jpeg_bytes : 1));
  printf("target state-only p99 < 1 ms (CURVE): %s\n", curve->state[1] < 1.0 ? "met" : "NOT met");
}

// The figures as JSON -> path. 0, or 1 (reported).
static int bridge_write_json(const char* path, const bridge_figures* curve,
                             const bridge_figures* plain, int repeats, int quality) {
  cJSON* o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "bridge_state_p50_ms", curve->state[0]);
  cJSON_AddNumberToObject(o, "bridge_state_p99_ms", curve->state[1]);
  cJSON_AddNumberToObject(o, "bridge_image_p50_ms", curve->image[0]);
  cJSON_AddNumberToObject(o, "bridge_image_p99_ms", curve->image[1]);
  cJSON_AddNumberToObject(o, "bridge_state_plain_p50_ms", plain->state[0]);
  cJSON_AddNumberToObject(o, "bridge_state_plain_p99_ms", plain->state[1]);
  cJSON_AddNumberToObject(o, "bridge_image_plain_p50_ms", plain->image[0]);
  cJSON_AddNumberToObject(o, "bridge_image_plain_p99_ms", plain->image[1]);
  cJSON_AddNumberToObject(o, "bridge_jpeg_p50_ms", curve->jpeg[0]);
  cJSON_AddNumberToObject(o, "bridge_jpeg_p99_ms", curve->jpeg[1]);
  cJSON_AddNumberToObject(o, "bridge_jpeg_plain_p50_ms", plain->jpeg[0]);
  cJSON_AddNumberToObject(o, "bridge_jpeg_plain_p99_ms", plain->jpeg[1]);
  cJSON_AddNumberToObject(o, "jpeg_quality", quality);
  cJSON_AddNumberToObject(o, "image_bytes_per_frame", CAM_H * CAM_W * 3);
  cJSON_AddNumberToObject(o, "jpeg_bytes_per_frame", curve->jpeg_bytes);
  cJSON_AddNumberToObject(o, "image_width", CAM_W);
  cJSON_AddNumberToObject(o, "image_height", CAM_H);
  cJSON_AddStringToObject(o, "image_encoding", "raw RGB8");
  cJSON_AddNumberToObject(o, "repeats", repeats);
  cJSON_AddBoolToObject(o, "state_p99_lt_1ms", curve->state[1] < 1.0);
  char* text = cJSON_Print(o);
  cJSON_Delete(o);
  int rc = text && !nfp_text_write(path, text) ? 0 : 1;
  free(text);
  if (rc) fprintf(stderr, "nfp bench: %s\n", nfp_error_last());
  else printf("wrote %s\n", path);
  return rc;
}

// Flags -> the null rig served over CURVE and plain TCP -> printed and JSON figures.
int nfp_bench_bridge(int argc, char** argv) {
  const char* json = NULL;
  int bridge = 0, repeats = 2000, quality = JPEG_QUALITY;
  nfp_arg args[] = {
      {"--bridge", NFP_ARG_FLAG, &bridge, NULL, "measure the arm bridge (this benchmark)", 0, 0,
       0},
      {"--json", NFP_ARG_STR, &json, "FILE", "write the figures as JSON", 0, 0, 0},
      {"--repeats", NFP_ARG_INT, &repeats, "N",
       "timed state-only round trips (a quarter with images, raw and JPEG)", 100, 1000000, 0},
      {"--jpeg", NFP_ARG_INT, &quality, "Q", "JPEG quality of the compressed frames (90)", 1,
       100, 0},
  };
  int rc = nfp_args_parse(argc, argv, args, 4,
                          "nfp bench --bridge [--json FILE] [--repeats N] [--jpeg Q]",
                          "Round-trip time of one control step through the arm bridge over "
                          "loopback (STEP out,\nSTATE back), p50 and p99, for a state-only "
                          "observation and with a 320x240 RGB frame,\nraw and as JPEG (with "
                          "its bytes per frame), over CURVE with an allow-list and\nover "
                          "plain TCP. The server wraps a stand-in rig that does no work.\n"
                          "Target: state-only p99 under 1 ms.");
  if (rc) return rc == 1 ? 0 : 2;
  if (json && nfp_file_check_writable(json)) {
    fprintf(stderr, "nfp bench: --json: %s\n", nfp_error_last());
    return 1;
  }
  static null_rig impl;
  nfp_arms rig;
  null_rig_init(&rig, &impl);
  bridge_figures curve, plain;
  if (bench_transports(&curve, &plain, &rig, repeats, quality)) return 1;
  bridge_print(&curve, &plain, repeats, quality);
  return json ? bridge_write_json(json, &curve, &plain, repeats, quality) : 0;
}
