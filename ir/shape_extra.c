/* shape_extra.c — shape inference for the losses, TopK and Det (F_REDUCE) and for NonZero, Unique,
 * Compress, ReverseSequence, MaxUnpool, Upsample and Scatter (F_MOVE); plus the host evaluation of
 * the ops whose output shape depends on input data (NonZero, Unique, Compress).
 *
 * Shapes are static in onnxc, so a data-dependent op needs its inputs at compile time: constants,
 * or inputs `onnxc run` binds to the values in its input files (ir_is_shape_operand).  The shape
 * function then computes the result on the host already (the count decides the shape) and
 * eval_nonzero / eval_unique / eval_compress (their rows' fold column) fill the data.  Upsample and
 * Scatter are deprecated spellings of Resize and ScatterElements: the node is renamed and handled as
 * those. */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#define M(t) (1u << (t))
enum {
  M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16),
  M_INDEX = M(DT_INT32) | M(DT_INT64),
  M_NUM = M_FLOAT | M(DT_INT8) | M(DT_INT16) | M(DT_INT32) | M(DT_INT64) | M(DT_UINT8) | M(DT_UINT16) |
          M(DT_UINT32) | M(DT_UINT64),
};

static int check_type(Graph *g, const Node *n, int i, unsigned mask, const char *what) {
  const Value *v = n->in[i];
  if (!((unsigned)v->dtype < DT_COUNT && (mask & M(v->dtype))))
    return ir_node_error(g, n, "input %d ('%s') has type %s, expected %s", i, v->name, dtype_name(v->dtype),
                         what);
  return 0;
}

static void set_out(Node *n, int i, DType t, int rank, const int64_t *dims) {
  if (i >= n->nout || !n->out[i]) return;
  n->out[i]->dtype = t;
  ir_value_set_shape(n->out[i], rank, dims);
}

static int need_const(Graph *g, const Node *n, int i) {
  const Value *v = n->in[i];
  if (v && (v->kind != VK_CONST || !v->data))
    return ir_node_error(g, n, "output shape depends on input data: input %d ('%s') must be a constant or an "
                         "input given at compile time (onnxc run binds small inputs to their files' values)",
                         i, v->name);
  return 0;
}

bool ir_output_depends_on_data(Op op) { return op == OP_NonZero || op == OP_Unique; }

/* ---- SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss ---- */
static int shape_loss(Graph *g, Node *n) {
  const Value *x = n->in[0], *t = n->in[1], *w = n->nin > 2 ? n->in[2] : NULL;
  if (check_type(g, n, 0, M_FLOAT, "a floating-point type") || check_type(g, n, 1, M_INDEX, "int32 or int64"))
    return -1;
  if (w && (w->dtype != x->dtype || w->rank != 1 || x->rank < 2 || w->dims[0] != x->dims[1]))
    return ir_node_error(g, n, "weights must be a 1-D %s tensor with one entry per class", dtype_name(x->dtype));
  if (x->rank < 2) return ir_node_error(g, n, "input must have shape (N, C, d1, ...), got rank %d", x->rank);
  bool ok = t->rank == x->rank - 1 && t->dims[0] == x->dims[0];
  for (int i = 2; ok && i < x->rank; i++) ok = t->dims[i - 1] == x->dims[i];
  if (!ok) {
    char a[128], b[128];
    ir_shape_str(x, a, sizeof a);
    ir_shape_str(t, b, sizeof b);
    return ir_node_error(g, n, "target shape %s does not match input shape %s (expected (N, d1, ...))", b, a);
  }
  const char *red = ir_attr_str(n, "reduction", "mean");
  if (strcmp(red, "none") && strcmp(red, "sum") && strcmp(red, "mean"))
    return ir_node_error(g, n, "reduction must be none, sum or mean, got '%s'", red);
  if (!strcmp(red, "none")) set_out(n, 0, x->dtype, t->rank, t->dims);
  else set_out(n, 0, x->dtype, 0, NULL);
  set_out(n, 1, x->dtype, x->rank, x->dims); /* SoftmaxCrossEntropyLoss's log_prob */
  return 0;
}

/* ---- TopK: k from input 1 (opset 10+) or the attribute k ---- */
int ir_topk_k(Graph *g, const Node *n, int64_t *k) {
  if (n->nin > 1 && n->in[1]) {
    const Value *kv = n->in[1];
    if (kv->kind != VK_CONST || !kv->data)
      return ir_node_error(g, n, "k (input 1) must be a constant or an input given at compile time");
    if (ir_value_numel(kv) != 1 || !(kv->dtype == DT_INT64 || kv->dtype == DT_INT32))
      return ir_node_error(g, n, "k (input 1) must be a 1-element int64 tensor");
    *k = ir_const_i64(kv, 0);
  } else {
    *k = ir_attr_int(n, "k", -1);
  }
  return 0;
}

