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
} nfp_cnn_kind;

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
  int out_C, out_H, out_W, out_dim;  // final feature map, out_dim = out_C out_H out_W
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

// out[N,3,H,W] = ((img[N,H,W,3] / 255) - mean) / std per channel, ImageNet's
// mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225).
void nfp_image_to_nchw(float* out, const uint8_t* img, int N, int H, int W);

#ifdef __cplusplus
}
#endif
#endif
