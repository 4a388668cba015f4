// safetensors I/O: 8-byte little-endian header size, JSON header, raw little-endian data.
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "nfp/atomic_file.h"
#include "nfp/error.h"

#define MAX_HEADER (100u << 20)

static void put_le32(unsigned char* p, const float* f) {
  uint32_t u;
  memcpy(&u, f, 4);
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(u >> (8 * i));
}

static float get_le32(const unsigned char* p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; i++) u |= (uint32_t)p[i] << (8 * i);
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static char* build_header(const nfp_st_tensor* t, int n, const char* const* mk,
                          const char* const* mv, int n_meta, uint32_t crc) {
  cJSON* root = cJSON_CreateObject();
  if (!root) return NULL;
  cJSON* meta = cJSON_AddObjectToObject(root, "__metadata__");
  for (int i = 0; meta && i < n_meta; i++) {
    if (!cJSON_AddStringToObject(meta, mk[i], mv[i])) meta = NULL;
  }
  char crc_text[16];
  snprintf(crc_text, sizeof(crc_text), "%08x", (unsigned)crc);
  if (!meta || !cJSON_AddStringToObject(meta, NFP_ST_CRC_KEY, crc_text)) goto fail;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    cJSON* e = cJSON_AddObjectToObject(root, t[i].name);
    if (!e || !cJSON_AddStringToObject(e, "dtype", "F32")) goto fail;
    cJSON* shape = cJSON_AddArrayToObject(e, "shape");
    cJSON* offs = cJSON_AddArrayToObject(e, "data_offsets");
    if (!shape || !offs) goto fail;
    size_t count = 1;
    for (int d = 0; d < t[i].ndim; d++) {
      count *= t[i].shape[d];
      cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t[i].shape[d]));
    }
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
    off += 4 * count;
    cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
  }
  char* text = cJSON_PrintUnformatted(root);
  cJSON_Delete(root);
  return text;
fail:
  cJSON_Delete(root);
  return NULL;
}

// Stream every tensor's data as little-endian bytes to sink (CRC pass, then file pass).
typedef int (*byte_sink)(void* ctx, const unsigned char* p, size_t n);

static int for_each_data_block(const nfp_st_tensor* t, int n, byte_sink sink, void* ctx) {
  unsigned char buf[4096];
  for (int i = 0; i < n; i++) {
    size_t count = 1;
    for (int d = 0; d < t[i].ndim; d++) count *= t[i].shape[d];
    for (size_t j = 0; j < count; j += 1024) {
      size_t m = count - j < 1024 ? count - j : 1024;
      for (size_t q = 0; q < m; q++) put_le32(buf + 4 * q, t[i].data + j + q);
      if (sink(ctx, buf, 4 * m)) return -1;
    }
  }
  return 0;
}

static int crc_sink(void* ctx, const unsigned char* p, size_t n) {
  uLong* crc = ctx;
  *crc = crc32(*crc, p, (uInt)n);
  return 0;
}

static int file_sink(void* ctx, const unsigned char* p, size_t n) {
  return nfp_atomic_write(ctx, p, n);
}

int nfp_st_write(const char* path, const nfp_st_tensor* t, int n, const char* const* mk,
                 const char* const* mv, int n_meta) {
  for (int i = 0; i < n_meta; i++) {
    if (!strcmp(mk[i], NFP_ST_CRC_KEY)) {
      return nfp_error_set("writing %s: metadata key \"%s\" is reserved", path, mk[i]);
    }
  }
  uLong crc = crc32(0L, Z_NULL, 0);
  for_each_data_block(t, n, crc_sink, &crc);
  char* header = build_header(t, n, mk, mv, n_meta, (uint32_t)crc);
  if (!header) return nfp_error_set("writing %s: out of memory building the header", path);
  size_t hlen = strlen(header);
  size_t padded = (hlen + 7) & ~(size_t)7;  // data starts 8-byte aligned
  unsigned char* head = malloc(8 + padded);
  if (!head) {
    free(header);
    return nfp_error_set("writing %s: out of memory", path);
  }
  for (int i = 0; i < 8; i++) head[i] = (unsigned char)((uint64_t)padded >> (8 * i));
  memcpy(head + 8, header, hlen);
  memset(head + 8 + hlen, ' ', padded - hlen);
  free(header);
  nfp_atomic_file out;
  int rc = nfp_atomic_begin(&out, path, 0666);
  if (rc == 0) rc = nfp_atomic_write(&out, head, 8 + padded);
  if (rc == 0) rc = for_each_data_block(t, n, file_sink, &out);
  free(head);
  if (rc != 0) {
    nfp_atomic_abort(&out);
    return -1;
  }
  return nfp_atomic_commit(&out);
}

