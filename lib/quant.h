/* quant.h — libonnxc's quantization internals: calibration arithmetic (calib.c) and the graph
 * rewrite to QDQ or dynamic form (quant_insert.c); lib/quantize.c drives both behind the public
 * onnxc_session_quantize. */
#ifndef ONNXC_QUANT_H
#define ONNXC_QUANT_H

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"

/* ---- calib.c ---- */
#define CALIB_BINS 2048 /* histogram bins (the entropy method merges them into 128 levels) */
typedef enum CalibMethod { CALIB_MINMAX, CALIB_PERCENTILE, CALIB_ENTROPY } CalibMethod;
typedef struct CalibStat {
  float min, max;              /* over every sample (pass one) */
  int64_t hist[CALIB_BINS];    /* pass two: values over [min, max], or |x| over [0, max|x|] */
  int64_t hist_total;
} CalibStat;
void calib_init(CalibStat *c);
void calib_minmax(CalibStat *c, const float *x, int64_t n);
void calib_hist(CalibStat *c, const float *x, int64_t n, bool magnitude); /* magnitude: entropy's */
/* the range a method picks (percentile in (0, 100), 0: 99.999), widened to hold 0 */
void calib_range(const CalibStat *c, CalibMethod m, double percentile, float *lo, float *hi);
/* scale and zero point of an 8-bit activation over [lo, hi] (asymmetric, as ORT's quantizer) */
void calib_act_params(float lo, float hi, bool is_signed, float *scale, int *zp);

/* ---- quant_insert.c ---- */
typedef struct QuantRange {
  const char *name; /* an activation value of the graph */
  float lo, hi;
} QuantRange;
typedef struct QuantPlan {
  bool dynamic;     /* DynamicQuantizeLinear + MatMulInteger for MatMul/Gemm; else static QDQ */
  bool act_signed;  /* static: int8 activations; else uint8 (ORT's default) */
  bool per_tensor;  /* one weight scale per tensor instead of per output channel */
  const char *const *keep; /* op types or node names left in float */
  int nkeep;
  const QuantRange *ranges; /* static: the calibrated activations */
  int nranges;
  /* by position among the nodes the plan above quantizes (graph order): only > 0 quantizes the
   * (only - 1)-th alone (the sensitivity runs); drop[] are left in float (the most sensitive) */
  int only;
  const int *drop;
  int ndrop;
} QuantPlan;
/* The nodes of g's main graph the plan quantizes (Conv, MatMul, Gemm and residual Adds not kept
 * in float; for the dynamic form MatMul/Gemm with a constant 2-D weight) into *nodes (malloc'd, free it); the count */
int quant_nodes(const Graph *g, const QuantPlan *p, Node ***nodes);
/* the activations static quantization reads (inputs of those nodes that are not constant),
 * malloc'd array of the graph's values; the count */
int quant_activations(const Graph *g, const QuantPlan *p, Value ***acts);
/* Rewrites g (as imported, before any pass): static inserts QuantizeLinear → DequantizeLinear on
 * each calibrated activation feeding a quantized node and stores its constant weights as int8
 * with a DequantizeLinear (per-channel symmetric, axis = the output channels); dynamic replaces
 * each MatMul/Gemm by DynamicQuantizeLinear + MatMulInteger + Cast + scale Mul (+ bias Add).
 * Returns the nodes quantized, or -1 with the reason in g's error (ir_last_error). */
int quant_apply(Graph *g, const QuantPlan *p);

/* lib/quant_insert.c: base + suffix, or with _1, _2 ... when the graph has that name already (in
 * its arena); an INT attribute appended to n.  Rewrites that add nodes (quantize, cluster) use them. */
const char *lib_fresh_name(Graph *g, const char *base, const char *suffix);
void lib_add_int_attr(Graph *g, Node *n, const char *name, int64_t x);

#endif
