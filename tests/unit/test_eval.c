/* test_eval.c — host evaluation (constant folding), plus the IR printer and verifier.
 * Elementwise tests set the output dtype/shape by hand and call ir_eval_node directly, so they do
 * not depend on the math families' shape functions; the folding-chain test runs the whole
 * ir_infer_shapes driver over ops whose shapes this family infers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static Graph *g;

static void setup(void) {
  g = ir_graph_new();
  g->opset = 18;
}
static void teardown(void) { ir_graph_free(g); }
TestSuite(eval, .init = setup, .fini = teardown);

#define NARGS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define DIMS(...) NARGS(__VA_ARGS__), ((int64_t[]){__VA_ARGS__})
#define CI64(...) tu_const_i64(g, 1, (int64_t[]){NARGS(__VA_ARGS__)}, (int64_t[]){__VA_ARGS__})
#define CONST(t, dims, ...) tu_const(g, t, dims, (double[]){__VA_ARGS__})
#define NODE(op, nout, ...) \
  tu_node_n(g, op, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), (Value *[]){__VA_ARGS__}, nout)
#define SHAPE(...) DIMS(__VA_ARGS__)
#define NOSHAPE 0, NULL
#define EXPECT(v, ...) expect_vals(v, (double[]){__VA_ARGS__}, (int)(sizeof((double[]){__VA_ARGS__}) / sizeof(double)))

/* infer the node's shape (this family) and fold it */
static Value *fold(Node *n) {
  cr_assert_eq(ir_infer_node(g, n), 0, "inference failed: %s", ir_last_error(g));
  cr_assert_eq(ir_eval_node(g, n), 1, "not folded: %s", ir_last_error(g));
  cr_assert_eq(n->out[0]->kind, VK_CONST);
  return n->out[0];
}

/* fold with a hand-set output type (for the math families) */
static Value *fold_as(Node *n, DType t, int rank, const int64_t *dims) {
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], rank, dims);
  cr_assert_eq(ir_eval_node(g, n), 1, "not folded: %s", ir_last_error(g));
  return n->out[0];
}

static void expect_vals(const Value *v, const double *want, int cnt) {
  cr_assert_eq(ir_value_numel(v), cnt, "numel %lld, expected %d", (long long)ir_value_numel(v), cnt);
  for (int i = 0; i < cnt; i++)
    cr_expect_float_eq(ir_const_f64(v, i), want[i], 1e-6, "element %d: %g, expected %g", i,
                       ir_const_f64(v, i), want[i]);
}

/* ---- the torch shape chain: Shape -> Gather -> Unsqueeze -> Concat -> Reshape ---- */
Test(eval, torch_shape_chain_folds) {
  Value *x = tu_input(g, "x", DT_FLOAT, SHAPE(2, 3, 4));
  Node *shape = NODE(OP_Shape, 1, x);
  Node *gather = NODE(OP_Gather, 1, shape->out[0], tu_const_i64(g, 0, NULL, (int64_t[]){0}));
  Node *unsq = NODE(OP_Unsqueeze, 1, gather->out[0], CI64(0));
  Node *cat = NODE(OP_Concat, 1, unsq->out[0], CI64(-1));
  tu_attr_int(g, cat, "axis", 0);
  Node *resh = NODE(OP_Reshape, 1, x, cat->out[0]);
  tu_output(g, resh->out[0]);
  cr_assert_eq(ir_infer_shapes(g), 0, "%s", ir_last_error(g));
  cr_assert_eq(g->nnodes, 1);
  cr_assert_eq(g->nodes[0], resh);
  Value *s = resh->in[1];
  cr_assert_eq(s->kind, VK_CONST);
  cr_assert_eq(s->dtype, DT_INT64);
  EXPECT(s, 2, -1);
  char buf[64];
  ir_shape_str(resh->out[0], buf, sizeof buf);
  cr_expect_str_eq(buf, "2x12");
  cr_expect_eq(ir_verify(g), 0, "%s", ir_last_error(g));
}

