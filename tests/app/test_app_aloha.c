// Episodes recorded by the ALOHA / ACT tools, read as they are: files written by h5py in
// ACT's layout (aloha_episodes.py) read back with the values Python wrote, the camera
// chosen by --camera (cam_high by default), files missing a dataset or of the wrong shape
// refused by name, and nfp train and nfp inspect run on them. Skipped (77) when
// /usr/bin/python3 cannot import h5py.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "nfp/demo.h"
#include "nfp/error.h"

// What aloha_episodes.py writes (see its docstring).
enum { T = 40, H = 48, W = 64, NQ = 14, N_EPISODES = 3 };

static cli_result r;
static char good[300], broken[300];

// qpos[t][j] of episode e, and pixel (t, y, x, c) of a camera, as aloha_episodes.py has them.
static double joint(int e, int t, int j) { return 100.0 * e + t + j / 16.0; }

static uint8_t pixel(int left_wrist, int t, int y, int x, int c) {
  uint8_t v = (uint8_t)((t + 2 * y + 3 * x + 50 * c) % 256);
  return left_wrist ? (uint8_t)(255 - v) : v;
}

// Episode e of the good folder -> its path into out.
static void episode_path(char* out, size_t cap, int e) {
  snprintf(out, cap, "%s/episode_%d.hdf5", good, e);
}

// ep's every value must be what Python wrote for episode e (frames from left_wrist's camera).
static void expect_data(const nfp_episode* ep, int e, int left_wrist) {
  assert_int_equal(ep->T, T);
  assert_int_equal(ep->nq, NQ);
  assert_int_equal(ep->nobj, 0);
  for (int t = 0; t < T; t++) {
    for (int j = 0; j < NQ; j++) {
      size_t i = (size_t)t * NQ + (size_t)j;
      if (ep->qpos[i] != joint(e, t, j) || ep->qvel[i] != -joint(e, t, j) ||
          ep->action[i] != joint(e, t, j) + 0.5) {
        fail_msg("episode %d frame %d joint %d: qpos %g qvel %g action %g", e, t, j, ep->qpos[i],
                 ep->qvel[i], ep->action[i]);
      }
    }
  }
  if (!ep->images) return;
  assert_int_equal(ep->img_h, H);
  assert_int_equal(ep->img_w, W);
  const uint8_t* p = ep->images;
  for (int t = 0; t < T; t++) {
    for (int y = 0; y < H; y++) {
      for (int x = 0; x < W; x++) {
        for (int c = 0; c < 3; c++, p++) {
          if (*p != pixel(left_wrist, t, y, x, c)) {
            fail_msg("episode %d frame %d pixel (%d,%d,%d) is %d", e, t, y, x, c, *p);
          }
        }
      }
    }
  }
}

// What the reader makes up for an ALOHA file: the task from the folder, the seed from the
// name, ACT's 50 Hz, success unknown; then the values.
static void expect_episode(const nfp_episode* ep, int e, int left_wrist) {
  assert_string_equal(ep->task, "aloha_sim");
  assert_int_equal(ep->seed, e);
  assert_true(ep->control_hz == 50.0);
  assert_int_equal(ep->success, -1);
  expect_data(ep, e, left_wrist);
}

// nfp_demo_read: the values Python wrote, cam_high's frames, the seed from the file name.
static void test_read(void** state) {
  (void)state;
  char path[400];
  nfp_episode ep;
  for (int e = 0; e < N_EPISODES; e++) {
    episode_path(path, sizeof(path), e);
    if (nfp_demo_read(path, &ep, 1)) fail_msg("%s", nfp_error_last());
    assert_non_null(ep.images);
    expect_episode(&ep, e, 0);
    nfp_episode_free(&ep);
  }
  episode_path(path, sizeof(path), 1);
  if (nfp_demo_read(path, &ep, 0)) fail_msg("%s", nfp_error_last());
  assert_null(ep.images);
  expect_episode(&ep, 1, 0);
  nfp_episode_free(&ep);
}

