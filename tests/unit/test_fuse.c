/* test_fuse.c — passes/fuse.c: what the pass rewrites (and what it must leave alone), and that
 * fused graphs compute what the unfused ones do (JIT-compiled both ways, same inputs). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "passes.h"
#include "testutil.h"

static uint32_t rng = 1;
static double rnd(void) {
  rng = rng * 1664525u + 1013904223u;
  return (double)(rng >> 8) / (double)(1u << 24) * 2.0 - 1.0;
}

static Value *rconst(Graph *g, int rank, const int64_t *dims, double lo, double hi) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= dims[i];
  double *d = malloc(sizeof(double) * (size_t)n);
  for (int64_t i = 0; i < n; i++) d[i] = lo + (rnd() + 1) * 0.5 * (hi - lo);
  Value *v = tu_const(g, DT_FLOAT, rank, dims, d);
  free(d);
  return v;
}

static Node *node(Graph *g, Op op, int nin, Value **ins) { return tu_node_n(g, op, nin, ins, 1); }
static Node *unary(Graph *g, Op op, Value *x) { return node(g, op, 1, &x); }
static Node *add(Graph *g, Value *a, Value *b) { return node(g, OP_Add, 2, (Value *[]){a, b}); }

static Node *conv(Graph *g, Value *x, int64_t O, int64_t C, int64_t k, int64_t group, bool bias) {
  int64_t wd[4] = {O, C / group, k, k}, bd[1] = {O}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
  Value *ins[3] = {x, rconst(g, 4, wd, -0.5, 0.5), bias ? rconst(g, 1, bd, -0.5, 0.5) : NULL};
  Node *n = node(g, OP_Conv, bias ? 3 : 2, ins);
  tu_attr_int(g, n, "group", group);
  tu_attr_ints(g, n, "pads", 4, pads);
  return n;
}

static Node *bnorm(Graph *g, Value *x, int64_t C) {
  int64_t d[1] = {C};
  Value *ins[5] = {x, rconst(g, 1, d, 0.5, 1.5), rconst(g, 1, d, -0.5, 0.5), rconst(g, 1, d, -0.3, 0.3),
                   rconst(g, 1, d, 0.2, 2.0)};
  return node(g, OP_BatchNormalization, 5, ins);
}

static int live_nodes(const Graph *g, Op op) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++) k += !g->nodes[i]->dead && g->nodes[i]->op == op;
  return k;
}

static void run_passes(Graph *g, bool fuse) {
  PassOptions po = {.disable = fuse ? NULL : "fuse"};
  cr_assert_eq(pass_run_all(g, &po), 0, "%s", ir_last_error(g));
}

/* ---- rewrites ---- */

Test(fuse, conv_add_relu_becomes_one_node) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 6, 6};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *r = tu_input(g, "r", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *a = add(g, r, c->out[0]); /* the conv output as the second operand */
  Node *relu = unary(g, OP_Relu, a->out[0]);
  tu_output(g, relu->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 1);
  Node *n = g->nodes[0];
  cr_assert_eq(n->op, OP_Conv);
  cr_assert_not_null(n->epi);
  cr_assert_eq(n->epi->res, r);
  cr_assert_eq(n->nin, 4);
  cr_assert_eq(n->in[3], r);
  cr_assert_eq(n->epi->nact, 1);
  cr_assert_eq(n->epi->act[0]->op, OP_Relu);
  cr_assert_eq(n->out[0], g->outputs[0]);
  cr_assert_eq(g->outputs[0]->producer, n);
  ir_graph_free(g);
}

Test(fuse, relu_of_a_graph_output_is_not_fused) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *relu = unary(g, OP_Relu, c->out[0]);
  tu_output(g, c->out[0]);
  tu_output(g, relu->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 2);
  cr_assert_null(c->epi);
  cr_assert_eq(c->out[0], g->outputs[0]);
  ir_graph_free(g);
}

Test(fuse, two_users_block_fusion) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *r1 = unary(g, OP_Relu, c->out[0]), *s = unary(g, OP_Sigmoid, c->out[0]);
  tu_output(g, r1->out[0]);
  tu_output(g, s->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 3);
  cr_assert_null(c->epi);
  ir_graph_free(g);
}

