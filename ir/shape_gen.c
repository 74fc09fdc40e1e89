/* shape_gen.c — shape inference for the F_GEN family: ops that create tensors (Constant,
 * ConstantOfShape, Range, EyeLike, OneHot) or query shapes (Shape, Size). Parameters that decide
 * an output shape must be constants; the folding driver then evaluates these nodes (eval.c). */
#include "ir.h"

#include <math.h>
#include <string.h>

#define GEN_MAX_ELEMS ((int64_t)1 << 31) /* largest tensor a generator may describe */

static void set_out(Value *y, DType t, int rank, const int64_t *dims) {
  y->dtype = t;
  ir_value_set_shape(y, rank, dims);
}

static int check_size(Graph *g, const Node *n, int rank, const int64_t *dims) {
  int64_t m;
  if (!ir_numel_ok(rank, dims, &m) || m > GEN_MAX_ELEMS)
    return ir_node_error(g, n, "output would have more than 2^31 elements");
  return 0;
}

/* a constant with exactly one element (scalar or [1]) */
static int const_scalar(Graph *g, const Node *n, int i, Value **out) {
  if (ir_const_input(g, n, i, out)) return -1;
  if (ir_value_numel(*out) != 1)
    return ir_node_error(g, n, "input '%s' must be a scalar", (*out)->name);
  return 0;
}

static int constant(Graph *g, Node *n) {
  Value *y = n->out[0];
  for (int i = 0; i < n->nattr; i++) {
    const Attr *a = &n->attrs[i];
    int64_t len = a->n;
    if (!strcmp(a->name, "value") && a->type == AT_TENSOR && a->t) {
      if (!a->t->data || !ir_value_shape_known(a->t))
        return ir_node_error(g, n, "the 'value' tensor has no data");
      set_out(y, a->t->dtype, a->t->rank, a->t->dims);
      return 0;
    }
    if (!strcmp(a->name, "value_float")) return set_out(y, DT_FLOAT, 0, NULL), 0;
    if (!strcmp(a->name, "value_int")) return set_out(y, DT_INT64, 0, NULL), 0;
    if (!strcmp(a->name, "value_floats")) return set_out(y, DT_FLOAT, 1, &len), 0;
    if (!strcmp(a->name, "value_ints")) return set_out(y, DT_INT64, 1, &len), 0;
    if (!strncmp(a->name, "value_string", 12) || !strcmp(a->name, "sparse_value"))
      return ir_node_error(g, n, "attribute '%s' is not supported", a->name);
  }
  return ir_node_error(g, n, "has no value attribute");
}

static int constant_of_shape(Graph *g, Node *n) {
  Value *s;
  if (ir_const_input(g, n, 0, &s)) return -1;
  if (s->rank != 1) return ir_node_error(g, n, "the shape input must be 1-D, got rank %d", s->rank);
  if (dtype_is_float(s->dtype)) return ir_node_error(g, n, "the shape input must be int64");
  int64_t r = s->dims[0], dims[IR_MAX_RANK];
  if (r > IR_MAX_RANK) return ir_node_error(g, n, "rank %lld exceeds the maximum %d", (long long)r, IR_MAX_RANK);
  for (int i = 0; i < r; i++) {
    dims[i] = ir_const_i64(s, i);
    if (dims[i] < 0) return ir_node_error(g, n, "negative dim %lld", (long long)dims[i]);
  }
  if (check_size(g, n, (int)r, dims)) return -1;
  DType t = DT_FLOAT;
  const Attr *v = ir_attr(n, "value");
  if (v && v->type == AT_TENSOR && v->t) {
    if (ir_value_numel(v->t) != 1 || !v->t->data)
      return ir_node_error(g, n, "the 'value' attribute must hold one element");
    t = v->t->dtype;
  }
  set_out(n->out[0], t, (int)r, dims);
  return 0;
}

static int shape(Node *n) {
  Value *x = n->in[0];
  int64_t r = x->rank, s = ir_attr_int(n, "start", 0), e = ir_attr_int(n, "end", r);
  if (s < 0) s += r;
  if (e < 0) e += r;
  s = s < 0 ? 0 : s > r ? r : s;
  e = e < 0 ? 0 : e > r ? r : e;
  int64_t len = e > s ? e - s : 0;
  set_out(n->out[0], DT_INT64, 1, &len);
  return 0;
}

