/* fuse.c — operator fusion for inference.
 *
 * 1. BatchNormalization (inference form, one output) after a Conv/ConvTranspose with constant
 *    weights is folded into new constant weights and bias:  W' = W·s,  B' = (B - mean)·s + beta,
 *    s = scale/√(var+ε); so is an Add/Sub/Mul/Div by a per-channel or scalar constant.
 * 2. An Add of a same-shaped tensor (a residual; for Gemm/MatMul also a row of N values, a bias)
 *    and then unary activations (Relu, Clip, LeakyRelu, Sigmoid, HardSwish, Gelu, ...) or
 *    arithmetic with a constant scalar after a Conv/ConvTranspose/Gemm/MatMul become that node's
 *    epilogue (Node.epi, see ir.h): the backend applies them to the output tile while it is in
 *    registers instead of sweeping the tensor again.  Which ops take an epilogue (FU_EPI, FU_ROW)
 *    and which activations fit (FU_ACT) is ops.def's fuse column.  A BatchNormalization that could
 *    not fold takes the activations after it the same way (no residual).
 * 3. A ConvTranspose with kernel = stride becomes a 1×1 Conv + DepthToSpace (see convt_rewrite).
 * 4. An AveragePool without padding after a 1×1 Conv runs before it (see pool_first).
 *
 * 0. LayerNormalization, Gelu (erf and tanh forms), SiLU (→ Swish) and HardSwish written out in
 *    primitive ops (torch's, PaddlePaddle's exports) become one op again.
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

/* v = c · w (either order) with c a constant scalar near `want`: w, else NULL */
static Value *times_const(const Value *v, double want, double rtol) {
  Node *m = v ? v->producer : NULL;
  if (!m || m->dead || m->op != OP_Mul) return NULL;
  if (const_scalar(m->in[1], want, rtol)) return m->in[0];
  return const_scalar(m->in[0], want, rtol) ? m->in[1] : NULL;
}

/* v = x³ as Pow(x, 3) or (x · x) · x: x, else NULL */
static Value *cube_of(const Value *v) {
  Node *p = v->producer;
  if (!p || p->dead) return NULL;
  if (p->op == OP_Pow && const_scalar(p->in[1], 3.0, 0)) return p->in[0];
  if (p->op != OP_Mul) return NULL;
  for (int k = 0; k < 2; k++) {
    Node *sq = p->in[k]->producer;
    if (sq && !sq->dead && sq->op == OP_Mul && sq->in[0] == sq->in[1] && sq->in[0] == p->in[1 - k]) return sq->in[0];
  }
  return NULL;
}

/* GELU's tanh form  0.5·x·(1 + Tanh(√(2/π)·(x + 0.044715·x³)))  as torch and HF export it, in
 * the orders (0.5·x)·(1+t), (x·(1+t))·0.5 and x·(0.5·(1+t)); matched from the Tanh.  The nodes
 * between x and the Tanh must have no other user (x itself has several). */
