/* test_backend.c — JIT end to end on hand-built graphs, checked against naive C loops. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "be.h"
#include "testutil.h"

static void set(Value *v, DType t, int rank, const int64_t *dims) {
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
}

/* y = Relu(a + b) with b broadcast over rows; odd sizes exercise the masked tail */
Test(backend, add_broadcast_relu) {
  for (int64_t cols = 1; cols <= 67; cols += 11) {
    Graph *g = ir_graph_new();
    int64_t da[2] = {5, cols}, db[1] = {cols};
    Value *a = tu_input(g, "a", DT_FLOAT, 2, da);
    Value *b = tu_input(g, "b", DT_FLOAT, 1, db);
    Value *ins[2] = {a, b};
    Value *s = tu_node(g, OP_Add, 2, ins);
    set(s, DT_FLOAT, 2, da);
    Value *y = tu_node(g, OP_Relu, 1, &s);
    set(y, DT_FLOAT, 2, da);
    tu_output(g, y);
    char err[512];
    BeModel *m = be_jit(g, NULL, err, sizeof err);
    cr_assert_not_null(m, "%s", err);
    float *A = malloc(sizeof(float) * 5 * cols), *B = malloc(sizeof(float) * cols),
          *Y = malloc(sizeof(float) * 5 * cols);
    for (int i = 0; i < 5 * cols; i++) A[i] = (float)((i * 37) % 19) - 9.0f;
    for (int i = 0; i < cols; i++) B[i] = (float)(i % 7) - 3.0f;
    const void *inp[2] = {A, B};
    void *outp[1] = {Y};
    cr_assert_eq(be_run(m, inp, outp, err, sizeof err), 0, "%s", err);
    for (int i = 0; i < 5 * cols; i++) {
      float ref = fmaxf(A[i] + B[i % cols], 0.0f);
      cr_assert_float_eq(Y[i], ref, 0, "cols=%lld i=%d: %f vs %f", (long long)cols, i, Y[i], ref);
    }
    be_free(m);
    free(A);
    free(B);
    free(Y);
    ir_graph_free(g);
  }
}

/* a long contiguous add is split over threads; result must not depend on the thread count */
Test(backend, parallel_split_matches) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {100003};
  Value *a = tu_input(g, "a", DT_FLOAT, 1, d);
  Value *b = tu_input(g, "b", DT_FLOAT, 1, d);
  Value *ins[2] = {a, b};
  Value *y = tu_node(g, OP_Mul, 2, ins);
  set(y, DT_FLOAT, 1, d);
  tu_output(g, y);
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  float *A = malloc(sizeof(float) * d[0]), *B = malloc(sizeof(float) * d[0]), *Y = calloc((size_t)d[0], sizeof(float));
  for (int64_t i = 0; i < d[0]; i++) A[i] = (float)i * 0.5f, B[i] = (float)(i % 13);
  const void *inp[2] = {A, B};
  void *outp[1] = {Y};
  be_set_threads(m, 2);
  cr_assert_eq(be_run(m, inp, outp, err, sizeof err), 0, "%s", err);
  for (int64_t i = 0; i < d[0]; i++) cr_assert_float_eq(Y[i], A[i] * B[i], 0, "i=%lld", (long long)i);
  be_free(m);
  free(A);
  free(B);
  free(Y);
  ir_graph_free(g);
}

/* an output that is a graph input gets a copy; int64 arithmetic with a constant */
Test(backend, int64_const_and_passthrough_output) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {9};
  Value *a = tu_input(g, "a", DT_INT64, 1, d);
  Value *k = ir_const_new(g, "k", DT_INT64, 1, d);
  for (int i = 0; i < 9; i++) ((int64_t *)k->data)[i] = 1000 + i;
  Value *ins[2] = {a, k};
  Value *y = tu_node(g, OP_Sub, 2, ins);
  set(y, DT_INT64, 1, d);
  tu_output(g, y);
  tu_output(g, a);
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  int64_t A[9], Y[9], A2[9];
  for (int i = 0; i < 9; i++) A[i] = (int64_t)i * 3000000000LL;
  const void *inp[1] = {A};
  void *outp[2] = {Y, A2};
  cr_assert_eq(be_run(m, inp, outp, err, sizeof err), 0, "%s", err);
  for (int i = 0; i < 9; i++) {
    cr_assert_eq(Y[i], A[i] - (1000 + i));
    cr_assert_eq(A2[i], A[i]);
  }
  be_free(m);
  ir_graph_free(g);
}
