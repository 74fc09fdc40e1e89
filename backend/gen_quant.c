/* gen_quant.c — stub */
#include "gen_util.h"

int gen_quant(GenCtx *c) { return ir_node_error(c->g, c->n, "no code generator for this op"); }
