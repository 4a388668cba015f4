// One rational-quadratic spline coupling layer: the untouched coordinates and the
// context feed a residual MLP whose outputs parametrise the spline of each
// transformed coordinate.
#include <string.h>

#include "nfp/flow.h"

static int n_raw(const nfp_spline* s) { return NFP_SPLINE_NPARAM(s->K); }

// acts = [mlp_in (B x (n_id+ctx)) | mlp_out (B x n_tr*P) | MLP activations]
static float* mlp_in_of(const float* acts) { return (float*)acts; }
static float* mlp_out_of(const float* acts, const nfp_coupling* c, int B) {
  return (float*)acts + (size_t)B * (c->n_id + c->ctx);
}
static float* mlp_acts_of(const float* acts, const nfp_coupling* c, int B) {
  return mlp_out_of(acts, c, B) + (size_t)B * c->mlp.out;
}

size_t nfp_coupling_acts_size(const nfp_coupling* c, int B) {
  return (size_t)B * (c->n_id + c->ctx + c->mlp.out) + nfp_resmlp_acts_size(&c->mlp, B);
}

size_t nfp_coupling_scratch_size(const nfp_coupling* c, int B) {
  // dmlp_out, dmlp_in, MLP scratch
  return (size_t)B * (c->mlp.out + c->n_id + c->ctx) + nfp_resmlp_scratch_size(&c->mlp, B);
}

// Run the conditioner on the untouched coordinates of v (x forward, y inverse).
static void conditioner(float* acts, const float* params, const nfp_coupling* c,
                        const double* v, const float* ctx, int B) {
  float* in = mlp_in_of(acts);
  int nin = c->n_id + c->ctx;
  for (int b = 0; b < B; b++) {
    const double* vb = v + (size_t)b * c->D;
    float* ib = in + (size_t)b * nin;
    for (int i = 0; i < c->n_id; i++) ib[i] = (float)vb[c->id_idx[i]];
    if (c->ctx > 0) memcpy(ib + c->n_id, ctx + (size_t)b * c->ctx, sizeof(float) * c->ctx);
  }
  nfp_resmlp_forward(mlp_out_of(acts, c, B), mlp_acts_of(acts, c, B), params, &c->mlp, in,
                     c->ctx > 0 ? ctx : NULL, B);
}

static void raw_params(double* raw, const float* out, int P) {
  for (int q = 0; q < P; q++) raw[q] = (double)out[q];
}

void nfp_coupling_forward(double* y, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* x,
                          const float* ctx, int B) {
  int P = n_raw(s);
  conditioner(acts, params, c, x, ctx, B);
  const float* out = mlp_out_of(acts, c, B);
  double raw[NFP_SPLINE_NPARAM(NFP_SPLINE_MAX_BINS)];
  for (int b = 0; b < B; b++) {
    const double* xb = x + (size_t)b * c->D;
    double* yb = y + (size_t)b * c->D;
    memcpy(yb, xb, sizeof(double) * c->D);
    double ld = 0.0;
    for (int j = 0; j < c->n_tr; j++) {
      int i = c->tr_idx[j];
      double lj;
      raw_params(raw, out + ((size_t)b * c->n_tr + j) * P, P);
      yb[i] = nfp_spline_forward(&lj, xb[i], raw, s);
      ld += lj;
    }
    logdet[b] += ld;
  }
}

void nfp_coupling_inverse(double* x, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* y,
                          const float* ctx, int B) {
  int P = n_raw(s);
  conditioner(acts, params, c, y, ctx, B);  // untouched coordinates are equal in x and y
  const float* out = mlp_out_of(acts, c, B);
  double raw[NFP_SPLINE_NPARAM(NFP_SPLINE_MAX_BINS)];
  for (int b = 0; b < B; b++) {
    const double* yb = y + (size_t)b * c->D;
    double* xb = x + (size_t)b * c->D;
    memcpy(xb, yb, sizeof(double) * c->D);
    double ld = 0.0;
    for (int j = 0; j < c->n_tr; j++) {
      int i = c->tr_idx[j];
      double lj;
      raw_params(raw, out + ((size_t)b * c->n_tr + j) * P, P);
      xb[i] = nfp_spline_inverse(&lj, yb[i], raw, s);
      ld += lj;
    }
    logdet[b] += ld;
  }
}

void nfp_coupling_backward(double* dx, float* dctx, float* dparams, float* scratch,
                           const double* dy, const double* dlogdet, const float* acts,
                           const float* params, const nfp_coupling* c, const nfp_spline* s,
                           const double* x, const float* ctx, int B) {
  int P = n_raw(s);
  int nin = c->n_id + c->ctx;
  float* dout = scratch;
  float* din = dout + (size_t)B * c->mlp.out;
  float* mscratch = din + (size_t)B * nin;
  const float* out = mlp_out_of(acts, c, B);
  double raw[NFP_SPLINE_NPARAM(NFP_SPLINE_MAX_BINS)];
  double draw[NFP_SPLINE_NPARAM(NFP_SPLINE_MAX_BINS)];
  for (int b = 0; b < B; b++) {
    const double* xb = x + (size_t)b * c->D;
    const double* dyb = dy + (size_t)b * c->D;
    double* dxb = dx + (size_t)b * c->D;
    for (int i = 0; i < c->n_id; i++) dxb[c->id_idx[i]] += dyb[c->id_idx[i]];
    for (int j = 0; j < c->n_tr; j++) {
      int i = c->tr_idx[j];
      size_t o = ((size_t)b * c->n_tr + j) * P;
      raw_params(raw, out + o, P);
      memset(draw, 0, sizeof(double) * P);
      nfp_spline_backward(&dxb[i], draw, dyb[i], dlogdet[b], xb[i], raw, s);
      for (int q = 0; q < P; q++) dout[o + q] = (float)draw[q];
    }
  }
  memset(din, 0, sizeof(float) * (size_t)B * nin);
  nfp_resmlp_backward(din, c->ctx > 0 ? dctx : NULL, dparams, mscratch, dout,
                      mlp_acts_of(acts, c, B), params, &c->mlp, mlp_in_of(acts),
                      c->ctx > 0 ? ctx : NULL, B);
  for (int b = 0; b < B; b++) {
    const float* db = din + (size_t)b * nin;
    double* dxb = dx + (size_t)b * c->D;
    for (int i = 0; i < c->n_id; i++) dxb[c->id_idx[i]] += (double)db[i];
    if (dctx && c->ctx > 0) {
      float* dcb = dctx + (size_t)b * c->ctx;
      for (int k = 0; k < c->ctx; k++) dcb[k] += db[c->n_id + k];
    }
  }
}
