// nfp_rng: the one seeded random number generator of the project
// (xoshiro256** seeded through splitmix64). A seed fully determines the stream.
#ifndef NFP_RNG_H
#define NFP_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct nfp_rng_ {
  uint64_t s[4];
  double spare;      // second Box-Muller value
  int has_spare;
} nfp_rng;

static inline uint64_t nfp_rng_splitmix64(uint64_t* x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static inline void nfp_rng_seed(nfp_rng* r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = nfp_rng_splitmix64(&x);
  r->has_spare = 0;
  r->spare = 0.0;
}

static inline uint64_t nfp_rng_next(nfp_rng* r) {
  uint64_t* s = r->s;
  uint64_t x = s[1] * 5;
  uint64_t result = ((x << 7) | (x >> 57)) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

// Uniform in [0, 1).
static inline double nfp_rng_uniform(nfp_rng* r) {
  return (double)(nfp_rng_next(r) >> 11) * 0x1.0p-53;
}

// Uniform in [lo, hi).
static inline double nfp_rng_range(nfp_rng* r, double lo, double hi) {
  return lo + (hi - lo) * nfp_rng_uniform(r);
}

// Standard normal (Box-Muller, both values used).
static inline double nfp_rng_normal(nfp_rng* r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  double u1, u2;
  do u1 = nfp_rng_uniform(r); while (u1 <= 0.0);
  u2 = nfp_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1));
  r->spare = rad * sin(6.283185307179586 * u2);
  r->has_spare = 1;
  return rad * cos(6.283185307179586 * u2);
}

#endif
