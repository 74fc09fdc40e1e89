/* shape_control.c — shape inference for the F_CONTROL family (If, Loop, Scan).
 * If: a constant condition selects one branch, whose shapes become the node's; with a runtime
 * condition both branches are inferred and must agree, since onnxc compiles static shapes.
 * Loop/Scan: the body is inferred once with the loop-carried values' shapes, which must come out
 * unchanged; scan outputs gain a leading (Scan: scan_output_axes) dim of the trip count, so Loop
 * needs a constant M and a condition that stays true.
 * A branch's captured values (VK_OUTER) take their shapes from the enclosing graph; captured
 * constants become constants of the branch (same data) so shape chains inside it fold too.
 *
 * A Loop with a small constant trip count (and a condition that stays true) is unrolled: its body
 * is copied once per iteration, with the iteration number a constant, into a new graph that
 * becomes the then-branch of an If on a constant true (which passes/inline.c then inlines).  That
 * lets shapes and slices that depend on the iteration number fold, as torch exports of short
 * loops need (ONNX's own test_loop11 slices with the iteration number); longer loops run as
 * loops (gen_control.c), so code size stays bounded. */
#include "ir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOOP_UNROLL_TRIPS 16   /* trip counts up to this are unrolled ... */
#define LOOP_UNROLL_NODES 1024 /* ... when trips × body nodes stays under this */

static int bind_outer(Graph *g, const Node *n, Graph *sub) {
  for (int i = 0; i < sub->nvalues; i++) {
    Value *v = sub->values[i];
    if (v->kind != VK_OUTER) continue;
    Value *o = v->outer;
    if (!o) return ir_node_error(g, n, "captured value '%s' has no outer definition", v->name);
    if (o->rank < 0 || !ir_value_shape_known(o))
      return ir_node_error(g, n, "captured value '%s' has no known shape yet (is its producer "
                                 "ordered after this node?)", v->name);
    v->dtype = o->dtype;
    ir_value_set_shape(v, o->rank, o->dims);
    if (o->kind == VK_CONST && o->data) {
      v->kind = VK_CONST;
      v->data = o->data;
    }
  }
  return 0;
}

static Graph *branch(const Node *n, const char *name) {
  const Attr *a = ir_attr(n, name);
  return a && a->type == AT_GRAPH ? a->g : NULL;
}

static int infer_branch(Graph *g, const Node *n, Graph *sub, const char *name) {
  if (!sub) return ir_node_error(g, n, "attribute '%s' is missing", name);
  if (bind_outer(g, n, sub) || ir_infer_shapes(sub)) return -1;
  if (sub->noutputs != n->nout)
    return ir_node_error(g, n, "%s has %d outputs but the node has %d", name, sub->noutputs, n->nout);
  for (int i = 0; i < sub->noutputs; i++)
    if (!sub->outputs[i] || !ir_value_shape_known(sub->outputs[i]))
      return ir_node_error(g, n, "%s output %d has an unknown shape", name, i);
  return 0;
}

static int if_node(Graph *g, Node *n) {
  Value *c = n->in[0];
  Graph *t = branch(n, "then_branch"), *e = branch(n, "else_branch");
  if (ir_value_numel(c) != 1) return ir_node_error(g, n, "the condition must have one element");
  Graph *pick = NULL;
  if (c->kind == VK_CONST && c->data) {
    pick = ir_const_i64(c, 0) ? t : e;
    if (infer_branch(g, n, pick, pick == t ? "then_branch" : "else_branch")) return -1;
  } else {
    if (infer_branch(g, n, t, "then_branch") || infer_branch(g, n, e, "else_branch")) return -1;
    for (int i = 0; i < n->nout; i++) {
      Value *a = t->outputs[i], *b = e->outputs[i];
      if (a->dtype != b->dtype || !ir_same_shape(a, b)) {
        char sa[128], sb[128];
        ir_shape_str(a, sa, sizeof sa);
        ir_shape_str(b, sb, sizeof sb);
        return ir_node_error(g, n, "If branches produce different shapes: data-dependent shape not "
                                   "supported (output %d: %s[%s] vs %s[%s])",
                             i, dtype_name(a->dtype), sa, dtype_name(b->dtype), sb);
      }
    }
    pick = t;
  }
  for (int i = 0; i < n->nout; i++) {
    Value *y = n->out[i], *s = pick->outputs[i];
    if (!y) continue;
    y->dtype = s->dtype;
    ir_value_set_shape(y, s->rank, s->dims);
  }
  return 0;
}