static bool fuse_gelu_tanh(Graph *g, Node **users, Node *t) {
  if (t->op != OP_Tanh || !single_use(g, t->in[0])) return false;
  Node *mu = t->in[0]->producer;
  Value *r = times_const(t->in[0], 0.7978845608028654, 1e-5);
  Node *ad = r ? r->producer : NULL;
  if (!ad || ad->dead || ad->op != OP_Add || !single_use(g, r)) return false;
  Value *x = NULL, *q = NULL;
  for (int k = 0; k < 2 && !x; k++) {
    Value *c = times_const(ad->in[k], 0.044715, 1e-4);
    if (c && single_use(g, ad->in[k]) && single_use(g, c) && cube_of(c) == ad->in[1 - k]) x = ad->in[1 - k], q = ad->in[k];
  }
  if (!x || !fusable_float(x->dtype) || !ir_same_shape(t->out[0], x)) return false;
  Node *qm = q->producer, *pw = times_const(q, 0.044715, 1e-4)->producer, *sq = NULL;
  if (pw->op == OP_Mul) { /* (x·x)·x: the x·x node goes too */
    sq = (pw->in[0] == x ? pw->in[1] : pw->in[0])->producer;
    if (!single_use(g, sq->out[0])) return false;
  }
  Node *a1 = only_user(g, users, t->out[0], OP_Add);
  if (!a1 || !const_scalar(other(a1, t->out[0]), 1.0, 0)) return false;
  Node *m1 = only_user(g, users, a1->out[0], OP_Mul), *m2 = NULL, *h = NULL;
  if (!m1) return false;
  Value *o = other(m1, a1->out[0]);
  if (o == x) { /* (x·(1+t))·0.5 */
    m2 = only_user(g, users, m1->out[0], OP_Mul);
    if (!m2 || !const_scalar(other(m2, m1->out[0]), 0.5, 0)) return false;
  } else if (const_scalar(o, 0.5, 0)) { /* x·(0.5·(1+t)) */
    m2 = only_user(g, users, m1->out[0], OP_Mul);
    if (!m2 || other(m2, m1->out[0]) != x) return false;
  } else if (times_const(o, 0.5, 0) == x && single_use(g, o)) { /* (0.5·x)·(1+t) */
    h = o->producer;
  } else return false;
  Node *last = m2 ? m2 : m1;
  if (!ir_same_shape(last->out[0], x)) return false;
  Node *ge = ir_node_new(g, OP_Gelu, arena_printf(g->arena, "%s.gelu", t->name), 1, 1);
  ge->in[0] = x;
  ge->nattr = 1;
  ge->attrs = arena_alloc(g->arena, sizeof(Attr));
  ge->attrs[0] = (Attr){.name = "approximate", .type = AT_STRING, .s = "tanh"};
  Node *dead[10] = {pw, qm, ad, mu, t, a1, m1};
  int nd = 7;
  if (sq) dead[nd++] = sq;
  dead[nd++] = m2 ? m2 : h;
  replace(g, dead, nd, ge, last->out[0]);
  return true;
}

/* x · Sigmoid(x) (SiLU) or x · Sigmoid(alpha·x), matched from the Sigmoid: one Swish node, which
 * then fits in a producer's epilogue like any activation (EfficientNet, YOLO) */
static bool fuse_swish(Graph *g, Node **users, Node *sg) {
  if (sg->op != OP_Sigmoid) return false;
  Value *x = sg->in[0];
  Node *am = x->producer, *dead[3];
  double alpha = 1.0;
  int nd = 0;
  if (am && !am->dead && am->op == OP_Mul && single_use(g, x)) { /* Sigmoid(alpha·x) */
    int k = is_const(am->in[0]) ? 0 : 1;
    if (is_const(am->in[k]) && ir_value_numel(am->in[k]) == 1 && ir_same_shape(am->in[1 - k], x)) {
      alpha = ir_const_f64(am->in[k], 0);
      x = am->in[1 - k];
      dead[nd++] = am;
    }
  }
  Node *m = only_user(g, users, sg->out[0], OP_Mul);
  if (!m || other(m, sg->out[0]) != x || !fusable_float(x->dtype) || !ir_same_shape(m->out[0], x)) return false;
  Node *sw = ir_node_new(g, OP_Swish, arena_printf(g->arena, "%s.swish", sg->name), 1, 1);
  sw->in[0] = x;
  if (alpha != 1.0) {
    sw->nattr = 1;
    sw->attrs = arena_alloc(g->arena, sizeof(Attr));
    sw->attrs[0] = (Attr){.name = "alpha", .type = AT_FLOAT, .f = (float)alpha};
  }
  dead[nd++] = sg;
  dead[nd++] = m;
  replace(g, dead, nd, sw, m->out[0]);
  return true;
}

/* Clip's bounds lo, hi (inputs, or attributes before opset 11) */
static bool clip_bounds(const Node *c, double lo, double hi) {
  if (c->nin >= 3 && c->in[1] && c->in[2]) return const_scalar(c->in[1], lo, 0) && const_scalar(c->in[2], hi, 0);
  const Attr *a = ir_attr(c, "min"), *b = ir_attr(c, "max");
  return c->nin == 1 && a && b && a->f == (float)lo && b->f == (float)hi;
}

/* a Mul by 1/6 or a Div by 6 after v (the last step of HardSwish written out) */
static Node *sixth_of(const Graph *g, Node **users, const Value *v) {
  Node *d = only_user(g, users, v, OP_Div);
  if (d && d->in[0] == v && const_scalar(d->in[1], 6.0, 0)) return d;
  Node *m = only_user(g, users, v, OP_Mul);
  return m && const_scalar(other(m, v), 1.0 / 6.0, 1e-6) ? m : NULL;
}

