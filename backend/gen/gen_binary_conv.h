/* gen_binary_conv.h — binary (XNOR-Net) convolution by xor + popcount (gen_binary_conv.c), the
 * Conv generator's (gen_conv.c) path for nodes the `binary` pass marked (passes/binary.c). */
#ifndef ONNXC_GEN_BINARY_CONV_H
#define ONNXC_GEN_BINARY_CONV_H

#include "gen_contract.h"

/* Emits c->n (a Conv) as a bit-packed kernel when the binary pass marked it and its geometry fits
 * (2-D, packed rows within the scratch bound); false (nothing emitted): use another kernel. */
bool gen_binary_conv(GenCtx *c);
/* Emits c->n (a MatMul/Gemm the binary pass marked, pass_binary_gemm_ok) as xor + popcount over
 * bit-packed rows of A and columns of B; false (nothing emitted) when it has a fused epilogue. */
bool gen_binary_gemm(GenCtx *c);

#endif
