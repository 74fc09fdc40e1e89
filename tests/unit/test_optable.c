/* test_optable.c — ops.def is consistent: every row names its stages' functions, its input masks
 * fit its arity, its fusion flags fit its family; and the table-driven queries (optional inputs,
 * shape operands, fusion, MACs) answer as the rows say. */
#include <criterion/criterion.h>

#include "be.h"
#include "testutil.h"

/* the bits of mask at or above n must be none, or the "and every later input" tail (FROM, ALL) */
static bool mask_within(uint32_t mask, int n) {
  if (n >= 31) return true;
  uint32_t high = mask & (~0u << n);
  return high == 0 || high == ~0u << n;
}

Test(optable, every_row_names_its_functions) {
  for (int op = 0; op < OP_COUNT; op++) {
    const OpInfo *oi = &ir_ops[op];
    cr_assert(oi->name && *oi->name, "op %d has no name", op);
    cr_expect_eq(ir_op_lookup(oi->name), (Op)op, "%s", oi->name);
    cr_expect(oi->family > F_NONE && oi->family < F_COUNT, "%s: family", oi->name);
    cr_expect(ir_op_has_shape((Op)op), "%s has no shape function", oi->name);
    cr_expect(ir_op_has_fold((Op)op), "%s has no fold function (eval_none: never folded)", oi->name);
    cr_expect(be_has_gen((Op)op), "%s has no code generator", oi->name);
  }
  cr_expect_not(be_has_gen(OP_COUNT));
}

Test(optable, arity_and_masks_fit) {
  for (int op = 0; op < OP_COUNT; op++) {
    const OpInfo *oi = &ir_ops[op];
    cr_expect(oi->min_in >= 0 && (oi->max_in < 0 || oi->max_in >= oi->min_in), "%s: inputs", oi->name);
    cr_expect(oi->min_out >= 0 && (oi->max_out < 0 || oi->max_out >= oi->min_out), "%s: outputs", oi->name);
    /* opt_in names only required slots (the others are optional anyway) */
    cr_expect(oi->min_in >= 31 || (oi->opt_in >> oi->min_in) == 0, "%s: opt_in beyond min_in", oi->name);
    if (oi->max_in >= 0) {
      cr_expect(mask_within(oi->shape_in, oi->max_in), "%s: shape_in beyond max_in", oi->name);
      cr_expect(oi->max_in == 0 || oi->shape_in == 0 || (oi->shape_in & ((1u << oi->max_in) - 1)),
                "%s: shape_in names no input", oi->name);
    }
  }
}

Test(optable, fusion_flags_fit_families) {
  for (int op = 0; op < OP_COUNT; op++) {
    const OpInfo *oi = &ir_ops[op];
    if (oi->fuse & FU_EPI) cr_expect_eq(oi->family, F_CONTRACT, "%s takes an epilogue", oi->name);
    if (oi->fuse & FU_ROW) cr_expect(oi->fuse & FU_EPI, "%s: FU_ROW without FU_EPI", oi->name);
    if (oi->fuse & FU_ACT)
      cr_expect(oi->family == F_UNARY && oi->max_out == 1, "%s: FU_ACT on a non-activation", oi->name);
    cr_expect_eq(oi->fuse & ~(unsigned)(FU_EPI | FU_ROW | FU_ACT), 0u, "%s: unknown fuse flag", oi->name);
  }
  cr_expect(ir_ops[OP_Conv].fuse & FU_EPI);
  cr_expect_not(ir_ops[OP_Conv].fuse & FU_ROW);
  cr_expect(ir_ops[OP_Gemm].fuse & FU_ROW);
  cr_expect(ir_ops[OP_Relu].fuse & FU_ACT);
  cr_expect_not(ir_ops[OP_Exp].fuse & FU_ACT);
}

Test(optable, optional_inputs) {
  cr_expect(ir_op_input_optional(OP_Clip, 0));
  cr_expect(ir_op_input_optional(OP_Loop, 0));
  cr_expect(ir_op_input_optional(OP_Loop, 1));
  cr_expect(ir_op_input_optional(OP_Scan, 0));
  cr_expect(ir_op_input_optional(OP_Gemm, 2)); /* from min_in up */
  cr_expect_not(ir_op_input_optional(OP_Gemm, 1));
  cr_expect_not(ir_op_input_optional(OP_Add, 0));
  cr_expect_not(ir_op_input_optional(OP_Where, 2));
}

static Node *node_of(Graph *g, Op op, int nin) {
  Value *ins[40];
  int64_t d = 2;
  for (int i = 0; i < nin; i++) ins[i] = tu_input(g, "x", DT_FLOAT, 1, &d);
  return tu_node_n(g, op, nin, ins, 1);
}

Test(optable, shape_operands) {
  Graph *g = ir_graph_new();
  Node *slice = node_of(g, OP_Slice, 5), *loop = node_of(g, OP_Loop, 4), *stft = node_of(g, OP_STFT, 4);
  Node *range = node_of(g, OP_Range, 3), *concat = node_of(g, OP_Concat, 40), *rs = node_of(g, OP_ReduceSum, 2);
  cr_expect_not(ir_is_shape_operand(slice, 0));
  for (int i = 1; i < 5; i++) cr_expect(ir_is_shape_operand(slice, i));
  cr_expect(ir_is_shape_operand(loop, 0) && ir_is_shape_operand(loop, 1));
  cr_expect_not(ir_is_shape_operand(loop, 2));
  cr_expect(ir_is_shape_operand(stft, 1) && ir_is_shape_operand(stft, 3));
  cr_expect_not(ir_is_shape_operand(stft, 0) || ir_is_shape_operand(stft, 2));
  for (int i = 0; i < 3; i++) cr_expect(ir_is_shape_operand(range, i));
  cr_expect_not(ir_is_shape_operand(concat, 35)); /* beyond bit 31 of a mask without the tail */
  cr_expect(ir_is_shape_operand(rs, 1));
  cr_expect_not(ir_is_shape_operand(rs, 0));
  ir_graph_free(g);
}

Test(optable, macs_come_from_the_cost_column) {
  Graph *g = ir_graph_new();
  g->opset = 18;
  int64_t da[2] = {2, 3}, db[2] = {3, 4}, dx[4] = {1, 3, 8, 8}, dw[4] = {5, 3, 3, 3};
  Value *a = tu_input(g, "a", DT_FLOAT, 2, da), *b = tu_input(g, "b", DT_FLOAT, 2, db);
  Value *mm = tu_node(g, OP_MatMul, 2, (Value *[]){a, b});
  Value *x = tu_input(g, "x", DT_FLOAT, 4, dx), *w = tu_input(g, "w", DT_FLOAT, 4, dw);
  Value *y = tu_node(g, OP_Conv, 2, (Value *[]){x, w});
  Value *r = tu_node(g, OP_Relu, 1, &y);
  tu_output(g, mm);
  tu_output(g, r);
  cr_assert_eq(ir_infer_shapes(g), 0, "%s", ir_last_error(g));
  /* MatMul 2x3·3x4: 2*4 outputs of 3 MACs; Conv: 5x6x6 outputs of 3*3*3 MACs; Relu: none */
  cr_expect_eq(ir_graph_macs(g), 24.0 + 5 * 6 * 6 * 27.0);
  ir_graph_free(g);
}
