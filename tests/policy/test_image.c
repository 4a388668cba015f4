// Camera frames on their way to an image encoder: box shrinking and cropping (edges
// repeated past the frame), window placement (centred or a region of interest when
// acting, anywhere or within a shift in training), the dataset's per-window frames, the
// sampler's preparation of a full-size frame, the episode's first frame beside the newest
// (img_first: dataset, sampler and controller), and image-model configs (old checkpoints
// without the image fields still read).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nfp/error.h"
#include "nfp/model.h"
#include "nfp/sampler.h"
#include "nfp/train.h"

// Pixel (y, x) channel c of a frame whose values name their origin.
static uint8_t pixel(int frame, int y, int x, int c) {
  return (uint8_t)((frame * 31 + y * 7 + x * 3 + c * 50) & 0xff);
}

static void test_shrink_crop(void** state) {
  (void)state;
  enum { H = 6, W = 9, D = 3 };
  uint8_t src[H * W * 3], out[(H / D) * (W / D) * 3];
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++) src[(y * W + x) * 3 + c] = (uint8_t)(10 * y + x + c);
  nfp_image_shrink(out, src, H, W, D);
  // block (by, bx) holds 10 y + x + c over y in 3 by + 0..2, x in 3 bx + 0..2: mean 10 (3 by + 1)
  // + 3 bx + 1 + c
  for (int by = 0; by < H / D; by++)
    for (int bx = 0; bx < W / D; bx++)
      for (int c = 0; c < 3; c++) {
        assert_int_equal(out[(by * (W / D) + bx) * 3 + c], 10 * (3 * by + 1) + 3 * bx + 1 + c);
      }
  // rounding: a block of 0 and 1 values averages to the nearest integer
  uint8_t two[2 * 2 * 3] = {0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}, one[3];
  nfp_image_shrink(one, two, 2, 2, 2);
  assert_int_equal(one[0], 1);  // 3/4 rounds up

  uint8_t crop[2 * 3 * 3];
  nfp_image_crop(crop, src, H, W, 2, 3, 4, 5);
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++) assert_int_equal(crop[(y * 3 + x) * 3], 10 * (4 + y) + 5 + x);
  // a window past the frame's corner repeats the edge pixels (rows 5, 5; columns 7, 8, 8)
  nfp_image_crop(crop, src, H, W, 2, 3, 5, 7);
  int cols[3] = {7, 8, 8};
  for (int y = 0; y < 2; y++)
    for (int x = 0; x < 3; x++) assert_int_equal(crop[(y * 3 + x) * 3], 10 * 5 + cols[x]);
  nfp_image_crop(crop, src, H, W, 2, 3, -1, -2);  // past the top-left corner: pixel (0, 0)
  for (int i = 0; i < 6; i++) assert_int_equal(crop[i * 3], 0);

  // anywhere in the frame (shift < 0): centred when acting, every placement in training
  nfp_image_window any = {56, 72, 0, 0, -1};
  int y0, x0;
  nfp_image_window_place(&y0, &x0, &any, 60, 80, NULL);
  assert_int_equal(y0, 2);
  assert_int_equal(x0, 4);
  nfp_rng rng;
  nfp_rng_seed(&rng, 7);
  int seen_y[5] = {0}, seen_x[9] = {0};
  for (int i = 0; i < 2000; i++) {
    nfp_image_window_place(&y0, &x0, &any, 60, 80, &rng);
    assert_true(y0 >= 0 && y0 <= 4 && x0 >= 0 && x0 <= 8);
    seen_y[y0] = seen_x[x0] = 1;
  }
  for (int i = 0; i < 5; i++) assert_true(seen_y[i]);  // every shift is drawn
  for (int i = 0; i < 9; i++) assert_true(seen_x[i]);
  // a region of interest: 60 x 120 of 120 x 160 at (15, 20) when acting, +-2 in training
  nfp_image_window roi = {60, 120, 15 - 30, 0, 2};
  nfp_image_window_place(&y0, &x0, &roi, 120, 160, NULL);
  assert_int_equal(y0, 15);
  assert_int_equal(x0, 20);
  int seen[5][5] = {{0}}, places = 0;
  for (int i = 0; i < 2000; i++) {
    nfp_image_window_place(&y0, &x0, &roi, 120, 160, &rng);
    assert_true(y0 >= 13 && y0 <= 17 && x0 >= 18 && x0 <= 22);
    places += !seen[y0 - 13][x0 - 18];
    seen[y0 - 13][x0 - 18] = 1;
  }
  assert_int_equal(places, 25);
  roi.shift = 0;  // no shift: training places it where acting does
  nfp_image_window_place(&y0, &x0, &roi, 120, 160, &rng);
  assert_true(y0 == 15 && x0 == 20);

  // acting: 4 x 6 frame shrunk twice to 2 x 3, then the centre 2 x 1 column (x0 = 1), or
  // that column moved one to the right
  uint8_t frame[4 * 6 * 3], shrunk[2 * 3 * 3], input[2 * 1 * 3];
  for (int i = 0; i < 4 * 6 * 3; i++) frame[i] = (uint8_t)(4 * (i / 3));
  nfp_model_config c = {.img_src_h = 4, .img_src_w = 6, .img_down = 2, .img_h = 2, .img_w = 1};
  for (int off = 0; off <= 1; off++) {
    c.img_off_x = off;
    nfp_image_policy_input(input, shrunk, frame, &c);
    for (int y = 0; y < 2; y++) {
      int x = 2 * (1 + off);  // the 2 x 2 block under shrunk (y, 1 + off)
      int px = 4 * ((2 * y) * 6 + x) + 4 * ((2 * y) * 6 + x + 1) + 4 * ((2 * y + 1) * 6 + x) +
               4 * ((2 * y + 1) * 6 + x + 1);
      assert_int_equal(input[3 * y], (px + 2) / 4);
    }
  }
}

