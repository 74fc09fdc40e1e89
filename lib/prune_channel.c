/* prune_channel.c — channel pruning: whole output channels of a Conv removed, and everything
 * that reads those channels shrunk to match, so the model stays dense and gets smaller.
 *
 * From a Conv's output the channels are followed through the ops that keep channel c in channel
 * c (activations, BatchNormalization, elementwise ops with a per-channel or scalar constant or
 * with another value of the same region, pooling, depthwise Convs, a Flatten after global
 * pooling) to the layers that consume them over their reduction (a Conv's input channels, a
 * Gemm's K).  That set is the Conv's region.  If any value of it meets something else (a residual
 * Add of another branch, a Concat, a Reshape, a graph output, a subgraph), the channels cannot be
 * removed alone and the Conv is left alone, with the reason in the report.
 *
 * A removed channel is taken to be the channel with its filter zeroed: its output is then its
 * bias, a constant that the ops of the region carry to the consumers, whose bias absorbs it
 * (exact except where a consumer's padding or an average pool's border sees zeros instead). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "prune.h"

typedef struct Region {
  PruneLayer *layer;
  Node *prod;
  int64_t c;          /* channels */
  Value **vals;       /* values carrying the channels on axis 1; vals[0] = the Conv's output */
  int nv;
  Node **nodes;       /* channel-wise nodes inside, then (ncons) the consumers */
  int nn, ncons;
  Node **cons;
  int *rank;          /* value id -> rank of a value of the region (the Conv's; 2 after a Flatten) */
  const char *blocked;
  float *score;       /* per channel */
  bool *keep;
  int64_t kept;
} Region;

typedef struct Ctx {
  Graph *g;
  int *ustart, *users; /* value id -> the nodes reading it: users[ustart[id] .. ustart[id + 1]) */
  bool *escapes;       /* value id -> captured by a subgraph */
  int *mark;           /* value id -> region stamp */
  int stamp;
  int nv0;             /* values when indexed (pruning adds constants after) */
} Ctx;

/* v is a value of the region being applied (constants added since are not) */
static bool in_region(const Ctx *x, const Value *v) { return v->id < x->nv0 && x->mark[v->id] == x->stamp; }

static void users_index(Ctx *x) {
  Graph *g = x->g;
  x->nv0 = g->nvalues;
  x->ustart = ir_xcalloc((size_t)g->nvalues + 2, sizeof(int));
  int total = 0;
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++)
      if (g->nodes[i]->in[j]) x->ustart[g->nodes[i]->in[j]->id + 1]++, total++;
  for (int i = 0; i < g->nvalues; i++) x->ustart[i + 1] += x->ustart[i];
  x->users = ir_xmalloc(sizeof(int) * (size_t)(total + 1));
  int *fill = ir_xcalloc((size_t)g->nvalues + 1, sizeof(int));
  for (int i = 0; i < g->nnodes; i++)
    for (int j = 0; j < g->nodes[i]->nin; j++) {
      Value *v = g->nodes[i]->in[j];
      if (v && (j == 0 || g->nodes[i]->in[j - 1] != v)) /* a node reading v twice in a row is listed once */
        x->users[x->ustart[v->id] + fill[v->id]++] = i;
    }
  /* the ranges keep their full size: unused slots repeat nothing, so mark their end */
  for (int i = 0; i < g->nvalues; i++)
    for (int k = x->ustart[i] + fill[i]; k < x->ustart[i + 1]; k++) x->users[k] = -1;
  free(fill);
}

static void mark_captures(Ctx *x, const Graph *sub) {
  for (int i = 0; i < sub->nvalues; i++) {
    const Value *v = sub->values[i];
    while (v && v->kind == VK_OUTER) v = v->outer;
    if (v && v->id < x->g->nvalues && x->g->values[v->id] == v) x->escapes[v->id] = true;
  }
  for (int i = 0; i < sub->nnodes; i++)
    for (int a = 0; a < sub->nodes[i]->nattr; a++) {
      const Attr *at = &sub->nodes[i]->attrs[a];
      if (at->type == AT_GRAPH) mark_captures(x, at->g);
      for (int k = 0; at->type == AT_GRAPHS && k < at->n; k++) mark_captures(x, at->graphs[k]);
    }
}

static bool is_const_f32(const Value *v) { return v && v->kind == VK_CONST && v->data && v->dtype == DT_FLOAT; }

