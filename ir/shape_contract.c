/* shape_contract.c — shape inference for F_CONTRACT: MatMul, Gemm, Conv, ConvTranspose, Einsum.
 *
 * Conv/ConvTranspose window geometry (auto_pad, strides, dilations, output_padding, output_shape)
 * lives in ir_window (shape_pool.c), shared with the pools. */
#include "ir.h"

#include <string.h>

#define M(t) (1u << (t))
enum {
  M_FLOAT = M(DT_FLOAT) | M(DT_DOUBLE) | M(DT_FLOAT16) | M(DT_BFLOAT16),
  M_SINT = M(DT_INT8) | M(DT_INT16) | M(DT_INT32) | M(DT_INT64),
  M_UINT = M(DT_UINT8) | M(DT_UINT16) | M(DT_UINT32) | M(DT_UINT64),
  M_NUM = M_FLOAT | M_SINT | M_UINT,
  M_GEMM = M_FLOAT | M(DT_INT32) | M(DT_INT64) | M(DT_UINT32) | M(DT_UINT64),
};

/* all present inputs: a type in mask, and all the same type */
static int check_types(Graph *g, const Node *n, unsigned mask, const char *what) {
  const Value *a = n->in[0];
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    if (!((unsigned)v->dtype < DT_COUNT && (mask & M(v->dtype))))
      return ir_node_error(g, n, "input %d ('%s') has type %s, expected %s", i, v->name, dtype_name(v->dtype),
                           what);
    if (v->dtype != a->dtype)
      return ir_node_error(g, n, "inputs must have the same type, got %s (input 0) and %s (input %d)",
                           dtype_name(a->dtype), dtype_name(v->dtype), i);
  }
  return 0;
}

static void set_out(Node *n, DType t, int rank, const int64_t *dims) {
  if (!n->out[0]) return;
  n->out[0]->dtype = t;
  ir_value_set_shape(n->out[0], rank, dims);
}

static const char *vshape(const Value *v, char buf[128]) {
  ir_shape_str(v, buf, 128);
  return buf;
}

static const char *dims_str(char *buf, size_t len, int rank, const int64_t *dims) {
  Value v = {.rank = rank};
  for (int i = 0; i < rank; i++) v.dims[i] = dims[i];
  ir_shape_str(&v, buf, len);
  return buf;
}

/* ---- MatMul (numpy matmul) and Gemm ---- */

