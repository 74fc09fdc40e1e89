/* info.c — `onnxc info`: a model's interface, ops, parameters and MACs. */
#include <stdlib.h>
#include <string.h>

#include "passes.h"
#include "tool.h"

static void print_value(FILE *f, const char *kind, const Value *v) {
  char s[256];
  ir_shape_str(v, s, sizeof s);
  fprintf(f, "  %-6s %-32s %s[%s]\n", kind, v->name, dtype_name(v->dtype), s);
}

/* multiply-accumulates of the contractions (the bulk of any model's FLOPs) */
double tool_count_macs(const Graph *g) {
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

int tool_print_info(Graph *g, FILE *f, char *err, size_t errlen) {
  (void)err;
  (void)errlen;
  fprintf(f, "graph %s: opset %lld, %d nodes\n", g->name, (long long)g->opset, g->nnodes);
  for (int i = 0; i < g->ninputs; i++) print_value(f, "input", g->inputs[i]);
  /* output shapes come from shape inference when every input shape is fixed */
  bool fixed = true;
  for (int i = 0; i < g->ninputs; i++) fixed &= ir_value_shape_known(g->inputs[i]);
  int hist[OP_COUNT][2];
  for (int i = 0; i < OP_COUNT; i++) hist[i][0] = i, hist[i][1] = 0;
  for (int i = 0; i < g->nnodes; i++) hist[g->nodes[i]->op][1]++;
  double params = 0;
  int nconst = 0;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->kind == VK_CONST && ir_value_numel(g->values[i]) > 0) {
      params += (double)ir_value_numel(g->values[i]);
      nconst++;
    }
  const char *why = NULL;
  if (fixed && ir_infer_shapes(g)) why = ir_last_error(g);
  for (int i = 0; i < g->noutputs; i++) print_value(f, "output", g->outputs[i]);
  fprintf(f, "ops:");
  qsort(hist, OP_COUNT, sizeof hist[0], by_count);
  for (int i = 0; i < OP_COUNT && hist[i][1]; i++) fprintf(f, " %s:%d", ir_ops[hist[i][0]].name, hist[i][1]);
  fprintf(f, "\nparameters: %.0f in %d tensors\n", params, nconst);
  if (!fixed) fprintf(f, "MACs: unknown (inputs have symbolic dims; fix them with --shape NAME=DIMS)\n");
  else if (why) fprintf(f, "MACs: unknown (shape inference failed: %s)\n", why);
  else fprintf(f, "MACs: %.0f (%.3f GMAC)\n", tool_count_macs(g), tool_count_macs(g) / 1e9);
  return 0;
}
