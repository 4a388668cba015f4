// Residual MLP (nflows' ResidualNet with context-gated pre-activation blocks).
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "nfp/error.h"
#include "nfp/layers.h"

static size_t add(nfp_ptable* t, const char* prefix, const char* name, int ndim, int r, int c) {
  char full[NFP_TENSOR_NAME_MAX];
  if (snprintf(full, sizeof(full), "%s.%s", prefix, name) >= (int)sizeof(full)) t->failed = 1;
  return nfp_ptable_add(t, full, ndim, r, c);
}

int nfp_resmlp_build(nfp_resmlp* m, nfp_ptable* table, const char* prefix, int in, int hidden,
                     int blocks, int ctx, int out) {
  if (in < 0 || hidden <= 0 || blocks < 0 || blocks > NFP_RESMLP_MAX_BLOCKS || ctx < 0 ||
      out <= 0) {
    return nfp_error_set("residual MLP %s: bad sizes (in %d, hidden %d, blocks %d of at most %d, "
                         "ctx %d, out %d)", prefix, in, hidden, blocks, NFP_RESMLP_MAX_BLOCKS,
                         ctx, out);
  }
  memset(m, 0, sizeof(*m));
  m->in = in;
  m->hidden = hidden;
  m->blocks = blocks;
  m->ctx = ctx;
  m->out = out;
  // a zero-width input (a 1-D flow without context) keeps only the bias
  if (in > 0) m->w_in = add(table, prefix, "in.weight", 2, hidden, in);
  m->b_in = add(table, prefix, "in.bias", 1, hidden, 0);
  for (int k = 0; k < blocks; k++) {
    char name[48];
    snprintf(name, sizeof(name), "block.%d.0.weight", k);
    m->w0[k] = add(table, prefix, name, 2, hidden, hidden);
    snprintf(name, sizeof(name), "block.%d.0.bias", k);
    m->b0[k] = add(table, prefix, name, 1, hidden, 0);
    snprintf(name, sizeof(name), "block.%d.1.weight", k);
    m->w1[k] = add(table, prefix, name, 2, hidden, hidden);
    snprintf(name, sizeof(name), "block.%d.1.bias", k);
    m->b1[k] = add(table, prefix, name, 1, hidden, 0);
    if (ctx > 0) {
      snprintf(name, sizeof(name), "block.%d.ctx.weight", k);
      m->wc[k] = add(table, prefix, name, 2, hidden, ctx);
      snprintf(name, sizeof(name), "block.%d.ctx.bias", k);
      m->bc[k] = add(table, prefix, name, 1, hidden, 0);
    }
  }
  m->w_out = add(table, prefix, "out.weight", 2, out, hidden);
  m->b_out = add(table, prefix, "out.bias", 1, out, 0);
  if (table->failed) return nfp_error_set("residual MLP %s: out of memory or name too long", prefix);
  return 0;
}

static void uniform(float* p, size_t n, double bound, nfp_rng* rng) {
  for (size_t i = 0; i < n; i++) p[i] = (float)nfp_rng_range(rng, -bound, bound);
}

void nfp_resmlp_init(float* params, const nfp_resmlp* m, nfp_rng* rng, int zero_out) {
  int H = m->hidden;
  if (m->in > 0) {
    nfp_linear_init(params + m->w_in, params + m->b_in, m->in, H, rng);
  } else {
    for (int j = 0; j < H; j++) params[m->b_in + j] = 0.0f;
  }
  for (int k = 0; k < m->blocks; k++) {
    nfp_linear_init(params + m->w0[k], params + m->b0[k], H, H, rng);
    // near-zero last layer: each block starts close to the identity (as nflows)
    uniform(params + m->w1[k], (size_t)H * H, 1e-3, rng);
    uniform(params + m->b1[k], (size_t)H, 1e-3, rng);
    if (m->ctx > 0) nfp_linear_init(params + m->wc[k], params + m->bc[k], m->ctx, H, rng);
  }
  if (zero_out) {
    memset(params + m->w_out, 0, sizeof(float) * (size_t)m->out * H);
    memset(params + m->b_out, 0, sizeof(float) * (size_t)m->out);
  } else {
    nfp_linear_init(params + m->w_out, params + m->b_out, H, m->out, rng);
  }
}

