// A MuJoCo host that knows nothing of nfp: it loads the plugin library, then an MJCF
// that sets up the task and the policy, and runs seeded trials with mj_step alone.
//
//   host_minimal PLUGIN.so MODEL.xml [--trials N] [--seed0 S] [--max-steps N]
//
// Per trial: mj_resetData; with --seed0, the trial seed S + i goes into the task
// plugin's seed slot (plugin_state[0] of the nfp.task instance); without it the task
// uses its seed attribute + episode index. The trial ends when the "done" sensor fires
// (success or the task's step cap) or after --max-steps physics steps.
// Prints one line per trial and a summary; exit status 0 when every trial ran.
#define _XOPEN_SOURCE 700   // realpath
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mujoco/mujoco.h>

static void usage(void) {
  fprintf(stderr, "usage: host_minimal PLUGIN.so MODEL.xml [--trials N] [--seed0 S] "
                  "[--max-steps N]\n");
}

static int sensor_adr(const mjModel* m, const char* name) {
  int id = mj_name2id(m, mjOBJ_SENSOR, name);
  return id < 0 ? -1 : m->sensor_adr[id];
}

static int parse_long(long* out, const char* s, long lo) {
  char* end;
  long v = strtol(s, &end, 10);
  if (end == s || *end || v < lo) return -1;
  *out = v;
  return 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    usage();
    return 2;
  }
  long trials = 1, seed0 = -1, max_steps = 1000000;
  for (int i = 3; i < argc; i++) {
    long* dst = !strcmp(argv[i], "--trials") ? &trials
              : !strcmp(argv[i], "--seed0") ? &seed0
              : !strcmp(argv[i], "--max-steps") ? &max_steps : NULL;
    if (!dst || i + 1 >= argc || parse_long(dst, argv[i + 1], dst == &seed0 ? 0 : 1)) {
      fprintf(stderr, "host_minimal: bad argument '%s'\n", argv[i]);
      usage();
      return 2;
    }
    i++;
  }

  mj_loadPluginLibrary(argv[1]);
  // An absolute path: MuJoCo resolves <model file> assets inside included files
  // against a relative main path twice.
  char path[4096];
  if (!realpath(argv[2], path)) {
    fprintf(stderr, "host_minimal: model file '%s' not found\n", argv[2]);
    return 1;
  }
  char err[1024] = "";
  mjModel* m = mj_loadXML(path, NULL, err, sizeof(err));
  if (!m) {
    fprintf(stderr, "host_minimal: cannot load '%s': %s\n", argv[2], err);
    return 1;
  }
  mjData* d = mj_makeData(m);
  if (!d) {
    fprintf(stderr, "host_minimal: mj_makeData failed\n");
    mj_deleteModel(m);
    return 1;
  }

  // The task instance, found by plugin name; its state slot 0 is the episode seed.
  int task = -1;
  for (int i = 0; i < m->nplugin; i++) {
    if (!strcmp(mjp_getPluginAtSlot(m->plugin[i])->name, "nfp.task")) task = i;
  }
  int success = sensor_adr(m, "success"), done = sensor_adr(m, "done");
  int steps = sensor_adr(m, "control_steps");
  if (task < 0 || success < 0) {
    fprintf(stderr, "host_minimal: '%s' needs an nfp.task instance and a sensor named "
                    "'success'\n", argv[2]);
    mj_deleteData(d);
    mj_deleteModel(m);
    return 1;
  }

  long wins = 0;
  for (long t = 0; t < trials; t++) {
    mj_resetData(m, d);
    mjtNum* seed = d->plugin_state + m->plugin_stateadr[task];
    if (seed0 >= 0) *seed = (mjtNum)(seed0 + t);
    long n = 0;
    int ok = 0;
    while (n < max_steps) {
      mj_step(m, d);
      n++;
      if (done >= 0 ? d->sensordata[done] != 0 : d->sensordata[success] != 0) {
        ok = d->sensordata[success] != 0;
        break;
      }
    }
    wins += ok;
    printf("trial %ld seed %.0f: %s after %.0f control steps (%ld physics steps, %.2f s)\n", t,
           *seed, ok ? "success" : "failure", steps >= 0 ? d->sensordata[steps] : 0.0, n,
           d->time);
  }
  printf("%ld/%ld trials succeeded\n", wins, trials);
  mj_deleteData(d);
  mj_deleteModel(m);
  return 0;
}
