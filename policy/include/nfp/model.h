// nfp/model.h: the NF-P model: image preprocessing, the observation encoders (state MLP,
// small CNN, ResNet18-GroupNorm) and the model that joins encoder and flow.
//
// Sections: image, cnn, encoder, model.
#ifndef NFP_MODEL_H
#define NFP_MODEL_H

#include <stdint.h>
#include <stddef.h>

#include "nfp/flow.h"
#include "nfp/layers.h"
#include "nfp/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

//================================== image =====================================================
// Camera frames on their way into an image encoder: box-average shrinking and cropping
// of interleaved RGB (uint8 [h][w][3]) frames. The head camera's 240 x 320 frames are
// shrunk 4 times to 60 x 80 and cropped to the network input (58 x 76 in nfp train): a
// window placed the same way every time when acting (centred, or moved to a region of
// interest) and, in training, a random placement around it (augmentation).
// out[src_h/down][src_w/down][3]: each pixel the rounded mean of a down x down block
// (rows and columns past the last whole block are dropped).
void nfp_image_shrink(uint8_t* out, const uint8_t* src, int src_h, int src_w, int down);

// out[crop_h][crop_w][3] = src[y0 + y][x0 + x] for a src of src_h x src_w; a window that
// overruns the frame repeats its edge pixels (a shift past the border, as in DrQ).
void nfp_image_crop(uint8_t* out, const uint8_t* src, int src_h, int src_w, int crop_h,
                    int crop_w, int y0, int x0);

// Where the encoder's input window sits in a shrunk frame.
typedef struct {
  int h, w;          // window size (the network input)
  int off_y, off_x;  // acting position: centred in the frame, then moved by (off_y, off_x)
  int shift;         // training placement: within +-shift pixels of the acting position
                     // (edges repeated past the frame), or anywhere inside it when < 0
} nfp_image_window;

// Top-left (y0, x0) of win in an h x w frame: the acting position without rng, a random
// training placement with it.
void nfp_image_window_place(int* y0, int* x0, const nfp_image_window* win, int h, int w,
                            nfp_rng* rng);

// The encoder's input when acting, out[img_h][img_w][3]: frame [img_src_h][img_src_w][3]
// shrunk by c->img_down into shrunk (scratch, one shrunk frame), then the window at its
// acting position. The sampler and every viewer of the input call this one function.
struct nfp_model_config_;
void nfp_image_policy_input(uint8_t* out, uint8_t* shrunk, const uint8_t* frame,
                            const struct nfp_model_config_* c);

//================================== cnn =======================================================
// Image trunks: a stack of conv + GroupNorm + ReLU units, an optional max pool and
// ResNet BasicBlocks, ending in a feature map that is FLATTENED (not averaged: a
// manipulation policy needs to know where things are, and flattening keeps position).
//
// Two kinds:
//  - NFP_CNN_RESNET18: torchvision's resnet18 without avgpool/fc, every BatchNorm a
//    GroupNorm(C/16, C) (as Diffusion Policy). Tensor names follow torchvision's
//    state_dict under "<prefix>." (conv1.weight, bn1.weight, layer2.0.downsample.0.weight,
//    ...), so torchvision loads our safetensors by name. 11.2 M parameters; at 56x72
//    about 172 M multiply-adds per image, output 512 x 2 x 3 = 3072 features.
//  - NFP_CNN_SMALL: conv 3->32 k5 s2, conv 32->32 k3 s2, conv 32->64 k3 s2,
//    conv 64->64 k3 s2, each + GroupNorm(8) + ReLU ("<prefix>.<i>.conv.weight",
//    "<prefix>.<i>.norm.weight"). 0.08 M parameters; at 56x72 about 6.6 M multiply-adds
//    per image (~26x less than ResNet18), output 64 x 4 x 5 = 1280 features.
//  - NFP_CNN_KEYPOINT: conv 3->32 k5 s2, conv 32->32 k3 s1, conv 32->64 k3 s2,
//    conv 64->64 k3 s1 (each + GroupNorm(8) + ReLU, named as NFP_CNN_SMALL), a 1x1 conv
//    to 32 keypoint maps ("<prefix>.kp.weight", no bias: the softmax ignores a per-map
//    shift) at a quarter of the image size, then a spatial softmax: 64 features, the
//    expected (x, y) of each map in [-1, 1]. Finer maps and explicit coordinates let
//    the policy place the grippers where a flattened coarse map cannot. 0.07 M
//    parameters; at 56x72 about 26 M multiply-adds per image.
typedef enum nfp_cnn_kind_ {
  NFP_CNN_RESNET18 = 0,
  NFP_CNN_SMALL = 1,
  NFP_CNN_KEYPOINT = 2,
} nfp_cnn_kind;

