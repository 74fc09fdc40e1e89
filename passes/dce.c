/* dce.c — dead code elimination: drop nodes none of whose outputs reach a graph output. */
#include <stdlib.h>

#include "passes.h"

/* values of g that sub (or a subgraph nested in it) captures, through one ->outer link per level */
static void mark_captures(const Graph *g, const Graph *sub, bool *live) {
  for (int i = 0; i < sub->nvalues; i++)
    for (const Value *v = sub->values[i]; v && v->outer && v->kind != VK_TEMP; v = v->outer)
      if (v->outer->id < g->nvalues && g->values[v->outer->id] == v->outer) {
        live[v->outer->id] = true;
        break;
      }
  for (int k = 0; k < sub->nnodes; k++)
    for (int a = 0; a < sub->nodes[k]->nattr; a++)
      if (sub->nodes[k]->attrs[a].type == AT_GRAPH && sub->nodes[k]->attrs[a].g)
        mark_captures(g, sub->nodes[k]->attrs[a].g, live);
}

int pass_dce(Graph *g) {
  bool *live = calloc((size_t)g->nvalues + 1, 1);
  if (!live) return ir_error(g, "out of memory");
  for (int i = 0; i < g->noutputs; i++) live[g->outputs[i]->id] = true;
  for (int k = g->nnodes - 1; k >= 0; k--) {
    Node *n = g->nodes[k];
    bool any = false;
    for (int j = 0; j < n->nout; j++) any |= n->out[j] && live[n->out[j]->id];
    if (!any) {
      ir_node_remove(g, n);
      continue;
    }
    for (int j = 0; j < n->nin; j++)
      if (n->in[j]) live[n->in[j]->id] = true;
    for (int a = 0; a < n->nattr; a++)
      if (n->attrs[a].type == AT_GRAPH && n->attrs[a].g) mark_captures(g, n->attrs[a].g, live);
  }
  free(live);
  ir_graph_compact(g);
  return 0;
}
