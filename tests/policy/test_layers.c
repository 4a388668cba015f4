// Finite-difference checks of every layer's backward: linear, residual MLP (with and
// without context gates), coupling layer, state encoder.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fd_util.h"
#include "nfp/flow.h"
#include "nfp/layers.h"
#include "nfp/model.h"

// Float layers: h = 1e-3 keeps float rounding (~1e-7 / h) under the tolerance and is
// small enough that no ReLU pre-activation of these seeded cases crosses zero (a kink
// makes a central difference meaningless); the loss is accumulated in double.
#define H_FLOAT 1e-3
#define RTOL 2e-3
#define ATOL 2e-4

static double dot(const float* a, const double* w, size_t n) {
  double s = 0.0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * w[i];
  return s;
}

static void test_linear(void** state) {
  (void)state;
  enum { B = 3, C = 5, OC = 4 };
  nfp_rng rng;
  nfp_rng_seed(&rng, 1);
  float inp[B * C], w[OC * C], b[OC], out[B * OC];
  double wout[B * OC];
  fill_uniform(inp, B * C, 1.0, &rng);
  fill_uniform(w, OC * C, 1.0, &rng);
  fill_uniform(b, OC, 1.0, &rng);
  for (int i = 0; i < B * OC; i++) wout[i] = nfp_rng_normal(&rng);
  float dout[B * OC], dinp[B * C] = {0}, dw[OC * C] = {0}, db[OC] = {0};
  for (int i = 0; i < B * OC; i++) dout[i] = (float)wout[i];
  nfp_linear_backward(dinp, dw, db, dout, inp, w, B, C, OC);
  // accumulation: a second call doubles every gradient
  float dinp2[B * C], dw2[OC * C];
  memcpy(dinp2, dinp, sizeof(dinp));
  memcpy(dw2, dw, sizeof(dw));
  nfp_linear_backward(dinp2, dw2, NULL, dout, inp, w, B, C, OC);
  for (int i = 0; i < B * C; i++) assert_true(fabsf(dinp2[i] - 2 * dinp[i]) < 1e-5f);
  for (int i = 0; i < OC * C; i++) assert_true(fabsf(dw2[i] - 2 * dw[i]) < 1e-5f);

  float* vars[3] = {inp, w, b};
  float* grads[3] = {dinp, dw, db};
  int sizes[3] = {B * C, OC * C, OC};
  for (int v = 0; v < 3; v++) {
    for (int i = 0; i < sizes[v]; i++) {
      float save = vars[v][i];
      vars[v][i] = save + (float)H_FLOAT;
      nfp_linear_forward(out, inp, w, b, B, C, OC);
      double lp = dot(out, wout, B * OC);
      vars[v][i] = save - (float)H_FLOAT;
      nfp_linear_forward(out, inp, w, b, B, C, OC);
      double lm = dot(out, wout, B * OC);
      vars[v][i] = save;
      assert_true(grad_close("linear", (size_t)i, grads[v][i], (lp - lm) / (2 * H_FLOAT), RTOL,
                             ATOL));
    }
  }
}

