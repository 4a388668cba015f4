// Observation encoders: map an observation to the flow's context vector.
//
// One interface, several kinds (a kind tag plus a table of functions): the state
// encoder (an nfp_resmlp over the normalised robot state of the last n_obs frames),
// and three image encoders (ResNet18-GroupNorm, a small CNN or a keypoint CNN, see cnn.h):
// one trunk, shared by the cameras, turns each camera's image into features (a flattened
// feature map, or keypoint coordinates); the features of every camera and the state go
// through the same residual MLP.
#ifndef NFP_ENCODER_H
#define NFP_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "nfp/cnn.h"
#include "nfp/layers.h"
#include "nfp/rng.h"
#include "nfp/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

// What the robot sees at one control step, in physical units (used by the sampler,
// which normalises it with the model's statistics).
typedef struct nfp_obs_ {
  const float* state;    // [n_obs][state_dim], newest frame first (joint positions, gripper)
  const uint8_t* image;  // [n_cam][img_h][img_w][3] RGB, or NULL for state-only models
  int n_cam, img_h, img_w;
} nfp_obs;

// A batch of observations as the networks consume them (normalised to [-1, 1]).
// Images are uint8 RGB at the network's input size (already cropped); the image
// encoders scale them to ImageNet's mean and std themselves. n_cam, img_h and img_w
// must equal the encoder config's.
typedef struct nfp_obs_batch_ {
  const float* state;    // [B][n_obs * state_dim], newest frame first, normalised
  const uint8_t* image;  // [B][n_cam][img_h][img_w][3], or NULL
  int n_cam, img_h, img_w;
} nfp_obs_batch;

typedef enum nfp_encoder_kind_ {
  NFP_ENCODER_STATE = 0,     // MLP over the state history
  NFP_ENCODER_RESNET18 = 1,  // image (ResNet18-GroupNorm trunk) + state
  NFP_ENCODER_CNN = 2,       // image (small 4-layer CNN, ~26x cheaper) + state
  NFP_ENCODER_CNN_KP = 3,    // image (4-layer CNN, spatial-softmax keypoints) + state
} nfp_encoder_kind;

typedef struct nfp_encoder_config_ {
  nfp_encoder_kind kind;
  int state_dim;   // per frame (14)
  int n_obs;       // frames (2)
  int hidden;      // MLP width (256)
  int blocks;      // residual blocks (1)
  int out_dim;     // context size (64)
  int n_cam, img_h, img_w;  // image encoders only
} nfp_encoder_config;

typedef struct nfp_encoder_ nfp_encoder;

// The functions a kind provides. acts hold what backward needs for B rows.
typedef struct nfp_encoder_ops_ {
  const char* name;
  size_t (*acts_size)(const nfp_encoder* enc, int B);
  size_t (*scratch_size)(const nfp_encoder* enc, int B);
  void (*init)(float* params, const nfp_encoder* enc, nfp_rng* rng);
  void (*forward)(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                  const nfp_obs_batch* obs, int B);
  void (*backward)(float* dparams, float* scratch, const float* dctx, const float* acts,
                   const float* params, const nfp_encoder* enc, const nfp_obs_batch* obs,
                   int B);
} nfp_encoder_ops;

struct nfp_encoder_ {
  nfp_encoder_config cfg;
  const nfp_encoder_ops* ops;
  int in_dim;        // MLP input: n_cam * cnn.out_dim (image kinds) + n_obs * state_dim
  nfp_resmlp mlp;    // "<prefix>.mlp"
  nfp_cnn cnn;       // "<prefix>.trunk" (image kinds only)
};

// Limits of the image encoders' input.
#define NFP_ENCODER_MAX_CAM 8
#define NFP_ENCODER_MIN_IMG 8
#define NFP_ENCODER_MAX_IMG 1024

// Register the encoder's tensors ("<prefix>.mlp.*", and "<prefix>.trunk.*" for the image
// kinds) for cfg.kind. 0, or -1 with a message (bad sizes or an unknown kind).
int nfp_encoder_build(nfp_encoder* enc, nfp_ptable* table, const char* prefix,
                      const nfp_encoder_config* cfg);

// Dispatch through enc->ops.
size_t nfp_encoder_acts_size(const nfp_encoder* enc, int B);
size_t nfp_encoder_scratch_size(const nfp_encoder* enc, int B);
void nfp_encoder_init(float* params, const nfp_encoder* enc, nfp_rng* rng);
// ctx[B, out_dim].
void nfp_encoder_forward(float* ctx, float* acts, const float* params, const nfp_encoder* enc,
                         const nfp_obs_batch* obs, int B);
// dparams += d/dparams of <dctx, ctx>.
void nfp_encoder_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                          const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B);

#ifdef __cplusplus
}
#endif
#endif
