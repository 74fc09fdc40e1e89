/* test_sparse_q8.c — the sparse int8 matmuls (backend/gen/gen_sparse_q8.c through gen_quant_mm.c):
 * MatMulInteger, QLinearMatMul and QMatMul (float and 8-bit out) with a mostly-zero constant int8
 * weight (unstructured 90%, 1×16 blocks, 2:4, empty columns) give the dense int8 kernel's results bit
 * for bit and the exact integer sums, with 1 and 2 threads, rows, K and N with remainders (other
 * targets: tests/prune/sparse_q8_test.py, the C emitter and aarch64); the cost rule takes sparse
 * weights and keeps dense ones dense. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "gen_sparse_q8.h"
#include "passes.h"
#include "testutil.h"

enum { U90, B16, NM24, ZCOLS, DENSE };

static uint32_t rng = 4321;
static uint32_t rnd(void) { return rng = rng * 1664525u + 1013904223u; }

static void weight(int kind, int K, int N, int8_t *b) {
  for (int k = 0; k < K; k++)
    for (int n = 0; n < N; n++) {
      int8_t x = (int8_t)((int)(rnd() % 255) - 127);
      bool keep = true;
      if (kind == U90) keep = rnd() % 10 == 0;
      if (kind == B16) keep = ((k * 7 + (n / 16) * 13) % 5) == 0;
      if (kind == NM24) keep = k % 4 == n % 4 || k % 4 == (n + 1) % 4;
      if (kind == ZCOLS) keep = n % 3 == 0 && rnd() % 2;
      b[k * N + n] = keep ? x : 0;
    }
}

typedef struct Run {
  Graph *g;
  Node *mi, *ql, *qf, *qq;
  void *out[4];
} Run;

static Value *cst(Graph *g, DType dt, int rank, const int64_t *dims, const void *data) {
  Value *v = ir_const_new(g, NULL, dt, rank, dims);
  memcpy(v->data, data, (size_t)ir_value_numel(v) * dtype_size(dt));
  return v;
}

static const uint8_t *A;
static uint8_t ZA;
static const int8_t *B;
static float SA = 0.021f, SB[256], BIAS[256];

/* the four ops on one weight; sparse: marked by the pass and forced to the sparse kernel */
static void build_run(Run *r, int M, int K, int N, bool sparse, bool marked, const char *target, int threads) {
  Graph *g = r->g = ir_graph_new();
  g->opset = 17;
  int64_t da[2] = {M, K}, db[2] = {K, N}, dn = N;
  int8_t zb[256] = {0}, zy = -5;
  float sy = 0.9f;
  Value *av = tu_input(g, "a", DT_UINT8, 2, da), *sav = tu_input(g, "sa", DT_FLOAT, 0, NULL), *zav = tu_input(g, "za", DT_UINT8, 0, NULL);
  Value *bc = cst(g, DT_INT8, 2, db, B), *zbv = cst(g, DT_INT8, 1, &dn, zb), *sbv = cst(g, DT_FLOAT, 1, &dn, SB);
  Value *bv = cst(g, DT_FLOAT, 1, &dn, BIAS), *syv = cst(g, DT_FLOAT, 0, NULL, &sy), *zyv = cst(g, DT_INT8, 0, NULL, &zy);
  r->mi = tu_node_n(g, OP_MatMulInteger, 4, (Value *[]){av, bc, zav, zbv}, 1);
  r->ql = tu_node_n(g, OP_QLinearMatMul, 8, (Value *[]){av, sav, zav, bc, sbv, zbv, syv, zyv}, 1);
  r->qf = tu_node_n(g, OP_QMatMul, 7, (Value *[]){av, sav, zav, bc, sbv, zbv, bv}, 1);
  r->qq = tu_node_n(g, OP_QMatMul, 9, (Value *[]){av, sav, zav, bc, sbv, zbv, bv, syv, zyv}, 1);
  Node *ns[4] = {r->mi, r->ql, r->qf, r->qq};
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(ir_infer_node(g, ns[i]), 0, "%s", ir_last_error(g));
    tu_output(g, ns[i]->out[0]);
    r->out[i] = calloc((size_t)M * (size_t)N, 4);
  }
  if (sparse) pass_sparse_q8(g);
  for (int i = 0; i < 4; i++) {
    cr_assert_eq(ns[i]->sparse, sparse && marked, "marked %d", ns[i]->sparse);
    ns[i]->sparse = sparse; /* a dense weight through the sparse kernel too */
  }
  char err[512];
  BeOptions o = {.target = target, .opt_level = 3};
  sq8_force(sparse);
  BeModel *m = be_jit(g, &o, err, sizeof err);
  sq8_force(false);
  cr_assert_not_null(m, "%s", err);
  be_set_threads(m, threads);
  const void *in[3] = {A, &SA, &ZA};
  cr_assert_eq(be_run(m, in, r->out, err, sizeof err), 0, "%s", err);
  be_free(m);
}

