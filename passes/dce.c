/* dce.c — dead code elimination: drop nodes none of whose outputs reach a graph output. */
#include <stdlib.h>

#include "passes.h"

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
  }
  free(live);
  ir_graph_compact(g);
  return 0;
}
