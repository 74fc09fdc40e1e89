/* test_shape_math.c — shape inference of the math families: unary, binary/Where, normalization,
 * contractions (MatMul/Gemm/Conv/ConvTranspose/Einsum), pooling, reductions.
 * Each test builds one node by hand, runs ir_infer_node, and checks the output dtype and shape
 * (as the "AxBxC" string ir_shape_str prints) or a substring of the error message. */
#include <criterion/criterion.h>
#include <string.h>

#include "testutil.h"

static Graph *g;

static void setup(void) {
  g = ir_graph_new();
  g->opset = 18;
}
static void teardown(void) { ir_graph_free(g); }
TestSuite(shape_math, .init = setup, .fini = teardown);

/* ---- builders ---- */
#define DIMS(...) (sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), ((int64_t[]){__VA_ARGS__})
#define IN(t, ...) tu_input(g, NULL, t, DIMS(__VA_ARGS__))
#define SCALAR(t) tu_input(g, NULL, t, 0, NULL)
#define NODE(op, nout, ...) mk(op, nout, (int)(sizeof((Value *[]){__VA_ARGS__}) / sizeof(Value *)), (Value *[]){__VA_ARGS__})
#define INTS(n, name, ...) attr_ints(n, name, DIMS(__VA_ARGS__))

static Node *mk(Op op, int nout, int nin, Value **ins) {
  Node *n = ir_node_new(g, op, NULL, nin, nout);
  for (int i = 0; i < nin; i++) n->in[i] = ins[i];
  for (int i = 0; i < nout; i++) {
    n->out[i] = ir_value_new(g, NULL);
    n->out[i]->producer = n;
  }
  return n;
}

static Attr *attr_add(Node *n, const char *name, AttrType t) {
  Attr *a = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
  if (n->nattr) memcpy(a, n->attrs, sizeof(Attr) * (size_t)n->nattr);
  n->attrs = a;
  a += n->nattr++;
  a->name = name;
  a->type = t;
  return a;
}
static void attr_int(Node *n, const char *name, int64_t v) { attr_add(n, name, AT_INT)->i = v; }
static void attr_float(Node *n, const char *name, float v) { attr_add(n, name, AT_FLOAT)->f = v; }
static void attr_str(Node *n, const char *name, const char *s) { attr_add(n, name, AT_STRING)->s = s; }
static void attr_ints(Node *n, const char *name, size_t cnt, const int64_t *v) {
  Attr *a = attr_add(n, name, AT_INTS);
  a->n = (int)cnt;
  a->ints = arena_dup(g->arena, v, sizeof(int64_t) * (cnt ? cnt : 1));
}

/* a 1-D int64 constant */
static Value *const_i64(size_t cnt, const int64_t *v) {
  int64_t d[1] = {(int64_t)cnt};
  Value *c = ir_const_new(g, NULL, DT_INT64, 1, d);
  if (cnt) memcpy(c->data, v, sizeof(int64_t) * cnt);
  return c;
}
#define CONST_I64(...) const_i64(DIMS(__VA_ARGS__))

static Value *const_scalar(DType t, double x) {
  Value *c = ir_const_new(g, NULL, t, 0, NULL);
  ir_store_f64(t, c->data, 0, x);
  return c;
}

/* ---- checks ---- */
static void ok(Node *n) { cr_assert_eq(ir_infer_node(g, n), 0, "inference failed: %s", ir_last_error(g)); }

static void expect(const Value *v, DType t, const char *shape) {
  char s[128];
  ir_shape_str(v, s, sizeof s);
  cr_expect_str_eq(s, shape, "shape %s, expected %s", s, shape);
  cr_expect_eq(v->dtype, t, "dtype %s, expected %s", dtype_name(v->dtype), dtype_name(t));
}

/* ir_infer_node must fail with a message containing sub; clears the error for the next check */
static void fails(Node *n, const char *sub) {
  cr_assert_neq(ir_infer_node(g, n), 0, "expected an error containing \"%s\"", sub);
  cr_expect(strstr(ir_last_error(g), sub) != NULL, "error \"%s\" does not contain \"%s\"", ir_last_error(g), sub);
  free(g->err);
  g->err = NULL;
}

/* ================================ unary ================================ */

