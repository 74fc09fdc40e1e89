/* test_gen_move.c — data-movement and generator kernels (backend/gen_move.c, gen_gen.c), JIT-compiled
 * from hand-built one-node graphs (shapes from ir_infer_node) and checked against naive C loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "testutil.h"

/* ---------------------------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------------------------- */
static Graph *newg(void) {
  Graph *g = ir_graph_new();
  g->opset = 18;
  return g;
}



static Value *ci64(Graph *g, int cnt, const int64_t *v) {
  int64_t d[1] = {cnt};
  Value *c = ir_const_new(g, NULL, DT_INT64, 1, d);
  memcpy(c->data, v, sizeof(int64_t) * (size_t)cnt);
  return c;
}

static Value *cf32(Graph *g, int cnt, const float *v) {
  int64_t d[1] = {cnt};
  return tu_const_f32(g, NULL, 1, d, v);
}

/* infer shapes of n and make its outputs graph outputs */
static void finish(Graph *g, Node *n) {
  cr_assert_eq(ir_infer_node(g, n), 0, "shape inference: %s", ir_last_error(g));
  for (int i = 0; i < n->nout; i++)
    if (n->out[i]) tu_output(g, n->out[i]);
}

/* JIT, run on 2 threads; returns the status (a failure's message must name the node) */
static int run_graph(Graph *g, const void *const *in, void *const *out) {
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "jit: %s", err);
  be_set_threads(m, 2);
  int st = be_run(m, in, out, err, sizeof err);
  if (st && g->nnodes == 1) { /* a failed run names the node it stopped in */
    char want[64];
    snprintf(want, sizeof want, "node 0 (%s", ir_ops[g->nodes[0]->op].name);
    cr_assert(strstr(err, want), "message '%s' lacks '%s'", err, want);
  }
  be_free(m);
  return st;
}

static void run_ok(Graph *g, const void *const *in, void *const *out) {
  int st = run_graph(g, in, out);
  cr_assert_eq(st, 0, "run failed with status %d", st);
}

static int64_t numel(int r, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < r; i++) n *= d[i];
  return n;
}

static void strides_of(int r, const int64_t *d, int64_t *s) {
  int64_t k = 1;
  for (int i = r - 1; i >= 0; i--) s[i] = k, k *= d[i];
}

static void unravel(int64_t i, int r, const int64_t *d, int64_t *co) {
  for (int k = r - 1; k >= 0; k--) {
    co[k] = d[k] ? i % d[k] : 0;
    i = d[k] ? i / d[k] : 0;
  }
}

static float *frand(int64_t n, unsigned seed) {
  float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
  unsigned s = seed * 2654435761u + 1;
  for (int64_t i = 0; i < n; i++) {
    s = s * 1103515245u + 12345u;
    p[i] = (float)((s >> 8) % 20001) / 100.0f - 100.0f;
  }
  return p;
}

static void *brand(int64_t bytes, unsigned seed) {
  unsigned char *p = malloc((size_t)(bytes ? bytes : 1));
  unsigned s = seed + 7;
  for (int64_t i = 0; i < bytes; i++) {
    s = s * 1103515245u + 12345u;
    p[i] = (unsigned char)(s >> 16);
  }
  return p;
}

static void assert_bytes_eq(const void *a, const void *b, size_t n, const char *what) {
  const unsigned char *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) cr_assert_fail("%s: byte %zu differs (%u vs %u)", what, i, x[i], y[i]);
}

/* ---------------------------------------------------------------------------------------------
 * Transpose
 * ------------------------------------------------------------------------------------------- */
static void check_transpose(DType t, int r, const int64_t *dims, const int64_t *perm) {
  Graph *g = newg();
  Value *x = tu_input(g, "x", t, r, dims);
  Node *n = tu_node_n(g, OP_Transpose, 1, &x, 1);
  tu_attr_ints(g, n, "perm", r, perm);
  finish(g, n);
  size_t es = dtype_size(t);
  int64_t m = numel(r, dims), xs[8], od[8], co[8];
  strides_of(r, dims, xs);
  for (int d = 0; d < r; d++) od[d] = dims[perm[d]];
  unsigned char *X = brand(m * (int64_t)es, 3), *Y = calloc((size_t)m + 1, es), *R = calloc((size_t)m + 1, es);
  for (int64_t i = 0; i < m; i++) {
    unravel(i, r, od, co);
    int64_t s = 0;
    for (int d = 0; d < r; d++) s += co[d] * xs[perm[d]];
    memcpy(R + i * (int64_t)es, X + s * (int64_t)es, es);
  }
  const void *in[1] = {X};
  void *out[1] = {Y};
  run_ok(g, in, out);
  assert_bytes_eq(Y, R, (size_t)m * es, "transpose");
  free(X), free(Y), free(R);
  ir_graph_free(g);
}

Test(move, transpose_all_4d_perms) {
  int64_t dims[4] = {2, 3, 4, 5};
  int64_t p[4];
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++)
        for (int d = 0; d < 4; d++) {
          if (a == b || a == c || a == d || b == c || b == d || c == d) continue;
          p[0] = a, p[1] = b, p[2] = c, p[3] = d;
          check_transpose(DT_FLOAT, 4, dims, p);
        }
}

Test(move, transpose_dtypes_and_large) {
  int64_t d1[4] = {3, 17, 33, 8}, p1[4] = {0, 2, 3, 1}, p2[4] = {0, 3, 1, 2}, p3[4] = {3, 2, 1, 0};
  DType ts[5] = {DT_FLOAT, DT_INT8, DT_INT16, DT_INT64, DT_BOOL};
  for (int k = 0; k < 5; k++) {
    check_transpose(ts[k], 4, d1, p1);
    check_transpose(ts[k], 4, d1, p2);
    check_transpose(ts[k], 4, d1, p3);
  }
  int64_t d2[4] = {4, 64, 56, 56}; /* large: parallel */
  check_transpose(DT_FLOAT, 4, d2, p1);
  int64_t d3[4] = {4, 56, 56, 64};
  check_transpose(DT_FLOAT, 4, d3, p2);
  int64_t d4[2] = {1000, 777}, p4[2] = {1, 0};
  check_transpose(DT_FLOAT, 2, d4, p4);
  int64_t d5[3] = {1, 1, 5}, p5[3] = {2, 0, 1};
  check_transpose(DT_FLOAT, 3, d5, p5);
}

/* ---------------------------------------------------------------------------------------------
 * Reshape family
 * ------------------------------------------------------------------------------------------- */
