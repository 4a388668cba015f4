// Per-epoch training metrics as JSON lines: one object per finished epoch, the file
// rewritten whole (atomically) after every epoch so a reader never sees a torn line.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"
#include "nfp/train.h"
#include "train_internal.h"

// A float-precision value -> the double of its 7 significant digits (prints short in JSON).
static double sig7(double v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%.7g", v);
  return strtod(buf, NULL);
}

// key: v rounded, or null when v is not finite (JSON has no NaN).
static void add_number(cJSON* j, const char* key, double v) {
  if (isfinite(v)) {
    cJSON_AddNumberToObject(j, key, sig7(v));
  } else {
    cJSON_AddNullToObject(j, key);
  }
}

// tr after an epoch -> {"epoch":..,"stage":..,...} on one line.
char* nfp_trainer_metrics_json(const nfp_trainer* tr) {
  int e = tr->epoch - 1;
  if (e < 0) return NULL;
  cJSON* j = cJSON_CreateObject();
  if (!j) return NULL;
  int batch = nfp_schedule_batch(&tr->sched, e);
  if (batch > tr->ds->n_train) batch = tr->ds->n_train;  // what the epoch really used
  cJSON_AddNumberToObject(j, "epoch", tr->epoch);
  cJSON_AddNumberToObject(j, "stage", nfp_schedule_stage(&tr->sched, e) + 1);
  cJSON_AddNumberToObject(j, "batch", batch);
  add_number(j, "lr", nfp_schedule_lr(&tr->sched, e, 1.0f, tr->step));
  add_number(j, "train_nll", tr->hist_train[e]);
  add_number(j, "val_nll", tr->hist_val[e]);
  if (isfinite(tr->aux_mse)) {
    add_number(j, "object_mse", tr->aux_mse);
    add_number(j, "val_object_mse", tr->val_aux_mse);
  }
  if (tr->rollout_episodes > 0) {  // closed-loop success (nfp train --eval-every)
    add_number(j, "rollout_success", (double)tr->rollout_successes / tr->rollout_episodes);
    cJSON_AddNumberToObject(j, "rollout_episodes", tr->rollout_episodes);
  }
  add_number(j, "samples_per_s", tr->samples_per_s);
  add_number(j, "seconds", tr->epoch_seconds);
  if (tr->group) {  // data-parallel: the ranks and the share of the epoch spent summing
    cJSON_AddNumberToObject(j, "ranks", tr->group->size);
    add_number(j, "comm_share", tr->epoch_seconds > 0.0 ? tr->comm_seconds / tr->epoch_seconds
                                                        : 0.0);
  }
  if (tr->best_epoch > 0) cJSON_AddNumberToObject(j, "best_epoch", tr->best_epoch);
  char* s = cJSON_PrintUnformatted(j);
  cJSON_Delete(j);
  return s;
}

// line (n bytes, no newline) -> appended to ml->text with a newline. 0 or -1.
static int push_line(nfp_metrics_log* ml, const char* line, size_t n) {
  if (ml->len + n + 2 > ml->cap) {
    size_t cap = 2 * ml->cap + n + 256;
    char* t = realloc(ml->text, cap);
    if (!t) return nfp_error_set("%s: out of memory", ml->path);
    ml->text = t;
    ml->cap = cap;
  }
  memcpy(ml->text + ml->len, line, n);
  ml->len += n;
  ml->text[ml->len++] = '\n';
  ml->text[ml->len] = '\0';
  return 0;
}

// One line of an earlier file -> its epoch when it is a JSON object with one, else -1.
static int line_epoch(const char* line, size_t n) {
  cJSON* j = cJSON_ParseWithLength(line, n);
  const cJSON* e = j ? cJSON_GetObjectItemCaseSensitive(j, "epoch") : NULL;
  int epoch = cJSON_IsNumber(e) ? (int)e->valuedouble : -1;
  cJSON_Delete(j);
  return epoch;
}

// The whole file at path -> a malloc'd buffer and its length; NULL when it does not open.
static char* slurp(const char* path, size_t* len, int* oom) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  char* buf = NULL;
  size_t cap = 0, got;
  char chunk[8192];
  *len = 0;
  while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
    if (*len + got > cap) {
      char* b = realloc(buf, 2 * (*len + got));
      if (!b) break;
      buf = b;
      cap = 2 * (*len + got);
    }
    memcpy(buf + *len, chunk, got);
    *len += got;
  }
  fclose(f);
  *oom = got > 0;
  return buf ? buf : (*oom ? NULL : calloc(1, 1));
}

// The file at path (when it opens) -> its lines of epochs 1..keep into ml. 1 read, 0 no
// file, -1 error.
static int keep_lines(nfp_metrics_log* ml, const char* path, int keep) {
  size_t len = 0;
  int oom = 0;
  char* buf = slurp(path, &len, &oom);
  if (oom) {
    free(buf);
    return nfp_error_set("%s: out of memory reading it", path);
  }
  if (!buf) return 0;
  int rc = 1;
  for (size_t at = 0; rc == 1 && at < len;) {
    char* nl = memchr(buf + at, '\n', len - at);
    size_t n = nl ? (size_t)(nl - (buf + at)) : len - at;
    int e = nl ? line_epoch(buf + at, n) : -1;  // an unfinished last line is dropped
    if (e >= 1 && e <= keep && push_line(ml, buf + at, n) != 0) rc = -1;
    at += n + 1;
  }
  free(buf);
  return rc;
}

// path (and prior) -> ml holding the lines worth keeping. 0 or -1.
int nfp_metrics_log_open(nfp_metrics_log* ml, const char* path, const char* prior, int keep) {
  memset(ml, 0, sizeof(*ml));
  ml->path = path;
  if (keep < 1) return 0;
  int rc = keep_lines(ml, path, keep);
  if (rc == 0 && prior && strcmp(prior, path) != 0) rc = keep_lines(ml, prior, keep);
  if (rc < 0) nfp_metrics_log_free(ml);
  return rc < 0 ? -1 : 0;
}

// tr's last epoch -> a new line in ml -> the whole file written atomically. 0 or -1.
int nfp_metrics_log_append(nfp_metrics_log* ml, const nfp_trainer* tr) {
  char* line = nfp_trainer_metrics_json(tr);
  if (!line) return nfp_error_set("%s: out of memory", ml->path);
  int rc = push_line(ml, line, strlen(line));
  free(line);
  if (rc == 0) rc = nfp_atomic_write_file(ml->path, ml->text, ml->len, 0666);
  return rc;
}

// ml's buffer -> freed.
void nfp_metrics_log_free(nfp_metrics_log* ml) {
  free(ml->text);
  memset(ml, 0, sizeof(*ml));
}
