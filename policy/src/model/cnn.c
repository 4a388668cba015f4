// Image trunks (ResNet18-GroupNorm, a small CNN, the keypoint CNN): build, forward, backward.
//
// Activations are cached layer by layer for the whole batch; every convolution shares
// one column buffer at the front of acts. Backward walks the layers in reverse with two
// gradient buffers the size of the largest feature map.
#include <stdio.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/model.h"

static size_t max_sz(size_t a, size_t b) { return a > b ? a : b; }

static int build_resnet18(nfp_cnn* net, nfp_ptable* table, const char* prefix) {
  char conv[NFP_TENSOR_NAME_MAX], norm[NFP_TENSOR_NAME_MAX];
  snprintf(conv, sizeof(conv), "%s.conv1", prefix);
  snprintf(norm, sizeof(norm), "%s.bn1", prefix);
  net->n_stem = 1;
  if (nfp_convgn_build(&net->stem[0], table, conv, norm, 3, net->H, net->W, 64, 7, 2, 3, 0) != 0) {
    return -1;
  }
  net->pool = 1;
  int C = 64, H = (net->stem[0].g.OH + 2 - 3) / 2 + 1, W = (net->stem[0].g.OW + 2 - 3) / 2 + 1;
  net->pool_C = C, net->pool_H = H, net->pool_W = W;
  static const int widths[4] = {64, 128, 256, 512};
  for (int l = 0; l < 4; l++) {
    for (int k = 0; k < 2; k++) {
      char name[NFP_TENSOR_NAME_MAX];
      snprintf(name, sizeof(name), "%s.layer%d.%d", prefix, l + 1, k);
      nfp_basicblock* blk = &net->blocks[net->n_blocks++];
      int stride = l > 0 && k == 0 ? 2 : 1;
      if (nfp_basicblock_build(blk, table, name, C, H, W, widths[l], stride) != 0) return -1;
      C = blk->OC, H = blk->OH, W = blk->OW;
    }
  }
  net->out_C = C, net->out_H = H, net->out_W = W;
  return 0;
}

// Four conv + GroupNorm(8) + ReLU units named "<prefix>.<i>.conv" / "<prefix>.<i>.norm".
static int build_stem4(nfp_cnn* net, nfp_ptable* table, const char* prefix, const int* stride) {
  static const int oc[4] = {32, 32, 64, 64}, k[4] = {5, 3, 3, 3}, pad[4] = {2, 1, 1, 1};
  int C = 3, H = net->H, W = net->W;
  for (int i = 0; i < 4; i++) {
    char conv[NFP_TENSOR_NAME_MAX], norm[NFP_TENSOR_NAME_MAX];
    snprintf(conv, sizeof(conv), "%s.%d.conv", prefix, i);
    snprintf(norm, sizeof(norm), "%s.%d.norm", prefix, i);
    if (nfp_convgn_build(&net->stem[i], table, conv, norm, C, H, W, oc[i], k[i], stride[i],
                         pad[i], 8) != 0) {
      return -1;
    }
    C = oc[i], H = net->stem[i].g.OH, W = net->stem[i].g.OW;
  }
  net->n_stem = 4;
  net->out_C = C, net->out_H = H, net->out_W = W;
  return 0;
}

static int build_small(nfp_cnn* net, nfp_ptable* table, const char* prefix) {
  static const int stride[4] = {2, 2, 2, 2};
  return build_stem4(net, table, prefix, stride);
}

// Strides 2, 1, 2, 1 keep a quarter-size map for the keypoints to move on.
static int build_keypoint(nfp_cnn* net, nfp_ptable* table, const char* prefix) {
  static const int stride[4] = {2, 1, 2, 1};
  if (build_stem4(net, table, prefix, stride) != 0) return -1;
  char name[NFP_TENSOR_NAME_MAX];
  if (snprintf(name, sizeof(name), "%s.kp.weight", prefix) >= (int)sizeof(name)) {
    return nfp_error_set("%s: tensor name too long", prefix);
  }
  if (nfp_conv_geom_init(&net->kp_g, net->out_C, net->out_H, net->out_W, NFP_CNN_KEYPOINTS, 1, 1,
                         0) != 0) {
    return -1;
  }
  int shape[4] = {NFP_CNN_KEYPOINTS, net->out_C, 1, 1};
  net->kp_w = nfp_ptable_add_nd(table, name, 4, shape);
  if (table->failed) return nfp_error_set("%s: out of memory", name);
  net->kp = 1;
  net->out_C = NFP_CNN_KEYPOINTS;
  return 0;
}

