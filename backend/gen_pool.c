/* gen_pool.c — code generation for the F_POOL family (stub; being written). */
#include "gen_util.h"

int gen_pool(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