/* ops whose output channel c depends on input channel c only, evaluated on constants by the IR's
 * folding (unary ops with constant parameters, and the elementwise binary ops) */
static bool unary_channelwise(Op op) {
  switch (op) {
  case OP_Relu: case OP_LeakyRelu: case OP_Sigmoid: case OP_Tanh: case OP_Clip: case OP_HardSigmoid:
  case OP_HardSwish: case OP_Identity: case OP_Elu: case OP_Selu: case OP_Softplus: case OP_Neg:
  case OP_Abs: case OP_Exp: case OP_Erf: case OP_Dropout:
    return true;
  default:
    return false;
  }
}
static bool binary_channelwise(Op op) { return op == OP_Add || op == OP_Sub || op == OP_Mul || op == OP_Div; }
static bool pool_channelwise(Op op) {
  return op == OP_MaxPool || op == OP_AveragePool || op == OP_GlobalAveragePool || op == OP_GlobalMaxPool;
}

/* a constant that broadcasts per channel (or as a scalar) against a value of rank r with c
 * channels on axis 1: its axis holding the channels, -1 for a scalar, -2 if it does not */
static int channel_axis(const Value *k, int r, int64_t c) {
  if (ir_value_numel(k) == 1) return -1;
  int ax = 1 - (r - k->rank);
  if (r < 2 || k->rank > r || ax < 0 || k->dims[ax] != c) return -2;
  for (int d = 0; d < k->rank; d++)
    if (d != ax && k->dims[d] != 1) return -2;
  return ax;
}

static int64_t attr_group(const Node *n) { return ir_attr_int(n, "group", 1); }

/* is node n (reading region value v as input idx) a consumer, a channel-wise node, or neither
 * (*why then says what stops it) */
enum { NOT, CONSUMER, INSIDE };
static int classify(const Region *r, const Node *n, int idx, const char **why) {
  Value *w = n->nin > 1 ? n->in[1] : NULL;
  if (n->op == OP_Conv && idx == 0 && is_const_f32(w) && w->rank >= 3 && (n->nin < 3 || !n->in[2] || is_const_f32(n->in[2]))) {
    if (attr_group(n) == 1 && w->dims[1] == r->c) return CONSUMER;
    if (attr_group(n) == r->c && w->dims[0] == r->c && w->dims[1] == 1) return INSIDE; /* depthwise */
  }
  if (n->op == OP_Gemm && idx == 0 && is_const_f32(w) && w->rank == 2 && !ir_attr_int(n, "transA", 0) &&
      ir_attr_float(n, "beta", 1) != 0 && (n->nin < 3 || !n->in[2] || is_const_f32(n->in[2])))
    return CONSUMER;
  if ((unary_channelwise(n->op) || pool_channelwise(n->op)) && idx == 0 && (n->nout == 1 || !n->out[1])) {
    for (int i = 1; i < n->nin; i++)
      if (n->in[i] && n->in[i]->kind != VK_CONST) return *why = "a non-constant parameter", NOT;
    return INSIDE;
  }
  if (binary_channelwise(n->op) && n->nin == 2) return INSIDE; /* the other input is checked later */
  if (n->op == OP_BatchNormalization && idx == 0 && (n->nout == 1 || (!n->out[1] && !n->out[2]))) {
    for (int i = 1; i < 5; i++)
      if (!is_const_f32(n->in[i]) || ir_value_numel(n->in[i]) != r->c) return *why = "non-constant statistics", NOT;
    return INSIDE;
  }
  if (n->op == OP_Flatten && ir_attr_int(n, "axis", 1) == 1) return INSIDE; /* spatial size checked later */
  *why = NULL;
  return NOT;
}

static void push_node(Region *r, Node *n, int cap) {
  for (int i = 0; i < r->nn; i++)
    if (r->nodes[i] == n) return;
  if (r->nn < cap) r->nodes[r->nn++] = n;
}

static const char *block(Graph *g, Region *r, const Node *n, const char *what) {
  char lab[IR_NAME_MSG + 64];
  ir_node_label(n, lab, sizeof lab);
  return r->blocked = arena_printf(g->arena, "its channels reach %s%s%s", lab, what ? ": " : "", what ? what : "");
}

