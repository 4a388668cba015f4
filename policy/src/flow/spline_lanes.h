// The rational-quadratic spline on NFP_VLANES coordinates at a time (see nfp/spline.h
// for the maths). Compiled once per instruction set and element type: the includer
// selects its target, includes vecd.h (double) or vecf.h (float, the ranking kernels),
// defines v_sqrt, NFP_SPLINE_TABLE (the exported table's name) and NFP_SPLINE_NAME.
//
// Pitfalls handled (the known traps of rational-quadratic splines): inputs outside [-B, B] never reach the
// spline maths (they are swapped for 0 and the identity is selected afterwards); the
// bin index is clamped to K-1 at the right edge; theta is clamped to [0, 1]; the
// inverse's discriminant is clamped at 0 and its root is taken in the form that does
// not cancel. Every formula is the one of the scalar code it replaced, term for term.
#include <math.h>
#include <string.h>

#include "spline_kernels.h"

#define W NFP_VLANES
#define NP_MAX NFP_SPLINE_NPARAM(NFP_SPLINE_MAX_BINS)

// softplus(z) = max(z, 0) + log1p(exp(-|z|)): exp never overflows
V_INLINE vd softplus(vd z) { return v_max(z, v_set(0.0)) + v_log1p(v_exp(-v_abs(z))); }

V_INLINE vd sigmoid(vd z) {
  vd e = v_exp(-v_abs(z));
  return V_SELECT(z >= 0.0, 1.0 / (1.0 + e), e / (1.0 + e));
}

V_INLINE vd clamp01(vd t) {
  t = V_SELECT(t < 0.0, v_set(0.0), t);
  return V_SELECT(t > 1.0, v_set(1.0), t);
}

// Softmax of the bin logits into p[K] (the floor vmin is applied by knots()).
V_INLINE void bin_sizes(vd* p, const vd* logits, int K) {
  vd mx = logits[0];
  for (int i = 1; i < K; i++) mx = v_max(logits[i], mx);
  vd sum = v_set(0.0);
  for (int i = 0; i < K; i++) {
    p[i] = v_exp(logits[i] - mx);
    sum += p[i];
  }
  vd inv = 1.0 / sum;
  for (int i = 0; i < K; i++) p[i] *= inv;
}

// Knots -B + 2B * cumsum(vmin + (1 - K vmin) p), pinned at both ends.
V_INLINE void knots(vd* cum, const vd* p, int K, double vmin, double B) {
  vs vm = (vs)vmin, scale = (vs)(1.0 - K * vmin), b = (vs)B, b2 = (vs)(2.0 * B);
  vd acc = v_set(0.0);
  cum[0] = v_set(-b);
  for (int i = 1; i < K; i++) {
    acc += vm + scale * p[i - 1];
    cum[i] = b2 * acc - b;
  }
  cum[K] = v_set(b);
}

// The bin holding v among the increasing knots cum[0..K], as a double: the number of
// interior knots at or below v, so the right edge belongs to bin K-1.
V_INLINE vd find_bin(const vd* cum, int K, vd v) {
  vd k = v_set(0.0);
  for (int j = 1; j < K; j++) k += V_SELECT(v >= cum[j], v_set(1.0), v_set(0.0));
  return k;
}

// One bin per lane: its left knots, sizes and end derivatives; z0, z1 are the
// derivative logits used (for the backward's sigmoid).
typedef struct {
  vd k, xk, w, yk, h, d0, d1, z0, z1;
} rq_bin;

// Bin probabilities and knots of widths and heights.
typedef struct {
  vd pw[NFP_SPLINE_MAX_BINS], ph[NFP_SPLINE_MAX_BINS];
  vd cw[NFP_SPLINE_MAX_BINS + 1], ch[NFP_SPLINE_MAX_BINS + 1];
} rq_geom;

