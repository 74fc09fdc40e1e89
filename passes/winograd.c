/* winograd.c — the `winograd` pass: marks every Conv node of the main graph as one the backend may
 * run as a Winograd convolution (Node.winograd).  Whether it does is the generator's decision
 * (backend/gen/gen_winograd.c: 3×3, stride 1, ungrouped fp32 with constant weights, and a cost
 * rule on channels and spatial size), because it depends on the target's vector width; the pass
 * exists so that `--disable-pass winograd` switches the transform off (benchmarks' ablation, and
 * comparing results). */
#include "passes.h"

int pass_winograd(Graph *g) {
  for (int i = 0; i < g->nnodes; i++)
    if (g->nodes[i]->op == OP_Conv) g->nodes[i]->winograd = true;
  return 0;
}
