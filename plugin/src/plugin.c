// Library entry: registers "nfp.controller" and "nfp.task" when the library loads,
// plus the helpers both plugins use.
#include "plugin.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local int inert_depth;

void nfp_plugin_inert_begin(void) { inert_depth++; }
void nfp_plugin_inert_end(void) { inert_depth--; }
int nfp_plugin_inert(void) { return inert_depth > 0; }

const char* nfp_plugin_config(const mjModel* m, int instance, const char* key) {
  const char* v = mj_getPluginConfig(m, instance, key);
  return v && v[0] ? v : NULL;
}

int nfp_plugin_parse_double(double* out, const char* s, const char* what, char* err, size_t n) {
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end || errno == ERANGE || isnan(v)) {
    snprintf(err, n, "%s '%s' is not a number", what, s);
    return -1;
  }
  *out = v;
  return 0;
}

int nfp_plugin_parse_int(int* out, const char* s, const char* what, char* err, size_t n) {
  char* end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (end == s || *end || errno == ERANGE || v < -2147483647L || v > 2147483647L) {
    snprintf(err, n, "%s '%s' is not an integer", what, s);
    return -1;
  }
  *out = (int)v;
  return 0;
}

int nfp_plugin_parse_u64(uint64_t* out, const char* s, const char* what, char* err, size_t n) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || *end || errno == ERANGE || s[0] == '-') {
    snprintf(err, n, "%s '%s' is not a non-negative integer", what, s);
    return -1;
  }
  *out = (uint64_t)v;
  return 0;
}

int nfp_plugin_init_failed(const mjModel* m, mjData* d, int instance, const char* msg) {
  for (int j = 0; j < instance; j++) {
    const mjpPlugin* p = mjp_getPluginAtSlot(m->plugin[j]);
    if (p && p->destroy && strncmp(p->name, "nfp.", 4) == 0) p->destroy(d, j);
  }
  mju_warning("%s", msg);
  return -1;
}

int nfp_plugin_sensor_count(const mjModel* m, int instance) {
  int n = 0;
  for (int j = 0; j < m->nsensor; j++) {
    n += m->sensor_type[j] == mjSENS_PLUGIN && m->sensor_plugin[j] == instance;
  }
  return n;
}

void nfp_plugin_sensor_write(const mjModel* m, mjData* d, int instance, const double* out) {
  int k = 0;
  for (int j = 0; j < m->nsensor; j++) {
    if (m->sensor_type[j] == mjSENS_PLUGIN && m->sensor_plugin[j] == instance) {
      d->sensordata[m->sensor_adr[j]] = out[k++];
    }
  }
}

__attribute__((constructor)) static void nfp_plugin_load(void) {
  nfp_plugin_register_task();
  nfp_plugin_register_controller();
}
