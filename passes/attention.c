/* attention.c — scaled dot-product attention, as torch exports nn.MultiheadAttention (BERT, ViT,
 * GPT with an additive causal mask), back into one FusedAttention node.
 *
 * The pattern, per layer (Q, K, V in [S, H, D] after the in-projection's Slice/Reshape):
 *     q = Transpose(Q, [1,0,2]) [÷ or × scalar]        [H, S, D]
 *     k = Transpose(K, [1,2,0])                          [H, D, L]
 *     s = MatMul(q, k) [÷ or × scalar] [+ mask [S, L]]   [H, S, L]
 *     o = MatMul(Softmax(s, axis -1), Transpose(V, [1,0,2]))
 *     y = Transpose(o, [1,0,2])                          [S, H, Dv]
 * becomes y = FusedAttention(Q, K, V[, mask]) {scale}: the kernel (backend/gen/gen_attention.c)
 * reads Q, K, V in place (the three head transposes disappear) and keeps a block of score rows
 * in cache from QKᵀ through the softmax to ·V, so the H×S×L scores never reach memory.
 *
 * Every value fused away has that one user and is not a graph output; float32 only. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }

static bool is_graph_output(const Graph *g, const Value *v) {
  for (int i = 0; i < g->noutputs; i++)
    if (g->outputs[i] == v) return true;
  return v->is_output;
}

static bool single_use(const Graph *g, const Value *v) { return v && v->nusers == 1 && !is_graph_output(g, v); }

/* the producer of v when it is an `op` whose output only the node being matched reads */
static Node *fused_producer(const Graph *g, const Value *v, Op op) {
  Node *p = v ? v->producer : NULL;
  return p && !p->dead && p->op == op && p->nout == 1 && single_use(g, v) ? p : NULL;
}

/* v's one user, if it is an `op` (users: the last user of each value) */
static Node *only_user(const Graph *g, Node **users, const Value *v, Op op) {
  if (!single_use(g, v)) return NULL;
  Node *u = users[v->id];
  return u && !u->dead && u->op == op && u->nout == 1 ? u : NULL;
}

static bool is_perm(const Node *t, int64_t a, int64_t b, int64_t c) {
  const int64_t *p;
  return t->op == OP_Transpose && ir_attr_ints(t, "perm", &p) == 3 && p[0] == a && p[1] == b && p[2] == c;
}

static bool f32_rank3(const Value *v) { return v && v->dtype == DT_FLOAT && v->rank == 3 && ir_value_numel(v) > 0; }

/* x ÷ c or x × c with c a constant scalar: the factor it applies (0 if n is neither) */
static double scalar_factor(const Node *n, Value **x) {
  if ((n->op != OP_Div && n->op != OP_Mul) || n->nin != 2) return 0;
  int ci = is_const(n->in[1]) && ir_value_numel(n->in[1]) == 1 ? 1 : 0;
  if (n->op == OP_Div && ci != 1) return 0;
  if (ci == 0 && !(is_const(n->in[0]) && ir_value_numel(n->in[0]) == 1)) return 0;
  double c = ir_const_f64(n->in[ci], 0);
  if (!isfinite(c) || c == 0) return 0;
  *x = n->in[1 - ci];
  return n->op == OP_Div ? 1.0 / c : c;
}

/* a mask the kernel reads as [S, L] rows: that shape after leading 1s */
static bool mask_ok(const Value *m, int64_t S, int64_t L) {
  if (!m || m->dtype != DT_FLOAT || m->rank < 2 || ir_value_numel(m) != S * L) return false;
  return m->dims[m->rank - 2] == S && m->dims[m->rank - 1] == L;
}

typedef struct Match {
  Node *dead[10];
  int ndead;
  Value *q, *k, *v, *mask;
  double scale;
} Match;

/* q·kᵀ [× scale] [+ mask] feeding the Softmax, matched backwards from its input */
static bool match_scores(const Graph *g, Value *s, Match *m) {
  Node *n = s->producer;
  if (n && n->op == OP_Add && single_use(g, s)) {
    Value *a = n->in[0], *b = n->in[1];
    Value *x = a && !is_const(a) && ir_same_shape(a, s) ? a : b, *mk = x == a ? b : a;
    if (!x || !f32_rank3(s) || !ir_same_shape(x, s) || !mask_ok(mk, s->dims[1], s->dims[2])) return false;
    m->mask = mk;
    m->dead[m->ndead++] = n;
    s = x;
    n = s->producer;
  }
  Value *x;
  double f = n && single_use(g, s) ? scalar_factor(n, &x) : 0;
  if (f != 0) {
    m->scale *= f;
    m->dead[m->ndead++] = n;
    s = x;
  }
  Node *mm = fused_producer(g, s, OP_MatMul);
  if (!mm || !f32_rank3(s)) return false;
  m->dead[m->ndead++] = mm;
  Value *qa = mm->in[0];
  Node *qn = qa->producer;
  if (qn && single_use(g, qa) && (f = scalar_factor(qn, &x)) != 0) {
    m->scale *= f;
    m->dead[m->ndead++] = qn;
    qa = x;
  }
  Node *qt = fused_producer(g, qa, OP_Transpose), *kt = fused_producer(g, mm->in[1], OP_Transpose);
  if (!qt || !kt || !is_perm(qt, 1, 0, 2) || !is_perm(kt, 1, 2, 0)) return false;
  m->q = qt->in[0];
  m->k = kt->in[0];
  m->dead[m->ndead++] = qt;
  m->dead[m->ndead++] = kt;
  return f32_rank3(m->q) && f32_rank3(m->k);
}

