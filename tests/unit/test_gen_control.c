/* test_gen_control.c — If, Loop and Scan (backend/gen_control.c, shape_control.c, passes/inline.c):
 * hand-built graphs with subgraphs that capture outer values, run through the pass pipeline and the
 * JIT, checked against references computed by hand in C. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "passes.h"
#include "testutil.h"

static const int64_t D4[1] = {4};

static Graph *newg(int64_t opset) {
  Graph *g = ir_graph_new();
  g->opset = opset;
  return g;
}

static Value *cap(Graph *sub, Value *outer) {
  Value *v = ir_value_new(sub, outer->name);
  v->kind = VK_OUTER;
  v->outer = outer;
  return v;
}

static Value *node2(Graph *g, Op op, Value *a, Value *b) {
  Value *in[2] = {a, b};
  return tu_node(g, op, 2, in);
}

static void set_graph(Graph *g, Node *n, const char *name, Graph *sub) { tu_attr(g, n, name, AT_GRAPH)->g = sub; }

static Value *scalar_i64(Graph *g, int64_t x) { return tu_const_i64(g, 0, NULL, &x); }

/* passes + JIT + run; returns the status, error text in err */
static int compile_run(Graph *g, const void *const *in, void *const *out, char *err, size_t len) {
  PassOptions po = {0};
  if (pass_run_all(g, &po)) {
    snprintf(err, len, "%s", ir_last_error(g));
    return -1;
  }
  BeModel *m = be_jit(g, NULL, err, len);
  if (!m) return -1;
  be_set_threads(m, 2);
  int st = be_run(m, in, out, err, len);
  be_free(m);
  return st;
}

static void run_ok(Graph *g, const void *const *in, void *const *out) {
  char err[512] = "";
  int st = compile_run(g, in, out, err, sizeof err);
  cr_assert_eq(st, 0, "failed (%d): %s", st, err);
}

static void expect_error(Graph *g, const char *needle) {
  char err[512] = "";
  float dummy[64];
  const void *in[8] = {dummy, dummy, dummy, dummy, dummy, dummy, dummy, dummy};
  void *out[8] = {dummy, dummy, dummy, dummy, dummy, dummy, dummy, dummy};
  cr_assert_neq(compile_run(g, in, out, err, sizeof err), 0, "expected an error containing '%s'", needle);
  cr_assert(strstr(err, needle), "error '%s' lacks '%s'", err, needle);
}

static void near(const float *got, const float *want, int n) {
  for (int i = 0; i < n; i++) cr_assert_float_eq(got[i], want[i], 1e-4f, "element %d: %g vs %g", i, got[i], want[i]);
}

/* ---- If ---------------------------------------------------------------------------------- */

/* y = If(c) then: Relu(x) * w (w a captured constant, Relu(x) computed outside)
 *           else: x + 1,  second output Neg(x) in both with a different sign */
static Graph *if_graph(void) {
  Graph *g = newg(17);
  Value *c = tu_input(g, "c", DT_BOOL, 0, NULL), *x = tu_input(g, "x", DT_FLOAT, 1, D4);
  float wv[4] = {1, 2, 3, 4}, one = 1;
  Value *w = tu_const_f32(g, "w", 1, D4, wv);
  Value *r = tu_node(g, OP_Relu, 1, &x);
  Graph *t = ir_graph_new_sub(g), *e = ir_graph_new_sub(g);
  Value *tr = cap(t, r), *tw = cap(t, w), *tx = cap(t, x);
  tu_output(t, node2(t, OP_Mul, tr, tw));
  tu_output(t, tu_node(t, OP_Neg, 1, &tx));
  Value *ex = cap(e, x);
  tu_output(e, node2(e, OP_Add, ex, tu_const_f32(e, NULL, 0, NULL, &one)));
  tu_output(e, ex); /* a captured value as a branch output */
  Node *n = tu_node_n(g, OP_If, 1, &c, 2);
  set_graph(g, n, "then_branch", t);
  set_graph(g, n, "else_branch", e);
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  return g;
}

