// "nfp.controller": an NF-P checkpoint driving the rig's 14 position actuators.
//
// Where it acts. An actuator plugin's compute runs at the end of mj_fwdActuation, after
// the native actuators took their (clamped) copy of ctrl, so a ctrl written there would
// move the arms one physics step late, from an observation one step old. This plugin
// acts in its sensor compute instead (stage POS, inside mj_forward before velocity and
// actuation): at the first physics step of each control period it observes qpos in the
// 14-D layout, calls nfp_controller_act, clamps the target with nfp_rig_clamp and writes
// ctrl with nfp_rig_ctrl, as nfp_task_step does. The native position servos then
// produce the same forces, step for step, as `nfp eval` in process.
//
// Image policies plan from head-camera frames the host renders and hands over with
// nfp_plugin_set_frame (nfp/plugin.h) at the steps nfp_plugin_wants_frame names.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/checkpoint.h"
#include "nfp/agent.h"
#include "nfp/error.h"
#include "nfp/plugin.h"
#include "nfp/sampler.h"
#include "nfp/tasks.h"
#include "plugin.h"

// Default seed: the first evaluation seed of `nfp eval` (--seed0), past the training
// seeds of the bundled policies (demos use seeds 0..49).
#define CTL_DEFAULT_SEED 100000

// plugin_state layout.
enum {
  CS_SEED,     // seed without a task (-1 after mj_resetData = automatic: seed attribute + k)
  CS_STEP,     // physics steps since mj_resetData (used without a task)
  CS_ACTED,    // physics step of the last nfp_controller_act (-1: none this episode)
  CS_LOGLIK,   // log-likelihood of the executing chunk
  CS_HELD,     // 1 while the likelihood gate holds position
  CS_N
};

// Sensor outputs, in the order sensors are attached to the instance.
enum { OUT_LOGLIK, OUT_HELD, OUT_N };

static const char* const kAttributes[] = {"checkpoint", "mode",       "samples", "sigma",
                                          "replan",     "min_loglik", "seed",    "control_period"};

typedef struct ctl_config_ {
  char checkpoint[1024];   // resolved path
  nfp_sample_mode mode;
  int samples;             // 0: the model's default
  double sigma;            // 0: the model's default
  int replan;              // 0: the controller's default
  double min_loglik;
  uint64_t seed;
  double period;           // seconds per control step
} ctl_config;

typedef struct ctl_inst_ {
  nfp_model* model;
  nfp_controller* c;
  nfp_rig rig;
  int substeps;            // physics steps per control step
  int task;                // instance id of nfp.task, -1 if none
  uint64_t seed0;
  uint64_t episodes;       // episodes started on this mjData (seeds without a task)
  int started;             // this episode took its seed (without a task)
  int warned;              // one warning per episode for a failing act
  uint8_t* frame;          // [n_cam][img_src_h][img_src_w][3] from the host (image policies)
  long frame_step;         // the physics step the frame was given at (-1: none)
} ctl_inst;

static int file_exists(const char* path) {
  FILE* f = fopen(path, "rb");
  if (f) fclose(f);
  return f != NULL;
}

// A relative checkpoint path is looked up in the working directory, then in the asset
// folder ($NFP_ASSETS, else the one compiled in): mjModel does not keep the MJCF's folder.
static int resolve_checkpoint(char* out, size_t n, const char* path, char* err, size_t en) {
  if (snprintf(out, n, "%s", path) >= (int)n) {
    snprintf(err, en, "nfp.controller: checkpoint path too long");
    return -1;
  }
  if (path[0] == '/' || file_exists(out)) return 0;
  const char* assets = nfp_asset_dir();
  if (snprintf(out, n, "%s/%s", assets, path) >= (int)n) {
    snprintf(err, en, "nfp.controller: checkpoint path too long");
    return -1;
  }
  if (file_exists(out)) return 0;
  snprintf(err, en, "nfp.controller: checkpoint '%s' not found (relative paths are tried in "
           "the working directory, then in '%s'; set NFP_ASSETS to change that folder)",
           path, assets);
  return -1;
}

