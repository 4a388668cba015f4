// nfp inspect: what a file nfp wrote holds (a checkpoint, an exported policy or a demo
// episode), as text or as one JSON object. nfp version: the build and its libraries.
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <mujoco/mujoco.h>

#include "args.h"
#include "commands.h"
#include "inspect.h"
#include "nfp/error.h"
#include "nfp/layers.h"

#ifndef NFP_VERSION
#define NFP_VERSION "unknown"
#endif
#ifndef NFP_GIT_COMMIT
#define NFP_GIT_COMMIT ""
#endif

static const char* about =
    "Prints what FILE holds. A checkpoint or policy (.safetensors): the model (encoder, image\n"
    "size, state, chunk, flow, parameters), the demos it was trained on, the training\n"
    "configuration, the final metrics, which weights the model holds and whether\n"
    "nfp train --resume can continue it. An episode (.hdf5, nfp's or as the ALOHA / ACT\n"
    "tools record it): layout, task, seed, success, cameras, control rate, length, the\n"
    "datasets with their shapes and types, and the attributes.\n"
    "The file is validated as the loaders do; a damaged one is refused (exit 1).";

//---------------------------------- shared by the printers -----------------------------------

// rep[key] -> its number, NAN when absent or not a number.
double nfp_inspect_num(const cJSON* rep, const char* key) {
  const cJSON* v = rep ? cJSON_GetObjectItemCaseSensitive(rep, key) : NULL;
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

// A JSON value -> "yes"/"no", "%g", the string itself, or "?" into buf.
const char* nfp_inspect_value(char* buf, size_t cap, const cJSON* v) {
  if (cJSON_IsBool(v)) {
    snprintf(buf, cap, "%s", cJSON_IsTrue(v) ? "yes" : "no");
  } else if (cJSON_IsNumber(v)) {
    snprintf(buf, cap, "%g", v->valuedouble);
  } else if (cJSON_IsString(v)) {
    snprintf(buf, cap, "%s", v->valuestring);
  } else {
    snprintf(buf, cap, "%s", v ? "?" : "not recorded");
  }
  return buf;
}

// bytes -> "10.7 MiB (11226808 bytes)" into buf.
const char* nfp_inspect_size(char* buf, size_t cap, double bytes) {
  static const char* const units[] = {"bytes", "KiB", "MiB", "GiB"};
  double v = bytes;
  int u = 0;
  while (v >= 1024 && u < 3) v /= 1024, u++;
  if (u == 0) {
    snprintf(buf, cap, "%.0f bytes", bytes);
  } else {
    snprintf(buf, cap, "%.1f %s (%.0f bytes)", v, units[u], bytes);
  }
  return buf;
}

//---------------------------------- inspect --------------------------------------------------

typedef enum { KIND_UNKNOWN, KIND_CHECKPOINT, KIND_EPISODE } file_kind;

// 1 when s ends with suffix.
static int ends_with(const char* s, const char* suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

// path's first bytes (HDF5 signature, or a safetensors header size then '{'), else its
// name -> what it is. -1 (error set) when it cannot be read.
static int sniff(const char* path, file_kind* kind, double* bytes) {
  struct stat sb;
  if (stat(path, &sb) != 0) return nfp_error_set("%s: %s", path, strerror(errno));
  if (S_ISDIR(sb.st_mode)) return nfp_error_set("%s is a folder; give one file", path);
  if (!S_ISREG(sb.st_mode)) return nfp_error_set("%s: not a regular file", path);
  *bytes = (double)sb.st_size;
  unsigned char head[9] = {0};
  FILE* f = fopen(path, "rb");
  if (!f) return nfp_error_set("cannot read %s: %s", path, strerror(errno));
  size_t n = fread(head, 1, sizeof(head), f);
  fclose(f);
  *kind = KIND_UNKNOWN;
  if (n >= 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8)) {
    *kind = KIND_EPISODE;
  } else if (n == 9 && head[8] == '{' && head[6] == 0 && head[7] == 0) {
    *kind = KIND_CHECKPOINT;
  } else if (ends_with(path, ".safetensors")) {
    *kind = KIND_CHECKPOINT;  // its loader says what is wrong with it
  } else if (ends_with(path, ".hdf5") || ends_with(path, ".h5")) {
    *kind = KIND_EPISODE;
  }
  return 0;
}

// path -> its report (text, or JSON when json) on stdout; camera (NULL or a name) must be
// one of an episode's. 0 or -1 (error set).
static int inspect(const char* path, int json, const char* camera) {
  file_kind kind = KIND_UNKNOWN;
  double bytes = 0;
  if (sniff(path, &kind, &bytes) != 0) return -1;
  if (bytes == 0) return nfp_error_set("%s is empty (an interrupted copy or save?)", path);
  if (kind == KIND_UNKNOWN) {
    return nfp_error_set("%s is neither an nfp checkpoint or policy (safetensors) nor a demo "
                         "episode (HDF5): its first bytes match neither format", path);
  }
  if (camera && kind != KIND_EPISODE) {
    return nfp_error_set("--camera is for episodes (.hdf5); %s is a checkpoint or policy", path);
  }
  cJSON* rep = kind == KIND_EPISODE ? nfp_inspect_episode(path, bytes, camera)
                                    : nfp_inspect_checkpoint(path, bytes);
  if (!rep) return -1;
  if (json) {
    char* text = cJSON_Print(rep);
    if (text) printf("%s\n", text);
    cJSON_free(text);
  } else if (kind == KIND_EPISODE) {
    nfp_inspect_episode_print(rep);
  } else {
    nfp_inspect_checkpoint_print(rep);
  }
  cJSON_Delete(rep);
  return 0;
}

// argv -> the report of FILE; exit 0, 1 (unreadable or not an nfp file) or 2 (bad flags).
int nfp_cmd_inspect(int argc, char** argv) {
  const char* usage = "nfp inspect FILE [--json] [--camera NAME]";
  const char* file = NULL;
  char* flags[64];
  int nflags = 0;
  for (int i = 0; i < argc; i++) {  // FILE is the one word that is not a flag or its value
    int word = i > 0 && argv[i][0] != '-' && strcmp(argv[i - 1], "--camera");
    if (word && !file) {
      file = argv[i];
    } else if (word) {
      fprintf(stderr, "nfp inspect: one FILE at a time (got '%s' and '%s')\n", file, argv[i]);
      return 2;
    } else if (nflags < 64) {
      flags[nflags++] = argv[i];
    }
  }
  int json = 0;
  const char* camera = NULL;
  nfp_arg args[] = {
      {"--json", NFP_ARG_FLAG, &json, NULL, "print one JSON object instead of text", 0, 0, 0},
      {"--camera", NFP_ARG_STR, &camera, "NAME",
       "an episode's camera to check and report as the one read (default: cam_high, else the "
       "first by name)", 0, 0, 0},
  };
  int rc = nfp_args_parse(nflags, flags, args, 2, usage, about);
  if (rc) return rc == 1 ? 0 : 2;
  if (!file) {
    fprintf(stderr, "nfp inspect: which file? usage: %s\n", usage);
    return 2;
  }
  if (inspect(file, json, camera) != 0) {
    fprintf(stderr, "nfp inspect: %s\n", nfp_error_last());
    return 1;
  }
  return 0;
}

//---------------------------------- version --------------------------------------------------

// The build -> "nfp X.Y.Z (commit abc1234)", then the MuJoCo and OpenBLAS it runs with.
int nfp_cmd_version(int argc, char** argv) {
  (void)argc;
  (void)argv;
  printf("nfp %s", NFP_VERSION);
  if (NFP_GIT_COMMIT[0]) printf(" (commit %s)", NFP_GIT_COMMIT);
  const char* mj = mj_versionString();
  printf("\nMuJoCo %s\n", mj && *mj ? mj : "(version unknown)");
  char blas[256];
  const char* cfg = openblas_get_config();
  if (cfg && !strncmp(cfg, "OpenBLAS ", 9)) cfg += 9;  // it names itself
  snprintf(blas, sizeof(blas), "%s", cfg && *cfg ? cfg : "(configuration unknown)");
  for (size_t n = strlen(blas); n > 0 && blas[n - 1] == ' '; n--) blas[n - 1] = '\0';
  printf("OpenBLAS %s%s\n", blas,
         nfp_blas_core_fitted() ? " (kernels chosen by nfp from the CPU's instruction sets: "
                                  "this OpenBLAS did not recognise the CPU)" : "");
  return 0;
}
