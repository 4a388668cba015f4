// nfp_dataset: training windows cut from demonstration episodes.
//
// Every frame t of every episode is an anchor (the window slides by one frame):
//   observation  s[t], s[t-1], ..., s[t-(n_obs-1)]   (newest first, clamped at frame 0), where
//                the state frame s is qpos, or qpos followed by the object state when
//                use_object is set (what the policy agent feeds a model with that width)
//   action chunk action[t], action[t+s], ..., action[t+(H-1)s] (clamped at the last frame, i.e.
//                the end is padded by repeating the last action)
// Episodes are split into training and validation sets as whole episodes, so no validation
// window shares frames with a training window. Values are stored normalised per joint to
// [-1, 1] with statistics from the training episodes only.
#ifndef NFP_DATASET_H
#define NFP_DATASET_H

#include <stdint.h>

#include "nfp/demo.h"
#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_NORM_MAX_DIM 64
#define NFP_NORM_MIN_RANGE 0.2f  // floor on max-min (rad or m): a joint or object that barely
                                  // moves in the demos must not turn small drift at run time
                                  // into huge normalised inputs (out of distribution)

// Per-dimension affine map x -> 2 (x - lo) / (hi - lo) - 1.
typedef struct nfp_norm_ {
  int dim;
  float lo[NFP_NORM_MAX_DIM];
  float hi[NFP_NORM_MAX_DIM];
} nfp_norm;

void nfp_norm_apply(float* out, const double* x, const nfp_norm* norm, int n);   // n vectors
void nfp_norm_invert(double* out, const float* y, const nfp_norm* norm, int n);  // n vectors

typedef struct nfp_dataset_config_ {
  int horizon;      // H: actions per chunk
  int stride;       // s: frames between chunk actions
  int n_obs;        // frames of state history in the observation
  int use_object;   // append the object state to every state frame: 1 yes, 0 no,
                    // -1 when the demos have one (the built dataset's cfg holds 0 or 1)
  float val_frac;   // fraction of episodes held out (at least one when there are >= 2)
  uint64_t seed;    // seeds the episode split
  // Head-camera frames (image models; 0 = none): the newest frame of each window, shrunk
  // img_down times at load time and cropped to img_crop_h x img_crop_w when gathered.
  int img_down;
  int img_crop_h, img_crop_w;
  // Optional augmentation (NULL: none): writes the twin of an episode (its left-right
  // mirror image, say) into *twin, allocated with nfp_episode_alloc; 0 or -1 (error set).
  // The dataset then holds every episode and its twin, the twin in its original's split.
  // The caller knows the rig and the task; the dataset does not.
  int (*twin)(nfp_episode* twin, const nfp_episode* ep, void* ctx);
  void* twin_ctx;
} nfp_dataset_config;

typedef struct nfp_dataset_ {
  nfp_dataset_config cfg;
  int nq;            // joint width of actions (14)
  int ns;            // state frame width: nq, plus the object width with use_object
  int64_t seed_min, seed_max;  // range of the episodes' seeds (evaluation must avoid it)
  char task[64];     // the episodes' task ("" when they disagree)
  int obs_dim;       // n_obs * ns
  int act_dim;       // horizon * nq
  int n_episodes;
  int n_frames;      // total over all episodes
  int* ep_start;     // [n_episodes + 1] first frame of each episode in the flat arrays
  int* frame_ep;     // [n_frames] episode of each frame
  char* is_val;      // [n_episodes] 1 for validation episodes
  float* state;      // [n_frames * ns] normalised
  float* action;     // [n_frames * nq] normalised
  int n_train, n_val;
  int* train_idx;    // [n_train] anchor frames of training windows
  int* val_idx;      // [n_val] anchor frames of validation windows
  nfp_norm state_norm;
  nfp_norm action_norm;
  int img_src_h, img_src_w;  // recorded frame size (images only)
  int img_h, img_w;          // after shrinking
  uint8_t* images;           // [n_frames][img_h][img_w][3] shrunk frames, or NULL
} nfp_dataset;

void nfp_dataset_config_default(nfp_dataset_config* cfg);

// Build from episodes in memory (all must share nq, and nobj with use_object). The statistics are fitted on the
// training episodes unless state_norm and action_norm are given (e.g. from a checkpoint
// being resumed); then they are used as they are. 0, or -1 with a message.
int nfp_dataset_build(nfp_dataset* ds, const nfp_episode* eps, int n_episodes,
                      const nfp_dataset_config* cfg, const nfp_norm* state_norm,
                      const nfp_norm* action_norm);

// Read every episode in a folder (nfp_demo_list + nfp_demo_read, with images when
// cfg->img_down > 0) and build.
// Fails naming the folder when it is missing or empty, and the file when one is corrupt.
int nfp_dataset_load(nfp_dataset* ds, const char* dir, const nfp_dataset_config* cfg,
                     const nfp_norm* state_norm, const nfp_norm* action_norm);

void nfp_dataset_free(nfp_dataset* ds);

// Gather the windows at anchors[0..n): obs [n * obs_dim], act [n * act_dim], normalised.
void nfp_dataset_gather(float* obs, float* act, const nfp_dataset* ds, const int* anchors, int n);

// The newest frame of each window at anchors[0..n) into out[n][img_crop_h][img_crop_w][3]:
// a random crop per window drawn from rng (training augmentation), or the centre crop
// when rng is NULL (validation, and what the policy sees when acting).
void nfp_dataset_gather_images(uint8_t* out, const nfp_dataset* ds, const int* anchors, int n,
                               nfp_rng* rng);

#ifdef __cplusplus
}
#endif
#endif
