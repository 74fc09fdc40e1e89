/* shape_control.c — shape inference for the F_CONTROL family (stub; being written). */
#include "ir.h"

int shape_control(Graph *g, Node *n) { return ir_node_error(g, n, "shape inference not implemented yet"); }