static bool match_at(const Graph *g, Node **users, Node *sm, Match *m, Value **y) {
  memset(m, 0, sizeof *m);
  m->scale = 1;
  if (sm->op != OP_Softmax || sm->nout != 1) return false;
  Value *s = sm->in[0];
  int64_t axis = ir_attr_int(sm, "axis", -1);
  if (!f32_rank3(s) || (axis != -1 && axis != 2) || !match_scores(g, s, m)) return false;
  m->dead[m->ndead++] = sm;
  Node *pv = only_user(g, users, sm->out[0], OP_MatMul);
  if (!pv || pv->in[0] != sm->out[0]) return false;
  Node *vt = fused_producer(g, pv->in[1], OP_Transpose);
  Node *ot = only_user(g, users, pv->out[0], OP_Transpose);
  if (!vt || !ot || !is_perm(vt, 1, 0, 2) || !is_perm(ot, 1, 0, 2)) return false;
  m->v = vt->in[0];
  m->dead[m->ndead++] = pv;
  m->dead[m->ndead++] = vt;
  m->dead[m->ndead++] = ot;
  *y = ot->out[0];
  const Value *q = m->q, *k = m->k, *v = m->v;
  /* Q [S,H,D], K [L,H,D], V [L,H,Dv], y [S,H,Dv] */
  return f32_rank3(v) && k->dims[1] == q->dims[1] && k->dims[2] == q->dims[2] && v->dims[0] == k->dims[0] &&
         v->dims[1] == q->dims[1] && f32_rank3(*y) && (*y)->dims[0] == q->dims[0] && (*y)->dims[1] == q->dims[1] &&
         (*y)->dims[2] == v->dims[2] && (!m->mask || mask_ok(m->mask, q->dims[0], k->dims[0]));
}

static void rewrite(Graph *g, Match *m, Value *y, const char *name) {
  int nin = m->mask ? 4 : 3;
  Node *fa = ir_node_new(g, OP_FusedAttention, name ? arena_printf(g->arena, "%s.attention", name) : "attention", nin, 1);
  fa->in[0] = m->q, fa->in[1] = m->k, fa->in[2] = m->v;
  if (m->mask) fa->in[3] = m->mask;
  fa->nattr = 1;
  fa->attrs = arena_alloc(g->arena, sizeof(Attr));
  fa->attrs[0] = (Attr){.name = "scale", .type = AT_FLOAT, .f = (float)m->scale};
  for (int i = 0; i < m->ndead; i++) ir_node_remove(g, m->dead[i]);
  fa->out[0] = y;
  y->producer = fa;
}

/* ---- The in-projection split: y = x·W (+ b) read only by Slices along its last axis (Q, K and V
 * out of one [., 3E] projection) becomes one x·W[:, s:e] (+ b[s:e]) per Slice, each writing its
 * own output, so no slice is copied out of the wide result (and the three GEMMs keep the
 * efficiency of the one).  W is a constant matrix, b a constant vector. ---- */

/* [s, e) that Slice sl takes along the last axis of its [., N] input (step 1), or false */
static bool last_axis_range(const Node *sl, int64_t N, int64_t *s, int64_t *e) {
  const Value *x = sl->in[0];
  if (sl->op != OP_Slice || sl->nin < 3 || sl->nout != 1 || !is_const(sl->in[1]) || !is_const(sl->in[2]) ||
      ir_value_numel(sl->in[1]) != 1 || ir_value_numel(sl->in[2]) != 1)
    return false;
  if (sl->nin > 3 && sl->in[3]) {
    if (!is_const(sl->in[3]) || ir_value_numel(sl->in[3]) != 1) return false;
    int64_t a = ir_const_i64(sl->in[3], 0);
    if (a != -1 && a != x->rank - 1) return false;
  } else if (x->rank != 1)
    return false;
  if (sl->nin > 4 && sl->in[4] && (!is_const(sl->in[4]) || ir_value_numel(sl->in[4]) != 1 || ir_const_i64(sl->in[4], 0) != 1))
    return false;
  int64_t a = ir_const_i64(sl->in[1], 0), b = ir_const_i64(sl->in[2], 0);
  if (a < 0) a += N;
  if (b < 0) b += N;
  a = a < 0 ? 0 : a > N ? N : a;
  b = b < 0 ? 0 : b > N ? N : b;
  *s = a, *e = b;
  return b > a;
}

