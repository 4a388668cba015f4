// What an image policy's encoder sees, drawn beside the scene (key e, --no-encoder-view).
//
// At every plan the viewer hands over the head-camera frame the policy is about to look
// at; it goes through the policy library's own preprocessing (nfp_image_policy_input, the
// call the sampler makes when acting), so the inset shows the exact pixels the encoder got
// at the last plan,
// zoomed nearest-neighbour into the top-right corner. For the keypoint CNN (cnn-kp) the
// trunk runs once more on that input and its output features, the expected (x, y) of each
// spatial-softmax map, are marked on the inset. A policy that also sees the episode's first
// frame (--first-frame) gets that input in a second inset, to the left.
#ifndef NFP_APP_VIEW_ENCODER_H
#define NFP_APP_VIEW_ENCODER_H

#include <stdint.h>

#include <mujoco/mujoco.h>

#include "nfp/model.h"

#define VIEW_ENCODER_MAX_ZOOM 4  // inset pixels per input pixel, at most
#define VIEW_ENCODER_MARGIN 10   // inset distance from the window's top and right edges
#define VIEW_ENCODER_MARK 2      // keypoint marker: a (2 MARK + 1)-pixel square, in the inset

typedef struct {
  const nfp_model* model;   // an image policy (not owned)
  uint8_t* shrunk;          // [img_src_h / img_down][img_src_w / img_down][3]
  uint8_t* input;           // [img_h][img_w][3]: the encoder's input at the last plan
  uint8_t* first;           // [img_h][img_w][3]: that of the episode's first plan (img_first)
  float* nchw;              // cnn-kp: that input as the trunk takes it
  float* acts;              // cnn-kp: the trunk's activations
  float kp[2 * NFP_CNN_KEYPOINTS];  // cnn-kp: expected (x, y) of each map, in [-1, 1]
  int n_kp;                 // keypoints marked (0 unless cnn-kp)
  uint8_t* pixels;          // the zoomed inset, rows bottom-up as GL draws them
  int has_input;            // a plan was seen since the last clear
  int step;                 // the control step of that plan
} view_encoder;

// For an image policy whose frames come from a cam_h x cam_w head camera. 0, or -1 with
// the error set (frame size the policy was not trained on, out of memory).
int view_encoder_init(view_encoder* e, const nfp_model* model, int cam_h, int cam_w);
void view_encoder_free(view_encoder* e);
// Forget the last plan's input (a new episode).
void view_encoder_clear(view_encoder* e);
// The frame [img_src_h][img_src_w][3] the policy plans on at control step `step` -> the
// encoder's input (and, for cnn-kp, its keypoints).
void view_encoder_update(view_encoder* e, const uint8_t* frame, int step);
// Inset zoom for a viewport height: about a quarter of it, 1 to VIEW_ENCODER_MAX_ZOOM.
int view_encoder_zoom(const nfp_model_config* cfg, int viewport_height);
// Draw the inset and its label in the top-right corner of viewport.
void view_encoder_draw(view_encoder* e, mjrRect viewport, const mjrContext* con);

#endif
