/* test_gen_reduce.c — the reduction, pooling and normalization generators, JIT-compiled on
 * hand-built one-node graphs and checked against naive reference loops in double. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "testutil.h"

/* ---------------------------------------------------------------- graph helpers */



static Value *const_i64(Graph *g, int64_t cnt, const int64_t *v, bool scalar) {
  int64_t d[1] = {cnt};
  Value *c = ir_const_new(g, "axes", DT_INT64, scalar ? 0 : 1, d);
  if (cnt && v) memcpy(c->data, v, sizeof(int64_t) * (size_t)cnt);
  return c;
}

/* infer n's shapes, JIT the graph (n's outputs are the graph outputs), run it on in_data (graph
 * inputs in order); returns malloc'd output buffers (NULL for absent outputs) */
static void **run(Graph *g, Node *n, const void **in_data, int threads) {
  cr_assert_eq(ir_infer_node(g, n), 0, "shape inference: %s", ir_last_error(g));
  for (int i = 0; i < n->nout; i++)
    if (n->out[i]) tu_output(g, n->out[i]);
  char err[1024];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "jit: %s", err);
  if (threads) be_set_threads(m, threads);
  void **outs = calloc((size_t)n->nout + 1, sizeof(void *));
  void *op[8];
  int k = 0;
  for (int i = 0; i < n->nout; i++) {
    if (!n->out[i]) continue;
    size_t b = (size_t)ir_value_numel(n->out[i]) * dtype_size(n->out[i]->dtype);
    outs[i] = malloc(b + 64);
    memset(outs[i], 0xAB, b + 64);
    op[k++] = outs[i];
  }
  cr_assert_eq(be_run(m, in_data, op, err, sizeof err), 0, "run: %s", err);
  be_free(m);
  return outs;
}

static void free_outs(void **o, int n) {
  for (int i = 0; i < n; i++) free(o[i]);
  free(o);
}

/* ---------------------------------------------------------------- data helpers */

static uint32_t rng = 12345;
static double urand(void) {
  rng = rng * 1664525u + 1013904223u;
  return (double)(rng >> 8) / (double)(1u << 24);
}
static void fill(float *p, int64_t n, double lo, double hi) {
  for (int64_t i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * urand());
}
static void fill_q(float *p, int64_t n, int levels) { /* few distinct values: ties */
  for (int64_t i = 0; i < n; i++) p[i] = (float)((int)(urand() * levels)) - levels / 2;
}
static int64_t numel(int rank, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= d[i];
  return n;
}

static uint16_t f2bf(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  u += 0x7fff + ((u >> 16) & 1);
  return (uint16_t)(u >> 16);
}
static float bf2f(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}

static void check(const float *got, const double *ref, int64_t n, double rtol, double atol, const char *what) {
  for (int64_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - ref[i]);
    cr_assert(d <= atol + rtol * fabs(ref[i]) || (isnan(ref[i]) && isnan(got[i])) || (isinf(ref[i]) && got[i] == ref[i]),
              "%s: element %lld: got %.9g, expected %.9g", what, (long long)i, got[i], ref[i]);
  }
}

static void checkd(const double *got, const double *ref, int64_t n, double rtol, double atol, const char *what) {
  for (int64_t i = 0; i < n; i++)
    cr_assert(fabs(got[i] - ref[i]) <= atol + rtol * fabs(ref[i]), "%s: element %lld: got %.17g, expected %.17g", what,
              (long long)i, got[i], ref[i]);
}

/* ---------------------------------------------------------------- reference reductions */

/* y over kept dims of x; returns nout */
static int64_t ref_reduce(Op op, const double *x, int rank, const int64_t *dims, const bool *red, double *y) {
  int64_t n = numel(rank, dims), nout = 1, rtot = 1;
  for (int d = 0; d < rank; d++) {
    if (red[d]) rtot *= dims[d];
    else nout *= dims[d];
  }
  int64_t *oi = malloc(sizeof(int64_t) * (size_t)(n ? n : 1));
  for (int64_t i = 0; i < n; i++) {
    int64_t rem = i, o = 0, mul = 1;
    for (int d = rank - 1; d >= 0; d--) {
      int64_t c = rem % dims[d];
      rem /= dims[d];
      if (!red[d]) o += c * mul, mul *= dims[d];
    }
    oi[i] = o;
  }
  double *mx = malloc(sizeof(double) * (size_t)nout);
  for (int64_t o = 0; o < nout; o++) {
    y[o] = op == OP_ReduceProd ? 1 : op == OP_ReduceMax ? -INFINITY : op == OP_ReduceMin ? INFINITY : 0;
    mx[o] = -INFINITY;
  }
  for (int64_t i = 0; i < n; i++) mx[oi[i]] = fmax(mx[oi[i]], x[i]);
  for (int64_t i = 0; i < n; i++) {
    double v = x[i], *a = &y[oi[i]];
    switch (op) {
    case OP_ReduceProd: *a *= v; break;
    case OP_ReduceMax: *a = fmax(*a, v); break;
    case OP_ReduceMin: *a = fmin(*a, v); break;
    case OP_ReduceL1: *a += fabs(v); break;
    case OP_ReduceL2:
    case OP_ReduceSumSquare: *a += v * v; break;
    case OP_ReduceLogSumExp: *a += exp(v - mx[oi[i]]); break;
    default: *a += v; break;
    }
  }
  for (int64_t o = 0; o < nout; o++) {
    switch (op) {
    case OP_ReduceMean: y[o] /= (double)rtot; break;
    case OP_ReduceL2: y[o] = sqrt(y[o]); break;
    case OP_ReduceLogSum: y[o] = log(y[o]); break;
    case OP_ReduceLogSumExp: y[o] = mx[o] + log(y[o]); break;
    default: break;
    }
  }
  free(oi);
  free(mx);
  return nout;
}

static const Op reduce_ops[] = {OP_ReduceSum, OP_ReduceMean, OP_ReduceMax,   OP_ReduceMin,          OP_ReduceProd,
                                OP_ReduceL1,  OP_ReduceL2,   OP_ReduceLogSum, OP_ReduceLogSumExp, OP_ReduceSumSquare};

static void fill_for(Op op, float *x, int64_t n) {
  if (op == OP_ReduceProd) fill(x, n, 0.97, 1.03);
  else if (op == OP_ReduceLogSum) fill(x, n, 0.1, 2.0);
  else fill(x, n, -3, 3);
}