Test(control, if_runtime_condition_with_captures) {
  for (int cv = 0; cv < 2; cv++) {
    Graph *g = if_graph();
    uint8_t c = (uint8_t)cv;
    float x[4] = {-1, 2, -3, 4}, y[4], z[4], wy[4], wz[4];
    const void *in[2] = {&c, x};
    void *out[2] = {y, z};
    run_ok(g, in, out);
    for (int i = 0; i < 4; i++) {
      wy[i] = cv ? (x[i] > 0 ? x[i] : 0) * (float)(i + 1) : x[i] + 1;
      wz[i] = cv ? -x[i] : x[i];
    }
    near(y, wy, 4);
    near(z, wz, 4);
    ir_graph_free(g);
  }
}

/* a constant condition is inlined: no If is left, and the result is the taken branch's */
Test(control, if_constant_condition_is_inlined) {
  Graph *g = if_graph();
  Value *c = g->inputs[0];
  c->kind = VK_CONST;
  c->data = arena_alloc(g->arena, 1);
  *(uint8_t *)c->data = 1;
  g->inputs[0] = g->inputs[1];
  g->ninputs = 1;
  PassOptions po = {0};
  cr_assert_eq(pass_run_all(g, &po), 0, "%s", ir_last_error(g));
  for (int k = 0; k < g->nnodes; k++) cr_assert_neq(g->nodes[k]->op, OP_If);
  float x[4] = {-1, 2, -3, 4}, y[4], z[4], wy[4] = {0, 4, 0, 16}, wz[4] = {1, -2, 3, -4};
  const void *in[1] = {x};
  void *out[2] = {y, z};
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  cr_assert_eq(be_run(m, in, out, err, sizeof err), 0, "%s", err);
  be_free(m);
  near(y, wy, 4);
  near(z, wz, 4);
  ir_graph_free(g);
}

/* If(a) then If(b) then x*2 else x*3 (x captured through two levels), else x - 5 */
Test(control, nested_if) {
  for (int k = 0; k < 4; k++) {
    Graph *g = newg(17);
    Value *a = tu_input(g, "a", DT_BOOL, 0, NULL), *b = tu_input(g, "b", DT_BOOL, 0, NULL);
    Value *x = tu_input(g, "x", DT_FLOAT, 1, D4);
    float two = 2, three = 3, five = 5;
    Graph *t = ir_graph_new_sub(g), *e = ir_graph_new_sub(g);
    Graph *tt = ir_graph_new_sub(t), *te = ir_graph_new_sub(t);
    Value *tx = cap(t, x), *tb = cap(t, b);
    tu_output(tt, node2(tt, OP_Mul, cap(tt, tx), tu_const_f32(tt, NULL, 0, NULL, &two)));
    tu_output(te, node2(te, OP_Mul, cap(te, tx), tu_const_f32(te, NULL, 0, NULL, &three)));
    Node *inner = tu_node_n(t, OP_If, 1, &tb, 1);
    set_graph(t, inner, "then_branch", tt);
    set_graph(t, inner, "else_branch", te);
    tu_output(t, inner->out[0]);
    tu_output(e, node2(e, OP_Sub, cap(e, x), tu_const_f32(e, NULL, 0, NULL, &five)));
    Node *n = tu_node_n(g, OP_If, 1, &a, 1);
    set_graph(g, n, "then_branch", t);
    set_graph(g, n, "else_branch", e);
    tu_output(g, n->out[0]);
    uint8_t av = k & 1, bv = (k >> 1) & 1;
    float xv[4] = {1, -2, 3.5f, 10}, y[4], want[4];
    const void *in[3] = {&av, &bv, xv};
    void *out[1] = {y};
    run_ok(g, in, out);
    for (int i = 0; i < 4; i++) want[i] = av ? (bv ? xv[i] * 2 : xv[i] * 3) : xv[i] - 5;
    near(y, want, 4);
    ir_graph_free(g);
  }
}