// The transposed-output linear layer against the plain one.
static void test_linear_t(void** state) {
  (void)state;
  enum { B = 5, C = 7, OC = 6 };
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  float inp[B * C], w[OC * C], bias[OC], out[B * OC], out_t[OC * B], dout[B * OC];
  fill_uniform(inp, B * C, 1.0, &rng);
  fill_uniform(w, OC * C, 1.0, &rng);
  fill_uniform(bias, OC, 1.0, &rng);
  fill_uniform(dout, B * OC, 1.0, &rng);
  for (int rows = 1; rows <= B; rows += B - 1) {  // one row (matrix-vector) and five
    nfp_linear_forward(out, inp, w, bias, rows, C, OC);
    nfp_linear_forward_t(out_t, inp, w, bias, rows, C, OC);
    for (int b = 0; b < rows; b++) {
      for (int j = 0; j < OC; j++) assert_true(fabsf(out_t[j * rows + b] - out[b * OC + j]) < 1e-5f);
    }
    float di[B * C] = {0}, dw[OC * C] = {0}, db[OC] = {0};
    float di_t[B * C] = {0}, dw_t[OC * C] = {0}, db_t[OC] = {0};
    float dt[OC * B];  // dout for this many rows, transposed
    for (int b = 0; b < rows; b++) {
      for (int j = 0; j < OC; j++) dt[j * rows + b] = dout[b * OC + j];
    }
    nfp_linear_backward(di, dw, db, dout, inp, w, rows, C, OC);
    nfp_linear_backward_t(di_t, dw_t, db_t, dt, inp, w, rows, C, OC);
    for (int i = 0; i < rows * C; i++) assert_true(fabsf(di_t[i] - di[i]) < 1e-5f);
    for (int i = 0; i < OC * C; i++) assert_true(fabsf(dw_t[i] - dw[i]) < 1e-5f);
    for (int i = 0; i < OC; i++) assert_true(fabsf(db_t[i] - db[i]) < 1e-5f);
  }
}

static void check_resmlp(int in, int hidden, int blocks, int ctx, int out, uint64_t seed) {
  enum { B = 3 };
  nfp_ptable table = {0};
  nfp_resmlp m;
  assert_int_equal(nfp_resmlp_build(&m, &table, "t", in, hidden, blocks, ctx, out), 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, seed);
  float* p = calloc(table.total, sizeof(float));
  float* dp = calloc(table.total, sizeof(float));
  nfp_resmlp_init(p, &m, &rng, 0);
  for (int k = 0; k < blocks; k++) {  // make the blocks matter
    fill_uniform(p + m.w1[k], (size_t)hidden * hidden, 0.3, &rng);
  }
  float* inp = malloc(sizeof(float) * (B * in + 1));
  float* c = malloc(sizeof(float) * (B * ctx + 1));
  float* y = malloc(sizeof(float) * B * out);
  double* wout = malloc(sizeof(double) * B * out);
  float* dout = malloc(sizeof(float) * B * out);
  float* acts = malloc(sizeof(float) * nfp_resmlp_acts_size(&m, B));
  float* scratch = malloc(sizeof(float) * nfp_resmlp_scratch_size(&m, B));
  float* dinp = calloc((size_t)B * in + 1, sizeof(float));
  float* dc = calloc((size_t)B * ctx + 1, sizeof(float));
  fill_uniform(inp, (size_t)B * in, 1.0, &rng);
  fill_uniform(c, (size_t)B * ctx, 1.0, &rng);
  for (int i = 0; i < B * out; i++) dout[i] = (float)(wout[i] = nfp_rng_normal(&rng));
  nfp_resmlp_forward(y, acts, p, &m, inp, ctx ? c : NULL, B);
  nfp_resmlp_backward(dinp, ctx ? dc : NULL, dp, scratch, dout, acts, p, &m, inp, ctx ? c : NULL,
                      B);
  float* vars[3] = {inp, c, p};
  float* grads[3] = {dinp, dc, dp};
  size_t sizes[3] = {(size_t)B * in, (size_t)B * ctx, table.total};
  const char* names[3] = {"resmlp dinp", "resmlp dctx", "resmlp dparams"};
  int bad = 0;
  for (int v = 0; v < 3; v++) {
    for (size_t i = 0; i < sizes[v]; i++) {
      float save = vars[v][i];
      vars[v][i] = save + (float)H_FLOAT;
      nfp_resmlp_forward(y, acts, p, &m, inp, ctx ? c : NULL, B);
      double lp = dot(y, wout, (size_t)B * out);
      vars[v][i] = save - (float)H_FLOAT;
      nfp_resmlp_forward(y, acts, p, &m, inp, ctx ? c : NULL, B);
      double lm = dot(y, wout, (size_t)B * out);
      vars[v][i] = save;
      bad += !grad_close(names[v], i, grads[v][i], (lp - lm) / (2 * H_FLOAT), RTOL, ATOL);
    }
  }
  assert_int_equal(bad, 0);
  free(p), free(dp), free(inp), free(c), free(y), free(wout), free(dout), free(acts);
  free(scratch), free(dinp), free(dc);
  nfp_ptable_free(&table);
}