int nfp_cnn_build(nfp_cnn* net, nfp_ptable* table, const char* prefix, nfp_cnn_kind kind,
                  int H, int W) {
  memset(net, 0, sizeof(*net));
  net->kind = kind;
  net->H = H, net->W = W;
  if (H <= 0 || W <= 0) return nfp_error_set("image trunk %s: bad image size %dx%d", prefix, H, W);
  int rc;
  switch (kind) {
    case NFP_CNN_RESNET18: rc = build_resnet18(net, table, prefix); break;
    case NFP_CNN_SMALL: rc = build_small(net, table, prefix); break;
    case NFP_CNN_KEYPOINT: rc = build_keypoint(net, table, prefix); break;
    default: return nfp_error_set("image trunk %s: unknown kind %d", prefix, (int)kind);
  }
  if (rc != 0) return nfp_error_wrap("image trunk %s for %dx%d images", prefix, H, W);
  net->out_dim = net->kp ? 2 * net->out_C : net->out_C * net->out_H * net->out_W;
  return 0;
}

void nfp_cnn_init(float* params, const nfp_cnn* net, nfp_rng* rng) {
  for (int i = 0; i < net->n_stem; i++) nfp_convgn_init(params, &net->stem[i], rng);
  for (int j = 0; j < net->n_blocks; j++) nfp_basicblock_init(params, &net->blocks[j], rng);
  if (net->kp) nfp_conv2d_init(params + net->kp_w, &net->kp_g, rng);
}

static double unit_macs(const nfp_convgn* u) { return nfp_conv2d_macs(&u->g); }

double nfp_cnn_macs(const nfp_cnn* net) {
  double m = 0.0;
  for (int i = 0; i < net->n_stem; i++) m += unit_macs(&net->stem[i]);
  for (int j = 0; j < net->n_blocks; j++) {
    const nfp_basicblock* b = &net->blocks[j];
    m += unit_macs(&b->c1) + unit_macs(&b->c2) + (b->has_down ? unit_macs(&b->down) : 0.0);
  }
  if (net->kp) m += nfp_conv2d_macs(&net->kp_g);
  return m;
}

static size_t unit_params(const nfp_convgn* u) {
  return (size_t)u->g.OC * u->g.C * u->g.K * u->g.K + 2 * (size_t)u->g.OC;
}

size_t nfp_cnn_num_params(const nfp_cnn* net) {
  size_t n = 0;
  for (int i = 0; i < net->n_stem; i++) n += unit_params(&net->stem[i]);
  for (int j = 0; j < net->n_blocks; j++) {
    const nfp_basicblock* b = &net->blocks[j];
    n += unit_params(&b->c1) + unit_params(&b->c2) + (b->has_down ? unit_params(&b->down) : 0);
  }
  if (net->kp) n += (size_t)net->kp_g.OC * net->kp_g.C;
  return n;
}

static size_t unit_out(const nfp_convgn* u) { return (size_t)u->g.OC * u->g.OH * u->g.OW; }

static size_t col_size(const nfp_cnn* net) {
  size_t c = 1;
  for (int i = 0; i < net->n_stem; i++) c = max_sz(c, nfp_conv2d_col_size(&net->stem[i].g));
  for (int j = 0; j < net->n_blocks; j++) c = max_sz(c, nfp_basicblock_col_size(&net->blocks[j]));
  if (net->kp) c = max_sz(c, nfp_conv2d_col_size(&net->kp_g));
  return c;
}

