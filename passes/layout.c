/* layout.c — chooses where activations run pixel-major (NHWC) instead of NCHW, by a cost model.
 *
 * Region kind: depthwise Conv + 1×1 Conv + elementwise chains (MobileNet/EfficientNet blocks).
 * In NCHW the backend vectorizes a depthwise conv along output rows and a 1×1 conv's GEMM along
 * pixels, so short rows (7, 14, 28) and pixel counts like 49 or 196 leave lanes idle; pixel-major
 * they vectorize over channels (multiples of 16 in these networks).  A node chosen pixel-major is
 * rewritten on values of shape [N·H·W, C] (plain row-major over those dims, so every other
 * generator indexes them as it always does):
 *   1×1 Conv (group 1, stride 1, no pads)  -> Gemm(X', W viewed as [O, C], bias, transB=1): the
 *                                             GEMM engine's packed-weight path; epilogue kept
 *   depthwise Conv (group = C = O)         -> the same Conv marked Node.nhwc, its geometry in the
 *                                             attribute "nhwc" {N, H, W, OH, OW} (gen_conv_nhwc.c)
 *   elementwise (same-shape operands,      -> the same node on the [N·H·W, C] values
 *     scalar constants; with N = 1 also a
 *     [1, C, 1, 1] operand: an SE scale)       (that operand as [1, C], broadcast over the rows)
 *   GlobalAveragePool (N = 1)              -> ReduceMean(axes [0], keepdims) over the rows: [1, C]
 * and a value crossing between the two forms gets one reorder (Transpose 0,2,3,1 + a Reshape view,
 * or a Reshape view + Transpose 0,3,1,2) at the region boundary, only the view for an [N, C, 1, 1]
 * value (the same memory either way: squeeze-and-excitation blocks do not end a region); weights
 * are reused as they are
 * (the Gemm packs its B at compile time, the depthwise kernel packs [kh·kw][C]).
 *
 * The choice: each candidate node costs MACs / (L · lane use) vector operations in either form
 * (lane use: the vectorized dim's length over its padded length, L = 16), plus the NCHW depthwise
 * kernel's padded copy of its input; a reorder costs TR_COST operations per element.  Labels start
 * at each node's cheaper form (and, a second start, pixel-major everywhere); single nodes and
 * connected same-label groups are flipped while that lowers the total; the cheaper result wins.
 * A pixel-major group must hold a depthwise and a 1×1 conv (need_depthwise), else it goes back to NCHW.
 * `--layout nchw` (= --disable-pass layout) keeps everything NCHW.
 *
 * Every value stays VL_PLAIN; generator_accepts() still checks that no generator is handed a
 * layout it does not index (the hook for blocked layouts).  Runs after fuse (epilogues are
 * attached, so a fused residual is an operand like any other) and before plan. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

#define TR_COST 0.4 /* vector operations per element of a reorder (16×16 register transposes) */
#define LANES 16
#define SEARCH_MAX 2000 /* candidates the label search takes on */

/* Whether the generator of n handles the layouts of its inputs and outputs: all plain, today. */
static bool generator_accepts(const Node *n) {
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && n->in[i]->layout != VL_PLAIN) return false;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && n->out[i]->layout != VL_PLAIN) return false;
  return true;
}

typedef enum Kind { K_NONE, K_PW, K_DW, K_EW, K_GAP } Kind;

typedef struct Lay {
  Graph *g;
  int nn, nv;
  Kind *kind;
  double (*cost)[2]; /* per node: NCHW, pixel-major */
  int *prod;         /* per value: producing node index, -1 none */
  int **users;       /* per value: consumer node indices (data operands of candidates, any operand else) */
  int *nusers;
  bool *data;        /* per value: an activation that may change form (4-D float, static) */
} Lay;

static bool is_const(const Value *v) { return v && v->kind == VK_CONST && v->data; }
static bool act4(const Value *v) {
  return v && v->dtype == DT_FLOAT && v->rank == 4 && ir_value_shape_known(v) && !is_const(v) && v->kind != VK_OUTER;
}
static double use(int64_t n) { return n <= 0 ? 1 : (double)n / (double)(((n + LANES - 1) / LANES) * LANES); }