#define NFP_CNN_KEYPOINTS 32  // keypoint maps of NFP_CNN_KEYPOINT

#define NFP_CNN_MAX_STEM 4
#define NFP_CNN_MAX_BLOCKS 8

typedef struct nfp_cnn_ {
  nfp_cnn_kind kind;
  int H, W;                          // input image size (3 channels)
  int n_stem;                        // conv + GN + ReLU units
  nfp_convgn stem[NFP_CNN_MAX_STEM];
  int pool;                          // 1: max pool 3x3 s2 p1 after the stem
  int pool_C, pool_H, pool_W;        // its output
  int n_blocks;
  nfp_basicblock blocks[NFP_CNN_MAX_BLOCKS];
  int kp;                            // 1: keypoint head (1x1 conv, spatial softmax)
  nfp_conv_geom kp_g;
  size_t kp_w;                       // its weight [out_C, C, 1, 1]
  // final feature map; out_dim = out_C out_H out_W features (flattened), or 2 out_C
  // (the keypoints of the out_C x out_H x out_W maps)
  int out_C, out_H, out_W, out_dim;
} nfp_cnn;

// Register the trunk's tensors for images of H x W. 0, or -1 with a message.
int nfp_cnn_build(nfp_cnn* net, nfp_ptable* table, const char* prefix, nfp_cnn_kind kind,
                  int H, int W);
// torchvision's init: kaiming normal (fan_out, relu) convs, GroupNorm weight 1, bias 0.
void nfp_cnn_init(float* params, const nfp_cnn* net, nfp_rng* rng);
// Multiply-adds of one forward per image.
double nfp_cnn_macs(const nfp_cnn* net);
size_t nfp_cnn_num_params(const nfp_cnn* net);

// Floats of cached activations for B images (a column buffer included), and of
// backward scratch.
size_t nfp_cnn_acts_size(const nfp_cnn* net, int B);
size_t nfp_cnn_scratch_size(const nfp_cnn* net, int B);

// out[B, out_dim] from inp[B,3,H,W] (as nfp_image_to_nchw makes it).
void nfp_cnn_forward(float* out, float* acts, const float* params, const nfp_cnn* net,
                     const float* inp, int B);
// dparams += (images get no gradient); scratch is overwritten.
void nfp_cnn_backward(float* dparams, float* scratch, const float* dout, const float* acts,
                      const float* params, const nfp_cnn* net, const float* inp, int B);

// Spatial softmax, fixed temperature 1: per map of inp[B,C,H,W], p = softmax over its
// H W positions (the maximum subtracted first), and out[B,C,2] = (sum p x, sum p y) with
// x = -1 + 2 col / (W - 1) (left to right) and y = -1 + 2 row / (H - 1) (top to bottom),
// 0 along a side of one pixel. prob[B,C,H,W] is kept for backward.
void nfp_spatial_softmax_forward(float* out, float* prob, const float* inp, int B, int C, int H,
                                 int W);