/* x · Clip(x + 3, 0, 6) / 6 (PaddlePaddle's, torch's older exports) or x · HardSigmoid(x) with
 * alpha 1/6, beta 0.5: one HardSwish, matched from the Clip / HardSigmoid */
static bool fuse_hardswish(Graph *g, Node **users, Node *c) {
  Node *dead[4];
  int nd = 0;
  Value *x;
  if (c->op == OP_Clip && clip_bounds(c, 0, 6)) {
    Node *a = c->in[0]->producer;
    if (!a || a->dead || a->op != OP_Add || !single_use(g, c->in[0])) return false;
    x = const_scalar(a->in[1], 3.0, 0) ? a->in[0] : const_scalar(a->in[0], 3.0, 0) ? a->in[1] : NULL;
    dead[nd++] = a;
  } else if (c->op == OP_HardSigmoid && fabs(ir_attr_float(c, "alpha", 0.2f) - 1.0 / 6.0) < 1e-6 &&
             ir_attr_float(c, "beta", 0.5f) == 0.5f) {
    x = c->in[0];
  } else return false;
  if (!x || !fusable_float(x->dtype) || !ir_same_shape(c->out[0], x)) return false;
  dead[nd++] = c;
  Node *m = only_user(g, users, c->out[0], OP_Mul);
  if (!m || other(m, c->out[0]) != x || !ir_same_shape(m->out[0], x)) return false;
  dead[nd++] = m;
  if (c->op == OP_Clip) {
    Node *d = sixth_of(g, users, m->out[0]);
    if (!d || !ir_same_shape(d->out[0], x)) return false;
    dead[nd++] = d;
  }
  Node *last = dead[nd - 1];
  Node *hs = ir_node_new(g, OP_HardSwish, arena_printf(g->arena, "%s.hardswish", c->name), 1, 1);
  hs->in[0] = x;
  replace(g, dead, nd, hs, last->out[0]);
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
    if (!nd->dead && (fuse_layernorm(g, users, nd) || fuse_gelu(g, users, nd) || fuse_swish(g, users, nd) || fuse_gelu_tanh(g, users, nd) ||
                      fuse_hardswish(g, users, nd)))
      n++;
  }
  free(users);
  return n;
}

/* ---- 1. BatchNormalization (and a per-channel scale and shift) into Conv / ConvTranspose ---- */
/* the output channel weight element j of p (Conv: O×Cg×k…, ConvTranspose: C×Og×k…) feeds */
static int64_t w_outch(const Node *p, const Value *w, int64_t j) {
  int64_t per = 1;
  for (int d = 2; d < w->rank; d++) per *= w->dims[d];
  if (p->op == OP_Conv) return j / (per * w->dims[1]);
  int64_t G = ir_attr_int(p, "group", 1), Og = w->dims[1], Cg = w->dims[0] / (G > 0 ? G : 1);
  return (j / (per * Og)) / (Cg ? Cg : 1) * Og + (j / per) % Og;
}

/* output channels of p (from its output) */
static int64_t out_channels(const Node *p) { return p->out[0]->dims[1]; }

static bool folds_into_weights(const Node *p) {
  if (p->op == OP_Conv) return true;
  return p->op == OP_ConvTranspose && p->in[1]->rank >= 3 && ir_attr_int(p, "group", 1) >= 1 &&
         p->in[1]->dims[0] % ir_attr_int(p, "group", 1) == 0;
}
static bool bn_foldable(const Graph *g, const Node *bn, Node **conv) {
  if (bn->op != OP_BatchNormalization || bn->dead || ir_attr_int(bn, "training_mode", 0)) return false;
  for (int i = 1; i < bn->nout; i++)
    if (bn->out[i]) return false;
  for (int i = 1; i < 5; i++)
    if (!is_const(bn->in[i]) || bn->in[i]->rank != 1) return false;
  Value *x = bn->in[0];
  Node *p = x->producer;
  if (!p || p->dead || !folds_into_weights(p) || p->epi || p->out[0] != x || !single_use(g, x)) return false;
  if (!fusable_float(x->dtype) || !is_const(p->in[1]) || (p->nin > 2 && p->in[2] && !is_const(p->in[2])))
    return false;
  if (!ir_value_shape_known(x) || x->rank < 2) return false;
  int64_t O = out_channels(p);
  for (int i = 1; i < 5; i++)
    if (bn->in[i]->dims[0] != O || bn->in[i]->dtype != x->dtype) return false;
  *conv = p;
  return true;
}