// Floats of the largest feature map of one image (the input included).
static size_t max_map(const nfp_cnn* net) {
  size_t m = 3 * (size_t)net->H * net->W;
  for (int i = 0; i < net->n_stem; i++) m = max_sz(m, unit_out(&net->stem[i]));
  for (int j = 0; j < net->n_blocks; j++) m = max_sz(m, unit_out(&net->blocks[j].c1));
  if (net->kp) m = max_sz(m, (size_t)net->out_C * net->out_H * net->out_W);
  return m;
}

typedef struct {
  float* col;
  float *y[NFP_CNN_MAX_STEM], *r[NFP_CNN_MAX_STEM], *mean[NFP_CNN_MAX_STEM],
      *rstd[NFP_CNN_MAX_STEM];
  float* pool;
  int32_t* pool_at;  // the max pool's winners
  float *bacts[NFP_CNN_MAX_BLOCKS], *bout[NFP_CNN_MAX_BLOCKS];
  float *kp_logit, *kp_prob, *kp_out;  // keypoint maps, their softmax, the keypoints
} cnn_acts;

static size_t acts_map(cnn_acts* a, const float* acts, const nfp_cnn* net, int B) {
  float* p = (float*)acts;
  a->col = p, p += col_size(net);
  for (int i = 0; i < net->n_stem; i++) {
    size_t n = (size_t)B * unit_out(&net->stem[i]), ng = (size_t)B * net->stem[i].groups;
    a->y[i] = p, p += n;
    a->r[i] = p, p += n;
    a->mean[i] = p, p += ng;
    a->rstd[i] = p, p += ng;
  }
  a->pool = NULL;
  a->pool_at = NULL;
  if (net->pool) {
    size_t n = (size_t)B * net->pool_C * net->pool_H * net->pool_W;
    a->pool = p, p += n;
    a->pool_at = (int32_t*)p, p += n;  // int32 and float are both four bytes
  }
  for (int j = 0; j < net->n_blocks; j++) {
    a->bacts[j] = p, p += nfp_basicblock_acts_size(&net->blocks[j], B);
    a->bout[j] = p, p += (size_t)B * unit_out(&net->blocks[j].c1);
  }
  a->kp_logit = a->kp_prob = a->kp_out = NULL;
  if (net->kp) {
    size_t n = (size_t)B * net->out_C * net->out_H * net->out_W;
    a->kp_logit = p, p += n;
    a->kp_prob = p, p += n;
    a->kp_out = p, p += (size_t)B * net->out_dim;
  }
  return (size_t)(p - (float*)acts);
}

size_t nfp_cnn_acts_size(const nfp_cnn* net, int B) {
  cnn_acts a;
  return acts_map(&a, NULL, net, B);
}

size_t nfp_cnn_scratch_size(const nfp_cnn* net, int B) {
  size_t maps = (size_t)B * max_map(net);
  size_t rest = maps + col_size(net);  // a stem unit: one map and the columns
  for (int j = 0; j < net->n_blocks; j++) {
    rest = max_sz(rest, nfp_basicblock_scratch_size(&net->blocks[j], B));
  }
  return 2 * maps + rest;
}

void nfp_cnn_forward(float* out, float* acts, const float* params, const nfp_cnn* net,
                     const float* inp, int B) {
  cnn_acts a;
  acts_map(&a, acts, net, B);
  const float* x = inp;
  for (int i = 0; i < net->n_stem; i++) {
    const nfp_convgn* u = &net->stem[i];
    int P = u->g.OH * u->g.OW;
    nfp_conv2d_forward(a.y[i], a.col, x, params + u->w, NULL, &u->g, B);
    nfp_groupnorm_act_forward(a.r[i], a.mean[i], a.rstd[i], a.y[i], params + u->gn_w,
                              params + u->gn_b, NULL, 1, B, u->g.OC, P, u->groups);
    x = a.r[i];
  }
  if (net->pool) {
    const nfp_convgn* u = &net->stem[net->n_stem - 1];
    nfp_maxpool_forward_at(a.pool, a.pool_at, x, B, u->g.OC, u->g.OH, u->g.OW, 3, 2, 1);
    x = a.pool;
  }
  for (int j = 0; j < net->n_blocks; j++) {
    nfp_basicblock_forward(a.bout[j], a.bacts[j], a.col, params, &net->blocks[j], x, B);
    x = a.bout[j];
  }
  if (net->kp) {
    nfp_conv2d_forward(a.kp_logit, a.col, x, params + net->kp_w, NULL, &net->kp_g, B);
    nfp_spatial_softmax_forward(a.kp_out, a.kp_prob, a.kp_logit, B, net->out_C, net->out_H,
                                net->out_W);
    x = a.kp_out;
  }
  memcpy(out, x, sizeof(float) * (size_t)B * net->out_dim);
}

