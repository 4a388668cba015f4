// nfp.controller with an image policy: the host renders the head camera (OSMesa, as
// `nfp eval` does) and hands frames over through nfp/plugin.h, found with dlsym in the
// library mj_loadPluginLibrary opened. The trial equals the in-process loop bit for bit;
// a host that gives no frame (or a stale one) gets a MuJoCo warning and no blind plan.
#include <dlfcn.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/plugin.h"
#include "nfp/render.h"
#include "nfp/sampler.h"
#include "nfp/tasks.h"
#include "scene.h"

#define NSTEP 40    // control steps per trial
#define REPLAN 6    // control steps per plan
#define SUBSTEPS 30 // physics steps per control step

static char dir[64];
static char ckpt[256];
static nfp_plugin_frame_size_fn frame_size;
static nfp_plugin_wants_frame_fn wants_frame;
static nfp_plugin_set_frame_fn set_frame;
static uint8_t frame[NFP_HEAD_H * NFP_HEAD_W * 3];

// MuJoCo warnings, captured: the last one and how many.
static char last_warning[2048];
static int n_warnings;

static void log_capture(const mjLogMessage* msg) {
  if (msg->level != mjLOG_WARNING) return;
  snprintf(last_warning, sizeof(last_warning), "%s", msg->subject);
  n_warnings++;
}

static void write_scene(const char* name, const char* order, const char* mode, int samples) {
  char ctl[1024], task[512], body[3072];
  snprintf(ctl, sizeof(ctl),
           "    <plugin plugin=\"nfp.controller\"><instance name=\"policy\">\n"
           "      <config key=\"checkpoint\" value=\"%s\"/>\n"
           "      <config key=\"mode\" value=\"%s\"/>\n"
           "      <config key=\"samples\" value=\"%d\"/>\n"
           "      <config key=\"replan\" value=\"%d\"/>\n"
           "    </instance></plugin>\n", ckpt, mode, samples, REPLAN);
  snprintf(task, sizeof(task),
           "    <plugin plugin=\"nfp.task\"><instance name=\"task\">\n"
           "      <config key=\"task\" value=\"lift_pot\"/>\n"
           "    </instance></plugin>\n");
  snprintf(body, sizeof(body),
           "  <extension>\n%s%s  </extension>\n"
           "  <sensor><plugin name=\"success\" instance=\"task\"/>"
           "<plugin name=\"control_steps\" instance=\"task\"/>"
           "<plugin name=\"done\" instance=\"task\"/>"
           "<plugin name=\"loglik\" instance=\"policy\"/></sensor>",
           order[0] == 'c' ? ctl : task, order[0] == 'c' ? task : ctl);
  assert_int_equal(scene_mjcf(dir, name, body), 0);
}

static mjModel* load(const char* name) {
  char path[256], err[1024] = "";
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  mjModel* m = mj_loadXML(path, NULL, err, sizeof(err));
  if (!m) fail_msg("%s: %s", name, err);
  return m;
}

static int instance_of(const mjModel* m, const char* plugin) {
  for (int i = 0; i < m->nplugin; i++) {
    if (strcmp(mjp_getPluginAtSlot(m->plugin[i])->name, plugin) == 0) return i;
  }
  return -1;
}

static double sensor(const mjModel* m, const mjData* d, const char* name) {
  int id = mj_name2id(m, mjOBJ_SENSOR, name);
  assert_true(id >= 0);
  return d->sensordata[m->sensor_adr[id]];
}

static int setup(void** state) {
  (void)state;
  snprintf(dir, sizeof(dir), "/tmp/nfp_plugin_img_XXXXXX");
  if (!mkdtemp(dir)) return -1;
  snprintf(ckpt, sizeof(ckpt), "%s/image_policy.safetensors", dir);
  if (scene_copy_assets(dir) || scene_image_checkpoint(ckpt)) {
    fprintf(stderr, "scene: %s\n", nfp_error_last());
    return -1;
  }
  mj_loadPluginLibrary(NFP_PLUGIN_PATH);
  // A host that knows mujoco.h and nfp/plugin.h: the API from the library MuJoCo opened.
  void* lib = dlopen(NFP_PLUGIN_PATH, RTLD_NOW | RTLD_NOLOAD);
  if (!lib) {
    fprintf(stderr, "%s is not loaded: %s\n", NFP_PLUGIN_PATH, dlerror());
    return -1;
  }
  frame_size = (nfp_plugin_frame_size_fn)dlsym(lib, "nfp_plugin_frame_size");
  wants_frame = (nfp_plugin_wants_frame_fn)dlsym(lib, "nfp_plugin_wants_frame");
  set_frame = (nfp_plugin_set_frame_fn)dlsym(lib, "nfp_plugin_set_frame");
  dlclose(lib);   // MuJoCo keeps its own reference
  if (!frame_size || !wants_frame || !set_frame) {
    fprintf(stderr, "nfp/plugin.h functions not exported by %s\n", NFP_PLUGIN_PATH);
    return -1;
  }
  return 0;
}