static void set_like(Value *v, DType t, int rank, const int64_t *dims) {
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
}

/* state outputs must keep the shape they came in with: no shape may depend on the trip count */
static int same_state(Graph *g, const Node *n, const Value *in, const Value *out, int i) {
  if (in->dtype == out->dtype && ir_same_shape(in, out)) return 0;
  char a[128], b[128];
  ir_shape_str(in, a, sizeof a);
  ir_shape_str(out, b, sizeof b);
  return ir_node_error(g, n, "loop-carried value %d changes from %s[%s] to %s[%s]: data-dependent shape "
                             "not supported", i, dtype_name(in->dtype), a, dtype_name(out->dtype), b);
}

/* ---- unrolling ---- */
typedef struct Unroll {
  Graph *u, *body;
  Value **map; /* body value id -> its value in u for the current iteration */
} Unroll;

/* u's capture of parent value o (one per o) */
static Value *capture(Graph *u, Value *o) {
  for (int i = 0; i < u->nvalues; i++)
    if (u->values[i]->kind == VK_OUTER && u->values[i]->outer == o) return u->values[i];
  Value *c = ir_value_new(u, o->name);
  c->kind = VK_OUTER;
  c->outer = o;
  c->dtype = o->dtype;
  ir_value_set_shape(c, o->rank, o->dims);
  return c;
}

static Value *mapped(Unroll *r, Value *v) {
  if (!v) return NULL;
  Value **m = &r->map[v->id];
  if (*m) return *m;
  if (v->kind == VK_OUTER) return *m = capture(r->u, v->outer);
  Value *c = ir_value_new(r->u, v->name); /* constants: share the data */
  c->kind = v->kind == VK_CONST ? VK_CONST : VK_TEMP;
  c->dtype = v->dtype;
  c->data = v->data;
  ir_value_set_shape(c, v->rank, v->dims);
  return *m = c;
}

static Node *node_in_u(Graph *u, Op op, const char *name, int nin, Value **in) {
  Node *m = ir_node_new(u, op, name, nin, 1);
  memcpy(m->in, in, sizeof(Value *) * (size_t)nin);
  m->out[0] = ir_value_new(u, NULL);
  m->out[0]->producer = m;
  return m;
}

static bool body_cond_fixed(const Graph *body) {
  const Value *bc = body->outputs[0];
  return bc == body->inputs[1] || (bc->kind == VK_CONST && bc->data && ir_const_i64(bc, 0)) ||
         (bc->producer && bc->producer->op == OP_Identity && bc->producer->in[0] == body->inputs[1]);
}

static bool unrollable(const Node *n, const Graph *body, int64_t *trips) {
  Value *m = n->in[0], *c = n->in[1];
  if (!m || m->kind != VK_CONST || !m->data || (c && (c->kind != VK_CONST || !ir_const_i64(c, 0))) ||
      !body_cond_fixed(body))
    return false;
  *trips = ir_const_i64(m, 0);
  if (*trips < 1 || *trips > LOOP_UNROLL_TRIPS || *trips * body->nnodes > LOOP_UNROLL_NODES) return false;
  for (int k = 0; k < body->nnodes; k++)
    for (int a = 0; a < body->nodes[k]->nattr; a++)
      if (body->nodes[k]->attrs[a].type == AT_GRAPH || body->nodes[k]->attrs[a].type == AT_GRAPHS) return false;
  return true;
}

