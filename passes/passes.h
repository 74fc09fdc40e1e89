/* passes.h — the optimization pipeline: one file per pass, run in a fixed order. */
#ifndef ONNXC_PASSES_H
#define ONNXC_PASSES_H

#include "ir.h"

typedef struct PassOptions {
  bool no_fold;   /* --no-fold: skip constant folding beyond shape inference */
  bool no_fuse;   /* --no-fuse */
} PassOptions;

/* Run the pipeline on a graph whose input shapes are fixed. 0 ok, -1 error (ir_last_error). */
int pass_run_all(Graph *g, const PassOptions *opt);

/* individual passes */
int pass_dce(Graph *g);
int pass_inline(Graph *g); /* If on a constant condition -> the branch taken */
int pass_fuse(Graph *g);   /* BatchNorm into Conv; residual Add + activations into contraction epilogues */
#endif
