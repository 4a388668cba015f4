// "nfp.task": a task of nfp_tasks (set-up randomisation, success check) run on the
// host's own model and data.
//
// MuJoCo's reset callback sees no mjData, so mj_resetData only marks the set-up as
// pending; the first plugin compute after it (in the host's next mj_forward or
// mj_step, or the controller's, whichever comes first) runs nfp_task_setup on the
// host's data: home pose, seeded randomisation, settle, exactly as nfp_task_reset.
// Physics steps nested inside the set-up find the instance busy and leave it alone.
#include <stdio.h>
#include <stdlib.h>

#include "nfp/error.h"
#include "nfp/tasks.h"
#include "plugin.h"

// Default seed: the first evaluation seed of `nfp eval` (--seed0), past the training
// seeds of the bundled policies (demos use seeds 0..49).
#define TASK_DEFAULT_SEED 100000

// plugin_state layout: what a host reads and may write (with mujoco.h only).
enum {
  TS_SEED,    // episode seed; -1 after mj_resetData = automatic (seed attribute + k)
  TS_PHASE,   // 0 set-up pending, 1 episode under way
  TS_STEP,    // physics steps since the set-up
  TS_HELD,    // control steps in a row the task's success check has held (to NFP_SUCCESS_HOLD)
  TS_HELD_AT, // the control step TS_HELD was last counted at
  TS_N
};
enum { PHASE_PENDING = 0, PHASE_RUNNING = 1 };

// Sensor outputs, in the order sensors are attached to the instance.
enum { OUT_SUCCESS, OUT_CONTROL_STEPS, OUT_DONE, OUT_N };

static const char* const kAttributes[] = {"task", "seed"};
static int task_slot = -1;

typedef struct task_inst_ {
  nfp_task* t;        // attached to the host's model and this mjData
  uint64_t seed0;     // the seed attribute
  uint64_t episodes;  // set-ups run on this mjData
  int busy;           // 1 while the set-up runs
} task_inst;

static mjtNum* state_of(const mjModel* m, mjData* d, int i) {
  return d->plugin_state + m->plugin_stateadr[i];
}

// The configuration: 0, or -1 with err filled.
static int task_config(const char** name, uint64_t* seed, const mjModel* m, int instance,
                       char* err, size_t n) {
  *name = nfp_plugin_config(m, instance, "task");
  if (!*name) {
    snprintf(err, n, "nfp.task: config 'task' is required (known: %s)", nfp_task_names());
    return -1;
  }
  if (!nfp_task_find(*name)) {
    snprintf(err, n, "nfp.task: unknown task '%s' (known: %s)", *name, nfp_task_names());
    return -1;
  }
  *seed = TASK_DEFAULT_SEED;
  const char* s = nfp_plugin_config(m, instance, "seed");
  if (s && nfp_plugin_parse_u64(seed, s, "nfp.task: seed", err, n)) return -1;
  return 0;
}

static int task_nstate(const mjModel* m, int instance) {
  (void)m, (void)instance;
  return TS_N;
}

static int task_nsensordata(const mjModel* m, int instance, int sensor_id) {
  (void)m, (void)instance, (void)sensor_id;
  return 1;
}

static int task_init(const mjModel* m, mjData* d, int instance) {
  d->plugin_data[instance] = 0;
  if (nfp_plugin_inert()) return 0;
  char err[1024];
  const char* name;
  uint64_t seed0;
  if (task_config(&name, &seed0, m, instance, err, sizeof(err))) {
    return nfp_plugin_init_failed(m, d, instance, err);
  }
  if (nfp_plugin_task_find(m) == -2) {
    return nfp_plugin_init_failed(m, d, instance, "nfp.task: a model takes one nfp.task "
                                  "instance");
  }
  if (nfp_plugin_sensor_count(m, instance) > OUT_N) {
    snprintf(err, sizeof(err), "nfp.task: %d sensors attached; it has %d outputs (success, "
             "control_steps, done)", nfp_plugin_sensor_count(m, instance), OUT_N);
    return nfp_plugin_init_failed(m, d, instance, err);
  }
  task_inst* ti = calloc(1, sizeof(*ti));
  if (!ti) return nfp_plugin_init_failed(m, d, instance, "nfp.task: out of memory");
  nfp_plugin_inert_begin();
  ti->t = nfp_task_attach(name, m, d);
  nfp_plugin_inert_end();
  if (!ti->t) {
    snprintf(err, sizeof(err), "nfp.task: %s", nfp_error_last());
    free(ti);
    return nfp_plugin_init_failed(m, d, instance, err);
  }
  ti->seed0 = seed0;
  d->plugin_data[instance] = (uintptr_t)ti;
  return 0;
}

