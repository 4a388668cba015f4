// Episode files: a written episode reads back exactly; crafted or damaged files (attributes
// that are arrays, sizes the file cannot back, NaN) are refused by name, never crash.
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "nfp/demo.h"
#include "nfp/error.h"

static char dir[64];

static void path_in(char* out, size_t cap, const char* name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

// A small episode whose every value names its frame and joint.
static void make_episode(nfp_episode* ep, int T) {
  assert_int_equal(nfp_episode_alloc(ep, T, 14, 3, 0, 0), 0);
  snprintf(ep->task, sizeof(ep->task), "lift_pot");
  ep->seed = 42;
  ep->control_hz = 50.0 / 3.0;
  ep->success = 1;
  for (int t = 0; t < T; t++) {
    for (int j = 0; j < 14; j++) {
      ep->qpos[t * 14 + j] = t + 0.01 * j;
      ep->qvel[t * 14 + j] = -t - 0.01 * j;
      ep->action[t * 14 + j] = t + 0.01 * j + 0.5;
    }
    for (int k = 0; k < 3; k++) ep->object_state[t * 3 + k] = 10.0 * t + k;
  }
}

static void write_good(const char* path) {
  nfp_episode ep;
  make_episode(&ep, 12);
  assert_int_equal(nfp_demo_write(path, &ep), 0);
  nfp_episode_free(&ep);
}

static void expect_refused(const char* path, const char* what) {
  nfp_episode ep;
  nfp_error_clear();
  int rc = nfp_demo_read(path, &ep, 1);
  if (rc == 0 || !strstr(nfp_error_last(), what)) {
    printf("  expected \"%s\", got: %s\n", what, rc == 0 ? "(read)" : nfp_error_last());
  }
  assert_int_equal(rc, -1);
  assert_non_null(strstr(nfp_error_last(), what));
  assert_null(ep.qpos);  // nothing left allocated for the caller to free
}

static void test_round_trip(void** state) {
  (void)state;
  char path[128];
  path_in(path, sizeof(path), "good.hdf5");
  nfp_episode a, b;
  make_episode(&a, 12);
  assert_int_equal(nfp_demo_write(path, &a), 0);
  assert_int_equal(nfp_demo_read(path, &b, 1), 0);
  assert_string_equal(b.task, "lift_pot");
  assert_int_equal(b.T, 12);
  assert_int_equal(b.nobj, 3);
  assert_int_equal(b.seed, 42);
  assert_memory_equal(a.qpos, b.qpos, sizeof(double) * 12 * 14);
  assert_memory_equal(a.action, b.action, sizeof(double) * 12 * 14);
  assert_memory_equal(a.object_state, b.object_state, sizeof(double) * 12 * 3);
  nfp_episode_free(&a);
  nfp_episode_free(&b);
}

// Replace a root attribute of a good file by an array of n values of type t.
static void replace_attr(const char* path, const char* name, hid_t type, int n) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  assert_true(f >= 0);
  assert_true(H5Adelete(f, name) >= 0);
  hsize_t dims[1] = {(hsize_t)n};
  hid_t space = H5Screate_simple(1, dims, NULL);
  hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(a >= 0);
  size_t bytes = (size_t)n * H5Tget_size(type);
  unsigned char* zeros = calloc(bytes, 1);
  assert_true(H5Awrite(a, type, zeros) >= 0);
  free(zeros);
  H5Aclose(a);
  H5Sclose(space);
  H5Fclose(f);
}

// A 1,000-element attribute read into one scalar overran the stack before the fix.
static void test_array_attributes(void** state) {
  (void)state;
  char path[128];
  path_in(path, sizeof(path), "attr.hdf5");
  const char* names[] = {"format_version", "seed", "control_hz", "success"};
  for (int i = 0; i < 4; i++) {
    write_good(path);
    replace_attr(path, names[i], H5T_NATIVE_INT64, 1000);
    expect_refused(path, "must be a single number");
  }
  write_good(path);
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 16);
  replace_attr(path, "task", str, 1000);
  H5Tclose(str);
  expect_refused(path, "attribute 'task' is not one short fixed-length string");
}