Test(fuse, add_after_activation_stays) {
  /* Conv -> Relu -> Add: the Relu joins the conv, the Add (after the activation) must not */
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *r = tu_input(g, "r", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *relu = unary(g, OP_Relu, c->out[0]);
  Node *a = add(g, relu->out[0], r);
  tu_output(g, a->out[0]);
  run_passes(g, true);
  cr_assert_eq(live_nodes(g, OP_Add), 1);
  cr_assert_eq(live_nodes(g, OP_Relu), 0);
  cr_assert_null(c->epi->res);
  ir_graph_free(g);
}

Test(fuse, broadcast_add_into_conv_is_not_fused) {
  /* a per-channel Add broadcasts: not a same-shape residual for Conv */
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5}, bd[4] = {1, 8, 1, 1};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *b = tu_input(g, "b", DT_FLOAT, 4, bd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *a = add(g, c->out[0], b);
  tu_output(g, a->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 2);
  cr_assert_null(c->epi);
  ir_graph_free(g);
}

Test(fuse, batchnorm_folds_into_conv_weights) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 4, 5, 5};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 4, 3, 1, false);
  Value *w0 = c->in[1];
  Node *bn = bnorm(g, c->out[0], 8);
  tu_output(g, bn->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 1);
  cr_assert_eq(g->nodes[0], c);
  cr_assert_eq(c->nin, 3);
  cr_assert_neq(c->in[1], w0, "the original weights may be shared: new constants expected");
  cr_assert_not_null(c->in[2]);
  cr_assert_eq(c->out[0], g->outputs[0]);
  ir_graph_free(g);
}

Test(fuse, batchnorm_with_runtime_scale_stays) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 4, 5, 5}, cd[1] = {8};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *sc = tu_input(g, "scale", DT_FLOAT, 1, cd);
  Node *c = conv(g, x, 8, 4, 3, 1, true);
  Node *bn = bnorm(g, c->out[0], 8);
  bn->in[1] = sc;
  tu_output(g, bn->out[0]);
  run_passes(g, true);
  cr_assert_eq(live_nodes(g, OP_BatchNormalization), 1);
  ir_graph_free(g);
}

Test(fuse, clip_with_runtime_bound_stays) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5}, sd[1] = {1};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *hi = tu_input(g, "hi", DT_FLOAT, 0, sd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *cl = node(g, OP_Clip, 3, (Value *[]){c->out[0], NULL, hi});
  tu_output(g, cl->out[0]);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 2);
  ir_graph_free(g);
}

Test(fuse, no_fuse_option_leaves_the_graph) {
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 8, 5, 5};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c = conv(g, x, 8, 8, 3, 1, true);
  Node *relu = unary(g, OP_Relu, c->out[0]);
  tu_output(g, relu->out[0]);
  run_passes(g, false);
  cr_assert_eq(g->nnodes, 2);
  cr_assert_null(c->epi);
  ir_graph_free(g);
}

Test(fuse, matmul_bias_row_and_gelu) {
  Graph *g = ir_graph_new();
  int64_t xd[3] = {2, 5, 16}, wd[2] = {16, 24}, bd[1] = {24}, cold[3] = {2, 5, 1};
  Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
  Node *mm = node(g, OP_MatMul, 2, (Value *[]){x, rconst(g, 2, wd, -1, 1)});
  Node *a = add(g, mm->out[0], rconst(g, 1, bd, -1, 1));
  Node *ge = unary(g, OP_Gelu, a->out[0]);
  /* a second MatMul + a column-broadcast Add: not a row, stays */
  Node *mm2 = node(g, OP_MatMul, 2, (Value *[]){x, rconst(g, 2, wd, -1, 1)});
  Node *a2 = add(g, mm2->out[0], tu_input(g, "col", DT_FLOAT, 3, cold));
  tu_output(g, ge->out[0]);
  tu_output(g, a2->out[0]);
  run_passes(g, true);
  cr_assert_eq(live_nodes(g, OP_Gelu), 0);
  cr_assert_eq(live_nodes(g, OP_Add), 1);
  cr_assert_eq(mm->nin, 3);
  cr_assert_eq(mm->epi->nact, 1);
  cr_assert_null(mm2->epi);
  ir_graph_free(g);
}

