/* shape_gen.c — shape inference for the F_GEN family (stub; being written). */
#include "ir.h"

int shape_gen(Graph *g, Node *n) { return ir_node_error(g, n, "shape inference not implemented yet"); }
