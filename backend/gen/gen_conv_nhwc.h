/* gen_conv_nhwc.h — the depthwise Conv on pixel-major [N·H·W, C] values (gen_conv_nhwc.c), a path
 * of the Conv generator (gen_conv.c) for nodes passes/layout.c marked Node.nhwc. */
#ifndef ONNXC_GEN_CONV_NHWC_H
#define ONNXC_GEN_CONV_NHWC_H

#include "gen_contract.h"

/* Emits c->n (a Conv marked nhwc: fp32, group = C, constant weights, attribute "nhwc"
 * {N, H, W, OH, OW}); 0, or a node error when the marking and shapes disagree. */
int gen_conv_nhwc(GenCtx *c);

#endif
