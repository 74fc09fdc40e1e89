/* ops.c — the op table (ir_ops), built from ops.def: names, families, arity, input masks and fusion
 * flags.  It is data and depends on nothing: the function columns become tables where they are
 * dispatched (shape.c: shape and fold; cost.c: cost; backend/gen_table.c: gen). */
#include "ir.h"

#include <string.h>

#define IN(i) (1u << (i))
#define FROM(i) (~0u << (i))
#define ALL (~0u)
const OpInfo ir_ops[OP_COUNT] = {
#define OP(name, fam, min_in, max_in, min_out, max_out, shape, fold, gen, opt_in, shape_in, fuse, cost) \
  {#name, fam, min_in, max_in, min_out, max_out, opt_in, shape_in, fuse},
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