static int teardown(void** state) {
  (void)state;
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : -1;
}

// ---- equivalence with the in-process loop -------------------------------------------

typedef struct trace_ {
  int nq;
  double qpos[NSTEP][64];
  double loglik[NSTEP];
  int frames;   // head-camera frames rendered
} trace;

// The loop of `nfp eval` on simulated arms: the head camera is rendered after the
// control step's physics, only when the controller will plan.
static void run_inprocess(trace* tr, uint64_t seed, nfp_sample_mode mode, int samples) {
  nfp_task* t = nfp_task_create("lift_pot", dir);
  assert_non_null(t);
  nfp_renderer* r = nfp_render_create(t->m, NFP_HEAD_W, NFP_HEAD_H);
  if (!r) fail_msg("%s", nfp_error_last());
  nfp_model* model = nfp_checkpoint_load(ckpt, NULL, NULL);
  assert_non_null(model);
  nfp_controller_opts o;
  nfp_controller_opts_default(&o, model, mode);
  o.sample.n_candidates = samples;
  o.replan = REPLAN;
  nfp_controller* c = nfp_controller_create(model, &o);
  assert_non_null(c);
  tr->nq = t->m->nq;
  tr->frames = 0;
  nfp_task_reset(t, seed);
  nfp_controller_reset(c, seed);
  for (int k = 0; k < NSTEP; k++) {
    double q[NFP_NJ], target[NFP_NJ];
    nfp_controller_info info;
    nfp_task_observe(t, q, NULL);
    const uint8_t* image = NULL;
    if (nfp_controller_will_plan(c)) {
      assert_int_equal(nfp_render_camera(frame, r, t->m, t->d, t->rig.head_camera), 0);
      image = frame;
      tr->frames++;
    }
    assert_int_equal(nfp_controller_act(c, q, image, target, &info), 0);
    nfp_task_step(t, target);
    memcpy(tr->qpos[k], t->d->qpos, sizeof(double) * (size_t)tr->nq);
    tr->loglik[k] = info.loglik;
  }
  nfp_controller_free(c);
  nfp_model_free(model);
  nfp_render_free(r);
  nfp_task_free(t);
}

// The same trial through the plugins: before each mj_step the host asks whether a frame
// is wanted and renders d as it stands.
static void run_plugin(trace* tr, const mjModel* m, mjData* d, nfp_renderer* r, uint64_t seed) {
  int task = instance_of(m, "nfp.task");
  int head = mj_name2id(m, mjOBJ_CAMERA, "head");
  assert_true(task >= 0 && head >= 0);
  tr->nq = m->nq;
  tr->frames = 0;
  mj_resetData(m, d);
  d->plugin_state[m->plugin_stateadr[task]] = (mjtNum)seed;   // the task's seed slot
  for (int k = 0; k < NSTEP; k++) {
    for (int s = 0; s < SUBSTEPS; s++) {
      int want = wants_frame(m, d, -1);
      assert_true(want == 0 || want == 1);
      if (want) {
        assert_int_equal(s, 0);   // only at a control step's first physics step
        assert_int_equal(nfp_render_camera(frame, r, m, d, head), 0);
        assert_int_equal(set_frame(m, d, -1, frame, NFP_HEAD_H, NFP_HEAD_W), 0);
        tr->frames++;
      }
      mj_step(m, d);
    }
    memcpy(tr->qpos[k], d->qpos, sizeof(double) * (size_t)tr->nq);
    tr->loglik[k] = sensor(m, d, "loglik");
    assert_int_equal((int)sensor(m, d, "control_steps"), k + 1);
  }
}