// The layout and cameras as nfp_demo_probe reports them.
static void test_probe(void** state) {
  (void)state;
  char path[400];
  episode_path(path, sizeof(path), 0);
  nfp_demo_info info;
  if (nfp_demo_probe(path, &info)) fail_msg("%s", nfp_error_last());
  assert_int_equal(info.layout, NFP_DEMO_LAYOUT_ALOHA);
  assert_int_equal(info.sim, 1);
  assert_int_equal(info.compressed, -1);
  assert_int_equal(info.n_cameras, 2);
  assert_string_equal(info.cameras[0], "cam_high");
  assert_string_equal(info.cameras[1], "cam_left_wrist");
  assert_int_equal(info.default_camera, 0);
}

// The camera asked for is the one read, in one file and a folder; an unknown one is refused
// with the file's cameras listed, images or not.
static void test_camera_choice(void** state) {
  (void)state;
  char path[400];
  episode_path(path, sizeof(path), 2);
  nfp_episode ep, *eps = NULL;
  if (nfp_demo_read_camera(path, &ep, 1, "cam_left_wrist")) fail_msg("%s", nfp_error_last());
  expect_episode(&ep, 2, 1);
  nfp_episode_free(&ep);
  int n = nfp_demo_read_folder_camera(good, &eps, 1, "cam_left_wrist");
  if (n != N_EPISODES) fail_msg("%d episodes: %s", n, nfp_error_last());
  for (int e = 0; e < n; e++) expect_episode(&eps[e], e, 1);
  nfp_demo_free_all(eps, n);
  for (int with_images = 0; with_images < 2; with_images++) {
    assert_int_equal(nfp_demo_read_camera(path, &ep, with_images, "cam_low"), -1);
    assert_non_null(strstr(nfp_error_last(), "episode_2.hdf5: no camera 'cam_low'"));
    assert_non_null(strstr(nfp_error_last(), "cam_high, cam_left_wrist"));
    assert_null(ep.qpos);
  }
  assert_int_equal(nfp_demo_read_folder_camera(good, &eps, 1, "../cam_high"), -1);
  assert_non_null(strstr(nfp_error_last(), "no '/'"));
}

// Each broken file of aloha_episodes.py is refused with the file and the flaw named.
static void test_broken(void** state) {
  (void)state;
  static const char* names[] = {"no_action", "no_qvel", "short_action", "narrow_qpos",
                                "compressed", "nothing"};
  static const char* expect[] = {
      "ALOHA layout (no nfp attributes) without /action",
      "ALOHA layout (no nfp attributes) without /observations/qvel",
      "action has shape [39,14], qpos [40,14]",
      "qpos of rank 2 and 7 columns; expected [T,14]",
      "camera 'cam_high' holds JPEG-compressed frames",
      "neither nfp's attributes (task, seed, control_hz, success, format_version) nor ALOHA's "
      "/observations/qpos"};
  for (int i = 0; i < 6; i++) {
    char path[400];
    snprintf(path, sizeof(path), "%s/%s.hdf5", broken, names[i]);
    nfp_episode ep;
    nfp_error_clear();
    int rc = nfp_demo_read(path, &ep, 1);
    if (rc == 0 || !strstr(nfp_error_last(), expect[i]) || !strstr(nfp_error_last(), path)) {
      fail_msg("%s: expected \"%s\", got: %s", names[i], expect[i],
               rc ? nfp_error_last() : "(read)");
    }
    assert_null(ep.qpos);
  }
  char path[400];  // compressed frames do not stop the joints from being read
  snprintf(path, sizeof(path), "%s/compressed.hdf5", broken);
  nfp_episode ep;
  if (nfp_demo_read(path, &ep, 0)) fail_msg("%s", nfp_error_last());
  assert_string_equal(ep.task, "broken");
  assert_int_equal(ep.seed, -1);  // not named episode_N.hdf5
  expect_data(&ep, 0, 0);
  nfp_episode_free(&ep);
}