static void test_resmlp(void** state) {
  (void)state;
  check_resmlp(6, 8, 2, 3, 5, 2);   // context gates
  check_resmlp(4, 7, 1, 0, 3, 3);   // no context
  check_resmlp(5, 6, 0, 2, 4, 4);   // no blocks
}

// Coupling layer: y and logdet w.r.t. x (double), context and parameters (B = 2: the
// spline runs a row's coordinates side by side).
enum { CPL_BMAX = 10 };

static void check_coupling(int B) {
  enum { D = 6, CTX = 3 };
  nfp_spline s;
  nfp_spline_default(&s);
  nfp_ptable table = {0};
  nfp_flow flow;
  assert_int_equal(nfp_flow_build(&flow, &table, "flow", D, CTX, 2, 8, 1, &s), 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, 5);
  float* p = calloc(table.total, sizeof(float));
  float* dp = calloc(table.total, sizeof(float));
  nfp_flow_init(p, &flow, &rng);
  fill_uniform(p, table.total, 0.5, &rng);  // a non-trivial spline everywhere
  for (int l = 0; l < 2; l++) {
    const nfp_coupling* c = &flow.layer[l];
    assert_true(c->n_tr > 0 && c->n_id > 0 && c->n_tr + c->n_id == D);
    double x[CPL_BMAX * D], y[CPL_BMAX * D], ld[CPL_BMAX], wy[CPL_BMAX * D], wl[CPL_BMAX];
    double dx[CPL_BMAX * D] = {0};
    float ctx[CPL_BMAX * CTX], dctx[CPL_BMAX * CTX] = {0};
    for (int i = 0; i < B * D; i++) x[i] = nfp_rng_range(&rng, -2.5, 2.5), wy[i] = nfp_rng_normal(&rng);
    for (int b = 0; b < B; b++) wl[b] = nfp_rng_normal(&rng);
    fill_uniform(ctx, B * CTX, 1.0, &rng);
    float* acts = malloc(sizeof(float) * nfp_coupling_acts_size(c, B));
    float* scratch = malloc(sizeof(float) * nfp_coupling_scratch_size(c, B));
    memset(dp, 0, sizeof(float) * table.total);
    memset(ld, 0, sizeof(ld));
    nfp_coupling_forward(y, ld, acts, p, c, &s, x, ctx, B);
    for (int b = 0; b < B; b++) assert_true(ld[b] != 0.0);  // every row's spline bends
    nfp_coupling_backward(dx, dctx, dp, scratch, wy, wl, acts, p, c, &s, x, ctx, B);
#define LOSS(out)                                                              \
  do {                                                                         \
    memset(ld, 0, sizeof(ld));                                                 \
    nfp_coupling_forward(y, ld, acts, p, c, &s, x, ctx, B);                    \
    out = 0.0;                                                                 \
    for (int i = 0; i < B * D; i++) out += wy[i] * y[i];                       \
    for (int b = 0; b < B; b++) out += wl[b] * ld[b];                          \
  } while (0)
    int bad = 0;
    double lp, lm;
    for (int i = 0; i < B * D; i++) {  // x enters the conditioner as float: h as for floats
      double save = x[i];
      x[i] = save + H_FLOAT;
      LOSS(lp);
      x[i] = save - H_FLOAT;
      LOSS(lm);
      x[i] = save;
      bad += !grad_close("coupling dx", (size_t)i, dx[i], (lp - lm) / (2 * H_FLOAT), 5e-3, 1e-3);
    }
    for (int i = 0; i < B * CTX; i++) {
      float save = ctx[i];
      ctx[i] = save + (float)H_FLOAT;
      LOSS(lp);
      ctx[i] = save - (float)H_FLOAT;
      LOSS(lm);
      ctx[i] = save;
      bad += !grad_close("coupling dctx", (size_t)i, dctx[i], (lp - lm) / (2 * H_FLOAT), 5e-3, 1e-3);
    }
    // parameters of this layer only (the others get no gradient)
    const nfp_resmlp* mm = &c->mlp;
    size_t lo = mm->w_in, hi = mm->b_out + (size_t)mm->out;
    for (size_t i = 0; i < table.total; i++) {
      if (i < lo || i >= hi) {
        assert_true(dp[i] == 0.0f);
        continue;
      }
      float save = p[i];
      p[i] = save + (float)H_FLOAT;
      LOSS(lp);
      p[i] = save - (float)H_FLOAT;
      LOSS(lm);
      p[i] = save;
      bad += !grad_close("coupling dparams", i, dp[i], (lp - lm) / (2 * H_FLOAT), 5e-3, 1e-3);
    }
#undef LOSS
    assert_int_equal(bad, 0);
    free(acts);
    free(scratch);
  }
  free(p);
  free(dp);
  nfp_flow_free(&flow);
  nfp_ptable_free(&table);
}

