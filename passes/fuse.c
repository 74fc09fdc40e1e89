/* fuse.c — operator fusion for inference.
 *
 * 1. BatchNormalization (inference form, one output) after a Conv with constant weights is folded
 *    into new constant weights and bias:  W' = W·s,  B' = (B - mean)·s + beta,  s = scale/√(var+ε).
 * 2. An Add of a same-shaped tensor (a residual; for Gemm/MatMul also a row of N values, a bias)
 *    and then unary activations (Relu, Clip, LeakyRelu, Sigmoid, HardSwish, Gelu, ...) after a
 *    Conv/Gemm/MatMul become that node's epilogue (Node.epi, see ir.h): the backend applies them
 *    to the output tile while it is in registers instead of sweeping the tensor again.  Which ops
 *    take an epilogue (FU_EPI, FU_ROW) and which activations fit (FU_ACT) is ops.def's fuse column.
 *
 * 0. LayerNormalization and Gelu written out in primitive ops (torch's export) become one op again.
 *
 * A value is fused away only if its one user is the fused node and it is not a graph output;
 * the fused node takes over the last node's output value.  Float types only. */
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

/* v is read only by one node (the one about to absorb its producer's work) */
static bool single_use(const Graph *g, const Value *v) { return v->nusers == 1 && !is_graph_output(g, v); }

static bool fusable_float(DType t) { return t == DT_FLOAT || t == DT_DOUBLE; }

/* the node n (its output y) now ends inside p */
static void take_output(Graph *g, Node *p, Node *n) {
  Value *y = n->out[0];
  ir_node_remove(g, n);
  p->out[0]->producer = NULL; /* the intermediate value is gone */
  p->out[0] = y;
  y->producer = p;
}

/* ---- 0. LayerNormalization and Gelu, decomposed as torch exports them, back into one op ---- */
static bool const_scalar(const Value *v, double want, double rtol) {
  return is_const(v) && ir_value_numel(v) == 1 && fabs(ir_const_f64(v, 0) - want) <= rtol * fabs(want);
}

/* the other operand of binary n besides v (NULL if v is not an operand) */
static Value *other(const Node *n, const Value *v) {
  return n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : NULL;
}

/* v's one user (users: the last user of each value), if it is an `op` */
static Node *only_user(const Graph *g, Node **users, const Value *v, Op op) {
  if (!v || !single_use(g, v)) return NULL;
  Node *u = users[v->id];
  return u && !u->dead && u->op == op && u->nout == 1 ? u : NULL;
}

static bool last_axis_mean(const Node *n, int rank) {
  if (n->op != OP_ReduceMean || !ir_attr_int(n, "keepdims", 1)) return false;
  const int64_t *ax;
  int na = ir_attr_ints(n, "axes", &ax);
  int64_t a;
  if (na == 1) a = ax[0];
  else if (na < 0 && n->nin > 1 && is_const(n->in[1]) && ir_value_numel(n->in[1]) == 1) a = ir_const_i64(n->in[1], 0);
  else return false;
  return a == -1 || a == rank - 1;
}

/* a row of D values (LayerNormalization's Scale / B) */
static bool is_row(const Value *v, int64_t D, DType t) { return v && v->rank == 1 && v->dims[0] == D && v->dtype == t; }

/* replaces nodes dead[0..n) by r, which takes over the output y */
static void replace(Graph *g, Node **dead, int n, Node *r, Value *y) {
  for (int i = 0; i < n; i++) ir_node_remove(g, dead[i]);
  r->out[0] = y;
  y->producer = r;
}

/* Sub(x, ReduceMean(x)) = d;  d / Sqrt(ReduceMean(Pow(d, 2)) + eps) * gamma + beta  (last axis);
 * matched from the Pow */
static bool fuse_layernorm(Graph *g, Node **users, Node *pw) {
  if (pw->op != OP_Pow || !const_scalar(pw->in[1], 2.0, 0)) return false;
  Value *d = pw->in[0];
  Node *sub = d->producer;
  if (!sub || sub->op != OP_Sub || d->nusers != 2 || is_graph_output(g, d)) return false;
  Value *x = sub->in[0], *m = sub->in[1];
  Node *rm = m->producer;
  if (!rm || rm->in[0] != x || !single_use(g, m) || !fusable_float(x->dtype) || x->rank < 1 ||
      !last_axis_mean(rm, x->rank) || !ir_same_shape(d, x))
    return false;
  Node *rv = only_user(g, users, pw->out[0], OP_ReduceMean);
  if (!rv || !last_axis_mean(rv, x->rank)) return false;
  Node *ae = only_user(g, users, rv->out[0], OP_Add);
  Value *eps = ae ? other(ae, rv->out[0]) : NULL;
  if (!eps || !is_const(eps) || ir_value_numel(eps) != 1) return false;
  Node *sq = only_user(g, users, ae->out[0], OP_Sqrt);
  Node *dv = sq ? only_user(g, users, sq->out[0], OP_Div) : NULL;
  if (!dv || dv->in[0] != d || dv->in[1] != sq->out[0]) return false;
  int64_t D = x->dims[x->rank - 1];
  Node *mu = only_user(g, users, dv->out[0], OP_Mul);
  Value *gamma = mu ? other(mu, dv->out[0]) : NULL;
  Node *ad = is_row(gamma, D, x->dtype) ? only_user(g, users, mu->out[0], OP_Add) : NULL;
  Value *beta = ad ? other(ad, mu->out[0]) : NULL;
  if (!is_row(beta, D, x->dtype) || !ir_same_shape(ad->out[0], x)) return false;
  Node *ln = ir_node_new(g, OP_LayerNormalization, arena_printf(g->arena, "%s.layernorm", rm->name), 3, 1);
  ln->in[0] = x, ln->in[1] = gamma, ln->in[2] = beta;
  ln->nattr = 2;
  ln->attrs = arena_alloc(g->arena, sizeof(Attr) * 2);
  ln->attrs[0] = (Attr){.name = "axis", .type = AT_INT, .i = -1};
  ln->attrs[1] = (Attr){.name = "epsilon", .type = AT_FLOAT, .f = (float)ir_const_f64(eps, 0)};
  Node *dead[] = {rm, sub, pw, rv, ae, sq, dv, mu, ad};
  replace(g, dead, 9, ln, ad->out[0]);
  return true;
}