/* ---- numerics: fused vs unfused ---- */

typedef void (*Build)(Graph *g);

static void check_same(Build build, uint32_t seed) {
  float *outs[2][4] = {{0}};
  int64_t nout[4] = {0};
  int no = 0;
  for (int f = 0; f < 2; f++) {
    rng = seed;
    Graph *g = ir_graph_new();
    build(g);
    run_passes(g, f == 1);
    if (f == 1) {
      bool any = false;
      for (int i = 0; i < g->nnodes; i++) any |= g->nodes[i]->epi != NULL;
      cr_assert(any, "nothing was fused");
    }
    char err[1024];
    BeModel *m = be_jit(g, NULL, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    void *ins[8];
    uint32_t irng = 777;
    for (int i = 0; i < g->ninputs; i++) {
      int64_t n = ir_value_numel(g->inputs[i]);
      float *b = malloc(sizeof(float) * (size_t)n);
      for (int64_t j = 0; j < n; j++) {
        irng = irng * 1664525u + 1013904223u;
        b[j] = (float)((double)(irng >> 8) / (double)(1u << 24) * 2.0 - 1.0);
      }
      ins[i] = b;
    }
    no = g->noutputs;
    for (int i = 0; i < no; i++) {
      nout[i] = ir_value_numel(g->outputs[i]);
      outs[f][i] = calloc((size_t)nout[i], sizeof(float));
    }
    for (int th = 1; th <= 2; th++) {
      be_set_threads(m, th);
      cr_assert_eq(be_run(m, (const void *const *)ins, (void *const *)outs[f], err, sizeof err), 0, "%s", err);
    }
    for (int i = 0; i < g->ninputs; i++) free(ins[i]);
    be_free(m);
    ir_graph_free(g);
  }
  for (int i = 0; i < no; i++) {
    for (int64_t j = 0; j < nout[i]; j++) {
      float a = outs[0][i][j], b = outs[1][i][j];
      if (!(fabsf(a - b) <= 1e-4f * (fabsf(a) + 1.0f))) {
        cr_assert_fail("output %d element %lld: unfused %.8g, fused %.8g", i, (long long)j, a, b);
      }
    }
    free(outs[0][i]);
    free(outs[1][i]);
  }
}

/* GEMM-engine conv (many output channels) + BN + residual + Relu, and a K-blocked Conv (K > kc) */
static void b_resblock(Graph *g) {
  int64_t xd[4] = {1, 16, 9, 11};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c1 = conv(g, x, 16, 16, 3, 1, false);
  Node *bn = bnorm(g, c1->out[0], 16);
  Node *r1 = unary(g, OP_Relu, bn->out[0]);
  Node *c2 = conv(g, r1->out[0], 16, 16, 3, 1, true);
  Node *a = add(g, c2->out[0], x);
  Node *r2 = unary(g, OP_Relu, a->out[0]);
  int64_t yd[4] = {1, 64, 9, 11};
  Value *y = tu_input(g, "y", DT_FLOAT, 4, yd);
  Node *c3 = conv(g, y, 32, 64, 3, 1, true); /* K = 576 */
  Node *lr = unary(g, OP_LeakyRelu, c3->out[0]);
  tu_attr_float(g, lr, "alpha", 0.2f);
  tu_output(g, r2->out[0]);
  tu_output(g, lr->out[0]);
}

/* depthwise (Clip 0..6) and direct-kernel (few output channels: HardSwish, residual) convs */
static void b_mobile(Graph *g) {
  int64_t xd[4] = {1, 12, 13, 10}, sd[1] = {1};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *dw = conv(g, x, 12, 12, 3, 12, true);
  double lo = 0, hi = 0.3;
  Node *cl = node(g, OP_Clip, 3, (Value *[]){dw->out[0], tu_const(g, DT_FLOAT, 0, sd, &lo), tu_const(g, DT_FLOAT, 0, sd, &hi)});
  int64_t rd[4] = {1, 2, 13, 10};
  Value *r = tu_input(g, "r", DT_FLOAT, 4, rd);
  Node *few = conv(g, cl->out[0], 2, 12, 3, 1, true);
  Node *a = add(g, r, few->out[0]);
  Node *hs = unary(g, OP_HardSwish, a->out[0]);
  Node *dw2 = conv(g, x, 12, 12, 3, 12, false);
  Node *a2 = add(g, dw2->out[0], x);
  Node *sg = unary(g, OP_Sigmoid, a2->out[0]);
  tu_output(g, hs->out[0]);
  tu_output(g, sg->out[0]);
}

/* MatMul + row bias + Gelu, Gemm + residual + Tanh, matrix × vector (dot path) + residual + Relu */
static void b_dense(Graph *g) {
  int64_t xd[3] = {2, 7, 40}, wd[2] = {40, 36}, bd[1] = {36}, gd[2] = {7, 40}, gw[2] = {36, 40}, go[2] = {7, 36};
  Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
  Node *mm = node(g, OP_MatMul, 2, (Value *[]){x, rconst(g, 2, wd, -1, 1)});
  Node *a = add(g, mm->out[0], rconst(g, 1, bd, -1, 1));
  Node *ge = unary(g, OP_Gelu, a->out[0]);
  Value *x2 = tu_input(g, "x2", DT_FLOAT, 2, gd), *res = tu_input(g, "res", DT_FLOAT, 2, go);
  Node *gm = node(g, OP_Gemm, 3, (Value *[]){x2, rconst(g, 2, gw, -1, 1), rconst(g, 1, bd, -1, 1)});
  tu_attr_int(g, gm, "transB", 1);
  Node *a2 = add(g, gm->out[0], res);
  Node *th = unary(g, OP_Tanh, a2->out[0]);
  int64_t vd[2] = {40, 1}, vo[2] = {7, 1};
  Node *mv = node(g, OP_MatMul, 2, (Value *[]){x2, rconst(g, 2, vd, -1, 1)});
  Node *a3 = add(g, mv->out[0], tu_input(g, "vres", DT_FLOAT, 2, vo));
  Node *re = unary(g, OP_Relu, a3->out[0]);
  tu_output(g, ge->out[0]);
  tu_output(g, th->out[0]);
  tu_output(g, re->out[0]);
}

Test(fuse, numerics_resblock) { check_same(b_resblock, 11); }
Test(fuse, numerics_depthwise_and_direct) { check_same(b_mobile, 22); }
Test(fuse, numerics_dense) { check_same(b_dense, 33); }

/* ---- decomposed LayerNormalization and Gelu (torch's export) ---- */
static Value *scalar(Graph *g, double x) {
  int64_t d[1] = {1};
  return tu_const(g, DT_FLOAT, 0, d, &x);
}

static Node *mean_last(Graph *g, Value *x) {
  Node *n = unary(g, OP_ReduceMean, x);
  int64_t ax = -1;
  tu_attr_ints(g, n, "axes", 1, &ax);
  return n;
}

/* LayerNorm over the last axis of x as primitive ops; returns the final Add */
static Node *ln_decomposed(Graph *g, Value *x, int64_t D) {
  int64_t d[1] = {D};
  Node *m = mean_last(g, x);
  Node *sub = node(g, OP_Sub, 2, (Value *[]){x, m->out[0]});
  Node *pw = node(g, OP_Pow, 2, (Value *[]){sub->out[0], scalar(g, 2.0)});
  Node *v = mean_last(g, pw->out[0]);
  Node *ae = add(g, v->out[0], scalar(g, 1e-5));
  Node *sq = unary(g, OP_Sqrt, ae->out[0]);
  Node *dv = node(g, OP_Div, 2, (Value *[]){sub->out[0], sq->out[0]});
  Node *mu = node(g, OP_Mul, 2, (Value *[]){dv->out[0], rconst(g, 1, d, 0.5, 1.5)});
  return add(g, mu->out[0], rconst(g, 1, d, -0.5, 0.5));
}

/* x · (Erf(x / √2) + 1) · 0.5 */
static Node *gelu_decomposed(Graph *g, Value *x) {
  Node *dv = node(g, OP_Div, 2, (Value *[]){x, scalar(g, 1.4142135381698608)});
  Node *e = unary(g, OP_Erf, dv->out[0]);
  Node *a = add(g, e->out[0], scalar(g, 1.0));
  Node *m = node(g, OP_Mul, 2, (Value *[]){x, a->out[0]});
  return node(g, OP_Mul, 2, (Value *[]){m->out[0], scalar(g, 0.5)});
}

/* MatMul + bias -> Gelu -> LayerNorm */
static void b_encoder(Graph *g) {
  int64_t xd[3] = {1, 6, 20}, wd[2] = {20, 24}, bd[1] = {24};
  Value *x = tu_input(g, "x", DT_FLOAT, 3, xd);
  Node *mm = node(g, OP_MatMul, 2, (Value *[]){x, rconst(g, 2, wd, -1, 1)});
  Node *a = add(g, mm->out[0], rconst(g, 1, bd, -1, 1));
  Node *ge = gelu_decomposed(g, a->out[0]);
  Node *ln = ln_decomposed(g, ge->out[0], 24);
  tu_output(g, ln->out[0]);
}

Test(fuse, layernorm_and_gelu_patterns) {
  Graph *g = ir_graph_new();
  b_encoder(g);
  run_passes(g, true);
  cr_assert_eq(g->nnodes, 2, "%d nodes", g->nnodes);
  cr_assert_eq(g->nodes[0]->op, OP_MatMul);
  cr_assert_eq(g->nodes[0]->epi->nact, 1);
  cr_assert_eq(g->nodes[0]->epi->act[0]->op, OP_Gelu);
  cr_assert_eq(g->nodes[1]->op, OP_LayerNormalization);
  cr_assert_float_eq(ir_attr_float(g->nodes[1], "epsilon", 0), 1e-5f, 1e-9);
  ir_graph_free(g);
}

Test(fuse, layernorm_with_a_used_intermediate_stays) {
  /* the centred value is also a graph output: nothing may disappear */
  Graph *g = ir_graph_new();
  int64_t xd[2] = {3, 8};
  Value *x = tu_input(g, "x", DT_FLOAT, 2, xd);
  Node *ln = ln_decomposed(g, x, 8);
  tu_output(g, ln->out[0]);
  Node *sub = NULL;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == OP_Sub) sub = g->nodes[i];
  tu_output(g, sub->out[0]);
  run_passes(g, true);
  cr_assert_eq(live_nodes(g, OP_LayerNormalization), 0);
  cr_assert_eq(live_nodes(g, OP_Pow), 1);
  ir_graph_free(g);
}