static bool conv_common(const Node *n) {
  if (n->op != OP_Conv || n->nin < 2 || n->nout != 1 || n->binary || n->sparse || n->nhwc) return false;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  if (!act4(x) || !act4(y) || !is_const(w) || w->dtype != DT_FLOAT || w->rank != 4) return false;
  if (n->nin > 2 && n->in[2] && (!is_const(n->in[2]) || n->in[2]->dtype != DT_FLOAT)) return false;
  if (n->epi && n->epi->res && !(act4(n->epi->res) && ir_same_shape(n->epi->res, y))) return false;
  return x->dims[0] == y->dims[0];
}

static Kind conv_kind(Graph *g, Node *n) {
  if (!conv_common(n)) return K_NONE;
  const Value *x = n->in[0], *w = n->in[1], *y = n->out[0];
  IrWindow win;
  if (ir_window(g, n, 2, x->dims + 2, w->dims + 2, &win)) return K_NONE;
  int64_t grp = ir_attr_int(n, "group", 1), C = x->dims[1], O = y->dims[1];
  if (grp == 1 && w->dims[1] == C && w->dims[2] == 1 && w->dims[3] == 1 && win.stride[0] == 1 && win.stride[1] == 1 &&
      !win.pad_begin[0] && !win.pad_begin[1] && y->dims[2] == x->dims[2] && y->dims[3] == x->dims[3])
    return K_PW;
  if (grp == C && C >= 2 && O == C && w->dims[0] == C && w->dims[1] == 1) return K_DW;
  return K_NONE;
}

static bool ew_op(Op op) {
  switch (op) {
  case OP_Relu: case OP_LeakyRelu: case OP_Sigmoid: case OP_HardSigmoid: case OP_HardSwish: case OP_Tanh:
  case OP_Clip: case OP_Add: case OP_Sub: case OP_Mul: case OP_Div: case OP_Max: case OP_Min: return true;
  default: return false;
  }
}

/* a [1, C, 1, 1] activation broadcast over y = [1, C, H, W] (a squeeze-and-excitation scale): its
 * pixel-major form [1, C] broadcasts over y's [H·W, C] rows the same way */
static bool se_operand(const Value *v, const Value *y) {
  return y->dims[0] == 1 && v->dims[0] == 1 && v->dims[1] == y->dims[1] && v->dims[2] == 1 && v->dims[3] == 1;
}

static Kind node_kind(Graph *g, Node *n) {
  if (n->dead) return K_NONE;
  if (n->op == OP_Conv) return conv_kind(g, n);
  if (n->op == OP_GlobalAveragePool) /* one image: ReduceMean over the rows of [H·W, C] */
    return n->nin == 1 && n->nout == 1 && !n->epi && act4(n->in[0]) && act4(n->out[0]) && n->in[0]->dims[0] == 1
               ? K_GAP
               : K_NONE;
  if (!ew_op(n->op) || n->nout != 1 || n->epi || !act4(n->out[0])) return K_NONE;
  int ndata = 0;
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) continue;
    if (is_const(v) && ir_value_numel(v) == 1) continue;
    if (!act4(v) || !(ir_same_shape(v, n->out[0]) || se_operand(v, n->out[0]))) return K_NONE;
    ndata++;
  }
  return ndata ? K_EW : K_NONE;
}

/* [N, C, 1, 1] is the same memory as [N·1·1, C]: its reorder is a free Reshape view */
static bool free_reorder(const Value *v) { return v->dims[2] * v->dims[3] == 1; }

static void node_cost(const Node *n, Kind k, double c[2]) {
  c[0] = c[1] = 0;
  if (k == K_NONE) return; /* not a candidate: its operands may be absent (an RNN's unused Y) */
  const Value *x = n->in[0], *y = n->out[0];
  double mac = (double)ir_value_numel(y);
  if (k == K_PW) {
    mac *= (double)x->dims[1];
    c[0] = mac / (LANES * use(y->dims[2] * y->dims[3])); /* GEMM N = pixels per image */
    c[1] = mac / (LANES * use(y->dims[1]));              /* GEMM N = output channels */
  } else if (k == K_DW) {
    const Value *w = n->in[1];
    mac *= (double)(w->dims[2] * w->dims[3]);
    c[0] = mac / (LANES * use(y->dims[3])) + (double)ir_value_numel(x) / LANES; /* + its padded copy */
    c[1] = mac / (LANES * use(y->dims[1]));
  } else if (k == K_GAP) { /* NCHW: vectors along each channel's H·W; pixel-major: along C */
    double e = (double)ir_value_numel(x);
    c[0] = e / (LANES * use(x->dims[2] * x->dims[3]));
    c[1] = e / (LANES * use(x->dims[1]));
  }
}

