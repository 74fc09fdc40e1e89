/* shape_binary.c — shape inference for F_BINARY (numpy-broadcasting elementwise ops, including the
 * variadic Max/Min/Sum/Mean) and F_TERNARY (Where).
 *
 * Output shape: the multidirectional broadcast of all inputs, except PRelu, whose slope must
 * broadcast unidirectionally to X.  Output dtype: bool for comparisons and logic ops, the first
 * input's otherwise (Pow's exponent may have another type; its output takes the base's). */
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
  if (!in_mask(v->dtype, mask))
    return ir_node_error(g, n, "input %d ('%s') has type %s, expected %s", i, v->name,
                         dtype_name(v->dtype), what);
  return 0;
}

/* the input types the ONNX spec allows (opset ≤ 18) */
static unsigned allowed(Op op, const char **what) {
  *what = "a numeric type";
  switch (op) {
  case OP_Pow:
    *what = "float, int32 or int64";
    return M_FLOAT | M(DT_INT32) | M(DT_INT64);
  case OP_PRelu:
    *what = "a floating-point type or (u)int32/(u)int64";
    return M_FLOAT | M(DT_INT32) | M(DT_INT64) | M(DT_UINT32) | M(DT_UINT64);
  case OP_Sum:
  case OP_Mean: *what = "a floating-point type"; return M_FLOAT;
  case OP_Equal: *what = "a numeric or bool type"; return M_ANY;
  case OP_And:
  case OP_Or:
  case OP_Xor: *what = "bool"; return M(DT_BOOL);
  case OP_BitShift: *what = "an unsigned integer type"; return M_UINT;
  case OP_BitwiseAnd:
  case OP_BitwiseOr:
  case OP_BitwiseXor: *what = "an integer type"; return M_INT;
  default: return M_NUM;
  }
}

static bool returns_bool(Op op) {
  switch (op) {
  case OP_Equal:
  case OP_Less:
  case OP_LessOrEqual:
  case OP_Greater:
  case OP_GreaterOrEqual:
  case OP_And:
  case OP_Or:
  case OP_Xor: return true;
  default: return false;
  }
}

static int set_out(Node *n, DType t, int rank, const int64_t *dims) {
  if (n->out[0]) {
    n->out[0]->dtype = t;
    ir_value_set_shape(n->out[0], rank, dims);
  }
  return 0;
}

static int shape_where(Graph *g, Node *n) {
  Value *c = n->in[0], *x = n->in[1], *y = n->in[2];
  if (c->dtype != DT_BOOL)
    return ir_node_error(g, n, "condition (input 0) must be bool, got %s", dtype_name(c->dtype));
  if (check_type(g, n, 1, M_ANY, "a numeric or bool type")) return -1;
  if (x->dtype != y->dtype)
    return ir_node_error(g, n, "X and Y must have the same type, got %s and %s", dtype_name(x->dtype),
                         dtype_name(y->dtype));
  int rank;
  int64_t dims[IR_MAX_RANK];
  if (ir_broadcast_shape(g, n, n->in, 3, &rank, dims)) return -1;
  return set_out(n, x->dtype, rank, dims);
}

/* op-specific attribute and type rules */
static int check_params(Graph *g, Node *n) {
  const Value *a = n->in[0];
  switch (n->op) {
  case OP_Pow: return check_type(g, n, 1, M_NUM, "a numeric type");
  case OP_Mod: {
    int64_t fmod = ir_attr_int(n, "fmod", 0);
    if (fmod != 0 && fmod != 1) return ir_node_error(g, n, "fmod must be 0 or 1, got %lld", (long long)fmod);
    if (fmod == 0 && dtype_is_float(a->dtype))
      return ir_node_error(g, n, "fmod must be 1 for floating-point inputs (%s)", dtype_name(a->dtype));
    return 0;
  }
  case OP_BitShift: {
    const char *dir = ir_attr_str(n, "direction", NULL);
    if (!dir) return ir_node_error(g, n, "required attribute 'direction' is missing");
    if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
      return ir_node_error(g, n, "direction must be \"LEFT\" or \"RIGHT\", got \"%s\"", dir);
    return 0;
  }
  default: return 0;
  }
}

/* PRelu: slope must broadcast to X's shape, which the output keeps */
static int check_unidirectional(Graph *g, Node *n) {
  const Value *x = n->in[0], *s = n->in[1];
  bool ok = s->rank <= x->rank;
  for (int i = 0; ok && i < s->rank; i++) {
    int64_t d = s->dims[s->rank - 1 - i];
    ok = d == 1 || d == x->dims[x->rank - 1 - i];
  }
  if (ok) return 0;
  char a[128], b[128];
  ir_shape_str(x, a, sizeof a);
  ir_shape_str(s, b, sizeof b);
  return ir_node_error(g, n, "slope of shape %s does not broadcast to X of shape %s", b, a);
}

int shape_binary(Graph *g, Node *n) {
  if (n->op == OP_Where) return shape_where(g, n);
  for (int i = 0; i < n->nin; i++)
    if (!n->in[i]) return ir_node_error(g, n, "input %d is missing", i);
  const char *what;
  unsigned mask = allowed(n->op, &what);
  if (check_type(g, n, 0, mask, what)) return -1;
  for (int i = 1; i < n->nin; i++)
    if (n->op != OP_Pow && n->in[i]->dtype != n->in[0]->dtype)
      return ir_node_error(g, n, "inputs must have the same type, got %s (input 0) and %s (input %d)",
                           dtype_name(n->in[0]->dtype), dtype_name(n->in[i]->dtype), i);
  if (check_params(g, n)) return -1;
  if (n->op == OP_PRelu && check_unidirectional(g, n)) return -1;
  int rank;
  int64_t dims[IR_MAX_RANK];
  if (ir_broadcast_shape(g, n, n->in, n->nin, &rank, dims)) return -1;
  return set_out(n, returns_bool(n->op) ? DT_BOOL : n->in[0]->dtype, rank, dims);
}