Test(fuse, numerics_encoder) { check_same(b_encoder, 44); }

/* ---- activations spelled out, scale and shift, ConvTranspose as Conv + DepthToSpace ---- */
static Node *mul(Graph *g, Value *a, Value *b) { return node(g, OP_Mul, 2, (Value *[]){a, b}); }

/* x · Sigmoid(x) */
static Node *silu_decomposed(Graph *g, Value *x) { return mul(g, x, unary(g, OP_Sigmoid, x)->out[0]); }

/* x · Clip(x + 3, 0, 6) / 6 */
static Node *hardswish_decomposed(Graph *g, Value *x) {
  Node *a = add(g, x, scalar(g, 3.0));
  Node *c = node(g, OP_Clip, 3, (Value *[]){a->out[0], scalar(g, 0.0), scalar(g, 6.0)});
  Node *m = mul(g, x, c->out[0]);
  return node(g, OP_Div, 2, (Value *[]){m->out[0], scalar(g, 6.0)});
}

/* (0.5·x)·(1 + Tanh(0.79788·(x + 0.044715·Pow(x, 3)))) */
static Node *gelu_tanh_decomposed(Graph *g, Value *x) {
  Node *h = mul(g, x, scalar(g, 0.5));
  Node *p = node(g, OP_Pow, 2, (Value *[]){x, scalar(g, 3.0)});
  Node *q = mul(g, p->out[0], scalar(g, 0.044715));
  Node *r = add(g, x, q->out[0]);
  Node *u = mul(g, r->out[0], scalar(g, 0.7978845608028654));
  Node *t = unary(g, OP_Tanh, u->out[0]);
  Node *a = add(g, t->out[0], scalar(g, 1.0));
  return mul(g, h->out[0], a->out[0]);
}