// dinp[B,C,H,W] += from dout[B,C,2]; out and prob as the forward left them.
void nfp_spatial_softmax_backward(float* dinp, const float* dout, const float* out,
                                  const float* prob, int B, int C, int H, int W);

// out[N,3,H,W] = ((img[N,H,W,3] / 255) - mean) / std per channel, ImageNet's
// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
void nfp_image_to_nchw(float* out, const uint8_t* img, int N, int H, int W);

//================================== encoder ===================================================
// Observation encoders: map an observation to the flow's context vector.
//
// One interface, several kinds (a kind tag plus a table of functions): the state
// encoder (an nfp_resmlp over the normalised robot state of the last n_obs frames),
// and three image encoders (ResNet18-GroupNorm, a small CNN or a keypoint CNN, see cnn.h):
// one trunk, shared by the cameras, turns each camera's image into features (a flattened
// feature map, or keypoint coordinates); the features of every camera and the state go
// through the same residual MLP.
// What the robot sees at one control step, in physical units (used by the sampler,
// which normalises it with the model's statistics).
typedef struct nfp_obs_ {
  const float* state;    // [n_obs][state_dim], newest frame first (joint positions, gripper)
  const uint8_t* image;  // [n_cam][img_h][img_w][3] RGB, or NULL for state-only models
  // The episode's first frames, as image (models with img_first; the controller keeps them).
  const uint8_t* first_image;
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
  // Training only, for an encoder with an object-state head (aux_dim > 0): the newest
  // frame's object state, normalised, [B][aux_dim], and the weight of its squared error in
  // the loss. NULL when acting (the head's output is then not computed).
  const float* aux_target;
  float aux_weight;
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
  // Image encoders: a linear head from the camera features to the object state (aux_dim
  // values), trained on the simulator's record of it; with aux_bottleneck the MLP sees
  // that estimate instead of the features (the policy then conditions on an estimated
  // object pose, as the state policy does on the true one). The bottleneck's estimate is
  // a stop-gradient: the policy's gradient does not reach the head or trunk (trained
  // through both, Lift Pot's estimate drifted to MSE 0.12 and the policy failed).
  int aux_dim, aux_bottleneck;
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
  size_t aux_w, aux_b;  // "<prefix>.aux.weight" [aux_dim, features], ".bias" (aux_dim > 0)
};

// Limits of the image encoders' input.
#define NFP_ENCODER_MAX_CAM 8
#define NFP_ENCODER_MIN_IMG 8
#define NFP_ENCODER_MAX_IMG 1024
#define NFP_ENCODER_MAX_AUX 64

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
// dparams += d/dparams of <dctx, ctx>, plus obs->aux_weight times the gradient of the
// object-state head's mean squared error when obs->aux_target is given.
void nfp_encoder_backward(float* dparams, float* scratch, const float* dctx, const float* acts,
                          const float* params, const nfp_encoder* enc,
                          const nfp_obs_batch* obs, int B);
// The head's mean squared error over B rows and aux_dim values, from the forward pass that
// filled acts with obs->aux_target given; NAN when there is no head or no target.
double nfp_encoder_aux_mse(const float* acts, const nfp_encoder* enc, const nfp_obs_batch* obs,
                           int B);