Test(shape_math, unary_same_shape_and_dtype_rules) {
  Node *n = NODE(OP_Relu, 1, IN(DT_FLOAT, 2, 3));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  n = NODE(OP_IsNaN, 1, IN(DT_FLOAT16, 4));
  ok(n);
  expect(n->out[0], DT_BOOL, "4");
  n = NODE(OP_Identity, 1, IN(DT_BOOL, 1, 2, 3));
  ok(n);
  expect(n->out[0], DT_BOOL, "1x2x3");
  n = NODE(OP_Abs, 1, SCALAR(DT_INT32));
  ok(n);
  expect(n->out[0], DT_INT32, "scalar");
  fails(NODE(OP_Sin, 1, IN(DT_INT32, 2)), "expected a floating-point type");
  fails(NODE(OP_Not, 1, IN(DT_FLOAT, 2)), "expected bool");
  fails(NODE(OP_Neg, 1, IN(DT_UINT8, 2)), "signed");
  n = NODE(OP_Gelu, 1, IN(DT_FLOAT, 2));
  attr_str(n, "approximate", "erf");
  fails(n, "approximate");
}

Test(shape_math, cast_and_castlike) {
  Node *n = NODE(OP_Cast, 1, IN(DT_FLOAT, 2, 3));
  attr_int(n, "to", DT_INT64);
  ok(n);
  expect(n->out[0], DT_INT64, "2x3");
  n = NODE(OP_CastLike, 1, IN(DT_FLOAT, 5), SCALAR(DT_FLOAT16));
  ok(n);
  expect(n->out[0], DT_FLOAT16, "5");
  fails(NODE(OP_Cast, 1, IN(DT_FLOAT, 2)), "'to' is missing");
  n = NODE(OP_Cast, 1, IN(DT_FLOAT, 2));
  attr_int(n, "to", DT_STRING);
  fails(n, "cannot cast to data type 8");
}

Test(shape_math, clip_min_max_inputs) {
  Node *n = NODE(OP_Clip, 1, IN(DT_FLOAT, 3, 4), const_scalar(DT_FLOAT, 0), const_scalar(DT_FLOAT, 6));
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x4");
  n = NODE(OP_Clip, 1, IN(DT_FLOAT, 3, 4), NULL, const_scalar(DT_FLOAT, 6)); /* only max */
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x4");
  fails(NODE(OP_Clip, 1, IN(DT_FLOAT, 3), const_scalar(DT_DOUBLE, 0)), "min (input 1) has type float64");
  fails(NODE(OP_Clip, 1, IN(DT_FLOAT, 3), IN(DT_FLOAT, 2)), "must be a scalar");
}

