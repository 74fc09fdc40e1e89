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

/* a node of op with nin inputs and nout fresh outputs */
Node *tu_node_n(Graph *g, Op op, int nin, Value **ins, int nout);
/* a constant of any dtype from doubles / int64s (numel entries) */
Value *tu_const(Graph *g, DType t, int rank, const int64_t *dims, const double *vals);
Value *tu_const_i64(Graph *g, int rank, const int64_t *dims, const int64_t *vals);
/* attributes appended to a node */
Attr *tu_attr(Graph *g, Node *n, const char *name, AttrType t);
void tu_attr_int(Graph *g, Node *n, const char *name, int64_t v);
void tu_attr_float(Graph *g, Node *n, const char *name, float v);
void tu_attr_str(Graph *g, Node *n, const char *name, const char *s);
void tu_attr_ints(Graph *g, Node *n, const char *name, int cnt, const int64_t *v);

/* emits g as `kind` ("llvm" or "asm", be_emit at opt_level) into a temporary file and returns how
 * many of its lines contain any of the n strings in needles; -1 (err filled) when emitting fails */
int tu_emit_count(Graph *g, int opt_level, const char *kind, int n, const char *const *needles, char *err, size_t errlen);
#endif