Test(eval, shape_size_range_constant_of_shape) {
  Value *x = tu_input(g, "x", DT_FLOAT, SHAPE(2, 3, 4));
  Node *n = NODE(OP_Shape, 1, x);
  tu_attr_int(g, n, "start", -2);
  EXPECT(fold(n), 3, 4);
  EXPECT(fold(NODE(OP_Size, 1, x)), 24);
  Value *r = fold(NODE(OP_Range, 1, tu_const_i64(g, 0, NULL, (int64_t[]){10}),
                       tu_const_i64(g, 0, NULL, (int64_t[]){1}), tu_const_i64(g, 0, NULL, (int64_t[]){-3})));
  cr_expect_eq(r->dtype, DT_INT64);
  EXPECT(r, 10, 7, 4);
  r = fold(NODE(OP_Range, 1, CONST(DT_FLOAT, NOSHAPE, 1), CONST(DT_FLOAT, NOSHAPE, 2),
                CONST(DT_FLOAT, NOSHAPE, 0.25)));
  EXPECT(r, 1, 1.25, 1.5, 1.75);
  n = NODE(OP_ConstantOfShape, 1, CI64(2, 2));
  tu_attr(g, n, "value", AT_TENSOR)->t = tu_const_i64(g, 1, (int64_t[]){1}, (int64_t[]){7});
  r = fold(n);
  cr_expect_eq(r->dtype, DT_INT64);
  EXPECT(r, 7, 7, 7, 7);
  EXPECT(fold(NODE(OP_ConstantOfShape, 1, CI64(3))), 0, 0, 0);
}

Test(eval, refuses_large_and_unsupported) {
  Node *n = NODE(OP_ConstantOfShape, 1, CI64(5000, 1000)); /* 5M elements > IR_FOLD_LIMIT */
  cr_assert_eq(ir_infer_node(g, n), 0);
  cr_expect_eq(ir_eval_node(g, n), 0);
  cr_expect_eq(n->out[0]->kind, VK_TEMP);
  cr_expect_null(n->out[0]->data);
  Value *a = CONST(DT_FLOAT, SHAPE(2, 2), 1, 2, 3, 4);
  n = NODE(OP_MatMul, 1, a, a); /* not an evaluator op: the backend computes it */
  n->out[0]->dtype = DT_FLOAT;
  ir_value_set_shape(n->out[0], SHAPE(2, 2));
  cr_expect_eq(ir_eval_node(g, n), 0);
  n = NODE(OP_Div, 1, CI64(1, 2), CI64(0, 1)); /* integer division by zero: left to run time */
  n->out[0]->dtype = DT_INT64;
  ir_value_set_shape(n->out[0], SHAPE(2));
  cr_expect_eq(ir_eval_node(g, n), 0);
  cr_expect_eq(n->out[0]->kind, VK_TEMP);
}

/* ---- elementwise ---- */
Test(eval, cast_truncates_toward_zero) {
  Value *f = CONST(DT_FLOAT, SHAPE(5), -1.7, 2.9, 0.5, -0.5, 300.25);
  Node *n = NODE(OP_Cast, 1, f);
  tu_attr_int(g, n, "to", DT_INT64);
  EXPECT(fold_as(n, DT_INT64, SHAPE(5)), -1, 2, 0, 0, 300);
  n = NODE(OP_Cast, 1, f);
  EXPECT(fold_as(n, DT_BOOL, SHAPE(5)), 1, 1, 1, 1, 1);
  n = NODE(OP_Cast, 1, CI64(-1, 256, 3));
  EXPECT(fold_as(n, DT_UINT8, SHAPE(3)), 255, 0, 3);
  n = NODE(OP_Cast, 1, CI64(1 << 24 | 1, -5));
  EXPECT(fold_as(n, DT_DOUBLE, SHAPE(2)), 16777217, -5);
}

