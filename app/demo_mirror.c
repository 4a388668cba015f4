// Mirror images of demos: the rig's joint mirror on qpos, qvel and the targets, the
// task's own mirror on the object state.
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

int nfp_demo_mirror(nfp_episode* twin, const nfp_episode* ep, void* unused) {
  (void)unused;
  const nfp_task_def* def = nfp_task_find(ep->task);
  if (!def) return nfp_error_set("unknown task '%s' (known: %s)", ep->task, nfp_task_names());
  if (ep->nq != NFP_NJ) {
    return nfp_error_set("a %d-joint demo cannot be mirrored (the rig has %d)", ep->nq, NFP_NJ);
  }
  if (ep->images) return nfp_error_set("demos with camera frames are not mirrored");
  if (nfp_episode_alloc(twin, ep->T, ep->nq, ep->nobj, 0, 0) != 0) return -1;
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
  }
  return 0;
}