static int range(Graph *g, Node *n) {
  Value *a, *b, *d;
  if (const_scalar(g, n, 0, &a) || const_scalar(g, n, 1, &b) || const_scalar(g, n, 2, &d)) return -1;
  if (a->dtype != b->dtype || a->dtype != d->dtype)
    return ir_node_error(g, n, "start, limit and delta must have the same type");
  double len;
  if (dtype_is_float(a->dtype)) {
    double s = ir_const_f64(a, 0), l = ir_const_f64(b, 0), k = ir_const_f64(d, 0);
    if (k == 0) return ir_node_error(g, n, "delta is 0");
    double diff = a->dtype == DT_FLOAT ? (double)(float)(l - s) : l - s; /* as onnxruntime does */
    len = ceil(diff / k);
    if (len != len) return ir_node_error(g, n, "start, limit or delta is not finite");
  } else {
    int64_t s = ir_const_i64(a, 0), l = ir_const_i64(b, 0), k = ir_const_i64(d, 0);
    const int64_t lim = (int64_t)1 << 62;
    if (k == 0) return ir_node_error(g, n, "delta is 0");
    if (s < -lim || s > lim || l < -lim || l > lim)
      return ir_node_error(g, n, "start or limit is out of range");
    int64_t diff = l - s;
    if (k > 0) len = diff > 0 ? (double)((diff - 1) / k + 1) : 0;
    else len = diff < 0 ? (double)((-diff - 1) / (k == INT64_MIN ? INT64_MAX : -k) + 1) : 0;
  }
  if (len < 0) len = 0;
  if (len > (double)GEN_MAX_ELEMS) return ir_node_error(g, n, "output would have more than 2^31 elements");
  int64_t m = (int64_t)len;
  set_out(n->out[0], a->dtype, 1, &m);
  return 0;
}

static int eye_like(Graph *g, Node *n) {
  Value *x = n->in[0];
  if (x->rank != 2) return ir_node_error(g, n, "input must be 2-D, got rank %d", x->rank);
  int64_t t = ir_attr_int(n, "dtype", 0);
  if (t < 0 || t >= DT_COUNT || (t && !dtype_supported((DType)t)))
    return ir_node_error(g, n, "dtype %lld is not supported", (long long)t);
  set_out(n->out[0], t ? (DType)t : x->dtype, 2, x->dims);
  return 0;
}

static int one_hot(Graph *g, Node *n) {
  Value *idx = n->in[0], *depth, *vals = n->in[2];
  if (const_scalar(g, n, 1, &depth)) return -1;
  if (ir_value_numel(vals) != 2 || vals->rank != 1)
    return ir_node_error(g, n, "values must be a 1-D tensor of 2 elements");
  double dd = ir_const_f64(depth, 0);
  if (!(dd >= 1) || dd > (double)GEN_MAX_ELEMS)
    return ir_node_error(g, n, "depth %g is invalid", dd);
  int r = idx->rank + 1, axis;
  if (r > IR_MAX_RANK) return ir_node_error(g, n, "output rank %d exceeds the maximum %d", r, IR_MAX_RANK);
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), r, &axis)) return -1;
  int64_t dims[IR_MAX_RANK];
  for (int i = 0, k = 0; i < r; i++) dims[i] = i == axis ? (int64_t)dd : idx->dims[k++];
  if (check_size(g, n, r, dims)) return -1;
  set_out(n->out[0], vals->dtype, r, dims);
  return 0;
}

int shape_gen(Graph *g, Node *n) {
  switch (n->op) {
  case OP_Constant: return constant(g, n);
  case OP_ConstantOfShape: return constant_of_shape(g, n);
  case OP_Shape: return shape(n);
  case OP_Size: set_out(n->out[0], DT_INT64, 0, NULL); return 0;
  case OP_Range: return range(g, n);
  case OP_EyeLike: return eye_like(g, n);
  case OP_OneHot: return one_hot(g, n);
  default: return ir_node_error(g, n, "not a generator op");
  }
}
