/* pipeline.c — the pass order, as one straight-line function. */
#include "passes.h"

int pass_run_all(Graph *g, const PassOptions *opt) {
  if (ir_infer_shapes(g)) return -1; /* also folds constant subgraphs */
  if (pass_inline(g)) return -1;
  if (pass_dce(g)) return -1;
  if (!(opt && opt->no_fuse) && pass_fuse(g)) return -1;
  if (ir_verify(g)) return -1;
  return 0;
}
