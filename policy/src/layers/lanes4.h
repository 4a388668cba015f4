// Four float lanes as a GCC vector (16 bytes, SSE on x86-64) and unaligned loads and
// stores of them: the shared vocabulary of the image layers' four-at-a-time loops
// (conv.c's strided gathers, the Winograd transforms). Private to policy/src.
#ifndef NFP_LANES4_H
#define NFP_LANES4_H

#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static inline v4f ld4(const float* p) {
  v4f v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void st4(float* p, v4f v) { memcpy(p, &v, sizeof(v)); }

#endif