/* Replaces Loop n by If(true) whose then-branch is the unrolled loop (see the top of the file). */
static int unroll(Graph *g, Node *n, Graph *body, int64_t trips) {
  int nstate = n->nin - 2, nscan = n->nout - nstate;
  Unroll r = {ir_graph_new_sub(g), body, NULL};
  r.u->name = arena_printf(g->arena, "%s.unrolled", n->name);
  if (ir_graph_toposort(body)) return -1;
  r.map = ir_xcalloc((size_t)body->nvalues + 1, sizeof(Value *));
  Value **state = ir_xcalloc((size_t)nstate + 1, sizeof(Value *));
  Value ***slices = ir_xcalloc((size_t)nscan + 1, sizeof(Value **));
  for (int i = 0; i < nstate; i++) state[i] = capture(r.u, n->in[2 + i]);
  int64_t one = 1, zero = 0;
  Value *axes = ir_const_new(r.u, NULL, DT_INT64, 1, &one);
  memcpy(axes->data, &zero, sizeof zero);
  for (int k = 0; k < nscan; k++) slices[k] = arena_alloc(g->arena, sizeof(Value *) * (size_t)trips);
  for (int64_t t = 0; t < trips; t++) {
    memset(r.map, 0, sizeof(Value *) * (size_t)body->nvalues);
    Value *it = ir_const_new(r.u, body->inputs[0]->name, DT_INT64, 0, NULL),
          *c = ir_const_new(r.u, NULL, DT_BOOL, 0, NULL);
    memcpy(it->data, &t, sizeof t);
    *(uint8_t *)c->data = 1;
    r.map[body->inputs[0]->id] = it;
    r.map[body->inputs[1]->id] = c;
    for (int i = 0; i < nstate; i++) r.map[body->inputs[2 + i]->id] = state[i];
    for (int k = 0; k < body->nnodes; k++) {
      Node *b = body->nodes[k];
      Node *m = ir_node_new(r.u, b->op, arena_printf(g->arena, "%s@%lld", b->name, (long long)t), b->nin, b->nout);
      m->domain = b->domain;
      m->nattr = b->nattr;
      m->attrs = b->attrs;
      for (int j = 0; j < b->nin; j++) m->in[j] = mapped(&r, b->in[j]);
      for (int j = 0; j < b->nout; j++)
        if ((m->out[j] = mapped(&r, b->out[j]))) m->out[j]->producer = m;
    }
    for (int i = 0; i < nstate; i++) state[i] = mapped(&r, body->outputs[1 + i]);
    for (int k = 0; k < nscan; k++) {
      Value *in[2] = {mapped(&r, body->outputs[1 + nstate + k]), axes};
      slices[k][t] = node_in_u(r.u, OP_Unsqueeze, NULL, 2, in)->out[0];
    }
  }
  r.u->noutputs = nstate + nscan;
  r.u->outputs = arena_alloc(g->arena, sizeof(Value *) * (size_t)(r.u->noutputs + 1));
  for (int i = 0; i < nstate; i++) r.u->outputs[i] = state[i];
  for (int k = 0; k < nscan; k++) {
    Node *cat = node_in_u(r.u, OP_Concat, NULL, (int)trips, slices[k]);
    cat->nattr = 1;
    cat->attrs = arena_alloc(g->arena, sizeof(Attr));
    cat->attrs[0] = (Attr){.name = "axis", .type = AT_INT, .i = 0};
    r.u->outputs[nstate + k] = cat->out[0];
  }
  free(r.map);
  free(state);
  free(slices);
  Value *yes = ir_const_new(g, NULL, DT_BOOL, 0, NULL),
        **init = arena_alloc(g->arena, sizeof(Value *) * (size_t)(nstate + 1));
  *(uint8_t *)yes->data = 1;
  memcpy(init, n->in + 2, sizeof(Value *) * (size_t)nstate);
  n->op = OP_If;
  n->nin = 1;
  n->in[0] = yes;
  n->nattr = 2;
  n->attrs = arena_alloc(g->arena, 2 * sizeof(Attr));
  n->attrs[0] = (Attr){.name = "then_branch", .type = AT_GRAPH, .g = r.u};
  n->attrs[1] = (Attr){.name = "else_branch", .type = AT_GRAPH, .g = r.u};
  if (if_node(g, n)) return -1;
  for (int i = 0; i < nstate; i++) /* as for a loop that is not unrolled */
    if (same_state(g, n, init[i], r.u->outputs[i], i)) return -1;
  return 0;
}

