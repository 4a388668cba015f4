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

// Run the conditioner on the untouched coordinates of v (x forward, y inverse). shared:
// ctx is one row for all B (the MLP input then holds only the coordinates).
static void conditioner(float* acts, const float* params, const nfp_coupling* c,
                        const double* v, const float* ctx, int B, int shared) {
  float* in = mlp_in_of(acts);
  shared = shared && c->ctx > 0;
  int nin = shared ? c->n_id : c->n_id + c->ctx;
  for (int b = 0; b < B; b++) {
    const double* vb = v + (size_t)b * c->D;
    float* ib = in + (size_t)b * nin;
    for (int i = 0; i < c->n_id; i++) ib[i] = (float)vb[c->id_idx[i]];
    if (!shared && c->ctx > 0) {
      memcpy(ib + c->n_id, ctx + (size_t)b * c->ctx, sizeof(float) * c->ctx);
    }
  }
  if (shared) {
    nfp_resmlp_forward_shared(mlp_out_of(acts, c, B), mlp_acts_of(acts, c, B), params, &c->mlp,
                              in, ctx, B);
  } else {
    nfp_resmlp_forward(mlp_out_of(acts, c, B), mlp_acts_of(acts, c, B), params, &c->mlp, in,
                       c->ctx > 0 ? ctx : NULL, B);
  }
}

// The spline parameters are [n_tr * P, B] (the MLP writes its output transposed): that
// of coordinate j, row b, parameter q is at prm[(j * P + q) * B + b]. From ROWS_MIN rows
// the spline's lanes are the rows of one coordinate (loads side by side); fewer rows run
// each row's coordinates side by side instead. Inputs are gathered in pieces of up to
// PIECE; logdet[b] += the row's sum, taken in coordinate order either way.
#define PIECE 64
#define ROWS_MIN 8

typedef void (*spline_fn)(double* out, double* logdet, const double* in, const float* raw,
                          ptrdiff_t lane_stride, ptrdiff_t param_stride, int n,
                          const nfp_spline* s);

static void splines_by_rows(double* out, double* logdet, const float* prm,
                            const nfp_coupling* c, const nfp_spline* s, const double* in, int B,
                            spline_fn fn) {
  int P = n_raw(s);
  double v[PIECE], r[PIECE], l[PIECE], acc[PIECE];
  for (int b0 = 0; b0 < B; b0 += PIECE) {
    int m = B - b0 < PIECE ? B - b0 : PIECE;
    for (int k = 0; k < m; k++) acc[k] = 0.0;
    for (int j = 0; j < c->n_tr; j++) {
      size_t i = (size_t)c->tr_idx[j];
      for (int k = 0; k < m; k++) v[k] = in[(size_t)(b0 + k) * c->D + i];
      fn(r, l, v, prm + (size_t)j * P * B + b0, 1, B, m, s);
      for (int k = 0; k < m; k++) {
        out[(size_t)(b0 + k) * c->D + i] = r[k];
        acc[k] += l[k];
      }
    }
    for (int k = 0; k < m; k++) logdet[b0 + k] += acc[k];
  }
}

static void splines_by_coords(double* out, double* logdet, const float* prm,
                              const nfp_coupling* c, const nfp_spline* s, const double* in, int B,
                              spline_fn fn) {
  int P = n_raw(s);
  double v[PIECE], r[PIECE], l[PIECE];
  for (int b = 0; b < B; b++) {
    const double* ib = in + (size_t)b * c->D;
    double* ob = out + (size_t)b * c->D;
    double ld = 0.0;
    for (int j0 = 0; j0 < c->n_tr; j0 += PIECE) {
      int m = c->n_tr - j0 < PIECE ? c->n_tr - j0 : PIECE;
      const int* idx = c->tr_idx + j0;
      for (int j = 0; j < m; j++) v[j] = ib[idx[j]];
      fn(r, l, v, prm + (size_t)j0 * P * B + b, (ptrdiff_t)P * B, B, m, s);
      for (int j = 0; j < m; j++) {
        ob[idx[j]] = r[j];
        ld += l[j];
      }
    }
    logdet[b] += ld;
  }
}