/* ConvTranspose C → O, kernel k, stride s, bias */
static Node *convt(Graph *g, Value *x, int64_t O, int64_t C, int64_t k, int64_t s) {
  int64_t wd[4] = {C, O, k, k}, bd[1] = {O}, st[2] = {s, s};
  Node *n = node(g, OP_ConvTranspose, 3, (Value *[]){x, rconst(g, 4, wd, -0.5, 0.5), rconst(g, 1, bd, -0.5, 0.5)});
  tu_attr_ints(g, n, "strides", 2, st);
  return n;
}

/* conv → SiLU; conv → HardSwish (Clip form) → ·scalar + scalar; conv → ·per-channel + per-channel
 * → Relu; ConvTranspose k = s → + bias → BN → Relu; ConvTranspose k = 3, s = 2 → Swish form;
 * MatMul → GELU (tanh form) */
static void b_acts(Graph *g) {
  int64_t xd[4] = {1, 8, 7, 9}, cd[4] = {1, 8, 1, 1}, bd[3] = {8, 1, 1};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *c1 = conv(g, x, 8, 8, 3, 1, true);
  Node *s1 = silu_decomposed(g, c1->out[0]);
  Node *c2 = conv(g, s1->out[0], 8, 8, 1, 1, false);
  Node *h2 = hardswish_decomposed(g, c2->out[0]);
  Node *m2 = mul(g, scalar(g, 0.75), h2->out[0]);
  Node *a2 = add(g, m2->out[0], scalar(g, -0.25));
  Node *c3 = conv(g, a2->out[0], 8, 8, 3, 8, true);
  Node *m3 = mul(g, c3->out[0], rconst(g, 4, cd, 0.5, 1.5));
  Node *a3 = add(g, rconst(g, 3, bd, -0.5, 0.5), m3->out[0]);
  Node *r3 = unary(g, OP_Relu, a3->out[0]);
  Node *t4 = convt(g, r3->out[0], 6, 8, 2, 2);
  Node *a4 = add(g, t4->out[0], rconst(g, 3, (int64_t[]){6, 1, 1}, -0.5, 0.5));
  Node *b4 = bnorm(g, a4->out[0], 6);
  Node *r4 = unary(g, OP_Relu, b4->out[0]);
  Node *t5 = convt(g, x, 4, 8, 3, 2);
  Node *s5 = silu_decomposed(g, t5->out[0]);
  int64_t md[2] = {5, 12}, wd[2] = {12, 10};
  Node *mm = node(g, OP_MatMul, 2, (Value *[]){tu_input(g, "v", DT_FLOAT, 2, md), rconst(g, 2, wd, -1, 1)});
  Node *ge = gelu_tanh_decomposed(g, mm->out[0]);
  tu_output(g, r4->out[0]);
  tu_output(g, s5->out[0]);
  tu_output(g, ge->out[0]);
}

