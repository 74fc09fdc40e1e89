/* gen_contract.c — code generation for the F_CONTRACT family (stub; being written). */
#include "gen_util.h"

int gen_contract(GenCtx *c) { return ir_node_error(c->g, c->n, "code generation not implemented yet"); }