static int shape_topk(Graph *g, Node *n) {
  const Value *x = n->in[0];
  int axis;
  int64_t k;
  if (check_type(g, n, 0, M_NUM, "a numeric type") || ir_topk_k(g, n, &k)) return -1;
  for (int i = 0; i < 2; i++) {
    const char *name = i ? "sorted" : "largest";
    int64_t v = ir_attr_int(n, name, 1);
    if (v != 0 && v != 1) return ir_node_error(g, n, "%s must be 0 or 1, got %lld", name, (long long)v);
  }
  if (x->rank < 1) return ir_node_error(g, n, "input must have rank >= 1, got a scalar");
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", -1), x->rank, &axis)) return -1;
  if (k < 0 || k > x->dims[axis])
    return ir_node_error(g, n, "k = %lld is out of range for axis %d of size %lld", (long long)k, axis,
                         (long long)x->dims[axis]);
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = k;
  set_out(n, 0, x->dtype, x->rank, dims);
  set_out(n, 1, DT_INT64, x->rank, dims);
  return 0;
}

/* ---- Det: (*, M, M) -> (*) ---- */
static int shape_det(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (check_type(g, n, 0, M_FLOAT, "a floating-point type")) return -1;
  if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2]) {
    char s[128];
    ir_shape_str(x, s, sizeof s);
    return ir_node_error(g, n, "input must be square matrices (*, M, M), got %s", s);
  }
  set_out(n, 0, x->dtype, x->rank - 2, x->dims);
  return 0;
}

/* ---- NonZero ---- */
static int64_t count_nonzero(const Value *x) {
  int64_t n = ir_value_numel(x), c = 0;
  for (int64_t i = 0; i < n; i++) c += ir_const_f64(x, i) != 0;
  return c;
}

static int shape_nonzero(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (!dtype_size(x->dtype)) return ir_node_error(g, n, "data type %s is not supported", dtype_name(x->dtype));
  if (need_const(g, n, 0)) return -1;
  int64_t dims[2] = {x->rank > 0 ? x->rank : 1, count_nonzero(x)};
  set_out(n, 0, DT_INT64, 2, dims);
  return 0;
}

int eval_nonzero(Graph *g, Node *n) {
  const Value *x = n->in[0];
  Value *y = n->out[0];
  int64_t cnt = y->dims[1], numel = ir_value_numel(x), k = 0, r = x->rank > 0 ? x->rank : 1;
  int64_t *o = arena_alloc(g->arena, (size_t)(r * cnt) * sizeof(int64_t) + 1);
  for (int64_t i = 0; i < numel; i++) {
    if (ir_const_f64(x, i) == 0) continue;
    int64_t rem = i;
    for (int d = x->rank - 1; d >= 0; d--) {
      o[d * cnt + k] = rem % x->dims[d];
      rem /= x->dims[d];
    }
    if (x->rank == 0) o[k] = 0;
    k++;
  }
  y->data = o;
  return 1;
}

/* ---- Compress ---- */
static int compress_axis(Graph *g, const Node *n, int *axis) {
  const Attr *a = ir_attr(n, "axis");
  *axis = -1;
  return a ? ir_normalize_axis(g, n, a->i, n->in[0]->rank, axis) : 0;
}

static int shape_compress(Graph *g, Node *n) {
  Value *x = n->in[0], *cond = n->in[1];
  int axis;
  if (cond->dtype != DT_BOOL || cond->rank != 1)
    return ir_node_error(g, n, "condition must be a 1-D bool tensor, got %s of rank %d", dtype_name(cond->dtype),
                         cond->rank);
  if (compress_axis(g, n, &axis) || need_const(g, n, 1)) return -1;
  int64_t len = axis >= 0 ? x->dims[axis] : ir_value_numel(x), c = 0;
  if (cond->dims[0] > len)
    return ir_node_error(g, n, "condition has %lld entries, more than the %lld it selects from",
                         (long long)cond->dims[0], (long long)len);
  for (int64_t i = 0; i < cond->dims[0]; i++) c += ir_const_i64(cond, i) != 0;
  if (axis < 0) { /* runtime data: gen_select gathers the selected elements */
    set_out(n, 0, x->dtype, 1, &c);
    return 0;
  }
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  dims[axis] = c;
  set_out(n, 0, x->dtype, x->rank, dims);
  if (x->kind == VK_CONST && x->data) return 0; /* folded by eval_compress */
  /* runtime data, constant condition: a Gather of the selected indices along axis */
  Value *idx = ir_const_new(g, NULL, DT_INT64, 1, &c);
  for (int64_t i = 0, k = 0; i < cond->dims[0]; i++)
    if (ir_const_i64(cond, i)) ((int64_t *)idx->data)[k++] = i;
  n->op = OP_Gather;
  n->in[1] = idx;
  Attr *at = arena_alloc(g->arena, sizeof(Attr));
  *at = (Attr){.name = "axis", .type = AT_INT, .i = axis};
  n->attrs = at;
  n->nattr = 1;
  return 0;
}