static void test_coupling(void** state) {
  (void)state;
  check_coupling(2);
}

// A batch of CPL_BMAX rows (the spline's lanes are rows) against the same rows one at a
// time (lanes are coordinates, checked above by finite differences): outputs, log-dets
// and input gradients per row, parameter gradients summed.
static void test_coupling_rows(void** state) {
  (void)state;
  enum { B = CPL_BMAX, D = 6, CTX = 3 };
  nfp_spline s;
  nfp_spline_default(&s);
  nfp_ptable table = {0};
  nfp_flow flow;
  assert_int_equal(nfp_flow_build(&flow, &table, "flow", D, CTX, 2, 8, 1, &s), 0);
  nfp_rng rng;
  nfp_rng_seed(&rng, 6);
  float* p = calloc(table.total, sizeof(float));
  float* dp = calloc(table.total, sizeof(float));
  float* dp1 = calloc(table.total, sizeof(float));
  nfp_flow_init(p, &flow, &rng);
  fill_uniform(p, table.total, 0.5, &rng);
  const nfp_coupling* c = &flow.layer[1];
  double x[B * D], y[B * D], ld[B], wy[B * D], wl[B], dx[B * D] = {0};
  float ctx[B * CTX], dctx[B * CTX] = {0};
  for (int i = 0; i < B * D; i++) x[i] = nfp_rng_range(&rng, -3.2, 3.2), wy[i] = nfp_rng_normal(&rng);
  for (int b = 0; b < B; b++) wl[b] = nfp_rng_normal(&rng), ld[b] = 0.0;
  fill_uniform(ctx, B * CTX, 1.0, &rng);
  float* acts = malloc(sizeof(float) * nfp_coupling_acts_size(c, B));
  float* scratch = malloc(sizeof(float) * nfp_coupling_scratch_size(c, B));
  for (int inverse = 0; inverse < 2; inverse++) {
    memset(ld, 0, sizeof(ld));
    if (inverse) nfp_coupling_inverse(y, ld, acts, p, c, &s, x, ctx, B);
    else nfp_coupling_forward(y, ld, acts, p, c, &s, x, ctx, B);
    for (int b = 0; b < B; b++) {
      double y1[D], ld1 = 0.0;
      if (inverse) nfp_coupling_inverse(y1, &ld1, acts, p, c, &s, x + b * D, ctx + b * CTX, 1);
      else nfp_coupling_forward(y1, &ld1, acts, p, c, &s, x + b * D, ctx + b * CTX, 1);
      assert_true(fabs(ld1 - ld[b]) < 1e-5 * (1.0 + fabs(ld1)));
      for (int i = 0; i < D; i++) assert_true(fabs(y1[i] - y[b * D + i]) < 1e-5);
    }
  }
  nfp_coupling_forward(y, ld, acts, p, c, &s, x, ctx, B);
  nfp_coupling_backward(dx, dctx, dp, scratch, wy, wl, acts, p, c, &s, x, ctx, B);
  for (int b = 0; b < B; b++) {
    double y1[D], ld1 = 0.0, dx1[D] = {0};
    float dctx1[CTX] = {0};
    nfp_coupling_forward(y1, &ld1, acts, p, c, &s, x + b * D, ctx + b * CTX, 1);
    nfp_coupling_backward(dx1, dctx1, dp1, scratch, wy + b * D, wl + b, acts, p, c, &s, x + b * D,
                          ctx + b * CTX, 1);
    for (int i = 0; i < D; i++) assert_true(fabs(dx1[i] - dx[b * D + i]) < 1e-4 * (1.0 + fabs(dx1[i])));
    for (int i = 0; i < CTX; i++) assert_true(fabsf(dctx1[i] - dctx[b * CTX + i]) < 1e-4f * (1.0f + fabsf(dctx1[i])));
  }
  int bad = 0;
  for (size_t i = 0; i < table.total; i++) {
    bad += !grad_close("coupling rows dparams", i, dp[i], dp1[i], 1e-4, 1e-5);
  }
  assert_int_equal(bad, 0);
  free(p), free(dp), free(dp1), free(acts), free(scratch);
  nfp_flow_free(&flow);
  nfp_ptable_free(&table);
}

