/* test_sparse.c — the sparse pass (passes/sparse.c) and kernels (backend/gen/gen_sparse.c): a
 * MatMul/Gemm with a mostly-zero constant weight (unstructured, 1×4 blocks, 2:4) and its fused
 * epilogue gives the dense engine's results, with 1 and 2 threads, on shapes with remainders in
 * M, N and K; the cost model keeps dense weights dense. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "gen_contract.h"
#include "passes.h"
#include "testutil.h"

enum { U90, B80, NM24, ZERO_COLS, DENSE, NM24R, SKEW };

static uint32_t rs = 99;
static float rnd(void) {
  rs = rs * 1664525u + 1013904223u;
  return (float)(rs >> 8) / (float)(1u << 24) * 2.0f - 1.0f;
}

/* B(k, n) of a structure, K × N row-major */
static float *weight(int kind, int64_t K, int64_t N) {
  float *w = malloc(sizeof(float) * (size_t)(K * N));
  for (int64_t k = 0; k < K; k++)
    for (int64_t n = 0; n < N; n++) {
      float x = rnd();
      bool keep = true;
      if (kind == U90) keep = rnd() > 0.8f;
      if (kind == B80) keep = ((k * 7 + (n / 4) * 13) % 5) == 0;
      if (kind == NM24) keep = (k % 4) == (n % 4) || (k % 4) == ((n + 1) % 4);
      if (kind == ZERO_COLS) keep = n % 3 == 0 && rnd() > 0.5f;
      if (kind == NM24R) { /* two of each four along k, chosen per column and group as magnitude pruning would */
        uint32_t h = (uint32_t)(k / 4) * 2654435761u ^ (uint32_t)n * 40503u;
        h ^= h >> 13, h *= 0x5bd1e995u, h ^= h >> 15;
        int a = (int)(h % 4), b = (a + 1 + (int)(h / 4 % 3)) % 4;
        keep = k % 4 == a || k % 4 == b;
      }
      if (kind == SKEW) /* pairs whose one-column rows are all the first column's */
        keep = n % 2 == 0 ? k % 4 != 3 : k % 4 == (k / 4 + n / 2) % 3;
      w[k * N + n] = keep ? x : 0.0f;
    }
  return w;
}

typedef struct Case {
  int kind;
  int64_t M, K, N;
  bool gemm; /* Gemm transB alpha/bias; else MatMul (rank-3 A) + Add bias + Relu + Add residual */
} Case;

static float *inputs[2];

/* the case's graph; out: its output value */
static Graph *build(const Case *c, Value **out) {
  Graph *g = ir_graph_new();
  g->opset = 17;
  rs = 7;
  float *w = weight(c->kind, c->K, c->N);
  float *bias = malloc(sizeof(float) * (size_t)c->N);
  for (int64_t n = 0; n < c->N; n++) bias[n] = rnd();
  Value *y;
  if (c->gemm) {
    int64_t ad[2] = {c->M, c->K}, wd[2] = {c->N, c->K}, bd[1] = {c->N};
    float *wt = malloc(sizeof(float) * (size_t)(c->K * c->N));
    for (int64_t k = 0; k < c->K; k++)
      for (int64_t n = 0; n < c->N; n++) wt[n * c->K + k] = w[k * c->N + n];
    Value *ins[3] = {tu_input(g, "a", DT_FLOAT, 2, ad), tu_const_f32(g, "w", 2, wd, wt), tu_const_f32(g, "b", 1, bd, bias)};
    Node *n = tu_node_n(g, OP_Gemm, 3, ins, 1);
    tu_attr_int(g, n, "transB", 1);
    tu_attr_float(g, n, "alpha", 0.5f);
    y = n->out[0];
    free(wt);
  } else {
    int64_t ad[3] = {1, c->M, c->K}, wd[2] = {c->K, c->N}, bd[1] = {c->N}, rd[3] = {1, c->M, c->N};
    Value *a = tu_input(g, "a", DT_FLOAT, 3, ad), *r = tu_input(g, "r", DT_FLOAT, 3, rd);
    Value *mm = tu_node(g, OP_MatMul, 2, (Value *[]){a, tu_const_f32(g, "w", 2, wd, w)});
    Value *ab = tu_node(g, OP_Add, 2, (Value *[]){mm, tu_const_f32(g, "b", 1, bd, bias)});
    Value *re = tu_node(g, OP_Relu, 1, &ab);
    y = tu_node(g, OP_Add, 2, (Value *[]){re, r});
  }
  tu_output(g, y);
  free(w);
  free(bias);
  *out = y;
  return g;
}