//================================== model =====================================================
// nfp_model: the NF-P policy network, an observation encoder plus a conditional
// spline coupling flow over an action chunk, with its normalisation statistics.
//
// Units. Everything at this level is NORMALISED: per joint x -> 2 (x - lo)/(hi - lo) - 1
// with lo/hi the training-set min/max stored in the model (and its checkpoint). A chunk
// is [horizon][action_dim] (D = horizon * action_dim) and log p is the density of the
// normalised chunk; the density of the raw chunk is log p + nfp_model_norm_logdet().
// The sampler (sampler.h) works in physical units and converts with the helpers below.
//
// A model is created (or loaded) once and is const afterwards: every call that needs
// scratch takes a workspace (nfp_model_ws), so threads can share one model.
typedef struct nfp_model_config_ {
  // chunk and observation
  int action_dim;        // joints per step (14)
  int horizon;           // H: actions per chunk (8)
  int stride;            // s: frames between chunk actions (4; used by the dataset)
  int n_obs;             // observation frames (2)
  int state_dim;         // robot state per frame (14)
  // flow
  int n_layers;          // L coupling layers (10)
  int n_bins;            // K spline bins (8)
  double tail_bound;     // B, normalised units (3)
  double min_bin_width;  // 1e-3
  double min_bin_height; // 1e-3
  double min_derivative; // 1e-3
  int hidden;            // conditioner width (128)
  int n_blocks;          // conditioner residual blocks (2)
  // encoder
  int encoder;           // nfp_encoder_kind (NFP_ENCODER_STATE)
  int context_dim;       // context vector size (64)
  int enc_hidden;        // encoder width (256)
  int enc_blocks;        // encoder residual blocks (1)
  int n_cam, img_h, img_w;  // image encoders: network input per camera (0 otherwise)
  int img_src_h, img_src_w; // the camera frames it takes (240 x 320 head camera), which are
  int img_down;             // box-averaged by img_down, then cropped to img_h x img_w: the
  int img_off_y, img_off_x; // window centred, moved by (img_off_y, img_off_x) when acting
                            // (0, 0 in files from before regions of interest)
  int aux_dim;              // image encoders: object-state head width (0 = none)
  int aux_bottleneck;       // 1: the encoder's MLP sees the head's estimate, not the features
  int img_first;            // 1: the encoder also sees the episode's first camera frames (a
                            // view of the scene before the arms occlude it), after the newest
  // sampling defaults (sampler.h)
  double sigma;          // base noise scale for sampling (0.5)
  int sbs_candidates;    // SBS candidates N (128)
  int gr_steps;          // GR ascent steps (10)
  double gr_step_size;   // GR initial step length, normalised action units (0.01)
} nfp_model_config;

// The default (task) model: hidden 128 x 2 blocks, context 64, L 10, K 8.
void nfp_model_config_default(nfp_model_config* cfg);
// The reference size for speed comparisons (nfp bench): D 112, context 128, L 10, K 8, hidden 256,
// 2 blocks (about 7.08 M flow parameters).
void nfp_model_config_reference(nfp_model_config* cfg);
// 0, or -1 with a message naming the bad field.
int nfp_model_config_validate(const nfp_model_config* cfg);
// Camera frames the encoder takes per observation: n_cam, twice that with img_first.
int nfp_model_config_frames(const nfp_model_config* cfg);
// JSON object text of every field (malloc'd, caller frees), and back. The parser
// needs every field and refuses unknown ones. NULL / -1 with a message.
char* nfp_model_config_to_json(const nfp_model_config* cfg);
int nfp_model_config_from_json(nfp_model_config* cfg, const char* json);
// 0 when equal, else -1 with a message naming the first differing field.
int nfp_model_config_compare(const nfp_model_config* a, const nfp_model_config* b);

typedef struct nfp_model_ {
  nfp_model_config cfg;
  int chunk_dim;         // D = horizon * action_dim
  int obs_dim;           // n_obs * state_dim
  nfp_ptable table;      // named tensors in params
  size_t num_params;
  float* params;         // [num_params], one buffer
  nfp_encoder enc;
  nfp_flow flow;
  // normalisation statistics (identity map lo = -1, hi = 1 until set)
  float* state_lo;       // [state_dim]
  float* state_hi;
  float* action_lo;      // [action_dim]
  float* action_hi;
} nfp_model;

// Build and seed-initialise (the flow starts as the identity). NULL with a message.
nfp_model* nfp_model_create(const nfp_model_config* cfg, uint64_t seed);
// The same, refused (NULL, error set) when cfg needs more than max_params parameters:
// loaders pass what the file holds, so a hostile config cannot ask for gigabytes.
nfp_model* nfp_model_create_within(const nfp_model_config* cfg, uint64_t seed,
                                   size_t max_params);