static int ctl_config_read(ctl_config* c, const mjModel* m, int instance, char* err, size_t n) {
  memset(c, 0, sizeof(*c));
  c->min_loglik = -INFINITY;
  c->period = 0.06;
  c->seed = CTL_DEFAULT_SEED;
  const char* v = nfp_plugin_config(m, instance, "checkpoint");
  if (!v) {
    snprintf(err, n, "nfp.controller: config 'checkpoint' (path of a .safetensors policy) "
             "is required");
    return -1;
  }
  if (resolve_checkpoint(c->checkpoint, sizeof(c->checkpoint), v, err, n)) return -1;
  if (!file_exists(c->checkpoint)) {
    snprintf(err, n, "nfp.controller: checkpoint '%s' cannot be opened", c->checkpoint);
    return -1;
  }
  v = nfp_plugin_config(m, instance, "mode");
  c->mode = NFP_SAMPLE_SINGLE;
  if (v && nfp_sample_mode_parse(&c->mode, v)) {
    snprintf(err, n, "nfp.controller: unknown mode '%s' (single, sbs, gr)", v);
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "samples")) &&
      (nfp_plugin_parse_int(&c->samples, v, "nfp.controller: samples", err, n) ||
       c->samples < 1)) {
    snprintf(err, n, "nfp.controller: samples '%s' must be an integer >= 1 (SBS candidates)",
             v);
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "sigma")) &&
      (nfp_plugin_parse_double(&c->sigma, v, "nfp.controller: sigma", err, n) ||
       !(c->sigma > 0 && isfinite(c->sigma)))) {
    snprintf(err, n, "nfp.controller: sigma '%s' must be a positive number", v);
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "replan")) &&
      (nfp_plugin_parse_int(&c->replan, v, "nfp.controller: replan", err, n) || c->replan < 1)) {
    snprintf(err, n, "nfp.controller: replan '%s' must be an integer >= 1 (control steps)", v);
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "min_loglik")) &&
      nfp_plugin_parse_double(&c->min_loglik, v, "nfp.controller: min_loglik", err, n)) {
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "seed")) &&
      nfp_plugin_parse_u64(&c->seed, v, "nfp.controller: seed", err, n)) {
    return -1;
  }
  if ((v = nfp_plugin_config(m, instance, "control_period")) &&
      (nfp_plugin_parse_double(&c->period, v, "nfp.controller: control_period", err, n) ||
       !(c->period > 0 && isfinite(c->period)))) {
    snprintf(err, n, "nfp.controller: control_period '%s' must be a positive number of "
             "seconds", v);
    return -1;
  }
  return 0;
}

static int ctl_nstate(const mjModel* m, int instance) {
  (void)m, (void)instance;
  return CS_N;
}

static int ctl_nsensordata(const mjModel* m, int instance, int sensor_id) {
  (void)m, (void)instance, (void)sensor_id;
  return 1;
}

static void ctl_free(ctl_inst* ci) {
  if (!ci) return;
  nfp_controller_free(ci->c);
  nfp_model_free(ci->model);
  free(ci->frame);
  free(ci);
}

