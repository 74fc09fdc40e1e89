/* shape_quant.c — shape inference and host evaluation for the F_QUANT family: QuantizeLinear,
 * DequantizeLinear (per-tensor or per-axis), DynamicQuantizeLinear, and the integer contractions
 * MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv (8-bit operands, int32 accumulation).
 *
 * Quantization rounds half to even and saturates to the target type's range.  Constant
 * QuantizeLinear / DequantizeLinear nodes (weights of QDQ models) are folded here. */
#include "ir.h"

#include <math.h>
#include <string.h>

static bool is_8bit(DType t) { return t == DT_INT8 || t == DT_UINT8; }

static int numel1(Graph *g, const Node *n, int i, const char *what) {
  const Value *v = n->in[i];
  if (v && ir_value_numel(v) != 1)
    return ir_node_error(g, n, "%s must be a scalar", what);
  return 0;
}

int ir_quant_axis(Graph *g, const Node *n, int *axis) {
  const Value *x = n->in[0], *s = n->in[1], *z = n->nin > 2 ? n->in[2] : NULL;
  *axis = -1;
  if (ir_attr_int(n, "block_size", 0) != 0) return ir_node_error(g, n, "blocked quantization is not supported");
  if (s->rank > 1) return ir_node_error(g, n, "scale must be a scalar or 1-D");
  if (z && (z->rank != s->rank || ir_value_numel(z) != ir_value_numel(s)))
    return ir_node_error(g, n, "zero point and scale must have the same shape");
  if (s->rank == 0) return 0;
  int a;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 1), x->rank, &a)) return -1;
  if (x->rank == 0 || s->dims[0] != x->dims[a]) {
    if (s->dims[0] == 1) return 0;
    return ir_node_error(g, n, "scale has %lld entries; axis %d of the input has %lld", (long long)s->dims[0], a,
                         x->rank ? (long long)x->dims[a] : 0LL);
  }
  *axis = a;
  return 0;
}

static int quantize(Graph *g, Node *n) {
  const Value *x = n->in[0], *s = n->in[1], *z = n->nin > 2 ? n->in[2] : NULL;
  int axis;
  if (x->dtype != DT_FLOAT && x->dtype != DT_INT32 && x->dtype != DT_FLOAT16 && x->dtype != DT_BFLOAT16)
    return ir_node_error(g, n, "input must be float or int32, got %s", dtype_name(x->dtype));
  if (!dtype_is_float(s->dtype)) return ir_node_error(g, n, "scale must be a float tensor");
  if (z && !is_8bit(z->dtype)) return ir_node_error(g, n, "zero point must be int8 or uint8, got %s", dtype_name(z->dtype));
  if (ir_quant_axis(g, n, &axis)) return -1;
  n->out[0]->dtype = z ? z->dtype : DT_UINT8;
  ir_value_set_shape(n->out[0], x->rank, x->dims);
  return 0;
}

static int dequantize(Graph *g, Node *n) {
  const Value *x = n->in[0], *s = n->in[1], *z = n->nin > 2 ? n->in[2] : NULL;
  int axis;
  if (!is_8bit(x->dtype) && x->dtype != DT_INT32)
    return ir_node_error(g, n, "input must be int8, uint8 or int32, got %s", dtype_name(x->dtype));
  if (!dtype_is_float(s->dtype)) return ir_node_error(g, n, "scale must be a float tensor");
  if (z && z->dtype != x->dtype) return ir_node_error(g, n, "zero point must have the input's dtype");
  if (ir_quant_axis(g, n, &axis)) return -1;
  n->out[0]->dtype = s->dtype;
  ir_value_set_shape(n->out[0], x->rank, x->dims);
  return 0;
}

static int dynamic_quantize(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (x->dtype != DT_FLOAT) return ir_node_error(g, n, "input must be float32, got %s", dtype_name(x->dtype));
  n->out[0]->dtype = DT_UINT8;
  ir_value_set_shape(n->out[0], x->rank, x->dims);
  if (n->out[1]) n->out[1]->dtype = DT_FLOAT, ir_value_set_shape(n->out[1], 0, NULL);
  if (n->out[2]) n->out[2]->dtype = DT_UINT8, ir_value_set_shape(n->out[2], 0, NULL);
  return 0;
}