static void free_run(Run *r) {
  for (int i = 0; i < 4; i++) free(r->out[i]);
  ir_graph_free(r->g);
}

static void check(int kind, int M, int K, int N, const char *target) {
  uint8_t *a = malloc((size_t)(M * K));
  int8_t *b = malloc((size_t)(K * N));
  for (int i = 0; i < M * K; i++) a[i] = (uint8_t)rnd();
  weight(kind, K, N, b);
  for (int j = 0; j < N; j++) SB[j] = 0.001f + (float)(rnd() % 1000) * 1e-5f, BIAS[j] = (float)(rnd() % 400) * 0.01f - 2;
  A = a, B = b, ZA = (uint8_t)(rnd() % 200 + 20);
  for (int th = 1; th <= 2; th++) {
    Run s, d;
    build_run(&s, M, K, N, true, kind != DENSE, target, th);
    build_run(&d, M, K, N, false, false, target, th);
    const int32_t *y = s.out[0];
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        int32_t ref = 0;
        for (int k = 0; k < K; k++) ref += (a[i * K + k] - ZA) * b[k * N + j];
        cr_assert_eq(y[i * N + j], ref, "kind %d %dx%dx%d %s th %d: MatMulInteger (%d,%d) %d, want %d", kind, M, K, N,
                     target ? target : "native", th, i, j, y[i * N + j], ref);
      }
    /* the epilogue is the dense kernel's: identical bytes */
    size_t sz[4] = {4, 1, 4, 1};
    for (int o = 0; o < 4; o++)
      cr_assert(!memcmp(s.out[o], d.out[o], sz[o] * (size_t)(M * N)), "kind %d %dx%dx%d %s th %d: output %d differs from dense",
                kind, M, K, N, target ? target : "native", th, o);
    free_run(&s);
    free_run(&d);
  }
  free(a);
  free(b);
}

Test(sparse_q8, matches_dense_and_exact_sums) {
  static const int shapes[][3] = {{40, 128, 48}, {13, 200, 37}, {7, 64, 16}, {1, 100, 100}, {25, 300, 33}};
  for (int kind = U90; kind <= DENSE; kind++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) check(kind, shapes[s][0], shapes[s][1], shapes[s][2], NULL);
}

/* the cost rule: a target with vpermb takes 90% unstructured and 1×16 blocks at BERT's shapes,
 * keeps a dense weight dense, and a target without a 64-byte lookup stays dense */
Test(sparse_q8, cost_rule) {
  Target t = {.vector_bytes = 64, .has_avx512 = true, .has_vnni = true, .has_vbmi = true}, t2 = {.vector_bytes = 32, .has_avx2 = true};
  int K = 768, N = 768;
  int8_t *b = malloc((size_t)(K * N));
  SpQ8Cost c;
  char why[160];
  for (int kind = U90; kind <= DENSE; kind++) {
    weight(kind, K, N, b);
    sq8_cost(&t, b, K, N, &c);
    bool want = kind == U90 || kind == B16;
    cr_assert_eq(c.pays, want, "kind %d: %lld steps of %lld groups", kind, (long long)c.steps, (long long)c.groups);
    sq8_explain(&t, b, K, N, why, sizeof why);
    cr_assert_eq(strncmp(why, "sparse int8", 11) == 0, want, "kind %d: %s", kind, why);
    sq8_cost(&t2, b, K, N, &c);
    cr_assert(!c.pays, "kind %d on AVX2", kind);
  }
  free(b);
}