int eval_compress(Graph *g, Node *n) {
  const Value *x = n->in[0], *cond = n->in[1];
  Value *y = n->out[0];
  int axis;
  if (compress_axis(g, n, &axis)) return -1;
  size_t es = dtype_size(x->dtype);
  int64_t outer = 1, len = ir_value_numel(x), inner = 1;
  if (axis >= 0) {
    len = x->dims[axis];
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->rank; d++) inner *= x->dims[d];
  }
  char *o = arena_alloc(g->arena, (size_t)(ir_value_numel(y) + 1) * es);
  const char *src = x->data;
  size_t off = 0, row = (size_t)inner * es;
  for (int64_t a = 0; a < outer; a++)
    for (int64_t i = 0; i < cond->dims[0] && i < len; i++)
      if (ir_const_i64(cond, i)) {
        memcpy(o + off, src + ((size_t)(a * len + i)) * row, row);
        off += row;
      }
  y->data = o;
  return 1;
}

/* ---- Unique: slices along axis (elements when no axis), compared lexicographically ---- */
typedef struct Uq {
  const Value *x;
  int64_t outer, m, inner; /* x viewed as [outer][m][inner]; slice i = x[:, i, :] */
  bool fp;
} Uq;

static int uq_cmp(const Uq *u, int64_t a, int64_t b) {
  for (int64_t o = 0; o < u->outer; o++)
    for (int64_t j = 0; j < u->inner; j++) {
      int64_t ia = (o * u->m + a) * u->inner + j, ib = (o * u->m + b) * u->inner + j;
      if (u->fp) {
        double x = ir_const_f64(u->x, ia), y = ir_const_f64(u->x, ib);
        if (x != y) return x < y ? -1 : 1;
      } else {
        int64_t x = ir_const_i64(u->x, ia), y = ir_const_i64(u->x, ib);
        if (x != y) return x < y ? -1 : 1;
      }
    }
  return 0;
}

/* stable merge sort of idx[0..n) by slice (ties keep index order) */
static void uq_sort(const Uq *u, int64_t *idx, int64_t *tmp, int64_t n) {
  if (n < 2) return;
  int64_t h = n / 2;
  uq_sort(u, idx, tmp, h);
  uq_sort(u, idx + h, tmp, n - h);
  int64_t i = 0, j = h, k = 0;
  while (i < h && j < n) tmp[k++] = uq_cmp(u, idx[j], idx[i]) < 0 ? idx[j++] : idx[i++];
  while (i < h) tmp[k++] = idx[i++];
  while (j < n) tmp[k++] = idx[j++];
  memcpy(idx, tmp, sizeof(int64_t) * (size_t)n);
}

/* The unique slices: first[u] = index of the u-th unique slice's first occurrence (in output order),
 * inv[i] = output position of slice i, cnt[u] = occurrences; returns the number of unique slices. */