// Two episodes with 12 x 16 frames; shrunk twice to 6 x 8 and cropped to 4 x 6.
static void make_episodes(nfp_episode* eps, int with_images) {
  int T[2] = {5, 4};
  for (int e = 0; e < 2; e++) {
    assert_int_equal(nfp_episode_alloc(&eps[e], T[e], 2, 0, with_images ? 12 : 0,
                                       with_images ? 16 : 0), 0);
    for (int t = 0; t < T[e]; t++) {
      for (int j = 0; j < 2; j++) eps[e].qpos[t * 2 + j] = eps[e].action[t * 2 + j] = t + j;
      for (int y = 0; with_images && y < 12; y++)
        for (int x = 0; x < 16; x++)
          for (int c = 0; c < 3; c++) {
            // constant over each 2 x 2 block, so shrinking is exact
            eps[e].images[((t * 12 + y) * 16 + x) * 3 + c] = pixel(10 * e + t, y / 2, x / 2, c);
          }
    }
  }
}

static void image_config(nfp_dataset_config* cfg) {
  nfp_dataset_config_default(cfg);
  cfg->horizon = 2;
  cfg->stride = 1;
  cfg->n_obs = 1;
  cfg->val_frac = 0.0f;
  cfg->img_down = 2;
  cfg->img_crop_h = 4;
  cfg->img_crop_w = 6;
}