/* numpy matmul shape of a and b (ranks >= 1) */
static int matmul_shape(Graph *g, Node *n, const Value *a, const Value *b, DType t) {
  if (a->rank < 1 || b->rank < 1) return ir_node_error(g, n, "operands must have rank >= 1");
  int64_t ka = a->dims[a->rank - 1], kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (ka != kb)
    return ir_node_error(g, n, "inner dimensions do not match (%lld vs %lld)", (long long)ka, (long long)kb);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0, r = ba > bb ? ba : bb;
  int64_t dims[IR_MAX_RANK + 2];
  for (int i = 0; i < r; i++) {
    int64_t x = i - (r - ba) >= 0 ? a->dims[i - (r - ba)] : 1, y = i - (r - bb) >= 0 ? b->dims[i - (r - bb)] : 1;
    if (x != y && x != 1 && y != 1) return ir_node_error(g, n, "batch dimensions cannot be broadcast together");
    dims[i] = x == 1 ? y : x;
  }
  if (a->rank > 1) dims[r++] = a->dims[a->rank - 2];
  if (b->rank > 1) dims[r++] = b->dims[b->rank - 1];
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], r, dims);
  return 0;
}

static int check_8bit(Graph *g, const Node *n, int i, const char *what) {
  if (i < n->nin && n->in[i] && !is_8bit(n->in[i]->dtype))
    return ir_node_error(g, n, "%s must be int8 or uint8, got %s", what, dtype_name(n->in[i]->dtype));
  return 0;
}

static int same_type(Graph *g, const Node *n, int i, int j, const char *what) {
  if (j < n->nin && n->in[j] && n->in[j]->dtype != n->in[i]->dtype)
    return ir_node_error(g, n, "%s must have the dtype of its operand", what);
  return 0;
}

/* a quantization parameter of a matmul operand: one value, or one per row of A / column of B */
static int per_rc(Graph *g, const Node *n, int i, const Value *op, bool rows, const char *what) {
  const Value *v = i < n->nin ? n->in[i] : NULL;
  if (!v) return 0;
  int64_t len = rows ? (op->rank > 1 ? op->dims[op->rank - 2] : 1) : (op->rank > 1 ? op->dims[op->rank - 1] : 1);
  if (ir_value_numel(v) != 1 && (v->rank != 1 || v->dims[0] != len))
    return ir_node_error(g, n, "%s must be a scalar or 1-D with one entry per %s (%lld)", what, rows ? "row" : "column",
                         (long long)len);
  return 0;
}

static int matmul_integer(Graph *g, Node *n) {
  if (check_8bit(g, n, 0, "A") || check_8bit(g, n, 1, "B") || same_type(g, n, 0, 2, "a_zero_point") ||
      same_type(g, n, 1, 3, "b_zero_point") || per_rc(g, n, 2, n->in[0], true, "a_zero_point") ||
      per_rc(g, n, 3, n->in[1], false, "b_zero_point"))
    return -1;
  return matmul_shape(g, n, n->in[0], n->in[1], DT_INT32);
}

static int qlinear_matmul(Graph *g, Node *n) {
  if (check_8bit(g, n, 0, "a") || check_8bit(g, n, 3, "b") || check_8bit(g, n, 7, "y_zero_point") ||
      same_type(g, n, 0, 2, "a_zero_point") || same_type(g, n, 3, 5, "b_zero_point"))
    return -1;
  static const char *names[8] = {"a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point", "y_scale",
                                 "y_zero_point"};
  for (int i = 1; i < 8; i++)
    if (!n->in[i]) return ir_node_error(g, n, "input %s is required", names[i]);
  if (!dtype_is_float(n->in[1]->dtype) || n->in[4]->dtype != n->in[1]->dtype || n->in[6]->dtype != n->in[1]->dtype)
    return ir_node_error(g, n, "scales must be float tensors of one dtype");
  if (per_rc(g, n, 1, n->in[0], true, "a_scale") || per_rc(g, n, 2, n->in[0], true, "a_zero_point") ||
      per_rc(g, n, 4, n->in[3], false, "b_scale") || per_rc(g, n, 5, n->in[3], false, "b_zero_point") ||
      numel1(g, n, 6, "y_scale") || numel1(g, n, 7, "y_zero_point"))
    return -1;
  return matmul_shape(g, n, n->in[0], n->in[3], n->in[7]->dtype);
}