void nfp_cnn_backward(float* dparams, float* scratch, const float* dout, const float* acts,
                      const float* params, const nfp_cnn* net, const float* inp, int B) {
  cnn_acts a;
  acts_map(&a, acts, net, B);
  size_t maps = (size_t)B * max_map(net);
  float* cur = scratch;
  float* prev = scratch + maps;
  float* rest = scratch + 2 * maps;
  memcpy(cur, dout, sizeof(float) * (size_t)B * net->out_dim);
  if (net->kp) {  // keypoint head: the trunk has no blocks, the last stem unit feeds it
    size_t n = (size_t)B * net->out_C * net->out_H * net->out_W;
    const nfp_convgn* u = &net->stem[net->n_stem - 1];
    memset(prev, 0, sizeof(float) * n);
    nfp_spatial_softmax_backward(prev, cur, a.kp_out, a.kp_prob, B, net->out_C, net->out_H,
                                 net->out_W);
    memset(cur, 0, sizeof(float) * (size_t)B * unit_out(u));
    nfp_conv2d_backward(cur, dparams + net->kp_w, NULL, rest, prev, a.r[net->n_stem - 1],
                        params + net->kp_w, &net->kp_g, B);
  }
  for (int j = net->n_blocks - 1; j >= 0; j--) {
    const nfp_basicblock* blk = &net->blocks[j];
    const float* x = j > 0 ? a.bout[j - 1] : a.pool;
    memset(prev, 0, sizeof(float) * (size_t)B * blk->C * blk->H * blk->W);
    nfp_basicblock_backward(prev, dparams, rest, cur, a.bout[j], a.bacts[j], params, blk, x, B);
    float* t = cur;
    cur = prev, prev = t;
  }
  if (net->pool) {
    const nfp_convgn* u = &net->stem[net->n_stem - 1];
    memset(prev, 0, sizeof(float) * (size_t)B * unit_out(u));
    nfp_maxpool_backward_at(prev, cur, a.pool_at, B, u->g.OC, u->g.OH, u->g.OW, net->pool_H,
                            net->pool_W);
    float* t = cur;
    cur = prev, prev = t;
  }
  for (int i = net->n_stem - 1; i >= 0; i--) {
    const nfp_convgn* u = &net->stem[i];
    int P = u->g.OH * u->g.OW;
    float* col = rest;
    nfp_groupnorm_act_backward(prev, dparams + u->gn_w, dparams + u->gn_b, cur, a.r[i], 1,
                               a.y[i], a.mean[i], a.rstd[i], params + u->gn_w, B, u->g.OC, P,
                               u->groups);
    const float* x = i > 0 ? a.r[i - 1] : inp;
    if (i > 0) memset(cur, 0, sizeof(float) * (size_t)B * unit_out(&net->stem[i - 1]));
    nfp_conv2d_backward(i > 0 ? cur : NULL, dparams + u->w, NULL, col, prev, x, params + u->w,
                        &u->g, B);
  }
}

void nfp_image_to_nchw(float* out, const uint8_t* img, int N, int H, int W) {
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  size_t P = (size_t)H * W;
  for (int c = 0; c < 3; c++) {
    float scale = 1.0f / (255.0f * std[c]), shift = -mean[c] / std[c];
    for (int s = 0; s < N; s++) {
      const uint8_t* src = img + (size_t)s * P * 3 + c;
      float* dst = out + ((size_t)s * 3 + c) * P;
      for (size_t p = 0; p < P; p++) dst[p] = (float)src[3 * p] * scale + shift;
    }
  }
}
