/* test_layout.c — the layout pass (passes/layout.c) and the pixel-major depthwise kernel
 * (backend/gen/gen_conv_nhwc.c): MobileNet-style blocks (1×1 expand + Relu, depthwise k×k +
 * Relu, 1×1 project, residual Add) run pixel-major give the NCHW results (1 and 2 threads) over
 * strides 1/2, kernels 3 and 5, dilation, asymmetric pads, channel counts off the vector, rows
 * shorter than a strip and long enough for the strip loop, 2 images, a value read on both sides of
 * the region, squeeze-and-excitation blocks (the pool a ReduceMean over the rows, the scale a
 * broadcast Mul inside the region); the cost model picks pixel-major for a 7×7 block and keeps a
 * lone 1×1 conv NCHW. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "passes.h"
#include "testutil.h"

static uint32_t rs = 7;
static float rnd(void) {
  rs = rs * 1664525u + 1013904223u;
  return (float)(rs >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

typedef struct Case {
  int64_t N, C, E, O, H, W, K, s, d; /* input, expanded and output channels; K×K depthwise, stride, dilation */
  int64_t pads[4];
  bool side; /* the expanded activation is also a graph output (read outside the region) */
  bool no_pw; /* only the depthwise conv (and its Relu) */
  bool se;    /* a squeeze-and-excitation block after the depthwise conv (N = 1) */
} Case;

static Value *cst(Graph *g, const char *nm, int rank, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= d[i];
  float *v = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < n; i++) v[i] = rnd() * 0.5f;
  Value *c = tu_const_f32(g, nm, rank, d, v);
  free(v);
  return c;
}

static Value *conv(Graph *g, Value *x, int64_t O, int64_t C, int64_t K, int64_t grp, int64_t s, int64_t d,
                   const int64_t *pads) {
  int64_t wd[4] = {O, C / grp, K, K}, bd[1] = {O};
  Value *ins[3] = {x, cst(g, NULL, 4, wd), cst(g, NULL, 1, bd)};
  Node *n = tu_node_n(g, OP_Conv, 3, ins, 1);
  int64_t st[2] = {s, s}, dl[2] = {d, d}, z[4] = {0};
  tu_attr_ints(g, n, "strides", 2, st);
  tu_attr_ints(g, n, "dilations", 2, dl);
  tu_attr_ints(g, n, "pads", 4, pads ? pads : z);
  if (grp > 1) tu_attr_int(g, n, "group", grp);
  cr_assert_eq(ir_infer_node(g, n), 0, "%s", ir_last_error(g));
  return n->out[0];
}

static Value *relu(Graph *g, Value *x) {
  Value *y = tu_node(g, OP_Relu, 1, &x);
  cr_assert_eq(ir_infer_node(g, y->producer), 0, "%s", ir_last_error(g));
  return y;
}

static Graph *build(const Case *c, int *nout, int64_t *ny) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  rs = 7;
  int64_t xd[4] = {c->N, c->C, c->H, c->W};
  Value *x = tu_input(g, "x", DT_FLOAT, 4, xd);
  Value *e = c->no_pw ? x : relu(g, conv(g, x, c->E, c->C, 1, 1, 1, 1, NULL));
  Value *dw = relu(g, conv(g, e, c->E, c->E, c->K, c->E, c->s, c->d, c->pads));
  if (c->se) { /* GlobalAveragePool -> 1×1 conv + Relu -> 1×1 conv + Sigmoid -> Mul(scale, dw) */
    Value *p = tu_node(g, OP_GlobalAveragePool, 1, &dw);
    cr_assert_eq(ir_infer_node(g, p->producer), 0, "%s", ir_last_error(g));
    Value *s = conv(g, relu(g, conv(g, p, 8, c->E, 1, 1, 1, 1, NULL)), c->E, 8, 1, 1, 1, 1, NULL);
    s = tu_node(g, OP_Sigmoid, 1, &s);
    cr_assert_eq(ir_infer_node(g, s->producer), 0, "%s", ir_last_error(g));
    dw = tu_node(g, OP_Mul, 2, (Value *[]){s, dw});
    cr_assert_eq(ir_infer_node(g, dw->producer), 0, "%s", ir_last_error(g));
  }
  Value *y = dw;
  if (!c->no_pw) {
    y = conv(g, dw, c->O, c->E, 1, 1, 1, 1, NULL);
    if (c->O == c->C && ir_same_shape(y, x)) {
      y = tu_node(g, OP_Add, 2, (Value *[]){y, x});
      cr_assert_eq(ir_infer_node(g, y->producer), 0, "%s", ir_last_error(g));
    }
  }
  tu_output(g, y);
  ny[0] = ir_value_numel(y);
  *nout = 1;
  if (c->side) {
    tu_output(g, e);
    ny[(*nout)++] = ir_value_numel(e);
  }
  return g;
}