// An episode file written by hand: chunked, never-written datasets of T frames.
static void write_hollow(const char* path, hsize_t T) {
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  assert_true(f >= 0);
  int32_t version = NFP_DEMO_FORMAT_VERSION, success = 1;
  int64_t seed = 1;
  double hz = 16.0;
  struct {
    const char* name;
    hid_t type;
    const void* v;
  } attrs[] = {{"format_version", H5T_NATIVE_INT32, &version},
               {"success", H5T_NATIVE_INT32, &success},
               {"seed", H5T_NATIVE_INT64, &seed},
               {"control_hz", H5T_NATIVE_DOUBLE, &hz}};
  hid_t scalar = H5Screate(H5S_SCALAR);
  for (int i = 0; i < 4; i++) {
    hid_t a = H5Acreate2(f, attrs[i].name, attrs[i].type, scalar, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, attrs[i].type, attrs[i].v);
    H5Aclose(a);
  }
  hid_t str = H5Tcopy(H5T_C_S1);
  H5Tset_size(str, 9);
  hid_t a = H5Acreate2(f, "task", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a, str, "lift_pot");
  H5Aclose(a);
  H5Tclose(str);
  H5Sclose(scalar);
  hid_t obs = H5Gcreate2(f, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t dims[2] = {T, 14}, chunk[2] = {1024, 14};
  hid_t space = H5Screate_simple(2, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  H5Pset_chunk(dcpl, 2, chunk);
  const char* names[] = {"observations/qpos", "observations/qvel", "action"};
  for (int i = 0; i < 3; i++) {
    hid_t d = H5Dcreate2(f, names[i], H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(d >= 0);
    H5Dclose(d);
  }
  H5Pclose(dcpl);
  H5Sclose(space);
  H5Gclose(obs);
  H5Fclose(f);
}

// A 14 KB file declaring 2^20 frames made nfp train allocate 1.2 GB before reading.
static void test_sizes_the_file_cannot_back(void** state) {
  (void)state;
  char path[128];
  path_in(path, sizeof(path), "hollow.hdf5");
  write_hollow(path, (hsize_t)1 << 24);
  expect_refused(path, "expected [1..100000 frames");
  write_hollow(path, 90000);  // within the cap, but the file stores none of it
  expect_refused(path, "but the file stores 0 for it");
}

// Set one value of a dataset in a good file.
static void poke(const char* path, const char* dset, hsize_t row, hsize_t col, double v) {
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  hid_t fs = H5Dget_space(d);
  hsize_t start[2] = {row, col}, count[2] = {1, 1};
  H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
  hid_t ms = H5Screate_simple(2, count, NULL);
  assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, &v) >= 0);
  H5Sclose(ms);
  H5Sclose(fs);
  H5Dclose(d);
  H5Fclose(f);
}

// NaN in a held-out episode gave "val NLL nan" and a checkpoint before the fix.
static void test_non_finite_values(void** state) {
  (void)state;
  char path[128];
  path_in(path, sizeof(path), "nan.hdf5");
  write_good(path);
  poke(path, "action", 7, 3, NAN);
  expect_refused(path, "dataset 'action' holds nan at frame 7, column 3");
  write_good(path);
  poke(path, "observations/object_state", 2, 1, INFINITY);
  expect_refused(path, "'observations/object_state' holds inf at frame 2, column 1");
  write_good(path);
  poke(path, "observations/qpos", 0, 0, -NAN);
  expect_refused(path, "'observations/qpos' holds");
}

static void test_not_a_file(void** state) {
  (void)state;
  nfp_episode* eps;
  assert_int_equal(nfp_demo_read_folder("/nonexistent/nfp/demos", &eps, 0), -1);
  assert_non_null(strstr(nfp_error_last(), "/nonexistent/nfp/demos"));
  expect_refused(dir, "not a regular file");
  char path[128];
  path_in(path, sizeof(path), "junk.hdf5");
  FILE* f = fopen(path, "wb");
  fputs("not hdf5 at all", f);
  fclose(f);
  expect_refused(path, "not a readable HDF5 file");
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/nfp_demo_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_array_attributes),
      cmocka_unit_test(test_sizes_the_file_cannot_back),
      cmocka_unit_test(test_non_finite_values),
      cmocka_unit_test(test_not_a_file),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  if (system(cmd) != 0) rc = 1;
  return rc;
}