/* runs the case with the sparse pass on (kernel forced when force) and off: same results */
static void check(const Case *c, bool force) {
  Value *ys, *yd;
  Graph *gs = build(c, &ys), *gd = build(c, &yd);
  PassOptions on = {0}, off = {.disable = "sparse"};
  cr_assert_eq(pass_run_all(gs, &on), 0, "%s", ir_last_error(gs));
  cr_assert_eq(pass_run_all(gd, &off), 0, "%s", ir_last_error(gd));
  bool marked = false;
  for (int i = 0; i < gs->nnodes; i++) marked |= gs->nodes[i]->sparse;
  cr_assert_eq(marked, c->kind != DENSE, "kind %d: marked %d", c->kind, marked);
  for (int i = 0; i < gd->nnodes; i++) cr_assert(!gd->nodes[i]->sparse);
  char err[512];
  gemm_sparse_force(force);
  BeModel *ms = be_jit(gs, NULL, err, sizeof err);
  gemm_sparse_force(false);
  cr_assert_not_null(ms, "%s", err);
  BeModel *md = be_jit(gd, NULL, err, sizeof err);
  cr_assert_not_null(md, "%s", err);
  int64_t na = c->M * c->K, ny = c->M * c->N;
  for (int i = 0; i < 2; i++) {
    inputs[i] = realloc(inputs[i], sizeof(float) * (size_t)(i ? ny : na));
    for (int64_t j = 0; j < (i ? ny : na); j++) inputs[i][j] = rnd();
  }
  float *os = malloc(sizeof(float) * (size_t)ny), *od = malloc(sizeof(float) * (size_t)ny);
  for (int th = 1; th <= 2; th++) {
    be_set_threads(ms, th);
    be_set_threads(md, th);
    memset(os, 0x7f, sizeof(float) * (size_t)ny);
    cr_assert_eq(be_run(ms, (const void *const *)inputs, (void *const[]){os}, err, sizeof err), 0, "%s", err);
    cr_assert_eq(be_run(md, (const void *const *)inputs, (void *const[]){od}, err, sizeof err), 0, "%s", err);
    for (int64_t j = 0; j < ny; j++)
      cr_assert(fabsf(os[j] - od[j]) <= 1e-5f * (fabsf(od[j]) + 1.0f), "kind %d M=%lld K=%lld N=%lld gemm=%d threads %d: [%lld] %g vs %g",
                c->kind, (long long)c->M, (long long)c->K, (long long)c->N, c->gemm, th, (long long)j, os[j], od[j]);
  }
  free(os);
  free(od);
  be_free(ms);
  be_free(md);
  ir_graph_free(gs);
  ir_graph_free(gd);
}

Test(sparse, matches_dense_all_structures_and_remainders) {
  static const int64_t shapes[][3] = {{37, 50, 45}, {16, 64, 32}, {130, 96, 70}, {5, 200, 9}};
  for (int kind = U90; kind <= ZERO_COLS; kind++)
    for (int s = 0; s < 4; s++)
      for (int gm = 0; gm < 2; gm++) {
        Case c = {kind, shapes[s][0], shapes[s][1], shapes[s][2], gm};
        check(&c, true);
      }
}

/* enough work for a parallel split over M blocks and column groups */
Test(sparse, threads_split) {
  Case c1 = {U90, 200, 300, 257, false}, c2 = {NM24, 128, 256, 300, true}, c3 = {B80, 300, 129, 130, false};
  check(&c1, true);
  check(&c2, true);
  check(&c3, false);
}

