// nfp_episode: one demonstration episode in memory, the unit that files hold (nfp/demo.h),
// training cuts windows from (nfp/train.h) and the replay driver plays back.
#ifndef NFP_EPISODE_H
#define NFP_EPISODE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nfp_episode_ {
  char task[64];
  int64_t seed;
  double control_hz;
  int success;        // 1, 0, or -1 when the file does not say (ALOHA episodes)
  int T;              // number of frames
  int nq;             // joint interface width (14)
  int nobj;           // object-state width per frame (K, may be 0)
  int img_h, img_w;   // 0 when no images
  double* qpos;       // [T*nq]
  double* qvel;       // [T*nq]
  double* action;     // [T*nq]
  double* object_state;  // [T*nobj] or NULL
  uint8_t* images;    // [T*img_h*img_w*3] or NULL
} nfp_episode;

// Allocate the arrays for T frames (images only if img_h*img_w > 0). 0 or -1.
int nfp_episode_alloc(nfp_episode* ep, int T, int nq, int nobj, int img_h, int img_w);
void nfp_episode_free(nfp_episode* ep);

#ifdef __cplusplus
}
#endif
#endif
