// Model checkpoints on top of the safetensors reader/writer.
#include "nfp/checkpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "safetensors.h"

static const char* reserved[] = {"format", "format_version", "config"};

int nfp_meta_set(nfp_meta* meta, const char* key, const char* value) {
  for (int i = 0; i < meta->n; i++) {
    if (strcmp(meta->key[i], key) == 0) {
      char* v = strdup(value);
      if (!v) return nfp_error_set("metadata: out of memory");
      free(meta->value[i]);
      meta->value[i] = v;
      return 0;
    }
  }
  char** k = realloc(meta->key, sizeof(char*) * (size_t)(meta->n + 1));
  if (k) meta->key = k;
  char** v = realloc(meta->value, sizeof(char*) * (size_t)(meta->n + 1));
  if (v) meta->value = v;
  if (!k || !v) return nfp_error_set("metadata: out of memory");
  meta->key[meta->n] = strdup(key);
  meta->value[meta->n] = strdup(value);
  if (!meta->key[meta->n] || !meta->value[meta->n]) {
    free(meta->key[meta->n]);
    free(meta->value[meta->n]);
    return nfp_error_set("metadata: out of memory");
  }
  meta->n++;
  return 0;
}

const char* nfp_meta_get(const nfp_meta* meta, const char* key) {
  for (int i = 0; i < meta->n; i++) {
    if (strcmp(meta->key[i], key) == 0) return meta->value[i];
  }
  return NULL;
}

void nfp_meta_free(nfp_meta* meta) {
  for (int i = 0; i < meta->n; i++) {
    free(meta->key[i]);
    free(meta->value[i]);
  }
  free(meta->key);
  free(meta->value);
  memset(meta, 0, sizeof(*meta));
}

static int is_reserved(const char* key) {
  for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
    if (strcmp(key, reserved[i]) == 0) return 1;
  }
  return 0;
}

static int is_extra_name(const char* name) { return strncmp(name, "train.", 6) == 0; }

int nfp_checkpoint_save(const char* path, const nfp_model* m, const float* params,
                        const nfp_meta* meta, const nfp_extra_tensor* extra, int n_extra) {
  if (!params) params = m->params;
  int n_user = meta ? meta->n : 0;
  for (int i = 0; i < n_user; i++) {
    if (is_reserved(meta->key[i])) {
      return nfp_error_set("saving %s: metadata key \"%s\" is reserved", path, meta->key[i]);
    }
  }
  for (int i = 0; i < n_extra; i++) {
    if (!is_extra_name(extra[i].name) || extra[i].ndim < 1 || extra[i].ndim > NFP_ST_MAX_DIM) {
      return nfp_error_set("saving %s: extra tensor \"%s\" needs a \"train.\" name and 1..%d "
                           "dimensions", path, extra[i].name, NFP_ST_MAX_DIM);
    }
  }
  int n = m->table.n + 4 + n_extra;
  nfp_st_tensor* t = calloc((size_t)n, sizeof(*t));
  const char** mk = calloc((size_t)n_user + 3, sizeof(char*));
  const char** mv = calloc((size_t)n_user + 3, sizeof(char*));
  char* config = nfp_model_config_to_json(&m->cfg);
  char version[16];
  snprintf(version, sizeof(version), "%d", NFP_CHECKPOINT_VERSION);
  int rc = 0;
  if (!t || !mk || !mv || !config) rc = nfp_error_set("saving %s: out of memory", path);
  if (rc == 0) {
    int k = 0;
    for (int i = 0; i < m->table.n; i++, k++) {
      const nfp_tensor_info* ti = &m->table.t[i];
      t[k] = (nfp_st_tensor){ti->name, ti->ndim, {0}, params + ti->offset};
      for (int d = 0; d < ti->ndim; d++) t[k].shape[d] = (size_t)ti->shape[d];
    }
    size_t S = (size_t)m->cfg.state_dim, A = (size_t)m->cfg.action_dim;
    t[k++] = (nfp_st_tensor){"norm.state_lo", 1, {S}, m->state_lo};
    t[k++] = (nfp_st_tensor){"norm.state_hi", 1, {S}, m->state_hi};
    t[k++] = (nfp_st_tensor){"norm.action_lo", 1, {A}, m->action_lo};
    t[k++] = (nfp_st_tensor){"norm.action_hi", 1, {A}, m->action_hi};
    for (int i = 0; i < n_extra; i++, k++) {
      t[k].name = extra[i].name;
      t[k].ndim = extra[i].ndim;
      memcpy(t[k].shape, extra[i].shape, sizeof(size_t) * (size_t)extra[i].ndim);
      t[k].data = extra[i].data;
    }
    mk[0] = "format", mv[0] = "nfp-policy";
    mk[1] = "format_version", mv[1] = version;
    mk[2] = "config", mv[2] = config;
    for (int i = 0; i < n_user; i++) mk[3 + i] = meta->key[i], mv[3 + i] = meta->value[i];
    rc = nfp_st_write(path, t, n, mk, mv, n_user + 3);
  }
  free(t);
  free(mk);
  free(mv);
  free(config);
  return rc;
}

