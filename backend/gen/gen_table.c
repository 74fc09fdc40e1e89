/* gen_table.c — the generator table: ops.def's gen column names each op's code generator
 * (backend/gen_<family>.c).  Only the backend expands that column, so ir/ links no backend code.
 * The functions are declared here from the rows: adding an op needs no header edit. */
#include "kb_c.h"

#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, gen, ...) int gen(GenCtx *c);
#include "ops.def"
#undef OP

static int (*const gens[OP_COUNT])(GenCtx *c) = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, gen, ...) [OP_##name] = gen,
#include "ops.def"
#undef OP
};

int be_gen_node(GenCtx *c) {
  if ((unsigned)c->n->op >= OP_COUNT || !gens[c->n->op])
    return ir_node_error(c->g, c->n, "no code generator for this op");
  return gens[c->n->op](c);
}

bool be_has_gen(Op op) { return (unsigned)op < OP_COUNT && gens[op]; }
