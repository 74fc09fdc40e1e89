/* verify.c — IR invariants, checked between passes in debug builds (ir_verify).
 * Every node in the list is live, has its op's arity and is in topological order: each input is a
 * graph input, a constant, a captured outer value, or the output of an earlier node. Producer
 * pointers agree with the node list; each value is produced once. Subgraphs are checked too. */
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
  return rc;
}

int ir_verify(Graph *g) { return verify_graph(g); }
