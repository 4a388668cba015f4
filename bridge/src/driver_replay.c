// The example driver: a "rig" that replays a recorded episode, so the whole real-robot
// path (driver -> server -> bridge -> policy) runs with no hardware. Commands are checked
// and counted but do not move it; the recording does.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/demo.h"
#include "nfp/driver.h"
#include "nfp/error.h"

typedef struct {
  nfp_episode ep;
  int frame;       // frame the rig is at
  int stopped;     // stop() freezes it until the next write
  double max_dev;  // largest |target - recorded action| seen (for the log)
} replay;

static int replay_open(void** ctx, const char* config, nfp_arms_info* info,
                       char (*names)[32]) {
  if (!config || !*config) return nfp_error_set("replay driver: give the episode file as config");
  replay* r = calloc(1, sizeof(*r));
  if (!r) return nfp_error_set("out of memory");
  if (nfp_demo_read(config, &r->ep, 1)) {
    free(r);
    return -1;
  }
  if (r->ep.T < 1 || r->ep.nq < 1 || r->ep.nq > NFP_ARMS_MAX_NQ) {
    int T = r->ep.T, nq = r->ep.nq;
    nfp_episode_free(&r->ep);
    free(r);
    return nfp_error_set("replay driver: %s has %d frames of %d joints", config, T, nq);
  }
  const nfp_episode* ep = &r->ep;
  snprintf(info->name, sizeof(info->name), "replay:%.56s", ep->task);
  info->nq = ep->nq;
  info->control_hz = ep->control_hz > 0 ? ep->control_hz : 16.7;
  info->cam_h = ep->img_h;
  info->cam_w = ep->img_w;
  info->step_cap = ep->T;
  // Limits: the recorded range of each joint with a margin; grippers 0..1 in the
  // bi-manual layout (slot 6 of each arm of 7).
  for (int j = 0; j < ep->nq; j++) {
    double lo = INFINITY, hi = -INFINITY;
    for (int t = 0; t < ep->T; t++) {
      double q = ep->qpos[t * ep->nq + j];
      lo = q < lo ? q : lo;
      hi = q > hi ? q : hi;
    }
    int grip = ep->nq == 14 && j % 7 == 6;
    info->q_lo[j] = grip ? 0.0 : lo - 0.5;
    info->q_hi[j] = grip ? 1.0 : hi + 0.5;
    if (grip) snprintf(names[j], 32, "%s_gripper", j < 7 ? "left" : "right");
    else if (ep->nq == 14) snprintf(names[j], 32, "%s_joint%d", j < 7 ? "left" : "right", j % 7 + 1);
    else snprintf(names[j], 32, "joint%d", j);
  }
  *ctx = r;
  return 0;
}

static int replay_read(void* ctx, nfp_arms_obs* obs, int with_image) {
  replay* r = ctx;
  const nfp_episode* ep = &r->ep;
  int t = r->frame;
  memcpy(obs->qpos, ep->qpos + (size_t)t * ep->nq, sizeof(double) * (size_t)ep->nq);
  if (!r->stopped) memcpy(obs->qvel, ep->qvel + (size_t)t * ep->nq, sizeof(double) * (size_t)ep->nq);
  if (ep->object_state && ep->nobj <= NFP_ARMS_MAX_OBJECT) {
    memcpy(obs->object, ep->object_state + (size_t)t * ep->nobj, sizeof(double) * (size_t)ep->nobj);
    obs->n_object = ep->nobj;
  }
  if (with_image && ep->images) obs->image = ep->images + (size_t)t * ep->img_h * ep->img_w * 3;
  return 0;
}

static int replay_write(void* ctx, const double* target) {
  replay* r = ctx;
  const nfp_episode* ep = &r->ep;
  for (int j = 0; j < ep->nq; j++) {
    if (!isfinite(target[j])) return nfp_error_set("replay driver: target %d not finite", j);
    double dev = fabs(target[j] - ep->action[(size_t)r->frame * ep->nq + j]);
    if (dev > r->max_dev) r->max_dev = dev;
  }
  r->stopped = 0;
  if (r->frame + 1 < ep->T) r->frame++;
  return 0;
}

static int replay_stop(void* ctx) {
  ((replay*)ctx)->stopped = 1;
  return 0;
}

static void replay_close(void* ctx) {
  replay* r = ctx;
  nfp_episode_free(&r->ep);
  free(r);
}

const nfp_driver nfp_driver_replay = {"replay", replay_open, replay_read, replay_write,
                                      replay_stop, replay_close};
