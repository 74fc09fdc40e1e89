/* prune_recal.h — onnxc prune --recalibrate (tools/prune_recal.c) */
#ifndef ONNXC_TOOLS_PRUNE_RECAL_H
#define ONNXC_TOOLS_PRUNE_RECAL_H

#include "tool.h"

typedef struct RecalCfg {
  const FeShape *shapes;
  int nshapes, threads;
  Tensor *ins;   /* n samples of nin inputs, sample-major */
  int n, nin;
  int passes;    /* sweeps over the layers (each: one compile per layer) */
} RecalCfg;

/* scales and shifts the pruned Conv/Gemm layers of s (pruned from model, not prepared) so their
 * output channels' mean and deviation on the samples match the dense model's; tmp: where each
 * pass writes the model it measures.  0, or -1 printed. */
int tool_prune_recalibrate(onnxc_session *s, const char *model, const char *tmp, const RecalCfg *cfg);

#endif