V_INLINE void geometry(rq_geom* g, const vd* raw, const nfp_spline* s) {
  int K = s->K;
  bin_sizes(g->pw, raw, K);
  bin_sizes(g->ph, raw + K, K);
  knots(g->cw, g->pw, K, s->wmin, s->B);
  knots(g->ch, g->ph, K, s->hmin, s->B);
}

// Bin k of each lane; only its two end derivatives are evaluated (1 at the boundary,
// matching the linear tails).
V_INLINE rq_bin bin_at(const rq_geom* g, vd k, const vd* raw, const nfp_spline* s) {
  int K = s->K;
  vd zero = v_set(0.0), xk1 = zero, yk1 = zero;
  rq_bin b;
  b.k = k;
  b.xk = b.yk = b.z0 = b.z1 = zero;
  for (int j = 0; j < K; j++) {
    vs jd = (vs)j;
    b.xk = V_SELECT(k == jd, g->cw[j], b.xk);
    xk1 = V_SELECT(k == jd, g->cw[j + 1], xk1);
    b.yk = V_SELECT(k == jd, g->ch[j], b.yk);
    yk1 = V_SELECT(k == jd, g->ch[j + 1], yk1);
    if (j >= 1) b.z0 = V_SELECT(k == jd, raw[2 * K + j - 1], b.z0);
    if (j + 1 <= K - 1) b.z1 = V_SELECT(k == jd, raw[2 * K + j], b.z1);
  }
  b.w = xk1 - b.xk;
  b.h = yk1 - b.yk;
  vs dmin = (vs)s->dmin, dshift = (vs)s->dshift;
  b.d0 = V_SELECT(k == 0.0, v_set(1.0), dmin + softplus(b.z0 + dshift));
  b.d1 = V_SELECT(k == (vs)(K - 1), v_set(1.0), dmin + softplus(b.z1 + dshift));
  return b;
}

// log|dy/dx| at theta in bin b.
V_INLINE vd rq_logdet(const rq_bin* b, vd th) {
  vd s = b->h / b->w;
  vd t = th * (1.0 - th);
  vd den = s + (b->d0 + b->d1 - 2.0 * s) * t;
  vd num = s * s * (b->d1 * th * th + 2.0 * s * t + b->d0 * (1.0 - th) * (1.0 - th));
  return v_log(num / (den * den));
}

V_INLINE vd forward_v(vd* logdet, vd x, const vd* raw, const nfp_spline* s) {
  vs B = (vs)s->B;
  vd ax = v_abs(x);                          // |NaN| <= B is false: NaN is a tail
  vd xs = V_SELECT(ax <= B, x, v_set(0.0));  // the tails never reach the spline maths
  rq_geom g;
  geometry(&g, raw, s);
  vd k = find_bin(g.cw, s->K, xs);
  rq_bin b = bin_at(&g, k, raw, s);
  vd th = clamp01((xs - b.xk) / b.w);
  vd sl = b.h / b.w;
  vd t = th * (1.0 - th);
  vd den = sl + (b.d0 + b.d1 - 2.0 * sl) * t;
  *logdet = V_SELECT(ax <= B, rq_logdet(&b, th), v_set(0.0));
  return V_SELECT(ax <= B, b.yk + b.h * (sl * th * th + b.d0 * t) / den, x);
}

