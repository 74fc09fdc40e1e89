/* dims.c — axis normalization and numpy broadcasting, shared by shape inference (shape*.c) and
 * host folding (eval.c); kept apart so folding does not depend back on the shape driver. */
#include "ir.h"

#include <stdio.h>

int ir_normalize_axis(Graph *g, const Node *n, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= (rank > 0 ? rank : 1))
    return ir_node_error(g, n, "axis %lld is out of range for rank %d", (long long)axis, rank);
  *out = (int)a;
  return 0;
}

/* numpy broadcasting of nin shapes */
int ir_broadcast_shape(Graph *g, const Node *n, Value *const *ins, int nin, int *rank, int64_t *dims) {
  int r = 0;
  for (int i = 0; i < nin; i++)
    if (ins[i] && ins[i]->rank > r) r = ins[i]->rank;
  for (int d = 0; d < r; d++) {
    int64_t dim = 1;
    for (int i = 0; i < nin; i++) {
      const Value *v = ins[i];
      if (!v) continue;
      int k = d - (r - v->rank);
      if (k < 0) continue;
      int64_t x = v->dims[k];
      if (x == 1) continue;
      if (dim == 1) dim = x;
      else if (x != dim) {
        char a[128], b[128];
        ir_shape_str(ins[0], a, sizeof a);
        ir_shape_str(v, b, sizeof b);
        return ir_node_error(g, n, "shapes %s and %s cannot be broadcast together", a, b);
      }
    }
    dims[d] = dim;
  }
  *rank = r;
  return 0;
}
