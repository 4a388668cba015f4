// The conditional coupling flow: masks, identity init, and the layer stack with its
// cached states for backward.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/flow.h"
#include "ws_block.h"

// Coordinate i is transformed by layer l when bit p of i differs from (l & 1)...
// precisely when ((i >> p) & 1) ^ (l & 1) is 1, p = (l / 2) mod P, 2^p < D.
static int transformed(int i, int l, int D) {
  if (D == 1) return 1;
  int P = 0;
  while ((1 << P) < D && P < 30) P++;
  int p = (l / 2) % P;
  return ((i >> p) & 1) ^ (l & 1);
}

int nfp_flow_build(nfp_flow* flow, nfp_ptable* table, const char* prefix, int D, int ctx,
                   int L, int hidden, int blocks, const nfp_spline* spline) {
  memset(flow, 0, sizeof(*flow));
  if (D <= 0 || ctx < 0 || L <= 0 || spline->K < 2 || spline->K > NFP_SPLINE_MAX_BINS ||
      !(spline->B > 0.0)) {
    return nfp_error_set("flow: bad sizes (D %d, context %d, layers %d, bins %d of 2..%d, "
                         "tail bound %g)", D, ctx, L, spline->K, NFP_SPLINE_MAX_BINS, spline->B);
  }
  if (!(spline->wmin > 0.0 && spline->wmin * spline->K < 1.0 && spline->hmin > 0.0 &&
        spline->hmin * spline->K < 1.0 && spline->dmin > 0.0 && spline->dmin < 1.0)) {
    return nfp_error_set("flow: minimum bin width/height must be in (0, 1/K) and the minimum "
                         "derivative in (0, 1)");
  }
  flow->D = D;
  flow->ctx = ctx;
  flow->L = L;
  flow->spline = *spline;
  flow->layer = calloc((size_t)L, sizeof(nfp_coupling));
  if (!flow->layer) return nfp_error_set("flow: out of memory");
  for (int l = 0; l < L; l++) {
    nfp_coupling* c = &flow->layer[l];
    c->D = D;
    c->ctx = ctx;
    c->id_idx = malloc(sizeof(int) * (size_t)D);
    c->tr_idx = malloc(sizeof(int) * (size_t)D);
    if (!c->id_idx || !c->tr_idx) {
      nfp_flow_free(flow);
      return nfp_error_set("flow: out of memory");
    }
    for (int i = 0; i < D; i++) {
      if (transformed(i, l, D)) c->tr_idx[c->n_tr++] = i;
      else c->id_idx[c->n_id++] = i;
    }
    char name[NFP_TENSOR_NAME_MAX];
    snprintf(name, sizeof(name), "%s.%d.mlp", prefix, l);
    if (nfp_resmlp_build(&c->mlp, table, name, c->n_id + ctx, hidden, blocks, ctx,
                         c->n_tr * NFP_SPLINE_NPARAM(spline->K)) != 0) {
      nfp_flow_free(flow);
      return -1;
    }
    c->mlp.out_t = 1;  // spline parameters [n_tr * (3K-1), B]: see coupling.c
  }
  return 0;
}

void nfp_flow_free(nfp_flow* flow) {
  if (flow->layer) {
    for (int l = 0; l < flow->L; l++) {
      free(flow->layer[l].id_idx);
      free(flow->layer[l].tr_idx);
    }
  }
  free(flow->layer);
  memset(flow, 0, sizeof(*flow));
}

void nfp_flow_init(float* params, const nfp_flow* flow, nfp_rng* rng) {
  for (int l = 0; l < flow->L; l++) nfp_resmlp_init(params, &flow->layer[l].mlp, rng, 1);
}

struct nfp_flow_ws_ {
  int max_batch;
  double* state;    // [(L+1) * max_batch * D]: the input of every layer, then z
  float** acts;     // [L] coupling activations
  float* ctx;       // [max_batch * ctx] copy of the context of the last forward
  float* scratch;   // largest coupling scratch
  double* grad[2];  // [max_batch * D] ping-pong gradients for backward
  size_t scratch_size;
};

// flow, max_batch -> ws's buffer pointers into b and b->used (while b->at is NULL, only
// measuring: the pointers are NULL). Every buffer is written before it is read.
static void flow_ws_layout(nfp_flow_ws* ws, const nfp_flow* flow, int max_batch,
                           nfp_ws_block* b) {
  int point = b->at != NULL;
  size_t nd = (size_t)max_batch * flow->D;
  ws->state = nfp_ws_take(b, nd * ((size_t)flow->L + 1), sizeof(double));
  ws->acts = nfp_ws_take(b, (size_t)flow->L, sizeof(float*));
  ws->ctx = nfp_ws_take(b, (size_t)max_batch * flow->ctx + 1, sizeof(float));
  ws->grad[0] = nfp_ws_take(b, nd, sizeof(double));
  ws->grad[1] = nfp_ws_take(b, nd, sizeof(double));
  ws->scratch_size = 0;
  for (int l = 0; l < flow->L; l++) {
    const nfp_coupling* c = &flow->layer[l];
    float* a = nfp_ws_take(b, nfp_coupling_acts_size(c, max_batch), sizeof(float));
    if (point) ws->acts[l] = a;
    size_t s = nfp_coupling_scratch_size(c, max_batch);
    if (s > ws->scratch_size) ws->scratch_size = s;
  }
  ws->scratch = nfp_ws_take(b, ws->scratch_size, sizeof(float));
}

