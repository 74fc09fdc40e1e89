/* gen_gen.c — code generation for the F_GEN family (stub; being written). */
#include "gen_util.h"

int gen_gen(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