Test(move, reshape_flatten_squeeze) {
  int64_t d[4] = {3, 1, 50, 700};
  int64_t m = numel(4, d);
  for (int op = 0; op < 4; op++) {
    Graph *g = newg();
    Value *x = tu_input(g, "x", DT_FLOAT, 4, d);
    Node *n;
    if (op == 0) {
      int64_t s[2] = {-1, 350};
      Value *ins[2] = {x, ci64(g, 2, s)};
      n = tu_node_n(g, OP_Reshape, 2, ins, 1);
    } else if (op == 1) {
      n = tu_node_n(g, OP_Flatten, 1, &x, 1);
      tu_attr_int(g, n, "axis", 2);
    } else if (op == 2) {
      int64_t a[1] = {1};
      Value *ins[2] = {x, ci64(g, 1, a)};
      n = tu_node_n(g, OP_Squeeze, 2, ins, 1);
    } else {
      int64_t a[2] = {0, -1};
      Value *ins[2] = {x, ci64(g, 2, a)};
      n = tu_node_n(g, OP_Unsqueeze, 2, ins, 1);
    }
    finish(g, n);
    cr_assert_eq(ir_value_numel(n->out[0]), m);
    float *X = frand(m, 1), *Y = calloc((size_t)m, 4);
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    assert_bytes_eq(Y, X, (size_t)m * 4, "reshape");
    free(X), free(Y);
    ir_graph_free(g);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Concat / Split
 * ------------------------------------------------------------------------------------------- */
/* DenseNet's pattern: x0 = Relu(in), xi = Neg/Abs of the last; ci = Concat(x0..xi) along channels
 * at batch 1.  Planning puts x0..x2 in the last Concat's buffer and the first Concat at its start
 * (passes/plan.c), the copies find equal pointers; a Concat with one input twice (the same kernel
 * key) and one with batch 2 (slices not contiguous) still copy.  Outputs against a C reference. */
Test(move, concat_in_place) {
  Graph *g = newg();
  int64_t d[4] = {1, 2, 4, 8}, d2[4] = {2, 2, 4, 8}; /* 256-byte slices */
  Value *in = tu_input(g, "in", DT_FLOAT, 4, d), *in2 = tu_input(g, "in2", DT_FLOAT, 4, d2);
  Node *nodes[8];
  int nn = 0;
  Value *x0 = tu_node(g, OP_Relu, 1, &in);
  Value *x1 = tu_node(g, OP_Neg, 1, &x0);
  Node *c1 = tu_node_n(g, OP_Concat, 2, (Value *[]){x0, x1}, 1);
  Value *x2 = tu_node(g, OP_Abs, 1, &x1);
  Node *c2 = tu_node_n(g, OP_Concat, 3, (Value *[]){x0, x1, x2}, 1);
  Value *t = tu_node(g, OP_Neg, 1, &in);
  Node *c3 = tu_node_n(g, OP_Concat, 2, (Value *[]){t, t}, 1); /* c1's key, t twice: copies */
  Value *b = tu_node(g, OP_Relu, 1, &in2);
  Node *c4 = tu_node_n(g, OP_Concat, 2, (Value *[]){b, b}, 1);
  nodes[nn++] = c1, nodes[nn++] = c2, nodes[nn++] = c3, nodes[nn++] = c4;
  for (int i = 0; i < nn; i++) tu_attr_int(g, nodes[i], "axis", 1);
  for (int i = 0; i < nn; i++) /* each read by another node, whose output is the graph's */
    tu_output(g, tu_node(g, OP_Exp, 1, &nodes[i]->out[0]));
  for (int k = 0; k < g->nnodes; k++) cr_assert_eq(ir_infer_node(g, g->nodes[k]), 0, "%s", ir_last_error(g));
  float *X = frand(64, 3), *X2 = frand(128, 4);
  for (int i = 0; i < 64; i++) X[i] *= 0.01f, X2[i] *= 0.01f, X2[64 + i] *= 0.01f;
  int64_t on[4] = {128, 192, 128, 256};
  float *Y[4], *R[4];
  for (int i = 0; i < 4; i++) Y[i] = calloc((size_t)on[i], 4), R[i] = calloc((size_t)on[i], 4);
  for (int i = 0; i < 64; i++) {
    float a = X[i] > 0 ? X[i] : 0;
    R[0][i] = R[1][i] = expf(a), R[0][64 + i] = R[1][64 + i] = expf(-a), R[1][128 + i] = expf(a);
    R[2][i] = R[2][64 + i] = expf(-X[i]);
  }
  for (int n = 0; n < 2; n++)
    for (int i = 0; i < 64; i++) R[3][n * 128 + i] = R[3][n * 128 + 64 + i] = expf(X2[n * 64 + i] > 0 ? X2[n * 64 + i] : 0);
  const void *ins[2] = {X, X2};
  run_ok(g, ins, (void *const *)Y);
  for (int i = 0; i < 4; i++)
    for (int64_t k = 0; k < on[i]; k++) cr_assert_float_eq(Y[i][k], R[i][k], 1e-5f, "concat %d [%lld]", i, (long long)k);
  Value *y2 = c2->out[0];
  cr_assert(x0->inside == y2 && x1->inside == y2 && x2->inside == y2 && c1->out[0]->inside == y2);
  cr_assert(x0->offset == y2->offset && x1->offset == y2->offset + 256 && x2->offset == y2->offset + 512);
  cr_assert_eq(c1->out[0]->offset, y2->offset);
  cr_assert(!t->inside && !b->inside && !c3->out[0]->inside);
  cr_assert_eq(ir_verify(g), 0, "%s", ir_last_error(g));
  x2->offset += 64; /* out of its buffer: the verifier says so */
  cr_assert_eq(ir_verify(g), -1);
  cr_assert(strstr(ir_last_error(g), "is not inside the buffer"), "%s", ir_last_error(g));
  for (int i = 0; i < 4; i++) free(Y[i]), free(R[i]);
  free(X), free(X2);
  ir_graph_free(g);
}

static void check_concat(DType t, int axis, int ninp, const int64_t *sizes) {
  Graph *g = newg();
  int64_t base[3] = {3, 5, 7};
  Value *ins[8];
  void *X[8];
  size_t es = dtype_size(t);
  int64_t od[3] = {3, 5, 7};
  od[axis] = 0;
  for (int i = 0; i < ninp; i++) {
    int64_t d[3] = {base[0], base[1], base[2]};
    d[axis] = sizes[i];
    od[axis] += sizes[i];
    char nm[8] = {'x', (char)('0' + i), 0};
    ins[i] = tu_input(g, nm, t, 3, d);
    X[i] = brand(numel(3, d) * (int64_t)es, (unsigned)i + 11);
  }
  Node *n = tu_node_n(g, OP_Concat, ninp, ins, 1);
  tu_attr_int(g, n, "axis", axis - 3); /* negative axis */
  finish(g, n);
  int64_t m = numel(3, od), co[3], os[3];
  strides_of(3, od, os);
  unsigned char *Y = calloc((size_t)m + 1, es), *R = calloc((size_t)m + 1, es);
  for (int64_t i = 0; i < m; i++) {
    unravel(i, 3, od, co);
    int k = 0;
    int64_t a = co[axis];
    while (a >= sizes[k]) a -= sizes[k++];
    int64_t d[3] = {base[0], base[1], base[2]}, s[3];
    d[axis] = sizes[k];
    strides_of(3, d, s);
    int64_t c2[3] = {co[0], co[1], co[2]};
    c2[axis] = a;
    memcpy(R + i * (int64_t)es, (unsigned char *)X[k] + (c2[0] * s[0] + c2[1] * s[1] + c2[2] * s[2]) * (int64_t)es, es);
  }
  void *out[1] = {Y};
  run_ok(g, (const void *const *)X, out);
  assert_bytes_eq(Y, R, (size_t)m * es, "concat");
  for (int i = 0; i < ninp; i++) free(X[i]);
  free(Y), free(R);
  ir_graph_free(g);
}

Test(move, concat_each_axis) {
  int64_t s1[3] = {1, 4, 9}, s2[4] = {2, 0, 3, 1};
  DType ts[4] = {DT_FLOAT, DT_INT16, DT_BOOL, DT_DOUBLE};
  for (int k = 0; k < 4; k++)
    for (int axis = 0; axis < 3; axis++) {
      check_concat(ts[k], axis, 3, s1);
      check_concat(ts[k], axis, 4, s2);
    }
  int64_t big[2] = {300, 500};
  check_concat(DT_FLOAT, 2, 2, big);
  check_concat(DT_FLOAT, 0, 2, big);
}

Test(move, split_sizes_and_equal) {
  int64_t d[3] = {5, 12, 7};
  for (int variant = 0; variant < 3; variant++) {
    Graph *g = newg();
    Value *x = tu_input(g, "x", DT_FLOAT, 3, d);
    int axis = variant == 2 ? 2 : 1, nout = variant == 0 ? 3 : variant == 1 ? 4 : 1;
    int64_t sz[4] = {3, 4, 5, 0};
    Node *n;
    if (variant == 0) {
      Value *ins[2] = {x, ci64(g, 3, sz)};
      n = tu_node_n(g, OP_Split, 2, ins, nout);
    } else
      n = tu_node_n(g, OP_Split, 1, &x, nout);
    tu_attr_int(g, n, "axis", axis);
    finish(g, n);
    int64_t m = numel(3, d);
    float *X = frand(m, 5), *Y[4];
    void *out[4];
    for (int k = 0; k < nout; k++) out[k] = Y[k] = calloc((size_t)m, 4);
    const void *in[1] = {X};
    run_ok(g, in, out);
    int64_t off = 0;
    for (int k = 0; k < nout; k++) {
      Value *o = n->out[k];
      int64_t co[3];
      for (int64_t i = 0; i < ir_value_numel(o); i++) {
        unravel(i, 3, o->dims, co);
        co[axis] += off;
        float ref = X[(co[0] * d[1] + co[1]) * d[2] + co[2]];
        cr_assert_eq(Y[k][i], ref, "split variant %d out %d elem %lld", variant, k, (long long)i);
      }
      off += o->dims[axis];
    }
    free(X);
    for (int k = 0; k < nout; k++) free(Y[k]);
    ir_graph_free(g);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Slice
 * ------------------------------------------------------------------------------------------- */
static void check_slice(const int64_t *dims, int cnt, const int64_t *st, const int64_t *en, const int64_t *ax,
                        const int64_t *sp, DType t) {
  Graph *g = newg();
  Value *x = tu_input(g, "x", t, 3, dims);
  Value *ins[5] = {x, ci64(g, cnt, st), ci64(g, cnt, en), ci64(g, cnt, ax), ci64(g, cnt, sp)};
  Node *n = tu_node_n(g, OP_Slice, 5, ins, 1);
  finish(g, n);
  /* reference: python slicing semantics */
  int64_t s0[3] = {0, 0, 0}, k[3] = {1, 1, 1}, len[3] = {dims[0], dims[1], dims[2]};
  for (int i = 0; i < cnt; i++) {
    int a = (int)(ax[i] < 0 ? ax[i] + 3 : ax[i]);
    int64_t D = dims[a], s = st[i], e = en[i], step = sp[i];
    if (s < 0) s += D;
    if (e < 0) e += D;
    if (step > 0) {
      s = s < 0 ? 0 : s > D ? D : s;
      e = e < 0 ? 0 : e > D ? D : e;
    } else {
      s = s < 0 ? -1 : s > D - 1 ? D - 1 : s;
      e = e < -1 ? -1 : e > D - 1 ? D - 1 : e;
    }
    int64_t c = 0;
    for (int64_t q = s; step > 0 ? q < e : q > e; q += step) c++;
    s0[a] = s, k[a] = step, len[a] = c;
  }
  Value *y = n->out[0];
  for (int d = 0; d < 3; d++) cr_assert_eq(y->dims[d], len[d], "slice dim %d", d);
  size_t es = dtype_size(t);
  int64_t m = numel(3, dims), mo = numel(3, len), co[3];
  unsigned char *X = brand(m * (int64_t)es, 9), *Y = calloc((size_t)mo + 1, es), *R = calloc((size_t)mo + 1, es);
  for (int64_t i = 0; i < mo; i++) {
    unravel(i, 3, len, co);
    int64_t src = 0;
    for (int d = 0; d < 3; d++) src = src * dims[d] + s0[d] + co[d] * k[d];
    memcpy(R + i * (int64_t)es, X + src * (int64_t)es, es);
  }
  const void *in[1] = {X};
  void *out[1] = {Y};
  run_ok(g, in, out);
  assert_bytes_eq(Y, R, (size_t)mo * es, "slice");
  free(X), free(Y), free(R);
  ir_graph_free(g);
}

Test(move, slice_negative_steps) {
  int64_t d[3] = {6, 7, 37};
  {
    int64_t st[3] = {-1, 1, 30}, en[3] = {INT64_MIN, 6, 2}, ax[3] = {0, 1, 2}, sp[3] = {-1, 2, -1};
    check_slice(d, 3, st, en, ax, sp, DT_FLOAT);
    check_slice(d, 3, st, en, ax, sp, DT_INT8);
    check_slice(d, 3, st, en, ax, sp, DT_INT64);
  }
  {
    int64_t st[2] = {100, 0}, en[2] = {-100, 5}, ax[2] = {-1, 0}, sp[2] = {-3, 1};
    check_slice(d, 2, st, en, ax, sp, DT_FLOAT);
  }
  {
    int64_t st[1] = {5}, en[1] = {INT64_MAX}, ax[1] = {2}, sp[1] = {1};
    check_slice(d, 1, st, en, ax, sp, DT_FLOAT);
    check_slice(d, 1, st, en, ax, sp, DT_INT16);
  }
  {
    int64_t st[1] = {3}, en[1] = {3}, ax[1] = {1}, sp[1] = {1}; /* empty */
    check_slice(d, 1, st, en, ax, sp, DT_FLOAT);
  }
  int64_t big[3] = {4, 300, 301};
  {
    int64_t st[2] = {-2, 299}, en[2] = {0, -400}, ax[2] = {1, 2}, sp[2] = {-1, -1};
    check_slice(big, 2, st, en, ax, sp, DT_FLOAT);
  }
}

/* ---------------------------------------------------------------------------------------------
 * Gather family
 * ------------------------------------------------------------------------------------------- */
static void check_gather(int axis, DType it, int ir, const int64_t *idims, const int64_t *idx, int64_t A, bool bad) {
  Graph *g = newg();
  int64_t dims[3] = {4, 5, 6};
  dims[axis] = A;
  Value *x = tu_input(g, "x", DT_FLOAT, 3, dims);
  Value *ix = tu_input(g, "i", it, ir, idims);
  Value *ins[2] = {x, ix};
  Node *n = tu_node_n(g, OP_Gather, 2, ins, 1);
  tu_attr_int(g, n, "axis", axis);
  finish(g, n);
  int64_t ni = numel(ir, idims), m = numel(3, dims), mo = ir_value_numel(n->out[0]);
  float *X = frand(m, 2), *Y = calloc((size_t)mo + 1, 4);
  void *I = malloc((size_t)ni * 8 + 8);
  for (int64_t k = 0; k < ni; k++) {
    if (it == DT_INT64) ((int64_t *)I)[k] = idx[k];
    else ((int32_t *)I)[k] = (int32_t)idx[k];
  }
  const void *in[2] = {X, I};
  void *out[1] = {Y};
  int st = run_graph(g, in, out);
  if (bad) cr_assert_eq(st, 3, "expected ONNXC_ERR_INDEX, got %d", st);
  else {
    cr_assert_eq(st, 0, "status %d", st);
    int64_t pre = 1, post = 1;
    for (int d = 0; d < axis; d++) pre *= dims[d];
    for (int d = axis + 1; d < 3; d++) post *= dims[d];
    for (int64_t p = 0; p < pre; p++)
      for (int64_t k = 0; k < ni; k++) {
        int64_t j = idx[k] < 0 ? idx[k] + A : idx[k];
        for (int64_t q = 0; q < post; q++)
          cr_assert_eq(Y[(p * ni + k) * post + q], X[(p * A + j) * post + q], "gather axis %d", axis);
      }
  }
  free(X), free(Y), free(I);
  ir_graph_free(g);
}

Test(move, gather_axes_negative_and_oob) {
  int64_t idims[2] = {2, 3}, idx[6] = {0, -1, 2, -4, 3, 1};
  for (int axis = 0; axis < 3; axis++) {
    check_gather(axis, DT_INT64, 2, idims, idx, 4, false);
    check_gather(axis, DT_INT32, 2, idims, idx, 4, false);
  }
  int64_t bad1[6] = {0, 1, 4, 0, 0, 0}, bad2[6] = {0, -5, 0, 0, 0, 0};
  for (int axis = 0; axis < 3; axis++) {
    check_gather(axis, DT_INT64, 2, idims, bad1, 4, true);
    check_gather(axis, DT_INT32, 2, idims, bad2, 4, true);
  }
  /* embedding-style lookup: long rows, many indices */
  int64_t n1[1] = {40}, ix1[40];
  for (int i = 0; i < 40; i++) ix1[i] = (i * 7) % 13 - 6;
  check_gather(0, DT_INT64, 1, n1, ix1, 13, false);
  check_gather(2, DT_INT64, 1, n1, ix1, 13, false);
  /* scalar index */
  int64_t one[1] = {-2};
  check_gather(1, DT_INT64, 0, NULL, one, 5, false);
}

Test(move, gather_large_embedding) {
  Graph *g = newg();
  int64_t dims[2] = {1000, 256}, idims[2] = {4, 100};
  Value *x = tu_input(g, "x", DT_FLOAT, 2, dims);
  Value *ix = tu_input(g, "i", DT_INT64, 2, idims);
  Value *ins[2] = {x, ix};
  Node *n = tu_node_n(g, OP_Gather, 2, ins, 1);
  finish(g, n);
  float *X = frand(256000, 4), *Y = calloc(400 * 256, 4);
  int64_t I[400];
  for (int i = 0; i < 400; i++) I[i] = (i * 37) % 1000 - (i % 2 ? 1000 : 0);
  const void *in[2] = {X, I};
  void *out[1] = {Y};
  run_ok(g, in, out);
  for (int i = 0; i < 400; i++) {
    int64_t j = I[i] < 0 ? I[i] + 1000 : I[i];
    assert_bytes_eq(Y + i * 256, X + j * 256, 256 * 4, "embedding row");
  }
  I[399] = 1000;
  cr_assert_eq(run_graph(g, in, out), 3);
  free(X), free(Y);
  ir_graph_free(g);
}

Test(move, gather_elements) {
  for (int axis = 0; axis < 2; axis++) {
    Graph *g = newg();
    int64_t dims[2] = {5, 19}, idims[2] = {4, 17};
    Value *x = tu_input(g, "x", DT_FLOAT, 2, dims);
    Value *ix = tu_input(g, "i", DT_INT64, 2, idims);
    Value *ins[2] = {x, ix};
    Node *n = tu_node_n(g, OP_GatherElements, 2, ins, 1);
    tu_attr_int(g, n, "axis", axis);
    finish(g, n);
    float *X = frand(95, 6), Y[68];
    int64_t I[68];
    for (int i = 0; i < 68; i++) I[i] = (i * 5) % dims[axis] - (i % 3 == 0 ? dims[axis] : 0);
    const void *in[2] = {X, I};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int r = 0; r < 4; r++)
      for (int c = 0; c < 17; c++) {
        int64_t j = I[r * 17 + c];
        if (j < 0) j += dims[axis];
        float ref = axis == 0 ? X[j * 19 + c] : X[r * 19 + j];
        cr_assert_eq(Y[r * 17 + c], ref, "gather_elements axis %d (%d,%d)", axis, r, c);
      }
    I[5] = dims[axis];
    cr_assert_eq(run_graph(g, in, out), 3);
    free(X);
    ir_graph_free(g);
  }
}

Test(move, gather_nd) {
  /* batch_dims 0, k = 2 of rank 3 (rows of 6), and k = 3 (scalars); batch_dims 1 */
  int64_t dims[3] = {4, 5, 6};
  float *X = frand(120, 8);
  for (int variant = 0; variant < 3; variant++) {
    Graph *g = newg();
    Value *x = tu_input(g, "x", DT_FLOAT, 3, dims);
    int64_t idims[3];
    int ir;
    if (variant == 0) ir = 3, idims[0] = 2, idims[1] = 3, idims[2] = 2;
    else if (variant == 1) ir = 2, idims[0] = 7, idims[1] = 3;
    else ir = 3, idims[0] = 4, idims[1] = 3, idims[2] = 2;
    Value *ix = tu_input(g, "i", DT_INT64, ir, idims);
    Value *ins[2] = {x, ix};
    Node *n = tu_node_n(g, OP_GatherND, 2, ins, 1);
    if (variant == 2) tu_attr_int(g, n, "batch_dims", 1);
    finish(g, n);
    int64_t ni = numel(ir, idims), k = idims[ir - 1], nt = ni / k, mo = ir_value_numel(n->out[0]);
    int64_t *I = malloc(sizeof(int64_t) * (size_t)ni);
    int b = variant == 2 ? 1 : 0;
    for (int64_t t = 0; t < nt; t++)
      for (int64_t q = 0; q < k; q++) {
        int64_t D = dims[b + q];
        I[t * k + q] = (t * 3 + q * 5) % D - ((t + q) % 2 ? D : 0);
      }
    float *Y = calloc((size_t)mo, 4);
    const void *in[2] = {X, I};
    void *out[1] = {Y};
    run_ok(g, in, out);
    int64_t R = mo / nt;
    for (int64_t t = 0; t < nt; t++) {
      int64_t off = 0;
      if (b) off = (t / (nt / dims[0])) * 30;
      int64_t st[3] = {30, 6, 1};
      for (int64_t q = 0; q < k; q++) {
        int64_t j = I[t * k + q];
        if (j < 0) j += dims[b + q];
        off += j * st[b + q];
      }
      for (int64_t e = 0; e < R; e++) cr_assert_eq(Y[t * R + e], X[off + e], "gather_nd v%d t%lld", variant, (long long)t);
    }
    I[0] = 99;
    cr_assert_eq(run_graph(g, in, out), 3);
    free(I), free(Y);
    ir_graph_free(g);
  }
  free(X);
}

/* ---------------------------------------------------------------------------------------------
 * Expand, Tile, Pad
 * ------------------------------------------------------------------------------------------- */
Test(move, expand) {
  int64_t xd[3] = {3, 1, 5}, sh[4] = {2, 1, 4, 5};
  for (int t = 0; t < 2; t++) {
    Graph *g = newg();
    DType dt = t ? DT_INT8 : DT_FLOAT;
    size_t es = dtype_size(dt);
    Value *x = tu_input(g, "x", dt, 3, xd);
    Value *ins[2] = {x, ci64(g, 4, sh)};
    Node *n = tu_node_n(g, OP_Expand, 2, ins, 1);
    finish(g, n);
    Value *y = n->out[0];
    cr_assert_eq(y->rank, 4);
    int64_t mo = ir_value_numel(y), co[4];
    unsigned char *X = brand(15 * (int64_t)es, 1), *Y = calloc((size_t)mo, es);
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int64_t i = 0; i < mo; i++) {
      unravel(i, 4, y->dims, co);
      int64_t s = co[1] * 5 + co[3];
      cr_assert(!memcmp(Y + i * (int64_t)es, X + s * (int64_t)es, es), "expand %lld", (long long)i);
    }
    free(X), free(Y);
    ir_graph_free(g);
  }
}

Test(move, tile) {
  int64_t xd[3] = {2, 3, 5};
  int64_t reps[3][3] = {{1, 2, 3}, {3, 1, 40}, {2, 2, 1}};
  for (int v = 0; v < 3; v++) {
    Graph *g = newg();
    Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
    Value *ins[2] = {x, ci64(g, 3, reps[v])};
    Node *n = tu_node_n(g, OP_Tile, 2, ins, 1);
    finish(g, n);
    Value *y = n->out[0];
    int64_t mo = ir_value_numel(y), co[3];
    float *X = frand(30, 3), *Y = calloc((size_t)mo, 4);
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int64_t i = 0; i < mo; i++) {
      unravel(i, 3, y->dims, co);
      float ref = X[((co[0] % 2) * 3 + co[1] % 3) * 5 + co[2] % 5];
      cr_assert_eq(Y[i], ref, "tile v%d elem %lld", v, (long long)i);
    }
    free(X), free(Y);
    ir_graph_free(g);
  }
}

static int64_t ref_pad_src(const char *mode, int64_t o, int64_t dim, int64_t b, int64_t a) {
  /* crop first (negative pads), then pad the remaining core */
  int64_t lo = b < 0 ? -b : 0, hi = dim - (a < 0 ? -a : 0), core = hi - lo;
  int64_t pb = b > 0 ? b : 0;
  int64_t j = o - pb;
  if (j >= 0 && j < core) return lo + j;
  if (!strcmp(mode, "constant")) return -1;
  if (!strcmp(mode, "edge")) return lo + (j < 0 ? 0 : core - 1);
  if (!strcmp(mode, "wrap")) {
    while (j < 0) j += core;
    return lo + j % core;
  }
  /* reflect: mirror without repeating the edge */
  while (j < 0 || j >= core) {
    if (j < 0) j = -j;
    if (j >= core) j = 2 * (core - 1) - j;
  }
  return lo + j;
}

static void check_pad(const char *mode, const int64_t *pads, DType t, bool const_input, bool axes_in) {
  Graph *g = newg();
  int64_t xd[3] = {3, 4, 9};
  Value *x = tu_input(g, "x", t, 3, xd);
  Value *pv = ci64(g, 6, pads), *cv = NULL, *av = NULL;
  if (const_input) {
    int64_t one[1] = {1};
    cv = ir_const_new(g, NULL, t, 0, one);
    ir_store_f64(t, cv->data, 0, 7.0);
  }
  if (axes_in) {
    int64_t ax[3] = {0, 1, 2};
    av = ci64(g, 3, ax);
  }
  Value *ins[4] = {x, pv, cv, av};
  Node *n = tu_node_n(g, OP_Pad, axes_in ? 4 : const_input ? 3 : 2, ins, 1);
  tu_attr_str(g, n, "mode", mode);
  finish(g, n);
  Value *y = n->out[0];
  size_t es = dtype_size(t);
  int64_t mo = ir_value_numel(y), co[3];
  unsigned char *X = brand(108 * (int64_t)es, 2), *Y = calloc((size_t)mo + 1, es), fill[8] = {0};
  if (const_input) ir_store_f64(t, fill, 0, 7.0);
  const void *in[1] = {X};
  void *out[1] = {Y};
  run_ok(g, in, out);
  for (int64_t i = 0; i < mo; i++) {
    unravel(i, 3, y->dims, co);
    int64_t src = 0;
    bool f = false;
    for (int d = 0; d < 3; d++) {
      int64_t s = ref_pad_src(mode, co[d], xd[d], pads[d], pads[d + 3]);
      if (s < 0) f = true;
      src = src * xd[d] + (s < 0 ? 0 : s);
    }
    const void *ref = f ? (const void *)fill : (const void *)(X + src * (int64_t)es);
    cr_assert(!memcmp(Y + i * (int64_t)es, ref, es), "pad %s elem %lld (%lld,%lld,%lld)", mode, (long long)i,
              (long long)co[0], (long long)co[1], (long long)co[2]);
  }
  free(X), free(Y);
  ir_graph_free(g);
}

Test(move, pad_all_modes) {
  const char *modes[4] = {"constant", "reflect", "edge", "wrap"};
  int64_t p1[6] = {1, 0, 2, 2, 3, 5}, p2[6] = {0, -1, 3, 1, 2, -2}, p3[6] = {2, 3, 20, 1, 0, 30};
  for (int m = 0; m < 4; m++) {
    check_pad(modes[m], p1, DT_FLOAT, false, false);
    check_pad(modes[m], p2, DT_INT16, m == 0, m == 1);
    if (m != 1) check_pad(modes[m], p3, DT_FLOAT, m == 0, false); /* reflect cannot exceed dim-1 */
  }
  check_pad("constant", p1, DT_BOOL, false, false);
  check_pad("constant", p2, DT_DOUBLE, true, true);
}

/* ---------------------------------------------------------------------------------------------
 * DepthToSpace / SpaceToDepth / Trilu
 * ------------------------------------------------------------------------------------------- */
Test(move, depth_to_space_and_back) {
  int64_t b = 2, N = 2, C = 8, H = 3, W = 5;
  int64_t xd[4] = {N, C, H, W};
  for (int mode = 0; mode < 3; mode++) {
    Graph *g = newg();
    Value *x;
    Node *n;
    if (mode < 2) {
      x = tu_input(g, "x", DT_FLOAT, 4, xd);
      n = tu_node_n(g, OP_DepthToSpace, 1, &x, 1);
      tu_attr_str(g, n, "mode", mode ? "CRD" : "DCR");
    } else {
      int64_t sd[4] = {N, 2, H * b, W * b};
      x = tu_input(g, "x", DT_FLOAT, 4, sd);
      n = tu_node_n(g, OP_SpaceToDepth, 1, &x, 1);
    }
    tu_attr_int(g, n, "blocksize", b);
    finish(g, n);
    Value *y = n->out[0];
    int64_t m = ir_value_numel(y), co[4];
    float *X = frand(m, 12), *Y = calloc((size_t)m, 4);
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int64_t i = 0; i < m; i++) {
      unravel(i, 4, y->dims, co);
      float ref;
      if (mode < 2) {
        int64_t Co = C / (b * b), c = co[1], h = co[2] / b, bi = co[2] % b, w = co[3] / b, bj = co[3] % b;
        int64_t ci = mode == 0 ? (bi * b + bj) * Co + c : c * b * b + bi * b + bj;
        ref = X[((co[0] * C + ci) * H + h) * W + w];
      } else {
        int64_t Ci = 2, c = co[1] % Ci, blk = co[1] / Ci, bi = blk / b, bj = blk % b;
        ref = X[((co[0] * Ci + c) * (H * b) + co[2] * b + bi) * (W * b) + co[3] * b + bj];
      }
      cr_assert_eq(Y[i], ref, "mode %d elem %lld", mode, (long long)i);
    }
    free(X), free(Y);
    ir_graph_free(g);
  }
}

