// Episodes recorded by the ALOHA / ACT tools, read as they are (nfp/demo.h), and the
// cameras of an episode file of either layout.
#define _XOPEN_SOURCE 700  // realpath
#include "aloha.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"

// A hostile file may hold millions of links in the images group; cameras are a handful.
#define ALOHA_MAX_LINKS 1024

// 1 when name (relative to loc, its parents there) is a hard link to a dataset. Hard links
// only: an external one would make HDF5 open another file.
static int is_dataset(hid_t loc, const char* name) {
  if (H5Lexists(loc, name, H5P_DEFAULT) <= 0) return 0;
  H5L_info_t li;
  if (H5Lget_info(loc, name, &li, H5P_DEFAULT) < 0 || li.type != H5L_TYPE_HARD) return 0;
  hid_t o = H5Oopen(loc, name, H5P_DEFAULT);
  int yes = o >= 0 && H5Iget_type(o) == H5I_DATASET;
  if (o >= 0) H5Oclose(o);
  return yes;
}

// The datasets under /observations/images, sorted by name -> names (the first cap), count.
static int list_cameras(hid_t f, char (*names)[NFP_DEMO_CAMERA_NAME], int cap) {
  if (H5Lexists(f, "observations", H5P_DEFAULT) <= 0 ||
      H5Lexists(f, "observations/images", H5P_DEFAULT) <= 0) {
    return 0;
  }
  hid_t g = H5Gopen2(f, "observations/images", H5P_DEFAULT);
  if (g < 0) return 0;  // a dataset of that name, say: no cameras
  H5G_info_t gi;
  int n = 0;
  if (H5Gget_info(g, &gi) >= 0) {
    for (hsize_t i = 0; i < gi.nlinks && i < ALOHA_MAX_LINKS && n < cap; i++) {
      char name[NFP_DEMO_CAMERA_NAME];
      ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name,
                                       sizeof(name), H5P_DEFAULT);
      if (len <= 0 || len >= (ssize_t)sizeof(name) || !is_dataset(g, name)) continue;
      memcpy(names[n++], name, (size_t)len + 1);
    }
  }
  H5Gclose(g);
  return n;
}

// The camera read when none is asked for: cam_high (ALOHA's overview camera), else the first.
static int default_camera(char (*names)[NFP_DEMO_CAMERA_NAME], int n) {
  for (int i = 0; i < n; i++) {
    if (!strcmp(names[i], "cam_high")) return i;
  }
  return n > 0 ? 0 : -1;
}

// names -> "cam_high, cam_left_wrist" into buf.
static const char* join_names(char (*names)[NFP_DEMO_CAMERA_NAME], int n, char* buf,
                              size_t cap) {
  size_t at = 0;
  buf[0] = '\0';
  for (int i = 0; i < n && at < cap; i++) {
    int k = snprintf(buf + at, cap - at, "%s%s", i ? ", " : "", names[i]);
    at += k > 0 ? (size_t)k : 0;
  }
  return buf;
}

// Root attribute name as a truth value (h5py stores a bool as an enum, others a number):
// 1, 0, or -1 when absent or not one value.
static int flag_attr(hid_t f, const char* name) {
  if (H5Aexists(f, name) <= 0) return -1;
  hid_t a = H5Aopen(f, name, H5P_DEFAULT);
  hid_t t = a < 0 ? -1 : H5Aget_type(a), s = a < 0 ? -1 : H5Aget_space(a);
  hid_t mt = t < 0 ? -1 : H5Tget_native_type(t, H5T_DIR_ASCEND);
  H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
  hssize_t n = s < 0 ? -1 : H5Sget_simple_extent_npoints(s);
  unsigned char v[16] = {0};
  double d = 0;
  int out = -1;
  if (n == 1 && mt >= 0 && (c == H5T_ENUM || c == H5T_INTEGER) &&
      H5Tget_size(mt) <= sizeof(v) && H5Aread(a, mt, v) >= 0) {
    out = 0;
    for (size_t i = 0; i < sizeof(v); i++) out |= v[i] != 0;
  } else if (n == 1 && c == H5T_FLOAT && H5Aread(a, H5T_NATIVE_DOUBLE, &d) >= 0) {
    out = d != 0;
  }
  if (mt >= 0) H5Tclose(mt);
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  if (a >= 0) H5Aclose(a);
  return out;
}

int nfp_aloha_detect(const char* path, hid_t f) {
  static const char* const nfp_attrs[] = {"format_version", "task", "seed", "control_hz",
                                          "success"};
  for (size_t i = 0; i < sizeof(nfp_attrs) / sizeof(nfp_attrs[0]); i++) {
    if (H5Aexists(f, nfp_attrs[i]) > 0) return 0;
  }
  if (H5Lexists(f, "observations", H5P_DEFAULT) > 0 &&
      H5Lexists(f, "observations/qpos", H5P_DEFAULT) > 0) {
    return 1;
  }
  return nfp_error_set("%s: neither nfp's attributes (task, seed, control_hz, success, "
                       "format_version) nor ALOHA's /observations/qpos: not an episode file",
                       path);
}

// path -> the name of the folder it is in (cwd's for a bare name) into out; "aloha" when
// there is none.
static void folder_task(const char* path, char* out, size_t cap) {
  char full[PATH_MAX];
  snprintf(out, cap, "aloha");
  if (!realpath(path, full)) return;
  char* slash = strrchr(full, '/');
  if (!slash || slash == full) return;  // a file in / : no folder name
  *slash = '\0';
  const char* name = strrchr(full, '/');
  name = name ? name + 1 : full;
  if (*name) snprintf(out, cap, "%.*s", (int)cap - 1, name);
}

