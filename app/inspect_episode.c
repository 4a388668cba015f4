// nfp inspect for demo episodes (nfp's own or ALOHA / ACT's): validated by
// nfp_demo_read_camera (images skipped), then the layout and cameras (nfp_demo_probe), the
// datasets' shapes and types and the root attributes read from the HDF5 file itself.
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "inspect.h"
#include "nfp/demo.h"
#include "nfp/error.h"

// The datasets of either layout (nfp/demo.h) besides the cameras, optional ones included.
static const char* const dset_names[] = {"observations/qpos", "observations/qvel", "action",
                                         "observations/object_state", "observations/effort",
                                         "compress_len"};

// 1 when every link along path exists in f (H5Lexists needs the parents to exist).
static int h5_has(hid_t f, const char* path) {
  char part[256];
  for (size_t i = 0; path[i] && i < sizeof(part) - 1; i++) {
    if (path[i + 1] != '/' && path[i + 1] != '\0') continue;
    memcpy(part, path, i + 1);
    part[i + 1] = '\0';
    if (H5Lexists(f, part, H5P_DEFAULT) <= 0) return 0;
  }
  return 1;
}

// An HDF5 type -> "float64", "uint8", "string", ... into buf.
static const char* type_name(char* buf, size_t cap, hid_t t) {
  size_t bits = 8 * H5Tget_size(t);
  H5T_class_t c = H5Tget_class(t);
  if (c == H5T_FLOAT) {
    snprintf(buf, cap, "float%zu", bits);
  } else if (c == H5T_INTEGER) {
    snprintf(buf, cap, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", bits);
  } else {
    snprintf(buf, cap, "%s", c == H5T_STRING ? "string" : "other");
  }
  return buf;
}

// Dataset name of f -> {"shape": [...], "dtype": "..."} in fields (left out when absent).
static void add_dset(cJSON* fields, hid_t f, const char* name) {
  if (!h5_has(f, name)) return;
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  if (d < 0) return;
  hid_t s = H5Dget_space(d), t = H5Dget_type(d);
  hsize_t dims[8];
  int rank = s < 0 ? -1 : H5Sget_simple_extent_ndims(s);
  cJSON* j = cJSON_CreateObject();
  cJSON* shape = j ? cJSON_AddArrayToObject(j, "shape") : NULL;
  if (shape && rank >= 0 && rank <= 8 && H5Sget_simple_extent_dims(s, dims, NULL) >= 0) {
    for (int i = 0; i < rank; i++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)dims[i]));
  }
  char tn[32];
  if (j && t >= 0) cJSON_AddStringToObject(j, "dtype", type_name(tn, sizeof(tn), t));
  if (j) cJSON_AddItemToObject(fields, name, j);
  if (t >= 0) H5Tclose(t);
  if (s >= 0) H5Sclose(s);
  H5Dclose(d);
}

// One attribute of the root -> its value in the object at data (numbers, short strings,
// else its type's name). Always goes on (returns 0).
static herr_t add_attr(hid_t loc, const char* name, const H5A_info_t* info, void* data) {
  (void)info;
  cJSON* attrs = data;
  hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t t = a < 0 ? -1 : H5Aget_type(a), s = a < 0 ? -1 : H5Aget_space(a);
  hssize_t n = s < 0 ? -1 : H5Sget_simple_extent_npoints(s);
  H5T_class_t c = t < 0 ? H5T_NO_CLASS : H5Tget_class(t);
  char buf[256] = "";
  double v = 0;
  hid_t nt = c == H5T_ENUM ? H5Tget_native_type(t, H5T_DIR_ASCEND) : -1;
  unsigned char ev[16] = {0};  // an enum's value (h5py's bools: FALSE, TRUE)
  if (n == 1 && (c == H5T_INTEGER || c == H5T_FLOAT) && H5Aread(a, H5T_NATIVE_DOUBLE, &v) >= 0) {
    cJSON_AddNumberToObject(attrs, name, v);
  } else if (n == 1 && nt >= 0 && H5Tget_size(nt) <= sizeof(ev) && H5Aread(a, nt, ev) >= 0 &&
             H5Tenum_nameof(nt, ev, buf, sizeof(buf)) >= 0) {
    buf[sizeof(buf) - 1] = '\0';
    cJSON_AddStringToObject(attrs, name, buf);
  } else if (n == 1 && c == H5T_STRING && !H5Tis_variable_str(t) && H5Tget_size(t) < sizeof(buf)) {
    hid_t mt = H5Tcopy(H5T_C_S1);
    H5Tset_size(mt, sizeof(buf));
    H5Tset_strpad(mt, H5T_STR_NULLTERM);
    if (H5Aread(a, mt, buf) < 0) buf[0] = '\0';
    buf[sizeof(buf) - 1] = '\0';
    H5Tclose(mt);
    cJSON_AddStringToObject(attrs, name, buf);
  } else {
    cJSON_AddStringToObject(attrs, name, t >= 0 ? type_name(buf, sizeof(buf), t) : "?");
  }
  if (nt >= 0) H5Tclose(nt);
  if (s >= 0) H5Sclose(s);
  if (t >= 0) H5Tclose(t);
  if (a >= 0) H5Aclose(a);
  return 0;
}