// Read and validate the whole file; on success *f is filled and *cfg holds its config.
static int read_checked(nfp_st_file* f, nfp_model_config* cfg, const char* path) {
  if (nfp_st_read(f, path) != 0) return -1;
  const char* format = nfp_st_meta(f, "format");
  const char* version = nfp_st_meta(f, "format_version");
  const char* config = nfp_st_meta(f, "config");
  int rc = 0;
  char want[16];
  snprintf(want, sizeof(want), "%d", NFP_CHECKPOINT_VERSION);
  if (!format || strcmp(format, "nfp-policy") != 0) {
    rc = nfp_error_set("%s: not an nfp policy checkpoint (__metadata__ format is %s)", path,
                       format ? format : "missing");
  } else if (!version || strcmp(version, want) != 0) {
    rc = nfp_error_set("%s: unknown format version %s (this build reads version %s)", path,
                       version ? version : "(missing)", want);
  } else if (!config) {
    rc = nfp_error_set("%s: __metadata__ has no model config", path);
  } else if (nfp_model_config_from_json(cfg, config) != 0) {
    rc = nfp_error_wrap("%s", path);
  }
  if (rc != 0) nfp_st_free(f);
  return rc;
}

static int fill_tensor(float* dst, const nfp_st_file* f, const char* name, int ndim,
                       const size_t* shape, const char* path) {
  const nfp_st_entry* e = nfp_st_find(f, name);
  if (!e) return nfp_error_set("%s: missing tensor \"%s\"", path, name);
  int ok = e->ndim == ndim;
  for (int d = 0; ok && d < ndim; d++) ok = e->shape[d] == shape[d];
  if (!ok) {
    char got[64] = "", exp[64] = "";
    for (int d = 0; d < e->ndim; d++) {
      snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%zu", d ? "," : "", e->shape[d]);
    }
    for (int d = 0; d < ndim; d++) {
      snprintf(exp + strlen(exp), sizeof(exp) - strlen(exp), "%s%zu", d ? "," : "", shape[d]);
    }
    return nfp_error_set("%s: tensor \"%s\" has shape [%s], expected [%s]", path, name, got, exp);
  }
  memcpy(dst, e->data, sizeof(float) * e->count);
  return 0;
}

struct nfp_checkpoint_ {
  nfp_st_file f;
  nfp_model_config cfg;  // the stored configuration
  char* path;            // for messages
};

// path -> one read of the whole file -> a validated in-memory checkpoint (NULL on a defect).
nfp_checkpoint* nfp_checkpoint_read(const char* path) {
  nfp_checkpoint* ck = calloc(1, sizeof(*ck));
  char* p = strdup(path);
  if (!ck || !p) {
    free(ck);
    free(p);
    nfp_error_set("%s: out of memory", path);
    return NULL;
  }
  ck->path = p;
  if (read_checked(&ck->f, &ck->cfg, path) != 0) {
    free(ck->path);
    free(ck);
    return NULL;
  }
  return ck;
}

// The buffers of ck -> freed (NULL is fine).
void nfp_checkpoint_free(nfp_checkpoint* ck) {
  if (!ck) return;
  nfp_st_free(&ck->f);
  free(ck->path);
  free(ck);
}

// ck -> the path it was read from.
const char* nfp_checkpoint_path(const nfp_checkpoint* ck) { return ck->path; }

// The norm.* tensors of ck -> m's normalisation statistics. 0 or -1.
static int fill_norm(nfp_model* m, const nfp_checkpoint* ck) {
  size_t S = (size_t)ck->cfg.state_dim, A = (size_t)ck->cfg.action_dim;
  float* norm = malloc(sizeof(float) * 2 * (S + A));
  int rc = norm ? 0 : nfp_error_set("%s: out of memory", ck->path);
  if (rc == 0) rc = fill_tensor(norm, &ck->f, "norm.state_lo", 1, &S, ck->path);
  if (rc == 0) rc = fill_tensor(norm + S, &ck->f, "norm.state_hi", 1, &S, ck->path);
  if (rc == 0) rc = fill_tensor(norm + 2 * S, &ck->f, "norm.action_lo", 1, &A, ck->path);
  if (rc == 0) rc = fill_tensor(norm + 2 * S + A, &ck->f, "norm.action_hi", 1, &A, ck->path);
  if (rc == 0 && nfp_model_set_norm(m, norm, norm + S, norm + 2 * S, norm + 2 * S + A) != 0) {
    rc = nfp_error_wrap("%s", ck->path);
  }
  free(norm);
  return rc;
}