// The instance for one mjData; NULL with err filled.
static ctl_inst* ctl_create(const mjModel* m, int instance, char* err, size_t n) {
  ctl_config cfg;
  if (ctl_config_read(&cfg, m, instance, err, n)) return NULL;
  if (nfp_plugin_sensor_count(m, instance) > OUT_N) {
    snprintf(err, n, "nfp.controller: %d sensors attached; it has %d outputs (loglik, held)",
             nfp_plugin_sensor_count(m, instance), OUT_N);
    return NULL;
  }
  ctl_inst* ci = calloc(1, sizeof(*ci));
  if (!ci) {
    snprintf(err, n, "nfp.controller: out of memory");
    return NULL;
  }
  ci->seed0 = cfg.seed;
  ci->task = nfp_plugin_task_find(m);
  if (ci->task == -2) {
    snprintf(err, n, "nfp.controller: the model has more than one nfp.task instance");
    goto fail;
  }
  if (nfp_rig_resolve(&ci->rig, m)) {
    snprintf(err, n, "nfp.controller: the model does not hold the rig it drives: %s",
             nfp_error_last());
    goto fail;
  }
  ci->model = nfp_checkpoint_load(cfg.checkpoint, NULL, NULL);
  if (!ci->model) {
    snprintf(err, n, "nfp.controller: %s", nfp_error_last());
    goto fail;
  }
  const nfp_model_config* mc = &ci->model->cfg;
  if (mc->action_dim != NFP_NJ || mc->state_dim < NFP_NJ) {
    snprintf(err, n, "nfp.controller: checkpoint '%s' is a policy over %d joints; the plugin "
             "drives the %d-joint rig", cfg.checkpoint, mc->action_dim, NFP_NJ);
    goto fail;
  }
  if (mc->n_cam > 0) {
    ci->frame = malloc((size_t)mc->n_cam * mc->img_src_h * mc->img_src_w * 3);
    if (!ci->frame) {
      snprintf(err, n, "nfp.controller: out of memory for camera frames");
      goto fail;
    }
  }
  ci->frame_step = -1;
  if (mc->state_dim > NFP_NJ && ci->task < 0) {
    snprintf(err, n, "nfp.controller: checkpoint '%s' observes the object state (%d values "
             "per frame); add an nfp.task instance, which measures it", cfg.checkpoint,
             mc->state_dim);
    goto fail;
  }
  nfp_controller_opts opts;
  nfp_controller_opts_default(&opts, ci->model, cfg.mode);
  if (cfg.samples) opts.sample.n_candidates = cfg.samples;
  if (cfg.sigma > 0) opts.sample.sigma = cfg.sigma;
  if (cfg.replan) opts.replan = cfg.replan;
  opts.min_loglik = cfg.min_loglik;
  ci->c = nfp_controller_create(ci->model, &opts);
  if (!ci->c) {
    snprintf(err, n, "nfp.controller: %s", nfp_error_last());
    goto fail;
  }
  ci->substeps = (int)(cfg.period / m->opt.timestep + 0.5);
  if (ci->substeps < 1) ci->substeps = 1;
  return ci;
fail:
  ctl_free(ci);
  return NULL;
}

static int ctl_init(const mjModel* m, mjData* d, int instance) {
  d->plugin_data[instance] = 0;
  if (nfp_plugin_inert()) return 0;
  char err[2048];
  ctl_inst* ci = ctl_create(m, instance, err, sizeof(err));
  if (!ci) return nfp_plugin_init_failed(m, d, instance, err);
  d->plugin_data[instance] = (uintptr_t)ci;
  return 0;
}

static void ctl_destroy(mjData* d, int instance) {
  ctl_free((ctl_inst*)d->plugin_data[instance]);
  d->plugin_data[instance] = 0;
}

static void ctl_reset(const mjModel* m, mjtNum* state, void* data, int instance) {
  (void)m, (void)instance;
  // The controller itself is reseeded when the episode's first control step runs:
  // only then is the task's seed known (a host may set it after mj_resetData).
  ctl_inst* ci = data;
  if (ci) {
    ci->warned = 0;
    ci->started = 0;
    ci->frame_step = -1;   // a frame never outlives its episode
  }
  state[CS_SEED] = -1;
  state[CS_STEP] = 0;
  state[CS_ACTED] = -1;
  state[CS_LOGLIK] = 0;
  state[CS_HELD] = 0;
}

// The episode clock: its seed and the physics steps since it began. 0 while no episode
// is under way (the task's set-up is running). Starts a pending episode: the task's
// set-up runs here if no plugin ran it yet; without a task, the episode takes its seed.
static int ctl_clock(const mjModel* m, mjData* d, ctl_inst* ci, mjtNum* st, uint64_t* seed,
                     long* step) {
  if (ci->task >= 0) {
    // The task owns the episode: its set-up runs first, its seed seeds the controller,
    // its step count is the clock.
    return nfp_plugin_task_episode(m, d, ci->task, seed, step);
  }
  *step = (long)st[CS_STEP];
  if (*step == 0 && !ci->started) {
    st[CS_SEED] = st[CS_SEED] >= 0 ? st[CS_SEED] : (mjtNum)(ci->seed0 + ci->episodes);
    ci->episodes++;
    ci->started = 1;
  }
  *seed = (uint64_t)st[CS_SEED];
  return 1;
}

