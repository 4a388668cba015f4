// Runs a fuzz target without libFuzzer: every file of a corpus folder as it is (the crafted
// regressions), then seeded mutations of them. Usage: DRIVER CORPUS_DIR MUTATIONS [SEED].
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

#define MAX_FILES 256
#define MAX_SIZE (1u << 20)

typedef struct {
  uint8_t* data;
  size_t size;
} input;

static int load_corpus(const char* dir, input* in) {
  DIR* d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent* e;
  char path[4096];
  while ((e = readdir(d)) && n < MAX_FILES) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
    FILE* f = fopen(path, "rb");
    if (!f) continue;
    in[n].data = malloc(MAX_SIZE);
    in[n].size = in[n].data ? fread(in[n].data, 1, MAX_SIZE, f) : 0;
    fclose(f);
    if (in[n].data) n++;
  }
  closedir(d);
  return n;
}

// One mutation in place (bit flip, byte, truncation, growth, an interesting number, a
// copied span); returns the new length.
static size_t mutate(uint8_t* b, size_t n, nfp_rng* r) {
  size_t at = n ? (size_t)(nfp_rng_next(r) % n) : 0;
  switch (nfp_rng_next(r) % 6) {
    case 0: if (n) b[at] ^= (uint8_t)(1u << (nfp_rng_next(r) % 8)); break;
    case 1: if (n) b[at] = (uint8_t)nfp_rng_next(r); break;
    case 2: n = n ? (size_t)(nfp_rng_next(r) % n) : 0; break;
    case 3:
      for (int i = 0; i < 16 && n < MAX_SIZE; i++) b[n++] = (uint8_t)nfp_rng_next(r);
      break;
    case 4: {
      static const char* digits[] = {"0", "1", "-1", "4294967296", "1e308", "99999999999", "nan"};
      const char* s = digits[nfp_rng_next(r) % 7];
      for (size_t i = 0; s[i] && at + i < n; i++) b[at + i] = (uint8_t)s[i];
      break;
    }
    default: {
      size_t from = n ? (size_t)(nfp_rng_next(r) % n) : 0, len = 1 + nfp_rng_next(r) % 32;
      for (size_t i = 0; i < len && from + i < n && at + i < n; i++) b[at + i] = b[from + i];
      break;
    }
  }
  return n;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s CORPUS_DIR MUTATIONS [SEED]\n", argv[0]);
    return 2;
  }
  static input in[MAX_FILES];
  int n = load_corpus(argv[1], in);
  if (n <= 0) {
    fprintf(stderr, "%s: no corpus files in %s\n", argv[0], argv[1]);
    return 2;
  }
  long mutations = atol(argv[2]);
  nfp_rng rng;
  nfp_rng_seed(&rng, argc > 3 ? strtoull(argv[3], NULL, 10) : 1);
  for (int i = 0; i < n; i++) LLVMFuzzerTestOneInput(in[i].data, in[i].size);
  uint8_t* buf = malloc(MAX_SIZE);
  if (!buf) return 1;
  for (long k = 0; k < mutations; k++) {
    const input* s = &in[nfp_rng_next(&rng) % (uint64_t)n];
    size_t len = s->size;
    memcpy(buf, s->data, len);
    int rounds = 1 + (int)(nfp_rng_next(&rng) % 4);
    for (int j = 0; j < rounds; j++) len = mutate(buf, len, &rng);
    LLVMFuzzerTestOneInput(buf, len);
  }
  printf("%s: %d corpus files and %ld mutations, no crash\n", argv[0], n, mutations);
  free(buf);
  for (int i = 0; i < n; i++) free(in[i].data);
  return 0;
}
