// Private: a strict reader and an atomic writer of float32 safetensors files.
#ifndef NFP_SAFETENSORS_H
#define NFP_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define NFP_ST_MAX_DIM 4
// __metadata__ key holding the CRC-32 of the data section (8 hex digits). The writer adds
// it, the reader checks it when present (files from other tools may lack it) and does not
// list it among the metadata.
#define NFP_ST_CRC_KEY "nfp.data_crc32"

typedef struct {
  const char* name;
  int ndim;
  size_t shape[NFP_ST_MAX_DIM];
  const float* data;
} nfp_st_tensor;

typedef struct {
  char* name;
  int ndim;
  size_t shape[NFP_ST_MAX_DIM];
  size_t count;      // floats
  const float* data; // into the file buffer (aligned copy)
} nfp_st_entry;

typedef struct {
  int n;
  nfp_st_entry* e;
  int n_meta;
  char** meta_key;
  char** meta_value;
  float* floats;     // all tensor data, 4-byte aligned
  int has_crc;       // the file carried NFP_ST_CRC_KEY
  uint32_t crc;
} nfp_st_file;

// Write tensors (in order, contiguous) and string metadata atomically.
int nfp_st_write(const char* path, const nfp_st_tensor* t, int n, const char* const* meta_key,
                 const char* const* meta_value, int n_meta);
// Read and validate (a regular file, header size, JSON, dtype F32 only, shapes whose
// element counts fit the data section, offsets in range and not overlapping, every byte of
// the data section used, the checksum when present, finite values). 0 or -1 with a message.
int nfp_st_read(nfp_st_file* f, const char* path);
void nfp_st_free(nfp_st_file* f);
const nfp_st_entry* nfp_st_find(const nfp_st_file* f, const char* name);
const char* nfp_st_meta(const nfp_st_file* f, const char* key);

#endif