static void test_dataset_images(void** state) {
  (void)state;
  nfp_episode eps[2];
  make_episodes(eps, 1);
  nfp_dataset_config cfg;
  image_config(&cfg);
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, 2, &cfg, NULL, NULL), 0);
  assert_int_equal(ds.img_src_h, 12);
  assert_int_equal(ds.img_src_w, 16);
  assert_int_equal(ds.img_h, 6);
  assert_int_equal(ds.img_w, 8);
  // anchor 6 = episode 1, frame 1; centre crop of 6 x 8 to 4 x 6 starts at (1, 1)
  int anchors[2] = {6, 2};
  uint8_t out[2 * 4 * 6 * 3];
  nfp_dataset_gather_images(out, &ds, anchors, 2, NULL);
  int frames[2] = {11, 2};
  for (int i = 0; i < 2; i++)
    for (int y = 0; y < 4; y++)
      for (int x = 0; x < 6; x++)
        for (int c = 0; c < 3; c++) {
          assert_int_equal(out[((i * 4 + y) * 6 + x) * 3 + c], pixel(frames[i], 1 + y, 1 + x, c));
        }
  // training without augmentation sees what acting prepares from the full-size frame,
  // centred or at a region of interest
  uint8_t shrunk[6 * 8 * 3], acting[4 * 6 * 3];
  nfp_model_config mc = {.img_src_h = 12, .img_src_w = 16, .img_down = 2, .img_h = 4, .img_w = 6};
  nfp_image_policy_input(acting, shrunk, eps[1].images + 12 * 16 * 3, &mc);
  assert_memory_equal(acting, out, sizeof(acting));
  nfp_dataset roi;
  cfg.img_off_y = mc.img_off_y = 1;
  cfg.img_off_x = mc.img_off_x = -1;
  assert_int_equal(nfp_dataset_build(&roi, eps, 2, &cfg, NULL, NULL), 0);
  nfp_dataset_gather_images(out, &roi, anchors, 1, NULL);
  nfp_image_policy_input(acting, shrunk, eps[1].images + 12 * 16 * 3, &mc);
  assert_memory_equal(acting, out, sizeof(acting));
  assert_int_equal(out[0], pixel(11, 2, 0, 0));  // the window's corner at (2, 0)
  nfp_dataset_free(&roi);
  cfg.img_off_y = cfg.img_off_x = 0;
  // random crops: some window of the right frame, and more than one place over many draws
  nfp_rng rng;
  nfp_rng_seed(&rng, 3);
  int places = 0, seen[3][3] = {{0}};
  for (int k = 0; k < 200; k++) {
    nfp_dataset_gather_images(out, &ds, anchors, 1, &rng);
    int found = 0;
    for (int y0 = 0; y0 <= 2 && !found; y0++)
      for (int x0 = 0; x0 <= 2 && !found; x0++) {
        int same = 1;
        for (int y = 0; y < 4 && same; y++)
          for (int x = 0; x < 6 && same; x++)
            same = out[(y * 6 + x) * 3] == pixel(11, y0 + y, x0 + x, 0);
        if (same) {
          found = 1;
          places += !seen[y0][x0];
          seen[y0][x0] = 1;
        }
      }
    assert_true(found);
  }
  assert_int_equal(places, 9);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 2; e++) nfp_episode_free(&eps[e]);
}

// img_first: every window's newest frame, then its episode's first frame, both cropped at
// the window's one (random) placement.
static void test_dataset_first_frame(void** state) {
  (void)state;
  nfp_episode eps[2];
  make_episodes(eps, 1);
  nfp_dataset_config cfg;
  image_config(&cfg);
  cfg.img_first = 1;
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, 2, &cfg, NULL, NULL), 0);
  int anchors[2] = {7, 3};  // episode 1 frame 2, episode 0 frame 3
  int newest[2] = {12, 3}, first[2] = {10, 0};
  uint8_t out[2 * 2 * 4 * 6 * 3];
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  int moved = 0;
  for (int k = 0; k < 50; k++) {
    nfp_dataset_gather_images(out, &ds, anchors, 2, &rng);
    for (int i = 0; i < 2; i++) {
      const uint8_t* now = out + (size_t)i * 2 * 4 * 6 * 3;
      const uint8_t* then = now + 4 * 6 * 3;
      int y0 = -1, x0 = -1;  // where the newest frame's window was placed
      for (int y = 0; y <= 2 && y0 < 0; y++)
        for (int x = 0; x <= 2 && y0 < 0; x++)
          if (now[0] == pixel(newest[i], y, x, 0) && now[3] == pixel(newest[i], y, x + 1, 0)) {
            y0 = y, x0 = x;
          }
      assert_true(y0 >= 0);
      moved += y0 != 1 || x0 != 1;
      for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
          for (int c = 0; c < 3; c++) {
            assert_int_equal(now[(y * 6 + x) * 3 + c], pixel(newest[i], y0 + y, x0 + x, c));
            assert_int_equal(then[(y * 6 + x) * 3 + c], pixel(first[i], y0 + y, x0 + x, c));
          }
    }
  }
  assert_true(moved > 0);
  nfp_dataset_free(&ds);
  for (int e = 0; e < 2; e++) nfp_episode_free(&eps[e]);
}

