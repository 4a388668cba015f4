// A policy evaluated through the bridge (lock-step, CURVE, loopback) gives the in-process
// episodes: the same outcome per seed and bit-identical joint positions at every step. So
// does a camera policy with raw frames (the server renders the head camera); with JPEG
// frames it runs its episodes on frames within 3 gray levels of the raw ones, and the
// test reports how far its joints then drift from the raw run.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "nfp/agent.h"
#include "bridge_util.h"
#include "nfp/render.h"
#include "policy_flags.h"
#include "nfp/rollout.h"

#define NSEEDS 3
#define MAX_STEPS 400
#define IMG_SEEDS 2       // camera policy: seeds and control steps per episode
#define IMG_STEPS 40
#define FRAME (NFP_HEAD_H * NFP_HEAD_W * 3)

typedef struct {
  int steps, success, plans, hold_steps;
  double qpos[MAX_STEPS + 1][14];
} episode_trace;

// Which episodes: the checkpoint, sampling mode, seeds 1000.., a step limit, and where to
// keep each seed's first camera frame (NULL: not kept).
typedef struct {
  const char* path;
  nfp_sample_mode mode;
  int nseeds, max_steps;
  uint8_t (*first_frame)[FRAME];
} episode_plan;

static char image_policy_path[300];

static int run_episodes(episode_trace* out, nfp_arms* arms, const nfp_model* model,
                        const episode_plan* plan) {
  nfp_policy_flags pf;
  nfp_policy_flags_default(&pf);
  pf.path = plan->path;
  nfp_agent_spec spec;
  nfp_policy_flags_spec(&spec, &pf, model, plan->mode);
  nfp_agent* agent = nfp_agent_create(&spec);
  if (!agent) return -1;
  nfp_rollout ro = {0};
  int rc = 0;
  for (int k = 0; k < plan->nseeds && !rc; k++) {
    episode_trace* e = &out[k];
    rc = nfp_rollout_begin(&ro, arms, agent, 1000 + (uint64_t)k);
    if (!rc) memcpy(e->qpos[0], ro.obs.qpos, sizeof(e->qpos[0]));
    if (!rc && plan->first_frame) {
      if (!ro.obs.image) rc = nfp_error_set("the camera policy got no frame at reset");
      else memcpy(plan->first_frame[k], ro.obs.image, FRAME);
    }
    while (!rc && !ro.done && ro.steps < plan->max_steps) {
      rc = nfp_rollout_step(&ro, NULL, NULL);
      if (!rc) memcpy(e->qpos[ro.steps], ro.obs.qpos, sizeof(e->qpos[0]));
    }
    e->steps = ro.steps;
    e->success = ro.success;
    e->plans = ro.plans;
    e->hold_steps = ro.hold_steps;
  }
  nfp_rollout_free(&ro);
  nfp_agent_free(agent);
  return rc;
}

static void compare(const episode_trace* a, const episode_trace* b, int nseeds) {
  for (int k = 0; k < nseeds; k++) {
    assert_int_equal(a[k].steps, b[k].steps);
    assert_int_equal(a[k].success, b[k].success);
    assert_int_equal(a[k].plans, b[k].plans);
    assert_int_equal(a[k].hold_steps, b[k].hold_steps);
    for (int t = 0; t <= a[k].steps; t++) {
      if (memcmp(a[k].qpos[t], b[k].qpos[t], sizeof(a[k].qpos[t]))) {
        fail_msg("seed %d step %d: qpos differs through the bridge", 1000 + k, t);
      }
    }
  }
}

// The plan's episodes on in-process simulated arms -> out.
static void run_local(episode_trace* out, const nfp_model* model, const episode_plan* plan) {
  nfp_arms* sim = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  assert_non_null(sim);
  if (run_episodes(out, sim, model, plan)) fail_msg("%s", nfp_error_last());
  nfp_arms_close(sim);
}