void nfp_st_free(nfp_st_file* f) {
  for (int i = 0; i < f->n; i++) free(f->e[i].name);
  free(f->e);
  for (int i = 0; i < f->n_meta; i++) {
    free(f->meta_key[i]);
    free(f->meta_value[i]);
  }
  free(f->meta_key);
  free(f->meta_value);
  free(f->floats);
  memset(f, 0, sizeof(*f));
}

typedef struct {
  size_t begin, end;
  int idx;
} span;

static int cmp_span(const void* a, const void* b) {
  const span* x = a;
  const span* y = b;
  return x->begin < y->begin ? -1 : (x->begin > y->begin ? 1 : 0);
}

// Non-negative integer value of a JSON number (-1 when it is not one).
static double whole(const cJSON* v) {
  if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != floor(v->valuedouble) ||
      v->valuedouble > 9e15) {
    return -1;
  }
  return v->valuedouble;
}

static int parse_meta(nfp_st_file* f, const cJSON* meta, const char* path) {
  if (!cJSON_IsObject(meta)) return nfp_error_set("%s: __metadata__ is not an object", path);
  // JSON parsers keep repeated keys; a second block would overwrite the first's arrays.
  if (f->meta_key) return nfp_error_set("%s: __metadata__ appears twice", path);
  int n = cJSON_GetArraySize(meta);
  f->meta_key = calloc((size_t)n + 1, sizeof(char*));
  f->meta_value = calloc((size_t)n + 1, sizeof(char*));
  if (!f->meta_key || !f->meta_value) return nfp_error_set("%s: out of memory", path);
  for (const cJSON* it = meta->child; it; it = it->next) {
    if (!cJSON_IsString(it)) {
      return nfp_error_set("%s: __metadata__ value \"%s\" is not a string", path, it->string);
    }
    if (!strcmp(it->string, NFP_ST_CRC_KEY)) {  // the reader's own, not the caller's
      char* end;
      unsigned long v = strtoul(it->valuestring, &end, 16);
      if (strlen(it->valuestring) != 8 || *end || v > 0xffffffffUL) {
        return nfp_error_set("%s: __metadata__ %s is not 8 hex digits", path, NFP_ST_CRC_KEY);
      }
      f->has_crc = 1;
      f->crc = (uint32_t)v;
      continue;
    }
    f->meta_key[f->n_meta] = strdup(it->string);
    f->meta_value[f->n_meta] = strdup(it->valuestring);
    if (!f->meta_key[f->n_meta] || !f->meta_value[f->n_meta]) {
      return nfp_error_set("%s: out of memory", path);
    }
    f->n_meta++;
  }
  return 0;
}