V_INLINE vd inverse_v(vd* logdet, vd y, const vd* raw, const nfp_spline* s) {
  vs B = (vs)s->B;
  vd ay = v_abs(y);
  vd ys = V_SELECT(ay <= B, y, v_set(0.0));
  rq_geom g;
  geometry(&g, raw, s);
  vd k = find_bin(g.ch, s->K, ys);
  rq_bin b = bin_at(&g, k, raw, s);
  vd sl = b.h / b.w;
  // nflows' quadratic a th^2 + b th + c = 0 divided by h and written in phi = (y - yk)/h,
  // which avoids cancelling the h d0 terms when a derivative is large
  vd phi = (ys - b.yk) / b.h;
  vd qa = sl * (1.0 - 2.0 * phi) - b.d0 * (1.0 - phi) + b.d1 * phi;
  vd qb = b.d0 * (1.0 - phi) - b.d1 * phi + 2.0 * sl * phi;
  vd qc = -sl * phi;
  vd disc = qb * qb - 4.0 * qa * qc;
  disc = V_SELECT(disc < 0.0, v_set(0.0), disc);
  vd sq = v_sqrt(disc);
  // the root in [0, 1] in the form where neither branch cancels (both are computed;
  // the other one's division by zero is discarded)
  vd near = 2.0 * qc / (-qb - sq);
  vd th = V_SELECT(qb < 0.0, V_SELECT(qa != 0.0, (-qb + sq) / (2.0 * qa), near), near);
  th = clamp01(th);
  *logdet = V_SELECT(ay <= B, -rq_logdet(&b, th), v_set(0.0));
  return V_SELECT(ay <= B, b.xk + th * b.w, y);
}

// Gradient of the bin sizes' knots back to their logits: dcum[0..K] -> dlogits[0..K).
V_INLINE void knots_backward(vd* dlogits, const vd* dcum, const vd* p, int K, double vmin,
                             double B) {
  vd dp[NFP_SPLINE_MAX_BINS];
  vs scale = (vs)((1.0 - K * vmin) * 2.0 * B);
  vd tail = v_set(0.0);  // sum of dcum[j] for i < j <= K-1 (the pinned ends carry none)
  for (int i = K - 1; i >= 0; i--) {
    if (i + 1 <= K - 1) tail += dcum[i + 1];
    dp[i] = scale * tail;
  }
  vd dot = v_set(0.0);
  for (int i = 0; i < K; i++) dot += p[i] * dp[i];
  for (int i = 0; i < K; i++) dlogits[i] = p[i] * (dp[i] - dot);
}