Test(fuse, activation_scale_shift_and_convtranspose_patterns) {
  Graph *g = ir_graph_new();
  b_acts(g);
  run_passes(g, true);
  const Op gone[] = {OP_Sigmoid, OP_Mul, OP_Add, OP_Clip, OP_Div, OP_Tanh, OP_Pow, OP_Relu, OP_BatchNormalization};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
    cr_expect_eq(live_nodes(g, gone[i]), 0, "%s left", ir_ops[gone[i]].name);
  cr_expect_eq(live_nodes(g, OP_ConvTranspose), 1); /* k = 3, s = 2 stays (with its Swish) */
  cr_expect_eq(live_nodes(g, OP_DepthToSpace), 1);
  cr_expect_eq(live_nodes(g, OP_Conv), 4);
  cr_expect_eq(live_nodes(g, OP_MatMul), 1);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->op == OP_MatMul) cr_expect(n->epi && n->epi->nact == 1 && n->epi->act[0]->op == OP_Gelu);
    if (n->op == OP_ConvTranspose) cr_expect(n->epi && n->epi->nact == 1 && n->epi->act[0]->op == OP_Swish);
    if (n->op == OP_Conv && n->epi && n->epi->nact == 3) { /* HardSwish, ·0.75, −0.25 */
      cr_expect_eq(n->epi->act[0]->op, OP_HardSwish);
      cr_expect_eq(n->epi->act[1]->op, OP_Mul);
      cr_expect_eq(n->epi->act[2]->op, OP_Add);
    }
  }
  ir_graph_free(g);
}