Test(shape_math, dropout_mask) {
  Node *n = NODE(OP_Dropout, 2, IN(DT_FLOAT, 8, 16), const_scalar(DT_FLOAT, 0.1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "8x16");
  expect(n->out[1], DT_BOOL, "8x16");
  fails(NODE(OP_Dropout, 1, IN(DT_FLOAT, 8), const_scalar(DT_FLOAT, 1.5)), "ratio 1.5");
  fails(NODE(OP_Dropout, 1, IN(DT_FLOAT, 8), NULL, SCALAR(DT_FLOAT)), "training_mode");
  n = NODE(OP_Dropout, 1, IN(DT_FLOAT, 8)); /* opset < 12: ratio is an attribute */
  attr_float(n, "ratio", 1.0f);
  fails(n, "ratio 1 is not in [0, 1)");
}

/* ================================ binary ================================ */

Test(shape_math, binary_broadcasting) {
  Node *n = NODE(OP_Add, 1, IN(DT_FLOAT, 2, 3, 4), IN(DT_FLOAT, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x4");
  n = NODE(OP_Mul, 1, IN(DT_INT64, 5, 1), IN(DT_INT64, 1, 7));
  ok(n);
  expect(n->out[0], DT_INT64, "5x7");
  n = NODE(OP_Max, 1, IN(DT_FLOAT, 3, 1), IN(DT_FLOAT, 1, 4), IN(DT_FLOAT, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x4");
  n = NODE(OP_Sum, 1, IN(DT_FLOAT, 6));
  ok(n);
  expect(n->out[0], DT_FLOAT, "6");
  fails(NODE(OP_Add, 1, IN(DT_FLOAT, 2, 3), IN(DT_FLOAT, 4)), "cannot be broadcast");
  fails(NODE(OP_Sub, 1, IN(DT_FLOAT, 2), IN(DT_INT32, 2)), "same type");
  fails(NODE(OP_Mean, 1, IN(DT_INT32, 2), IN(DT_INT32, 2)), "floating-point");
  fails(NODE(OP_Add, 1, IN(DT_BOOL, 2), IN(DT_BOOL, 2)), "numeric");
}

Test(shape_math, comparison_and_logic) {
  Node *n = NODE(OP_Less, 1, IN(DT_FLOAT, 2, 3), IN(DT_FLOAT, 3));
  ok(n);
  expect(n->out[0], DT_BOOL, "2x3");
  n = NODE(OP_Equal, 1, IN(DT_BOOL, 4), IN(DT_BOOL, 4));
  ok(n);
  expect(n->out[0], DT_BOOL, "4");
  n = NODE(OP_Xor, 1, IN(DT_BOOL, 4, 1), IN(DT_BOOL, 2));
  ok(n);
  expect(n->out[0], DT_BOOL, "4x2");
  fails(NODE(OP_And, 1, IN(DT_FLOAT, 2), IN(DT_FLOAT, 2)), "expected bool");
  n = NODE(OP_BitwiseAnd, 1, IN(DT_UINT16, 2), IN(DT_UINT16, 2));
  ok(n);
  expect(n->out[0], DT_UINT16, "2");
}

Test(shape_math, pow_mod_bitshift) {
  Node *n = NODE(OP_Pow, 1, IN(DT_FLOAT, 2, 3), IN(DT_INT64, 1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  n = NODE(OP_Mod, 1, IN(DT_INT32, 2), IN(DT_INT32, 2));
  ok(n);
  expect(n->out[0], DT_INT32, "2");
  fails(NODE(OP_Mod, 1, IN(DT_FLOAT, 2), IN(DT_FLOAT, 2)), "fmod must be 1");
  n = NODE(OP_Mod, 1, IN(DT_FLOAT, 2), IN(DT_FLOAT, 2));
  attr_int(n, "fmod", 1);
  ok(n);
  n = NODE(OP_BitShift, 1, IN(DT_UINT8, 3), IN(DT_UINT8, 1));
  attr_str(n, "direction", "LEFT");
  ok(n);
  expect(n->out[0], DT_UINT8, "3");
  fails(NODE(OP_BitShift, 1, IN(DT_UINT8, 3), IN(DT_UINT8, 3)), "'direction' is missing");
  n = NODE(OP_BitShift, 1, IN(DT_INT8, 3), IN(DT_INT8, 3));
  attr_str(n, "direction", "LEFT");
  fails(n, "unsigned");
}

Test(shape_math, prelu_slope_unidirectional) {
  Node *n = NODE(OP_PRelu, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 3, 1, 1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x8x8");
  fails(NODE(OP_PRelu, 1, IN(DT_FLOAT, 3, 8), IN(DT_FLOAT, 2, 3, 8)), "does not broadcast to X");
  fails(NODE(OP_PRelu, 1, IN(DT_FLOAT, 1, 8), IN(DT_FLOAT, 4, 8)), "does not broadcast to X");
}

Test(shape_math, where_three_way) {
  Node *n = NODE(OP_Where, 1, IN(DT_BOOL, 2, 1, 1), IN(DT_INT64, 1, 3, 1), IN(DT_INT64, 4));
  ok(n);
  expect(n->out[0], DT_INT64, "2x3x4");
  fails(NODE(OP_Where, 1, IN(DT_FLOAT, 2), IN(DT_FLOAT, 2), IN(DT_FLOAT, 2)), "condition (input 0) must be bool");
  fails(NODE(OP_Where, 1, IN(DT_BOOL, 2), IN(DT_FLOAT, 2), IN(DT_DOUBLE, 2)), "same type");
  fails(NODE(OP_Where, 1, IN(DT_BOOL, 2), IN(DT_FLOAT, 3), IN(DT_FLOAT, 1)), "cannot be broadcast");
}

/* ================================ normalization ================================ */

Test(shape_math, batchnorm) {
  Node *n = NODE(OP_BatchNormalization, 3, IN(DT_FLOAT, 2, 3, 8, 8), IN(DT_FLOAT, 3), IN(DT_FLOAT, 3),
                 IN(DT_FLOAT, 3), IN(DT_FLOAT, 3));
  attr_int(n, "training_mode", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x8x8");
  expect(n->out[1], DT_FLOAT, "3");
  expect(n->out[2], DT_FLOAT, "3");
  fails(NODE(OP_BatchNormalization, 1, IN(DT_FLOAT, 2, 3, 8, 8), IN(DT_FLOAT, 4), IN(DT_FLOAT, 3), IN(DT_FLOAT, 3),
             IN(DT_FLOAT, 3)),
        "scale (input 1) has shape 4, expected 3");
  fails(NODE(OP_BatchNormalization, 1, IN(DT_FLOAT, 2), IN(DT_FLOAT, 2), IN(DT_FLOAT, 2), IN(DT_FLOAT, 2),
             IN(DT_FLOAT, 2)),
        "rank >= 2");
}

Test(shape_math, instancenorm_lrn_lpnorm_mvn) {
  Node *n = NODE(OP_InstanceNormalization, 1, IN(DT_FLOAT, 1, 4, 5, 5), IN(DT_FLOAT, 4), IN(DT_FLOAT, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x4x5x5");
  fails(NODE(OP_InstanceNormalization, 1, IN(DT_FLOAT, 1, 4, 5), IN(DT_FLOAT, 4), IN(DT_FLOAT, 5)), "B (input 2)");
  n = NODE(OP_LRN, 1, IN(DT_FLOAT, 1, 8, 4, 4));
  attr_int(n, "size", 5);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x4x4");
  fails(NODE(OP_LRN, 1, IN(DT_FLOAT, 1, 8, 4, 4)), "'size' is missing");
  n = NODE(OP_LpNormalization, 1, IN(DT_FLOAT, 2, 6));
  attr_int(n, "p", 3);
  fails(n, "p must be 1 or 2");
  n = NODE(OP_MeanVarianceNormalization, 1, IN(DT_FLOAT, 1, 3, 4, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x3x4x4");
  fails(NODE(OP_MeanVarianceNormalization, 1, IN(DT_FLOAT, 3, 4, 4)), "axis 3 is out of range");
}

Test(shape_math, layernorm_stats_outputs) {
  Node *n = NODE(OP_LayerNormalization, 3, IN(DT_FLOAT16, 2, 5, 8), IN(DT_FLOAT16, 8), IN(DT_FLOAT16, 8));
  ok(n);
  expect(n->out[0], DT_FLOAT16, "2x5x8");
  expect(n->out[1], DT_FLOAT, "2x5x1"); /* stash_type defaults to float */
  expect(n->out[2], DT_FLOAT, "2x5x1");
  n = NODE(OP_LayerNormalization, 2, IN(DT_FLOAT, 2, 5, 8), IN(DT_FLOAT, 5, 8));
  attr_int(n, "axis", 1);
  ok(n);
  expect(n->out[1], DT_FLOAT, "2x1x1");
  n = NODE(OP_LayerNormalization, 1, IN(DT_FLOAT, 2, 5, 8), IN(DT_FLOAT, 5, 8));
  fails(n, "does not broadcast to the dims from axis 2");
  n = NODE(OP_LayerNormalization, 1, IN(DT_FLOAT, 2, 5, 8), IN(DT_FLOAT, 8));
  attr_int(n, "axis", 3);
  fails(n, "axis 3 is out of range for rank 3");
}

/* ================================ contractions ================================ */

Test(shape_math, matmul_batch_broadcast_and_1d) {
  Node *n = NODE(OP_MatMul, 1, IN(DT_FLOAT, 2, 1, 3, 4), IN(DT_FLOAT, 5, 4, 6));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x5x3x6");
  n = NODE(OP_MatMul, 1, IN(DT_FLOAT, 4), IN(DT_FLOAT, 3, 4, 6));
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x6");
  n = NODE(OP_MatMul, 1, IN(DT_FLOAT, 2, 3, 4), IN(DT_FLOAT, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  n = NODE(OP_MatMul, 1, IN(DT_INT32, 4), IN(DT_INT32, 4));
  ok(n);
  expect(n->out[0], DT_INT32, "scalar");
  fails(NODE(OP_MatMul, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 5, 6)), "inner dimensions do not match");
  fails(NODE(OP_MatMul, 1, IN(DT_FLOAT, 2, 3, 4), IN(DT_FLOAT, 3, 4, 6)), "batch dimensions of A (2) and B (3)");
  fails(NODE(OP_MatMul, 1, IN(DT_INT8, 3, 4), IN(DT_INT8, 4, 6)), "has type int8");
}

Test(shape_math, gemm_trans_and_c_broadcast) {
  Node *n = NODE(OP_Gemm, 1, IN(DT_FLOAT, 4, 3), IN(DT_FLOAT, 5, 4), IN(DT_FLOAT, 5));
  attr_int(n, "transA", 1);
  attr_int(n, "transB", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x5");
  n = NODE(OP_Gemm, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 4, 5));
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x5");
  n = NODE(OP_Gemm, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 4, 5), IN(DT_FLOAT, 3, 1));
  ok(n);
  fails(NODE(OP_Gemm, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 4, 5), IN(DT_FLOAT, 3)), "C of shape 3 does not broadcast");
  fails(NODE(OP_Gemm, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 5, 4)), "inner dimensions do not match");
  fails(NODE(OP_Gemm, 1, IN(DT_FLOAT, 2, 3, 4), IN(DT_FLOAT, 4, 5)), "must be 2-D");
}

Test(shape_math, conv_resnet_stem) {
  Node *n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 224, 224), IN(DT_FLOAT, 64, 3, 7, 7), IN(DT_FLOAT, 64));
  INTS(n, "strides", 2, 2);
  INTS(n, "pads", 3, 3, 3, 3);
  INTS(n, "kernel_shape", 7, 7);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x64x112x112");
}

Test(shape_math, conv_auto_pad_dilation_1d) {
  Node *n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 225, 225), IN(DT_FLOAT, 8, 3, 3, 3));
  attr_str(n, "auto_pad", "SAME_UPPER");
  INTS(n, "strides", 2, 2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x113x113");
  IrWindow w;
  int64_t in[2] = {225, 225}, k[2] = {3, 3};
  cr_assert_eq(ir_window(g, n, 2, in, k, &w), 0);
  cr_expect_eq(w.pad_begin[0], 1); /* total (113-1)*2+3-225 = 2 */
  cr_expect_eq(w.pad_end[0], 1);
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 10, 10), IN(DT_FLOAT, 8, 3, 2, 2));
  attr_str(n, "auto_pad", "SAME_LOWER");
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x10x10");
  cr_assert_eq(ir_window(g, n, 2, (int64_t[]){10, 10}, (int64_t[]){2, 2}, &w), 0);
  cr_expect_eq(w.pad_begin[0], 1); /* SAME_LOWER: the odd pad goes first */
  cr_expect_eq(w.pad_end[0], 0);
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 10, 10), IN(DT_FLOAT, 8, 3, 3, 3));
  attr_str(n, "auto_pad", "VALID");
  INTS(n, "dilations", 2, 2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x6x6");
  n = NODE(OP_Conv, 1, IN(DT_DOUBLE, 4, 16, 100), IN(DT_DOUBLE, 32, 16, 5));
  INTS(n, "strides", 3);
  INTS(n, "pads", 2, 1);
  ok(n);
  expect(n->out[0], DT_DOUBLE, "4x32x33"); /* (100+3-5)/3+1 */
}

Test(shape_math, conv_groups) {
  Node *n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 32, 56, 56), IN(DT_FLOAT, 64, 8, 3, 3));
  attr_int(n, "group", 4);
  INTS(n, "pads", 1, 1, 1, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x64x56x56");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 32, 56, 56), IN(DT_FLOAT, 32, 1, 3, 3)); /* depthwise */
  attr_int(n, "group", 32);
  INTS(n, "strides", 2, 2);
  INTS(n, "pads", 1, 1, 1, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x32x28x28");
}

Test(shape_math, conv_errors) {
  Node *n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 30, 8, 8), IN(DT_FLOAT, 8, 7, 3, 3));
  attr_int(n, "group", 4);
  fails(n, "group 4 does not divide the 30 input channels");
  fails(NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 4, 3, 3)), "W expects 4 input channels");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3));
  INTS(n, "strides", 0, 1);
  fails(n, "strides[0] = 0");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3));
  INTS(n, "pads", 1, 1);
  fails(n, "pads has 2 values, expected 4");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3));
  attr_int(n, "group", 0);
  fails(n, "group must be positive");
  fails(NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 2, 2), IN(DT_FLOAT, 8, 3, 3, 3)), "larger than the padded input");
  fails(NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3), IN(DT_FLOAT, 4)), "bias B has shape 4");
  fails(NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3)), "same rank as X");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3));
  attr_str(n, "auto_pad", "SAME");
  fails(n, "auto_pad must be");
  n = NODE(OP_Conv, 1, IN(DT_FLOAT, 1, 3, 8, 8), IN(DT_FLOAT, 8, 3, 3, 3));
  INTS(n, "kernel_shape", 5, 5);
  fails(n, "kernel_shape does not match");
  fails(NODE(OP_Conv, 1, IN(DT_INT32, 1, 3, 8, 8), IN(DT_INT32, 8, 3, 3, 3)), "floating-point");
}