Test(control, if_branches_must_agree_on_shapes) {
  Graph *g = newg(17);
  Value *c = tu_input(g, "c", DT_BOOL, 0, NULL), *x = tu_input(g, "x", DT_FLOAT, 1, D4);
  Graph *t = ir_graph_new_sub(g), *e = ir_graph_new_sub(g);
  Value *tx = cap(t, x);
  tu_output(t, tu_node(t, OP_Neg, 1, &tx));
  int64_t two = 2;
  Value *ein[2] = {cap(e, x), tu_const_i64(e, 1, (int64_t[]){1}, &two)};
  tu_output(e, tu_node(e, OP_Tile, 2, ein));
  Node *n = tu_node_n(g, OP_If, 1, &c, 1);
  set_graph(g, n, "then_branch", t);
  set_graph(g, n, "else_branch", e);
  tu_output(g, n->out[0]);
  expect_error(g, "If branches produce different shapes");
  ir_graph_free(g);
}

/* ---- Loop -------------------------------------------------------------------------------- */

/* Loop(M, cond, s, k): body s += x (x captured), k += 1, cond_out = iter < stop.
 * Runs min(M, stop + 1) iterations when the initial cond is true. */
static Graph *loop_graph(bool const_m, int64_t m, int64_t stop) {
  Graph *g = newg(17);
  Value *mv = const_m ? scalar_i64(g, m) : tu_input(g, "M", DT_INT64, 0, NULL);
  Value *c = tu_input(g, "cond", DT_BOOL, 0, NULL), *s0 = tu_input(g, "s", DT_FLOAT, 1, D4);
  Value *x = tu_input(g, "x", DT_FLOAT, 1, D4);
  Value *k0 = scalar_i64(g, 100);
  Graph *b = ir_graph_new_sub(g);
  Value *it = tu_input(b, "iter", DT_INT64, 0, NULL);
  tu_input(b, "cond_in", DT_BOOL, 0, NULL);
  Value *s = tu_input(b, "s_in", DT_FLOAT, 1, D4), *k = tu_input(b, "k_in", DT_INT64, 0, NULL);
  tu_output(b, node2(b, OP_Less, it, scalar_i64(b, stop)));
  tu_output(b, node2(b, OP_Add, s, cap(b, x)));
  tu_output(b, node2(b, OP_Add, k, scalar_i64(b, 1)));
  Value *ins[4] = {mv, c, s0, k0};
  Node *n = tu_node_n(g, OP_Loop, 4, ins, 2);
  set_graph(g, n, "body", b);
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  return g;
}

static void check_loop(Graph *g, bool const_m, int64_t m, uint8_t c, int64_t iters) {
  float s[4] = {1, 2, 3, 4}, x[4] = {0.5f, -1, 2, 0.25f}, y[4], want[4];
  int64_t k = -1;
  const void *in_rt[4] = {&m, &c, s, x}, *in_c[3] = {&c, s, x};
  void *out[2] = {y, &k};
  run_ok(g, const_m ? in_c : in_rt, out);
  for (int i = 0; i < 4; i++) want[i] = s[i] + (float)iters * x[i];
  near(y, want, 4);
  cr_assert_eq(k, 100 + iters, "k = %lld, want %lld", (long long)k, (long long)(100 + iters));
}

Test(control, loop_runtime_trip_count_and_early_exit) {
  int64_t ms[4] = {0, 2, 10, 40};
  for (int i = 0; i < 4; i++) {
    Graph *g = loop_graph(false, 0, 2);
    int64_t want = ms[i] < 3 ? ms[i] : 3; /* cond_out = iter < 2: iterations 0, 1, 2 */
    check_loop(g, false, ms[i], 1, want);
    ir_graph_free(g);
  }
  Graph *g = loop_graph(false, 0, 2); /* a false initial condition runs nothing */
  check_loop(g, false, 5, 0, 0);
  ir_graph_free(g);
}

Test(control, loop_constant_trip_count) {
  int64_t ms[3] = {3, 16, 25}; /* unrolled, unrolled at the limit, run as a loop */
  for (int i = 0; i < 3; i++) {
    Graph *g = loop_graph(true, ms[i], 1000);
    check_loop(g, true, ms[i], 1, ms[i]);
    ir_graph_free(g);
  }
}

