/* shape_unary.c — shape inference for F_UNARY: one data input, output of the same shape.
 *
 * What varies per op is the dtype rule (the input types the ONNX spec allows, and the output type
 * of Cast/CastLike/IsNaN/IsInf), and the parameters that can be checked statically: Clip's min/max
 * (inputs since opset 11, attributes before), Dropout's ratio (input since 12, attribute before)
 * and training_mode, Cast's `to`, Gelu's `approximate`. */
#include "ir.h"

#include <string.h>

#define M(t) (1u << (t))
enum {
  M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16),
  M_SINT = M(DT_INT8) | M(DT_INT16) | M(DT_INT32) | M(DT_INT64),
  M_UINT = M(DT_UINT8) | M(DT_UINT16) | M(DT_UINT32) | M(DT_UINT64),
  M_INT = M_SINT | M_UINT,
  M_NUM = M_FLOAT | M_INT,
  M_ANY = M_NUM | M(DT_BOOL),
};

static bool in_mask(DType t, unsigned mask) { return (unsigned)t < DT_COUNT && (mask & M(t)); }

static int check_type(Graph *g, const Node *n, int i, unsigned mask, const char *what) {
  const Value *v = n->in[i];
  if (v && !in_mask(v->dtype, mask))
    return ir_node_error(g, n, "input %d ('%s') has type %s, expected %s", i, v->name,
                         dtype_name(v->dtype), what);
  return 0;
}

static void set_out(Node *n, int i, DType t, const Value *like) {
  if (i >= n->nout || !n->out[i]) return;
  n->out[i]->dtype = t;
  ir_value_set_shape(n->out[i], like->rank, like->dims);
}

/* input types per the ONNX spec (latest opset ≤ 18 that defines the op) */
static unsigned allowed(Op op, const char **what) {
  *what = "a floating-point type";
  switch (op) {
  case OP_Identity:
  case OP_Cast:
  case OP_CastLike: *what = "a numeric or bool type"; return M_ANY;
  case OP_Abs:
  case OP_Sign:
  case OP_Erf:
  case OP_Shrink:
  case OP_Clip: *what = "a numeric type"; return M_NUM;
  case OP_Neg:
  case OP_Relu: *what = "a signed numeric type"; return M_FLOAT | M_SINT;
  case OP_Not: *what = "bool"; return M(DT_BOOL);
  case OP_BitwiseNot: *what = "an integer type"; return M_INT;
  default: return M_FLOAT;
  }
}

/* an optional scalar parameter input: one element, of a type in mask */
static int check_scalar(Graph *g, const Node *n, int i, const char *what, unsigned mask,
                        const char *mask_what) {
  const Value *v = i < n->nin ? n->in[i] : NULL;
  if (!v) return 0;
  if (ir_value_numel(v) != 1 || v->rank > 1) {
    char s[128];
    ir_shape_str(v, s, sizeof s);
    return ir_node_error(g, n, "%s (input %d) must be a scalar, got shape %s", what, i, s);
  }
  if (!in_mask(v->dtype, mask))
    return ir_node_error(g, n, "%s (input %d) has type %s, expected %s", what, i, dtype_name(v->dtype), mask_what);
  return 0;
}

static int shape_clip(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (!x) return ir_node_error(g, n, "input 0 (the data to clip) is missing");
  for (int i = 1; i < n->nin && i < 3; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    if (check_scalar(g, n, i, i == 1 ? "min" : "max", M_NUM, "a numeric type")) return -1;
    if (v->dtype != x->dtype)
      return ir_node_error(g, n, "%s (input %d) has type %s but the input is %s", i == 1 ? "min" : "max",
                           i, dtype_name(v->dtype), dtype_name(x->dtype));
  }
  set_out(n, 0, x->dtype, x);
  return 0;
}

static int shape_dropout(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (check_scalar(g, n, 1, "ratio", M_FLOAT, "a floating-point type") ||
      check_scalar(g, n, 2, "training_mode", M(DT_BOOL), "bool"))
    return -1;
  double ratio = ir_attr_float(n, "ratio", 0.5f);
  if (n->nin > 1 && n->in[1] && n->in[1]->kind == VK_CONST) ratio = ir_const_f64(n->in[1], 0);
  if (!(ratio >= 0 && ratio < 1)) return ir_node_error(g, n, "ratio %g is not in [0, 1)", ratio);
  const Value *t = n->nin > 2 ? n->in[2] : NULL;
  if (t && t->kind != VK_CONST)
    return ir_node_error(g, n, "training_mode must be a constant: onnxc compiles inference graphs only");
  if (t && ir_const_i64(t, 0)) {
    if (n->nin > 1 && n->in[1] && n->in[1]->kind != VK_CONST)
      return ir_node_error(g, n, "training_mode is true and ratio is not a constant: onnxc compiles inference graphs only");
    if (ratio > 0)
      return ir_node_error(g, n, "training_mode is true with ratio %g: random dropout is not supported (inference only)", ratio);
  }
  set_out(n, 0, x->dtype, x);
  set_out(n, 1, DT_BOOL, x); /* the mask */
  return 0;
}

static int shape_cast(Graph *g, Node *n) {
  const Value *x = n->in[0];
  const Attr *to = ir_attr(n, "to");
  if (!to || to->type != AT_INT) return ir_node_error(g, n, "required attribute 'to' is missing");
  if (to->i <= DT_UNDEF || to->i >= DT_COUNT || !dtype_supported((DType)to->i))
    return ir_node_error(g, n, "cannot cast to data type %lld (%s)", (long long)to->i,
                         to->i > 0 && to->i < DT_COUNT ? dtype_name((DType)to->i) : "unknown");
  set_out(n, 0, (DType)to->i, x);
  return 0;
}

int shape_unary(Graph *g, Node *n) {
  const char *what;
  unsigned mask = allowed(n->op, &what);
  if (n->op == OP_Clip) {
    if (check_type(g, n, 0, mask, what)) return -1;
    return shape_clip(g, n);
  }
  const Value *x = n->in[0];
  if (check_type(g, n, 0, mask, what)) return -1;
  switch (n->op) {
  case OP_Cast: return shape_cast(g, n);
  case OP_CastLike:
    if (check_type(g, n, 1, M_ANY, "a numeric or bool type")) return -1;
    set_out(n, 0, n->in[1]->dtype, x);
    return 0;
  case OP_Dropout: return shape_dropout(g, n);
  case OP_IsNaN:
  case OP_IsInf: set_out(n, 0, DT_BOOL, x); return 0;
  case OP_Gelu: {
    const char *ap = ir_attr_str(n, "approximate", "none");
    if (strcmp(ap, "none") && strcmp(ap, "tanh"))
      return ir_node_error(g, n, "approximate must be \"none\" or \"tanh\", got \"%s\"", ap);
    break;
  }
  case OP_Celu:
    if (ir_attr_float(n, "alpha", 1.0f) == 0.0f) return ir_node_error(g, n, "alpha must not be 0");
    break;
  default: break;
  }
  set_out(n, 0, x->dtype, x);
  return 0;
}
