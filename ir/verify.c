/* verify.c — IR invariants, checked after every pass in debug builds and the test suite
 * (ir_verify; passes/pipeline.c).
 * Every node in the list is live, has its op's arity and is in topological order: each input is a
 * graph input, a constant, a captured outer value, or the output of an earlier node. Producer
 * pointers agree with the node list; each value is produced once; its layout is a known one.
 * Once planned (passes/plan.c): every arena value that a node defines has an offset that is a
 * multiple of 64, its bytes fit in the graph's arena, and no two values live at the same time
 * overlap; io slots are distinct.  Subgraphs are checked too. */
#include "ir.h"

#include <stdlib.h>

static bool owns(const Graph *g, const Value *v) {
  return v->id >= 0 && v->id < g->nvalues && g->values[v->id] == v;
}

static bool is_input(const Graph *g, const Value *v) {
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] == v) return true;
  return false;
}

/* a value that is defined without a producer in g */
static int check_source(Graph *g, const Node *n, const Value *v) {
  const char *what = n ? "" : "graph output ";
  switch (v->kind) {
  case VK_INPUT:
    if (!is_input(g, v)) return ir_error(g, "verify: %s'%s' is an input but not in the graph's inputs", what, v->name);
    return 0;
  case VK_CONST:
    if (!v->data) return ir_error(g, "verify: constant '%s' has no data", v->name);
    return 0;
  case VK_OUTER:
    if (!v->outer) return ir_error(g, "verify: captured value '%s' has no outer value", v->name);
    for (const Graph *p = g->parent; p; p = p->parent)
      if (owns(p, v->outer)) return 0;
    return ir_error(g, "verify: captured value '%s' is not defined in an enclosing graph", v->name);
  default:
    return ir_error(g, "verify: %s'%s' is used %s", what, v->name,
                    v->producer ? "before it is defined (nodes out of order)" : "but never defined");
  }
}

static int verify_graph(Graph *g);

static int verify_node(Graph *g, const Node *n, int pos, int *def) {
  if (n->dead) return ir_node_error(g, n, "verify: dead node in the node list");
  const OpInfo *oi = &ir_ops[n->op];
  int extra = n->epi && n->epi->res ? 1 : 0; /* a fused residual input (passes/fuse.c) */
  if (g->planned && oi->family == F_CONTROL) extra = n->nin; /* + captured values (passes/plan.c) */
  if (n->nin < oi->min_in || (oi->max_in >= 0 && n->nin > oi->max_in + extra) || n->nout < oi->min_out ||
      (oi->max_out >= 0 && n->nout > oi->max_out))
    return ir_node_error(g, n, "verify: %d inputs / %d outputs do not match the op's arity", n->nin, n->nout);
  for (int i = 0; i < n->nin; i++) {
    const Value *v = n->in[i];
    if (!v) {
      if (!ir_op_input_optional(n->op, i)) return ir_node_error(g, n, "verify: required input %d is missing", i);
      continue;
    }
    if (!owns(g, v)) return ir_node_error(g, n, "verify: input '%s' belongs to another graph", v->name);
    if (def[v->id]) continue;
    if (check_source(g, n, v)) return -1;
  }
  for (int i = 0; i < n->nout; i++) {
    Value *v = n->out[i];
    if (!v) {
      if (i < oi->min_out) return ir_node_error(g, n, "verify: required output %d is missing", i);
      continue;
    }
    if (!owns(g, v)) return ir_node_error(g, n, "verify: output '%s' belongs to another graph", v->name);
    if (def[v->id]) return ir_node_error(g, n, "verify: '%s' is produced twice", v->name);
    if ((unsigned)v->layout >= VL_COUNT) return ir_node_error(g, n, "verify: '%s' has no valid layout", v->name);
    if (v->producer != n) return ir_node_error(g, n, "verify: producer pointer of '%s' is wrong", v->name);
    if (v->kind != VK_TEMP)
      return ir_node_error(g, n, "verify: output '%s' is also an input/constant/outer value", v->name);
    def[v->id] = pos + 1;
  }
  for (int i = 0; i < n->nattr; i++) {
    const Attr *a = &n->attrs[i];
    int cnt = a->type == AT_GRAPH ? 1 : a->type == AT_GRAPHS ? a->n : 0;
    for (int j = 0; j < cnt; j++) {
      Graph *s = a->type == AT_GRAPH ? a->g : a->graphs[j];
      if (!s) return ir_node_error(g, n, "verify: attribute '%s' has no graph", a->name);
      if (s->parent != g) return ir_node_error(g, n, "verify: subgraph '%s' has the wrong parent", a->name);
      if (verify_graph(s)) return -1;
    }
  }
  return 0;
}