/* numpy broadcast of two dim lists into out (rank max(ra, rb)); false if incompatible */
static bool broadcast2(int ra, const int64_t *a, int rb, const int64_t *b, int64_t *out) {
  int r = ra > rb ? ra : rb;
  for (int i = 0; i < r; i++) {
    int64_t x = i - (r - ra) >= 0 ? a[i - (r - ra)] : 1, y = i - (r - rb) >= 0 ? b[i - (r - rb)] : 1;
    if (x != y && x != 1 && y != 1) return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

static int shape_matmul(Graph *g, Node *n) {
  const Value *a = n->in[0], *b = n->in[1];
  char s1[128], s2[128];
  if (a->rank < 1 || b->rank < 1) return ir_node_error(g, n, "MatMul operands must have rank >= 1 (got scalars)");
  /* a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the inserted dim is dropped again */
  int64_t ka = a->dims[a->rank - 1], kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  if (ka != kb)
    return ir_node_error(g, n, "inner dimensions do not match: A is %s, B is %s (%lld vs %lld)",
                         vshape(a, s1), vshape(b, s2),
                         (long long)ka, (long long)kb);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  int64_t dims[IR_MAX_RANK + 2];
  if (!broadcast2(ba, a->dims, bb, b->dims, dims))
    return ir_node_error(g, n, "batch dimensions of A (%s) and B (%s) cannot be broadcast together",
                         dims_str(s1, sizeof s1, ba, a->dims), dims_str(s2, sizeof s2, bb, b->dims));
  int r = ba > bb ? ba : bb;
  if (a->rank > 1) dims[r++] = a->dims[a->rank - 2];
  if (b->rank > 1) dims[r++] = b->dims[b->rank - 1];
  set_out(n, a->dtype, r, dims);
  return 0;
}

static int shape_gemm(Graph *g, Node *n) {
  const Value *a = n->in[0], *b = n->in[1], *c = n->nin > 2 ? n->in[2] : NULL;
  char s1[128], s2[128];
  if (a->rank != 2 || b->rank != 2)
    return ir_node_error(g, n, "A and B must be 2-D, got %s and %s", vshape(a, s1),
                         vshape(b, s2));
  int64_t ta = ir_attr_int(n, "transA", 0), tb = ir_attr_int(n, "transB", 0);
  if ((ta != 0 && ta != 1) || (tb != 0 && tb != 1))
    return ir_node_error(g, n, "transA/transB must be 0 or 1, got %lld/%lld", (long long)ta, (long long)tb);
  int64_t m = a->dims[ta ? 1 : 0], ka = a->dims[ta ? 0 : 1];
  int64_t kb = b->dims[tb ? 1 : 0], nn = b->dims[tb ? 0 : 1];
  if (ka != kb)
    return ir_node_error(g, n, "inner dimensions do not match: A%s is %s, B%s is %s (%lld vs %lld)", ta ? "'" : "",
                         vshape(a, s1), tb ? "'" : "", vshape(b, s2),
                         (long long)ka, (long long)kb);
  int64_t dims[2] = {m, nn};
  if (c) { /* C broadcasts unidirectionally to [M, N] */
    bool ok = c->rank <= 2;
    for (int i = 0; ok && i < c->rank; i++) {
      int64_t d = c->dims[c->rank - 1 - i];
      ok = d == 1 || d == dims[1 - i];
    }
    if (!ok)
      return ir_node_error(g, n, "C of shape %s does not broadcast to the output shape %s",
                           vshape(c, s1), dims_str(s2, sizeof s2, 2, dims));
  }
  set_out(n, a->dtype, 2, dims);
  return 0;
}

/* ---- Conv, ConvTranspose ---- */

static int conv_common(Graph *g, Node *n, int64_t *group) {
  const Value *x = n->in[0], *w = n->in[1];
  char s1[128], s2[128];
  if (x->rank < 3)
    return ir_node_error(g, n, "input X must have rank >= 3 (N x C x D1 ...), got %s",
                         vshape(x, s1));
  if (w->rank != x->rank)
    return ir_node_error(g, n, "weight W (%s) must have the same rank as X (%s)", vshape(w, s1),
                         vshape(x, s2));
  *group = ir_attr_int(n, "group", 1);
  if (*group < 1) return ir_node_error(g, n, "group must be positive, got %lld", (long long)*group);
  if (x->dims[1] % *group)
    return ir_node_error(g, n, "group %lld does not divide the %lld input channels", (long long)*group,
                         (long long)x->dims[1]);
  const int64_t *ks;
  int nk = ir_attr_ints(n, "kernel_shape", &ks);
  for (int i = 0; nk > 0 && i < x->rank - 2; i++)
    if (nk != x->rank - 2 || ks[i] != w->dims[2 + i])
      return ir_node_error(g, n, "kernel_shape does not match the spatial dims of W (%s)",
                           vshape(w, s1));
  return 0;
}

static int check_bias(Graph *g, const Node *n, int64_t m) {
  const Value *b = n->nin > 2 ? n->in[2] : NULL;
  if (b && (b->rank != 1 || b->dims[0] != m)) {
    char s[128];
    ir_shape_str(b, s, sizeof s);
    return ir_node_error(g, n, "bias B has shape %s, expected %lld (one per output channel)", s, (long long)m);
  }
  return 0;
}

static int shape_conv(Graph *g, Node *n, bool transposed) {
  const Value *x = n->in[0], *w = n->in[1];
  int64_t group = 1, m;
  if (conv_common(g, n, &group)) return -1;
  if (!transposed) { /* W: [M, C/group, k...] */
    m = w->dims[0];
    if (w->dims[1] * group != x->dims[1])
      return ir_node_error(g, n, "W expects %lld input channels (%lld x group %lld), X has %lld",
                           (long long)(w->dims[1] * group), (long long)w->dims[1], (long long)group,
                           (long long)x->dims[1]);
    if (m % group)
      return ir_node_error(g, n, "group %lld does not divide the %lld output channels", (long long)group, (long long)m);
  } else { /* W: [C, M/group, k...] */
    if (w->dims[0] != x->dims[1])
      return ir_node_error(g, n, "W expects %lld input channels, X has %lld", (long long)w->dims[0],
                           (long long)x->dims[1]);
    m = w->dims[1] * group;
  }
  if (check_bias(g, n, m)) return -1;
  IrWindow win;
  int nsp = x->rank - 2;
  if (ir_window(g, n, nsp, x->dims + 2, w->dims + 2, &win)) return -1;
  int64_t dims[IR_MAX_RANK] = {x->dims[0], m};
  memcpy(dims + 2, win.out, sizeof(int64_t) * (size_t)nsp);
  set_out(n, x->dtype, x->rank, dims);
  return 0;
}

/* ---- Einsum ---- */

typedef struct Term {
  char labels[IR_MAX_RANK + 1]; /* letters in order; '.' marks where the ellipsis goes */
  int nlab;                     /* entries in labels, the ellipsis counting as one */
  bool ell;
} Term;

static bool is_label(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/* one term of the equation, [p, end) with spaces already removed */
static int parse_term(Graph *g, const Node *n, const char *p, const char *end, Term *t) {
  memset(t, 0, sizeof *t);
  while (p < end) {
    if (t->nlab > IR_MAX_RANK) return ir_node_error(g, n, "equation term has more than %d dims", IR_MAX_RANK);
    if (*p == '.') {
      if (end - p < 3 || p[1] != '.' || p[2] != '.' || t->ell)
        return ir_node_error(g, n, "equation: '.' must appear only as a single '...' per term");
      t->ell = true;
      t->labels[t->nlab++] = '.';
      p += 3;
    } else if (is_label(*p)) {
      t->labels[t->nlab++] = *p++;
    } else
      return ir_node_error(g, n, "equation: invalid character '%c' (labels are letters)", *p);
  }
  return 0;
}

typedef struct EinsumDims {
  int64_t label[128]; /* size per label letter, -1 unseen */
  int count[128];     /* occurrences over all inputs */
  int ell_rank;       /* dims the ellipsis covers (broadcast over inputs) */
  int64_t ell[IR_MAX_RANK];
  bool any_ell;
} EinsumDims;

static int einsum_bind(Graph *g, const Node *n, int i, const Term *t, EinsumDims *e) {
  const Value *v = n->in[i];
  int nell = v->rank - (t->nlab - (t->ell ? 1 : 0));
  if (nell < 0 || (!t->ell && nell != 0))
    return ir_node_error(g, n, "equation term %d has %d labels but input %d has rank %d", i,
                         t->nlab - (t->ell ? 1 : 0), i, v->rank);
  int d = 0;
  for (int k = 0; k < t->nlab; k++) {
    char c = t->labels[k];
    if (c == '.') {
      int64_t merged[IR_MAX_RANK];
      if (!broadcast2(e->ell_rank, e->ell, nell, v->dims + d, merged))
        return ir_node_error(g, n, "the dims input %d's '...' covers do not broadcast with the other inputs'", i);
      if (nell > e->ell_rank) e->ell_rank = nell;
      memcpy(e->ell, merged, sizeof(int64_t) * (size_t)e->ell_rank);
      e->any_ell = true;
      d += nell;
      continue;
    }
    int64_t size = v->dims[d++];
    if (e->label[(int)c] >= 0 && e->label[(int)c] != size)
      return ir_node_error(g, n, "label '%c' has size %lld in input %d but %lld elsewhere", c, (long long)size, i,
                           (long long)e->label[(int)c]);
    e->label[(int)c] = size;
    e->count[(int)c]++;
  }
  return 0;
}

static int shape_einsum(Graph *g, Node *n) {
  const char *eq0 = ir_attr_str(n, "equation", NULL);
  if (!eq0) return ir_node_error(g, n, "required attribute 'equation' is missing");
  char eq[512];
  size_t len = 0;
  for (const char *p = eq0; *p; p++)
    if (*p != ' ' && *p != '\t') {
      if (len + 1 >= sizeof eq) return ir_node_error(g, n, "equation is too long");
      eq[len++] = *p;
    }
  eq[len] = 0;
  char *arrow = strstr(eq, "->");
  const char *lhs_end = arrow ? arrow : eq + len;
  EinsumDims e;
  memset(&e, 0, sizeof e);
  for (int c = 0; c < 128; c++) e.label[c] = -1;
  const char *p = eq;
  for (int i = 0; i < n->nin; i++) {
    const char *comma = memchr(p, ',', (size_t)(lhs_end - p));
    const char *end = comma ? comma : lhs_end;
    if (!n->in[i]) return ir_node_error(g, n, "input %d is missing", i);
    if ((i == n->nin - 1) != (comma == NULL))
      return ir_node_error(g, n, "equation \"%s\" does not have one term per input (%d inputs)", eq0, n->nin);
    Term t;
    if (parse_term(g, n, p, end, &t) || einsum_bind(g, n, i, &t, &e)) return -1;
    p = end + 1;
  }
  int64_t dims[IR_MAX_RANK];
  int r = 0;
  if (!arrow) { /* implicit output: the ellipsis dims, then labels seen once, alphabetically */
    for (int k = 0; k < e.ell_rank; k++) dims[r++] = e.ell[k];
    for (int c = 0; c < 128; c++)
      if (e.count[c] == 1) {
        if (r >= IR_MAX_RANK) return ir_node_error(g, n, "output rank exceeds %d", IR_MAX_RANK);
        dims[r++] = e.label[c];
      }
  } else {
    Term t;
    if (strstr(arrow + 2, "->")) return ir_node_error(g, n, "equation has more than one '->'");
    if (parse_term(g, n, arrow + 2, eq + len, &t)) return -1;
    bool used[128] = {0};
    if (!t.ell && e.ell_rank > 0)
      return ir_node_error(g, n, "the output term needs '...' for the %d broadcast dims the inputs' '...' cover",
                           e.ell_rank);
    for (int k = 0; k < t.nlab; k++) {
      char c = t.labels[k];
      if (c == '.') {
        if (r + e.ell_rank > IR_MAX_RANK) return ir_node_error(g, n, "output rank exceeds %d", IR_MAX_RANK);
        for (int q = 0; q < e.ell_rank; q++) dims[r++] = e.ell[q];
        continue;
      }
      if (e.label[(int)c] < 0) return ir_node_error(g, n, "output label '%c' does not appear in any input", c);
      if (used[(int)c]) return ir_node_error(g, n, "output label '%c' appears twice", c);
      if (r >= IR_MAX_RANK) return ir_node_error(g, n, "output rank exceeds %d", IR_MAX_RANK);
      used[(int)c] = true;
      dims[r++] = e.label[(int)c];
    }
  }
  set_out(n, n->in[0]->dtype, r, dims);
  return 0;
}

int shape_contract(Graph *g, Node *n) {
  switch (n->op) {
  case OP_MatMul:
    if (check_types(g, n, M_GEMM, "a floating-point type or (u)int32/(u)int64")) return -1;
    return shape_matmul(g, n);
  case OP_Gemm:
    if (check_types(g, n, M_GEMM, "a floating-point type or (u)int32/(u)int64")) return -1;
    return shape_gemm(g, n);
  case OP_Conv:
  case OP_ConvTranspose:
    if (check_types(g, n, M_FLOAT, "a floating-point type")) return -1;
    return shape_conv(g, n, n->op == OP_ConvTranspose);
  case OP_Einsum:
    for (int i = 0; i < n->nin; i++)
      if (!n->in[i]) return ir_node_error(g, n, "input %d is missing", i);
    if (check_types(g, n, M_NUM, "a numeric type")) return -1;
    return shape_einsum(g, n);
  default: return ir_node_error(g, n, "not a contraction op");
  }
}
