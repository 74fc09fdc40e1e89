/* module.c — what the LLVM module builder (module_llvm.c) and the C module builder (emit_c.c)
 * share, with no knowledge of either target: the storage plan placed at a graph's arena base.
 * Each builder then writes one kernel per node (be_gen_node, gen/gen_table.c) and the graph
 * function calling them:
 *
 *     int32_t onnxc_graph_run(onnxc_rt *rt, void *const *io)   io = inputs then outputs
 *
 * Storage (planned by passes/plan.c): graph inputs/outputs live in caller buffers (io),
 * constants in the weight blob, everything else in one arena at offsets from the graph's base.
 *
 * A subgraph (If branch, Loop/Scan body) becomes a graph function of the same signature whose io
 * is its inputs, then its outputs, then the values it captures (VK_OUTER, in value order); its
 * arena values sit at a base beyond everything live in the enclosing graph (the control kernel
 * passes that base, see gen_control.c), so the model keeps one arena. */
#include "be.h"
#include "passes.h"

int be_plan_graph(Graph *g, int64_t arena_base, int64_t max_memory, int64_t *arena_top) {
  int64_t limit = max_memory > 0 ? max_memory : BE_DEFAULT_MAX_MEMORY;
  if (!g->planned && pass_plan(g, limit)) return -1;
  for (int i = 0; i < g->nvalues; i++)
    if (g->values[i]->storage == ST_CONST) g->values[i]->offset = -1;
  *arena_top = arena_base + g->arena_bytes;
  return pass_plan_budget(g, limit, *arena_top, 0);
}