/* Loop(M const) with a scan output: body s_out = s_in * 0.5 + x[iter] (x captured), scan = s_out + iter */
static void loop_scan(int64_t m) {
  Graph *g = newg(17);
  int64_t dx[2] = {m, 4};
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, D4), *x = tu_input(g, "x", DT_FLOAT, 2, dx);
  Value *mv = scalar_i64(g, m), *c = ir_const_new(g, NULL, DT_BOOL, 0, NULL);
  *(uint8_t *)c->data = 1;
  Graph *b = ir_graph_new_sub(g);
  Value *it = tu_input(b, "iter", DT_INT64, 0, NULL), *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL);
  Value *s = tu_input(b, "s_in", DT_FLOAT, 1, D4);
  float half = 0.5f;
  Value *gin[2] = {cap(b, x), it};
  Value *row = tu_node(b, OP_Gather, 2, gin);
  Value *so = node2(b, OP_Add, node2(b, OP_Mul, s, tu_const_f32(b, NULL, 0, NULL, &half)), row);
  Value *itf = tu_node(b, OP_Cast, 1, &it);
  tu_attr_int(b, itf->producer, "to", DT_FLOAT);
  tu_output(b, tu_node(b, OP_Identity, 1, &ci));
  tu_output(b, so);
  tu_output(b, node2(b, OP_Add, so, itf));
  Value *ins[3] = {mv, c, s0};
  Node *n = tu_node_n(g, OP_Loop, 3, ins, 2);
  set_graph(g, n, "body", b);
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  float sv[4] = {1, -2, 3, 8}, *xv = malloc(sizeof(float) * (size_t)(m * 4)), y[4];
  float *sc = malloc(sizeof(float) * (size_t)(m * 4)), *want = malloc(sizeof(float) * (size_t)(m * 4));
  for (int i = 0; i < m * 4; i++) xv[i] = (float)((i * 7) % 11) - 5;
  const void *in[2] = {sv, xv};
  void *out[2] = {y, sc};
  run_ok(g, in, out);
  float ref[4];
  memcpy(ref, sv, sizeof ref);
  for (int t = 0; t < m; t++)
    for (int j = 0; j < 4; j++) {
      ref[j] = ref[j] * 0.5f + xv[t * 4 + j];
      want[t * 4 + j] = ref[j] + (float)t;
    }
  near(y, ref, 4);
  near(sc, want, (int)m * 4);
  free(xv);
  free(sc);
  free(want);
  ir_graph_free(g);
}

Test(control, loop_scan_outputs) {
  loop_scan(5);  /* unrolled: Gather with a constant index folds */
  loop_scan(37); /* a real loop */
}

Test(control, loop_scan_output_needs_constant_trip_count) {
  Graph *g = newg(17);
  Value *mv = tu_input(g, "M", DT_INT64, 0, NULL), *s0 = tu_input(g, "s", DT_FLOAT, 1, D4);
  Graph *b = ir_graph_new_sub(g);
  tu_input(b, "iter", DT_INT64, 0, NULL);
  Value *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL), *s = tu_input(b, "s_in", DT_FLOAT, 1, D4);
  tu_output(b, ci);
  tu_output(b, s);
  tu_output(b, tu_node(b, OP_Neg, 1, &s));
  Value *ins[3] = {mv, NULL, s0};
  Node *n = tu_node_n(g, OP_Loop, 3, ins, 2);
  n->name = "the_loop";
  set_graph(g, n, "body", b);
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  expect_error(g, "node 'the_loop' (Loop): data-dependent shape: the trip count M must be a constant");
  ir_graph_free(g);
}

/* ---- Scan -------------------------------------------------------------------------------- */

/* Scan-9+: state s [2]; scan input x [2, L] on axis 1, reversed; outputs: o1 = s after each step on
 * axis 1 (forward), o2 = s * w (w captured) on axis 0, reversed. */
