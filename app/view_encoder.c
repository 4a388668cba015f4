// The encoder inset of nfp view: the last plan's encoder input, zoomed, keypoints marked
// (see view_encoder.h).
#include "view_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

// Marker colours, cycled over the keypoints.
static const uint8_t kp_colours[8][3] = {
    {255, 40, 40}, {40, 255, 40}, {60, 120, 255}, {255, 255, 0},
    {255, 0, 255}, {0, 255, 255}, {255, 140, 0},  {255, 255, 255},
};

// Model config and head-camera size -> buffers for the input, the inset and (cnn-kp) the
// trunk's pass. 0, or -1 with the error set.
int view_encoder_init(view_encoder* e, const nfp_model* model, int cam_h, int cam_w) {
  memset(e, 0, sizeof(*e));
  e->model = model;
  const nfp_model_config* c = &model->cfg;
  if (c->n_cam < 1 || c->img_down < 1) {
    return nfp_error_set("viewer: the policy's config has %d cameras and img_down %d, no "
                         "encoder input to show; re-save the checkpoint from nfp train",
                         c->n_cam, c->img_down);
  }
  if (c->img_src_h != cam_h || c->img_src_w != cam_w) {
    return nfp_error_set("viewer: the policy takes %dx%d camera frames but the head camera "
                         "gives %dx%d; use a checkpoint trained on this rig's head camera",
                         c->img_src_w, c->img_src_h, cam_w, cam_h);
  }
  size_t shrunk = (size_t)(cam_h / c->img_down) * (cam_w / c->img_down) * 3;
  size_t input = (size_t)c->img_h * c->img_w * 3;
  e->shrunk = malloc(shrunk);
  e->input = malloc(input);
  e->first = c->img_first ? malloc(input) : NULL;
  e->pixels = malloc(input * VIEW_ENCODER_MAX_ZOOM * VIEW_ENCODER_MAX_ZOOM);
  int ok = e->shrunk && e->input && e->pixels && (e->first || !c->img_first);
  const nfp_cnn* net = &model->enc.cnn;
  if (c->encoder == NFP_ENCODER_CNN_KP && net->kp && net->out_dim <= 2 * NFP_CNN_KEYPOINTS) {
    e->n_kp = net->out_dim / 2;
    e->nchw = malloc(sizeof(float) * input);
    e->acts = malloc(sizeof(float) * nfp_cnn_acts_size(net, 1));
    ok = ok && e->nchw && e->acts;
  }
  if (!ok) {
    return nfp_error_set("viewer: out of memory for the encoder inset (%dx%d input); try "
                         "--no-encoder-view", c->img_w, c->img_h);
  }
  return 0;
}

// Buffers -> freed; e zeroed.
void view_encoder_free(view_encoder* e) {
  free(e->shrunk);
  free(e->input);
  free(e->first);
  free(e->pixels);
  free(e->nchw);
  free(e->acts);
  memset(e, 0, sizeof(*e));
}

// New episode -> no input shown until its first plan.
void view_encoder_clear(view_encoder* e) { e->has_input = 0; }

// Head-camera frame -> e->input as the sampler makes it when acting (shrink, crop), and
// e->first at an episode's first plan -> for cnn-kp, the trunk's keypoints e->kp.
void view_encoder_update(view_encoder* e, const uint8_t* frame, int step) {
  const nfp_model_config* c = &e->model->cfg;
  nfp_image_policy_input(e->input, e->shrunk, frame, c);
  if (e->first && !e->has_input) memcpy(e->first, e->input, (size_t)c->img_h * c->img_w * 3);
  if (e->n_kp) {
    nfp_image_to_nchw(e->nchw, e->input, 1, c->img_h, c->img_w);
    nfp_cnn_forward(e->kp, e->acts, e->model->params, &e->model->enc.cnn, e->nchw, 1);
  }
  e->has_input = 1;
  e->step = step;
}

// Viewport height -> inset pixels per input pixel: about a quarter of the height.
int view_encoder_zoom(const nfp_model_config* cfg, int viewport_height) {
  int z = viewport_height / (4 * cfg->img_h);
  return z < 1 ? 1 : z > VIEW_ENCODER_MAX_ZOOM ? VIEW_ENCODER_MAX_ZOOM : z;
}

// Expected coordinate v in [-1, 1] over n map positions -> input pixel coordinate: the
// centre of the window each stem convolution (last first) reads at that position.
static double kp_to_input(const nfp_cnn* net, double v, int n) {
  double u = n > 1 ? 0.5 * (v + 1) * (n - 1) : 0;
  for (int i = net->n_stem - 1; i >= 0; i--) {
    const nfp_conv_geom* g = &net->stem[i].g;
    u = u * g->stride - g->pad + 0.5 * (g->K - 1);
  }
  return u;
}