static void task_destroy(mjData* d, int instance) {
  task_inst* ti = (task_inst*)d->plugin_data[instance];
  if (!ti) return;
  nfp_task_free(ti->t);
  free(ti);
  d->plugin_data[instance] = 0;
}

static void task_reset(const mjModel* m, mjtNum* state, void* data, int instance) {
  (void)m, (void)data, (void)instance;
  state[TS_SEED] = -1;
  state[TS_PHASE] = PHASE_PENDING;
  state[TS_STEP] = 0;
}

int nfp_plugin_task_episode(const mjModel* m, mjData* d, int i, uint64_t* seed, long* step) {
  task_inst* ti = (task_inst*)d->plugin_data[i];
  if (!ti || ti->busy) return 0;
  mjtNum* st = state_of(m, d, i);
  if (st[TS_PHASE] != PHASE_RUNNING) {
    uint64_t s = st[TS_SEED] >= 0 ? (uint64_t)st[TS_SEED] : ti->seed0 + ti->episodes;
    ti->episodes++;
    ti->busy = 1;
    nfp_task_setup(ti->t, s);
    ti->busy = 0;
    st[TS_SEED] = (mjtNum)s;
    st[TS_PHASE] = PHASE_RUNNING;
    st[TS_STEP] = 0;
    st[TS_HELD] = 0;
    st[TS_HELD_AT] = 0;
  }
  *seed = (uint64_t)st[TS_SEED];
  *step = (long)st[TS_STEP];
  return 1;
}

int nfp_plugin_task_object_state(const mjModel* m, mjData* d, int i, double* out, int cap) {
  (void)m;
  task_inst* ti = (task_inst*)d->plugin_data[i];
  return ti ? nfp_task_object_state(ti->t, out, cap) : -1;
}

static void task_compute(const mjModel* m, mjData* d, int instance, int capability) {
  (void)capability;
  task_inst* ti = (task_inst*)d->plugin_data[instance];
  uint64_t seed;
  long step;
  if (!nfp_plugin_task_episode(m, d, instance, &seed, &step)) return;
  // This compute sees the state physics step `step` starts from; nfp eval checks
  // success on exactly that state after the last physics step of a control step.
  int substeps = ti->t->substeps;
  long done_steps = (step + 1) / substeps;
  int success = nfp_task_success(ti->t);
  int boundary = (step + 1) % substeps == 0;
  // The episode ends in success as nfp eval's does: once the check has held
  // NFP_SUCCESS_HOLD control steps in a row. Counted once per control step however
  // often the host computes (viewers call mj_forward between steps).
  mjtNum* st = state_of(m, d, instance);
  if (boundary && st[TS_HELD_AT] != done_steps) {
    st[TS_HELD] = nfp_task_success_count((int)st[TS_HELD], success);
    st[TS_HELD_AT] = (mjtNum)done_steps;
  }
  double out[OUT_N];
  out[OUT_SUCCESS] = success;
  out[OUT_CONTROL_STEPS] = (double)done_steps;
  out[OUT_DONE] = boundary && (st[TS_HELD] >= NFP_SUCCESS_HOLD ||
                               done_steps >= ti->t->def->step_cap);
  nfp_plugin_sensor_write(m, d, instance, out);
}

static void task_advance(const mjModel* m, mjData* d, int instance) {
  task_inst* ti = (task_inst*)d->plugin_data[instance];
  mjtNum* st = state_of(m, d, instance);
  if (ti && !ti->busy && st[TS_PHASE] == PHASE_RUNNING) st[TS_STEP] += 1;
}

int nfp_plugin_task_find(const mjModel* m) {
  int found = -1;
  for (int i = 0; i < m->nplugin; i++) {
    if (m->plugin[i] != task_slot) continue;
    if (found >= 0) return -2;
    found = i;
  }
  return found;
}

void nfp_plugin_register_task(void) {
  mjpPlugin p;
  mjp_defaultPlugin(&p);
  p.name = "nfp.task";
  p.capabilityflags = mjPLUGIN_SENSOR;
  p.needstage = mjSTAGE_POS;
  p.nattribute = (int)(sizeof(kAttributes) / sizeof(kAttributes[0]));
  p.attributes = kAttributes;
  p.nstate = task_nstate;
  p.nsensordata = task_nsensordata;
  p.init = task_init;
  p.destroy = task_destroy;
  p.reset = task_reset;
  p.compute = task_compute;
  p.advance = task_advance;
  task_slot = mjp_registerPlugin(&p);
}
