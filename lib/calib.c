/* calib.c — calibration arithmetic: the range of each activation seen on sample inputs (running
 * min/max, then, for the percentile and entropy methods, a histogram), and the range each method
 * picks from it.  lib/quantize.c feeds it the values; nothing here knows sessions or graphs. */
#include "quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void calib_init(CalibStat *c) {
  memset(c, 0, sizeof *c);
  c->min = INFINITY;
  c->max = -INFINITY;
}

void calib_minmax(CalibStat *c, const float *x, int64_t n) {
  float lo = c->min, hi = c->max;
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    if (v < lo) lo = v; /* NaN compares false: left out */
    if (v > hi) hi = v;
  }
  c->min = lo, c->max = hi;
}

/* The histograms span what pass one saw: values over [min, max] (percentile), magnitudes over
 * [0, max|x|] (entropy).  Pass two adds each sample's values. */
void calib_hist(CalibStat *c, const float *x, int64_t n, bool magnitude) {
  double lo = magnitude ? 0 : c->min, hi = magnitude ? fmax(fabs(c->min), fabs(c->max)) : c->max;
  if (!(hi > lo) || !isfinite(hi - lo)) return; /* constant (range exact) or infinite (kept as min-max) */
  double k = CALIB_BINS / (hi - lo);
  for (int64_t i = 0; i < n; i++) {
    double v = magnitude ? fabs(x[i]) : x[i];
    if (isnan(v)) continue;
    double t = (v - lo) * k; /* clamped before the conversion: an out-of-range double is UB */
    c->hist[t < 1 ? 0 : t >= CALIB_BINS ? CALIB_BINS - 1 : (int64_t)t]++;
    c->hist_total++;
  }
}

/* the value below which a fraction q of the histogram's mass lies (bin edges, linear inside) */
static double hist_quantile(const CalibStat *c, double q) {
  double lo = c->min, w = (c->max - c->min) / CALIB_BINS, want = q * (double)c->hist_total, seen = 0;
  for (int b = 0; b < CALIB_BINS; b++) {
    if (seen + (double)c->hist[b] >= want && c->hist[b])
      return lo + w * (b + (want - seen) / (double)c->hist[b]);
    seen += (double)c->hist[b];
  }
  return c->max;
}

/* Kullback-Leibler divergence of P (the histogram cut at bin i, the tail summed into the last
 * bin) from Q (P merged into `levels` quantization bins and spread back over the bins that were
 * not empty): TensorRT's entropy calibration, as ONNX Runtime's calibrator does it too. */
static double kl_at(const int64_t *h, int i, int levels, double *p, double *q) {
  double outliers = 0;
  for (int b = i; b < CALIB_BINS; b++) outliers += (double)h[b];
  for (int b = 0; b < i; b++) p[b] = (double)h[b];
  p[i - 1] += outliers;
  double per = (double)i / levels;
  for (int l = 0; l < levels; l++) {
    int b0 = (int)(l * per), b1 = l == levels - 1 ? i : (int)((l + 1) * per);
    double sum = 0;
    int nz = 0;
    for (int b = b0; b < b1; b++) sum += (double)h[b], nz += h[b] != 0;
    for (int b = b0; b < b1; b++) q[b] = h[b] && nz ? sum / nz : 0;
  }
  double ps = 0, qs = 0, kl = 0;
  for (int b = 0; b < i; b++) ps += p[b], qs += q[b];
  if (!(ps > 0) || !(qs > 0)) return INFINITY;
  for (int b = 0; b < i; b++)
    if (p[b] > 0) kl += p[b] / ps * log((p[b] / ps) / (q[b] > 0 ? q[b] / qs : 1e-12 / qs));
  return kl;
}

/* the magnitude threshold of least divergence (bins of the |x| histogram) */
static double entropy_threshold(const CalibStat *c) {
  double amax = fmax(fabs(c->min), fabs(c->max)), best = INFINITY;
  /* 8-bit activations are asymmetric: [0, T] of a non-negative value (after a ReLU) gets all 256
   * levels, [-T, T] half of them per side */
  int levels = c->min >= 0 ? 256 : 128, arg = CALIB_BINS;
  double *p = malloc(sizeof(double) * CALIB_BINS), *q = malloc(sizeof(double) * CALIB_BINS);
  if (!p || !q) {
    free(p), free(q);
    return amax; /* min-max then: a worse range, never a failure */
  }
  for (int i = levels; i <= CALIB_BINS; i += 16) {
    double kl = kl_at(c->hist, i, levels, p, q);
    if (kl < best) best = kl, arg = i;
  }
  free(p), free(q);
  /* KL alone clips a spike at the top of the range, e.g. ReLU6's saturated 6s (MobileNetV2
   * fell to cosine 0.61): never cut more than 0.1% of the values */
  int64_t keep = c->hist_total - c->hist_total / 1000, seen = 0;
  int floor_bin = 0;
  while (floor_bin < CALIB_BINS && (seen += c->hist[floor_bin]) < keep) floor_bin++;
  if (arg < floor_bin + 1) arg = floor_bin + 1 < CALIB_BINS ? floor_bin + 1 : CALIB_BINS;
  return amax * arg / CALIB_BINS;
}

void calib_range(const CalibStat *c, CalibMethod m, double percentile, float *lo, float *hi) {
  double a = isfinite(c->min) ? c->min : 0, b = isfinite(c->max) ? c->max : 0;
  if (m == CALIB_PERCENTILE && c->hist_total && b > a) {
    double p = percentile > 0 && percentile < 100 ? percentile : 99.999;
    a = hist_quantile(c, 1 - p / 100);
    b = hist_quantile(c, p / 100);
  } else if (m == CALIB_ENTROPY && c->hist_total && b > a) {
    double t = entropy_threshold(c);
    a = fmax(a, -t), b = fmin(b, t);
  }
  *lo = (float)fmin(a, 0); /* zero is exact in every range (padding, ReLU) */
  *hi = (float)fmax(b, 0);
}

void calib_act_params(float lo, float hi, bool is_signed, float *scale, int *zp) {
  int qmin = is_signed ? -128 : 0, qmax = is_signed ? 127 : 255;
  double s = ((double)hi - lo) / (qmax - qmin);
  if (!(s > 0) || !isfinite(s)) {
    *scale = 1, *zp = is_signed ? 0 : 0;
    return;
  }
  double z = round(qmin - lo / s);
  *zp = (int)(z < qmin ? qmin : z > qmax ? qmax : z);
  *scale = (float)s;
}
