/* inline.c — an If whose condition is a constant (after folding, `onnxc run`'s specialization of
 * small inputs, or Loop unrolling in shape_control.c) is replaced by the nodes of the branch it
 * takes.  The branch's nodes and values move into the enclosing graph as they are (so captures in
 * deeper subgraphs keep pointing at them); the branch's captures become the captured values.
 * Runs in every subgraph too, innermost first. */
#include <stdbool.h>

#include "passes.h"

/* v as seen from the graph enclosing sub: a capture is its outer value */
static Value *outside(Value *v) { return v->outer && v->kind != VK_TEMP ? v->outer : v; }

static Graph *attr_graph(const Node *n, const char *name) {
  const Attr *a = ir_attr(n, name);
  return a && a->type == AT_GRAPH ? a->g : NULL;
}

/* repoint the subgraphs of g's nodes that capture `from` (one ->outer link per level) */
static void recapture(Graph *g, const Value *from, Value *to) {
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    for (int a = 0; a < n->nattr; a++) {
      Graph *s = n->attrs[a].type == AT_GRAPH ? n->attrs[a].g : NULL;
      for (int i = 0; s && i < s->nvalues; i++)
        if (s->values[i]->outer == from) s->values[i]->outer = to;
    }
  }
}

static void move_value(Graph *g, Value *v) {
  Value *slot = ir_value_new(g, NULL);
  g->values[slot->id] = v;
  v->id = slot->id;
  v->is_output = false;
}

static void inline_branch(Graph *g, Node *n, Graph *br) {
  for (int i = 0; i < br->nvalues; i++)
    if (outside(br->values[i]) == br->values[i]) move_value(g, br->values[i]);
  for (int k = 0; k < br->nnodes; k++) {
    Node *m = br->nodes[k];
    Node *slot = ir_node_new(g, OP_Identity, NULL, 0, 0);
    g->nodes[slot->id] = m;
    m->id = slot->id;
    for (int j = 0; j < m->nin; j++)
      if (m->in[j]) m->in[j] = outside(m->in[j]);
    for (int a = 0; a < m->nattr; a++) {
      Graph *s = m->attrs[a].type == AT_GRAPH ? m->attrs[a].g : NULL;
      for (int i = 0; s && i < s->nvalues; i++)
        if (s->values[i]->outer) s->values[i]->outer = outside(s->values[i]->outer);
      if (s) s->parent = g;
    }
  }
  ir_node_remove(g, n);
  for (int i = 0; i < n->nout; i++) {
    Value *y = n->out[i], *src = outside(br->outputs[i]);
    if (!y) continue;
    if (!y->is_output) {
      ir_value_replace_uses(g, y, src);
      recapture(g, y, src);
      continue;
    }
    Node *id = ir_node_new(g, OP_Identity, NULL, 1, 1); /* keeps the graph output's name */
    id->in[0] = src;
    id->out[0] = y;
    y->producer = id;
  }
}

int pass_inline(Graph *g) {
  bool changed = false;
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    for (int a = 0; a < n->nattr; a++) {
      if (n->attrs[a].type == AT_GRAPH && n->attrs[a].g && pass_inline(n->attrs[a].g)) return -1;
    }
  }
  int nnodes = g->nnodes;
  for (int k = 0; k < nnodes; k++) {
    Node *n = g->nodes[k];
    Value *c = n->op == OP_If && !n->dead ? n->in[0] : NULL;
    if (!c || c->kind != VK_CONST || !c->data) continue;
    Graph *br = attr_graph(n, ir_const_i64(c, 0) ? "then_branch" : "else_branch");
    if (!br || br->noutputs != n->nout)
      return ir_node_error(g, n, "branch has %d outputs, the node %d", br ? br->noutputs : 0, n->nout);
    inline_branch(g, n, br);
    changed = true;
  }
  if (!changed) return 0;
  ir_graph_compact(g);
  return ir_graph_toposort(g);
}
