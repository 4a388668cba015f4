// Rational-quadratic spline with linear tails, in double (see nfp/spline.h).
// Pitfalls handled (REFERENCE.md section 4): inputs outside [-B, B] never reach the
// spline maths; the bin index is clamped to K-1 at the right edge; theta is clamped
// to [0, 1]; the inverse's discriminant is clamped at 0 and its root is taken in the
// form that does not cancel.
#include "nfp/spline.h"

#include <math.h>

void nfp_spline_init(nfp_spline* s, int K, double B, double wmin, double hmin, double dmin) {
  s->K = K;
  s->B = B;
  s->wmin = wmin;
  s->hmin = hmin;
  s->dmin = dmin;
  s->dshift = log(expm1(1.0 - dmin));  // so a zero derivative logit gives derivative 1
}

void nfp_spline_default(nfp_spline* s) { nfp_spline_init(s, 8, 3.0, 1e-3, 1e-3, 1e-3); }

static double softplus(double z) { return z > 30.0 ? z + log1p(exp(-z)) : log1p(exp(z)); }
static double sigmoid(double z) {
  if (z >= 0.0) return 1.0 / (1.0 + exp(-z));
  double e = exp(z);
  return e / (1.0 + e);
}

// Softmax of the bin logits into p[K] (the floor vmin is applied by knots()).
// Knots are -B + 2B * cumsum(vmin + (1 - K vmin) p), pinned at both ends.
static void bin_sizes(double* p, const double* logits, int K) {
  double mx = logits[0];
  for (int i = 1; i < K; i++) mx = logits[i] > mx ? logits[i] : mx;
  double sum = 0.0;
  for (int i = 0; i < K; i++) {
    p[i] = exp(logits[i] - mx);
    sum += p[i];
  }
  double inv = 1.0 / sum;
  for (int i = 0; i < K; i++) p[i] *= inv;
}

static void knots(double* cum, const double* p, int K, double vmin, double B) {
  double acc = 0.0;
  cum[0] = -B;
  for (int i = 1; i < K; i++) {
    acc += vmin + (1.0 - K * vmin) * p[i - 1];
    cum[i] = 2.0 * B * acc - B;
  }
  cum[K] = B;
}

// The bin holding v among knots cum[0..K]; the right edge belongs to bin K-1.
static int find_bin(const double* cum, int K, double v) {
  int k = 0;
  while (k < K - 1 && v >= cum[k + 1]) k++;
  return k;
}

typedef struct {
  int k;
  double xk, w, yk, h, d0, d1;
} rq_bin;

// Spline geometry of one dimension: knots, heights and derivatives (all K).
typedef struct {
  double pw[NFP_SPLINE_MAX_BINS], ph[NFP_SPLINE_MAX_BINS];
  double cw[NFP_SPLINE_MAX_BINS + 1], ch[NFP_SPLINE_MAX_BINS + 1];
} rq_geom;

// Knots of widths and heights; derivatives are filled lazily (only two are ever used).
static void geometry(rq_geom* g, const double* raw, const nfp_spline* s) {
  int K = s->K;
  bin_sizes(g->pw, raw, K);
  bin_sizes(g->ph, raw + K, K);
  knots(g->cw, g->pw, K, s->wmin, s->B);
  knots(g->ch, g->ph, K, s->hmin, s->B);
}

// Derivative at knot j (the boundary ones are 1, matching the linear tails).
static double knot_deriv(const double* raw, int j, const nfp_spline* s) {
  if (j == 0 || j == s->K) return 1.0;
  return s->dmin + softplus(raw[2 * s->K + j - 1] + s->dshift);
}

static rq_bin bin_at(const rq_geom* g, int k, const double* raw, const nfp_spline* s) {
  rq_bin b;
  b.k = k;
  b.xk = g->cw[k];
  b.w = g->cw[k + 1] - g->cw[k];
  b.yk = g->ch[k];
  b.h = g->ch[k + 1] - g->ch[k];
  b.d0 = knot_deriv(raw, k, s);
  b.d1 = knot_deriv(raw, k + 1, s);
  return b;
}

static double clamp01(double t) { return t < 0.0 ? 0.0 : (t > 1.0 ? 1.0 : t); }

// log|dy/dx| at theta in bin b.
static double rq_logdet(const rq_bin* b, double th) {
  double s = b->h / b->w;
  double t = th * (1.0 - th);
  double den = s + (b->d0 + b->d1 - 2.0 * s) * t;
  double num = s * s * (b->d1 * th * th + 2.0 * s * t + b->d0 * (1.0 - th) * (1.0 - th));
  return log(num / (den * den));
}

double nfp_spline_forward(double* logdet, double x, const double* raw, const nfp_spline* s) {
  if (!(x >= -s->B && x <= s->B)) {  // linear tails (and NaN passes through untouched)
    *logdet = 0.0;
    return x;
  }
  rq_geom g;
  geometry(&g, raw, s);
  rq_bin b = bin_at(&g, find_bin(g.cw, s->K, x), raw, s);
  double th = clamp01((x - b.xk) / b.w);
  double sl = b.h / b.w;
  double t = th * (1.0 - th);
  double den = sl + (b.d0 + b.d1 - 2.0 * sl) * t;
  *logdet = rq_logdet(&b, th);
  return b.yk + b.h * (sl * th * th + b.d0 * t) / den;
}

