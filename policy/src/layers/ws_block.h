// Workspace blocks: a workspace is ONE allocation, its struct first, then every buffer
// on a 64-byte boundary, pointed into (as llm.c does with its activations). The sizes
// are known up front, so a constructor lays its buffers out twice with the same code:
// once measuring (at NULL), once pointing into the block nfp_ws_block_alloc made.
#ifndef NFP_WS_BLOCK_H
#define NFP_WS_BLOCK_H

#include <stdint.h>
#include <stdlib.h>

// A cache line and a whole AVX-512 vector: no buffer starts mid-line (malloc gave 16).
#define NFP_WS_ALIGN 64

// Under AddressSanitizer every buffer is followed by a poisoned guard line, so an overrun
// into the next buffer is still caught as it was with one malloc per buffer.
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define NFP_WS_GUARD NFP_WS_ALIGN
#define NFP_WS_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#else
#define NFP_WS_GUARD 0
#define NFP_WS_POISON(p, n) ((void)(p), (void)(n))
#endif

typedef struct {
  char* at;      // the first buffer's address; NULL while measuring
  size_t used;   // bytes laid out so far: each buffer rounded up to NFP_WS_ALIGN (+ guard)
  int overflow;  // a size past SIZE_MAX: the block is refused as out of memory
} nfp_ws_block;

// count elements of elem bytes -> the next buffer (NULL while measuring).
static inline void* nfp_ws_take(nfp_ws_block* b, size_t count, size_t elem) {
  void* p = b->at ? b->at + b->used : NULL;
  size_t n = count * elem;
  if (elem != 0 && n / elem != count) n = SIZE_MAX;  // checked: hostile batch sizes
  size_t pad = NFP_WS_ALIGN - 1 + NFP_WS_GUARD;
  if (b->used > SIZE_MAX - pad || n > SIZE_MAX - pad - b->used) {
    b->overflow = 1;
    return p;
  }
  size_t step = ((n + (NFP_WS_ALIGN - 1)) & ~(size_t)(NFP_WS_ALIGN - 1)) + NFP_WS_GUARD;
  if (p) NFP_WS_POISON((char*)p + n, step - n);
  b->used += step;
  return p;
}

// Measured b -> one zeroed block: a struct of head bytes at its start (calloc's alignment
// suits any struct), the buffers from the first 64-byte boundary after it (b->at, b->used
// reset for the pointing pass). The struct's pointer, freed with free(); NULL when out of
// memory. Zeroed as the structs were (calloc); the buffers need not be, and zeroing a fresh
// mapping costs nothing, so a stray read of an unwritten buffer is at least deterministic.
static inline void* nfp_ws_block_alloc(nfp_ws_block* b, size_t head) {
  if (b->overflow || b->used > SIZE_MAX - head - 2 * NFP_WS_ALIGN) return NULL;
  char* base = calloc(1, head + (NFP_WS_ALIGN - 1) + b->used);
  if (!base) return NULL;
  uintptr_t mis = (uintptr_t)(base + head) % NFP_WS_ALIGN;
  b->at = base + head + (mis ? NFP_WS_ALIGN - mis : 0);
  b->used = 0;
  return base;
}

#endif