static int64_t uq_run(Graph *g, const Node *n, Uq *u, int64_t **first, int64_t **inv, int64_t **cnt) {
  const Value *x = n->in[0];
  const Attr *ax = ir_attr(n, "axis");
  u->x = x;
  u->fp = dtype_is_float(x->dtype);
  u->outer = 1, u->inner = 1, u->m = ir_value_numel(x);
  if (ax) {
    int a;
    if (ir_normalize_axis(g, n, ax->i, x->rank, &a)) return -1;
    u->m = x->dims[a];
    for (int d = 0; d < a; d++) u->outer *= x->dims[d];
    for (int d = a + 1; d < x->rank; d++) u->inner *= x->dims[d];
  }
  int64_t m = u->m, nu = 0;
  int64_t *idx = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(4 * m + 1)), *tmp = idx + m,
          *grp = tmp + m, *pos = grp + m;
  for (int64_t i = 0; i < m; i++) idx[i] = i;
  uq_sort(u, idx, tmp, m);
  /* groups of equal slices, in sorted order; tmp[gi] = first index of group gi */
  for (int64_t i = 0; i < m; i++) {
    if (i == 0 || uq_cmp(u, idx[i - 1], idx[i])) tmp[nu++] = idx[i];
    grp[idx[i]] = nu - 1;
  }
  /* output position of each group: sorted order, or order of first occurrence */
  bool sorted = ir_attr_int(n, "sorted", 1) != 0;
  for (int64_t gi = 0; gi < nu; gi++) pos[gi] = gi;
  if (!sorted) {
    int64_t k = 0;
    for (int64_t i = 0; i < m; i++)
      if (tmp[grp[i]] == i) pos[grp[i]] = k++;
  }
  *first = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(nu + 1));
  *cnt = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(nu + 1));
  *inv = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(m + 1));
  for (int64_t gi = 0; gi < nu; gi++) (*first)[pos[gi]] = tmp[gi];
  for (int64_t i = 0; i < m; i++) {
    (*inv)[i] = pos[grp[i]];
    (*cnt)[pos[grp[i]]]++;
  }
  return nu;
}

static int shape_unique(Graph *g, Node *n) {
  const Value *x = n->in[0];
  if (!dtype_size(x->dtype)) return ir_node_error(g, n, "data type %s is not supported", dtype_name(x->dtype));
  if (need_const(g, n, 0)) return -1;
  Uq u;
  int64_t *first, *inv, *cnt;
  int64_t nu = uq_run(g, n, &u, &first, &inv, &cnt);
  if (nu < 0) return -1;
  const Attr *ax = ir_attr(n, "axis");
  if (ax) {
    int a;
    int64_t dims[IR_MAX_RANK];
    if (ir_normalize_axis(g, n, ax->i, x->rank, &a)) return -1;
    memcpy(dims, x->dims, sizeof dims);
    dims[a] = nu;
    set_out(n, 0, x->dtype, x->rank, dims);
  } else {
    set_out(n, 0, x->dtype, 1, &nu);
  }
  set_out(n, 1, DT_INT64, 1, &nu);
  set_out(n, 2, DT_INT64, 1, &u.m);
  set_out(n, 3, DT_INT64, 1, &nu);
  return 0;
}

int eval_unique(Graph *g, Node *n) {
  Uq u;
  int64_t *first, *inv, *cnt;
  int64_t nu = uq_run(g, n, &u, &first, &inv, &cnt);
  if (nu < 0) return -1;
  if (n->out[0]) {
    size_t es = dtype_size(u.x->dtype), row = (size_t)u.inner * es;
    char *o = arena_alloc(g->arena, (size_t)(u.outer * nu) * row + 1);
    const char *src = u.x->data;
    for (int64_t a = 0; a < u.outer; a++)
      for (int64_t k = 0; k < nu; k++)
        memcpy(o + (size_t)(a * nu + k) * row, src + (size_t)(a * u.m + first[k]) * row, row);
    n->out[0]->data = o;
  }
  if (n->nout > 1 && n->out[1]) n->out[1]->data = first;
  if (n->nout > 2 && n->out[2]) n->out[2]->data = inv;
  if (n->nout > 3 && n->out[3]) n->out[3]->data = cnt;
  return 1;
}