double nfp_spline_inverse(double* logdet, double y, const double* raw, const nfp_spline* s) {
  if (!(y >= -s->B && y <= s->B)) {
    *logdet = 0.0;
    return y;
  }
  rq_geom g;
  geometry(&g, raw, s);
  rq_bin b = bin_at(&g, find_bin(g.ch, s->K, y), raw, s);
  double sl = b.h / b.w;
  // nflows' quadratic a th^2 + b th + c = 0 divided by h and written in phi = (y - yk)/h,
  // which avoids cancelling the h d0 terms when a derivative is large
  double phi = (y - b.yk) / b.h;
  double qa = sl * (1.0 - 2.0 * phi) - b.d0 * (1.0 - phi) + b.d1 * phi;
  double qb = b.d0 * (1.0 - phi) - b.d1 * phi + 2.0 * sl * phi;
  double qc = -sl * phi;
  double disc = qb * qb - 4.0 * qa * qc;
  if (disc < 0.0) disc = 0.0;
  // the root in [0, 1]; written so that neither branch cancels
  double th = qb < 0.0 && qa != 0.0 ? (-qb + sqrt(disc)) / (2.0 * qa)
                                    : 2.0 * qc / (-qb - sqrt(disc));
  th = clamp01(th);
  *logdet = -rq_logdet(&b, th);
  return b.xk + th * b.w;
}

// Gradient of the bin sizes' knots back to their logits: dcum[0..K] -> dlogits[0..K).
static void knots_backward(double* dlogits, const double* dcum, const double* p, int K,
                           double vmin, double B) {
  double dp[NFP_SPLINE_MAX_BINS];
  double tail = 0.0;  // sum of dcum[j] for i < j <= K-1 (the pinned ends carry none)
  for (int i = K - 1; i >= 0; i--) {
    if (i + 1 <= K - 1) tail += dcum[i + 1];
    dp[i] = (1.0 - K * vmin) * 2.0 * B * tail;
  }
  double dot = 0.0;
  for (int i = 0; i < K; i++) dot += p[i] * dp[i];
  for (int i = 0; i < K; i++) dlogits[i] += p[i] * (dp[i] - dot);
}

void nfp_spline_backward(double* dx, double* draw, double dy, double dlogdet, double x,
                         const double* raw, const nfp_spline* s) {
  if (!(x >= -s->B && x <= s->B)) {
    if (dx) *dx += dy;
    return;
  }
  int K = s->K;
  rq_geom g;
  geometry(&g, raw, s);
  rq_bin b = bin_at(&g, find_bin(g.cw, K, x), raw, s);
  double th = clamp01((x - b.xk) / b.w);
  double h = b.h, w = b.w, d0 = b.d0, d1 = b.d1;
  double sl = h / w;
  double t = th * (1.0 - th);
  double gg = d0 + d1 - 2.0 * sl;
  double num = h * (sl * th * th + d0 * t);
  double den = sl + gg * t;
  double N = d1 * th * th + 2.0 * sl * t + d0 * (1.0 - th) * (1.0 - th);
  double den2 = den * den;

  // partials of y and of the log-det w.r.t. theta, s, h (direct), d0, d1
  double num_th = h * (2.0 * sl * th + d0 * (1.0 - 2.0 * th));
  double den_th = gg * (1.0 - 2.0 * th);
  double den_s = 1.0 - 2.0 * t;
  double y_th = (num_th * den - num * den_th) / den2;
  double y_s = (h * th * th * den - num * den_s) / den2;
  double y_h = (sl * th * th + d0 * t) / den;
  double y_d0 = t * (h * den - num) / den2;
  double y_d1 = -num * t / den2;
  double N_th = 2.0 * d1 * th + 2.0 * sl * (1.0 - 2.0 * th) - 2.0 * d0 * (1.0 - th);
  double l_th = N_th / N - 2.0 * den_th / den;
  double l_s = 2.0 / sl + 2.0 * t / N - 2.0 * den_s / den;
  double l_d0 = (1.0 - th) * (1.0 - th) / N - 2.0 * t / den;
  double l_d1 = th * th / N - 2.0 * t / den;

  double G_th = dy * y_th + dlogdet * l_th;
  double G_s = dy * y_s + dlogdet * l_s;
  double G_h = dy * y_h + G_s / w;  // s = h / w
  double G_d0 = dy * y_d0 + dlogdet * l_d0;
  double G_d1 = dy * y_d1 + dlogdet * l_d1;
  double G_yk = dy;
  // theta = (x - xk) / w
  double G_xk = -G_th / w;
  double G_w = -G_th * th / w - G_s * sl / w;
  if (dx) *dx += G_th / w;
  if (!draw) return;

  double dcw[NFP_SPLINE_MAX_BINS + 1] = {0}, dch[NFP_SPLINE_MAX_BINS + 1] = {0};
  int k = b.k;
  dcw[k] += G_xk - G_w;  // xk = cw[k], w = cw[k+1] - cw[k]
  dcw[k + 1] += G_w;
  dch[k] += G_yk - G_h;  // yk = ch[k], h = ch[k+1] - ch[k]
  dch[k + 1] += G_h;
  knots_backward(draw, dcw, g.pw, K, s->wmin, s->B);
  knots_backward(draw + K, dch, g.ph, K, s->hmin, s->B);
  if (k >= 1) draw[2 * K + k - 1] += G_d0 * sigmoid(raw[2 * K + k - 1] + s->dshift);
  if (k + 1 <= K - 1) draw[2 * K + k] += G_d1 * sigmoid(raw[2 * K + k] + s->dshift);
}