static void equivalence(const char* order, const char* mode_name, int samples, uint64_t seed) {
  nfp_sample_mode mode;
  assert_int_equal(nfp_sample_mode_parse(&mode, mode_name), 0);
  char name[64];
  snprintf(name, sizeof(name), "img_%s_%s.xml", order, mode_name);
  write_scene(name, order, mode_name, samples);
  mjModel* m = load(name);
  mjData* d = mj_makeData(m);
  assert_non_null(d);
  nfp_renderer* r = nfp_render_create(m, NFP_HEAD_W, NFP_HEAD_H);
  if (!r) fail_msg("%s", nfp_error_last());
  static trace a, b;
  mjfLogHandler prev = mju_setLogHandler(log_capture);
  n_warnings = 0;
  run_inprocess(&a, seed, mode, samples);
  run_plugin(&b, m, d, r, seed);
  mju_setLogHandler(prev);
  assert_int_equal(n_warnings, 0);
  assert_int_equal(a.nq, b.nq);
  int first = -1;
  for (int k = 0; k < NSTEP && first < 0; k++) {
    if (memcmp(a.qpos[k], b.qpos[k], sizeof(double) * (size_t)a.nq) ||
        a.loglik[k] != b.loglik[k]) {
      first = k;
    }
  }
  double travel = 0;
  for (int i = 0; i < a.nq; i++) travel = fmax(travel, fabs(a.qpos[NSTEP - 1][i] - a.qpos[0][i]));
  printf("image policy, %s, %s, seed %llu: %s over %d control steps (%d frames in process, "
         "%d through the plugin; final loglik %.2f, max joint travel %.3f)\n",
         order[0] == 'c' ? "controller first" : "task first", mode_name,
         (unsigned long long)seed, first < 0 ? "identical" : "DIFFERENT", NSTEP, a.frames,
         b.frames, a.loglik[NSTEP - 1], travel);
  if (first >= 0) fail_msg("trajectories differ at control step %d", first);
  assert_int_equal(a.frames, b.frames);
  assert_int_equal(a.frames, (NSTEP + REPLAN - 1) / REPLAN);
  nfp_render_free(r);
  mj_deleteData(d);
  mj_deleteModel(m);
}

static void test_equivalence_single(void** state) {
  (void)state;
  equivalence("ct", "single", 1, 3);
}

static void test_equivalence_sbs_task_first(void** state) {
  (void)state;
  equivalence("tc", "sbs", 8, 12);
}

// ---- hosts that give no frame --------------------------------------------------------

// A host that never renders: a warning that says what to do, once per episode, and the
// arms keep their set-up command instead of following a blind plan.
static void test_no_frame(void** state) {
  (void)state;
  write_scene("img_noframe.xml", "ct", "single", 1);
  mjModel* m = load("img_noframe.xml");
  mjData* d = mj_makeData(m);
  nfp_rig rig;
  assert_int_equal(nfp_rig_resolve(&rig, m), 0);
  mjfLogHandler prev = mju_setLogHandler(log_capture);
  n_warnings = 0;
  last_warning[0] = '\0';
  mj_resetData(m, d);
  mj_step(m, d);   // the set-up (which sets the home command), then the refused plan
  double ctrl0[NFP_NJ];
  for (int j = 0; j < NFP_NJ; j++) ctrl0[j] = d->ctrl[rig.actuator[j]];
  for (int s = 1; s < 3 * REPLAN * SUBSTEPS; s++) mj_step(m, d);
  mju_setLogHandler(prev);
  printf("no frame: %d warning(s): %s\n", n_warnings, last_warning);
  assert_int_equal(n_warnings, 1);
  assert_non_null(strstr(last_warning, "nfp.controller"));
  assert_non_null(strstr(last_warning, "no frame for physics step 0"));
  assert_non_null(strstr(last_warning, "nfp_plugin_set_frame"));
  for (int j = 0; j < NFP_NJ; j++) assert_true(d->ctrl[rig.actuator[j]] == ctrl0[j]);
  assert_true(sensor(m, d, "loglik") == 0);
  for (int i = 0; i < m->nq; i++) assert_true(isfinite(d->qpos[i]));
  mj_deleteData(d);
  mj_deleteModel(m);
}