Test(control, scan_axes_and_directions) {
  enum { L = 5 };
  Graph *g = newg(17);
  int64_t d2[1] = {2}, dx[2] = {2, L};
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, d2), *x = tu_input(g, "x", DT_FLOAT, 2, dx);
  float wv[2] = {3, -1};
  Value *w = tu_const_f32(g, "w", 1, d2, wv);
  Graph *b = ir_graph_new_sub(g);
  Value *s = tu_input(b, "s_in", DT_FLOAT, 1, d2), *xs = tu_input(b, "x_t", DT_FLOAT, 1, d2);
  Value *so = node2(b, OP_Add, s, xs);
  tu_output(b, so);
  tu_output(b, tu_node(b, OP_Identity, 1, &so));
  tu_output(b, node2(b, OP_Mul, so, cap(b, w)));
  Value *ins[2] = {s0, x};
  Node *n = tu_node_n(g, OP_Scan, 2, ins, 3);
  set_graph(g, n, "body", b);
  tu_attr_int(g, n, "num_scan_inputs", 1);
  tu_attr_ints(g, n, "scan_input_axes", 1, (int64_t[]){1});
  tu_attr_ints(g, n, "scan_input_directions", 1, (int64_t[]){1});
  tu_attr_ints(g, n, "scan_output_axes", 2, (int64_t[]){-1, 0});
  tu_attr_ints(g, n, "scan_output_directions", 2, (int64_t[]){0, 1});
  for (int i = 0; i < 3; i++) tu_output(g, n->out[i]);
  float sv[2] = {1, 10}, xv[2 * L], y[2], o1[2 * L], o2[L * 2], w1[2 * L], w2[L * 2];
  for (int i = 0; i < 2 * L; i++) xv[i] = (float)(i * i % 7) - 2;
  const void *in[2] = {sv, xv};
  void *out[3] = {y, o1, o2};
  run_ok(g, in, out);
  float ref[2] = {sv[0], sv[1]};
  for (int t = 0; t < L; t++) {
    int idx = L - 1 - t;
    for (int j = 0; j < 2; j++) {
      ref[j] += xv[j * L + idx];
      w1[j * L + t] = ref[j];
      w2[(L - 1 - t) * 2 + j] = ref[j] * wv[j];
    }
  }
  near(y, ref, 2);
  near(o1, w1, 2 * L);
  near(o2, w2, 2 * L);
  ir_graph_free(g);
}

/* Scan-8: a leading batch dim on every tensor, optional sequence_lens absent */
Test(control, scan8_batched) {
  enum { B = 2, L = 3, W = 4 };
  Graph *g = newg(8);
  int64_t ds[2] = {B, W}, dx[3] = {B, L, W}, dw[1] = {W};
  Value *s0 = tu_input(g, "s", DT_FLOAT, 2, ds), *x = tu_input(g, "x", DT_FLOAT, 3, dx);
  Graph *b = ir_graph_new_sub(g);
  Value *s = tu_input(b, "s_in", DT_FLOAT, 1, dw), *xs = tu_input(b, "x_t", DT_FLOAT, 1, dw);
  Value *so = node2(b, OP_Add, s, xs);
  tu_output(b, so);
  tu_output(b, node2(b, OP_Mul, so, so));
  Value *ins[3] = {NULL, s0, x};
  Node *n = tu_node_n(g, OP_Scan, 3, ins, 2);
  set_graph(g, n, "body", b);
  tu_attr_int(g, n, "num_scan_inputs", 1);
  tu_attr_ints(g, n, "directions", 1, (int64_t[]){1});
  tu_output(g, n->out[0]);
  tu_output(g, n->out[1]);
  float sv[B * W], xv[B * L * W], y[B * W], z[B * L * W], wy[B * W], wz[B * L * W];
  for (int i = 0; i < B * W; i++) sv[i] = (float)i - 3;
  for (int i = 0; i < B * L * W; i++) xv[i] = (float)(i % 5) * 0.5f;
  const void *in[2] = {sv, xv};
  void *out[2] = {y, z};
  run_ok(g, in, out);
  for (int bb = 0; bb < B; bb++) {
    float r[W];
    memcpy(r, sv + bb * W, sizeof r);
    for (int t = 0; t < L; t++)
      for (int j = 0; j < W; j++) {
        r[j] += xv[(bb * L + (L - 1 - t)) * W + j];
        wz[(bb * L + t) * W + j] = r[j] * r[j];
      }
    memcpy(wy + bb * W, r, sizeof r);
  }
  near(y, wy, B * W);
  near(z, wz, B * L * W);
  ir_graph_free(g);
}