// Backward of forward_v: *dx = dL/dx, draw[0..3K-1) = dL/draw (zero in the tails).
V_INLINE void backward_v(vd* dx, vd* draw, vd dy, vd dlogdet, vd x, const vd* raw,
                         const nfp_spline* s) {
  int K = s->K;
  vs B = (vs)s->B;
  vd ax = v_abs(x), zero = v_set(0.0);
  vd xs = V_SELECT(ax <= B, x, zero);
  rq_geom g;
  geometry(&g, raw, s);
  vd k = find_bin(g.cw, K, xs);
  rq_bin b = bin_at(&g, k, raw, s);
  vd th = clamp01((xs - b.xk) / b.w);
  vd h = b.h, w = b.w, d0 = b.d0, d1 = b.d1;
  vd sl = h / w;
  vd t = th * (1.0 - th);
  vd gg = d0 + d1 - 2.0 * sl;
  vd num = h * (sl * th * th + d0 * t);
  vd den = sl + gg * t;
  vd N = d1 * th * th + 2.0 * sl * t + d0 * (1.0 - th) * (1.0 - th);
  vd den2 = den * den;

  // partials of y and of the log-det w.r.t. theta, s, h (direct), d0, d1
  vd num_th = h * (2.0 * sl * th + d0 * (1.0 - 2.0 * th));
  vd den_th = gg * (1.0 - 2.0 * th);
  vd den_s = 1.0 - 2.0 * t;
  vd y_th = (num_th * den - num * den_th) / den2;
  vd y_s = (h * th * th * den - num * den_s) / den2;
  vd y_h = (sl * th * th + d0 * t) / den;
  vd y_d0 = t * (h * den - num) / den2;
  vd y_d1 = -num * t / den2;
  vd N_th = 2.0 * d1 * th + 2.0 * sl * (1.0 - 2.0 * th) - 2.0 * d0 * (1.0 - th);
  vd l_th = N_th / N - 2.0 * den_th / den;
  vd l_s = 2.0 / sl + 2.0 * t / N - 2.0 * den_s / den;
  vd l_d0 = (1.0 - th) * (1.0 - th) / N - 2.0 * t / den;
  vd l_d1 = th * th / N - 2.0 * t / den;

  vd G_th = dy * y_th + dlogdet * l_th;
  vd G_s = dy * y_s + dlogdet * l_s;
  vd G_h = dy * y_h + G_s / w;  // s = h / w
  vd G_d0 = dy * y_d0 + dlogdet * l_d0;
  vd G_d1 = dy * y_d1 + dlogdet * l_d1;
  vd G_yk = dy;
  // theta = (x - xk) / w
  vd G_xk = -G_th / w;
  vd G_w = -G_th * th / w - G_s * sl / w;
  *dx = V_SELECT(ax <= B, G_th / w, dy);
  // the tails pass dy straight through and leave the parameters alone
  G_h = V_SELECT(ax <= B, G_h, zero);
  G_d0 = V_SELECT(ax <= B, G_d0, zero);
  G_d1 = V_SELECT(ax <= B, G_d1, zero);
  G_yk = V_SELECT(ax <= B, G_yk, zero);
  G_xk = V_SELECT(ax <= B, G_xk, zero);
  G_w = V_SELECT(ax <= B, G_w, zero);

  // xk = cw[k], w = cw[k+1] - cw[k]; yk = ch[k], h = ch[k+1] - ch[k]
  vd dcw[NFP_SPLINE_MAX_BINS + 1], dch[NFP_SPLINE_MAX_BINS + 1];
  vd k1 = k + 1.0;
  for (int j = 0; j <= K; j++) {
    vs jd = (vs)j;
    dcw[j] = V_SELECT(k == jd, G_xk - G_w, zero) + V_SELECT(k1 == jd, G_w, zero);
    dch[j] = V_SELECT(k == jd, G_yk - G_h, zero) + V_SELECT(k1 == jd, G_h, zero);
  }
  knots_backward(draw, dcw, g.pw, K, s->wmin, s->B);
  knots_backward(draw + K, dch, g.ph, K, s->hmin, s->B);
  // derivative logit j is knot j+1's: the bin's left end when k = j+1, its right when k = j
  vd g0 = G_d0 * sigmoid(b.z0 + (vs)s->dshift);
  vd g1 = G_d1 * sigmoid(b.z1 + (vs)s->dshift);
  for (int j = 0; j < K - 1; j++) {
    draw[2 * K + j] = V_SELECT(k == (vs)(j + 1), g0, zero) + V_SELECT(k == (vs)j, g1, zero);
  }
}

// ---- W lanes from memory; past n the last coordinate repeats ----

V_INLINE void load_raw(vd* r, const float* raw, ptrdiff_t ls, ptrdiff_t ps, int i0, int n,
                       int P) {
  if (ls == 1 && i0 + W <= n) {
    for (int q = 0; q < P; q++) r[q] = v_load_raw(raw + i0 + q * ps);
    return;
  }
  float buf[W];
  for (int q = 0; q < P; q++) {
    for (int l = 0; l < W; l++) buf[l] = raw[(i0 + l < n ? i0 + l : n - 1) * ls + q * ps];
    r[q] = v_load_raw(buf);
  }
}

V_INLINE vd load_in(const double* in, int i0, int n) {
  if (i0 + W <= n) return v_load_in(in + i0);
  double buf[W];
  for (int l = 0; l < W; l++) buf[l] = in[i0 + l < n ? i0 + l : n - 1];
  return v_load_in(buf);
}

V_INLINE void store_out(double* out, vd v, int i0, int n) {
  if (i0 + W <= n) {
    v_store_out(out + i0, v);
    return;
  }
  double buf[W];
  v_store_out(buf, v);
  for (int l = 0; i0 + l < n; l++) out[i0 + l] = buf[l];
}

// ---- the table's entries ----