/* ---- ReverseSequence ---- */
static int shape_reverse_sequence(Graph *g, Node *n) {
  const Value *x = n->in[0], *len = n->in[1];
  int64_t ta = ir_attr_int(n, "time_axis", 0), ba = ir_attr_int(n, "batch_axis", 1);
  if (!dtype_size(x->dtype)) return ir_node_error(g, n, "data type %s is not supported", dtype_name(x->dtype));
  if (x->rank < 2) return ir_node_error(g, n, "input must have rank >= 2, got %d", x->rank);
  if (!((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
    return ir_node_error(g, n, "time_axis and batch_axis must be 0 and 1 (either order), got %lld and %lld",
                         (long long)ta, (long long)ba);
  if (len->dtype != DT_INT64 || len->rank != 1 || len->dims[0] != x->dims[ba])
    return ir_node_error(g, n, "sequence_lens must be a 1-D int64 tensor with one entry per batch (%lld)",
                         (long long)x->dims[ba]);
  set_out(n, 0, x->dtype, x->rank, x->dims);
  return 0;
}

/* ---- MaxUnpool ---- */
int ir_max_unpool_dims(Graph *g, Node *n, int64_t *unpooled) {
  const Value *x = n->in[0], *idx = n->in[1], *os = n->nin > 2 ? n->in[2] : NULL;
  if (check_type(g, n, 0, M_FLOAT, "a floating-point type")) return -1;
  if (idx->dtype != DT_INT64 || !ir_same_shape(x, idx))
    return ir_node_error(g, n, "indices must be an int64 tensor of the input's shape");
  if (x->rank < 3) return ir_node_error(g, n, "input must have shape (N, C, d1, ...), got rank %d", x->rank);
  int nsp = x->rank - 2;
  const int64_t *ks, *st = NULL, *pads = NULL;
  if (ir_attr_ints(n, "kernel_shape", &ks) != nsp)
    return ir_node_error(g, n, "kernel_shape must have %d entries", nsp);
  int nst = ir_attr_ints(n, "strides", &st), np = ir_attr_ints(n, "pads", &pads);
  if ((nst >= 0 && nst != nsp) || (np >= 0 && np != 2 * nsp))
    return ir_node_error(g, n, "strides must have %d entries and pads %d", nsp, 2 * nsp);
  int64_t dims[IR_MAX_RANK];
  memcpy(dims, x->dims, sizeof dims);
  for (int i = 0; i < nsp; i++) {
    int64_t s = nst > 0 ? st[i] : 1, pb = np > 0 ? pads[i] : 0, pe = np > 0 ? pads[i + nsp] : 0;
    dims[i + 2] = (x->dims[i + 2] - 1) * s - pb - pe + ks[i];
    if (dims[i + 2] < 0) return ir_node_error(g, n, "the unpooled size of spatial dim %d is negative", i);
  }
  if (unpooled) memcpy(unpooled, dims, sizeof dims);
  if (os) {
    Value *c;
    if (ir_const_input(g, n, 2, &c)) return -1;
    if (c->rank != 1 || c->dims[0] != x->rank)
      return ir_node_error(g, n, "output_shape must be a 1-D tensor of %d entries", x->rank);
    for (int i = 0; i < x->rank; i++) {
      int64_t d = ir_const_i64(c, i);
      if (i >= 2 ? d < dims[i] : d != dims[i])
        return ir_node_error(g, n, "output_shape[%d] = %lld is smaller than the unpooled size %lld", i,
                             (long long)d, (long long)dims[i]);
      dims[i] = d;
    }
  }
  set_out(n, 0, x->dtype, x->rank, dims);
  return 0;
}

/* ---- Upsample (opset 7: scales attribute; 9: scales input) → Resize-10 ---- */
static int upsample_to_resize(Graph *g, Node *n) {
  if (n->nin < 2 || !n->in[1]) {
    const float *sc = NULL;
    const Attr *a = ir_attr(n, "scales");
    if (!a || a->type != AT_FLOATS) return ir_node_error(g, n, "the scales attribute is missing");
    sc = a->floats;
    int64_t cnt = a->n;
    Value *s = ir_const_new(g, NULL, DT_FLOAT, 1, &cnt);
    memcpy(s->data, sc, sizeof(float) * (size_t)cnt);
    Value **in = arena_alloc(g->arena, 2 * sizeof(Value *));
    in[0] = n->in[0];
    in[1] = s;
    n->in = in;
    n->nin = 2;
  }
  if (g->opset >= 11) return ir_node_error(g, n, "Upsample is not part of opset %lld", (long long)g->opset);
  n->op = OP_Resize; /* Resize-10 takes (X, scales) and the same mode attribute */
  return shape_move(g, n); /* inferred as the op it became */
}

int shape_extra(Graph *g, Node *n) {
  switch (n->op) {
  case OP_SoftmaxCrossEntropyLoss:
  case OP_NegativeLogLikelihoodLoss: return shape_loss(g, n);
  case OP_TopK: return shape_topk(g, n);
  case OP_Det: return shape_det(g, n);
  case OP_NonZero: return shape_nonzero(g, n);
  case OP_Unique: return shape_unique(g, n);
  case OP_Compress: return shape_compress(g, n);
  case OP_ReverseSequence: return shape_reverse_sequence(g, n);
  case OP_MaxUnpool: return ir_max_unpool_dims(g, n, NULL);
  case OP_Upsample: return upsample_to_resize(g, n);
  case OP_Scatter: n->op = OP_ScatterElements; return shape_move(g, n);
  default: return ir_node_error(g, n, "no shape inference for this op");
  }
}