/* a Loop inside an If branch, the body capturing a value of the main graph through two levels */
Test(control, loop_inside_if) {
  for (int cv = 0; cv < 2; cv++) {
    Graph *g = newg(17);
    Value *c = tu_input(g, "c", DT_BOOL, 0, NULL), *x = tu_input(g, "x", DT_FLOAT, 1, D4);
    Value *m = tu_input(g, "M", DT_INT64, 0, NULL);
    Graph *t = ir_graph_new_sub(g), *e = ir_graph_new_sub(g);
    Value *tx = cap(t, x);
    Graph *b = ir_graph_new_sub(t);
    tu_input(b, "iter", DT_INT64, 0, NULL);
    Value *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL), *s = tu_input(b, "s_in", DT_FLOAT, 1, D4);
    tu_output(b, ci);
    tu_output(b, node2(b, OP_Add, node2(b, OP_Mul, s, s), cap(b, tx)));
    Value *ins[3] = {cap(t, m), NULL, tx};
    Node *loop = tu_node_n(t, OP_Loop, 3, ins, 1);
    set_graph(t, loop, "body", b);
    tu_output(t, loop->out[0]);
    Value *ex = cap(e, x);
    tu_output(e, tu_node(e, OP_Neg, 1, &ex));
    Node *n = tu_node_n(g, OP_If, 1, &c, 1);
    set_graph(g, n, "then_branch", t);
    set_graph(g, n, "else_branch", e);
    tu_output(g, n->out[0]);
    uint8_t cb = (uint8_t)cv;
    int64_t mv = 3;
    float xv[4] = {0.5f, -0.25f, 0.1f, 0}, y[4], want[4];
    const void *in[3] = {&cb, xv, &mv};
    void *out[1] = {y};
    run_ok(g, in, out);
    for (int j = 0; j < 4; j++) {
      float r = xv[j];
      for (int it = 0; it < mv; it++) r = r * r + xv[j];
      want[j] = cv ? r : -xv[j];
    }
    near(y, want, 4);
    ir_graph_free(g);
  }
}

/* an If inside a Loop body, deciding on the iteration number and capturing the carried value
 * (a body with a subgraph is never unrolled, so this is a real loop even for 4 trips) */
Test(control, if_inside_loop) {
  Graph *g = newg(17);
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, D4);
  Graph *b = ir_graph_new_sub(g);
  Value *it = tu_input(b, "iter", DT_INT64, 0, NULL), *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL);
  Value *s = tu_input(b, "s_in", DT_FLOAT, 1, D4);
  Value *lt = node2(b, OP_Less, it, scalar_i64(b, 2));
  Graph *t = ir_graph_new_sub(b), *e = ir_graph_new_sub(b);
  float two = 2, one = 1;
  tu_output(t, node2(t, OP_Mul, cap(t, s), tu_const_f32(t, NULL, 0, NULL, &two)));
  tu_output(e, node2(e, OP_Add, cap(e, s), tu_const_f32(e, NULL, 0, NULL, &one)));
  Node *f = tu_node_n(b, OP_If, 1, &lt, 1);
  set_graph(b, f, "then_branch", t);
  set_graph(b, f, "else_branch", e);
  tu_output(b, ci);
  tu_output(b, f->out[0]);
  Value *ins[3] = {scalar_i64(g, 4), NULL, s0};
  Node *n = tu_node_n(g, OP_Loop, 3, ins, 1);
  set_graph(g, n, "body", b);
  tu_output(g, n->out[0]);
  float sv[4] = {1, -2, 0.5f, 3}, y[4], want[4];
  const void *in[1] = {sv};
  void *out[1] = {y};
  run_ok(g, in, out);
  for (int j = 0; j < 4; j++) {
    want[j] = sv[j];
    for (int k = 0; k < 4; k++) want[j] = k < 2 ? want[j] * 2 : want[j] + 1;
  }
  near(y, want, 4);
  ir_graph_free(g);
}

