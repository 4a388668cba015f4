// Fuzz target of the episode loader, structure-aware: the input bytes choose an HDF5 file's
// attributes (present or not, scalar or array, integer, float or string) and datasets (rank,
// sizes up to 2^24 frames, chunked or not, written or left hollow, NaN and inf values); the
// file is written with libhdf5 and read with nfp_demo_read_camera, which must accept it or
// refuse it with a message, never crash or allocate what the file cannot back. Bytes past
// those choose ALOHA's layout too (its 'sim' and 'compress' attributes, more cameras, the
// camera asked for); inputs that end before them read as before. (Raw byte-level corruption
// of HDF5's own structures is libhdf5's parser, not ours; the unit tests cover a damaged
// file.) Built with clang -fsanitize=fuzzer (target fuzz_demo) or corpus_driver.c.
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nfp/demo.h"
#include "nfp/error.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

typedef struct {
  const uint8_t* p;
  size_t n, at;
} cursor;

static unsigned next(cursor* c) { return c->at < c->n ? c->p[c->at++] : 0; }

static const hsize_t sizes[] = {0, 1, 2, 3, 14, 15, 40, 240, 320, 1000, 100001, 1u << 20, 1u << 24};

static hsize_t pick_size(cursor* c) { return sizes[next(c) % (sizeof(sizes) / sizeof(sizes[0]))]; }

static void add_attr(hid_t f, const char* name, cursor* c) {
  unsigned shape = next(c), kind = next(c);
  static const hsize_t lens[] = {1, 7, 1000};
  hid_t space = shape % 4 == 0 ? H5Screate(H5S_SCALAR)
                               : H5Screate_simple(1, &lens[(shape % 4) - 1], NULL);
  hid_t type;
  switch (kind % 4) {
    case 0: type = H5Tcopy(H5T_NATIVE_INT32); break;
    case 1: type = H5Tcopy(H5T_NATIVE_INT64); break;
    case 2: type = H5Tcopy(H5T_NATIVE_DOUBLE); break;
    default:
      type = H5Tcopy(H5T_C_S1);
      H5Tset_size(type, 1 + next(c) % 100);
      break;
  }
  hssize_t count = H5Sget_simple_extent_npoints(space);
  size_t bytes = (size_t)count * H5Tget_size(type);
  unsigned char* v = calloc(bytes + 16, 1);
  // A plausible value most of the time: version 1, 16.7 Hz, "lift_pot".
  double hz = next(c) % 2 ? 16.7 : (next(c) % 2 ? NAN : -1e300);
  int64_t one = next(c) % 4 ? NFP_DEMO_FORMAT_VERSION : (int64_t)next(c) - 128;
  if (kind % 4 == 0) memcpy(v, &(int32_t){(int32_t)one}, 4);
  if (kind % 4 == 1) memcpy(v, &one, 8);
  if (kind % 4 == 2) memcpy(v, &hz, 8);
  if (kind % 4 == 3) memcpy(v, "lift_pot", bytes < 9 ? bytes : 9);
  hid_t a = H5Acreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  if (a >= 0) H5Awrite(a, type, v), H5Aclose(a);
  free(v);
  H5Tclose(type);
  H5Sclose(space);
}

static void add_dataset(hid_t f, const char* name, cursor* c) {
  unsigned how = next(c);
  int rank = 1 + (int)(how % 4);
  hsize_t dims[4], chunk[4];
  double total = 1;
  for (int d = 0; d < rank; d++) {
    dims[d] = pick_size(c);
    chunk[d] = dims[d] ? (dims[d] < 64 ? dims[d] : 64) : 1;
    total *= (double)dims[d];
  }
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (how & 4) H5Pset_chunk(dcpl, rank, chunk);
  if ((how & 4) && (how & 8)) H5Pset_deflate(dcpl, 1);
  hid_t type = (how & 16) ? H5T_STD_U8LE : H5T_IEEE_F64LE;
  hid_t d = H5Dcreate2(f, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (d >= 0 && (how & 32) && total > 0 && total <= 65536) {  // written, else left hollow
    double* v = malloc(sizeof(double) * (size_t)total);
    for (size_t i = 0; i < (size_t)total; i++) v[i] = 0.01 * (double)i;
    unsigned poison = next(c);
    if (poison % 3 == 1) v[next(c) % (size_t)total] = NAN;
    if (poison % 3 == 2) v[next(c) % (size_t)total] = -INFINITY;
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    free(v);
  }
  if (d >= 0) H5Dclose(d);
  H5Pclose(dcpl);
  H5Sclose(space);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static char path[64];
  if (!path[0]) {
    snprintf(path, sizeof(path), "/tmp/nfp_fuzz_demo.%ld.hdf5", (long)getpid());
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  }
  cursor c = {data, size, 0};
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) abort();
  unsigned present = next(&c);
  static const char* attrs[] = {"format_version", "task", "seed", "control_hz", "success"};
  for (int i = 0; i < 5; i++) {
    if (!(present >> i & 1u)) add_attr(f, attrs[i], &c);
  }
  hid_t obs = H5Gcreate2(f, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  hid_t img = next(&c) % 2 ? H5Gcreate2(obs, "images", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT) : -1;
  static const char* dsets[] = {"observations/qpos", "observations/qvel", "action",
                                "observations/object_state", "observations/images/head"};
  unsigned which = next(&c);
  for (int i = 0; i < 5; i++) {
    if (i == 4 && img < 0) continue;
    if (!(which >> i & 1u)) add_dataset(f, dsets[i], &c);
  }
  unsigned aloha = next(&c);  // 0 (an input that ended): nothing more
  if (aloha & 1) add_attr(f, "sim", &c);
  if (aloha & 2) add_attr(f, "compress", &c);
  if ((aloha & 4) && img >= 0) add_dataset(f, "observations/images/cam_high", &c);
  if ((aloha & 8) && img >= 0) add_dataset(f, "observations/images/cam_left_wrist", &c);
  static const char* cameras[] = {NULL, "head", "cam_high", "top", "a/b", ""};
  const char* camera = cameras[(aloha >> 4) % 6];
  int with_images = !(aloha & 128);
  if (img >= 0) H5Gclose(img);
  H5Gclose(obs);
  H5Fclose(f);
  nfp_episode ep;
  if (nfp_demo_read_camera(path, &ep, with_images, camera) == 0) {
    nfp_episode_free(&ep);
  } else if (!nfp_error_last()[0]) {
    fprintf(stderr, "fuzz_demo: refused without a message\n");
    abort();
  }
  unlink(path);
  return 0;
}
