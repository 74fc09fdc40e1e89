/* shape_reduce.c — shape inference for F_REDUCE: Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax,
 * CumSum.
 *
 * Reduce* take `axes` as an attribute before opset 18 (ReduceSum: 13) and as an optional second
 * input after; we accept whichever the node carries, but the input must be a constant since shapes
 * are static.  Empty axes mean "all" unless noop_with_empty_axes is set. */
#include "ir.h"

#define M(t) (1u << (t))
enum {
  M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16),
  M_SINT = M(DT_INT8) | M(DT_INT16) | M(DT_INT32) | M(DT_INT64),
  M_UINT = M(DT_UINT8) | M(DT_UINT16) | M(DT_UINT32) | M(DT_UINT64),
  M_NUM = M_FLOAT | M_SINT | M_UINT,
  M_RED = M_FLOAT | M(DT_INT32) | M(DT_INT64) | M(DT_UINT32) | M(DT_UINT64),
};

static int check_type(Graph *g, const Node *n, int i, unsigned mask, const char *what) {
  const Value *v = n->in[i];
  if (!((unsigned)v->dtype < DT_COUNT && (mask & M(v->dtype))))
    return ir_node_error(g, n, "input %d ('%s') has type %s, expected %s", i, v->name, dtype_name(v->dtype),
                         what);
  return 0;
}

static void set_out(Node *n, DType t, int rank, const int64_t *dims) {
  if (!n->out[0]) return;
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], rank, dims);
}

static int check_01(Graph *g, const Node *n, const char *name, int64_t def) {
  int64_t v = ir_attr_int(n, name, def);
  if (v != 0 && v != 1) return ir_node_error(g, n, "%s must be 0 or 1, got %lld", name, (long long)v);
  return 0;
}

/* drop (or with keepdims, set to 1) the dims marked in red */
static void set_reduced(Node *n, DType t, const Value *x, const bool *red, bool keepdims) {
  int64_t dims[IR_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (!red[i]) dims[r++] = x->dims[i];
    else if (keepdims) dims[r++] = 1;
  set_out(n, t, r, dims);
}

static int shape_reduce_op(Graph *g, Node *n) {
  const Value *x = n->in[0], *ax = n->nin > 1 ? n->in[1] : NULL;
  bool mm = n->op == OP_ReduceMax || n->op == OP_ReduceMin;
  if (check_type(g, n, 0, mm ? M_NUM : M_RED,
                 mm ? "a numeric type" : "a floating-point type or (u)int32/(u)int64") ||
      check_01(g, n, "keepdims", 1) || check_01(g, n, "noop_with_empty_axes", 0))
    return -1;
  const int64_t *attr_axes = NULL;
  int na = 0;
  if (ax) {
    if (ax->kind != VK_CONST)
      return ir_node_error(g, n, "axes (input 1) must be a constant; onnxc needs static shapes");
    if (ax->dtype != DT_INT64 || ax->rank != 1)
      return ir_node_error(g, n, "axes (input 1) must be a 1-D int64 tensor, got %s of rank %d",
                           dtype_name(ax->dtype), ax->rank);
    na = (int)ax->dims[0];
  } else {
    na = ir_attr_ints(n, "axes", &attr_axes);
    if (na < 0) na = 0;
  }
  bool red[IR_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int64_t a64 = ax ? ir_const_i64(ax, i) : attr_axes[i];
    int a;
    if (ir_normalize_axis(g, n, a64, x->rank, &a)) return -1;
    if (red[a]) return ir_node_error(g, n, "axis %lld appears twice in axes", (long long)a64);
    red[a] = true;
  }
  if (na == 0) {
    if (ir_attr_int(n, "noop_with_empty_axes", 0)) {
      set_out(n, x->dtype, x->rank, x->dims);
      return 0;
    }
    for (int i = 0; i < x->rank; i++) red[i] = true;
  }
  set_reduced(n, x->dtype, x, red, ir_attr_int(n, "keepdims", 1) != 0);
  return 0;
}

static int shape_arg(Graph *g, Node *n) {
  const Value *x = n->in[0];
  int axis;
  if (check_type(g, n, 0, M_NUM, "a numeric type") || check_01(g, n, "keepdims", 1) ||
      check_01(g, n, "select_last_index", 0))
    return -1;
  if (x->rank < 1) return ir_node_error(g, n, "input must have rank >= 1, got a scalar");
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  if (x->dims[axis] == 0) return ir_node_error(g, n, "cannot take %s over the empty axis %d", ir_ops[n->op].name, axis);
  bool red[IR_MAX_RANK] = {0};
  red[axis] = true;
  set_reduced(n, DT_INT64, x, red, ir_attr_int(n, "keepdims", 1) != 0);
  return 0;
}

/* Softmax, LogSoftmax, Hardmax: axis defaults to -1 from opset 13, to 1 (with the input coerced to
 * 2-D around it) before; either way the output has the input's shape */
static int shape_softmax(Graph *g, Node *n) {
  const Value *x = n->in[0];
  int axis;
  int64_t opset = g->opset > 0 ? g->opset : 18;
  if (check_type(g, n, 0, M_FLOAT, "a floating-point type")) return -1;
  if (x->rank < 1) return ir_node_error(g, n, "input must have rank >= 1, got a scalar");
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", opset >= 13 ? -1 : 1), x->rank, &axis)) return -1;
  set_out(n, x->dtype, x->rank, x->dims);
  return 0;
}

static int shape_cumsum(Graph *g, Node *n) {
  const Value *x = n->in[0], *ax = n->in[1];
  if (check_type(g, n, 0, M_RED, "a floating-point type or (u)int32/(u)int64") ||
      check_type(g, n, 1, M(DT_INT32) | M(DT_INT64), "int32 or int64") || check_01(g, n, "exclusive", 0) ||
      check_01(g, n, "reverse", 0))
    return -1;
  if (ax->rank > 1 || ir_value_numel(ax) != 1) {
    char s[128];
    ir_shape_str(ax, s, sizeof s);
    return ir_node_error(g, n, "axis (input 1) must be a scalar, got shape %s", s);
  }
  if (x->rank < 1) return ir_node_error(g, n, "input must have rank >= 1, got a scalar");
  int axis;
  if (ax->kind == VK_CONST && ir_normalize_axis(g, n, ir_const_i64(ax, 0), x->rank, &axis)) return -1;
  set_out(n, x->dtype, x->rank, x->dims);
  return 0;
}

int shape_reduce(Graph *g, Node *n) {
  if (ir_op_is_reduce(n->op)) return shape_reduce_op(g, n);
  switch (n->op) {
  case OP_ArgMax:
  case OP_ArgMin: return shape_arg(g, n);
  case OP_Softmax:
  case OP_LogSoftmax:
  case OP_Hardmax: return shape_softmax(g, n);
  case OP_CumSum: return shape_cumsum(g, n);
  default: return ir_node_error(g, n, "no shape inference for this op");
  }
}