// The plan's episodes through the server srv (frames as JPEG at quality, or raw when 0)
// -> out, and the server's counters after them -> st.
static void run_remote(episode_trace* out, nfp_bridge_status* st, server_run* srv,
                       const nfp_model* model, const episode_plan* plan, int quality) {
  nfp_bridge_client_opts co;
  client_opts(&co, cli_key);
  co.jpeg_quality = quality;
  nfp_arms* remote_arms = nfp_arms_zmq_connect(nfp_bridge_server_endpoint(srv->server), &co);
  if (!remote_arms) fail_msg("%s", nfp_error_last());
  assert_string_equal(remote_arms->info.name, "sim:lift_pot");
  assert_int_equal(remote_arms->info.nq, 14);
  assert_int_equal(remote_arms->info.step_cap, 400);
  nfp_bridge_rig rig;
  assert_int_equal(nfp_arms_zmq_rig(remote_arms, &rig), 0);
  assert_int_equal(rig.jpeg_quality, quality);
  if (run_episodes(out, remote_arms, model, plan)) fail_msg("%s", nfp_error_last());
  if (quality) {
    print_message("JPEG q%d: %u bytes per head-camera frame (raw %d)\n", quality,
                  nfp_arms_zmq_frame_bytes(remote_arms), FRAME);
  }
  assert_int_equal(nfp_arms_zmq_status(remote_arms, st), 0);
  nfp_arms_close(remote_arms);
}

// The safety layer was there but had nothing to do, nothing was refused, and every
// control step of the plan was one command; the arms did move (a frozen rig would
// compare equal too).
static void check_quiet(const nfp_bridge_status* st, const episode_trace* local, int nseeds) {
  assert_int_equal(st->rate_clamps, 0);
  assert_int_equal(st->rejected, 0);
  assert_int_equal(st->errors, 0);
  int total = 0;
  for (int k = 0; k < nseeds; k++) total += local[k].steps;
  assert_int_equal((int)st->commands, total);
  double moved = 0;
  for (int j = 0; j < 14; j++) {
    moved += fabs(local[0].qpos[local[0].steps][j] - local[0].qpos[0][j]);
  }
  assert_true(moved > 1e-3);
}

static void check_mode(nfp_sample_mode mode) {
  nfp_model* model = nfp_checkpoint_load(policy_path, NULL, NULL);
  assert_non_null(model);
  static episode_trace local[NSEEDS], remote[NSEEDS];
  memset(local, 0, sizeof(local));
  memset(remote, 0, sizeof(remote));
  episode_plan plan = {policy_path, mode, NSEEDS, MAX_STEPS, NULL};
  run_local(local, model, &plan);
  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  nfp_bridge_status st;
  run_remote(remote, &st, &srv, model, &plan, 0);
  server_finish(&srv);
  assert_int_equal(srv.rc, 0);
  compare(local, remote, NSEEDS);
  check_quiet(&st, local, NSEEDS);
  nfp_model_free(model);
}

static double mean_abs_diff(const uint8_t* a, const uint8_t* b, size_t n) {
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += abs((int)a[i] - (int)b[i]);
  return sum / (double)n;
}

// JPEG episodes against the raw ones: the first frames (the same scene) within 3 gray
// levels, and how many steps' joints differ, reported.
static void report_jpeg(const episode_trace* raw, const episode_trace* jpeg,
                        uint8_t (*raw_frame)[FRAME], uint8_t (*jpeg_frame)[FRAME]) {
  for (int k = 0; k < IMG_SEEDS; k++) {
    double mae = mean_abs_diff(raw_frame[k], jpeg_frame[k], FRAME);
    int differ = 0, n = raw[k].steps < jpeg[k].steps ? raw[k].steps : jpeg[k].steps;
    double worst = 0;
    for (int t = 0; t <= n; t++) {
      differ += memcmp(raw[k].qpos[t], jpeg[k].qpos[t], sizeof(raw[k].qpos[t])) != 0;
      for (int j = 0; j < 14; j++) {
        worst = fmax(worst, fabs(raw[k].qpos[t][j] - jpeg[k].qpos[t][j]));
      }
    }
    print_message("seed %d, JPEG q90: first frame %.2f gray levels from raw; qpos differs at %d "
                  "of %d steps (at most %.2e rad); %d vs %d steps, success %d vs %d\n",
                  1000 + k, mae, differ, n + 1, worst, jpeg[k].steps, raw[k].steps,
                  jpeg[k].success, raw[k].success);
    assert_true(mae > 0 && mae < 3.0);
    assert_true(jpeg[k].steps > 0);
  }
}

