/* facts.c — what `onnxc info` and `onnxc bench` report about a model: its opset, nodes, op
 * histogram, parameters and multiply-accumulates. */
#include <stdlib.h>
#include <string.h>

#include "lib.h"

static int by_count(const void *a, const void *b) {
  const int *x = a, *y = b;
  return y[1] - x[1] ? y[1] - x[1] : x[0] - y[0];
}

static int do_facts(onnxc_session *s, void *arg) {
  onnxc_facts *f = arg;
  Graph *g = s->g;
  memset(f, 0, sizeof *f);
  f->graph_name = g->name;
  f->opset = g->opset;
  f->num_nodes = g->nnodes;
  if (!s->ops) { /* the histogram of the model as loaded */
    int (*h)[2] = ir_xcalloc(OP_COUNT, sizeof *h);
    for (int i = 0; i < OP_COUNT; i++) h[i][0] = i;
    for (int i = 0; i < g->nnodes; i++) h[g->nodes[i]->op][1]++;
    qsort(h, OP_COUNT, sizeof h[0], by_count);
    for (s->nops = 0; s->nops < OP_COUNT && h[s->nops][1];) s->nops++;
    s->ops = h;
  }
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_CONST && ir_value_numel(g->values[i]) > 0) {
      f->parameters += (double)ir_value_numel(g->values[i]);
      f->num_constants++;
    }
  bool fixed = true;
  for (int i = 0; i < g->ninputs; i++) fixed &= ir_value_shape_known(g->inputs[i]);
  if (!s->passed && fixed && !s->inferred) { /* output shapes and MACs need every shape */
    s->inferred = true;
    if (ir_infer_shapes(g)) s->why = ir_last_error(g);
  }
  if (!s->passed && !fixed && !s->inferred) { /* no shapes to infer, but a cycle is still an error */
    s->inferred = true;
    if (ir_graph_toposort(g)) s->why = ir_last_error(g);
  }
  f->macs_unknown = !fixed && !s->passed && !s->why ? "symbolic" : s->why;
  f->macs = f->macs_unknown ? -1 : ir_graph_macs(g);
  return ONNXC_OK;
}

int onnxc_session_facts(onnxc_session *s, onnxc_facts *out) {
  if (!s || !out || !s->g) return s ? lib_fail(s, ONNXC_ERR_STATE, "the session has no model") : ONNXC_ERR_ARGUMENT;
  return lib_guard(s, do_facts, out);
}

int32_t onnxc_session_num_op_types(const onnxc_session *s) { return s ? s->nops : 0; }

int onnxc_session_op_type(const onnxc_session *s, int32_t i, const char **op, int32_t *count) {
  if (!s || !s->ops || i < 0 || i >= s->nops) return ONNXC_ERR_ARGUMENT;
  if (op) *op = ir_ops[s->ops[i][0]].name;
  if (count) *count = s->ops[i][1];
  return ONNXC_OK;
}
