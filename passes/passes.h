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
/* Binds the graph inputs to ts[0..g->ninputs) (graph-input order): each must have data of the
 * input's dtype and a shape matching its fixed dims; symbolic dims take the tensor's.  Small
 * inputs (<= 4096 elements) whose values reach a shape operand become constants.  0 ok, -1 with
 * err written. */
int pass_specialize(Graph *g, Tensor *ts, char *err, size_t errlen);
int pass_dce(Graph *g);
int pass_inline(Graph *g); /* If on a constant condition -> the branch taken */
int pass_fuse(Graph *g);   /* BatchNorm into Conv; residual Add + activations into contraction epilogues */
#endif
