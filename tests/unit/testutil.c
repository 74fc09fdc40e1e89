/* testutil.c — helpers shared by the Criterion unit tests. */
#include "testutil.h"

#include <string.h>

Value *tu_input(Graph *g, const char *name, DType t, int rank, const int64_t *dims) {
  Value *v = ir_value_new(g, name);
  v->kind = VK_INPUT;
  v->dtype = t;
  ir_value_set_shape(v, rank, dims);
  Value **ins = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->ninputs + 1));
  if (g->ninputs) memcpy(ins, g->inputs, sizeof(Value *) * (size_t)g->ninputs);
  ins[g->ninputs++] = v;
  g->inputs = ins;
  return v;
}

Value *tu_const_f32(Graph *g, const char *name, int rank, const int64_t *dims, const float *vals) {
  Value *v = ir_const_new(g, name, DT_FLOAT, rank, dims);
  memcpy(v->data, vals, sizeof(float) * (size_t)ir_value_numel(v));
  return v;
}

Value *tu_node(Graph *g, Op op, int nin, Value **ins) {
  Node *n = ir_node_new(g, op, NULL, nin, 1);
  for (int i = 0; i < nin; i++) n->in[i] = ins[i];
  Value *o = ir_value_new(g, NULL);
  o->producer = n;
  n->out[0] = o;
  return o;
}

void tu_output(Graph *g, Value *v) {
  Value **outs = arena_alloc(g->arena, sizeof(Value *) * (size_t)(g->noutputs + 1));
  if (g->noutputs) memcpy(outs, g->outputs, sizeof(Value *) * (size_t)g->noutputs);
  outs[g->noutputs++] = v;
  g->outputs = outs;
  v->is_output = true;
}