void ir_live_ranges(const Graph *g, int *first, int *last) {
  for (int i = 0; i < g->nvalues; i++) first[i] = -1, last[i] = -1;
  for (int k = 0; k < g->nnodes; k++) {
    const Node *nd = g->nodes[k];
    for (int j = 0; j < nd->nout; j++)
      if (nd->out[j] && first[nd->out[j]->id] < 0) first[nd->out[j]->id] = last[nd->out[j]->id] = k;
    for (int j = 0; j < nd->nin; j++)
      if (nd->in[j]) last[nd->in[j]->id] = k;
  }
}

static bool is_view(const Node *n) {
  if (n->nin < 1 || n->nout != 1 || !n->in[0] || !n->out[0]) return false;
  const Value *x = n->in[0], *y = n->out[0];
  if (x->storage != ST_ARENA || y->storage != ST_ARENA || x->dtype != y->dtype || x->layout != y->layout ||
      ir_value_numel(x) < 0 || ir_value_numel(x) != ir_value_numel(y))
    return false;
  switch (n->op) {
  case OP_Reshape:
  case OP_Flatten:
  case OP_Squeeze:
  case OP_Unsqueeze: return true;
  case OP_Transpose: {
    const int64_t *perm;
    int cnt = ir_attr_ints(n, "perm", &perm), r = x->rank, prev = -1;
    if (r < 0 || r != y->rank || (cnt >= 0 && cnt != r)) return false;
    for (int d = 0; d < r; d++) { /* the axes longer than 1 keep their order */
      int64_t p = cnt >= 0 ? perm[d] : r - 1 - d;
      if (p < 0 || p >= r) return false;
      if (x->dims[p] == 1) continue;
      if (p < prev) return false;
      prev = (int)p;
    }
    return true;
  }
  default: return false;
  }
}

void ir_view_roots(const Graph *g, int *root) {
  for (int i = 0; i < g->nvalues; i++) root[i] = i;
  for (int k = 0; k < g->nnodes; k++) { /* in node order: a view's input has its root already */
    const Node *n = g->nodes[k];
    if (!n->dead && is_view(n)) root[n->out[0]->id] = root[n->in[0]->id];
  }
}

/* each arena value's [offset, offset + bytes) inside the arena, 64-aligned */
static int check_placement(Graph *g, const Value *v, int64_t *bytes) {
  int64_t n = ir_value_numel(v);
  if (n < 0 || !ir_mul_ok(n, (int64_t)dtype_size(v->dtype), bytes))
    return ir_error(g, "verify: arena value '%s' has no static size", v->name);
  if (v->offset < 0 || v->offset % 64 || *bytes > g->arena_bytes - v->offset)
    return ir_error(g, "verify: arena value '%s' at offset %lld (%lld bytes) is not 64-aligned inside the arena of "
                    "%lld bytes", v->name, (long long)v->offset, (long long)*bytes, (long long)g->arena_bytes);
  return 0;
}

static int check_io_slots(Graph *g) {
  int nio = g->ninputs + g->noutputs;
  for (int i = 0; i < g->nvalues; i++) nio += g->values[i]->kind == VK_OUTER;
  bool *seen = ir_xcalloc((size_t)nio + 1, 1);
  int rc = 0;
  for (int i = 0; i < g->nvalues && !rc; i++) {
    const Value *v = g->values[i];
    if (v->storage != ST_IO) continue;
    if (v->offset < 0 || v->offset >= nio || seen[v->offset])
      rc = ir_error(g, "verify: io value '%s' has a bad or shared slot %lld", v->name, (long long)v->offset);
    else seen[v->offset] = true;
  }
  free(seen);
  return rc;
}

/* Live arena values (ids) in order of definition; each is checked against the values still live
 * when it is defined, so the cost is values x values-live-at-once, not values squared. */