// A camera (CNN) policy: raw frames through the bridge give the in-process episodes bit
// for bit; JPEG frames at quality 90 run the episodes through.
static void camera_policy(void** state) {
  (void)state;
  nfp_model* model = nfp_checkpoint_load(image_policy_path, NULL, NULL);
  if (!model) fail_msg("%s", nfp_error_last());
  assert_true(model->cfg.n_cam == 1);
  static episode_trace local[IMG_SEEDS], raw[IMG_SEEDS], jpeg[IMG_SEEDS];
  static uint8_t raw_frame[IMG_SEEDS][FRAME], jpeg_frame[IMG_SEEDS][FRAME];
  memset(local, 0, sizeof(local));
  episode_plan plan = {image_policy_path, NFP_SAMPLE_SINGLE, IMG_SEEDS, IMG_STEPS, raw_frame};
  run_local(local, model, &plan);
  server_run srv;
  if (server_start(&srv, "lift_pot", 0, NULL)) fail_msg("%s", nfp_error_last());
  nfp_bridge_status st;
  plan.first_frame = NULL;
  run_remote(raw, &st, &srv, model, &plan, 0);
  plan.first_frame = jpeg_frame;
  nfp_bridge_status st_jpeg;
  run_remote(jpeg, &st_jpeg, &srv, model, &plan, 90);
  server_finish(&srv);
  assert_int_equal(srv.rc, 0);
  compare(local, raw, IMG_SEEDS);
  check_quiet(&st, local, IMG_SEEDS);
  assert_int_equal(st_jpeg.errors, 0);
  report_jpeg(raw, jpeg, raw_frame, jpeg_frame);
  nfp_model_free(model);
}

static void equivalence_single(void** state) {
  (void)state;
  check_mode(NFP_SAMPLE_SINGLE);
}

static void equivalence_sbs(void** state) {
  (void)state;
  check_mode(NFP_SAMPLE_SBS);
}

// A small camera policy (CNN encoder on the 240x320 head camera, shrunk by 4 and cropped
// to 56x72) whose actions stay within +-0.03 rad of the reset pose, as make_policy's.
static int make_image_policy(void) {
  nfp_arms* arms = nfp_arms_sim_create("lift_pot", NFP_TEST_ASSETS);
  nfp_arms_obs obs;
  if (!arms || nfp_arms_reset(arms, 1) || nfp_arms_observe(arms, &obs, 0)) return -1;
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.n_layers = 2, cfg.hidden = 32, cfg.context_dim = 16, cfg.enc_hidden = 32;
  cfg.encoder = NFP_ENCODER_CNN, cfg.n_cam = 1, cfg.img_down = 4;
  cfg.img_src_h = NFP_HEAD_H, cfg.img_src_w = NFP_HEAD_W, cfg.img_h = 56, cfg.img_w = 72;
  nfp_model* m = nfp_model_create(&cfg, 5);
  if (!m) return -1;
  nfp_rng rng;  // a fresh flow is the identity: perturb every weight, the CNN's too
  nfp_rng_seed(&rng, 13);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.02f * (float)nfp_rng_normal(&rng);
  float slo[14], shi[14], alo[14], ahi[14];
  for (int j = 0; j < 14; j++) {
    slo[j] = (float)arms->info.q_lo[j], shi[j] = (float)arms->info.q_hi[j];
    int grip = j % 7 == 6;
    alo[j] = grip ? 0.0f : (float)(obs.qpos[j] - 0.03);
    ahi[j] = grip ? 1.0f : (float)(obs.qpos[j] + 0.03);
  }
  tpath(image_policy_path, "image_policy.safetensors");
  int rc = nfp_model_set_norm(m, slo, shi, alo, ahi) ||
           nfp_checkpoint_save(image_policy_path, m, NULL, NULL, NULL, 0);
  nfp_model_free(m);
  nfp_arms_close(arms);
  return rc ? -1 : 0;
}

static int setup(void** state) {
  (void)state;
  if (make_keys() || make_policy("lift_pot") || make_image_policy()) {
    fprintf(stderr, "setup: %s\n", nfp_error_last());
    return -1;
  }
  return 0;
}

static int teardown(void** state) {
  (void)state;
  remove_tdir();
  return 0;
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(equivalence_single),
      cmocka_unit_test(equivalence_sbs),
      cmocka_unit_test(camera_policy),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