void nfp_model_free(nfp_model* model);

size_t nfp_model_num_params(const nfp_model* model);
// Set the statistics (arrays of state_dim / action_dim floats); every hi > lo and
// finite, else -1 with a message.
int nfp_model_set_norm(nfp_model* model, const float* state_lo, const float* state_hi,
                       const float* action_lo, const float* action_hi);
// sum over the chunk of log(2 / (hi - lo)): raw log-density = normalised + this.
double nfp_model_norm_logdet(const nfp_model* model);
// Physical <-> normalised for n frames of state (state_dim each) or n steps of action.
void nfp_model_normalize_state(const nfp_model* model, float* out, const float* raw, int n);
void nfp_model_normalize_action(const nfp_model* model, float* out, const float* raw, int n);
void nfp_model_denormalize_action(const nfp_model* model, float* out, const float* norm, int n);

// Workspace: cached activations and scratch for batches of up to max_batch rows.
typedef struct nfp_model_ws_ nfp_model_ws;
nfp_model_ws* nfp_model_ws_create(const nfp_model* model, int max_batch);
void nfp_model_ws_free(nfp_model_ws* ws);
int nfp_model_ws_max_batch(const nfp_model_ws* ws);

// logp[b] = log p(action_b | obs_b), all normalised (action [B][D] floats). Caches
// what nfp_model_backward needs. 0, or -1 with a message (B too large).
int nfp_model_logprob(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                      const float* action, int B, double* logp);
// The same from a double action (used by the samplers; no float rounding of a).
int nfp_model_logprob_d(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                        const double* action, int B, double* logp);
// The same with the contexts given (ctx[B][context_dim], from nfp_model_encode): the
// encoder does not run, so gradient refinement pays for it once, not per step. A following
// nfp_model_backward fills daction only (grads must be NULL: no encoder cache to back into).
int nfp_model_logprob_ctx_d(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                            const double* action, int B, double* logp);
// Backward of the last logprob call with weights dlogp[B] (e.g. -1/B each for the mean
// NLL): grads[num_params] += d(sum_b dlogp_b logp_b)/dparams (may be NULL) and
// daction[B][D] += the same w.r.t. the normalised action (may be NULL).
void nfp_model_backward(const nfp_model* model, nfp_model_ws* ws, const double* dlogp,
                        float* grads, double* daction);

// Context vectors for B observations into ctx[B][context_dim] (no cache kept).
void nfp_model_encode(const nfp_model* model, nfp_model_ws* ws, const nfp_obs_batch* obs,
                      int B, float* ctx);
// The object-state head's mean squared error in the last nfp_model_logprob (its batch
// carried aux_target); NAN when the model has no head or the batch no target.
double nfp_model_aux_mse(const nfp_model* model, const nfp_model_ws* ws);
// Inverse pass with given contexts ctx[B][context_dim]: action[B][D] = T^-1(u),
// logp[B] = log p(action | obs) from the inverse log-dets. Normalised units.
int nfp_model_inverse(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                      const double* u, int B, double* action, double* logp);

// The same for B draws under ONE context ctx[context_dim] (SBS): the context's share of
// every conditioner is computed once. Equal to nfp_model_inverse with the context
// repeated, up to float rounding in the conditioners.
int nfp_model_inverse_shared(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                             const double* u, int B, double* action, double* logp);
// nfp_model_inverse_shared with the splines in float: about twice as fast for SBS, action
// and logp good to ~1e-4 (logp error grows with the flow's sharpness). For RANKING
// candidates only: recompute the chosen one with nfp_model_inverse_shared.
int nfp_model_inverse_rank(const nfp_model* model, nfp_model_ws* ws, const float* ctx,
                           const double* u, int B, double* action, double* logp);

#ifdef __cplusplus
}
#endif
#endif