/* is input i of node n an operand whose form follows the node's label? */
static bool data_slot(const Lay *L, int k, int i) {
  const Node *n = L->g->nodes[k];
  if (L->kind[k] == K_GAP) return i == 0;
  if (L->kind[k] == K_PW || L->kind[k] == K_DW) return i == 0 || (n->epi && n->epi->res && i == ir_ops[n->op].max_in);
  if (L->kind[k] == K_EW) return !is_const(n->in[i]);
  return false;
}

static double total(const Lay *L, const char *lab) {
  double s = 0;
  for (int k = 0; k < L->nn; k++) s += L->cost[k][lab[k] ? 1 : 0];
  for (int v = 0; v < L->nv; v++) {
    if (!L->data[v] || !L->nusers[v]) continue;
    const Value *val = L->g->values[v];
    int pl = L->prod[v] >= 0 ? lab[L->prod[v]] : 0;
    bool other = val->is_output && pl;
    for (int u = 0; u < L->nusers[v] && !other; u++) other = lab[L->users[v][u]] != pl;
    if (other && !free_reorder(val)) s += TR_COST * (double)ir_value_numel(val);
  }
  return s;
}

/* the candidates connected to k through values, with label lab[k] (same_only) or any */
static int group(const Lay *L, const char *lab, int k, bool same_only, int *out, char *seen) {
  memset(seen, 0, (size_t)L->nn);
  int n = 0;
  out[n++] = k;
  seen[k] = 1;
  for (int h = 0; h < n; h++) {
    const Node *nd = L->g->nodes[out[h]];
    for (int i = 0; i < nd->nin + nd->nout; i++) {
      const Value *v = i < nd->nin ? nd->in[i] : nd->out[i - nd->nin];
      if (!v || !L->data[v->id]) continue;
      int cand[1 + 64], nc = 0;
      if (L->prod[v->id] >= 0) cand[nc++] = L->prod[v->id];
      for (int u = 0; u < L->nusers[v->id] && nc < 65; u++) cand[nc++] = L->users[v->id][u];
      for (int c = 0; c < nc; c++) {
        int j = cand[c];
        if (seen[j] || L->kind[j] == K_NONE || (same_only && lab[j] != lab[k])) continue;
        seen[j] = 1;
        out[n++] = j;
      }
    }
  }
  return n;
}

static double improve(const Lay *L, char *lab) {
  double best = total(L, lab);
  int *grp = malloc(sizeof(int) * (size_t)L->nn);
  char *seen = malloc((size_t)L->nn), *old = malloc((size_t)L->nn);
  for (int round = 0; round < 20 && grp && seen && old; round++) { /* out of memory: no search */
    bool changed = false;
    for (int k = 0; k < L->nn; k++) {
      if (L->kind[k] == K_NONE) continue;
      for (int mode = 0; mode < 3; mode++) {
        int n = mode == 0 ? 1 : group(L, lab, k, mode == 1, grp, seen);
        if (mode == 0) grp[0] = k;
        char to = mode == 2 ? 1 : (char)!lab[k];
        for (int i = 0; i < n; i++) old[i] = lab[grp[i]], lab[grp[i]] = to;
        double c = total(L, lab);
        if (c < best - 1e-9) best = c, changed = true;
        else
          for (int i = 0; i < n; i++) lab[grp[i]] = old[i];
      }
    }
    if (!changed) break;
  }
  free(grp);
  free(seen);
  free(old);
  return best;
}

/* pixel-major groups without both a depthwise and a 1×1 conv go back to NCHW: the 1×1 convs
 * alone run as well on the NCHW GEMM (ResNet's, DenseNet's), and a depthwise conv alone between
 * two reorders (ConvNeXt's 7×7, LayerNorm after it) measured slower than NCHW */
