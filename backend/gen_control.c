/* gen_control.c — code generation for the F_CONTROL family (stub; being written). */
#include "gen_util.h"

int gen_control(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