static int count(const Graph *g, Op op, bool nhwc) {
  int k = 0;
  for (int i = 0; i < g->nnodes; i++) k += g->nodes[i]->op == op && (!nhwc || g->nodes[i]->nhwc);
  return k;
}

/* runs c pixel-major (layout mode) and NCHW; returns whether the pass chose pixel-major */
static bool check(const Case *c, int mode) {
  int nout;
  int64_t ny[2];
  Graph *gp = build(c, &nout, ny), *gn = build(c, &nout, ny);
  PassOptions on = {.layout = mode, .verify_each = true}, off = {.disable = "layout", .verify_each = true};
  cr_assert_eq(pass_run_all(gp, &on), 0, "%s", ir_last_error(gp));
  cr_assert_eq(pass_run_all(gn, &off), 0, "%s", ir_last_error(gn));
  bool pm = count(gp, OP_Conv, true) > 0;
  cr_assert_eq(count(gn, OP_Conv, true) + count(gn, OP_Transpose, false), 0, "--layout nchw: nothing reordered");
  if (mode == 2) {
    cr_assert(pm, "forced: the depthwise conv runs pixel-major");
    cr_assert_eq(count(gp, OP_Gemm, false), c->no_pw ? 0 : c->se ? 4 : 2, "forced: the 1×1 convs run as Gemm");
    if (c->se) { /* the pool runs on the rows, the scale joins the region: two reorders, no more */
      cr_assert_eq(count(gp, OP_ReduceMean, false), 1, "forced: the pool is a ReduceMean over the rows");
      cr_assert_eq(count(gp, OP_GlobalAveragePool, false), 0);
      cr_assert_eq(count(gp, OP_Transpose, false), c->side ? 3 : 2, "only the region's input and output(s) are reordered: %d",
                   count(gp, OP_Transpose, false));
    }
  }
  char err[512];
  BeModel *mp = be_jit(gp, NULL, err, sizeof err);
  cr_assert_not_null(mp, "%s", err);
  BeModel *mn = be_jit(gn, NULL, err, sizeof err);
  cr_assert_not_null(mn, "%s", err);
  int64_t nx = c->N * c->C * c->H * c->W;
  float *x = malloc(sizeof(float) * (size_t)nx);
  for (int64_t j = 0; j < nx; j++) x[j] = rnd();
  float *op[2], *on_[2];
  for (int o = 0; o < nout; o++) op[o] = malloc(sizeof(float) * (size_t)ny[o]), on_[o] = malloc(sizeof(float) * (size_t)ny[o]);
  for (int th = 1; th <= 2; th++) {
    be_set_threads(mp, th);
    be_set_threads(mn, th);
    for (int o = 0; o < nout; o++) memset(op[o], 0x7f, sizeof(float) * (size_t)ny[o]);
    cr_assert_eq(be_run(mp, (const void *const[]){x}, (void *const *)op, err, sizeof err), 0, "%s", err);
    cr_assert_eq(be_run(mn, (const void *const[]){x}, (void *const *)on_, err, sizeof err), 0, "%s", err);
    for (int o = 0; o < nout; o++)
      for (int64_t j = 0; j < ny[o]; j++)
        cr_assert(fabsf(op[o][j] - on_[o][j]) <= 1e-4f * (fabsf(on_[o][j]) + 1.0f),
                  "N=%lld C=%lld E=%lld H=%lld W=%lld K=%lld s=%lld threads %d output %d [%lld]: %g vs %g",
                  (long long)c->N, (long long)c->C, (long long)c->E, (long long)c->H, (long long)c->W, (long long)c->K,
                  (long long)c->s, th, o, (long long)j, op[o][j], on_[o][j]);
  }
  for (int o = 0; o < nout; o++) free(op[o]), free(on_[o]);
  free(x);
  be_free(mp);
  be_free(mn);
  ir_graph_free(gp);
  ir_graph_free(gn);
  return pm;
}

