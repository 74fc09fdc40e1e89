/* gen_winograd.h — Winograd convolution F(m×m, 3×3) (gen_winograd.c), the Conv generator's
 * (gen_conv.c) fast path for 3×3, stride-1, ungrouped fp32 convs with constant weights. */
#ifndef ONNXC_GEN_WINOGRAD_H
#define ONNXC_GEN_WINOGRAD_H

#include "gen_contract.h"

/* Emits c->n (a Conv) as a Winograd kernel when the node was marked by the winograd pass, its
 * geometry fits and the cost rule says it pays; false (nothing emitted): use another kernel. */
bool gen_winograd_conv(GenCtx *c);

/* the cost rule, for tests and the generator: the output tile size m (4 or 2) Winograd would use
 * for this geometry (batch n, channels in/out, output size oh×ow, vector lanes), or 0 when the
 * direct kernel is expected to be faster */
int gen_winograd_tile(int64_t n, int64_t cin, int64_t cout, int64_t oh, int64_t ow, int lanes);

#endif