// Cached activations, each [B, hidden]: h[0..blocks], then per block r0, r1, t1 (and g).
static int per_block(const nfp_resmlp* m) { return m->ctx > 0 ? 4 : 3; }

size_t nfp_resmlp_acts_size(const nfp_resmlp* m, int B) {
  return (size_t)B * m->hidden * (size_t)(m->blocks + 1 + m->blocks * per_block(m));
}

size_t nfp_resmlp_scratch_size(const nfp_resmlp* m, int B) {
  return (size_t)B * m->hidden * 4;
}

typedef struct {
  float *h[NFP_RESMLP_MAX_BLOCKS + 1];
  float *r0[NFP_RESMLP_MAX_BLOCKS], *r1[NFP_RESMLP_MAX_BLOCKS];
  float *t1[NFP_RESMLP_MAX_BLOCKS], *g[NFP_RESMLP_MAX_BLOCKS];
} acts_ptrs;

static void acts_map(acts_ptrs* a, const float* acts, const nfp_resmlp* m, int B) {
  size_t n = (size_t)B * m->hidden;
  float* p = (float*)acts;
  for (int k = 0; k <= m->blocks; k++, p += n) a->h[k] = p;
  for (int k = 0; k < m->blocks; k++) {
    a->r0[k] = p;
    p += n;
    a->r1[k] = p;
    p += n;
    a->t1[k] = p;
    p += n;
    a->g[k] = NULL;
    if (m->ctx > 0) {
      a->g[k] = p;
      p += n;
    }
  }
}

void nfp_resmlp_forward(float* out, float* acts, const float* params, const nfp_resmlp* m,
                        const float* inp, const float* ctx, int B) {
  int H = m->hidden;
  int n = B * H;
  acts_ptrs a;
  acts_map(&a, acts, m, B);
  nfp_linear_forward(a.h[0], inp, m->in > 0 ? params + m->w_in : NULL, params + m->b_in, B,
                     m->in, H);
  for (int k = 0; k < m->blocks; k++) {
    nfp_relu_forward(a.r0[k], a.h[k], n);
    nfp_linear_forward(a.r1[k], a.r0[k], params + m->w0[k], params + m->b0[k], B, H, H);
    nfp_relu_forward(a.r1[k], a.r1[k], n);
    nfp_linear_forward(a.t1[k], a.r1[k], params + m->w1[k], params + m->b1[k], B, H, H);
    float* hn = a.h[k + 1];
    const float* h = a.h[k];
    const float* t = a.t1[k];
    if (m->ctx > 0) {
      float* g = a.g[k];
      nfp_linear_forward(g, ctx, params + m->wc[k], params + m->bc[k], B, m->ctx, H);
      for (int i = 0; i < n; i++) {
        g[i] = 1.0f / (1.0f + expf(-g[i]));
        hn[i] = h[i] + t[i] * g[i];
      }
    } else {
      for (int i = 0; i < n; i++) hn[i] = h[i] + t[i];
    }
  }
  if (m->out_t) {
    nfp_linear_forward_t(out, a.h[m->blocks], params + m->w_out, params + m->b_out, B, H, m->out);
  } else {
    nfp_linear_forward(out, a.h[m->blocks], params + m->w_out, params + m->b_out, B, H, m->out);
  }
}

