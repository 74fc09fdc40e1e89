/* test_sparse_conv.c — sparse Conv kernels (backend/gen/gen_sparse_conv.c) and their marking
 * (passes/sparse.c, pass_sparse_convs): 1×1 and k×k convs with a mostly-zero weight, with and without
 * bias, fused Relu and residual Add, pads, pixel counts that are not a multiple of the chunk, 1 and
 * 2 threads, give the dense kernels' results; the cost model keeps dense and half-dense weights
 * dense. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "gen_sparse_conv.h"
#include "passes.h"
#include "testutil.h"

static uint32_t rs = 5;
static float rnd(void) {
  rs = rs * 1664525u + 1013904223u;
  return (float)(rs >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

typedef struct Case {
  int64_t N, C, H, W, O, K, pad; /* K×K kernel, symmetric pad */
  double keep;                   /* fraction of weights kept */
  bool bias, epi;                /* epi: Relu then Add of a second input */
} Case;

static Graph *build(const Case *c, int64_t *ny) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  rs = 11;
  int64_t xd[4] = {c->N, c->C, c->H, c->W}, wd[4] = {c->O, c->C, c->K, c->K}, bd[1] = {c->O};
  int64_t OH = c->H + 2 * c->pad - c->K + 1, OW = c->W + 2 * c->pad - c->K + 1;
  int64_t yd[4] = {c->N, c->O, OH, OW};
  int64_t nw = c->O * c->C * c->K * c->K;
  float *w = malloc(sizeof(float) * (size_t)nw), *b = malloc(sizeof(float) * (size_t)c->O);
  for (int64_t i = 0; i < nw; i++) {
    float v = rnd();
    w[i] = (rnd() + 1.0f) * 0.5f < c->keep ? v : 0.0f;
  }
  for (int64_t i = 0; i < c->O; i++) b[i] = rnd();
  Value *ins[3] = {tu_input(g, "x", DT_FLOAT, 4, xd), tu_const_f32(g, "w", 4, wd, w), tu_const_f32(g, "b", 1, bd, b)};
  Node *n = tu_node_n(g, OP_Conv, c->bias ? 3 : 2, ins, 1);
  int64_t pads[4] = {c->pad, c->pad, c->pad, c->pad};
  tu_attr_ints(g, n, "pads", 4, pads);
  Value *y = n->out[0];
  if (c->epi) {
    Value *r = tu_input(g, "r", DT_FLOAT, 4, yd);
    y = tu_node(g, OP_Relu, 1, &y);
    y = tu_node(g, OP_Add, 2, (Value *[]){y, r});
  }
  tu_output(g, y);
  free(w);
  free(b);
  *ny = c->N * c->O * OH * OW;
  return g;
}

static void check(const Case *c, bool force, bool want_marked) {
  int64_t ny;
  Graph *gs = build(c, &ny), *gd = build(c, &ny);
  PassOptions on = {0}, off = {.disable = "sparse"};
  cr_assert_eq(pass_run_all(gs, &on), 0, "%s", ir_last_error(gs));
  cr_assert_eq(pass_run_all(gd, &off), 0, "%s", ir_last_error(gd));
  bool marked = false;
  for (int i = 0; i < gs->nnodes; i++) marked |= gs->nodes[i]->op == OP_Conv && gs->nodes[i]->sparse;
  cr_assert_eq(marked, want_marked);
  char err[512];
  conv_sparse_force(force);
  BeModel *ms = be_jit(gs, NULL, err, sizeof err);
  conv_sparse_force(false);
  cr_assert_not_null(ms, "%s", err);
  BeModel *md = be_jit(gd, NULL, err, sizeof err);
  cr_assert_not_null(md, "%s", err);
  int64_t nx = c->N * c->C * c->H * c->W;
  float *in[2] = {malloc(sizeof(float) * (size_t)nx), malloc(sizeof(float) * (size_t)ny)};
  for (int64_t j = 0; j < nx; j++) in[0][j] = rnd();
  for (int64_t j = 0; j < ny; j++) in[1][j] = rnd();
  float *os = malloc(sizeof(float) * (size_t)ny), *od = malloc(sizeof(float) * (size_t)ny);
  for (int th = 1; th <= 2; th++) {
    be_set_threads(ms, th);
    be_set_threads(md, th);
    memset(os, 0x7f, sizeof(float) * (size_t)ny);
    cr_assert_eq(be_run(ms, (const void *const *)in, (void *const[]){os}, err, sizeof err), 0, "%s", err);
    cr_assert_eq(be_run(md, (const void *const *)in, (void *const[]){od}, err, sizeof err), 0, "%s", err);
    for (int64_t j = 0; j < ny; j++)
      cr_assert(fabsf(os[j] - od[j]) <= 1e-4f * (fabsf(od[j]) + 1.0f),
                "C=%lld H=%lld W=%lld O=%lld K=%lld pad=%lld threads %d: [%lld] %g vs %g", (long long)c->C, (long long)c->H,
                (long long)c->W, (long long)c->O, (long long)c->K, (long long)c->pad, th, (long long)j, os[j], od[j]);
  }
  free(in[0]), free(in[1]), free(os), free(od);
  be_free(ms);
  be_free(md);
  ir_graph_free(gs);
  ir_graph_free(gd);
}