Test(move, trilu) {
  int64_t xd[3] = {2, 5, 37};
  int64_t ks[6] = {0, 2, -3, 100, INT64_MAX, INT64_MIN};
  for (int upper = 0; upper < 2; upper++)
    for (int kk = 0; kk < 6; kk++) {
      Graph *g = newg();
      Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
      int64_t kv[1] = {ks[kk]};
      Value *kc = ir_const_new(g, NULL, DT_INT64, 0, kv);
      ((int64_t *)kc->data)[0] = ks[kk];
      Value *ins[2] = {x, kc};
      Node *n = tu_node_n(g, OP_Trilu, kk ? 2 : 1, ins, 1);
      tu_attr_int(g, n, "upper", upper);
      finish(g, n);
      float *X = frand(370, 13), Y[370];
      const void *in[1] = {X};
      void *out[1] = {Y};
      run_ok(g, in, out);
      for (int b = 0; b < 2; b++)
        for (int i = 0; i < 5; i++)
          for (int j = 0; j < 37; j++) {
            int64_t k = ks[kk];
            bool keep = upper ? (k == INT64_MIN || (k != INT64_MAX && j - i >= k)) : (k == INT64_MAX || (k != INT64_MIN && j - i <= k));
            float ref = keep ? X[(b * 5 + i) * 37 + j] : 0.0f;
            cr_assert_eq(Y[(b * 5 + i) * 37 + j], ref, "trilu upper=%d k=%lld (%d,%d)", upper, (long long)k, i, j);
          }
      free(X);
      ir_graph_free(g);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Scatter
 * ------------------------------------------------------------------------------------------- */
Test(move, scatter_nd) {
  const char *reds[3] = {"none", "add", "mul"};
  int64_t xd[3] = {4, 3, 5};
  for (int r = 0; r < 3; r++)
    for (int k = 1; k <= 3; k++) {
      Graph *g = newg();
      Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
      int64_t idims[2] = {5, k};
      Value *ix = tu_input(g, "i", DT_INT64, 2, idims);
      int64_t ud[4] = {5}, ur = 1;
      for (int d = k; d < 3; d++) ud[ur++] = xd[d];
      Value *u = tu_input(g, "u", DT_FLOAT, (int)ur, ud);
      Value *ins[3] = {x, ix, u};
      Node *n = tu_node_n(g, OP_ScatterND, 3, ins, 1);
      tu_attr_str(g, n, "reduction", reds[r]);
      finish(g, n);
      float *X = frand(60, 1), Y[60], R[60];
      int64_t R1 = numel((int)ur - 1, ud + 1);
      float *U = frand(5 * R1, 2);
      int64_t I[15];
      for (int t = 0; t < 5; t++)
        for (int q = 0; q < k; q++) I[t * k + q] = r == 0 ? (t + q) % xd[q] : (t * (q + 1)) % 2; /* dups when reducing */
      if (r == 0) /* distinct tuples for 'none' */
        for (int t = 0; t < 5; t++) I[t * k] = t % xd[0];
      memcpy(R, X, sizeof R);
      int64_t st[3] = {15, 5, 1};
      for (int t = 0; t < 5; t++) {
        int64_t off = 0;
        for (int q = 0; q < k; q++) off += I[t * k + q] * st[q];
        for (int64_t e = 0; e < R1; e++) {
          float v = U[t * R1 + e];
          R[off + e] = r == 0 ? v : r == 1 ? R[off + e] + v : R[off + e] * v;
        }
      }
      const void *in[3] = {X, I, U};
      void *out[1] = {Y};
      run_ok(g, in, out);
      for (int i = 0; i < 60; i++) cr_assert_float_eq(Y[i], R[i], 1e-3, "scatter_nd %s k=%d elem %d", reds[r], k, i);
      I[0] = -5;
      cr_assert_eq(run_graph(g, in, out), 3);
      free(X), free(U);
      ir_graph_free(g);
    }
}

Test(move, scatter_elements) {
  const char *reds[5] = {"none", "add", "mul", "max", "min"};
  for (int r = 0; r < 5; r++)
    for (int axis = 0; axis < 2; axis++) {
      Graph *g = newg();
      int64_t xd[2] = {4, 21}, id[2] = {3, 19};
      Value *x = tu_input(g, "x", DT_FLOAT, 2, xd);
      Value *ix = tu_input(g, "i", DT_INT32, 2, id);
      Value *u = tu_input(g, "u", DT_FLOAT, 2, id);
      Value *ins[3] = {x, ix, u};
      Node *n = tu_node_n(g, OP_ScatterElements, 3, ins, 1);
      tu_attr_str(g, n, "reduction", reds[r]);
      tu_attr_int(g, n, "axis", axis);
      finish(g, n);
      float *X = frand(84, 3), *U = frand(57, 4), Y[84], R[84];
      int32_t I[57];
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 19; j++) {
          int32_t D = (int32_t)xd[axis];
          int32_t v = r == 0 ? (axis == 0 ? i : j) : (i * 7 + j * 3) % D; /* dups only when reducing */
          I[i * 19 + j] = (i + j) % 2 ? v - D : v;
        }
      memcpy(R, X, sizeof R);
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 19; j++) {
          int32_t v = I[i * 19 + j];
          if (v < 0) v += (int32_t)xd[axis];
          int o = axis == 0 ? v * 21 + j : i * 21 + v;
          float a = R[o], b = U[i * 19 + j];
          R[o] = r == 0 ? b : r == 1 ? a + b : r == 2 ? a * b : r == 3 ? fmaxf(a, b) : fminf(a, b);
        }
      const void *in[3] = {X, I, U};
      void *out[1] = {Y};
      run_ok(g, in, out);
      for (int i = 0; i < 84; i++) cr_assert_float_eq(Y[i], R[i], fabsf(R[i]) * 1e-5f + 1e-5f, "scatter_el %s axis %d elem %d", reds[r], axis, i);
      I[7] = 100;
      cr_assert_eq(run_graph(g, in, out), 3);
      free(X), free(U);
      ir_graph_free(g);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Resize: compared with a direct transcription of the ONNX reference algorithm (neighbors by
 * distance in an edge-padded array, one axis at a time)
 * ------------------------------------------------------------------------------------------- */
typedef struct RRef {
  const char *mode, *ctm, *nearest;
  double A, extrap;
  bool exclude, antialias;
  double roi[2 * 4];
} RRef;

static int ref_coeffs(const RRef *p, double ratio, double scale, double *c) {
  if (!strcmp(p->mode, "nearest")) {
    if (ratio == 1) c[0] = 0, c[1] = 1;
    else if (!strcmp(p->nearest, "round_prefer_ceil")) c[0] = ratio < 0.5, c[1] = ratio >= 0.5;
    else if (!strcmp(p->nearest, "floor")) c[0] = 1, c[1] = 0;
    else if (!strcmp(p->nearest, "ceil")) c[0] = 0, c[1] = 1;
    else c[0] = ratio <= 0.5, c[1] = ratio > 0.5;
    return 2;
  }
  if (!strcmp(p->mode, "linear")) {
    if (!p->antialias) {
      c[0] = 1 - ratio, c[1] = ratio;
      return 2;
    }
    double s = scale < 1 ? scale : 1, sum = 0;
    int start = (int)floor(-1 / s) + 1, fp = 2 - 2 * start;
    for (int i = 0; i < fp; i++) {
      double a = fabs((start + i - ratio) * s);
      c[i] = a < 1 ? 1 - a : 0;
      sum += c[i];
    }
    for (int i = 0; i < fp; i++) c[i] /= sum;
    return fp;
  }
  double A = p->A;
  if (!p->antialias) {
    c[0] = ((A * (ratio + 1) - 5 * A) * (ratio + 1) + 8 * A) * (ratio + 1) - 4 * A;
    c[1] = ((A + 2) * ratio - (A + 3)) * ratio * ratio + 1;
    c[2] = ((A + 2) * (1 - ratio) - (A + 3)) * (1 - ratio) * (1 - ratio) + 1;
    c[3] = ((A * ((1 - ratio) + 1) - 5 * A) * ((1 - ratio) + 1) + 8 * A) * ((1 - ratio) + 1) - 4 * A;
    return 4;
  }
  double s = scale < 1 ? scale : 1, sum = 0;
  int is = (int)floor(-2 / s) + 1, ie = 2 - is, k = 0;
  for (int i = is; i < ie; i++, k++) {
    double x = fabs(s * (i - ratio)), x2 = x * x, x3 = x2 * x;
    c[k] = x <= 1 ? (A + 2) * x3 - (A + 3) * x2 + 1 : x < 2 ? A * x3 - 5 * A * x2 + 8 * A * x - 4 * A : 0;
    sum += c[k];
  }
  for (int i = 0; i < k; i++) c[i] /= sum;
  return k;
}

/* 1-D interpolation at output position x of `data` (length n) */
static double ref_interp1(const RRef *p, const double *data, int64_t n, double scale, int64_t out_int, double x,
                          double r0, double r1) {
  double ow = scale * (double)n, xo;
  if (!strcmp(p->ctm, "align_corners")) xo = ow == 1 ? 0 : x * (n - 1) / (ow - 1);
  else if (!strcmp(p->ctm, "asymmetric")) xo = x / scale;
  else if (!strcmp(p->ctm, "tf_half_pixel_for_nn")) xo = (x + 0.5) / scale;
  else if (!strcmp(p->ctm, "tf_crop_and_resize")) {
    xo = ow == 1 ? (r1 - r0) * (n - 1) / 2 : x * (r1 - r0) * (n - 1) / (ow - 1);
    xo += r0 * (n - 1);
    if (xo < 0 || xo > n - 1) return p->extrap;
  } else if (!strcmp(p->ctm, "pytorch_half_pixel")) xo = ow == 1 ? -0.5 : (x + 0.5) / scale - 0.5;
  else if (!strcmp(p->ctm, "half_pixel_symmetric")) {
    double adj = (double)out_int / ow, center = n / 2.0, off = center * (1 - adj);
    xo = off + (x + 0.5) / scale - 0.5;
  } else xo = (x + 0.5) / scale - 0.5;
  double xi = floor(xo), ratio = xo == xi ? 1 : xo - xi, c[64];
  int nc = ref_coeffs(p, ratio, scale, c);
  /* neighbors: the nc nearest indexes to xo in the edge-padded array, smaller first on ties */
  int64_t pad = (nc + 1) / 2, L = n + 2 * pad, idx[64];
  double xp = xo + pad;
  bool used[512];
  cr_assert(L <= 512);
  memset(used, 0, (size_t)L);
  for (int k = 0; k < nc; k++) {
    int64_t best = -1;
    for (int64_t q = 0; q < L; q++) {
      if (used[q]) continue;
      if (best < 0 || fabs(xp - q) < fabs(xp - best)) best = q;
    }
    used[best] = true;
  }
  int k = 0;
  for (int64_t q = 0; q < L; q++)
    if (used[q]) idx[k++] = q - pad;
  double sum = 0, res = 0;
  if (p->exclude) {
    for (int i = 0; i < nc; i++) {
      if (idx[i] < 0 || idx[i] >= n) c[i] = 0;
      sum += c[i];
    }
    for (int i = 0; i < nc; i++) c[i] /= sum;
  }
  for (int i = 0; i < nc; i++) {
    int64_t q = idx[i] < 0 ? 0 : idx[i] >= n ? n - 1 : idx[i];
    res += c[i] * data[q];
  }
  return res;
}

/* N-d: interpolate the last axes first (the reference's recursion), for output coordinate co */
static double ref_interp_nd(const RRef *p, const double *data, int r, const int64_t *dims, const double *scales,
                            const int64_t *odims, const int64_t *co, const double *roi) {
  if (r == 1) return ref_interp1(p, data, dims[0], scales[0], odims[0], (double)co[0], roi[0], roi[1]);
  int64_t inner = numel(r - 1, dims + 1);
  double *tmp = malloc(sizeof(double) * (size_t)dims[0]);
  double sub_roi[2 * 8];
  for (int d = 1; d < r; d++) sub_roi[2 * (d - 1)] = roi[2 * d], sub_roi[2 * (d - 1) + 1] = roi[2 * d + 1];
  for (int64_t i = 0; i < dims[0]; i++)
    tmp[i] = ref_interp_nd(p, data + i * inner, r - 1, dims + 1, scales + 1, odims + 1, co + 1, sub_roi);
  double v = ref_interp1(p, tmp, dims[0], scales[0], odims[0], (double)co[0], roi[0], roi[1]);
  free(tmp);
  return v;
}

/* run Resize(X) with scales (or sizes when sizes != NULL) over all 4 axes and compare */
static void check_resize(const RRef *p, const int64_t *xd, const float *scales, const int64_t *sizes, DType t) {
  Graph *g = newg();
  Value *x = tu_input(g, "x", t, 4, xd);
  Value *roi = NULL, *sc = NULL, *sz = NULL;
  if (!strcmp(p->ctm, "tf_crop_and_resize")) {
    float rv[8];
    for (int i = 0; i < 8; i++) rv[i] = (float)p->roi[i];
    roi = cf32(g, 8, rv);
  }
  if (sizes) sz = ci64(g, 4, sizes);
  else sc = cf32(g, 4, scales);
  Value *ins[4] = {x, roi, sc, sz};
  Node *n = tu_node_n(g, OP_Resize, sizes ? 4 : 3, ins, 1);
  tu_attr_str(g, n, "mode", p->mode);
  tu_attr_str(g, n, "coordinate_transformation_mode", p->ctm);
  if (p->nearest) tu_attr_str(g, n, "nearest_mode", p->nearest);
  tu_attr_float(g, n, "cubic_coeff_a", (float)p->A);
  tu_attr_int(g, n, "exclude_outside", p->exclude);
  tu_attr_int(g, n, "antialias", p->antialias);
  tu_attr_float(g, n, "extrapolation_value", (float)p->extrap);
  finish(g, n);
  Value *y = n->out[0];
  int64_t m = numel(4, xd), mo = ir_value_numel(y), co[4];
  double sc4[4], roi8[8], *XD = malloc(sizeof(double) * (size_t)m);
  for (int d = 0; d < 4; d++) {
    sc4[d] = sizes ? (double)sizes[d] / (double)xd[d] : (double)scales[d];
    roi8[2 * d] = p->roi[d];
    roi8[2 * d + 1] = p->roi[4 + d];
  }
  float *XF = frand(m, 21);
  unsigned char *X = malloc((size_t)m * dtype_size(t)), *Y = calloc((size_t)mo, dtype_size(t));
  for (int64_t i = 0; i < m; i++) {
    if (t == DT_UINT8) XF[i] = (float)((int)(XF[i] + 100) % 256);
    ir_store_f64(t, X, i, XF[i]);
    XD[i] = ir_const_f64(&(Value){.dtype = t, .data = X}, i);
  }
  const void *in[1] = {X};
  void *out[1] = {Y};
  run_ok(g, in, out);
  for (int64_t i = 0; i < mo; i++) {
    unravel(i, 4, y->dims, co);
    double ref = ref_interp_nd(p, XD, 4, xd, sc4, y->dims, co, roi8);
    double got = ir_const_f64(&(Value){.dtype = t, .data = Y}, i);
    if (t == DT_UINT8) {
      ref = nearbyint(ref);
      ref = ref < 0 ? 0 : ref > 255 ? 255 : ref;
      cr_assert(fabs(got - ref) <= 1, "%s/%s elem %lld: %g vs %g", p->mode, p->ctm, (long long)i, got, ref);
    } else
      cr_assert(fabs(got - ref) <= (t == DT_FLOAT16 ? 1e-3 : 1e-4) * (fabs(ref) + 1), "%s/%s/%s ex%d aa%d elem %lld (%lld,%lld,%lld,%lld): %g vs %g", p->mode,
                p->ctm, p->nearest ? p->nearest : "", p->exclude, p->antialias, (long long)i, (long long)co[0], (long long)co[1], (long long)co[2],
                (long long)co[3], got, ref);
  }
  free(X), free(Y), free(XF), free(XD);
  ir_graph_free(g);
}

Test(move, resize_nearest) {
  const char *ctms[6] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn",
                         "half_pixel_symmetric"};
  const char *nms[4] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  int64_t xd[4] = {1, 2, 4, 5};
  float up[4] = {1, 1, 2.0f, 3.0f}, down[4] = {1, 1, 0.5f, 0.6f}, odd[4] = {1, 1, 1.7f, 2.3f};
  for (int c = 0; c < 6; c++)
    for (int k = 0; k < 4; k++) {
      RRef p = {"nearest", ctms[c], nms[k], -0.75, 0, false, false, {0, 0, 0, 0, 1, 1, 1, 1}};
      check_resize(&p, xd, up, NULL, DT_FLOAT);
      check_resize(&p, xd, down, NULL, DT_FLOAT);
      check_resize(&p, xd, odd, NULL, DT_FLOAT);
    }
  RRef p = {"nearest", "half_pixel", "round_prefer_floor", -0.75, 0, false, false, {0, 0, 0, 0, 1, 1, 1, 1}};
  int64_t sz[4] = {1, 2, 7, 13};
  check_resize(&p, xd, NULL, sz, DT_INT8);
  check_resize(&p, xd, NULL, sz, DT_INT64);
  RRef t = {"nearest", "tf_crop_and_resize", "round_prefer_floor", -0.75, 10, false, false, {0, 0, 0.4f, -0.2f, 1, 1, 0.6f, 1.3f}};
  int64_t sz2[4] = {1, 2, 3, 8};
  check_resize(&t, xd, NULL, sz2, DT_FLOAT);
  int64_t big[4] = {1, 4, 24, 40}; /* output above the parallel threshold */
  float two[4] = {1, 1, 2, 2};
  check_resize(&p, big, two, NULL, DT_FLOAT);
}

Test(move, resize_linear_cubic) {
  const char *ctms[5] = {"half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "half_pixel_symmetric"};
  int64_t xd[4] = {1, 2, 4, 5};
  float up[4] = {1, 1, 2.0f, 3.0f}, down[4] = {1, 1, 0.5f, 0.6f}, odd[4] = {1, 1, 1.7f, 0.8f};
  for (int mode = 0; mode < 2; mode++)
    for (int c = 0; c < 5; c++)
      for (int ex = 0; ex < 2; ex++) {
        RRef p = {mode ? "cubic" : "linear", ctms[c], NULL, mode ? -0.5 : -0.75, 0, ex != 0, false, {0, 0, 0, 0, 1, 1, 1, 1}};
        check_resize(&p, xd, up, NULL, DT_FLOAT);
        check_resize(&p, xd, down, NULL, DT_FLOAT);
        check_resize(&p, xd, odd, NULL, DT_FLOAT);
      }
  /* antialias downsampling */
  int64_t xa[4] = {1, 1, 9, 11};
  float d2[4] = {1, 1, 0.6f, 0.3f};
  RRef al = {"linear", "half_pixel", NULL, -0.75, 0, false, true, {0, 0, 0, 0, 1, 1, 1, 1}};
  RRef ac = {"cubic", "half_pixel", NULL, -0.5, 0, false, true, {0, 0, 0, 0, 1, 1, 1, 1}};
  check_resize(&al, xa, d2, NULL, DT_FLOAT);
  check_resize(&ac, xa, d2, NULL, DT_FLOAT);
  /* tf_crop_and_resize with extrapolation */
  RRef t = {"linear", "tf_crop_and_resize", NULL, -0.75, 10, false, false, {0, 0, 0.4f, -0.2f, 1, 1, 0.6f, 1.3f}};
  int64_t sz2[4] = {1, 2, 3, 8};
  check_resize(&t, xd, NULL, sz2, DT_FLOAT);
  /* resizing the channel axis too, other dtypes, a wide inner axis (parallel) */
  RRef p = {"linear", "half_pixel", NULL, -0.75, 0, false, false, {0, 0, 0, 0, 1, 1, 1, 1}};
  float all[4] = {1, 2.0f, 1.5f, 2.0f};
  check_resize(&p, xd, all, NULL, DT_FLOAT);
  check_resize(&p, xd, up, NULL, DT_DOUBLE);
  check_resize(&p, xd, up, NULL, DT_UINT8);
  check_resize(&p, xd, up, NULL, DT_FLOAT16);
  int64_t big[4] = {1, 4, 24, 40}; /* output above the parallel threshold */
  float two[4] = {1, 1, 2, 2};
  check_resize(&p, big, two, NULL, DT_FLOAT);
  float id[4] = {1, 1, 2, 1}; /* inner axis identity: contiguous loads */
  check_resize(&p, big, id, NULL, DT_FLOAT);
}

/* ---------------------------------------------------------------------------------------------
 * generators
 * ------------------------------------------------------------------------------------------- */
Test(gen, range) {
  for (int t = 0; t < 3; t++) {
    Graph *g = newg();
    DType dt = t == 0 ? DT_FLOAT : t == 1 ? DT_INT32 : DT_INT64;
    int64_t one[1] = {1};
    Value *s = tu_input(g, "s", dt, 0, one);
    Value *l = ir_const_new(g, NULL, dt, 0, one);
    Value *d = tu_input(g, "d", dt, 0, one);
    ir_store_f64(dt, l->data, 0, t == 0 ? 10.0 : -1000);
    Value *ins[3] = {s, l, d};
    /* shape inference needs constants: give start/delta as constants for inference, then swap
     * in runtime inputs (the kernel reads them at run time) */
    Value *cs = ir_const_new(g, NULL, dt, 0, one), *cd = ir_const_new(g, NULL, dt, 0, one);
    ir_store_f64(dt, cs->data, 0, t == 0 ? 1.5 : 37);
    ir_store_f64(dt, cd->data, 0, t == 0 ? 0.25 : -3);
    Value *cins[3] = {cs, l, cd};
    Node *n = tu_node_n(g, OP_Range, 3, cins, 1);
    cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
    n->in[0] = ins[0];
    n->in[2] = ins[2];
    tu_output(g, n->out[0]);
    int64_t m = ir_value_numel(n->out[0]);
    cr_assert(m > 10);
    unsigned char S[8], D[8], *Y = calloc((size_t)m, 8);
    ir_store_f64(dt, S, 0, t == 0 ? 1.5 : 37);
    ir_store_f64(dt, D, 0, t == 0 ? 0.25 : -3);
    const void *in[2] = {S, D};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int64_t i = 0; i < m; i++) {
      double ref = t == 0 ? 1.5 + 0.25 * (double)i : 37 - 3 * (double)i;
      double got = ir_const_f64(&(Value){.dtype = dt, .data = Y}, i);
      cr_assert_float_eq(got, ref, 1e-5, "range t%d elem %lld", t, (long long)i);
    }
    free(Y);
    ir_graph_free(g);
  }
}

Test(gen, one_hot) {
  for (int axis = -1; axis <= 1; axis++) {
    Graph *g = newg();
    int64_t id[2] = {3, 17}, one[1] = {1}, two[1] = {2};
    Value *ix = tu_input(g, "i", DT_INT64, 2, id);
    Value *dep = ir_const_new(g, NULL, DT_INT64, 0, one);
    ((int64_t *)dep->data)[0] = 11;
    Value *vals = tu_input(g, "v", DT_FLOAT, 1, two);
    Value *ins[3] = {ix, dep, vals};
    Node *n = tu_node_n(g, OP_OneHot, 3, ins, 1);
    tu_attr_int(g, n, "axis", axis);
    finish(g, n);
    Value *y = n->out[0];
    int64_t m = ir_value_numel(y), co[3];
    int64_t I[51];
    for (int i = 0; i < 51; i++) I[i] = (i * 5) % 25 - 12; /* some outside [-11, 11) */
    float V[2] = {-2.5f, 4.0f}, *Y = calloc((size_t)m, 4);
    const void *in[2] = {I, V};
    void *out[1] = {Y};
    run_ok(g, in, out);
    int a = axis < 0 ? 2 : axis;
    for (int64_t i = 0; i < m; i++) {
      unravel(i, 3, y->dims, co);
      int64_t dpos = co[a], ic[2], k = 0;
      for (int d = 0; d < 3; d++)
        if (d != a) ic[k++] = co[d];
      int64_t v = I[ic[0] * 17 + ic[1]];
      if (v < 0) v += 11;
      cr_assert_eq(Y[i], v == dpos ? 4.0f : -2.5f, "one_hot axis %d elem %lld", axis, (long long)i);
    }
    free(Y);
    ir_graph_free(g);
  }
}

Test(gen, eye_like_constant_of_shape) {
  for (int k = -2; k <= 3; k += 5) {
    Graph *g = newg();
    int64_t d[2] = {5, 9};
    Value *x = tu_input(g, "x", DT_FLOAT, 2, d);
    Node *n = tu_node_n(g, OP_EyeLike, 1, &x, 1);
    tu_attr_int(g, n, "k", k);
    tu_attr_int(g, n, "dtype", DT_INT32);
    finish(g, n);
    float X[45] = {0};
    int32_t Y[45];
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int i = 0; i < 5; i++)
      for (int j = 0; j < 9; j++) cr_assert_eq(Y[i * 9 + j], j - i == k ? 1 : 0);
    ir_graph_free(g);
  }
  /* ConstantOfShape with a value attribute; a shape input that is a graph constant */
  Graph *g = newg();
  int64_t s[3] = {3, 1000, 7};
  Value *sv = ci64(g, 3, s);
  Node *n = tu_node_n(g, OP_ConstantOfShape, 1, &sv, 1);
  Attr *a = tu_attr(g, n, "value", AT_TENSOR);
  int64_t one[1] = {1};
  a->t = ir_const_new(g, NULL, DT_INT16, 1, one);
  ((int16_t *)a->t->data)[0] = -1234;
  cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
  tu_output(g, n->out[0]);
  int16_t *Y = calloc(21000, 2);
  void *out[1] = {Y};
  run_ok(g, NULL, out);
  for (int i = 0; i < 21000; i++) cr_assert_eq(Y[i], -1234);
  free(Y);
  ir_graph_free(g);
}
/* ---------------------------------------------------------------------------------------------
 * more opset-18 forms
 * ------------------------------------------------------------------------------------------- */