static void test_state_encoder(void** state) {
  (void)state;
  enum { B = 3 };
  nfp_encoder_config cfg = {.kind = NFP_ENCODER_STATE, .state_dim = 3, .n_obs = 2, .hidden = 8,
                            .blocks = 1, .out_dim = 4};
  nfp_ptable table = {0};
  nfp_encoder enc;
  assert_int_equal(nfp_encoder_build(&enc, &table, "enc", &cfg), 0);
  assert_non_null(nfp_ptable_find(&table, "enc.mlp.in.weight"));
  nfp_rng rng;
  nfp_rng_seed(&rng, 9);
  float* p = calloc(table.total, sizeof(float));
  float* dp = calloc(table.total, sizeof(float));
  nfp_encoder_init(p, &enc, &rng);
  fill_uniform(p + enc.mlp.w1[0], 64, 0.3, &rng);
  float st[B * 6], ctx[B * 4], dctx[B * 4];
  double w[B * 4];
  fill_uniform(st, B * 6, 1.0, &rng);
  for (int i = 0; i < B * 4; i++) dctx[i] = (float)(w[i] = nfp_rng_normal(&rng));
  nfp_obs_batch obs = {.state = st};
  float* acts = malloc(sizeof(float) * nfp_encoder_acts_size(&enc, B));
  float* scratch = malloc(sizeof(float) * nfp_encoder_scratch_size(&enc, B));
  nfp_encoder_forward(ctx, acts, p, &enc, &obs, B);
  nfp_encoder_backward(dp, scratch, dctx, acts, p, &enc, &obs, B);
  int bad = 0;
  for (size_t i = 0; i < table.total; i++) {
    float save = p[i];
    p[i] = save + (float)H_FLOAT;
    nfp_encoder_forward(ctx, acts, p, &enc, &obs, B);
    double lp = dot(ctx, w, B * 4);
    p[i] = save - (float)H_FLOAT;
    nfp_encoder_forward(ctx, acts, p, &enc, &obs, B);
    double lm = dot(ctx, w, B * 4);
    p[i] = save;
    bad += !grad_close("encoder dparams", i, dp[i], (lp - lm) / (2 * H_FLOAT), RTOL, ATOL);
  }
  assert_int_equal(bad, 0);
  // an image encoder is refused with a message, not a crash
  cfg.kind = NFP_ENCODER_RESNET18;
  nfp_ptable t2 = {0};
  nfp_encoder e2;
  assert_int_equal(nfp_encoder_build(&e2, &t2, "enc", &cfg), -1);
  nfp_ptable_free(&t2);
  free(p), free(dp), free(acts), free(scratch);
  nfp_ptable_free(&table);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_linear),
      cmocka_unit_test(test_linear_t),
      cmocka_unit_test(test_resmlp),
      cmocka_unit_test(test_coupling),
      cmocka_unit_test(test_coupling_rows),
      cmocka_unit_test(test_state_encoder),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