Test(sparse_conv, pointwise_matches_dense) {
  Case cs[] = {
      {1, 64, 8, 8, 32, 1, 0, 0.1, true, false},   /* 64 pixels: whole chunks */
      {2, 48, 7, 9, 40, 1, 0, 0.2, false, true},   /* 63 pixels: a masked chunk, 2 images */
      {1, 96, 14, 14, 70, 1, 0, 0.1, true, true},  /* 196 pixels */
      {1, 64, 3, 5, 16, 1, 0, 0.15, true, false},  /* fewer pixels than a vector */
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check(&cs[i], true, true);
}

Test(sparse_conv, kxk_matches_dense) {
  Case cs[] = {
      {1, 32, 14, 14, 24, 3, 1, 0.1, true, true},  /* 3×3 same padding */
      {2, 40, 9, 11, 20, 3, 1, 0.2, false, false}, /* odd sizes, 2 images */
      {1, 24, 10, 10, 16, 3, 0, 0.2, true, false}, /* valid */
      {1, 16, 12, 7, 40, 5, 2, 0.1, true, true},   /* 5×5 */
      {1, 64, 6, 6, 64, 1, 1, 0.1, true, false},   /* 1×1 padded: the k×k path */
  };
  for (size_t i = 0; i < sizeof cs / sizeof cs[0]; i++) check(&cs[i], true, true);
}

/* enough work for tasks over blocks and output-channel groups */
Test(sparse_conv, threads_split) {
  Case a = {1, 256, 28, 28, 128, 1, 0, 0.1, true, true}, b = {1, 128, 28, 28, 96, 3, 1, 0.1, true, false};
  check(&a, false, true);
  check(&b, false, true);
}

/* dense weights are not marked; half-dense ones are but stay dense (cost model); 90% sparse pays
 * for ResNet-50's 1×1 and (even against Winograd) 3×3 shapes */
Test(sparse_conv, cost_model) {
  Case d = {1, 32, 8, 8, 32, 1, 0, 1.0, true, false};
  check(&d, false, false);
  cr_assert(conv_sparse_pays(256, 1024, 1, 196, 224, 256 * 1024 / 10, 16, false));
  cr_assert(conv_sparse_pays(512, 512, 9, 49, 64, 512 * 512 * 9 / 10, 16, true));
  cr_assert(!conv_sparse_pays(128, 128, 9, 784, 1008, 128 * 128 * 9 / 5, 16, true));
  cr_assert(conv_sparse_pays(256, 1024, 1, 196, 196, 256 * 1024 / 5, 16, false), "80%% zeros pays for 1×1");
  cr_assert(!conv_sparse_pays(256, 1024, 1, 196, 224, 256 * 1024 / 3, 16, false));
  cr_assert(!conv_sparse_pays(256, 1024, 1, 196, 224, 256 * 1024 / 2, 16, false));
  cr_assert(!conv_sparse_pays(256, 256, 9, 196, 224, 256 * 256 * 9 / 3, 16, true));
}
