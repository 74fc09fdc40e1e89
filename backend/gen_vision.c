/* gen_vision.c — stub */
#include "gen_util.h"

int gen_vision(GenCtx *c) { return ir_node_error(c->g, c->n, "no code generator for this op"); }
