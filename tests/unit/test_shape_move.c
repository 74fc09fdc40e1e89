/* test_shape_move.c — shape inference of the data-movement (F_MOVE), generator (F_GEN) and control
 * (F_CONTROL) families. Each test builds a node by hand, runs ir_infer_node, and checks the output
 * dtype and shape ("AxBxC" as ir_shape_str prints it) or a substring of the error message. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static Graph *g;

static void setup(void) {
  g = ir_graph_new();
  g->opset = 18;
}
static void teardown(void) { ir_graph_free(g); }
TestSuite(shape_move, .init = setup, .fini = teardown);

#define NARGS(...) (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t))
#define DIMS(...) NARGS(__VA_ARGS__), ((int64_t[]){__VA_ARGS__})
#define IN(t, ...) tu_input(g, NULL, t, DIMS(__VA_ARGS__))
#define CI64(...) tu_const_i64(g, 1, (int64_t[]){NARGS(__VA_ARGS__)}, (int64_t[]){__VA_ARGS__})
#define NODE(op, nout, ...) \
  tu_node_n(g, op, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), (Value *[]){__VA_ARGS__}, nout)
#define INTS(n, name, ...) tu_attr_ints(g, n, name, DIMS(__VA_ARGS__))

static Value *cf32(int rank, const int64_t *dims, const double *v) { return tu_const(g, DT_FLOAT, rank, dims, v); }

static void ok(Node *n) { cr_assert_eq(ir_infer_node(g, n), 0, "inference failed: %s", ir_last_error(g)); }

static void expect(const Value *v, DType t, const char *shape) {
  char s[128];
  ir_shape_str(v, s, sizeof s);
  cr_expect_str_eq(s, shape, "shape %s, expected %s", s, shape);
  cr_expect_eq(v->dtype, t, "dtype %s, expected %s", dtype_name(v->dtype), dtype_name(t));
}

static void fails(Node *n, const char *sub) {
  cr_expect_neq(ir_infer_node(g, n), 0, "expected an error containing '%s'", sub);
  cr_expect(strstr(ir_last_error(g), sub) != NULL, "error '%s' lacks '%s'", ir_last_error(g), sub);
  free(g->err);
  g->err = NULL;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Transpose ---- */
