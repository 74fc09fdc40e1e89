/* shape_move.c — shape inference for the F_MOVE family (data movement), per the ONNX spec up to
 * opset 18. Inputs that decide an output shape (Reshape's shape, Slice's starts/ends, Pad's pads,
 * Resize's scales/sizes, ...) must be constants: onnxc compiles static shapes only.
 * Where an op moved a parameter from an attribute to an input across opsets, the input is used
 * when present and the attribute otherwise, so both forms are accepted. */
#include "ir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_LIST 4096 /* longest integer list input read here (Split sizes) */

int ir_const_input(Graph *g, const Node *n, int i, Value **out) {
  Value *v = i >= 0 && i < n->nin ? n->in[i] : NULL;
  *out = v;
  if (v && (v->kind != VK_CONST || !v->data))
    return ir_node_error(g, n, "data-dependent shape: input '%s' must be a constant", v->name);
  return 0;
}

static void dims_str(char *buf, size_t len, int rank, const int64_t *dims) {
  Value tmp;
  tmp.rank = rank;
  for (int i = 0; i < rank; i++) {
    tmp.dims[i] = dims[i];
    tmp.sym[i] = NULL;
  }
  ir_shape_str(&tmp, buf, len);
}

static void set_out(Value *y, DType t, int rank, const int64_t *dims) {
  if (!y) return;
  y->dtype = t;
  ir_value_set_shape(y, rank, dims);
}

/* a constant integer list input (scalar or 1-D) into buf; *count = -1 when the input is absent */
static int in_ints(Graph *g, const Node *n, int i, int64_t *buf, int cap, int *count) {
  Value *v;
  *count = -1;
  if (ir_const_input(g, n, i, &v)) return -1;
  if (!v) return 0;
  if (v->rank > 1) return ir_node_error(g, n, "input '%s' must be 1-D, got rank %d", v->name, v->rank);
  if (dtype_is_float(v->dtype) || v->dtype == DT_BOOL)
    return ir_node_error(g, n, "input '%s' must be an integer tensor, got %s", v->name,
                         dtype_name(v->dtype));
  int64_t m = ir_value_numel(v);
  if (m > cap)
    return ir_node_error(g, n, "input '%s' has %lld elements (at most %d supported)", v->name,
                         (long long)m, cap);
  for (int64_t k = 0; k < m; k++) buf[k] = ir_const_i64(v, k);
  *count = (int)m;
  return 0;
}

/* the integer list given by input i when present, else by attribute attr; *count = -1 if neither */
static int list_arg(Graph *g, const Node *n, int i, const char *attr, int64_t *buf, int cap, int *count) {
  if (i >= 0 && i < n->nin && n->in[i]) return in_ints(g, n, i, buf, cap, count);
  const int64_t *p;
  int m = attr ? ir_attr_ints(n, attr, &p) : -1;
  *count = m;
  if (m < 0) return 0;
  if (m > cap) return ir_node_error(g, n, "attribute '%s' has %d elements (at most %d)", attr, m, cap);
  memcpy(buf, p, sizeof(int64_t) * (size_t)m);
  return 0;
}

/* normalize a list of axes against rank; rejects repeats */
static int norm_axes(Graph *g, const Node *n, const int64_t *axes, int cnt, int rank, int *out) {
  bool seen[IR_MAX_RANK] = {false};
  for (int i = 0; i < cnt; i++) {
    if (rank == 0 || ir_normalize_axis(g, n, axes[i], rank, &out[i])) {
      if (rank == 0) return ir_node_error(g, n, "axis %lld is out of range for rank 0", (long long)axes[i]);
      return -1;
    }
    if (seen[out[i]]) return ir_node_error(g, n, "axis %lld is repeated", (long long)axes[i]);
    seen[out[i]] = true;
  }
  return 0;
}

static int need_rank(Graph *g, const Node *n, const Value *v, int lo, int hi) {
  if (v->rank >= lo && v->rank <= hi) return 0;
  if (lo == hi) return ir_node_error(g, n, "input '%s' must have rank %d, got %d", v->name, lo, v->rank);
  return ir_node_error(g, n, "input '%s' must have rank %d..%d, got %d", v->name, lo, hi, v->rank);
}