static int parse_entry(nfp_st_entry* e, span* sp, const cJSON* it, size_t data_len,
                       const char* path) {
  const char* name = it->string;
  if (!cJSON_IsObject(it)) return nfp_error_set("%s: tensor \"%s\" is not an object", path, name);
  const cJSON* dtype = cJSON_GetObjectItemCaseSensitive(it, "dtype");
  const cJSON* shape = cJSON_GetObjectItemCaseSensitive(it, "shape");
  const cJSON* offs = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
  if (!cJSON_IsString(dtype) || strcmp(dtype->valuestring, "F32") != 0) {
    return nfp_error_set("%s: tensor \"%s\" has dtype %s, expected F32", path, name,
                         cJSON_IsString(dtype) ? dtype->valuestring : "(missing)");
  }
  if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > NFP_ST_MAX_DIM) {
    return nfp_error_set("%s: tensor \"%s\" has a bad shape (an array of at most %d sizes)", path,
                         name, NFP_ST_MAX_DIM);
  }
  e->ndim = cJSON_GetArraySize(shape);
  e->count = 1;
  // The element count is bounded by what the data section can hold before it is
  // multiplied any further, so 4 * count can never wrap.
  size_t most = data_len / 4;
  for (int d = 0; d < e->ndim; d++) {
    double v = whole(cJSON_GetArrayItem(shape, d));
    if (v < 0 || v > 1e12) return nfp_error_set("%s: tensor \"%s\" has a bad shape", path, name);
    e->shape[d] = (size_t)v;
    if (e->shape[d] != 0 && e->count > most / e->shape[d]) {
      return nfp_error_set("%s: tensor \"%s\" has a shape with more elements than the %zu-byte "
                           "data section holds", path, name, data_len);
    }
    e->count *= e->shape[d];
  }
  if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2) {
    return nfp_error_set("%s: tensor \"%s\" needs data_offsets [begin, end]", path, name);
  }
  double b = whole(cJSON_GetArrayItem(offs, 0)), en = whole(cJSON_GetArrayItem(offs, 1));
  if (b < 0 || en < b) {
    return nfp_error_set("%s: tensor \"%s\" has bad data_offsets", path, name);
  }
  if (en > (double)data_len) {
    return nfp_error_set("%s: tensor \"%s\" ends at byte %.0f but the data section has %zu "
                         "bytes (file truncated or offsets out of range)", path, name, en,
                         data_len);
  }
  if ((size_t)(en - b) != 4 * e->count) {
    return nfp_error_set("%s: tensor \"%s\" spans %.0f bytes but its shape needs %zu", path, name,
                         en - b, 4 * e->count);
  }
  sp->begin = (size_t)b;
  sp->end = (size_t)en;
  e->name = strdup(name);
  if (!e->name) return nfp_error_set("%s: out of memory", path);
  return 0;
}

