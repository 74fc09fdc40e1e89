/* test_keys.c — nodes whose generator would read the same things (module_key.c) take an earlier
 * node's kernel without being generated, while nodes whose small constants differ in content get
 * their own: y = x + c_0 + c_1 + ... with c_i alternating between two contents, each its own Value. */
#include <criterion/criterion.h>
#include <math.h>

#include "be.h"
#include "testutil.h"

Test(keys, chain_of_like_nodes_is_keyed) {
  enum { W = 8, NODES = 60 };
  Graph *g = ir_graph_new();
  int64_t d[2] = {1, W};
  float A[W], B[W], X[W], ref[W];
  for (int j = 0; j < W; j++) A[j] = 0.25f * (float)j, B[j] = -0.5f + (float)j, X[j] = (float)j - 3.0f;
  Value *y = tu_input(g, "x", DT_FLOAT, 2, d);
  for (int j = 0; j < W; j++) ref[j] = X[j];
  for (int i = 0; i < NODES; i++) {
    const float *c = i % 2 ? B : A;
    Value *ins[2] = {y, tu_const_f32(g, arena_printf(g->arena, "c%d", i), 2, d, c)};
    y = tu_node(g, OP_Add, 2, ins);
    y->dtype = DT_FLOAT;
    ir_value_set_shape(y, 2, d);
    for (int j = 0; j < W; j++) ref[j] += c[j];
  }
  tu_output(g, y);
  char err[512];
  BeModel *m = be_jit(g, NULL, err, sizeof err);
  cr_assert_not_null(m, "%s", err);
  int shared, kernels = be_model_kernels(m, &shared), keyed = be_model_kernels_keyed(m);
  cr_assert_eq(kernels, NODES);
  cr_assert_geq(keyed, NODES - 6, "%d of %d kernels found before generation", keyed, kernels);
  cr_assert_leq(keyed, shared);
  float Y[W];
  const void *inp[1] = {X};
  void *outp[1] = {Y};
  cr_assert_eq(be_run(m, inp, outp, err, sizeof err), 0, "%s", err);
  for (int j = 0; j < W; j++) cr_assert(fabsf(Y[j] - ref[j]) <= 1e-4f * (1 + fabsf(ref[j])), "y[%d] = %f, expected %f", j, Y[j], ref[j]);
  be_free(m);
  ir_graph_free(g);
}