static void test_dataset_refusals(void** state) {
  (void)state;
  nfp_episode eps[2];
  make_episodes(eps, 0);
  nfp_dataset_config cfg;
  image_config(&cfg);
  nfp_dataset ds;
  assert_int_equal(nfp_dataset_build(&ds, eps, 2, &cfg, NULL, NULL), -1);
  assert_non_null(strstr(nfp_error_last(), "--images"));
  for (int e = 0; e < 2; e++) nfp_episode_free(&eps[e]);
  make_episodes(eps, 1);
  cfg.img_crop_w = 9;  // wider than the 8 columns left after shrinking
  assert_int_equal(nfp_dataset_build(&ds, eps, 2, &cfg, NULL, NULL), -1);
  assert_non_null(strstr(nfp_error_last(), "cropped"));
  cfg.img_crop_w = 6;
  cfg.img_off_x = 2;  // the acting window would end past column 8
  assert_int_equal(nfp_dataset_build(&ds, eps, 2, &cfg, NULL, NULL), -1);
  assert_non_null(strstr(nfp_error_last(), "does not fit"));
  for (int e = 0; e < 2; e++) nfp_episode_free(&eps[e]);
}

static void test_config(void** state) {
  (void)state;
  nfp_model_config c;
  nfp_model_config_default(&c);
  // a checkpoint written before the image fields existed still reads
  char* text = nfp_model_config_to_json(&c);
  assert_non_null(text);
  const char* fields[] = {"\"img_src_h\":0,", "\"img_src_w\":0,", "\"img_down\":0,"};
  for (int i = 0; i < 3; i++) {
    char* at = strstr(text, fields[i]);
    assert_non_null(at);
    memmove(at, at + strlen(fields[i]), strlen(at + strlen(fields[i])) + 1);
  }
  nfp_model_config back;
  assert_int_equal(nfp_model_config_from_json(&back, text), 0);
  assert_int_equal(nfp_model_config_compare(&back, &c), 0);
  free(text);
  // image models: frames that cannot give the input are refused, naming the sizes
  c.encoder = NFP_ENCODER_CNN;
  c.n_cam = 1;
  c.img_h = 56;
  c.img_w = 72;
  c.img_down = 4;
  c.img_src_h = 240;
  c.img_src_w = 320;
  assert_int_equal(nfp_model_config_validate(&c), 0);
  c.img_off_y = -2;  // the 56 rows moved to the top of the 60: still inside
  assert_int_equal(nfp_model_config_validate(&c), 0);
  c.img_off_y = -3;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "does not fit"));
  c.img_off_y = 0;
  c.img_off_x = 5;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  c.img_off_x = 0;
  c.img_src_h = 200;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "200 x 320"));
  c.img_src_h = 240;
  c.n_cam = 0;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  // the first frames: stored and read back; a state model has none
  c.n_cam = 1;
  c.img_first = 1;
  assert_int_equal(nfp_model_config_validate(&c), 0);
  assert_int_equal(nfp_model_config_frames(&c), 2);
  text = nfp_model_config_to_json(&c);
  assert_non_null(strstr(text, "\"img_first\":1"));
  assert_int_equal(nfp_model_config_from_json(&back, text), 0);
  assert_int_equal(nfp_model_config_compare(&back, &c), 0);
  free(text);
  c.encoder = NFP_ENCODER_STATE;
  c.n_cam = 0;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "first frames"));
  c.img_first = 0;
  c.n_cam = 1;
  assert_int_equal(nfp_model_config_validate(&c), -1);
  assert_non_null(strstr(nfp_error_last(), "no camera"));
}