Test(shape_math, conv_transpose) {
  Node *n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 16, 14, 14), IN(DT_FLOAT, 16, 8, 3, 3), IN(DT_FLOAT, 8));
  INTS(n, "strides", 2, 2);
  INTS(n, "pads", 1, 1, 1, 1);
  INTS(n, "output_padding", 1, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x28x28"); /* 2*13 + 1 + 3 - 2 */
  n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 16, 14, 14), IN(DT_FLOAT, 16, 4, 3, 3));
  attr_int(n, "group", 2);
  INTS(n, "strides", 2, 2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x8x29x29");
  n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 1, 3, 3), IN(DT_FLOAT, 1, 2, 3, 3));
  INTS(n, "strides", 3, 2);
  INTS(n, "output_shape", 10, 8);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x2x10x8"); /* full size 9x7: one extra row and column at the end */
  IrWindow w;
  cr_assert_eq(ir_window(g, n, 2, (int64_t[]){3, 3}, (int64_t[]){3, 3}, &w), 0);
  cr_expect(w.out_pad[0] == 1 && w.out_pad[1] == 1 && w.pad_begin[0] == 0 && w.pad_end[1] == 0);
  n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 1, 3, 3), IN(DT_FLOAT, 1, 2, 3, 3));
  INTS(n, "strides", 2, 2);
  INTS(n, "output_shape", 1, 2, 6, 5); /* with N and C */
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x2x6x5");
  cr_assert_eq(ir_window(g, n, 2, (int64_t[]){3, 3}, (int64_t[]){3, 3}, &w), 0);
  cr_expect(w.pad_begin[0] == 1 && w.pad_end[0] == 0, "total 1: the odd pad goes first unless SAME_UPPER");
  n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 1, 3, 3), IN(DT_FLOAT, 1, 2, 3, 3));
  attr_str(n, "auto_pad", "SAME_UPPER");
  INTS(n, "strides", 2, 2);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x2x6x6");
  n = NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 1, 3, 3), IN(DT_FLOAT, 1, 2, 3, 3));
  INTS(n, "strides", 2, 2);
  INTS(n, "output_padding", 2, 0);
  fails(n, "output_padding[0] = 2 must be smaller");
  fails(NODE(OP_ConvTranspose, 1, IN(DT_FLOAT, 1, 4, 3, 3), IN(DT_FLOAT, 2, 2, 3, 3)), "W expects 2 input channels");
}

