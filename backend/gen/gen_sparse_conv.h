/* gen_sparse_conv.h — Conv with a constant, mostly-zero fp32 weight on a sparse kernel
 * (gen_sparse_conv.c), the Conv generator's (gen_conv.c) path for nodes the `sparse` pass marked
 * (passes/sparse.c, pass_sparse_convs). */
#ifndef ONNXC_GEN_SPARSE_CONV_H
#define ONNXC_GEN_SPARSE_CONV_H

#include "gen_contract.h"

/* Emits c->n (a Conv: 2-D, group 1, stride 1, dilation 1) as weight-left sparse products over
 * pixels when the node is marked and conv_sparse_pays says it beats the dense kernel; false
 * (nothing emitted): run the dense kernels. */
bool gen_sparse_conv(GenCtx *c);
/* The cost model: O output channels, C input channels, KS kernel positions, P output pixels per
 * image (lanes: the pixels the sparse kernel computes, with padding columns and unused lanes), nnz
 * nonzero weights, L f32 lanes; wino: the dense alternative is Winograd (3×3). */
bool conv_sparse_pays(int64_t O, int64_t C, int64_t KS, int64_t P, int64_t lanes, int64_t nnz, int L, bool wino);
/* tests only: true = the sparse kernel whenever it applies, whatever the cost model says */
void conv_sparse_force(bool on);

#endif
