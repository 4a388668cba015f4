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
#ifndef NFP_CNN_H
#define NFP_CNN_H

#include <stddef.h>
#include <stdint.h>

#include "nfp/conv.h"

#ifdef __cplusplus
extern "C" {
#endif

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

#ifdef __cplusplus
}
#endif
#endif