Test(shape_math, einsum) {
  Node *n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 2, 3, 4), IN(DT_FLOAT, 2, 4, 5));
  attr_str(n, "equation", "bij,bjk->bik");
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x5");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 3));
  attr_str(n, "equation", "ii->i");
  ok(n);
  expect(n->out[0], DT_FLOAT, "3");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 3));
  attr_str(n, "equation", "ii"); /* trace */
  ok(n);
  expect(n->out[0], DT_FLOAT, "scalar");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 4, 5));
  attr_str(n, "equation", "ij, jk"); /* implicit: ik */
  ok(n);
  expect(n->out[0], DT_FLOAT, "3x5");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 2, 3, 4));
  attr_str(n, "equation", "...ji"); /* implicit: ...ij, a transpose */
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x4x3");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 2, 1, 3, 4), IN(DT_FLOAT, 5, 4, 6));
  attr_str(n, "equation", "...ij,...jk->...ik");
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x5x3x6");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 7), IN(DT_FLOAT, 8));
  attr_str(n, "equation", "i,j->ij"); /* outer product */
  ok(n);
  expect(n->out[0], DT_FLOAT, "7x8");
}

Test(shape_math, einsum_errors) {
  Node *n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4), IN(DT_FLOAT, 5, 6));
  attr_str(n, "equation", "ij,jk->ik");
  fails(n, "label 'j' has size 5 in input 1 but 4 elsewhere");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4));
  attr_str(n, "equation", "ij,jk->ik");
  fails(n, "one term per input");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4));
  attr_str(n, "equation", "ij->iz");
  fails(n, "output label 'z' does not appear");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4));
  attr_str(n, "equation", "ijk->i");
  fails(n, "has 3 labels but input 0 has rank 2");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 2, 3, 4));
  attr_str(n, "equation", "...ij->ij");
  fails(n, "needs '...'");
  n = NODE(OP_Einsum, 1, IN(DT_FLOAT, 3, 4));
  attr_str(n, "equation", "i1->i");
  fails(n, "invalid character '1'");
}