Test(eval, broadcast_add_int64) {
  Value *a = tu_const_i64(g, SHAPE(2, 1), (int64_t[]){10, 20});
  Value *b = CI64(1, 2, 3);
  Node *n = NODE(OP_Add, 1, a, b);
  Value *y = fold_as(n, DT_INT64, SHAPE(2, 3));
  EXPECT(y, 11, 12, 13, 21, 22, 23);
  int64_t big = INT64_MAX; /* exact in int64, not rounded through double */
  n = NODE(OP_Sub, 1, tu_const_i64(g, 0, NULL, &big), CI64(1));
  cr_expect_eq(((int64_t *)fold_as(n, DT_INT64, SHAPE(1))->data)[0], INT64_MAX - 1);
}

Test(eval, integer_div_mod_pow) {
  Value *a = CI64(-7, 7, -7, 7), *b = CI64(2, -2, -2, 2);
  EXPECT(fold_as(NODE(OP_Div, 1, a, b), DT_INT64, SHAPE(4)), -3, -3, 3, 3);
  EXPECT(fold_as(NODE(OP_Mod, 1, a, b), DT_INT64, SHAPE(4)), 1, -1, -1, 1);
  Node *n = NODE(OP_Mod, 1, a, b);
  tu_attr_int(g, n, "fmod", 1);
  EXPECT(fold_as(n, DT_INT64, SHAPE(4)), -1, 1, -1, 1);
  EXPECT(fold_as(NODE(OP_Pow, 1, CI64(3, -2), CI64(4, 3)), DT_INT64, SHAPE(2)), 81, -8);
  Value *f = CONST(DT_FLOAT, SHAPE(2), -7.5, 7.5);
  n = NODE(OP_Mod, 1, f, CONST(DT_FLOAT, SHAPE(1), 2));
  tu_attr_int(g, n, "fmod", 1);
  EXPECT(fold_as(n, DT_FLOAT, SHAPE(2)), -1.5, 1.5);
}

Test(eval, where_compare_logic_variadic) {
  Value *c = CONST(DT_BOOL, SHAPE(2, 1), 1, 0);
  Value *x = CONST(DT_FLOAT, SHAPE(3), 1, 2, 3), *y = CONST(DT_FLOAT, SHAPE(1), -1);
  EXPECT(fold_as(NODE(OP_Where, 1, c, x, y), DT_FLOAT, SHAPE(2, 3)), 1, 2, 3, -1, -1, -1);
  EXPECT(fold_as(NODE(OP_Equal, 1, CI64(1, 2, 3), CI64(2)), DT_BOOL, SHAPE(3)), 0, 1, 0);
  EXPECT(fold_as(NODE(OP_Less, 1, x, CONST(DT_FLOAT, SHAPE(1), 2)), DT_BOOL, SHAPE(3)), 1, 0, 0);
  Value *t = CONST(DT_BOOL, SHAPE(2), 1, 0), *u = CONST(DT_BOOL, SHAPE(2), 1, 1);
  EXPECT(fold_as(NODE(OP_Xor, 1, t, u), DT_BOOL, SHAPE(2)), 0, 1);
  EXPECT(fold_as(NODE(OP_Not, 1, t), DT_BOOL, SHAPE(2)), 0, 1);
  EXPECT(fold_as(NODE(OP_Max, 1, x, CONST(DT_FLOAT, SHAPE(1), 2), CONST(DT_FLOAT, SHAPE(3), 0, 0, 5)),
                 DT_FLOAT, SHAPE(3)),
         2, 2, 5);
  EXPECT(fold_as(NODE(OP_Mean, 1, x, CONST(DT_FLOAT, SHAPE(3), 3, 2, 1)), DT_FLOAT, SHAPE(3)), 2, 2, 2);
}