static void forward_n(double* out, double* logdet, const double* in, const float* raw,
                      ptrdiff_t ls, ptrdiff_t ps, int n, const nfp_spline* s) {
  vd r[NP_MAX];
  for (int i0 = 0; i0 < n; i0 += W) {
    load_raw(r, raw, ls, ps, i0, n, NFP_SPLINE_NPARAM(s->K));
    vd ld, y = forward_v(&ld, load_in(in, i0, n), r, s);
    store_out(out, y, i0, n);
    store_out(logdet, ld, i0, n);
  }
}

static void inverse_n(double* out, double* logdet, const double* in, const float* raw,
                      ptrdiff_t ls, ptrdiff_t ps, int n, const nfp_spline* s) {
  vd r[NP_MAX];
  for (int i0 = 0; i0 < n; i0 += W) {
    load_raw(r, raw, ls, ps, i0, n, NFP_SPLINE_NPARAM(s->K));
    vd ld, x = inverse_v(&ld, load_in(in, i0, n), r, s);
    store_out(out, x, i0, n);
    store_out(logdet, ld, i0, n);
  }
}

static void backward_n(double* dx, float* draw, const double* dy, const double* dlogdet,
                       const double* x, const float* raw, ptrdiff_t ls, ptrdiff_t ps, int n,
                       const nfp_spline* s) {
  int P = NFP_SPLINE_NPARAM(s->K);
  vd r[NP_MAX], dr[NP_MAX];
  for (int i0 = 0; i0 < n; i0 += W) {
    load_raw(r, raw, ls, ps, i0, n, P);
    vd g;
    backward_v(&g, dr, load_in(dy, i0, n), load_in(dlogdet, i0, n), load_in(x, i0, n), r, s);
    double gb[W];
    v_store_out(gb, g);
    for (int l = 0; l < W && i0 + l < n; l++) dx[i0 + l] += gb[l];
    if (ls == 1 && i0 + W <= n) {
      for (int q = 0; q < P; q++) {
        vf f = v_to_f32(dr[q]);
        memcpy(draw + i0 + q * ps, &f, sizeof(f));
      }
      continue;
    }
    for (int q = 0; q < P; q++) {
      double db[W];
      v_store_out(db, dr[q]);
      for (int l = 0; l < W && i0 + l < n; l++) draw[(i0 + l) * ls + q * ps] = (float)db[l];
    }
  }
}

V_INLINE void load_raw1(vd* r, const double* raw, const nfp_spline* s) {
  if (s->K < 2) __builtin_unreachable();  // checked by the flow builder; tells GCC r is set
  for (int q = 0; q < NFP_SPLINE_NPARAM(s->K); q++) r[q] = v_set((vs)raw[q]);
}

static double forward1(double* logdet, double x, const double* raw, const nfp_spline* s) {
  vd r[NP_MAX], ld;
  load_raw1(r, raw, s);
  vd y = forward_v(&ld, v_set(x), r, s);
  *logdet = ld[0];
  return y[0];
}

static double inverse1(double* logdet, double y, const double* raw, const nfp_spline* s) {
  vd r[NP_MAX], ld;
  load_raw1(r, raw, s);
  vd x = inverse_v(&ld, v_set(y), r, s);
  *logdet = ld[0];
  return x[0];
}

static void backward1(double* dx, double* draw, double dy, double dlogdet, double x,
                      const double* raw, const nfp_spline* s) {
  vd r[NP_MAX], dr[NP_MAX], g;
  load_raw1(r, raw, s);
  backward_v(&g, dr, v_set(dy), v_set(dlogdet), v_set(x), r, s);
  if (dx) *dx += g[0];
  if (!draw) return;
  for (int q = 0; q < NFP_SPLINE_NPARAM(s->K); q++) draw[q] += dr[q][0];
}

const nfp_spline_kernels NFP_SPLINE_TABLE = {NFP_SPLINE_NAME, forward_n, inverse_n, backward_n,
                                             forward1, inverse1, backward1};