// nfp train on the ALOHA folder with the image encoder and --camera; an unknown camera and
// --camera without images are refused.
static void test_train(void** state) {
  (void)state;
  char args[1500], out[400];
  snprintf(out, sizeof(out), "%s/aloha.safetensors", cli_tmpdir);
  const char* common = "--obs image+state --encoder cnn --crop 40x56 --img-down 1 --epochs 1 "
                       "--batch 16 --hidden 16 --layers 2 --context 8 --threads 1";
  snprintf(args, sizeof(args), "train --data %s --out %s %s --camera cam_left_wrist", good, out,
           common);
  if (cli_run(&r, "", args)) fail_msg("nfp %s exited %d:\n%s\n%s", args, r.code, r.out, r.err);
  assert_int_equal(access(out, F_OK), 0);
  assert_non_null(strstr(r.out, "cnn encoder on the newest cam_left_wrist frame, 48 x 64"));
  snprintf(args, sizeof(args), "train --data %s --out %s %s --camera cam_low", good, out, common);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "no camera 'cam_low'; its cameras: cam_high, cam_left_wrist"));
  snprintf(args, sizeof(args), "train --data %s --out %s --obs qpos --camera cam_high", good, out);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "--camera"));
}

// nfp inspect: the layout, sim, cameras (the one read marked) and length, as text and JSON.
static void test_inspect(void** state) {
  (void)state;
  char path[400], args[600];
  episode_path(path, sizeof(path), 1);
  snprintf(args, sizeof(args), "inspect %s", path);
  if (cli_run(&r, "", args)) fail_msg("nfp %s exited %d:\n%s", args, r.code, r.err);
  static const char* lines[] = {"ALOHA episode", "layout                     ALOHA / ACT",
                                "sim                        yes",
                                "task                       aloha_sim",
                                "seed                       1",
                                "success                    not recorded",
                                "cameras                    cam_high (read), cam_left_wrist",
                                "control rate               50 Hz",
                                "length                     40 frames (0.8 s)",
                                "/observations/images/cam_high [40,48,64,3] uint8",
                                "/observations/qpos         [40,14] float32"};
  for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
    if (!strstr(r.out, lines[i])) fail_msg("no \"%s\" in:\n%s", lines[i], r.out);
  }
  snprintf(args, sizeof(args), "inspect %s --camera cam_left_wrist --json", path);
  if (cli_run(&r, "", args)) fail_msg("nfp %s exited %d:\n%s", args, r.code, r.err);
  cJSON* j = cJSON_Parse(r.out);
  assert_non_null(j);
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "layout")->valuestring, "aloha");
  assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "camera")->valuestring,
                      "cam_left_wrist");
  assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "sim")));
  assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(j, "cameras")), 2);
  cJSON_Delete(j);
  snprintf(args, sizeof(args), "inspect --camera top %s", path);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "no camera 'top'"));
}

// aloha_episodes.py into the temporary folder: 0, 77 (no h5py: skip) or another failure.
static int write_episodes(void) {
  char cmd[1200];
  snprintf(cmd, sizeof(cmd), "'%s' '%s' '%s'", NFP_TEST_PYTHON, NFP_ALOHA_SCRIPT, cli_tmpdir);
  int st = system(cmd);
  int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return code == 127 ? 77 : code;  // no such interpreter: skip as well
}

int main(void) {
  if (cli_setup(NULL)) return 1;
  snprintf(good, sizeof(good), "%s/aloha_sim", cli_tmpdir);
  snprintf(broken, sizeof(broken), "%s/broken", cli_tmpdir);
  int rc = write_episodes();
  if (rc != 0) {
    fprintf(stderr, "%s\n", rc == 77 ? "skipped: " NFP_TEST_PYTHON " cannot import h5py"
                                     : "aloha_episodes.py failed");
    cli_teardown(NULL);
    return rc == 77 ? 77 : 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_read),         cmocka_unit_test(test_probe),
      cmocka_unit_test(test_camera_choice), cmocka_unit_test(test_broken),
      cmocka_unit_test(test_train),        cmocka_unit_test(test_inspect),
  };
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  cli_teardown(NULL);
  return rc;
}
