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

/* multiply-accumulates of the contractions (ir/cost.c; kept for the CLI's callers) */
double tool_count_macs(const Graph *g) { return ir_graph_macs(g); }

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