Test(eval, unary_math) {
  Value *x = CONST(DT_FLOAT, SHAPE(4), -2, -0.5, 0.5, 2.5);
  EXPECT(fold_as(NODE(OP_Relu, 1, x), DT_FLOAT, SHAPE(4)), 0, 0, 0.5, 2.5);
  EXPECT(fold_as(NODE(OP_Round, 1, x), DT_FLOAT, SHAPE(4)), -2, -0, 0, 2); /* half to even */
  EXPECT(fold_as(NODE(OP_Abs, 1, CI64(-3, 4)), DT_INT64, SHAPE(2)), 3, 4);
  Node *n = NODE(OP_LeakyRelu, 1, x);
  EXPECT(fold_as(n, DT_FLOAT, SHAPE(4)), -0.02, -0.005, 0.5, 2.5);
  n = NODE(OP_Clip, 1, x, CONST(DT_FLOAT, NOSHAPE, -1), CONST(DT_FLOAT, NOSHAPE, 1));
  EXPECT(fold_as(n, DT_FLOAT, SHAPE(4)), -1, -0.5, 0.5, 1);
  EXPECT(fold_as(NODE(OP_Sqrt, 1, CONST(DT_DOUBLE, SHAPE(1), 2)), DT_DOUBLE, SHAPE(1)), 1.4142135623730951);
}