/* QConv with a fused residual add (inputs 9-13: r, sr, zr, so, zo): y has r's shape and zo's dtype */
static int qconv_add_shape(Graph *g, Node *n) {
  if (n->nin != 14 || check_8bit(g, n, 9, "r") || check_8bit(g, n, 13, "output zero point") ||
      numel1(g, n, 10, "r scale") || numel1(g, n, 12, "output scale"))
    return -1;
  if (!ir_same_shape(n->in[9], n->out[0])) return ir_node_error(g, n, "the fused residual must have the conv output's shape");
  n->out[0]->dtype = n->in[13]->dtype;
  return 0;
}

/* ConvInteger (x, w, x_zp, w_zp) and QLinearConv (x, xs, xzp, w, ws, wzp, ys, yzp, B) */
static int conv_q(Graph *g, Node *n, bool ql) {
  const Value *x = n->in[0], *w = n->in[ql ? 3 : 1];
  int wi = ql ? 3 : 1, xz = ql ? 2 : 2, wz = ql ? 5 : 3;
  if (check_8bit(g, n, 0, "x") || check_8bit(g, n, wi, "w") || same_type(g, n, 0, xz, "x_zero_point") ||
      same_type(g, n, wi, wz, "w_zero_point") || numel1(g, n, xz, "x_zero_point"))
    return -1;
  if (x->rank < 3 || w->rank != x->rank) return ir_node_error(g, n, "x must be N x C x D1 ... and w of the same rank");
  int64_t group = ir_attr_int(n, "group", 1), m = w->dims[0];
  if (group < 1 || x->dims[1] % group || m % group || w->dims[1] * group != x->dims[1])
    return ir_node_error(g, n, "group %lld does not fit %lld input channels and W's %lld x %lld", (long long)group,
                         (long long)x->dims[1], (long long)m, (long long)w->dims[1]);
  if (wz < n->nin && n->in[wz] && ir_value_numel(n->in[wz]) != 1 && ir_value_numel(n->in[wz]) != m)
    return ir_node_error(g, n, "w_zero_point must be a scalar or have one entry per output channel");
  DType t = DT_INT32;
  if (ql) {
    if (check_8bit(g, n, 7, "y_zero_point") || numel1(g, n, 1, "x_scale") || numel1(g, n, 6, "y_scale") ||
        numel1(g, n, 7, "y_zero_point"))
      return -1;
    if (ir_value_numel(n->in[4]) != 1 && ir_value_numel(n->in[4]) != m)
      return ir_node_error(g, n, "w_scale must be a scalar or have one entry per output channel");
    const Value *b = n->nin > 8 ? n->in[8] : NULL;
    if (b && (b->dtype != DT_INT32 || b->rank != 1 || b->dims[0] != m))
      return ir_node_error(g, n, "B must be int32 with one entry per output channel");
    t = n->in[7]->dtype;
  }
  IrWindow win;
  int nsp = x->rank - 2;
  if (ir_window(g, n, nsp, x->dims + 2, w->dims + 2, &win)) return -1;
  int64_t dims[IR_MAX_RANK] = {x->dims[0], m};
  memcpy(dims + 2, win.out, sizeof(int64_t) * (size_t)nsp);
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], x->rank, dims);
  return ql && n->nin > 9 ? qconv_add_shape(g, n) : 0;
}