Test(shape_move, reshape_zero_and_minus_one) {
  Value *x = IN(DT_FLOAT, 2, 3, 4);
  Node *n = NODE(OP_Reshape, 1, x, CI64(0, -1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x12");
  n = NODE(OP_Reshape, 1, x, CI64(4, 0, -1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x3x2");
  n = NODE(OP_Reshape, 1, IN(DT_INT64, 0, 3), CI64(3, 0)); /* allowzero: a literal 0 */
  tu_attr_int(g, n, "allowzero", 1);
  ok(n);
  expect(n->out[0], DT_INT64, "3x0");
}

Test(shape_move, reshape_errors) {
  Value *x = IN(DT_FLOAT, 2, 3, 4);
  fails(NODE(OP_Reshape, 1, x, IN(DT_INT64, 2)), "data-dependent shape: input");
  fails(NODE(OP_Reshape, 1, x, CI64(-1, -1)), "more than one -1");
  fails(NODE(OP_Reshape, 1, x, CI64(5, -1)), "cannot reshape 2x3x4 (24 elements)");
  fails(NODE(OP_Reshape, 1, x, CI64(2, 3)), "(6 elements)");
  fails(NODE(OP_Reshape, 1, x, CI64(0, 0, 0, 0)), "copies an input dim");
  Node *n = NODE(OP_Reshape, 1, x, CI64(0, -1));
  tu_attr_int(g, n, "allowzero", 1);
  fails(n, "forbids both 0 and -1");
}

Test(shape_move, flatten_squeeze_unsqueeze) {
  Value *x = IN(DT_FLOAT, 2, 3, 4, 5);
  Node *n = NODE(OP_Flatten, 1, x);
  tu_attr_int(g, n, "axis", -2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "6x20");
  n = NODE(OP_Flatten, 1, x);
  tu_attr_int(g, n, "axis", 0);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x120");

  Value *y = IN(DT_FLOAT, 1, 3, 1);
  n = NODE(OP_Squeeze, 1, y, CI64(-1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3");
  n = NODE(OP_Squeeze, 1, y); /* no axes: all 1s */
  ok(n);
  expect(n->out[0], DT_FLOAT, "3");
  n = NODE(OP_Squeeze, 1, y); /* opset 11 attribute form */
  INTS(n, "axes", 0);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x1");
  fails(NODE(OP_Squeeze, 1, y, CI64(1)), "cannot squeeze axis 1 of size 3");
  fails(NODE(OP_Squeeze, 1, y, CI64(3)), "out of range");

  n = NODE(OP_Unsqueeze, 1, IN(DT_INT64, 3, 4), CI64(0, -1));
  ok(n);
  expect(n->out[0], DT_INT64, "1x3x4x1");
  n = NODE(OP_Unsqueeze, 1, tu_input(g, "s", DT_INT64, 0, NULL));
  INTS(n, "axes", 0);
  ok(n);
  expect(n->out[0], DT_INT64, "1");
  fails(NODE(OP_Unsqueeze, 1, IN(DT_FLOAT, 3), CI64(0, 0)), "repeated");
}

Test(shape_move, transpose) {
  Value *x = IN(DT_FLOAT, 2, 3, 4);
  Node *n = NODE(OP_Transpose, 1, x);
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x3x2");
  n = NODE(OP_Transpose, 1, x);
  INTS(n, "perm", 1, 2, 0);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x4x2");
  n = NODE(OP_Transpose, 1, x);
  INTS(n, "perm", 1, 1, 0);
  fails(n, "not a permutation");
  n = NODE(OP_Transpose, 1, x);
  INTS(n, "perm", 1, 0);
  fails(n, "perm has 2 entries");
}

/* ---- Concat, Split ---- */
Test(shape_move, concat) {
  Node *n = NODE(OP_Concat, 1, IN(DT_FLOAT, 2, 3), IN(DT_FLOAT, 2, 5), IN(DT_FLOAT, 2, 0));
  tu_attr_int(g, n, "axis", -1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x8");
  n = NODE(OP_Concat, 1, IN(DT_FLOAT, 2, 3), IN(DT_FLOAT, 3, 3));
  tu_attr_int(g, n, "axis", 1);
  fails(n, "differ outside axis 1");
  n = NODE(OP_Concat, 1, IN(DT_FLOAT, 2, 3), IN(DT_INT64, 2, 3));
  tu_attr_int(g, n, "axis", 0);
  fails(n, "different types");
  fails(NODE(OP_Concat, 1, IN(DT_FLOAT, 2)), "'axis' is missing");
}

Test(shape_move, split_forms) {
  Value *x = IN(DT_FLOAT, 2, 6);
  Node *n = NODE(OP_Split, 2, x, CI64(2, 4)); /* opset 13: input */
  tu_attr_int(g, n, "axis", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x2");
  expect(n->out[1], DT_FLOAT, "2x4");
  n = NODE(OP_Split, 3, x); /* equal split */
  tu_attr_int(g, n, "axis", -1);
  ok(n);
  expect(n->out[2], DT_FLOAT, "2x2");
  n = NODE(OP_Split, 2, x); /* opset 11: attribute */
  tu_attr_int(g, n, "axis", 1);
  INTS(n, "split", 5, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x5");
  n = NODE(OP_Split, 3, IN(DT_FLOAT, 7)); /* opset 18: num_outputs, last chunk smaller */
  tu_attr_int(g, n, "num_outputs", 3);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3");
  expect(n->out[2], DT_FLOAT, "1");
  n = NODE(OP_Split, 2, x, CI64(2, 3));
  tu_attr_int(g, n, "axis", 1);
  fails(n, "Split sizes [2,3] do not add up to 6");
  fails(NODE(OP_Split, 4, x), "evenly");
  fails(NODE(OP_Split, 2, x, CI64(1, 1, 0)), "3 sizes for 2 outputs");
}

/* ---- Slice ---- */
Test(shape_move, slice_clamping_and_negative_steps) {
  Value *x = IN(DT_FLOAT, 10, 20, 30);
  Node *n = NODE(OP_Slice, 1, x, CI64(-1, 8), CI64(INT64_MIN, 1), CI64(0, -1), CI64(-1, -3));
  ok(n); /* axis 0: 9..0 (10), axis 2: 8,5,2 (3) */
  expect(n->out[0], DT_FLOAT, "10x20x3");
  n = NODE(OP_Slice, 1, x, CI64(1, 0), CI64(INT64_MAX, -1)); /* axes default 0,1 */
  ok(n);
  expect(n->out[0], DT_FLOAT, "9x19x30");
  n = NODE(OP_Slice, 1, x, CI64(100), CI64(200), CI64(1)); /* clamped: empty */
  ok(n);
  expect(n->out[0], DT_FLOAT, "10x0x30");
  n = NODE(OP_Slice, 1, x, CI64(0), CI64(30), CI64(2), CI64(7));
  ok(n);
  expect(n->out[0], DT_FLOAT, "10x20x5");
  n = NODE(OP_Slice, 1, x, CI64(-100), CI64(100), CI64(1), CI64(-1)); /* start clamps to dim-1 */
  ok(n);
  expect(n->out[0], DT_FLOAT, "10x0x30");
  n = NODE(OP_Slice, 1, x); /* opset 1: attributes */
  INTS(n, "starts", 2);
  INTS(n, "ends", -2);
  INTS(n, "axes", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "10x16x30");
}

Test(shape_move, slice_errors) {
  Value *x = IN(DT_FLOAT, 10);
  fails(NODE(OP_Slice, 1, x, CI64(0), CI64(5), CI64(0), CI64(0)), "step 0");
  fails(NODE(OP_Slice, 1, x, IN(DT_INT64, 1), CI64(5)), "data-dependent shape: input");
  fails(NODE(OP_Slice, 1, x, CI64(0, 1), CI64(5)), "ends has 1");
  fails(NODE(OP_Slice, 1, x, CI64(0), CI64(5), CI64(1)), "out of range");
}

/* ---- Gather family, Scatter ---- */
Test(shape_move, gather_axis1_2d_indices) {
  Value *x = IN(DT_FLOAT, 3, 4, 5);
  Node *n = NODE(OP_Gather, 1, x, IN(DT_INT64, 2, 3));
  tu_attr_int(g, n, "axis", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x2x3x5");
  n = NODE(OP_Gather, 1, x, tu_const_i64(g, 0, NULL, (int64_t[]){-1})); /* scalar index */
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x5");
  n = NODE(OP_Gather, 1, x, CI64(0, 4));
  tu_attr_int(g, n, "axis", -2);
  fails(n, "index 4 is out of bounds for axis 1 of size 4");
  fails(NODE(OP_Gather, 1, x, IN(DT_FLOAT, 2)), "int32 or int64");
}

Test(shape_move, gather_elements_nd_scatter) {
  Node *n = NODE(OP_GatherElements, 1, IN(DT_FLOAT, 3, 4), IN(DT_INT64, 2, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x4");
  n = NODE(OP_GatherND, 1, IN(DT_FLOAT, 2, 3, 4, 5), IN(DT_INT64, 2, 6, 2));
  tu_attr_int(g, n, "batch_dims", 1);
  ok(n); /* [2,6] + data[1+1+2:] = 2x6x5 */
  expect(n->out[0], DT_FLOAT, "2x6x5");
  n = NODE(OP_GatherND, 1, IN(DT_FLOAT, 2, 3), IN(DT_INT64, 4, 3));
  fails(n, "last dim 3 must be in 1..2");
  n = NODE(OP_ScatterND, 1, IN(DT_FLOAT, 4, 5), IN(DT_INT64, 3, 1), IN(DT_FLOAT, 3, 5));
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x5");
  n = NODE(OP_ScatterND, 1, IN(DT_FLOAT, 4, 5), IN(DT_INT64, 3, 1), IN(DT_FLOAT, 3, 4));
  fails(n, "expected 3x5");
  n = NODE(OP_ScatterElements, 1, IN(DT_FLOAT, 4, 5), IN(DT_INT64, 2, 2), IN(DT_FLOAT, 2, 2));
  tu_attr_int(g, n, "axis", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x5");
}

/* ---- Expand, Tile, Pad ---- */
Test(shape_move, expand_tile) {
  Node *n = NODE(OP_Expand, 1, IN(DT_FLOAT, 3, 1), CI64(2, 1, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x4");
  n = NODE(OP_Expand, 1, IN(DT_FLOAT, 3, 2), CI64(4));
  fails(n, "cannot be broadcast");
  fails(NODE(OP_Expand, 1, IN(DT_FLOAT, 3), IN(DT_INT64, 1)), "data-dependent shape: input");
  n = NODE(OP_Tile, 1, IN(DT_INT32, 2, 3), CI64(3, 2));
  ok(n);
  expect(n->out[0], DT_INT32, "6x6");
  fails(NODE(OP_Tile, 1, IN(DT_INT32, 2, 3), CI64(3)), "repeats has 1 entries");
}

Test(shape_move, pad_forms) {
  Value *x = IN(DT_FLOAT, 4, 5);
  Node *n = NODE(OP_Pad, 1, x, CI64(1, -1, 2, -2)); /* negative pads crop */
  ok(n);
  expect(n->out[0], DT_FLOAT, "7x2");
  n = NODE(OP_Pad, 1, x); /* opset 2: attribute */
  INTS(n, "pads", 0, 1, 0, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x7");
  n = NODE(OP_Pad, 1, x, CI64(3, 3), cf32(0, NULL, (double[]){0}), CI64(-1)); /* opset 18 axes */
  ok(n);
  expect(n->out[0], DT_FLOAT, "4x11");
  n = NODE(OP_Pad, 1, x, CI64(0, 5, 0, 0));
  tu_attr_str(g, n, "mode", "reflect");
  fails(n, "too large");
  n = NODE(OP_Pad, 1, x, CI64(0, 0, 0, 0));
  tu_attr_str(g, n, "mode", "mirror");
  fails(n, "unknown mode");
  fails(NODE(OP_Pad, 1, x, CI64(-3, 0, -3, 0)), "invalid");
  fails(NODE(OP_Pad, 1, x, CI64(1, 1)), "pads has 2 entries, expected 4");
}

/* ---- Resize, DepthToSpace, SpaceToDepth, Trilu ---- */
Test(shape_move, resize_scales_sizes) {
  Value *x = IN(DT_FLOAT, 1, 3, 4, 5), *roi = cf32(1, (int64_t[]){0}, NULL);
  Node *n = NODE(OP_Resize, 1, x, roi, cf32(1, (int64_t[]){4}, (double[]){1, 1, 2, 1.5}));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x8x7"); /* floor(5 * 1.5) */
  n = NODE(OP_Resize, 1, x, roi, cf32(1, (int64_t[]){4}, (double[]){1, 1, 0.6, 0.6}));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x2x3");
  n = NODE(OP_Resize, 1, x, roi, cf32(1, (int64_t[]){0}, NULL), CI64(1, 3, 10, 10));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x10x10");
  n = NODE(OP_Resize, 1, IN(DT_INT32, 3, 5), roi, cf32(1, (int64_t[]){0}, NULL), CI64(6, 6));
  tu_attr_str(g, n, "keep_aspect_ratio_policy", "not_smaller");
  ok(n);
  expect(n->out[0], DT_INT32, "6x10");
  n = NODE(OP_Resize, 1, x, roi, cf32(1, (int64_t[]){0}, NULL), CI64(8, 8));
  INTS(n, "axes", 2, -1);
  tu_attr_str(g, n, "keep_aspect_ratio_policy", "not_larger");
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x6x8"); /* scale min(2, 1.6) = 1.6: round(4*1.6)=6 */
  fails(NODE(OP_Resize, 1, x, roi, IN(DT_FLOAT, 4)), "data-dependent shape: input");
  fails(NODE(OP_Resize, 1, x, roi), "one of 'scales' and 'sizes' is required");
  g->opset = 10; /* Resize-10: (X, scales) */
  n = NODE(OP_Resize, 1, x, cf32(1, (int64_t[]){4}, (double[]){1, 1, 2, 2}));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x8x10");
}

Test(shape_move, depth_space_trilu) {
  Node *n = NODE(OP_DepthToSpace, 1, IN(DT_FLOAT, 1, 8, 2, 3));
  tu_attr_int(g, n, "blocksize", 2);
  tu_attr_str(g, n, "mode", "CRD");
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x2x4x6");
  n = NODE(OP_SpaceToDepth, 1, IN(DT_FLOAT, 1, 2, 4, 6));
  tu_attr_int(g, n, "blocksize", 2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x2x3");
  n = NODE(OP_DepthToSpace, 1, IN(DT_FLOAT, 1, 6, 2, 3));
  tu_attr_int(g, n, "blocksize", 2);
  fails(n, "not divisible");
  n = NODE(OP_Trilu, 1, IN(DT_FLOAT, 2, 3, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x4");
  fails(NODE(OP_Trilu, 1, IN(DT_FLOAT, 4)), "rank 2..");
}

/* ---- generators ---- */
Test(shape_move, generators) {
  Node *n = NODE(OP_Shape, 1, IN(DT_FLOAT, 2, 3, 4, 5));
  tu_attr_int(g, n, "start", 1);
  tu_attr_int(g, n, "end", -1);
  ok(n);
  expect(n->out[0], DT_INT64, "2");
  n = NODE(OP_Size, 1, IN(DT_FLOAT, 2, 3));
  ok(n);
  expect(n->out[0], DT_INT64, "scalar");
  n = NODE(OP_ConstantOfShape, 1, CI64(2, 3));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  n = NODE(OP_ConstantOfShape, 1, CI64(1 << 20, 1 << 12));
  fails(n, "more than 2^31 elements");
  n = NODE(OP_ConstantOfShape, 1, CI64(3));
  tu_attr(g, n, "value", AT_TENSOR)->t = tu_const_i64(g, 1, (int64_t[]){1}, (int64_t[]){7});
  ok(n);
  expect(n->out[0], DT_INT64, "3");
  Value *s = tu_const_i64(g, 0, NULL, (int64_t[]){10}), *l = tu_const_i64(g, 0, NULL, (int64_t[]){1});
  n = NODE(OP_Range, 1, s, l, tu_const_i64(g, 0, NULL, (int64_t[]){-3}));
  ok(n); /* 10, 7, 4 */
  expect(n->out[0], DT_INT64, "3");
  n = NODE(OP_Range, 1, l, s, tu_const_i64(g, 0, NULL, (int64_t[]){-3}));
  ok(n);
  expect(n->out[0], DT_INT64, "0");
  n = NODE(OP_Range, 1, cf32(0, NULL, (double[]){0}), cf32(0, NULL, (double[]){1}),
           cf32(0, NULL, (double[]){0.3}));
  ok(n);
  expect(n->out[0], DT_FLOAT, "4");
  fails(NODE(OP_Range, 1, s, l, tu_const_i64(g, 0, NULL, (int64_t[]){0})), "delta is 0");
  n = NODE(OP_EyeLike, 1, IN(DT_INT32, 3, 4));
  tu_attr_int(g, n, "dtype", DT_FLOAT);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x4");
  n = NODE(OP_OneHot, 1, IN(DT_INT64, 2, 3), CI64(5), cf32(1, (int64_t[]){2}, (double[]){0, 1}));
  tu_attr_int(g, n, "axis", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x5x3");
}

/* ---- If ---- */
static Graph *branch(Node *n, const char *name, Value *outer, int64_t rows) {
  Graph *s = ir_graph_new_sub(g);
  Value *cap = ir_value_new(s, outer->name);
  cap->kind = VK_OUTER;
  cap->outer = outer;
  Node *r = tu_node_n(s, OP_Reshape, 2, (Value *[]){cap, tu_const_i64(s, 1, (int64_t[]){2}, (int64_t[]){rows, -1})}, 1);
  tu_output(s, r->out[0]);
  tu_attr(g, n, name, AT_GRAPH)->g = s;
  return s;
}

Test(shape_move, if_const_and_runtime_condition) {
  Value *x = IN(DT_FLOAT, 4, 6);
  Value *c = tu_const(g, DT_BOOL, 0, NULL, (double[]){0});
  Node *n = NODE(OP_If, 1, c);
  branch(n, "then_branch", x, 2);
  branch(n, "else_branch", x, 3);
  ok(n); /* else branch chosen */
  expect(n->out[0], DT_FLOAT, "3x8");

  n = NODE(OP_If, 1, tu_input(g, "cond", DT_BOOL, 0, NULL));
  branch(n, "then_branch", x, 2);
  branch(n, "else_branch", x, 3);
  fails(n, "If branches produce different shapes");
  n = NODE(OP_If, 1, tu_input(g, "cond2", DT_BOOL, 0, NULL));
  branch(n, "then_branch", x, 12);
  branch(n, "else_branch", x, 12);
  ok(n);
  expect(n->out[0], DT_FLOAT, "12x2");
}

/* a body graph with the given inputs (shapes filled in by the Loop/Scan) */
static Graph *body(Node *n, int nin) {
  Graph *s = ir_graph_new_sub(g);
  for (int i = 0; i < nin; i++) tu_input(s, NULL, DT_UNDEF, 0, NULL);
  tu_attr(g, n, "body", AT_GRAPH)->g = s;
  return s;
}

static Value *sub_node(Graph *s, Op op, Value *a, Value *b, int64_t perm_or_axis) {
  Node *m = tu_node_n(s, op, b ? 2 : 1, (Value *[]){a, b}, 1);
  if (op == OP_Transpose && perm_or_axis) tu_attr_ints(g, m, "perm", 2, (int64_t[]){1, 0});
  return m->out[0];
}

Test(shape_move, loop_and_scan) {
  Value *m = tu_const_i64(g, 0, NULL, (int64_t[]){5}), *x = IN(DT_FLOAT, 2, 3);
  Node *n = NODE(OP_Loop, 2, m, NULL, x);
  Graph *b = body(n, 3);
  Value *t = sub_node(b, OP_Transpose, sub_node(b, OP_Transpose, b->inputs[2], NULL, 1), NULL, 1);
  tu_output(b, b->inputs[1]);
  tu_output(b, t);
  tu_output(b, sub_node(b, OP_Unsqueeze, b->inputs[0], tu_const_i64(b, 1, (int64_t[]){1}, (int64_t[]){0}), 0));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  expect(n->out[1], DT_INT64, "5x1");

  n = NODE(OP_Loop, 1, m, NULL, x);
  b = body(n, 3);
  tu_output(b, b->inputs[1]);
  tu_output(b, sub_node(b, OP_Transpose, b->inputs[2], NULL, 1));
  fails(n, "loop-carried value 0 changes from float32[2x3] to float32[3x2]");

  n = NODE(OP_Loop, 2, NULL, tu_input(g, "c", DT_BOOL, 0, NULL), x);
  b = body(n, 3);
  tu_output(b, b->inputs[1]);
  tu_output(b, b->inputs[2]);
  tu_output(b, b->inputs[2]);
  fails(n, "data-dependent shape: the trip count");

  n = NODE(OP_Scan, 2, IN(DT_FLOAT, 2), IN(DT_FLOAT, 4, 2));
  tu_attr_int(g, n, "num_scan_inputs", 1);
  tu_attr_ints(g, n, "scan_output_axes", 1, (int64_t[]){1});
  b = body(n, 2);
  tu_output(b, b->inputs[1]);
  tu_output(b, sub_node(b, OP_Unsqueeze, b->inputs[1], tu_const_i64(b, 1, (int64_t[]){1}, (int64_t[]){0}), 0));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2");
  expect(n->out[1], DT_FLOAT, "1x4x2");
}