// Does physics step `step` run a control step the controller has not acted on yet?
static int ctl_due(const ctl_inst* ci, const mjtNum* st, long step) {
  return step % ci->substeps == 0 && st[CS_ACTED] != step;
}

// Will the act due at `step` sample a chunk from the camera? (The controller is reset,
// so plans, at an episode's first step.)
static int ctl_plans_from_camera(const ctl_inst* ci, long step) {
  return ci->frame && (step == 0 || nfp_controller_will_plan(ci->c));
}

// One control step: observe, act, command the servos.
static void ctl_act(const mjModel* m, mjData* d, ctl_inst* ci, mjtNum* st, long step,
                    uint64_t seed) {
  if (step == 0) nfp_controller_reset(ci->c, seed);
  st[CS_ACTED] = (mjtNum)step;
  // The state frame as nfp eval builds it (nfp_state_frame): joint positions, then (for
  // models trained with it) the task's object state.
  double qpos[NFP_NJ], object[NFP_ARMS_MAX_OBJECT];
  double state[NFP_NJ + NFP_ARMS_MAX_OBJECT], target[NFP_NJ];
  int ns = ci->model->cfg.state_dim;
  nfp_rig_observe(qpos, NULL, &ci->rig, d);
  int k = ns > NFP_NJ ? nfp_plugin_task_object_state(m, d, ci->task, object, NFP_ARMS_MAX_OBJECT)
                      : 0;
  if (k < 0) k = 0;  // no nfp.task in the model: no object state
  int ok = nfp_state_frame(state, ns, qpos, NFP_NJ, object, k, "the nfp.task plugin") == 0;
  // An image policy plans only from a frame given for this very step: an older one
  // would show another state, and planning without one would be blind.
  const uint8_t* image = NULL;
  if (ok && ctl_plans_from_camera(ci, step)) {
    const nfp_model_config* mc = &ci->model->cfg;
    ok = ci->frame_step == step;
    if (ok) {
      image = ci->frame;
    } else {
      nfp_error_set("the policy plans from the head camera (%d x %d) and the host gave no "
                    "frame for physics step %ld: a host calls nfp_plugin_set_frame when "
                    "nfp_plugin_wants_frame returns 1 (nfp/plugin.h); keeping the last "
                    "command", mc->img_src_h, mc->img_src_w, step);
    }
  }
  nfp_controller_info info;
  if (!ok || nfp_controller_act(ci->c, state, image, target, &info) != 0) {
    // A missing frame, or a diverged simulation (MuJoCo warns too): keep the last command.
    if (!ci->warned) mju_warning("nfp.controller: %s", nfp_error_last());
    ci->warned = 1;
    return;
  }
  nfp_rig_clamp(target, &ci->rig, m);
  nfp_rig_ctrl(d, &ci->rig, target);
  st[CS_LOGLIK] = info.loglik;
  st[CS_HELD] = info.held;
}

static void ctl_compute(const mjModel* m, mjData* d, int instance, int capability) {
  (void)capability;
  ctl_inst* ci = (ctl_inst*)d->plugin_data[instance];
  if (!ci) return;
  mjtNum* st = d->plugin_state + m->plugin_stateadr[instance];
  uint64_t seed;
  long step;
  if (!ctl_clock(m, d, ci, st, &seed, &step)) return;
  // Once per control step, however often the host calls mj_forward.
  if (ctl_due(ci, st, step)) ctl_act(m, d, ci, st, step, seed);
  double out[OUT_N] = {st[CS_LOGLIK], st[CS_HELD]};
  nfp_plugin_sensor_write(m, d, instance, out);
}

static void ctl_advance(const mjModel* m, mjData* d, int instance) {
  ctl_inst* ci = (ctl_inst*)d->plugin_data[instance];
  if (ci && ci->task < 0) d->plugin_state[m->plugin_stateadr[instance] + CS_STEP] += 1;
}

// ---- host API (nfp/plugin.h) ----------------------------------------------------------