static int split_projection(Graph *g, Value *y) {
  Node *add = y->producer, *mm = add;
  Value *b = NULL, *p = y;
  if (!add || add->dead || is_graph_output(g, y) || y->dtype != DT_FLOAT || y->rank < 2) return 0;
  if (add->op == OP_Add && add->nin == 2) {
    int bi = is_const(add->in[1]) ? 1 : 0;
    b = add->in[bi], p = add->in[1 - bi];
    if (!is_const(b) || b->rank != 1 || !single_use(g, p) || !ir_same_shape(p, y)) return 0;
    mm = p->producer;
  }
  if (!mm || mm->dead || mm->op != OP_MatMul || mm->nout != 1) return 0;
  Value *x = mm->in[0], *w = mm->in[1];
  int64_t N = y->dims[y->rank - 1];
  if (!is_const(w) || w->rank != 2 || w->dtype != DT_FLOAT || w->dims[1] != N || (b && b->dims[0] != N)) return 0;
  Node *sl[8];
  int ns = 0;
  int64_t se[8][2];
  for (int k = 0; k < g->nnodes; k++) {
    Node *u = g->nodes[k];
    for (int j = 0; !u->dead && j < u->nin; j++) {
      if (u->in[j] != y) continue;
      if (j != 0 || ns == 8 || !last_axis_range(u, N, &se[ns][0], &se[ns][1])) return 0;
      sl[ns++] = u;
    }
  }
  if (ns < 2 || ns != y->nusers) return 0;
  int64_t K = w->dims[0];
  for (int i = 0; i < ns; i++) {
    int64_t s = se[i][0], n = se[i][1] - s, wd[2] = {K, n};
    Value *o = sl[i]->out[0];
    const char *nm = sl[i]->name ? sl[i]->name : "split";
    /* kept: a cache's copy from an earlier load is compared, not written (fresh pages cost most) */
    Value *wi = ir_const_new_kept(g, arena_printf(g->arena, "%s.w", nm), DT_FLOAT, 2, wd);
    for (int64_t r = 0; r < K; r++)
      arena_fill(g->arena, (float *)wi->data + r * n, (const float *)w->data + r * N + s, sizeof(float) * (size_t)n);
    Node *m = ir_node_new(g, OP_MatMul, arena_printf(g->arena, "%s.matmul", nm), 2, 1);
    m->in[0] = x, m->in[1] = wi;
    Value *t = o;
    if (b) {
      t = ir_value_new(g, arena_printf(g->arena, "%s.xw", nm));
      t->kind = VK_TEMP;
      t->dtype = o->dtype;
      ir_value_set_shape(t, o->rank, o->dims);
      Value *bi = ir_const_new_kept(g, arena_printf(g->arena, "%s.b", nm), DT_FLOAT, 1, &n);
      arena_fill(g->arena, bi->data, (const float *)b->data + s, sizeof(float) * (size_t)n);
      Node *a = ir_node_new(g, OP_Add, arena_printf(g->arena, "%s.bias", nm), 2, 1);
      a->in[0] = t, a->in[1] = bi, a->out[0] = o;
      o->producer = a;
    }
    m->out[0] = t;
    t->producer = m;
    ir_node_remove(g, sl[i]);
  }
  if (b) ir_node_remove(g, add);
  ir_node_remove(g, mm);
  return ns;
}

int pass_attention(Graph *g) {
  ir_graph_count_users(g);
  int nsplit = 0;
  for (int k = 0, nn = g->nnodes; k < nn; k++) {
    Node *n = g->nodes[k];
    if (n->dead || n->nout != 1 || !n->out[0] || (n->op != OP_Add && n->op != OP_MatMul)) continue;
    int r = split_projection(g, n->out[0]);
    if (r < 0) return -1;
    nsplit += r > 0;
  }
  if (nsplit) {
    ir_graph_compact(g);
    if (ir_graph_toposort(g)) return -1;
    ir_graph_count_users(g);
  }
  Node **users = calloc((size_t)g->nvalues + 1, sizeof(Node *));
  if (!users) return ir_error(g, "out of memory");
  for (int k = 0; k < g->nnodes; k++)
    for (int j = 0; j < g->nodes[k]->nin; j++)
      if (g->nodes[k]->in[j]) users[g->nodes[k]->in[j]->id] = g->nodes[k];
  int n = 0, nnodes = g->nnodes;
  for (int k = 0; k < nnodes; k++) {
    Node *sm = g->nodes[k];
    Match m;
    Value *y;
    if (!sm->dead && match_at(g, users, sm, &m, &y)) {
      rewrite(g, &m, y, sm->name);
      n++;
    }
  }
  free(users);
  if (!n && !nsplit) return 0;
  ir_graph_compact(g);
  return ir_graph_toposort(g);
}
