// Rollout videos: nfp eval --video writes one decodable MP4 per recorded episode (head
// camera size, a frame per control step plus the held last one) with no display and the
// same outcomes as without it; a bad --camera or --video folder is refused up front;
// nfp view --record (under a virtual X server) records the frames it draws, headless
// --frames runs and an interactive window ended with Ctrl-C alike.
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cli_util.h"
#include "json_util.h"
#include "nfp/render.h"
#include "video_decode.h"

static cli_result r;
static video_info vi;  // large: not on the stack

// Entries of dir (hidden ones too), counted by the shell.
static int count_entries(const char* dir) {
  char cmd[512];
  snprintf(cmd, sizeof(cmd), "exit $(ls -A '%s' | wc -l)", dir);
  return WEXITSTATUS(system(cmd));
}

// The (success, steps) of every record of a report's first run, as "1:82 0:400 ...".
static void outcomes(const char* json, char* out, size_t cap) {
  cJSON* root = json_read_report(json);
  const cJSON* recs = cJSON_GetObjectItemCaseSensitive(root, "records");
  assert_non_null(recs);
  out[0] = '\0';
  const cJSON* rec;
  cJSON_ArrayForEach(rec, recs) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "%d:%d ", cJSON_IsTrue(cJSON_GetObjectItem(rec, "success")),
             cJSON_GetObjectItem(rec, "steps")->valueint);
  }
  cJSON_Delete(root);
}

static void test_eval_video(void** state) {
  (void)state;
  char dir[400], json[400], args[1200];
  snprintf(dir, sizeof(dir), "%s/videos", cli_tmpdir);  // made by eval
  snprintf(json, sizeof(json), "%s/with_video.json", cli_tmpdir);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --agent expert --episodes 2 --seed 100000 --jobs 2 "
           "--video %s --video-episodes 1 --json %s",
           dir, json);
  if (cli_run(&r, "", args)) fail_msg("eval --video exited %d:\n%s\n%s", r.code, r.out, r.err);
  char path[600];
  snprintf(path, sizeof(path), "%s/lift_pot_expert_seed100000.mp4", dir);
  assert_non_null(strstr(r.out, path));
  assert_int_equal(count_entries(dir), 1);  // the first episode only, no temporaries
  assert_int_equal(video_decode(path, &vi), 0);
  assert_int_equal(vi.w, NFP_HEAD_W);
  assert_int_equal(vi.h, NFP_HEAD_H);
  assert_float_equal(vi.fps, 50.0 / 3, 1e-6);  // the control rate: real-time playback
  // The first state, each control step, then the last frame held a second (17 frames).
  char with[256], without[256];
  outcomes(json, with, sizeof(with));
  int steps = atoi(strchr(with, ':') + 1);
  assert_true(vi.frames > 10);
  assert_int_equal(vi.frames, 1 + steps + 17);
  // Filming changes nothing: the same outcomes without --video.
  snprintf(json, sizeof(json), "%s/without_video.json", cli_tmpdir);
  snprintf(args, sizeof(args),
           "eval --task lift_pot --agent expert --episodes 2 --seed 100000 --jobs 2 --json %s",
           json);
  if (cli_run(&r, "", args)) fail_msg("eval exited %d:\n%s\n%s", r.code, r.out, r.err);
  outcomes(json, without, sizeof(without));
  assert_string_equal(with, without);
}

