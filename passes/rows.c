/* rows.c — rows nobody reads are not computed.
 *
 * A classifier on one token (ViT's class token: Gather(x, 0, axis 1) after the last block) reads
 * one row of a [1, T, C] tensor, and every op of the last block but the attention's K and V works
 * row by row: LayerNormalization over the channels, MatMul/Gemm by a weight (and their fused
 * epilogues), elementwise ops, Reshape/Transpose that keep the token axis, and FusedAttention's
 * queries.  Walking back from the Gather, a node all of whose output's readers want only that
 * row (and that works row by row along it) is replaced by one computing that row alone; where a
 * value is also read whole (the block's input, K and V) a Slice takes the row.  ViT-B/16: the
 * last block's MLP, out-projection and queries run on 1 row of 197 (7% of the model's work).
 *
 * Runs after fusion (it matches the fused forms); float types only, shapes known. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static bool is_graph_output(const Graph *g, const Value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  return v->is_output;
}

static bool elementwise(Op op) {
  switch (op) {
  case OP_Add:
  case OP_Sub:
  case OP_Mul:
  case OP_Div:
  case OP_Gelu:
  case OP_Relu:
  case OP_Tanh:
  case OP_Erf:
  case OP_Sigmoid: return true;
  default: return false;
  }
}

/* the axis of n->in[j] that holds the rows of n's output axis ax; -1: that input is read whole
 * (not along the rows), -2: n cannot work on a subset of the rows */
static int in_axis(const Node *n, int j, int ax) {
  const Value *x = n->in[j], *y = n->out[0];
  if (!x) return -1;
  int r = y->rank;
  switch (n->op) {
  case OP_LayerNormalization: {
    int64_t a = ir_attr_int(n, "axis", -1);
    if (a < 0) a += r;
    if (n->nout != 1 || ax >= a) return -2;
    return j == 0 ? ax : -1;
  }
  case OP_MatMul:
  case OP_Gemm: {
    if (ax >= r - 1) return -2;
    if (n->op == OP_Gemm && (ax != 0 || ir_attr_int(n, "transA", 0))) return -2;
    if (j == 0) return x->rank == r ? ax : -2;
    if (j == 1) return x->rank == 2 ? -1 : -2;
    /* Gemm's C, or the epilogue's residual / bias row */
    if (x->rank == r && x->dims[ax] == y->dims[ax] && y->dims[ax] > 1) return ax;
    int d = ax - (r - x->rank);
    return d < 0 || x->dims[d] == 1 ? -1 : -2;
  }
  case OP_Reshape: {
    if (j) return -1;
    int64_t pre = 1, xpre = 1;
    for (int d = 0; d < ax; d++) pre *= y->dims[d];
    for (int d = 0; d < x->rank; d++) {
      if (xpre == pre && x->dims[d] == y->dims[ax]) return d;
      xpre *= x->dims[d];
    }
    return -2;
  }
  case OP_Transpose: {
    const int64_t *p;
    int c = ir_attr_ints(n, "perm", &p);
    return c == r ? (int)p[ax] : -2;
  }
  case OP_FusedAttention: /* y, Q [S, H, D]: the query rows; K, V whole; a mask has rows too */
    if (ax != 0 || n->nin > 3) return -2;
    return j == 0 ? 0 : -1;
  default:
    if (!elementwise(n->op) || n->epi) return -2;
    int d = ax - (r - x->rank);
    if (d < 0 || x->dims[d] == 1) return -1;
    return x->dims[d] == y->dims[ax] ? d : -2;
  }
}

static bool narrowable(const Node *n, int ax) {
  if (n->dead || n->nout != 1 || !n->out[0] || n->out[0]->rank < 1 || !ir_value_shape_known(n->out[0])) return false;
  DType t = n->out[0]->dtype;
  if (t != DT_FLOAT && t != DT_FLOAT16 && t != DT_BFLOAT16 && t != DT_DOUBLE) return false;
  if (n->winograd || n->sparse || n->binary) return false;
  for (int j = 0; j < n->nin; j++)
    if (in_axis(n, j, ax) == -2) return false;
  return true;
}

