// Mirror images of demos: the rig's joint mirror on qpos, qvel and the targets, the
// task's own mirror on the object state, head-camera frames flipped left to right.
#include "demo_mirror.h"

#include <stdio.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/tasks.h"

int nfp_demo_task(const char* dir, const nfp_task_def** def) {
  *def = NULL;
  char** paths = NULL;
  int n = nfp_demo_list_some(dir, &paths);
  if (n < 0) return -1;
  nfp_episode ep;
  int rc = nfp_demo_read(paths[0], &ep, 0);
  nfp_demo_list_free(paths, n);
  if (rc != 0) return -1;
  *def = nfp_task_find(ep.task);
  nfp_episode_free(&ep);
  return 0;
}

// Frame t of a head-camera episode flipped left to right: the head camera sits on the
// rig's plane of symmetry looking along +y, so x -> -x mirrors its image's columns.
static void mirror_frame(uint8_t* dst, const uint8_t* src, size_t t, int h, int w) {
  size_t frame = (size_t)h * w * 3;
  for (int y = 0; y < h; y++) {
    const uint8_t* in = src + t * frame + (size_t)y * w * 3;
    uint8_t* out = dst + t * frame + (size_t)y * w * 3;
    for (int x = 0; x < w; x++) memcpy(out + 3 * (size_t)(w - 1 - x), in + 3 * (size_t)x, 3);
  }
}

int nfp_demo_mirror(nfp_episode* twin, const nfp_episode* ep, void* unused) {
  (void)unused;
  const nfp_task_def* def = nfp_task_find(ep->task);
  if (!def) return nfp_error_set("unknown task '%s' (known: %s)", ep->task, nfp_task_names());
  if (ep->nq != NFP_NJ) {
    return nfp_error_set("a %d-joint demo cannot be mirrored (the rig has %d)", ep->nq, NFP_NJ);
  }
  int h = ep->images ? ep->img_h : 0, w = ep->images ? ep->img_w : 0;
  if (nfp_episode_alloc(twin, ep->T, ep->nq, ep->nobj, h, w) != 0) return -1;
  snprintf(twin->task, sizeof(twin->task), "%s", ep->task);
  twin->seed = ep->seed;
  twin->control_hz = ep->control_hz;
  twin->success = ep->success;
  for (int t = 0; t < ep->T; t++) {
    size_t q = (size_t)t * NFP_NJ, o = (size_t)t * (size_t)ep->nobj;
    nfp_rig_mirror(twin->qpos + q, ep->qpos + q);
    nfp_rig_mirror(twin->qvel + q, ep->qvel + q);
    nfp_rig_mirror(twin->action + q, ep->action + q);
    if (ep->nobj > 0 &&
        nfp_task_mirror_object(def, twin->object_state + o, ep->object_state + o, ep->nobj)) {
      nfp_episode_free(twin);
      return -1;
    }
    if (ep->images) mirror_frame(twin->images, ep->images, (size_t)t, h, w);
  }
  return 0;
}
