/* ops.c — the op table (ir_ops), built from ops.def: names, arity, and the shape and fold
 * functions, input masks and fusion flags each row names.  Shape inference (shape.c), folding
 * (eval.c's ir_eval_node), the verifier and the passes dispatch through it; the backend builds its
 * generator table from the same rows (backend/module.c) and ir/cost.c its cost table. */
#include "ir.h"

#include <string.h>

/* the shape and fold columns name functions of shape_<family>.c / eval.c; declaring them here from
 * the rows keeps adding an op to its row and its functions */
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, ...) \
  int shape(Graph *g, Node *n);                                            \
  int fold(Graph *g, Node *n);
#include "ops.def"
#undef OP

#define IN(i) (1u << (i))
#define FROM(i) (~0u << (i))
#define ALL (~0u)
const OpInfo ir_ops[OP_COUNT] = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, gen, opt_in, shape_in, fuse, cost) \
  {#name, fam, min_in, max_in, min_out, max_out, shape, fold, opt_in, shape_in, fuse},
#include "ops.def"
#undef OP
};
#undef IN
#undef FROM
#undef ALL

Op ir_op_lookup(const char *name) {
  for (int i = 0; i < OP_COUNT; i++)
    if (!strcmp(ir_ops[i].name, name)) return (Op)i;
  return OP_COUNT;
}

/* the fold column of ops that are never folded on the host */
int eval_none(Graph *g, Node *n) {
  (void)g;
  (void)n;
  return 0;
}
