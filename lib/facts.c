/* facts.c — what `onnxc info` and `onnxc bench` report about a model: its opset, nodes, op
 * histogram, parameters and multiply-accumulates. */
#include <stdlib.h>
#include <string.h>

#include "lib.h"

/* multiply-accumulates of the contractions (the bulk of any model's FLOPs).
 * (ir/cost.c's ir_graph_macs, from the op table, replaces this when the branches merge.) */
double lib_count_macs(const Graph *g) {
  double macs = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const Node *n = g->nodes[i];
    if (ir_ops[n->op].family == F_RNN) { /* X·Wᵀ and H·Rᵀ for every step and direction */
      const Value *x = n->in[0], *w = n->in[1], *r = n->in[2];
      if (x->rank == 3 && w->rank == 3 && r->rank == 3 && ir_value_numel(x) >= 0 && ir_value_numel(w) >= 0)
        macs += (double)x->dims[0] * (double)x->dims[1] * (double)ir_value_numel(w) / (double)w->dims[2] *
                (double)(w->dims[2] + r->dims[2]);
      continue;
    }
    const Value *o = n->out[0];
    if (!o || ir_value_numel(o) < 0) continue;
    double on = (double)ir_value_numel(o);
    switch (n->op) {
    case OP_Conv: {
      const Value *w = n->in[1];
      if (w->rank < 2 || ir_value_numel(w) < 0) break;
      macs += on * (double)(ir_value_numel(w) / w->dims[0]);
      break;
    }
    case OP_ConvTranspose: {
      const Value *x = n->in[0], *w = n->in[1];
      if (ir_value_numel(x) < 0 || ir_value_numel(w) < 0 || w->rank < 2) break;
      macs += (double)ir_value_numel(x) * (double)(ir_value_numel(w) / w->dims[0]);
      break;
    }
    case OP_MatMul: {
      const Value *a = n->in[0];
      if (a->rank >= 1) macs += on * (double)a->dims[a->rank - 1];
      break;
    }
    case OP_Gemm: {
      const Value *a = n->in[0];
      if (a->rank == 2) macs += on * (double)a->dims[ir_attr_int(n, "transA", 0) ? 0 : 1];
      break;
    }
    default: break;
    }
  }
  return macs;
}

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
  f->macs_unknown = !fixed && !s->passed ? "symbolic" : s->why;
  f->macs = f->macs_unknown ? -1 : lib_count_macs(g);
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