static int parse_header(nfp_st_file* f, const char* text, size_t len, size_t data_len,
                        const unsigned char* data, const char* path) {
  cJSON* root = cJSON_ParseWithLength(text, len);
  if (!root || !cJSON_IsObject(root)) {
    cJSON_Delete(root);
    return nfp_error_set("%s: the header is not a valid JSON object", path);
  }
  int rc = 0;
  int n = cJSON_GetArraySize(root);
  f->e = calloc((size_t)n + 1, sizeof(nfp_st_entry));
  span* sp = calloc((size_t)n + 1, sizeof(span));
  if (!f->e || !sp) rc = nfp_error_set("%s: out of memory", path);
  for (const cJSON* it = root->child; it && rc == 0; it = it->next) {
    if (strcmp(it->string, "__metadata__") == 0) {
      rc = parse_meta(f, it, path);
      continue;
    }
    for (int i = 0; i < f->n && rc == 0; i++) {
      if (strcmp(f->e[i].name, it->string) == 0) {
        rc = nfp_error_set("%s: tensor \"%s\" appears twice", path, it->string);
      }
    }
    if (rc == 0) rc = parse_entry(&f->e[f->n], &sp[f->n], it, data_len, path);
    if (rc == 0) sp[f->n].idx = f->n, f->n++;
  }
  cJSON_Delete(root);
  if (rc == 0) {
    qsort(sp, (size_t)f->n, sizeof(span), cmp_span);
    size_t at = 0;
    for (int i = 0; i < f->n && rc == 0; i++) {
      if (sp[i].begin < at) {
        rc = nfp_error_set("%s: tensor \"%s\" overlaps another tensor's data", path,
                           f->e[sp[i].idx].name);
      } else if (sp[i].begin > at) {
        rc = nfp_error_set("%s: bytes %zu..%zu of the data section belong to no tensor", path, at,
                           sp[i].begin);
      }
      at = sp[i].end;
    }
    if (rc == 0 && at != data_len) {
      rc = nfp_error_set("%s: %zu bytes after the last tensor belong to no tensor", path,
                         data_len - at);
    }
  }
  if (rc == 0 && f->has_crc) {
    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t at = 0; at < data_len; at += 1u << 30) {  // crc32 takes 32-bit lengths
      size_t m = data_len - at < (1u << 30) ? data_len - at : (1u << 30);
      crc = crc32(crc, data + at, (uInt)m);
    }
    if ((uint32_t)crc != f->crc) {
      rc = nfp_error_set("%s: the tensor data does not match its checksum (CRC-32 %08x, the "
                         "header says %08x): the file is damaged", path, (unsigned)crc,
                         (unsigned)f->crc);
    }
  }
  if (rc == 0) {
    f->floats = malloc(data_len + 4);
    if (!f->floats) rc = nfp_error_set("%s: out of memory", path);
  }
  for (int i = 0; i < f->n && rc == 0; i++) {
    size_t b = sp[i].begin;
    nfp_st_entry* e = &f->e[sp[i].idx];
    float* dst = f->floats + b / 4;
    for (size_t j = 0; j < e->count && rc == 0; j++) {
      dst[j] = get_le32(data + b + 4 * j);
      if (!isfinite(dst[j])) {
        rc = nfp_error_set("%s: tensor \"%s\" holds a non-finite value (%g) at element %zu", path,
                           e->name, dst[j], j);
      }
    }
    e->data = dst;
  }
  free(sp);
  return rc;
}

int nfp_st_read(nfp_st_file* f, const char* path) {
  memset(f, 0, sizeof(*f));
  FILE* fp = fopen(path, "rb");
  if (!fp) return nfp_error_set("%s: cannot open: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
    fclose(fp);
    return nfp_error_set("%s: not a regular file (a checkpoint is one .safetensors file)", path);
  }
  long size = (long)sb.st_size;
  unsigned char* buf = malloc((size_t)size + 1);
  if (!buf || fread(buf, 1, (size_t)size, fp) != (size_t)size) {
    fclose(fp);
    free(buf);
    return nfp_error_set("%s: cannot read %ld bytes", path, size);
  }
  fclose(fp);
  int rc = 0;
  uint64_t hsize = 0;
  if (size < 8) {
    rc = nfp_error_set("%s: truncated: %ld bytes, shorter than the 8-byte header size", path,
                       size);
  } else {
    for (int i = 0; i < 8; i++) hsize |= (uint64_t)buf[i] << (8 * i);
    if (hsize < 2 || hsize > MAX_HEADER) {
      rc = nfp_error_set("%s: bad header size %llu (not a safetensors file?)", path,
                         (unsigned long long)hsize);
    } else if (hsize > (uint64_t)size - 8) {
      rc = nfp_error_set("%s: truncated: the header needs %llu bytes, the file has %ld after "
                         "the size field", path, (unsigned long long)hsize, size - 8);
    }
  }
  if (rc == 0) {
    rc = parse_header(f, (const char*)buf + 8, (size_t)hsize, (size_t)size - 8 - hsize,
                      buf + 8 + hsize, path);
  }
  free(buf);
  if (rc != 0) nfp_st_free(f);
  return rc;
}

const nfp_st_entry* nfp_st_find(const nfp_st_file* f, const char* name) {
  for (int i = 0; i < f->n; i++) {
    if (strcmp(f->e[i].name, name) == 0) return &f->e[i];
  }
  return NULL;
}

const char* nfp_st_meta(const nfp_st_file* f, const char* key) {
  for (int i = 0; i < f->n_meta; i++) {
    if (strcmp(f->meta_key[i], key) == 0) return f->meta_value[i];
  }
  return NULL;
}
