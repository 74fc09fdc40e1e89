/* layout.c — chooses each value's memory layout (Value.layout).
 *
 * Today every value is VL_PLAIN (dense row-major) and every generator indexes that way.  This is
 * the hook for blocked layouts (NCHW16c for convolutions): the pass will pick them for chains of
 * nodes whose generators accept them and insert reorders at the boundaries.  Whatever it picks,
 * generator_accepts() must hold for every node, so no generator is handed a layout it does not
 * index correctly; it runs after fuse (an epilogue's residual is read in the node's layout) and
 * before plan (a blocked value's padded size is what the arena must hold). */
#include "passes.h"

/* Whether the generator of n handles the layouts of its inputs and outputs: all plain, today. */
static bool generator_accepts(const Node *n) {
  for (int i = 0; i < n->nin; i++)
    if (n->in[i] && n->in[i]->layout != VL_PLAIN) return false;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && n->out[i]->layout != VL_PLAIN) return false;
  return true;
}

int pass_layout(Graph *g) {
  for (int i = 0; i < g->nvalues; i++) g->values[i]->layout = VL_PLAIN;
  for (int k = 0; k < g->nnodes; k++) {
    Node *n = g->nodes[k];
    if (!generator_accepts(n))
      return ir_node_error(g, n, "internal: no generator for these layouts");
    for (int a = 0; a < n->nattr; a++)
      if (n->attrs[a].type == AT_GRAPH && n->attrs[a].g && pass_layout(n->attrs[a].g)) return -1;
  }
  return 0;
}
