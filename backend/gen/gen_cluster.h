/* gen_cluster.h — clustered weights (Value.cluster, passes/cluster.c) kept compressed in kernels:
 * at most 16 codebook values, 4-bit indices, decoded in registers by a table lookup (kb_permute:
 * vpermps on AVX-512 with the codebook in one register).
 *
 * Index panels: a weight packed in panels of L output columns, contiguous along the reduction k
 * (gen_rnn.c's float layout), is stored as pairs of panels: for pair p and reduction index k one
 * byte per lane, its low nibble the index of panel 2p, its high nibble panel 2p + 1.  Pair p's
 * bytes are at (p·K + k)·L: a kernel reads L bytes per k for 2·L weights (one eighth of fp32). */
#ifndef ONNXC_GEN_CLUSTER_H
#define ONNXC_GEN_CLUSTER_H

#include "gen_util.h"

/* w (a constant) has a cluster form the nibble kernels take for vectors of L floats (k <= L,
 * L = 16: a pair's 16 bytes are one load widened to 16 i32 lanes, the lookup masks to 4 bits) */
bool gen_cluster_nibbles_ok(const Value *w, int L);
/* the codebook as a vector of L floats (zero padded), loaded from the weight blob */
KV gen_cluster_table(KB *kb, const IrCluster *c, int L);
/* the two panels of pair bytes at p (L bytes): values of panel 2p into *lo, 2p + 1 into *hi */
void gen_cluster_decode2(KB *kb, KV table, KV p, int L, KV *lo, KV *hi);

/* MatMul / Gemm (float, no batch dims, M <= 8) whose constant B is clustered with at most 16
 * values: a 4-bit GEMV-like kernel with the epilogue; false when it does not apply */
struct GemmSpec;
bool gemm_cluster_emit(GenCtx *c, struct GemmSpec *s);

#endif
