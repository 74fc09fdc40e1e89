/* gen_norm.c — code generation for the F_NORM family (stub; being written). */
#include "gen_util.h"

int gen_norm(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