/* follows the Conv's channels: fills r->vals, r->nodes (consumers last) or r->blocked */
static void follow(Ctx *x, Region *r) {
  Graph *g = x->g;
  int cap = g->nnodes + 1;
  r->vals = ir_xmalloc(sizeof(Value *) * (size_t)(g->nvalues + 1));
  r->nodes = ir_xmalloc(sizeof(Node *) * (size_t)cap);
  Node **cons = ir_xmalloc(sizeof(Node *) * (size_t)cap);
  int ncons = 0;
  int *rank = r->rank = ir_xcalloc((size_t)g->nvalues + 1, sizeof(int));
  bool *flat_ok = ir_xcalloc((size_t)g->nvalues + 1, sizeof(bool)); /* spatial size 1 (after global pooling) */
  x->stamp++;
  r->vals[r->nv++] = r->prod->out[0];
  x->mark[r->prod->out[0]->id] = x->stamp;
  rank[r->prod->out[0]->id] = r->prod->in[1]->rank;
  for (int q = 0; q < r->nv && !r->blocked; q++) {
    Value *v = r->vals[q];
    if (v->is_output) {
      r->blocked = arena_printf(g->arena, "its channels reach the graph output '%s'", IR_NM(v->name));
      break;
    }
    if (x->escapes[v->id]) {
      r->blocked = arena_printf(g->arena, "its channels are read inside a subgraph ('%s')", IR_NM(v->name));
      break;
    }
    for (int u = x->ustart[v->id]; u < x->ustart[v->id + 1] && x->users[u] >= 0 && !r->blocked; u++) {
      Node *n = g->nodes[x->users[u]];
      if (n->dead) continue;
      int idx = 0;
      while (n->in[idx] != v) idx++;
      const char *why = NULL;
      int kind = classify(r, n, idx, &why);
      if (kind == NOT) {
        block(g, r, n, why);
        break;
      }
      if (kind == CONSUMER) {
        bool dup = false;
        for (int i = 0; i < ncons && !dup; i++) dup = cons[i] == n;
        if (!dup) cons[ncons++] = n;
        if (n == r->prod) block(g, r, n, "the Conv reads its own channels");
        continue;
      }
      if (n->op == OP_Flatten && !flat_ok[v->id]) {
        bool one = v->rank == rank[v->id];
        for (int d = 2; d < v->rank && one; d++) one = v->dims[d] == 1;
        if (!one) {
          block(g, r, n, "a Flatten of spatial size other than 1");
          break;
        }
      }
      push_node(r, n, cap);
      Value *o = n->out[0];
      if (o && x->mark[o->id] != x->stamp) {
        x->mark[o->id] = x->stamp;
        rank[o->id] = n->op == OP_Flatten ? 2 : rank[v->id];
        flat_ok[o->id] = n->op == OP_GlobalAveragePool || n->op == OP_GlobalMaxPool ||
                         (flat_ok[v->id] && n->op != OP_Flatten);
        r->vals[r->nv++] = o;
      }
    }
  }
  /* every input of a node inside is in the region or a constant of per-channel shape */
  for (int i = 0; i < r->nn && !r->blocked; i++) {
    Node *n = r->nodes[i];
    for (int j = 0; j < n->nin && !r->blocked; j++) {
      Value *v = n->in[j];
      if (!v || in_region(x, v)) continue;
      if (!binary_channelwise(n->op)) continue; /* parameters: checked by classify */
      if (v->kind != VK_CONST || !is_const_f32(v))
        block(g, r, n, arena_printf(g->arena, "it meets '%s'", IR_NM(v->name)));
      else if (channel_axis(v, rank[n->in[1 - j]->id], r->c) == -2)
        block(g, r, n, "a constant that is not per channel");
    }
  }
  /* consumers' weights (and the producer's) belong to them alone: they are sliced in place */
  for (int i = 0; i < ncons && !r->blocked; i++) {
    Value *w = cons[i]->in[1];
    int64_t kdim = cons[i]->op == OP_Gemm && !ir_attr_int(cons[i], "transB", 0) ? w->dims[0] : w->dims[1];
    if (cons[i]->op == OP_Gemm && kdim != r->c) block(g, r, cons[i], "its K is not the channel count");
    else if (x->ustart[w->id + 1] - x->ustart[w->id] > 1 && x->users[x->ustart[w->id] + 1] >= 0)
      block(g, r, cons[i], "its weight is shared");
  }
  for (int i = 0; i < ncons; i++) r->nodes[r->nn + i] = cons[i];
  r->ncons = ncons;
  r->cons = r->nodes + r->nn;
  /* sort the nodes inside into graph order (the constants flow in that order) */
  for (int i = 1; i < r->nn; i++)
    for (int j = i; j > 0 && r->nodes[j - 1]->id > r->nodes[j]->id; j--) {
      Node *t = r->nodes[j];
      r->nodes[j] = r->nodes[j - 1], r->nodes[j - 1] = t;
    }
  free(cons);
  free(flat_ok);
}

