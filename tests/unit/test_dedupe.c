/* test_dedupe.c — nodes whose kernels have identical code share one compiled kernel (kb_kernel_end),
 * even when their weights differ, and every node still computes its own result. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "be.h"
#include "testutil.h"

static void set(Value *v, int rank, const int64_t *dims) {
  v->dtype = DT_FLOAT;
  ir_value_set_shape(v, rank, dims);
}

/* y_i = Relu(x @ W_i) for three different constant W_i of one shape, plus z = Relu(x @ V) with
 * V of another shape: the three MatMuls (their packed weights differ) and their Relus share
 * code; z's kernels do not. */
Test(dedupe, same_shape_nodes_share_kernels) {
  enum { M = 5, K = 19, N = 7, N2 = 9, NW = 3 };
  Graph *g = ir_graph_new();
  int64_t dx[2] = {M, K}, dw[2] = {K, N}, dy[2] = {M, N}, dv[2] = {K, N2}, dz[2] = {M, N2};
  Value *x = tu_input(g, "x", DT_FLOAT, 2, dx);
  float W[NW][K * N], V[K * N2], X[M * K];
  for (int i = 0; i < M * K; i++) X[i] = (float)((i * 7) % 11) - 5.0f;
  for (int w = 0; w < NW; w++)
    for (int i = 0; i < K * N; i++) W[w][i] = (float)(((i + 3 * w) * 13) % 17) * 0.25f - 2.0f + (float)w;
  for (int i = 0; i < K * N2; i++) V[i] = (float)((i * 5) % 9) - 4.0f;
  for (int w = 0; w < NW; w++) {
    Value *ins[2] = {x, tu_const_f32(g, w == 0 ? "w0" : w == 1 ? "w1" : "w2", 2, dw, W[w])};
    Value *mm = tu_node(g, OP_MatMul, 2, ins);
    set(mm, 2, dy);
    Value *y = tu_node(g, OP_Relu, 1, &mm);
    set(y, 2, dy);
    tu_output(g, y);
  }
  Value *vins[2] = {x, tu_const_f32(g, "v", 2, dv, V)};
  Value *mv = tu_node(g, OP_MatMul, 2, vins);
  set(mv, 2, dz);
  Value *z = tu_node(g, OP_Relu, 1, &mv);
  set(z, 2, dz);
  tu_output(g, z);
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  int shared, kernels = be_model_kernels(m, &shared);
  cr_assert_eq(kernels, 2 * (NW + 1), "kernels %d", kernels);
  cr_assert_eq(shared, 2 * (NW - 1), "%d of %d kernels shared, expected %d", shared, kernels, 2 * (NW - 1));
  float Y[NW][M * N], Z[M * N2];
  const void *inp[1] = {X};
  void *outp[NW + 1] = {Y[0], Y[1], Y[2], Z};
  cr_assert_eq(be_run(m, inp, outp, err, sizeof err), 0, "%s", err);
  for (int w = 0; w <= NW; w++) {
    int n = w < NW ? N : N2;
    const float *B = w < NW ? W[w] : V;
    const float *out = w < NW ? Y[w] : Z;
    for (int i = 0; i < M; i++)
      for (int j = 0; j < n; j++) {
        double acc = 0;
        for (int k = 0; k < K; k++) acc += (double)X[i * K + k] * B[k * n + j];
        double ref = acc > 0 ? acc : 0;
        cr_assert(fabs(out[i * n + j] - ref) <= 1e-4 * (1 + fabs(ref)), "output %d [%d,%d]: %f vs %f", w, i, j,
                  out[i * n + j], ref);
      }
  }
  be_free(m);
  ir_graph_free(g);
}