typedef struct Rows {
  int *axis;    /* per value id: the axis along which only row `row` is wanted, -1 none */
  bool *whole;  /* per value id: some reader wants all of it */
  Value **nv;   /* per value id: the one-row value that replaces it */
  int64_t row;
} Rows;

/* x[.., row:row+1, ..] along ax: the new value if x's producer was narrowed, else a Slice */
static Value *row_of(Graph *g, Rows *R, Value *x, int ax) {
  if (R->nv[x->id] && R->axis[x->id] == ax) return R->nv[x->id];
  int64_t one = 1, a = ax, s = R->row, e = R->row + 1;
  Node *sl = ir_node_new(g, OP_Slice, arena_printf(g->arena, "%s.row", x->name), 4, 1);
  int64_t *vals[3] = {&s, &e, &a};
  sl->in[0] = x;
  for (int i = 0; i < 3; i++) {
    Value *c = ir_const_new(g, arena_printf(g->arena, "%s.row_%d", x->name, i), DT_INT64, 1, &one);
    *(int64_t *)c->data = *vals[i];
    sl->in[i + 1] = c;
  }
  Value *y = ir_value_new(g, arena_printf(g->arena, "%s.row", x->name));
  y->kind = VK_TEMP;
  y->dtype = x->dtype;
  int64_t d[IR_MAX_RANK];
  memcpy(d, x->dims, sizeof(int64_t) * (size_t)x->rank);
  d[ax] = 1;
  ir_value_set_shape(y, x->rank, d);
  sl->out[0] = y;
  y->producer = sl;
  return y;
}

static void narrow(Graph *g, Rows *R, Node *n) {
  Value *y = n->out[0];
  int ax = R->axis[y->id];
  Node *m = ir_node_new(g, n->op, arena_printf(g->arena, "%s.row", n->name), n->nin, 1);
  m->domain = n->domain;
  m->nattr = n->nattr;
  m->attrs = n->attrs;
  for (int j = 0; j < n->nin; j++) {
    int a = in_axis(n, j, ax);
    m->in[j] = a >= 0 ? row_of(g, R, n->in[j], a) : n->in[j];
  }
  int64_t d[IR_MAX_RANK];
  memcpy(d, y->dims, sizeof(int64_t) * (size_t)y->rank);
  d[ax] = 1;
  if (n->op == OP_Reshape) { /* the new shape, every dim spelled out */
    int64_t r = y->rank;
    Value *s = ir_const_new(g, arena_printf(g->arena, "%s.row_shape", n->name), DT_INT64, 1, &r);
    memcpy(s->data, d, sizeof(int64_t) * (size_t)r);
    m->in[1] = s;
  }
  if (n->epi) {
    Epilogue *e = arena_alloc(g->arena, sizeof *e);
    *e = *n->epi;
    if (e->res) e->res = m->in[ir_ops[n->op].max_in];
    m->epi = e;
  }
  Value *o = ir_value_new(g, arena_printf(g->arena, "%s.row", y->name));
  o->kind = VK_TEMP;
  o->dtype = y->dtype;
  ir_value_set_shape(o, y->rank, d);
  m->out[0] = o;
  o->producer = m;
  R->nv[y->id] = o;
}

/* the root: Gather(x, one constant index, axis) with x [.., T > 1, ..] */
static bool root_at(const Graph *g, const Node *n, int *ax, int64_t *row) {
  if (n->op != OP_Gather || n->dead || n->nin != 2 || !is_const(n->in[1]) || ir_value_numel(n->in[1]) != 1) return false;
  const Value *x = n->in[0];
  if (!x->producer || is_graph_output(g, x) || x->rank < 2 || !ir_value_shape_known(x)) return false;
  int64_t a = ir_attr_int(n, "axis", 0);
  if (a < 0) a += x->rank;
  if (a < 0 || a >= x->rank || x->dims[a] < 2) return false;
  int64_t i = ir_const_i64(n->in[1], 0);
  if (i < 0) i += x->dims[a];
  if (i < 0 || i >= x->dims[a]) return false;
  *ax = (int)a, *row = i;
  return true;
}