/* x · (Erf(x / √2) + 1) · 0.5, matched from the Erf */
static bool fuse_gelu(Graph *g, Node **users, Node *e) {
  if (e->op != OP_Erf) return false;
  Node *dv = e->in[0]->producer;
  if (!dv || !single_use(g, e->in[0])) return false;
  Value *x = NULL;
  if (dv->op == OP_Div && const_scalar(dv->in[1], sqrt(2.0), 1e-6)) x = dv->in[0];
  else if (dv->op == OP_Mul && const_scalar(dv->in[1], sqrt(0.5), 1e-6)) x = dv->in[0];
  else if (dv->op == OP_Mul && const_scalar(dv->in[0], sqrt(0.5), 1e-6)) x = dv->in[1];
  if (!x || !fusable_float(x->dtype) || !ir_same_shape(e->out[0], x)) return false;
  Node *a1 = only_user(g, users, e->out[0], OP_Add);
  if (!a1 || !const_scalar(other(a1, e->out[0]), 1.0, 0)) return false;
  Node *m1 = only_user(g, users, a1->out[0], OP_Mul);
  if (!m1 || other(m1, a1->out[0]) != x) return false;
  Node *m2 = only_user(g, users, m1->out[0], OP_Mul);
  if (!m2 || !const_scalar(other(m2, m1->out[0]), 0.5, 0) || !ir_same_shape(m2->out[0], x)) return false;
  Node *ge = ir_node_new(g, OP_Gelu, arena_printf(g->arena, "%s.gelu", e->name), 1, 1);
  ge->in[0] = x;
  Node *dead[] = {dv, e, a1, m1, m2};
  replace(g, dead, 5, ge, m2->out[0]);
  return true;
}

static int fuse_patterns(Graph *g) {
  Node **users = calloc((size_t)g->nvalues + 1, sizeof(Node *));
  if (!users) return ir_error(g, "out of memory");
  for (int k = 0; k < g->nnodes; k++)
    for (int j = 0; j < g->nodes[k]->nin; j++)
      if (g->nodes[k]->in[j]) users[g->nodes[k]->in[j]->id] = g->nodes[k];
  int n = 0, nnodes = g->nnodes; /* nodes added here are not matched again */
  for (int k = 0; k < nnodes; k++) {
    Node *nd = g->nodes[k];
    if (!nd->dead && (fuse_layernorm(g, users, nd) || fuse_gelu(g, users, nd))) n++;
  }
  free(users);
  return n;
}

/* ---- 1. BatchNormalization into Conv ---- */
static bool bn_foldable(const Graph *g, const Node *bn, Node **conv) {
  if (bn->op != OP_BatchNormalization || bn->dead || ir_attr_int(bn, "training_mode", 0)) return false;
  for (int i = 1; i < bn->nout; i++)
    if (bn->out[i]) return false;
  for (int i = 1; i < 5; i++)
    if (!is_const(bn->in[i]) || bn->in[i]->rank != 1) return false;
  Value *x = bn->in[0];
  Node *p = x->producer;
  if (!p || p->dead || p->op != OP_Conv || p->epi || p->out[0] != x || !single_use(g, x)) return false;
  if (!fusable_float(x->dtype) || !is_const(p->in[1]) || (p->nin > 2 && p->in[2] && !is_const(p->in[2])))
    return false;
  int64_t O = p->in[1]->dims[0];
  for (int i = 1; i < 5; i++)
    if (bn->in[i]->dims[0] != O || bn->in[i]->dtype != x->dtype) return false;
  *conv = p;
  return true;
}