// path (already validated) with its cameras in info -> rep "fields" and "attributes". 0, or
// -1 (error set).
static int add_layout(cJSON* rep, const char* path, const nfp_demo_info* info) {
  H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return nfp_error_set("%s: cannot open the HDF5 file again", path);
  cJSON* fields = cJSON_AddObjectToObject(rep, "fields");
  for (size_t i = 0; fields && i < sizeof(dset_names) / sizeof(dset_names[0]); i++) {
    add_dset(fields, f, dset_names[i]);
  }
  for (int i = 0; fields && i < info->n_cameras; i++) {
    char name[NFP_DEMO_CAMERA_NAME + 32];
    snprintf(name, sizeof(name), "observations/images/%s", info->cameras[i]);
    add_dset(fields, f, name);
  }
  cJSON* attrs = cJSON_AddObjectToObject(rep, "attributes");
  hsize_t idx = 0;
  if (attrs) H5Aiterate2(f, H5_INDEX_NAME, H5_ITER_INC, &idx, add_attr, attrs);
  H5Fclose(f);
  return fields && attrs ? 0 : nfp_error_set("out of memory");
}

// The layout, ALOHA's flags and the cameras in info (camera: the one asked for, else the
// default) -> rep "layout", "sim", "compressed", "cameras", "camera".
static void add_cameras(cJSON* rep, const nfp_demo_info* info, const char* camera) {
  int aloha = info->layout == NFP_DEMO_LAYOUT_ALOHA;
  cJSON_AddStringToObject(rep, "layout", aloha ? "aloha" : "nfp");
  if (info->sim >= 0) cJSON_AddBoolToObject(rep, "sim", info->sim);
  if (info->compressed >= 0) cJSON_AddBoolToObject(rep, "compressed", info->compressed);
  cJSON* cams = cJSON_AddArrayToObject(rep, "cameras");
  for (int i = 0; cams && i < info->n_cameras; i++) {
    cJSON_AddItemToArray(cams, cJSON_CreateString(info->cameras[i]));
  }
  if (!camera && info->default_camera >= 0) camera = info->cameras[info->default_camera];
  if (camera) cJSON_AddStringToObject(rep, "camera", camera);
}

// path read and validated by nfp_demo_read_camera (camera: NULL or the one to check) ->
// the report, or NULL (error set).
cJSON* nfp_inspect_episode(const char* path, double file_bytes, const char* camera) {
  nfp_episode ep;
  nfp_demo_info info;
  if (nfp_demo_read_camera(path, &ep, 0, camera) != 0) return NULL;
  if (nfp_demo_probe(path, &info) != 0) {
    nfp_episode_free(&ep);
    return NULL;
  }
  cJSON* rep = cJSON_CreateObject();
  if (rep) {
    cJSON_AddStringToObject(rep, "file", path);
    cJSON_AddStringToObject(rep, "kind", "episode");
    cJSON_AddNumberToObject(rep, "file_bytes", file_bytes);
    add_cameras(rep, &info, camera);
    cJSON_AddStringToObject(rep, "task", ep.task);
    cJSON_AddNumberToObject(rep, "seed", (double)ep.seed);
    if (ep.success >= 0) cJSON_AddBoolToObject(rep, "success", ep.success != 0);
    cJSON_AddNumberToObject(rep, "control_hz", ep.control_hz);
    cJSON_AddNumberToObject(rep, "frames", ep.T);
    if (ep.control_hz > 0) cJSON_AddNumberToObject(rep, "seconds", ep.T / ep.control_hz);
    cJSON_AddNumberToObject(rep, "joints", ep.nq);
    cJSON_AddNumberToObject(rep, "object_values", ep.nobj);
  }
  nfp_episode_free(&ep);
  if (!rep) nfp_error_set("out of memory");
  if (rep && add_layout(rep, path, &info) != 0) rep = (cJSON_Delete(rep), NULL);
  return rep;
}