/* ---- scores and the channels kept ---- */

static void scores(Region *r) {
  const Value *w = r->prod->in[1];
  int64_t per = ir_value_numel(w) / r->c;
  const float *d = w->data;
  r->score = ir_xmalloc(sizeof(float) * (size_t)r->c);
  const Node *bn = r->nn && r->nodes[0]->op == OP_BatchNormalization && r->nodes[0]->in[0] == r->vals[0] ? r->nodes[0] : NULL;
  for (int64_t c = 0; c < r->c; c++) {
    double e = prune_energy(d + c * per, per);
    if (bn) { /* the channel's weight as BatchNormalization scales it */
      const float *sc = bn->in[1]->data, *var = bn->in[4]->data;
      double f = sc[c] / sqrt((double)var[c] + ir_attr_float(bn, "epsilon", 1e-5f));
      e *= f * f;
    }
    r->score[c] = (float)e;
  }
}

/* keeps the `kept` best channels (ties: the first) */
static void keep_best(Region *r, int64_t kept) {
  r->keep = ir_xcalloc((size_t)r->c, sizeof(bool));
  float *tmp = ir_xmalloc(sizeof(float) * (size_t)r->c);
  for (int64_t c = 0; c < r->c; c++) tmp[c] = -r->score[c];
  float t = prune_select(tmp, r->c, kept - 1); /* the kept-th largest score, negated */
  int64_t above = 0;
  for (int64_t c = 0; c < r->c; c++) above += -r->score[c] < t;
  int64_t ties = kept - above;
  for (int64_t c = 0; c < r->c; c++) r->keep[c] = -r->score[c] < t || (-r->score[c] == t && ties-- > 0);
  r->kept = kept;
  free(tmp);
}

static int64_t round_kept(int64_t kept, int64_t c, int mult) {
  if (mult > 1) kept = llround((double)kept / mult) * mult;
  if (kept < (mult > 1 ? mult : 1)) kept = mult > 1 ? mult : 1;
  return kept > c ? c : kept;
}

static void choose(Region *rs, int nr, const onnxc_prune_spec *sp) {
  if (sp->per_layer) {
    for (int i = 0; i < nr; i++)
      keep_best(&rs[i], round_kept(rs[i].c - llround(sp->sparsity * (double)rs[i].c), rs[i].c, sp->channel_multiple));
    return;
  }
  /* one threshold over the channels of every layer, each score relative to its layer's mean */
  int64_t total = 0;
  for (int i = 0; i < nr; i++) total += rs[i].c;
  float *all = ir_xmalloc(sizeof(float) * (size_t)(total + 1)), *rel = ir_xmalloc(sizeof(float) * (size_t)(total + 1));
  int64_t at = 0;
  for (int i = 0; i < nr; i++) {
    double mean = 0;
    for (int64_t c = 0; c < rs[i].c; c++) mean += rs[i].score[c];
    mean = mean > 0 ? mean / (double)rs[i].c : 1;
    for (int64_t c = 0; c < rs[i].c; c++) all[at] = rel[at] = (float)(rs[i].score[c] / mean), at++;
  }
  int64_t r = llround(sp->sparsity * (double)total);
  float t = r > 0 ? prune_select(all, total, r - 1) : -1;
  at = 0;
  int64_t below = 0;
  for (int64_t i = 0; i < total; i++) below += rel[i] < t;
  int64_t ties = r - below;
  for (int i = 0; i < nr; i++) {
    int64_t gone = 0;
    for (int64_t c = 0; c < rs[i].c; c++, at++) gone += rel[at] < t || (rel[at] == t && r > 0 && ties-- > 0);
    keep_best(&rs[i], round_kept(rs[i].c - gone, rs[i].c, sp->channel_multiple));
  }
  free(all);
  free(rel);
}