/* one float32 reduction: axes as an attribute (attr) or a constant input */
static void reduce_case(Op op, int rank, const int64_t *dims, int na, const int64_t *axes, int keepdims, bool attr,
                        int noop) {
  Graph *g = ir_graph_new();
  g->opset = 18;
  Value *x = tu_input(g, "x", DT_FLOAT, rank, dims);
  Value *ins[2] = {x, NULL};
  int nin = 1;
  if (!attr && na >= 0) ins[1] = const_i64(g, na, axes, false), nin = 2;
  Node *n = tu_node_n(g, op, nin, ins, 1);
  if (attr && na > 0) tu_attr_ints(g, n, "axes", na, axes);
  if (keepdims >= 0) tu_attr_int(g, n, "keepdims", keepdims);
  if (noop) tu_attr_int(g, n, "noop_with_empty_axes", 1);
  int64_t ne = numel(rank, dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill_for(op, X, ne);
  const void *in[1] = {X};
  void **o = run(g, n, in, 0);
  bool red[IR_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) red[axes[i] < 0 ? axes[i] + rank : axes[i]] = true;
  if (na <= 0 && !noop)
    for (int i = 0; i < rank; i++) red[i] = true;
  double *xd = malloc(sizeof(double) * (size_t)ne), *ref = malloc(sizeof(double) * (size_t)ne + 8);
  for (int64_t i = 0; i < ne; i++) xd[i] = X[i];
  int64_t nout = ref_reduce(op, xd, rank, dims, red, ref);
  cr_assert_eq(ir_value_numel(n->out[0]), nout);
  if (noop && na <= 0) { /* each element reduced alone */
    for (int64_t i = 0; i < ne; i++) {
      double v = xd[i];
      ref[i] = op == OP_ReduceL1 || op == OP_ReduceL2 ? fabs(v) : op == OP_ReduceSumSquare ? v * v : op == OP_ReduceLogSum ? log(v) : v;
    }
  }
  char what[160];
  snprintf(what, sizeof what, "%s rank %d axes(%d) keepdims %d", ir_ops[op].name, rank, na, keepdims);
  check(o[0], ref, nout, 2e-5, 2e-5, what);
  free_outs(o, 1);
  free(X);
  free(xd);
  free(ref);
  ir_graph_free(g);
}

Test(reduce, all_ops_axes_sets) {
  const int64_t dims[4] = {4, 33, 5, 19};
  struct {
    int na;
    int64_t axes[4];
  } sets[] = {{1, {3}}, {1, {1}}, {2, {0, 2}}, {2, {1, 3}}, {4, {0, 1, 2, 3}}, {2, {2, 3}}, {1, {0}}, {2, {-1, -3}}, {0, {0}}};
  for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++)
    for (size_t s = 0; s < sizeof sets / sizeof sets[0]; s++)
      reduce_case(reduce_ops[o], 4, dims, sets[s].na, sets[s].axes, (int)(s & 1), s % 3 == 0, 0);
}

Test(reduce, long_rows_and_gather_path) {
  int64_t d1[2] = {3, 1000}, d2[2] = {1000, 3}, d3[2] = {57, 3}, d4[1] = {1};
  int64_t a1[1] = {1}, a0[1] = {0};
  for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
    reduce_case(reduce_ops[o], 2, d1, 1, a1, 0, true, 0);  /* contiguous rows, unrolled */
    reduce_case(reduce_ops[o], 2, d2, 1, a0, 1, true, 0);  /* lanes over the kept dim */
    reduce_case(reduce_ops[o], 2, d3, 1, a1, 0, false, 0); /* short rows: gathers across rows */
    reduce_case(reduce_ops[o], 1, d4, 1, a0, 0, true, 0);  /* one element */
  }
}

Test(reduce, noop_with_empty_axes) {
  int64_t d[3] = {3, 2, 5};
  for (size_t o = 0; o < sizeof reduce_ops / sizeof reduce_ops[0]; o++) {
    reduce_case(reduce_ops[o], 3, d, 0, NULL, 1, false, 1); /* empty axes input */
    reduce_case(reduce_ops[o], 3, d, -1, NULL, 1, true, 1); /* no axes at all */
  }
}

Test(reduce, multithreaded_big) {
  int64_t d[3] = {64, 129, 40};
  int64_t a[1] = {1}, b[1] = {2};
  reduce_case(OP_ReduceSum, 3, d, 1, a, 1, true, 0);
  reduce_case(OP_ReduceMax, 3, d, 1, b, 1, true, 0);
}

/* integer and other float dtypes */
Test(reduce, dtypes) {
  int64_t d[3] = {5, 23, 7};
  int64_t ne = numel(3, d);
  struct {
    Op op;
    DType t;
    int64_t axis;
  } cases[] = {{OP_ReduceSum, DT_INT32, 1},  {OP_ReduceSum, DT_INT64, 2},  {OP_ReduceMax, DT_INT32, 2},
               {OP_ReduceMin, DT_INT64, 1},  {OP_ReduceMax, DT_UINT8, 1},  {OP_ReduceMin, DT_INT8, 2},
               {OP_ReduceMean, DT_INT32, 2}, {OP_ReduceL2, DT_INT32, 1},   {OP_ReduceProd, DT_INT64, 0},
               {OP_ReduceL1, DT_INT64, 2},   {OP_ReduceMean, DT_DOUBLE, 1}, {OP_ReduceSumSquare, DT_DOUBLE, 2},
               {OP_ReduceMean, DT_FLOAT16, 1}, {OP_ReduceMax, DT_BFLOAT16, 2}, {OP_ReduceLogSumExp, DT_DOUBLE, 1}};
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    Graph *g = ir_graph_new();
    g->opset = 18;
    DType t = cases[k].t;
    Value *x = tu_input(g, "x", t, 3, d);
    Node *n = tu_node_n(g, cases[k].op, 1, &x, 1);
    tu_attr_ints(g, n, "axes", 1, &cases[k].axis);
    tu_attr_int(g, n, "keepdims", 0);
    void *X = malloc((size_t)ne * 8);
    double *xd = malloc(sizeof(double) * (size_t)ne), *ref = malloc(sizeof(double) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) {
      double v = (double)((int)(urand() * 41) - 20);
      if (cases[k].op == OP_ReduceProd) v = (double)((int)(urand() * 3) - 1) + (i % 3 == 0 ? 2 : 0);
      if (t == DT_UINT8) v = fabs(v) * 6;
      if (dtype_is_float(t)) v = v / 8 + 0.0625;
      switch (t) {
      case DT_INT32: ((int32_t *)X)[i] = (int32_t)v; break;
      case DT_INT64: ((int64_t *)X)[i] = (int64_t)v * 1000000007LL; v *= 1000000007.0; break;
      case DT_UINT8: ((uint8_t *)X)[i] = (uint8_t)v; break;
      case DT_INT8: ((int8_t *)X)[i] = (int8_t)v; break;
      case DT_DOUBLE: ((double *)X)[i] = v; break;
      case DT_FLOAT16: ((_Float16 *)X)[i] = (_Float16)v; break;
      case DT_BFLOAT16: ((uint16_t *)X)[i] = f2bf((float)v); v = bf2f(f2bf((float)v)); break;
      default: break;
      }
      xd[i] = v;
    }
    if (cases[k].op == OP_ReduceProd && t == DT_INT64) { /* keep products in range */
      for (int64_t i = 0; i < ne; i++) ((int64_t *)X)[i] = xd[i] = (double)((i % 3) - 1);
    }
    const void *in[1] = {X};
    void **o = run(g, n, in, 0);
    bool red[3] = {0};
    red[cases[k].axis] = true;
    int64_t nout = ref_reduce(cases[k].op, xd, 3, d, red, ref);
    for (int64_t i = 0; i < nout; i++) {
      double got, want = ref[i];
      switch (t) {
      case DT_INT32: got = ((int32_t *)o[0])[i]; want = trunc(want); break;
      case DT_INT64: got = (double)((int64_t *)o[0])[i]; want = trunc(want); break;
      case DT_UINT8: got = ((uint8_t *)o[0])[i]; break;
      case DT_INT8: got = ((int8_t *)o[0])[i]; break;
      case DT_DOUBLE: got = ((double *)o[0])[i]; break;
      case DT_FLOAT16: got = (double)((_Float16 *)o[0])[i]; break;
      default: got = bf2f(((uint16_t *)o[0])[i]); break;
      }
      double tol = t == DT_FLOAT16 || t == DT_BFLOAT16 ? 4e-3 * (1 + fabs(want)) : t == DT_DOUBLE ? 1e-12 * (1 + fabs(want)) : 0;
      if (cases[k].op == OP_ReduceL2 && !dtype_is_float(t)) want = trunc(want);
      cr_assert(fabs(got - want) <= tol, "case %zu (%s %s): element %lld: got %.17g, expected %.17g", k,
                ir_ops[cases[k].op].name, dtype_name(t), (long long)i, got, want);
    }
    free_outs(o, 1);
    free(X);
    free(xd);
    free(ref);
    ir_graph_free(g);
  }
}

