// What the two engine plugins share: configuration parsing, the inert scope for
// scratch data, sensor output by order, and the task instance's episode.
#ifndef NFP_PLUGIN_H
#define NFP_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <mujoco/mujoco.h>

// Registration, called once from the library constructor.
void nfp_plugin_register_controller(void);
void nfp_plugin_register_task(void);

// Instances created while the inert scope is open (the kinematics scratch that a task
// makes from the host's model) get no plugin data and do nothing: without this, each
// scratch mjData would create plugins that make scratch data of their own.
void nfp_plugin_inert_begin(void);
void nfp_plugin_inert_end(void);
int nfp_plugin_inert(void);

// A configuration attribute, NULL when absent or empty.
const char* nfp_plugin_config(const mjModel* m, int instance, const char* key);
// Parse a whole string as a number; 0, or -1 with err filled.
int nfp_plugin_parse_double(double* out, const char* s, const char* what, char* err, size_t n);
int nfp_plugin_parse_int(int* out, const char* s, const char* what, char* err, size_t n);
int nfp_plugin_parse_u64(uint64_t* out, const char* s, const char* what, char* err, size_t n);

// Fail an init: destroy the nfp instances already made on d (MuJoCo frees d without
// calling their destroy), report msg as a MuJoCo warning, which MuJoCo appends to its
// "plugin->init failed" error (mj_loadXML's message while compiling). Returns -1.
// Configuration is checked here rather than in nstate: an mju_error raised while the
// compiler runs nstate leaks some of the compiler's memory.
int nfp_plugin_init_failed(const mjModel* m, mjData* d, int instance, const char* msg);

// Sensors attached to an instance, in model order.
int nfp_plugin_sensor_count(const mjModel* m, int instance);
// The k-th attached sensor reads out[k] (out has at least as many entries as sensors).
void nfp_plugin_sensor_write(const mjModel* m, mjData* d, int instance, const double* out);

// The task plugin, as the controller sees it.
// Instance id of the one nfp.task in m: -1 if none, -2 if more than one.
int nfp_plugin_task_find(const mjModel* m);
// Start the episode of task instance i if its set-up is pending (this runs the set-up
// on d). 1 with the episode's seed and physics steps taken since the set-up when the
// episode is under way; 0 while the set-up itself runs, or for an inert instance.
int nfp_plugin_task_episode(const mjModel* m, mjData* d, int i, uint64_t* seed, long* step);
// The task's object state on d (the values its demos record); the count, or -1 for an
// inert instance.
int nfp_plugin_task_object_state(const mjModel* m, mjData* d, int i, double* out, int cap);

#endif
