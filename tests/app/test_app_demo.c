// HDF5 demo episodes: what is written reads back equal; damaged files are refused.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/demo.h"
#include "nfp/error.h"
#include "nfp/rng.h"

static char tmpdir[256];

static int setup(void** state) {
  (void)state;
  snprintf(tmpdir, sizeof(tmpdir), "/tmp/nfp_test_demo.XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void** state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
  return system(cmd);
}

// A synthetic episode whose every value is distinct and seeded.
static void make_episode(nfp_episode* ep, int T, int nobj, int h, int w, uint64_t seed) {
  assert_int_equal(nfp_episode_alloc(ep, T, 14, nobj, h, w), 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  for (int i = 0; i < T * 14; i++) {
    ep->qpos[i] = nfp_rng_normal(&rng);
    ep->qvel[i] = nfp_rng_normal(&rng);
    ep->action[i] = nfp_rng_normal(&rng);
  }
  for (int i = 0; i < T * nobj; i++) ep->object_state[i] = nfp_rng_normal(&rng);
  for (size_t i = 0; i < (size_t)T * h * w * 3; i++) {
    ep->images[i] = (uint8_t)(nfp_rng_next(&rng) >> 56);
  }
  snprintf(ep->task, sizeof(ep->task), "lift_pot");
  ep->seed = (int64_t)seed + 1234567890123LL;
  ep->control_hz = 1.0 / 0.06;
  ep->success = 1;
}

static void assert_episode_equal(const nfp_episode* a, const nfp_episode* b, int images) {
  assert_string_equal(a->task, b->task);
  assert_int_equal(a->seed, b->seed);
  assert_true(a->control_hz == b->control_hz);
  assert_int_equal(a->success, b->success);
  assert_int_equal(a->T, b->T);
  assert_int_equal(a->nq, b->nq);
  assert_int_equal(a->nobj, b->nobj);
  size_t n = (size_t)a->T * a->nq;
  assert_memory_equal(a->qpos, b->qpos, n * sizeof(double));
  assert_memory_equal(a->qvel, b->qvel, n * sizeof(double));
  assert_memory_equal(a->action, b->action, n * sizeof(double));
  if (a->nobj) {
    size_t k = (size_t)a->T * a->nobj * sizeof(double);
    assert_memory_equal(a->object_state, b->object_state, k);
  }
  if (images) {
    assert_int_equal(a->img_h, b->img_h);
    assert_int_equal(a->img_w, b->img_w);
    assert_memory_equal(a->images, b->images, (size_t)a->T * a->img_h * a->img_w * 3);
  } else {
    assert_null(b->images);
    assert_int_equal(b->img_h, 0);
  }
}

static void test_roundtrip_no_images(void** state) {
  (void)state;
  nfp_episode ep, back;
  make_episode(&ep, 37, 7, 0, 0, 1);
  char path[300];
  snprintf(path, sizeof(path), "%s/episode_000000.hdf5", tmpdir);
  assert_int_equal(nfp_demo_write(path, &ep), 0);
  assert_int_equal(nfp_demo_read(path, &back, 1), 0);
  assert_episode_equal(&ep, &back, 0);
  nfp_episode_free(&back);
  nfp_episode_free(&ep);
}

static void test_roundtrip_images(void** state) {
  (void)state;
  nfp_episode ep, back;
  make_episode(&ep, 5, 3, 24, 32, 2);
  char path[300];
  snprintf(path, sizeof(path), "%s/episode_000001.hdf5", tmpdir);
  assert_int_equal(nfp_demo_write(path, &ep), 0);
  assert_int_equal(nfp_demo_read(path, &back, 1), 0);
  assert_episode_equal(&ep, &back, 1);
  nfp_episode_free(&back);
  // Without images asked for, the same file reads its state only.
  assert_int_equal(nfp_demo_read(path, &back, 0), 0);
  assert_episode_equal(&ep, &back, 0);
  nfp_episode_free(&back);
  nfp_episode_free(&ep);
}

static void test_no_object_state(void** state) {
  (void)state;
  nfp_episode ep, back;
  make_episode(&ep, 4, 0, 0, 0, 3);
  char path[300];
  snprintf(path, sizeof(path), "%s/episode_000002.hdf5", tmpdir);
  assert_int_equal(nfp_demo_write(path, &ep), 0);
  assert_int_equal(nfp_demo_read(path, &back, 1), 0);
  assert_episode_equal(&ep, &back, 0);
  assert_null(back.object_state);
  nfp_episode_free(&back);
  nfp_episode_free(&ep);
}

static void test_truncated_and_garbage_refused(void** state) {
  (void)state;
  nfp_episode ep, back;
  make_episode(&ep, 50, 7, 24, 32, 4);
  char path[300], cut[300], junk[300];
  snprintf(path, sizeof(path), "%s/full.hdf5", tmpdir);
  snprintf(cut, sizeof(cut), "%s/cut.hdf5", tmpdir);
  snprintf(junk, sizeof(junk), "%s/junk.hdf5", tmpdir);
  assert_int_equal(nfp_demo_write(path, &ep), 0);
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  // Keep the first half of the bytes.
  FILE* in = fopen(path, "rb");
  FILE* out = fopen(cut, "wb");
  assert_non_null(in);
  assert_non_null(out);
  for (long i = 0; i < sb.st_size / 2; i++) fputc(fgetc(in), out);
  fclose(in);
  fclose(out);
  assert_int_equal(nfp_demo_read(cut, &back, 1), -1);
  assert_non_null(strstr(nfp_error_last(), "cut.hdf5"));
  assert_null(back.qpos);
  out = fopen(junk, "wb");
  fputs("this is not an HDF5 file\n", out);
  fclose(out);
  assert_int_equal(nfp_demo_read(junk, &back, 0), -1);
  assert_non_null(strstr(nfp_error_last(), "junk.hdf5"));
  char missing[300];
  snprintf(missing, sizeof(missing), "%s/absent.hdf5", tmpdir);
  assert_int_equal(nfp_demo_read(missing, &back, 0), -1);
  assert_non_null(strstr(nfp_error_last(), "No such file"));
  nfp_episode_free(&ep);
}

static void test_write_to_missing_folder_fails(void** state) {
  (void)state;
  nfp_episode ep;
  make_episode(&ep, 2, 0, 0, 0, 5);
  assert_int_equal(nfp_demo_write("/nonexistent_nfp_dir/episode.hdf5", &ep), -1);
  assert_non_null(strstr(nfp_error_last(), "/nonexistent_nfp_dir/episode.hdf5"));
  nfp_episode_free(&ep);
}

static void test_list_sorted(void** state) {
  (void)state;
  char sub[300];
  snprintf(sub, sizeof(sub), "%s/list", tmpdir);
  assert_int_equal(mkdir(sub, 0755), 0);
  const char* names[] = {"episode_000002.hdf5", "episode_000000.hdf5", "episode_000001.hdf5",
                         "notes.txt", "episode_000003.hdf5.tmp.77"};
  for (int i = 0; i < 5; i++) {
    char p[400];
    snprintf(p, sizeof(p), "%s/%s", sub, names[i]);
    FILE* f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
  }
  char** paths = NULL;
  int n = nfp_demo_list(sub, &paths);
  assert_int_equal(n, 3);
  for (int i = 0; i < 3; i++) {
    char want[400];
    snprintf(want, sizeof(want), "%s/episode_%06d.hdf5", sub, i);
    assert_string_equal(paths[i], want);
  }
  nfp_demo_list_free(paths, n);
  assert_int_equal(nfp_demo_list("/nonexistent_nfp_dir", &paths), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_no_images),
      cmocka_unit_test(test_roundtrip_images),
      cmocka_unit_test(test_no_object_state),
      cmocka_unit_test(test_truncated_and_garbage_refused),
      cmocka_unit_test(test_write_to_missing_folder_fails),
      cmocka_unit_test(test_list_sorted),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
