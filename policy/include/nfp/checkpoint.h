// Checkpoints: safetensors files (8-byte little-endian header size, JSON header,
// raw little-endian float32 data), readable from Python's safetensors.
//
// Tensors: every model parameter under its table name ("flow.3.mlp.in.weight"),
// the normalisation statistics ("norm.state_lo", "norm.state_hi", "norm.action_lo",
// "norm.action_hi"), and optional extra tensors whose names start with "train."
// (e.g. the trainer's AdamW moments). __metadata__ (string values) holds
// "format" = "nfp-policy", "format_version", "config" (the model configuration as
// JSON text), and any user key/values (e.g. "train_config").
//
// Loading refuses, naming the file and the problem: truncated file, bad header size,
// invalid JSON, missing or extra tensor, wrong dtype or shape, offsets out of range or
// overlapping, unknown format version, a configuration that does not match the one
// expected, NaN/Inf in any tensor, bad normalisation statistics.
#ifndef NFP_CHECKPOINT_H
#define NFP_CHECKPOINT_H

#include <stddef.h>

#include "nfp/model.h"

#ifdef __cplusplus
extern "C" {
#endif

#define NFP_CHECKPOINT_VERSION 1

// String key/values for __metadata__ (owned copies).
typedef struct nfp_meta_ {
  int n;
  char** key;
  char** value;
} nfp_meta;

// Add or replace a key. 0, or -1 with a message.
int nfp_meta_set(nfp_meta* meta, const char* key, const char* value);
const char* nfp_meta_get(const nfp_meta* meta, const char* key);  // NULL if absent
void nfp_meta_free(nfp_meta* meta);

// An extra float32 tensor to store beside the model; name must start with "train.".
typedef struct nfp_extra_tensor_ {
  const char* name;
  int ndim;             // 1..4
  size_t shape[4];
  const float* data;    // product(shape) floats
} nfp_extra_tensor;

// Write atomically (temporary file in the same folder, fsync, rename). params NULL
// saves model->params (pass the EMA buffer to save EMA weights). meta and extra may be
// NULL / 0. The reserved metadata keys above may not be set by the user.
int nfp_checkpoint_save(const char* path, const nfp_model* model, const float* params,
                        const nfp_meta* meta, const nfp_extra_tensor* extra, int n_extra);

// Load a model. expect (may be NULL) must equal the stored configuration. meta (may be
// NULL) receives the user key/values. NULL with a message on any defect.
nfp_model* nfp_checkpoint_load(const char* path, const nfp_model_config* expect,
                               nfp_meta* meta);

// Read an extra "train.*" tensor of exactly n floats into out (after validating the
// whole file as nfp_checkpoint_load does). 0, or -1 with a message (absent, wrong size).
int nfp_checkpoint_read_extra(const char* path, const char* name, float* out, size_t n);

// A checkpoint read into memory with one read of its file and validated as a whole
// (format, version, configuration, shapes, checksum, finite values). Everything taken from
// it (model, metadata, extra tensors) comes from that one snapshot, so a file rewritten
// meanwhile (a training run saving over it) cannot mix two versions.
typedef struct nfp_checkpoint_ nfp_checkpoint;

// NULL with a message on any defect. Free with nfp_checkpoint_free.
nfp_checkpoint* nfp_checkpoint_read(const char* path);
void nfp_checkpoint_free(nfp_checkpoint* ck);
const char* nfp_checkpoint_path(const nfp_checkpoint* ck);
// The model, as nfp_checkpoint_load returns it (expect and meta as there).
nfp_model* nfp_checkpoint_model(const nfp_checkpoint* ck, const nfp_model_config* expect,
                                nfp_meta* meta);
// 1 when the extra tensor name is present, else 0.
int nfp_checkpoint_has_extra(const nfp_checkpoint* ck, const char* name);
// The extra tensor name (exactly n floats) into out. 0, or -1 with a message.
int nfp_checkpoint_extra(const nfp_checkpoint* ck, const char* name, float* out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
