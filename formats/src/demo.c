// HDF5 demonstration episodes (layout in nfp/demo.h).
#include "nfp/demo.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "aloha.h"
#include "nfp/atomic_file.h"
#include "nfp/error.h"

#define DEMO_MAX_NQ 64
#define DEMO_MAX_NOBJ 4096
#define DEMO_MAX_SIDE 4096
// 100,000 frames is 100 minutes at 16.7 Hz; nfp's episodes have a few hundred.
#define DEMO_MAX_FRAMES 100000
// A dataset may unpack to at most this many times its bytes on disk: deflate's ratio
// cannot pass 1032:1, so anything more is a header lying about its size.
#define DEMO_MAX_INFLATE 1100.0

// ---------------------------------------------------------------- HDF5 helpers

// HDF5 prints its error stack by default; we report through nfp_error instead.
// The setting is per thread in thread-safe builds, so set it on every entry.
static void h5_quiet(void) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t h5_first_desc(unsigned n, const H5E_error2_t* e, void* out) {
  if (n == 0 && e->desc) snprintf((char*)out, 256, "%s", e->desc);
  return 0;
}

// The innermost message of HDF5's error stack ("truncated file: ..."), or "".
static const char* h5_detail(char buf[256]) {
  buf[0] = '\0';
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, h5_first_desc, buf);
  return buf;
}

static int h5_write_attr(hid_t obj, const char* name, hid_t type, const void* value) {
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
  herr_t st = attr < 0 ? -1 : H5Awrite(attr, type, value);
  if (attr >= 0) H5Aclose(attr);
  H5Sclose(space);
  return st < 0 ? -1 : 0;
}

static int h5_write_str_attr(hid_t obj, const char* name, const char* value) {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, strlen(value) + 1);
  H5Tset_strpad(type, H5T_STR_NULLTERM);
  int st = h5_write_attr(obj, name, type, value);
  H5Tclose(type);
  return st;
}

// Write an n-d dataset; chunk (may be NULL) enables deflate compression when available.
static int h5_write_dset(hid_t loc, const char* name, hid_t file_type, hid_t mem_type, int rank,
                         const hsize_t* dims, const hsize_t* chunk, const void* data) {
  hid_t space = H5Screate_simple(rank, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk) {
    H5Pset_chunk(dcpl, rank, chunk);
    if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) H5Pset_deflate(dcpl, 1);
  }
  hid_t dset = H5Dcreate2(loc, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  herr_t st = dset < 0 ? -1 : H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
  if (dset >= 0) H5Dclose(dset);
  H5Pclose(dcpl);
  H5Sclose(space);
  return st < 0 ? -1 : 0;
}