static int need_int_index(Graph *g, const Node *n, const Value *v) {
  if (v->dtype == DT_INT64 || v->dtype == DT_INT32) return 0;
  return ir_node_error(g, n, "indices '%s' must be int32 or int64, got %s", v->name, dtype_name(v->dtype));
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Transpose ---- */
static int reshape(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t shape[IR_MAX_RANK], dims[IR_MAX_RANK];
  int cnt;
  if (list_arg(g, n, 1, "shape", shape, IR_MAX_RANK, &cnt)) return -1;
  if (cnt < 0) return ir_node_error(g, n, "the target shape is missing");
  bool allowzero = ir_attr_int(n, "allowzero", 0) != 0;
  int infer = -1;
  bool zero = false;
  int64_t known = 1, total = ir_value_numel(x);
  for (int i = 0; i < cnt; i++) {
    int64_t s = shape[i];
    if (s == -1) {
      if (infer >= 0) return ir_node_error(g, n, "the target shape has more than one -1");
      infer = i;
      continue;
    }
    if (s < -1) return ir_node_error(g, n, "the target shape has an invalid dim %lld", (long long)s);
    if (s == 0 && !allowzero) {
      if (i >= x->rank)
        return ir_node_error(g, n, "dim 0 at position %d copies an input dim, but the input has rank %d",
                             i, x->rank);
      s = x->dims[i];
    }
    if (s == 0) zero = true;
    dims[i] = s;
    if (!ir_mul_ok(known, s, &known)) return ir_node_error(g, n, "the target shape overflows");
  }
  char a[128], b[128];
  ir_shape_str(x, a, sizeof a);
  if (infer >= 0) {
    if (allowzero && zero) return ir_node_error(g, n, "allowzero=1 forbids both 0 and -1 in the shape");
    if (known == 0 || total % known) {
      dims[infer] = -1;
      dims_str(b, sizeof b, cnt, dims);
      return ir_node_error(g, n, "cannot reshape %s (%lld elements) to %s", a, (long long)total, b);
    }
    dims[infer] = total / known;
  } else if (known != total) {
    dims_str(b, sizeof b, cnt, dims);
    return ir_node_error(g, n, "cannot reshape %s (%lld elements) to %s (%lld elements)", a,
                         (long long)total, b, (long long)known);
  }
  set_out(n->out[0], x->dtype, cnt, dims);
  return 0;
}

static int flatten(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t axis = ir_attr_int(n, "axis", 1);
  int64_t a = axis < 0 ? axis + x->rank : axis;
  if (a < 0 || a > x->rank)
    return ir_node_error(g, n, "axis %lld is out of range for rank %d", (long long)axis, x->rank);
  int64_t d[2];
  ir_numel_ok((int)a, x->dims, &d[0]);
  ir_numel_ok(x->rank - (int)a, x->dims + a, &d[1]);
  set_out(n->out[0], x->dtype, 2, d);
  return 0;
}

static int squeeze(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t axes[IR_MAX_RANK], dims[IR_MAX_RANK];
  int cnt, ax[IR_MAX_RANK], r = 0;
  if (list_arg(g, n, 1, "axes", axes, IR_MAX_RANK, &cnt)) return -1;
  bool drop[IR_MAX_RANK] = {false};
  if (cnt <= 0) {
    for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
  } else {
    if (norm_axes(g, n, axes, cnt, x->rank, ax)) return -1;
    for (int i = 0; i < cnt; i++) {
      if (x->dims[ax[i]] != 1)
        return ir_node_error(g, n, "cannot squeeze axis %d of size %lld", ax[i], (long long)x->dims[ax[i]]);
      drop[ax[i]] = true;
    }
  }
  for (int i = 0; i < x->rank; i++)
    if (!drop[i]) dims[r++] = x->dims[i];
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

static int unsqueeze(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t axes[IR_MAX_RANK], dims[IR_MAX_RANK];
  int cnt, ax[IR_MAX_RANK];
  if (list_arg(g, n, 1, "axes", axes, IR_MAX_RANK, &cnt)) return -1;
  if (cnt < 0) return ir_node_error(g, n, "axes are missing");
  int r = x->rank + cnt;
  if (r > IR_MAX_RANK)
    return ir_node_error(g, n, "output rank %d exceeds the supported maximum %d", r, IR_MAX_RANK);
  if (norm_axes(g, n, axes, cnt, r, ax)) return -1;
  bool ins[IR_MAX_RANK] = {false};
  for (int i = 0; i < cnt; i++) ins[ax[i]] = true;
  for (int i = 0, k = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[k++];
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

static int transpose(Graph *g, Node *n) {
  Value *x = n->in[0];
  const int64_t *perm;
  int cnt = ir_attr_ints(n, "perm", &perm);
  int64_t dims[IR_MAX_RANK];
  bool seen[IR_MAX_RANK] = {false};
  if (cnt >= 0 && cnt != x->rank)
    return ir_node_error(g, n, "perm has %d entries for an input of rank %d", cnt, x->rank);
  for (int i = 0; i < x->rank; i++) {
    int64_t p = cnt >= 0 ? perm[i] : x->rank - 1 - i;
    if (p < 0 || p >= x->rank || seen[p])
      return ir_node_error(g, n, "perm is not a permutation of 0..%d", x->rank - 1);
    seen[p] = true;
    dims[i] = x->dims[p];
  }
  set_out(n->out[0], x->dtype, x->rank, dims);
  return 0;
}

/* ---- Concat, Split ---- */
static int concat(Graph *g, Node *n) {
  Value *ref = NULL;
  for (int i = 0; i < n->nin && !ref; i++) ref = n->in[i];
  if (!ref) return ir_node_error(g, n, "has no inputs");
  const Attr *at = ir_attr(n, "axis");
  if (!at && g->opset >= 4) return ir_node_error(g, n, "attribute 'axis' is missing");
  int axis;
  if (ref->rank == 0) return ir_node_error(g, n, "cannot concatenate scalars");
  if (ir_normalize_axis(g, n, at ? at->i : 1, ref->rank, &axis)) return -1;
  int64_t dims[IR_MAX_RANK], sum = 0;
  memcpy(dims, ref->dims, sizeof dims);
  for (int i = 0; i < n->nin; i++) {
    Value *v = n->in[i];
    if (!v) continue;
    char a[128], b[128];
    if (v->dtype != ref->dtype)
      return ir_node_error(g, n, "inputs have different types: %s and %s", dtype_name(ref->dtype),
                           dtype_name(v->dtype));
    bool ok = v->rank == ref->rank;
    for (int d = 0; ok && d < v->rank; d++) ok = d == axis || v->dims[d] == ref->dims[d];
    if (!ok) {
      ir_shape_str(ref, a, sizeof a);
      ir_shape_str(v, b, sizeof b);
      return ir_node_error(g, n, "input shapes %s and %s differ outside axis %d", a, b, axis);
    }
    sum += v->dims[axis]; /* each bounded by a checked numel: no overflow for < 2^63 / nin */
    if (sum < 0) return ir_node_error(g, n, "output size overflows");
  }
  dims[axis] = sum;
  set_out(n->out[0], ref->dtype, ref->rank, dims);
  return 0;
}

int ir_split_plan(Graph *g, const Node *n, int *axis, int64_t *sizes) {
  Value *x = n->in[0];
  if (x->rank == 0) return ir_node_error(g, n, "cannot split a scalar");
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, axis)) return -1;
  int64_t dim = x->dims[*axis], list[MAX_LIST];
  int cnt, k = n->nout;
  if (list_arg(g, n, 1, "split", list, MAX_LIST, &cnt)) return -1;
  if (cnt == 0) cnt = -1; /* an empty split list means "not given" */
  if (cnt >= 0) {
    if (cnt != k) return ir_node_error(g, n, "split has %d sizes for %d outputs", cnt, k);
    int64_t sum = 0;
    for (int i = 0; i < k; i++) {
      if (list[i] < 0 || list[i] > dim)
        return ir_node_error(g, n, "split size %lld is out of range", (long long)list[i]);
      sizes[i] = list[i];
      sum += list[i];
    }
    if (sum != dim) {
      char s[256];
      size_t o = 0;
      for (int i = 0; i < k && o < sizeof s - 24; i++)
        o += (size_t)snprintf(s + o, sizeof s - o, "%s%lld", i ? "," : "", (long long)list[i]);
      return ir_node_error(g, n, "Split sizes [%s] do not add up to %lld (axis %d)", s, (long long)dim,
                           *axis);
    }
    return 0;
  }
  const Attr *no = ir_attr(n, "num_outputs");
  if (no && no->i != k)
    return ir_node_error(g, n, "num_outputs=%lld but the node has %d outputs", (long long)no->i, k);
  if (no) { /* opset 18: ceil-sized chunks, the last one smaller */
    int64_t c = (dim + k - 1) / k;
    if (c * (k - 1) > dim)
      return ir_node_error(g, n, "cannot split a dim of %lld into %d parts", (long long)dim, k);
    for (int i = 0; i < k; i++) sizes[i] = i < k - 1 ? c : dim - c * (k - 1);
    return 0;
  }
  if (dim % k)
    return ir_node_error(g, n, "cannot split a dim of %lld evenly into %d outputs", (long long)dim, k);
  for (int i = 0; i < k; i++) sizes[i] = dim / k;
  return 0;
}

static int split(Graph *g, Node *n) {
  Value *x = n->in[0];
  int axis;
  int64_t *sizes = arena_alloc(g->arena, sizeof(int64_t) * (size_t)n->nout);
  if (ir_split_plan(g, n, &axis, sizes)) return -1;
  for (int i = 0; i < n->nout; i++) {
    int64_t dims[IR_MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[axis] = sizes[i];
    set_out(n->out[i], x->dtype, x->rank, dims);
  }
  return 0;
}

/* ---- Slice ---- */
int ir_slice_plan(Graph *g, const Node *n, int64_t *start, int64_t *step, int64_t *len) {
  Value *x = n->in[0];
  int r = x->rank;
  int64_t st[IR_MAX_RANK], en[IR_MAX_RANK], axes[IR_MAX_RANK], steps[IR_MAX_RANK];
  int ns, ne, na, nst, ax[IR_MAX_RANK];
  bool inputs = n->nin > 1; /* opset >= 10 */
  if (list_arg(g, n, inputs ? 1 : -1, "starts", st, IR_MAX_RANK, &ns) ||
      list_arg(g, n, inputs ? 2 : -1, "ends", en, IR_MAX_RANK, &ne) ||
      list_arg(g, n, inputs ? 3 : -1, "axes", axes, IR_MAX_RANK, &na) ||
      list_arg(g, n, inputs ? 4 : -1, inputs ? NULL : "steps", steps, IR_MAX_RANK, &nst))
    return -1;
  if (ns < 0 || ne < 0) return ir_node_error(g, n, "starts and ends are required");
  if (ns != ne) return ir_node_error(g, n, "starts has %d entries but ends has %d", ns, ne);
  if (ns > r) return ir_node_error(g, n, "%d starts for an input of rank %d", ns, r);
  if (na >= 0 && na != ns) return ir_node_error(g, n, "axes has %d entries, starts has %d", na, ns);
  if (nst >= 0 && nst != ns) return ir_node_error(g, n, "steps has %d entries, starts has %d", nst, ns);
  if (na < 0)
    for (int i = 0; i < ns; i++) axes[i] = i;
  if (norm_axes(g, n, axes, ns, r, ax)) return -1;
  for (int d = 0; d < r; d++) {
    start[d] = 0;
    step[d] = 1;
    len[d] = x->dims[d];
  }
  for (int i = 0; i < ns; i++) {
    int a = ax[i];
    int64_t dim = x->dims[a], s = st[i], e = en[i], k = nst >= 0 ? steps[i] : 1;
    if (k == 0) return ir_node_error(g, n, "step 0 on axis %d", a);
    if (s < 0) s += dim; /* no overflow: dim >= 0 */
    if (e < 0) e += dim;
    int64_t n_;
    if (dim == 0) {
      s = 0;
      n_ = 0;
    } else if (k > 0) {
      s = s < 0 ? 0 : s > dim ? dim : s;
      e = e < 0 ? 0 : e > dim ? dim : e;
      n_ = e > s ? (e - s - 1) / k + 1 : 0;
    } else {
      s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
      e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
      n_ = s > e ? (k == INT64_MIN ? 1 : (s - e - 1) / -k + 1) : 0;
    }
    start[a] = n_ ? s : 0;
    step[a] = k;
    len[a] = n_;
  }
  return 0;
}

static int slice(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t start[IR_MAX_RANK], step[IR_MAX_RANK], len[IR_MAX_RANK];
  if (ir_slice_plan(g, n, start, step, len)) return -1;
  set_out(n->out[0], x->dtype, x->rank, len);
  return 0;
}

/* ---- Gather family ---- */
static int gather(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1];
  int axis;
  if (need_rank(g, n, x, 1, IR_MAX_RANK) || need_int_index(g, n, idx)) return -1;
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  int r = x->rank - 1 + idx->rank;
  if (r > IR_MAX_RANK) return ir_node_error(g, n, "output rank %d exceeds the maximum %d", r, IR_MAX_RANK);
  int64_t dims[IR_MAX_RANK], s = x->dims[axis];
  int k = 0;
  for (int i = 0; i < axis; i++) dims[k++] = x->dims[i];
  for (int i = 0; i < idx->rank; i++) dims[k++] = idx->dims[i];
  for (int i = axis + 1; i < x->rank; i++) dims[k++] = x->dims[i];
  if (idx->kind == VK_CONST && idx->data)
    for (int64_t i = 0, m = ir_value_numel(idx); i < m; i++) {
      int64_t j = ir_const_i64(idx, i);
      if (j < -s || j >= s)
        return ir_node_error(g, n, "index %lld is out of bounds for axis %d of size %lld", (long long)j,
                             axis, (long long)s);
    }
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

static int gather_elements(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1];
  int axis;
  if (need_rank(g, n, x, 1, IR_MAX_RANK) || need_int_index(g, n, idx)) return -1;
  if (idx->rank != x->rank)
    return ir_node_error(g, n, "indices rank %d differs from data rank %d", idx->rank, x->rank);
  if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  set_out(n->out[0], x->dtype, idx->rank, idx->dims);
  return 0;
}

static int gather_nd(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1];
  int64_t b = ir_attr_int(n, "batch_dims", 0);
  if (need_rank(g, n, x, 1, IR_MAX_RANK) || need_rank(g, n, idx, 1, IR_MAX_RANK) ||
      need_int_index(g, n, idx))
    return -1;
  if (b < 0 || b >= x->rank || b >= idx->rank)
    return ir_node_error(g, n, "batch_dims %lld is out of range", (long long)b);
  int64_t k = idx->dims[idx->rank - 1];
  if (k < 1 || k > x->rank - b)
    return ir_node_error(g, n, "indices' last dim %lld must be in 1..%lld", (long long)k,
                         (long long)(x->rank - b));
  for (int i = 0; i < b; i++)
    if (x->dims[i] != idx->dims[i])
      return ir_node_error(g, n, "batch dim %d differs: %lld vs %lld", i, (long long)x->dims[i],
                           (long long)idx->dims[i]);
  int64_t dims[IR_MAX_RANK];
  int r = 0;
  if (idx->rank - 1 + x->rank - (int)(b + k) > IR_MAX_RANK)
    return ir_node_error(g, n, "output rank exceeds the maximum %d", IR_MAX_RANK);
  for (int i = 0; i < idx->rank - 1; i++) dims[r++] = idx->dims[i];
  for (int i = (int)(b + k); i < x->rank; i++) dims[r++] = x->dims[i];
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

static int scatter(Graph *g, Node *n) {
  Value *x = n->in[0], *idx = n->in[1], *upd = n->in[2];
  char a[128], b[128];
  if (need_int_index(g, n, idx)) return -1;
  if (upd->dtype != x->dtype)
    return ir_node_error(g, n, "updates type %s differs from data type %s", dtype_name(upd->dtype),
                         dtype_name(x->dtype));
  if (n->op == OP_ScatterElements) {
    int axis;
    if (need_rank(g, n, x, 1, IR_MAX_RANK)) return -1;
    if (idx->rank != x->rank || !ir_same_shape(idx, upd)) {
      ir_shape_str(idx, a, sizeof a);
      ir_shape_str(upd, b, sizeof b);
      return ir_node_error(g, n, "indices %s and updates %s must have the same shape and data's rank", a, b);
    }
    if (ir_normalize_axis(g, n, ir_attr_int(n, "axis", 0), x->rank, &axis)) return -1;
  } else {
    if (need_rank(g, n, idx, 1, IR_MAX_RANK)) return -1;
    int64_t k = idx->dims[idx->rank - 1];
    if (k < 1 || k > x->rank)
      return ir_node_error(g, n, "indices' last dim %lld must be in 1..%d", (long long)k, x->rank);
    int64_t want[IR_MAX_RANK];
    int r = 0;
    for (int i = 0; i < idx->rank - 1; i++) want[r++] = idx->dims[i];
    for (int i = (int)k; i < x->rank && r < IR_MAX_RANK; i++) want[r++] = x->dims[i];
    bool ok = upd->rank == r;
    for (int i = 0; ok && i < r; i++) ok = upd->dims[i] == want[i];
    if (!ok) {
      ir_shape_str(upd, a, sizeof a);
      dims_str(b, sizeof b, r, want);
      return ir_node_error(g, n, "updates have shape %s, expected %s", a, b);
    }
  }
  set_out(n->out[0], x->dtype, x->rank, x->dims);
  return 0;
}

/* ---- Expand, Tile, Pad ---- */
static int expand(Graph *g, Node *n) {
  Value *x = n->in[0], tmp;
  int64_t shape[IR_MAX_RANK], dims[IR_MAX_RANK];
  int cnt, r;
  if (in_ints(g, n, 1, shape, IR_MAX_RANK, &cnt)) return -1;
  memset(&tmp, 0, sizeof tmp);
  tmp.name = "shape";
  tmp.rank = cnt;
  for (int i = 0; i < cnt; i++) {
    if (shape[i] < 0) return ir_node_error(g, n, "shape has a negative dim %lld", (long long)shape[i]);
    tmp.dims[i] = shape[i];
  }
  Value *ins[2] = {x, &tmp};
  if (ir_broadcast_shape(g, n, ins, 2, &r, dims)) return -1;
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

static int tile(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t rep[IR_MAX_RANK], dims[IR_MAX_RANK];
  int cnt;
  if (in_ints(g, n, 1, rep, IR_MAX_RANK, &cnt)) return -1;
  if (cnt != x->rank) return ir_node_error(g, n, "repeats has %d entries for rank %d", cnt, x->rank);
  for (int i = 0; i < cnt; i++)
    if (rep[i] < 0 || !ir_mul_ok(x->dims[i], rep[i], &dims[i]))
      return ir_node_error(g, n, "repeat %lld on axis %d is invalid", (long long)rep[i], i);
  set_out(n->out[0], x->dtype, x->rank, dims);
  return 0;
}

int ir_pad_plan(Graph *g, const Node *n, int64_t *before, int64_t *after) {
  Value *x = n->in[0];
  int r = x->rank, cnt, na, ax[IR_MAX_RANK];
  int64_t pads[2 * IR_MAX_RANK], axes[IR_MAX_RANK];
  if (n->nin > 1 && n->in[1]) {
    if (in_ints(g, n, 1, pads, 2 * IR_MAX_RANK, &cnt)) return -1;
  } else if (list_arg(g, n, -1, ir_attr(n, "pads") ? "pads" : "paddings", pads, 2 * IR_MAX_RANK, &cnt))
    return -1;
  if (cnt < 0) return ir_node_error(g, n, "pads are missing");
  if (in_ints(g, n, 3, axes, IR_MAX_RANK, &na)) return -1;
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (norm_axes(g, n, axes, na, r, ax)) return -1;
  if (cnt != 2 * na) return ir_node_error(g, n, "pads has %d entries, expected %d", cnt, 2 * na);
  for (int d = 0; d < r; d++) before[d] = after[d] = 0;
  for (int i = 0; i < na; i++) {
    int64_t p0 = pads[i], p1 = pads[i + na], dim = x->dims[ax[i]];
    const int64_t lim = (int64_t)1 << 40;
    if (p0 < -lim || p0 > lim || p1 < -lim || p1 > lim || dim + p0 + p1 < 0)
      return ir_node_error(g, n, "pads %lld,%lld are invalid for axis %d of size %lld", (long long)p0,
                           (long long)p1, ax[i], (long long)dim);
    before[ax[i]] = p0;
    after[ax[i]] = p1;
  }
  const char *mode = ir_attr_str(n, "mode", "constant");
  bool reflect = !strcmp(mode, "reflect");
  if (!reflect && strcmp(mode, "constant") && strcmp(mode, "edge") && strcmp(mode, "wrap"))
    return ir_node_error(g, n, "unknown mode '%s'", mode);
  if (strcmp(mode, "constant"))
    for (int d = 0; d < r; d++) {
      int64_t dim = x->dims[d];
      /* negative pads crop first; the remaining extent is what gets reflected / repeated */
      int64_t core = dim + (before[d] < 0 ? before[d] : 0) + (after[d] < 0 ? after[d] : 0);
      int64_t p = before[d] > after[d] ? before[d] : after[d];
      if (p > 0 && (core <= 0 || (reflect && p > core - 1)))
        return ir_node_error(g, n, "%s padding of %lld is too large for axis %d of size %lld", mode,
                             (long long)p, d, (long long)dim);
    }
  return 0;
}

static int pad(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t before[IR_MAX_RANK], after[IR_MAX_RANK], dims[IR_MAX_RANK];
  if (ir_pad_plan(g, n, before, after)) return -1;
  for (int d = 0; d < x->rank; d++) dims[d] = x->dims[d] + before[d] + after[d];
  set_out(n->out[0], x->dtype, x->rank, dims);
  return 0;
}

/* ---- DepthToSpace, SpaceToDepth, Trilu ---- */
static int depth_space(Graph *g, Node *n) {
  Value *x = n->in[0];
  int64_t b = ir_attr_int(n, "blocksize", 0), dims[4];
  if (need_rank(g, n, x, 4, 4)) return -1;
  if (b <= 0 || b > (1 << 20)) return ir_node_error(g, n, "blocksize %lld is invalid", (long long)b);
  memcpy(dims, x->dims, sizeof dims);
  if (n->op == OP_DepthToSpace) {
    const char *mode = ir_attr_str(n, "mode", "DCR");
    if (strcmp(mode, "DCR") && strcmp(mode, "CRD")) return ir_node_error(g, n, "unknown mode '%s'", mode);
    if (x->dims[1] % (b * b))
      return ir_node_error(g, n, "channels %lld are not divisible by blocksize^2 = %lld",
                           (long long)x->dims[1], (long long)(b * b));
    dims[1] /= b * b;
    dims[2] *= b; /* the numel is unchanged, so these cannot overflow */
    dims[3] *= b;
  } else {
    if (x->dims[2] % b || x->dims[3] % b)
      return ir_node_error(g, n, "spatial dims %lldx%lld are not divisible by blocksize %lld",
                           (long long)x->dims[2], (long long)x->dims[3], (long long)b);
    if (!ir_mul_ok(dims[1], b * b, &dims[1])) return ir_node_error(g, n, "channel count overflows");
    dims[2] /= b;
    dims[3] /= b;
  }
  set_out(n->out[0], x->dtype, 4, dims);
  return 0;
}

static int trilu(Graph *g, Node *n) {
  Value *x = n->in[0];
  if (need_rank(g, n, x, 2, IR_MAX_RANK)) return -1;
  if (n->nin > 1 && n->in[1] && ir_value_numel(n->in[1]) != 1)
    return ir_node_error(g, n, "k must be a scalar");
  set_out(n->out[0], x->dtype, x->rank, x->dims);
  return 0;
}

/* ---- Resize ---- */
static int resize(Graph *g, Node *n) {
  Value *x = n->in[0], *sc, *sz;
  int r = x->rank;
  bool v10 = g->opset > 0 && g->opset < 11; /* Resize-10: (X, scales) */
  if (ir_const_input(g, n, v10 ? 1 : 2, &sc) || ir_const_input(g, n, v10 ? -1 : 3, &sz)) return -1;
  if (sc && ir_value_numel(sc) == 0) sc = NULL;
  if (sz && ir_value_numel(sz) == 0) sz = NULL;
  if (sc && sz) return ir_node_error(g, n, "only one of 'scales' and 'sizes' may be given");
  if (!sc && !sz) return ir_node_error(g, n, "one of 'scales' and 'sizes' is required");
  int64_t axes[IR_MAX_RANK], dims[IR_MAX_RANK];
  int na, ax[IR_MAX_RANK];
  if (list_arg(g, n, -1, "axes", axes, IR_MAX_RANK, &na)) return -1;
  if (na < 0) {
    na = r;
    for (int i = 0; i < r; i++) axes[i] = i;
  }
  if (norm_axes(g, n, axes, na, r, ax)) return -1;
  Value *p = sc ? sc : sz;
  if (p->rank != 1 || p->dims[0] != na)
    return ir_node_error(g, n, "'%s' has %lld entries, expected %d", sc ? "scales" : "sizes",
                         (long long)ir_value_numel(p), na);
  memcpy(dims, x->dims, sizeof dims);
  if (sc) {
    if (!dtype_is_float(sc->dtype)) return ir_node_error(g, n, "scales must be floating point");
    for (int i = 0; i < na; i++) {
      float s = (float)ir_const_f64(sc, i), o = floorf((float)x->dims[ax[i]] * s);
      if (!(s > 0) || !(o < 9.0e15f)) return ir_node_error(g, n, "scale %g is invalid", (double)s);
      dims[ax[i]] = (int64_t)o;
    }
  } else {
    if (dtype_is_float(sz->dtype)) return ir_node_error(g, n, "sizes must be int64");
    const char *pol = ir_attr_str(n, "keep_aspect_ratio_policy", "stretch");
    bool smaller = !strcmp(pol, "not_smaller");
    if (!smaller && strcmp(pol, "not_larger") && strcmp(pol, "stretch"))
      return ir_node_error(g, n, "unknown keep_aspect_ratio_policy '%s'", pol);
    float scale = smaller ? 0 : INFINITY;
    for (int i = 0; i < na; i++) {
      int64_t s = ir_const_i64(sz, i);
      if (s < 0) return ir_node_error(g, n, "size %lld is negative", (long long)s);
      dims[ax[i]] = s;
      float f = (float)s / (float)x->dims[ax[i]];
      scale = smaller ? fmaxf(scale, f) : fminf(scale, f);
    }
    if (strcmp(pol, "stretch"))
      for (int i = 0; i < na; i++) {
        float o = roundf(scale * (float)x->dims[ax[i]]);
        if (!(o >= 0 && o < 9.0e15f)) return ir_node_error(g, n, "sizes are invalid for the input shape");
        dims[ax[i]] = (int64_t)o;
      }
  }
  set_out(n->out[0], x->dtype, r, dims);
  return 0;
}

int shape_move(Graph *g, Node *n) {
  switch (n->op) {
  case OP_Reshape: return reshape(g, n);
  case OP_Flatten: return flatten(g, n);
  case OP_Squeeze: return squeeze(g, n);
  case OP_Unsqueeze: return unsqueeze(g, n);
  case OP_Transpose: return transpose(g, n);
  case OP_Concat: return concat(g, n);
  case OP_Split: return split(g, n);
  case OP_Slice: return slice(g, n);
  case OP_Gather: return gather(g, n);
  case OP_GatherElements: return gather_elements(g, n);
  case OP_GatherND: return gather_nd(g, n);
  case OP_ScatterElements:
  case OP_ScatterND: return scatter(g, n);
  case OP_Expand: return expand(g, n);
  case OP_Tile: return tile(g, n);
  case OP_Pad: return pad(g, n);
  case OP_DepthToSpace:
  case OP_SpaceToDepth: return depth_space(g, n);
  case OP_Trilu: return trilu(g, n);
  case OP_Resize: return resize(g, n);
  default: return ir_node_error(g, n, "no shape inference for this op");
  }
}