Test(move, pad_axes_subset) {
  Graph *g = newg();
  int64_t xd[3] = {3, 4, 9}, pads[4] = {2, -1, 1, 3}, axes[2] = {-1, 0};
  Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
  Value *ins[4] = {x, ci64(g, 4, pads), NULL, ci64(g, 2, axes)};
  Node *n = tu_node_n(g, OP_Pad, 4, ins, 1);
  tu_attr_str(g, n, "mode", "edge");
  finish(g, n);
  Value *y = n->out[0];
  cr_assert(y->dims[0] == 5 && y->dims[1] == 4 && y->dims[2] == 12);
  int64_t mo = ir_value_numel(y), co[3];
  float *X = frand(108, 4), *Y = calloc((size_t)mo, 4);
  const void *in[1] = {X};
  void *out[1] = {Y};
  run_ok(g, in, out);
  for (int64_t i = 0; i < mo; i++) {
    unravel(i, 3, y->dims, co);
    int64_t a = ref_pad_src("edge", co[0], 3, -1, 3), c = ref_pad_src("edge", co[2], 9, 2, 1);
    cr_assert_eq(Y[i], X[(a * 4 + co[1]) * 9 + c], "pad axes elem %lld", (long long)i);
  }
  free(X), free(Y);
  ir_graph_free(g);
}