// flow, max_batch -> ONE block: the struct, then state, acts, ctx, grads, scratch.
nfp_flow_ws* nfp_flow_ws_create(const nfp_flow* flow, int max_batch) {
  if (max_batch <= 0) {
    nfp_error_set("flow workspace: batch must be positive (got %d)", max_batch);
    return NULL;
  }
  nfp_flow_ws measure;
  nfp_ws_block b = {0};
  flow_ws_layout(&measure, flow, max_batch, &b);
  nfp_flow_ws* ws = nfp_ws_block_alloc(&b, sizeof(*ws));
  if (!ws) {
    nfp_error_set("flow workspace: out of memory for batch %d", max_batch);
    return NULL;
  }
  ws->max_batch = max_batch;
  flow_ws_layout(ws, flow, max_batch, &b);
  return ws;
}

// The struct and its buffers are one block.
void nfp_flow_ws_free(nfp_flow_ws* ws) { free(ws); }

static int check_batch(const nfp_flow_ws* ws, int B) {
  if (B <= 0 || B > ws->max_batch) {
    return nfp_error_set("flow: batch %d outside the workspace's 1..%d", B, ws->max_batch);
  }
  return 0;
}

int nfp_flow_forward(double* z, double* logdet, nfp_flow_ws* ws, const float* params,
                     const nfp_flow* flow, const double* x, const float* ctx, int B) {
  if (check_batch(ws, B) != 0) return -1;
  size_t nd = (size_t)B * flow->D;
  memcpy(ws->state, x, sizeof(double) * nd);
  if (flow->ctx > 0) memcpy(ws->ctx, ctx, sizeof(float) * (size_t)B * flow->ctx);
  memset(logdet, 0, sizeof(double) * (size_t)B);
  for (int l = 0; l < flow->L; l++) {
    nfp_coupling_forward(ws->state + (l + 1) * nd, logdet, ws->acts[l], params, &flow->layer[l],
                         &flow->spline, ws->state + l * nd, ws->ctx, B);
  }
  memcpy(z, ws->state + flow->L * nd, sizeof(double) * nd);
  return 0;
}

void nfp_flow_backward(double* dx, float* dctx, float* dparams, nfp_flow_ws* ws,
                       const float* params, const nfp_flow* flow, const double* dz,
                       const double* dlogdet, int B) {
  size_t nd = (size_t)B * flow->D;
  // the state buffers are laid out for this B (the batch of the last forward)
  double* g = ws->grad[0];
  double* gprev = ws->grad[1];
  memcpy(g, dz, sizeof(double) * nd);
  for (int l = flow->L - 1; l >= 0; l--) {
    memset(gprev, 0, sizeof(double) * nd);
    nfp_coupling_backward(gprev, dctx, dparams, ws->scratch, g, dlogdet, ws->acts[l], params,
                          &flow->layer[l], &flow->spline, ws->state + l * nd, ws->ctx, B);
    double* t = g;
    g = gprev;
    gprev = t;
  }
  if (dx) {
    for (size_t i = 0; i < nd; i++) dx[i] += g[i];
  }
}

static int inverse(double* x, double* logdet, nfp_flow_ws* ws, const float* params,
                   const nfp_flow* flow, const double* z, const float* ctx, int B, int shared,
                   int f32) {
  if (check_batch(ws, B) != 0) return -1;
  size_t nd = (size_t)B * flow->D;
  // ping-pong through the gradient buffers; the layer activations are reused, so a
  // later nfp_flow_backward needs a fresh nfp_flow_forward
  double* cur = ws->grad[0];
  double* nxt = ws->grad[1];
  memcpy(cur, z, sizeof(double) * nd);
  memset(logdet, 0, sizeof(double) * (size_t)B);
  for (int l = flow->L - 1; l >= 0; l--) {
    if (shared) {
      nfp_coupling_inverse_shared(nxt, logdet, ws->acts[l], params, &flow->layer[l],
                                  &flow->spline, cur, ctx, B, f32);
    } else {
      nfp_coupling_inverse(nxt, logdet, ws->acts[l], params, &flow->layer[l], &flow->spline, cur,
                           ctx, B);
    }
    double* t = cur;
    cur = nxt;
    nxt = t;
  }
  memcpy(x, cur, sizeof(double) * nd);
  return 0;
}

int nfp_flow_inverse(double* x, double* logdet, nfp_flow_ws* ws, const float* params,
                     const nfp_flow* flow, const double* z, const float* ctx, int B) {
  return inverse(x, logdet, ws, params, flow, z, ctx, B, 0, 0);
}

int nfp_flow_inverse_shared(double* x, double* logdet, nfp_flow_ws* ws, const float* params,
                            const nfp_flow* flow, const double* z, const float* ctx, int B,
                            int f32) {
  return inverse(x, logdet, ws, params, flow, z, ctx, B, 1, f32);
}