/* ---- applying ---- */

/* v's data with only the kept entries along axis ax (v changed in place: no other node reads it) */
static void slice_const(Graph *g, Value *v, int ax, const bool *keep, int64_t kept) {
  int64_t outer = 1, inner = 1, c = v->dims[ax];
  for (int d = 0; d < ax; d++) outer *= v->dims[d];
  for (int d = ax + 1; d < v->rank; d++) inner *= v->dims[d];
  size_t es = dtype_size(v->dtype);
  char *src = v->data, *dst = arena_alloc(g->arena, (size_t)(outer * kept * inner) * es + 1), *p = dst;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < c; i++)
      if (keep[i]) {
        memcpy(p, src + ((size_t)(o * c + i) * (size_t)inner) * es, (size_t)inner * es);
        p += (size_t)inner * es;
      }
  v->data = dst;
  v->dims[ax] = kept;
}

/* one node reads v (a constant pruning added is its node's alone), no subgraph captures it and it
 * is no graph output */
static bool only_user(const Ctx *x, const Value *v) {
  if (v->is_output || (v->id < x->nv0 && x->escapes[v->id])) return false;
  return v->id >= x->nv0 || x->ustart[v->id] + 1 >= x->ustart[v->id + 1] || x->users[x->ustart[v->id] + 1] < 0;
}

/* node n's input i, sliced on axis ax; a constant other nodes read too is copied first */
static void slice_input(Ctx *x, Node *n, int i, int ax, const bool *keep, int64_t kept) {
  Value *v = n->in[i];
  if (!only_user(x, v)) {
    Value *c = ir_const_new(x->g, arena_printf(x->g->arena, "%s_pruned_%d", v->name, n->id), v->dtype, v->rank, v->dims);
    memcpy(c->data, v->data, (size_t)ir_value_numel(v) * dtype_size(v->dtype));
    n->in[i] = v = c;
  }
  slice_const(x->g, v, ax, keep, kept);
}

/* the removed channels' constant value after node n, from its inputs' (k: value id -> per channel) */
static void eval_const(Ctx *x, Region *r, Node *n, double **k) {
  int64_t c = r->c;
  double *out = ir_xcalloc((size_t)c, sizeof(double));
  double *in0 = k[n->in[0]->id] ? k[n->in[0]->id] : out; /* (all zeros) */
  if (n->op == OP_BatchNormalization) {
    const float *sc = n->in[1]->data, *b = n->in[2]->data, *mean = n->in[3]->data, *var = n->in[4]->data;
    double eps = ir_attr_float(n, "epsilon", 1e-5f);
    for (int64_t j = 0; j < c; j++) out[j] = (in0[j] - mean[j]) / sqrt(var[j] + eps) * sc[j] + b[j];
  } else if (n->op == OP_Conv) { /* depthwise: the kernel's sum times the constant, plus the bias */
    const float *w = n->in[1]->data, *b = n->nin > 2 && n->in[2] ? n->in[2]->data : NULL;
    int64_t per = ir_value_numel(n->in[1]) / c;
    for (int64_t j = 0; j < c; j++) {
      double s = 0;
      for (int64_t e = 0; e < per; e++) s += w[j * per + e];
      out[j] = in0[j] * s + (b ? b[j] : 0);
    }
  } else if (pool_channelwise(n->op) || n->op == OP_Flatten) {
    memcpy(out, in0, sizeof(double) * (size_t)c);
  } else { /* unary and binary ops: the IR's folding on [1, C, 1, ...] constants */
    Graph *sg = ir_graph_new();
    sg->opset = x->g->opset;
    Node *sn = ir_node_new(sg, n->op, n->name, n->nin, 1);
    sn->domain = n->domain, sn->nattr = n->nattr, sn->attrs = n->attrs;
    for (int i = 0; i < n->nin; i++) {
      Value *v = n->in[i];
      if (!v || !in_region(x, v)) {
        sn->in[i] = v;
        continue;
      }
      int64_t dims[IR_MAX_RANK];
      int rank = r->rank[v->id];
      for (int d = 0; d < rank; d++) dims[d] = d == 1 ? c : 1;
      Value *cv = sn->in[i] = ir_const_new(sg, NULL, DT_FLOAT, rank, dims);
      for (int64_t j = 0; j < c && k[v->id]; j++) ((float *)cv->data)[j] = (float)k[v->id][j];
    }
    sn->out[0] = ir_value_new(sg, NULL);
    if (!ir_infer_node(sg, sn) && ir_eval_node(sg, sn) == 1 && sn->out[0]->dtype == DT_FLOAT &&
        ir_value_numel(sn->out[0]) == c)
      for (int64_t j = 0; j < c; j++) out[j] = ((float *)sn->out[0]->data)[j];
    ir_graph_free(sg); /* not folded (an unusual op): the removed channels count as 0 */
  }
  k[n->out[0]->id] = out;
}