/* ================================ pooling ================================ */

Test(shape_math, maxpool_with_indices) {
  Node *n = NODE(OP_MaxPool, 2, IN(DT_FLOAT, 1, 64, 112, 112));
  INTS(n, "kernel_shape", 3, 3);
  INTS(n, "strides", 2, 2);
  INTS(n, "pads", 1, 1, 1, 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x64x56x56");
  expect(n->out[1], DT_INT64, "1x64x56x56");
}

Test(shape_math, maxpool_ceil_mode) {
  Node *n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 4, 4));
  INTS(n, "kernel_shape", 3, 3);
  INTS(n, "strides", 2, 2);
  attr_int(n, "ceil_mode", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x1x2x2"); /* floor mode: 1x1 */
  /* the last window would start in the right padding: dropped, as in PyTorch */
  n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 5));
  INTS(n, "kernel_shape", 2);
  INTS(n, "strides", 2);
  INTS(n, "pads", 1, 1);
  attr_int(n, "ceil_mode", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x1x3");
}

Test(shape_math, avgpool_lppool_global) {
  Node *n = NODE(OP_AveragePool, 1, IN(DT_FLOAT, 1, 1, 5, 5));
  INTS(n, "kernel_shape", 3, 3);
  INTS(n, "strides", 2, 2);
  attr_str(n, "auto_pad", "SAME_UPPER");
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x1x3x3");
  n = NODE(OP_LpPool, 1, IN(DT_FLOAT, 2, 3, 9));
  INTS(n, "kernel_shape", 3);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x7");
  n = NODE(OP_GlobalAveragePool, 1, IN(DT_FLOAT, 1, 2048, 7, 7));
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x2048x1x1");
  n = NODE(OP_GlobalMaxPool, 1, IN(DT_FLOAT16, 2, 8, 3, 4, 5));
  ok(n);
  expect(n->out[0], DT_FLOAT16, "2x8x1x1x1");
}

