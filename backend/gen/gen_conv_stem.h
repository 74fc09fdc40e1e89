/* gen_conv_stem.h — the direct kernel for a CNN's stem Conv (few input channels, a large kernel,
 * stride 1 or 2: gen_conv_stem.c), a path of the Conv generator (gen_conv.c). */
#ifndef ONNXC_GEN_CONV_STEM_H
#define ONNXC_GEN_CONV_STEM_H

#include "gen_contract.h"

/* Emits c->n (a Conv) on the stem kernel when it fits (2-D fp32, group 1, constant weights,
 * C <= 4, KH*KW >= 25, stride 1 or 2 in width, no dilation, at least a vector of output columns
 * and a block of output channels); false (nothing emitted): use another kernel. */
bool gen_conv_stem(GenCtx *c);

#endif
