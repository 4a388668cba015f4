// The replay buffer of executed chunks: growable float columns that save as tensors.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/checkpoint.h"
#include "nfp/error.h"
#include "nfp/rl.h"

// The columns in one table, so growing, saving and loading walk the same list.
typedef struct {
  const char* name;
  size_t off;  // offset of the float* in nfp_replay
  int wide;    // 0: one float per row, 1: obs_dim, 2: chunk_dim
} column;

static const column columns[NFP_REPLAY_TENSORS] = {
    {"train.rl.obs", offsetof(nfp_replay, obs), 1},
    {"train.rl.next_obs", offsetof(nfp_replay, next_obs), 1},
    {"train.rl.chunk", offsetof(nfp_replay, chunk), 2},
    {"train.rl.ret", offsetof(nfp_replay, ret), 0},
    {"train.rl.disc", offsetof(nfp_replay, disc), 0},
    {"train.rl.done", offsetof(nfp_replay, done), 0},
    {"train.rl.mc", offsetof(nfp_replay, mc), 0},
    {"train.rl.source", offsetof(nfp_replay, source), 0},
    {"train.rl.episode", offsetof(nfp_replay, episode), 0},
    {"train.rl.success", offsetof(nfp_replay, success), 0},
};

static float** col_ptr(const nfp_replay* r, int i) { return (float**)((char*)r + columns[i].off); }

static size_t col_width(const nfp_replay* r, int i) {
  return columns[i].wide == 1   ? (size_t)r->obs_dim
         : columns[i].wide == 2 ? (size_t)r->chunk_dim
                                : 1;
}

int nfp_replay_init(nfp_replay* r, int obs_dim, int chunk_dim) {
  memset(r, 0, sizeof(*r));
  if (obs_dim < 1 || chunk_dim < 1) {
    return nfp_error_set("replay buffer: bad sizes (obs %d, chunk %d)", obs_dim, chunk_dim);
  }
  r->obs_dim = obs_dim;
  r->chunk_dim = chunk_dim;
  return 0;
}

void nfp_replay_free(nfp_replay* r) {
  for (int i = 0; i < NFP_REPLAY_TENSORS; i++) free(*col_ptr(r, i));
  int od = r->obs_dim, cd = r->chunk_dim;
  memset(r, 0, sizeof(*r));
  r->obs_dim = od;
  r->chunk_dim = cd;
}

// Capacity -> at least need rows in every column (doubling).
static int reserve(nfp_replay* r, int need) {
  if (need <= r->cap) return 0;
  int cap = r->cap ? r->cap : 1024;
  while (cap < need) cap *= 2;
  for (int i = 0; i < NFP_REPLAY_TENSORS; i++) {
    float* p = realloc(*col_ptr(r, i), sizeof(float) * col_width(r, i) * (size_t)cap);
    if (!p) return nfp_error_set("replay buffer: out of memory for %d transitions", cap);
    *col_ptr(r, i) = p;
  }
  r->cap = cap;
  return 0;
}

int nfp_replay_add(nfp_replay* r, const float* obs, const float* next_obs, const float* chunk,
                   float ret, float disc, float done, float mc, nfp_replay_source source,
                   int episode, int success) {
  if (reserve(r, r->n + 1)) return -1;
  size_t n = (size_t)r->n, od = (size_t)r->obs_dim, cd = (size_t)r->chunk_dim;
  memcpy(r->obs + n * od, obs, sizeof(float) * od);
  memcpy(r->next_obs + n * od, next_obs, sizeof(float) * od);
  memcpy(r->chunk + n * cd, chunk, sizeof(float) * cd);
  r->ret[n] = ret;
  r->disc[n] = disc;
  r->done[n] = done;
  r->mc[n] = mc;
  r->source[n] = (float)source;
  r->episode[n] = (float)episode;
  r->success[n] = (float)success;
  r->n++;
  return 0;
}

int nfp_replay_episodes(const nfp_replay* r) { return r->n ? (int)r->episode[r->n - 1] + 1 : 0; }

void nfp_replay_tensors(const nfp_replay* r, nfp_extra_tensor* out) {
  for (int i = 0; i < NFP_REPLAY_TENSORS; i++) {
    out[i].name = columns[i].name;
    out[i].ndim = 2;
    out[i].shape[0] = (size_t)(r->n ? r->n : 0);
    out[i].shape[1] = col_width(r, i);
    out[i].data = *col_ptr(r, i);
  }
}

// Loaded rows -> refused unless every scalar column holds what add could have written.
static int check_rows(const nfp_replay* r) {
  for (int b = 0; b < r->n; b++) {
    float s = r->source[b], e = r->episode[b];
    if (!(r->disc[b] >= 0 && r->disc[b] <= 1) || !isfinite(r->ret[b]) || !isfinite(r->mc[b]) ||
        (r->done[b] != 0 && r->done[b] != 1) || (r->success[b] != 0 && r->success[b] != 1) ||
        (s != NFP_REPLAY_DEMO && s != NFP_REPLAY_OFFLINE && s != NFP_REPLAY_ONLINE) ||
        e != floorf(e) || e < 0 || (b > 0 && e < r->episode[b - 1])) {
      return nfp_error_set("replay buffer: transition %d holds impossible values", b);
    }
  }
  return 0;
}

int nfp_replay_load(nfp_replay* r, const nfp_checkpoint* ck, int n) {
  if (n < 0 || n > (1 << 24)) return nfp_error_set("replay buffer: bad size %d", n);
  nfp_replay_free(r);
  if (n == 0) return 0;
  if (reserve(r, n)) return -1;
  for (int i = 0; i < NFP_REPLAY_TENSORS; i++) {
    if (nfp_checkpoint_extra(ck, columns[i].name, *col_ptr(r, i), col_width(r, i) * (size_t)n)) {
      return nfp_error_wrap("replay buffer");
    }
  }
  r->n = n;
  if (check_rows(r)) {
    nfp_replay_free(r);
    return -1;
  }
  return 0;
}