// The N of .../episode_N.hdf5 (ACT's names), else -1.
static long long file_seed(const char* path) {
  const char* base = strrchr(path, '/');
  base = base ? base + 1 : path;
  if (strncmp(base, "episode_", 8) || base[8] < '0' || base[8] > '9') return -1;
  char* end = NULL;
  errno = 0;
  long long n = strtoll(base + 8, &end, 10);
  return errno || strcmp(end, ".hdf5") ? -1 : n;
}

// The datasets an ALOHA episode must have, and qpos 14 wide. 0 or -1 (error set).
static int aloha_check_datasets(const char* path, hid_t f) {
  static const char* const need[] = {"observations/qpos", "observations/qvel", "action"};
  for (int i = 0; i < 3; i++) {
    if (!is_dataset(f, need[i])) {
      return nfp_error_set("%s: ALOHA layout (no nfp attributes) without /%s", path, need[i]);
    }
  }
  hid_t d = H5Dopen2(f, "observations/qpos", H5P_DEFAULT);
  hid_t s = d < 0 ? -1 : H5Dget_space(d);
  hsize_t dims[2] = {0, 0};
  int rank = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (rank == 2) H5Sget_simple_extent_dims(s, dims, NULL);
  if (s >= 0) H5Sclose(s);
  if (d >= 0) H5Dclose(d);
  if (rank != 2 || dims[1] != NFP_ALOHA_NQ) {
    return nfp_error_set("%s: ALOHA layout with /observations/qpos of rank %d and %llu "
                         "columns; expected [T,%d] (two arms of 6 joints and a gripper)", path,
                         rank, (unsigned long long)dims[1], NFP_ALOHA_NQ);
  }
  return 0;
}

int nfp_aloha_header(const char* path, hid_t f, nfp_episode* head) {
  if (aloha_check_datasets(path, f)) return -1;
  folder_task(path, head->task, sizeof(head->task));
  head->seed = file_seed(path);
  head->control_hz = NFP_ALOHA_HZ;
  head->success = -1;  // ACT keeps every episode and does not say
  return 0;
}

// The camera dataset dset of f -> -1 (error set) when it holds JPEG rows ([T,bytes]: ALOHA's
// recorder with compress=True), else 0 (a wrong shape is the reader's to name).
static int refuse_compressed(const char* path, hid_t f, const char* dset, const char* camera) {
  hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
  hid_t s = d < 0 ? -1 : H5Dget_space(d);
  int rank = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  if (s >= 0) H5Sclose(s);
  if (d >= 0) H5Dclose(d);
  if (rank != 2) return 0;
  return nfp_error_set("%s: camera '%s' holds JPEG-compressed frames (ALOHA's compress=True: "
                       "one row of bytes per frame, lengths in /compress_len); nfp reads "
                       "frames stored as [T,H,W,3] uint8: decode them into a new file first "
                       "(cv2.imdecode on each row), or train without images", path, camera);
}

int nfp_demo_camera_dset(const char* path, hid_t f, const char* want, int with_images,
                         char* dset, size_t cap) {
  dset[0] = '\0';
  if (want && (!want[0] || strchr(want, '/') || strlen(want) >= NFP_DEMO_CAMERA_NAME)) {
    return nfp_error_set("camera '%s': a camera's name has 1..%d characters and no '/'", want,
                         NFP_DEMO_CAMERA_NAME - 1);
  }
  char names[NFP_DEMO_MAX_CAMERAS][NFP_DEMO_CAMERA_NAME];
  int n = list_cameras(f, names, NFP_DEMO_MAX_CAMERAS);
  int k = default_camera(names, n);
  const char* name = want ? want : k >= 0 ? names[k] : NULL;
  if (!name) return 0;
  snprintf(dset, cap, "observations/images/%s", name);
  if (want && !is_dataset(f, dset)) {
    char list[NFP_DEMO_MAX_CAMERAS * (NFP_DEMO_CAMERA_NAME + 2)];
    dset[0] = '\0';
    if (n == 0) {
      return nfp_error_set("%s: no camera '%s': the file has no cameras (no datasets under "
                           "/observations/images)", path, want);
    }
    return nfp_error_set("%s: no camera '%s'; its cameras: %s", path, want,
                         join_names(names, n, list, sizeof(list)));
  }
  if (with_images && refuse_compressed(path, f, dset, name)) {
    dset[0] = '\0';
    return -1;
  }
  return 0;
}

int nfp_demo_probe(const char* path, nfp_demo_info* info) {
  memset(info, 0, sizeof(*info));
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);  // messages go through nfp_error
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return nfp_error_set("%s: not a readable HDF5 file (damaged or truncated?)", path);
  int aloha = nfp_aloha_detect(path, f);
  if (aloha >= 0) {
    info->layout = aloha ? NFP_DEMO_LAYOUT_ALOHA : NFP_DEMO_LAYOUT_NFP;
    info->sim = flag_attr(f, "sim");
    info->compressed = flag_attr(f, "compress");
    info->n_cameras = list_cameras(f, info->cameras, NFP_DEMO_MAX_CAMERAS);
    info->default_camera = default_camera(info->cameras, info->n_cameras);
  }
  H5Fclose(f);
  return aloha < 0 ? -1 : 0;
}
