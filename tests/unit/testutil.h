/* testutil.h — helpers shared by the Criterion unit tests. */
#ifndef ONNXC_TESTUTIL_H
#define ONNXC_TESTUTIL_H
#include "ir.h"

/* a graph input of the given dtype/shape */
Value *tu_input(Graph *g, const char *name, DType t, int rank, const int64_t *dims);
/* a float32 constant filled with the given values (n = numel) */
Value *tu_const_f32(Graph *g, const char *name, int rank, const int64_t *dims, const float *vals);
/* a one-output node of op with the given inputs; returns its output value */
Value *tu_node(Graph *g, Op op, int nin, Value **ins);
void tu_output(Graph *g, Value *v);
#endif