/* Loop(M, cond, v...) with body(iter, cond, v...) -> (cond, v..., scan...) */
static int loop_node(Graph *g, Node *n) {
  Graph *body = branch(n, "body");
  if (!body) return ir_node_error(g, n, "attribute 'body' is missing");
  int nstate = n->nin - 2, nscan = n->nout - nstate;
  if (nscan < 0 || body->ninputs != nstate + 2 || body->noutputs != 1 + nstate + nscan)
    return ir_node_error(g, n, "body has %d inputs / %d outputs for %d loop-carried values", body->ninputs,
                         body->noutputs, nstate);
  set_like(body->inputs[0], DT_INT64, 0, NULL);
  set_like(body->inputs[1], DT_BOOL, 0, NULL);
  for (int i = 0; i < nstate; i++) {
    Value *v = n->in[2 + i];
    if (!v) return ir_node_error(g, n, "loop-carried input %d is missing", i);
    set_like(body->inputs[2 + i], v->dtype, v->rank, v->dims);
  }
  int64_t trips;
  if (unrollable(n, body, &trips)) return unroll(g, n, body, trips);
  if (bind_outer(g, n, body) || ir_infer_shapes(body)) return -1;
  for (int i = 0; i < nstate; i++) {
    if (same_state(g, n, n->in[2 + i], body->outputs[1 + i], i)) return -1;
    if (n->out[i]) set_like(n->out[i], n->in[2 + i]->dtype, n->in[2 + i]->rank, n->in[2 + i]->dims);
  }
  if (!nscan) return 0;
  /* scan outputs stack one slice per iteration: the trip count must be known */
  Value *m = n->in[0], *c = n->in[1];
  bool fixed = m && m->kind == VK_CONST && m->data && (!c || (c->kind == VK_CONST && ir_const_i64(c, 0))) &&
               body_cond_fixed(body);
  if (!fixed)
    return ir_node_error(g, n, "data-dependent shape: the trip count M must be a constant (and the "
                               "condition constant true) for scan outputs");
  trips = ir_const_i64(m, 0);
  if (trips < 0) trips = 0;
  for (int k = 0; k < nscan; k++) {
    Value *s = body->outputs[1 + nstate + k], *y = n->out[nstate + k];
    int64_t dims[IR_MAX_RANK];
    if (s->rank + 1 > IR_MAX_RANK) return ir_node_error(g, n, "scan output rank exceeds %d", IR_MAX_RANK);
    dims[0] = trips;
    memcpy(dims + 1, s->dims, sizeof(int64_t) * (size_t)s->rank);
    if (y) set_like(y, s->dtype, s->rank + 1, dims);
  }
  return 0;
}

static int64_t list_at(const Node *n, const char *name, int i, int64_t def) {
  const int64_t *p;
  int cnt = ir_attr_ints(n, name, &p);
  return cnt > i ? p[i] : def;
}

/* Scan-8: Scan(sequence_lens, states..., scan inputs...): every tensor has a leading batch dim the
 * body does not see; scan inputs are [batch, len, ...] and so are scan outputs. */
static int scan8_node(Graph *g, Node *n, Graph *body, int nin_scan) {
  int nstate = n->nin - 1 - nin_scan, nscan_out = n->nout - nstate;
  if (n->in[0]) return ir_node_error(g, n, "Scan-8 sequence_lens is not supported");
  if (nin_scan < 1 || nstate < 0 || nscan_out < 0 || body->ninputs != n->nin - 1 || body->noutputs != n->nout)
    return ir_node_error(g, n, "body has %d inputs / %d outputs for %d states and %d scan inputs", body->ninputs,
                         body->noutputs, nstate, nin_scan);
  int64_t batch = -1, len = -1;
  for (int i = 1; i < n->nin; i++) {
    Value *v = n->in[i];
    bool scan = i > nstate;
    if (!v) return ir_node_error(g, n, "input %d is missing", i);
    if (v->rank < (scan ? 2 : 1)) return ir_node_error(g, n, "input %d has no batch%s dim", i, scan ? "/sequence" : "");
    if ((batch >= 0 && v->dims[0] != batch) || (scan && len >= 0 && v->dims[1] != len))
      return ir_node_error(g, n, "inputs disagree on the batch or sequence length");
    batch = v->dims[0];
    if (scan) len = v->dims[1];
    set_like(body->inputs[i - 1], v->dtype, v->rank - 1 - scan, v->dims + 1 + scan);
  }
  if (bind_outer(g, n, body) || ir_infer_shapes(body)) return -1;
  for (int i = 0; i < nstate; i++) {
    Value *in = n->in[1 + i], *out = body->outputs[i];
    if (out->dtype != in->dtype || out->rank != in->rank - 1 ||
        memcmp(out->dims, in->dims + 1, sizeof(int64_t) * (size_t)out->rank))
      return ir_node_error(g, n, "state %d changes shape or type in the body", i);
    if (n->out[i]) set_like(n->out[i], in->dtype, in->rank, in->dims);
  }
  for (int k = 0; k < nscan_out; k++) {
    Value *s = body->outputs[nstate + k], *y = n->out[nstate + k];
    int64_t dims[IR_MAX_RANK];
    if (s->rank + 2 > IR_MAX_RANK) return ir_node_error(g, n, "scan output rank exceeds %d", IR_MAX_RANK);
    dims[0] = batch;
    dims[1] = len;
    memcpy(dims + 2, s->dims, sizeof(int64_t) * (size_t)s->rank);
    if (y) set_like(y, s->dtype, s->rank + 2, dims);
  }
  return 0;
}