// A frame serves the step it was given at: after the first plan the host stops
// rendering; the next plan finds the old frame stale and is refused.
static void test_stale_frame(void** state) {
  (void)state;
  write_scene("img_stale.xml", "ct", "single", 1);
  mjModel* m = load("img_stale.xml");
  mjData* d = mj_makeData(m);
  nfp_renderer* r = nfp_render_create(m, NFP_HEAD_W, NFP_HEAD_H);
  if (!r) fail_msg("%s", nfp_error_last());
  int head = mj_name2id(m, mjOBJ_CAMERA, "head");
  mjfLogHandler prev = mju_setLogHandler(log_capture);
  n_warnings = 0;
  mj_resetData(m, d);
  assert_int_equal(wants_frame(m, d, -1), 1);
  assert_int_equal(nfp_render_camera(frame, r, m, d, head), 0);
  assert_int_equal(set_frame(m, d, -1, frame, NFP_HEAD_H, NFP_HEAD_W), 0);
  mj_step(m, d);
  assert_int_equal(n_warnings, 0);
  double loglik = sensor(m, d, "loglik");
  assert_true(loglik != 0 && isfinite(loglik));
  int asked = 0;
  for (int s = 1; s < (REPLAN + 1) * SUBSTEPS; s++) {
    asked += wants_frame(m, d, -1);
    mj_step(m, d);
  }
  mju_setLogHandler(prev);
  printf("stale frame: asked %d time(s), %d warning(s): %s\n", asked, n_warnings,
         last_warning);
  assert_int_equal(asked, 1);   // at control step REPLAN
  assert_int_equal(n_warnings, 1);
  char expect[64];
  snprintf(expect, sizeof(expect), "no frame for physics step %d", REPLAN * SUBSTEPS);
  assert_non_null(strstr(last_warning, expect));
  assert_true(sensor(m, d, "loglik") == loglik);   // still the first chunk's
  nfp_render_free(r);
  mj_deleteData(d);
  mj_deleteModel(m);
}

// The API's answers and refusals: the frame size, frames of the wrong size, an instance
// that is not a controller, a state policy (which wants no frame).
static void test_api_checks(void** state) {
  (void)state;
  write_scene("img_api.xml", "tc", "single", 1);
  mjModel* m = load("img_api.xml");
  mjData* d = mj_makeData(m);
  int n_cam, h, w;
  assert_int_equal(frame_size(m, d, -1, &n_cam, &h, &w), 0);
  assert_int_equal(n_cam, 1);
  assert_int_equal(h, NFP_HEAD_H);
  assert_int_equal(w, NFP_HEAD_W);
  int ctl = instance_of(m, "nfp.controller"), task = instance_of(m, "nfp.task");
  assert_int_equal(frame_size(m, d, ctl, &n_cam, &h, &w), 0);
  mjfLogHandler prev = mju_setLogHandler(log_capture);
  assert_int_equal(set_frame(m, d, -1, frame, NFP_HEAD_W, NFP_HEAD_H), -1);
  printf("wrong size: %s\n", last_warning);
  assert_non_null(strstr(last_warning, "takes 240 x 320 frames"));
  assert_int_equal(set_frame(m, d, -1, NULL, NFP_HEAD_H, NFP_HEAD_W), -1);
  assert_int_equal(wants_frame(m, d, task), -1);
  printf("not a controller: %s\n", last_warning);
  assert_non_null(strstr(last_warning, "is not an nfp.controller"));
  assert_int_equal(wants_frame(m, d, m->nplugin), -1);
  mju_setLogHandler(prev);
  mj_deleteData(d);
  mj_deleteModel(m);

  // A state policy: no camera, never asks.
  char state_ckpt[256], body[1024];
  snprintf(state_ckpt, sizeof(state_ckpt), "%s/state_policy.safetensors", dir);
  assert_int_equal(scene_checkpoint(state_ckpt, 0), 0);
  snprintf(body, sizeof(body),
           "<extension><plugin plugin=\"nfp.controller\"><instance name=\"p\">"
           "<config key=\"checkpoint\" value=\"%s\"/></instance></plugin></extension>",
           state_ckpt);
  assert_int_equal(scene_mjcf(dir, "state_api.xml", body), 0);
  m = load("state_api.xml");
  d = mj_makeData(m);
  assert_int_equal(frame_size(m, d, -1, &n_cam, &h, &w), 0);
  assert_int_equal(n_cam, 0);
  for (int s = 0; s < 2 * SUBSTEPS; s++) {
    assert_int_equal(wants_frame(m, d, -1), 0);
    mj_step(m, d);
  }
  prev = mju_setLogHandler(log_capture);
  assert_int_equal(set_frame(m, d, -1, frame, NFP_HEAD_H, NFP_HEAD_W), -1);
  mju_setLogHandler(prev);
  assert_non_null(strstr(last_warning, "sees no camera"));
  mj_deleteData(d);
  mj_deleteModel(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_api_checks),
    cmocka_unit_test(test_no_frame),
    cmocka_unit_test(test_stale_frame),
    cmocka_unit_test(test_equivalence_single),
    cmocka_unit_test(test_equivalence_sbs_task_first),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