/* conv's weights and bias become W·scale[o], B·scale[o] + shift[o] (new constants: the old ones
 * may be shared); the caller removes the folded node */
static void fold_scale_shift(Graph *g, Node *conv, const double *scale, const double *shift, const char *tag) {
  Value *w = conv->in[1], *b = conv->nin > 2 ? conv->in[2] : NULL;
  int64_t O = out_channels(conv), nw_n = ir_value_numel(w);
  Value *nw = ir_const_new_filled(g, arena_printf(g->arena, "%s.%s", w->name, tag), w->dtype, w->rank, w->dims);
  Value *nb = ir_const_new_filled(g, arena_printf(g->arena, "%s.%s_bias", conv->name, tag), w->dtype, 1, &O);
  for (int64_t j = 0; j < nw_n; j++)
    ir_store_f64(w->dtype, nw->data, j, ir_const_f64(w, j) * scale[w_outch(conv, w, j)]);
  for (int64_t o = 0; o < O; o++)
    ir_store_f64(w->dtype, nb->data, o, (b ? ir_const_f64(b, o) : 0.0) * scale[o] + shift[o]);
  if (conv->nin < 3) { /* room for the bias input */
    Value **in = arena_alloc(g->arena, sizeof(Value *) * 3);
    memcpy(in, conv->in, sizeof(Value *) * (size_t)conv->nin);
    conv->in = in;
    conv->nin = 3;
  }
  conv->in[1] = nw;
  conv->in[2] = nb;
}

static int bn_fold(Graph *g, Node *bn, Node *conv) {
  Value *sc = bn->in[1], *bi = bn->in[2], *mean = bn->in[3], *var = bn->in[4];
  double eps = ir_attr_float(bn, "epsilon", 1e-5f);
  int64_t O = out_channels(conv);
  double *scale = malloc(sizeof(double) * (size_t)(2 * O + 1)), *shift = scale + O;
  if (!scale) return ir_error(g, "out of memory");
  for (int64_t o = 0; o < O; o++) {
    scale[o] = ir_const_f64(sc, o) / sqrt(ir_const_f64(var, o) + eps);
    shift[o] = ir_const_f64(bi, o) - ir_const_f64(mean, o) * scale[o];
  }
  fold_scale_shift(g, conv, scale, shift, "bnfold");
  free(scale);
  take_output(g, conv, bn);
  return 1;
}

/* c (constant) holds one value per channel of y (axis 1) or a single value: its value for channel
 * o is c[o · *step] */
static bool per_channel(const Value *c, const Value *y, int64_t *step) {
  if (!is_const(c) || c->dtype != y->dtype || c->rank > y->rank) return false;
  int64_t n = ir_value_numel(c);
  if (n == 1) return *step = 0, true;
  for (int d = 0; d < c->rank; d++) {
    int yd = d + y->rank - c->rank;
    if (c->dims[d] != (yd == 1 ? y->dims[1] : 1)) return false;
  }
  *step = 1;
  return y->rank >= 2 && n == y->dims[1];
}

static bool nonzero(const Value *c) {
  for (int64_t i = 0, n = ir_value_numel(c); i < n; i++)
    if (ir_const_f64(c, i) == 0.0) return false;
  return true;
}

/* Mul/Add/Sub/Div of a conv's output by a per-channel constant (an export's scale and shift, a
 * bias written as an Add): folded into the conv's constant weights and bias */
