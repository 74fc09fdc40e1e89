/* fuse.c — operator fusion for inference.
 *
 * 1. BatchNormalization (inference form, one output) after a Conv with constant weights is folded
 *    into new constant weights and bias:  W' = W·s,  B' = (B - mean)·s + beta,  s = scale/√(var+ε).
 * 2. An Add of a same-shaped tensor (a residual; for Gemm/MatMul also a row of N values, a bias)
 *    and then unary activations (Relu, Clip, LeakyRelu, Sigmoid, HardSwish, Gelu, ...) after a
 *    Conv/Gemm/MatMul become that node's epilogue (Node.epi, see ir.h): the backend applies them
 *    to the output tile while it is in registers instead of sweeping the tensor again.
 *
 * A value is fused away only if its one user is the fused node and it is not a graph output;
 * the fused node takes over the last node's output value.  Float types only. */
#include <math.h>
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
static bool is_contraction(Op op) { return op == OP_Conv || op == OP_Gemm || op == OP_MatMul; }

static bool fusable_act(const Node *n) {
  switch (n->op) {
  case OP_Relu: case OP_LeakyRelu: case OP_Sigmoid: case OP_HardSigmoid: case OP_HardSwish:
  case OP_Tanh: case OP_Gelu: case OP_Elu: case OP_Softplus: case OP_Mish: return true;
  case OP_Clip: /* bounds: absent or constant scalars */
    for (int i = 1; i < n->nin; i++)
      if (n->in[i] && (!is_const(n->in[i]) || ir_value_numel(n->in[i]) != 1)) return false;
    return true;
  default: return false;
  }
}

/* the contraction whose output x is, if its work may be extended past x */
static Node *fusable_producer(const Graph *g, const Value *x) {
  Node *p = x->producer;
  if (!p || p->dead || !is_contraction(p->op) || p->out[0] != x || !single_use(g, x)) return NULL;
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
  if (p->op == OP_Conv || r->rank > y->rank || r->rank < 1 || y->rank < 1) return false;
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
  int nfused = 0;
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