/* the consumer's bias absorbs the removed channels' constants k; then its K shrinks */
static void shrink_consumer(Ctx *x, Region *r, Node *n, const double *k) {
  Graph *g = x->g;
  Value *w = n->in[1];
  bool gemm = n->op == OP_Gemm, tb = gemm && ir_attr_int(n, "transB", 0);
  int64_t o = gemm ? w->dims[tb ? 0 : 1] : w->dims[0];
  int64_t per = gemm ? 1 : ir_value_numel(w) / (o * r->c); /* kernel positions */
  double *add = ir_xcalloc((size_t)o, sizeof(double));
  const float *wd = w->data;
  bool any = false;
  for (int64_t j = 0; j < r->c; j++) {
    if (r->keep[j] || k[j] == 0) continue;
    any = true;
    for (int64_t q = 0; q < o; q++) {
      double s = 0;
      for (int64_t e = 0; e < per; e++)
        s += gemm ? wd[tb ? q * r->c + j : j * o + q] : wd[(q * r->c + j) * per + e];
      add[q] += s * k[j];
    }
  }
  if (any) {
    double scale = gemm ? ir_attr_float(n, "alpha", 1) / ir_attr_float(n, "beta", 1) : 1;
    Value *b = n->nin > 2 ? n->in[2] : NULL;
    int64_t bn = b ? ir_value_numel(b) : 0;
    if (!b || bn == o || bn == 1) {
      float *d = arena_alloc(g->arena, sizeof(float) * (size_t)o);
      for (int64_t q = 0; q < o; q++) d[q] = (float)((b ? ((float *)b->data)[bn == o ? q : 0] : 0) + scale * add[q]);
      if (b && bn == o && only_user(x, b)) b->data = d; /* the bias changes in place */
      else {
        if (n->nin < 3) {
          Value **in = arena_alloc(g->arena, 3 * sizeof *in);
          memcpy(in, n->in, sizeof *in * (size_t)n->nin);
          n->in = in, n->nin = 3;
        }
        n->in[2] = ir_const_new(g, arena_printf(g->arena, "%s_bias_pruned", n->name), DT_FLOAT, 1, &o);
        memcpy(n->in[2]->data, d, sizeof(float) * (size_t)o);
      }
    }
  }
  free(add);
  slice_input(x, n, 1, gemm && !tb ? 0 : 1, r->keep, r->kept);
}

static void set_group(Node *n, int64_t group) {
  for (int a = 0; a < n->nattr; a++)
    if (!strcmp(n->attrs[a].name, "group")) n->attrs[a].i = group;
}

static void apply(Ctx *x, Region *r) {
  Graph *g = x->g;
  double **k = ir_xcalloc((size_t)g->nvalues + 1, sizeof(double *));
  double *k0 = ir_xcalloc((size_t)r->c, sizeof(double));
  Node *p = r->prod;
  if (p->nin > 2 && p->in[2])
    for (int64_t j = 0; j < r->c; j++) k0[j] = ((float *)p->in[2]->data)[j];
  k[r->vals[0]->id] = k0;
  for (int i = 0; i < r->nn; i++) eval_const(x, r, r->nodes[i], k);
  for (int i = 0; i < r->ncons; i++) shrink_consumer(x, r, r->cons[i], k[r->cons[i]->in[0]->id] ? k[r->cons[i]->in[0]->id] : k0);
  /* then every channel-wise parameter, the producer and the values shrink */
  for (int i = 0; i < r->nn; i++) {
    Node *n = r->nodes[i];
    if (n->op == OP_BatchNormalization)
      for (int j = 1; j < 5; j++) slice_input(x, n, j, 0, r->keep, r->kept);
    if (n->op == OP_Conv) {
      slice_input(x, n, 1, 0, r->keep, r->kept);
      if (n->nin > 2 && n->in[2]) slice_input(x, n, 2, 0, r->keep, r->kept);
      set_group(n, r->kept);
    }
    if (binary_channelwise(n->op))
      for (int j = 0; j < 2; j++) {
        Value *v = n->in[j];
        int ax = in_region(x, v) ? -2 : channel_axis(v, r->rank[n->in[1 - j]->id], r->c);
        if (ax >= 0) slice_input(x, n, j, ax, r->keep, r->kept);
      }
  }
  slice_input(x, p, 1, 0, r->keep, r->kept);
  if (p->nin > 2 && p->in[2]) slice_input(x, p, 2, 0, r->keep, r->kept);
  for (int i = 0; i < r->nv; i++)
    if (r->vals[i]->rank >= 2) r->vals[i]->dims[1] = r->kept;
  for (int i = 0; i < g->nvalues; i++) free(k[i]);
  free(k);
}