/* Scan(states..., scan inputs...) with body(states..., slices...) -> (states..., slices...) */
static int scan_node(Graph *g, Node *n) {
  Graph *body = branch(n, "body");
  if (!body) return ir_node_error(g, n, "attribute 'body' is missing");
  int nin_scan = (int)ir_attr_int(n, "num_scan_inputs", 0), nstate = n->nin - nin_scan;
  int nscan_out = n->nout - nstate;
  if (g->opset > 0 && g->opset < 9) return scan8_node(g, n, body, nin_scan);
  if (nin_scan < 1 || nstate < 0 || nscan_out < 0 || body->ninputs != n->nin || body->noutputs != n->nout)
    return ir_node_error(g, n, "body has %d inputs / %d outputs for %d states and %d scan inputs", body->ninputs,
                         body->noutputs, nstate, nin_scan);
  int64_t len = -1;
  for (int i = 0; i < n->nin; i++) {
    Value *v = n->in[i];
    if (!v) return ir_node_error(g, n, "input %d is missing", i);
    if (i < nstate) {
      set_like(body->inputs[i], v->dtype, v->rank, v->dims);
      continue;
    }
    int axis;
    if (ir_normalize_axis(g, n, list_at(n, "scan_input_axes", i - nstate, 0), v->rank, &axis)) return -1;
    if (len >= 0 && v->dims[axis] != len)
      return ir_node_error(g, n, "scan inputs have different lengths %lld and %lld", (long long)len,
                           (long long)v->dims[axis]);
    len = v->dims[axis];
    int64_t dims[IR_MAX_RANK];
    for (int d = 0, k = 0; d < v->rank; d++)
      if (d != axis) dims[k++] = v->dims[d];
    set_like(body->inputs[i], v->dtype, v->rank - 1, dims);
  }
  if (bind_outer(g, n, body) || ir_infer_shapes(body)) return -1;
  for (int i = 0; i < nstate; i++) {
    if (same_state(g, n, n->in[i], body->outputs[i], i)) return -1;
    if (n->out[i]) set_like(n->out[i], n->in[i]->dtype, n->in[i]->rank, n->in[i]->dims);
  }
  for (int k = 0; k < nscan_out; k++) {
    Value *s = body->outputs[nstate + k], *y = n->out[nstate + k];
    int r = s->rank + 1, axis;
    if (r > IR_MAX_RANK) return ir_node_error(g, n, "scan output rank exceeds %d", IR_MAX_RANK);
    if (ir_normalize_axis(g, n, list_at(n, "scan_output_axes", k, 0), r, &axis)) return -1;
    int64_t dims[IR_MAX_RANK];
    for (int d = 0, j = 0; d < r; d++) dims[d] = d == axis ? len : s->dims[j++];
    if (y) set_like(y, s->dtype, r, dims);
  }
  return 0;
}

int shape_control(Graph *g, Node *n) {
  switch (n->op) {
  case OP_If: return if_node(g, n);
  case OP_Loop: return loop_node(g, n);
  case OP_Scan: return scan_node(g, n);
  default: return ir_node_error(g, n, "not a control-flow op");
  }
}