/* QAdd (a, sa, za, b, sb, zb, [sy, zy]): a and b broadcast; y of zy's dtype, float32 without */
static int qadd(Graph *g, Node *n) {
  if (check_8bit(g, n, 0, "a") || check_8bit(g, n, 3, "b") || check_8bit(g, n, 7, "y_zero_point")) return -1;
  Value *ab[2] = {n->in[0], n->in[3]};
  int rank;
  int64_t dims[IR_MAX_RANK];
  if (ir_broadcast_shape(g, n, ab, 2, &rank, dims)) return -1;
  n->out[0]->dtype = n->nin > 7 && n->in[7] ? n->in[7]->dtype : DT_FLOAT;
  ir_value_set_shape(n->out[0], rank, dims);
  return 0;
}

/* QMatMul (a, sa, za, b, sb, zb, [bias, [sy, zy]]): a matmul of 8-bit operands, float32 out, or 8-bit
 * by sy, zy */
static int qmatmul(Graph *g, Node *n) {
  const Value *b = n->in[3];
  if (check_8bit(g, n, 0, "a") || check_8bit(g, n, 3, "b") || same_type(g, n, 0, 2, "a_zero_point") ||
      same_type(g, n, 3, 5, "b_zero_point") || numel1(g, n, 1, "a_scale") || numel1(g, n, 2, "a_zero_point") ||
      per_rc(g, n, 4, b, false, "b_scale") || per_rc(g, n, 5, b, false, "b_zero_point") || per_rc(g, n, 6, b, false, "bias"))
    return -1;
  bool q = n->nin > 8 && n->in[8];
  if (q && (check_8bit(g, n, 8, "y_zero_point") || numel1(g, n, 7, "y_scale") || numel1(g, n, 8, "y_zero_point"))) return -1;
  return matmul_shape(g, n, n->in[0], b, q ? n->in[8]->dtype : DT_FLOAT);
}

int shape_quant(Graph *g, Node *n) {
  switch (n->op) {
  case OP_QuantizeLinear: return quantize(g, n);
  case OP_DequantizeLinear: return dequantize(g, n);
  case OP_DynamicQuantizeLinear: return dynamic_quantize(g, n);
  case OP_MatMulInteger: return matmul_integer(g, n);
  case OP_QLinearMatMul: return qlinear_matmul(g, n);
  case OP_ConvInteger: return conv_q(g, n, false);
  case OP_QLinearConv:
  case OP_QConv: return conv_q(g, n, true);
  case OP_QAdd: return qadd(g, n);
  case OP_QMatMul: return qmatmul(g, n);
  default: return ir_node_error(g, n, "no shape inference for this op");
  }
}

/* ---- host evaluation: QuantizeLinear / DequantizeLinear of constants ---- */

static int eval_qdq(Graph *g, Node *n) {
  Value *x = n->in[0], *s = n->in[1], *z = n->nin > 2 ? n->in[2] : NULL, *y = n->out[0];
  int axis;
  if (ir_quant_axis(g, n, &axis)) return -1;
  int64_t m = ir_value_numel(x), inner = 1, ch = 1;
  if (axis >= 0) {
    ch = x->dims[axis];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  }
  bool u8 = y->dtype == DT_UINT8 || (n->op == OP_QuantizeLinear && !z);
  double lo = u8 ? 0 : -128, hi = u8 ? 255 : 127;
  y->data = arena_alloc(g->arena, (size_t)(m > 0 ? m : 1) * dtype_size(y->dtype));
  for (int64_t i = 0; i < m; i++) {
    int64_t c = axis >= 0 ? (i / inner) % ch : 0;
    double sc = (float)ir_const_f64(s, c), zp = z ? (double)ir_const_i64(z, c) : 0;
    if (n->op == OP_DequantizeLinear) {
      ir_store_f64(y->dtype, y->data, i, (float)((double)ir_const_i64(x, i) - zp) * (float)sc);
    } else {
      double q = nearbyint((double)(float)(ir_const_f64(x, i) / sc)) + zp; /* FE_TONEAREST: half to even */
      ir_store_f64(y->dtype, y->data, i, q < lo ? lo : q > hi ? hi : q);
    }
  }
  return 1;
}

int eval_quant(Graph *g, Node *n) {
  if (n->op == OP_QuantizeLinear || n->op == OP_DequantizeLinear) return eval_qdq(g, n);
  return 0;
}