// A "shape" array -> "230,14" into buf.
static const char* shape_text(char* buf, size_t cap, const cJSON* shape) {
  const cJSON* d = NULL;
  size_t n = 0;
  buf[0] = '\0';
  cJSON_ArrayForEach(d, shape) {
    if (n >= cap) break;
    int k = snprintf(buf + n, cap - n, "%s%.0f", n ? "," : "", d->valuedouble);
    n += k > 0 ? (size_t)k : 0;
  }
  return buf;
}

// An episode report's cameras -> "  cameras   cam_high (read), cam_left_wrist" on stdout
// (nothing when there are none).
static void print_cameras(const cJSON* rep) {
  const cJSON* cams = cJSON_GetObjectItemCaseSensitive(rep, "cameras");
  const cJSON* read = cJSON_GetObjectItemCaseSensitive(rep, "camera");
  if (cJSON_GetArraySize(cams) == 0) return;
  printf("  %-26s", "cameras");
  const cJSON* c = NULL;
  int first = 1;
  cJSON_ArrayForEach(c, cams) {
    int is_read = cJSON_IsString(read) && !strcmp(c->valuestring, read->valuestring);
    printf("%s%s%s", first ? " " : ", ", c->valuestring, is_read ? " (read)" : "");
    first = 0;
  }
  printf("\n");
}

// An episode report -> its header lines, which say the layout (ALOHA's: with 'sim' and
// 'compress'), on stdout.
static void print_head(const cJSON* rep) {
  char buf[256];
  const cJSON* file = cJSON_GetObjectItemCaseSensitive(rep, "file");
  const cJSON* layout = cJSON_GetObjectItemCaseSensitive(rep, "layout");
  int aloha = cJSON_IsString(layout) && !strcmp(layout->valuestring, "aloha");
  printf("%s: %s episode, %s\n", file->valuestring, aloha ? "ALOHA" : "nfp",
         nfp_inspect_size(buf, sizeof(buf), nfp_inspect_num(rep, "file_bytes")));
  if (!aloha) return;
  printf("  %-26s %s\n", "layout",
         "ALOHA / ACT (no nfp attributes: task from the folder, seed from episode_N)");
  printf("  %-26s %s\n", "sim",
         nfp_inspect_value(buf, sizeof(buf), cJSON_GetObjectItemCaseSensitive(rep, "sim")));
  const cJSON* jpeg = cJSON_GetObjectItemCaseSensitive(rep, "compressed");
  if (cJSON_IsTrue(jpeg)) printf("  %-26s %s\n", "compressed", "yes (JPEG frames)");
}

// An episode report -> readable text on stdout.
void nfp_inspect_episode_print(const cJSON* rep) {
  char buf[256], dims[128];
  const cJSON* task = cJSON_GetObjectItemCaseSensitive(rep, "task");
  print_head(rep);
  printf("  %-26s %s\n", "task", task->valuestring);
  printf("  %-26s %.0f\n", "seed", nfp_inspect_num(rep, "seed"));
  printf("  %-26s %s\n", "success",
         nfp_inspect_value(buf, sizeof(buf), cJSON_GetObjectItemCaseSensitive(rep, "success")));
  print_cameras(rep);
  printf("  %-26s %g Hz\n", "control rate", nfp_inspect_num(rep, "control_hz"));
  printf("  %-26s %.0f frames", "length", nfp_inspect_num(rep, "frames"));
  double sec = nfp_inspect_num(rep, "seconds");
  if (isfinite(sec)) printf(" (%.1f s)", sec);
  printf("\nfields\n");
  const cJSON* f = NULL;
  cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(rep, "fields")) {
    const cJSON* shape = cJSON_GetObjectItemCaseSensitive(f, "shape");
    printf("  /%-25s [%s] %s\n", f->string, shape_text(dims, sizeof(dims), shape),
           nfp_inspect_value(buf, sizeof(buf), cJSON_GetObjectItemCaseSensitive(f, "dtype")));
  }
  printf("attributes\n");
  const cJSON* a = NULL;
  cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(rep, "attributes")) {
    printf("  %-26s %s\n", a->string, nfp_inspect_value(buf, sizeof(buf), a));
  }
}
