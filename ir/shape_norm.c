/* shape_norm.c — shape inference for F_NORM: BatchNormalization, InstanceNormalization,
 * LayerNormalization, LpNormalization, MeanVarianceNormalization, LRN.
 *
 * Y always has X's shape and type; the work is checking the parameter tensors against X's channel
 * (or normalized) dims, and shaping the optional statistics outputs. */
#include "ir.h"

#define M(t) (1u << (t))
enum { M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16) };

static int check_float(Graph *g, const Node *n, int i) {
  const Value *v = i < n->nin ? n->in[i] : NULL;
  if (v && !((unsigned)v->dtype < DT_COUNT && (M_FLOAT & M(v->dtype))))
    return ir_node_error(g, n, "input %d ('%s') has type %s, expected a floating-point type", i, v->name,
                         dtype_name(v->dtype));
  return 0;
}

static void set_out(Node *n, int i, DType t, int rank, const int64_t *dims) {
  if (i >= n->nout || !n->out[i]) return;
  n->out[i]->dtype = t;
  ir_value_set_shape(n->out[i], rank, dims);
}

static int check_rank(Graph *g, const Node *n, int min) {
  if (n->in[0]->rank < min) {
    char s[128];
    ir_shape_str(n->in[0], s, sizeof s);
    return ir_node_error(g, n, "input must have rank >= %d (N x C x ...), got shape %s", min, s);
  }
  return 0;
}

/* parameter input i must have exactly the given shape */
static int check_param(Graph *g, const Node *n, int i, const char *what, int rank, const int64_t *dims) {
  const Value *v = n->in[i];
  bool ok = v->rank == rank;
  for (int k = 0; ok && k < rank; k++) ok = v->dims[k] == dims[k];
  if (ok) return 0;
  Value want = {.rank = rank};
  for (int k = 0; k < rank; k++) want.dims[k] = dims[k];
  char a[128], b[128];
  ir_shape_str(v, a, sizeof a);
  ir_shape_str(&want, b, sizeof b);
  return ir_node_error(g, n, "%s (input %d) has shape %s, expected %s", what, i, a, b);
}

static int shape_batchnorm(Graph *g, Node *n) {
  static const char *names[] = {"X", "scale", "B", "input_mean", "input_var"};
  const Value *x = n->in[0];
  if (check_rank(g, n, 2)) return -1;
  /* opset < 9 with spatial=0: one parameter per (C, D1, ..., Dn) element */
  bool per_elem = g->opset > 0 && g->opset < 9 && ir_attr_int(n, "spatial", 1) == 0;
  int prank = per_elem ? x->rank - 1 : 1;
  for (int i = 1; i < 5; i++)
    if (check_float(g, n, i) || check_param(g, n, i, names[i], prank, x->dims + 1)) return -1;
  int64_t tm = ir_attr_int(n, "training_mode", 0);
  if (tm != 0 && tm != 1) return ir_node_error(g, n, "training_mode must be 0 or 1, got %lld", (long long)tm);
  set_out(n, 0, x->dtype, x->rank, x->dims);
  set_out(n, 1, n->in[3]->dtype, prank, x->dims + 1); /* running_mean */
  set_out(n, 2, n->in[4]->dtype, prank, x->dims + 1); /* running_var */
  return 0;
}

static int shape_instancenorm(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (check_rank(g, n, 3)) return -1;
  if (check_float(g, n, 1) || check_param(g, n, 1, "scale", 1, x->dims + 1) || check_float(g, n, 2) ||
      check_param(g, n, 2, "B", 1, x->dims + 1))
    return -1;
  set_out(n, 0, x->dtype, x->rank, x->dims);
  return 0;
}

/* LayerNormalization's Scale/B broadcast unidirectionally to X, over the normalized dims only */
static int check_layernorm_param(Graph *g, const Node *n, int i, int axis) {
  const Value *x = n->in[0], *v = i < n->nin ? n->in[i] : NULL;
  if (!v) return 0;
  if (check_float(g, n, i)) return -1;
  bool ok = v->rank <= x->rank;
  for (int k = 0; ok && k < v->rank; k++) {
    int xd = x->rank - v->rank + k;
    int64_t d = v->dims[k];
    ok = d == 1 || (xd >= axis && d == x->dims[xd]);
  }
  if (ok) return 0;
  char a[128], b[128];
  ir_shape_str(v, a, sizeof a);
  ir_shape_str(x, b, sizeof b);
  return ir_node_error(g, n, "%s (input %d) of shape %s does not broadcast to the dims from axis %d of X (%s)",
                       i == 1 ? "Scale" : "B", i, a, axis, b);
}

static int shape_layernorm(Graph *g, Node *n) {
  const Value *x = n->in[0];
  int axis;
  if (check_rank(g, n, 1) || ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis))
    return -1;
  if (check_layernorm_param(g, n, 1, axis) || check_layernorm_param(g, n, 2, axis)) return -1;
  int64_t st = ir_attr_int(n, "stash_type", DT_FLOAT);
  if (st <= 0 || st >= DT_COUNT || !dtype_is_float((DType)st))
    return ir_node_error(g, n, "stash_type %lld is not a floating-point type", (long long)st);
  int64_t sdims[IR_MAX_RANK];
  for (int k = 0; k < x->rank; k++) sdims[k] = k < axis ? x->dims[k] : 1;
  set_out(n, 0, x->dtype, x->rank, x->dims);
  set_out(n, 1, (DType)st, x->rank, sdims); /* Mean */
  set_out(n, 2, (DType)st, x->rank, sdims); /* InvStdDev */
  return 0;
}

static int shape_mvn(Graph *g, Node *n) {
  const Value *x = n->in[0];
  static const int64_t def_axes[3] = {0, 2, 3};
  const int64_t *axes = def_axes;
  int na = ir_attr_ints(n, "axes", &axes);
  if (na < 0) {
    axes = def_axes;
    na = 3;
  }
  bool seen[IR_MAX_RANK] = {0};
  for (int i = 0; i < na; i++) {
    int a;
    if (ir_normalize_axis(g, n, axes[i], x->rank, &a)) return -1;
    if (seen[a]) return ir_node_error(g, n, "axis %lld appears twice in axes", (long long)axes[i]);
    seen[a] = true;
  }
  set_out(n, 0, x->dtype, x->rank, x->dims);
  return 0;
}

int shape_norm(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (check_float(g, n, 0)) return -1;
  switch (n->op) {
  case OP_BatchNormalization: return shape_batchnorm(g, n);
  case OP_InstanceNormalization: return shape_instancenorm(g, n);
  case OP_LayerNormalization: return shape_layernorm(g, n);
  case OP_MeanVarianceNormalization: return shape_mvn(g, n);
  case OP_LpNormalization: {
    int axis;
    int64_t p = ir_attr_int(n, "p", 2);
    if (check_rank(g, n, 1) || ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis))
      return -1;
    if (p != 1 && p != 2) return ir_node_error(g, n, "p must be 1 or 2, got %lld", (long long)p);
    break;
  }
  case OP_LRN: {
    const Attr *size = ir_attr(n, "size");
    if (check_rank(g, n, 2)) return -1;
    if (!size || size->type != AT_INT) return ir_node_error(g, n, "required attribute 'size' is missing");
    if (size->i <= 0) return ir_node_error(g, n, "size must be positive, got %lld", (long long)size->i);
    break;
  }
  default: return ir_node_error(g, n, "not a normalization op");
  }
  set_out(n, 0, x->dtype, x->rank, x->dims);
  return 0;
}