/* the pass leaves dense weights alone; the cost model: BERT's linears at 90% and 80% in 1×16
 * blocks run sparse, 2:4 (half the values, no shared rows) and dense do not */
Test(sparse, cost_model) {
  Case c = {DENSE, 37, 64, 45, false};
  check(&c, false);
  cr_assert(gemm_sparse_pays(128, 768, 768, 768 * 768 / 10, 1, 16));
  cr_assert(gemm_sparse_pays(128, 3072, 768, 3072 * 768 / 5, 4, 16));
  cr_assert(!gemm_sparse_pays(128, 768, 768, 768 * 768 / 2, 1, 16));
  cr_assert(!gemm_sparse_pays(128, 768, 768, 768 * 768, 1, 16));
  cr_assert(!gemm_sparse_pays(1, 768, 768, 768 * 768 / 10, 1, 16), "one row fills one lane of 16");
}

/* 2:4 (dense pattern, arbitrary per column like magnitude pruning's): two columns share the union of
 * their rows (G = 2, 3/4 of the AT loads of one column at a time) and that pays on BERT's shapes;
 * alone (G = 1) it does not */
Test(sparse, two_four_in_pairs) {
  int64_t K = 768, N = 768;
  float *w = malloc(sizeof(float) * (size_t)(K * N));
  rs = 11;
  for (int64_t n = 0; n < N; n++)
    for (int64_t k0 = 0; k0 < K; k0 += 4) {
      int a = (int)(rnd() * 2 + 2) % 4, b = (a + 1 + (int)((rnd() + 1) * 1.5f) % 3) % 4; /* two of four */
      for (int64_t k = k0; k < k0 + 4; k++) w[k * N + n] = (k - k0 == a || k - k0 == b) ? rnd() : 0.0f;
    }
  char why[128];
  gemm_sparse_explain(w, 128, K, N, N, 1, 16, why, sizeof why);
  cr_assert_str_eq(why, "sparse csc-2 split k-blocks of 64");
  cr_assert(gemm_sparse_pays(128, 768, 768, 768 * 768 * 3 / 4, 2, 16));
  cr_assert(gemm_sparse_pays(128, 3072, 768, 3072 * 768 * 3 / 4, 2, 16));
  cr_assert(!gemm_sparse_pays(128, 768, 768, 768 * 768 * 3 / 4, 1, 16));
  cr_assert(!gemm_sparse_pays(32, 768, 768, 768 * 768 * 3 / 4, 2, 16), "two row vectors: dense is faster");
  free(w);
}

/* split pairs (2:4-like dense patterns: rows of both columns, of the first only, of the second
 * only) on k-blocks and a K tail: magnitude-style 2:4, and a pattern whose one-column rows all
 * belong to the first column (the second column's segment empty in every group) */
Test(sparse, split_pairs_uneven) {
  int64_t K = 200, N = 40;
  rs = 7;
  float *w = weight(SKEW, K, N);
  char why[128];
  gemm_sparse_explain(w, 128, K, N, N, 1, 16, why, sizeof why);
  cr_assert(strstr(why, "csc-2 split"), "%s", why);
  free(w);
  static const int64_t shapes[][3] = {{128, 200, 40}, {37, 50, 45}, {130, 771, 70}};
  for (int kind = NM24R; kind <= SKEW; kind++)
    for (int s = 0; s < 3; s++)
      for (int gm = 0; gm < 2; gm++) {
        Case c = {kind, shapes[s][0], shapes[s][1], shapes[s][2], gm};
        check(&c, true);
      }
}

/* the structure report */
Test(sparse, analyze) {
  int kinds[] = {U90, B80, NM24};
  const char *want[] = {"unstructured", "block:1x4", "2:4"};
  for (int i = 0; i < 3; i++) {
    rs = 7;
    int64_t K = 64, N = 48, d[2] = {K, N};
    float *w = weight(kinds[i], K, N);
    Graph *g = ir_graph_new();
    Value *v = tu_const_f32(g, "w", 2, d, w);
    SparseInfo si;
    pass_sparse_analyze(v, K, N, N, 1, &si);
    cr_assert_str_eq(si.structure, want[i]);
    cr_assert(si.sparsity > 0.45 && si.nnz > 0);
    free(w);
    ir_graph_free(g);
  }
}