// Fill the square of half-width r around inset pixel (x, y) (y from the top) with rgb,
// clipped to the iw x ih inset whose rows are stored bottom-up.
static void inset_square(uint8_t* px, int iw, int ih, int x, int y, int r, const uint8_t* rgb) {
  for (int dy = -r; dy <= r; dy++) {
    int row = ih - 1 - (y + dy);
    if (row < 0 || row >= ih) continue;
    for (int dx = -r; dx <= r; dx++) {
      if (x + dx >= 0 && x + dx < iw) memcpy(px + 3 * ((size_t)row * iw + x + dx), rgb, 3);
    }
  }
}

// e->kp -> a black-edged coloured square per keypoint on the zoom-z inset.
static void mark_keypoints(view_encoder* e, int z) {
  const nfp_cnn* net = &e->model->enc.cnn;
  int iw = e->model->cfg.img_w * z, ih = e->model->cfg.img_h * z;
  static const uint8_t black[3] = {0, 0, 0};
  for (int k = 0; k < e->n_kp; k++) {
    int x = (int)((kp_to_input(net, e->kp[2 * k], net->out_W) + 0.5) * z);
    int y = (int)((kp_to_input(net, e->kp[2 * k + 1], net->out_H) + 0.5) * z);
    inset_square(e->pixels, iw, ih, x, y, VIEW_ENCODER_MARK, black);
    inset_square(e->pixels, iw, ih, x, y, VIEW_ENCODER_MARK - 1, kp_colours[k % 8]);
  }
}

// An encoder input -> e->pixels: each input pixel a z x z block, rows bottom-up for GL.
static void zoom_input(view_encoder* e, const uint8_t* input, int z) {
  int h = e->model->cfg.img_h, w = e->model->cfg.img_w, iw = w * z, ih = h * z;
  for (int y = 0; y < ih; y++) {
    const uint8_t* src = input + (size_t)(h - 1 - y / z) * w * 3;
    uint8_t* dst = e->pixels + (size_t)y * iw * 3;
    for (int x = 0; x < iw; x++) memcpy(dst + 3 * x, src + 3 * (x / z), 3);
  }
}

// What the label says: the encoder, its input size and the plan's step.
static void label_text(const view_encoder* e, char* text, size_t cap) {
  static const char* const names[] = {"state", "resnet18", "cnn", "cnn-kp"};  // by kind
  const nfp_model_config* c = &e->model->cfg;
  const char* kind = c->encoder >= 0 && c->encoder < 4 ? names[c->encoder] : "image";
  int n = snprintf(text, cap, "%s input %dx%d", kind, c->img_w, c->img_h);
  if (n < 0 || (size_t)n >= cap) return;
  if (e->has_input) {
    snprintf(text + n, cap - (size_t)n, ", step %d", e->step);
  } else {
    snprintf(text + n, cap - (size_t)n, ": no plan yet");
  }
}

// Input -> zoomed inset at the top right of viewport, keypoints marked, label below it.
void view_encoder_draw(view_encoder* e, mjrRect viewport, const mjrContext* con) {
  const nfp_model_config* c = &e->model->cfg;
  int z = view_encoder_zoom(c, viewport.height), iw = c->img_w * z, ih = c->img_h * z;
  int right = viewport.left + viewport.width - VIEW_ENCODER_MARGIN;
  int top = viewport.bottom + viewport.height - VIEW_ENCODER_MARGIN;
  mjrRect r = {right - iw, top - ih, iw, ih};
  if (e->has_input) {
    zoom_input(e, e->input, z);
    if (e->n_kp) mark_keypoints(e, z);
    mjr_drawPixels(e->pixels, NULL, r, con);
  }
  if (e->has_input && e->first) {  // the episode's first frame, left of the newest
    mjrRect f = {r.left - iw - VIEW_ENCODER_MARGIN, r.bottom, iw, ih};
    zoom_input(e, e->first, z);
    mjr_drawPixels(e->pixels, NULL, f, con);
    int th = con->charHeight + 8;
    mjr_label((mjrRect){f.left, f.bottom - th, iw, th}, mjFONT_NORMAL, "first frame", 1, 1, 1,
              0.6f, 0, 0, 0, con);
  }
  char text[128];
  label_text(e, text, sizeof(text));
  int tw = 16;
  for (const char* p = text; *p; p++) tw += (unsigned char)*p < 127 ? con->charWidth[(int)*p] : 0;
  if (tw < iw) tw = iw;
  int th = con->charHeight + 8;
  mjrRect label = {right - tw, r.bottom - th, tw, th};
  mjr_label(label, mjFONT_NORMAL, text, 1, 1, 1, 0.6f, 0, 0, 0, con);
}
