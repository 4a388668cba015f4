// Episodes in memory: one allocation per array, sizes checked (see nfp/episode.h).
#include "nfp/episode.h"

#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

#define EPISODE_MAX_NQ 64
#define EPISODE_MAX_NOBJ 4096
#define EPISODE_MAX_SIDE 4096

int nfp_episode_alloc(nfp_episode* ep, int T, int nq, int nobj, int img_h, int img_w) {
  memset(ep, 0, sizeof(*ep));
  if (T <= 0 || nq <= 0 || nq > EPISODE_MAX_NQ || nobj < 0 || nobj > EPISODE_MAX_NOBJ ||
      img_h < 0 || img_w < 0 || img_h > EPISODE_MAX_SIDE || img_w > EPISODE_MAX_SIDE) {
    return nfp_error_set("episode shape out of range (T=%d nq=%d nobj=%d image %dx%d)", T, nq, nobj,
                         img_w, img_h);
  }
  ep->T = T;
  ep->nq = nq;
  ep->nobj = nobj;
  size_t n = (size_t)T * nq;
  ep->qpos = calloc(n, sizeof(double));
  ep->qvel = calloc(n, sizeof(double));
  ep->action = calloc(n, sizeof(double));
  int ok = ep->qpos && ep->qvel && ep->action;
  if (nobj > 0) {
    ep->object_state = calloc((size_t)T * nobj, sizeof(double));
    ok = ok && ep->object_state;
  }
  if (img_h > 0 && img_w > 0) {
    ep->img_h = img_h;
    ep->img_w = img_w;
    ep->images = calloc((size_t)T * img_h * img_w * 3, 1);
    ok = ok && ep->images;
  }
  if (!ok) {
    nfp_episode_free(ep);
    return nfp_error_set("out of memory allocating an episode of %d frames", T);
  }
  return 0;
}

void nfp_episode_free(nfp_episode* ep) {
  free(ep->qpos);
  free(ep->qvel);
  free(ep->action);
  free(ep->object_state);
  free(ep->images);
  memset(ep, 0, sizeof(*ep));
}