Test(fuse, numerics_activations_and_convtranspose) { check_same(b_acts, 55); }

Test(fuse, convtranspose_with_padding_stays) {
  /* k = s but padded: no DepthToSpace form */
  Graph *g = ir_graph_new();
  int64_t xd[4] = {1, 4, 5, 5}, pads[4] = {1, 1, 1, 1};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *t = convt(g, x, 3, 4, 2, 2);
  tu_attr_ints(g, t, "pads", 4, pads);
  tu_output(g, t->out[0]);
  run_passes(g, true);
  cr_assert_eq(live_nodes(g, OP_ConvTranspose), 1);
  cr_assert_eq(live_nodes(g, OP_DepthToSpace), 0);
  ir_graph_free(g);
}

/* the rebuilt activations without a producer to join: standalone Swish (α = 1 and 1.702) and
 * HardSwish (from HardSigmoid with α = 1/6) kernels, and a conv so that something is fused */
static void b_standalone(Graph *g) {
  int64_t xd[4] = {1, 4, 5, 6};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd), *y = tu_input(g, "y", DT_FLOAT, 4, xd);
  Value *a = add(g, x, y)->out[0];
  Node *s1 = silu_decomposed(g, a);
  Node *sa = unary(g, OP_Sigmoid, mul(g, a, scalar(g, 1.702))->out[0]);
  Node *s2 = mul(g, sa->out[0], a);
  Node *hsg = unary(g, OP_HardSigmoid, a);
  tu_attr_float(g, hsg, "alpha", 1.0f / 6.0f);
  Node *hs = mul(g, a, hsg->out[0]);
  Node *r = unary(g, OP_Relu, conv(g, x, 4, 4, 3, 1, true)->out[0]);
  tu_output(g, s1->out[0]);
  tu_output(g, s2->out[0]);
  tu_output(g, hs->out[0]);
  tu_output(g, r->out[0]);
}

Test(fuse, standalone_swish_and_hardswish) {
  Graph *g = ir_graph_new();
  b_standalone(g);
  run_passes(g, true);
  cr_expect_eq(live_nodes(g, OP_Sigmoid), 0);
  cr_expect_eq(live_nodes(g, OP_HardSigmoid), 0);
  cr_expect_eq(live_nodes(g, OP_Mul), 0);
  cr_expect_eq(live_nodes(g, OP_Swish), 2);
  cr_expect_eq(live_nodes(g, OP_HardSwish), 1);
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == OP_Swish && ir_attr(g->nodes[i], "alpha"))
      cr_expect_float_eq(ir_attr_float(g->nodes[i], "alpha", 0), 1.702f, 1e-6);
  ir_graph_free(g);
}

Test(fuse, numerics_standalone_activations) { check_same(b_standalone, 66); }

/* DenseNet's pre-activation: a BatchNormalization that cannot fold into a Conv (its input is a
 * graph input here, a Concat there) takes the activation after it as its epilogue; a BN read by
 * two nodes keeps its activation separate */
static void b_bn_act(Graph *g) {
  int64_t xd[4] = {2, 6, 5, 7};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *bn = bnorm(g, x, 6);
  Node *r = unary(g, OP_Relu, bn->out[0]);
  Node *bn2 = bnorm(g, x, 6);
  Node *cl = node(g, OP_Clip, 3, (Value *[]){bn2->out[0], scalar(g, -0.25), scalar(g, 0.5)});
  Node *bn3 = bnorm(g, x, 6);
  Node *r3 = unary(g, OP_Relu, bn3->out[0]);
  tu_output(g, r->out[0]);
  tu_output(g, cl->out[0]);
  tu_output(g, r3->out[0]);
  tu_output(g, bn3->out[0]);
}