static int fold_affine(Graph *g, Node *n) {
  if ((n->op != OP_Add && n->op != OP_Mul && n->op != OP_Sub && n->op != OP_Div) || !n->in[0] || !n->in[1])
    return 0;
  for (int k = 0; k < 2; k++) {
    Value *x = n->in[k], *cv = n->in[1 - k];
    Node *p = x->producer;
    int64_t step;
    if (!p || p->dead || !folds_into_weights(p) || p->epi || p->out[0] != x || !single_use(g, x)) continue;
    if (!fusable_float(x->dtype) || !ir_value_shape_known(x) || !is_const(p->in[1]) ||
        (p->nin > 2 && p->in[2] && !is_const(p->in[2])) || p->in[1]->dtype != x->dtype)
      continue;
    if (!per_channel(cv, x, &step) || !ir_same_shape(n->out[0], x)) continue;
    if ((n->op == OP_Sub || n->op == OP_Div) && k != 0) continue; /* c - x, c / x: not affine in x */
    if (n->op == OP_Div && !nonzero(cv)) continue; /* x / 0 keeps its infinities unfolded */
    int64_t O = out_channels(p);
    double *scale = malloc(sizeof(double) * (size_t)(2 * O + 1)), *shift = scale + O;
    if (!scale) return ir_error(g, "out of memory");
    for (int64_t o = 0; o < O; o++) {
      double c = ir_const_f64(cv, o * step);
      scale[o] = n->op == OP_Mul ? c : n->op == OP_Div ? 1.0 / c : 1.0;
      shift[o] = n->op == OP_Add ? c : n->op == OP_Sub ? -c : 0.0;
    }
    fold_scale_shift(g, p, scale, shift, "affine");
    free(scale);
    take_output(g, p, n);
    return 1;
  }
  return 0;
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

/* an inference BatchNormalization (one output) whose output x only an activation reads: the
 * activation runs in the BN kernel's epilogue (DenseNet's BN → ReLU after each Concat, where the
 * BN cannot fold into a Conv), saving a sweep over the tensor; no residual */
static Node *bn_act_producer(const Graph *g, const Value *x) {
  Node *p = x->producer;
  if (!p || p->dead || p->op != OP_BatchNormalization || p->out[0] != x || !single_use(g, x)) return NULL;
  for (int i = 1; i < p->nout; i++)
    if (p->out[i]) return NULL;
  if (ir_attr_int(p, "training_mode", 0) || !fusable_float(x->dtype) || !ir_value_shape_known(x)) return NULL;
  return p;
}

static Epilogue *epi_of(Graph *g, Node *p) {
  if (!p->epi) p->epi = arena_alloc(g->arena, sizeof(Epilogue));
  return p->epi;
}

/* Add/Sub/Mul/Div of the running value by a constant scalar (after an activation, where it cannot
 * fold into the weights): its input carrying the value, else NULL */
static Value *scalar_act_input(const Node *n) {
  if ((n->op != OP_Add && n->op != OP_Mul && n->op != OP_Sub && n->op != OP_Div) || !n->in[0] || !n->in[1])
    return NULL;
  for (int k = 0; k < 2; k++) {
    const Value *c = n->in[1 - k];
    if (is_const(c) && !is_const(n->in[k]) && ir_value_numel(c) == 1 && fusable_float(c->dtype) &&
        c->dtype == n->out[0]->dtype && ir_same_shape(n->in[k], n->out[0]))
      return n->in[k];
  }
  return NULL;
}

static bool fuse_act(Graph *g, Node *n) {
  Value *x = scalar_act_input(n);
  if (!x && !fusable_act(n)) return false;
  if (!x) x = n->in[0];
  if (x->dtype != n->out[0]->dtype) return false;
  Node *p = fusable_producer(g, x);
  if (!p) p = bn_act_producer(g, x);
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

/* ---- 3. ConvTranspose with kernel = stride (no overlap, no padding): a 1×1 Conv to Og·s·s
 * channels, then DepthToSpace (CRD) — Y[o, h·s+i, w·s+j] = Σ_c X[c, h, w] W[c, o, i, j] — so the
 * work runs on the GEMM engine instead of the direct kernel that visits every (output, tap) pair
 * and discards the taps off the stride.  Its epilogue's activations run before the DepthToSpace
 * (they are elementwise); a fused residual keeps the node as it is. ---- */
static bool convt_plain(const Node *p) {
  const Value *x = p->in[0], *w = p->in[1], *y = p->out[0];
  if (p->op != OP_ConvTranspose || p->dead || (p->epi && p->epi->res) || !is_const(w) || x->rank != 4 ||
      w->rank != 4 || !ir_value_shape_known(x) || !ir_value_shape_known(y) || !fusable_float(x->dtype) ||
      w->dtype != x->dtype || ir_attr_int(p, "group", 1) != 1 || (p->nin > 2 && p->in[2] && !is_const(p->in[2])))
    return false;
  int64_t s = w->dims[2];
  if (s < 2 || w->dims[3] != s || w->dims[0] != x->dims[1]) return false;
  const char *ap = ir_attr_str(p, "auto_pad", "NOTSET");
  if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID")) return false;
  const int64_t *v;
  int nv = ir_attr_ints(p, "strides", &v);
  if (nv != 2 || v[0] != s || v[1] != s) return false;
  nv = ir_attr_ints(p, "dilations", &v);
  if (nv >= 0 && (nv != 2 || v[0] != 1 || v[1] != 1)) return false;
  const char *zero_lists[] = {"pads", "output_padding"};
  for (int l = 0; l < 2; l++) {
    nv = ir_attr_ints(p, zero_lists[l], &v);
    for (int i = 0; i < nv; i++)
      if (v[i]) return false;
  }
  return y->dims[0] == x->dims[0] && y->dims[1] == w->dims[1] && y->dims[2] == x->dims[2] * s &&
         y->dims[3] == x->dims[3] * s;
}

static void convt_rewrite(Graph *g, Node *p) {
  Value *x = p->in[0], *w = p->in[1], *b = p->nin > 2 ? p->in[2] : NULL, *y = p->out[0];
  int64_t C = w->dims[0], Og = w->dims[1], s = w->dims[2], M = Og * s * s;
  int64_t wd[4] = {M, C, 1, 1}, zd[4] = {x->dims[0], M, x->dims[2], x->dims[3]};
  Value *nw = ir_const_new_filled(g, arena_printf(g->arena, "%s.as_conv", w->name), w->dtype, 4, wd);
  for (int64_t c = 0; c < C; c++) /* W'[o·s·s + i·s + j, c] = W[c, o, i, j] */
    for (int64_t m = 0; m < M; m++) ir_store_f64(w->dtype, nw->data, m * C + c, ir_const_f64(w, c * M + m));
  Value *nb = NULL;
  if (b) {
    nb = ir_const_new_filled(g, arena_printf(g->arena, "%s.as_conv", b->name), b->dtype, 1, &M);
    for (int64_t m = 0; m < M; m++) ir_store_f64(b->dtype, nb->data, m, ir_const_f64(b, m / (s * s)));
  }
  Value *z = ir_value_new(g, arena_printf(g->arena, "%s.phases", p->name));
  z->kind = VK_TEMP;
  z->dtype = y->dtype;
  ir_value_set_shape(z, 4, zd);
  Node *cv = ir_node_new(g, OP_Conv, arena_printf(g->arena, "%s.conv", p->name), b ? 3 : 2, 1);
  cv->in[0] = x, cv->in[1] = nw;
  if (b) cv->in[2] = nb;
  cv->out[0] = z;
  z->producer = cv;
  cv->epi = p->epi;
  Node *ds = ir_node_new(g, OP_DepthToSpace, arena_printf(g->arena, "%s.d2s", p->name), 1, 1);
  ds->in[0] = z;
  ds->nattr = 2;
  ds->attrs = arena_alloc(g->arena, sizeof(Attr) * 2);
  ds->attrs[0] = (Attr){.name = "blocksize", .type = AT_INT, .i = s};
  ds->attrs[1] = (Attr){.name = "mode", .type = AT_STRING, .s = "CRD"};
  ir_node_remove(g, p);
  ds->out[0] = y;
  y->producer = ds;
}

static int convt_rewrite_all(Graph *g) {
  int n = 0, nnodes = g->nnodes;
  for (int k = 0; k < nnodes; k++)
    if (convt_plain(g->nodes[k])) convt_rewrite(g, g->nodes[k]), n++;
  return n;
}

/* ---- 4. AveragePool (no padding) after a 1×1 Conv (DenseNet's transitions, through the zero
 * Pad torch exports before the pool): the pool runs first, the Conv on its k·k times fewer pixels.
 * Both are linear per pixel and a window has no padding, so the pool of W·x + b is W·pool(x) + b
 * (only the order of the sums changes). ---- */
/* every entry of the ints attribute `name` is `x` (true when it is absent) */
static bool ints_all(const Node *n, const char *name, int64_t x) {
  const int64_t *v;
  int nv = ir_attr_ints(n, name, &v);
  for (int i = 0; i < nv; i++)
    if (v[i] != x) return false;
  return true;
}

static bool pad_is_nothing(const Graph *g, const Node *p) {
  if (p->op != OP_Pad || p->dead || !single_use(g, p->in[0]) || p->nout != 1) return false;
  if (p->nin < 2 || !p->in[1]) return ints_all(p, "pads", 0);
  const Value *pads = p->in[1];
  if (!is_const(pads) || ir_value_numel(pads) < 0) return false;
  for (int64_t i = 0; i < ir_value_numel(pads); i++)
    if (ir_const_i64(pads, i)) return false;
  return true;
}

static bool conv_1x1_plain(const Graph *g, const Node *c) {
  if (!c || c->op != OP_Conv || c->dead || c->epi || c->nout != 1 || !single_use(g, c->out[0])) return false;
  const Value *x = c->in[0], *w = c->in[1];
  if (!w || w->rank != 4 || w->dims[2] != 1 || w->dims[3] != 1 || x->rank != 4 || !ir_value_shape_known(x) ||
      !fusable_float(x->dtype) || (c->nin > 2 && c->in[2] && !is_const(c->in[2])))
    return false;
  const char *ap = ir_attr_str(c, "auto_pad", "NOTSET");
  return (!strcmp(ap, "NOTSET") || !strcmp(ap, "VALID")) && ints_all(c, "strides", 1) && ints_all(c, "dilations", 1) &&
         ints_all(c, "pads", 0);
}

static bool pool_first(Graph *g, Node *ap) {
  if (ap->op != OP_AveragePool || ap->dead || ap->nout != 1 || ir_attr_int(ap, "ceil_mode", 0) ||
      !ints_all(ap, "pads", 0) || !ints_all(ap, "dilations", 1) ||
      strcmp(ir_attr_str(ap, "auto_pad", "NOTSET"), "NOTSET") || ap->in[0]->rank != 4)
    return false;
  Node *pad = ap->in[0]->producer, *c = pad;
  if (pad && pad->op == OP_Pad) {
    if (!pad_is_nothing(g, pad) || !single_use(g, ap->in[0])) return false;
    c = pad->in[0]->producer;
  } else pad = NULL;
  if (!conv_1x1_plain(g, c) || (pad && pad->in[0] != c->out[0]) || (!pad && ap->in[0] != c->out[0])) return false;
  Value *x = c->in[0], *y = ap->out[0];
  int64_t qd[4] = {x->dims[0], x->dims[1], y->dims[2], y->dims[3]};
  Value *q = ir_value_new(g, arena_printf(g->arena, "%s.pooled_input", c->name ? c->name : "conv"));
  q->kind = VK_TEMP;
  q->dtype = x->dtype;
  ir_value_set_shape(q, 4, qd);
  if (pad) ir_node_remove(g, pad), pad->out[0]->producer = NULL;
  c->out[0]->producer = NULL; /* the full-size Conv output is gone */
  ap->in[0] = x;
  ap->out[0] = q;
  q->producer = ap;
  c->in[0] = q;
  c->out[0] = y;
  y->producer = c;
  return true;
}

int pass_fuse(Graph *g) {
  ir_graph_count_users(g);
  int nfused = fuse_patterns(g);
  if (nfused < 0) return -1;
  for (int k = 0, nnodes = g->nnodes; k < nnodes; k++) nfused += pool_first(g, g->nodes[k]);
  if (nfused) {
    ir_graph_compact(g);
    if (ir_graph_toposort(g)) return -1;
    ir_graph_count_users(g);
  }
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k], *conv;
    if (n->dead) continue;
    int r = bn_foldable(g, n, &conv) ? bn_fold(g, n, conv) : fold_affine(g, n);
    if (r < 0) return -1;
    if (r || fuse_add(g, n) || fuse_act(g, n)) nfused++;
  }
  int nt = convt_rewrite_all(g);
  if (nt < 0) return -1;
  nfused += nt;
  if (!nfused) return 0;
  ir_graph_compact(g);
  return ir_graph_toposort(g); /* a residual may be computed after the node that now reads it */
}