// The live nfp.controller behind `instance` (-1: the model's only one); NULL with a
// MuJoCo warning naming the problem.
static ctl_inst* ctl_lookup(const mjModel* m, const mjData* d, int* instance, const char* fn) {
  int i = *instance;
  if (i < 0) {
    for (int j = 0; j < m->nplugin; j++) {
      const mjpPlugin* p = mjp_getPluginAtSlot(m->plugin[j]);
      if (p && strcmp(p->name, "nfp.controller") == 0) {
        if (i >= 0) {
          mju_warning("%s: the model has more than one nfp.controller; name the instance", fn);
          return NULL;
        }
        i = j;
      }
    }
    if (i < 0) {
      mju_warning("%s: the model has no nfp.controller instance", fn);
      return NULL;
    }
  }
  const mjpPlugin* p = i < m->nplugin ? mjp_getPluginAtSlot(m->plugin[i]) : NULL;
  if (!p || strcmp(p->name, "nfp.controller") != 0) {
    mju_warning("%s: plugin instance %d is not an nfp.controller", fn, i);
    return NULL;
  }
  ctl_inst* ci = (ctl_inst*)d->plugin_data[i];
  if (!ci) mju_warning("%s: nfp.controller instance %d has no controller on this mjData", fn, i);
  *instance = i;
  return ci;
}

int nfp_plugin_frame_size(const mjModel* m, const mjData* d, int instance, int* n_cam, int* h,
                          int* w) {
  ctl_inst* ci = ctl_lookup(m, d, &instance, "nfp_plugin_frame_size");
  if (!ci) return -1;
  const nfp_model_config* mc = &ci->model->cfg;
  *n_cam = mc->n_cam;
  *h = mc->n_cam > 0 ? mc->img_src_h : 0;
  *w = mc->n_cam > 0 ? mc->img_src_w : 0;
  return 0;
}

int nfp_plugin_wants_frame(const mjModel* m, mjData* d, int instance) {
  ctl_inst* ci = ctl_lookup(m, d, &instance, "nfp_plugin_wants_frame");
  if (!ci) return -1;
  if (!ci->frame) return 0;
  mjtNum* st = d->plugin_state + m->plugin_stateadr[instance];
  uint64_t seed;
  long step;
  if (!ctl_clock(m, d, ci, st, &seed, &step)) return 0;
  return ctl_due(ci, st, step) && ctl_plans_from_camera(ci, step);
}

int nfp_plugin_set_frame(const mjModel* m, mjData* d, int instance, const uint8_t* rgb, int h,
                         int w) {
  ctl_inst* ci = ctl_lookup(m, d, &instance, "nfp_plugin_set_frame");
  if (!ci) return -1;
  const nfp_model_config* mc = &ci->model->cfg;
  if (!ci->frame) {
    mju_warning("nfp_plugin_set_frame: the policy of nfp.controller instance %d sees no "
                "camera", instance);
    return -1;
  }
  if (!rgb || h != mc->img_src_h || w != mc->img_src_w) {
    mju_warning("nfp_plugin_set_frame: the policy takes %d x %d frames (height x width), "
                "got %d x %d%s", mc->img_src_h, mc->img_src_w, h, w, rgb ? "" : " and no pixels");
    return -1;
  }
  mjtNum* st = d->plugin_state + m->plugin_stateadr[instance];
  uint64_t seed;
  long step;
  if (!ctl_clock(m, d, ci, st, &seed, &step)) {
    mju_warning("nfp_plugin_set_frame: called while the task's set-up runs");
    return -1;
  }
  memcpy(ci->frame, rgb, (size_t)mc->n_cam * h * w * 3);
  ci->frame_step = step;
  return 0;
}

void nfp_plugin_register_controller(void) {
  mjpPlugin p;
  mjp_defaultPlugin(&p);
  p.name = "nfp.controller";
  p.capabilityflags = mjPLUGIN_SENSOR;
  p.needstage = mjSTAGE_POS;
  p.nattribute = (int)(sizeof(kAttributes) / sizeof(kAttributes[0]));
  p.attributes = kAttributes;
  p.nstate = ctl_nstate;
  p.nsensordata = ctl_nsensordata;
  p.init = ctl_init;
  p.destroy = ctl_destroy;
  p.reset = ctl_reset;
  p.compute = ctl_compute;
  p.advance = ctl_advance;
  mjp_registerPlugin(&p);
}
