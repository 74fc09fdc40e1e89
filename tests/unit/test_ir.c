/* test_ir.c — graph construction, toposort, checked size arithmetic. */
#include <criterion/criterion.h>

#include "testutil.h"

Test(ir, op_table_lookup) {
  cr_assert_eq(ir_op_lookup("Conv"), OP_Conv);
  cr_assert_eq(ir_op_lookup("NoSuchOp"), OP_COUNT);
  cr_assert_str_eq(ir_ops[OP_MatMul].name, "MatMul");
  cr_assert_eq(ir_ops[OP_Add].family, F_BINARY);
}

Test(ir, numel_overflow_is_caught) {
  int64_t dims[3] = {1LL << 40, 1LL << 30, 2}, n;
  cr_assert_not(ir_numel_ok(3, dims, &n));
  int64_t ok[3] = {2, 3, 4};
  cr_assert(ir_numel_ok(3, ok, &n));
  cr_assert_eq(n, 24);
  int64_t neg[2] = {2, -1};
  cr_assert_not(ir_numel_ok(2, neg, &n));
}

Test(ir, toposort_orders_and_detects_cycles) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {4};
  Value *x = tu_input(g, "x", DT_FLOAT, 1, d);
  /* build b = Relu(a), a = Neg(x), inserted in the wrong order */
  Node *relu = ir_node_new(g, OP_Relu, "relu", 1, 1);
  Node *neg = ir_node_new(g, OP_Neg, "neg", 1, 1);
  Value *a = ir_value_new(g, "a"), *b = ir_value_new(g, "b");
  neg->in[0] = x;
  neg->out[0] = a;
  a->producer = neg;
  relu->in[0] = a;
  relu->out[0] = b;
  b->producer = relu;
  cr_assert_eq(ir_graph_toposort(g), 0);
  cr_assert_eq(g->nodes[0], neg);
  cr_assert_eq(g->nodes[1], relu);
  neg->in[0] = b; /* cycle */
  cr_assert_eq(ir_graph_toposort(g), -1);
  cr_assert(strstr(ir_last_error(g), "cycle") != NULL);
  ir_graph_free(g);
}

Test(ir, const_access_converts) {
  Graph *g = ir_graph_new();
  int64_t d[1] = {3};
  Value *c = ir_const_new(g, "c", DT_FLOAT16, 1, d);
  ir_store_f64(DT_FLOAT16, c->data, 0, 1.5);
  ir_store_f64(DT_FLOAT16, c->data, 1, -2.0);
  ir_store_f64(DT_FLOAT16, c->data, 2, 65504.0);
  cr_assert_float_eq(ir_const_f64(c, 0), 1.5, 0);
  cr_assert_float_eq(ir_const_f64(c, 1), -2.0, 0);
  cr_assert_float_eq(ir_const_f64(c, 2), 65504.0, 0);
  ir_graph_free(g);
}