Test(move, split_num_outputs_uneven) {
  Graph *g = newg();
  int64_t d[2] = {3, 11};
  Value *x = tu_input(g, "x", DT_INT8, 2, d);
  Node *n = tu_node_n(g, OP_Split, 1, &x, 3);
  tu_attr_int(g, n, "axis", -1);
  tu_attr_int(g, n, "num_outputs", 3);
  finish(g, n);
  cr_assert(n->out[0]->dims[1] == 4 && n->out[2]->dims[1] == 3);
  int8_t *X = brand(33, 5), Y0[12], Y1[12], Y2[9];
  const void *in[1] = {X};
  void *out[3] = {Y0, Y1, Y2};
  run_ok(g, in, out);
  for (int r = 0; r < 3; r++)
    for (int c = 0; c < 11; c++) {
      int8_t got = c < 4 ? Y0[r * 4 + c] : c < 8 ? Y1[r * 4 + c - 4] : Y2[r * 3 + c - 8];
      cr_assert_eq(got, X[r * 11 + c]);
    }
  free(X);
  ir_graph_free(g);
}

Test(move, gather_small_types) {
  DType ts[3] = {DT_BOOL, DT_INT8, DT_UINT16};
  for (int k = 0; k < 3; k++)
    for (int axis = 0; axis < 2; axis++) {
      Graph *g = newg();
      int64_t d[2] = {7, 45}, id[1] = {33};
      Value *ins[2] = {tu_input(g, "x", ts[k], 2, d), tu_input(g, "i", DT_INT32, 1, id)};
      Node *n = tu_node_n(g, OP_Gather, 2, ins, 1);
      tu_attr_int(g, n, "axis", axis);
      finish(g, n);
      size_t es = dtype_size(ts[k]);
      unsigned char *X = brand(315 * (int64_t)es, 6), *Y = calloc(45 * 33, es);
      if (ts[k] == DT_BOOL)
        for (int i = 0; i < 315; i++) X[i] &= 1;
      int32_t I[33];
      for (int i = 0; i < 33; i++) I[i] = (int32_t)((i * 11) % d[axis]) - (i % 2 ? (int32_t)d[axis] : 0);
      const void *in[2] = {X, I};
      void *out[1] = {Y};
      run_ok(g, in, out);
      for (int i = 0; i < (axis ? 7 : 33); i++)
        for (int j = 0; j < (axis ? 33 : 45); j++) {
          int64_t src;
          if (axis == 0) src = (I[i] < 0 ? I[i] + 7 : I[i]) * 45 + j;
          else src = i * 45 + (I[j] < 0 ? I[j] + 45 : I[j]);
          int64_t dst = axis == 0 ? i * 45 + j : i * 33 + j;
          cr_assert(!memcmp(Y + dst * (int64_t)es, X + src * (int64_t)es, es), "type %d axis %d (%d,%d)", k, axis, i, j);
        }
      free(X), free(Y);
      ir_graph_free(g);
    }
}