// Every tensor of ck -> 0 when it is a parameter of m, a norm.* statistic or a train.* extra.
static int check_names(const nfp_model* m, const nfp_checkpoint* ck) {
  for (int i = 0; i < ck->f.n; i++) {
    const char* name = ck->f.e[i].name;
    if (!nfp_ptable_find(&m->table, name) && strncmp(name, "norm.", 5) != 0 &&
        !is_extra_name(name)) {
      return nfp_error_set("%s: unexpected tensor \"%s\" (not part of this model)", ck->path,
                           name);
    }
    if (strncmp(name, "norm.", 5) == 0 && strcmp(name, "norm.state_lo") != 0 &&
        strcmp(name, "norm.state_hi") != 0 && strcmp(name, "norm.action_lo") != 0 &&
        strcmp(name, "norm.action_hi") != 0) {
      return nfp_error_set("%s: unexpected tensor \"%s\"", ck->path, name);
    }
  }
  return 0;
}

// ck's user metadata -> meta (reserved keys left out). 0 or -1 (meta freed).
static int copy_meta(nfp_meta* meta, const nfp_checkpoint* ck) {
  memset(meta, 0, sizeof(*meta));
  int rc = 0;
  for (int i = 0; rc == 0 && i < ck->f.n_meta; i++) {
    if (!is_reserved(ck->f.meta_key[i])) {
      rc = nfp_meta_set(meta, ck->f.meta_key[i], ck->f.meta_value[i]);
    }
  }
  if (rc != 0) nfp_meta_free(meta);
  return rc;
}

// ck (already read) -> a new model with its weights and statistics, and its metadata.
nfp_model* nfp_checkpoint_model(const nfp_checkpoint* ck, const nfp_model_config* expect,
                                nfp_meta* meta) {
  if (expect && nfp_model_config_compare(&ck->cfg, expect) != 0) {
    nfp_error_wrap("%s: configuration mismatch", ck->path);
    return NULL;
  }
  // A hostile config must not make us allocate more than the file could fill.
  size_t in_file = 0;
  for (int i = 0; i < ck->f.n; i++) in_file += ck->f.e[i].count;
  nfp_model* m = nfp_model_create_within(&ck->cfg, 0, in_file);
  int rc = m ? 0 : nfp_error_wrap("%s", ck->path);
  for (int i = 0; rc == 0 && i < m->table.n; i++) {
    const nfp_tensor_info* ti = &m->table.t[i];
    size_t shape[NFP_TENSOR_MAX_DIM] = {0};
    for (int d = 0; d < ti->ndim; d++) shape[d] = (size_t)ti->shape[d];
    rc = fill_tensor(m->params + ti->offset, &ck->f, ti->name, ti->ndim, shape, ck->path);
  }
  if (rc == 0) rc = fill_norm(m, ck);
  if (rc == 0) rc = check_names(m, ck);
  if (rc == 0 && meta) rc = copy_meta(meta, ck);
  if (rc != 0) {
    nfp_model_free(m);
    return NULL;
  }
  return m;
}

// path -> one read -> the model (see nfp_checkpoint_model).
nfp_model* nfp_checkpoint_load(const char* path, const nfp_model_config* expect,
                               nfp_meta* meta) {
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  if (!ck) return NULL;
  nfp_model* m = nfp_checkpoint_model(ck, expect, meta);
  nfp_checkpoint_free(ck);
  return m;
}

// ck, name -> 1 when ck holds the extra tensor name.
int nfp_checkpoint_has_extra(const nfp_checkpoint* ck, const char* name) {
  return is_extra_name(name) && nfp_st_find(&ck->f, name) != NULL;
}

// ck's extra tensor name -> out[0..n) (its size must be n). 0 or -1.
int nfp_checkpoint_extra(const nfp_checkpoint* ck, const char* name, float* out, size_t n) {
  const nfp_st_entry* e = nfp_st_find(&ck->f, name);
  if (!e || !is_extra_name(name)) {
    return nfp_error_set("%s: no extra tensor \"%s\"", ck->path, name);
  }
  if (e->count != n) {
    return nfp_error_set("%s: extra tensor \"%s\" has %zu values, expected %zu", ck->path, name,
                         e->count, n);
  }
  memcpy(out, e->data, sizeof(float) * n);
  return 0;
}

// path -> one read -> its extra tensor name into out (see nfp_checkpoint_extra).
int nfp_checkpoint_read_extra(const char* path, const char* name, float* out, size_t n) {
  nfp_checkpoint* ck = nfp_checkpoint_read(path);
  if (!ck) return -1;
  int rc = nfp_checkpoint_extra(ck, name, out, n);
  nfp_checkpoint_free(ck);
  return rc;
}