Test(shape_math, pool_errors) {
  fails(NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 4, 4)), "'kernel_shape' is missing");
  Node *n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 4, 4));
  INTS(n, "kernel_shape", 3);
  fails(n, "kernel_shape has 1 values but the input has 2 spatial dims");
  n = NODE(OP_AveragePool, 1, IN(DT_FLOAT, 1, 1, 4, 4));
  INTS(n, "kernel_shape", 2, 2);
  INTS(n, "strides", 1, 0);
  fails(n, "strides[1] = 0");
  n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 4, 4));
  INTS(n, "kernel_shape", 2, 2);
  INTS(n, "pads", 2, 0, 0, 0);
  fails(n, "must be smaller than the kernel");
  n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 1, 4, 4));
  INTS(n, "kernel_shape", 0, 2);
  fails(n, "kernel size 0");
  n = NODE(OP_MaxPool, 1, IN(DT_FLOAT, 1, 4));
  INTS(n, "kernel_shape", 2);
  fails(n, "rank >= 3");
  n = NODE(OP_LpPool, 1, IN(DT_FLOAT, 1, 1, 4));
  INTS(n, "kernel_shape", 2);
  attr_int(n, "p", 0);
  fails(n, "p must be positive");
  n = NODE(OP_MaxPool, 1, IN(DT_INT32, 1, 1, 4));
  INTS(n, "kernel_shape", 2);
  fails(n, "has type int32");
}

/* ================================ reductions ================================ */