/* ---- the entry point ---- */

int prune_channels(Graph *g, PruneLayer *ls, int nl, const onnxc_prune_spec *sp) {
  Ctx x = {.g = g};
  users_index(&x);
  x.escapes = ir_xcalloc((size_t)g->nvalues + 1, sizeof(bool));
  x.mark = ir_xcalloc((size_t)g->nvalues + 1, sizeof(int));
  for (int i = 0; i < g->nnodes; i++)
    for (int a = 0; a < g->nodes[i]->nattr; a++) {
      const Attr *at = &g->nodes[i]->attrs[a];
      if (at->type == AT_GRAPH) mark_captures(&x, at->g);
      for (int k = 0; at->type == AT_GRAPHS && k < at->n; k++) mark_captures(&x, at->graphs[k]);
    }
  Region *rs = ir_xcalloc((size_t)nl + 1, sizeof *rs);
  int nr = 0;
  for (int i = 0; i < nl; i++) {
    PruneLayer *l = &ls[i];
    Node *n = l->node;
    if (l->skipped) continue;
    if (n->op != OP_Conv || attr_group(n) != 1) {
      l->skipped = n->op == OP_Conv ? "channel: a grouped Conv (its channels follow its input's)"
                                    : "channel: only a Conv's output channels are removed";
      continue;
    }
    Region *r = &rs[nr];
    *r = (Region){.layer = l, .prod = n, .c = l->w->dims[0]};
    int wu = x.ustart[l->w->id + 1] - x.ustart[l->w->id];
    if (n->nin > 2 && n->in[2] && !is_const_f32(n->in[2])) r->blocked = "its bias is not a constant";
    else if (wu > 1 && x.users[x.ustart[l->w->id] + 1] >= 0) r->blocked = "its weight is shared";
    else follow(&x, r);
    r->layer->ch_before = r->c;
    if (r->blocked) {
      l->skipped = r->blocked;
      free(r->vals), free(r->nodes), free(r->rank);
      *r = (Region){0};
      continue;
    }
    scores(r);
    nr++;
  }
  choose(rs, nr, sp);
  for (int i = 0; i < nr; i++) {
    Region *r = &rs[i];
    /* re-stamp the region's values: apply tells region values from constants by the mark */
    x.stamp++;
    for (int v = 0; v < r->nv; v++) x.mark[r->vals[v]->id] = x.stamp;
    double kept_e = 0;
    for (int64_t c = 0; c < r->c; c++) kept_e += r->keep[c] ? r->score[c] : 0;
    double all_e = 0;
    for (int64_t c = 0; c < r->c; c++) all_e += r->score[c];
    apply(&x, r);
    r->layer->pruned = r->kept < r->c;
    if (!r->layer->pruned) r->layer->skipped = "channel: no channel below the threshold";
    r->layer->ch_after = r->kept;
    r->layer->kept_energy = all_e > 0 ? kept_e / all_e : 1;
    free(r->vals), free(r->nodes), free(r->rank), free(r->score), free(r->keep);
  }
  /* a consumer's weight changed shape too: layers point at their node's current weight */
  for (int i = 0; i < nl; i++) ls[i].w = ls[i].node->in[1];
  free(rs), free(x.ustart), free(x.users), free(x.escapes), free(x.mark);
  return 0;
}