static void bn_fold(Graph *g, Node *bn, Node *conv) {
  Value *w = conv->in[1], *b = conv->nin > 2 ? conv->in[2] : NULL;
  Value *sc = bn->in[1], *bi = bn->in[2], *mean = bn->in[3], *var = bn->in[4];
  double eps = ir_attr_float(bn, "epsilon", 1e-5f);
  int64_t O = w->dims[0], per = ir_value_numel(w) / (O ? O : 1);
  Value *nw = ir_const_new(g, arena_printf(g->arena, "%s.bnfold", w->name), w->dtype, w->rank, w->dims);
  Value *nb = ir_const_new(g, arena_printf(g->arena, "%s.bnfold_bias", conv->name), w->dtype, 1, &O);
  for (int64_t o = 0; o < O; o++) {
    double s = ir_const_f64(sc, o) / sqrt(ir_const_f64(var, o) + eps);
    for (int64_t j = 0; j < per; j++) ir_store_f64(w->dtype, nw->data, o * per + j, ir_const_f64(w, o * per + j) * s);
    double b0 = b ? ir_const_f64(b, o) : 0.0;
    ir_store_f64(w->dtype, nb->data, o, (b0 - ir_const_f64(mean, o)) * s + ir_const_f64(bi, o));
  }
  if (conv->nin < 3) { /* room for the bias input */
    Value **in = arena_alloc(g->arena, sizeof(Value *) * 3);
    memcpy(in, conv->in, sizeof(Value *) * (size_t)conv->nin);
    conv->in = in;
    conv->nin = 3;
  }
  conv->in[1] = nw;
  conv->in[2] = nb;
  take_output(g, conv, bn);
}

/* ---- 2. epilogues ---- */
/* which ops take an epilogue and which activations fit in one: ops.def's fuse column */
static bool takes_epilogue(Op op) { return ir_ops[op].fuse & FU_EPI; }

static bool fusable_act(const Node *n) {
  if (!(ir_ops[n->op].fuse & FU_ACT)) return false;
  for (int i = 1; i < n->nin; i++) /* parameters (Clip's bounds): absent or constant scalars */
    if (n->in[i] && (!is_const(n->in[i]) || ir_value_numel(n->in[i]) != 1)) return false;
  return true;
}

/* the epilogue-taking op (a contraction) whose output x is, if its work may be extended past x */
static Node *fusable_producer(const Graph *g, const Value *x) {
  Node *p = x->producer;
  if (!p || p->dead || !takes_epilogue(p->op) || p->out[0] != x || !single_use(g, x)) return NULL;
  if (!fusable_float(x->dtype) || !ir_value_shape_known(x)) return NULL;
  return p;
}

static Epilogue *epi_of(Graph *g, Node *p) {
  if (!p->epi) p->epi = arena_alloc(g->arena, sizeof(Epilogue));
  return p->epi;
}

static bool fuse_act(Graph *g, Node *n) {
  if (!fusable_act(n) || n->in[0]->dtype != n->out[0]->dtype) return false;
  Node *p = fusable_producer(g, n->in[0]);
  if (!p || (p->epi && p->epi->nact == 4)) return false;
  Epilogue *e = epi_of(g, p);
  e->act[e->nact++] = n;
  take_output(g, p, n);
  return true;
}

/* r may be added to p's output y in the epilogue: same shape, or a broadcast row for Gemm/MatMul */
static bool res_ok(const Node *p, const Value *y, const Value *r) {
  if (r->dtype != y->dtype || !ir_value_shape_known(r)) return false;
  if (ir_same_shape(r, y)) return true;
  if (!(ir_ops[p->op].fuse & FU_ROW) || r->rank > y->rank || r->rank < 1 || y->rank < 1) return false;
  for (int d = 0; d < r->rank - 1; d++)
    if (r->dims[d] != 1) return false;
  return r->dims[r->rank - 1] == y->dims[y->rank - 1];
}

static bool fuse_add(Graph *g, Node *n) {
  if (n->op != OP_Add || !n->in[0] || !n->in[1] || n->in[0] == n->in[1]) return false;
  for (int k = 0; k < 2; k++) {
    Value *x = n->in[k], *r = n->in[1 - k];
    Node *p = fusable_producer(g, x);
    if (!p || p->epi || !ir_same_shape(n->out[0], x) || !res_ok(p, x, r)) continue;
    int slot = ir_ops[p->op].max_in;
    Value **in = arena_alloc(g->arena, sizeof(Value *) * (size_t)(slot + 1));
    memcpy(in, p->in, sizeof(Value *) * (size_t)p->nin);
    in[slot] = r;
    p->in = in;
    p->nin = slot + 1;
    epi_of(g, p)->res = r;
    take_output(g, p, n);
    return true;
  }
  return false;
}

int pass_fuse(Graph *g) {
  ir_graph_count_users(g);
  int nfused = fuse_patterns(g);
  if (nfused < 0) return -1;
  if (nfused) {
    ir_graph_compact(g);
    if (ir_graph_toposort(g)) return -1;
    ir_graph_count_users(g);
  }
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k], *conv;
    if (n->dead) continue;
    if (bn_foldable(g, n, &conv)) bn_fold(g, n, conv), nfused++;
    else if (fuse_add(g, n) || fuse_act(g, n)) nfused++;
  }
  if (!nfused) return 0;
  ir_graph_compact(g);
  return ir_graph_toposort(g); /* a residual may be computed after the node that now reads it */
}
