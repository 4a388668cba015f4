// nfp bench --bridge: how long one control step takes through the bridge on loopback,
// for a state-only observation and with a 320x240 camera frame, over CURVE (the default)
// and plain TCP. The server wraps a stand-in rig that does no work, so the figures are
// the bridge's own: encode, encrypt, two socket hops, decrypt, decode, both ways.
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

// Serve the null rig (CURVE with fresh keys in dir, or plain TCP) and time it.
static int bench_one(double state[2], double image[2], nfp_arms* rig, int insecure,
                     const char* dir, int n) {
  char skey[512], spub[512], ckey[512], cpub[512], allow[512];
  snprintf(skey, sizeof(skey), "%s/server.key", dir);
  snprintf(spub, sizeof(spub), "%s/server.pub", dir);
  snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
  snprintf(cpub, sizeof(cpub), "%s/client.pub", dir);
  snprintf(allow, sizeof(allow), "%s/allow", dir);
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
  nfp_bridge_client_opts co;
  nfp_bridge_client_opts_default(&co);
  co.insecure = insecure;
  co.server_key = spub;
  co.client_key = ckey;
  nfp_arms* c = nfp_arms_zmq_connect(nfp_bridge_server_endpoint(s), &co);
  int rc = c ? 0 : -1;
  if (!rc) rc = time_steps(state, c, 0, n);
  if (!rc) rc = time_steps(image, c, 1, n / 4 > 50 ? n / 4 : 50);
  nfp_arms_close(c);
  nfp_bridge_server_stop(s);
  pthread_join(th, NULL);
  nfp_bridge_server_free(s);
  (void)allow;
  return rc;
}

// The four figures of one transport: state-only and image round trips, p50 and p99.
typedef struct {
  double state[2], image[2];
} bridge_figures;

// The stand-in rig behind the server: 14 joints and a patterned 320x240 frame.
static void null_rig_init(nfp_arms* rig, null_rig* impl) {
  for (size_t i = 0; i < sizeof(impl->image); i++) impl->image[i] = (uint8_t)(i * 31);
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
                            int repeats) {
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
  rc = rc || bench_one(curve->state, curve->image, rig, 0, dir, repeats) ||
       bench_one(plain->state, plain->image, rig, 1, dir, repeats);
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

// The figures and the target, on stdout.
static void bridge_print(const bridge_figures* curve, const bridge_figures* plain,
                         int repeats) {
  printf("bridge round trip over loopback (one control step), %d state / %d image repeats\n",
         repeats, repeats / 4 > 50 ? repeats / 4 : 50);
  printf("  CURVE      state-only p50 %.3f ms p99 %.3f ms   320x240 image p50 %.3f ms p99 %.3f "
         "ms\n", curve->state[0], curve->state[1], curve->image[0], curve->image[1]);
  printf("  plain TCP  state-only p50 %.3f ms p99 %.3f ms   320x240 image p50 %.3f ms p99 %.3f "
         "ms\n", plain->state[0], plain->state[1], plain->image[0], plain->image[1]);
  printf("target state-only p99 < 1 ms (CURVE): %s\n", curve->state[1] < 1.0 ? "met" : "NOT met");
}

// The figures as JSON -> path. 0, or 1 (reported).
static int bridge_write_json(const char* path, const bridge_figures* curve,
                             const bridge_figures* plain, int repeats) {
  cJSON* o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "bridge_state_p50_ms", curve->state[0]);
  cJSON_AddNumberToObject(o, "bridge_state_p99_ms", curve->state[1]);
  cJSON_AddNumberToObject(o, "bridge_image_p50_ms", curve->image[0]);
  cJSON_AddNumberToObject(o, "bridge_image_p99_ms", curve->image[1]);
  cJSON_AddNumberToObject(o, "bridge_state_plain_p50_ms", plain->state[0]);
  cJSON_AddNumberToObject(o, "bridge_state_plain_p99_ms", plain->state[1]);
  cJSON_AddNumberToObject(o, "bridge_image_plain_p50_ms", plain->image[0]);
  cJSON_AddNumberToObject(o, "bridge_image_plain_p99_ms", plain->image[1]);
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
  int bridge = 0, repeats = 2000;
  nfp_arg args[] = {
      {"--bridge", NFP_ARG_FLAG, &bridge, NULL, "measure the arm bridge (this benchmark)", 0, 0,
       0},
      {"--json", NFP_ARG_STR, &json, "FILE", "write the figures as JSON", 0, 0, 0},
      {"--repeats", NFP_ARG_INT, &repeats, "N",
       "timed state-only round trips (a quarter with images)", 100, 1000000, 0},
  };
  int rc = nfp_args_parse(argc, argv, args, 3, "nfp bench --bridge [--json FILE] [--repeats N]",
                          "Round-trip time of one control step through the arm bridge over "
                          "loopback (STEP out,\nSTATE back), p50 and p99, for a state-only "
                          "observation and with a 320x240 RGB frame,\nover CURVE with an "
                          "allow-list and over plain TCP. The server wraps a stand-in rig\n"
                          "that does no work. Target: state-only p99 under 1 ms.");
  if (rc) return rc == 1 ? 0 : 2;
  if (json && nfp_file_check_writable(json)) {
    fprintf(stderr, "nfp bench: --json: %s\n", nfp_error_last());
    return 1;
  }
  static null_rig impl;
  nfp_arms rig;
  null_rig_init(&rig, &impl);
  bridge_figures curve, plain;
  if (bench_transports(&curve, &plain, &rig, repeats)) return 1;
  bridge_print(&curve, &plain, repeats);
  return json ? bridge_write_json(json, &curve, &plain, repeats) : 0;
}