/* ---- data movement ---- */
Test(eval, slice_negative_step_and_transpose) {
  Value *x = tu_const_i64(g, SHAPE(2, 5), (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT(fold(NODE(OP_Slice, 1, x, CI64(-1), CI64(INT64_MIN), CI64(1), CI64(-2))), 4, 2, 0, 9, 7, 5);
  EXPECT(fold(NODE(OP_Slice, 1, x, CI64(1, 1), CI64(2, 3))), 6, 7);
  EXPECT(fold(NODE(OP_Transpose, 1, x)), 0, 5, 1, 6, 2, 7, 3, 8, 4, 9);
}

Test(eval, concat_split_gather) {
  Node *n = NODE(OP_Concat, 1, tu_const_i64(g, SHAPE(2, 1), (int64_t[]){1, 2}),
                 tu_const_i64(g, SHAPE(2, 0), NULL), tu_const_i64(g, SHAPE(2, 2), (int64_t[]){3, 4, 5, 6}));
  tu_attr_int(g, n, "axis", 1);
  EXPECT(fold(n), 1, 3, 4, 2, 5, 6);
  Value *x = CI64(0, 1, 2, 3, 4, 5);
  n = NODE(OP_Split, 2, x, CI64(2, 4));
  fold(n);
  EXPECT(n->out[0], 0, 1);
  EXPECT(n->out[1], 2, 3, 4, 5);
  Value *m = CONST(DT_FLOAT, SHAPE(2, 3), 1, 2, 3, 4, 5, 6);
  n = NODE(OP_Gather, 1, m, tu_const_i64(g, SHAPE(2, 2), (int64_t[]){2, 0, -1, 1}));
  tu_attr_int(g, n, "axis", 1);
  Value *y = fold(n);
  char s[64];
  ir_shape_str(y, s, sizeof s);
  cr_expect_str_eq(s, "2x2x2");
  EXPECT(y, 3, 1, 3, 2, 6, 4, 6, 5);
  n = NODE(OP_GatherElements, 1, m, tu_const_i64(g, SHAPE(2, 1), (int64_t[]){2, 0}));
  tu_attr_int(g, n, "axis", 1);
  EXPECT(fold(n), 3, 4);
  n = NODE(OP_GatherND, 1, m, tu_const_i64(g, SHAPE(2, 2), (int64_t[]){1, 2, 0, 0}));
  EXPECT(fold(n), 6, 1);
}

Test(eval, expand_tile_pad) {
  Value *x = tu_const_i64(g, SHAPE(2, 1), (int64_t[]){1, 2});
  EXPECT(fold(NODE(OP_Expand, 1, x, CI64(2, 3))), 1, 1, 1, 2, 2, 2);
  EXPECT(fold(NODE(OP_Tile, 1, x, CI64(2, 2))), 1, 1, 2, 2, 1, 1, 2, 2);
  Value *v = CI64(1, 2, 3);
  EXPECT(fold(NODE(OP_Pad, 1, v, CI64(2, -1), tu_const_i64(g, 0, NULL, (int64_t[]){9}))), 9, 9, 1, 2);
  Node *n = NODE(OP_Pad, 1, v, CI64(2, 2));
  tu_attr_str(g, n, "mode", "reflect");
  EXPECT(fold(n), 3, 2, 1, 2, 3, 2, 1);
  n = NODE(OP_Pad, 1, v, CI64(1, 2));
  tu_attr_str(g, n, "mode", "edge");
  EXPECT(fold(n), 1, 1, 2, 3, 3, 3);
  n = NODE(OP_Pad, 1, v, CI64(1, 2));
  tu_attr_str(g, n, "mode", "wrap");
  EXPECT(fold(n), 3, 1, 2, 3, 1, 2);
}

Test(eval, trilu_onehot_eyelike_depth_to_space) {
  Value *m = CONST(DT_FLOAT, SHAPE(3, 3), 1, 2, 3, 4, 5, 6, 7, 8, 9);
  EXPECT(fold(NODE(OP_Trilu, 1, m)), 1, 2, 3, 0, 5, 6, 0, 0, 9);
  Node *n = NODE(OP_Trilu, 1, m, tu_const_i64(g, 0, NULL, (int64_t[]){-1}));
  tu_attr_int(g, n, "upper", 0);
  EXPECT(fold(n), 0, 0, 0, 4, 0, 0, 7, 8, 0);
  n = NODE(OP_OneHot, 1, CI64(0, 2, -1), CI64(3), CONST(DT_FLOAT, SHAPE(2), 0, 5));
  EXPECT(fold(n), 5, 0, 0, 0, 0, 5, 0, 0, 5);
  n = NODE(OP_EyeLike, 1, m);
  tu_attr_int(g, n, "k", 1);
  EXPECT(fold(n), 0, 1, 0, 0, 0, 1, 0, 0, 0);
  double d[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  n = NODE(OP_DepthToSpace, 1, tu_const(g, DT_FLOAT, SHAPE(1, 4, 1, 2), d));
  tu_attr_int(g, n, "blocksize", 2);
  EXPECT(fold(n), 0, 2, 1, 3, 4, 6, 5, 7); /* DCR */
  Node *back = NODE(OP_SpaceToDepth, 1, n->out[0]);
  tu_attr_int(g, back, "blocksize", 2);
  EXPECT(fold(back), 0, 1, 2, 3, 4, 5, 6, 7);
}

Test(eval, scatter_and_reduce) {
  Value *data = CONST(DT_FLOAT, SHAPE(2, 3), 0, 0, 0, 0, 0, 0);
  Node *n = NODE(OP_ScatterElements, 1, data, tu_const_i64(g, SHAPE(2, 1), (int64_t[]){2, 0}),
                 CONST(DT_FLOAT, SHAPE(2, 1), 7, 8));
  tu_attr_int(g, n, "axis", 1);
  EXPECT(fold(n), 0, 0, 7, 8, 0, 0);
  n = NODE(OP_ScatterND, 1, data, tu_const_i64(g, SHAPE(1, 1), (int64_t[]){1}), CONST(DT_FLOAT, SHAPE(1, 3), 1, 2, 3));
  EXPECT(fold(n), 0, 0, 0, 1, 2, 3);
  Value *x = CONST(DT_FLOAT, SHAPE(2, 3), 1, 2, 3, 4, 5, 6);
  n = NODE(OP_ReduceSum, 1, x, CI64(1));
  EXPECT(fold_as(n, DT_FLOAT, SHAPE(2, 1)), 6, 15);
  n = NODE(OP_ReduceMax, 1, x);
  tu_attr_int(g, n, "keepdims", 0);
  EXPECT(fold_as(n, DT_FLOAT, 0, NULL), 6);
  n = NODE(OP_ReduceMean, 1, x);
  tu_attr_ints(g, n, "axes", 1, (int64_t[]){0});
  EXPECT(fold_as(n, DT_FLOAT, SHAPE(1, 3)), 2.5, 3.5, 4.5);
  n = NODE(OP_ReduceProd, 1, CI64(2, 3, 4));
  EXPECT(fold_as(n, DT_INT64, SHAPE(1)), 24);
}

Test(eval, folds_inside_if_branch) {
  Value *x = tu_input(g, "x", DT_FLOAT, SHAPE(4, 6));
  Node *n = NODE(OP_If, 1, tu_input(g, "c", DT_BOOL, 0, NULL));
  for (int b = 0; b < 2; b++) {
    Graph *s = ir_graph_new_sub(g);
    Value *cap = ir_value_new(s, "x");
    cap->kind = VK_OUTER;
    cap->outer = x;
    Node *sh = tu_node_n(s, OP_Shape, 1, &cap, 1);
    Node *r = tu_node_n(s, OP_Reshape, 2, (Value *[]){cap, sh->out[0]}, 1);
    tu_output(s, r->out[0]);
    tu_attr(g, n, b ? "else_branch" : "then_branch", AT_GRAPH)->g = s;
  }
  tu_output(g, n->out[0]);
  cr_assert_eq(ir_infer_shapes(g), 0, "%s", ir_last_error(g));
  Graph *then = ir_attr(n, "then_branch")->g;
  cr_expect_eq(then->nnodes, 1); /* the Shape node folded away inside the branch */
  cr_expect_eq(ir_verify(g), 0, "%s", ir_last_error(g));
}

/* ---- printer and verifier ---- */
Test(eval, print_is_readable) {
  Value *x = tu_input(g, "input", DT_FLOAT, SHAPE(1, 3));
  Value *w = CONST(DT_INT64, SHAPE(2), 3, 1);
  w->name = "shape";
  Node *n = NODE(OP_Reshape, 1, x, w);
  n->name = "reshape0";
  n->out[0]->name = "out";
  tu_attr_int(g, n, "allowzero", 0);
  tu_attr_ints(g, n, "zz", 2, (int64_t[]){1, 2});
  tu_output(g, n->out[0]);
  cr_assert_eq(ir_infer_shapes(g), 0);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  ir_print(g, f);
  fclose(f);
  const char *want = "graph main (opset 18)\n"
                     "  input  %input: float32[1x3]\n"
                     "  const  %shape: int64[2] = [3, 1]\n"
                     "  %out: float32[3x1] = Reshape(%input, %shape) {allowzero=0, zz=[1,2]}   # reshape0\n"
                     "  output %out\n";
  cr_expect_str_eq(buf, want);
  free(buf);
}

Test(eval, verify_catches_broken_invariants) {
  Value *x = tu_input(g, "x", DT_FLOAT, SHAPE(4));
  Node *a = NODE(OP_Relu, 1, x);
  Node *b = NODE(OP_Neg, 1, a->out[0]);
  tu_output(g, b->out[0]);
  cr_assert_eq(ir_verify(g), 0, "%s", ir_last_error(g));
  g->nodes[0] = b; /* out of order */
  g->nodes[1] = a;
  cr_expect_neq(ir_verify(g), 0);
  cr_expect(strstr(ir_last_error(g), "before it is defined") != NULL, "%s", ir_last_error(g));
  free(g->err);
  g->err = NULL;
  g->nodes[0] = a;
  g->nodes[1] = b;
  b->out[0]->producer = a;
  cr_expect_neq(ir_verify(g), 0);
  cr_expect(strstr(ir_last_error(g), "producer") != NULL, "%s", ir_last_error(g));
  free(g->err);
  g->err = NULL;
  b->out[0]->producer = b;
  a->dead = true;
  cr_expect_neq(ir_verify(g), 0);
  cr_expect(strstr(ir_last_error(g), "dead node") != NULL, "%s", ir_last_error(g));
}