static int rows_from(Graph *g, Node *root, int ax, int64_t row) {
  int nv = g->nvalues;
  Rows R = {calloc((size_t)nv + 1, sizeof(int)), calloc((size_t)nv + 1, 1), calloc((size_t)nv + 1, sizeof(Value *)), row};
  bool *mark = calloc((size_t)g->nnodes + 1, 1);
  if (!R.axis || !R.whole || !R.nv || !mark) {
    free(R.axis), free(R.whole), free(R.nv), free(mark);
    return ir_error(g, "out of memory");
  }
  for (int i = 0; i < nv; i++) R.axis[i] = -1;
  for (int i = 0; i < g->noutputs; i++) R.whole[g->outputs[i]->id] = true;
  int nn = g->nnodes, nmarked = 0, kroot = -1;
  for (int k = 0; k < nn; k++)
    if (g->nodes[k] == root) kroot = k;
  R.axis[root->in[0]->id] = ax;
  for (int k = nn - 1; k >= 0; k--) { /* readers before producers */
    Node *n = g->nodes[k];
    if (n->dead) continue;
    if (k > kroot || n == root) { /* after the root, or the root's index: read whole */
      for (int j = n == root ? 1 : 0; j < n->nin; j++)
        if (n->in[j]) R.whole[n->in[j]->id] = true;
      continue;
    }
    Value *y = n->nout == 1 ? n->out[0] : NULL;
    int a = y ? R.axis[y->id] : -1;
    if (y && a >= 0 && !R.whole[y->id] && !is_graph_output(g, y) && narrowable(n, a)) {
      mark[k] = true;
      nmarked++;
      for (int j = 0; j < n->nin; j++) {
        Value *x = n->in[j];
        int xa = x ? in_axis(n, j, a) : -1;
        if (!x) continue;
        if (xa < 0 || (R.axis[x->id] >= 0 && R.axis[x->id] != xa)) R.whole[x->id] = true;
        else R.axis[x->id] = xa;
      }
    } else
      for (int j = 0; j < n->nin; j++)
        if (n->in[j]) R.whole[n->in[j]->id] = true;
  }
  if (nmarked) {
    for (int k = 0; k < nn; k++)
      if (mark[k]) narrow(g, &R, g->nodes[k]);
    Value *x = row_of(g, &R, root->in[0], ax);
    int64_t zero = 0;
    Value *idx = ir_const_new(g, arena_printf(g->arena, "%s.row_index", root->name), root->in[1]->dtype,
                              root->in[1]->rank, root->in[1]->dims);
    ir_store_f64(idx->dtype, idx->data, 0, (double)zero);
    root->in[0] = x;
    root->in[1] = idx;
    for (int k = 0; k < nn; k++)
      if (mark[k]) ir_node_remove(g, g->nodes[k]);
  }
  free(R.axis), free(R.whole), free(R.nv), free(mark);
  return nmarked;
}

int pass_rows(Graph *g) {
  for (int k = 0, nn = g->nnodes; k < nn; k++) {
    int ax;
    int64_t row;
    Node *n = g->nodes[k];
    if (!root_at(g, n, &ax, &row)) continue;
    ir_graph_count_users(g);
    int r = rows_from(g, n, ax, row);
    if (r < 0) return -1;
    if (r) {
      ir_graph_compact(g);
      if (ir_graph_toposort(g)) return -1;
      nn = g->nnodes, k = -1; /* positions changed: look again (a narrowed Gather is no root: T = 1) */
    }
  }
  return 0;
}