/* runtime If whose branches return constants (as ONNX's test_if does), one of them folded */
Test(control, if_constant_branch_outputs) {
  for (int cv = 0; cv < 2; cv++) {
    Graph *g = newg(17);
    Value *c = tu_input(g, "c", DT_BOOL, 0, NULL);
    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, y[4], want[4];
    Graph *t = ir_graph_new_sub(g), *e = ir_graph_new_sub(g);
    tu_output(t, tu_const_f32(t, NULL, 1, D4, a));
    Value *eb = tu_const_f32(e, NULL, 1, D4, b);
    tu_output(e, node2(e, OP_Add, eb, eb)); /* folds to a constant inside the branch */
    Node *n = tu_node_n(g, OP_If, 1, &c, 1);
    set_graph(g, n, "then_branch", t);
    set_graph(g, n, "else_branch", e);
    tu_output(g, n->out[0]);
    uint8_t cb = (uint8_t)cv;
    const void *in[1] = {&cb};
    void *out[1] = {y};
    run_ok(g, in, out);
    for (int j = 0; j < 4; j++) want[j] = cv ? a[j] : 2 * b[j];
    near(y, want, 4);
    ir_graph_free(g);
  }
}

/* Loop whose final state is unused (only the scan output is a graph output), 30 trips */
Test(control, loop_unused_state_output) {
  Graph *g = newg(17);
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, D4);
  Graph *b = ir_graph_new_sub(g);
  tu_input(b, "iter", DT_INT64, 0, NULL);
  Value *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL), *s = tu_input(b, "s_in", DT_FLOAT, 1, D4);
  float k = 1.5f;
  Value *so = node2(b, OP_Sub, s, tu_const_f32(b, NULL, 0, NULL, &k));
  tu_output(b, ci);
  tu_output(b, so);
  tu_output(b, tu_node(b, OP_Abs, 1, &so));
  Value *ins[3] = {scalar_i64(g, 30), NULL, s0};
  Node *n = tu_node_n(g, OP_Loop, 3, ins, 2);
  set_graph(g, n, "body", b);
  tu_output(g, n->out[1]);
  float sv[4] = {10, 0, -3, 22.25f}, z[30 * 4], want[30 * 4];
  const void *in[1] = {sv};
  void *out[1] = {z};
  run_ok(g, in, out);
  for (int j = 0; j < 4; j++) {
    float r = sv[j];
    for (int t = 0; t < 30; t++) {
      r -= 1.5f;
      want[t * 4 + j] = r < 0 ? -r : r;
    }
  }
  near(z, want, 30 * 4);
  ir_graph_free(g);
}

Test(control, malformed_bodies_are_reported) {
  Graph *g = newg(17);
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, D4);
  Graph *b = ir_graph_new_sub(g);
  tu_input(b, "iter", DT_INT64, 0, NULL);
  Value *ci = tu_input(b, "cond_in", DT_BOOL, 0, NULL);
  tu_output(b, ci);
  Value *ins[3] = {scalar_i64(g, 30), NULL, s0};
  Node *n = tu_node_n(g, OP_Loop, 3, ins, 1);
  set_graph(g, n, "body", b);
  tu_output(g, n->out[0]);
  expect_error(g, "body has 2 inputs / 1 outputs for 1 loop-carried values");
  ir_graph_free(g);

  g = newg(17);
  Value *c = tu_input(g, "c", DT_BOOL, 0, NULL);
  n = tu_node_n(g, OP_If, 1, &c, 1);
  tu_output(g, n->out[0]);
  expect_error(g, "attribute 'then_branch' is missing");
  ir_graph_free(g);

  g = newg(17);
  int64_t d23[2] = {2, 3}, d24[2] = {2, 4};
  Value *x1 = tu_input(g, "x1", DT_FLOAT, 2, d23), *x2 = tu_input(g, "x2", DT_FLOAT, 2, d24);
  b = ir_graph_new_sub(g);
  int64_t d2[1] = {2};
  Value *a1 = tu_input(b, "a", DT_FLOAT, 1, d2), *a2 = tu_input(b, "b", DT_FLOAT, 1, d2);
  tu_output(b, node2(b, OP_Add, a1, a2));
  Value *sins[2] = {x1, x2};
  n = tu_node_n(g, OP_Scan, 2, sins, 1);
  set_graph(g, n, "body", b);
  tu_attr_int(g, n, "num_scan_inputs", 2);
  tu_attr_ints(g, n, "scan_input_axes", 2, (int64_t[]){1, 1});
  tu_output(g, n->out[0]);
  expect_error(g, "scan inputs have different lengths 3 and 4");
  ir_graph_free(g);
}