static void test_eval_video_refusals(void** state) {
  (void)state;
  char dir[400], args[1200];
  snprintf(dir, sizeof(dir), "%s/refused", cli_tmpdir);
  snprintf(args, sizeof(args), "eval --task lift_pot --agent expert --episodes 1 --video %s "
           "--camera nope", dir);
  assert_int_equal(cli_run(&r, "", args), 2);
  assert_non_null(strstr(r.err, "lift_pot has no camera 'nope' (its cameras: head)"));
  assert_int_equal(access(dir, F_OK), -1);  // refused before anything was made
  // --camera alone does nothing: said so.
  assert_int_equal(cli_run(&r, "", "eval --task lift_pot --episodes 1 --camera head"), 2);
  assert_non_null(strstr(r.err, "go with --video"));
  // A file where the folder should be, and a folder whose parent is missing.
  snprintf(dir, sizeof(dir), "%s/a_file", cli_tmpdir);
  FILE* f = fopen(dir, "w");
  fclose(f);
  snprintf(args, sizeof(args), "eval --task lift_pot --agent expert --episodes 1 --video %s",
           dir);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "--video"));
  assert_non_null(strstr(r.err, "is not a folder"));
  snprintf(args, sizeof(args),
           "eval --task lift_pot --agent expert --episodes 1 --video %s/missing/videos",
           cli_tmpdir);
  assert_int_equal(cli_run(&r, "", args), 1);
  assert_non_null(strstr(r.err, "parent folder does not exist"));
}

// Headless --frames: the first state and every step, at the window's size (an odd one
// loses its last row and column to yuv420p).
static void test_view_record_frames(void** state) {
  (void)state;
  char mp4[400], args[1200];
  snprintf(mp4, sizeof(mp4), "%s/view.mp4", cli_tmpdir);
  snprintf(args, sizeof(args),
           "view --task lift_pot --agent expert --frames 12 --width 321 --height 241 "
           "--record %s",
           mp4);
  if (cli_run(&r, "xvfb-run -a", args)) {
    fail_msg("view --record exited %d:\n%s\n%s", r.code, r.out, r.err);
  }
  assert_non_null(strstr(r.out, "13 frames, 320x240"));
  assert_int_equal(video_decode(mp4, &vi), 0);
  assert_int_equal(vi.frames, 13);
  assert_int_equal(vi.w, 320);
  assert_int_equal(vi.h, 240);
  // Frames differ as the arms move: the recording is not one frame repeated.
  float d = 0;
  for (int c = 0; c < 3; c++) d += fabsf(vi.mean[0][c] - vi.mean[12][c]);
  assert_true(d > 0.1f);
}

// The interactive viewer, ended with Ctrl-C after a few seconds, still finishes its file.
static void test_view_record_interrupted(void** state) {
  (void)state;
  char mp4[400], args[1200];
  snprintf(mp4, sizeof(mp4), "%s/live.mp4", cli_tmpdir);
  snprintf(args, sizeof(args),
           "view --task lift_pot --agent expert --width 320 --height 240 --record %s", mp4);
  // $0 is the nfp binary, "$@" the arguments (cli_run puts them after the prefix).
  const char* live = "xvfb-run -a sh -c '\"$0\" \"$@\" & p=$!; sleep 4; kill -INT $p; wait $p'";
  if (cli_run(&r, live, args)) {
    fail_msg("interrupted view --record exited %d:\n%s\n%s", r.code, r.out, r.err);
  }
  assert_non_null(strstr(r.out, "recorded"));
  assert_int_equal(video_decode(mp4, &vi), 0);
  assert_true(vi.frames >= 2);
  assert_int_equal(vi.w, 320);
}

int main(void) {
  const struct CMUnitTest eval_tests[] = {
      cmocka_unit_test(test_eval_video),
      cmocka_unit_test(test_eval_video_refusals),
  };
  const struct CMUnitTest view_tests[] = {
      cmocka_unit_test(test_view_record_frames),
      cmocka_unit_test(test_view_record_interrupted),
  };
  int failed = cmocka_run_group_tests(eval_tests, cli_setup, cli_teardown);
  if (system("command -v xvfb-run >/dev/null 2>&1") != 0) {
    printf("xvfb-run not found: skipping the view --record tests\n");
    return failed;
  }
  return failed + cmocka_run_group_tests(view_tests, cli_setup, cli_teardown);
}