Test(shape_math, reduce_axes_input_and_attribute) {
  Node *n = NODE(OP_ReduceMean, 1, IN(DT_FLOAT, 2, 3, 4, 5), CONST_I64(1, -1));
  attr_int(n, "keepdims", 0);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x4");
  g->opset = 11;
  n = NODE(OP_ReduceSum, 1, IN(DT_INT64, 2, 3, 4));
  INTS(n, "axes", 1);
  ok(n);
  expect(n->out[0], DT_INT64, "2x1x4");
  g->opset = 18;
  n = NODE(OP_ReduceMax, 1, IN(DT_FLOAT, 2, 3, 4)); /* no axes: all */
  ok(n);
  expect(n->out[0], DT_FLOAT, "1x1x1");
  n = NODE(OP_ReduceL2, 1, IN(DT_FLOAT, 2, 3, 4));
  attr_int(n, "keepdims", 0);
  ok(n);
  expect(n->out[0], DT_FLOAT, "scalar");
  n = NODE(OP_ReduceSum, 1, IN(DT_FLOAT, 2, 3), const_i64(0, NULL));
  attr_int(n, "noop_with_empty_axes", 1);
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
}

Test(shape_math, reduce_errors) {
  fails(NODE(OP_ReduceSum, 1, IN(DT_FLOAT, 2, 3), IN(DT_INT64, 1)), "must be a constant");
  fails(NODE(OP_ReduceSum, 1, IN(DT_FLOAT, 2, 3, 4, 5), CONST_I64(4)), "axis 4 is out of range for rank 4");
  fails(NODE(OP_ReduceSum, 1, IN(DT_FLOAT, 2, 3), CONST_I64(1, -1)), "appears twice");
  Node *n = NODE(OP_ReduceMean, 1, IN(DT_FLOAT, 2, 3));
  attr_int(n, "keepdims", 2);
  fails(n, "keepdims must be 0 or 1");
  fails(NODE(OP_ReduceMean, 1, IN(DT_BOOL, 2, 3)), "has type bool");
}

Test(shape_math, argmax_argmin) {
  Node *n = NODE(OP_ArgMax, 1, IN(DT_FLOAT, 2, 3, 4));
  attr_int(n, "axis", 1);
  attr_int(n, "keepdims", 0);
  ok(n);
  expect(n->out[0], DT_INT64, "2x4");
  n = NODE(OP_ArgMin, 1, IN(DT_INT32, 2, 3, 4));
  attr_int(n, "axis", -1);
  ok(n);
  expect(n->out[0], DT_INT64, "2x3x1");
  n = NODE(OP_ArgMax, 1, IN(DT_FLOAT, 2, 3));
  attr_int(n, "select_last_index", 2);
  fails(n, "select_last_index must be 0 or 1");
  n = NODE(OP_ArgMax, 1, IN(DT_FLOAT, 2, 3));
  attr_int(n, "axis", -3);
  fails(n, "axis -3 is out of range for rank 2");
}

Test(shape_math, softmax_axis_by_opset) {
  Node *n = NODE(OP_Softmax, 1, IN(DT_FLOAT, 2, 3, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x4");
  n = NODE(OP_LogSoftmax, 1, IN(DT_FLOAT, 10)); /* opset 18: axis -1 */
  ok(n);
  expect(n->out[0], DT_FLOAT, "10");
  g->opset = 11; /* default axis 1 is out of range for a 1-D input */
  fails(NODE(OP_Softmax, 1, IN(DT_FLOAT, 10)), "axis 1 is out of range for rank 1");
  n = NODE(OP_Hardmax, 1, IN(DT_FLOAT, 2, 3, 4));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3x4");
  fails(NODE(OP_Softmax, 1, IN(DT_INT32, 2, 3)), "floating-point");
}

Test(shape_math, cumsum) {
  Node *n = NODE(OP_CumSum, 1, IN(DT_FLOAT, 2, 3), const_scalar(DT_INT32, 1));
  ok(n);
  expect(n->out[0], DT_FLOAT, "2x3");
  n = NODE(OP_CumSum, 1, IN(DT_FLOAT, 2, 3), SCALAR(DT_INT64)); /* runtime axis is fine */
  ok(n);
  fails(NODE(OP_CumSum, 1, IN(DT_FLOAT, 2, 3), const_scalar(DT_INT64, 2)), "axis 2 is out of range");
  fails(NODE(OP_CumSum, 1, IN(DT_FLOAT, 2, 3), IN(DT_INT64, 2)), "axis (input 1) must be a scalar");
  fails(NODE(OP_CumSum, 1, IN(DT_FLOAT, 2, 3), const_scalar(DT_FLOAT, 0)), "int32 or int64");
}