/* without the pass pipeline (no inlining), an If on a constant calls the taken branch only */
Test(control, if_constant_condition_without_inlining) {
  for (int cv = 0; cv < 2; cv++) {
    Graph *g = if_graph();
    Value *c = g->inputs[0];
    c->kind = VK_CONST;
    c->data = arena_alloc(g->arena, 1);
    *(uint8_t *)c->data = (uint8_t)cv;
    g->inputs[0] = g->inputs[1];
    g->ninputs = 1;
    cr_assert_eq(ir_infer_shapes(g), 0, "%s", ir_last_error(g));
    float x[4] = {-1, 2, -3, 4}, y[4], z[4], wy[4], wz[4];
    for (int i = 0; i < 4; i++) {
      wy[i] = cv ? (x[i] > 0 ? x[i] : 0) * (float)(i + 1) : x[i] + 1;
      wz[i] = cv ? -x[i] : x[i];
    }
    const void *in[1] = {x};
    void *out[2] = {y, z};
    char err[512];
    BeModel *m = be_jit(g, NULL, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    cr_assert_eq(be_run(m, in, out, err, sizeof err), 0, "%s", err);
    be_free(m);
    near(y, wy, 4);
    near(z, wz, 4);
    ir_graph_free(g);
  }
}

/* Loop in a Loop: the inner one unrolled and inlined into the outer body (5 trips) or a real
 * loop inside a real loop (20 trips); the inner body captures x through two levels */
static void nested_loops(int64_t inner_trips) {
  Graph *g = newg(17);
  Value *s0 = tu_input(g, "s", DT_FLOAT, 1, D4), *x = tu_input(g, "x", DT_FLOAT, 1, D4);
  Graph *ob = ir_graph_new_sub(g);
  tu_input(ob, "i", DT_INT64, 0, NULL);
  Value *oc = tu_input(ob, "c", DT_BOOL, 0, NULL), *os = tu_input(ob, "s_in", DT_FLOAT, 1, D4);
  Value *ox = cap(ob, x);
  Graph *ib = ir_graph_new_sub(ob);
  tu_input(ib, "j", DT_INT64, 0, NULL);
  Value *ic = tu_input(ib, "c", DT_BOOL, 0, NULL), *iu = tu_input(ib, "u_in", DT_FLOAT, 1, D4);
  float half = 0.5f;
  tu_output(ib, ic);
  tu_output(ib, node2(ib, OP_Add, node2(ib, OP_Mul, iu, tu_const_f32(ib, NULL, 0, NULL, &half)), cap(ib, ox)));
  Value *iins[3] = {scalar_i64(ob, inner_trips), NULL, os};
  Node *inner = tu_node_n(ob, OP_Loop, 3, iins, 1);
  set_graph(ob, inner, "body", ib);
  tu_output(ob, oc);
  tu_output(ob, node2(ob, OP_Sub, inner->out[0], ox));
  Value *oins[3] = {scalar_i64(g, 20), NULL, s0};
  Node *outer = tu_node_n(g, OP_Loop, 3, oins, 1);
  set_graph(g, outer, "body", ob);
  tu_output(g, outer->out[0]);
  float sv[4] = {1, -1, 4, 0}, xv[4] = {0.25f, 1, -2, 3}, y[4], want[4];
  const void *in[2] = {sv, xv};
  void *out[1] = {y};
  run_ok(g, in, out);
  for (int k = 0; k < 4; k++) {
    float r = sv[k];
    for (int a = 0; a < 20; a++) {
      for (int b = 0; b < inner_trips; b++) r = r * 0.5f + xv[k];
      r -= xv[k];
    }
    want[k] = r;
  }
  near(y, want, 4);
  ir_graph_free(g);
}

Test(control, nested_loops) {
  nested_loops(5);
  nested_loops(20);
}