void nfp_resmlp_forward_shared(float* out, float* acts, const float* params,
                               const nfp_resmlp* m, const float* inp, const float* ctx, int B) {
  int H = m->hidden, own = m->in - m->ctx;
  acts_ptrs a;
  acts_map(&a, acts, m, B);
  // the context's share of the first layer, W_in[:, own:] ctx + b_in, once, in row 0
  float* h0 = a.h[0];
  memcpy(h0, params + m->b_in, sizeof(float) * (size_t)H);
  cblas_sgemv(CblasRowMajor, CblasNoTrans, H, m->ctx, 1.0f, params + m->w_in + own, m->in, ctx, 1,
              1.0f, h0, 1);
  for (int b = 1; b < B; b++) memcpy(h0 + (size_t)b * H, h0, sizeof(float) * (size_t)H);
  if (own > 0) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, H, own, 1.0f, inp, own,
                params + m->w_in, m->in, 1.0f, h0, H);
  }
  int n = B * H;
  for (int k = 0; k < m->blocks; k++) {
    nfp_relu_forward(a.r0[k], a.h[k], n);
    nfp_linear_forward(a.r1[k], a.r0[k], params + m->w0[k], params + m->b0[k], B, H, H);
    nfp_relu_forward(a.r1[k], a.r1[k], n);
    nfp_linear_forward(a.t1[k], a.r1[k], params + m->w1[k], params + m->b1[k], B, H, H);
    // one gate row for every row
    float* g = a.g[k];
    nfp_linear_forward(g, ctx, params + m->wc[k], params + m->bc[k], 1, m->ctx, H);
    for (int i = 0; i < H; i++) g[i] = 1.0f / (1.0f + expf(-g[i]));
    for (int b = 0; b < B; b++) {
      float* hn = a.h[k + 1] + (size_t)b * H;
      const float* h = a.h[k] + (size_t)b * H;
      const float* t = a.t1[k] + (size_t)b * H;
      for (int i = 0; i < H; i++) hn[i] = h[i] + t[i] * g[i];
    }
  }
  if (m->out_t) {
    nfp_linear_forward_t(out, a.h[m->blocks], params + m->w_out, params + m->b_out, B, H, m->out);
  } else {
    nfp_linear_forward(out, a.h[m->blocks], params + m->w_out, params + m->b_out, B, H, m->out);
  }
}

void nfp_resmlp_backward(float* dinp, float* dctx, float* dparams, float* scratch,
                         const float* dout, const float* acts, const float* params,
                         const nfp_resmlp* m, const float* inp, const float* ctx, int B) {
  int H = m->hidden;
  int n = B * H;
  acts_ptrs a;
  acts_map(&a, acts, m, B);
  float* dh = scratch;
  float* dt = scratch + n;
  float* dr = scratch + 2 * (size_t)n;
  float* dc = scratch + 3 * (size_t)n;
  float* dp = dparams;  // NULL: input gradients only
  memset(dh, 0, sizeof(float) * (size_t)n);
  float* dw_out = dp ? dp + m->w_out : NULL;
  float* db_out = dp ? dp + m->b_out : NULL;
  if (m->out_t) {
    nfp_linear_backward_t(dh, dw_out, db_out, dout, a.h[m->blocks], params + m->w_out, B, H,
                          m->out);
  } else {
    nfp_linear_backward(dh, dw_out, db_out, dout, a.h[m->blocks], params + m->w_out, B, H,
                        m->out);
  }
  for (int k = m->blocks - 1; k >= 0; k--) {
    if (m->ctx > 0) {
      const float* g = a.g[k];
      const float* t = a.t1[k];
      for (int i = 0; i < n; i++) {
        dt[i] = dh[i] * g[i];
        dc[i] = dh[i] * t[i] * g[i] * (1.0f - g[i]);
      }
      nfp_linear_backward(dctx, dp ? dp + m->wc[k] : NULL, dp ? dp + m->bc[k] : NULL, dc, ctx,
                          params + m->wc[k], B, m->ctx, H);
    } else {
      memcpy(dt, dh, sizeof(float) * (size_t)n);
    }
    memset(dr, 0, sizeof(float) * (size_t)n);
    nfp_linear_backward(dr, dp ? dp + m->w1[k] : NULL, dp ? dp + m->b1[k] : NULL, dt, a.r1[k],
                        params + m->w1[k], B, H, H);
    memset(dt, 0, sizeof(float) * (size_t)n);
    nfp_relu_backward(dt, dr, a.r1[k], n);
    memset(dr, 0, sizeof(float) * (size_t)n);
    nfp_linear_backward(dr, dp ? dp + m->w0[k] : NULL, dp ? dp + m->b0[k] : NULL, dt, a.r0[k],
                        params + m->w0[k], B, H, H);
    nfp_relu_backward(dh, dr, a.r0[k], n);  // residual: dh already holds the skip path
  }
  nfp_linear_backward(m->in > 0 ? dinp : NULL, dp && m->in > 0 ? dp + m->w_in : NULL,
                      dp ? dp + m->b_in : NULL, dh, inp, m->in > 0 ? params + m->w_in : NULL,
                      B, m->in, H);
}
