/* compare.c — how close one model's outputs are to a reference's (quantize and prune reports):
 * cosine similarity, largest absolute error and that error relative to the reference's largest
 * magnitude, accumulated over any number of tensor pairs (one per sample), in double. */
#include <math.h>
#include <string.h>

#include "lib.h"

void onnxc_compare_init(onnxc_compare *c) {
  memset(c, 0, sizeof *c);
  c->cosine = 1;
}

/* element i of a numeric tensor as double (float16/bfloat16 by their bits) */
static double elem(const onnxc_tensor *t, int64_t i) {
  const void *p = t->data;
  switch (t->dtype) {
  case ONNXC_DT_FLOAT: return ((const float *)p)[i];
  case ONNXC_DT_DOUBLE: return ((const double *)p)[i];
  case ONNXC_DT_UINT8: return ((const uint8_t *)p)[i];
  case ONNXC_DT_INT8: return ((const int8_t *)p)[i];
  case ONNXC_DT_UINT16: return ((const uint16_t *)p)[i];
  case ONNXC_DT_INT16: return ((const int16_t *)p)[i];
  case ONNXC_DT_INT32: return ((const int32_t *)p)[i];
  case ONNXC_DT_UINT32: return ((const uint32_t *)p)[i];
  case ONNXC_DT_INT64: return (double)((const int64_t *)p)[i];
  case ONNXC_DT_UINT64: return (double)((const uint64_t *)p)[i];
  case ONNXC_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
  case ONNXC_DT_BFLOAT16: {
    uint32_t b = (uint32_t)((const uint16_t *)p)[i] << 16;
    float f;
    memcpy(&f, &b, 4);
    return f;
  }
  default: return NAN; /* float16: not compared (elements_of refuses it) */
  }
}

/* element count of t, or -1 when its dtype is not compared or data is short */
static int64_t elements_of(const onnxc_tensor *t) {
  static const int8_t size[17] = {[1] = 4, [2] = 1, [3] = 1, [4] = 2, [5] = 2, [6] = 4, [7] = 8,
                                  [9] = 1, [11] = 8, [12] = 4, [13] = 8, [16] = 2};
  if (!t || t->dtype < 0 || t->dtype > 16 || !size[t->dtype] || t->rank < 0 || t->rank > ONNXC_MAX_RANK) return -1;
  int64_t n = 1;
  for (int d = 0; d < t->rank; d++) {
    if (!t->dims || t->dims[d] < 0 || (t->dims[d] && n > INT64_MAX / t->dims[d])) return -1;
    n *= t->dims[d];
  }
  return n && (!t->data || t->bytes / size[t->dtype] < n) ? -1 : n;
}

static void finish(onnxc_compare *c) {
  double den = sqrt(c->sum_ref2) * sqrt(c->sum_got2);
  /* two zero tensors are the same; one zero and one not share no direction */
  c->cosine = den > 0 ? c->sum_dot / den : c->sum_ref2 == c->sum_got2 ? 1 : 0;
  if (c->cosine > 1) c->cosine = 1; /* rounding */
  c->max_rel = c->max_ref > 0 ? c->max_abs / c->max_ref : c->max_abs > 0 ? INFINITY : 0;
  c->mean_abs = c->count ? c->sum_abs / (double)c->count : 0;
}

int onnxc_compare_add(onnxc_compare *c, const onnxc_tensor *ref, const onnxc_tensor *got) {
  int64_t n = elements_of(ref), m = elements_of(got);
  if (!c || n < 0 || m != n || ref->rank != got->rank) return ONNXC_ERR_ARGUMENT;
  for (int d = 0; d < ref->rank; d++)
    if (ref->dims[d] != got->dims[d]) return ONNXC_ERR_ARGUMENT;
  for (int64_t i = 0; i < n; i++) {
    double a = elem(ref, i), b = elem(got, i);
    if (isnan(a) || isnan(b)) {
      c->nan += isnan(a) != isnan(b); /* NaN where the other has a number */
      continue;
    }
    double e = fabs(a - b);
    c->sum_dot += a * b, c->sum_ref2 += a * a, c->sum_got2 += b * b, c->sum_abs += e;
    if (e > c->max_abs) c->max_abs = e;
    if (fabs(a) > c->max_ref) c->max_ref = fabs(a);
  }
  c->count += n;
  finish(c);
  return ONNXC_OK;
}
