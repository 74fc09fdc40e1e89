/* gen_util.h — loop-nest helpers shared by the kernel generators. */
#ifndef ONNXC_GEN_UTIL_H
#define ONNXC_GEN_UTIL_H

#include <string.h>

#include "be.h"

#define EW_MAX_OPS 16

/* One operand of an elementwise nest: a base pointer, its dtype, and its stride (in elements)
 * along each output dim (0 = broadcast). */
typedef struct EwOperand {
  KV base;
  DType dtype;
  int64_t strides[IR_MAX_RANK];
} EwOperand;

/* Computes one output vector from the loaded operand vectors.  Operands arrive as:
 * bool → i1 lanes; float16/bfloat16 → float32 lanes; everything else in its own element type.
 * Return the result as: bool output → i1; float16/bfloat16 output → float32; else its type. */
typedef KV (*EwFn)(KB *kb, KV *ops, int lanes, void *ud);

/* Emits a parallel elementwise loop nest over an output of (rank, dims) written to `out`
 * (dtype out_dtype, contiguous).  Dims that are contiguous for every operand are merged; the
 * innermost dim is vectorized (unit stride: vector loads; stride 0: a hoisted splat;
 * otherwise: gathers) with a masked tail; outer dims and chunks of the inner dim form the
 * parallel range. */
void gen_eltwise(GenCtx *c, int nops, const EwOperand *ops, KV out, DType out_dtype, int rank,
                 const int64_t *dims, EwFn fn, void *ud);

/* Convenience: operands are node inputs in[idx[k]] broadcast numpy-style to output 0. */
void gen_eltwise_node(GenCtx *c, int nops, const int *in_idx, EwFn fn, void *ud);

/* Lanes to use for a nest touching these element sizes (widest element fills one register). */
int gen_lanes_for(GenCtx *c, size_t max_elem_bytes);

/* Load `lanes` elements of dtype t at base+idx (bool → i1, f16/bf16 → f32), masked if mask. */
KV gen_load_vec(KB *kb, DType t, KV base, KV idx, int lanes, KV mask);
/* Store a computed vector (i1 for bool, f32 for f16/bf16) into a dtype t buffer. */
void gen_store_vec(KB *kb, DType t, KV base, KV idx, KV val, KV mask);
/* The register element type a dtype computes in (bool → I1, f16/bf16 → F32). */
KElem gen_compute_elem(DType t);

/* an integer element kind of es bytes, for moving raw elements of any dtype */
KElem gen_raw_elem(size_t es);
/* gen_lanes_for capped at cap lanes */
int gen_lanes_cap(GenCtx *c, size_t es, int cap);

/* A vector loop over [lo, hi) in steps of W with a masked tail: body(kb, ud, j, mask), mask NULL
 * for full vectors.  W == 1 is a plain loop with no tail. */
typedef void (*GenVecBody)(KB *kb, void *ud, KV j, KV mask);
void gen_vec_loop(KB *kb, KV lo, KV hi, int W, GenVecBody body, void *ud);
/* transpose T vectors of T lanes in place (v[k][l] → v[l][k]): log2(T) rounds of shuffles
 * (gen_move_engine.c) */
void gen_reg_transpose(KB *kb, KV *v, int T);
/* a load / store that is masked when mask is non-NULL */
KV gen_vload(KB *kb, KT t, KV p, KV mask);
void gen_vstore(KB *kb, KV v, KV p, KV mask);

/* the data movers' common checks (gen_move.c, gen_select.c): static output shapes and a data input
 * of a dtype with a size; else a node error, -1 */
static inline int gen_check_movable(GenCtx *c) {
  const Node *n = c->n;
  for (int i = 0; i < n->nout; i++)
    if (n->out[i] && !ir_value_shape_known(n->out[i]))
      return ir_node_error(c->g, n, "output %d has no static shape", i);
  if (n->nin > 0 && n->in[0] && dtype_size(n->in[0]->dtype) == 0)
    return ir_node_error(c->g, n, "data type %s is not supported", dtype_name(n->in[0]->dtype));
  return 0;
}

/* f32 → bf16 bits, rounded to nearest even (NaN stays NaN): --fp-mode bf16's weight packers
 * (gen_gemm.c, gen_rnn.c) */
static inline uint16_t gen_host_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

#endif