static void need_depthwise(const Lay *L, char *lab) {
  int *grp = malloc(sizeof(int) * (size_t)L->nn);
  char *seen = malloc((size_t)L->nn), *done = calloc((size_t)L->nn, 1);
  if (!grp || !seen || !done) memset(lab, 0, (size_t)L->nn); /* out of memory: everything NCHW */
  for (int k = 0; k < L->nn && grp && seen && done; k++) {
    if (!lab[k] || done[k]) continue;
    int n = group(L, lab, k, true, grp, seen);
    bool dw = false, pw = false;
    for (int i = 0; i < n; i++) dw |= L->kind[grp[i]] == K_DW, pw |= L->kind[grp[i]] == K_PW, done[grp[i]] = 1;
    if (!dw || !pw)
      for (int i = 0; i < n; i++) lab[grp[i]] = 0;
  }
  free(grp);
  free(seen);
  free(done);
}

/* ---- the rewrite ---- */

static Value *temp(Graph *g, const char *name, int rank, const int64_t *dims) {
  Value *v = ir_value_new(g, name);
  v->kind = VK_TEMP;
  v->dtype = DT_FLOAT;
  ir_value_set_shape(v, rank, dims);
  return v;
}

static Value *shape_const(Graph *g, const char *name, int rank, const int64_t *dims) {
  int64_t r = rank;
  Value *c = ir_const_new(g, name, DT_INT64, 1, &r);
  memcpy(c->data, dims, sizeof(int64_t) * (size_t)rank);
  return c;
}

static Node *node1(Graph *g, Op op, const char *name, Value *a, Value *b, Value *y) {
  Node *n = ir_node_new(g, op, name, b ? 2 : 1, 1);
  n->in[0] = a;
  if (b) n->in[1] = b;
  n->out[0] = y;
  y->producer = n;
  return n;
}

static void set_perm(Graph *g, Node *n, const int64_t *perm) {
  n->nattr = 1;
  n->attrs = arena_alloc(g->arena, sizeof(Attr));
  n->attrs[0] = (Attr){.name = "perm", .type = AT_INTS, .n = 4, .ints = arena_dup(g->arena, perm, 4 * sizeof(int64_t))};
}

static void pm_dims(const Value *v, int64_t d[2]) {
  d[0] = v->dims[0] * v->dims[2] * v->dims[3];
  d[1] = v->dims[1];
}

/* v (NCHW) -> Transpose to NHWC -> Reshape [N·H·W, C] */
static Value *reorder_in(Graph *g, Value *v) {
  static const int64_t perm[4] = {0, 2, 3, 1};
  int64_t td[4] = {v->dims[0], v->dims[2], v->dims[3], v->dims[1]}, pd[2];
  pm_dims(v, pd);
  Value *t = v;
  if (!free_reorder(v)) {
    t = temp(g, arena_printf(g->arena, "%s.nhwc", v->name), 4, td);
    set_perm(g, node1(g, OP_Transpose, arena_printf(g->arena, "%s.to_nhwc", v->name), v, NULL, t), perm);
  }
  Value *p = temp(g, arena_printf(g->arena, "%s.pm", v->name), 2, pd);
  node1(g, OP_Reshape, arena_printf(g->arena, "%s.pm_view", v->name), t,
        shape_const(g, arena_printf(g->arena, "%s.pm_shape", v->name), 2, pd), p);
  return p;
}

/* p ([N·H·W, C]) -> Reshape NHWC -> Transpose into v (NCHW), which keeps its name and users */
static void reorder_out(Graph *g, Value *p, Value *v) {
  static const int64_t perm[4] = {0, 3, 1, 2};
  int64_t td[4] = {v->dims[0], v->dims[2], v->dims[3], v->dims[1]};
  if (free_reorder(v)) { /* [N, C, 1, 1]: the view alone */
    node1(g, OP_Reshape, arena_printf(g->arena, "%s.nchw_view", v->name), p,
          shape_const(g, arena_printf(g->arena, "%s.nchw_shape", v->name), 4, v->dims), v);
    return;
  }
  Value *t = temp(g, arena_printf(g->arena, "%s.nhwc", v->name), 4, td);
  node1(g, OP_Reshape, arena_printf(g->arena, "%s.nhwc_view", v->name), p,
        shape_const(g, arena_printf(g->arena, "%s.nhwc_shape", v->name), 4, td), t);
  set_perm(g, node1(g, OP_Transpose, arena_printf(g->arena, "%s.to_nchw", v->name), t, NULL, v), perm);
}