Test(move, resize_axes_keep_aspect) {
  for (int mode = 0; mode < 2; mode++) {
    Graph *g = newg();
    int64_t xd[4] = {1, 2, 4, 5}, sz[2] = {7, 6}, axes[2] = {3, 2};
    Value *ins[4] = {tu_input(g, "x", DT_FLOAT, 4, xd), NULL, NULL, ci64(g, 2, sz)};
    Node *n = tu_node_n(g, OP_Resize, 4, ins, 1);
    tu_attr_str(g, n, "mode", mode ? "linear" : "nearest");
    tu_attr_ints(g, n, "axes", 2, axes);
    tu_attr_str(g, n, "keep_aspect_ratio_policy", "not_larger");
    finish(g, n);
    Value *y = n->out[0];
    cr_assert(y->dims[2] == 6 && y->dims[3] == 7, "shape %lldx%lld", (long long)y->dims[2], (long long)y->dims[3]);
    RRef p = {mode ? "linear" : "nearest", "half_pixel", "round_prefer_floor", -0.75, 0, false, false,
              {0, 0, 0, 0, 1, 1, 1, 1}};
    double scale = fmin(7.0 / 5, 6.0 / 4), sc4[4] = {1, 1, scale, scale}, roi8[8] = {0, 1, 0, 1, 0, 1, 0, 1};
    int64_t mo = ir_value_numel(y), co[4];
    float *X = frand(40, 7), *Y = calloc((size_t)mo, 4);
    double XD[40];
    for (int i = 0; i < 40; i++) XD[i] = X[i];
    const void *in[1] = {X};
    void *out[1] = {Y};
    run_ok(g, in, out);
    for (int64_t i = 0; i < mo; i++) {
      unravel(i, 4, y->dims, co);
      double ref = ref_interp_nd(&p, XD, 4, xd, sc4, y->dims, co, roi8);
      cr_assert(fabs(Y[i] - ref) <= 1e-4 * (fabs(ref) + 1), "mode %d elem %lld: %g vs %g", mode, (long long)i, Y[i], ref);
    }
    free(X), free(Y);
    ir_graph_free(g);
  }
}
