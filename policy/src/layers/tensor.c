// The table of named tensors inside the flat parameter buffer.
#include "nfp/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t nfp_ptable_add_nd(nfp_ptable* table, const char* name, int ndim, const int* shape) {
  if (table->failed) return 0;
  if (table->n == table->cap) {
    int cap = table->cap ? 2 * table->cap : 64;
    nfp_tensor_info* t = realloc(table->t, (size_t)cap * sizeof(*t));
    if (!t) {
      table->failed = 1;
      return 0;
    }
    table->t = t;
    table->cap = cap;
  }
  nfp_tensor_info* info = &table->t[table->n];
  memset(info, 0, sizeof(*info));
  if (snprintf(info->name, sizeof(info->name), "%s", name) >= (int)sizeof(info->name) ||
      ndim < 1 || ndim > NFP_TENSOR_MAX_DIM) {
    table->failed = 1;
    return 0;
  }
  info->ndim = ndim;
  info->size = 1;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] <= 0) {
      table->failed = 1;
      return 0;
    }
    info->shape[d] = shape[d];
    info->size *= (size_t)shape[d];
  }
  info->offset = table->total;
  table->total += info->size;
  table->n++;
  return info->offset;
}

size_t nfp_ptable_add(nfp_ptable* table, const char* name, int ndim, int rows, int cols) {
  if (ndim != 1 && ndim != 2) {
    table->failed = 1;
    return 0;
  }
  int shape[2] = {rows, cols};
  return nfp_ptable_add_nd(table, name, ndim, shape);
}

const nfp_tensor_info* nfp_ptable_find(const nfp_ptable* table, const char* name) {
  for (int i = 0; i < table->n; i++) {
    if (strcmp(table->t[i].name, name) == 0) return &table->t[i];
  }
  return NULL;
}

void nfp_ptable_free(nfp_ptable* table) {
  free(table->t);
  memset(table, 0, sizeof(*table));
}