/* ---------------------------------------------------------------- ArgMax / ArgMin */

static void arg_case(Op op, int rank, const int64_t *dims, int axis, int keepdims, int last, DType t) {
  Graph *g = ir_graph_new();
  g->opset = 13;
  Value *x = tu_input(g, "x", t, rank, dims);
  Node *n = tu_node_n(g, op, 1, &x, 1);
  tu_attr_int(g, n, "axis", axis);
  tu_attr_int(g, n, "keepdims", keepdims);
  tu_attr_int(g, n, "select_last_index", last);
  int64_t ne = numel(rank, dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill_q(X, ne, 5);
  void *buf = X;
  int32_t *Xi = NULL;
  if (t == DT_INT32) {
    Xi = malloc(sizeof(int32_t) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) Xi[i] = (int32_t)X[i];
    buf = Xi;
  }
  const void *in[1] = {buf};
  void **o = run(g, n, in, 0);
  const int64_t *Y = o[0];
  int a = axis < 0 ? axis + rank : axis;
  int64_t outer = 1, R = dims[a], inner = 1;
  for (int i = 0; i < a; i++) outer *= dims[i];
  for (int i = a + 1; i < rank; i++) inner *= dims[i];
  for (int64_t p = 0; p < outer; p++)
    for (int64_t q = 0; q < inner; q++) {
      int64_t best = 0;
      for (int64_t r = 1; r < R; r++) {
        float v = X[(p * R + r) * inner + q], b = X[(p * R + best) * inner + q];
        bool better = op == OP_ArgMax ? (last ? v >= b : v > b) : (last ? v <= b : v < b);
        if (better) best = r;
      }
      cr_assert_eq(Y[p * inner + q], best, "%s axis %d last %d: (%lld,%lld): got %lld, expected %lld", ir_ops[op].name, axis,
                   last, (long long)p, (long long)q, (long long)Y[p * inner + q], (long long)best);
    }
  free_outs(o, 1);
  free(X);
  free(Xi);
  ir_graph_free(g);
}

Test(arg, ties_axes_select_last) {
  int64_t d[3] = {3, 17, 5}, d2[2] = {6, 101}, d3[2] = {40, 3};
  for (int last = 0; last < 2; last++)
    for (int op = 0; op < 2; op++) {
      Op o = op ? OP_ArgMin : OP_ArgMax;
      for (int axis = 0; axis < 3; axis++) arg_case(o, 3, d, axis, axis & 1, last, DT_FLOAT);
      arg_case(o, 3, d, -1, 1, last, DT_INT32);
      arg_case(o, 2, d2, 1, 0, last, DT_FLOAT);
      arg_case(o, 2, d2, 0, 0, last, DT_FLOAT);
      arg_case(o, 2, d3, 1, 1, last, DT_FLOAT);
    }
}

/* ---------------------------------------------------------------- Softmax family */

static void softmax_case(Op op, int64_t opset, int rank, const int64_t *dims, int axis, DType t) {
  Graph *g = ir_graph_new();
  g->opset = opset;
  Value *x = tu_input(g, "x", t, rank, dims);
  Node *n = tu_node_n(g, op, 1, &x, 1);
  tu_attr_int(g, n, "axis", axis);
  int64_t ne = numel(rank, dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill(X, ne, -4, 4);
  void *buf = X;
  if (t == DT_DOUBLE) {
    double *xd = malloc(sizeof(double) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) xd[i] = X[i];
    buf = xd;
  } else if (t == DT_FLOAT16) {
    _Float16 *xh = malloc(sizeof(_Float16) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) xh[i] = (_Float16)X[i], X[i] = (float)xh[i];
    buf = xh;
  }
  const void *in[1] = {buf};
  void **o = run(g, n, in, 0);
  int a = axis < 0 ? axis + rank : axis;
  int64_t outer = 1, R = 1, inner = 1;
  for (int i = 0; i < rank; i++) {
    if (i < a) outer *= dims[i];
    else if (i == a || opset < 13) R *= dims[i];
    else inner *= dims[i];
  }
  double *ref = malloc(sizeof(double) * (size_t)ne);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t q = 0; q < inner; q++) {
      double m = -INFINITY, s = 0;
      int64_t am = 0;
      for (int64_t r = 0; r < R; r++) {
        double v = X[(p * R + r) * inner + q];
        if (v > m) m = v, am = r;
      }
      for (int64_t r = 0; r < R; r++) s += exp(X[(p * R + r) * inner + q] - m);
      for (int64_t r = 0; r < R; r++) {
        int64_t i = (p * R + r) * inner + q;
        ref[i] = op == OP_Softmax ? exp(X[i] - m) / s : op == OP_LogSoftmax ? X[i] - m - log(s) : (r == am ? 1 : 0);
      }
    }
  char what[128];
  snprintf(what, sizeof what, "%s opset %lld axis %d %s", ir_ops[op].name, (long long)opset, axis, dtype_name(t));
  if (t == DT_FLOAT) check(o[0], ref, ne, 1e-5, 1e-6, what);
  else if (t == DT_DOUBLE) checkd(o[0], ref, ne, 1e-12, 1e-14, what);
  else {
    float *y = malloc(sizeof(float) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) y[i] = (float)((_Float16 *)o[0])[i];
    check(y, ref, ne, 2e-3, 2e-3, what);
    free(y);
  }
  free_outs(o, 1);
  if (buf != X) free(buf);
  free(X);
  free(ref);
  ir_graph_free(g);
}

Test(softmax, hardmax_each_axis_and_coerced) {
  int64_t d[3] = {4, 19, 6}, d2[2] = {3, 1000};
  for (int axis = -1; axis < 3; axis++) softmax_case(OP_Hardmax, 13, 3, d, axis, DT_FLOAT);
  softmax_case(OP_Hardmax, 11, 3, d, 1, DT_FLOAT);
  softmax_case(OP_Hardmax, 13, 2, d2, 1, DT_FLOAT);
}

Test(softmax, each_axis_and_coerced) {
  int64_t d[3] = {4, 19, 6}, d2[2] = {3, 1000}, d3[2] = {50, 3};
  Op ops[2] = {OP_Softmax, OP_LogSoftmax};
  for (int k = 0; k < 2; k++) {
    for (int axis = -1; axis < 3; axis++) softmax_case(ops[k], 13, 3, d, axis, DT_FLOAT);
    softmax_case(ops[k], 11, 3, d, 1, DT_FLOAT); /* coerced to [4, 114] */
    softmax_case(ops[k], 11, 3, d, 0, DT_FLOAT);
    softmax_case(ops[k], 13, 2, d2, 1, DT_FLOAT);
    softmax_case(ops[k], 13, 2, d3, 1, DT_FLOAT);
    softmax_case(ops[k], 13, 3, d, 1, DT_DOUBLE);
    softmax_case(ops[k], 13, 3, d, 2, DT_FLOAT16);
    softmax_case(ops[k], 13, 3, d, 1, DT_FLOAT16);
  }
}

/* ---------------------------------------------------------------- CumSum */

static void cumsum_case(int rank, const int64_t *dims, int64_t axis, int excl, int rev, DType t) {
  Graph *g = ir_graph_new();
  g->opset = 14;
  Value *x = tu_input(g, "x", t, rank, dims);
  Value *ins[2] = {x, const_i64(g, 1, &axis, true)};
  Node *n = tu_node_n(g, OP_CumSum, 2, ins, 1);
  tu_attr_int(g, n, "exclusive", excl);
  tu_attr_int(g, n, "reverse", rev);
  int64_t ne = numel(rank, dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  int32_t *Xi = malloc(sizeof(int32_t) * (size_t)ne);
  for (int64_t i = 0; i < ne; i++) X[i] = (float)((int)(urand() * 21) - 10) * 0.25f, Xi[i] = (int32_t)(X[i] * 4);
  const void *in[1] = {t == DT_INT32 ? (void *)Xi : (void *)X};
  void **o = run(g, n, in, 0);
  int a = axis < 0 ? (int)axis + rank : (int)axis;
  int64_t outer = 1, R = dims[a], inner = 1;
  for (int i = 0; i < a; i++) outer *= dims[i];
  for (int i = a + 1; i < rank; i++) inner *= dims[i];
  for (int64_t p = 0; p < outer; p++)
    for (int64_t q = 0; q < inner; q++) {
      double s = 0;
      for (int64_t k = 0; k < R; k++) {
        int64_t r = rev ? R - 1 - k : k, i = (p * R + r) * inner + q;
        double v = t == DT_INT32 ? Xi[i] : X[i];
        if (!excl) s += v;
        double got = t == DT_INT32 ? ((int32_t *)o[0])[i] : ((float *)o[0])[i];
        cr_assert(got == s, "cumsum axis %lld excl %d rev %d: element %lld: got %g, expected %g", (long long)axis, excl, rev,
                  (long long)i, got, s);
        if (excl) s += v;
      }
    }
  free_outs(o, 1);
  free(X);
  free(Xi);
  ir_graph_free(g);
}

Test(cumsum, axes_exclusive_reverse) {
  int64_t d[3] = {3, 37, 4}, d2[2] = {2, 100}, d3[1] = {16};
  for (int e = 0; e < 2; e++)
    for (int r = 0; r < 2; r++) {
      for (int64_t axis = 0; axis < 3; axis++) cumsum_case(3, d, axis, e, r, DT_FLOAT);
      cumsum_case(3, d, -1, e, r, DT_INT32);
      cumsum_case(2, d2, 1, e, r, DT_FLOAT);
      cumsum_case(2, d2, 1, e, r, DT_INT32);
      cumsum_case(1, d3, 0, e, r, DT_FLOAT);
    }
}

/* ---------------------------------------------------------------- pooling */

typedef struct PoolSpec {
  Op op;
  int nsp;
  int64_t dims[5];
  int64_t k[3], s[3], dil[3], pads[6];
  int ceil_mode, count_include_pad, storage_order, with_idx, p;
  int nan; /* MaxPool: every nan-th input is NaN (a NaN tap never wins: maxnum's rule) */
  const char *auto_pad;
  DType t; /* 0: float */
} PoolSpec;

static void pool_case(const PoolSpec *ps) {
  Graph *g = ir_graph_new();
  g->opset = 12;
  int rank = ps->nsp + 2;
  DType t = ps->t ? ps->t : DT_FLOAT;
  Value *x = tu_input(g, "x", t, rank, ps->dims);
  Node *n = tu_node_n(g, ps->op, 1, &x, ps->with_idx ? 2 : 1);
  tu_attr_ints(g, n, "kernel_shape", ps->nsp, ps->k);
  tu_attr_ints(g, n, "strides", ps->nsp, ps->s);
  if (ps->op == OP_MaxPool) tu_attr_ints(g, n, "dilations", ps->nsp, ps->dil);
  if (ps->auto_pad) tu_attr_str(g, n, "auto_pad", ps->auto_pad);
  else tu_attr_ints(g, n, "pads", 2 * ps->nsp, ps->pads);
  if (ps->ceil_mode) tu_attr_int(g, n, "ceil_mode", 1);
  if (ps->op == OP_AveragePool) tu_attr_int(g, n, "count_include_pad", ps->count_include_pad);
  if (ps->op == OP_MaxPool) tu_attr_int(g, n, "storage_order", ps->storage_order);
  if (ps->op == OP_LpPool) tu_attr_int(g, n, "p", ps->p);
  int64_t ne = numel(rank, ps->dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  if (ps->op == OP_MaxPool) fill_q(X, ne, 7); /* ties: first index wins */
  else fill(X, ne, -2, 2);
  for (int64_t i = 0; ps->nan && i < ne; i += ps->nan) X[i] = NAN;
  void *buf = X;
  if (t == DT_UINT8) {
    uint8_t *b = malloc((size_t)ne);
    for (int64_t i = 0; i < ne; i++) b[i] = (uint8_t)(X[i] * 30 + 120), X[i] = b[i];
    buf = b;
  } else if (t == DT_FLOAT16) {
    _Float16 *b = malloc(sizeof(_Float16) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) b[i] = (_Float16)X[i], X[i] = (float)b[i];
    buf = b;
  }
  const void *in[1] = {buf};
  void **o = run(g, n, in, 0);
  if (t != DT_FLOAT) { /* widen the output to float for the check */
    float *w = malloc(sizeof(float) * (size_t)ir_value_numel(n->out[0]));
    for (int64_t i = 0; i < ir_value_numel(n->out[0]); i++)
      w[i] = t == DT_UINT8 ? ((uint8_t *)o[0])[i] : (float)((_Float16 *)o[0])[i];
    free(o[0]);
    o[0] = w;
    free(buf);
  }
  Value *y = n->out[0];
  int64_t no = ir_value_numel(y);
  double *ref = malloc(sizeof(double) * (size_t)no);
  int64_t *refi = malloc(sizeof(int64_t) * (size_t)no);
  /* geometry, padded to 3 spatial dims */
  int64_t I[3], O[3], K[3], S[3], D[3], PB[3], PE[3];
  for (int i = 0; i < 3; i++) {
    int s = i - (3 - ps->nsp);
    bool r = s >= 0;
    I[i] = r ? ps->dims[2 + s] : 1;
    O[i] = r ? y->dims[2 + s] : 1;
    K[i] = r ? ps->k[s] : 1;
    S[i] = r ? ps->s[s] : 1;
    D[i] = r && ps->op == OP_MaxPool ? ps->dil[s] : 1;
    PB[i] = r && !ps->auto_pad ? ps->pads[s] : 0;
    PE[i] = r && !ps->auto_pad ? ps->pads[ps->nsp + s] : 0;
    if (r && ps->auto_pad && strcmp(ps->auto_pad, "VALID")) {
      int64_t ek = (K[i] - 1) * D[i] + 1, total = (O[i] - 1) * S[i] + ek - I[i];
      if (total < 0) total = 0;
      PB[i] = !strcmp(ps->auto_pad, "SAME_UPPER") ? total / 2 : total - total / 2;
      PE[i] = total - PB[i];
    }
  }
  int64_t NC = ps->dims[0] * ps->dims[1], sp = I[0] * I[1] * I[2];
  for (int64_t nc = 0; nc < NC; nc++)
    for (int64_t a = 0; a < O[0]; a++)
      for (int64_t b = 0; b < O[1]; b++)
        for (int64_t c = 0; c < O[2]; c++) {
          double acc = ps->op == OP_MaxPool ? -INFINITY : 0;
          int64_t cnt = 0, cntp = 0, bi = -1;
          for (int64_t ka = 0; ka < K[0]; ka++)
            for (int64_t kb2 = 0; kb2 < K[1]; kb2++)
              for (int64_t kc = 0; kc < K[2]; kc++) {
                int64_t i0 = a * S[0] - PB[0] + ka * D[0], i1 = b * S[1] - PB[1] + kb2 * D[1],
                        i2 = c * S[2] - PB[2] + kc * D[2];
                if (i0 < I[0] + PE[0] && i1 < I[1] + PE[1] && i2 < I[2] + PE[2]) cntp++;
                if (i0 < 0 || i1 < 0 || i2 < 0 || i0 >= I[0] || i1 >= I[1] || i2 >= I[2]) continue;
                double v = X[nc * sp + (i0 * I[1] + i1) * I[2] + i2];
                if (isnan(v)) continue;
                cnt++;
                if (ps->op == OP_MaxPool) {
                  if (v > acc || bi < 0) {
                    acc = v;
                    bi = ps->storage_order ? nc * sp + i0 + i1 * I[0] + i2 * I[0] * I[1] : nc * sp + (i0 * I[1] + i1) * I[2] + i2;
                  }
                } else if (ps->op == OP_LpPool) {
                  acc += pow(fabs(v), ps->p);
                } else {
                  acc += v;
                }
              }
          int64_t oi = ((nc * O[0] + a) * O[1] + b) * O[2] + c;
          if (ps->op == OP_AveragePool) acc /= (double)(ps->count_include_pad ? cntp : cnt);
          if (ps->op == OP_LpPool) acc = pow(acc, 1.0 / ps->p);
          ref[oi] = acc;
          refi[oi] = bi;
        }
  char what[128];
  snprintf(what, sizeof what, "%s %dd k%lld s%lld ceil %d cip %d", ir_ops[ps->op].name, ps->nsp, (long long)ps->k[ps->nsp - 1],
           (long long)ps->s[ps->nsp - 1], ps->ceil_mode, ps->count_include_pad);
  if (t == DT_FLOAT16)
    for (int64_t i = 0; i < no; i++) ref[i] = (double)(_Float16)ref[i];
  check(o[0], ref, no, t == DT_FLOAT16 ? 1e-3 : 1e-5, 1e-5, what);
  if (ps->with_idx)
    for (int64_t i = 0; i < no; i++)
      cr_assert_eq(((int64_t *)o[1])[i], refi[i], "%s indices (order %d): element %lld: got %lld, expected %lld", what,
                   ps->storage_order, (long long)i, (long long)((int64_t *)o[1])[i], (long long)refi[i]);
  free_outs(o, ps->with_idx ? 2 : 1);
  free(X);
  free(ref);
  free(refi);
  ir_graph_free(g);
}

Test(pool, maxpool) {
  PoolSpec base = {.op = OP_MaxPool, .nsp = 2, .dims = {2, 3, 13, 37}, .k = {3, 3}, .s = {1, 1}, .dil = {1, 1}};
  PoolSpec p = base;
  pool_case(&p);
  p.pads[0] = p.pads[1] = p.pads[2] = p.pads[3] = 1;
  p.with_idx = 1;
  pool_case(&p);
  p.s[0] = p.s[1] = 2;
  p.ceil_mode = 1;
  pool_case(&p);
  p.storage_order = 1;
  pool_case(&p);
  p = base;
  p.dil[0] = p.dil[1] = 2;
  p.pads[1] = 2, p.pads[3] = 1;
  p.with_idx = 1;
  pool_case(&p);
  p = base;
  p.k[0] = 2, p.k[1] = 2, p.s[0] = 2, p.s[1] = 2; /* classic 2x2/2 */
  p.dims[3] = 40;
  pool_case(&p);
  p = base;
  p.auto_pad = "SAME_UPPER";
  p.s[1] = 2;
  p.with_idx = 1;
  pool_case(&p);
  p.auto_pad = "SAME_LOWER";
  pool_case(&p);
  p = base; /* stride 4: wide loads + lane shuffle, borders masked */
  p.k[1] = 5, p.s[0] = 2, p.s[1] = 4, p.pads[1] = 2, p.pads[3] = 2, p.dims[3] = 77, p.with_idx = 1;
  pool_case(&p);
  p.ceil_mode = 1;
  p.pads[3] = 3;
  pool_case(&p);
  p = (PoolSpec){.op = OP_MaxPool, .nsp = 1, .dims = {2, 2, 50}, .k = {4}, .s = {3}, .dil = {1}, .pads = {2, 1}, .with_idx = 1, .ceil_mode = 1};
  pool_case(&p);
  p = (PoolSpec){.op = OP_MaxPool, .nsp = 3, .dims = {1, 2, 5, 6, 7}, .k = {2, 3, 3}, .s = {1, 2, 1}, .dil = {1, 1, 2},
                 .pads = {1, 1, 0, 0, 1, 2}, .with_idx = 1};
  pool_case(&p);
  p.storage_order = 1;
  pool_case(&p);
  p = base; /* uint8, stride 2, borders */
  p.t = DT_UINT8, p.s[0] = p.s[1] = 2, p.pads[0] = p.pads[1] = p.pads[2] = p.pads[3] = 1, p.with_idx = 1;
  pool_case(&p);
  p.t = DT_FLOAT16;
  pool_case(&p);
  p = base; /* SqueezeNet's 3x3/2 ceil-mode pool with NaN taps (all-NaN windows give -inf) */
  p.s[0] = p.s[1] = 2, p.ceil_mode = 1, p.dims[2] = 23, p.dims[3] = 55, p.nan = 3;
  pool_case(&p);
  p.nan = 1;
  pool_case(&p);
}

Test(pool, averagepool_lppool) {
  for (int cip = 0; cip < 2; cip++) {
    PoolSpec p = {.op = OP_AveragePool, .nsp = 2, .dims = {2, 3, 11, 29}, .k = {3, 3}, .s = {1, 1}, .pads = {1, 1, 1, 1},
                  .count_include_pad = cip};
    pool_case(&p);
    p.s[0] = p.s[1] = 2;
    p.ceil_mode = 1;
    p.pads[2] = 2;
    pool_case(&p);
    p = (PoolSpec){.op = OP_AveragePool, .nsp = 2, .dims = {1, 2, 7, 7}, .k = {5, 5}, .s = {1, 1}, .pads = {2, 2, 2, 2},
                   .count_include_pad = cip};
    pool_case(&p);
    p = (PoolSpec){.op = OP_AveragePool, .nsp = 1, .dims = {2, 3, 33}, .k = {4}, .s = {2}, .pads = {1, 2},
                   .count_include_pad = cip, .ceil_mode = 1};
    pool_case(&p);
    p = (PoolSpec){.op = OP_AveragePool, .nsp = 3, .dims = {1, 2, 4, 5, 9}, .k = {2, 2, 3}, .s = {1, 1, 2},
                   .pads = {1, 0, 1, 0, 1, 1}, .count_include_pad = cip};
    pool_case(&p);
  }
  PoolSpec p = {.op = OP_LpPool, .nsp = 2, .dims = {2, 2, 9, 21}, .k = {3, 2}, .s = {2, 1}, .pads = {1, 0, 1, 1}, .p = 2};
  pool_case(&p);
  p.p = 1;
  pool_case(&p);
  p = (PoolSpec){.op = OP_AveragePool, .nsp = 2, .dims = {2, 3, 11, 29}, .k = {2, 2}, .s = {2, 2}, .t = DT_FLOAT16};
  pool_case(&p);
}

Test(pool, lppool_p3) {
  PoolSpec p = {.op = OP_LpPool, .nsp = 2, .dims = {2, 2, 9, 21}, .k = {3, 2}, .s = {2, 1}, .pads = {1, 0, 1, 1}, .p = 3};
  pool_case(&p);
}

static void global_case(Op op, int rank, const int64_t *dims, int p) {
  Graph *g = ir_graph_new();
  g->opset = 13;
  Value *x = tu_input(g, "x", DT_FLOAT, rank, dims);
  Node *n = tu_node_n(g, op, 1, &x, 1);
  if (p) tu_attr_int(g, n, "p", p);
  int64_t ne = numel(rank, dims);
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill(X, ne, -2, 2);
  const void *in[1] = {X};
  void **o = run(g, n, in, 0);
  int64_t NC = dims[0] * dims[1], S = ne / NC;
  double *ref = malloc(sizeof(double) * (size_t)NC);
  for (int64_t i = 0; i < NC; i++) {
    double a = op == OP_GlobalMaxPool ? -INFINITY : 0;
    for (int64_t j = 0; j < S; j++) {
      double v = X[i * S + j];
      if (op == OP_GlobalMaxPool) a = fmax(a, v);
      else if (op == OP_GlobalAveragePool) a += v / (double)S;
      else a += pow(fabs(v), p ? p : 2);
    }
    ref[i] = op == OP_GlobalLpPool ? pow(a, 1.0 / (p ? p : 2)) : a;
  }
  check(o[0], ref, NC, 1e-5, 1e-5, ir_ops[op].name);
  free_outs(o, 1);
  free(X);
  free(ref);
  ir_graph_free(g);
}

Test(pool, global) {
  int64_t d[4] = {2, 5, 7, 9}, d2[3] = {3, 4, 1000}, d3[4] = {2, 64, 1, 1};
  Op ops[3] = {OP_GlobalAveragePool, OP_GlobalMaxPool, OP_GlobalLpPool};
  for (int k = 0; k < 3; k++) {
    global_case(ops[k], 4, d, 0);
    global_case(ops[k], 3, d2, 0);
    global_case(ops[k], 4, d3, 0);
  }
  global_case(OP_GlobalLpPool, 4, d, 1);
}

/* ---------------------------------------------------------------- normalizations */

Test(norm, batchnorm_const_and_runtime) {
  for (int rt = 0; rt < 2; rt++)
    for (int dt = 0; dt < 2; dt++) {
      Graph *g = ir_graph_new();
      g->opset = 15;
      int64_t d[4] = {2, 5, 7, 11}, dc[1] = {5};
      DType t = dt ? DT_DOUBLE : DT_FLOAT;
      Value *x = tu_input(g, "x", t, 4, d);
      float prm[4][5];
      for (int k = 0; k < 4; k++) fill(prm[k], 5, k == 3 ? 0.2 : -1, 2);
      Value *ins[5] = {x};
      double pd[4][5];
      for (int k = 0; k < 4; k++)
        for (int i = 0; i < 5; i++) pd[k][i] = prm[k][i];
      for (int k = 0; k < 4; k++) {
        if (rt) {
          ins[k + 1] = tu_input(g, "p", t, 1, dc);
        } else {
          ins[k + 1] = ir_const_new(g, "p", t, 1, dc);
          for (int i = 0; i < 5; i++) {
            if (dt) ((double *)ins[k + 1]->data)[i] = pd[k][i];
            else ((float *)ins[k + 1]->data)[i] = prm[k][i];
          }
        }
      }
      Node *n = tu_node_n(g, OP_BatchNormalization, 5, ins, 1);
      tu_attr_float(g, n, "epsilon", 1e-3f);
      int64_t ne = numel(4, d);
      float *X = malloc(sizeof(float) * (size_t)ne);
      double *Xd = malloc(sizeof(double) * (size_t)ne), *ref = malloc(sizeof(double) * (size_t)ne);
      fill(X, ne, -3, 3);
      for (int64_t i = 0; i < ne; i++) Xd[i] = X[i];
      const void *in[5] = {dt ? (void *)Xd : (void *)X};
      for (int k = 0; k < 4; k++) in[k + 1] = dt ? (void *)pd[k] : (void *)prm[k];
      void **o = run(g, n, in, 0);
      for (int64_t i = 0; i < ne; i++) {
        int c = (int)((i / 77) % 5);
        ref[i] = (Xd[i] - pd[2][c]) / sqrt(pd[3][c] + (double)1e-3f) * pd[0][c] + pd[1][c];
      }
      if (dt) checkd(o[0], ref, ne, 1e-12, 1e-12, "batchnorm f64");
      else check(o[0], ref, ne, 1e-5, 1e-5, "batchnorm");
      free_outs(o, 1);
      free(X);
      free(Xd);
      free(ref);
      ir_graph_free(g);
    }
}

static void layernorm_case(int rank, const int64_t *dims, int axis, bool with_b, bool stats, bool const_scale) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  Value *x = tu_input(g, "x", DT_FLOAT, rank, dims);
  int a = axis < 0 ? axis + rank : axis;
  int64_t R = numel(rank - a, dims + a), rows = numel(a, dims);
  float *sc = malloc(sizeof(float) * (size_t)R), *bb = malloc(sizeof(float) * (size_t)R);
  fill(sc, R, 0.5, 1.5);
  fill(bb, R, -1, 1);
  Value *ins[3] = {x, const_scale ? tu_const_f32(g, "s", rank - a, dims + a, sc) : tu_input(g, "s", DT_FLOAT, rank - a, dims + a),
                   with_b ? tu_input(g, "b", DT_FLOAT, rank - a, dims + a) : NULL};
  Node *n = tu_node_n(g, OP_LayerNormalization, with_b ? 3 : 2, ins, stats ? 3 : 1);
  tu_attr_int(g, n, "axis", axis);
  tu_attr_float(g, n, "epsilon", 1e-4f);
  int64_t ne = rows * R;
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill(X, ne, -3, 3);
  const void *in[3];
  int k = 0;
  in[k++] = X;
  if (!const_scale) in[k++] = sc;
  if (with_b) in[k++] = bb;
  void **o = run(g, n, in, 0);
  double *ref = malloc(sizeof(double) * (size_t)ne), *rm = malloc(sizeof(double) * (size_t)rows),
         *ri = malloc(sizeof(double) * (size_t)rows);
  for (int64_t r = 0; r < rows; r++) {
    double m = 0, v = 0;
    for (int64_t j = 0; j < R; j++) m += X[r * R + j];
    m /= (double)R;
    for (int64_t j = 0; j < R; j++) v += (X[r * R + j] - m) * (X[r * R + j] - m);
    v /= (double)R;
    double inv = 1 / sqrt(v + (double)1e-4f);
    rm[r] = m, ri[r] = inv;
    for (int64_t j = 0; j < R; j++) ref[r * R + j] = (X[r * R + j] - m) * inv * sc[j] + (with_b ? bb[j] : 0);
  }
  check(o[0], ref, ne, 1e-5, 1e-5, "layernorm");
  if (stats) {
    check(o[1], rm, rows, 1e-5, 1e-6, "layernorm mean");
    check(o[2], ri, rows, 1e-5, 1e-6, "layernorm invstd");
  }
  free_outs(o, stats ? 3 : 1);
  free(X);
  free(sc);
  free(bb);
  free(ref);
  free(rm);
  free(ri);
  ir_graph_free(g);
}

Test(norm, layernorm) {
  int64_t d[3] = {3, 7, 45}, d2[2] = {100, 3}, d3[2] = {2, 1000};
  layernorm_case(3, d, -1, true, true, false);
  layernorm_case(3, d, -1, false, false, true);
  layernorm_case(3, d, -2, true, true, false);
  layernorm_case(3, d, 1, true, false, true);
  layernorm_case(2, d2, -1, true, true, false);
  layernorm_case(2, d3, 1, true, true, false);
}

Test(norm, layernorm_broadcast_scale) {
  /* Scale of shape [1, 45] over normalized dims [7, 45]: expanded at compile time */
  Graph *g = ir_graph_new();
  g->opset = 17;
  int64_t d[3] = {3, 7, 45}, ds[2] = {1, 45};
  Value *x = tu_input(g, "x", DT_FLOAT, 3, d);
  float sc[45];
  fill(sc, 45, 0.5, 1.5);
  Value *ins[2] = {x, tu_const_f32(g, "s", 2, ds, sc)};
  Node *n = tu_node_n(g, OP_LayerNormalization, 2, ins, 1);
  tu_attr_int(g, n, "axis", 1);
  int64_t ne = numel(3, d), R = 7 * 45;
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill(X, ne, -3, 3);
  const void *in[1] = {X};
  void **o = run(g, n, in, 0);
  double ref[3 * 7 * 45];
  for (int r = 0; r < 3; r++) {
    double m = 0, v = 0;
    for (int j = 0; j < R; j++) m += X[r * R + j];
    m /= (double)R;
    for (int j = 0; j < R; j++) v += (X[r * R + j] - m) * (X[r * R + j] - m);
    v /= (double)R;
    for (int j = 0; j < R; j++) ref[r * R + j] = (X[r * R + j] - m) / sqrt(v + (double)1e-5f) * sc[j % 45];
  }
  check(o[0], ref, ne, 1e-5, 1e-5, "layernorm broadcast scale");
  free_outs(o, 1);
  free(X);
  ir_graph_free(g);
}

Test(norm, instancenorm_mvn_lpnorm) {
  int64_t d[4] = {2, 5, 6, 7}, ds[1] = {5};
  int64_t ne = numel(4, d);
  float *X = malloc(sizeof(float) * (size_t)ne), sc[5], bb[5];
  fill(X, ne, -3, 3);
  fill(sc, 5, 0.5, 1.5);
  fill(bb, 5, -1, 1);
  double *ref = malloc(sizeof(double) * (size_t)ne);
  /* InstanceNormalization */
  {
    Graph *g = ir_graph_new();
    g->opset = 6;
    Value *ins[3] = {tu_input(g, "x", DT_FLOAT, 4, d), tu_input(g, "s", DT_FLOAT, 1, ds), tu_input(g, "b", DT_FLOAT, 1, ds)};
    Node *n = tu_node_n(g, OP_InstanceNormalization, 3, ins, 1);
    tu_attr_float(g, n, "epsilon", 1e-3f);
    const void *in[3] = {X, sc, bb};
    void **o = run(g, n, in, 0);
    for (int r = 0; r < 10; r++) {
      double m = 0, v = 0;
      for (int j = 0; j < 42; j++) m += X[r * 42 + j];
      m /= 42;
      for (int j = 0; j < 42; j++) v += (X[r * 42 + j] - m) * (X[r * 42 + j] - m);
      v /= 42;
      for (int j = 0; j < 42; j++) ref[r * 42 + j] = (X[r * 42 + j] - m) / sqrt(v + (double)1e-3f) * sc[r % 5] + bb[r % 5];
    }
    check(o[0], ref, ne, 1e-5, 1e-5, "instancenorm");
    free_outs(o, 1);
    ir_graph_free(g);
  }
  /* MeanVarianceNormalization, default axes (0, 2, 3) and axes (1) */
  for (int variant = 0; variant < 2; variant++) {
    Graph *g = ir_graph_new();
    g->opset = 13;
    Value *x = tu_input(g, "x", DT_FLOAT, 4, d);
    Node *n = tu_node_n(g, OP_MeanVarianceNormalization, 1, &x, 1);
    int64_t ax1[1] = {1};
    if (variant) tu_attr_ints(g, n, "axes", 1, ax1);
    const void *in[1] = {X};
    void **o = run(g, n, in, 0);
    bool red[4] = {!variant, variant != 0, !variant, !variant};
    double *m = calloc(ne, sizeof(double)), *v = calloc(ne, sizeof(double));
    double *xd = malloc(sizeof(double) * (size_t)ne), *sq = malloc(sizeof(double) * (size_t)ne);
    for (int64_t i = 0; i < ne; i++) xd[i] = X[i];
    ref_reduce(OP_ReduceMean, xd, 4, d, red, m);
    for (int64_t i = 0; i < ne; i++) {
      int64_t c[4], rem = i, oi = 0, mul = 1;
      for (int k = 3; k >= 0; k--) c[k] = rem % d[k], rem /= d[k];
      for (int k = 3; k >= 0; k--)
        if (!red[k]) oi += c[k] * mul, mul *= d[k];
      sq[i] = (xd[i] - m[oi]) * (xd[i] - m[oi]);
    }
    ref_reduce(OP_ReduceMean, sq, 4, d, red, v);
    for (int64_t i = 0; i < ne; i++) {
      int64_t c[4], rem = i, oi = 0, mul = 1;
      for (int k = 3; k >= 0; k--) c[k] = rem % d[k], rem /= d[k];
      for (int k = 3; k >= 0; k--)
        if (!red[k]) oi += c[k] * mul, mul *= d[k];
      ref[i] = (xd[i] - m[oi]) / (sqrt(v[oi]) + 1e-9);
    }
    check(o[0], ref, ne, 1e-4, 1e-5, variant ? "mvn axes (1)" : "mvn");
    free(m);
    free(v);
    free(xd);
    free(sq);
    free_outs(o, 1);
    ir_graph_free(g);
  }
  /* LpNormalization p 1/2, axis 1 (lanes over inner) and -1 (rows) */
  for (int p = 1; p <= 2; p++)
    for (int axis = 1; axis <= 3; axis += 2) {
      Graph *g = ir_graph_new();
      g->opset = 13;
      Value *x = tu_input(g, "x", DT_FLOAT, 4, d);
      Node *n = tu_node_n(g, OP_LpNormalization, 1, &x, 1);
      tu_attr_int(g, n, "axis", axis == 3 ? -1 : axis);
      tu_attr_int(g, n, "p", p);
      const void *in[1] = {X};
      void **o = run(g, n, in, 0);
      int64_t outer = axis == 1 ? 2 : 60, R = d[axis], inner = axis == 1 ? 42 : 1;
      for (int64_t a = 0; a < outer; a++)
        for (int64_t q = 0; q < inner; q++) {
          double s = 0;
          for (int64_t r = 0; r < R; r++) {
            double v = X[(a * R + r) * inner + q];
            s += p == 1 ? fabs(v) : v * v;
          }
          if (p == 2) s = sqrt(s);
          for (int64_t r = 0; r < R; r++) ref[(a * R + r) * inner + q] = X[(a * R + r) * inner + q] / s;
        }
      check(o[0], ref, ne, 1e-5, 1e-6, "lpnorm");
      free_outs(o, 1);
      ir_graph_free(g);
    }
  free(X);
  free(ref);
}

static void lrn_case(float beta) {
  Graph *g = ir_graph_new();
  g->opset = 13;
  int64_t d[4] = {2, 7, 5, 9};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, d);
  Node *n = tu_node_n(g, OP_LRN, 1, &x, 1);
  tu_attr_int(g, n, "size", 4);
  tu_attr_float(g, n, "alpha", 0.02f);
  tu_attr_float(g, n, "beta", beta);
  tu_attr_float(g, n, "bias", 1.5f);
  int64_t ne = numel(4, d);
  float *X = malloc(sizeof(float) * (size_t)ne);
  fill(X, ne, -3, 3);
  const void *in[1] = {X};
  void **o = run(g, n, in, 0);
  double *ref = malloc(sizeof(double) * (size_t)ne);
  for (int64_t nn = 0; nn < 2; nn++)
    for (int64_t c = 0; c < 7; c++)
      for (int64_t s = 0; s < 45; s++) {
        double sq = 0;
        for (int64_t cc = c - 1; cc <= c + 2; cc++)
          if (cc >= 0 && cc < 7) sq += (double)X[(nn * 7 + cc) * 45 + s] * X[(nn * 7 + cc) * 45 + s];
        int64_t i = (nn * 7 + c) * 45 + s;
        ref[i] = X[i] / pow(1.5 + (double)0.02f / 4 * sq, (double)beta);
      }
  check(o[0], ref, ne, 1e-5, 1e-6, "lrn");
  free_outs(o, 1);
  free(X);
  free(ref);
  ir_graph_free(g);
}

Test(norm, lrn) { lrn_case(0.75f); }
Test(norm, lrn_general_beta) { lrn_case(0.6f); }