Test(layout, pixel_major_blocks_match_nchw) {
  Case cs[] = {
      {1, 16, 64, 16, 7, 7, 3, 1, 1, {1, 1, 1, 1}, false, false, false},      /* 7×7: one short strip, residual */
      {2, 24, 40, 32, 14, 9, 3, 2, 1, {1, 1, 1, 1}, true, false, false},      /* stride 2, 40 channels (a tail), 2 images */
      {1, 32, 96, 32, 28, 28, 5, 1, 1, {2, 2, 2, 2}, false, false, false},    /* 5×5, the strip loop */
      {1, 16, 48, 24, 40, 56, 3, 1, 1, {1, 1, 1, 1}, false, false, false},    /* long rows */
      {1, 8, 20, 8, 11, 13, 3, 1, 2, {2, 1, 0, 3}, true, false, false},       /* dilation 2, asymmetric pads */
      {1, 16, 32, 16, 3, 3, 3, 1, 1, {0, 0, 0, 0}, false, false, false},      /* a 1×1 output */
      {1, 3, 3, 3, 9, 33, 3, 2, 1, {1, 1, 1, 1}, false, true, false},         /* depthwise only, 3 channels, stride 2 */
      {1, 48, 48, 48, 12, 20, 7, 1, 1, {3, 3, 3, 3}, false, true, false},     /* 7×7 kernel */
      {1, 16, 40, 16, 14, 14, 5, 1, 1, {2, 2, 2, 2}, false, false, true}, /* SE block, residual */
      {1, 24, 72, 40, 9, 11, 3, 2, 1, {1, 1, 1, 1}, true, false, true},   /* SE, stride 2, 72 channels */
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check(&cs[i], 2);
}

Test(layout, cost_model) {
  Case late = {1, 160, 960, 160, 7, 7, 3, 1, 1, {1, 1, 1, 1}, false, false, false}; /* MobileNetV2's last stage */
  cr_assert(check(&late, 0), "a 7×7 MobileNetV2 block runs pixel-major");
  /* only the 1×1 conv of a 56×56 block: 3136 pixels fill the vectors either way, so a reorder cannot pay */
  Graph *one = ir_graph_new();
  one->opset = 17;
  int64_t xd[4] = {1, 64, 56, 56};
  tu_output(one, conv(one, tu_input(one, "x", DT_FLOAT, 4, xd), 64, 64, 1, 1, 1, 1, NULL));
  PassOptions po = {.verify_each = true};
  cr_assert_eq(pass_run_all(one, &po), 0, "%s", ir_last_error(one));
  cr_assert_eq(count(one, OP_Gemm, false) + count(one, OP_Transpose, false), 0, "a lone 56×56 1×1 conv stays NCHW");
  ir_graph_free(one);
  /* EfficientNet's 14×14 stage: the SE block no longer ends the region */
  Case se = {1, 80, 480, 80, 14, 14, 3, 1, 1, {1, 1, 1, 1}, false, false, true};
  cr_assert(check(&se, 0), "an EfficientNet block with SE runs pixel-major");
}