static int demo_write_body(hid_t f, const nfp_episode* ep) {
  int32_t success = ep->success, version = NFP_DEMO_FORMAT_VERSION;
  if (h5_write_str_attr(f, "task", ep->task) ||
      h5_write_attr(f, "seed", H5T_NATIVE_INT64, &ep->seed) ||
      h5_write_attr(f, "control_hz", H5T_NATIVE_DOUBLE, &ep->control_hz) ||
      h5_write_attr(f, "success", H5T_NATIVE_INT32, &success) ||
      h5_write_attr(f, "format_version", H5T_NATIVE_INT32, &version)) {
    return -1;
  }
  hid_t obs = H5Gcreate2(f, "observations", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  if (obs < 0) return -1;
  hsize_t dims[4] = {(hsize_t)ep->T, (hsize_t)ep->nq, 0, 0};
  int st = h5_write_dset(obs, "qpos", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, NULL, ep->qpos);
  st = st || h5_write_dset(obs, "qvel", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, NULL, ep->qvel);
  st = st ||
       h5_write_dset(f, "action", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dims, NULL, ep->action);
  if (!st && ep->nobj > 0) {
    hsize_t odims[2] = {(hsize_t)ep->T, (hsize_t)ep->nobj};
    st = h5_write_dset(obs, "object_state", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, odims, NULL,
                       ep->object_state);
  }
  if (!st && ep->images) {
    hid_t img = H5Gcreate2(obs, "images", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t idims[4] = {(hsize_t)ep->T, (hsize_t)ep->img_h, (hsize_t)ep->img_w, 3};
    hsize_t chunk[4] = {1, (hsize_t)ep->img_h, (hsize_t)ep->img_w, 3};  // one frame
    st = img < 0 ||
         h5_write_dset(img, "head", H5T_STD_U8LE, H5T_NATIVE_UINT8, 4, idims, chunk, ep->images);
    if (img >= 0) H5Gclose(img);
  }
  H5Gclose(obs);
  return st ? -1 : 0;
}

int nfp_demo_write(const char* path, const nfp_episode* ep) {
  if (ep->T <= 0 || ep->nq <= 0 || !ep->qpos || !ep->qvel || !ep->action ||
      (ep->nobj > 0 && !ep->object_state)) {
    return nfp_error_set("writing %s: the episode is empty or incomplete", path);
  }
  h5_quiet();
  char detail[256];
  nfp_atomic_file out;
  if (nfp_atomic_begin(&out, path, 0666)) return -1;
  // HDF5 writes the temporary by name; our descriptor stays open for the final fsync.
  hid_t f = H5Fcreate(out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  if (f < 0) {
    nfp_atomic_abort(&out);
    return nfp_error_set("cannot create %s: %s (is the folder writable?)", out.tmp,
                         h5_detail(detail));
  }
  int st = demo_write_body(f, ep);
  if (st) h5_detail(detail);
  if (H5Fclose(f) < 0 && !st) {
    st = -1;
    h5_detail(detail);
  }
  if (st) {
    nfp_atomic_abort(&out);
    return nfp_error_set("writing %s failed: %s (disk full?)", path, detail);
  }
  return nfp_atomic_commit(&out);
}

// ---------------------------------------------------------------- reading

typedef struct {
  const char* path;
  hid_t f;
} demo_reader;

static int demo_fail(const demo_reader* r, const char* what) {
  char detail[256];
  h5_detail(detail);
  if (detail[0]) return nfp_error_set("%s: %s (%s)", r->path, what, detail);
  return nfp_error_set("%s: %s", r->path, what);
}

// An attribute holding exactly one integer or float (H5Aread writes every element, so a
// longer one would overrun the scalar it is read into).
static int attr_is_one_number(hid_t a) {
  hid_t space = H5Aget_space(a), type = H5Aget_type(a);
  hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  H5T_class_t cls = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
  if (space >= 0) H5Sclose(space);
  if (type >= 0) H5Tclose(type);
  return n == 1 && (cls == H5T_INTEGER || cls == H5T_FLOAT);
}

static int read_attr(const demo_reader* r, const char* name, hid_t mem_type, void* out) {
  if (H5Aexists(r->f, name) <= 0) {
    return nfp_error_set("%s: attribute '%s' is missing (not an nfp demo file?)", r->path, name);
  }
  hid_t a = H5Aopen(r->f, name, H5P_DEFAULT);
  if (a >= 0 && !attr_is_one_number(a)) {
    H5Aclose(a);
    return nfp_error_set("%s: attribute '%s' must be a single number", r->path, name);
  }
  herr_t st = a < 0 ? -1 : H5Aread(a, mem_type, out);
  if (a >= 0) H5Aclose(a);
  if (st < 0) {
    char what[128];
    snprintf(what, sizeof(what), "cannot read attribute '%s'", name);
    return demo_fail(r, what);
  }
  return 0;
}

static int read_task_attr(const demo_reader* r, char* out, size_t cap) {
  if (H5Aexists(r->f, "task") <= 0) {
    return nfp_error_set("%s: attribute 'task' is missing (not an nfp demo file?)", r->path);
  }
  hid_t a = H5Aopen(r->f, "task", H5P_DEFAULT);
  hid_t ft = a < 0 ? -1 : H5Aget_type(a);
  hid_t space = a < 0 ? -1 : H5Aget_space(a);
  hssize_t n = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
  if (space >= 0) H5Sclose(space);
  int st = -1;
  if (ft >= 0 && n == 1 && H5Tget_class(ft) == H5T_STRING && !H5Tis_variable_str(ft) &&
      H5Tget_size(ft) <= cap) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, cap);
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    st = H5Aread(a, mt, out) < 0 ? -1 : 0;
    H5Tclose(mt);
  }
  if (ft >= 0) H5Tclose(ft);
  if (a >= 0) H5Aclose(a);
  if (st) return demo_fail(r, "attribute 'task' is not one short fixed-length string");
  out[cap - 1] = '\0';
  return 0;
}

// Dimensions of dataset `name`; returns its id or -1 (error set) if absent or of the wrong rank.
static hid_t open_dset(const demo_reader* r, const char* name, int rank, hsize_t* dims) {
  if (H5Lexists(r->f, name, H5P_DEFAULT) <= 0) {
    nfp_error_set("%s: dataset '%s' is missing", r->path, name);
    return -1;
  }
  hid_t d = H5Dopen2(r->f, name, H5P_DEFAULT);
  if (d < 0) {
    demo_fail(r, "cannot open a dataset");
    return -1;
  }
  hid_t s = H5Dget_space(d);
  int got = H5Sget_simple_extent_ndims(s);
  if (got == rank) H5Sget_simple_extent_dims(s, dims, NULL);
  H5Sclose(s);
  if (got != rank) {
    H5Dclose(d);
    nfp_error_set("%s: dataset '%s' has rank %d, expected %d", r->path, name, got, rank);
    return -1;
  }
  return d;
}

// Refuse a dataset whose declared size the file cannot back (an allocation of gigabytes
// from a file of kilobytes): its stored bytes, inflated at most DEMO_MAX_INFLATE times,
// must reach the size the shape declares.
static int check_backed(const demo_reader* r, hid_t d, const char* name, double bytes) {
  double stored = (double)H5Dget_storage_size(d);
  if (stored * DEMO_MAX_INFLATE < bytes) {
    return nfp_error_set("%s: dataset '%s' declares %.0f bytes but the file stores %.0f for it "
                         "(damaged or crafted file)", r->path, name, bytes, stored);
  }
  return 0;
}

// The first non-finite value of a [T, n] array, as "frame t, column j"; 0 when none.
static int check_finite(const demo_reader* r, const char* name, const double* x, int T, int n) {
  for (size_t i = 0; i < (size_t)T * (size_t)n; i++) {
    if (!isfinite(x[i])) {
      return nfp_error_set("%s: dataset '%s' holds %g at frame %zu, column %zu", r->path, name,
                           x[i], i / (size_t)n, i % (size_t)n);
    }
  }
  return 0;
}

static int read_dset(const demo_reader* r, hid_t d, const char* name, hid_t mem_type, void* out) {
  herr_t st = H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
  H5Dclose(d);
  if (st < 0) {
    char what[128];
    snprintf(what, sizeof(what), "cannot read dataset '%s' (file damaged or truncated?)", name);
    return demo_fail(r, what);
  }
  return 0;
}

// The datasets of one file, in this order (object state and images are optional; the
// images are the chosen camera's).
enum { DS_QPOS, DS_QVEL, DS_ACTION, DS_OBJECT, DS_IMAGE, DS_N };
static const char* const ds_name[DS_IMAGE] = {"observations/qpos", "observations/qvel", "action",
                                              "observations/object_state"};

typedef struct {
  hid_t id[DS_N];        // -1 when absent (or not wanted: images)
  hsize_t dim[DS_N][4];  // their shapes
  char img[NFP_DEMO_CAMERA_NAME + 32];  // the camera's dataset, "" for none
} demo_dsets;

// Dataset i's name in d.
static const char* dset_name(const demo_dsets* d, int i) {
  return i == DS_IMAGE ? d->img : ds_name[i];
}

static void close_dsets(demo_dsets* d) {
  for (int i = 0; i < DS_N; i++) {
    if (d->id[i] >= 0) H5Dclose(d->id[i]);
    d->id[i] = -1;
  }
}

// The root attributes -> ep's task, seed, control_hz, success. 0 or -1 (error set).
static int read_attrs(const demo_reader* r, nfp_episode* ep) {
  int32_t success, version;
  if (read_attr(r, "format_version", H5T_NATIVE_INT32, &version)) return -1;
  if (version != NFP_DEMO_FORMAT_VERSION) {
    return nfp_error_set("%s: format_version %d, this build reads version %d", r->path,
                         (int)version, NFP_DEMO_FORMAT_VERSION);
  }
  if (read_task_attr(r, ep->task, sizeof(ep->task)) ||
      read_attr(r, "seed", H5T_NATIVE_INT64, &ep->seed) ||
      read_attr(r, "control_hz", H5T_NATIVE_DOUBLE, &ep->control_hz) ||
      read_attr(r, "success", H5T_NATIVE_INT32, &success)) {
    return -1;
  }
  if (!isfinite(ep->control_hz)) {
    return nfp_error_set("%s: attribute 'control_hz' is %g", r->path, ep->control_hz);
  }
  ep->success = success;
  return 0;
}

// Open the datasets (images only if with_images and d->img names a camera) with their
// shapes. 0, or -1 with every dataset closed.
static int open_dsets(const demo_reader* r, demo_dsets* d, int with_images) {
  static const int rank[DS_N] = {2, 2, 2, 2, 4};
  memset(d->dim, 0, sizeof(d->dim));
  for (int i = 0; i < DS_N; i++) d->id[i] = -1;
  for (int i = 0; i < DS_N; i++) {
    if (i == DS_IMAGE && (!with_images || !d->img[0])) continue;
    if (i == DS_OBJECT && H5Lexists(r->f, ds_name[i], H5P_DEFAULT) <= 0) continue;
    d->id[i] = open_dset(r, dset_name(d, i), rank[i], d->dim[i]);
    if (d->id[i] < 0) {
      close_dsets(d);
      return -1;
    }
  }
  return 0;
}

// Shapes that agree with each other, within the caps, and backed by what the file
// stores. 0 or -1 (error set).
static int check_shapes(const demo_reader* r, const demo_dsets* d) {
  const hsize_t* q = d->dim[DS_QPOS];
  const hsize_t *v = d->dim[DS_QVEL], *a = d->dim[DS_ACTION], *o = d->dim[DS_OBJECT],
                *im = d->dim[DS_IMAGE];
  hsize_t T = q[0], nq = q[1];
  if (T == 0 || T > DEMO_MAX_FRAMES || nq == 0 || nq > DEMO_MAX_NQ) {
    return nfp_error_set("%s: qpos has shape [%llu,%llu], expected [1..%d frames, 1..%d joints]",
                         r->path, (unsigned long long)T, (unsigned long long)nq,
                         DEMO_MAX_FRAMES, DEMO_MAX_NQ);
  }
  const hsize_t* odd = v[0] != T || v[1] != nq ? v : a;  // qvel, else action
  if (odd[0] != T || odd[1] != nq) {
    return nfp_error_set("%s: %s has shape [%llu,%llu], qpos [%llu,%llu]: they must match",
                         r->path, odd == v ? "qvel" : "action", (unsigned long long)odd[0],
                         (unsigned long long)odd[1], (unsigned long long)T,
                         (unsigned long long)nq);
  }
  if (d->id[DS_OBJECT] >= 0 && (o[0] != T || o[1] == 0 || o[1] > DEMO_MAX_NOBJ)) {
    return nfp_error_set("%s: object_state has %llu frames, qpos has %llu", r->path,
                         (unsigned long long)o[0], (unsigned long long)T);
  }
  if (d->id[DS_IMAGE] >= 0 && (im[0] != T || im[3] != 3 || im[1] == 0 || im[2] == 0 ||
                               im[1] > DEMO_MAX_SIDE || im[2] > DEMO_MAX_SIDE)) {
    return nfp_error_set("%s: %s has shape [%llu,%llu,%llu,%llu], expected "
                         "[%llu,H,W,3]", r->path, d->img, (unsigned long long)im[0],
                         (unsigned long long)im[1], (unsigned long long)im[2],
                         (unsigned long long)im[3], (unsigned long long)T);
  }
  double bytes[DS_N] = {8.0 * T * nq, 8.0 * T * nq, 8.0 * T * nq, 8.0 * T * o[1],
                        (double)T * im[1] * im[2] * 3};
  for (int i = 0; i < DS_N; i++) {
    if (d->id[i] >= 0 && check_backed(r, d->id[i], dset_name(d, i), bytes[i])) return -1;
  }
  return 0;
}

// Every open dataset into ep (allocated to their shapes), then the finiteness check.
// Closes the datasets. 0 or -1 (error set).
static int read_data(const demo_reader* r, demo_dsets* d, nfp_episode* ep) {
  int has_obj = d->id[DS_OBJECT] >= 0, has_img = d->id[DS_IMAGE] >= 0;
  if (nfp_episode_alloc(ep, (int)d->dim[DS_QPOS][0], (int)d->dim[DS_QPOS][1],
                        has_obj ? (int)d->dim[DS_OBJECT][1] : 0,
                        has_img ? (int)d->dim[DS_IMAGE][1] : 0,
                        has_img ? (int)d->dim[DS_IMAGE][2] : 0)) {
    close_dsets(d);
    return -1;
  }
  void* into[DS_N] = {ep->qpos, ep->qvel, ep->action, ep->object_state, ep->images};
  int st = 0;
  for (int i = 0; i < DS_N; i++) {  // read_dset closes each dataset, whatever the outcome
    if (d->id[i] < 0) continue;
    st |= read_dset(r, d->id[i], dset_name(d, i),
                    i == DS_IMAGE ? H5T_NATIVE_UINT8 : H5T_NATIVE_DOUBLE, into[i]);
    d->id[i] = -1;
  }
  for (int i = 0; i < DS_IMAGE && !st; i++) {
    int cols = i == DS_OBJECT ? ep->nobj : ep->nq;
    if (into[i] && cols > 0) st = check_finite(r, ds_name[i], into[i], ep->T, cols);
  }
  return st ? -1 : 0;
}

// One open file of either layout -> a validated episode in ep, images from camera (NULL:
// the default one). 0 or -1 (error set, nothing left allocated).
static int demo_read_body(const demo_reader* r, nfp_episode* ep, int with_images,
                          const char* camera) {
  nfp_episode head = {0};
  demo_dsets d;
  int aloha = nfp_aloha_detect(r->path, r->f);
  if (aloha < 0 || (aloha ? nfp_aloha_header(r->path, r->f, &head) : read_attrs(r, &head))) {
    return -1;
  }
  // The camera is checked even when images are skipped: a misspelt --camera fails early.
  d.img[0] = '\0';
  if ((with_images || camera) &&
      nfp_demo_camera_dset(r->path, r->f, camera, with_images, d.img, sizeof(d.img))) {
    return -1;
  }
  if (open_dsets(r, &d, with_images)) return -1;
  if (check_shapes(r, &d)) {
    close_dsets(&d);
    return -1;
  }
  if (read_data(r, &d, ep)) {
    nfp_episode_free(ep);
    return -1;
  }
  memcpy(ep->task, head.task, sizeof(ep->task));
  ep->seed = head.seed;
  ep->control_hz = head.control_hz;
  ep->success = head.success;
  return 0;
}

int nfp_demo_read(const char* path, nfp_episode* ep, int with_images) {
  return nfp_demo_read_camera(path, ep, with_images, NULL);
}

int nfp_demo_read_camera(const char* path, nfp_episode* ep, int with_images,
                         const char* camera) {
  memset(ep, 0, sizeof(*ep));
  h5_quiet();
  struct stat sb;
  if (stat(path, &sb)) return nfp_error_set("%s: %s", path, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return nfp_error_set("%s: not a regular file", path);
  demo_reader r = {path, -1};
  r.f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (r.f < 0) return demo_fail(&r, "not a readable HDF5 file (damaged or truncated?)");
  int st = demo_read_body(&r, ep, with_images, camera);
  H5Fclose(r.f);
  return st;
}

// ---------------------------------------------------------------- listing

static int cmp_str(const void* a, const void* b) {
  return strcmp(*(const char* const*)a, *(const char* const*)b);
}

static int has_suffix(const char* s, const char* suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && !strcmp(s + n - k, suffix);
}

int nfp_demo_list(const char* dir, char*** paths) {
  *paths = NULL;
  DIR* dp = opendir(dir);
  if (!dp) return nfp_error_set("cannot open demo folder %s: %s", dir, strerror(errno));
  int n = 0, cap = 0;
  char** out = NULL;
  struct dirent* e;
  while ((e = readdir(dp))) {
    if (e->d_name[0] == '.' || !has_suffix(e->d_name, ".hdf5")) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char** grown = realloc(out, (size_t)cap * sizeof(char*));
      if (!grown) break;
      out = grown;
    }
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    if (!(out[n] = malloc(len))) break;
    snprintf(out[n], len, "%s/%s", dir, e->d_name);
    n++;
  }
  int oom = e != NULL;
  closedir(dp);
  if (oom) {
    nfp_demo_list_free(out, n);
    return nfp_error_set("out of memory listing %s", dir);
  }
  if (n > 1) qsort(out, (size_t)n, sizeof(char*), cmp_str);
  *paths = out;
  return n;
}

int nfp_demo_list_some(const char* dir, char*** paths) {
  int n = nfp_demo_list(dir, paths);
  if (n < 0) return nfp_error_wrap("reading demos from '%s'", dir);
  if (n == 0) {
    nfp_demo_list_free(*paths, n);
    *paths = NULL;
    return nfp_error_set("no episode files (*.hdf5) in '%s'", dir);
  }
  return n;
}

void nfp_demo_list_free(char** paths, int n) {
  for (int i = 0; i < n; i++) free(paths[i]);
  free(paths);
}

int nfp_demo_read_folder(const char* dir, nfp_episode** out, int with_images) {
  return nfp_demo_read_folder_camera(dir, out, with_images, NULL);
}

int nfp_demo_read_folder_camera(const char* dir, nfp_episode** out, int with_images,
                                const char* camera) {
  *out = NULL;
  char** paths = NULL;
  int n = nfp_demo_list_some(dir, &paths);
  if (n < 0) return -1;
  nfp_episode* eps = calloc((size_t)n, sizeof(nfp_episode));
  int rc = eps ? 0 : nfp_error_set("out of memory for %d episodes", n);
  int n_read = 0;
  for (; rc == 0 && n_read < n; n_read++) {
    if (nfp_demo_read_camera(paths[n_read], &eps[n_read], with_images, camera) != 0) {
      rc = -1;  // nfp_demo_read names the file; keep that message as is
      break;
    }
    if (eps[n_read].nq != eps[0].nq) {
      rc = nfp_error_set("%s: %d joints, but %s has %d", paths[n_read], eps[n_read].nq,
                         paths[0], eps[0].nq);
      n_read++;
      break;
    }
  }
  nfp_demo_list_free(paths, n);
  if (rc != 0) {
    nfp_demo_free_all(eps, n_read);
    return -1;
  }
  *out = eps;
  return n;
}

void nfp_demo_free_all(nfp_episode* eps, int n) {
  for (int i = 0; i < n && eps; i++) nfp_episode_free(&eps[i]);
  free(eps);
}