static int check_overlaps(Graph *g, int *ids, int n, const int *first, const int *last, const int64_t *bytes,
                          const int *root, const int *group) {
  int *live = ir_xmalloc(sizeof(int) * (size_t)(n + 1)), nlive = 0, rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    const Value *a = g->values[ids[i]];
    int k = 0;
    for (int j = 0; j < nlive; j++) /* keep those still live when a is defined */
      if (last[live[j]] >= first[ids[i]]) live[k++] = live[j];
    nlive = k;
    for (int j = 0; j < nlive && !rc; j++) {
      const Value *b = g->values[live[j]];
      if (root[ids[i]] == root[live[j]] && a->offset == b->offset) continue; /* a view of b or b of a */
      if (group[ids[i]] == group[live[j]]) continue; /* slices of one buffer (a Concat in place) */
      if (a->offset < b->offset + bytes[live[j]] && b->offset < a->offset + bytes[ids[i]])
        rc = ir_error(g, "verify: '%s' and '%s' are live at the same time and overlap in the arena", b->name, a->name);
    }
    live[nlive++] = ids[i];
  }
  free(live);
  return rc;
}

/* the plan (passes/plan.c): io slots, placement of each arena value, no two live at once overlap */
static int verify_plan(Graph *g) {
  int nv = g->nvalues, n = 0, rc = check_io_slots(g);
  int *first = ir_xmalloc(sizeof(int) * (size_t)(nv + 1)), *last = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  int *ids = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  int64_t *bytes = ir_xcalloc((size_t)nv + 1, sizeof(int64_t));
  int *root = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  ir_live_ranges(g, first, last);
  ir_view_roots(g, root);
  for (int k = 0; k < g->nnodes && !rc; k++) /* in order of definition */
    for (int j = 0; j < g->nodes[k]->nout && !rc; j++) {
      const Value *v = g->nodes[k]->out[j];
      if (!v || v->storage != ST_ARENA || first[v->id] != k) continue;
      rc = check_placement(g, v, &bytes[v->id]);
      if (bytes[v->id]) ids[n++] = v->id;
    }
  /* a value inside another's buffer (Value.inside, passes/plan.c) lies within it; group: the
   * buffer holding it */
  int *group = ir_xmalloc(sizeof(int) * (size_t)(nv + 1));
  for (int i = 0; i < nv && !rc; i++) {
    const Value *v = g->values[root[i]];
    for (; v->inside && !rc; v = g->values[root[v->inside->id]]) {
      int64_t vb = ir_value_numel(v) * (int64_t)dtype_size(v->dtype), ib = ir_value_numel(v->inside) * (int64_t)dtype_size(v->dtype);
      if (v->storage != ST_ARENA || v->inside->storage != ST_ARENA || v->offset < v->inside->offset ||
          v->offset + vb > v->inside->offset + ib)
        rc = ir_error(g, "verify: '%s' is not inside the buffer of '%s'", v->name, v->inside->name);
    }
    group[i] = v->id;
  }
  if (!rc) rc = check_overlaps(g, ids, n, first, last, bytes, root, group);
  free(group);
  free(root);
  free(first);
  free(last);
  free(ids);
  free(bytes);
  return rc;
}

static int verify_graph(Graph *g) {
  int *def = ir_xcalloc((size_t)g->nvalues + 1, sizeof(int)); /* value id -> producer position + 1 */
  int rc = 0;
  for (int i = 0; i < g->nvalues && !rc; i++)
    if (!g->values[i] || g->values[i]->id != i) rc = ir_error(g, "verify: value list entry %d has a wrong id", i);
  for (int i = 0; i < g->nnodes && !rc; i++) rc = verify_node(g, g->nodes[i], i, def);
  for (int i = 0; i < g->noutputs && !rc; i++) {
    const Value *v = g->outputs[i];
    if (!v) rc = ir_error(g, "verify: graph output %d is missing", i);
    else if (!owns(g, v)) rc = ir_error(g, "verify: graph output '%s' belongs to another graph", v->name);
    else if (!def[v->id]) rc = check_source(g, NULL, v);
  }
  for (int i = 0; i < g->nvalues && !rc; i++) {
    const Value *v = g->values[i];
    if (v->producer && (!def[i] || g->nodes[def[i] - 1] != v->producer))
      rc = ir_error(g, "verify: '%s' names a producer that is not in the node list", v->name);
  }
  free(def);
  return rc || !g->planned ? rc : verify_plan(g);
}

int ir_verify(Graph *g) { return verify_graph(g); }
