// Test scenes for the plugins (see scene.h).
#include "scene.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/render.h"
#include "nfp/rng.h"
#include "nfp/tasks.h"

static int copy_file(const char* from, const char* to) {
  FILE* in = fopen(from, "rb");
  FILE* out = in ? fopen(to, "wb") : NULL;
  int ok = in && out;
  char buf[4096];
  size_t n;
  while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0) ok = fwrite(buf, 1, n, out) == n;
  if (in) fclose(in);
  if (out && fclose(out)) ok = 0;
  return ok ? 0 : -1;
}

int scene_copy_assets(const char* dir) {
  const char* names[] = {"rig.xml", "arm.xml", "lift_pot.xml", "parts/rig.xml",
                         "parts/lift_pot.xml"};
  char parts[1024];
  snprintf(parts, sizeof(parts), "%s/parts", dir);
  if (mkdir(parts, 0755) && errno != EEXIST) return -1;
  for (int i = 0; i < 5; i++) {
    char from[1024], to[1024];
    snprintf(from, sizeof(from), "%s/%s", NFP_TEST_ASSETS, names[i]);
    snprintf(to, sizeof(to), "%s/%s", dir, names[i]);
    if (copy_file(from, to)) return -1;
  }
  return 0;
}

// Joint range seen over the expert's episodes: the statistics a trained policy stores.
static int expert_ranges(float lo[NFP_NJ], float hi[NFP_NJ]) {
  nfp_task* t = nfp_task_create("lift_pot", NFP_TEST_ASSETS);
  if (!t) return -1;
  for (int j = 0; j < NFP_NJ; j++) lo[j] = 1e9f, hi[j] = -1e9f;
  for (uint64_t seed = 0; seed < 2; seed++) {
    nfp_task_reset(t, seed);
    for (int k = 0; k < 400 && !nfp_task_expert_done(t); k++) {
      double q[NFP_NJ], target[NFP_NJ];
      nfp_task_observe(t, q, NULL);
      nfp_task_expert(t, target);
      for (int j = 0; j < NFP_NJ; j++) {
        float a = (float)q[j], b = (float)target[j];
        lo[j] = fminf(lo[j], fminf(a, b));
        hi[j] = fmaxf(hi[j], fmaxf(a, b));
      }
      nfp_task_step(t, target);
    }
  }
  nfp_task_free(t);
  for (int j = 0; j < NFP_NJ; j++) lo[j] -= 0.05f, hi[j] += 0.05f;
  return 0;
}

// A state frame is the 14 joint positions and Lift Pot's object state (pot position and
// quaternion), as `nfp train` builds it from demos that record the object state.
#define SCENE_NOBJ 7

// A model of cfg with seeded, perturbed weights, normalised by the expert's ranges.
static nfp_model* scene_model(const nfp_model_config* cfg) {
  nfp_model* model = nfp_model_create(cfg, 1);
  if (!model) return NULL;
  nfp_rng rng;
  nfp_rng_seed(&rng, 2);
  for (size_t i = 0; i < model->num_params; i++) {
    model->params[i] += 0.02f * (float)nfp_rng_normal(&rng);
  }
  float lo[NFP_NJ + SCENE_NOBJ], hi[NFP_NJ + SCENE_NOBJ];   // object part unused if absent
  for (int j = NFP_NJ; j < NFP_NJ + SCENE_NOBJ; j++) lo[j] = -1.0f, hi[j] = 1.0f;  // pot pose
  if (expert_ranges(lo, hi) || nfp_model_set_norm(model, lo, hi, lo, hi)) {
    nfp_model_free(model);
    return NULL;
  }
  return model;
}

nfp_model* scene_policy(int with_object) {
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.state_dim = NFP_NJ + (with_object ? SCENE_NOBJ : 0);
  return scene_model(&cfg);
}

nfp_model* scene_image_policy(void) {
  nfp_model_config cfg;
  nfp_model_config_default(&cfg);
  cfg.encoder = NFP_ENCODER_CNN;
  cfg.n_cam = 1;
  cfg.img_src_h = NFP_HEAD_H;
  cfg.img_src_w = NFP_HEAD_W;
  cfg.img_down = 4;
  cfg.img_h = 56;
  cfg.img_w = 72;
  return scene_model(&cfg);
}

int scene_image_checkpoint(const char* path) {
  nfp_model* model = scene_image_policy();
  if (!model) return -1;
  int rc = nfp_checkpoint_save(path, model, NULL, NULL, NULL, 0);
  nfp_model_free(model);
  return rc;
}

int scene_checkpoint(const char* path, int with_object) {
  nfp_model* model = scene_policy(with_object);
  if (!model) return -1;
  int rc = nfp_checkpoint_save(path, model, NULL, NULL, NULL, 0);
  nfp_model_free(model);
  return rc;
}

int scene_mjcf(const char* dir, const char* name, const char* body) {
  char path[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE* f = fopen(path, "w");
  if (!f) return -1;
  // As assets/lift_pot_nfp.xml: the arm model is declared here, in the top file.
  fprintf(f, "<mujoco model=\"%s\">\n  <asset><model name=\"arm\" file=\"arm.xml\"/></asset>\n"
             "  <include file=\"parts/rig.xml\"/>\n  <include file=\"parts/lift_pot.xml\"/>\n"
             "%s\n</mujoco>\n", name, body);
  return fclose(f) ? -1 : 0;
}