// A small-CNN policy on 32 x 40 frames (shrunk twice, 12 x 16 crops), its flow perturbed
// away from the identity so the context (and so the frames) matter.
static nfp_model* small_camera_policy(int img_first) {
  nfp_model_config c;
  nfp_model_config_default(&c);
  c.n_layers = 2;
  c.hidden = 16;
  c.n_blocks = 1;
  c.context_dim = 8;
  c.enc_hidden = 16;
  c.encoder = NFP_ENCODER_CNN;
  c.n_cam = 1;
  c.img_h = 12;
  c.img_w = 16;
  c.img_down = 2;
  c.img_src_h = 32;
  c.img_src_w = 40;
  c.img_first = img_first;
  nfp_model* m = nfp_model_create(&c, 1);
  if (!m) fail_msg("%s", nfp_error_last());
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  for (size_t i = 0; i < m->num_params; i++) m->params[i] += 0.05f * (float)nfp_rng_normal(&rng);
  return m;
}

// The sampler takes full frames and prepares them itself; a missing or mis-sized frame is
// refused.
static void test_sampler_frames(void** state) {
  (void)state;
  nfp_model* m = small_camera_policy(0);
  nfp_rng rng;
  nfp_sampler* s = nfp_sampler_create(m, 4);
  assert_non_null(s);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SBS);
  o.n_candidates = 4;
  float st[2 * 14] = {0};
  static uint8_t frame[32 * 40 * 3];
  for (size_t i = 0; i < sizeof(frame); i++) frame[i] = (uint8_t)(i * 13);
  nfp_obs obs = {.state = st, .image = frame, .n_cam = 1, .img_h = 32, .img_w = 40};
  float chunk[8 * 14], chunk2[8 * 14];
  double lp, lp2;
  nfp_rng_seed(&rng, 5);
  if (nfp_sampler_sample(s, &obs, &o, &rng, chunk, &lp)) fail_msg("%s", nfp_error_last());
  // the frame matters: another frame, same noise, another chunk
  for (size_t i = 0; i < sizeof(frame); i++) frame[i] = (uint8_t)(255 - frame[i]);
  nfp_rng_seed(&rng, 5);
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, chunk2, &lp2), 0);
  assert_true(lp != lp2 || memcmp(chunk, chunk2, sizeof(chunk)) != 0);
  obs.img_h = 30;
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, chunk, &lp), -1);
  assert_non_null(strstr(nfp_error_last(), "32 x 40"));
  obs.image = NULL;
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, chunk, &lp), -1);
  assert_non_null(strstr(nfp_error_last(), "camera"));
  nfp_sampler_free(s);
  nfp_model_free(m);
}

// The controller's chunk for `now` after an episode that began with `start` (planning at
// every step, seed 3): the chunk of the second plan, into chunk.
static void second_plan(nfp_controller* c, const uint8_t* start, const uint8_t* now,
                        float* chunk) {
  double st[14] = {0}, target[14];
  nfp_controller_info info;
  nfp_controller_reset(c, 3);
  if (nfp_controller_act(c, st, start, target, &info)) fail_msg("%s", nfp_error_last());
  st[0] = 0.1;
  if (nfp_controller_act(c, st, now, target, &info)) fail_msg("%s", nfp_error_last());
  assert_int_equal(info.planned, 1);
  memcpy(chunk, info.chunk, sizeof(float) * 8 * 14);
}

