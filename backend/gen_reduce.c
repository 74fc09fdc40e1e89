/* gen_reduce.c — code generation for the F_REDUCE family (stub; being written). */
#include "gen_util.h"

int gen_reduce(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