/* 2:4 chosen per column (pairs then have rows with both, only the first and only the second column
 * nonzero: the split kernel's three row loops), with tails in M, N and K, k-blocked (K > 64 rows of
 * 128-row blocks), Gemm and MatMul epilogues, 1 and 2 threads: the dense engine's results */
Test(sparse, two_four_split_matches_dense) {
  Case c1 = {NM24R, 130, 200, 70, false}, c2 = {NM24R, 64, 136, 33, true}, c3 = {NM24R, 128, 768, 96, false};
  check(&c1, true);
  check(&c2, true);
  check(&c3, false);
  rs = 3;
  float *w = weight(NM24R, 768, 96);
  char why[128];
  gemm_sparse_explain(w, 128, 768, 96, 96, 1, 16, why, sizeof why);
  cr_assert_str_eq(why, "sparse csc-2 split k-blocks of 64");
  free(w);
}

/* AT beyond SP_SUPER_BYTES (BERT's FFN-down, K = 3072: 1.5 MB at 128 rows) runs in super-blocks of
 * k-blocks over all the task's column chunks, CT holding them; a short last super-block, K and N
 * tails, M tails and two row blocks (130 rows), 64-row blocks (Gemm), 1 and 2 threads: the dense
 * engine's results (measured +4% GFLOP/s in CPU time, 128 × 768 × 3072 2:4, bench_gemm) */
Test(sparse, two_four_super_blocks) {
  rs = 3;
  float *w = weight(NM24R, 3072, 768);
  char why[128];
  gemm_sparse_explain(w, 128, 3072, 768, 768, 1, 16, why, sizeof why);
  cr_assert_str_eq(why, "sparse csc-2 split k-blocks of 64 in super-blocks of 16");
  gemm_sparse_explain(w, 128, 768, 768, 768, 1, 16, why, sizeof why); /* 384 KB: none */
  cr_assert_str_eq(why, "sparse csc-2 split k-blocks of 64");
  free(w);
  Case c1 = {NM24R, 130, 2100, 70, false}, c2 = {NM24R, 64, 2100, 45, true};
  check(&c1, true);
  check(&c2, true);
}

/* The weights stream from DRAM every run, so the packed 2:4 form is compact: split pairs store only
 * the nonzeros (4 bytes each: 2 per dense weight) and each row's place in its k-block of AT in a byte
 * (0.375 rows per dense weight), under 2.7 bytes per dense weight with the segment pointers (was
 * 4.6: i32 offsets and both columns' values on every row, more than dense fp32's 4); and the kernel
 * prefetches the weight streams ahead */
Test(sparse, two_four_packed_compact) {
  int64_t K = 768, N = 768;
  rs = 5;
  float *w = weight(NM24R, K, N);
  int64_t bytes = gemm_sparse_packed_bytes(w, 128, K, N, N, 1, 16);
  cr_assert(bytes > 2 * K * N && bytes <= 27 * K * N / 10, "2:4 768x768 packed in %lld bytes (%.2f per weight)",
            (long long)bytes, (double)bytes / (double)(K * N));
  free(w);
  Case c = {NM24R, 128, 768, 96, true};
  check(&c, false);
  rs = 7; /* build's weight */
  w = weight(NM24R, c.K, c.N);
  char why[128];
  gemm_sparse_explain(w, c.M, c.K, c.N, c.N, 1, 16, why, sizeof why);
  cr_assert(strstr(why, "sparse csc-2 split"), "%s", why);
  free(w);
  Value *y;
  Graph *g = build(&c, &y);
  PassOptions on = {0};
  cr_assert_eq(pass_run_all(g, &on), 0, "%s", ir_last_error(g));
  const char *pf = "llvm.prefetch";
  char err[512];
  int hits = tu_emit_count(g, 0, "llvm", 1, &pf, err, sizeof err);
  cr_assert(hits > 0, "the sparse kernel prefetches its weight streams (%d, %s)", hits, err);
  ir_graph_free(g);
}
