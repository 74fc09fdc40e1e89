/* gen_move.c — code generation for the F_MOVE family (stub; being written). */
#include "gen_util.h"

int gen_move(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