static void rewrite_pw(Graph *g, Node *n) {
  Value *w = n->in[1];
  Value *w2 = ir_value_new(g, arena_printf(g->arena, "%s.oc", w->name)); /* the same data viewed as [O, C] */
  w2->kind = VK_CONST;
  w2->dtype = w->dtype;
  w2->data = w->data;
  w2->cluster = w->cluster;
  ir_value_set_shape(w2, 2, w->dims);
  n->in[1] = w2;
  n->op = OP_Gemm;
  n->nattr = 1;
  n->attrs = arena_alloc(g->arena, sizeof(Attr));
  n->attrs[0] = (Attr){.name = "transB", .type = AT_INT, .i = 1};
}

static void rewrite_dw(Graph *g, Node *n, const Value *x, const Value *y) {
  int64_t geo[5] = {x->dims[0], x->dims[2], x->dims[3], y->dims[2], y->dims[3]};
  Attr *a = arena_alloc(g->arena, sizeof(Attr) * (size_t)(n->nattr + 1));
  int k = 0;
  for (int i = 0; i < n->nattr; i++)
    if (strcmp(n->attrs[i].name, "nhwc")) a[k++] = n->attrs[i];
  a[k++] = (Attr){.name = "nhwc", .type = AT_INTS, .n = 5, .ints = arena_dup(g->arena, geo, sizeof geo)};
  n->attrs = a;
  n->nattr = k;
  n->nhwc = true;
}

/* GlobalAveragePool of one image -> ReduceMean over the rows of [H·W, C], kept as [1, C] */
static void rewrite_gap(Graph *g, Node *n) {
  static const int64_t axis0[1] = {0};
  n->op = OP_ReduceMean;
  n->nattr = 2;
  n->attrs = arena_alloc(g->arena, 2 * sizeof(Attr));
  n->attrs[0] = (Attr){.name = "axes", .type = AT_INTS, .n = 1, .ints = arena_dup(g->arena, axis0, sizeof axis0)};
  n->attrs[1] = (Attr){.name = "keepdims", .type = AT_INT, .i = 1};
}

static int rewrite(Lay *L, const char *lab) {
  Graph *g = L->g;
  Value **twin = calloc((size_t)L->nv, sizeof(Value *));
  if (!twin) return ir_error(g, "out of memory");
  int nn = L->nn, nrw = 0;
  /* outputs first: a pixel-major node's output gets its twin (and a reorder back when needed) */
  for (int k = 0; k < nn; k++) {
    if (!lab[k]) continue;
    Node *n = g->nodes[k];
    Value *y = n->out[0];
    int64_t pd[2];
    pm_dims(y, pd);
    twin[y->id] = temp(g, arena_printf(g->arena, "%s.pm", y->name), 2, pd);
  }
  for (int k = 0; k < nn; k++) {
    if (!lab[k]) continue;
    Node *n = g->nodes[k];
    Value *x = n->in[0], *y = n->out[0];
    for (int i = 0; i < n->nin; i++) {
      Value *v = n->in[i];
      if (!v || !data_slot(L, k, i)) continue;
      if (!twin[v->id]) twin[v->id] = reorder_in(g, v);
      n->in[i] = twin[v->id];
    }
    if (n->epi && n->epi->res) {
      Epilogue *e = arena_dup(g->arena, n->epi, sizeof *e);
      e->res = n->in[ir_ops[n->op].max_in];
      n->epi = e;
    }
    if (L->kind[k] == K_PW) rewrite_pw(g, n);
    else if (L->kind[k] == K_DW) rewrite_dw(g, n, x, y);
    else if (L->kind[k] == K_GAP) rewrite_gap(g, n);
    n->out[0] = twin[y->id];
    twin[y->id]->producer = n;
    y->producer = NULL;
    bool back = y->is_output;
    for (int u = 0; u < L->nusers[y->id] && !back; u++) back = !lab[L->users[y->id][u]];
    if (back) reorder_out(g, twin[y->id], y);
    nrw++;
  }
  free(twin);
  if (!nrw) return 0;
  ir_graph_compact(g);
  if (ir_graph_toposort(g)) return -1;
  ir_graph_count_users(g);
  return 0;
}

static void lay_free(Lay *L) {
  for (int v = 0; L->users && v < L->nv; v++) free(L->users[v]);
  free(L->users), free(L->nusers), free(L->prod), free(L->data), free(L->kind), free(L->cost);
}