// img_first: the sampler needs the first frames, and they change the chunk; the controller
// keeps the frames of an episode's first step (anew after each reset) and plans with them
// exactly as the sampler does when given them.
static void test_first_frame_acting(void** state) {
  (void)state;
  nfp_model* m = small_camera_policy(1);
  static uint8_t a[32 * 40 * 3], b[32 * 40 * 3], now[32 * 40 * 3];
  for (size_t i = 0; i < sizeof(a); i++) {
    a[i] = (uint8_t)(i * 13);
    b[i] = (uint8_t)(255 - a[i]);
    now[i] = (uint8_t)(i * 7 + 1);
  }
  nfp_sampler* s = nfp_sampler_create(m, 4);
  assert_non_null(s);
  nfp_sample_opts o;
  nfp_sample_opts_default(&o, m, NFP_SAMPLE_SBS);
  o.n_candidates = 4;
  float st[2 * 14] = {0}, ca[8 * 14], cb[8 * 14];
  double lp;
  nfp_rng rng;
  nfp_obs obs = {.state = st, .image = now, .n_cam = 1, .img_h = 32, .img_w = 40};
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, ca, &lp), -1);
  assert_non_null(strstr(nfp_error_last(), "first camera frames"));
  obs.first_image = a;
  nfp_rng_seed(&rng, 5);
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, ca, &lp), 0);
  obs.first_image = b;
  nfp_rng_seed(&rng, 5);
  assert_int_equal(nfp_sampler_sample(s, &obs, &o, &rng, cb, &lp), 0);
  assert_true(memcmp(ca, cb, sizeof(ca)) != 0);
  nfp_sampler_free(s);

  nfp_controller_opts co;
  nfp_controller_opts_default(&co, m, NFP_SAMPLE_SBS);
  co.sample.n_candidates = 4;
  co.replan = 1;
  nfp_controller* c = nfp_controller_create(m, &co);
  nfp_controller* fresh = nfp_controller_create(m, &co);
  if (!c || !fresh) fail_msg("%s", nfp_error_last());
  float c_a[8 * 14], c_b[8 * 14], again[8 * 14];
  second_plan(c, a, now, c_a);
  second_plan(c, b, now, c_b);  // the same controller, a new episode
  assert_true(memcmp(c_a, c_b, sizeof(c_a)) != 0);
  second_plan(fresh, b, now, again);
  assert_memory_equal(c_b, again, sizeof(again));
  // what the sampler gives for that plan: the same history and noise, the first frame b
  float hist[2 * 14] = {0.1f};
  nfp_sampler* ref = nfp_sampler_create(m, 4);
  nfp_rng_seed(&rng, 3);
  nfp_obs first = {.state = (float[2 * 14]){0}, .image = b, .first_image = b, .n_cam = 1,
                   .img_h = 32, .img_w = 40};
  assert_int_equal(nfp_sampler_sample(ref, &first, &co.sample, &rng, ca, &lp), 0);
  nfp_obs second = {.state = hist, .image = now, .first_image = b, .n_cam = 1, .img_h = 32,
                    .img_w = 40};
  assert_int_equal(nfp_sampler_sample(ref, &second, &co.sample, &rng, ca, &lp), 0);
  assert_memory_equal(ca, again, sizeof(ca));
  nfp_sampler_free(ref);
  nfp_controller_free(c);
  nfp_controller_free(fresh);
  nfp_model_free(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_shrink_crop),
      cmocka_unit_test(test_dataset_images),
      cmocka_unit_test(test_dataset_first_frame),
      cmocka_unit_test(test_dataset_refusals),
      cmocka_unit_test(test_config),
      cmocka_unit_test(test_sampler_frames),
      cmocka_unit_test(test_first_frame_acting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