static void splines(double* out, double* logdet, const float* prm, const nfp_coupling* c,
                    const nfp_spline* s, const double* in, int B, spline_fn fn) {
  memcpy(out, in, sizeof(double) * (size_t)B * c->D);  // the untouched coordinates
  if (B >= ROWS_MIN) splines_by_rows(out, logdet, prm, c, s, in, B, fn);
  else splines_by_coords(out, logdet, prm, c, s, in, B, fn);
}

void nfp_coupling_forward(double* y, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* x,
                          const float* ctx, int B) {
  conditioner(acts, params, c, x, ctx, B, 0);
  splines(y, logdet, mlp_out_of(acts, c, B), c, s, x, B, nfp_spline_forward_n);
}

void nfp_coupling_inverse(double* x, double* logdet, float* acts, const float* params,
                          const nfp_coupling* c, const nfp_spline* s, const double* y,
                          const float* ctx, int B) {
  conditioner(acts, params, c, y, ctx, B, 0);  // untouched coordinates are equal in x and y
  splines(x, logdet, mlp_out_of(acts, c, B), c, s, y, B, nfp_spline_inverse_n);
}

void nfp_coupling_inverse_shared(double* x, double* logdet, float* acts, const float* params,
                                 const nfp_coupling* c, const nfp_spline* s, const double* y,
                                 const float* ctx, int B, int f32) {
  conditioner(acts, params, c, y, ctx, B, 1);
  splines(x, logdet, mlp_out_of(acts, c, B), c, s, y, B,
          f32 ? nfp_spline_inverse_n_f32 : nfp_spline_inverse_n);
}

// Backward of splines(): dx +=, and dout (laid out as the parameters) = dL/dparameters.
static void splines_backward(double* dx, float* dout, const float* prm, const nfp_coupling* c,
                             const nfp_spline* s, const double* dy, const double* dlogdet,
                             const double* x, int B) {
  int P = n_raw(s), D = c->D;
  double xv[PIECE], dyv[PIECE], dl[PIECE], g[PIECE];
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < c->n_id; i++) {
      size_t o = (size_t)b * D + c->id_idx[i];
      dx[o] += dy[o];
    }
  }
  if (B >= ROWS_MIN) {
    for (int b0 = 0; b0 < B; b0 += PIECE) {
      int m = B - b0 < PIECE ? B - b0 : PIECE;
      for (int j = 0; j < c->n_tr; j++) {
        size_t i = (size_t)c->tr_idx[j], o = (size_t)j * P * B + b0;
        for (int k = 0; k < m; k++) {
          xv[k] = x[(size_t)(b0 + k) * D + i];
          dyv[k] = dy[(size_t)(b0 + k) * D + i];
          g[k] = 0.0;
        }
        nfp_spline_backward_n(g, dout + o, dyv, dlogdet + b0, xv, prm + o, 1, B, m, s);
        for (int k = 0; k < m; k++) dx[(size_t)(b0 + k) * D + i] += g[k];
      }
    }
    return;
  }
  for (int b = 0; b < B; b++) {
    for (int j0 = 0; j0 < c->n_tr; j0 += PIECE) {
      int m = c->n_tr - j0 < PIECE ? c->n_tr - j0 : PIECE;
      const int* idx = c->tr_idx + j0;
      size_t o = (size_t)j0 * P * B + b;
      for (int j = 0; j < m; j++) {
        xv[j] = x[(size_t)b * D + idx[j]];
        dyv[j] = dy[(size_t)b * D + idx[j]];
        dl[j] = dlogdet[b];
        g[j] = 0.0;
      }
      nfp_spline_backward_n(g, dout + o, dyv, dl, xv, prm + o, (ptrdiff_t)P * B, B, m, s);
      for (int j = 0; j < m; j++) dx[(size_t)b * D + idx[j]] += g[j];
    }
  }
}

void nfp_coupling_backward(double* dx, float* dctx, float* dparams, float* scratch,
                           const double* dy, const double* dlogdet, const float* acts,
                           const float* params, const nfp_coupling* c, const nfp_spline* s,
                           const double* x, const float* ctx, int B) {
  int nin = c->n_id + c->ctx;
  float* dout = scratch;
  float* din = dout + (size_t)B * c->mlp.out;
  float* mscratch = din + (size_t)B * nin;
  splines_backward(dx, dout, mlp_out_of(acts, c, B), c, s, dy, dlogdet, x, B);
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
