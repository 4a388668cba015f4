// nfp_arms over a hardware driver table, paced by the wall clock.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nfp/driver.h"
#include "nfp/error.h"

typedef struct {
  const nfp_driver* d;
  void* ctx;
  char names[NFP_ARMS_MAX_NQ][32];
  double target[NFP_ARMS_MAX_NQ];
  int have_target;
  struct timespec next;    // end of the present control period
  struct timespec start;   // reset time
  int64_t step;
} arms_driver;

static arms_driver* impl(nfp_arms* a) { return (arms_driver*)a->impl; }

static double since(const struct timespec* t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static void advance(struct timespec* t, double seconds) {
  long ns = (long)(seconds * 1e9);
  t->tv_sec += ns / 1000000000L;
  t->tv_nsec += ns % 1000000000L;
  if (t->tv_nsec >= 1000000000L) t->tv_sec++, t->tv_nsec -= 1000000000L;
}

static int drv_observe(nfp_arms* a, nfp_arms_obs* obs, int with_image) {
  arms_driver* r = impl(a);
  memset(obs, 0, sizeof(*obs));
  obs->success = -1;  // a real rig does not judge task success
  if (r->d->read(r->ctx, obs, with_image && a->info.cam_h > 0)) {
    return nfp_error_wrap("driver %s: read", r->d->name);
  }
  obs->time = since(&r->start);
  obs->step = r->step;
  return 0;
}

static int drv_reset(nfp_arms* a, uint64_t seed) {
  (void)seed;  // a physical rig has no seeded set-up
  arms_driver* r = impl(a);
  nfp_arms_obs obs;
  clock_gettime(CLOCK_MONOTONIC, &r->start);
  r->next = r->start;
  advance(&r->next, 1.0 / a->info.control_hz);
  r->step = 0;
  if (drv_observe(a, &obs, 0)) return -1;
  memcpy(r->target, obs.qpos, sizeof(double) * (size_t)a->info.nq);  // stay where it is
  r->have_target = 1;
  return 0;
}

static int drv_command(nfp_arms* a, const double* target, int hold) {
  arms_driver* r = impl(a);
  if (hold) {  // keep the present position
    nfp_arms_obs obs;
    if (drv_observe(a, &obs, 0)) return -1;
    memcpy(r->target, obs.qpos, sizeof(double) * (size_t)a->info.nq);
  } else {
    memcpy(r->target, target, sizeof(double) * (size_t)a->info.nq);
  }
  r->have_target = 1;
  return 0;
}

static int drv_step(nfp_arms* a) {
  arms_driver* r = impl(a);
  if (!r->have_target) return nfp_error_set("driver %s: step before reset", r->d->name);
  if (r->d->write(r->ctx, r->target)) return nfp_error_wrap("driver %s: write", r->d->name);
  // Wait for the end of the control period (a real rig moves in real time).
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &r->next, NULL) == EINTR) {
  }
  advance(&r->next, 1.0 / a->info.control_hz);
  if (since(&r->next) > 0) {  // fell behind by more than a period: start afresh
    clock_gettime(CLOCK_MONOTONIC, &r->next);
    advance(&r->next, 1.0 / a->info.control_hz);
  }
  r->step++;
  return 0;
}

static void drv_close(nfp_arms* a) {
  arms_driver* r = impl(a);
  if (r) {
    if (r->ctx) {
      r->d->stop(r->ctx);
      r->d->close(r->ctx);
    }
    free(r);
  }
  free(a);
}

static const nfp_arms_ops driver_ops = {drv_reset, drv_observe, drv_command, drv_step, drv_close};

nfp_arms* nfp_arms_driver_open(const nfp_driver* d, const char* config) {
  if (!d || !d->open || !d->read || !d->write || !d->stop || !d->close) {
    nfp_error_set("driver table is incomplete (open, read, write, stop, close are required)");
    return NULL;
  }
  nfp_arms* a = calloc(1, sizeof(*a));
  arms_driver* r = calloc(1, sizeof(*r));
  if (!a || !r) {
    free(a);
    free(r);
    nfp_error_set("out of memory");
    return NULL;
  }
  r->d = d;
  a->ops = &driver_ops;
  a->impl = r;
  if (d->open(&r->ctx, config, &a->info, r->names)) {
    nfp_error_wrap("driver %s: open '%s'", d->name, config ? config : "");
    r->ctx = NULL;
    nfp_arms_close(a);
    return NULL;
  }
  if (a->info.nq < 1 || a->info.nq > NFP_ARMS_MAX_NQ || !(a->info.control_hz > 0)) {
    nfp_error_set("driver %s reports %d joints at %g Hz", d->name, a->info.nq, a->info.control_hz);
    nfp_arms_close(a);
    return NULL;
  }
  if (!a->info.name[0]) snprintf(a->info.name, sizeof(a->info.name), "driver:%s", d->name);
  return a;
}

const char (*nfp_arms_driver_joint_names(nfp_arms* a))[32] {
  return a && a->ops == &driver_ops ? (const char(*)[32])impl(a)->names : NULL;
}

int nfp_arms_driver_stop(nfp_arms* a) {
  if (!a || a->ops != &driver_ops) return 0;
  arms_driver* r = impl(a);
  return r->d->stop(r->ctx) ? nfp_error_wrap("driver %s: stop", r->d->name) : 0;
}

const nfp_driver* nfp_driver_find(const char* name) {
  if (name && !strcmp(name, nfp_driver_replay.name)) return &nfp_driver_replay;
  nfp_error_set("unknown driver '%s' (known: replay)", name ? name : "");
  return NULL;
}