Test(fuse, batchnorm_takes_activation_epilogue) {
  Graph *g = ir_graph_new();
  b_bn_act(g);
  run_passes(g, true);
  cr_expect_eq(live_nodes(g, OP_BatchNormalization), 3);
  cr_expect_eq(live_nodes(g, OP_Clip), 0);
  cr_expect_eq(live_nodes(g, OP_Relu), 1); /* bn3's output is also a graph output */
  int fused = 0;
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == OP_BatchNormalization && g->nodes[i]->epi) {
      cr_expect_eq(g->nodes[i]->epi->nact, 1);
      cr_expect_null(g->nodes[i]->epi->res);
      fused++;
    }
  cr_expect_eq(fused, 2);
  ir_graph_free(g);
}

Test(fuse, numerics_batchnorm_activation) { check_same(b_bn_act, 67); }

/* ---- 4. AveragePool after a 1×1 Conv runs first (DenseNet's transition: BN, Relu, 1×1 Conv,
 * zero Pad, 2×2/2 AveragePool); a pool with padding, a 3×3 Conv and a Conv whose output is also
 * read elsewhere stay in order ---- */
static Node *avgpool(Graph *g, Value *x, int64_t k, int64_t s, int64_t pad) {
  int64_t ks[2] = {k, k}, ss[2] = {s, s}, ps[4] = {pad, pad, pad, pad};
  Node *p = unary(g, OP_AveragePool, x);
  tu_attr_ints(g, p, "kernel_shape", 2, ks);
  tu_attr_ints(g, p, "strides", 2, ss);
  tu_attr_ints(g, p, "pads", 4, ps);
  return p;
}

static void b_transition(Graph *g) {
  int64_t xd[4] = {1, 12, 10, 9}, pd[1] = {8};
  g->opset = 17;
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Node *r = unary(g, OP_Relu, bnorm(g, x, 12)->out[0]);
  Node *c = conv(g, r->out[0], 20, 12, 1, 1, true);
  int64_t zeros[8] = {0};
  Value *pads = tu_const_i64(g, 1, pd, zeros);
  Node *pad = node(g, OP_Pad, 2, (Value *[]){c->out[0], pads});
  tu_attr_str(g, pad, "mode", "constant");
  Node *ap = avgpool(g, pad->out[0], 2, 2, 0); /* 10×9 → 5×4: the last column is dropped */
  Node *c2 = conv(g, x, 6, 12, 1, 1, false); /* padded pool, and read twice: stays */
  Node *ap2 = avgpool(g, c2->out[0], 3, 1, 1);
  Node *ap4 = avgpool(g, c2->out[0], 2, 2, 0);
  Node *c3 = conv(g, x, 6, 12, 3, 1, false); /* 3×3: stays */
  Node *ap3 = avgpool(g, c3->out[0], 2, 2, 0);
  tu_output(g, ap->out[0]);
  tu_output(g, ap2->out[0]);
  tu_output(g, ap3->out[0]);
  tu_output(g, ap4->out[0]);
}

Test(fuse, avgpool_runs_before_a_1x1_conv) {
  Graph *g = ir_graph_new();
  b_transition(g);
  run_passes(g, true);
  cr_expect_eq(live_nodes(g, OP_Pad), 0);
  const Value *y = g->outputs[0];
  cr_assert_eq(y->producer->op, OP_Conv);
  const Value *q = y->producer->in[0];
  cr_assert(q->producer && q->producer->op == OP_AveragePool);
  cr_expect(q->rank == 4 && q->dims[1] == 12 && q->dims[2] == 5 && q->dims[3] == 4);
  for (int i = 1; i < 4; i++) cr_expect_eq(g->outputs[i]->producer->op, OP_AveragePool, "output %d", i);
  ir_graph_free(g);
}

Test(fuse, numerics_avgpool_before_conv) { check_same(b_transition, 68); }