/* 0 auto (cost model), 2 every candidate pixel-major (tests) */
static int select_layouts(Graph *g, int mode) {
  Lay L = {.g = g, .nn = g->nnodes, .nv = g->nvalues};
  L.kind = calloc((size_t)L.nn + 1, sizeof(Kind));
  L.cost = calloc((size_t)L.nn + 1, sizeof(double[2]));
  L.prod = malloc(sizeof(int) * ((size_t)L.nv + 1));
  L.users = calloc((size_t)L.nv + 1, sizeof(int *));
  L.nusers = calloc((size_t)L.nv + 1, sizeof(int));
  L.data = calloc((size_t)L.nv + 1, sizeof(bool));
  if (!L.kind || !L.cost || !L.prod || !L.users || !L.nusers || !L.data) {
    lay_free(&L);
    return ir_error(g, "out of memory");
  }
  int ncand = 0, ndw = 0;
  for (int v = 0; v < L.nv; v++) L.prod[v] = -1, L.data[v] = act4(g->values[v]);
  for (int k = 0; k < L.nn; k++) {
    Node *n = g->nodes[k];
    L.kind[k] = node_kind(g, n);
    if (L.kind[k] != K_NONE) ncand++;
    if (L.kind[k] == K_DW) ndw++;
    node_cost(n, L.kind[k], L.cost[k]);
    for (int i = 0; i < n->nout; i++)
      if (n->out[i]) L.prod[n->out[i]->id] = k;
  }
  for (int k = 0; k < L.nn; k++) { /* users: a candidate's data operands; every operand of the rest */
    Node *n = g->nodes[k];
    for (int i = 0; i < n->nin; i++) {
      Value *v = n->in[i];
      if (!v || !L.data[v->id] || (L.kind[k] != K_NONE && !data_slot(&L, k, i))) continue;
      int *u = realloc(L.users[v->id], sizeof(int) * (size_t)(L.nusers[v->id] + 1));
      if (!u) {
        lay_free(&L);
        return ir_error(g, "out of memory");
      }
      L.users[v->id] = u;
      L.users[v->id][L.nusers[v->id]++] = k;
    }
  }
  for (int k = 0; k < L.nn; k++) { /* a control node's subgraphs may capture any value: keep those */
    Node *n = g->nodes[k];
    for (int a = 0; a < n->nattr; a++)
      if (n->attrs[a].type == AT_GRAPH || n->attrs[a].type == AT_GRAPHS) ncand = 0;
  }
  int rc = 0;
  if (!ndw) ncand = 0; /* regions need a depthwise conv (need_depthwise) */
  if (ncand) {
    char *lab = calloc((size_t)L.nn + 1, 1), *all = calloc((size_t)L.nn + 1, 1);
    if (!lab || !all) {
      free(lab), free(all), lay_free(&L);
      return ir_error(g, "out of memory");
    }
    for (int k = 0; k < L.nn; k++) {
      lab[k] = L.kind[k] != K_NONE && L.cost[k][1] < L.cost[k][0];
      all[k] = L.kind[k] != K_NONE;
    }
    if (mode != 2) {
      /* the search is quadratic in the candidates: past SEARCH_MAX, each node's cheaper form */
      double a = ncand <= SEARCH_MAX ? improve(&L, lab) : total(&L, lab), b = ncand <= SEARCH_MAX ? improve(&L, all) : a + 1;
      if (b < a) memcpy(lab, all, (size_t)L.nn);
      need_depthwise(&L, lab);
      if (total(&L, lab) >= total(&L, (char *)memset(all, 0, (size_t)L.nn)) - 1e-9) memset(lab, 0, (size_t)L.nn);
    } else {
      memcpy(lab, all, (size_t)L.nn);
    }
    rc = rewrite(&L, lab);
    free(lab);
    free(all);
  }
  lay_free(&L);
  return rc;
}

int pass_layout(Graph *g, int mode) {
  if (mode != 1 && !g->parent && select_layouts(g, mode)) return -1;
  for (int i = 0; i < g->nvalues; i++) g->values[i]->layout = VL_PLAIN;
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    if (!generator_accepts(n))
      return ir_node_error(g, n, "internal: no generator for these layouts");
    for (int a = 0; a < n->nattr; a++)
      if (n->attrs[a].type == AT_GRAPH && n->attrs[a].g && pass_layout(n->attrs[a].g, 1)) return -1;
  }
  return 0;
}
